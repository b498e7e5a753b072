"""Low-level fusion of linear chains.

A task ``a`` is fused into ``b`` when ``b`` is the only task that needs ``a``,
``a`` is the only thing ``b`` needs, ``a`` is not a requested output, and both
carry the same annotations. A maximal run of such links becomes one
``Fused`` node under the last key, so a 1,000-long chain of ``inc`` is one task
and pays the scheduler's per-task cost once. Diamonds and fan-ins are left
alone: fusing them would serialize work that can run in parallel.

    before:  a -> b -> c -> d        after:  d = Fused(a, b, c, d)
             a -> b, a -> c -> d             unchanged (a has two dependents)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shoal.core import config
from shoal.core.task import Fused, Task, dependencies_of

__all__ = ["fuse_linear"]


def _annotations(node) -> dict | None:
    typ = type(node)
    if typ is Task or typ is Fused:
        return node.annotations
    return None


def _inner(key, node) -> list:
    if type(node) is Fused:
        return list(node.tasks)
    return [(key, node)]


def fuse_linear(
    graph: Mapping, keys: Iterable = (), max_length: int | None = None
) -> dict:
    """Return a new graph with linear chains fused (see module docstring).

    ``keys`` are outputs that must stay addressable. ``max_length`` bounds the
    tasks per fused node (default: config ``optimization.fuse.max-length``).

    >>> from shoal.core.task import Task, Ref
    >>> g = {"a": 1, "b": Task(abs, Ref("a")), "c": Task(abs, Ref("b"))}
    >>> fused = fuse_linear(g, ["c"])
    >>> list(fused), fused["c"]({})
    (['c'], 1)
    """
    if max_length is None:
        max_length = config.get("optimization.fuse.max-length")
    outputs = set(keys)
    deps = {k: dependencies_of(v) for k, v in graph.items()}
    n_dependents: dict = dict.fromkeys(graph, 0)
    for ds in deps.values():
        for d in ds:
            if d in n_dependents:
                n_dependents[d] += 1

    # child[d] = k when d is fused into its only dependent k.
    child: dict = {}
    parent: dict = {}
    for k, ds in deps.items():
        if len(ds) != 1:
            continue
        d = ds[0]
        if (
            d in graph
            and n_dependents[d] == 1
            and d not in outputs
            and _annotations(graph[d]) == _annotations(graph[k])
        ):
            child[d] = k
            parent[k] = d

    if not child:
        return dict(graph)

    out: dict = {}
    for k, node in graph.items():
        if k in child:
            continue  # an inner link; emitted with the end of its chain
        if k not in parent:
            out[k] = node
            continue
        chain = [k]
        cur = k
        while cur in parent:
            cur = parent[cur]
            chain.append(cur)
        chain.reverse()
        # chain[0] is the head, chain[-1] == k; cut into segments of max_length
        for start in range(0, len(chain), max_length):
            segment = chain[start : start + max_length]
            end = segment[-1]
            if len(segment) == 1:
                out[end] = graph[end]
                continue
            inner: list = []
            for s in segment:
                inner.extend(_inner(s, graph[s]))
            out[end] = Fused(end, inner, _annotations(graph[end]))
    return out
