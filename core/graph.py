"""Graph utilities: dependencies, dependents, topological order, cull, validation.

Every function takes a graph (``dict`` of key -> node, see ``task.py``) and
returns plain data; none mutates its input. Traversals are iterative so a
chain of a million tasks does not hit the recursion limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shoal.core.task import Key, dependencies_of

__all__ = [
    "CycleError",
    "MissingKeyError",
    "get_dependencies",
    "get_dependents",
    "toposort",
    "cull",
    "validate",
    "flatten_keys",
]


class CycleError(ValueError):
    """The graph has a cycle; ``cycle`` lists the keys on it in order."""

    def __init__(self, cycle: list):
        self.cycle = cycle
        path = " -> ".join(repr(k) for k in cycle + cycle[:1])
        super().__init__(f"the task graph has a cycle: {path}")


class MissingKeyError(KeyError):
    """A task refers to a key that is not in the graph."""

    def __init__(self, missing: Key, needed_by: Key | None):
        self.missing = missing
        self.needed_by = needed_by
        if needed_by is None:
            msg = f"key {missing!r} was requested but is not in the graph"
        else:
            msg = f"task {needed_by!r} depends on key {missing!r}, which is not in the graph"
        super().__init__(msg)

    def __str__(self) -> str:
        return self.args[0]


def flatten_keys(keys: Any) -> list:
    """The keys in a nested list structure, in order.

    >>> flatten_keys([["a", ("b", 0)], "c"])
    ['a', ('b', 0), 'c']
    """
    if type(keys) is not list:
        return [keys]
    out: list = []
    stack = [iter(keys)]
    while stack:
        for item in stack[-1]:
            if type(item) is list:
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def get_dependencies(graph: Mapping) -> dict[Key, tuple]:
    """Map each key to the keys it depends on.

    >>> from shoal.core.task import Task, Ref
    >>> get_dependencies({"a": 1, "b": Task(abs, Ref("a"))})
    {'a': (), 'b': ('a',)}
    """
    return {k: dependencies_of(v) for k, v in graph.items()}


def get_dependents(graph: Mapping, dependencies: Mapping | None = None) -> dict[Key, list]:
    """Map each key to the keys that depend on it.

    >>> from shoal.core.task import Task, Ref
    >>> get_dependents({"a": 1, "b": Task(abs, Ref("a"))})
    {'a': ['b'], 'b': []}
    """
    deps = dependencies if dependencies is not None else get_dependencies(graph)
    out: dict[Key, list] = {k: [] for k in graph}
    for k, ds in deps.items():
        for d in ds:
            if d in out:
                out[d].append(k)
    return out


def cull(graph: Mapping, keys: Iterable) -> dict:
    """The part of ``graph`` needed to compute ``keys``.

    Raises ``MissingKeyError`` naming the missing key and the task that asked.

    >>> from shoal.core.task import Task, Ref
    >>> sorted(cull({"a": 1, "b": Task(abs, Ref("a")), "c": 3}, ["b"]))
    ['a', 'b']
    """
    out: dict = {}
    stack: list = []
    for k in keys:
        if k not in graph:
            raise MissingKeyError(k, None)
        if k not in out:
            out[k] = graph[k]
            stack.append(k)
    while stack:
        k = stack.pop()
        for d in dependencies_of(out[k]):
            if d not in out:
                try:
                    out[d] = graph[d]
                except KeyError:
                    raise MissingKeyError(d, k) from None
                stack.append(d)
    return out


def toposort(graph: Mapping, dependencies: Mapping | None = None) -> list:
    """Keys in an order where every key comes after all its dependencies.

    Raises ``CycleError`` naming the keys on a cycle and ``MissingKeyError``
    naming a missing key and the task that needs it.

    >>> from shoal.core.task import Task, Ref
    >>> toposort({"b": Task(abs, Ref("a")), "a": 1})
    ['a', 'b']
    """
    deps = dependencies if dependencies is not None else get_dependencies(graph)
    order: list = []
    # 0 = unseen, 1 = on the current path, 2 = done
    state: dict = {}
    for root in graph:
        if state.get(root) == 2:
            continue
        state[root] = 1
        path = [root]
        iters = [iter(deps[root])]
        while iters:
            for d in iters[-1]:
                s = state.get(d)
                if s == 2:
                    continue
                if s == 1:
                    raise CycleError(path[path.index(d) :])
                if d not in graph:
                    raise MissingKeyError(d, path[-1])
                state[d] = 1
                path.append(d)
                iters.append(iter(deps[d]))
                break
            else:
                iters.pop()
                done = path.pop()
                state[done] = 2
                order.append(done)
    return order


def validate(graph: Mapping, keys: Iterable = ()) -> None:
    """Raise a clear error if ``graph`` has a cycle, refers to a missing key, or
    lacks a requested key; return None otherwise.

    >>> from shoal.core.task import Task, Ref
    >>> validate({"a": Task(abs, Ref("b"))})
    Traceback (most recent call last):
    ...
    shoal.core.graph.MissingKeyError: task 'a' depends on key 'b', which is not in the graph
    """
    for k in keys:
        if k not in graph:
            raise MissingKeyError(k, None)
    toposort(graph)
