"""``Series.isin(other)`` where ``other`` is a lazy Series or Index: the
SQL ``IN (subquery)`` / ``EXISTS`` of a pandas user.

The distinct values of ``other`` are gathered by a tree reduction into one
``ValueSet`` (a unique ``pandas.Index``), which, being no frame, is
broadcast to every partition of the tested Series like any scalar. Each
partition looks its values up in that index: the index builds its hash
table once and every partition (thread) reuses it, so the cost per
partition is its own length, not the number of distinct values.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shoal.dataframe import reductions as red
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import FrameExpr, map_partitions_expr

__all__ = ["ValueSet", "isin_expr", "isin_partition"]


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
    try:
        positions = index.get_indexer(part)
    except TypeError:  # values of kinds that never compare equal (text with numbers)
        return part.isin(index)
    return pd.Series(positions >= 0, index=part.index, name=part.name)


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
