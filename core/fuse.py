"""Low-level fusion of linear chains.

A task ``a`` is fused into ``b`` when ``b`` is the only task that needs ``a``,
``a`` is the only thing ``b`` needs, ``a`` is not a requested output, and both
carry the same annotations, and ``a`` is not an external handle (data whose
type sets ``__shoal_external__``, such as a distributed ``Future`` of a
persisted block: the backend finds it by its key). A maximal run of such links becomes one
``Fused`` node under the last key, so a 1,000-long chain of ``inc`` is one task
and pays the scheduler's per-task cost once. Diamonds and fan-ins are left
alone: fusing them would serialize work that can run in parallel.

    before:  a -> b -> c -> d        after:  d = Fused(a, b, c, d)
             a -> b, a -> c -> d             unchanged (a has two dependents)
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Mapping, MutableMapping
from contextlib import contextmanager
from itertools import chain
from typing import Any, overload

from shoal.core import config
from shoal.core.layers import LayeredGraph
from shoal.core.task import Fused, Task, dependencies_of

__all__ = ["fuse_linear"]

_END = object()


def _annotations(node: Any) -> dict[Any, Any] | None:
    typ = type(node)
    if typ is Task or typ is Fused:
        found: dict[Any, Any] | None = node.annotations
        return found
    return None


@overload
def fuse_linear(
    graph: LayeredGraph, keys: Iterable[Any] = (), max_length: int | None = None
) -> LayeredGraph: ...
@overload
def fuse_linear(
    graph: Mapping[Any, Any], keys: Iterable[Any] = (), max_length: int | None = None
) -> MutableMapping[Any, Any]: ...


def fuse_linear(
    graph: Mapping[Any, Any], keys: Iterable[Any] = (), max_length: int | None = None
) -> MutableMapping[Any, Any]:
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
    with _gc_paused():
        return _fuse(graph, set(keys), max_length)


@contextmanager
def _gc_paused() -> Any:
    """Pause the cyclic garbage collector while building big acyclic structures.

    Young collections would otherwise traverse the large lists and dicts
    being built again and again (half the time of fusing a 100,000-task
    chain). Only graph bookkeeping runs inside; no user code.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _fuse(graph: Mapping[Any, Any], outputs: set[Any], max_length: int) -> MutableMapping[Any, Any]:
    all_deps = list(map(dependencies_of, graph.values()))
    n_dependents = Counter(chain.from_iterable(all_deps))
    annotated = any(map(_annotations, graph.values()))
    handles = {t for t in set(map(type, graph.values())) if getattr(t, "__shoal_external__", 0)}
    external = {k for k, node in graph.items() if type(node) in handles} if handles else ()

    # parent[k] = d when d is fused into its only dependent k.
    parent: dict[Any, Any] = {}
    for (k, node), ds in zip(graph.items(), all_deps):
        if len(ds) == 1:
            d = ds[0]
            if n_dependents[d] == 1 and d not in outputs and d not in external:
                if annotated and _annotations(graph.get(d)) != _annotations(node):
                    continue
                parent[k] = d  # d missing from the graph is checked per chain below
    # The output starts as a copy (a layered graph stays layered) without the
    # fused links; each chain's end key then gets its fused node.
    out = graph.copy() if type(graph) is LayeredGraph else dict(graph)
    if not parent:
        return out
    inner_links = set(parent.values())
    next_link = parent.get
    if type(out) is LayeredGraph:
        out.drop(inner_links)
    else:
        for k in inner_links:
            out.pop(k, None)
    # the nodes of every key on a chain, in one sequential pass (cheaper than
    # looking each up in a layered graph)
    on_chain = {k: node for k, node in graph.items() if k in parent or k in inner_links}

    for k in parent:
        if k in inner_links:
            continue  # not the end of its chain
        links = [k]
        cur = parent[k]
        while cur is not _END:
            links.append(cur)
            cur = next_link(cur, _END)
        if links[-1] not in on_chain:
            links.pop()  # a reference to a missing key: left for validation to report
        links.reverse()
        # links[0] is the head, links[-1] == k; cut into segments of max_length
        for start in range(0, len(links), max_length):
            segment = links[start : start + max_length]
            end = segment[-1]
            if len(segment) == 1:
                out[end] = on_chain[end]
                continue
            inner: list[Any] = []
            for s in segment:
                node = on_chain[s]
                if type(node) is Fused:
                    inner.extend(node.tasks)
                else:
                    inner.append((s, node))
            out[end] = Fused(end, inner, _annotations(on_chain[end]))
    return out
