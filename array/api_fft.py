"""The Array API ``fft`` extension (``xp.fft``): the standard's signatures over
``shoal.array.fft`` (each transformed axis gathered into one block, the other
axes keep theirs). Real inputs keep their precision (float32 gives complex64).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import fft as _fft
from .api_creation import check_device
from .api_dtypes import check_dtype
from .convert import asarray
from .core import Array

__all__ = [
    "fft",
    "fftfreq",
    "fftn",
    "fftshift",
    "hfft",
    "ifft",
    "ifftn",
    "ifftshift",
    "ihfft",
    "irfft",
    "irfftn",
    "rfft",
    "rfftfreq",
    "rfftn",
]

_NORMS = ("backward", "ortho", "forward")


def _check(x: Any, norm: str, what: str, kinds: str) -> Array:
    x = asarray(x)
    if norm not in _NORMS:
        raise ValueError(f"fft.{what}: norm must be one of {_NORMS}, got {norm!r}")
    if x.dtype.kind not in kinds:
        raise TypeError(
            f"fft.{what} needs a {'complex' if kinds == 'c' else 'floating'} array, got {x.dtype}"
        )
    return x


def _one(name: str, kinds: str) -> Any:
    shoal_func = getattr(_fft, name)

    def transform(x: Array, /, *, n: int | None = None, axis: int = -1, norm: str = "backward"):
        x = _check(x, norm, name, kinds)
        return shoal_func(x, n=n, axis=axis, norm=norm)

    transform.__name__ = transform.__qualname__ = name
    transform.__doc__ = (
        f"The standard's ``fft.{name}`` along ``axis`` (``n`` points, ``norm``).\n\n"
        f"    >>> x = asarray(np.arange(4.0) + 1j)\n"
        f"    >>> {name}(x if {kinds!r} != 'f' else x.real).shape[0] > 0\n"
        f"    True\n"
    )
    return transform


def _many(name: str, kinds: str) -> Any:
    shoal_func = getattr(_fft, name)

    def transform(
        x: Array,
        /,
        *,
        s: Sequence[int] | None = None,
        axes: Sequence[int] | None = None,
        norm: str = "backward",
    ):
        x = _check(x, norm, name, kinds)
        return shoal_func(x, s=s, axes=axes, norm=norm)

    transform.__name__ = transform.__qualname__ = name
    transform.__doc__ = (
        f"The standard's ``fft.{name}`` over ``axes`` (sizes ``s``, ``norm``).\n\n"
        f"    >>> x = asarray(np.ones((2, 2)) + 0j)\n"
        f"    >>> {name}(x if {kinds!r} != 'f' else x.real).ndim\n"
        f"    2\n"
    )
    return transform


fft = _one("fft", "c")
ifft = _one("ifft", "c")
rfft = _one("rfft", "f")
irfft = _one("irfft", "c")
hfft = _one("hfft", "c")
ihfft = _one("ihfft", "f")
fftn = _many("fftn", "c")
ifftn = _many("ifftn", "c")
rfftn = _many("rfftn", "f")
irfftn = _many("irfftn", "c")


def _freq(n: int, d: float, dtype: Any, device: Any, real: bool) -> Array:
    what = "rfftfreq" if real else "fftfreq"
    check_device(device, what)
    dtype = np.dtype(np.float64) if dtype is None else check_dtype(dtype, what)
    if dtype.kind != "f":
        raise TypeError(f"fft.{what} needs a real floating dtype, got {dtype}")
    out = (_fft.rfftfreq if real else _fft.fftfreq)(n, d)
    return out.astype(dtype)


def fftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Array:
    """Sample frequencies of an ``n``-point FFT.

    >>> fftfreq(4).compute()
    array([ 0.  ,  0.25, -0.5 , -0.25])
    """
    return _freq(n, d, dtype, device, False)


def rfftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Array:
    """Sample frequencies of an ``n``-point real FFT.

    >>> rfftfreq(4).compute()
    array([0.  , 0.25, 0.5 ])
    """
    return _freq(n, d, dtype, device, True)


def fftshift(x: Array, /, *, axes: int | Sequence[int] | None = None) -> Array:
    """Move the zero frequency to the centre.

    >>> fftshift(asarray([0, 1, 2, -2, -1])).compute()
    array([-2, -1,  0,  1,  2])
    """
    return _fft.fftshift(asarray(x), axes)


def ifftshift(x: Array, /, *, axes: int | Sequence[int] | None = None) -> Array:
    """Undo ``fftshift``.

    >>> ifftshift(asarray([-2, -1, 0, 1, 2])).compute()
    array([ 0,  1,  2, -2, -1])
    """
    return _fft.ifftshift(asarray(x), axes)
