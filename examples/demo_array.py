"""Array step of the demo: find faulty sensors in a field of readings that is
never held in memory.

A grid of sensors x minutes of temperature readings is generated block by
block inside the tasks: a daily cycle, per-sensor offsets, noise, and rare
spikes from a few faulty sensors. The analysis standardizes each sensor's
series and counts readings more than 6 standard deviations out. Every pass
regenerates the blocks it needs (random data is cheap to draw again), so the
peak memory stays at a few blocks whatever the scale.

    python -P examples/demo_array.py [--scale 1.0]   # 1.0 is 500 MB of readings
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import shoal
import shoal.array as sa
from shoal.core.utils import format_bytes

MINUTES_PER_DAY = 1440


def readings(scale: float, seed: int = 7) -> sa.Array:
    """The lazy (sensors, minutes) array of readings."""
    sensors = 1000
    minutes = max(int(65_536 * scale) // 1024 * 1024, 1024)
    chunks = (250, 16_384)
    rng = sa.random.default_rng(seed)
    offsets = rng.normal(20.0, 3.0, size=(sensors, 1), chunks=(250, 1))
    t = sa.arange(minutes, chunks=chunks[1])
    cycle = 5.0 * np.sin(2 * np.pi * t / MINUTES_PER_DAY)
    noise = rng.standard_normal((sensors, minutes), chunks=chunks)
    faulty = (sa.arange(sensors, chunks=chunks[0]) % 97 == 13)[:, None]
    spikes = (rng.random((sensors, minutes), chunks=chunks) < 2e-4) & faulty
    return offsets + cycle + noise + 40.0 * spikes


def run(scale: float = 1.0) -> None:
    """Generate, standardize and scan the readings; print what was found."""
    x = readings(scale)
    print(
        f"\n== array: {x.shape[0]} sensors x {x.shape[1]} minutes = "
        f"{format_bytes(x.nbytes)} in {x.npartitions} blocks (generated inside the tasks) =="
    )
    start = time.perf_counter()
    with shoal.ProgressBar():
        mean, std = shoal.compute(x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True))
    z = (x - mean) / std
    outliers = (abs(z) > 6).sum(axis=1)
    with shoal.ProgressBar():
        counts, hottest = shoal.compute(outliers, x.argmax())
    overall = float(mean.mean())
    elapsed = time.perf_counter() - start
    worst = np.argsort(counts)[::-1][:5]
    row, col = np.unravel_index(int(hottest), x.shape)
    print(f"overall mean {overall:.2f} C; per-sensor std from {std.min():.2f} to {std.max():.2f}")
    print(f"hottest reading: sensor {row} at minute {col}")
    print(
        "sensors with most readings beyond 6 sigma: "
        + ", ".join(f"#{s} ({counts[s]})" for s in worst)
    )
    flagged = int((counts > 0).sum())
    print(
        f"{flagged} sensors flagged; 4 passes over {format_bytes(x.nbytes)} of readings "
        f"in {elapsed:.1f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    run(parser.parse_args().scale)
