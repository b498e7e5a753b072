"""Plans for moving results between workers: rebalancing, replication and
graceful retirement. Pure functions over the scheduler's records; the
scheduler state machine (``scheduler_state.py``) carries the plans out.

A worker's *load* here is the bytes of the results it holds (``nbytes``:
in memory or spilled, as the scheduler accounts them), plus what the plan
already sends it. A worker's *room* is ``fraction x memory_limit`` minus the
bytes it holds in memory (``managed``, as it last reported; its load if it
never did) and what the plan sends it; there is no bound without a limit.
``fraction`` is the ``target`` threshold, so a copy never makes a worker spill.

Rebalancing (Dask's semantics): the mean load of the workers is computed;
results move from workers above it to workers below it, largest results
first, each to the least loaded worker that lacks it and has room. A move
is made only if it brings both its sender and its recipient closer to the
mean, so the plan never oscillates and small differences are left alone.

>>> class W:
...     def __init__(self, name, nbytes, limit=0):
...         self.address, self.nbytes, self.memory_limit = name, nbytes, limit
...         self.has_what, self.memory = set(), {}
>>> class T:
...     def __init__(self, key, nbytes, holder):
...         self.key, self.nbytes, self.who_has = key, nbytes, (holder,)
...         holder.has_what.add(self)
>>> a, b = W("a", 300), W("b", 0)
>>> ts = [T(f"x{i}", 100, a) for i in range(3)]
>>> [(m.task.key in {"x0", "x1", "x2"}, m.sender.address, m.recipient.address)
...  for m in plan_rebalance([a, b], None, 0.6)]
[(True, 'a', 'b')]
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from shoal.distributed.scheduler_state import TaskState, WorkerState

__all__ = ["Move", "plan_rebalance", "plan_replicate", "plan_retirement", "NoRecipient"]


class Move(NamedTuple):
    """Copy ``task``'s result to ``recipient``; once it is there, drop the
    copy of ``sender`` (None: keep every copy, the plan adds one)."""

    task: TaskState
    sender: WorkerState | None
    recipient: WorkerState


class NoRecipient(ValueError):
    """Results must move off workers, but no other worker can take them."""


def _room(ws: WorkerState, load: dict[WorkerState, float], fraction: float | None) -> float:
    if not ws.memory_limit or fraction is None:
        return math.inf
    in_memory = float(ws.memory.get("managed", ws.nbytes))
    return fraction * ws.memory_limit - in_memory - (load[ws] - ws.nbytes)


def _emptiest(
    candidates: Iterable[WorkerState],
    load: dict[WorkerState, float],
    task: TaskState,
    fraction: float | None,
    planned: Collection[WorkerState] = (),
) -> WorkerState | None:
    """The least loaded candidate without a copy of ``task`` (held or
    ``planned``) that has room for it."""
    best = None
    best_load = math.inf
    size = task.nbytes
    for ws in candidates:
        lw = load[ws]
        if lw < best_load and ws not in task.who_has and ws not in planned:
            if size <= _room(ws, load, fraction):
                best, best_load = ws, lw
    return best


def plan_rebalance(
    workers: list[WorkerState],
    tasks: Collection[TaskState] | None,
    fraction: float | None,
) -> list[Move]:
    """Moves that even out the load of ``workers`` (see module docstring);
    only ``tasks`` move if given (None: any result the senders hold)."""
    if len(workers) < 2:
        return []
    load: dict[WorkerState, float] = {ws: float(ws.nbytes) for ws in workers}
    mean = sum(load.values()) / len(workers)
    recipients = [ws for ws in workers if load[ws] < mean]
    moves: list[Move] = []
    for sender in sorted((ws for ws in workers if load[ws] > mean), key=load.__getitem__)[::-1]:
        held = sender.has_what if tasks is None else [ts for ts in tasks if sender in ts.who_has]
        for ts in sorted(held, key=_size, reverse=True):
            excess = load[sender] - mean
            size = ts.nbytes
            if excess <= 0:
                break
            if not size or size >= 2 * excess:
                continue  # it would leave the sender further below the mean than it is above
            # the recipient must end closer to the mean too: below mean + (mean - its load)
            best = None
            for ws in recipients:
                if ws in ts.who_has or size > _room(ws, load, fraction):
                    continue
                if size < 2 * (mean - load[ws]) and (best is None or load[ws] < load[best]):
                    best = ws
            if best is None:
                continue
            moves.append(Move(ts, sender, best))
            load[sender] -= size
            load[best] += size
    return moves


def plan_replicate(
    tasks: Iterable[TaskState],
    n: int | None,
    workers: list[WorkerState],
    fraction: float | None,
) -> tuple[list[Move], list[tuple[TaskState, WorkerState]]]:
    """Copies to add (to the least loaded of ``workers`` with room) and
    copies to drop (from the most loaded holders) so each task is held by
    ``n`` workers (all of ``workers`` if None; at least one copy stays)."""
    load: dict[WorkerState, float] = {ws: float(ws.nbytes) for ws in workers}
    add: list[Move] = []
    drop: list[tuple[TaskState, WorkerState]] = []
    for ts in tasks:
        want = len(workers) if n is None else max(1, n)
        holders = list(ts.who_has)
        planned: list[WorkerState] = []
        for _ in range(want - len(holders)):
            ws = _emptiest(workers, load, ts, fraction, planned)
            if ws is None:
                break  # no worker has room for another copy
            add.append(Move(ts, None, ws))
            load[ws] += ts.nbytes
            planned.append(ws)
        if n is not None and len(holders) > want:
            by_load = sorted(holders, key=lambda w: load.get(w, float(w.nbytes)), reverse=True)
            for ws in by_load[: len(holders) - want]:
                drop.append((ts, ws))
                if ws in load:
                    load[ws] -= ts.nbytes
    return add, drop


def plan_retirement(
    retiring: Collection[WorkerState],
    others: list[WorkerState],
    fraction: float | None,
) -> list[Move]:
    """Copies that leave no result held only by ``retiring`` workers: each
    goes to the least loaded of ``others`` with room (the least loaded one
    if none has room: closing must lose nothing, so the recipient spills).
    Raises ``NoRecipient`` if such results exist and ``others`` is empty."""
    load: dict[WorkerState, float] = {ws: float(ws.nbytes) for ws in others}
    moves: list[Move] = []
    for leaving in retiring:
        for ts in sorted(leaving.has_what, key=_size, reverse=True):
            if any(ws not in retiring for ws in ts.who_has):
                continue
            if not others:
                names = sorted(ws.address for ws in retiring)
                raise NoRecipient(f"no other running worker can take the results of {names}")
            best = _emptiest(others, load, ts, fraction)
            if best is None:  # nobody has room: the least loaded takes it (and spills)
                best = min(others, key=load.__getitem__)
            moves.append(Move(ts, None, best))
            load[best] += ts.nbytes
    return moves


def _size(ts: TaskState) -> int:
    return ts.nbytes
