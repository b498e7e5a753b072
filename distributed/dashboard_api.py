"""The dashboard's JSON API: plain data built from the scheduler's counters.

Every function here costs O(groups) or O(workers), never O(tasks): task
counts come from ``SchedulerState.groups`` (kept as tasks change state), the
task stream, errors and time series from ``LiveRecord``. Lists that grow
with the cluster are paged (workers) or capped (groups, stream).

=============================  ==================================================
``/api/v1/summary``            totals: tasks by state, workers, memory, throughput
``/api/v1/groups``             task groups: counts by state, progress, dependencies
``/api/v1/workers``            one page of workers, sorted, plus their distribution
``/api/v1/worker?address=``    one worker in detail
``/api/v1/task-stream?since=`` sampled task stream entries after a sequence number
``/api/v1/errors``             the last errors with their tracebacks
``/api/v1/history?since=``     cluster memory, throughput, network over time
=============================  ==================================================

>>> from shoal.distributed.scheduler import Scheduler
>>> summary(Scheduler(dashboard_address=None))["tasks"]["total"]
0
"""

from __future__ import annotations

import time
from typing import Any

from shoal.distributed.dashboard_groups import TASK_STATES

__all__ = [
    "summary",
    "groups",
    "workers_page",
    "worker_detail",
    "BadRequest",
    "WORKER_SORTS",
    "MAX_PAGE",
]

MAX_PAGE = 500  # workers per page, at most
LIVE_STATES = tuple(s for s in TASK_STATES if s != "forgotten")
WORKER_SORTS = ("name", "cpu", "memory", "processing", "queued", "in_memory", "spilled", "net")
HISTOGRAM_BINS = 20


class BadRequest(ValueError):
    """A query parameter out of range (answered with HTTP 400)."""


def _worker_row(ws: Any, now: float) -> dict[str, Any]:
    metrics = ws.metrics or {}
    memory = ws.memory or {}
    processing = len(ws.processing)
    executing = int(metrics.get("executing", min(processing, ws.nthreads)))
    return {
        "address": ws.address,
        "name": str(ws.name),
        "nthreads": ws.nthreads,
        "status": "retiring" if ws.retiring else ws.status,
        "cpu": float(metrics.get("cpu", 0.0)),
        "managed": int(memory.get("managed", 0)),
        "unmanaged": int(memory.get("unmanaged", 0)),
        "spilled": int(memory.get("spilled", 0)),
        "rss": int(memory.get("rss", metrics.get("memory", 0))),
        "memory_limit": int(ws.memory_limit or 0),
        "processing": processing,
        "running": min(executing, processing),
        "queued": max(0, processing - executing),
        "in_memory": len(ws.has_what),
        "nbytes": int(ws.nbytes),
        "net_read": float(metrics.get("net_read", 0.0)),
        "net_write": float(metrics.get("net_write", 0.0)),
        "tasks_run": int(metrics.get("tasks_run", 0)),
        "last_seen": max(0.0, now - ws.last_seen),
    }


def _sort_value(row: dict[str, Any], sort: str) -> Any:
    if sort == "name":
        return (row["name"], row["address"])
    if sort == "memory":
        return row["rss"]
    if sort == "net":
        return row["net_read"] + row["net_write"]
    return row[sort]


def _histogram(values: list[float], bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """Counts of ``values`` in ``bins`` equal bins from 0 to their maximum."""
    top = max(values, default=0.0)
    counts = [0] * bins
    if top > 0:
        for v in values:
            counts[min(bins - 1, int(v / top * bins))] += 1
    else:
        counts[0] = len(values)
    return {"max": top, "counts": counts}


def summary(scheduler: Any) -> dict[str, Any]:
    """Cluster totals (O(workers + groups))."""
    state = scheduler.state
    live = scheduler.live
    totals = state.groups.totals()
    by_state = {s: totals[s] for s in LIVE_STATES}
    workers = state.workers.values()
    mem = {"managed": 0, "unmanaged": 0, "spilled": 0, "limit": 0}
    threads = processing = in_memory = paused = 0
    cpu = 0.0
    for ws in workers:
        memory = ws.memory
        mem["managed"] += memory.get("managed", 0)
        mem["unmanaged"] += memory.get("unmanaged", 0)
        mem["spilled"] += memory.get("spilled", 0)
        mem["limit"] += ws.memory_limit or 0
        threads += ws.nthreads
        processing += len(ws.processing)
        in_memory += len(ws.has_what)
        paused += ws.status == "paused"
        cpu += float((ws.metrics or {}).get("cpu", 0.0))
    n = len(state.workers)
    last = live.history[-1] if live.history else None
    dashboard = getattr(scheduler, "dashboard", None)
    return {
        "address": scheduler.address,
        "time": time.time(),
        "tasks": {
            "total": len(state.tasks),
            "by_state": by_state,
            "forgotten": totals["forgotten"],
            "finished": live.finished,
            "erred": live.erred,
            "rate": last["rate"] if last else 0.0,
        },
        "groups": len(state.groups),
        "workers": {
            "count": n,
            "threads": threads,
            "processing": processing,
            "in_memory": in_memory,
            "paused": paused,
            "cpu_mean": cpu / n if n else 0.0,
        },
        "memory": mem,
        "clients": len([c for c in state.clients if c not in state.holds]),
        "transitions": state.transition_count,
        "stream_every": live.every,
        "dashboard_cpu": dashboard.cpu_seconds if dashboard is not None else 0.0,
    }


def groups(scheduler: Any, limit: int = 100) -> dict[str, Any]:
    """The task groups, those with live tasks first (in the order they were
    created), then finished ones, newest first; at most ``limit``, the rest
    summed up in ``others``."""
    if limit < 1:
        raise BadRequest(f"limit should be a positive number of groups, got {limit}")
    alive: list[Any] = []
    gone: list[Any] = []
    for g in scheduler.state.groups:
        (gone if g.counts["forgotten"] == g.total else alive).append(g)
    alive.sort(key=lambda g: g.order)
    gone.sort(key=lambda g: -g.order)
    chosen = (alive + gone)[:limit]
    rest = (alive + gone)[limit:]
    others = dict.fromkeys(TASK_STATES, 0)
    for g in rest:
        for s, n in g.counts.items():
            others[s] += n
    return {
        "groups": [g.as_dict() for g in chosen],
        "others": {"groups": len(rest), "counts": others},
        "total": len(alive) + len(gone),
    }


def workers_page(
    scheduler: Any, offset: int = 0, limit: int = 50, sort: str = "name", reverse: bool = False
) -> dict[str, Any]:
    """``limit`` workers from ``offset`` in ``sort`` order, with aggregates
    and histograms over all of them (so 1,000 workers show as one chart and
    one page of rows)."""
    if sort not in WORKER_SORTS:
        raise BadRequest(f"sort should be one of {', '.join(WORKER_SORTS)}, got {sort!r}")
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit should be between 1 and {MAX_PAGE}, got {limit}")
    if offset < 0:
        raise BadRequest(f"offset should be 0 or more, got {offset}")
    now = time.monotonic()
    rows = [_worker_row(ws, now) for ws in scheduler.state.workers.values()]
    rows.sort(key=lambda r: _sort_value(r, sort), reverse=reverse)
    return {
        "total": len(rows),
        "offset": offset,
        "limit": limit,
        "sort": sort,
        "workers": rows[offset : offset + limit],
        "histograms": {
            "cpu": _histogram([r["cpu"] for r in rows]),
            "memory": _histogram([float(r["rss"]) for r in rows]),
            "processing": _histogram([float(r["processing"]) for r in rows]),
        },
    }


def worker_detail(scheduler: Any, address: str, keys: int = 20) -> dict[str, Any]:
    """One worker: its row, a few keys it runs and holds, its recent tasks."""
    ws = scheduler.state.workers.get(address)
    if ws is None:
        by_name = [w for w in scheduler.state.workers.values() if str(w.name) == address]
        if not by_name:
            raise KeyError(address)
        ws = by_name[0]
    row = _worker_row(ws, time.monotonic())
    processing: list[str] = []
    for ts in ws.processing:
        if len(processing) >= keys:
            break
        processing.append(str(ts.key)[:200])
    held: list[dict[str, Any]] = []
    for ts in ws.has_what:
        if len(held) >= keys:
            break
        held.append({"key": str(ts.key)[:200], "nbytes": ts.nbytes})
    info = scheduler.worker_info.get(ws.address, {})
    recent = [
        {"start": e[1], "stop": e[2], "prefix": e[4], "status": e[5]}
        for e in list(scheduler.live.stream)[-2000:]
        if e[3] == ws.address
    ][-200:]
    return {
        **row,
        "nanny": info.get("nanny", ""),
        "pid": info.get("pid", 0),
        "executing_keys": [str(k)[:200] for k in ws.executing[:keys]],
        "processing_keys": processing,
        "held_keys": held,
        "metrics": {k: v for k, v in (ws.metrics or {}).items() if k != "executing_keys"},
        "recent_tasks": recent,
    }
