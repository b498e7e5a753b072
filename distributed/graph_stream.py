"""Cull, validate and order a graph in chunks, so sending can start at once.

``order_chunks`` yields the same keys, nodes and dependency positions as
``shoal.core.order.order_graph`` (the same depth-first, post-order walk from
the outputs: a key is placed right after its last dependency), but a chunk
at a time: the client sends the first tasks of a million-task graph while
the walk goes on. A missing key or a cycle raises the same errors, possibly
after earlier chunks were yielded (the client then withdraws what it sent).

>>> from shoal.core.task import Task, Ref
>>> g = {"a": 1, "b": Task(abs, Ref("a")), "c": 2, "d": Task(max, Ref("b"), Ref("c"))}
>>> [(keys, deps) for keys, nodes, deps in order_chunks(g, ["d"], 3)]
[(['a', 'b', 'c'], [(), (0,), ()]), (['d'], [(1, 2)])]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from shoal.core.graph import CycleError, MissingKeyError
from shoal.core.task import dependencies_of

__all__ = ["order_chunks"]

_MARK = object()  # on the stack: the entries below are a key, its dependencies, its node
_ON_PATH = -1  # position of a key whose dependencies are being walked


def order_chunks(graph: Mapping, outputs: list, chunk: int) -> Iterator[tuple[list, list, list]]:
    """Yield ``(keys, nodes, deps)`` of at most ``chunk`` tasks each, in
    execution order; ``deps`` holds positions in the whole sequence."""
    for k in outputs:
        if k not in graph:
            raise MissingKeyError(k, None)
    position: dict = {}
    position_of = position.__getitem__
    setdefault = position.setdefault
    keys: list = []
    nodes: list = []
    deps: list = []
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


def _walking(stack: list):
    """The key whose dependencies are being pushed: the one under the top mark."""
    for i in range(len(stack) - 1, 0, -1):
        if stack[i] is _MARK:
            return stack[i - 1]
    return None


def _path_from(stack: list, key) -> list:
    """The keys being walked, from ``key`` to the innermost: a cycle."""
    path = [stack[i - 1] for i in range(1, len(stack)) if stack[i] is _MARK]
    return path[path.index(key) :]
