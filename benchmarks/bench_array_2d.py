"""2-D array workloads: shoal vs Dask (threaded schedulers), time and peak memory.

    python -P benchmarks/bench_array_2d.py              # defaults, a few minutes here
    python -P benchmarks/bench_array_2d.py --scale 4    # the issue's sizes (40,000 x 40,000)

1. ``(x + x.T).mean(axis=0)`` on an n x n random array in n/10 x n/10 blocks
   (issue: 40,000 x 40,000 in 4,000 x 4,000 blocks);
2. the right-angle rechunk of an n x n random array from (n, n/400) to
   (n/400, n) blocks, followed by a reduction so nothing is collected
   (issue: 40,000 x 40,000 from (40000, 100) to (100, 40000));
3. ``(x @ x.T).sum()`` for a 2m x m/5 random array in m/5 x m/5 blocks
   (issue: 20,000 x 2,000).

Scale 1 is n = 10,000 (800 MB) and m = 2,500; scale 4 gives the issue's sizes. Every run is a fresh process
(``--child``), so one system's memory never hides the other's: the peak is
the process's high-water mark minus its resident memory just before the
compute. Systems alternate, ``--repeat`` times; the table shows the best time
and the spread (slowest / fastest) over the runs, and the highest peak.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import psutil

import shoal
import shoal.array as sa
from shoal.core.utils import format_bytes

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from _common import peak_rss, run_child  # noqa: E402


def workloads(lib, n: int, m: int) -> dict:
    rng = lib.random.default_rng(0)
    b = n // 10
    x = rng.random((n, n), chunks=(b, b))
    tall = rng.random((n, n), chunks=(n, n // 400))
    skinny = rng.random((2 * m, m // 5), chunks=(m // 5, m // 5))
    return {
        "(x + x.T).mean(axis=0)": lambda: (x + x.T).mean(axis=0),
        "right-angle rechunk + sum": lambda: tall.rechunk((n // 400, n)).sum(axis=1),
        "(x @ x.T).sum()": lambda: (skinny @ skinny.T).sum(),
    }


def task_count(lib_name: str, collection) -> int:
    if lib_name == "shoal":
        graph, _ = shoal.core.base.collections_to_graph([collection])
        return len(graph)
    import dask

    (optimized,) = dask.optimize(collection)
    return len(dict(optimized.__dask_graph__()))


def child(system: str, workload: str, n: int, m: int) -> None:
    """Run one workload once in this fresh process; print a JSON result line."""
    if system == "shoal":
        lib = sa
    else:
        import dask.array as lib
    collection = workloads(lib, n, m)[workload]()
    tasks = task_count(system, collection)
    before = psutil.Process().memory_info().rss
    start = time.perf_counter()
    collection.compute(scheduler="threads")
    seconds = time.perf_counter() - start
    extra = peak_rss() - before
    print(json.dumps({"seconds": seconds, "peak_bytes": extra, "tasks": tasks}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--only", default=None, choices=["xt", "rechunk", "matmul"], help="run one workload"
    )
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = int(10_000 * args.scale) // 400 * 400
    m = int(2_500 * args.scale) // 5 * 5
    if args.child:
        child(*args.child, n, m)
        return
    print(
        f"n = {n} ({format_bytes(n * n * 8)} per n x n array), m = {m}; "
        f"{psutil.cpu_count()} cores; best of {args.repeat} alternating runs (spread)"
    )
    systems = ["shoal"] if args.skip_dask else ["shoal", "dask"]
    short = dict(zip(["xt", "rechunk", "matmul"], workloads(sa, 400, 5)))
    names = list(short.values()) if args.only is None else [short[args.only]]
    scale = ["--scale", str(args.scale)]
    results: dict = {}
    for name in names:
        for _ in range(args.repeat):
            for system in systems:
                r = run_child(__file__, system, name, *scale)
                results.setdefault((name, system), []).append(r)
                print(
                    f"{name:<28} {system:<6} {r['seconds']:8.2f} s  "
                    f"peak +{format_bytes(r['peak_bytes']):>11}  {r['tasks']} tasks",
                    flush=True,
                )
    print()
    print(
        f"{'workload':<28} {'system':<6} {'best s':>7} {'spread':>7} {'peak':>11} {'tasks':>6}"
        f" {'shoal/dask speed':>17}"
    )
    for name in names:
        best = {}
        for system in systems:
            runs = results[(name, system)]
            times = [r["seconds"] for r in runs]
            best[system] = min(times)
            peak = max(r["peak_bytes"] for r in runs)
            ratio = f"{best['dask'] / best['shoal']:.2f}x" if system == "dask" else ""
            print(
                f"{name if system == 'shoal' else '':<28} {system:<6} {best[system]:7.2f} "
                f"{max(times) / best[system]:6.2f}x {format_bytes(peak):>11} "
                f"{runs[0]['tasks']:>6} {ratio:>17}"
            )


if __name__ == "__main__":
    main()
