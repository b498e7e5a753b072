"""A JSON-lines pipeline: shoal.bag vs dask.bag vs a single-process Python loop.

Generated records (one JSON object per line, ~150 bytes) are written to
files in a temporary directory, then each system runs two queries over them:

- frequencies: read_text -> map(json.loads) -> filter(ok) -> pluck("country")
  -> frequencies
- foldby: read_text -> map(json.loads) -> filter(ok) -> foldby(country, sum of
  amount)

shoal and Dask use their process schedulers (both bags' default) with the
same blocksize; the plain loop reads the files line by line in this process.
Time is wall time; cpu is the CPU seconds of this process and its pool
workers during the run (on a machine shared with other jobs it shows the
work done, which wall time cannot); memory is the peak RSS of this process
plus its children (sampled every 20 ms), minus this process's RSS before the
run. The process
pools are started before timing (warm-up tasks), so the figures compare
steady-state work; each figure is the best of ``--repeat`` runs, interleaved across systems.

    .venv/bin/python -P benchmarks/bench_bag_json.py [--size 300MB] [--blocksize 32MiB]
    .venv/bin/python -P benchmarks/bench_bag_json.py --size 2GB     # the issue's figure
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from operator import add

from shoal.core.utils import format_bytes, parse_bytes

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from _common import best_of_interleaved, print_tree_timings  # noqa: E402

COUNTRIES = ["DE", "FR", "US", "BR", "IN", "CN", "JP", "NG", "ZA", "AU", "CA", "MX"]


def generate(directory: str, size: int, nfiles: int) -> list[str]:
    """Write about ``size`` bytes of JSON lines over ``nfiles`` files."""
    paths = []
    per_file = size // nfiles
    for f in range(nfiles):
        rng = random.Random(f)
        path = os.path.join(directory, f"records-{f:03d}.jsonl")
        written = 0
        i = f * 10**9
        with open(path, "w") as out:
            while written < per_file:
                lines = []
                for _ in range(10_000):
                    i += 1
                    lines.append(
                        f'{{"id": {i}, "user": "user{rng.randrange(100000):06d}", '
                        f'"country": "{rng.choice(COUNTRIES)}", '
                        f'"amount": {rng.random() * 100:.2f}, "ok": '
                        f"{'true' if rng.random() < 0.8 else 'false'}, "
                        f'"tags": ["t{rng.randrange(5)}", "t{rng.randrange(5)}"]}}\n'
                    )
                chunk = "".join(lines)
                out.write(chunk)
                written += len(chunk)
        paths.append(path)
    return paths


def is_ok(record: dict) -> bool:
    return record["ok"]


def add_amount(total: float, record: dict) -> float:
    return total + record["amount"]


def nap(x: int) -> int:
    time.sleep(0.2)
    return x


def country(record: dict) -> str:
    return record["country"]


def plain_frequencies(paths: list[str]) -> dict:
    counts: Counter = Counter()
    for path in paths:
        with open(path) as f:
            counts.update(r["country"] for r in map(json.loads, f) if r["ok"])
    return dict(counts)


def plain_foldby(paths: list[str]) -> dict:
    totals: dict = {}
    for path in paths:
        with open(path) as f:
            for r in map(json.loads, f):
                if r["ok"]:
                    totals[r["country"]] = totals.get(r["country"], 0.0) + r["amount"]
    return totals


def shoal_queries(paths: list[str], blocksize: int):
    import shoal.bag as sb

    records = sb.read_text(paths, blocksize=blocksize).map(json.loads).filter(is_ok)
    return {
        "frequencies": lambda: dict(records.pluck("country").frequencies().compute()),
        "foldby": lambda: dict(records.foldby(country, add_amount, 0.0, combine=add).compute()),
    }


def dask_queries(paths: list[str], blocksize: int):
    import dask
    import dask.bag as db

    records = db.read_text(paths, blocksize=blocksize).map(json.loads).filter(is_ok)

    def run(coll):
        return dict(dask.compute(coll, scheduler="processes", pool=dask_pool)[0])

    return {
        "frequencies": lambda: run(records.pluck("country").frequencies()),
        "foldby": lambda: run(records.foldby(country, add_amount, 0.0, combine=add)),
    }


dask_pool = None


def main() -> None:
    global dask_pool
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when redirected to a file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="300MB", help="bytes of JSON lines to generate")
    parser.add_argument("--blocksize", default="32MiB")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    args = parser.parse_args()
    size, blocksize = parse_bytes(args.size), parse_bytes(args.blocksize)

    import shoal
    import shoal.bag as sb

    shoal.config.set({"num-workers": args.workers})
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    dask_pool = ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"))
    directory = tempfile.mkdtemp(prefix="shoal-bench-bag-json-")
    try:
        t0 = time.perf_counter()
        paths = generate(directory, size, args.files)
        total = sum(os.path.getsize(p) for p in paths)
        print(
            f"generated {format_bytes(total)} in {len(paths)} files "
            f"({time.perf_counter() - t0:.1f} s); blocksize {format_bytes(blocksize)}, "
            f"{args.workers} workers"
        )
        # warm up both process pools on a tiny file
        tiny = os.path.join(directory, "tiny.jsonl")
        with open(tiny, "w") as f:
            f.write('{"ok": true, "country": "DE", "amount": 1.0}\n')
        shoal_queries([tiny], blocksize)["frequencies"]()
        dask_queries([tiny], blocksize)["frequencies"]()
        sb.range(4 * args.workers, npartitions=4 * args.workers).map(nap).sum().compute()
        list(dask_pool.map(nap, range(4 * args.workers)))

        systems = {"shoal": shoal_queries(paths, blocksize), "dask": dask_queries(paths, blocksize)}
        if not args.skip_plain:
            systems["plain"] = {
                "frequencies": lambda: plain_frequencies(paths),
                "foldby": lambda: plain_foldby(paths),
            }
        results: dict = {}
        for query in ("frequencies", "foldby"):
            runs = {system: queries[query] for system, queries in systems.items()}
            answers, best, peak, cpu = best_of_interleaved(runs, args.repeat)
            for system in systems:
                results[(system, query)] = (best[system], peak[system])
            print_tree_timings(f"{query:12s}", best, cpu, peak)
            ref = answers["shoal"]
            for system, value in answers.items():
                assert value.keys() == ref.keys(), system
                for k in ref:
                    assert abs(value[k] - ref[k]) <= 1e-6 * max(1.0, abs(ref[k])), (system, k)
        print()
        for query in ("frequencies", "foldby"):
            s = results[("shoal", query)][0]
            line = f"{query:12s} time dask/shoal {results[('dask', query)][0] / s:5.2f}x"
            if ("plain", query) in results:
                line += f"   plain/shoal {results[('plain', query)][0] / s:5.2f}x"
            print(line)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        dask_pool.shutdown()


if __name__ == "__main__":
    main()
