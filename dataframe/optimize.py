"""The dataframe optimizer: simplify, prune columns, lower, fuse.

- ``simplify`` (core): local rewrites, e.g. projections merged, an
  ``Assign`` skipped when its column is not selected, predicates pushed into
  ``read_parquet(filters=)`` (``ReadParquet._simplify_up``);
- ``prune_columns``: each node says which columns of its children it reads
  (``_needed_columns``); the union over all users reaches every reader, which
  then reads only those (``_project_columns``). Shared subplans stay shared:
  equal subtrees have equal names and are one node;
- ``encode_group_keys`` (``encoded_keys.py``): string groupby keys read
  from parquet as categoricals when nothing else looks at them;
- ``fuse_blockwise``: a maximal set of per-partition nodes whose users are
  all inside the set becomes one ``FusedBlockwise``: one task per partition.

>>> import pandas as pd
>>> from shoal.dataframe.expr import FromPandas, Projection, method_expr
>>> e = method_expr(Projection(FromPandas.of(pd.DataFrame({"a": [1]}), 1), "a"), "abs")
>>> print(optimize_expr(e).explain_text())
Fused: MapPartitions(abs) <- Projection(columns_='a')
  FromPandas: npartitions=1
"""

from __future__ import annotations

from shoal.core.expr import Expr
from shoal.dataframe.expr import Blockwise, FrameExpr, FusedBlockwise

__all__ = ["optimize_expr", "prune_columns", "fuse_blockwise", "parents_first"]


def optimize_expr(expr: Expr, fuse: bool = True) -> Expr:
    """The optimized, lowered (and fused) plan of ``expr`` (example in the
    module docstring).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> optimize_expr(FromPandas.of(pd.DataFrame({"a": [1]}), 1)).npartitions
    1
    """
    from shoal.dataframe.encoded_keys import encode_group_keys

    expr = expr.simplify()
    expr = prune_columns(expr)
    expr = expr.simplify().lower()
    expr = encode_group_keys(expr)
    if fuse:
        expr = fuse_blockwise(expr)
    return expr


def parents_first(root: Expr) -> tuple[list, dict]:
    """Every node ordered so each comes after all nodes that use it, and the
    map from a node's name to its users.

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas, Projection
    >>> order, users = parents_first(Projection(FromPandas.of(pd.DataFrame({"a": [1]}), 1), "a"))
    >>> [type(n).__name__ for n in order]
    ['Projection', 'FromPandas']
    """
    nodes = list(root.walk())
    users: dict = {}
    for n in nodes:
        for c in {c._name: c for c in n.dependencies()}.values():
            users.setdefault(c._name, []).append(n)
    waiting = {n._name: len(users.get(n._name, ())) for n in nodes}
    ready = [root]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for c in {c._name: c for c in node.dependencies()}.values():
            waiting[c._name] -= 1
            if waiting[c._name] == 0:
                ready.append(c)
    return order, users


def prune_columns(root: Expr) -> Expr:
    """Make readers read only the columns some user needs (module docstring).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas, Projection
    >>> e = Projection(FromPandas.of(pd.DataFrame({"a": [1], "b": [2]}), 1), "a")
    >>> prune_columns(e)._name == e._name  # in-memory data has nothing to prune
    True
    """
    order, _ = parents_first(root)
    needed: dict = {root._name: None}
    for node in order:
        if not isinstance(node, FrameExpr):
            requests = [(c, None) for c in node.dependencies()]
        else:
            requests = node._needed_columns(needed.get(node._name))
        for child, cols in requests:
            key = child._name
            if key not in needed:
                needed[key] = None if cols is None else set(cols)
            elif needed[key] is not None:
                needed[key] = None if cols is None else needed[key] | set(cols)

    memo: dict = {}

    def rebuild(node: Expr) -> Expr:
        if node._name in memo:
            return memo[node._name]
        new = node._map_children(rebuild)
        cols = needed.get(node._name)
        project = getattr(new, "_project_columns", None)
        if cols is not None and project is not None:
            new = project(cols) or new
        memo[node._name] = new
        return new

    return rebuild(root)


def fuse_blockwise(root: Expr) -> Expr:
    """Group per-partition nodes into one task per partition (module docstring).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas, Projection, method_expr
    >>> e = method_expr(Projection(FromPandas.of(pd.DataFrame({"a": [1]}), 1), "a"), "abs")
    >>> type(fuse_blockwise(e)).__name__
    'FusedBlockwise'
    """
    order, users = parents_first(root)
    group: dict = {}
    for node in order:
        if not isinstance(node, Blockwise):
            continue
        parents = users.get(node._name, [])
        gids = {group.get(p._name) for p in parents}
        if (
            parents
            and len(gids) == 1
            and None not in gids
            and all(p.npartitions == node.npartitions for p in parents)
        ):
            group[node._name] = gids.pop()
        else:
            group[node._name] = node._name
    members: dict = {}
    for node in order:
        if node._name in group:
            members.setdefault(group[node._name], []).append(node)

    memo: dict = {}

    def rebuild(node: Expr) -> Expr:
        if node._name in memo:
            return memo[node._name]
        ms = members.get(node._name) if group.get(node._name) == node._name else None
        if ms and len(ms) > 1:
            inside = {m._name for m in ms}
            externals: dict = {}
            for m in ms:
                for c in m.dependencies():
                    if c._name not in inside and c._name not in externals:
                        externals[c._name] = rebuild(c)
            new = FusedBlockwise(list(reversed(ms)), list(externals.values()))
        else:
            new = node._map_children(rebuild)
            if new is not node:
                # a fused child keeps its root's name, so this node's keys stay valid
                new.__dict__["_name"] = node._name
        memo[node._name] = new
        return new

    return rebuild(root)
