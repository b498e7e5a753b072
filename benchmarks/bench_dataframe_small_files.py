"""Many small parquet files (issue 11): TPC-H SF1 ``lineitem`` cut into files of
``--rows`` rows (200,000: 31 files; 20,000: 301 files), read by shoal and by Dask
(threads) the way a dask-expr user writes it, against the same data in the 4
big files of ``benchmarks/tpch/data.py`` (``shoal-big``, ``dask-big``).

Queries: ``q6`` (TPC-H Q6: filter, then sum a product), ``sum``
(``read_parquet(dir).l_extendedprice.sum()``) and ``len``. Ways to name the
data: ``path`` (a local directory), ``filesystem`` (an fsspec filesystem
passed as ``filesystem=``), ``storage_options`` (given explicitly) and
``memory`` (a ``memory://`` fsspec URL, the files copied in before timing).
Every run is a fresh subprocess (its own peak RSS); systems are interleaved,
each ``--repeat`` times, and the best time is kept.

    .venv/bin/python -P benchmarks/bench_dataframe_small_files.py --repeat 3
    .venv/bin/python -P benchmarks/bench_dataframe_small_files.py --rows 20000 --ways path
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from _common import peak_rss, run_child  # noqa: E402

DATA = "/tmp/shoal-tpch"
BIG = os.path.join(DATA, "tpch-sf1-p4-s1", "lineitem")
QUERIES = ("q6", "sum", "len")
WAYS = ("path", "filesystem", "storage_options", "memory")


def big_dir() -> str:
    """The 4-file lineitem of TPC-H SF1 (generated once)."""
    if not os.path.isdir(BIG):
        from shoal.benchmarks.tpch.data import generate

        generate(1, DATA, parts=4)
    return BIG


def cut(rows: int) -> str:
    """lineitem cut into files of ``rows`` rows (reused)."""
    import pyarrow.parquet as pq

    target = os.path.join(DATA, f"lineitem-small-{rows}")
    if os.path.exists(os.path.join(target, "_done")):
        return target
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    table = pq.read_table(big_dir())
    n = 0
    for i, start in enumerate(range(0, table.num_rows, rows)):
        pq.write_table(table.slice(start, rows), os.path.join(target, f"part.{i}.parquet"))
        n += 1
    with open(os.path.join(target, "_done"), "w") as f:
        f.write(str(n))
    return target


def _query(name: str, read):
    from shoal.benchmarks.tpch.queries import q6

    if name == "q6":
        return q6(lambda _table: read())
    if name == "sum":
        return read().l_extendedprice.sum()
    return read()


def run_one(system: str, query: str, way: str, src: str) -> dict:
    import fsspec

    kwargs: dict = {}
    path = src
    if way == "filesystem":
        kwargs["filesystem"] = fsspec.filesystem("file")
    elif way == "storage_options":
        kwargs["storage_options"] = {"auto_mkdir": False}
    elif way == "memory":
        mem = fsspec.filesystem("memory")
        for name in sorted(os.listdir(src)):
            with open(os.path.join(src, name), "rb") as f:
                mem.pipe(f"/bench{src}/{name}", f.read())
        path = f"memory:///bench{src}"
    if system == "shoal":
        import shoal.dataframe as dd

        compute = {}
    else:
        import dask.dataframe as dd

        compute = {"scheduler": "threads"}
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = _query(query, lambda: dd.read_parquet(path, **kwargs))
    value = len(result) if query == "len" else float(result.compute(**compute))
    seconds = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    return {"seconds": seconds, "cpu": cpu, "peak_bytes": peak_rss(), "value": value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per small file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--queries", default=",".join(QUERIES))
    parser.add_argument("--ways", default=",".join(WAYS))
    parser.add_argument("--systems", default="shoal,dask,shoal-big,dask-big")
    parser.add_argument("--child", nargs=4, metavar=("SYSTEM", "QUERY", "WAY", "DIR"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child)))
        return
    small, big = cut(args.rows), big_dir()
    nfiles = len([f for f in os.listdir(small) if f.endswith(".parquet")])
    print(f"lineitem SF1 in {nfiles} files of {args.rows} rows ({small}); big: 4 files")
    systems = args.systems.split(",")
    for way in args.ways.split(","):
        for query in args.queries.split(","):
            best: dict = {}
            for _ in range(args.repeat):
                for system in systems:
                    name, _, size = system.partition("-")
                    r = run_child(__file__, name, query, way, big if size == "big" else small)
                    if system not in best or r["seconds"] < best[system]["seconds"]:
                        best[system] = r
            values = {round(r["value"], 2) for r in best.values()}
            if len(values) != 1:
                raise AssertionError(f"{query}/{way}: systems disagree: {best}")
            for system, r in best.items():
                line = (
                    f"{query:4s} {way:15s} {system:9s} {r['seconds']:7.3f} s  cpu {r['cpu']:6.2f} s"
                    f"  peak {r['peak_bytes'] / 2**20:7.0f} MiB"
                )
                if system == "dask" and "shoal" in best:
                    line += f"  dask/shoal {r['seconds'] / best['shoal']['seconds']:.2f}x"
                if system == "shoal" and "shoal-big" in best:
                    line += f"  shoal/shoal-big {r['seconds'] / best['shoal-big']['seconds']:.2f}x"
                if system == "dask-big" and "shoal-big" in best:
                    line += (
                        f"  dask-big/shoal-big {r['seconds'] / best['shoal-big']['seconds']:.2f}x"
                    )
                print(line, flush=True)


if __name__ == "__main__":
    main()
