"""CSV -> groupby-aggregate -> parquet: shoal.dataframe vs dask.dataframe vs pandas.

Generates ``--size`` of CSV (numpy; ids, a string key with 10,000 groups,
two floats, a date) in several files, then each system reads it in blocks,
aggregates per key and writes the result as parquet. Each system runs in a
fresh subprocess (peak RSS is its own); ratios are printed against shoal.

    .venv/bin/python -P benchmarks/bench_dataframe_csv.py               # 300 MB
    .venv/bin/python -P benchmarks/bench_dataframe_csv.py --size 5GB    # issue figure
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from _common import peak_rss, print_vs_shoal, run_child  # noqa: E402

FILE_BYTES = 256 * 2**20


def generate(size: int, data_dir: str) -> str:
    """A directory of CSV files totalling about ``size`` bytes (reused)."""
    import numpy as np
    import pandas as pd

    target = os.path.join(data_dir, f"csv-{size}")
    if os.path.exists(os.path.join(target, "_done")):
        return target
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    rng = np.random.default_rng(0)
    written, i = 0, 0
    keys = np.array([f"key-{k:05d}" for k in range(10_000)])
    while written < size:
        rows = min(FILE_BYTES, size - written) // 55 + 1
        frame = pd.DataFrame(
            {
                "id": np.arange(rows) + i * 10**9,
                "key": keys[rng.integers(0, len(keys), rows)],
                "x": rng.normal(size=rows).round(5),
                "y": rng.uniform(0, 100, rows).round(3),
                "day": (np.datetime64("2024-01-01") + rng.integers(0, 365, rows)).astype(str),
            }
        )
        path = os.path.join(target, f"part-{i:04d}.csv")
        frame.to_csv(path, index=False)
        written += os.path.getsize(path)
        i += 1
    with open(os.path.join(target, "_done"), "w") as f:
        f.write(str(written))
    return target


def run_one(system: str, src: str, out: str) -> dict:
    import pandas as pd

    pattern = os.path.join(src, "*.csv")
    spec = dict(x_sum=("x", "sum"), x_mean=("x", "mean"), y_max=("y", "max"), n=("y", "count"))
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    if system == "shoal":
        import shoal.dataframe as sd

        agg = sd.read_csv(pattern, blocksize="64MiB").groupby("key").agg(**spec)
        agg.to_parquet(out, write_index=True)
    elif system == "dask":
        import dask
        import dask.dataframe as dd

        with dask.config.set(scheduler="threads"):
            agg = dd.read_csv(pattern, blocksize="64MiB").groupby("key").agg(**spec)
            agg.to_parquet(out, write_index=True)
    else:
        import glob

        frames = [pd.read_csv(p) for p in sorted(glob.glob(pattern))]
        agg = pd.concat(frames).groupby("key").agg(**spec)
        os.makedirs(out)
        agg.to_parquet(os.path.join(out, "part.0.parquet"))
    elapsed = time.perf_counter() - start
    back = pd.read_parquet(out).sort_index()
    peak = peak_rss()
    return {
        "seconds": elapsed,
        "peak_bytes": peak,
        "value": {"groups": len(back), "n": int(back.n.sum()), "x_sum": float(back.x_sum.sum())},
    }


def main() -> None:
    from shoal.core.utils import parse_bytes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="300MB", help="bytes of CSV, e.g. 300MB or 5GB")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(), "shoal-csv"))
    parser.add_argument("--systems", default="shoal,dask,pandas")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child)))
        return
    os.makedirs(args.data_dir, exist_ok=True)
    src = generate(parse_bytes(args.size), args.data_dir)
    with open(os.path.join(src, "_done")) as f:
        total = int(f.read())
    print(f"{total / 2**30:.2f} GiB of CSV in {len(os.listdir(src)) - 1} files at {src}")
    results = {}
    for system in args.systems.split(","):
        out = os.path.join(args.data_dir, f"out-{system}")
        results[system] = run_child(__file__, system, src, out)
        shutil.rmtree(out, ignore_errors=True)
    print_vs_shoal("csv->groupby->parquet", results)
    values = [r["value"] for r in results.values()]
    for v in values[1:]:
        assert v["groups"] == values[0]["groups"] and v["n"] == values[0]["n"], values


if __name__ == "__main__":
    main()
