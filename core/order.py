"""Static task priorities that keep memory low.

Policy: a depth-first, post-order walk from the requested outputs. A task is
placed right after the last of its dependencies, and a dependency subtree is
finished before the walk moves to the next one, so the scheduler finishes one
branch before starting another. For a tree reduction of N blocks with fan-in
F this holds about F * log_F(N) results at once; independent chains run one
after another (or, with P threads, P at a time).

Dependencies are visited in the order they appear in the task's arguments, so
the result does not depend on how keys sort. The walk doubles as validation:
it raises ``CycleError`` and ``MissingKeyError`` with the keys involved.

    outputs:      z            order:  a0 a1 b0 -> a2 a3 b1 -> z
                /   \\                  (b0 is run before a2 is even read)
              b0     b1
             /  \\   /  \\
            a0  a1 a2  a3
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shoal.core.graph import CycleError, MissingKeyError
from shoal.core.task import Fused, Key, Ref, Task

__all__ = ["order", "order_keys"]


def order_keys(graph: Mapping, outputs: Iterable | None = None) -> list:
    """All keys of ``graph`` in execution order (see module docstring).

    ``outputs`` are the keys the caller wants; the walk starts from them, in
    that order, and then from any key not reached yet.

    >>> from shoal.core.task import Task, Ref
    >>> g = {"a": 1, "b": Task(abs, Ref("a")), "c": 2, "d": Task(max, Ref("b"), Ref("c"))}
    >>> order_keys(g, ["d"])
    ['a', 'b', 'c', 'd']
    """
    out: list = []
    done: set = set()
    on_path: set = set()
    append = out.append
    starts = list(outputs) if outputs is not None else []
    starts.extend(graph)
    for root in starts:
        if root in done:
            continue
        if root not in graph:
            raise MissingKeyError(root, None)
        path = [root]
        on_path.add(root)
        iters = [iter(_deps(graph[root]))]
        while iters:
            for d in iters[-1]:
                if d in done:
                    continue
                if d in on_path:
                    raise CycleError(path[path.index(d) :])
                try:
                    node = graph[d]
                except KeyError:
                    raise MissingKeyError(d, path[-1]) from None
                on_path.add(d)
                path.append(d)
                iters.append(iter(_deps(node)))
                break
            else:
                iters.pop()
                k = path.pop()
                on_path.discard(k)
                done.add(k)
                append(k)
    return out


def _deps(node) -> tuple:
    typ = type(node)
    if typ is Task or typ is Fused:
        return node.dependencies
    if typ is Ref:
        return (node.key,)
    return ()


def order(graph: Mapping, outputs: Iterable | None = None) -> dict[Key, int]:
    """Map each key to its priority: 0 runs first.

    >>> from shoal.core.task import Task, Ref
    >>> order({"a": 1, "b": Task(abs, Ref("a"))}, ["b"])
    {'a': 0, 'b': 1}
    """
    return {k: i for i, k in enumerate(order_keys(graph, outputs))}
