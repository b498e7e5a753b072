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
        Projection([.., c, ..])  columns chosen: bounds hold
          Partitions(indices)    partitions chosen: their bounds
            ReadParquet          min/max of c per partition (no nulls)

Any other node (a map_partitions, a shuffle, a join, an in-memory frame)
makes the answer unknown: None. A tie (a value at the max of one partition
and the min of the next) is not disjoint.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shoal.dataframe.expr import Assign, Filter, FrameExpr, Partitions, Projection
from shoal.dataframe.parquet import ReadParquet

__all__ = ["key_ranges", "range_divisions"]


def _source_bounds(expr: FrameExpr, column: str) -> list[tuple] | None:
    """Per-partition ``(min, max)`` of ``column`` in ``expr``, or None."""
    selections: list[tuple] = []
    node = expr
    while True:
        if isinstance(node, ReadParquet):
            bounds = node.column_bounds(column)
            break
        if isinstance(node, Projection) and isinstance(node.columns_, list):
            if column not in node.columns_:
                return None
        elif isinstance(node, Assign):
            if column in node.pairs[::2]:
                return None
        elif isinstance(node, Partitions):
            selections.append(tuple(node.indices))
        elif not isinstance(node, Filter):
            return None
        node = node.frame
    if bounds is None:
        return None
    for indices in reversed(selections):
        bounds = [bounds[i] for i in indices]
    return bounds


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
