"""Size estimates of a plan's output before it runs: rows and bytes, for
choosing a join algorithm (broadcast the small side), the order of a chain
of inner joins (``join_order.py``) and a shuffle method (disk when the data
may not fit in memory).

Each node's ``Estimate`` comes from its inputs' (an iterative walk that
visits only the nodes an estimate needs, each once):

- in-memory partitions: their rows and memory use;
- ``read_parquet``: from the footers, per row group kept by the reader's
  plan: its rows and the uncompressed bytes of the columns read, times the
  share of rows its pushed filters keep, estimated from the row group's
  min/max and null counts (``parquet_filters.row_group_selectivity``: 0 when
  the statistics rule the row group out, the share of the [min, max] range
  for ranges, one value among ``max - min + 1`` integers for equality);
- a projection keeps its share of the columns' bytes (of a reader: those
  columns' own sizes in the footers); a filter that stayed
  a pandas filter keeps the share of rows it keeps on a sample of
  partitions while the join planner asks (``filter_sample.py``), else all
  (an upper bound), as other per-partition work does; shuffles and
  repartitions keep both;
- a join: each row of the side with more source rows (the *many* side, e.g.
  a fact table) meets at most one row of the other (the *one* side, a
  dimension keyed by its primary key), so the result has the many side's
  rows times the share of its source rows the one side keeps after its
  filters. ``leftsemi`` keeps the left rows times that share of the right.
  Many-to-many joins are underestimated by this rule.

Anything else (a reduction, a source without statistics) is unknown: None.
``base`` is the rows of the largest source before any filter, which the
join rule needs to tell how selective the other side is.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pandas as pd

from shoal.dataframe.expr import (
    Assign,
    Blockwise,
    Filter,
    FrameExpr,
    FromPandas,
    MapPartitions,
    Partitions,
    Projection,
)
from shoal.dataframe.filter_sample import filter_share

__all__ = [
    "Estimate",
    "Estimator",
    "distinct_bound",
    "estimate",
    "estimate_bytes",
    "estimate_rows",
]

# nodes that move or regroup rows without changing them: the input's estimate
_PASS_THROUGH = frozenset(
    {
        "Shuffle",
        "TaskShuffle",
        "DiskShuffle",
        "Partitioned",
        "CombinePartitions",
        "SplitPartitions",
        "RepartitionDivisions",
    }
)


@dataclass(frozen=True)
class Estimate:
    """Estimated ``rows`` and ``bytes`` of a plan's output; ``base`` is the
    rows of its largest source before filters."""

    rows: float
    bytes: float
    base: float

    @property
    def share(self) -> float:
        """The share of its source rows this output keeps."""
        return min(1.0, self.rows / self.base) if self.base > 0 else 1.0


def _memory(part: Any) -> int:
    usage = part.memory_usage(deep=True)
    return int(usage.sum()) if isinstance(usage, pd.Series) else int(usage)


def _width(node: FrameExpr) -> int:
    meta = node._meta
    return len(meta.columns) if isinstance(meta, pd.DataFrame) else 1


def _parquet_estimate(read: Any, columns: list | None = None) -> Estimate:
    """The estimate of ``read`` (of only ``columns`` of it, when given)."""
    from shoal.dataframe.parquet_filters import row_group_selectivity

    ds = read.dataset
    footers = dict(zip(ds.files, ds.footers))
    wanted = set(read.columns_ if columns is None else columns) | set(read.index)
    rows = size = 0.0
    for pieces in read._plan:
        for path, groups, hive_values in pieces:
            footer = footers[path]
            for rg in groups:
                share = row_group_selectivity(read.filters, footer, rg, hive_values)
                if share == 0.0:
                    continue
                group = footer.row_group(rg)
                rows += group.num_rows * share
                size += share * sum(
                    group.column(j).total_uncompressed_size
                    for j in range(group.num_columns)
                    if group.column(j).path_in_schema.split(".")[0] in wanted
                )
    base = float(sum(f.num_rows for f in ds.footers))
    return Estimate(rows, size, base)


def _join_estimate(how: str, left: Estimate, right: Estimate) -> Estimate:
    if how in ("leftsemi", "leftanti"):
        rows = left.rows * right.share if how == "leftsemi" else left.rows
        return Estimate(rows, _scaled(left, rows), left.base)
    many, one = (left, right) if left.base >= right.base else (right, left)
    rows = many.rows * one.share
    if how == "left":
        rows = max(rows, left.rows)
    elif how == "right":
        rows = max(rows, right.rows)
    elif how == "outer":
        rows = max(rows, left.rows + right.rows)
    return Estimate(rows, _scaled(left, rows) + _scaled(right, rows), many.base)


def _scaled(e: Estimate, rows: float) -> float:
    return e.bytes * rows / e.rows if e.rows > 0 else 0.0


def join_estimate(how: str, left: Estimate | None, right: Estimate | None) -> Estimate | None:
    """The estimate of a join of two estimated sides (module docstring).

    >>> fact, dim = Estimate(1000, 8000, 1000), Estimate(10, 80, 100)
    >>> join_estimate("inner", fact, dim).rows
    100.0
    """
    if left is None or right is None:
        return None
    return _join_estimate(how, left, right)


@functools.cache
def _join_types() -> tuple:
    from shoal.dataframe.merge import _JoinBase

    return (_JoinBase,)


def _inputs(node: FrameExpr) -> list | None:
    """The inputs whose estimates ``node``'s needs; None when it has no rule."""
    name = type(node).__name__
    if isinstance(node, FromPandas) or name == "ReadParquet":
        return []
    if isinstance(node, (Projection, Filter, Assign, Partitions)) or name in _PASS_THROUGH:
        moved: Any = node  # each of these has a ``frame`` field
        return [moved.frame]
    if isinstance(node, _join_types()):
        return [node.left, node.right]
    if isinstance(node, Blockwise) and not node.is_scalar:
        frames = [f for f in node.frame_dependencies() if not f.is_scalar]
        if len(frames) == 1:
            return frames
    return None


def _rule(node: FrameExpr, children: list, inputs: list) -> Estimate | None:
    if isinstance(node, FromPandas):
        rows = float(sum(len(p) for p in node.parts))
        return Estimate(rows, float(sum(_memory(p) for p in node.parts)), rows)
    if type(node).__name__ == "ReadParquet":
        return _parquet_estimate(node)
    if any(e is None for e in inputs):
        return None
    if isinstance(node, _join_types()):
        return _join_estimate(node.how, inputs[0], inputs[1])
    (child,), (frame,) = inputs, children
    if (
        isinstance(node, Projection)
        and type(frame).__name__ == "ReadParquet"
        and isinstance(node.columns_, (list, str))
    ):  # the columns' own sizes from the footers, not a share of the count
        columns = node.columns_ if isinstance(node.columns_, list) else [node.columns_]
        return _parquet_estimate(frame, columns)
    if isinstance(node, Partitions):
        share = len(node.indices) / max(frame.npartitions, 1)
        return Estimate(child.rows * share, child.bytes * share, child.base)
    if isinstance(node, Assign):
        added = len(set(node.pairs[::2]) - set(frame.columns))
        return Estimate(child.rows, child.bytes + 8.0 * added * child.rows, child.base)
    if isinstance(node, Filter):
        share = filter_share(node.predicate, child.rows)
        if share is None:
            share = isin_share(node.predicate)
        if share is None:
            return child
        return Estimate(child.rows * share, child.bytes * share, child.base)
    if type(node).__name__ in _PASS_THROUGH:
        return child
    return Estimate(child.rows, child.bytes * _width(node) / max(_width(frame), 1), child.base)


def distinct_bound(expr: FrameExpr, column: str) -> float | None:
    """At most how many distinct values ``column`` of ``expr`` holds: ``max
    - min + 1`` of the integer parquet column it comes from (through
    projections, filters and joins, which never add values) over every row
    group's statistics; None when unknown.

    >>> distinct_bound(FromPandas.of(pd.DataFrame({"a": [1]}), 1), "a") is None
    True
    """
    node: Any = expr
    while True:
        if isinstance(node, (Projection, Filter)):
            node = node.frame
        elif isinstance(node, _join_types()):
            sides = [s for s in (node.left, node.right) if column in s.columns]
            if len(sides) != 1:
                return None
            node = sides[0]
        else:
            break
    if type(node).__name__ != "ReadParquet":
        return None
    lo = hi = None
    for footer in node.dataset.footers:
        names = footer.schema.names
        if column not in names:
            return None
        j = names.index(column)
        for rg in range(footer.num_row_groups):
            st = footer.row_group(rg).column(j).statistics
            if st is None or not st.has_min_max or type(st.min) is not int:
                return None
            lo = st.min if lo is None else min(lo, st.min)
            hi = st.max if hi is None else max(hi, st.max)
    return None if lo is None or hi is None else float(hi - lo + 1)


def _isin_sides(term: Any) -> tuple | None:
    """``(series, other)`` of a ``series.isin(other)`` term on a lazy
    ``other`` (``membership.py``), else None."""
    if type(term).__name__ == "IsinRanges":
        return term.series, term.other
    if isinstance(term, MapPartitions) and getattr(term.func, "__name__", "") == "isin_partition":
        series, values = term.args[:2]
        chunk = getattr(values, "parts", None)  # the tree gathering other's distinct values
        if chunk is not None and getattr(chunk, "args", None):
            return series, chunk.args[0]
    return None


def isin_share(predicate: FrameExpr) -> float | None:
    """The share of rows ``series.isin(other)`` keeps (each ``&`` term's,
    multiplied): the estimated rows of ``other`` over how many distinct
    values the tested column can hold (``distinct_bound``); None when no
    term is such a test or a share is unknown.

    >>> isin_share(Projection(FromPandas.of(pd.DataFrame({"a": [1]}), 1), "a")) is None
    True
    """
    import operator

    terms, shares = [predicate], []
    while terms:
        term = terms.pop()
        if isinstance(term, MapPartitions) and term.func is operator.and_:
            terms.extend(a for a in term.args if isinstance(a, FrameExpr))
            continue
        sides = _isin_sides(term)
        if sides is None:
            return None
        series, other = sides
        column = series._meta.name
        inner = getattr(series, "frame", None)
        bound = None if inner is None else distinct_bound(inner, column)
        found = estimate(other)
        if bound is None or found is None:
            return None
        shares.append(min(1.0, found.rows / max(bound, 1.0)))
    share = 1.0
    for s in shares:
        share *= s
    return share


class Estimator:
    """Estimates of many nodes of one plan, each computed once (memoized by
    name), walking only the inputs a rule needs, iteratively.

    >>> df = pd.DataFrame({"a": range(10), "b": range(10)})
    >>> est = Estimator()
    >>> est(Projection(FromPandas.of(df, 2), ["a"])).rows
    10.0
    """

    def __init__(self) -> None:
        self.memo: dict[str, Estimate | None] = {}

    def __call__(self, expr: FrameExpr) -> Estimate | None:
        memo = self.memo
        stack = [expr]
        while stack:
            node = stack[-1]
            if node._name in memo:
                stack.pop()
                continue
            inputs = _inputs(node)
            if inputs is None:
                memo[node._name] = None
                stack.pop()
                continue
            todo = [c for c in inputs if c._name not in memo]
            if todo:
                stack.extend(todo)
                continue
            memo[node._name] = _rule(node, inputs, [memo[c._name] for c in inputs])
            stack.pop()
        return memo[expr._name]


def estimate(expr: FrameExpr) -> Estimate | None:
    """The estimated output of ``expr`` (module docstring), or None.

    >>> df = pd.DataFrame({"a": range(1000)})
    >>> estimate(FromPandas.of(df, 4)).rows
    1000.0
    """
    return Estimator()(expr)


def estimate_rows(expr: FrameExpr) -> float | None:
    """Estimated rows of ``expr``'s output, or None when unknown.

    >>> estimate_rows(FromPandas.of(pd.DataFrame({"a": range(7)}), 2))
    7.0
    """
    found = estimate(expr)
    return None if found is None else found.rows


def estimate_bytes(expr: FrameExpr) -> int | None:
    """Estimated bytes of ``expr``'s output, or None when unknown (module
    docstring).

    >>> df = pd.DataFrame({"a": range(1000), "b": range(1000)})
    >>> estimate_bytes(FromPandas.of(df, 1)) == int(df.memory_usage(deep=True).sum())
    True
    >>> estimate_bytes(Projection(FromPandas.of(df, 2), ["a"])) < estimate_bytes(FromPandas.of(df, 2))
    True
    """
    found = estimate(expr)
    return None if found is None else int(round(found.bytes))
