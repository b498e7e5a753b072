"""Right-angle rechunk on a local cluster: shoal's ``p2p`` and ``tasks``
methods against dask.distributed's P2P rechunk, same shapes, in one run.

Each system gets a local cluster of ``--workers`` worker processes (with
nannies) of ``--threads`` threads and ``--memory-limit`` each. The array is
``n x n`` float64 (``--n 12000``: 1.07 GiB) with ``x[i, j] = i * n + j``, made
block by block in row chunks of ``--rows`` rows; it is rechunked to column
chunks of ``--rows`` columns, and each column block reduced position by
position: ``r[j] = sum_i i * y[i, j]``, checked against its closed form (a
misplaced piece changes it). Printed per run: wall time, each worker's peak
RSS (sampled every 50 ms), bytes the workers wrote to disk (exchange pieces
and spilled results alike, from ``/proc/<pid>/io``) and the check; then the
ratios of the best times (``--repeat`` rounds, the runs interleaved) against
shoal's ``p2p``.

    python -P benchmarks/bench_distributed_rechunk.py
    python -P benchmarks/bench_distributed_rechunk.py --n 16000 --memory-limit 1GB
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from bench_distributed_shuffle import PeakRSS, _written  # noqa: E402


def expected(n: int) -> np.ndarray:
    """``sum_i i * (i * n + j)`` for each column ``j``."""
    i = np.arange(n, dtype=np.float64)
    return n * (i * i).sum() + np.arange(n, dtype=np.float64) * i.sum()


def weighted_columns(xp, n: int, rows: int, method: str):
    """The computation, written once for ``shoal.array`` and ``dask.array``."""
    i = xp.arange(n, chunks=rows, dtype=np.float64)[:, None]
    j = xp.arange(n, chunks=n, dtype=np.float64)[None, :]
    x = i * n + j  # row chunks (rows, n), made block by block
    y = x.rechunk((n, rows), method=method)
    weights = xp.arange(n, chunks=n, dtype=np.float64)[:, None]
    return (y * weights).sum(axis=0)


def run_shoal(args, method: str) -> tuple[float, np.ndarray, dict, int]:
    import shoal.array as sa
    from shoal.distributed import Client

    with Client(
        n_workers=args.workers, threads_per_worker=args.threads, memory_limit=args.memory_limit
    ) as client:
        pids = list(client.run(os.getpid).values())
        result = weighted_columns(sa, args.n, args.rows, method)
        return _measure(result.compute, pids)


def run_dask(args, method: str) -> tuple[float, np.ndarray, dict, int]:
    import dask.array as da

    from distributed import Client, LocalCluster

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
        result = weighted_columns(da, args.n, args.rows, method)
        return _measure(result.compute, pids)


def _measure(run, pids: list[int]) -> tuple[float, np.ndarray, dict, int]:
    before = _written(pids)
    with PeakRSS(pids) as rss:
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
    return elapsed, result, rss.peak, _written(pids) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=12000, help="the array is n x n float64")
    parser.add_argument("--rows", type=int, default=500, help="rows (then columns) per block")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--runs", default="shoal:p2p,shoal:tasks,dask:p2p")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of all runs")
    args = parser.parse_args()

    blocks = -(-args.n // args.rows)
    print(
        f"{args.n} x {args.n} float64 ({args.n**2 * 8 / 2**30:.2f} GiB), {blocks} row blocks "
        f"-> {blocks} column blocks; {args.workers} workers x {args.threads} threads, "
        f"memory limit {args.memory_limit}",
        flush=True,
    )
    want = expected(args.n)
    runners = {"shoal": run_shoal, "dask": run_dask}
    times: dict[str, float] = {}
    for run in args.runs.split(",") * args.repeat:
        system, method = run.split(":")
        elapsed, result, peaks, written = runners[system](args, method)
        times[run] = min(elapsed, times.get(run, elapsed))
        rss = ", ".join(f"{p / 2**30:.2f}" for p in sorted(peaks.values(), reverse=True))
        right = np.allclose(result, want, rtol=1e-12, atol=0)
        print(
            f"{run:12s} {elapsed:8.2f} s   peak RSS per worker [{rss}] GiB   "
            f"written to disk {written / 2**30:.2f} GiB   {'right' if right else 'WRONG'}",
            flush=True,
        )
    if "shoal:p2p" in times:
        for run, elapsed in times.items():
            if run != "shoal:p2p":
                print(f"{run} / shoal:p2p best time: {elapsed / times['shoal:p2p']:.2f}x")


if __name__ == "__main__":
    main()
