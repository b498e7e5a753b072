"""``shoal.array.fft``: NumPy's FFTs along axes held in one block.

A transform needs its whole axis at once, so each transformed axis is
rechunked into a single block first (other axes keep their blocks). When that
would make blocks larger than ``array.fft-block-limit`` times the configured
chunk size, a ``ValueError`` says so before anything runs: rechunk the other
axes smaller first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shoal.core import config
from shoal.core.utils import format_bytes, parse_bytes

from .blockwise import _LETTERS, blockwise
from .chunks import normalize_chunks
from .convert import asarray, meta_from
from .core import Array
from .manipulation import roll
from .rechunk import rechunk
from .sources import RegionSource

__all__ = [
    "fft",
    "ifft",
    "rfft",
    "irfft",
    "hfft",
    "ihfft",
    "fft2",
    "ifft2",
    "rfft2",
    "irfft2",
    "fftn",
    "ifftn",
    "rfftn",
    "irfftn",
    "fftfreq",
    "rfftfreq",
    "fftshift",
    "ifftshift",
]

config.update_defaults(
    {"array": {"fft-block-limit": 8}},
    {"array.fft-block-limit": "Largest block an FFT may gather, in multiples of array.chunk-size."},
)


def _out_length(kind: str, n_in: int, n: int | None) -> int:
    if kind in ("c2c",):
        return n if n is not None else n_in
    if kind == "r2c":
        return (n if n is not None else n_in) // 2 + 1
    return n if n is not None else 2 * (n_in - 1)


def _gather_axes(x: Array, axes: Sequence[int]) -> Array:
    target = {a: -1 for a in axes}
    block = 1
    for a in range(x.ndim):
        block *= x.shape[a] if a in axes else max(x.chunks[a])
    limit = parse_bytes(config.get("array.chunk-size")) * config.get("array.fft-block-limit")
    if block * x.dtype.itemsize > limit:
        raise ValueError(
            f"an FFT along axes {tuple(axes)} needs those axes in one block: blocks of "
            f"{format_bytes(block * x.dtype.itemsize)}, above the limit of "
            f"{format_bytes(limit)}; rechunk the other axes into smaller blocks first "
            "(or raise config array.fft-block-limit)"
        )
    return rechunk(x, target)


def _apply(block: np.ndarray, func: Callable, kwargs: dict) -> np.ndarray:
    return func(block, **kwargs)


def _wrap(np_func: Callable, kinds: str, multi: bool) -> Callable:
    def transform(
        a: Any,
        n: Any = None,
        axis: Any = -1,
        norm: str | None = None,
        s: Any = None,
        axes: Any = None,
    ) -> Array:
        x = asarray(a)
        if multi:
            sizes = s
            if axes is None:
                axes = (
                    tuple(range(x.ndim))
                    if sizes is None
                    else tuple(range(x.ndim - len(sizes), x.ndim))
                )
            axes = tuple(ax % x.ndim for ax in axes)
            if sizes is None:
                sizes = [None] * len(axes)
            kwargs = {"axes": axes, "norm": norm}
            if s is not None:
                kwargs["s"] = s
        else:
            axes = (axis % x.ndim,)
            sizes = [n]
            kwargs = {"n": n, "axis": axes[0], "norm": norm}
        x = _gather_axes(x, axes)
        letters = _LETTERS[: x.ndim]
        adjust = {}
        for i, (ax, size) in enumerate(zip(axes, sizes)):
            last = i == len(axes) - 1
            kind = kinds if last else "c2c"
            adjust[letters[ax]] = _out_length(kind, x.shape[ax], size)
        probe = np_func(
            np.ones((2,) * x.ndim, dtype=x.dtype),
            **{k: v for k, v in kwargs.items() if k not in ("n", "s")},
        )
        return blockwise(
            _apply,
            letters,
            x,
            letters,
            np_func,
            None,
            kwargs,
            None,
            adjust_chunks=adjust,
            dtype=probe.dtype,
            name=np_func.__name__,
        )

    transform.__name__ = np_func.__name__
    transform.__qualname__ = np_func.__name__
    transform.__doc__ = (
        f"``numpy.fft.{np_func.__name__}`` on shoal arrays (see module docstring).\n\n"
        f"    >>> import shoal.array as sa\n"
        f"    >>> a = np.arange(8.0).reshape(2, 4)\n"
        f"    >>> bool(np.allclose(sa.fft.{np_func.__name__}(sa.asarray(a, chunks=1))"
        f".compute(), np.fft.{np_func.__name__}(a)))\n    True\n"
    )
    return transform


fft = _wrap(np.fft.fft, "c2c", False)
ifft = _wrap(np.fft.ifft, "c2c", False)
rfft = _wrap(np.fft.rfft, "r2c", False)
irfft = _wrap(np.fft.irfft, "c2r", False)
hfft = _wrap(np.fft.hfft, "c2r", False)
ihfft = _wrap(np.fft.ihfft, "r2c", False)
fft2 = _wrap(np.fft.fft2, "c2c", True)
ifft2 = _wrap(np.fft.ifft2, "c2c", True)
rfft2 = _wrap(np.fft.rfft2, "r2c", True)
irfft2 = _wrap(np.fft.irfft2, "c2r", True)
fftn = _wrap(np.fft.fftn, "c2c", True)
ifftn = _wrap(np.fft.ifftn, "c2c", True)
rfftn = _wrap(np.fft.rfftn, "r2c", True)
irfftn = _wrap(np.fft.irfftn, "c2r", True)


def _freq_region(region: tuple, n: int, d: float, real: bool) -> np.ndarray:
    values = np.fft.rfftfreq(n, d) if real else np.fft.fftfreq(n, d)
    return values[region[0]]


def fftfreq(n: int, d: float = 1.0, chunks: Any = "auto") -> Array:
    """Sample frequencies of an ``n``-point FFT.

    >>> fftfreq(4, chunks=2).compute()
    array([ 0.  ,  0.25, -0.5 , -0.25])
    """
    chunks = normalize_chunks(chunks, (n,), np.float64)
    return Array(RegionSource(_freq_region, (n, d, False), chunks, meta_from(float, 1), "fftfreq"))


def rfftfreq(n: int, d: float = 1.0, chunks: Any = "auto") -> Array:
    """Sample frequencies of an ``n``-point real FFT.

    >>> rfftfreq(4, chunks=2).compute()
    array([0.  , 0.25, 0.5 ])
    """
    m = n // 2 + 1
    chunks = normalize_chunks(chunks, (m,), np.float64)
    return Array(RegionSource(_freq_region, (n, d, True), chunks, meta_from(float, 1), "rfftfreq"))


def fftshift(x: Any, axes: Any = None) -> Array:
    """Move the zero frequency to the centre (a ``roll`` by half of each axis).

    >>> import shoal.array as sa
    >>> fftshift(sa.asarray([0, 1, 2, -2, -1], chunks=2)).compute()
    array([-2, -1,  0,  1,  2])
    """
    x = asarray(x)
    axes = tuple(range(x.ndim)) if axes is None else (axes,) if isinstance(axes, int) else axes
    return roll(x, [x.shape[a] // 2 for a in axes], axes)


def ifftshift(x: Any, axes: Any = None) -> Array:
    """Undo ``fftshift``.

    >>> import shoal.array as sa
    >>> ifftshift(sa.asarray([-2, -1, 0, 1, 2], chunks=2)).compute()
    array([ 0,  1,  2, -2, -1])
    """
    x = asarray(x)
    axes = tuple(range(x.ndim)) if axes is None else (axes,) if isinstance(axes, int) else axes
    return roll(x, [-(x.shape[a] // 2) for a in axes], axes)
