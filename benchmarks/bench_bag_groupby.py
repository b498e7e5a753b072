"""groupby of many small records into many groups: shoal.bag vs dask.bag.

Records ``(group, value)`` are generated inside the tasks (``from_map`` /
``dask.bag.from_sequence`` of seeds mapped to generators), grouped by
``group`` with a full shuffle, and each group is reduced to its length and
sum so only small results come back. Both systems use their process
schedulers and their disk shuffles (shoal: spilled buckets in a temp dir;
Dask: partd), with pools started before timing. Time is wall time; cpu
is the CPU seconds of this process and its pool workers; memory is the peak
RSS of this process and its children above the starting RSS
(sampled every 20 ms). Functions live in this script so both libraries'
workers receive them by value.

    .venv/bin/python -P benchmarks/bench_bag_groupby.py [--records 2000000] [--groups 20000]
    .venv/bin/python -P benchmarks/bench_bag_groupby.py --records 20000000 --groups 100000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time

import psutil

from shoal.core.utils import format_bytes


def nap(x: int) -> int:
    time.sleep(0.2)
    return x


class PeakMemory:
    """Peak RSS of this process and its children while the block runs."""

    def __init__(self):
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
            except psutil.Error:
                pass
        return total

    def _rss(self) -> int:
        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self):
        self.base = self._rss()
        self.peak = self.base
        self.cpu0 = self._cpu()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()
        self.peak = max(self.peak, self._rss())
        self.extra = self.peak - self.base
        self.cpu = self._cpu() - self.cpu0


def make_records(seed: int, n: int, groups: int) -> list:
    rng = random.Random(seed)
    r = rng.randrange
    return [(r(groups), i) for i in range(n)]


def first(record: tuple) -> int:
    return record[0]


def summarize(kv: tuple) -> tuple:
    return kv[0], len(kv[1]), sum(v for _, v in kv[1])


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when redirected to a file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--groups", type=int, default=20_000)
    parser.add_argument(
        "--npartitions",
        type=int,
        default=None,
        help="input and output partitions (default: ~250k records each)",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    args = parser.parse_args()
    nparts = args.npartitions or max(2, args.records // 250_000)
    per = args.records // nparts

    import dask
    import dask.bag as db

    import shoal
    import shoal.bag as sb

    shoal.config.set({"num-workers": args.workers})
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    pool = ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"))
    sb.range(4 * args.workers, npartitions=4 * args.workers).map(nap).sum().compute()
    list(pool.map(nap, range(4 * args.workers)))
    print(
        f"{args.records:,} records into {args.groups:,} groups, {nparts} partitions, "
        f"{args.workers} workers"
    )

    def run_shoal():
        b = sb.from_map(make_records, range(nparts), [per] * nparts, [args.groups] * nparts)
        g = b.groupby(first, npartitions=nparts, shuffle="disk").map(summarize)
        return g.compute()

    def run_dask():
        seeds = db.from_sequence(range(nparts), npartitions=nparts)
        b = seeds.map(make_records, per, args.groups).flatten()
        g = b.groupby(first, npartitions=nparts, shuffle="disk").map(summarize)
        return dask.compute(g, scheduler="processes", pool=pool)[0]

    results = {"shoal": float("inf"), "dask": float("inf")}
    peaks = {"shoal": 0, "dask": 0}
    cpu = {"shoal": float("inf"), "dask": float("inf")}
    answers = {}
    for _ in range(args.repeat):  # interleaved, so load drifts hit both systems
        for name, run in (("shoal", run_shoal), ("dask", run_dask)):
            with PeakMemory() as mem:
                start = time.perf_counter()
                answers[name] = sorted(run())
                results[name] = min(results[name], time.perf_counter() - start)
            peaks[name] = max(peaks[name], mem.extra)
            cpu[name] = min(cpu[name], mem.cpu)
    for name in results:
        print(
            f"groupby {name:6s} {results[name]:8.2f} s   cpu {cpu[name]:8.2f} s   "
            f"peak +{format_bytes(peaks[name])}"
        )
    assert answers["shoal"] == answers["dask"], "shoal and Dask disagree"
    assert sum(n for _, n, _ in answers["shoal"]) == per * nparts
    print(f"\ngroupby dask/shoal {results['dask'] / results['shoal']:5.2f}x")
    pool.shutdown()


if __name__ == "__main__":
    main()
