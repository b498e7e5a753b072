"""Per-task overhead of the local schedulers: shoal vs Dask, in one run.

Three graph shapes of trivial tasks (builtins such as ``int``, ``add``, ``sum`` on ints):

- independent: n-1 leaf tasks gathered by one task;
- chain: a linear chain of n tasks;
- tree: a tree reduction with fan-in 32 (about n tasks in all).

Each graph is built once per library (shoal ``Task``/``Ref``; Dask's task
spec ``Task``/``TaskRef``/``List``) and timed through the backends' ``get``:
shoal's ``get_sync``/``get_threads``/``get_processes`` on the raw graph (no
fusion) against ``dask.get``/``dask.threaded.get``/``dask.multiprocessing.get``
(``optimize_graph=False``). Overhead = wall time of the ``get`` call
(including the cull/order/validation it does) divided by the number of tasks;
best of ``--repeat`` runs. Both process schedulers get a pool that is already
started. The "chain+fuse" rows time fusion plus ``get`` for the chain
(shoal ``fuse_linear``, Dask ``fuse_linear_task_spec``).

    .venv/bin/python -P benchmarks/bench_core_overhead.py [--size 100000]
        [--process-size 20000] [--repeat 2] [--schedulers sync,threads,processes]
"""

from __future__ import annotations

import argparse
import gc
import operator
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

FAN_IN = 32


def spec(shape: str, n: int) -> list[tuple]:
    """The graph as library-neutral rows ``(key, kind, payload)``.

    kind is ``leaf`` (payload: an int), ``inc`` (payload: one key) or
    ``gather``/``sum`` (payload: a list of keys); the last row is the output.
    """
    if shape == "independent":
        rows = [(("leaf", i), "leaf", i) for i in range(n - 1)]
        rows.append(("out", "gather", [k for k, _, _ in rows]))
        return rows
    if shape == "chain":
        rows = [(("chain", 0), "leaf", 0)]
        rows += [(("chain", i), "inc", ("chain", i - 1)) for i in range(1, n)]
        return rows
    if shape == "tree":
        leaves, total = n, 0
        while True:  # the number of leaves that makes the whole tree about n tasks
            level, total = leaves, leaves
            while level > 1:
                level = -(-level // FAN_IN)
                total += level
            if total <= n:
                break
            leaves -= max(1, (total - n) // 2)
        rows = [(("tree-0", i), "leaf", i) for i in range(leaves)]
        level_keys = [k for k, _, _ in rows]
        depth = 0
        while len(level_keys) > 1:
            depth += 1
            groups = [level_keys[i : i + FAN_IN] for i in range(0, len(level_keys), FAN_IN)]
            level_keys = []
            for j, group in enumerate(groups):
                key = (f"tree-{depth}", j)
                rows.append((key, "sum", group))
                level_keys.append(key)
        return rows
    raise ValueError(f"unknown shape {shape!r}")


def shoal_graph(rows: list[tuple]) -> dict:
    from shoal.core.task import Ref, Task

    graph = {}
    for key, kind, payload in rows:
        if kind == "leaf":
            graph[key] = Task(int, payload)
        elif kind == "inc":
            graph[key] = Task(operator.add, Ref(payload), 1)
        elif kind == "gather":
            graph[key] = Task(len, [Ref(k) for k in payload])
        else:
            graph[key] = Task(sum, [Ref(k) for k in payload])
    return graph


def dask_graph(rows: list[tuple]) -> dict:
    from dask._task_spec import List, Task, TaskRef

    graph = {}
    for key, kind, payload in rows:
        if kind == "leaf":
            graph[key] = Task(key, int, payload)
        elif kind == "inc":
            graph[key] = Task(key, operator.add, TaskRef(payload), 1)
        elif kind == "gather":
            graph[key] = Task(key, len, List(*[TaskRef(k) for k in payload]))
        else:
            graph[key] = Task(key, sum, List(*[TaskRef(k) for k in payload]))
    return graph


def best_time(get, graph: dict, key, repeat: int) -> tuple[float, float, object]:
    """The best wall and process CPU times of ``repeat`` calls of
    ``get(graph, key)``, and the result."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = get(graph, key)
        best_wall = min(best_wall, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return best_wall, best_cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="tasks per graph (sync, threads)")
    parser.add_argument("--process-size", type=int, default=20_000, help="tasks for processes")
    parser.add_argument("--repeat", type=int, default=2, help="runs per figure; the best counts")
    parser.add_argument(
        "--schedulers", default="sync,threads,processes", help="comma-separated subset to run"
    )
    args = parser.parse_args()

    import dask
    import dask.multiprocessing
    import dask.threaded
    from dask._task_spec import fuse_linear_task_spec

    from shoal.core.fuse import fuse_linear
    from shoal.core.local import default_num_workers, get_processes, get_sync, get_threads

    workers = default_num_workers()
    dask_pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))

    def dask_processes(graph, key):
        return dask.multiprocessing.get(graph, key, pool=dask_pool, optimize_graph=False)

    def shoal_fused(get):
        return lambda graph, key: get(fuse_linear(graph, [key], max_length=10**9), key)

    def dask_fused(get):
        return lambda graph, key: get(fuse_linear_task_spec(graph, [key]), key)

    backends = {
        "sync": (get_sync, dask.get),
        "threads": (get_threads, dask.threaded.get),
        "processes": (get_processes, dask_processes),
    }
    chosen = args.schedulers.split(",")
    unknown = set(chosen) - set(backends)
    if unknown:
        parser.error(f"unknown schedulers {sorted(unknown)}; choose from {sorted(backends)}")
    # warm up pools and imports on a tiny graph
    for name in chosen:
        shoal_get, dask_get = backends[name]
        small = spec("tree", 100)
        assert shoal_get(shoal_graph(small), small[-1][0]) == dask_get(
            dask_graph(small), small[-1][0]
        )

    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"local scheduler overhead per task (wall time of get / tasks), {workers} workers, "
        f"best of {args.repeat}; load average {load}"
    )
    print("(cpu µs: shoal's process CPU time per task, all threads; less sensitive to load)")
    print(
        f"{'shape':<14}{'scheduler':<11}{'tasks':>8}{'shoal µs':>11}{'(cpu µs)':>11}"
        f"{'dask µs':>10}{'dask/shoal':>12}"
    )
    cases = [
        (shape, name) for name in ("sync", "threads") for shape in ("independent", "chain", "tree")
    ]
    cases += [("chain+fuse", "sync"), ("chain+fuse", "threads")]
    cases += [(shape, "processes") for shape in ("independent", "chain", "tree")]
    cases += [("chain+fuse", "processes")]
    cases = [(shape, name) for shape, name in cases if name in chosen]
    for shape, name in cases:
        n = args.process_size if name == "processes" else args.size
        rows = spec("chain" if shape == "chain+fuse" else shape, n)
        out = rows[-1][0]
        shoal_get, dask_get = backends[name]
        if shape == "chain+fuse":
            shoal_get, dask_get = shoal_fused(shoal_get), dask_fused(dask_get)
        sg, dg = shoal_graph(rows), dask_graph(rows)
        t_shoal, cpu_shoal, r_shoal = best_time(shoal_get, sg, out, args.repeat)
        t_dask, _, r_dask = best_time(dask_get, dg, out, args.repeat)
        assert r_shoal == r_dask, (shape, name, r_shoal, r_dask)
        ntasks = len(rows)
        us_shoal, us_dask = t_shoal / ntasks * 1e6, t_dask / ntasks * 1e6
        print(
            f"{shape:<14}{name:<11}{ntasks:>8}{us_shoal:>11.2f}{cpu_shoal / ntasks * 1e6:>11.2f}"
            f"{us_dask:>10.2f}{us_dask / us_shoal:>11.1f}x",
            flush=True,
        )
        sg = dg = None  # free both graphs before building the next ones
    dask_pool.shutdown()
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"goals: threads dask/shoal >= 5x; sync < 3 µs/task. Load average now {load}")


if __name__ == "__main__":
    main()
