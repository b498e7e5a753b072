"""TPC-H queries on parquet: shoal.dataframe vs Dask vs DuckDB vs Polars (vs pandas).

Data: ``tpchgen-cli`` (the ``bench`` extra) writes all eight tables at the
scale factor; ``tpch/data.py`` rewrites them with plain types (decimals as
float64, dates as timestamps, strings as strings) so every system reads the
same files. The queries: ``tpch/queries.py`` (pandas-style code, run by
shoal and pandas), ``tpch/dask_queries.py`` (the same code, with the five
steps Dask cannot run swapped for what a Dask user writes), ``tpch/sql.py``
(SQL, run by DuckDB and by Polars' SQL context on lazy parquet scans).

Each (system, query) runs in a fresh subprocess, so its peak memory (max
RSS, imports included) is its own; the time excludes imports. Every answer
is checked against DuckDB's (``tpch/compare.py``). CPU seconds (user +
system, all threads) are printed too. Ratios are against shoal (>1 means
shoal is faster / smaller). ``--repeat N`` runs every system N times per
query, alternating which goes first, and prints the spread of times.

    .venv/bin/python -P benchmarks/bench_dataframe_tpch.py                 # SF 1, Q1-Q22
    .venv/bin/python -P benchmarks/bench_dataframe_tpch.py --queries 1,6 --systems shoal,dask
    .venv/bin/python -P benchmarks/bench_dataframe_tpch.py --scale 10 --queries 1-22
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from _common import ROOT, peak_rss, print_vs_shoal  # noqa: E402

SYSTEMS = ("shoal", "dask", "duckdb", "polars", "pandas")


def parse_queries(text: str) -> list[int]:
    """``"1-5,7,q9"`` -> ``[1, 2, 3, 4, 5, 7, 9]``."""
    out: list[int] = []
    for piece in text.replace("q", "").replace("Q", "").split(","):
        if not piece.strip():
            continue
        first, _, last = piece.partition("-")
        out.extend(range(int(first), int(last or first) + 1))
    bad = [q for q in out if not 1 <= q <= 22]
    if bad:
        raise SystemExit(f"--queries: TPC-H has queries 1 to 22, got {bad}")
    return out


# ------------------------------------------------------------- one run


def _answer(system: str, query: int, paths: dict):
    """Run ``query`` with ``system``; the computed answer."""
    if system == "shoal":
        import shoal.dataframe as sd
        from shoal.benchmarks.tpch.queries import QUERIES

        result = QUERIES[query](lambda t: sd.read_parquet(paths[t]))
        return result.compute(scheduler="threads") if hasattr(result, "compute") else result
    if system == "dask":
        import dask
        import dask.dataframe as dd

        from shoal.benchmarks.tpch.dask_queries import DASK_QUERIES

        with dask.config.set(scheduler="threads"):
            result = DASK_QUERIES[query](lambda t: dd.read_parquet(paths[t]))
            return result.compute() if hasattr(result, "compute") else result
    if system == "pandas":
        import pandas as pd

        from shoal.benchmarks.tpch.queries import QUERIES

        return QUERIES[query](lambda t: pd.read_parquet(paths[t]))
    from shoal.benchmarks.tpch.sql import SQL, duckdb_connection

    if system == "duckdb":
        return duckdb_connection(paths).execute(SQL[query]).df()
    if system == "polars":
        import polars as pl

        tables = {t: pl.scan_parquet(os.path.join(p, "*.parquet")) for t, p in paths.items()}
        return pl.SQLContext(tables).execute(SQL[query]).collect()
    raise SystemExit(f"unknown system {system!r}; choose among {', '.join(SYSTEMS)}")


def run_one(system: str, query: str, root: str, out: str) -> dict:
    """Time one query in this process, report peak RSS, pickle the answer."""
    from shoal.benchmarks.tpch.data import table_paths

    paths = table_paths(root)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_start = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    answer = _answer(system, int(query), paths)
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_start
    if system == "polars":
        answer = answer.to_pandas()
    with open(out, "wb") as f:
        pickle.dump(answer, f)
    rows = len(answer) if hasattr(answer, "__len__") else 1
    return {"seconds": elapsed, "cpu": cpu, "peak_bytes": peak_rss(), "value": f"{rows} rows"}


def _run_child(system: str, query: int, root: str, out: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-P", os.path.abspath(__file__), "--child", system, str(query), root, out],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": last[:300]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check(system: str, query: int, out: str, expected) -> str:
    """``"ok"`` or why ``system``'s answer differs from DuckDB's."""
    from shoal.benchmarks.tpch.compare import as_frame, assert_same

    with open(out, "rb") as f:
        answer = pickle.load(f)
    try:
        assert_same(as_frame(answer, query, list(expected.columns)), expected, query)
    except Exception as e:  # a wrong answer, or one of the wrong shape
        return f"DIFFERS: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return "ok"


# ---------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "shoal-tpch"))
    parser.add_argument("--systems", default="shoal,dask,duckdb,polars")
    parser.add_argument("--queries", default="1-22", help="e.g. 1-22, 1,6 or 3-5,q9")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per system, alternating their order"
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child)))
        return
    from shoal.benchmarks.tpch.data import generate, table_paths
    from shoal.benchmarks.tpch.sql import duckdb_connection, run_duckdb

    queries = parse_queries(args.queries)
    systems = args.systems.split(",")
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise SystemExit(f"--systems: unknown {unknown}; choose among {', '.join(SYSTEMS)}")
    os.makedirs(args.data_dir, exist_ok=True)
    start = time.perf_counter()
    root = generate(args.scale, args.data_dir, parts=max(1, math.ceil(args.scale * 4)))
    print(f"TPC-H SF{args.scale:g} at {root} ({time.perf_counter() - start:.0f} s to prepare)")
    reference = duckdb_connection(table_paths(root))
    summary: dict[int, dict[str, dict]] = {}
    scratch = tempfile.mkdtemp(dir=args.data_dir)
    for query in queries:
        expected = run_duckdb(reference, query)
        runs = []
        for rep in range(args.repeat):
            order = systems[rep % len(systems) :] + systems[: rep % len(systems)]
            load = os.getloadavg()[0]
            results = {}
            for s in order:
                out = os.path.join(scratch, f"{s}-q{query}.pickle")
                results[s] = _run_child(s, query, root, out)
                if "error" not in results[s]:
                    results[s]["check"] = _check(s, query, out, expected)
                    os.remove(out)
            results = {s: results[s] for s in systems}
            done = {s: r for s, r in results.items() if "error" not in r}
            print_vs_shoal(f"q{query} run {rep + 1} (load {load:.1f})", done)
            for s, r in results.items():
                if "error" in r:
                    print(f"q{query} {s:7s} FAILED: {r['error']}")
            print(
                f"q{query} CPU seconds: "
                + ", ".join(f"{s} {r['cpu']:.2f}" for s, r in done.items())
                + "; answers vs DuckDB: "
                + ", ".join(f"{s} {r['check']}" for s, r in done.items())
            )
            runs.append(results)
        summary[query] = _best(runs, systems)
        if args.repeat > 1:
            _print_spread(query, runs, systems)
    os.rmdir(scratch)
    _print_table(summary, systems)


def _best(runs: list, systems: list) -> dict:
    """Per system: the fastest successful run (or the error)."""
    best = {}
    for s in systems:
        ok = [r[s] for r in runs if "error" not in r[s]]
        best[s] = min(ok, key=lambda r: r["seconds"]) if ok else runs[0][s]
    return best


def _print_table(summary: dict, systems: list) -> None:
    """A markdown table: wall seconds / CPU seconds (peak GiB) per query and
    system, wall-time ratios against shoal, totals over the queries every
    system answered."""
    head = "| query | " + " | ".join(f"{s} wall / CPU s (GiB)" for s in systems)
    others = [s for s in systems if s != "shoal"] if "shoal" in systems else []
    head += "".join(f" | {s}/shoal" for s in others) + " |"
    print()
    print(head)
    print("|" + " --- |" * (1 + len(systems) + len(others)))
    totals = dict.fromkeys(systems, 0.0)
    cpu = dict.fromkeys(systems, 0.0)
    complete = [q for q, r in summary.items() if all("error" not in r[s] for s in systems)]
    for q, r in summary.items():
        cells = []
        for s in systems:
            if "error" in r[s]:
                cells.append("failed")
                continue
            flag = "" if r[s]["check"] == "ok" else " WRONG"
            cells.append(
                f"{r[s]['seconds']:.2f} / {r[s]['cpu']:.2f} "
                f"({r[s]['peak_bytes'] / 2**30:.2f}){flag}"
            )
            if q in complete:
                totals[s] += r[s]["seconds"]
                cpu[s] += r[s]["cpu"]
        for s in others:
            ok = "error" not in r[s] and "error" not in r["shoal"]
            cells.append(f"{r[s]['seconds'] / r['shoal']['seconds']:.2f}" if ok else "-")
        print(f"| Q{q} | " + " | ".join(cells) + " |")
    cells = [f"{totals[s]:.2f} / {cpu[s]:.2f}" for s in systems]
    if totals.get("shoal"):
        cells += [f"{totals[s] / totals['shoal']:.2f}" for s in others]
    else:
        cells += ["-"] * len(others)
    print(f"| total ({len(complete)} queries) | " + " | ".join(cells) + " |")


def _print_spread(query: int, runs: list, systems: list) -> None:
    """Min / median / max of each system's time over the runs."""

    def spread(xs):
        xs = sorted(xs)
        return f"min {xs[0]:.2f}, median {xs[len(xs) // 2]:.2f}, max {xs[-1]:.2f}"

    for s in systems:
        times = [r[s]["seconds"] for r in runs if "error" not in r[s]]
        if times:
            print(f"q{query} {s:7s} seconds over {len(times)} runs: {spread(times)}")


if __name__ == "__main__":
    main()
