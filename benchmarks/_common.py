"""Helpers shared by the ``bench_*.py`` scripts: memory sampling, best-of-N
timing, running one system in a fresh subprocess, and result lines.

The scripts run with ``python -P``, which leaves their folder off ``sys.path``,
so each one adds it before ``import _common``. psutil and shoal are imported
only where used: the ``--child`` processes that call :func:`peak_rss` must not
pay for them in their measured memory.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PeakRSS:
    """Peak resident memory of this process while the block runs.

    ``start`` is the RSS on entry (after a ``gc.collect()``), ``peak`` the
    highest RSS sampled every ``interval`` seconds.
    """

    def __init__(self, interval: float = 0.02):
        import psutil

        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._proc = psutil.Process()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        gc.collect()
        self.start = self.peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class PeakTreeRSS:
    """Peak RSS and CPU seconds of this process and its children while the
    block runs (pool workers included).

    After the block: ``extra`` is the peak RSS (sampled every 20 ms) above the
    RSS on entry, ``cpu`` the CPU seconds used by the process tree.
    """

    def __init__(self):
        import psutil

        self._error = psutil.Error
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def _cpu(self) -> float:
        """CPU seconds used so far by this process and its live children."""
        procs = [self.proc, *self.proc.children(recursive=True)]
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except self._error:
                pass
        return total

    def _rss(self) -> int:
        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except self._error:
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> PeakTreeRSS:
        self.base = self._rss()
        self.peak = self.base
        self.cpu0 = self._cpu()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join()
        self.peak = max(self.peak, self._rss())
        self.extra = self.peak - self.base
        self.cpu = self._cpu() - self.cpu0


def best_of_interleaved(runs: dict[str, Callable[[], object]], repeat: int) -> tuple[dict, ...]:
    """Run every system ``repeat`` times, interleaved so load drifts hit all of
    them, each under :class:`PeakTreeRSS`.

    Returns dicts keyed like ``runs``: last answers, best wall seconds,
    highest extra peak RSS, lowest CPU seconds.
    """
    answers: dict = {}
    best = dict.fromkeys(runs, float("inf"))
    peak = dict.fromkeys(runs, 0)
    cpu = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            with PeakTreeRSS() as mem:
                start = time.perf_counter()
                answers[name] = run()
                best[name] = min(best[name], time.perf_counter() - start)
            peak[name] = max(peak[name], mem.extra)
            cpu[name] = min(cpu[name], mem.cpu)
    return answers, best, peak, cpu


def print_tree_timings(label: str, best: dict, cpu: dict, peak: dict) -> None:
    """One line per system: wall time, CPU time and extra peak RSS."""
    from shoal.core.utils import format_bytes

    for name in best:
        print(
            f"{label} {name:6s} {best[name]:8.2f} s   cpu {cpu[name]:8.2f} s   "
            f"peak +{format_bytes(peak[name])}"
        )


def peak_rss() -> int:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it starts
    afresh at exec, so the parent's memory is not counted)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_child(script: str, *args: str) -> dict:
    """Run ``script --child *args`` in a fresh ``python -P`` from the repo root
    and return the JSON object printed on its last output line."""
    proc = subprocess.run(
        [sys.executable, "-P", os.path.abspath(script), "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_vs_shoal(label: str, results: dict[str, dict]) -> None:
    """One line per system (seconds, peak GiB, value) with time and memory
    ratios against shoal's row, if there is one."""
    base = results.get("shoal")
    for system, r in results.items():
        line = (
            f"{label} {system:7s} {r['seconds']:8.2f} s  peak "
            f"{r['peak_bytes'] / 2**30:6.2f} GiB  {r['value']}"
        )
        if base and system != "shoal":
            line += (
                f"  time ratio {system}/shoal {r['seconds'] / base['seconds']:.2f}x, "
                f"memory ratio {r['peak_bytes'] / base['peak_bytes']:.2f}x"
            )
        print(line)
