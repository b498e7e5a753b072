"""The dataframe optimizer: simplify, prune columns, plan joins, lower,
encode group keys.

- ``simplify`` (core): local rewrites, e.g. projections merged, an
  ``Assign`` skipped when its column is not selected, filters pushed
  through joins to each side (``join_filters.py``) and predicates into
  ``read_parquet(filters=)`` (``ReadParquet._simplify_up``);
- ``prune_columns``: each node says which columns of its children it reads
  (``_needed_columns``); the union over all users reaches every reader, which
  then reads only those (``_project_columns``); a filter whose frame
  keeps columns for other users (e.g. its own predicate) is followed by a
  projection to the columns its users need, which lowering moves under
  it, so the mask takes only those; an ``Assign`` whose columns no user
  reads is dropped, and so are the reads only its values made. Shared
  subplans stay shared: equal subtrees have equal names and are one node;
- ``plan_joins`` (``join_order.py``): chains of inner joins reordered so
  the smallest intermediate results come first, and every join's algorithm
  chosen again from the sizes estimated after pushdown (``sizes.py``);
- ``encode_group_keys`` (``encoded_keys.py``): string groupby keys read
  from parquet as categoricals when nothing else looks at them.

Fusion is not a pass here: when the graph is built (``core/build.py``),
per-partition nodes nest their inputs' tasks into their own, so reading,
filtering, assigning and a reduction's chunk step run as one task per
partition; ``explain()`` marks the nodes that fuse into their user.

Every pass walks the plan with core's iterative helpers (``postorder``,
``users``, ``replace``): plans of any depth optimize in linear time.

>>> import pandas as pd
>>> from shoal.dataframe.expr import FromPandas, Projection, method_expr
>>> e = method_expr(Projection(FromPandas.of(pd.DataFrame({"a": [1]}), 1), "a"), "abs")
>>> print(optimize_expr(e).explain_text())
MapPartitions: abs
  Projection: columns_='a'  (fused)
    FromPandas: npartitions=1
"""

from __future__ import annotations

from typing import cast

import pandas as pd

from shoal.core.expr import Expr
from shoal.dataframe.expr import Assign, Filter, FrameExpr, Projection

__all__ = ["optimize_expr", "prune_columns"]


def optimize_expr(expr: FrameExpr) -> FrameExpr:
    """The optimized, lowered plan of ``expr`` (example in the module docstring).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> optimize_expr(FromPandas.of(pd.DataFrame({"a": [1]}), 1)).npartitions
    1
    """
    from shoal.dataframe.encoded_keys import encode_group_keys
    from shoal.dataframe.join_order import plan_joins

    plan = expr.simplify()
    plan = prune_columns(plan)
    plan = plan.simplify()
    planned = plan_joins(plan)
    if planned._name != plan._name:  # e.g. merge the projection restoring column order
        planned = planned.simplify()
    plan = planned.lower()
    return cast(FrameExpr, encode_group_keys(plan))  # frame rewrites give frame plans


def prune_columns(root: Expr) -> Expr:
    """Make readers read only the columns some user needs (module docstring).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas, Projection
    >>> e = Projection(FromPandas.of(pd.DataFrame({"a": [1], "b": [2]}), 1), "a")
    >>> prune_columns(e)._name == e._name  # in-memory data has nothing to prune
    True
    """
    while True:  # an assign no user reads is dropped; then its values' reads go too
        root, dropped = _prune_once(root)
        if not dropped:
            return root


def _prune_once(root: Expr) -> tuple[Expr, bool]:
    nodes = root.postorder()
    needed: dict = {root._name: None}
    for node in reversed(nodes):  # every node after all of its users
        if isinstance(node, FrameExpr):
            requests = node._needed_columns(needed.get(node._name))
        else:
            requests = [(c, None) for c in node.dependencies()]
        for child, cols in requests:
            key = child._name
            if key not in needed:
                needed[key] = None if cols is None else set(cols)
            elif needed[key] is not None:
                needed[key] = None if cols is None else needed[key] | set(cols)
    memo: dict = {}
    dropped = False
    for node in nodes:  # children first: each is rebuilt on its pruned children
        new = node._map_children(lambda c: memo[c._name])
        cols = needed.get(node._name)
        project = getattr(new, "_project_columns", None)
        if cols is not None and project is not None:
            projected = project(cols)
            dropped |= projected is not None and isinstance(new, Assign)
            new = projected or new
        elif (
            cols
            and isinstance(new, Filter)
            and isinstance(new._meta, pd.DataFrame)
            and isinstance(new.predicate._meta, pd.Series)
        ):
            keep = [c for c in new.columns if c in cols]
            if keep and len(keep) < len(new.columns):  # lowering takes only these
                new = Projection(new, keep)
        memo[node._name] = new
    return memo[root._name], dropped
