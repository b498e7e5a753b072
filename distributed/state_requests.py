"""Two requests that reach into the scheduler's state: ``Client.retry`` (run
erred tasks again) and a worker's thread count changing (``secede``).

The erred tasks named, with the erred tasks they depend on (the ones to
blame), go back to ``waiting``, dependencies first; the scheduler then
tells the clients that want them of their new outcome as for any task.

>>> import asyncio
>>> from shoal.distributed.scheduler import Scheduler
>>> async def demo():
...     async with Scheduler() as s:
...         return retry(s, None, ["no-such-key"])
>>> asyncio.run(demo())
[]
"""

from __future__ import annotations

from typing import Any

from shoal.distributed.scheduler_events import FreeKeys

__all__ = ["retry"]


def _erred_closure(state: Any, keys: list) -> list:
    """The erred tasks among ``keys`` and their erred dependencies,
    dependencies first."""
    seen: set = set()
    out: list = []
    stack = [(state.tasks[k], False) for k in keys if k in state.tasks]
    while stack:
        ts, expanded = stack.pop()
        if expanded:
            out.append(ts)
            continue
        if ts.key in seen or ts.state != "erred":
            continue
        seen.add(ts.key)
        stack.append((ts, True))
        stack.extend((dts, False) for dts in ts.dependencies)
    return out


def retry(scheduler: Any, comm: Any, keys: list) -> list:
    """Compute the erred ``keys`` again; returns the keys of every task retried."""
    state = scheduler.state
    stim = scheduler._next_stim("retry")
    erred = _erred_closure(state, list(keys))
    # workers forget the failures they hold (else they would report them again)
    out: list = (
        [
            FreeKeys(ws.address, [ts.key for ts in erred], stimulus_id=stim)
            for ws in state.workers.values()
        ]
        if erred
        else []
    )
    state._out = out
    try:
        recs: dict = {}
        for ts in erred:  # dependencies first: each finds its inputs on their way
            state._transition(ts, "waiting", stim, recs)
            state._transitions(recs, stim)
        if state.queued and state.workers:
            state._fill_workers(stim)
    finally:
        state._out = []
    scheduler.route(out)
    return [ts.key for ts in erred]


def threads_changed(scheduler: Any, address: str, delta: int) -> None:
    """A worker runs ``delta`` more threads: a task seceded (+1: a new pool
    thread took its place) or rejoined or ended seceded (-1). The scheduler
    counts them, so tasks waiting for room go to the new thread."""
    state = scheduler.state
    ws = state.workers.get(address)
    if ws is None:
        return
    ws.nthreads = max(1, ws.nthreads + int(delta))
    if delta > 0 and state.queued:
        out: list = []
        state._out = out
        try:
            state._fill_workers(scheduler._next_stim("threads-changed"))
        finally:
            state._out = []
        scheduler.route(out)
