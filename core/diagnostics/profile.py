"""Profilers: what ran where and when, and what it cost the machine.

``Profiler`` records one ``TaskRecord`` per task (key, start and end times,
the worker thread). ``ResourceProfiler`` samples the process's CPU percent and
resident memory (with its children, so the processes backend is included)
from a background thread at a fixed interval while computations run.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, NamedTuple

from shoal.core.diagnostics.callbacks import Callback

__all__ = ["Profiler", "ResourceProfiler", "TaskRecord", "ResourceRecord", "clock"]


def clock() -> float:
    """Seconds on the one clock every profiler uses (``time.perf_counter``).

    >>> a = clock(); b = clock()
    >>> 0 <= b - a < 1
    True
    """
    return time.perf_counter()


class TaskRecord(NamedTuple):
    """One task: its key, start and end on ``clock()``, and the thread that ran it."""

    key: Any
    start: float
    end: float
    worker: Any


class ResourceRecord(NamedTuple):
    """One sample: its time on ``clock()``, resident memory and CPU percent."""

    time: float
    memory_bytes: int
    cpu_percent: float


class Profiler(Callback):
    """Record start and end time and worker of every task.

    >>> from shoal import delayed
    >>> with Profiler() as prof:
    ...     (delayed(1, name="one") + 1).compute(scheduler="sync", optimize_graph=False)
    2
    >>> sorted(r.key.split("-")[0] for r in prof.results)
    ['add', 'one']
    """

    def __init__(self) -> None:
        super().__init__()
        self.results: list[TaskRecord] = []
        self._starts: dict[Any, Any] = {}
        self._lock = threading.Lock()
        self._depth = 0

    def start(self, graph: dict[Any, Any]) -> None:
        with self._lock:
            self._depth += 1
            if self._depth == 1:  # not a computation nested in a task: start afresh
                self.results = []
                self._starts = {}

    def finish(self, graph: dict[Any, Any], errored: bool) -> None:
        with self._lock:
            self._depth -= 1

    def pretask(self, key: Any) -> None:
        self._starts[key] = clock()

    def posttask(self, key: Any, result: Any, worker: Any) -> None:
        end = clock()
        start = self._starts.pop(key, end)
        with self._lock:
            self.results.append(TaskRecord(key, start, end, worker))

    def clear(self) -> None:
        """Forget the recorded tasks."""
        self.results = []


class ResourceProfiler(Callback):
    """Sample CPU and memory every ``interval`` seconds during computations.

    >>> from shoal import delayed
    >>> import time
    >>> with ResourceProfiler(interval=0.01) as rprof:
    ...     delayed(time.sleep)(0.05).compute()
    >>> len(rprof.results) > 0 and rprof.results[0].memory_bytes > 0
    True
    """

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__()
        self.interval = interval
        self.results: list[ResourceRecord] = []
        self._stop = threading.Event()  # one per sampling run
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._depth = 0

    def start(self, graph: dict[Any, Any]) -> None:
        with self._lock:
            self._depth += 1
            if self._depth > 1:  # nested in a task: the outer run is being sampled
                return
            import psutil  # here, not in the thread: an import there crawls while a task holds the GIL

            proc = psutil.Process(os.getpid())
            proc.cpu_percent()
            children = proc.children(recursive=True)
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._sample,
                args=(self._stop, proc, children),
                name="shoal-resources",
                daemon=True,
            )
            self._thread.start()

    def finish(self, graph: dict[Any, Any], errored: bool) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth > 0:
                return
            thread, self._thread = self._thread, None
            stop = self._stop
        stop.set()
        if thread is not None:
            thread.join()

    def _sample(self, stop: threading.Event, proc: Any, children: list[Any]) -> None:
        import psutil

        listed_at = time.monotonic()
        while True:
            mem = proc.memory_info().rss
            cpu = proc.cpu_percent()
            # Listing children scans /proc and, while a task holds the GIL, costs
            # many GIL hand-offs: refresh the list once a second only.
            now = time.monotonic()
            if now - listed_at > 1.0:
                children = proc.children(recursive=True)
                listed_at = now
            for child in children:
                try:
                    mem += child.memory_info().rss
                except psutil.Error:
                    pass
            self.results.append(ResourceRecord(clock(), mem, cpu))
            if stop.wait(self.interval):
                return

    def clear(self) -> None:
        """Forget the samples."""
        self.results = []
