"""A cluster computing more than its memory, end to end: shoal against dask.distributed.

Each system gets a local cluster of ``--workers`` worker processes (with
nannies) of one thread and ``--memory-limit`` each, and runs, in turn:

- ``persist``: an array of ``--array-gb`` GB (``ones * 2 + arange``, so the
  exact sum is known) persisted, waited for, then summed: the workers must
  spill to stay under their limits, and the sum must be exact;
- ``q3``, ``q18``: TPC-H queries 3 and 18 (both joins) at ``--scale``, the
  pandas-style code of ``tpch/queries.py`` (Dask: ``tpch/dask_queries.py``),
  computed on the cluster and compared with DuckDB's answers.

Printed per step: wall time, each worker's peak RSS (sampled every 50 ms
from this process), bytes the workers wrote to disk (``/proc/<pid>/io``),
worker restarts, and the check; then dask/shoal time ratios.

    .venv/bin/python -P benchmarks/bench_distributed_out_of_core.py                      # 10 GB, SF10
    .venv/bin/python -P benchmarks/bench_distributed_out_of_core.py --array-gb 2 --scale 1 --steps persist,q3
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from bench_distributed_shuffle import PeakRSS, _written  # noqa: E402
from tpch.data import generate, table_paths  # noqa: E402


def _array(module, gb: float, chunk: int):
    """``ones((n, n)) * 2 + arange(n)`` of about ``gb`` GB, and its exact sum."""
    n = int(math.sqrt(gb * 1e9 / 8))
    x = module.ones((n, n), chunks=(chunk, chunk)) * 2 + module.arange(n, chunks=chunk)
    return x, float(n * (2 * n + n * (n - 1) // 2))


def _api(system: str) -> SimpleNamespace:
    """The array and dataframe modules, ``wait`` and the queries of ``system``."""
    if system == "shoal":
        import shoal.array as array
        import shoal.dataframe as dataframe
        from shoal.benchmarks.tpch.queries import QUERIES as queries
        from shoal.distributed import wait
    else:
        import dask.array as array
        import dask.dataframe as dataframe

        from distributed import wait
        from shoal.benchmarks.tpch.dask_queries import DASK_QUERIES as queries
    return SimpleNamespace(array=array, dataframe=dataframe, wait=wait, queries=queries)


def _steps(system: str, args, paths: dict, expected: dict) -> dict:
    """``{step: (seconds, check)}`` for the steps of ``args.steps``."""
    api = _api(system)
    out = {}
    for step in args.steps.split(","):
        start = time.perf_counter()
        try:
            check = _step(step, api, args, paths, expected)
        except Exception as e:  # the system failed the step: say how, go on
            check = f"FAILED: {type(e).__name__}: {str(e).splitlines()[0][:120]}"
        out[step] = (time.perf_counter() - start, check)
    return out


def _step(step: str, api: SimpleNamespace, args, paths: dict, expected: dict) -> str:
    """Run one step; "right", or what is wrong."""
    from shoal.benchmarks.tpch.compare import as_frame, assert_same

    if step == "persist":
        x, exact = _array(api.array, args.array_gb, args.chunk)
        kept = x.persist()
        api.wait(kept)
        total = float(kept.sum().compute())
        del kept
        return "right" if math.isclose(total, exact, rel_tol=1e-9) else f"WRONG {total}"
    query = int(step[1:])
    result = api.queries[query](lambda t: api.dataframe.read_parquet(paths[t]))
    answer = result.compute() if hasattr(result, "compute") else result
    want = expected[query]
    try:
        assert_same(as_frame(answer, query, list(want.columns)), want, query)
    except AssertionError as e:  # a wrong answer, or one of the wrong shape
        return f"WRONG: {str(e).splitlines()[0][:120]}"
    return "right"


def run(system: str, args, paths: dict, expected: dict) -> dict:
    if system == "shoal":
        from shoal.distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=args.workers, threads_per_worker=1, memory_limit=args.memory_limit
        )
    else:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            memory_limit=args.memory_limit,
            dashboard_address=None,
        )
    with cluster, Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        before = _written(pids)
        with PeakRSS(pids) as rss:
            results = _steps(system, args, paths, expected)
        restarted = len(set(client.run(os.getpid).values()) - set(pids))
        written = _written(pids) - before
    peaks = ", ".join(f"{p / 2**30:.2f}" for p in sorted(rss.peak.values(), reverse=True))
    for step, (seconds, check) in results.items():
        print(f"{system:6s} {step:8s} {seconds:8.1f} s  {check}", flush=True)
    print(
        f"{system:6s} peak RSS per worker [{peaks}] GiB, written to disk "
        f"{written / 2**30:.2f} GiB, workers restarted {restarted}",
        flush=True,
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--array-gb", type=float, default=10.0)
    parser.add_argument("--chunk", type=int, default=4000, help="array block side")
    parser.add_argument("--scale", type=float, default=10.0, help="TPC-H scale factor")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "shoal-tpch"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--steps", default="persist,q3,q18")
    parser.add_argument("--systems", default="shoal,dask")
    args = parser.parse_args()

    paths, expected = {}, {}
    queries = [int(s[1:]) for s in args.steps.split(",") if s.startswith("q")]
    if queries:
        from shoal.benchmarks.tpch.sql import duckdb_connection, run_duckdb

        os.makedirs(args.data_dir, exist_ok=True)
        root = generate(args.scale, args.data_dir, parts=max(1, math.ceil(args.scale * 4)))
        paths = table_paths(root)
        con = duckdb_connection(paths)
        expected = {q: run_duckdb(con, q) for q in queries}
    print(
        f"{args.workers} workers x 1 thread, memory limit {args.memory_limit}; array "
        f"{args.array_gb:g} GB in blocks of {args.chunk}^2; TPC-H SF{args.scale:g}",
        flush=True,
    )
    times = {}
    for system in args.systems.split(","):
        times[system] = run(system, args, paths, expected)
    if "shoal" in times and "dask" in times:
        for step in times["shoal"]:
            ratio = times["dask"][step][0] / times["shoal"][step][0]
            print(f"dask / shoal time, {step}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
