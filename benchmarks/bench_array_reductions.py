"""Reductions of a random array that is never materialized: shoal vs Dask vs NumPy.

    python -P benchmarks/bench_array_reductions.py              # 2 GB, about a minute
    python -P benchmarks/bench_array_reductions.py --size 16GB  # the issue's figure

For each of x.sum(), x.mean(), x.std() and (x - x.mean()).std() on a 1-D
float64 array drawn block by block (128 MiB blocks by default) it prints the
time, throughput (array bytes / second), peak process memory (RSS sampled
every 20 ms) for shoal's threaded scheduler and Dask's, and the "2-core NumPy
limit": the same generate-and-reduce loop over one block at a time in plain
NumPy, timed on a few blocks on one core and scaled to the array and two cores.

Then the task counts of a ten-step elementwise chain reduced with .sum(),
for shoal (the graph that runs) and Dask (before and after its optimization).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import psutil

import shoal
import shoal.array as sa
from shoal.core.utils import format_bytes, parse_bytes

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from _common import PeakRSS  # noqa: E402

OPS = {
    "x.sum()": lambda x: x.sum(),
    "x.mean()": lambda x: x.mean(),
    "x.std()": lambda x: x.std(),
    "(x - x.mean()).std()": lambda x: (x - x.mean()).std(),
}


def timed(collection, repeat: int) -> tuple[float, int, float]:
    """Best time of ``repeat`` runs (the machine is shared), highest peak memory."""
    best, peak = float("inf"), 0
    for _ in range(repeat):
        with PeakRSS() as mem:
            start = time.perf_counter()
            value = collection.compute(scheduler="threads")
            best = min(best, time.perf_counter() - start)
        peak = max(peak, mem.peak)
    return best, peak, float(value)


def numpy_limit(op: str, n_blocks: int, block: int, sample: int, repeat: int) -> float:
    """Seconds for the whole array on 2 cores, from one core on ``sample`` blocks."""
    return min(_numpy_loop(op, block, sample) for _ in range(repeat)) * n_blocks / 2


def _numpy_loop(op: str, block: int, sample: int) -> float:
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(sample):
        b = rng.random(block)
        if op == "x.sum()":
            b.sum()
        elif op == "x.mean()":
            b.mean()
        elif op == "x.std()":
            b.std()
        else:
            b.sum()
            b = rng.random(block)
            (b - 0.5).std()
    return (time.perf_counter() - start) / sample


def chain(x):
    y = x
    for i in range(10):
        y = (y + i) * 1.0001 if i % 2 else np.sqrt(y * y + i)
    return y.sum()


def task_counts(n_blocks: int) -> tuple[int, int, int]:
    import dask
    import dask.array as da

    x = sa.random.default_rng(0).random(n_blocks * 1000, chunks=1000)
    graph, _ = shoal.core.base.collections_to_graph([chain(x)])
    d = da.random.default_rng(0).random(n_blocks * 1000, chunks=1000)
    dy = chain(d)
    before = len(dict(dy.__dask_graph__()))
    (optimized,) = dask.optimize(dy)
    after = len(dict(optimized.__dask_graph__()))
    return len(graph), before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2GB", help="array size in bytes (e.g. 2GB, 16GB)")
    parser.add_argument("--chunk", default="128MiB", help="block size")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    size, chunk = parse_bytes(args.size), parse_bytes(args.chunk)
    block = chunk // 8
    n = (size // 8 // block) * block
    n_blocks = n // block
    nbytes = n * 8
    print(
        f"array: {format_bytes(nbytes)} float64 in {n_blocks} blocks of {format_bytes(chunk)};"
        f" {psutil.cpu_count()} cores"
    )
    header = f"{'operation':<22} {'system':<8} {'time s':>8} {'GB/s':>7} {'peak RSS':>11}"
    print(header)
    rows = []
    for name, op in OPS.items():
        x = sa.random.default_rng(0).random(n, chunks=block)
        t, peak, value = timed(op(x), args.repeat)
        print(f"{name:<22} {'shoal':<8} {t:8.2f} {nbytes / t / 1e9:7.2f} {format_bytes(peak):>11}")
        dask_t = None
        if not args.skip_dask:
            import dask.array as da

            d = da.random.default_rng(0).random(n, chunks=block)
            dask_t, dpeak, dvalue = timed(op(d), args.repeat)
            print(
                f"{'':<22} {'dask':<8} {dask_t:8.2f} {nbytes / dask_t / 1e9:7.2f} "
                f"{format_bytes(dpeak):>11}"
            )
            assert abs(dvalue - value) <= 1e-3 * max(abs(value), 1e-3), (value, dvalue)
        limit = numpy_limit(name, n_blocks, block, min(n_blocks, 4), args.repeat)
        print(f"{'':<22} {'numpy x2':<8} {limit:8.2f} {nbytes / limit / 1e9:7.2f}")
        rows.append((name, t, dask_t, limit, peak))
    print()
    print(
        f"{'operation':<22} {'shoal/dask speed':>17} {'shoal/numpy limit':>18} "
        f"{'shoal peak RSS':>15}"
    )
    for name, t, dask_t, limit, peak in rows:
        vs_dask = f"{dask_t / t:.2f}x" if dask_t else "-"
        print(f"{name:<22} {vs_dask:>17} {limit / t:>17.0%} {format_bytes(peak):>15}")
    print()
    if not args.skip_dask:
        ours, dask_before, dask_after = task_counts(1000)
        print("ten-step elementwise chain + sum over 1,000 blocks (random input):")
        print(
            f"  shoal tasks: {ours}   dask tasks: {dask_before} before optimize, "
            f"{dask_after} after  (ratio {dask_after / ours:.1f}x fewer in shoal)"
        )


if __name__ == "__main__":
    main()
