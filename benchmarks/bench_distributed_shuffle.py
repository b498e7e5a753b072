"""Peer-to-peer shuffle of TPC-H ``lineitem``: shoal against dask.distributed's
P2P shuffle, on the same cluster shape, in the same run.

Each system gets a local cluster of ``--workers`` worker processes (with
nannies) of ``--threads`` threads and ``--memory-limit`` each, reads
``lineitem`` (``tpchgen-cli`` through ``benchmarks/tpch/data.py``, as
``bench_dataframe_tpch.py`` does), shuffles every column on ``l_orderkey``
into as many partitions as it read, and counts the distinct keys of each
output partition (their sum equals the table's distinct keys only if every
key landed in one partition: the check). Printed per system: wall time,
each worker's peak RSS (sampled every 50 ms from this process), bytes the
workers wrote to disk (``/proc/<pid>/io``: spilled results and shuffle
pieces alike) and the result check; then the time ratio.

    python -P benchmarks/bench_distributed_shuffle.py --scale 1
    python -P benchmarks/bench_distributed_shuffle.py --scale 10 --memory-limit 2GB
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import threading
import time

import psutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from tpch.data import generate, table_paths  # noqa: E402


def distinct_keys(part):
    import pandas as pd

    return pd.Series([part["l_orderkey"].nunique()], dtype="int64")


class PeakRSS:
    """Samples the RSS of ``pids`` every ``interval`` seconds in a thread."""

    def __init__(self, pids: list[int], interval: float = 0.05):
        self.procs = [psutil.Process(p) for p in pids]
        self.peak = dict.fromkeys(pids, 0)
        self.interval = interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            for p in self.procs:
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                self.peak[p.pid] = max(self.peak[p.pid], rss)

    def __enter__(self) -> PeakRSS:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def _file_size(path: str) -> int:
    """A block size above every file's: shoal's read_parquet then makes one
    partition per file, as Dask does."""
    sizes = [os.path.getsize(os.path.join(path, name)) for name in os.listdir(path)]
    return max(sizes) + 1


def _written(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).io_counters().write_bytes
        except psutil.Error:
            pass
    return total


def run_shoal(path: str, args) -> tuple[float, int, dict, int]:
    import shoal.dataframe as sd
    from shoal.distributed import Client

    with Client(
        n_workers=args.workers, threads_per_worker=args.threads, memory_limit=args.memory_limit
    ) as client:
        pids = list(client.run(os.getpid).values())
        df = sd.read_parquet(path, blocksize=_file_size(path))  # one partition per file
        print(f"shoal: {df.npartitions} partitions", flush=True)
        counts = df.shuffle("l_orderkey", npartitions=df.npartitions).map_partitions(
            distinct_keys, meta=("n", "int64")
        )
        return _measure(lambda: int(counts.sum().compute()), pids)


def run_dask(path: str, args) -> tuple[float, int, dict, int]:
    import dask
    import dask.dataframe as dd

    from distributed import Client, LocalCluster

    with dask.config.set({"dataframe.shuffle.method": "p2p"}):
        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=args.threads,
                memory_limit=args.memory_limit,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            pids = list(client.run(os.getpid).values())
            df = dd.read_parquet(path)
            print(f"dask: {df.npartitions} partitions", flush=True)
            counts = df.shuffle("l_orderkey", npartitions=df.npartitions).map_partitions(
                distinct_keys, meta=("n", "int64")
            )
            return _measure(lambda: int(counts.sum().compute()), pids)


def _measure(run, pids: list[int]) -> tuple[float, int, dict, int]:
    before = _written(pids)
    with PeakRSS(pids) as rss:
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
    return elapsed, result, rss.peak, _written(pids) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "shoal-tpch"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument(
        "--files-per-part", type=int, default=8, help="input files per tpchgen part"
    )
    parser.add_argument("--systems", default="shoal,dask")
    args = parser.parse_args()

    os.makedirs(args.data_dir, exist_ok=True)
    parts = max(1, math.ceil(args.scale * 4))
    root = generate(args.scale, args.data_dir, parts=parts, split=args.files_per_part)
    path = table_paths(root)["lineitem"]
    import pyarrow.parquet as pq

    expected = len(pq.read_table(path, columns=["l_orderkey"]).column(0).unique())
    print(
        f"lineitem SF{args.scale:g}: {len(os.listdir(path))} files, {expected} distinct keys; "
        f"{args.workers} workers x {args.threads} threads, memory limit {args.memory_limit}",
        flush=True,
    )
    runners = {"shoal": run_shoal, "dask": run_dask}
    times = {}
    for system in args.systems.split(","):
        elapsed, result, peaks, written = runners[system](path, args)
        times[system] = elapsed
        rss = ", ".join(f"{p / 2**30:.2f}" for p in sorted(peaks.values(), reverse=True))
        print(
            f"{system:6s} {elapsed:8.2f} s   peak RSS per worker [{rss}] GiB   "
            f"written to disk {written / 2**30:.2f} GiB   "
            f"{'right' if result == expected else f'WRONG ({result} != {expected})'}",
            flush=True,
        )
    if "shoal" in times and "dask" in times:
        print(f"dask / shoal time: {times['dask'] / times['shoal']:.2f}x")


if __name__ == "__main__":
    main()
