"""Static task priorities that keep memory low.

Policy: a depth-first, post-order walk from the requested outputs. A task is
placed right after the last of its dependencies, and a dependency subtree is
finished before the walk moves to the next one, so the scheduler finishes one
branch before starting another. For a tree reduction of N blocks with fan-in
F this holds about F * log_F(N) results at once; independent chains run one
after another (or, with P threads, P at a time).

Dependencies are visited in the order they appear in the task's arguments, so
the result does not depend on how keys sort. The walk doubles as validation:
it raises ``CycleError`` and ``MissingKeyError`` with the keys involved. Started
from the outputs only, it is also the cull: ``order_graph`` does cull,
validation and order in this one walk and hands the local schedulers lists
indexed by position, which is most of their per-task cost.

    outputs:      z            order:  a0 a1 b0 -> a2 a3 b1 -> z
                /   \\                  (b0 is run before a2 is even read)
              b0     b1
             /  \\   /  \\
            a0  a1 a2  a3
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from shoal.core.graph import CycleError, MissingKeyError
from shoal.core.task import Key, dependencies_of

__all__ = ["order", "order_keys", "order_graph", "order_chunks"]

_MARK = object()  # on the walk's stack: the entries below are a key, its dependencies, its node
_ON_PATH = -1  # position of a key whose dependencies are being walked


def order_graph(
    graph: Mapping[Any, Any], outputs: Iterable[Any]
) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """Cull, validate and order ``graph`` for ``outputs`` in one walk.

    Returns four lists indexed by execution position: the keys needed for
    ``outputs`` in execution order (see module docstring), their nodes, the
    positions each node depends on (a tuple) and how many nodes depend on each.

    >>> from shoal.core.task import Task, Ref
    >>> g = {"a": 1, "b": Task(abs, Ref("a")), "c": 2, "d": Task(max, Ref("b"), Ref("c"))}
    >>> keys, nodes, deps, n_dependents = order_graph(g, ["d"])
    >>> keys, deps, n_dependents
    (['a', 'b', 'c', 'd'], [(), (0,), (), (1, 2)], [1, 1, 1, 0])
    """
    return _walk(graph, list(outputs), True)


def order_keys(graph: Mapping[Any, Any], outputs: Iterable[Any] | None = None) -> list[Any]:
    """All keys of ``graph`` in execution order (see module docstring).

    ``outputs`` are the keys the caller wants; the walk starts from them, in
    that order, and then from any key not reached yet.

    >>> from shoal.core.task import Task, Ref
    >>> g = {"a": 1, "b": Task(abs, Ref("a")), "c": 2, "d": Task(max, Ref("b"), Ref("c"))}
    >>> order_keys(g, ["d"])
    ['a', 'b', 'c', 'd']
    """
    roots = list(outputs) if outputs is not None else []
    roots.extend(graph)
    return _walk(graph, roots, False)[0]


def order_chunks(
    graph: Mapping[Any, Any], outputs: list[Any], chunk: int
) -> Iterator[tuple[list[Any], list[Any], list[Any]]]:
    """Yield ``(keys, nodes, deps)`` of at most ``chunk`` tasks each, in
    execution order (see module docstring); ``deps`` holds positions in the
    whole sequence. A client sends the first chunks of a big graph while the
    walk goes on; a missing key or a cycle may then raise after earlier chunks
    were yielded.

    The stack holds keys still to visit and, for each key being walked, the
    entries ``node, dependencies, key, _MARK``; a key is placed when its mark
    is popped, that is after all its dependencies (a leaf is placed at once).
    A key popped while still on the path closes a cycle.

    >>> from shoal.core.task import Task, Ref
    >>> g = {"a": 1, "b": Task(abs, Ref("a")), "c": 2, "d": Task(max, Ref("b"), Ref("c"))}
    >>> [(keys, deps) for keys, nodes, deps in order_chunks(g, ["d"], 3)]
    [(['a', 'b', 'c'], [(), (0,), ()]), (['d'], [(1, 2)])]
    """
    for k in outputs:
        if k not in graph:
            raise MissingKeyError(k, None)
    position: dict[Any, Any] = {}
    position_of = position.__getitem__
    setdefault = position.setdefault
    keys: list[Any] = []
    nodes: list[Any] = []
    deps: list[Any] = []
    placed = 0  # keys placed in earlier chunks
    stack = list(outputs)[::-1]
    push = stack.append
    pop = stack.pop
    while stack:
        key = pop()
        if key is _MARK:
            key = pop()
            ds = pop()
            position[key] = placed + len(keys)
            keys.append(key)
            nodes.append(pop())
            deps.append((position_of(ds[0]),) if len(ds) == 1 else tuple(map(position_of, ds)))
        else:
            n = placed + len(keys)
            state = setdefault(key, n)
            if state != n:
                if state == _ON_PATH:
                    raise CycleError(_path_from(stack, key))
                continue
            try:
                node = graph[key]
            except KeyError:
                raise MissingKeyError(key, _walking(stack)) from None
            ds = dependencies_of(node)
            if ds:
                position[key] = _ON_PATH
                push(node)
                push(ds)
                push(key)
                push(_MARK)
                if len(ds) == 1:
                    push(ds[0])
                else:
                    stack.extend(reversed(ds))
                continue
            keys.append(key)
            nodes.append(node)
            deps.append(())
        if len(keys) >= chunk:
            yield keys, nodes, deps
            placed += len(keys)
            keys, nodes, deps = [], [], []
    if keys or not placed:
        yield keys, nodes, deps


def _walk(
    graph: Mapping[Any, Any], roots: list[Any], index: bool
) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """The whole walk as one chunk of ``order_chunks``, plus (with ``index``)
    how many nodes depend on each."""
    ((keys, nodes, deps),) = order_chunks(graph, roots, sys.maxsize)
    n_dependents: list[Any] = []
    if index:
        n_dependents = [0] * len(keys)
        for ds in deps:
            for d in ds:
                n_dependents[d] += 1
    return keys, nodes, deps, n_dependents


def _walking(stack: list[Any]) -> Any:
    """The key whose dependencies are being pushed: the one under the top mark."""
    for i in range(len(stack) - 1, 0, -1):
        if stack[i] is _MARK:
            return stack[i - 1]
    return None


def _path_from(stack: list[Any], key: Any) -> list[Any]:
    """The keys being walked, from ``key`` to the innermost: a cycle."""
    path = [stack[i - 1] for i in range(1, len(stack)) if stack[i] is _MARK]
    return path[path.index(key) :]


def order(graph: Mapping[Any, Any], outputs: Iterable[Any] | None = None) -> dict[Key, int]:
    """Map each key to its priority: 0 runs first.

    >>> from shoal.core.task import Task, Ref
    >>> order({"a": 1, "b": Task(abs, Ref("a"))}, ["b"])
    {'a': 0, 'b': 1}
    """
    return {k: i for i, k in enumerate(order_keys(graph, outputs))}
