"""``__array_namespace_info__()``: what the Array API namespace supports.

shoal arrays live on one device, ``"cpu"``; every dtype of the standard is
supported; data-dependent shapes (``nonzero``, ``unique_*``, boolean masks)
are supported (the namespace's functions compute the sizes they need).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .api_dtypes import DTYPES

__all__ = ["Info", "__array_namespace_info__"]

_KINDS = {
    "bool": "bool",
    "signed integer": "signed integer",
    "unsigned integer": "unsigned integer",
    "integral": "integral",
    "real floating": "real floating",
    "complex floating": "complex floating",
    "numeric": "numeric",
}


def _check_device(device: Any) -> None:
    if device not in (None, "cpu"):
        raise ValueError(f"shoal arrays live on the cpu, not {device!r}")


class Info:
    """The namespace's capabilities, devices and dtypes.

    >>> Info().dtypes(kind="unsigned integer")["uint8"]
    dtype('uint8')
    """

    __slots__ = ()

    def capabilities(self) -> dict:
        """Which optional behaviours are supported."""
        return {
            "boolean indexing": True,
            "data-dependent shapes": True,
            "max dimensions": None,
        }

    def default_device(self) -> str:
        """The device new arrays live on."""
        return "cpu"

    def devices(self) -> tuple:
        """Every device arrays may live on."""
        return ("cpu",)

    def default_dtypes(self, *, device: Any = None) -> dict:
        """The dtypes creation functions pick when none is given."""
        _check_device(device)
        return {
            "real floating": DTYPES["float64"],
            "complex floating": DTYPES["complex128"],
            "integral": DTYPES["int64"],
            "indexing": DTYPES["int64"],
        }

    def dtypes(self, *, device: Any = None, kind: Any = None) -> dict:
        """The supported dtypes by name, of ``kind`` (a kind name or a tuple) if given."""
        _check_device(device)
        if kind is None:
            return dict(DTYPES)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        for k in kinds:
            if isinstance(k, str) and k not in _KINDS:
                raise ValueError(f"unknown dtype kind {k!r}; expected one of {', '.join(_KINDS)}")
        return {n: d for n, d in DTYPES.items() if np.isdtype(d, kinds)}


def __array_namespace_info__() -> Info:  # noqa: N807 - the standard's name
    """The namespace's inspection utilities.

    >>> __array_namespace_info__().default_dtypes()["integral"]
    dtype('int64')
    """
    return Info()
