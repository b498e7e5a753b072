"""Graph utilities: dependencies, dependents, topological order, cull, validation.

Every function takes a graph (``dict`` of key -> node, see ``task.py``) and
returns plain data; none mutates its input. Traversals are iterative so a
chain of a million tasks does not hit the recursion limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shoal.core.task import Key, Ref, dependencies_of

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

    def __init__(self, cycle: list[Any]):
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
        return str(self.args[0])


def flatten_keys(keys: Any) -> list[Any]:
    """The keys in a nested list structure, in order.

    >>> flatten_keys([["a", ("b", 0)], "c"])
    ['a', ('b', 0), 'c']
    """
    if type(keys) is not list:
        return [keys]
    out: list[Any] = []
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


def keys_to_refs(keys: Any) -> Any:
    """A nested list of keys as the same structure of ``Ref``s (the argument of
    a task that receives the results of all those keys).

    >>> keys_to_refs([["a"], ("b", 0)])
    [[Ref('a')], Ref(('b', 0))]
    """
    if type(keys) is list:
        return [keys_to_refs(k) for k in keys]
    return Ref(keys)


def pack_results(keys: Any, results: Mapping[Any, Any]) -> Any:
    """The results of a nested list of keys, in the same structure.

    >>> pack_results([["a"], "b"], {"a": 1, "b": 2})
    [[1], 2]
    """
    if type(keys) is list:
        return [pack_results(k, results) for k in keys]
    return results[keys]


def get_dependencies(graph: Mapping[Any, Any]) -> dict[Key, tuple[Any, ...]]:
    """Map each key to the keys it depends on.

    >>> from shoal.core.task import Task, Ref
    >>> get_dependencies({"a": 1, "b": Task(abs, Ref("a"))})
    {'a': (), 'b': ('a',)}
    """
    return {k: dependencies_of(v) for k, v in graph.items()}


def get_dependents(
    graph: Mapping[Any, Any], dependencies: Mapping[Any, Any] | None = None
) -> dict[Key, list[Any]]:
    """Map each key to the keys that depend on it.

    >>> from shoal.core.task import Task, Ref
    >>> get_dependents({"a": 1, "b": Task(abs, Ref("a"))})
    {'a': ['b'], 'b': []}
    """
    deps = dependencies if dependencies is not None else get_dependencies(graph)
    out: dict[Key, list[Any]] = {k: [] for k in graph}
    for k, ds in deps.items():
        for d in ds:
            if d in out:
                out[d].append(k)
    return out


def cull(graph: Mapping[Any, Any], keys: Iterable[Any]) -> dict[Any, Any]:
    """The part of ``graph`` needed to compute ``keys``.

    Raises ``MissingKeyError`` naming the missing key and the task that asked.

    >>> from shoal.core.task import Task, Ref
    >>> sorted(cull({"a": 1, "b": Task(abs, Ref("a")), "c": 3}, ["b"]))
    ['a', 'b']
    """
    out: dict[Any, Any] = {}
    stack: list[Any] = []
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


def toposort(graph: Mapping[Any, Any], dependencies: Mapping[Any, Any] | None = None) -> list[Any]:
    """Keys in an order where every key comes after all its dependencies.

    Raises ``CycleError`` naming the keys on a cycle and ``MissingKeyError``
    naming a missing key and the task that needs it.

    >>> from shoal.core.task import Task, Ref
    >>> toposort({"b": Task(abs, Ref("a")), "a": 1})
    ['a', 'b']
    """
    deps = dependencies if dependencies is not None else get_dependencies(graph)
    order: list[Any] = []
    # 0 = unseen, 1 = on the current path, 2 = done
    state: dict[Any, Any] = {}
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


def validate(graph: Mapping[Any, Any], keys: Iterable[Any] = ()) -> None:
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
