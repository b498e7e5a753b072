"""Filters pushed through joins: ``merged[predicate]`` becomes a filter of
one side (or both) below the join, where it can reach that side's reader
(``read_parquet(filters=)``, row groups pruned by statistics).

The predicate is cut into its ``&`` terms. A term moves below the join
when it is *row-local* (each row's truth depends on that row alone: column
comparisons, arithmetic, ``isin``, ``between``, ``isna``, ``.str``/``.dt``
methods; no reduction, no other collection) and every column it reads comes
from one side. Which side may take it depends on ``how``: a side whose rows
may be unmatched (then padded with missing values) cannot be filtered
before the join, because the filter would see the side's own values where
it should see the padding::

    how          filters on left columns   filters on right columns
    inner        left                      right
    left         left                      (stay above)
    right        (stay above)              right
    leftsemi,
    leftanti     left                      -
    outer        (stay above)              (stay above)

A term on join key columns is also copied to the other side (through the
key pairs, when both keys have the same dtype): rows of the other side it
removes could only have matched rows it removes here. Terms that cannot
move stay in a filter above the join.
"""

from __future__ import annotations

import operator
from typing import Any

from shoal.core.expr import Expr
from shoal.dataframe.expr import Filter, FrameExpr, MapPartitions, Projection, call_method
from shoal.dataframe.join_sides import KEPT_SIDES

__all__ = ["and_all", "push_filter_through_join", "column_sources", "is_row_local"]

_ELEMENTWISE_METHODS = frozenset(
    {
        "isin",
        "between",
        "isna",
        "notna",
        "abs",
        "round",
        "fillna",
        "astype",
        "clip",
        "__neg__",
        "__invert__",
    }
)


def _row_local_functions() -> set:
    from shoal.dataframe.accessors import _accessor_call, _accessor_get
    from shoal.dataframe.collection import _astype_present, _reverse, _where_mask

    return {_accessor_call, _accessor_get, _astype_present, _reverse, _where_mask}


def is_row_local(node: Expr) -> bool:
    """Whether a ``MapPartitions`` node computes each row from that row
    alone (operators, elementwise methods, ``.str``/``.dt``).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> e = Projection(FromPandas.of(pd.DataFrame({"a": [1]}), 1), "a")
    >>> is_row_local(MapPartitions(operator.gt, {}, None, "gt", False, True, (e, 0)))
    True
    >>> is_row_local(MapPartitions(len, {}, 0, "len", False, False, (e,)))
    False
    """
    if not isinstance(node, MapPartitions) or node.is_scalar:
        return False
    func = node.func
    if func is call_method:
        return node.kwargs.get("_method") in _ELEMENTWISE_METHODS
    if getattr(func, "__module__", None) in ("_operator", "operator"):
        return True
    return func in _row_local_functions()


def column_sources(merge: Any) -> dict | None:
    """For each output column of a join: the ``(side, column)`` pairs whose
    values it holds for every output row where the side is matched (a key
    joined under one name comes from both sides when the dtypes agree); None
    when the output columns cannot be accounted for this way.

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> from shoal.dataframe.merge import Merge
    >>> l = FromPandas.of(pd.DataFrame({"k": [1], "a": [2]}), 1)
    >>> r = FromPandas.of(pd.DataFrame({"k": [1], "a": [3]}), 1)
    >>> m = Merge(l, r, "inner", {"on": ["k"]}, ("k",), ("k",), "hash", 1)
    >>> column_sources(m)
    {'k': [('left', 'k'), ('right', 'k')], 'a_x': [('left', 'a')], 'a_y': [('right', 'a')]}
    """
    if merge.kwargs.get("indicator"):
        return None
    lcols, rcols = merge.left.columns, merge.right.columns
    lk, rk = merge.left_keys or (), merge.right_keys or ()
    ldtypes, rdtypes = merge.left._meta.dtypes, merge.right._meta.dtypes
    shared = {a for a, b in zip(lk, rk) if a == b}
    sl, sr = (s or "" for s in merge.kwargs.get("suffixes", ("_x", "_y")))
    out: dict = {}
    for c in lcols:
        if c in shared:
            out[c] = [("left", c)] + ([("right", c)] if ldtypes[c] == rdtypes[c] else [])
        else:
            out[f"{c}{sl}" if c in rcols else c] = [("left", c)]
    if merge.how not in ("leftsemi", "leftanti"):
        for c in rcols:
            if c not in shared:
                out[f"{c}{sr}" if c in lcols else c] = [("right", c)]
    if set(out) != set(merge.columns) or len(out) != len(merge.columns):
        return None
    for a, b in zip(lk, rk):  # a key term may also filter the other side
        if a != b and ldtypes[a] == rdtypes[b] and a in out and ("right", b) not in out[a]:
            out[a] = out[a] + [("right", b)]
            if b in out and ("left", a) not in out[b]:
                out[b] = out[b] + [("left", a)]
    return out


def _conjuncts(pred: FrameExpr) -> list:
    """The ``&`` terms of a boolean predicate, in order."""
    out, stack = [], [pred]
    while stack:
        node = stack.pop()
        if (
            isinstance(node, MapPartitions)
            and node.func is operator.and_
            and len(node.args) == 2
            and all(isinstance(a, FrameExpr) and not a.is_scalar for a in node.args)
        ):
            stack.extend(reversed(node.args))
        else:
            out.append(node)
    return out


def _term_columns(term: FrameExpr, merge: FrameExpr) -> tuple[set, list] | None:
    """The join's columns a row-local term reads and the projections that
    read them; None when the term is not row-local or reads anything else."""
    columns: set = set()
    projections: list = []
    seen: set = set()
    stack: list[Expr] = [term]
    while stack:
        node = stack.pop()
        if node._name in seen:
            continue
        seen.add(node._name)
        if isinstance(node, Projection) and node.frame._name == merge._name:
            if not isinstance(node.columns_, str):
                return None
            columns.add(node.columns_)
            projections.append(node)
            continue
        if not is_row_local(node):
            return None
        for child in node.dependencies():
            if isinstance(child, FrameExpr) and child.is_scalar:
                return None
            stack.append(child)
    return (columns, projections) if columns else None


def and_all(terms: list) -> FrameExpr:
    """The terms joined by ``&`` (one term: itself)."""
    out = terms[0]
    for t in terms[1:]:
        out = MapPartitions(operator.and_, {}, None, "and", False, False, (out, t))
    return out


def push_filter_through_join(merge: Any, parent: Any, dependents: dict) -> Any:
    """``parent`` (a ``Filter`` of ``merge``) rewritten with the terms that can
    move below the join moved there (module docstring); None when none can.
    ``merge`` must have no users but the filter and its predicate."""
    if not isinstance(parent, Filter) or parent.frame._name != merge._name:
        return None
    users = dependents.get(merge._name, ())
    if parent._name not in {u._name for u in users}:
        return None  # a filter made during this pass: its users are known next pass
    takes = KEPT_SIDES[merge.how]
    sources = column_sources(merge) if takes else None
    if sources is None:
        return None
    pushed: dict = {"left": [], "right": []}
    kept: list = []
    for term in _conjuncts(parent.predicate):
        found = _term_columns(term, merge)
        able = {} if found is None else _expressible(found, sources, merge)
        if not set(able) & set(takes):
            kept.append(term)
            continue
        for side, swap in able.items():
            pushed[side].append(term.replace(swap))
    if not pushed["left"] and not pushed["right"]:
        return None
    above = {n._name for n in _term_nodes(parent.predicate, merge)}
    if any(u._name != parent._name and u._name not in above for u in users):
        return None  # the unfiltered join is used elsewhere: filtering below would not share it
    changes = {
        side: Filter(getattr(merge, side), and_all(terms))
        for side, terms in pushed.items()
        if terms
    }
    below = merge.replace_operands(**changes)
    if not kept:
        return below
    return Filter(below, and_all(kept).replace({merge._name: below}))


def _expressible(found: tuple, sources: dict, merge: Any) -> dict:
    """For each side that holds every column a term reads: the projections
    of the join to swap for projections of that side."""
    cols, projections = found
    out = {}
    for side in ("left", "right"):
        mapping = {}
        for c in cols:
            match = [col for s, col in sources.get(c, ()) if s == side]
            if not match:
                break
            mapping[c] = match[0]
        else:
            frame = getattr(merge, side)
            out[side] = {p._name: Projection(frame, mapping[p.columns_]) for p in projections}
    return out


def _term_nodes(term: FrameExpr, merge: FrameExpr) -> list:
    """The nodes of a term above the join (to recognize the join's users)."""
    out: list[Expr] = []
    seen: set = set()
    stack: list[Expr] = [term]
    while stack:
        node = stack.pop()
        if node._name in seen or node._name == merge._name:
            continue
        seen.add(node._name)
        out.append(node)
        stack.extend(node.dependencies())
    return out
