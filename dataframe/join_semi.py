"""Groups a join drops, never computed: a semi-join filter below a groupby
whose result is joined on its group keys.

TPC-H Q20 sums ``lineitem`` per ``(l_partkey, l_suppkey)`` (millions of
groups), then joins the sums with the few offers of some parts on those
keys: every group without an offer is computed, then dropped. When a join
drops the unmatched rows of a side that is a groupby's result (through
``reset_index``, projections and filters of the result), and its join keys
are group keys, the groupby's input is filtered first to the rows whose keys
occur on the other side::

    offers ⋈ lineitem.groupby([pk, sk]).sum()
    offers ⋈ lineitem[pk.isin(offers.pk) & sk.isin(offers.sk)].groupby([pk, sk]).sum()

The filter reads only group keys, so a group is kept or dropped whole and
every kept group aggregates the same rows; a group it keeps that the join
would drop (each key occurs, not the pair) is still dropped by the join.
Each test is ``Series.isin`` of a lazy Series (``membership.py``): the
other side's distinct keys gathered once, or looked up partition by
partition when both sides' key ranges are in order. It pays when the other
side is much smaller than the groupby's input, so it is done when, by the
size estimates (``sizes.py``), the other side has at most a quarter of the
input's rows and at most ``MAX_OTHER_ROWS`` rows (its distinct keys are
gathered), and only keys whose test keeps at most half of the values they
can take (the other side's rows over ``sizes.distinct_bound``). The planner (``join_order.plan_joins``) applies it before it
chooses each join's algorithm, which then sees the smaller side.
"""

from __future__ import annotations

from typing import Any

from shoal.core import config
from shoal.dataframe.expr import Filter, FrameExpr, Projection
from shoal.dataframe.group_partitionwise import GroupAggPartitionwise
from shoal.dataframe.groupby import groupby_chunk
from shoal.dataframe.join_filters import and_all
from shoal.dataframe.membership import isin_expr
from shoal.dataframe.merge import _BROADCASTABLE, Merge
from shoal.dataframe.reductions import Chunk, FrameReduce
from shoal.dataframe.sizes import Estimator, distinct_bound
from shoal.dataframe.sort import ResetIndex

__all__ = ["reduce_grouped_sides", "MAX_OTHER_ROWS"]

MAX_OTHER_ROWS = 2_000_000
MAX_KEPT_SHARE = 0.5  # a key whose test keeps more of the values (by the estimates) is not tested

config.update_defaults(
    {"dataframe": {"merge": {"semi-join-groups": True}}},
    {
        "dataframe.merge.semi-join-groups": "Filter a groupby's input to the keys of the other "
        "side of a join on its group keys, when that side is small (join_semi.py).",
    },
)


def _grouping(side: FrameExpr) -> tuple[Any, FrameExpr, list] | None:
    """``(groupby node, its input, its key columns)`` when ``side`` is a
    groupby's result with its keys as columns (``reset_index``, then
    projections and filters), else None."""
    node: Any = side
    while isinstance(node, (Projection, Filter)):
        node = node.frame
    if not isinstance(node, ResetIndex) or node.drop:
        return None
    node = node.frame
    if isinstance(node, GroupAggPartitionwise):
        by, frame = node.chunk_kw["by"], node.frame
    elif (
        isinstance(node, FrameReduce)
        and isinstance(node.parts, Chunk)
        and node.parts.func is groupby_chunk
        and node.split_out == 1
    ):
        by, frame = node.parts.kwargs["by"], node.parts.args[0]
    else:
        return None
    keys = [by] if isinstance(by, str) else by
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        return None
    return node, frame, keys


def _with_input(group: Any, frame: FrameExpr) -> Any:
    """The groupby node ``group`` computed from ``frame`` instead."""
    if isinstance(group, GroupAggPartitionwise):
        return group.replace_operands(frame=frame)
    chunk = group.parts
    return group.replace_operands(parts=chunk.replace_operands(args=(frame, *chunk.args[1:])))


def _reduced(side: FrameExpr, other: FrameExpr, pairs: list, estimator: Estimator):
    """``side`` with its groupby's input filtered to the keys of ``other``
    (module docstring); None when that does not apply or pay."""
    found = _grouping(side)
    if found is None:
        return None
    group, frame, keys = found
    tests = [
        (mine, theirs)
        for mine, theirs in pairs
        if mine in keys
        and mine in frame.columns
        and frame._meta[mine].dtype == other._meta[theirs].dtype
    ]
    if len(tests) != len(pairs):  # a join key that is no plain group key
        return None
    small, big = estimator(other), estimator(frame)
    if small is None or big is None:
        return None
    if small.rows > MAX_OTHER_ROWS or small.rows * 4 > big.rows:
        return None
    # a key the other side holds most values of filters little: not tested
    selective = [
        (mine, theirs)
        for mine, theirs in tests
        if (bound := distinct_bound(frame, mine)) is None or small.rows <= bound * MAX_KEPT_SHARE
    ]
    if not selective:
        return None
    terms = [
        isin_expr(Projection(frame, mine), Projection(other, theirs)) for mine, theirs in selective
    ]
    narrowed = _with_input(group, Filter(frame, and_all(terms)))
    return side.replace({group._name: narrowed})


def reduce_grouped_sides(root: Any, estimator: Estimator | None = None) -> Any:
    """Every join's grouped side narrowed to the other side's keys (module
    docstring); config ``dataframe.merge.semi-join-groups`` turns it off.

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> e = FromPandas.of(pd.DataFrame({"a": [1]}), 1)
    >>> reduce_grouped_sides(e) is e
    True
    """
    if not config.get("dataframe.merge.semi-join-groups"):
        return root
    estimator = estimator or Estimator()

    def visit(node: Any) -> Any:
        if not isinstance(node, Merge) or node.left_keys is None or node.right_keys is None:
            return None
        # the sides whose unmatched rows the join drops (those it may broadcast);
        # one side only: the other is then computed once, for both uses
        for side in _BROADCASTABLE[node.how]:
            left = side == "left"
            mine, theirs = (node.left, node.right) if left else (node.right, node.left)
            keys = zip(
                *((node.left_keys, node.right_keys) if left else (node.right_keys, node.left_keys))
            )
            new = _reduced(mine, theirs, list(keys), estimator)
            if new is not None:
                return node.replace_operands(**{side: new})
        return None

    return root.transform(visit)
