"""Which plans hold disjoint, increasing ranges of a column per partition.

When partition ``i`` holds values of column ``c`` in ``[lo_i, hi_i]`` and
``hi_i < lo_{i+1}`` for every neighbour pair, no value of ``c`` appears in
two partitions: a groupby on ``c`` (or on keys led by ``c``) finds each group
whole in one partition and needs no combine step (``group_partitionwise.py``).

The bounds come from a parquet reader's row-group statistics
(``ReadParquet.column_bounds``) and are followed up the plan only through
nodes that provably keep them::

    GroupAggPartitionwise        groups of c: one partition each
      Filter / Assign(other)     rows dropped, other columns added: bounds hold
        Projection([.., c, ..])  columns chosen (or c as a Series): bounds hold
          Partitions(indices)    partitions chosen: their bounds
            ReadParquet          min/max of c per partition (no nulls)

and through the nodes whose partition ``i`` holds rows of one input's
partition ``i`` only: a broadcast or range join (``c`` from its driving
side, ``_JoinBase.rows_source``), a partitionwise groupby on keys led by
``c`` (``c`` becomes its index) and the ``reset_index`` that makes that
index a column again. Any other node (a map_partitions, a shuffle, a hash
join, an in-memory frame) makes the answer unknown: None. A tie (a value at
the max of one partition and the min of the next) is not disjoint; the
ranges of ``column_bounds`` may overlap (a range join's driving side,
``join_ranges.py``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shoal.dataframe.expr import Assign, Filter, FrameExpr, Partitions, Projection
from shoal.dataframe.parquet import ReadParquet

__all__ = ["column_bounds", "key_ranges", "range_divisions"]


def _source_bounds(expr: FrameExpr, column: str) -> list[tuple] | None:
    """Per-partition ``(min, max)`` of ``column`` in ``expr``, or None."""
    from shoal.dataframe.group_partitionwise import GroupAggPartitionwise
    from shoal.dataframe.merge import _JoinBase
    from shoal.dataframe.sort import ResetIndex

    selections: list[tuple] = []
    node, in_index = expr, False  # in_index: ``column`` names an index level here
    while True:
        if isinstance(node, ReadParquet):
            bounds = None if in_index else node.column_bounds(column)
            break
        if isinstance(node, Projection) and isinstance(node.columns_, list):
            if not in_index and column not in node.columns_:
                return None
        elif isinstance(node, Projection):  # one column as a Series: its values
            if in_index or node.columns_ != column:
                return None
        elif isinstance(node, Assign):
            if not in_index and column in node.pairs[::2]:
                return None
        elif isinstance(node, Partitions):
            selections.append(tuple(node.indices))
        elif isinstance(node, ResetIndex):
            inner = node.frame._meta
            if in_index or node.drop or not isinstance(inner, (pd.DataFrame, pd.Series)):
                return None
            own = inner.columns if isinstance(inner, pd.DataFrame) else [inner.name]
            if column not in own:
                if column not in inner.index.names:
                    return None
                in_index = True
        elif isinstance(node, GroupAggPartitionwise):
            by = node.chunk_kw["by"]
            first = by[0] if isinstance(by, (list, tuple)) else by
            if not in_index or node._meta.index.names[0] != column or first != column:
                return None
            in_index = False
        elif isinstance(node, _JoinBase):
            source = node.rows_source(column)
            if in_index or source is None:
                return None
            node = source
            continue
        elif not isinstance(node, Filter):
            return None
        node = node.frame
    if bounds is None:
        return None
    for indices in reversed(selections):
        bounds = [bounds[i] for i in indices]
    return bounds


def column_bounds(expr: FrameExpr, column: str) -> list[tuple] | None:
    """``[(min, max)]`` of ``column`` per partition of ``expr`` (the ranges
    may overlap), or None when unknown.

    >>> import shoal.dataframe as sd
    >>> pd.DataFrame({"k": [4, 2]}).to_parquet("memory://doc-cbs/a.parquet")
    >>> pd.DataFrame({"k": [3, 5]}).to_parquet("memory://doc-cbs/b.parquet")
    >>> column_bounds(sd.read_parquet("memory://doc-cbs/", blocksize=1).expr, "k")
    [(2, 4), (3, 5)]
    """
    return _source_bounds(expr, column)


def key_ranges(expr: FrameExpr, column: str) -> list[tuple] | None:
    """``[(min, max)]`` of ``column`` per partition of ``expr`` when these
    ranges are disjoint and increasing, else None.

    >>> import shoal.dataframe as sd
    >>> pd.DataFrame({"k": [1, 2]}).to_parquet("memory://doc-kr/a.parquet")
    >>> pd.DataFrame({"k": [3, 5]}).to_parquet("memory://doc-kr/b.parquet")
    >>> pd.DataFrame({"k": [5, 6]}).to_parquet("memory://doc-kr/c.parquet")
    >>> df = sd.read_parquet(["memory://doc-kr/a.parquet", "memory://doc-kr/b.parquet"], blocksize=1)
    >>> key_ranges(df[df.k > 1].expr, "k")
    [(1, 2), (3, 5)]
    >>> key_ranges(sd.read_parquet("memory://doc-kr/", blocksize=1).expr, "k") is None  # 5 twice
    True
    """
    bounds = _source_bounds(expr, column)
    if bounds is None:
        return None
    for (_, hi), (lo, _) in zip(bounds, bounds[1:]):
        if not hi < lo:
            return None
    return bounds


def range_divisions(bounds: list[tuple], dtype: Any) -> tuple | None:
    """Divisions of an index of ``dtype`` whose partitions lie in ``bounds``
    (disjoint, increasing): each partition's min, then the last max; None
    unless ``dtype`` is an integer or naive datetime dtype.

    >>> range_divisions([(1, 2), (4, 9)], pd.Series([1]).dtype)
    (1, 4, 9)
    """
    if not (pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_datetime64_dtype(dtype)):
        return None
    values = [lo for lo, _ in bounds] + [bounds[-1][1]]
    return tuple(pd.Index(values).astype(dtype))
