"""What the dashboard remembers over time, at a bounded cost per task.

The scheduler tells a ``LiveRecord`` of every task that finishes or fails
and calls ``tick`` about twice a second::

    worker message "task-finished" -> record.task_finished(...)   a counter; 1 in `every` kept
    worker message "task-erred"    -> record.task_erred(...)      the last ERRORS kept
    scheduler tick                 -> record.tick(now)            once a second: one sample of
                                                                  the cluster (O(workers + groups))

- The task stream is sampled: at most ``STREAM_RATE`` tasks a second are
  kept (``every`` adapts to the rate tasks finish at), in a ring of
  ``STREAM_SIZE`` entries, so a million tasks cost a few counter updates
  each and a few hundred kilobytes in all.
- The time series holds one sample a second for ``HISTORY`` seconds:
  worker memory (managed, unmanaged, spilled), tasks finished, processing,
  workers, bytes a second over the network.

>>> record = LiveRecord(tasks={})
>>> record.task_finished("tcp://w:1", "inc-0123456789abcdef", 0.5, now=10.0)
>>> [(e["prefix"], e["start"]) for e in record.stream_since(0)["tasks"]]
[('inc', 9.5)]
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

from shoal.core.utils import key_prefix

__all__ = ["LiveRecord", "STREAM_SIZE", "STREAM_RATE", "ERRORS", "HISTORY"]

STREAM_SIZE = 20_000  # task stream entries kept
STREAM_RATE = 100.0  # task stream entries kept per second, at most (3,000 in the 30 s a page draws)
ERRORS = 50  # last errors kept
HISTORY = 900  # seconds of time series kept (one sample a second)
TEXT_LIMIT = 20_000  # characters of one traceback or exception text kept


def _text(value: Any) -> str:
    """An exception or traceback as text (loaded if still pickled)."""
    load = getattr(value, "load", None)
    if load is not None:
        try:
            value = load()
        except Exception as e:  # a class the scheduler cannot import
            return f"<exception that cannot be loaded here: {type(e).__name__}: {e}>"
    if isinstance(value, BaseException):
        text = f"{type(value).__name__}: {value}"
    else:
        text = "" if value is None else str(value)
    return text[:TEXT_LIMIT]


class LiveRecord:
    """Task stream, errors and time series of one scheduler (see the module
    docstring); ``tasks`` is the scheduler state's key -> task record map."""

    def __init__(self, tasks: dict[Any, Any]) -> None:
        self._tasks = tasks
        self.stream: deque[tuple[int, float, float, str, str, str]] = deque(maxlen=STREAM_SIZE)
        self._seq = 0  # sequence number of the last stream entry
        self.every = 1  # keep one finished task in `every`
        self._countdown = 1
        self.finished = 0  # tasks finished, all of them
        self.erred = 0
        self.errors: deque[dict[str, Any]] = deque(maxlen=ERRORS)
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._last_tick = 0.0
        self._finished_at_tick = 0

    # ---------------------------------------------- hot path (per task)

    def task_finished(self, worker: str, key: Any, duration: float, now: float = 0.0) -> None:
        """``key`` finished on ``worker`` after ``duration`` seconds of compute."""
        self.finished += 1
        self._countdown -= 1
        if self._countdown:
            return
        self._countdown = self.every
        self._keep(worker, key, duration, now or time.time(), "memory")

    def _keep(self, worker: str, key: Any, duration: float, now: float, status: str) -> None:
        ts = self._tasks.get(key)
        prefix = ts.prefix if ts is not None else key_prefix(key)
        self._seq += 1
        self.stream.append((self._seq, now - duration, now, worker, prefix, status))

    def task_erred(
        self, worker: str, key: Any, exception: Any, traceback: Any, now: float = 0.0
    ) -> None:
        """``key`` raised on ``worker``; kept with its traceback."""
        now = now or time.time()
        self.erred += 1
        self._keep(worker, key, 0.0, now, "erred")
        ts = self._tasks.get(key)
        self.errors.append(
            {
                "time": now,
                "key": str(key)[:200],
                "prefix": ts.prefix if ts is not None else key_prefix(key),
                "worker": worker,
                "exception": _text(exception),
                "traceback": _text(traceback),
            }
        )

    # ------------------------------------------------ once a second

    def tick(self, scheduler_state: Any, now: float = 0.0) -> None:
        """Take a sample of the cluster if a second has passed since the
        last one, and adapt the stream's sampling to the rate tasks finish at."""
        now = now or time.time()
        elapsed = now - self._last_tick
        if elapsed < 1.0:
            return
        rate = (self.finished - self._finished_at_tick) / elapsed if self._last_tick else 0.0
        self.every = max(1, math.ceil(rate / STREAM_RATE))
        self._countdown = min(self._countdown, self.every)
        self._last_tick = now
        self._finished_at_tick = self.finished
        sample = {
            "time": now,
            "finished": self.finished,
            "rate": rate,
            "managed": 0,
            "unmanaged": 0,
            "spilled": 0,
            "processing": 0,
            "workers": 0,
            "net_read": 0.0,
            "net_write": 0.0,
        }
        for ws in scheduler_state.workers.values():
            memory = ws.memory
            metrics = ws.metrics
            sample["managed"] += memory.get("managed", 0)
            sample["unmanaged"] += memory.get("unmanaged", 0)
            sample["spilled"] += memory.get("spilled", 0)
            sample["processing"] += len(ws.processing)
            sample["net_read"] += metrics.get("net_read", 0.0)
            sample["net_write"] += metrics.get("net_write", 0.0)
            sample["workers"] += 1
        self.history.append(sample)

    # ---------------------------------------------------------- reads

    def stream_since(self, seq: int, limit: int = 2_000) -> dict[str, Any]:
        """Stream entries after sequence number ``seq`` (at most ``limit``,
        the newest), and the sequence number to ask from next time."""
        out: list[tuple[int, float, float, str, str, str]] = []
        for entry in reversed(self.stream):
            if entry[0] <= seq or len(out) >= limit:
                break
            out.append(entry)
        out.reverse()
        return {
            "last": self._seq,
            "every": self.every,
            "finished": self.finished,
            "tasks": [
                {"start": e[1], "stop": e[2], "worker": e[3], "prefix": e[4], "status": e[5]}
                for e in out
            ],
        }

    def history_since(self, since: float) -> list[dict[str, Any]]:
        """Time series samples taken after ``since`` (a time.time() value)."""
        out = []
        for sample in reversed(self.history):
            if sample["time"] <= since:
                break
            out.append(sample)
        out.reverse()
        return out
