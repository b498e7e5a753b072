"""Order statistics: ``topk``/``argtopk``, ``percentile``/``quantile``, ``median``.

``topk`` is a tree reduction (``reductions.py``): every block keeps its ``k``
best (``np.argpartition``), and each merge of ``split_every`` partials keeps
the best ``k`` of theirs: ``split_every * k`` values per row at once, never
the whole axis.

``percentile``/``quantile`` (and their ``nan`` versions, and ``median``) are
exact for every NumPy ``method`` and with ``weights``: the reduced axes are
rechunked into one block and NumPy selects in each block. A block then holds
the reduced axes whole times the other axes' block lengths; when that would
pass ``array.order-stat-block-limit`` times ``array.chunk-size``, the other
axes are cut smaller so it does not, and when the reduced axes alone pass it
(``axis=None`` over a large array) a ``ValueError`` says so before anything
runs: never an approximate answer.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from shoal.core import config
from shoal.core.utils import format_bytes, parse_bytes

from .blockwise import _LETTERS, blockwise
from .convert import asarray
from .core import Array
from .rechunk import rechunk
from .reductions import reduction
from .shape import broadcast_to, expand_dims, moveaxis, squeeze

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

config.update_defaults(
    {"array": {"order-stat-block-limit": 8}},
    {
        "array.order-stat-block-limit": (
            "Largest block a percentile, quantile or median may gather, in multiples "
            "of array.chunk-size."
        )
    },
)


_SELECTORS: dict[tuple, Callable[..., np.ndarray]] = {
    ("percentile", False): np.percentile,
    ("percentile", True): np.nanpercentile,
    ("quantile", False): np.quantile,
    ("quantile", True): np.nanquantile,
}


def _percentile_block(
    block: np.ndarray,
    weights: np.ndarray | None,
    q: Any,
    axes: tuple,
    method: str,
    kind: str,
    nan: bool,
) -> np.ndarray:
    """NumPy's ``kind`` (percentile or quantile) of one block over ``axes``
    (all whole in it), laid out as the block with ``axes[0]`` holding the
    ``q`` values and the other reduced axes of length 1."""
    # NumPy's nan versions drop the q axis of empty blocks; they hold no NaN to skip
    func = _SELECTORS[kind, nan and block.size > 0]
    extra = {} if weights is None else {"weights": weights}
    out = np.asarray(func(block, q, axis=axes, method=method, keepdims=True, **extra))
    if np.ndim(q) == 0:
        out = out[np.newaxis]
    return np.moveaxis(out, 0, axes[0])[(slice(None),) * (axes[0] + 1) + (0,)]


def _check_weights(x: Array, weights: Any, axes: tuple, method: str) -> Array | None:
    if weights is None:
        return None
    w = asarray(weights)
    if w.shape == x.shape:
        return w
    if len(axes) == 1 and w.ndim == 1 and w.shape[0] == x.shape[axes[0]]:
        along = [1] * x.ndim
        along[axes[0]] = -1
        return broadcast_to(w.reshape(tuple(along)), x.shape)
    raise ValueError(
        f"weights of shape {w.shape} do not fit an array of shape {x.shape} reduced over "
        f"axes {axes}: give weights of the array's shape, or 1-D along the one reduced axis"
    )


def _gather(x: Array, axes: tuple) -> Array:
    """``x`` with ``axes`` in one block, the other axes cut so a block stays
    within the limit (see module docstring)."""
    limit = parse_bytes(config.get("array.chunk-size")) * config.get("array.order-stat-block-limit")
    itemsize = max(x.dtype.itemsize, 1)
    whole = math.prod(x.shape[a] for a in axes) * itemsize
    if whole > limit:
        raise ValueError(
            f"an exact percentile over axes {axes} of an array of shape {x.shape} needs those "
            f"axes in one block of {format_bytes(whole)}, above the limit of "
            f"{format_bytes(limit)}; reduce along fewer axes (e.g. axis=0, then over the "
            "results) or raise config array.order-stat-block-limit"
        )
    target: dict = {a: -1 for a in axes}
    block = whole * math.prod(max(x.chunks[a], default=0) for a in range(x.ndim) if a not in axes)
    if block > limit:
        target.update({a: "auto" for a in range(x.ndim) if a not in axes})
    return rechunk(x, target, block_size_limit=limit)


_METHODS = (
    "inverted_cdf",
    "averaged_inverted_cdf",
    "closest_observation",
    "interpolated_inverted_cdf",
    "hazen",
    "weibull",
    "linear",
    "median_unbiased",
    "normal_unbiased",
    "lower",
    "higher",
    "midpoint",
    "nearest",
)


def _percentile(
    a: Any,
    q: Any,
    axis: Any,
    method: str,
    keepdims: bool,
    nan: bool,
    weights: Any = None,
    kind: str = "percentile",
) -> Array:
    x = asarray(a)
    qs = np.asarray(q, dtype=float)
    top = 100 if kind == "percentile" else 1
    if qs.ndim > 1 or ((qs < 0) | (qs > top)).any() or np.isnan(qs).any():
        raise ValueError(f"{kind}s must be a scalar or 1-D list in [0, {top}], got {q}")
    if method not in _METHODS:
        raise ValueError(f"method {method!r} is not one of NumPy's: {', '.join(_METHODS)}")
    if weights is not None and method != "inverted_cdf":
        raise ValueError(f"weights need method='inverted_cdf' (as in NumPy), got {method!r}")
    if x.ndim == 0:
        x = x.reshape((1,))
        axis = None
    axes = tuple(range(x.ndim)) if axis is None else _normalize_axes(axis, x.ndim)
    # NumPy keeps Python numbers for q "weak" (float32 data stays float32) and
    # NumPy arrays strong: the blocks get q in the same form
    q_arg = q if isinstance(q, (np.ndarray, np.generic)) else qs.tolist()
    w = _check_weights(x, weights, axes, method)
    probe = np.asarray(_SELECTORS[kind, False](np.ones(1, dtype=x.dtype), q_arg, method=method))
    x = _gather(x, axes)
    letters = _LETTERS[: x.ndim]
    w_args: tuple = (None, None) if w is None else (rechunk(w, x.chunks), letters)
    n_q = max(qs.size, 1)
    block = blockwise(
        _percentile_block,
        letters,
        x,
        letters,
        *w_args,
        q_arg,
        None,
        axes,
        None,
        method,
        None,
        kind,
        None,
        nan,
        None,
        adjust_chunks={letters[a]: (n_q if a == axes[0] else 1) for a in axes},
        dtype=probe.dtype,
        name=("nan" if nan else "") + kind,
    )
    result = moveaxis(block, axes[0], 0)
    if keepdims:
        result = expand_dims(result, axes[0] + 1)
    elif len(axes) > 1:
        result = squeeze(result, axes[1:])
    return result[0] if qs.ndim == 0 else result


def _normalize_axes(axis: Any, ndim: int) -> tuple:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ValueError(f"axis {a!r} is out of bounds for an array with {ndim} axes")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis!r}")
    return tuple(sorted(out))


def percentile(
    a: Any,
    q: Any,
    axis: Any = None,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
) -> Array:
    """The ``q``-th percentiles (0..100) over ``axis`` (int, tuple or None),
    exact for every NumPy ``method``; ``weights`` (the array's shape, or 1-D
    along the one reduced axis) need ``method="inverted_cdf"``, as in NumPy.

    >>> import shoal.array as sa
    >>> float(percentile(sa.arange(12, chunks=5), 50))
    5.5
    >>> percentile(sa.arange(11.0, chunks=4).reshape((1, 11)), [10, 50], axis=1).compute()
    array([[1.],
           [5.]])
    """
    return _percentile(a, q, axis, method, keepdims, nan=False, weights=weights)


def quantile(
    a: Any,
    q: Any,
    axis: Any = None,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
) -> Array:
    """Like ``percentile`` with ``q`` in [0, 1].

    >>> import shoal.array as sa
    >>> float(quantile(sa.arange(5.0, chunks=2), 0.5, weights=[1, 1, 1, 1, 9],
    ...                method="inverted_cdf"))
    4.0
    """
    return _percentile(a, q, axis, method, keepdims, False, weights, kind="quantile")


def median(a: Any, axis: Any = None, keepdims: bool = False) -> Array:
    """The median over ``axis`` (exact).

    >>> import shoal.array as sa
    >>> median(sa.asarray([[1, 5, 2], [8, 3, 3]], chunks=1), axis=1).compute()
    array([2., 3.])
    """
    return _percentile(a, 50, axis, "linear", keepdims, nan=False)


def nanmedian(a: Any, axis: Any = None, keepdims: bool = False) -> Array:
    """The median ignoring NaNs.

    >>> import shoal.array as sa
    >>> nanmedian(sa.asarray([[1, np.nan, 3]], chunks=1), axis=1).compute()
    array([2.])
    """
    return _percentile(a, 50, axis, "linear", keepdims, nan=True)


def nanpercentile(
    a: Any,
    q: Any,
    axis: Any = None,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
) -> Array:
    """Like ``percentile``, ignoring NaNs.

    >>> import shoal.array as sa
    >>> nanpercentile(sa.asarray([[1.0, np.nan, 3.0]], chunks=1), 50, axis=1).compute()
    array([2.])
    """
    return _percentile(a, q, axis, method, keepdims, nan=True, weights=weights)


def nanquantile(
    a: Any,
    q: Any,
    axis: Any = None,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
) -> Array:
    """Like ``quantile``, ignoring NaNs.

    >>> import shoal.array as sa
    >>> nanquantile(sa.asarray([[1.0, np.nan, 3.0]], chunks=1), 0.5, axis=1).compute()
    array([2.])
    """
    return _percentile(a, q, axis, method, keepdims, True, weights, kind="quantile")
