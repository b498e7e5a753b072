"""Dataframe work larger than memory on one machine: shoal against Dask, DuckDB as the judge.

Three operations on TPC-H tables (``tpch/data.py`` writes them with
``tpchgen-cli``), each run by one system in a fresh subprocess on the local
threaded scheduler, so its peak RSS (VmHWM) is its own:

- ``merge``: ``lineitem`` joined with ``orders`` on the order key, written
  to parquet: with method ``auto`` the plan a user gets (shoal: a RangeJoin,
  both tables being written in order-key order; Dask: its default), with
  ``disk`` or ``tasks`` a hash join, both sides shuffled that way;
- ``set_index``: ``lineitem.set_index("l_orderkey")``, written to parquet;
- ``shuffle``: ``lineitem.shuffle("l_orderkey")`` of the numeric columns,
  summarized per output partition (rows, distinct keys, a column's sum):
  GB/s is the input's in-memory size over the wall time.

Each system runs with each method (``--methods``; shoal's ``disk``
writes Arrow/pickle-5 shards to files, ``tasks`` shuffles in memory; Dask's
``disk`` is partd, its ``tasks`` the same idea as ours). Answers are checked,
not assumed: DuckDB compares the written merge and ``set_index`` outputs
with its own join and table one ``l_orderkey`` range at a time
(``_range_check``: ranges of ~5 M lineitem rows cut from the orders' key
span, so DuckDB joins each in memory even at SF100), as multisets (row
count and the sum of a hash of every row); a mismatch names its range and
the bench exits non-zero once all results are printed. The ``set_index``
output must be sorted across its files in order; the shuffle must place
every key in one partition only (distinct keys per partition add up to the
table's distinct keys, which DuckDB counts range by range too) and keep the
rows and the column's sum.

    .venv/bin/python -P benchmarks/bench_dataframe_out_of_core.py --scale 10
    .venv/bin/python -P benchmarks/bench_dataframe_out_of_core.py --scale 1 --ops merge --systems shoal
    .venv/bin/python -P benchmarks/bench_dataframe_out_of_core.py --scale 100 --ops merge --methods auto --systems shoal
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from _common import ROOT, peak_rss  # noqa: E402
from _range_check import (  # noqa: E402
    ROWS_PER_RANGE,
    KeyRanges,
    Verdict,
    compare,
    connect,
    grouped_digests,
    join_digests,
)

LINEITEM = ["l_orderkey", "l_partkey", "l_suppkey", "l_quantity", "l_extendedprice", "l_shipdate"]
ORDERS = ["o_orderkey", "o_custkey", "o_totalprice", "o_orderdate"]
NUMERIC = [
    "l_orderkey",
    "l_partkey",
    "l_suppkey",
    "l_linenumber",
    "l_quantity",
    "l_extendedprice",
    "l_discount",
    "l_tax",
]


def _digest(part):
    """One row per shuffled partition: rows, distinct keys, a column's sum."""
    import pandas as pd

    return pd.DataFrame(
        {
            "rows": [len(part)],
            "keys": [part["l_orderkey"].nunique()],
            "price": [float(part["l_extendedprice"].sum())],
        }
    )


def _child(system: str, op: str, method: str, tables: dict, out: str) -> dict:
    """Run ``op`` with ``system`` and ``method`` in this (fresh) process."""
    if system == "shoal":
        import shoal.dataframe as dd
    else:
        import dask

        dask.config.set(scheduler="threads")
        import dask.dataframe as dd

    start = time.perf_counter()
    value: object
    if op == "merge":
        left = dd.read_parquet(tables["lineitem"], columns=LINEITEM)
        right = dd.read_parquet(tables["orders"], columns=ORDERS)
        if method == "auto":  # the plan a user gets: a RangeJoin here, files in key order
            joined = left.merge(right, left_on="l_orderkey", right_on="o_orderkey")
        else:  # a hash join: both sides shuffled with ``method``
            if system == "shoal":
                import shoal

                shoal.config.set({"dataframe.merge.range-join": False})
            joined = left.merge(
                right,
                left_on="l_orderkey",
                right_on="o_orderkey",
                shuffle_method=method,
                broadcast=False,
            )
        joined.to_parquet(out, write_index=False)
        value = "written"
    elif op == "set_index":
        frame = dd.read_parquet(tables["lineitem"], columns=LINEITEM)
        frame.set_index("l_orderkey", shuffle_method=method).to_parquet(out)
        value = "written"
    else:
        frame = dd.read_parquet(tables["lineitem"], columns=NUMERIC)
        moved = frame.shuffle("l_orderkey", shuffle_method=method)
        meta = {"rows": "int64", "keys": "int64", "price": "float64"}
        summary = moved.map_partitions(_digest, meta=meta).compute()
        value = {
            "rows": int(summary["rows"].sum()),
            "keys": int(summary["keys"].sum()),
            "price": float(summary["price"].sum()),
        }
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_bytes": peak_rss(), "value": value}


def _duckdb_check(op: str, tables: dict, out: str, per_range: int = ROWS_PER_RANGE) -> Verdict:
    """Whether ``out`` holds the rows DuckDB computes, compared one
    ``l_orderkey`` range at a time (ranges cut from the orders' key span,
    ``per_range`` lineitem rows each): see ``_range_check``."""
    con = connect()
    line = f"read_parquet('{tables['lineitem']}/*.parquet')"
    orders = f"read_parquet('{tables['orders']}/*.parquet')"
    lo, hi = con.execute(f"SELECT min(o_orderkey), max(o_orderkey) FROM {orders}").fetchone()
    lo, hi = (0, 0) if lo is None else (lo, hi)  # no orders: any row written is wrong
    rows = con.execute(f"SELECT count(*) FROM {line}").fetchone()[0]
    ranges = KeyRanges.covering(lo, hi, rows, "l_orderkey", per_range)
    columns = [_canonical(c) for c in LINEITEM + (ORDERS if op == "merge" else [])]
    scan = f"read_parquet('{out}/*.parquet')"
    got = grouped_digests(con, scan, "l_orderkey", columns, ranges)
    if op == "merge":
        keys = ("l_orderkey", "o_orderkey")
        want = join_digests(con, line, orders, keys, columns, ranges)
    else:
        want = grouped_digests(con, line, "l_orderkey", columns, ranges)
    verdict = compare(got, want, ranges)
    if verdict.ok and op == "set_index":
        order = _sorted_across_files(out)
        return verdict if order == "ok" else Verdict(False, f"MISMATCH: {order}")
    return verdict


def _canonical(column: str) -> str:
    """``column`` cast to one type per kind, so a timestamp's unit or an
    integer's width does not change its hash."""
    if column.endswith("date"):
        return f"CAST({column} AS DATE)"
    if column.endswith(("price", "quantity")):
        return f"CAST({column} AS DOUBLE)"
    return f"CAST({column} AS BIGINT)"


def _sorted_across_files(out: str) -> str:
    """'ok' when ``l_orderkey`` never decreases through the files in order."""
    import pyarrow.parquet as pq

    files = sorted(glob.glob(os.path.join(out, "*.parquet")), key=_part_number)
    last = -math.inf
    for path in files:
        keys = pq.read_table(path, columns=["l_orderkey"]).column(0).to_numpy()
        if len(keys) == 0:
            continue
        if keys[0] < last or (keys[1:] < keys[:-1]).any():
            return f"not sorted at {os.path.basename(path)}"
        last = keys[-1]
    return "ok"


def _part_number(path: str) -> int:
    digits = "".join(c for c in os.path.basename(path) if c.isdigit())
    return int(digits) if digits else 0


def _shuffle_truth(tables: dict, per_range: int = ROWS_PER_RANGE) -> dict:
    """lineitem's rows, distinct keys and price sum, by DuckDB one
    ``l_orderkey`` range at a time (a distinct count of 150 M keys at once
    would spill)."""
    con = connect()
    line = f"read_parquet('{tables['lineitem']}/*.parquet')"
    lo, hi, rows = con.execute(
        f"SELECT min(l_orderkey), max(l_orderkey), count(*) FROM {line}"
    ).fetchone()
    ranges = KeyRanges.covering(lo, hi, rows, "l_orderkey", per_range)
    keys, price = 0, 0.0
    for i in range(ranges.count):
        a, b = ranges.bounds(i)
        k, p = con.execute(
            f"SELECT count(DISTINCT l_orderkey), sum(l_extendedprice) FROM {line}"
            f" WHERE l_orderkey BETWEEN {a} AND {b}"
        ).fetchone()
        keys, price = keys + k, price + (p or 0.0)
    return {"rows": rows, "keys": keys, "price": price}


def _run(system: str, op: str, method: str, tables: dict, out: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-P", os.path.abspath(__file__), "--child", system, op, method, out]
        + [json.dumps(tables)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {proc.returncode}: {tail[:200]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0, help="TPC-H scale factor")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "shoal-tpch"))
    parser.add_argument("--systems", default="shoal,dask")
    parser.add_argument("--ops", default="merge,set_index,shuffle")
    parser.add_argument("--methods", default="disk,tasks")
    parser.add_argument(
        "--rows-per-range",
        type=int,
        default=ROWS_PER_RANGE,
        help="lineitem rows per l_orderkey range of the DuckDB check",
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        system, op, method, out, tables = args.child
        print(json.dumps(_child(system, op, method, json.loads(tables), out)))
        return

    from tpch.data import generate, table_paths

    os.makedirs(args.data_dir, exist_ok=True)
    parts = max(1, math.ceil(args.scale * 4))
    root = generate(args.scale, args.data_dir, parts=parts, tables=("lineitem", "orders"))
    tables = {t: p for t, p in table_paths(root).items() if t in ("lineitem", "orders")}
    truth = _shuffle_truth(tables, args.rows_per_range) if "shuffle" in args.ops else None
    size = truth["rows"] * 8 * len(NUMERIC) if truth else 0  # the shuffled columns in memory
    print(f"TPC-H SF{args.scale:g} from {root}; threads scheduler; peak = the process's VmHWM")
    wrong = []
    for op in args.ops.split(","):
        for method in args.methods.split(","):
            results = {}
            for system in args.systems.split(","):
                out = tempfile.mkdtemp(dir=args.data_dir, prefix=f"out-{system}-{op}-")
                shutil.rmtree(out)
                r = _run(system, op, method, tables, out)
                if "error" not in r:
                    if op == "shuffle":
                        r["check"] = _shuffle_check(r["value"], truth)
                        r["gbps"] = size / r["seconds"] / 1e9
                    else:
                        start = time.perf_counter()
                        r["check"] = _duckdb_check(op, tables, out, args.rows_per_range)
                        r["check_seconds"] = time.perf_counter() - start
                    if not r["check"].ok:
                        wrong.append(f"{op} {method} {system}: {r['check'].text}")
                shutil.rmtree(out, ignore_errors=True)
                results[system] = r
            _print(op, method, results)
    if wrong:
        sys.exit("WRONG ANSWERS:\n" + "\n".join(wrong))


def _shuffle_check(value: dict, truth: dict) -> Verdict:
    right = value["rows"] == truth["rows"] and value["keys"] == truth["keys"]
    right = right and math.isclose(value["price"], truth["price"], rel_tol=1e-9)
    text = f"ok ({value['rows']:,} rows, {value['keys']:,} keys as DuckDB's)"
    return Verdict(True, text) if right else Verdict(False, f"{value} != DuckDB's {truth}")


def _print(op: str, method: str, results: dict) -> None:
    base = results.get("shoal")
    for system, r in results.items():
        label = f"{op:9s} {method:5s} {system:6s}"
        if "error" in r:
            print(f"{label} FAILED {r['error']}")
            continue
        line = f"{label} {r['seconds']:8.1f} s  peak {r['peak_bytes'] / 2**30:5.2f} GiB"
        if "gbps" in r:
            line += f"  {r['gbps']:.3f} GB/s"
        line += f"  answer {r['check'].text}"
        if "check_seconds" in r:
            line += f" [checked in {r['check_seconds']:.1f} s]"
        if base and system != "shoal" and "error" not in base:
            line += (
                f"  time {system}/shoal {r['seconds'] / base['seconds']:.2f}x,"
                f" memory {r['peak_bytes'] / base['peak_bytes']:.2f}x"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
