"""Reductions of a random array that is never materialized: shoal vs Dask vs NumPy.

    python -P benchmarks/bench_array_reductions.py              # 2 GB, a few minutes
    python -P benchmarks/bench_array_reductions.py --size 16GB  # the issue's figure

For each of x.sum(), x.mean(), x.std() and (x - x.mean()).std() on a 1-D
float64 array drawn block by block (128 MiB blocks by default) it prints the
time, throughput (array bytes / second) and peak process memory (RSS sampled
every 20 ms) of shoal's threaded scheduler and Dask's, and the "2-core NumPy
limit" of the issue: the same generate-and-reduce loop in plain NumPy over one
whole block at a time, timed on one core on a few blocks and scaled to the
array and two cores. For (x - x.mean()).std() that loop draws every block
twice (a sum pass, then a centred std pass), which is the work the issue
describes: the array is never kept, so the second pass must draw it again.

For reference it also prints the same NumPy loop run over 512 KiB pieces of a
block at a time ("numpy pieces"): the cache-friendly loop that shoal's
streamed reductions run (array/streaming.py), not part of the issue's goal.

The machine is shared, so every system runs ``--repeat`` times, interleaved
(shoal, dask, numpy, numpy pieces, then again), and the table gives the best
time with the spread (slowest / fastest) of each. It also gives the CPU
seconds each used (all threads, lowest run; the NumPy loop's for the whole
array on one core): under load the 2-thread wall time suffers from other
processes while the one-core reference does not, and "numpy cpu / shoal cpu"
says how much work shoal spends per byte against the reference loop.

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

TWO_PASS = "(x - x.mean()).std()"  # Dask keeps all of x between its passes
OPS = {
    "x.sum()": lambda x: x.sum(),
    "x.mean()": lambda x: x.mean(),
    "x.std()": lambda x: x.std(),
    "(x - x.mean()).std()": lambda x: (x - x.mean()).std(),
}
PIECE = 512 * 1024 // 8


def run_collection(collection) -> tuple[float, int, float, float]:
    """Seconds, peak memory, value and CPU seconds (all threads) of one
    threaded compute."""
    with PeakRSS() as mem:
        start, cpu = time.perf_counter(), time.process_time()
        value = collection.compute(scheduler="threads")
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, mem.peak, float(value), cpu


def numpy_limit(
    op: str, n_blocks: int, block: int, sample: int, piece: int
) -> tuple[float, int, float, float]:
    """Seconds for the whole array on 2 cores, from one core on ``sample``
    blocks, each made and reduced ``piece`` values at a time (and the CPU
    seconds of the whole array on one core)."""
    rng = np.random.default_rng(0)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(sample):
        for _ in range(block // piece):
            _numpy_step(op, rng, piece)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed / sample * n_blocks / 2, 0, 0.0, cpu / sample * n_blocks


def _numpy_step(op: str, rng: np.random.Generator, n: int) -> None:
    b = rng.random(n)
    if op == "x.sum()":
        b.sum()
    elif op == "x.mean()":
        b.mean()
    elif op == "x.std()":
        b.std()
    else:
        b.sum()
        del b
        b = rng.random(n)
        (b - 0.5).std()


def together(lib, n: int, block: int, repeat: int) -> tuple[float, int]:
    """Best seconds and peak memory of computing x.mean() and x.std() together."""
    best, peak = float("inf"), 0
    for _ in range(repeat):
        x = lib.random.default_rng(0).random(n, chunks=block)
        compute = shoal.compute if lib is sa else __import__("dask").compute
        with PeakRSS() as mem:
            start = time.perf_counter()
            compute(x.mean(), x.std(), scheduler="threads")
            best = min(best, time.perf_counter() - start)
        peak = max(peak, mem.peak)
    return best, peak


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
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs per system")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument(
        "--dask-one-pass",
        action="store_true",
        help="run Dask only on the one-pass reductions (it holds all of x for the two-pass one)",
    )
    args = parser.parse_args()
    size, chunk = parse_bytes(args.size), parse_bytes(args.chunk)
    block = chunk // 8
    n = (size // 8 // block) * block
    n_blocks = n // block
    nbytes = n * 8
    sample = min(n_blocks, 4)
    print(
        f"array: {format_bytes(nbytes)} float64 in {n_blocks} blocks of {format_bytes(chunk)};"
        f" {psutil.cpu_count()} cores; best of {args.repeat} interleaved runs (spread)"
    )
    print(
        f"{'operation':<22} {'system':<13} {'best s':>7} {'spread':>7} {'GB/s':>6} {'peak RSS':>11}"
        f" {'cpu s':>7}"
    )
    rows = []
    for name, op in OPS.items():
        runs: dict = {
            "shoal": lambda op=op: run_collection(
                op(sa.random.default_rng(0).random(n, chunks=block))
            )
        }
        if not args.skip_dask and not (args.dask_one_pass and name == TWO_PASS):
            import dask.array as da

            runs["dask"] = lambda op=op: run_collection(
                op(da.random.default_rng(0).random(n, chunks=block))
            )
        runs["numpy x2"] = lambda name=name: numpy_limit(name, n_blocks, block, sample, block)
        runs["numpy pieces"] = lambda name=name: numpy_limit(name, n_blocks, block, sample, PIECE)
        times: dict = {k: [] for k in runs}
        peaks: dict = dict.fromkeys(runs, 0)
        cpus: dict = dict.fromkeys(runs, float("inf"))
        values: dict = {}
        for _ in range(args.repeat):
            for system, run in runs.items():
                t, peak, value, cpu = run()
                times[system].append(t)
                peaks[system] = max(peaks[system], peak)
                cpus[system] = min(cpus[system], cpu)
                values[system] = value
        if "dask" in values:
            v, dv = values["shoal"], values["dask"]
            assert abs(dv - v) <= 1e-3 * max(abs(v), 1e-3), (v, dv)
        best = {k: min(v) for k, v in times.items()}
        for system in runs:
            spread = max(times[system]) / best[system]
            peak = format_bytes(peaks[system]) if peaks[system] else "-"
            print(
                f"{name if system == 'shoal' else '':<22} {system:<13} {best[system]:7.2f} "
                f"{spread:6.2f}x {nbytes / best[system] / 1e9:6.2f} {peak:>11} "
                f"{cpus[system]:7.2f}"
            )
        rows.append((name, best, times, peaks["shoal"], cpus))
    print()
    print(
        f"{'operation':<22} {'shoal/dask speed':>17} {'shoal/numpy limit':>18} "
        f"{'(per run)':>22} {'shoal/numpy pieces':>19} {'numpy cpu/shoal cpu':>20} "
        f"{'shoal peak RSS':>15}"
    )
    for name, best, times, peak, cpus in rows:
        vs_dask = f"{best['dask'] / best['shoal']:.2f}x" if "dask" in best else "-"
        per_run = "/".join(f"{lim / t:.0%}" for lim, t in zip(times["numpy x2"], times["shoal"]))
        print(
            f"{name:<22} {vs_dask:>17} {best['numpy x2'] / best['shoal']:>17.0%} "
            f"{per_run:>22} {best['numpy pieces'] / best['shoal']:>18.0%} "
            f"{cpus['numpy x2'] / cpus['shoal']:>19.2f}x {format_bytes(peak):>15}"
        )
    print()
    print("compute(x.mean(), x.std()) together (one pass over x):")
    libs = [("shoal", sa)]
    if not args.skip_dask:
        import dask.array as da

        libs.append(("dask", da))
    results = {name: [] for name, _ in libs}
    for _ in range(args.repeat):
        for name, lib in libs:
            results[name].append(together(lib, n, block, 1))
    for name, runs in results.items():
        t = min(r[0] for r in runs)
        spread = max(r[0] for r in runs) / t
        peak = max(r[1] for r in runs)
        print(
            f"  {name:<6} {t:7.2f} s (spread {spread:.2f}x)  {nbytes / t / 1e9:6.2f} GB/s  "
            f"peak {format_bytes(peak)}"
        )
    if "dask" in results:
        ratio = min(r[0] for r in results["dask"]) / min(r[0] for r in results["shoal"])
        print(f"  shoal/dask speed {ratio:.2f}x")
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
