"""Array graph construction: build time per block and graph bytes per task,
shoal vs dask.array, in the same run.

    .venv/bin/python -P benchmarks/bench_array_graph_build.py [--size 1000000] [--repeat 3]

Each case builds an expression over ``--size`` blocks (a 2-D case uses a square
grid of about as many) and its optimized graph: shoal's
``collections_to_graph([y])`` (fused, layered), Dask's ``dask.optimize(y)`` then
``dict(y.__dask_graph__())``. Time covers making the expression and its graph
(best of ``--repeat``, interleaved); bytes are the memory the graph holds after
it is built (tracemalloc, in a separate build), divided by its task count.
Ratios are shoal / Dask: below 1 means shoal is faster or smaller.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
import tracemalloc
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def shoal_graph(make: Callable) -> dict:
    import shoal.array as sa
    from shoal.core.base import collections_to_graph

    return collections_to_graph([make(sa)])[0]


def dask_graph(make: Callable) -> dict:
    import dask
    import dask.array as da

    (y,) = dask.optimize(make(da))
    return dict(y.__dask_graph__())


def cases(n: int) -> dict[str, Callable]:
    """Expression makers taking the array module (``shoal.array`` or ``dask.array``)."""
    side = max(1, math.isqrt(n))
    return {
        "((x+1)*2).sum()": lambda m: ((m.ones(n, chunks=1) + 1) * 2).sum(split_every=32),
        "x.mean()": lambda m: m.ones(n, chunks=1).mean(split_every=32),
        "x.std()": lambda m: m.ones(n, chunks=1).std(split_every=32),
        "2-D (x+1).sum(axis=0)": lambda m: (m.ones((side, side), chunks=1) + 1).sum(
            axis=0, split_every=32
        ),
        "(x+1)[5:-5:2]": lambda m: (m.ones(10 * n, chunks=10) + 1)[5:-5:2],
        "(x+1).rechunk(15)": lambda m: (m.ones(10 * n, chunks=10) + 1).rechunk(15),
    }


def build_seconds(graph_of: Callable, make: Callable, repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        graph = graph_of(make)
        best = min(best, time.perf_counter() - start)
        del graph
    return best


def graph_bytes(graph_of: Callable, make: Callable) -> tuple[float, int]:
    """Bytes held by the built graph per task, and its task count."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    graph = graph_of(make)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    tasks = len(graph)
    del graph
    return (after - before) / tasks, tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="blocks per array")
    parser.add_argument("--repeat", type=int, default=3, help="timed builds per system")
    parser.add_argument(
        "--only", default="", help="run only cases containing one of these texts (comma-separated)"
    )
    args = parser.parse_args()
    n = args.size
    shoal_graph(lambda m: m.ones(4, chunks=1).sum())  # imports outside the timings
    dask_graph(lambda m: m.ones(4, chunks=1).sum())
    print(f"{n:,} blocks; time per block in µs, graph bytes per task; ratio = shoal / Dask")
    head = (
        f"{'case':<24}{'shoal µs':>9}{'dask µs':>9}{'ratio':>7}"
        f"{'shoal B':>9}{'dask B':>8}{'ratio':>7}{'tasks shoal/dask':>19}"
    )
    print(head)
    for label, make in cases(n).items():
        if not any(part in label for part in args.only.split(",")):
            continue
        blocks = n
        t_s = build_seconds(shoal_graph, make, args.repeat) / blocks * 1e6
        t_d = build_seconds(dask_graph, make, args.repeat) / blocks * 1e6
        b_s, k_s = graph_bytes(shoal_graph, make)
        b_d, k_d = graph_bytes(dask_graph, make)
        print(
            f"{label:<24}{t_s:>9.1f}{t_d:>9.1f}{t_s / t_d:>7.2f}"
            f"{b_s:>9.0f}{b_d:>8.0f}{b_s / b_d:>7.2f}{f'{k_s:,}/{k_d:,}':>19}",
            flush=True,
        )


if __name__ == "__main__":
    main()
