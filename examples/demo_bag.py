"""Bag step of the demo: analyse artificial web-server logs (JSON lines).

Tasks write the logs (one gzip-free JSON-lines file per task) into a temporary
directory; then one streaming pipeline per question reads them back in
blocks, on the processes scheduler:

- status codes (``frequencies``),
- error rate and mean latency per endpoint (``foldby``, no shuffle),
- the busiest users and how many distinct pages they saw (``groupby``, a
  disk shuffle).

    python -P examples/demo_bag.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile

import shoal
import shoal.bag as sb

ENDPOINTS = [
    "/",
    "/search",
    "/cart",
    "/checkout",
    "/login",
    "/api/items",
    "/api/prices",
    "/static/app.js",
    "/profile",
    "/help",
]


def write_logs(path: str, seed: int, n: int) -> list[str]:
    """Write ``n`` log records to ``path``; slow and failing endpoints are
    built in so the analysis has something to find."""
    rng = random.Random(seed)
    slow = {"/checkout": 3.0, "/api/prices": 2.0}
    with open(path, "w") as f:
        for i in range(n):
            endpoint = rng.choice(ENDPOINTS)
            fail = rng.random() < (0.08 if endpoint == "/login" else 0.01)
            status = rng.choice([500, 502, 404]) if fail else rng.choice([200, 200, 200, 304])
            record = {
                "t": seed * 10**7 + i,
                "user": f"u{int(rng.paretovariate(1.5) * 20) % 50_000:05d}",
                "endpoint": endpoint,
                "status": status,
                "ms": round(rng.lognormvariate(3, 0.6) * slow.get(endpoint, 1.0), 1),
            }
            f.write(json.dumps(record) + "\n")
    return [path]


def error_latency(acc: tuple, r: dict) -> tuple:
    n, errors, ms = acc
    return n + 1, errors + (r["status"] >= 500), ms + r["ms"]


def merge(a: tuple, b: tuple) -> tuple:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def user_summary(kv: tuple) -> tuple:
    user, records = kv
    return user, len(records), len({r["endpoint"] for r in records})


def run(scale: float) -> None:
    files = max(2, int(6 * scale))
    per_file = 60_000
    print(f"\n== bag: {files * per_file:,} web-log records (JSON lines) ==")
    directory = tempfile.mkdtemp(prefix="shoal-demo-bag-")
    try:
        paths = [os.path.join(directory, f"log-{i:03d}.jsonl") for i in range(files)]
        with shoal.ProgressBar():
            sb.from_map(write_logs, paths, range(files), [per_file] * files).compute()
        size = sum(os.path.getsize(p) for p in paths)
        records = sb.read_text(paths, blocksize="8MiB").map(json.loads)
        print(f"{size / 2**20:.0f} MiB in {records.npartitions} partitions")

        with shoal.ProgressBar():
            statuses = records.pluck("status").frequencies(sort=True).compute()
            per_endpoint = records.foldby(
                "endpoint", error_latency, (0, 0, 0.0), combine=merge
            ).compute()
            users = (
                records.filter(lambda r: r["status"] < 400)
                .groupby("user")
                .map(user_summary)
                .topk(3, key=1)
                .compute()
            )
        print("status codes:", ", ".join(f"{s}: {n:,}" for s, n in statuses))
        print("endpoints by error rate (requests, errors, mean latency):")
        by_errors = sorted(per_endpoint, key=lambda kv: -kv[1][1] / kv[1][0])
        for endpoint, (n, errors, ms) in by_errors[:3]:
            print(f"  {endpoint:14s} {n:8,} {errors / n:7.2%} {ms / n:7.1f} ms")
        slowest = max(per_endpoint, key=lambda kv: kv[1][2] / kv[1][0])
        print(f"slowest endpoint: {slowest[0]} ({slowest[1][2] / slowest[1][0]:.1f} ms mean)")
        print("busiest users (successful requests, distinct pages):")
        for user, n, pages in users:
            print(f"  {user}: {n:,} requests, {pages} pages")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    run(parser.parse_args().scale)
