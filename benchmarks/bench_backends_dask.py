"""shoal on a dask.distributed Client against dask itself on the same Client,
in one run (a local cluster of 2 worker processes, 1 thread each):

1. Per-task overhead: ``sum`` of N independent ``inc`` tasks, as a shoal
   ``delayed`` graph (``compute(scheduler=client)``: translated once to
   dask's task spec) and as the same ``dask.delayed`` graph.
2. A reduction of a random array (1.75 GiB by default: 16384 x 14336
   float64 in 2048 x 2048 blocks), written with shoal.array and with
   dask.array.

Times are best of ``--repeat``, the systems interleaved; ratios are against
shoal (>1: shoal on the Client is faster).

    .venv/bin/python -P benchmarks/bench_backends_dask.py
    .venv/bin/python -P benchmarks/bench_backends_dask.py --tasks 2000 --gib 0.5
"""

from __future__ import annotations

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from bench_backends_ray import best_of, print_ratios  # noqa: E402


def inc(x):
    return x + 1


def overhead(client, n: int, repeat: int) -> None:
    import dask

    import shoal

    def on_shoal(offset: int) -> int:
        total = shoal.delayed(sum)([shoal.delayed(inc)(i + offset) for i in range(n)])
        return total.compute(scheduler=client)

    def on_dask(offset: int) -> int:
        total = dask.delayed(sum)([dask.delayed(inc)(i + offset) for i in range(n)])
        return dask.compute(total, scheduler=client)[0]

    on_shoal(0), on_dask(0)  # warm up
    counter = iter(range(1, 10**6))  # new inputs every run: nothing is cached
    best, answers = best_of(
        {
            "shoal-on-dask": lambda: on_shoal(next(counter)),
            "dask": lambda: on_dask(next(counter)),
        },
        repeat,
    )
    print(f"per-task overhead, {n} tasks + 1 sum (us per task):")
    print_ratios("overhead", {k: v / (n + 1) for k, v in best.items()}, "shoal-on-dask", 1e6, "us")


def reduction(client, gib: float, chunk: int, repeat: int) -> None:
    import dask
    import dask.array as da

    import shoal.array as sa

    cols = 14336
    rows = max(chunk, int(round(gib * 2**30 / 8 / cols / chunk)) * chunk)
    x = sa.random.default_rng(0).random((rows, cols), chunks=chunk)
    y = da.random.default_rng(0).random((rows, cols), chunks=chunk)
    best, answers = best_of(
        {
            "shoal-on-dask": lambda: x.sum().compute(scheduler=client),
            "dask.array": lambda: dask.compute(y.sum(), scheduler=client)[0],
        },
        repeat,
    )
    n = rows * cols
    for name, value in answers.items():  # different generators: both near n / 2
        assert math.isclose(value, n / 2, rel_tol=1e-3), (name, value)
    print(f"reduction: random(({rows}, {cols}), chunks={chunk}).sum(), {n * 8 / 2**30:.2f} GiB:")
    print_ratios("reduction", best, "shoal-on-dask")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000, help="tasks of the overhead graph")
    parser.add_argument("--gib", type=float, default=1.75, help="size of the reduced array")
    parser.add_argument("--chunk", type=int, default=2048, help="block side of that array")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import logging

    import psutil

    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    print(f"load average {os.getloadavg()[0]:.1f}, {psutil.cpu_count()} cores", flush=True)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        overhead(client, args.tasks, args.repeat)
        reduction(client, args.gib, args.chunk, args.repeat)


if __name__ == "__main__":
    main()
