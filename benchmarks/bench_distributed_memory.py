"""Work larger than the cluster's memory: shoal vs dask.distributed.

On a local cluster of 2 worker processes (1 thread each, under nannies)
with ``--limit`` MB of memory each, persist ``--times`` x the cluster's
memory of random float64 blocks (``--block-mb`` each) with ``client.map``,
wait for all of them, then reduce them (a sum per block, then one sum).
Both systems in the same run: wall time, the peak RSS of each worker
process (sampled every 10 ms), bytes spilled to disk, worker restarts,
and whether the sum is right.

    .venv/bin/python -P benchmarks/bench_distributed_memory.py                  # 2 x 200 MB, 3x
    .venv/bin/python -P benchmarks/bench_distributed_memory.py --limit 1000 --times 4
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time

MB = 2**20


def block(i: int, n: int):
    import numpy as np

    return np.random.default_rng(i).random(n)


def block_sum(x) -> float:
    return float(x.sum())


def _shoal_spilled(shoal_worker) -> tuple[int, int]:
    return shoal_worker.spill.written, shoal_worker.spill.disk_bytes


def _dask_spilled(dask_worker) -> tuple[int, int]:
    data = dask_worker.data
    disk = getattr(getattr(data, "spilled_total", None), "disk", 0)
    return -1, int(disk)  # dask keeps no count of bytes written over time


class _PeakChildren:
    """Peak RSS of each child process of this one while the block runs."""

    def __init__(self):
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()

    def _watch(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.01):
            for p in me.children(recursive=True):
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                self.peak[p.pid] = max(self.peak.get(p.pid, 0), rss)

    def __enter__(self) -> _PeakChildren:
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(system: str, limit_mb: int, nblocks: int, block_items: int, expected: float) -> dict:
    if system == "shoal":
        from shoal.distributed import Client, LocalCluster, wait

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=f"{limit_mb}MB")
        spilled = _shoal_spilled
    else:
        from distributed import Client, LocalCluster, wait

        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit=f"{limit_mb}MB",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        spilled = _dask_spilled
    with cluster, Client(cluster) as client, _PeakChildren() as watch:
        pids = set(client.run(os.getpid).values())
        start = time.perf_counter()
        parts = client.map(block, range(nblocks), n=block_items)
        wait(parts)
        persisted = time.perf_counter() - start
        total = client.submit(sum, client.map(block_sum, parts)).result()
        elapsed = time.perf_counter() - start
        figures = client.run(spilled)
        after = set(client.run(os.getpid).values())
    return {
        "time": elapsed,
        "persist": persisted,
        "right": abs(total - expected) <= 1e-9 * abs(expected),
        "peaks": sorted((watch.peak.get(pid, 0) for pid in pids), reverse=True),
        "written": sum(w for w, _ in figures.values()),
        "on_disk": sum(d for _, d in figures.values()),
        "deaths": len(pids - after),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200, help="MB of memory per worker")
    parser.add_argument("--times", type=float, default=3.0, help="data / cluster memory")
    parser.add_argument("--block-mb", type=float, default=10.0, help="MB per block")
    parser.add_argument("--shoal-only", action="store_true", help="skip dask.distributed")
    args = parser.parse_args()
    block_items = int(args.block_mb * MB / 8)
    nblocks = int(args.times * 2 * args.limit * 1e6 / (block_items * 8))
    expected = sum(block_sum(block(i, block_items)) for i in range(nblocks))
    print(
        f"2 workers x 1 thread, {args.limit} MB each; persist {nblocks} blocks of "
        f"{args.block_mb:g} MB ({nblocks * block_items * 8 / 1e9:.2f} GB, "
        f"{args.times:g}x the cluster's memory), then sum",
        flush=True,
    )
    systems = ["shoal"] if args.shoal_only else ["shoal", "dask"]
    results = {}
    for system in systems:
        r = results[system] = run(system, args.limit, nblocks, block_items, expected)
        peaks = ", ".join(f"{p / MB:.0f}" for p in r["peaks"])
        written = f"{r['written'] / 1e9:.2f} GB written, " if r["written"] >= 0 else ""
        print(
            f"  {system:6s} {r['time']:6.2f} s (persist {r['persist']:.2f} s)  "
            f"right={r['right']}  peak RSS per worker [{peaks}] MiB "
            f"(budget {args.limit * 1e6 / MB:.0f} MiB)  {written}"
            f"{r['on_disk'] / 1e9:.2f} GB on disk at the end  worker deaths {r['deaths']}",
            flush=True,
        )
    if "dask" in results:
        ratio = results["dask"]["time"] / results["shoal"]["time"]
        print(f"  ratio (dask / shoal) time: {ratio:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
