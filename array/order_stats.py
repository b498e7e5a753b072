"""Order statistics: ``topk``/``argtopk``, ``percentile``/``quantile``, ``median``.

``topk`` is a tree reduction (``reductions.py``): every block keeps its ``k``
best (``np.argpartition``), and each merge of ``split_every`` partials keeps
the best ``k`` of theirs: ``split_every * k`` values per row at once, never
the whole axis.

``percentile`` along an axis is exact: the axis is rechunked into one block
(memory: the whole axis times the other axes' block lengths). Over the whole
array (``axis=None``) with several blocks it is approximate: each block
reports its percentiles at ``grid`` points plus its size, and those are
merged as a weighted sample; the error is about one grid step of each
block's distribution. One block gives the exact answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from shoal.core.delayed import delayed

from .blockwise import _LETTERS, blockwise
from .convert import asarray
from .core import Array
from .creation import from_delayed
from .rechunk import rechunk
from .reductions import reduction
from .shape import expand_dims, moveaxis

__all__ = [
    "topk",
    "argtopk",
    "percentile",
    "quantile",
    "median",
    "nanmedian",
    "nanpercentile",
    "nanquantile",
]


def _best(values: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Positions of the |k| largest (k > 0) or smallest (k < 0) along ``axis``, sorted."""
    n = values.shape[axis]
    kk = min(abs(k), n)
    key = -values if k > 0 else values
    if kk < n:
        part = np.argpartition(key, kk - 1, axis=axis)
        part = np.take(part, np.arange(kk), axis=axis)
    else:
        part = np.broadcast_to(
            np.arange(n).reshape([-1 if a == axis else 1 for a in range(values.ndim)]),
            values.shape,
        )
    order = np.argsort(np.take_along_axis(key, part, axis=axis), axis=axis, kind="stable")
    return np.take_along_axis(part, order, axis=axis)


def _topk_block(block: np.ndarray, k: int, axis: int) -> np.ndarray:
    return np.take_along_axis(block, _best(block, k, axis), axis=axis)


def _topk_stage(part: np.ndarray, axis: tuple, keepdims: bool, k: int) -> np.ndarray:
    """Every stage of ``topk``: the best ``k`` of a block or of merged partials."""
    return _topk_block(part, k, axis[0])


def _argtopk_chunk(
    block: np.ndarray, axis: tuple, keepdims: bool, offset: tuple, shape: tuple, k: int
) -> np.ndarray:
    (ax,) = axis
    pos = _best(block, k, ax)
    out = np.empty(pos.shape, dtype=[("v", block.dtype), ("i", np.int64)])
    out["v"] = np.take_along_axis(block, pos, axis=ax)
    out["i"] = pos + offset[ax]
    return out


def _argtopk_combine(part: np.ndarray, axis: tuple, keepdims: bool, k: int) -> np.ndarray:
    return np.take_along_axis(part, _best(part["v"], k, axis[0]), axis=axis[0])


def _argtopk_aggregate(part: np.ndarray, axis: tuple, keepdims: bool, k: int) -> np.ndarray:
    return _argtopk_combine(part, axis, keepdims, k)["i"]


def _check_k(x: Array, k: int, axis: int) -> int:
    if not isinstance(k, (int, np.integer)) or k == 0:
        raise ValueError(f"k must be a non-zero int, got {k!r}")
    if abs(k) > x.shape[axis]:
        raise ValueError(f"k={k} is larger than axis {axis} of length {x.shape[axis]}")
    return int(k)


def topk(a: Any, k: int, axis: int = -1, split_every: Any = None) -> Array:
    """The ``k`` largest values along ``axis``, largest first; ``k < 0`` gives the
    ``-k`` smallest, smallest first. A tree reduction: ``split_every`` is its
    fan-in, as for ``sum``.

    >>> import shoal.array as sa
    >>> topk(sa.asarray([5, 1, 9, 3, 7], chunks=2), 2).compute()
    array([9, 7])
    """
    x = asarray(a)
    axis = axis % x.ndim
    k = _check_k(x, k, axis)
    stage = functools.partial(_topk_stage, k=k)
    return reduction(
        x,
        stage,
        stage,
        stage,
        axis=axis,
        keepdims=True,
        dtype=x.dtype,
        split_every=split_every,
        name="topk",
        reduced_size=abs(k),
    )


def argtopk(a: Any, k: int, axis: int = -1, split_every: Any = None) -> Array:
    """Indices of ``topk(a, k, axis)`` along ``axis``.

    >>> import shoal.array as sa
    >>> argtopk(sa.asarray([5, 1, 9, 3, 7], chunks=2), -2).compute()
    array([1, 3])
    """
    x = asarray(a)
    axis = axis % x.ndim
    k = _check_k(x, k, axis)
    return reduction(
        x,
        functools.partial(_argtopk_chunk, k=k),
        functools.partial(_argtopk_combine, k=k),
        functools.partial(_argtopk_aggregate, k=k),
        axis=axis,
        keepdims=True,
        dtype=np.int64,
        split_every=split_every,
        name="argtopk",
        offsets=True,
        reduced_size=abs(k),
    )


# ---------------------------------------------------------- percentiles


def _percentile_block(
    block: np.ndarray, q: np.ndarray, axis: int, method: str, nan: bool
) -> np.ndarray:
    func: Callable[..., np.ndarray] = np.nanpercentile if nan else np.percentile
    out = func(block, q, axis=axis, method=method)
    return np.moveaxis(out, 0, axis) if out.ndim == block.ndim else out


def _summary(block: np.ndarray, grid: np.ndarray, nan: bool) -> tuple:
    values = block[~np.isnan(block)] if nan and block.dtype.kind in "fc" else block.ravel()
    if values.size == 0:
        return np.empty(0), 0
    return np.percentile(values, grid), values.size


def _merge(parts: list, q: np.ndarray, grid: np.ndarray) -> np.ndarray:
    values, weights = [], []
    for vals, n in parts:
        if n:
            values.append(vals)
            # each grid point stands for the mass between its neighbours
            mass = np.diff(np.concatenate([[0], (grid[1:] + grid[:-1]) / 2, [100]])) / 100
            weights.append(mass * n)
    if not values:
        return np.full(q.shape, np.nan)
    v = np.concatenate(values)
    w = np.concatenate(weights)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cdf = (np.cumsum(w) - w / 2) / w.sum() * 100
    return np.interp(q, cdf, v)


def percentile(
    a: Any,
    q: Any,
    axis: int | None = None,
    method: str = "linear",
    grid: int = 1000,
    keepdims: bool = False,
) -> Array:
    """The ``q``-th percentiles (0..100) along ``axis`` (see module docstring for
    which results are exact).

    >>> import shoal.array as sa
    >>> percentile(sa.arange(11.0, chunks=4).reshape((1, 11)), [10, 50], axis=1).compute()
    array([[1.],
           [5.]])
    """
    return _percentile(a, q, axis, method, grid, keepdims, nan=False)


def _percentile(
    a: Any, q: Any, axis: int | None, method: str, grid: int, keepdims: bool, nan: bool
) -> Array:
    x = asarray(a)
    qs = np.asarray(q, dtype=float)
    if qs.ndim > 1 or ((qs < 0) | (qs > 100)).any():
        raise ValueError(f"percentiles must be a scalar or 1-D list in [0, 100], got {q}")
    flat = qs.reshape(-1)
    out_dtype = np.result_type(x.dtype, np.float64)
    if axis is None and x.npartitions > 1:
        if keepdims:
            raise NotImplementedError("keepdims with axis=None over several blocks")
        grid_points = np.linspace(0, 100, grid)
        parts = [delayed(_summary)(b, grid_points, nan) for b in x.ravel().to_delayed()]
        merged = delayed(_merge)(parts, flat, grid_points)
        out = from_delayed(merged, (len(flat),), dtype=np.float64)
        return out.reshape(qs.shape) if qs.ndim == 0 else out
    if axis is None:
        x, axis = x.ravel(), 0
    axis = axis % x.ndim
    x = rechunk(x, {axis: -1})
    letters = _LETTERS[: x.ndim]
    block = blockwise(
        _percentile_block,
        letters,
        x,
        letters,
        flat,
        None,
        axis,
        None,
        method,
        None,
        nan,
        None,
        adjust_chunks={letters[axis]: len(flat)},
        dtype=out_dtype,
        name="percentile",
    )
    result = moveaxis(block, axis, 0)
    if keepdims:
        result = expand_dims(result, axis + 1)
    return result[0] if qs.ndim == 0 else result


def quantile(
    a: Any, q: Any, axis: int | None = None, method: str = "linear", keepdims: bool = False
) -> Array:
    """Like ``percentile`` with ``q`` in [0, 1].

    >>> import shoal.array as sa
    >>> float(quantile(sa.arange(5.0, chunks=5), 0.5))
    2.0
    """
    return percentile(
        a, np.asarray(q, dtype=float) * 100, axis=axis, method=method, keepdims=keepdims
    )


def median(a: Any, axis: int | None = None, keepdims: bool = False) -> Array:
    """The median along ``axis`` (exact; approximate for ``axis=None`` over several blocks).

    >>> import shoal.array as sa
    >>> median(sa.asarray([[1, 5, 2], [8, 3, 3]], chunks=1), axis=1).compute()
    array([2., 3.])
    """
    return percentile(a, 50, axis=axis, keepdims=keepdims)


def nanmedian(a: Any, axis: int | None = None, keepdims: bool = False) -> Array:
    """The median ignoring NaNs.

    >>> import shoal.array as sa
    >>> nanmedian(sa.asarray([[1, np.nan, 3]], chunks=1), axis=1).compute()
    array([2.])
    """
    return _percentile(a, 50, axis, "linear", 1000, keepdims, nan=True)


def nanpercentile(
    a: Any, q: Any, axis: int | None = None, method: str = "linear", keepdims: bool = False
) -> Array:
    """Like ``percentile``, ignoring NaNs.

    >>> import shoal.array as sa
    >>> nanpercentile(sa.asarray([[1.0, np.nan, 3.0]], chunks=1), 50, axis=1).compute()
    array([2.])
    """
    return _percentile(a, q, axis, method, 1000, keepdims, nan=True)


def nanquantile(
    a: Any, q: Any, axis: int | None = None, method: str = "linear", keepdims: bool = False
) -> Array:
    """Like ``quantile``, ignoring NaNs.

    >>> import shoal.array as sa
    >>> nanquantile(sa.asarray([[1.0, np.nan, 3.0]], chunks=1), 0.5, axis=1).compute()
    array([2.])
    """
    return nanpercentile(
        a, np.asarray(q, dtype=float) * 100, axis=axis, method=method, keepdims=keepdims
    )
