"""``argmin``/``argmax`` (and ``nan`` variants) as tree reductions.

Each block reports its best value and that value's global index (the block's
offset added; for ``axis=None`` the flat index in the whole array); groups of
partials keep the best, the first one on ties, so the result matches NumPy.
The ``nan`` variants treat NaN as missing and raise "All-NaN slice
encountered" like NumPy when a whole slice is NaN.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .convert import asarray
from .core import Array
from .reductions import reduction

__all__ = ["argmin", "argmax", "nanargmin", "nanargmax"]


def _arg_chunk(block, axis, keepdims, offset, shape, which="min", nan=False, **kw):
    (ax,) = axis if len(axis) == 1 else (None,)
    values = block if ax is not None else block.reshape(-1)
    a = 0 if ax is None else ax
    allnan = None
    if nan and values.dtype.kind in "fc":
        isnan = np.isnan(values)
        allnan = np.all(isnan, axis=a, keepdims=True)
        fill = np.inf if which == "min" else -np.inf
        values = np.where(isnan, fill, values)
    pick = np.argmin if which == "min" else np.argmax
    local = pick(values, axis=a, keepdims=True)
    best = np.take_along_axis(values, local, axis=a)
    if ax is None:
        coords = np.unravel_index(int(local.reshape(-1)[0]), block.shape)
        glob = np.ravel_multi_index([c + o for c, o in zip(coords, offset)], shape)
        idx = np.full((1,) * block.ndim, glob, dtype=np.intp)
        best = best.reshape((1,) * block.ndim)
        if allnan is not None:
            allnan = allnan.reshape((1,) * block.ndim)
    else:
        idx = (local + offset[ax]).astype(np.intp)
    if allnan is not None:
        best = np.where(allnan, np.nan, best)
    return {"v": best, "i": idx}


def _arg_combine(part, axis, keepdims, which="min", nan=False, **kw):
    v, i = part["v"], part["i"]
    ax = axis[0] if len(axis) == 1 else None
    if ax is None:
        v2, i2 = v.reshape(-1), i.reshape(-1)
        a = 0
    else:
        v2, i2, a = v, i, ax
    if nan and v2.dtype.kind in "fc":
        isnan = np.isnan(v2)
        fill = np.inf if which == "min" else -np.inf
        filled = np.where(isnan, fill, v2)
        allnan = np.all(isnan, axis=a, keepdims=True)
    else:
        filled, allnan = v2, None
    pick = np.argmin if which == "min" else np.argmax
    loc = pick(filled, axis=a, keepdims=True)
    if ax is None and filled.size:
        # flat order is not block order in several dimensions: of the tied
        # partials, the smallest flat index is NumPy's first occurrence
        top = filled[loc[0]]
        tied = (
            (filled == top) | (np.isnan(filled) & np.isnan(top))
            if filled.dtype.kind in "fc"
            else filled == top
        )
        loc = np.array([np.flatnonzero(tied)[np.argmin(i2[tied])]])
    best_v = np.take_along_axis(v2, loc, axis=a)
    best_i = np.take_along_axis(i2, loc, axis=a)
    if allnan is not None:
        best_v = np.where(allnan, np.nan, np.take_along_axis(filled, loc, axis=a))
        best_i = np.where(allnan, -1, best_i) if np.any(allnan) else best_i
    if ax is None:
        shape = (1,) * v.ndim
        best_v, best_i = best_v.reshape(shape), best_i.reshape(shape)
    return {"v": best_v, "i": best_i}


def _arg_aggregate(part, axis, keepdims, which="min", nan=False, **kw):
    out = _arg_combine(part, axis, True, which=which, nan=nan)
    idx = out["i"]
    if nan and np.any(idx < 0):
        raise ValueError("All-NaN slice encountered")
    if axis and len(axis) == 1 and not keepdims:
        return np.squeeze(idx, axis=axis)
    if not keepdims:
        return idx.reshape(())
    return idx


def _arg_reduction(name: str, which: str, nan: bool) -> Callable:
    def reduce(
        x: Any, axis: int | None = None, keepdims: bool = False, split_every: Any = None
    ) -> Array:
        x = asarray(x)
        if axis is not None and not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{name} takes a single int axis or None, got {axis!r}")
        if x.size == 0:
            raise ValueError(f"attempt to get {name} of an empty sequence (shape {x.shape})")
        chunk = functools.partial(_arg_chunk, which=which, nan=nan)
        combine = functools.partial(_arg_combine, which=which, nan=nan)
        aggregate = functools.partial(_arg_aggregate, which=which, nan=nan)
        return reduction(
            x,
            chunk,
            combine,
            aggregate,
            axis=axis,
            keepdims=keepdims,
            dtype=np.intp,
            split_every=split_every,
            name=name,
            offsets=True,
        )

    reduce.__name__ = name
    reduce.__qualname__ = name
    reduce.__doc__ = (
        f"``numpy.{name}`` along one axis (or of the flattened array).\n\n"
        f"    >>> import shoal.array as sa\n"
        f"    >>> int(sa.{name}(sa.asarray([3., 1., 4., 1., 5.], chunks=2)))"
        f" == int(np.{name}([3., 1., 4., 1., 5.]))\n    True\n"
    )
    return reduce


argmin = _arg_reduction("argmin", "min", False)
argmax = _arg_reduction("argmax", "max", False)
nanargmin = _arg_reduction("nanargmin", "min", True)
nanargmax = _arg_reduction("nanargmax", "max", True)
