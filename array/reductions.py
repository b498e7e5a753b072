"""Reductions as trees: sum, prod, mean, var, std, min, max, any, all, their
``nan`` variants, count_nonzero, ptp, average (arg* in ``arg_reductions.py``,
top-k in ``order_stats.py``). The NumPy-named ones are made here and bound
under their names in ``numpy_reductions.py``.

A reduction runs in three kinds of tasks. ``chunk`` reduces each input block
(with ``keepdims``; the input block is fused into this task), ``combine``
merges groups of at most ``split_every`` partial results, round after round,
and ``aggregate`` turns the last group into the output block. Only a group's
partials are alive at once, so memory stays bounded by the tree's width. The
fan-in, its check and the rounds and groups are those of every collection
(``shoal.core.tree``).

Partials may be arrays or dicts of arrays: ``mean`` carries (count, total);
``var``/``std`` carry (count, mean, M2) per block and combine them with the
parallel formula of Chan et al., which stays accurate where the textbook
``E[x^2] - E[x]^2`` cancels catastrophically. Cumulative sums and products
are in ``scans.py``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from shoal.core.build import BlockExpr, all_block_indices
from shoal.core.layers import Layer, LayeredGraph
from shoal.core.task import Ref, Task
from shoal.core.tree import axis_factors, reduction_rounds, round_group, split_every_of

from .chunks import chunk_offsets, has_unknown
from .convert import asarray, is_masked, masked_meta, meta_from
from .core import Array, join_blocks
from .expr import ArrayExpr, GraphBuilder
from .rechunk import rechunk
from .sharing import shared_partial
from .streaming import has_stream, piece_rows, plan_task, stream_partials

__all__ = [
    "Reduction",
    "reduction",
    "simple_reduction",
    "moment_reduction",
    "NUMPY_NAMED",
    "normalize_axis",
    "probe_dtype",
    "count_nonzero",
    "ptp",
    "average",
]


def normalize_axis(axis: Any, ndim: int) -> tuple:
    """Axes as a sorted tuple of non-negative ints; AxisError when out of range.

    >>> normalize_axis(-1, 3), normalize_axis(None, 2)
    ((2,), (0, 1))
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"axis must be an int or a tuple of ints, got {a!r}")
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(
                f"axis {a} is out of bounds for array of dimension {ndim}"
            )
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate value in axis {axis}")
    return tuple(sorted(out))


# --------------------------------------------------------------- partials


def _concat_partials(nested: Any, axes: tuple, depth: int = 0) -> Any:
    """One partial from a nested list (one level per axis in ``axes``)."""
    if depth == len(axes):
        return nested
    parts = [_concat_partials(n, axes, depth + 1) for n in nested]
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], dict):
        return {k: join_blocks([p[k] for p in parts], axes[depth]) for k in parts[0]}
    return join_blocks(parts, axes[depth])


def _combine_group(nested: Any, axes: tuple, combine: Callable, kwargs: dict) -> Any:
    return combine(_concat_partials(nested, axes), axis=axes, keepdims=True, **kwargs)


def _aggregate_group(
    nested: Any, axes: tuple, aggregate: Callable, keepdims: bool, kwargs: dict
) -> Any:
    return aggregate(_concat_partials(nested, axes), axis=axes, keepdims=keepdims, **kwargs)


class Reduction(ArrayExpr):
    """A tree reduction over ``axis`` of ``child`` (see module docstring);
    the rounds and groups are those of ``shoal.core.tree``. Each reduced axis
    keeps ``reduced_size`` entries in the output when ``keepdims`` (1, or k for
    ``topk``)."""

    child: ArrayExpr
    chunk: Callable
    combine: Callable
    aggregate: Callable
    axis: tuple
    keepdims: bool
    meta: np.ndarray
    split_every: Any  # checked by split_every_of: an int >= 2 or {axis: int >= 2}
    kwargs: dict | None = None
    offsets: bool = False
    prefix: str | None = None
    stream: bool = False
    reduced_size: int = 1

    @property
    def _prefix(self) -> str:
        return self.prefix or "reduce"

    @functools.cached_property
    def chunks(self) -> tuple:
        out: list[tuple[int, ...]] = []
        for a, c in enumerate(self.child.chunks):
            if a in self.axis:
                if self.keepdims:
                    out.append((self.reduced_size,))
            else:
                out.append(c)
        return tuple(out)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    @functools.cached_property
    def _factors(self) -> dict:
        return axis_factors(self.child.numblocks, self.axis, self.split_every)

    @functools.cached_property
    def _rounds(self) -> list:
        """numblocks after each round of combining, ending with one block
        along every reduced axis."""
        return reduction_rounds(self.child.numblocks, self.axis, self._factors)

    def _partial_kwargs(self, index: tuple) -> dict:
        kwargs = dict(self.kwargs or {})
        if self.offsets:
            child = self.child
            kwargs["offset"] = tuple(chunk_offsets(c)[i] for c, i in zip(child.chunks, index))
            kwargs["shape"] = child.shape
        return kwargs

    shares_partials = True  # see sharing.py

    def _partial(self, index: tuple, b: GraphBuilder) -> Any:
        shared = shared_partial(self, index, b)
        return shared if shared is not None else self._partial_alone(index, b)

    def _partial_alone(self, index: tuple, b: GraphBuilder) -> Any:
        """The partial task of block ``index``, made for this reduction alone."""
        step = self._piece_rows(index, b)
        if step:
            plan = b.input_rows(self, self.child, index)
            if has_stream(plan):
                rows = self.child.chunks[0][index[0]]
                return Task(_first, Task(stream_partials, plan, rows, step, (self._spec(index),)))
            block = plan_task(plan)
        else:
            block = b.input(self, self.child, index)
        if self.offsets:
            return Task(
                self.chunk, block, axis=self.axis, keepdims=True, **self._partial_kwargs(index)
            )
        return Task(self._chunk_call, block)

    @functools.cached_property
    def _chunk_call(self) -> functools.partial:
        """``chunk`` with this reduction's keywords, one object shared by every
        partial task (blocks differ only in their input)."""
        return functools.partial(self.chunk, axis=self.axis, keepdims=True, **(self.kwargs or {}))

    @functools.cached_property
    def _may_stream(self) -> bool:
        """False when no block of the input has two rows to stream."""
        chunks = self.child.chunks
        return bool(self.stream and chunks and any(c >= 2 for c in chunks[0]))

    def _piece_rows(self, index: tuple, b: GraphBuilder) -> int:
        """Rows per piece when this partial streams its input, else 0."""
        if not self._may_stream:
            return 0
        child = self.child
        shape = tuple(c[i] for c, i in zip(child.chunks, index))
        if shape[0] < 2:
            return 0
        return piece_rows(shape, child.dtype.itemsize, b.piece_size)

    def _spec(self, index: tuple) -> tuple:
        """What ``stream_partials`` needs to make this reduction's partial."""
        combine_kwargs = _combine_kwargs(self.kwargs or {})
        fan_in = self._factors.get(0, 0)  # pieces are merged like blocks along the rows
        return (
            self.chunk,
            self.combine,
            self.axis,
            self._partial_kwargs(index),
            combine_kwargs,
            fan_in,
        )

    def _group(self, prev_nb: tuple, index: tuple) -> Any:
        """Nested list of the previous round's indices in group ``index``."""
        return round_group(prev_nb, index, self.axis, self._factors, False)

    def _stage(self, level: int) -> str:
        return self.stage_name("partial" if level == 0 else f"combine{level}")

    def _extra_layer(self, b: GraphBuilder) -> LayeredGraph:
        rounds = self._rounds
        out = LayeredGraph()
        if len(rounds) == 1:
            return out
        partial = self._partial
        nodes = [partial(index, b) for index in all_block_indices(rounds[0])]
        out.add_layer(Layer(self._stage(0), rounds[0], nodes))
        combine_kwargs = _combine_kwargs(self.kwargs or {})
        for level in range(1, len(rounds) - 1):
            nodes = [
                Task(
                    _combine_group,
                    self._map_group(self._group(rounds[level - 1], index), level - 1),
                    self.axis,
                    self.combine,
                    combine_kwargs,
                )
                for index in all_block_indices(rounds[level])
            ]
            out.add_layer(Layer(self._stage(level), rounds[level], nodes))
        return out

    def _map_group(self, nested: Any, level: int) -> Any:
        if isinstance(nested, tuple):
            return Ref((self._stage(level), *nested))
        return [self._map_group(n, level) for n in nested]

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        full = list(index) if self.keepdims else _expand(index, self.axis, self.child.ndim)
        full = [0 if a in self.axis else i for a, i in enumerate(full)]
        rounds = self._rounds
        kwargs = _combine_kwargs(self.kwargs or {})
        if len(rounds) == 1:
            partial = self._partial(tuple(full), b)
            for _ in self.axis:
                partial = [partial]
            return Task(_aggregate_group, partial, self.axis, self.aggregate, self.keepdims, kwargs)
        group = self._map_group(self._group(rounds[-2], tuple(full)), len(rounds) - 2)
        return Task(_aggregate_group, group, self.axis, self.aggregate, self.keepdims, kwargs)

    def _explain_args(self) -> str:
        return f"{self._prefix}, axis={self.axis}, keepdims={self.keepdims}"


def _first(values: tuple) -> Any:
    return values[0]


def _combine_kwargs(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k in ("ddof", "dtype", "nan", "masked")}


def _expand(index: tuple, axes: tuple, ndim: int) -> list:
    it = iter(index)
    return [0 if a in axes else next(it) for a in range(ndim)]


def reduction(
    x: Any,
    chunk: Callable,
    combine: Callable,
    aggregate: Callable,
    axis: Any = None,
    keepdims: bool = False,
    dtype: Any = None,
    split_every: Any = None,
    name: str = "reduce",
    kwargs: dict | None = None,
    offsets: bool = False,
    empty_ok: bool = True,
    stream: bool = False,
    reduced_size: int = 1,
) -> Array:
    """A tree reduction (see module docstring) from three functions taking
    ``(x, axis=, keepdims=)``. ``split_every`` is the fan-in of the tree (an
    int >= 2, or a dict of them per reduced axis; default config
    ``array.split-every``). ``stream=True`` declares that ``chunk`` of
    pieces of a block's rows merged by ``combine`` equals ``chunk`` of the
    block, which lets the first stage stream its input (``streaming.py``).
    ``reduced_size`` is how many entries a reduced axis keeps (with
    ``keepdims``): 1, or k for a top-k selection.

    >>> import shoal.array as sa
    >>> reduction(sa.arange(10, chunks=3), np.sum, np.sum, np.sum, dtype=int).compute()
    np.int64(45)
    """
    x = asarray(x)
    axes = normalize_axis(axis, x.ndim)
    split_every = split_every_of(split_every, "array", axes)
    unknown = has_unknown(tuple(x.chunks[a] for a in axes))
    if unknown and (offsets or not empty_ok):
        raise ValueError(
            f"{name} over axes {axes} needs known chunk sizes, got {x.chunks}; "
            "call .compute_chunk_sizes() first"
        )
    if not empty_ok and any(x.shape[a] == 0 for a in axes):
        raise ValueError(
            f"zero-size array to reduction operation {name} which has no identity "
            f"(shape {x.shape}, axis {axis})"
        )
    cleaned = tuple(
        tuple(n for n in c if n) or (0,) if a in axes and x.shape[a] else c
        for a, c in enumerate(x.chunks)
    )
    if not unknown and cleaned != x.chunks:
        x = rechunk(x, cleaned)
    out_ndim = x.ndim if keepdims else x.ndim - len(axes)
    meta = (masked_meta if is_masked(x.meta) else meta_from)(dtype, out_ndim)
    expr = Reduction(
        x.expr,
        chunk,
        combine,
        aggregate,
        axes,
        bool(keepdims),
        meta,
        split_every,
        kwargs or None,
        offsets,
        name,
        bool(stream) and not offsets,
        int(reduced_size),
    )
    return Array(expr)


def probe_dtype(func: Callable, x: Array, **kwargs: Any) -> np.dtype:
    """The dtype ``func`` gives on a one-element block of ``x``'s dtype.

    >>> import shoal.array as sa
    >>> probe_dtype(np.mean, sa.arange(3, chunks=2))
    dtype('float64')
    """
    sample = np.ones((1,) * max(x.ndim, 1), dtype=x.dtype)
    with np.errstate(all="ignore"):
        return np.asarray(func(sample, **kwargs)).dtype


# ------------------------------------------------------ simple reductions


def _np_chunk(np_func: Callable, block, axis, keepdims, **kw):
    return np_func(block, axis=axis, keepdims=True, **kw)


def _np_combine(np_func: Callable, part, axis, keepdims, **kw):
    # dtype is passed on: summing uint8 partials without it would widen them
    return np_func(part, axis=axis, keepdims=keepdims, **kw)


def simple_reduction(np_func: Callable, name: str, empty_ok: bool = True) -> Callable:
    """A reduction calling ``np_func`` at every stage (``sum``, ``max``, ...);
    ``empty_ok=False`` refuses zero-size input, as NumPy does for ``max``.

    >>> import shoal.array as sa
    >>> int(simple_reduction(np.max, "max", empty_ok=False)(sa.arange(5, chunks=2)))
    4
    """
    chunk = functools.partial(_np_chunk, np_func)
    combine = functools.partial(_np_combine, np_func)

    def reduce(
        x: Any,
        axis: Any = None,
        dtype: Any = None,
        keepdims: bool = False,
        split_every: Any = None,
        out: Any = None,
    ) -> Array:
        if out is not None:
            raise TypeError(f"{name}(out=) is not supported; assign the result instead")
        x = asarray(x)
        kwargs = {"dtype": dtype} if dtype is not None else {}
        out_dtype = probe_dtype(np_func, x, **kwargs)
        return reduction(
            x,
            chunk,
            combine,
            combine,
            axis=axis,
            keepdims=keepdims,
            dtype=out_dtype,
            split_every=split_every,
            name=name,
            kwargs=kwargs,
            empty_ok=empty_ok,
            stream=True,
        )

    reduce.__name__ = name
    reduce.__qualname__ = name
    reduce.__doc__ = (
        f"``numpy.{name}`` as a tree reduction over ``axis`` (int, tuple or None).\n\n"
        f"    >>> import shoal.array as sa\n"
        f"    >>> x = sa.arange(1, 7, chunks=4).reshape((2, 3))\n"
        f"    >>> np.allclose(sa.{name}(x, axis=1).compute(), np.{name}(np.arange(1, 7)"
        f".reshape((2, 3)), axis=1))\n    True\n"
    )
    return reduce


def _count_chunk(block, axis, keepdims, **kw):
    return np.sum(block != 0, axis=axis, keepdims=True, dtype=np.intp)


def _intp_sum(part, axis, keepdims, **kw):
    return np.sum(part, axis=axis, keepdims=keepdims, dtype=np.intp)


def count_nonzero(
    x: Any, axis: Any = None, keepdims: bool = False, split_every: Any = None
) -> Array:
    """Number of non-zero values along ``axis``.

    >>> import shoal.array as sa
    >>> count_nonzero(sa.arange(5, chunks=2)).compute()
    np.int64(4)
    """
    return reduction(
        x,
        _count_chunk,
        _intp_sum,
        _intp_sum,
        axis=axis,
        keepdims=keepdims,
        dtype=np.intp,
        split_every=split_every,
        name="count_nonzero",
        stream=True,
    )


# ------------------------------------------------------------- moments


def _moment_chunk(block, axis, keepdims, nan=False, acc=None, **kw):
    if isinstance(block, np.ma.MaskedArray):
        return _masked_moment_chunk(block, axis, nan, acc, kw.get("second"))
    if nan:
        valid = ~np.isnan(block)
        n = np.sum(valid, axis=axis, keepdims=True, dtype=np.float64)
        total = np.nansum(block, axis=axis, keepdims=True, dtype=acc)
    else:
        n = np.full(
            [1 if a in axis else s for a, s in enumerate(block.shape)],
            math.prod(block.shape[a] for a in axis),
            dtype=np.float64,
        )
        total = np.sum(block, axis=axis, keepdims=True, dtype=acc)
    with np.errstate(all="ignore"):
        mean = np.where(n > 0, total / np.where(n > 0, n, 1), 0)
    out = {"n": n, "mean": mean}
    if kw.get("second"):
        d = np.asarray(np.subtract(block, mean))  # 0-d blocks give a scalar, not an array
        if np.iscomplexobj(d):
            sq = (d * np.conj(d)).real
        else:
            sq = np.multiply(d, d, out=d)
        out["m2"] = (np.nansum if nan else np.sum)(sq, axis=axis, keepdims=True)
    return out


def _masked_moment_chunk(block, axis, nan, acc, second):
    """Moments of the unmasked (and, for ``nan``, non-NaN) values: np.ma's."""
    data = np.ma.getdata(block)
    valid = ~np.ma.getmaskarray(block)
    if nan:
        valid &= ~np.isnan(data)
    n = np.sum(valid, axis=axis, keepdims=True, dtype=np.float64)
    total = np.sum(np.where(valid, data, 0), axis=axis, keepdims=True, dtype=acc)
    with np.errstate(all="ignore"):
        mean = np.where(n > 0, total / np.where(n > 0, n, 1), 0)
    out = {"n": n, "mean": mean}
    if second:
        d = np.where(valid, np.subtract(data, mean), 0)
        sq = (d * np.conj(d)).real if np.iscomplexobj(d) else d * d
        out["m2"] = np.sum(sq, axis=axis, keepdims=True)
    return out


def _moment_combine(part, axis, keepdims, **kw):
    n = np.sum(part["n"], axis=axis, keepdims=keepdims)
    weighted = np.sum(part["n"] * part["mean"], axis=axis, keepdims=keepdims)
    with np.errstate(all="ignore"):
        mean = np.where(n > 0, weighted / np.where(n > 0, n, 1), 0)
    out = {"n": n, "mean": mean}
    if "m2" in part:
        back = mean if keepdims else np.expand_dims(mean, axis)
        d = part["mean"] - back
        sq = (d * np.conj(d)).real if np.iscomplexobj(d) else d * d
        out["m2"] = np.sum(part["m2"], axis=axis, keepdims=keepdims) + np.sum(
            part["n"] * sq, axis=axis, keepdims=keepdims
        )
    return out


def _mean_aggregate(part, axis, keepdims, dtype=None, masked=False, **kw):
    out = _moment_combine(part, axis, keepdims)
    with np.errstate(all="ignore"):
        value = np.where(out["n"] > 0, out["mean"], np.nan)
    value = value.astype(dtype, copy=False) if dtype is not None else value
    return np.ma.masked_where(out["n"] == 0, value) if masked else value


def _var_aggregate(part, axis, keepdims, ddof=0, dtype=None, sqrt=False, masked=False, **kw):
    out = _moment_combine(part, axis, keepdims)
    with np.errstate(all="ignore"):
        value = out["m2"] / np.maximum(out["n"] - ddof, 0)
        value = np.where(out["n"] - ddof > 0, value, np.nan)
    if sqrt:
        value = np.sqrt(value)
    value = value.astype(dtype, copy=False) if dtype is not None else value
    return np.ma.masked_where(out["n"] - ddof <= 0, value) if masked else value


def moment_reduction(
    name: str, np_func: Callable, second: bool, nan: bool, sqrt: bool = False
) -> Callable:
    """A mean (``second=False``) or variance reduction merging per-block
    moments; ``sqrt`` gives the standard deviation, ``nan`` skips NaNs.

    >>> import shoal.array as sa
    >>> float(moment_reduction("var", np.var, True, False)(sa.arange(4.0, chunks=3)))
    1.25
    """

    def reduce(
        x: Any,
        axis: Any = None,
        dtype: Any = None,
        keepdims: bool = False,
        ddof: int = 0,
        split_every: Any = None,
    ) -> Array:
        x = asarray(x)
        probe_kw = {"dtype": dtype} if dtype is not None else {}
        if second:
            probe_kw["ddof"] = 0
        out_dtype = probe_dtype(np_func, x, **probe_kw)
        kwargs: dict = {"dtype": out_dtype, "nan": nan}
        if is_masked(x.meta):
            kwargs["masked"] = True  # rows with no unmasked value come out masked, as np.ma's
        if second:
            kwargs.update(ddof=ddof)
        aggregate = functools.partial(_var_aggregate, sqrt=sqrt) if second else _mean_aggregate
        acc = probe_dtype(np.mean, x, **({"dtype": dtype} if dtype is not None else {}))
        chunk = functools.partial(_moment_chunk, second=second, acc=acc)
        return reduction(
            x,
            chunk,
            _moment_combine,
            aggregate,
            axis=axis,
            keepdims=keepdims,
            dtype=out_dtype,
            split_every=split_every,
            name=name,
            kwargs=kwargs,
            stream=True,
        )

    reduce.__name__ = name
    reduce.__qualname__ = name
    reduce.__doc__ = (
        f"``numpy.{name}`` with a numerically stable merge of per-block moments.\n\n"
        f"    >>> import shoal.array as sa\n"
        f"    >>> round(float(sa.{name}(sa.arange(10, chunks=3))), 6) == "
        f"round(float(np.{name}(np.arange(10))), 6)\n    True\n"
    )
    return reduce


# The reductions under their NumPy names. They are bound as module names in
# numpy_reductions.py, not here: sum, min, max, any and all would shadow the
# builtins this module uses.
NUMPY_NAMED: dict[str, Callable] = {
    "sum": simple_reduction(np.sum, "sum"),
    "prod": simple_reduction(np.prod, "prod"),
    "min": simple_reduction(np.min, "min", empty_ok=False),
    "max": simple_reduction(np.max, "max", empty_ok=False),
    "any": simple_reduction(np.any, "any"),
    "all": simple_reduction(np.all, "all"),
    "nansum": simple_reduction(np.nansum, "nansum"),
    "nanprod": simple_reduction(np.nanprod, "nanprod"),
    "nanmin": simple_reduction(np.nanmin, "nanmin", empty_ok=False),
    "nanmax": simple_reduction(np.nanmax, "nanmax", empty_ok=False),
    "mean": moment_reduction("mean", np.mean, second=False, nan=False),
    "nanmean": moment_reduction("nanmean", np.nanmean, second=False, nan=True),
    "var": moment_reduction("var", np.var, second=True, nan=False),
    "nanvar": moment_reduction("nanvar", np.nanvar, second=True, nan=True),
    "std": moment_reduction("std", np.std, second=True, nan=False, sqrt=True),
    "nanstd": moment_reduction("nanstd", np.nanstd, second=True, nan=True, sqrt=True),
}


def ptp(x: Any, axis: Any = None, keepdims: bool = False) -> Array:
    """Range of values (max - min) along ``axis``.

    >>> import shoal.array as sa
    >>> int(ptp(sa.asarray([4, 9, 1], chunks=2)))
    8
    """
    highest = NUMPY_NAMED["max"](x, axis=axis, keepdims=keepdims)
    return highest - NUMPY_NAMED["min"](x, axis=axis, keepdims=keepdims)


def average(
    a: Any, axis: Any = None, weights: Any = None, returned: bool = False, keepdims: bool = False
) -> Any:
    """Weighted mean along ``axis`` (``weights`` broadcast against ``a``).

    >>> import shoal.array as sa
    >>> float(average(sa.asarray([1.0, 3.0]), weights=[3, 1]))
    1.5
    """
    a = asarray(a)
    if weights is None:
        avg = NUMPY_NAMED["mean"](a, axis=axis, keepdims=keepdims)
        if returned:
            n = (
                max(a.size, 1)
                if axis is None
                else math.prod(a.shape[ax] for ax in normalize_axis(axis, a.ndim))
            )
            return avg, n * 1.0
        return avg
    w = asarray(weights)
    if w.ndim == 1 and a.ndim > 1:
        if axis is None or not isinstance(axis, (int, np.integer)):
            raise TypeError("1-D weights need an int axis for multi-dimensional input")
        if w.shape[0] != a.shape[axis]:
            raise ValueError(
                f"weights of length {w.shape[0]} do not match axis {axis} of length {a.shape[axis]}"
            )
        w = w.reshape(tuple(-1 if d == axis % a.ndim else 1 for d in range(a.ndim)))
    weighted_sum = NUMPY_NAMED["sum"]
    total = weighted_sum(w * np.ones((), dtype=a.dtype) + 0 * a, axis=axis, keepdims=keepdims)
    avg = weighted_sum(a * w, axis=axis, keepdims=keepdims) / total
    return (avg, total) if returned else avg
