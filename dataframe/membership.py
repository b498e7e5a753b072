"""``Series.isin(other)`` where ``other`` is a lazy Series or Index: the
SQL ``IN (subquery)`` / ``EXISTS`` of a pandas user.

The distinct values of ``other`` are gathered by a tree reduction into one
``ValueSet`` (a unique ``pandas.Index``), which, being no frame, is
broadcast to every partition of the tested Series like any scalar. Each
partition looks its values up in that index: the index builds its hash
table once and every partition (thread) reuses it, so the cost per
partition is its own length, not the number of distinct values.

When both Series have known value ranges per partition, in order (parquet
files written in key order: ``orders.o_orderkey.isin(late.l_orderkey)``),
nothing is gathered: partition ``i`` looks its values up among those of the
one or two partitions of ``other`` whose ranges meet its own
(``IsinRanges``, planned as a ``RangeJoin`` is, ``join_ranges.py``).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Task
from shoal.dataframe import reductions as red
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import FrameExpr, map_partitions_expr, partition_input
from shoal.dataframe.join_ranges import meeting_partitions

__all__ = ["ValueSet", "IsinRanges", "isin_expr", "isin_partition", "isin_among"]


class ValueSet:
    """Distinct values held as a unique ``pandas.Index`` (not a frame, so a
    plan broadcasts it to every partition).

    >>> ValueSet(pd.Index([3, 1])).index.tolist()
    [3, 1]
    """

    __slots__ = ("index",)

    def __init__(self, index: pd.Index):
        self.index = index

    def __repr__(self) -> str:
        return f"ValueSet({len(self.index)} values, dtype={self.index.dtype})"


def _chunk_distinct(part: pd.Series | pd.Index) -> pd.Series:
    values = part.to_series() if isinstance(part, pd.Index) else part
    return values.drop_duplicates().reset_index(drop=True)


def _combine_distinct(parts: list) -> pd.Series:
    return concat_frames(parts).drop_duplicates().reset_index(drop=True)


def _aggregate_value_set(parts: list) -> ValueSet:
    return ValueSet(pd.Index(_combine_distinct(parts)))


def isin_partition(part: pd.Series, values: ValueSet) -> pd.Series:
    """``part.isin(values)`` by a lookup in the shared unique index (missing
    values match missing values, as pandas' ``isin``).

    >>> isin_partition(pd.Series([1, 2, None]), ValueSet(pd.Index([2.0, None]))).tolist()
    [False, True, True]
    """
    index = values.index
    if len(index) == 0 or len(part) == 0:
        return pd.Series(False, index=part.index, name=part.name, dtype=bool)
    if _inexact(part, index):
        return part.isin(index)
    try:
        positions = index.get_indexer(part)
    except TypeError:  # values of kinds that never compare equal (text with numbers)
        return part.isin(index)
    return pd.Series(positions >= 0, index=part.index, name=part.name)


def _inexact(part: pd.Series, index: pd.Index) -> bool:
    """Whether integers meet floats and some integer is beyond 2**53, where
    a lookup among floats rounds it (pandas' ``isin`` compares exactly)."""
    dtypes = (part.dtype, index.dtype)
    if not all(isinstance(d, np.dtype) for d in dtypes):
        return False
    kinds = {d.kind for d in dtypes}
    if "f" not in kinds or not kinds & {"i", "u"}:
        return False
    ints = part if part.dtype.kind in "iu" else index
    return max(abs(int(ints.min())), abs(int(ints.max()))) > 2**53


def isin_expr(series: FrameExpr, other: FrameExpr, split_every: int | None = None) -> FrameExpr:
    """The plan of ``series.isin(other)`` for a lazy Series or Index ``other``.

    >>> from shoal.dataframe.expr import FromPandas
    >>> from shoal.core.local import get_sync
    >>> s = FromPandas.of(pd.Series([1, 2, 3, 4]), 2)
    >>> e = isin_expr(s, FromPandas.of(pd.Series([4, 2, 2]), 2))
    >>> from shoal.dataframe.collection import new_collection
    >>> new_collection(e).compute().tolist()
    [False, True, False, True]
    """
    if not isinstance(series._meta, pd.Series):
        raise TypeError(
            "isin with a lazy Series or Index as values tests a Series, not a "
            f"{type(series._meta).__name__}; test a column instead (reset_index() first)"
        )
    meeting = meeting_partitions(series, series._meta.name, other, other._meta.name)
    if meeting is not None:
        return IsinRanges(series, other, meeting)
    return _gathered(series, other, split_every)


def _gathered(series: FrameExpr, other: FrameExpr, split_every: int | None) -> FrameExpr:
    """``series.isin(other)`` with the distinct values of ``other`` gathered once."""
    other_meta = other._meta
    empty = pd.Index(other_meta if isinstance(other_meta, pd.Index) else other_meta.array)
    values = red.reduction(
        other,
        _chunk_distinct,
        _combine_distinct,
        _aggregate_value_set,
        ValueSet(empty),
        "isin-values",
        split_every,
    )
    meta: Any = pd.Series([], dtype=bool, name=series._meta.name, index=series._meta.index)
    return map_partitions_expr(isin_partition, series, values, label="isin", meta=meta)


def isin_among(part: pd.Series, others: list) -> pd.Series:
    """``part.isin`` the values of the partitions ``others`` (the ones whose
    ranges meet this partition's).

    >>> isin_among(pd.Series([1, 2, 5]), [pd.Series([2, 3]), pd.Series([5, 5])]).tolist()
    [False, True, True]
    """
    if not others:
        return pd.Series(False, index=part.index, name=part.name, dtype=bool)
    found = _isin_sorted(part, others)
    if found is not None:
        return pd.Series(found, index=part.index, name=part.name)
    values = concat_frames(others)
    index = pd.Index(values if isinstance(values, pd.Index) else values.array).unique()
    return isin_partition(part, ValueSet(index))


def _isin_sorted(part: pd.Series, others: list) -> np.ndarray | None:
    """``part.isin`` by binary search when every partition in ``others`` is
    a sorted NumPy array of ``part``'s dtype without missing values (files
    written in key order): no hash table of the others' values is built.
    ``None`` when that does not hold."""
    values = part.to_numpy() if isinstance(part.dtype, np.dtype) else None
    if values is None or values.dtype.kind not in "iufmM":
        return None
    found = np.zeros(len(values), dtype=bool)
    for other in others:
        sorted_ = other.to_numpy() if other.dtype == values.dtype else None
        if sorted_ is None or not _ascending(sorted_):
            return None
        if len(sorted_):
            at = np.searchsorted(sorted_, values).clip(max=len(sorted_) - 1)
            found |= sorted_[at] == values
    return found


def _ascending(values: np.ndarray) -> bool:
    """Sorted, without NaN or NaT (which compare false, so fail the test)."""
    return bool((values[1:] >= values[:-1]).all()) and not (
        len(values) == 1 and values.dtype.kind in "fmM" and np.isnan(values[0])
    )


class IsinRanges(FrameExpr):
    """``series.isin(other)`` partition by partition: partition ``i`` of
    ``series`` against the partitions ``meeting[i]`` of ``other`` (module
    docstring).

    >>> from shoal.dataframe.collection import new_collection
    >>> from shoal.dataframe.expr import FromPandas
    >>> s = FromPandas.of(pd.Series([1, 2, 3, 4], name="k"), 2)
    >>> o = FromPandas.of(pd.Series([2, 4], name="k"), 2)
    >>> new_collection(IsinRanges(s, o, ((0,), (1,)))).compute().tolist()
    [False, True, False, True]
    """

    series: FrameExpr
    other: FrameExpr
    meeting: tuple

    fusable: ClassVar[bool] = True

    @property
    def _prefix(self) -> str:
        return "isin-ranges"

    @functools.cached_property
    def _meta(self) -> Any:
        meta = self.series._meta
        return pd.Series([], dtype=bool, name=meta.name, index=meta.index)

    @functools.cached_property
    def divisions(self) -> tuple:
        return self.series.divisions

    def _one_to_one(self, child: BlockExpr) -> bool:
        return child is self.series and child is not self.other

    def _lower(self):
        # planned when built; the join planner may since have changed a join
        # below (another driving side, a repartition): plan again, or gather
        series, other = self.series, self.other
        meeting = meeting_partitions(series, series._meta.name, other, other._meta.name)
        if meeting == self.meeting:
            return None
        if meeting is None:
            return _gathered(series, other, None)
        return IsinRanges(series, other, meeting)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        i = index[0]
        others = [b.input(self, self.other, (j,)) for j in self.meeting[i]]
        return Task(isin_among, partition_input(self, self.series, i, b), others)
