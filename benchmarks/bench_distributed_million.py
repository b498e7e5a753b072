"""Scheduler scaling with a big graph: shoal.distributed vs dask.distributed.

The graph: ``n/2`` loads, one ``inc`` per load, and a tree sum with fan-in 16
(about ``n`` tasks in all), submitted with ``client.compute`` on a cluster of
separate processes: a scheduler and 2 workers with 1 thread each. Figures:

- time from ``compute()`` to the first task running (a worker's clock) and
  the total time to the result;
- scheduler CPU seconds per task over the whole run, read inside the
  scheduler process, and the tasks per second one scheduler could drive;
- scheduler memory per task: resident-memory growth of a fresh scheduler
  process with no workers once it holds the whole graph (every task pending).

    .venv/bin/python -P benchmarks/bench_distributed_million.py              # n = 20,000
    .venv/bin/python -P benchmarks/bench_distributed_million.py --size 1000000
"""

from __future__ import annotations

import argparse
import builtins
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder

from _cluster import ProcessCluster, scheduler_cpu, scheduler_tasks  # noqa: E402

FAN_IN = 16


def load(i):
    if not hasattr(builtins, "_bench_first_task"):
        builtins._bench_first_task = time.time()
    return i


def inc(x):
    return x + 1


def total(*xs):
    return sum(xs)


def first_task_time():
    return getattr(builtins, "_bench_first_task", None)


def layout(n: int):
    """The graph as (key, func, dependency keys or literal) triples, plus the output key."""
    leaves = max(1, n // 2)
    out = []
    for i in range(leaves):
        out.append((("load-5f1c2a", i), load, [], i))
        out.append((("inc-93be07", i), inc, [("load-5f1c2a", i)], None))
    level = [("inc-93be07", i) for i in range(leaves)]
    depth = 0
    while len(level) > 1:
        nxt = []
        for j in range(0, len(level), FAN_IN):
            key = ("total-0c4d11", depth, j // FAN_IN)
            out.append((key, total, level[j : j + FAN_IN], None))
            nxt.append(key)
        level = nxt
        depth += 1
    return out, level[0]


class _Graph:
    """A shoal collection around a plain graph dict."""

    def __init__(self, graph: dict, key):
        self.graph, self.key = graph, key

    def __shoal_graph__(self):
        return self.graph

    def __shoal_keys__(self):
        return self.key

    def __shoal_postcompute__(self):
        return _first, ()


def _first(x):
    return x


def shoal_collection(n: int):
    from shoal.core.task import Ref, Task

    items, top = layout(n)
    graph = {}
    for key, func, deps, literal in items:
        graph[key] = Task(func, literal) if not deps else Task(func, *[Ref(d) for d in deps])
    return _Graph(graph, top), len(graph)


def dask_collection(n: int):
    from dask._task_spec import Task, TaskRef
    from dask.delayed import Delayed

    items, top = layout(n)
    graph = {}
    for key, func, deps, literal in items:
        if deps:
            graph[key] = Task(key, func, *[TaskRef(d) for d in deps])
        else:
            graph[key] = Task(key, func, literal)
    return Delayed(top, graph), len(graph)


def expected(n: int) -> int:
    leaves = max(1, n // 2)
    return sum(range(1, leaves + 1))


def _first_started(client) -> float | None:
    firsts = [t for t in client.run(first_task_time).values() if t is not None]
    return min(firsts) if firsts else None


def run(system: str, n: int, to_the_end: bool = True) -> dict:
    """Time to the first task, total time and scheduler CPU per task (the
    last two only ``to_the_end``; otherwise the computation is cancelled once
    its first task ran)."""
    make = shoal_collection if system == "shoal" else dask_collection
    with ProcessCluster(system, n_workers=2, nthreads=1) as cluster, cluster.client() as client:
        client.wait_for_workers(2)
        coll, ntasks = make(n)
        cpu0 = client.run_on_scheduler(scheduler_cpu)
        start = time.time()
        future = client.compute(coll, optimize_graph=False)
        out = {"tasks": ntasks, "total": float("nan"), "cpu": float("nan")}
        if not to_the_end:
            while _first_started(client) is None:
                time.sleep(0.2)
            out["first"] = _first_started(client) - start
            client.cancel(future)
            return out
        result = future.result()
        out["total"] = time.time() - start
        out["cpu"] = (client.run_on_scheduler(scheduler_cpu) - cpu0) / ntasks
        out["first"] = _first_started(client) - start
        assert result == expected(n), (result, expected(n))
        del future
    return out


def memory(system: str, n: int) -> float:
    """Scheduler RSS growth per task, holding the whole graph with no worker."""
    import psutil

    make = shoal_collection if system == "shoal" else dask_collection
    with ProcessCluster(system, n_workers=0) as cluster, cluster.client() as client:
        proc = psutil.Process(cluster.scheduler_pid)
        coll, ntasks = make(n)
        time.sleep(0.5)
        before = proc.memory_info().rss
        future = client.compute(coll, optimize_graph=False)
        deadline = time.time() + 3600
        while client.run_on_scheduler(scheduler_tasks) < ntasks and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        after = proc.memory_info().rss
        del future
    return (after - before) / ntasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000, help="about this many tasks")
    parser.add_argument(
        "--systems", default="shoal,dask", help="comma-separated: shoal, dask (the reference)"
    )
    parser.add_argument(
        "--dask-total-max",
        type=int,
        default=200_000,
        help="above this size dask's run stops after its first task (it would take hours)",
    )
    args = parser.parse_args()
    systems = args.systems.split(",")
    figures = {}
    for system in systems:
        r = run(system, args.size, system == "shoal" or args.size <= args.dask_total_max)
        r["mem"] = memory(system, args.size)
        figures[system] = r
        print(
            f"{system}: {r['tasks']:,} tasks, first task after {r['first']:.2f} s, "
            f"total {r['total']:.1f} s, scheduler CPU {r['cpu'] * 1e6:.1f} us/task, "
            f"scheduler memory {r['mem']:.0f} B/task",
            flush=True,
        )
    print(f"\n{figures[systems[0]]['tasks']:,} tasks, 2 workers x 1 thread, separate processes")
    print(f"{'figure':44s}" + "".join(f"{s:>14s}" for s in systems) + "   dask/shoal")
    rows = [
        ("time from compute() to first task (s)", "first", "{:.2f}"),
        ("total time (s)", "total", "{:.1f}"),
        ("end-to-end time per task (us)", "per_task", "{:.1f}"),
        ("scheduler CPU per task (us)", "cpu_us", "{:.1f}"),
        ("tasks/s one scheduler could drive", "rate", "{:,.0f}"),
        ("scheduler memory per task (B)", "mem", "{:.0f}"),
    ]
    for r in figures.values():
        r["per_task"] = r["total"] / r["tasks"] * 1e6
        r["cpu_us"] = r["cpu"] * 1e6
        r["rate"] = 1 / r["cpu"]
    for label, field, fmt in rows:
        line = f"{label:44s}" + "".join(f"{fmt.format(figures[s][field]):>14s}" for s in systems)
        if "shoal" in figures and "dask" in figures:
            ratio = figures["dask"][field] / figures["shoal"][field]
            line += f"   {1 / ratio if field == 'rate' else ratio:.2f}x"
        print(line)
    print("goals: first task under 5 s; scheduler memory per task at most 1/4 of dask's")


if __name__ == "__main__":
    main()
