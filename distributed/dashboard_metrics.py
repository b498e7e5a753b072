"""Prometheus metrics of a scheduler at ``/metrics`` (text exposition format 0.0.4).

Names follow dask's where dask has one, with ``shoal_`` for ``dask_``
(``dask_scheduler_tasks{state=...}`` is ``shoal_scheduler_tasks{state=...}``).
Built from the same counters as the pages: O(workers + groups) per scrape.

>>> from shoal.distributed.scheduler import Scheduler
>>> text = prometheus_text(Scheduler(dashboard_address=None))
>>> [line for line in text.splitlines() if line.startswith("shoal_scheduler_workers")][:1]
['shoal_scheduler_workers{state="running"} 0']
"""

from __future__ import annotations

from typing import Any

from shoal.distributed.dashboard_api import LIVE_STATES

__all__ = ["prometheus_text", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, **labels: Any) -> None:
        if labels:
            inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{inner}}} {_number(value)}")
        else:
            self.lines.append(f"{name} {_number(value)}")


def prometheus_text(scheduler: Any) -> str:
    """The metrics of ``scheduler`` (a ``Scheduler``) in Prometheus' text format."""
    state = scheduler.state
    live = scheduler.live
    w = _Writer()
    w.family("shoal_scheduler_clients", "gauge", "Clients connected.")
    w.sample("shoal_scheduler_clients", len([c for c in state.clients if c not in state.holds]))

    statuses = {"running": 0, "paused": 0, "retiring": 0}
    for ws in state.workers.values():
        statuses["retiring" if ws.retiring else ws.status] += 1
    w.family("shoal_scheduler_workers", "gauge", "Workers by status.")
    for status, n in statuses.items():
        w.sample("shoal_scheduler_workers", n, state=status)

    totals = state.groups.totals()
    w.family("shoal_scheduler_tasks", "gauge", "Tasks the scheduler holds, by state.")
    for s in LIVE_STATES:
        w.sample("shoal_scheduler_tasks", totals[s], state=s)
    w.family("shoal_scheduler_tasks_forgotten_total", "counter", "Tasks forgotten.")
    w.sample("shoal_scheduler_tasks_forgotten_total", totals["forgotten"])
    w.family("shoal_scheduler_tasks_finished_total", "counter", "Tasks that finished computing.")
    w.sample("shoal_scheduler_tasks_finished_total", live.finished)
    w.family("shoal_scheduler_tasks_erred_total", "counter", "Tasks that raised on a worker.")
    w.sample("shoal_scheduler_tasks_erred_total", live.erred)
    w.family("shoal_scheduler_transitions_total", "counter", "Task state transitions.")
    w.sample("shoal_scheduler_transitions_total", state.transition_count)

    groups = list(state.groups)
    w.family("shoal_scheduler_prefix_tasks", "gauge", "Tasks by key prefix and state.")
    for g in groups:
        for s, n in g.counts.items():
            if n:
                w.sample("shoal_scheduler_prefix_tasks", n, task_prefix_name=g.name, state=s)
    w.family(
        "shoal_scheduler_tasks_compute_seconds_total",
        "counter",
        "Seconds of compute of the finished tasks, by key prefix.",
    )
    for g in groups:
        w.sample("shoal_scheduler_tasks_compute_seconds_total", g.duration, task_prefix_name=g.name)
    w.family(
        "shoal_scheduler_tasks_output_bytes_total",
        "counter",
        "Bytes of the results of the finished tasks, by key prefix.",
    )
    for g in groups:
        w.sample(
            "shoal_scheduler_tasks_output_bytes_total", g.nbytes_total, task_prefix_name=g.name
        )

    memory = {"managed": 0, "unmanaged": 0, "spilled": 0}
    for ws in state.workers.values():
        for kind in memory:
            memory[kind] += ws.memory.get(kind, 0)
    w.family("shoal_cluster_memory_bytes", "gauge", "Memory of all workers, by type.")
    for kind, n in memory.items():
        w.sample("shoal_cluster_memory_bytes", n, type=kind)

    w.family("shoal_worker_memory_bytes", "gauge", "Memory of each worker, by type.")
    for ws in state.workers.values():
        for kind in memory:
            w.sample(
                "shoal_worker_memory_bytes", ws.memory.get(kind, 0), worker=ws.address, type=kind
            )
    w.family("shoal_worker_tasks", "gauge", "Tasks of each worker: processing, or held in memory.")
    for ws in state.workers.values():
        w.sample("shoal_worker_tasks", len(ws.processing), worker=ws.address, state="processing")
        w.sample("shoal_worker_tasks", len(ws.has_what), worker=ws.address, state="memory")
    w.family("shoal_worker_cpu_percent", "gauge", "CPU use of each worker's process.")
    for ws in state.workers.values():
        w.sample(
            "shoal_worker_cpu_percent", float((ws.metrics or {}).get("cpu", 0.0)), worker=ws.address
        )

    dashboard = getattr(scheduler, "dashboard", None)
    w.family(
        "shoal_scheduler_dashboard_cpu_seconds_total",
        "counter",
        "Scheduler CPU seconds spent serving the dashboard.",
    )
    w.sample(
        "shoal_scheduler_dashboard_cpu_seconds_total",
        dashboard.cpu_seconds if dashboard is not None else 0.0,
    )
    return "\n".join(w.lines) + "\n"
