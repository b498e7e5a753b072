"""Common work of bags computed together runs once per partition.

A bag's partition task is ``run_chain(source, ops, finish, where)``, so
``b.map(f).count()`` and ``b.map(f).sum()`` build two tasks per partition that
both read the source and apply ``f``. When such collections are computed
together (``shoal.compute(x, y)``), :func:`graph_together` finds the
partition tasks that start from the same source and replaces them with one
task per partition, ``run_shared(source, tree)``: the operations the tasks
have in common run once, their output is kept as a list (the price of
sharing: that part of the partition is held in memory, not streamed), and
each consumer runs its own remaining operations and finish over the list.
Each consumer key becomes ``getitem(shared, index)``, so everything that
depends on it is unchanged.

Operations are matched by token (``tokenize``, the same equality that
names bags: ``b.map(f)`` built twice is one computation) and sources by
identity (bags derived from one bag share its source objects) or, for
references to materialized partitions, by key. The trie of all consumers' operations gives
the split points: a shared list is made wherever two consumers part ways.
A cheap source (data, or a computed partition) is shared only under a
common operation; a source that is a task (reading a file) is shared even
without one. Config ``bag.share-common-work`` (default True) turns this off.
"""

from __future__ import annotations

from operator import getitem
from typing import Any

from shoal.bag.chain import run_chain
from shoal.core import config
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize

__all__ = ["graph_together", "run_shared"]

config.update_defaults(
    {"bag": {"share-common-work": True}},
    {
        "bag.share-common-work": "Bags and items computed together run the operations their "
        "partitions have in common once (holding that output in memory as a list)."
    },
)


def run_shared(source: Any, tree: tuple) -> tuple:
    """Run a sharing tree over one partition: ``tree`` is ``(ops, where,
    leaves, branches)``: ``ops`` run once over ``source`` into a list, then
    each leaf ``(ops, finish, where, index)`` runs over that list and each
    branch (a tree) continues from it. Returns the leaves' results by index.

    >>> tree = ((), ("b", 0), [((), sum, ("b", 0), 0), ((), max, ("b", 0), 1)], [])
    >>> run_shared(iter([1, 2, 3]), tree)
    (6, 3)
    """
    out: list = [None] * _count_leaves(tree)
    _run_tree(source, tree, out)
    return tuple(out)


def _count_leaves(tree: tuple) -> int:
    return len(tree[2]) + sum(_count_leaves(t) for t in tree[3])


def _run_tree(source: Any, tree: tuple, out: list) -> None:
    ops, where, leaves, branches = tree
    data = run_chain(source, ops, None, where)
    for leaf_ops, finish, leaf_where, index in leaves:
        # an iterator, never the list: a finish that mutates its input (a
        # user's perpartition function) must not change what the others see
        out[index] = run_chain(iter(data), leaf_ops, finish, leaf_where)
    for branch in branches:
        _run_tree(data, branch, out)


class _Node:
    __slots__ = ("children", "ends", "count")

    def __init__(self):
        self.children: dict = {}  # token of an op -> (op, _Node)
        self.ends: list = []  # consumers whose ops end here: (key, finish, where)
        self.count = 0


def _insert(root: _Node, ops: tuple, consumer: tuple, tokens: dict) -> None:
    node = root
    node.count += 1
    for op in ops:
        token = tokens.get(id(op))
        if token is None:
            token = tokens[id(op)] = tokenize(op)
        entry = node.children.get(token)
        if entry is None:
            entry = node.children[token] = (op, _Node())
        node = entry[1]
        node.count += 1
    node.ends.append(consumer)


def _compile(node: _Node, path: list, keys: list) -> tuple:
    """A tree for ``run_shared`` from the trie below ``node``, reached by
    ``path`` since the last split; ``keys`` collects the consumers in leaf
    index order."""
    while len(node.children) == 1 and not node.ends:
        op, node = next(iter(node.children.values()))
        path.append(op)
    leaves: list = []
    branches: list = []
    for key, finish, where in node.ends:
        leaves.append(((), finish, where, len(keys)))
        keys.append(key)
    for op, child in node.children.values():
        if child.count == 1:
            ops = [op]
            while not child.ends:
                op, child = next(iter(child.children.values()))
                ops.append(op)
            key, finish, where = child.ends[0]
            leaves.append((tuple(ops), finish, where, len(keys)))
            keys.append(key)
        else:
            branches.append(_compile(child, [op], keys))
    first_where = leaves[0][2] if leaves else branches[0][1]
    return (tuple(path), first_where, leaves, branches)


def _source_id(source: Any) -> Any:
    return ("ref", source.key) if type(source) is Ref else ("obj", id(source))


def share_common_work(graph: dict) -> dict:
    """``graph`` with the partition tasks that share a source (and common
    operations) merged, as described in the module docstring; the same
    graph if there is nothing to share.

    >>> import shoal.bag as sb
    >>> from shoal.bag.core import collect_graph
    >>> b = sb.range(4, npartitions=2).map(abs)
    >>> g = share_common_work(collect_graph(b.sum(), b.count()))
    >>> sorted({k[0].split("-")[0] for k in g if isinstance(k, tuple)})
    ['bag', 'count', 'sum']
    """
    groups: dict = {}
    for key, node in graph.items():
        if type(node) is Task and node.func is run_chain and node.kwargs is None:
            source, ops, finish, where = node.args
            groups.setdefault(_source_id(source), []).append((key, source, ops, finish, where))
    tokens: dict = {}  # id(op) -> tokenize(op); ops are shared by the partitions of a bag
    for members in groups.values():
        if len(members) < 2:
            continue
        source = members[0][1]
        root = _Node()
        for key, _, ops, finish, where in members:
            _insert(root, ops, (key, finish, where), tokens)
        if type(source) is Task:
            _share(graph, source, root, [])
        else:  # cheap source: share only under a common first operation
            for op, child in root.children.values():
                if child.count > 1:
                    _share(graph, source, child, [op])
    return graph


def _share(graph: dict, source: Any, node: _Node, path: list) -> None:
    keys: list = []
    tree = _compile(node, path, keys)
    name = ("bag-shared-" + tokenize(keys), tree[1][1])  # tree[1]: (bag name, partition)
    graph[name] = Task(run_shared, source, tree)
    for index, key in enumerate(keys):
        graph[key] = Task(getitem, Ref(name), index)


def graph_together(collections: list) -> dict:
    """The graph of bags and items computed together, common work shared
    (``__shoal_graph_together__`` of ``Bag`` and ``Item``).

    >>> import shoal, shoal.bag as sb
    >>> b = sb.range(5, npartitions=2).map(abs)
    >>> shoal.compute(b.sum(), b.count(), scheduler="sync")
    (10, 5)
    """
    from shoal.bag.core import collect_graph

    graph = collect_graph(*collections)
    if config.get("bag.share-common-work"):
        graph = share_common_work(graph)
    return graph
