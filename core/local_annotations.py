"""What the local schedulers honour of task annotations, besides ``retries``.

- ``priority``: a plan whose tasks carry priorities is put in a new
  execution order: a topological order that, among the tasks ready at each
  step, takes the highest priority first and the static order second. The
  loop of ``local.py`` runs ready tasks by position, so it follows.
- ``concurrency``: ``{"pool": n}``: at most ``n`` tasks holding ``pool`` run
  at once in this process (over every computation running here, as the
  distributed scheduler counts over the cluster). A pool thread about to run
  such a task waits for a slot first; no task waits while holding a slot,
  so slots always come back.

``workers``, ``allow_other_workers`` and ``resources`` mean nothing to one
process and are ignored here.

Finding annotations costs a pass over the plan (about 0.5 µs a task),
skipped until a task of this process got annotations (``task.ANNOTATED``).

>>> from shoal.core.task import Task, Ref
>>> keys, nodes = ["a", "b"], [Task(abs, -1), Task(abs, -2).annotate(priority=5)]
>>> reorder_by_priority(keys, nodes, [(), ()], [0, 0])[0]
['b', 'a']
"""

from __future__ import annotations

import contextlib
import heapq
import threading
from collections.abc import Iterator
from typing import Any

from shoal.core import task as _task
from shoal.core.task import Fused, Task

__all__ = ["reorder_by_priority", "pools_of", "holding", "priorities_of"]


def _annotations(node: Any) -> Any:
    typ = type(node)
    return node.annotations if typ is Task or typ is Fused else None


def priorities_of(nodes: list[Any]) -> list[int] | None:
    """The ``priority`` annotation of each node (0 without), or None if no
    node has one.

    >>> priorities_of([Task(abs, 1).annotate(priority=2), 3])
    [2, 0]
    """
    found: list[int] | None = None
    if not _task.ANNOTATED[0]:  # no task was ever annotated here: nothing to find
        return None
    for i, node in enumerate(nodes):
        ann = _annotations(node)
        if ann:
            p = ann.get("priority")
            if p:
                if found is None:
                    found = [0] * len(nodes)
                found[i] = int(p)
    return found


def reorder_by_priority(
    keys: list[Any], nodes: list[Any], deps: list[Any], refcount: list[int]
) -> tuple[list[Any], list[Any], list[Any], list[int]]:
    """The plan lists (see ``order.order_graph``) in the order that runs the
    highest priority ready task first; unchanged if no task has a priority."""
    prio = priorities_of(nodes)
    if prio is None:
        return keys, nodes, deps, refcount
    n = len(keys)
    waiting = [len(d) for d in deps]
    dependents: list[list[int]] = [[] for _ in range(n)]
    for i, ds in enumerate(deps):
        for d in ds:
            dependents[d].append(i)
    ready = [(-prio[i], i) for i in range(n) if not waiting[i]]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for j in dependents[i]:
            waiting[j] -= 1
            if not waiting[j]:
                heapq.heappush(ready, (-prio[j], j))
    position = [0] * n
    for new, old in enumerate(order):
        position[old] = new
    return (
        [keys[i] for i in order],
        [nodes[i] for i in order],
        [tuple(position[d] for d in deps[i]) for i in order],
        [refcount[i] for i in order],
    )


def pools_of(nodes: list[Any]) -> dict[int, dict[str, int]] | None:
    """Position -> ``concurrency`` annotation, for the nodes that have one
    (None if none has).

    >>> pools_of([Task(abs, 1), Task(abs, 2).annotate(concurrency={"io": 2})])
    {1: {'io': 2}}
    """
    found: dict[int, dict[str, int]] = {}
    if not _task.ANNOTATED[0]:
        return None
    for i, node in enumerate(nodes):
        ann = _annotations(node)
        if ann:
            pools = ann.get("concurrency")
            if pools:
                found[i] = pools
    return found or None


_lock = threading.Lock()
_semaphores: dict[tuple[str, int], threading.Semaphore] = {}


def _semaphore(pool: str, limit: int) -> threading.Semaphore:
    key = (pool, int(limit))
    with _lock:
        sem = _semaphores.get(key)
        if sem is None:
            sem = _semaphores[key] = threading.Semaphore(int(limit))
        return sem


@contextlib.contextmanager
def holding(pools: dict[str, int]) -> Iterator[None]:
    """Hold one slot of each pool (this process's; pools taken in name order,
    so two tasks never wait on each other).

    >>> with holding({"io": 1}):
    ...     _semaphore("io", 1).acquire(blocking=False)
    False
    """
    sems = [_semaphore(p, n) for p, n in sorted(pools.items())]
    taken: list[threading.Semaphore] = []
    try:
        for sem in sems:
            sem.acquire()
            taken.append(sem)
        yield
    finally:
        for sem in reversed(taken):
            sem.release()
