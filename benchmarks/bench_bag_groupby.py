"""groupby of many small records into many groups: shoal.bag vs dask.bag.

Records ``(group, value)`` are generated inside the tasks (``from_map`` /
``dask.bag.from_sequence`` of seeds mapped to generators), grouped by
``group`` with a full shuffle, and each group is reduced to its length and
sum so only small results come back. Both systems use their process
schedulers and their disk shuffles (shoal: spilled buckets in a temp dir;
Dask: partd), with pools started before timing. Time is wall time; cpu
is the CPU seconds of this process and its pool workers; memory is the peak
RSS of this process and its children above the starting RSS
(sampled every 20 ms). Functions live in this script so both libraries'
workers receive them by value.

    .venv/bin/python -P benchmarks/bench_bag_groupby.py [--records 2000000] [--groups 20000]
    .venv/bin/python -P benchmarks/bench_bag_groupby.py --records 20000000 --groups 100000
    .venv/bin/python -P benchmarks/bench_bag_groupby.py --shuffle tasks --scheduler threads \
        --records 2000000 --npartitions 20000      # many partitions: multi-stage tasks shuffle

``--shuffle tasks`` uses both systems' tasks shuffles (each with its
default ``max_branch``: 32 in both).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder
from _common import best_of_interleaved, print_tree_timings  # noqa: E402


def nap(x: int) -> int:
    time.sleep(0.2)
    return x


def make_records(seed: int, n: int, groups: int) -> list:
    rng = random.Random(seed)
    r = rng.randrange
    return [(r(groups), i) for i in range(n)]


def first(record: tuple) -> int:
    return record[0]


def summarize(kv: tuple) -> tuple:
    return kv[0], len(kv[1]), sum(v for _, v in kv[1])


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when redirected to a file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--groups", type=int, default=20_000)
    parser.add_argument(
        "--npartitions",
        type=int,
        default=None,
        help="input and output partitions (default: ~250k records each)",
    )
    parser.add_argument("--shuffle", choices=["disk", "tasks"], default="disk")
    parser.add_argument(
        "--scheduler", choices=["processes", "threads", "sync"], default="processes"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--skip-dask", action="store_true", help="time shoal alone")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    args = parser.parse_args()
    nparts = args.npartitions or max(2, args.records // 250_000)
    per = args.records // nparts

    import dask
    import dask.bag as db

    import shoal
    import shoal.bag as sb

    shoal.config.set({"num-workers": args.workers})
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    pool = ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"))
    sb.range(4 * args.workers, npartitions=4 * args.workers).map(nap).sum().compute()
    list(pool.map(nap, range(4 * args.workers)))
    print(
        f"{args.records:,} records into {args.groups:,} groups, {nparts} partitions, "
        f"{args.workers} workers, {args.shuffle} shuffle, {args.scheduler} scheduler"
    )

    def run_shoal():
        b = sb.from_map(make_records, range(nparts), [per] * nparts, [args.groups] * nparts)
        g = b.groupby(first, npartitions=nparts, shuffle=args.shuffle).map(summarize)
        return g.compute(scheduler=args.scheduler)

    def run_dask():
        seeds = db.from_sequence(range(nparts), npartitions=nparts)
        b = seeds.map(make_records, per, args.groups).flatten()
        g = b.groupby(first, npartitions=nparts, shuffle=args.shuffle).map(summarize)
        if args.scheduler == "processes":
            return dask.compute(g, scheduler="processes", pool=pool)[0]
        return dask.compute(g, scheduler=args.scheduler)[0]

    runs = {"shoal": lambda: sorted(run_shoal())}
    if not args.skip_dask:
        runs["dask"] = lambda: sorted(run_dask())
    answers, results, peaks, cpu = best_of_interleaved(runs, args.repeat)
    print_tree_timings("groupby", results, cpu, peaks)
    assert sum(n for _, n, _ in answers["shoal"]) == per * nparts
    if not args.skip_dask:
        assert answers["shoal"] == answers["dask"], "shoal and Dask disagree"
        print(f"\ngroupby dask/shoal {results['dask'] / results['shoal']:5.2f}x")
    pool.shutdown()


if __name__ == "__main__":
    main()
