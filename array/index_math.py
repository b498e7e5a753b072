"""Flat and multi-dimensional indices: ``ravel_multi_index`` and
``unravel_index``, elementwise over (broadcast) integer arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .convert import asarray
from .core import Array
from .elementwise import elemwise

__all__ = ["ravel_multi_index", "unravel_index"]


def _ravel(*coords: Any, dims: Any, mode: Any, order: Any) -> np.ndarray:
    return np.ravel_multi_index(coords, dims, mode=mode, order=order)


def _unravel(flat: Any, dims: Any, order: Any, which: int) -> np.ndarray:
    return np.unravel_index(flat, dims, order=order)[which]


def _dims(dims: Any) -> tuple:
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if any(not isinstance(d, (int, np.integer)) or d < 0 for d in dims):
        raise ValueError(f"dims must be non-negative ints, got {dims}")
    return tuple(int(d) for d in dims)


def ravel_multi_index(
    multi_index: Any, dims: Sequence[int], mode: Any = "raise", order: str = "C"
) -> Array:
    """Flat indices of the coordinates in ``multi_index`` (one integer array
    per axis of ``dims``, or one array whose first axis runs over them).

    >>> import numpy as np, shoal.array as sa
    >>> rows, cols = sa.asarray([0, 2, 1], chunks=2), np.array([3, 0, 1])
    >>> ravel_multi_index((rows, cols), (3, 4)).compute()
    array([3, 8, 5])
    """
    dims = _dims(dims)
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    if isinstance(multi_index, Array):
        coords = [multi_index[i] for i in range(multi_index.shape[0])]
    else:
        coords = [asarray(c) for c in multi_index]
    if len(coords) != len(dims):
        raise ValueError(
            f"ravel_multi_index got {len(coords)} coordinate arrays for {len(dims)} dims"
        )
    for c in coords:
        if c.dtype.kind not in "iu":
            raise TypeError(f"coordinates must be integer arrays, got dtype {c.dtype}")
    return elemwise(
        _ravel, *coords, dims=dims, mode=mode, order=order, dtype=np.intp, name="ravel_multi_index"
    )


def unravel_index(indices: Any, shape: Sequence[int], order: str = "C") -> tuple:
    """Coordinates (one array per axis of ``shape``) of flat ``indices``.

    >>> import shoal.array as sa
    >>> [c.compute() for c in unravel_index(sa.asarray([3, 8, 5], chunks=2), (3, 4))]
    [array([0, 2, 1]), array([3, 0, 1])]
    """
    dims = _dims(shape)
    flat = asarray(indices)
    if flat.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got dtype {flat.dtype}")
    return tuple(
        elemwise(
            _unravel, flat, dims=dims, order=order, which=i, dtype=np.intp, name="unravel_index"
        )
        for i in range(len(dims))
    )
