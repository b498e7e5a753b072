"""``sliding_window_view``: every window of a shoal array, as NumPy's
``numpy.lib.stride_tricks.sliding_window_view``.

NumPy returns a strided view; a blocked array cannot, so the windows along an
axis of window ``w`` are ``w`` shifted slices stacked on a new last axis:

    x:        a b c d e            w = 3
    k = 0:    a b c                window i is (x[i], x[i+1], x[i+2])
    k = 1:    b c d
    k = 2:    c d e         ->     stacked on a new last axis: shape (3, 3)

That is a composition of slicing and stacking (nothing runs until compute),
correct for any chunking; a window reduction then reads each block a few
times. xarray's ``rolling`` reaches it through the namespace
(``xp.lib.stride_tricks.sliding_window_view``, see ``array_api.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .convert import asarray
from .core import Array
from .creation import empty
from .reductions import normalize_axis
from .shape import stack

__all__ = ["sliding_window_view"]


def sliding_window_view(
    x: Any,
    window_shape: int | Sequence[int],
    axis: int | Sequence[int] | None = None,
    *,
    subok: bool = False,
    writeable: bool = False,
) -> Array:
    """Every window of ``window_shape`` along ``axis`` (default: all axes),
    window axes appended last, as in NumPy. ``subok`` and ``writeable`` are
    accepted for NumPy's signature; a shoal result is never a writeable view.

    >>> import numpy as np, shoal.array as sa
    >>> sliding_window_view(sa.arange(5, chunks=2), 3).compute()
    array([[0, 1, 2],
           [1, 2, 3],
           [2, 3, 4]])
    """
    x = asarray(x)
    windows = (window_shape,) if isinstance(window_shape, int) else tuple(window_shape)
    if writeable:
        raise ValueError("sliding_window_view of a shoal array is never writeable")
    if axis is None:
        if len(windows) != x.ndim:
            raise ValueError(
                f"window_shape {windows} needs one entry per axis of the array of shape "
                f"{x.shape} when axis is not given"
            )
        axes: tuple[int, ...] = tuple(range(x.ndim))
    else:
        given = (axis,) if isinstance(axis, int) else tuple(axis)
        axes = tuple(normalize_axis(a, x.ndim)[0] for a in given)
        if len(axes) != len(windows):
            raise ValueError(f"window_shape {windows} and axis {given} must have the same length")
    out = x
    for w, a in zip(windows, axes):
        if not isinstance(w, int) or w < 0:
            raise ValueError(f"window lengths must be non-negative ints, got {windows}")
        n = out.shape[a]
        if w > n:
            raise ValueError(f"window {w} is longer than axis {a} of the array of shape {x.shape}")
        shifted = []
        for k in range(w):
            index = [slice(None)] * out.ndim
            index[a] = slice(k, n - w + 1 + k)
            shifted.append(out[tuple(index)])
        out = stack(shifted, axis=-1) if shifted else _no_windows(out, a)
    return out


def _no_windows(x: Array, axis: int) -> Array:
    """A window of length 0: NumPy gives n + 1 empty windows along ``axis``."""
    shape = list(x.shape)
    shape[axis] += 1
    return empty((*shape, 0), dtype=x.dtype, chunks=-1)
