"""Deep plans: the cost per operation of building, explaining, optimizing into
a graph and computing a chain of N operations, shoal beside Dask.

A time-stepping loop (``for _ in range(N): x = x + 0.001 * f(x)``) makes a
plan N operations deep. Every stage of shoal's plan model is iterative, so its
cost per node should stay flat from 1,000 to 100,000 nodes; the script prints
CPU µs per node for each stage and system (every stage runs in one thread), and
Dask's figure beside shoal's where Dask can build the plan (a stage that fails
prints its exception's name).

    .venv/bin/python -P benchmarks/bench_plan_depth.py --depths 1000,10000,100000
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

STAGES = ("plan", "explain", "graph", "compute")


def _timed(func: Callable[[], Any]) -> tuple[float | None, Any]:
    """CPU seconds of ``func()`` (every stage runs in this thread: the chains
    compute with the sync scheduler), steadier than wall time on a shared machine."""
    gc.collect()
    start = time.process_time()
    try:
        out = func()
    except (RecursionError, MemoryError, ValueError, TypeError, NotImplementedError) as e:
        return None, type(e).__name__
    return time.process_time() - start, out


def libraries(system: str) -> tuple:
    """The array, dataframe and bag modules and ``delayed`` of one system: the
    same user code below runs on either (shoal mirrors Dask's API)."""
    if system == "shoal":
        import shoal
        import shoal.array as array
        import shoal.bag as bag
        import shoal.dataframe as frame

        return array, frame, bag, shoal.delayed
    import dask
    import dask.array as array
    import dask.bag as bag
    import dask.dataframe as frame

    return array, frame, bag, dask.delayed


def cases(system: str, depth: int) -> dict[str, Callable[[], Any]]:
    """The four deep chains, written once for both systems."""
    xa, xd, xb, delayed = libraries(system)

    def array() -> Any:
        x = xa.ones(64, chunks=16)
        for _ in range(depth):
            x = x + 0.001 * np.sin(x)
        return x.sum()

    def frame() -> Any:
        df = xd.from_pandas(pd.DataFrame({"a": np.arange(64.0), "b": 1.0}), npartitions=4)
        s = df.a
        for _ in range(depth):
            s = s * 1.0001 + df.b
        return s.sum()

    def bag() -> Any:
        b = xb.from_sequence(range(64), npartitions=4)
        for _ in range(depth // 2):
            b = b.map(_inc).filter(_true)
        return b.sum()

    def chain() -> Any:
        x = delayed(0)
        for _ in range(depth):
            x = x + 1
        return x

    return {"array": array, "frame": frame, "bag": bag, "delayed": chain}


def _inc(x: int) -> int:
    return x + 1


def _true(x: int) -> bool:
    return True


def shoal_stages(obj: Any) -> dict[str, Callable[[], Any]]:
    from shoal.core.base import collections_to_graph

    def explain() -> Any:
        if hasattr(obj, "explain"):
            return obj.explain()
        if not hasattr(obj, "expr"):
            raise NotImplementedError
        return obj.expr.explain_text()

    return {
        "explain": explain,
        "graph": lambda: len(collections_to_graph([obj])[0]),
        "compute": lambda: obj.compute(scheduler="sync"),
    }


def dask_stages(obj: Any) -> dict[str, Callable[[], Any]]:
    def explain() -> Any:
        expr = getattr(obj, "expr", None)
        if expr is None:
            raise NotImplementedError
        return expr.tree_repr()

    return {
        "explain": explain,
        "graph": lambda: len(dict(_dask_optimized(obj).__dask_graph__())),
        "compute": lambda: obj.compute(scheduler="sync"),
    }


def _dask_optimized(obj: Any) -> Any:
    import dask

    if hasattr(obj, "optimize"):  # dask-expr collections optimize themselves
        return obj.optimize()
    return dask.optimize(obj)[0]


def measure(system: str, depth: int, kind: str) -> dict:
    """Seconds per stage of one chain (None and the exception's name on failure)."""
    seconds, obj = _timed(cases(system, depth)[kind])
    if seconds is None:
        return {"plan": None, "plan-error": obj}
    row: dict = {"plan": seconds}
    stages = shoal_stages if system == "shoal" else dask_stages
    for stage, func in stages(obj).items():
        row[stage], out = _timed(func)
        if row[stage] is None:
            row[stage + "-error"] = out
    return row


def fmt(row: dict, stage: str, depth: int) -> str:
    value = row.get(stage)
    if value is None:
        return f"{row.get(stage + '-error', row.get('plan-error', '-')):>14}"
    return f"{value / depth * 1e6:11.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="1000,10000,100000")
    parser.add_argument("--kinds", default="array,frame,bag,delayed")
    parser.add_argument("--systems", default="shoal,dask")
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    kinds = args.kinds.split(",")
    systems = args.systems.split(",")
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    print(
        f"per-node CPU cost of each stage (µs per operation in the chain); Python {sys.version[:6]}"
    )
    print(f"{'kind':8} {'depth':>7} {'system':7} " + " ".join(f"{s:>14}" for s in STAGES))
    for depth in depths:
        for kind in kinds:
            rows = {}
            for system in systems:  # each row as soon as it is measured
                rows[system] = row = measure(system, depth, kind)
                cells = " ".join(fmt(row, s, depth) for s in STAGES)
                print(f"{kind:8} {depth:>7} {system:7} {cells}", flush=True)
            if {"shoal", "dask"} <= set(systems):
                mine, theirs = rows["shoal"], rows["dask"]
                ratios = []
                for s in STAGES:
                    a, b = mine.get(s), theirs.get(s)
                    ratios.append(f"{b / a:13.2f}x" if a and b else f"{'-':>14}")
                print(f"{kind:8} {depth:>7} {'dask/sh':7} " + " ".join(ratios), flush=True)


if __name__ == "__main__":
    main()
