"""``shoal.array.fft``: NumPy's FFTs along axes held in one block.

A transform needs its whole axis at once, so each transformed axis is
rechunked into a single block first (other axes keep their blocks). When that
would make blocks larger than ``array.fft-block-limit`` times the configured
chunk size, the other axes get smaller blocks; when one line along the
transformed axes alone is larger, an n-d transform runs as NumPy computes it,
one 1-d transform per axis (each axis gathered in its turn), and a 1-d
transform raises a ``ValueError`` before anything runs.
"""

from __future__ import annotations

import math
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
    """Rechunk ``axes`` into one block each, shrinking the blocks of the other
    axes (outermost first) so a block stays within the limit."""
    limit = parse_bytes(config.get("array.chunk-size")) * config.get("array.fft-block-limit")
    line = x.dtype.itemsize * math.prod(x.shape[a] for a in axes)
    if line > limit:
        raise ValueError(
            f"an FFT along axes {tuple(axes)} needs those axes in one block: "
            f"{format_bytes(line)} per line, above the limit of {format_bytes(limit)} "
            "(raise config array.fft-block-limit or array.chunk-size)"
        )
    target: dict[int, int] = {a: -1 for a in axes}
    others = [a for a in range(x.ndim) if a not in axes]
    room = limit // max(line, 1)  # elements of the other axes one block may hold
    for pos, a in enumerate(others):
        inner = math.prod(max(x.chunks[b], default=1) for b in others[pos + 1 :])
        if max(x.chunks[a], default=1) * inner <= room:
            break  # this axis and the inner ones fit as they are
        target[a] = max(1, room // inner)
        if inner <= room:
            break
    return rechunk(x, target)


def _apply(block: np.ndarray, func: Callable, kwargs: dict) -> np.ndarray:
    return func(block, **kwargs)


def _too_big_at_once(x: Array, axes: Sequence[int]) -> bool:
    limit = parse_bytes(config.get("array.chunk-size")) * config.get("array.fft-block-limit")
    return len(axes) > 1 and x.dtype.itemsize * math.prod(x.shape[a] for a in axes) > limit


def _axis_by_axis(x: Array, steps: tuple, axes: tuple, sizes: Sequence, norm: Any) -> Array:
    """An n-d transform as NumPy computes it, one 1-d transform per axis:
    ``steps`` names the transform of the other axes and of the last one."""
    others, last = _ONE_AXIS[steps[0]], _ONE_AXIS[steps[1]]
    pairs = list(zip(axes, sizes))
    if steps[1] in ("fft", "ifft"):
        for ax, size in reversed(pairs):  # NumPy's c2c order: last axis first
            x = last(x, n=size, axis=ax, norm=norm)
        return x
    if steps[1] == "rfft":
        x = last(x, n=pairs[-1][1], axis=pairs[-1][0], norm=norm)
    for ax, size in pairs[:-1]:
        x = others(x, n=size, axis=ax, norm=norm)
    if steps[1] == "irfft":
        x = last(x, n=pairs[-1][1], axis=pairs[-1][0], norm=norm)
    return x


def _wrap(np_func: Callable, kinds: str, multi: bool, steps: tuple = ()) -> Callable:
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
            if _too_big_at_once(x, axes):  # one 1-d transform per axis instead
                return _axis_by_axis(x, steps, axes, sizes, norm)
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
fft2 = _wrap(np.fft.fft2, "c2c", True, ("fft", "fft"))
ifft2 = _wrap(np.fft.ifft2, "c2c", True, ("ifft", "ifft"))
rfft2 = _wrap(np.fft.rfft2, "r2c", True, ("fft", "rfft"))
irfft2 = _wrap(np.fft.irfft2, "c2r", True, ("ifft", "irfft"))
fftn = _wrap(np.fft.fftn, "c2c", True, ("fft", "fft"))
ifftn = _wrap(np.fft.ifftn, "c2c", True, ("ifft", "ifft"))
rfftn = _wrap(np.fft.rfftn, "r2c", True, ("fft", "rfft"))
irfftn = _wrap(np.fft.irfftn, "c2r", True, ("ifft", "irfft"))
_ONE_AXIS = {"fft": fft, "ifft": ifft, "rfft": rfft, "irfft": irfft}


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
