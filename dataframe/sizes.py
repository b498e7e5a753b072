"""Size estimates of a plan's output before it runs, for choosing a join
algorithm (broadcast the small side) and a shuffle method (disk when the
data may not fit in memory).

The estimate follows a chain of per-partition nodes down to its source:
in-memory partitions report their memory use, parquet reads the
uncompressed bytes of the columns they read (from the footers). A
projection scales the estimate by the share of columns kept; filters and
other per-partition work keep it (an upper bound). Anything else (a join,
a reduction) is unknown: None.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shoal.dataframe.expr import Assign, Blockwise, Filter, FrameExpr, FromPandas, Projection

__all__ = ["estimate_bytes"]


def _source_bytes(node: FrameExpr) -> int | None:
    if isinstance(node, FromPandas):
        return int(sum(_memory(p) for p in node.parts))
    if type(node).__name__ == "ReadParquet":  # by name: parquet imports this module
        read: Any = node
        footers = dict(zip(read.dataset.files, read.dataset.footers))
        return sum(
            read._row_group_bytes(footers[path], rg)
            for pieces in read._plan
            for path, groups, _ in pieces
            for rg in groups
        )
    return None


def _memory(part: Any) -> int:
    usage = part.memory_usage(deep=True)
    return int(usage.sum()) if isinstance(usage, pd.Series) else int(usage)


def _width(node: FrameExpr) -> int:
    meta = node._meta
    return len(meta.columns) if isinstance(meta, pd.DataFrame) else 1


def estimate_bytes(expr: FrameExpr) -> int | None:
    """Estimated bytes of ``expr``'s output, or None when unknown (module
    docstring).

    >>> df = pd.DataFrame({"a": range(1000), "b": range(1000)})
    >>> estimate_bytes(FromPandas.of(df, 1)) == int(df.memory_usage(deep=True).sum())
    True
    >>> estimate_bytes(Projection(FromPandas.of(df, 2), ["a"])) < estimate_bytes(FromPandas.of(df, 2))
    True
    """
    scale = 1.0
    node = expr
    while True:
        size = _source_bytes(node)
        if size is not None:
            return int(size * scale)
        if isinstance(node, Projection):
            scale *= _width(node) / max(_width(node.frame), 1)
            node = node.frame
        elif isinstance(node, (Filter, Assign)):
            node = node.frame
        elif isinstance(node, Blockwise) and len(node.frame_dependencies()) == 1:
            node = node.frame_dependencies()[0]
        else:
            return None
