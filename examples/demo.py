"""The shoal demo: a real analysis on artificial data, on the default local scheduler.

    python -P examples/demo.py                 # default size, about a minute here
    python -P examples/demo.py --scale 20      # 20x the data: past memory for arrays
    python -P examples/demo.py --only delayed  # one step

Each step generates its data inside the tasks (nothing is loaded up front) and
shows a progress bar. Steps: delayed (sensor statistics), then the array, bag,
dataframe and local-cluster steps as those collections arrive.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import random
import sys
import time

import shoal

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = ["delayed", "array", "bag", "dataframe", "distributed"]


def read_sensor(sensor: int, n: int) -> list[float]:
    """Simulated readings of one sensor: a daily cycle, noise and rare spikes."""
    rng = random.Random(sensor)
    base = rng.uniform(10, 30)
    out = []
    for t in range(n):
        value = base + 5 * math.sin(2 * math.pi * t / 1440) + rng.gauss(0, 1)
        if rng.random() < 1e-4:
            value += rng.uniform(50, 100)
        out.append(value)
    return out


def summarize(values: list[float]) -> tuple[int, float, float, float, float]:
    """(count, mean, M2, min, max) of one batch of readings."""
    n = len(values)
    mean = sum(values) / n
    m2 = sum((v - mean) ** 2 for v in values)
    return n, mean, m2, min(values), max(values)


def combine(*parts: tuple) -> tuple[int, float, float, float, float]:
    """Merge summaries with Chan's parallel formula for the variance."""
    n, mean, m2, lo, hi = parts[0]
    for nb, mb, m2b, lob, hib in parts[1:]:
        total = n + nb
        delta = mb - mean
        mean += delta * nb / total
        m2 += m2b + delta * delta * n * nb / total
        n, lo, hi = total, min(lo, lob), max(hi, hib)
    return n, mean, m2, lo, hi


def demo_delayed(scale: float) -> None:
    sensors = max(2, int(64 * scale))
    readings = 100_000
    print(f"\n== delayed: statistics of {sensors} sensors x {readings:,} readings ==")
    summaries = [
        shoal.delayed(summarize)(shoal.delayed(read_sensor)(s, readings)) for s in range(sensors)
    ]
    while len(summaries) > 1:  # a tree of combines with fan-in 8
        summaries = [
            shoal.delayed(combine)(*summaries[i : i + 8]) for i in range(0, len(summaries), 8)
        ]
    with shoal.ProgressBar():
        n, mean, m2, lo, hi = summaries[0].compute()
    print(f"readings={n:,} mean={mean:.3f} std={math.sqrt(m2 / n):.3f} min={lo:.2f} max={hi:.2f}")


def _room_step(name: str):
    path = os.path.join(HERE, f"demo_{name}.py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location(f"demo_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="data size relative to the default (default 1.0)"
    )
    parser.add_argument(
        "--only", choices=STEPS, action="append", help="run only these steps (repeatable)"
    )
    args = parser.parse_args(argv)
    steps = args.only or STEPS
    t0 = time.perf_counter()
    for name in steps:
        step = demo_delayed if name == "delayed" else _room_step(name)
        if step is None:
            print(f"\n== {name}: not built yet, skipped ==")
            continue
        start = time.perf_counter()
        step(args.scale)
        print(f"({name} took {time.perf_counter() - start:.1f}s)")
    print(f"\ndemo finished in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
