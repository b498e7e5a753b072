"""One draw of a regenerated block for every reduction that reads it in a pass.

Cheap blocks (random draws, ``fromfunction``) are made again inside each
consumer rather than kept (see ``expr.py``). Within one pass that would
repeat work for nothing: ``compute(x.mean(), x.std())`` would draw every
block of ``x`` twice, and ``(x + x.T).mean(axis=0)`` draws block ``(i, j)``
for output block ``(i, j)`` and again, transposed, for ``(j, i)``.

Before building, the reductions in the graph are scanned: each first-stage
(partial) task is mapped to the cheap *leaf* blocks it would make, following
elementwise nodes and transposes. Partial tasks that make a common leaf block
form a group (at most ``MAX_GROUP`` tasks and leaf blocks, so memory stays a
few blocks), and a group runs as one task that makes each leaf block once
and returns every member's partial result; each member's partial key picks
its result from the tuple. Two kinds of group:

- every member reads the same block of the same input (``x.mean()`` with
  ``x.std()``): one task makes the block, streamed in pieces where the input
  allows (``streaming.py``), and feeds each piece to every reduction;
- otherwise (``x`` and ``x.T``): a ``Fused`` task makes the leaf blocks under
  inner keys, then each member's partial task reads them by reference.

Reductions in different passes (``(x - x.mean()).std()``: the std pass needs
the mean first) are never grouped, so their memory stays bounded by
regeneration as before.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

from shoal.core.build import all_block_indices
from shoal.core.task import Fused, Ref, Task
from shoal.core.tokenize import tokenize

from .expr import ArrayExpr, GraphBuilder
from .streaming import has_stream, plan_task, stream_partials

__all__ = ["MAX_GROUP", "find_groups", "leaf_blocks", "shared_partial"]

MAX_GROUP = 8


def _children(node: ArrayExpr) -> list:
    return [d for d in node.dependencies() if isinstance(d, ArrayExpr)]


def leaf_blocks(node: ArrayExpr, index: tuple) -> list | None:
    """The cheap leaf blocks ``(leaf node, index)`` that making block
    ``index`` of ``node`` inline makes, once per time it makes them; None if
    the path goes through a node this module does not follow. Walked with a
    stack: a cheap node's regeneration work is bounded (``regenerated``), so
    the walk is too, however deep the plan.

    >>> import shoal.array as sa
    >>> x = sa.random.default_rng(0).random((4, 4), chunks=2)
    >>> [(leaf._prefix, i) for leaf, i in leaf_blocks((x + x.T).expr, (0, 1))]
    [('random', (0, 1)), ('random', (1, 0))]
    """
    out: list = []
    stack = [(node, index)]
    while stack:
        node, index = stack.pop()
        if node.cost == "free":
            continue
        if node.cost != "cheap":
            return None
        children = _children(node)
        if not children:
            out.append((node, index))
            continue
        if not (hasattr(node, "_plan") and hasattr(node, "out_ind") and hasattr(node, "args")):
            return None  # follows blockwise nodes only
        where = dict(zip(node.out_ind, index))
        inputs = []
        for arg, plan in zip(node.args, node._plan):
            if plan is None:
                continue
            if arg.cost == "free" or not node._one_to_one(arg):
                continue  # made region by region, or stored and referenced
            cidx = tuple(where[c] if n > 1 else 0 for c, n in zip(plan[0], arg.numblocks))
            inputs.append((arg, cidx))
        stack.extend(reversed(inputs))  # left to right, as the task makes them
    return out


def _repeated_leaves(reductions: list) -> bool:
    """True if some cheap leaf node is reached by two paths from the reductions
    (otherwise no partial task shares a leaf block and grouping is skipped)."""
    paths: dict = {}
    stack = [r.child for r in reductions]
    while stack:
        node = stack.pop()
        if node.cost != "cheap":
            continue
        children = _children(node)
        if not children:
            paths[node._name] = paths.get(node._name, 0) + 1
        stack.extend(children)
    return any(n > 1 for n in paths.values())


def find_groups(nodes: Iterable[ArrayExpr]) -> dict:
    """``{(reduction name, index): group}`` for the partial tasks that share
    leaf blocks; a group is ``(members, leaves)`` with members a list of
    ``(reduction, index)`` and leaves a dict ``(leaf name, index) -> leaf``."""
    # the reductions (reductions.py, which imports this module) reading one child
    reductions: list[Any] = [n for n in nodes if getattr(n, "shares_partials", False)]
    reductions = [r for r in reductions if r.child.cost in ("free", "cheap")]
    if not reductions or not _repeated_leaves(reductions):
        return {}
    parent: dict = {}

    def find(k: Any) -> Any:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    member_leaves: dict = {}
    for r in reductions:
        for index in all_block_indices(r.child.numblocks):
            leaves = leaf_blocks(r.child, index)
            if not leaves:
                continue
            member = (r, index)
            keys = [(leaf._name, i) for leaf, i in leaves]
            member_leaves[member] = (leaves, len(keys) > len(set(keys)))
            for k in keys:
                parent.setdefault(k, k)
            for k in keys[1:]:
                parent[find(k)] = find(keys[0])
    components: dict = {}
    for member, (leaves, repeats) in member_leaves.items():
        root = find((leaves[0][0]._name, leaves[0][1]))
        members, found, repeated = components.get(root, ([], {}, False))
        members.append(member)
        found.update(((leaf._name, i), (leaf, i)) for leaf, i in leaves)
        components[root] = (members, found, repeated or repeats)
    groups: dict = {}
    for members, found, repeated in components.values():
        shares = len(members) > 1 or repeated
        if shares and len(members) <= MAX_GROUP and len(found) <= MAX_GROUP:
            group = (members, found)
            for r, index in members:
                groups[(r._name, index)] = group
    return groups


def shared_partial(reduction: Any, index: tuple, b: GraphBuilder) -> Any:
    """The partial task of ``reduction`` at ``index`` picking its result from
    its group's task, or None if it is in no group."""
    if b.groups is None:
        b.groups = find_groups(b.nodes())
    group = b.groups.get((reduction._name, index))
    if group is None:
        return None
    members, leaves = group
    key = _group_key(members)
    if key not in b.graph:
        b.graph[key] = _group_task(key, members, leaves, b)
    position = next(i for i, m in enumerate(members) if m[0] is reduction and m[1] == index)
    return Task(operator.getitem, Ref(key), position)


def _group_key(members: list) -> tuple:
    return ("shared-partials-" + tokenize([(r._name, i) for r, i in members]), 0)


def _gather(*values: Any) -> tuple:
    return values


def _chunk_all(block: Any, specs: tuple) -> tuple:
    return tuple(
        chunk(block, axis=axes, keepdims=True, **chunk_kw)
        for chunk, _, axes, chunk_kw, _, _ in specs
    )


def _group_task(key: tuple, members: list, leaves: dict, b: GraphBuilder) -> Any:
    first, index = members[0]
    same_block = all(r.child._name == first.child._name and i == index for r, i in members)
    if same_block and len(leaves) == len(leaf_blocks(first.child, index) or ()):
        specs = tuple(r._spec(index) for r, _ in members)
        step = first._piece_rows(index, b) if all(r.stream for r, _ in members) else 0
        if step:
            plan = b.input_rows(first, first.child, index)
            if has_stream(plan):
                rows = first.child.chunks[0][index[0]]
                return Task(stream_partials, plan, rows, step, specs)
            return Task(_chunk_all, plan_task(plan), specs)
        return Task(_chunk_all, b.input(first, first.child, index), specs)
    inner: list = []
    refs: dict = {}
    for (name, leaf_index), (leaf, _) in leaves.items():
        leaf_key = (f"{key[0]}-leaf-{name}", *leaf_index)
        inner.append((leaf_key, leaf._block(leaf_index, b)))
        refs[(name, leaf_index)] = leaf_key
    partial_keys = []
    b.leaf_refs = refs
    try:
        for n, (r, i) in enumerate(members):
            partial_keys.append((f"{key[0]}-member", n))
            inner.append((partial_keys[-1], r._partial_alone(i, b)))
    finally:
        b.leaf_refs = None
    inner.append((key, Task(_gather, *[Ref(k) for k in partial_keys])))
    return Fused(key, inner)
