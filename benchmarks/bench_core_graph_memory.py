"""Memory per task of a built task graph: shoal vs Dask, in one run.

The graph has a realistic shape: ``n/2`` leaf tasks ``("load", i)`` that call a
function on an int, and ``n/2`` tasks ``("process", i)`` that each depend on one
leaf. Keys are ``(name, i)`` tuples, created the same way for both libraries
(each reference builds its own key tuple, as collections do). shoal builds
``Task``/``Ref`` nodes, once as the layers its collections build (block keys
implicit, ``core/layers.py``) and once as a plain dict; Dask builds its current
task spec (``dask._task_spec`` ``Task``/``TaskRef``) in its dict. The figure is the memory ``tracemalloc`` sees allocated
by building the graph dict (keys, nodes, arguments), divided by the tasks.

    .venv/bin/python -P benchmarks/bench_core_graph_memory.py [--size 1000000] [--array-blocks N]

A second row measures a graph the collections build: ``(x + 1).sum()`` of an
array of ``--array-blocks`` blocks, optimized by each library (same task count).
"""

from __future__ import annotations

import argparse
import gc
import operator
import tracemalloc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shoal.core.layers import LayeredGraph


def build_shoal(n: int) -> dict:
    from shoal.core.task import Ref, Task

    half = n // 2
    graph = {}
    for i in range(half):
        graph[("load", i)] = Task(abs, i)
    for i in range(half):
        graph[("process", i)] = Task(operator.add, Ref(("load", i)), 1)
    return graph


def build_shoal_layered(n: int) -> LayeredGraph:
    """The same graph as layers: block keys are implicit in list positions, as
    collections build them (``core/layers.py``)."""
    from shoal.core.layers import Layer, LayeredGraph
    from shoal.core.task import Ref, Task

    half = n // 2
    graph = LayeredGraph()
    graph.add_layer(Layer("load", (half,), [Task(abs, i) for i in range(half)]))
    process = [Task(operator.add, Ref(("load", i)), 1) for i in range(half)]
    graph.add_layer(Layer("process", (half,), process))
    return graph


def build_dask(n: int) -> dict:
    from dask._task_spec import Task, TaskRef

    half = n // 2
    graph = {}
    for i in range(half):
        key = ("load", i)
        graph[key] = Task(key, abs, i)
    for i in range(half):
        key = ("process", i)
        graph[key] = Task(key, operator.add, TaskRef(("load", i)), 1)
    return graph


def build_skeleton(n: int) -> dict:
    """The same keys (and reference key tuples) with no task objects: the part
    both libraries share, subtracted to give the bytes of the nodes alone."""
    half = n // 2
    graph = {}
    for i in range(half):
        graph[("load", i)] = None
    for i in range(half):
        graph[("process", i)] = ("load", i)
    return graph


def bytes_per_task(build, n: int, tasks: int | None = None) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    graph = build(n)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    tasks = n // 2 * 2 if tasks is None else tasks
    assert len(graph) == tasks, (len(graph), tasks)
    del graph
    return (after - before) / tasks


def array_sum_shoal(blocks: int):
    """The optimized graph of ``(x + 1).sum()`` over ``blocks`` one-element blocks."""
    import shoal.array as sa
    from shoal.core.base import collections_to_graph

    return collections_to_graph([(sa.ones(blocks, chunks=1) + 1).sum(split_every=32)])[0]


def array_sum_dask(blocks: int):
    import dask
    import dask.array as da

    (y,) = dask.optimize((da.ones(blocks, chunks=1) + 1).sum(split_every=32))
    return dict(y.__dask_graph__())


def collection_rows(blocks: int) -> None:
    """The same comparison for a graph built by the array collections."""
    tasks = len(array_sum_shoal(blocks))
    assert tasks == len(array_sum_dask(blocks)), "shoal and Dask should build as many tasks"
    shoal_b = bytes_per_task(array_sum_shoal, blocks, tasks)
    dask_b = bytes_per_task(array_sum_dask, blocks, tasks)
    label = "array (x+1).sum()"
    print(f"{label:<22}{shoal_b:>14.0f}{dask_b:>13.0f}{shoal_b / dask_b:>12.2f}  ({tasks} tasks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="tasks in the graph")
    parser.add_argument(
        "--array-blocks",
        type=int,
        default=20_000,
        help="blocks of the array-collection graph also measured (0: skip)",
    )
    args = parser.parse_args()

    import dask._task_spec  # noqa: F401  (import outside the measured window)

    import shoal.core.task  # noqa: F401

    for build in (build_shoal, build_shoal_layered, build_dask, build_skeleton):
        build(10)  # warm caches outside the measured window
    layered_b = bytes_per_task(build_shoal_layered, args.size)
    shoal_b = bytes_per_task(build_shoal, args.size)
    dask_b = bytes_per_task(build_dask, args.size)
    base_b = bytes_per_task(build_skeleton, args.size)
    print(f"graph memory per task, {args.size} tasks (tracemalloc)")
    print(f"{'':<22}{'shoal B/task':>14}{'dask B/task':>13}{'shoal/dask':>12}")
    print(f"{'layered graph':<22}{layered_b:>14.0f}{dask_b:>13.0f}{layered_b / dask_b:>12.2f}")
    print(f"{'dict graph':<22}{shoal_b:>14.0f}{dask_b:>13.0f}{shoal_b / dask_b:>12.2f}")
    shoal_n, dask_n = shoal_b - base_b, dask_b - base_b
    print(f"{'dict nodes (no keys)':<22}{shoal_n:>14.0f}{dask_n:>13.0f}{shoal_n / dask_n:>12.2f}")
    print(f"(keys and dict alone: {base_b:.0f} B/task, the same for both)")
    if args.array_blocks:
        collection_rows(args.array_blocks)
    print("goal: shoal/dask <= 0.33")


if __name__ == "__main__":
    main()
