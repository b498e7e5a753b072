"""2-D array workloads: shoal vs Dask (threaded schedulers), time and peak memory
(resident memory above the level before each run).

    python -P benchmarks/bench_array_2d.py              # defaults, a minute or two here
    python -P benchmarks/bench_array_2d.py --scale 4    # the issue's sizes (40,000 x 40,000)

1. ``(x + x.T).mean(axis=0)`` on an n x n random array in n/10 x n/10 blocks
   (issue: 40,000 x 40,000 in 4,000 x 4,000 blocks);
2. the right-angle rechunk of an n x n random array from (n, n/400) to
   (n/400, n) blocks, followed by a reduction so nothing is collected
   (issue: 40,000 x 40,000 from (40000, 100) to (100, 40000));
3. ``(x @ x.T).sum()`` for a 2m x m/5 random array (issue: 20,000 x 2,000).

Scale 1 is n = 10,000 (800 MB) and m = 5,000.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import psutil

import shoal
import shoal.array as sa
from shoal.core.utils import format_bytes

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from _common import PeakRSS  # noqa: E402


def run(collection) -> tuple[float, int]:
    """Seconds and peak resident memory above the level before the run."""
    with PeakRSS() as mem:
        start = time.perf_counter()
        collection.compute(scheduler="threads")
        elapsed = time.perf_counter() - start
    return elapsed, mem.peak - mem.start


def workloads(lib, n: int, m: int) -> dict:
    rng = lib.random.default_rng(0)
    b = n // 10
    x = rng.random((n, n), chunks=(b, b))
    tall = rng.random((n, n), chunks=(n, n // 400))
    skinny = rng.random((2 * m, m // 5), chunks=(m // 5, m // 5))
    return {
        "(x + x.T).mean(axis=0)": (x + x.T).mean(axis=0),
        "right-angle rechunk + sum": tall.rechunk((n // 400, n)).sum(axis=1),
        "(x @ x.T).sum()": (skinny @ skinny.T).sum(),
    }


def task_count(lib_name: str, collection) -> int:
    if lib_name == "shoal":
        graph, _ = shoal.core.base.collections_to_graph([collection])
        return len(graph)
    import dask

    (optimized,) = dask.optimize(collection)
    return len(dict(optimized.__dask_graph__()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    n = int(10_000 * args.scale) // 400 * 400
    m = int(5_000 * args.scale) // 5 * 5
    print(
        f"n = {n} ({format_bytes(n * n * 8)} per n x n array), m = {m}; {psutil.cpu_count()} cores"
    )
    libs = [("shoal", sa)]
    if not args.skip_dask:
        import dask.array as da

        libs.append(("dask", da))
    results: dict = {}
    for lib_name, lib in libs:
        for name, collection in workloads(lib, n, m).items():
            tasks = task_count(lib_name, collection)
            t, peak = run(collection)
            results[(name, lib_name)] = (t, peak, tasks)
            print(
                f"{name:<28} {lib_name:<6} {t:8.2f} s  peak {format_bytes(peak):>11}  {tasks} tasks"
            )
    if not args.skip_dask:
        print()
        print(f"{'workload':<28} {'shoal/dask speed':>17} {'peak shoal':>11} {'peak dask':>11}")
        for name in workloads(sa, 400, 5):
            ts, ps, _ = results[(name, "shoal")]
            td, pd, _ = results[(name, "dask")]
            print(f"{name:<28} {td / ts:>16.2f}x {format_bytes(ps):>11} {format_bytes(pd):>11}")


if __name__ == "__main__":
    main()
