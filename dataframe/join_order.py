"""The join planner: chains of inner joins reordered by estimated size, and
every join's algorithm chosen again once filters and projections have
reached the readers.

**Order.** A *chain* is a tree of inner joins on columns whose inner joins
(and list projections between them) have no other user and no hand
planning (``broadcast=``/``npartitions=``). Its *leaves* are the inputs
that are not such joins. When the leaves' column names are all distinct,
the join conditions are equalities between leaf columns; columns made
equal by any join form one class. The planner then builds the tree again,
greedily: of all pairs of parts that share a class, it joins the pair whose
estimated result (``sizes.py``) is smallest, and repeats until one part is
left (ties keep the user's order). Two parts are joined on one column pair
per class they share, which, with the classes already equal within each
part, gives the same rows as the user's conditions. The new tree is kept
when its estimated intermediate rows are fewer than the user's order's;
a projection restores the user's column order, so the result equals the
user's up to row order::

    ((lineitem ⋈ orders) ⋈ customer[segment])       user's order
    (lineitem ⋈ (orders ⋈ customer[segment]))       smaller intermediate first

Chains with fewer than three leaves, leaves sharing column names, a class
holding two columns of one leaf, or a leaf without an estimate are left
as written.

**Algorithm.** Each join's algorithm is chosen again (``merge.
choose_algorithm``) with the sizes known now: a side filtered down below
``dataframe.merge.broadcast-bytes`` is broadcast instead of shuffled. A
join keeps its partition count (users of the collection rely on it): a
hash join shuffles into that count, another algorithm whose natural count
differs is followed by a repartition. A broadcast or range join keeps its
driving side (the side whose partition ``i`` makes its partition ``i``): a
groupby or ``isin`` planned on that side's key ranges (``sorted_ranges.py``)
relies on it.
"""

from __future__ import annotations

from typing import Any

from shoal.core.expr import Expr
from shoal.dataframe.expr import FrameExpr, Projection
from shoal.dataframe.filter_sample import sampling
from shoal.dataframe.merge import _DRIVING, Merge, choose_algorithm
from shoal.dataframe.meta import same_meta
from shoal.dataframe.repartition import repartition_npartitions
from shoal.dataframe.sizes import Estimate, Estimator, distinct_bound, join_estimate

__all__ = ["plan_joins", "reorder_joins", "choose_algorithms"]

_MIN_LEAVES = 3


def plan_joins(root: Expr) -> Expr:
    """Reorder chains of inner joins, then choose every join's algorithm
    (module docstring).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> e = FromPandas.of(pd.DataFrame({"a": [1]}), 1)
    >>> plan_joins(e) is e
    True
    """
    from shoal.dataframe.join_semi import reduce_grouped_sides

    estimator = Estimator()
    with sampling():
        ordered = reorder_joins(root, estimator)
        return choose_algorithms(reduce_grouped_sides(ordered, estimator), estimator)


# ------------------------------------------------------------------ order


def _orderable(node: Any) -> bool:
    """A join that may be moved within a chain."""
    return (
        isinstance(node, Merge)
        and node.how == "inner"
        and node.left_keys is not None
        and node.right_keys is not None
        and not node.kwargs.get("indicator")
        and node.requested_partitions is None
        and node.broadcast_hint is None
        and node.algorithm != "partitionwise"
    )


def _inside(node: Any) -> bool:
    """A node that can sit inside a chain (below its root)."""
    return _orderable(node) or (
        isinstance(node, Projection) and isinstance(node.columns_, list) and _orderable(node.frame)
    )


class _Chain:
    """The leaves and join conditions of one chain."""

    def __init__(self, root: Merge, inner: set):
        self.leaves: list[FrameExpr] = []
        self.pairs: list[tuple[str, str]] = []
        self.joins: list[Merge] = []
        stack: list[Any] = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, Projection):
                stack.append(node.frame)
                continue
            self.joins.append(node)
            self.pairs += list(zip(node.left_keys, node.right_keys))
            for side in (node.right, node.left):
                if side._name in inner:
                    stack.append(side)
                else:
                    self.leaves.append(side)
        self.leaves.reverse()  # user's order: left to right
        self.owner: dict[str, int] = {}
        self.ok = len(self.leaves) >= _MIN_LEAVES
        for i, leaf in enumerate(self.leaves):
            for c in leaf.columns:
                if c in self.owner:
                    self.ok = False
                self.owner[c] = i
        self.classes = self._classes() if self.ok else {}

    def _classes(self) -> dict[str, int]:
        """Column -> class number, for the columns any join equates."""
        parent: dict[str, str] = {}

        def find(c: str) -> str:
            while parent.setdefault(c, c) != c:
                parent[c] = parent[parent[c]]
                c = parent[c]
            return c

        for a, b in self.pairs:
            if a not in self.owner or b not in self.owner:
                self.ok = False
                return {}
            parent[find(a)] = find(b)
        classes: dict[str, int] = {}
        numbers: dict[str, int] = {}
        seen: set = set()
        for c in parent:
            number = numbers.setdefault(find(c), len(numbers))
            classes[c] = number
            if (number, self.owner[c]) in seen:
                self.ok = False  # two columns of one leaf made equal: no join enforces it
            seen.add((number, self.owner[c]))
        return classes

    def shared(self, a: frozenset, b: frozenset) -> list[tuple[str, str]]:
        """One ``(column of a, column of b)`` pair per class both parts hold."""
        first: dict[int, str] = {}
        for c, k in self.classes.items():
            if self.owner[c] in a:
                first.setdefault(k, c)
        out = []
        done: set = set()
        for c, k in self.classes.items():
            if self.owner[c] in b and k in first and k not in done:
                done.add(k)
                out.append((first[k], c))
        return out


def _cost(joins: list, estimator: Estimator) -> float | None:
    """Estimated rows of all the joins' results."""
    total = 0.0
    for j in joins:
        e = estimator(j)
        if e is None:
            return None
        total += e.rows
    return total


def _key_space(chain: _Chain, columns: list) -> float | None:
    """How many distinct key tuples ``columns`` can hold (None: unknown)."""
    space = 1.0
    for c in columns:
        bound = distinct_bound(chain.leaves[chain.owner[c]], c)
        if bound is None:
            return None
        space *= bound
    return space


def _pair_rows(chain: _Chain, x: Estimate, y: Estimate, pairs: list) -> float | None:
    """Estimated rows of joining two parts on ``pairs``: the size rule's
    (each row of the many side meets one row of the other), or more when
    the keys can take so few values that each must repeat: ``rows_x *
    rows_y / key values`` (a join on a nation key matches every supplier
    of the nation, which the size rule counts as one)."""
    e = join_estimate("inner", x, y)
    if e is None:
        return None
    kx = _key_space(chain, [a for a, _ in pairs])
    ky = _key_space(chain, [b for _, b in pairs])
    if kx is None or ky is None:
        return e.rows
    return max(e.rows, x.rows * y.rows / max(kx, ky, 1.0))


def _join(left: FrameExpr, right: FrameExpr, pairs: list, template: Merge) -> Merge:
    lk = tuple(a for a, _ in pairs)
    rk = tuple(b for _, b in pairs)
    kwargs = {**template.kwargs, "left_on": list(lk), "right_on": list(rk)}
    kwargs.pop("on", None)
    algorithm, k = choose_algorithm(left, right, "inner", lk, rk, None, None)
    return Merge(
        left, right, "inner", kwargs, lk, rk, algorithm, k, template.method, template.max_branch
    )


def _greedy(chain: _Chain, root: Merge, estimator: Estimator) -> tuple | None:
    """``(tree, its joins)`` built greedily, or None when a size is unknown."""
    parts: list[tuple[frozenset, FrameExpr, Estimate]] = []
    for i, leaf in enumerate(chain.leaves):
        e = estimator(leaf)
        if e is None:
            return None
        parts.append((frozenset((i,)), leaf, e))
    joins = []
    while len(parts) > 1:
        best = None
        for x in range(len(parts)):
            for y in range(x + 1, len(parts)):
                pairs = chain.shared(parts[x][0], parts[y][0])
                if not pairs:
                    continue
                rows = _pair_rows(chain, parts[x][2], parts[y][2], pairs)
                if rows is not None and (best is None or rows < best[0]):
                    best = (rows, x, y, pairs)
        if best is None:
            return None  # the parts are not connected: keep the user's cross joins
        _, x, y, pairs = best
        (sa, ea, esta), (sb, eb, estb) = parts[x], parts[y]
        if estb.base > esta.base:  # the side holding the larger source on the left
            sa, ea, esta, sb, eb, estb = sb, eb, estb, sa, ea, esta
            pairs = [(b, a) for a, b in pairs]
        joined = _join(ea, eb, pairs, root)
        joins.append(joined)
        found = estimator(joined)
        if found is None:
            return None
        parts = [p for k, p in enumerate(parts) if k not in (x, y)] + [(sa | sb, joined, found)]
    return parts[0][1], joins


def _reordered(root: Merge, inner: set, estimator: Estimator) -> FrameExpr | None:
    chain = _Chain(root, inner)
    if not chain.ok:
        return None
    user_cost = _cost(chain.joins, estimator)
    built = _greedy(chain, root, estimator)
    if built is None or user_cost is None:
        return None
    tree, joins = built
    cost = _cost(joins, estimator)
    if cost is None or not cost < user_cost * 0.99:
        return None
    # the user's partition count; choose_algorithms makes the algorithm give it
    top = tree.replace_operands(npartitions_out=root.npartitions_out)
    out: FrameExpr = Projection(top, root.columns) if top.columns != root.columns else top
    return out if same_meta(out._meta, root._meta) else None


def reorder_joins(root: Expr, estimator: Estimator | None = None) -> Expr:
    """Every chain of inner joins in ``root`` reordered when that makes its
    intermediate results smaller (module docstring).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> e = FromPandas.of(pd.DataFrame({"a": [1]}), 1)
    >>> reorder_joins(e) is e
    True
    """
    estimator = estimator or Estimator()
    users = root.users()
    internal: set = set()  # names of chain nodes below a chain root
    for node in root.walk():  # parents first
        above = users.get(node._name, [])
        if _inside(node) and len(above) == 1:
            parent = above[0]
            if _orderable(parent) or (isinstance(parent, Projection) and parent._name in internal):
                internal.add(node._name)
    inner_new: set = set()  # the same nodes after rebuilding on new children
    memo: dict[str, Expr] = {}
    for node in root.postorder():
        new = node._map_children(lambda c: memo[c._name])
        if node._name in internal:
            inner_new.add(new._name)
        elif isinstance(new, Merge) and _orderable(new):
            try:
                new = _reordered(new, inner_new, estimator) or new
            except (ValueError, TypeError, KeyError):
                pass  # a key pair the user never wrote does not merge: keep the user's order
        memo[node._name] = new
    return memo[root._name]


# -------------------------------------------------------------- algorithm


def _fit(node: Merge, estimator: Estimator) -> FrameExpr | None:
    if node.algorithm == "partitionwise" and node._on_known_divisions():
        return None  # aligned on divisions: nothing to choose
    algorithm, k = choose_algorithm(
        node.left,
        node.right,
        node.how,
        node.left_keys,
        node.right_keys,
        node.requested_partitions,
        node.broadcast_hint,
    )
    driving = _DRIVING.get(node.algorithm)
    if driving is not None and _DRIVING.get(algorithm) != driving:
        return None  # plans above may rely on its driving side's partitions (sorted_ranges.py)
    want = node.npartitions_out
    if algorithm == "hash":
        k = want
    if (algorithm, k) == (node.algorithm, want):
        return None
    new = node.replace_operands(algorithm=algorithm, npartitions_out=k)
    return new if k == want else repartition_npartitions(new, want)


def choose_algorithms(root: Expr, estimator: Estimator | None = None) -> Expr:
    """Every join's algorithm chosen with the sizes known after pushdown,
    keeping each join's partition count (module docstring).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> l = FromPandas.of(pd.DataFrame({"k": range(8)}), 4)
    >>> r = FromPandas.of(pd.DataFrame({"k": range(3)}), 2)
    >>> m = Merge(l, r, "inner", {"on": ["k"]}, ("k",), ("k",), "hash", 4)
    >>> choose_algorithms(m).algorithm
    'broadcast-right'
    """
    estimator = estimator or Estimator()

    def visit(node: Expr) -> Expr | None:
        return _fit(node, estimator) if isinstance(node, Merge) else None

    return root.transform(visit)
