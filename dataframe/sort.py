"""Sorting across partitions: ``set_index``, ``sort_values``, ``reset_index``.

``set_index(col)`` needs the new divisions before the plan exists, so it
reads the data once for them (one pass: each partition keeps its count, its
extremes and evenly spaced values of its sorted keys; the weighted samples
give approximate quantiles), then range-shuffles rows to partitions by
those boundaries (``shuffle.range_targets``) and sorts each by index.
Missing keys go to the last partition. A key repeated so often that it
fills several quantiles keeps all its rows in one partition: divisions are
unique boundaries, so there are then fewer partitions. ``sorted=True`` skips
the shuffle: each partition's index is set in place and the divisions come
from each partition's minimum and maximum; equal keys at the end of one
partition and the start of the next are moved so partitions do not overlap
(unsorted partitions are an error).

``sort_values(by)`` also samples first (one pass), but its boundaries are
*rows*: the sort keys plus the row's partition and position. Every row has
a distinct such composite key, ordered exactly as a stable sort orders the
rows, so a key that fills most of the data is split by position across as
many partitions as it needs, and the result is stable: rows with equal keys
keep their input order, within and across partitions. Output partitions are
sorted within and across; divisions are unknown (the index is not the
key). A frame of at most ``_WHOLE_CELLS`` cells (a groupby's result, a
filtered join: what queries sort before ``head``) comes back whole from the
sample pass and is sorted there, so it is not computed a second time.

``reset_index`` numbers rows 0..n-1 across partitions, as pandas does:
partition ``i`` starts where partition ``i - 1`` ended (a chain of small
tasks adding up lengths), so it waits for the partitions before it, never
for the whole frame.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Ref, Task
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import FrameExpr, FromPandas, map_partitions_expr
from shoal.dataframe.meta import has_known_categories
from shoal.dataframe.reductions import reduction
from shoal.dataframe.shuffle import (
    Shuffle,
    check_shuffle_method,
    max_branch_of,
    range_targets,
)

__all__ = [
    "set_index",
    "sort_values",
    "reset_index",
    "WithDivisions",
    "ResetIndex",
    "divisions_from_samples",
    "sort_targets",
]

_SAMPLES_PER_OUTPUT = 128
# a frame to sort of at most this many cells comes back whole from the sample pass
_WHOLE_CELLS = 1_000_000
_PART = "__shoal_part__"
_POS = "__shoal_pos__"
_MARK = "__shoal_mark__"


class WithDivisions(FrameExpr):
    """``frame`` with divisions declared (known from a computation).

    >>> from shoal.dataframe.expr import FromPandas
    >>> WithDivisions(FromPandas.of(pd.DataFrame({"a": [1]}), 1), (0, 0)).divisions
    (0, 0)
    """

    frame: FrameExpr
    divisions_: tuple

    fusable: ClassVar[bool] = True

    @functools.cached_property
    def _meta(self) -> Any:
        return self.frame._meta

    @functools.cached_property
    def divisions(self) -> tuple:
        return tuple(self.divisions_)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        return b.input(self, self.frame, index)

    def _needed_columns(self, needed):
        return [(self.frame, needed)]


def _check_sortable(meta: Any, columns: list, what: str) -> None:
    for c in columns:
        dtype = meta[c].dtype if c is not None else meta.index.dtype
        if isinstance(dtype, pd.CategoricalDtype) and not has_known_categories(dtype):
            raise NotImplementedError(
                f"{what} on categorical column {c!r} with unknown categories: partitions "
                f"would order the categories differently; call df[{c!r}] = "
                f"df[{c!r}].cat.as_known() first"
            )


# ------------------------------------------------------------- set_index


def index_sample(part: Any, col: Any, size: int) -> list:
    """``[(rows, evenly spaced sorted non-missing keys, min, max)]`` of one
    partition (a list, so samples concatenate)."""
    values = (part.index if col is None else part[col]).dropna()
    n = len(values)
    if not n:
        return []
    ordered = (
        np.sort(np.asarray(values))
        if values.dtype.kind in "iufbmM"
        else values.sort_values().to_numpy()
    )
    if n > size:
        ordered = ordered[np.linspace(0, n - 1, size).round().astype(int)]
    return [(n, ordered, ordered[0], ordered[-1])]


def concat_samples(parts: list, **kw) -> list:
    return [s for part in parts for s in part]


def divisions_from_samples(samples: list, k: int, dtype: Any) -> tuple | None:
    """``k + 1`` divisions from the weighted samples: the exact extremes
    and ``k - 1`` approximate quantiles, repeated ones dropped; None when
    there are no keys.

    >>> divisions_from_samples([(4, np.array([1, 2, 3, 4]), 1, 4)], 2, np.dtype("int64"))
    (1, 3, 4)
    """
    if not samples:
        return None
    values = np.concatenate([s[1] for s in samples])
    weights = np.concatenate([np.full(len(s[1]), s[0] / len(s[1])) for s in samples])
    order = pd.Series(values).sort_values(kind="stable").index.to_numpy()
    values, weights = values[order], weights[order]
    cum = np.cumsum(weights)
    targets = cum[-1] * np.arange(1, k) / k
    inner = values[np.minimum(np.searchsorted(cum, targets, side="right"), len(values) - 1)]
    lo = min(s[2] for s in samples)
    hi = max(s[3] for s in samples)
    bounds = pd.Index([lo, *inner, hi]).astype(dtype)
    return tuple(bounds.unique())


def _set_index_part(part: Any, col: Any, drop: bool) -> Any:
    return part.set_index(col, drop=drop).sort_index(kind="stable")


def _extremes(part: Any, col: str) -> pd.DataFrame:
    values = part[col].dropna()
    if not len(values):
        return pd.DataFrame({"lo": [None], "hi": [None], "n": [0]}, dtype=object)
    return pd.DataFrame(
        {"lo": [values.min()], "hi": [values.max()], "n": [len(values)]}, dtype=object
    )


def set_index(
    frame: Any,
    col: Any,
    drop: bool = True,
    sorted: bool = False,
    divisions: Any = None,
    npartitions: int | None = None,
    shuffle_method: str | None = None,
    max_branch: int | None = None,
):
    """``frame`` indexed by column ``col``, sorted, with known divisions
    (module docstring).

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"k": [5, 1, 4, 2, 3], "v": range(5)}), npartitions=2)
    >>> out = set_index(df, "k", npartitions=2)
    >>> out.divisions, out.compute().v.tolist()
    ((1, 3, 5), [1, 3, 4, 2, 0])
    """
    from shoal.dataframe.collection import new_collection
    from shoal.dataframe.repartition import RepartitionDivisions

    if not isinstance(col, str) and not (np.isscalar(col) and col is not None):
        raise TypeError(f"set_index takes a column name, got {type(col).__name__}")
    frame._check_columns([col], "set_index")
    _check_sortable(frame._meta, [col], "set_index")
    check_shuffle_method(shuffle_method)
    if npartitions is not None and (not isinstance(npartitions, int) or npartitions < 1):
        raise ValueError(f"set_index: npartitions must be a positive integer, got {npartitions!r}")
    indexed = map_partitions_expr(_set_index_part, frame.expr, col, drop, label="set-index")
    if sorted:
        stats = new_collection(
            map_partitions_expr(
                _extremes,
                frame.expr,
                col,
                label="extremes",
                meta=pd.DataFrame({"lo": [], "hi": [], "n": []}, dtype=object),
            )
        ).compute()
        live = stats[stats.n > 0]
        if not len(live):
            return new_collection(indexed)
        los, his = live.lo.tolist(), live.hi.tolist()
        for i in range(len(los) - 1):
            if his[i] > los[i + 1]:
                raise ValueError(
                    f"set_index(sorted=True): column {col!r} is not sorted across partitions "
                    f"(a partition ends at {his[i]!r}, the next non-empty one starts at "
                    f"{los[i + 1]!r}); call set_index without sorted=True"
                )
        # an empty partition starts where the next non-empty one does
        starts, start = [], his[-1]
        for n, lo in zip(stats.n.tolist()[::-1], stats.lo.tolist()[::-1]):
            start = lo if n else start
            starts.append(start)
        dtype = frame._meta[col].dtype
        declared = tuple(pd.Index(starts[::-1] + [his[-1]]).astype(dtype))
        unique = tuple(pd.Index(declared).unique())
        expr: FrameExpr = WithDivisions(indexed, declared)
        straddle = any(his[i] == los[i + 1] for i in range(len(los) - 1))
        if straddle or unique != declared:  # move equal keys to one partition
            expr = RepartitionDivisions(expr, unique if len(unique) > 1 else (unique[0],) * 2)
        return new_collection(expr)
    k = frame.npartitions if npartitions is None else npartitions
    if divisions is None:
        size = max(64, math.ceil(_SAMPLES_PER_OUTPUT * k / max(frame.npartitions, 1)))
        sampled = reduction(
            frame.expr,
            index_sample,
            concat_samples,
            concat_samples,
            None,
            "set-index-sample",
            chunk_kwargs={"col": col, "size": size},
        )
        samples = new_collection(sampled).compute()
        divisions = divisions_from_samples(samples, k, frame._meta[col].dtype)
    else:
        divisions = tuple(divisions)
        if len(divisions) < 2 or list(divisions) != list(pd.Index(divisions).sort_values()):
            raise ValueError(f"set_index: divisions must be sorted, at least two, got {divisions}")
    if divisions is None:  # no keys at all: one partition
        moved = Shuffle(
            frame.expr,
            range_targets,
            {"on": col, "bounds": []},
            1,
            (col,),
            shuffle_method,
            max_branch,
        )
        return new_collection(
            map_partitions_expr(_set_index_part, moved, col, drop, label="set-index")
        )
    if max_branch is not None:
        max_branch_of(max_branch)
    k = max(len(divisions) - 1, 1)
    if len(divisions) == 1:
        divisions = (divisions[0], divisions[0])
    moved = Shuffle(
        frame.expr,
        range_targets,
        {"on": col, "bounds": list(divisions[1:-1])},
        k,
        (col,),
        shuffle_method,
        max_branch,
    )
    out = map_partitions_expr(_set_index_part, moved, col, drop, label="set-index")
    return new_collection(WithDivisions(out, tuple(divisions)))


# ---------------------------------------------------------- sort_values


def _sorted(frame: pd.DataFrame, by: list, ascending: list, na_position: str) -> pd.DataFrame:
    return frame.sort_values(by, ascending=ascending, na_position=na_position, kind="stable")


def row_sample(
    part: Any, i: int, by: list, ascending: list, na_position: str, size: int, whole_cells: int
) -> list:
    """Evenly spaced rows of the sorted partition ``i`` as composite keys
    (``by``, partition, position), with the rows each stands for, and the
    partition itself when it has at most ``whole_cells`` cells."""
    n = len(part)
    if not n:
        return []
    keys = part[by].reset_index(drop=True).assign(**{_PART: i, _POS: np.arange(n)})
    keys = _sorted(keys, by, ascending, na_position)
    if n > size:
        keys = keys.iloc[np.linspace(0, n - 1, size).round().astype(int)]
    whole = part if n * max(len(part.columns), 1) <= whole_cells else None
    return [(n, keys.reset_index(drop=True), i, whole)]


def concat_row_samples(parts: list, **kw) -> list:
    """The samples of several partitions; their wholes only while all of them
    came whole (one missing means the frame is not small: drop them early)."""
    samples = [s for part in parts for s in part]
    if any(whole is None for *_, whole in samples):
        samples = [(n, keys, i, None) for n, keys, i, _ in samples]
    return samples


def _sorted_whole(samples: list, meta: Any, **opts: Any) -> pd.DataFrame | None:
    """The whole frame sorted, when the sample pass brought every partition
    back (a small frame: sorting it here saves computing it again); None
    otherwise, or when the pieces do not concatenate to ``meta``'s dtypes."""
    if any(whole is None for *_, whole in samples):
        return None
    pieces = [whole for *_, whole in sorted(samples, key=lambda s: s[2])]
    frame = concat_frames(pieces) if pieces else meta
    if not frame.dtypes.equals(meta.dtypes):
        return None
    return _sorted(frame, **opts)


def _with_number(pair: list, chunk: Any, **kw) -> list:
    return chunk(*pair, **kw)


def sort_bounds(samples: list, k: int, by: list, ascending: list, na_position: str) -> pd.DataFrame:
    """``k - 1`` composite boundary rows splitting the weighted samples evenly."""
    if not samples or k < 2:
        return None
    frames = [keys.assign(**{_MARK: n / len(keys)}) for n, keys, *_ in samples]
    both = _sorted(
        pd.concat(frames, ignore_index=True),
        by + [_PART, _POS],
        ascending + [True, True],
        na_position,
    )
    cum = both[_MARK].cumsum().to_numpy()
    targets = cum[-1] * np.arange(1, k) / k
    positions = np.unique(np.minimum(np.searchsorted(cum, targets, side="right"), len(both) - 1))
    return both.drop(columns=_MARK).iloc[positions].reset_index(drop=True)


def sort_targets(
    part: Any, i: int, by: list, ascending: list, na_position: str, bounds: Any
) -> np.ndarray:
    """How many boundary rows come before each row in the composite order
    (rows equal to a boundary, i.e. the boundary row itself, go above it).

    >>> b = pd.DataFrame({"x": [2], _PART: [0], _POS: [1]})
    >>> sort_targets(pd.DataFrame({"x": [2, 2, 1]}), 0, ["x"], [True], "last", b).tolist()
    [0, 1, 0]
    """
    n = len(part)
    if bounds is None or not n:
        return np.zeros(n, dtype=np.intp)
    keys = part[by].reset_index(drop=True).assign(**{_PART: i, _POS: np.arange(n), _MARK: 1})
    marked = pd.concat([bounds.assign(**{_MARK: 0}), keys], ignore_index=True)
    order = _sorted(
        marked, by + [_PART, _POS, _MARK], ascending + [True, True, True], na_position
    ).index.to_numpy()
    passed = np.cumsum(order < len(bounds))
    bucket = np.empty(len(marked), dtype=np.intp)
    bucket[order] = passed
    return bucket[len(bounds) :]


def sort_values(
    frame: Any,
    by: Any,
    ascending: Any = True,
    na_position: str = "last",
    npartitions: int | None = None,
    shuffle_method: str | None = None,
    max_branch: int | None = None,
    sort_function: Callable | None = None,
    sort_function_kwargs: dict | None = None,
):
    """``frame`` sorted by columns ``by``, stably (module docstring).
    ``sort_function(partition, by=, ascending=, na_position=,
    **sort_function_kwargs)`` replaces pandas' sort for each output
    partition's final sort (the ranges still come from ``by``).

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"k": [3, 1, 2, 1], "v": range(4)}), npartitions=2)
    >>> sort_values(df, "k").compute().v.tolist()
    [1, 3, 2, 0]
    """
    from shoal.dataframe.collection import new_collection

    if sort_function is not None and not callable(sort_function):
        raise TypeError(f"sort_values: sort_function must be callable, got {sort_function!r}")
    if sort_function_kwargs is not None and not isinstance(sort_function_kwargs, dict):
        raise TypeError(
            f"sort_values: sort_function_kwargs must be a dict, got {sort_function_kwargs!r}"
        )
    final = {"by": by, "ascending": ascending, "na_position": na_position}
    final.update(sort_function_kwargs or {})
    by = list(by) if isinstance(by, (list, tuple)) else [by]
    if not by:
        raise ValueError("sort_values: by= needs at least one column")
    frame._check_columns(by, "sort_values")
    if isinstance(ascending, (list, tuple)):
        if len(ascending) != len(by) or not all(isinstance(a, (bool, np.bool_)) for a in ascending):
            raise ValueError(
                f"sort_values: ascending must be a bool or {len(by)} bools (one per column), "
                f"got {ascending!r}"
            )
        ascending = [bool(a) for a in ascending]
    elif isinstance(ascending, (bool, np.bool_)):
        ascending = [bool(ascending)] * len(by)
    else:
        raise ValueError(
            f"sort_values: ascending must be a bool or a list of bools, got {ascending!r}"
        )
    if na_position not in ("first", "last"):
        raise ValueError(f"sort_values: na_position must be 'first' or 'last', got {na_position!r}")
    _check_sortable(frame._meta, by, "sort_values")
    check_shuffle_method(shuffle_method)
    if max_branch is not None:
        max_branch_of(max_branch)
    k = frame.npartitions if npartitions is None else npartitions
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"sort_values: npartitions must be a positive integer, got {k!r}")
    opts = {"by": by, "ascending": ascending, "na_position": na_position}
    bounds = None
    if k > 1:
        size = max(64, math.ceil(_SAMPLES_PER_OUTPUT * k / max(frame.npartitions, 1)))
        numbered = _numbered(frame.expr)
        sampled = reduction(
            numbered,
            _with_number,
            concat_row_samples,
            concat_row_samples,
            None,
            "sort-sample",
            chunk_kwargs={
                "chunk": row_sample,
                **opts,
                "size": size,
                "whole_cells": _WHOLE_CELLS // max(frame.npartitions, 1),
            },
        )
        samples = new_collection(sampled).compute()
        whole = _sorted_whole(samples, frame._meta, **opts)
        if whole is not None and sort_function is not None:
            whole = sort_function(whole, **final)
        if whole is not None:
            return new_collection(FromPandas.of(whole, k))
        bounds = sort_bounds(samples, k, **opts)
        k = 1 if bounds is None else len(bounds) + 1
    moved = Shuffle(
        frame.expr,
        sort_targets,
        {**opts, "bounds": bounds},
        k,
        tuple(by),
        shuffle_method,
        max_branch,
    )
    if sort_function is not None:
        return new_collection(
            map_partitions_expr(
                _custom_sorted, moved, sort_function, final, label="sort-values", meta=frame._meta
            )
        )
    return new_collection(map_partitions_expr(_sorted, moved, label="sort-values", **opts))


def _custom_sorted(frame: pd.DataFrame, sort_function: Callable, kwargs: dict) -> pd.DataFrame:
    return sort_function(frame, **kwargs)


def _numbered(expr: FrameExpr) -> FrameExpr:
    """Each partition paired with its number: ``[part, i]``."""
    return NumberedPartitions(expr)


def _pair(part: Any, i: int) -> list:
    return [part, i]


class NumberedPartitions(FrameExpr):
    """``[partition, its number]`` per partition (for per-partition work
    that must know where it runs, such as sampling with positions)."""

    frame: FrameExpr

    fusable: ClassVar[bool] = True

    @functools.cached_property
    def _meta(self) -> Any:
        return None

    @property
    def is_scalar(self) -> bool:
        return False

    @functools.cached_property
    def divisions(self) -> tuple:
        return self.frame.divisions

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        return Task(_pair, b.input(self, self.frame, index), index[0])


# ---------------------------------------------------------- reset_index


def _length(part: Any) -> int:
    return len(part)


def _after(offset: int, length: int) -> int:
    return offset + length


def _reset_at(part: Any, offset: int, drop: bool) -> Any:
    out = part.reset_index(drop=drop)
    out.index = pd.RangeIndex(offset, offset + len(out))
    return out


class ResetIndex(FrameExpr):
    """``reset_index`` numbering rows across partitions (module docstring).

    >>> from shoal.core.local import get_sync
    >>> from shoal.dataframe.expr import FromPandas
    >>> e = ResetIndex(FromPandas.of(pd.Series([7, 8, 9]), 2), True)
    >>> get_sync(e.__shoal_graph__(), (e._name, 1)).index.tolist()
    [2]
    """

    frame: FrameExpr
    drop: bool

    @functools.cached_property
    def _meta(self) -> Any:
        return self.frame._meta.reset_index(drop=self.drop)

    @functools.cached_property
    def divisions(self) -> tuple:
        return (None,) * (self.frame.npartitions + 1)

    def _extra_layer(self, b: GraphBuilder) -> dict:
        # offset i = offset i-1 + length i-1: partition i waits for the ones
        # before it only, never for the whole frame
        lengths, offsets = self.stage_name("lengths"), self.stage_name("offsets")
        layer: dict = {(offsets, 0): 0}
        for i in range(1, self.frame.npartitions):
            layer[(lengths, i - 1)] = Task(_length, b.ref(self.frame, (i - 1,)))
            layer[(offsets, i)] = Task(_after, Ref((offsets, i - 1)), Ref((lengths, i - 1)))
        return layer

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        i = index[0]
        offset = Ref((self.stage_name("offsets"), i))
        return Task(_reset_at, b.ref(self.frame, (i,)), offset, self.drop)

    def _needed_columns(self, needed):
        return [(self.frame, None)]


def reset_index(frame: Any, drop: bool = False):
    """The index numbered 0..n-1 across partitions (the old one becomes a
    column unless ``drop``).

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2, 3]}, index=[7, 8, 9]), npartitions=2)
    >>> reset_index(df).compute()["index"].tolist()
    [7, 8, 9]
    """
    from shoal.dataframe.collection import new_collection

    return new_collection(ResetIndex(frame.expr, bool(drop)))
