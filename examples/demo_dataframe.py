"""Dataframe step of the demo: artificial taxi trips, parquet, and a query plan.

Tasks generate trips (one partition each, with numpy) and write them as a
hive-partitioned parquet dataset (``month=...`` directories). Then:

- revenue and tips per payment type for the summer months (the filter on
  ``month`` prunes whole directories, the projection reads three columns);
- average speed per hour of day for long trips;
- the optimized plan of the first query, as ``explain()`` prints it.

    python -P examples/demo_dataframe.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

import numpy as np
import pandas as pd

import shoal
import shoal.dataframe as sd

ROWS_PER_PARTITION = 250_000
PAYMENTS = ["card", "cash", "app", "voucher"]


def make_trips(seed: int, rows: int = ROWS_PER_PARTITION) -> pd.DataFrame:
    """One partition of artificial trips."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-01-01") + pd.to_timedelta(
        rng.integers(0, 365 * 24 * 3600, rows), unit="s"
    )
    miles = rng.gamma(2.0, 1.6, rows).round(2)
    minutes = (miles * rng.uniform(2.0, 6.0, rows) + rng.uniform(1, 8, rows)).round(1)
    fare = (3.0 + miles * 2.5 + minutes * 0.4).round(2)
    payment = pd.Series(rng.choice(PAYMENTS, rows, p=[0.6, 0.2, 0.15, 0.05]), dtype="str")
    tip = np.where(payment == "cash", 0.0, (fare * rng.uniform(0, 0.3, rows)).round(2))
    return pd.DataFrame(
        {
            "pickup": start,
            "month": start.month,
            "miles": miles,
            "minutes": minutes,
            "fare": fare,
            "tip": tip,
            "payment": payment,
        }
    )


def run(scale: float = 1.0) -> None:
    """Generate ``scale`` x 4 partitions of trips, store them, and analyse them."""
    nparts = max(2, round(4 * scale))
    workdir = tempfile.mkdtemp(prefix="shoal-demo-df-")
    try:
        path = os.path.join(workdir, "trips")
        trips = sd.from_map(make_trips, range(nparts), label="make-trips")
        print(
            f"\n== dataframe: {nparts * ROWS_PER_PARTITION:,} taxi trips, written as parquet by month =="
        )
        with shoal.ProgressBar(groups=1):
            trips.to_parquet(path, partition_on="month")

        df = sd.read_parquet(path)
        summer = df[(df.month >= 6) & (df.month <= 8)]
        by_payment = summer.groupby("payment").agg(
            trips=("fare", "count"), revenue=("fare", "sum"), mean_tip=("tip", "mean")
        )
        print("\nsummer revenue by payment type:")
        with shoal.ProgressBar(groups=1):
            print(by_payment.compute().sort_values("revenue", ascending=False).round(2))

        long = df[df.miles > 5]
        speed = long.assign(hour=long.pickup.dt.hour, mph=long.miles / (long.minutes / 60))
        print("\naverage speed (mph) of trips over 5 miles, by hour of day (first 6 hours):")
        with shoal.ProgressBar(groups=1):
            print(speed.groupby("hour").mph.mean().compute().head(6).round(1))

        print("\nthe plan of the first query:")
        print(by_payment.explain())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    run(parser.parse_args().scale)
