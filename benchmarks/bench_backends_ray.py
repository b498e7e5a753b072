"""shoal on Ray, in one run on one local Ray instance (``ray.init(num_cpus=2)``):

1. Per-task overhead: ``sum`` of N independent ``inc`` tasks, as a shoal
   ``delayed`` graph on ``RayBackend`` against the same graph written with
   ``dask.delayed`` and run by Ray's Dask integration
   (``ray.util.dask.ray_dask_get``). Goal: shoal at least 2x less per task.
2. A reduction of a random array (1.75 GiB by default: 16384 x 14336
   float64 in 2048 x 2048 blocks) on shoal-on-Ray, shoal's threads and a
   shoal.distributed cluster (2 worker processes, 1 thread each).
3. TPC-H Q1 at SF1 (``tpch/queries.py``, parquet from ``tpch/data.py``) on
   the same three backends; the answers are checked equal.

``--big N`` adds a graph of N tasks (N independent ``inc`` tasks reduced by a
tree of ``sum`` tasks, fan-in 8) on shoal-on-Ray alone: its time per task and
the most tasks it ever had unfinished in Ray (at most the window).

Times are best of ``--repeat``, the systems interleaved; ratios are against
shoal-on-Ray (>1: shoal-on-Ray is faster).

    .venv/bin/python -P benchmarks/bench_backends_ray.py
    .venv/bin/python -P benchmarks/bench_backends_ray.py --tasks 2000 --gib 0.5 --skip-tpch
    .venv/bin/python -P benchmarks/bench_backends_ray.py --big 100000 --only-big
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from _cluster import ProcessCluster  # noqa: E402


def inc(x):
    return x + 1


def best_of(runs: dict, repeat: int) -> tuple[dict, dict]:
    """Best wall seconds and last answer of each run, interleaved."""
    best = dict.fromkeys(runs, float("inf"))
    answers: dict = {}
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            answers[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, answers


def print_ratios(label: str, best: dict, base: str, unit: float = 1.0, suffix: str = "s") -> None:
    for name, seconds in best.items():
        line = f"{label:10s} {name:22s} {seconds * unit:10.2f} {suffix}"
        if name != base:
            line += f"   {name}/{base} {seconds / best[base]:.2f}x"
        print(line, flush=True)


def overhead(n: int, repeat: int) -> None:
    import dask
    from ray.util.dask import ray_dask_get

    import shoal
    from shoal.backends import RayBackend

    backend = RayBackend()

    def on_shoal(offset: int) -> int:
        total = shoal.delayed(sum)([shoal.delayed(inc)(i + offset) for i in range(n)])
        return total.compute(scheduler=backend)

    def on_dask(offset: int) -> int:
        total = dask.delayed(sum)([dask.delayed(inc)(i + offset) for i in range(n)])
        return dask.compute(total, scheduler=ray_dask_get)[0]

    on_shoal(0), on_dask(0)  # warm up: workers, imports
    counter = iter(range(1, 10**6))  # new inputs every run: nothing is cached
    best, answers = best_of(
        {
            "shoal-on-ray": lambda: on_shoal(next(counter)),
            "dask-on-ray": lambda: on_dask(next(counter)),
        },
        repeat,
    )
    print(f"per-task overhead, {n} tasks + 1 sum (us per task):")
    print_ratios("overhead", {k: v / (n + 1) for k, v in best.items()}, "shoal-on-ray", 1e6, "us")


def big_graph(n: int) -> None:
    from shoal.backends import RayBackend, ray_engine
    from shoal.core.base import GraphSubmission
    from shoal.core.task import Ref, Task

    graph: dict = {("inc", i): Task(inc, i) for i in range(n)}
    level, width = "inc", n
    depth = 0
    while width > 1:
        depth += 1
        name, groups = f"sum-{depth}", (width + 7) // 8
        for g in range(groups):
            refs = [Ref((level, j)) for j in range(8 * g, min(8 * g + 8, width))]
            graph[(name, g)] = Task(sum, refs)
        level, width = name, groups
    backend = RayBackend()
    most = 0
    start = time.perf_counter()
    submission = backend.submit(GraphSubmission(graph, [(level, 0)]))
    done = False
    while not done:
        most = max(most, len(submission._running))
        _, done = submission.wait(0.1)
    (value,) = submission.results()
    elapsed = time.perf_counter() - start
    assert value == n * (n + 1) // 2, value
    assert isinstance(submission, ray_engine._RaySubmission)
    print(
        f"big graph  shoal-on-ray {len(graph)} tasks: {elapsed:.1f} s, "
        f"{elapsed / len(graph) * 1e6:.0f} us per task, at most {most} unfinished in Ray "
        f"(window {backend.window()})",
        flush=True,
    )


def reduction(gib: float, chunk: int, repeat: int, client) -> None:
    import shoal.array as sa

    cols = 14336
    rows = max(chunk, int(round(gib * 2**30 / 8 / cols / chunk)) * chunk)
    x = sa.random.default_rng(0).random((rows, cols), chunks=chunk)
    expected = x.sum().compute(scheduler="threads")
    best, answers = best_of(
        {
            "shoal-on-ray": lambda: x.sum().compute(scheduler="ray"),
            "shoal-threads": lambda: x.sum().compute(scheduler="threads"),
            "shoal.distributed": lambda: x.sum().compute(scheduler=client),
        },
        repeat,
    )
    for name, value in answers.items():
        assert math.isclose(value, expected, rel_tol=1e-9), (name, value, expected)
    size = rows * cols * 8 / 2**30
    print(f"reduction: random(({rows}, {cols}), chunks={chunk}).sum(), {size:.2f} GiB:")
    print_ratios("reduction", best, "shoal-on-ray")


def tpch_q1(scale: float, repeat: int, client) -> None:
    import pandas as pd

    import shoal.dataframe as sd
    from shoal.benchmarks.tpch.data import generate, table_paths
    from shoal.benchmarks.tpch.queries import QUERIES

    data_dir = os.path.join(tempfile.gettempdir(), "shoal-tpch")
    os.makedirs(data_dir, exist_ok=True)
    root = generate(scale, data_dir, parts=max(1, math.ceil(scale * 4)))
    paths = table_paths(root)

    def q1(scheduler):
        return QUERIES[1](lambda t: sd.read_parquet(paths[t])).compute(scheduler=scheduler)

    best, answers = best_of(
        {
            "shoal-on-ray": lambda: q1("ray"),
            "shoal-threads": lambda: q1("threads"),
            "shoal.distributed": lambda: q1(client),
        },
        repeat,
    )
    for answer in answers.values():
        pd.testing.assert_frame_equal(
            answer.reset_index(drop=True), answers["shoal-threads"].reset_index(drop=True)
        )
    print(f"TPC-H Q1 at SF{scale:g} ({len(answers['shoal-threads'])} rows, answers equal):")
    print_ratios("tpch-q1", best, "shoal-on-ray")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000, help="tasks of the overhead graph")
    parser.add_argument("--gib", type=float, default=1.75, help="size of the reduced array")
    parser.add_argument("--chunk", type=int, default=2048, help="block side of that array")
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-tpch", action="store_true")
    parser.add_argument("--big", type=int, default=0, help="tasks of the big graph (0: none)")
    parser.add_argument("--only-big", action="store_true", help="run the big graph alone")
    args = parser.parse_args()

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    import psutil

    print(f"load average {os.getloadavg()[0]:.1f}, {psutil.cpu_count()} cores", flush=True)
    if args.big:
        big_graph(args.big)
    if args.only_big:
        return
    overhead(args.tasks, args.repeat)
    with ProcessCluster("shoal", n_workers=2, nthreads=1) as cluster:
        client = cluster.client()
        try:
            reduction(args.gib, args.chunk, args.repeat, client)
            if not args.skip_tpch:
                tpch_q1(args.scale, args.repeat, client)
        finally:
            client.close()
    ray.shutdown()


if __name__ == "__main__":
    main()
