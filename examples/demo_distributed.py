"""Demo: an analysis on a local cluster of worker processes.

Simulated sensor logs are generated in parallel on the workers (nothing is
loaded in the client), summarised per partition, and combined into
per-sensor statistics with a tree reduction; one worker is killed in the
middle and the cluster recomputes what it lost.

    .venv/bin/python -P examples/demo_distributed.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time

import numpy as np

import shoal
from shoal.distributed import Client


def make_partition(seed: int, rows: int) -> dict:
    """One partition of sensor readings: sensor ids and values."""
    rng = np.random.default_rng(seed)
    sensors = rng.integers(0, 16, rows)
    values = rng.normal(20 + sensors, 2.0, rows)
    return {"sensor": sensors, "value": values}


def summarise(part: dict) -> np.ndarray:
    """Per-sensor count, sum and sum of squares (16 x 3)."""
    out = np.zeros((16, 3))
    s, v = part["sensor"], part["value"]
    out[:, 0] = np.bincount(s, minlength=16)
    out[:, 1] = np.bincount(s, weights=v, minlength=16)
    out[:, 2] = np.bincount(s, weights=v * v, minlength=16)
    return out


def combine(*summaries: np.ndarray) -> np.ndarray:
    return np.sum(summaries, axis=0)


def report(total: np.ndarray) -> list[tuple[int, int, float, float]]:
    count, s, ss = total[:, 0], total[:, 1], total[:, 2]
    mean = s / count
    std = np.sqrt(ss / count - mean**2)
    return [(i, int(count[i]), float(mean[i]), float(std[i])) for i in range(16)]


def build(n_parts: int, rows: int):
    parts = [shoal.delayed(make_partition)(i, rows) for i in range(n_parts)]
    level = [shoal.delayed(summarise)(p) for p in parts]
    while len(level) > 1:
        level = [shoal.delayed(combine)(*level[i : i + 8]) for i in range(0, len(level), 8)]
    return shoal.delayed(report)(level[0])


def _kill_one_worker_later(client: Client, delay: float) -> threading.Thread:
    def kill():
        time.sleep(delay)
        pids = client.run(os.getpid)
        pid = sorted(pids.values())[0]
        os.kill(pid, signal.SIGKILL)
        print(f"  (killed worker process {pid}; its nanny restarts it)")

    t = threading.Thread(target=kill, daemon=True)
    t.start()
    return t


def run(scale: float = 1.0) -> None:
    """Compute per-sensor statistics of ``scale * 40M`` simulated readings on a
    local cluster of two worker processes, surviving a killed worker."""
    n_parts = max(4, int(200 * scale))
    rows = 200_000
    print(
        f"\n== distributed: {n_parts * rows:,} readings in {n_parts} partitions, "
        "2 worker processes =="
    )
    result = build(n_parts, rows)
    with Client(n_workers=2, threads_per_worker=1) as client:
        start = time.perf_counter()
        killer = _kill_one_worker_later(client, 0.5)
        with shoal.ProgressBar():
            stats = result.compute()
        killer.join()
        elapsed = time.perf_counter() - start
        small = build(4, 1000)
        assert small.compute() == small.compute(scheduler="threads")  # cluster == threads
    print(f"  computed in {elapsed:.1f}s on the cluster")
    print("  sensor  readings      mean    std")
    for sensor, count, mean, std in stats[:4]:
        print(f"  {sensor:6d}  {count:8,d}  {mean:8.2f}  {std:5.2f}")
    print(f"  ... ({len(stats)} sensors; mean grows by ~1 per sensor id, std ~2)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    run(parser.parse_args().scale)
