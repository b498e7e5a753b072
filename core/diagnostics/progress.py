"""A terminal progress bar for local computations.

The bar counts finished tasks against the total and shows the elapsed time
and the few largest key-prefix groups (``sum``, ``read-parquet``, ...), so a
million-task run reads as a handful of lines. A daemon thread redraws it every
``diagnostics.progress-interval`` seconds; the task hooks only bump counters.

    [########################----------------] 61% 6100/10000 | 2.3s
      random 4000/4000   sum 2000/5000   sum-aggregate 100/1000
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import IO, Any

from shoal.core import config
from shoal.core.diagnostics.callbacks import Callback
from shoal.core.utils import key_prefix

__all__ = ["ProgressBar"]


class ProgressBar(Callback):
    """Show progress of computations run inside ``with ProgressBar():``.

    >>> import io
    >>> from shoal import delayed
    >>> out = io.StringIO()
    >>> with ProgressBar(out=out, groups=1):
    ...     (delayed(1, name="one") + 1).compute()
    2
    >>> "100%" in out.getvalue()
    True
    """

    def __init__(
        self,
        width: int = 40,
        out: IO[str] | None = None,
        groups: int = 3,
        interval: float | None = None,
        minimum: float = 0.0,
    ):
        super().__init__()
        self.width = width
        self.out = out
        self.groups = groups
        self.interval = (
            interval if interval is not None else config.get("diagnostics.progress-interval")
        )
        self.minimum = minimum
        self.last_duration = 0.0
        self._total: Counter[Any] = Counter()
        self._group: dict[Any, Any] = {}
        self._done: Counter[Any] = Counter()
        self._ndone = 0
        self._ntotal = 0
        self._t0 = 0.0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._graph: dict[Any, Any] = {}
        self._depth = 0
        self._nesting = threading.Lock()

    def _stream(self) -> IO[str]:
        return self.out if self.out is not None else sys.stdout

    def start(self, graph: dict[Any, Any]) -> None:
        with self._nesting:
            self._depth += 1
            if self._depth > 1:  # a task computing something itself: follow the outer run
                return
        # the group of every key name, found once here so that posttask is a
        # lookup and a redraw costs O(groups), not O(tasks)
        group: dict[Any, Any] = {}
        total: Counter[Any] = Counter()
        for k in graph:
            name = k[0] if type(k) is tuple and k else k
            g = group.get(name)
            if g is None:
                g = group[name] = key_prefix(name)
            total[g] += 1
        self._graph = graph
        self._group = group
        self._total = total
        self._done = Counter()
        self._ntotal = len(graph)
        self._ndone = 0
        self._t0 = time.perf_counter()
        self._stop = threading.Event()  # one per run
        self._thread = threading.Thread(
            target=self._loop, args=(self._stop,), name="shoal-progress", daemon=True
        )
        self._thread.start()

    def posttask(self, key: Any, result: Any, worker: Any) -> None:
        if key not in self._graph:  # a task of a computation nested in a task
            return
        self._ndone += 1
        name = key[0] if type(key) is tuple and key else key
        group = self._group.get(name)
        self._done[group if group is not None else key_prefix(name)] += 1

    def finish(self, graph: dict[Any, Any], errored: bool) -> None:
        with self._nesting:
            self._depth -= 1
            if self._depth > 0:
                return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.last_duration = time.perf_counter() - self._t0
        if self.last_duration >= self.minimum:
            self._draw(final=True)
            self._stream().write("\n")
            self._stream().flush()

    def _loop(self, stop: threading.Event) -> None:
        # A terminal gets smooth redraws; a log file gets a line every few seconds.
        isatty = getattr(self._stream(), "isatty", lambda: False)()
        interval = self.interval if isatty else max(self.interval, 5.0)
        while not stop.wait(interval):
            if time.perf_counter() - self._t0 >= self.minimum:
                self._draw(final=False)

    def _group_text(self) -> str:
        done = self._done
        parts = [
            f"{prefix} {done[prefix]}/{total}"
            for prefix, total in self._total.most_common(self.groups)
        ]
        return "   ".join(parts)

    def _draw(self, final: bool) -> None:
        total = self._ntotal or 1
        done = self._ndone
        frac = min(done / total, 1.0)
        filled = int(self.width * frac)
        elapsed = time.perf_counter() - self._t0
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"\r[{bar}] {frac:4.0%} {done}/{self._ntotal} | {elapsed:.1f}s"
        if self.groups:
            line += " | " + self._group_text()
        stream = self._stream()
        stream.write(line)
        stream.flush()
