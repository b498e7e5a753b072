"""Differences: ``gradient`` (NumPy's second-order central differences, with
one-sided first or second order at the edges, uniform or coordinate
spacing) and ``ediff1d``.

Both are compositions of slices and elementwise arithmetic: the gradient
along an axis is the interior ``a*f[:-2] + b*f[1:-1] + c*f[2:]`` joined
with its two edge values and cut back into the input's blocks.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .convert import asarray
from .core import Array
from .manipulation import diff
from .rechunk import rechunk
from .shape import concatenate

__all__ = ["gradient", "ediff1d"]


def _take(x: Array, axis: int, index: Any) -> Array:
    return x[(slice(None),) * axis + (index,)]


def _along(values: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """A 1-D array of coefficients shaped to broadcast along ``axis``."""
    return values.reshape((-1,) + (1,) * (ndim - axis - 1))


def _spacing(spacing: Any, n: int, axis: int) -> Any:
    """A float (uniform spacing) or the 1-D float differences of coordinates."""
    if np.ndim(spacing) == 0:
        return float(spacing)
    coords = np.asarray(spacing, dtype=float)
    if coords.ndim != 1 or coords.shape[0] != n:
        raise ValueError(
            f"the coordinates for axis {axis} must be 1-D of that axis' length {n}, "
            f"got shape {coords.shape}"
        )
    steps = np.diff(coords)
    return float(steps[0]) if (steps == steps[0]).all() else steps


def _gradient_along(f: Array, axis: int, step: Any, edge_order: int) -> Array:
    nd = f.ndim
    first, second, third = (_take(f, axis, slice(i, i + 1)) for i in range(3))
    last, before, third_last = (
        _take(f, axis, slice(f.shape[axis] - i, f.shape[axis] - i + 1)) for i in (1, 2, 3)
    )
    lo, mid, hi = (
        _take(f, axis, slice(None, -2)),
        _take(f, axis, slice(1, -1)),
        _take(f, axis, slice(2, None)),
    )
    if isinstance(step, float):
        interior = (hi - lo) / (2.0 * step)
        if edge_order == 1:
            start = (second - first) / step
            end = (last - before) / step
        else:
            start = (-1.5 / step) * first + (2.0 / step) * second + (-0.5 / step) * third
            end = (0.5 / step) * third_last + (-2.0 / step) * before + (1.5 / step) * last
    else:
        hs, hd = step[:-1], step[1:]
        a = _along(-hd / (hs * (hs + hd)), axis, nd)
        b = _along((hd - hs) / (hs * hd), axis, nd)
        c = _along(hs / (hd * (hs + hd)), axis, nd)
        interior = a * lo + b * mid + c * hi
        if edge_order == 1:
            start = (second - first) / step[0]
            end = (last - before) / step[-1]
        else:
            d1, d2 = step[0], step[1]
            start = (
                (-(2.0 * d1 + d2) / (d1 * (d1 + d2))) * first
                + ((d1 + d2) / (d1 * d2)) * second
                + (-d1 / (d2 * (d1 + d2))) * third
            )
            d1, d2 = step[-2], step[-1]
            end = (
                (d2 / (d1 * (d1 + d2))) * third_last
                + (-(d2 + d1) / (d1 * d2)) * before
                + ((2.0 * d2 + d1) / (d2 * (d1 + d2))) * last
            )
    out = concatenate([start, interior, end], axis=axis)
    return rechunk(out, f.chunks).astype(f.dtype)


def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """The gradient of ``f`` along each of ``axis`` (all axes by default), with
    spacing ``varargs`` as in NumPy (none: 1; one scalar for every axis; or one
    scalar or coordinate array per axis). One array for one axis, else a tuple.

    >>> import shoal.array as sa
    >>> gradient(sa.asarray([1.0, 2.0, 4.0, 7.0, 11.0], chunks=2)).compute()
    array([1. , 1.5, 2.5, 3.5, 4. ])
    """
    x = asarray(f)
    if x.dtype.kind in "biu":
        x = x.astype(np.float64)  # NumPy differentiates integers in float64
    given = range(x.ndim) if axis is None else [axis] if np.ndim(axis) == 0 else axis
    axes = tuple(_check_axis(a, x.ndim) for a in given)
    if len(varargs) == 0:
        spacings: tuple = (1.0,) * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = varargs * len(axes)
    elif len(varargs) == len(axes):
        spacings = varargs
    else:
        raise TypeError(
            f"gradient takes no spacing, one, or one per axis ({len(axes)}); got {len(varargs)}"
        )
    if edge_order not in (1, 2):
        raise ValueError(f"edge_order must be 1 or 2, got {edge_order!r}")
    results = []
    for a, spacing in zip(axes, spacings):
        if x.shape[a] < edge_order + 1:
            raise ValueError(
                f"gradient needs at least edge_order + 1 = {edge_order + 1} values along "
                f"axis {a}, which has {x.shape[a]}"
            )
        results.append(_gradient_along(x, a, _spacing(spacing, x.shape[a], a), edge_order))
    return results[0] if len(results) == 1 else tuple(results)


def _check_axis(axis: Any, ndim: int) -> int:
    if not isinstance(axis, numbers.Integral) or not -ndim <= int(axis) < ndim:
        raise ValueError(f"axis {axis!r} is out of bounds for an array with {ndim} axes")
    return int(axis) % ndim


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Array:
    """Differences of consecutive elements of the flattened array, with
    ``to_begin``/``to_end`` values around them (cast to the array's dtype).

    >>> import shoal.array as sa
    >>> ediff1d(sa.asarray([1, 4, 9, 16], chunks=3), to_begin=0, to_end=[99]).compute()
    array([ 0,  3,  5,  7, 99])
    """
    x = asarray(ary).ravel()
    parts = [diff(x) if x.shape[0] else x]
    for value, name in ((to_begin, "to_begin"), (to_end, "to_end")):
        if value is None:
            continue
        extra = np.asanyarray(value).ravel()
        if not np.can_cast(extra, x.dtype, casting="same_kind"):
            raise TypeError(
                f"dtype of {name} ({extra.dtype}) must be compatible with the array's dtype "
                f"({x.dtype}) under 'same_kind' casting"
            )
        piece = asarray(extra.astype(x.dtype))
        if name == "to_begin":
            parts.insert(0, piece)
        else:
            parts.append(piece)
    return concatenate(parts) if len(parts) > 1 else parts[0]
