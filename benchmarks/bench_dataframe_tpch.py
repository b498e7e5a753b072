"""TPC-H Q1 and Q6 on lineitem parquet: shoal.dataframe vs dask.dataframe vs pandas.

Data: ``tpchgen-cli`` (the ``bench`` extra) writes lineitem at the scale
factor; decimals are cast to float64, dates to datetime64 and string views to
strings once, so every system reads the same plain parquet files. Without
``tpchgen-cli`` an equivalent lineitem (same columns and value ranges) is
generated with numpy.

Each (system, query) runs in a fresh subprocess, so its peak memory (max
RSS) is its own; the time excludes imports. CPU seconds (user + system, all
threads) are printed too: on a shared machine they move much less than wall
times. ``--repeat N`` runs every system N times, alternating which goes
first, and prints the spread of times and ratios. Ratios are printed against
shoal (>1 means shoal is faster / smaller).

    .venv/bin/python -P benchmarks/bench_dataframe_tpch.py            # SF 1
    .venv/bin/python -P benchmarks/bench_dataframe_tpch.py --scale 10 # issue figure
    .venv/bin/python -P benchmarks/bench_dataframe_tpch.py --scale 10 --systems shoal,dask --repeat 5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from _common import peak_rss, print_vs_shoal, run_child  # noqa: E402

Q1_DATE = "1998-09-02"
Q1_COLUMNS = [
    "l_returnflag",
    "l_linestatus",
    "l_quantity",
    "l_extendedprice",
    "l_discount",
    "l_tax",
    "l_shipdate",
]


# ------------------------------------------------------------------ data


def _convert(src: str, dst: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_decimal(t):
            t = pa.float64()
        elif pa.types.is_date(t):
            t = pa.timestamp("ns")
        elif pa.types.is_string(t) or pa.types.is_large_string(t) or str(t) == "string_view":
            t = pa.string()
        fields.append(pa.field(f.name, t))
    table = table.cast(pa.schema(fields))
    pq.write_table(table, dst, row_group_size=1_000_000)


def _numpy_lineitem(rows: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = np.datetime64("1992-01-02")
    ship = start + rng.integers(0, 2526, rows).astype("timedelta64[D]")
    price = rng.integers(90_000, 10_500_000, rows) / 100.0
    return pd.DataFrame(
        {
            "l_orderkey": rng.integers(1, rows * 4, rows),
            "l_quantity": rng.integers(1, 51, rows).astype("float64"),
            "l_extendedprice": price,
            "l_discount": rng.integers(0, 11, rows) / 100.0,
            "l_tax": rng.integers(0, 9, rows) / 100.0,
            "l_returnflag": pd.Series(rng.choice(["A", "N", "R"], rows), dtype="str"),
            "l_linestatus": pd.Series(
                np.where(ship > np.datetime64("1995-06-17"), "O", "F"), dtype="str"
            ),
            "l_shipdate": ship.astype("datetime64[ns]"),
            "l_shipmode": pd.Series(
                rng.choice(["AIR", "MAIL", "SHIP", "RAIL", "TRUCK"], rows), dtype="str"
            ),
        }
    )


def generate(scale: float, data_dir: str) -> str:
    """The lineitem directory for ``scale`` (generated once, then reused)."""
    target = os.path.join(data_dir, f"lineitem-sf{scale:g}")
    if os.path.exists(os.path.join(target, "_done")):
        return target
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    parts = max(2, math.ceil(scale * 4))
    cli = shutil.which("tpchgen-cli") or os.path.join(
        os.path.dirname(sys.executable), "tpchgen-cli"
    )
    source = "numpy"
    if os.path.exists(cli):
        raw = tempfile.mkdtemp(dir=data_dir)
        subprocess.run(
            [
                cli,
                "parquet",
                "-s",
                f"{scale:g}",
                "--tables",
                "lineitem",
                "--parts",
                str(parts),
                "--output-dir",
                raw,
            ],
            check=True,
        )
        files = sorted(
            os.listdir(os.path.join(raw, "lineitem")),
            key=lambda n: int("".join(c for c in n if c.isdigit()) or 0),
        )
        for i, name in enumerate(files):
            _convert(os.path.join(raw, "lineitem", name), os.path.join(target, f"part.{i}.parquet"))
        shutil.rmtree(raw)
        source = "tpchgen-cli"
    else:
        rows = int(6_000_000 * scale)
        for i in range(parts):
            n = rows // parts + (1 if i < rows % parts else 0)
            _numpy_lineitem(n, i).to_parquet(
                os.path.join(target, f"part.{i}.parquet"), index=False, row_group_size=1_000_000
            )
    with open(os.path.join(target, "_done"), "w") as f:
        f.write(source)
    return target


# --------------------------------------------------------------- queries


def _q1_frame(df, pd):
    df = df[df.l_shipdate <= pd.Timestamp(Q1_DATE)]
    df = df.assign(disc_price=df.l_extendedprice * (1 - df.l_discount))
    df = df.assign(charge=df.disc_price * (1 + df.l_tax))
    return df.groupby(["l_returnflag", "l_linestatus"]).agg(
        sum_qty=("l_quantity", "sum"),
        sum_base_price=("l_extendedprice", "sum"),
        sum_disc_price=("disc_price", "sum"),
        sum_charge=("charge", "sum"),
        avg_qty=("l_quantity", "mean"),
        avg_price=("l_extendedprice", "mean"),
        avg_disc=("l_discount", "mean"),
        count_order=("l_quantity", "count"),
    )


def _q6_frame(df, pd):
    df = df[
        (df.l_shipdate >= pd.Timestamp("1994-01-01"))
        & (df.l_shipdate < pd.Timestamp("1995-01-01"))
        & (df.l_discount >= 0.05)
        & (df.l_discount <= 0.07)
        & (df.l_quantity < 24)
    ]
    return (df.l_extendedprice * df.l_discount).sum()


def run_one(system: str, query: str, path: str) -> dict:
    """Run one query in this process; time it and report peak RSS."""
    import pandas as pd

    build = _q1_frame if query == "q1" else _q6_frame
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_start = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    if system == "shoal":
        import shoal.dataframe as sd

        result = build(sd.read_parquet(path), pd).compute(scheduler="threads")
    elif system == "dask":
        import dask
        import dask.dataframe as dd

        with dask.config.set(scheduler="threads"):
            result = build(dd.read_parquet(path), pd).compute()
    else:
        columns = (
            Q1_COLUMNS
            if query == "q1"
            else ["l_shipdate", "l_discount", "l_quantity", "l_extendedprice"]
        )
        result = build(pd.read_parquet(path, columns=columns), pd)
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_start
    if query == "q1":
        result = result.sort_index()
        value = {"rows": len(result), "sum_charge": float(result.sum_charge.sum())}
    else:
        value = {"revenue": float(result)}
    peak = peak_rss()
    return {"seconds": elapsed, "cpu": cpu, "peak_bytes": peak, "value": value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "shoal-tpch"))
    parser.add_argument("--systems", default="shoal,dask,pandas")
    parser.add_argument("--queries", default="q1,q6")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per system, alternating their order"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child)))
        return
    os.makedirs(args.data_dir, exist_ok=True)
    path = generate(args.scale, args.data_dir)
    with open(os.path.join(path, "_done")) as f:
        source = f.read()
    files = [n for n in os.listdir(path) if n.endswith(".parquet")]
    print(f"lineitem SF{args.scale:g} ({source}, {len(files)} files) at {path}")
    systems = args.systems.split(",")
    for query in args.queries.split(","):
        runs = []
        for rep in range(args.repeat):
            order = systems[rep % len(systems) :] + systems[: rep % len(systems)]
            load = os.getloadavg()[0]
            results = {s: run_child(__file__, s, query, path) for s in order}
            results = {s: results[s] for s in systems}
            print_vs_shoal(f"{query} run {rep + 1} (load {load:.1f})", results)
            print(
                f"{query} run {rep + 1} CPU seconds: "
                + ", ".join(f"{s} {r['cpu']:.2f}" for s, r in results.items())
            )
            _check_same(query, results)
            runs.append(results)
        if args.repeat > 1:
            _print_spread(query, runs, systems)


def _check_same(query: str, results: dict) -> None:
    values = [r["value"] for r in results.values()]
    for v in values[1:]:
        for k in v:
            a, b = v[k], values[0][k]
            assert math.isclose(a, b, rel_tol=1e-6), f"{query}: results differ: {values}"


def _print_spread(query: str, runs: list, systems: list) -> None:
    """Min / median / max of each system's time and of each run's ratio."""

    def spread(xs):
        xs = sorted(xs)
        return f"min {xs[0]:.2f}, median {xs[len(xs) // 2]:.2f}, max {xs[-1]:.2f}"

    for s in systems:
        print(
            f"{query} {s:7s} seconds over {len(runs)} runs: {spread([r[s]['seconds'] for r in runs])}"
        )
    for s in systems:
        if s != "shoal" and "shoal" in systems:
            ratios = [r[s]["seconds"] / r["shoal"]["seconds"] for r in runs]
            print(f"{query} time ratio {s}/shoal per run: {spread(ratios)}")
            ratios = [r[s]["cpu"] / r["shoal"]["cpu"] for r in runs]
            print(f"{query} CPU-time ratio {s}/shoal per run: {spread(ratios)}")


if __name__ == "__main__":
    main()
