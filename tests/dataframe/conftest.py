"""Partitionings every dataframe test runs on: one partition, several with
known divisions, unknown divisions, and empty partitions."""

import pandas as pd
import pytest

import shoal.dataframe as sd


def _take(bounds, data):
    return data.iloc[bounds[0] : bounds[1]]


def with_empty_partitions(pdf):
    """Partitions [0:0], [0:k], [k:k], [k:n]: empty ones first and in the middle."""
    n = len(pdf)
    k = n // 2
    bounds = [(0, 0), (0, k), (k, k), (k, n)]
    return sd.from_map(_take, bounds, args=(pdf,), meta=pdf.iloc[:0])


def variants(pdf):
    """``(label, collection)`` pairs holding the same data as ``pdf``."""
    n = max(len(pdf), 1)
    return [
        ("one", sd.from_pandas(pdf, npartitions=1)),
        ("known", sd.from_pandas(pdf, npartitions=min(3, n))),
        ("unknown", sd.from_pandas(pdf, npartitions=min(4, n), sort=False)),
        ("empty-parts", with_empty_partitions(pdf)),
    ]


def frame(n=40, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "i": rng.integers(-5, 10, n),
            "f": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "s": pd.Series(rng.choice(["apple", "banana", "cherry", None], n), dtype="str"),
            "b": rng.random(n) < 0.5,
            "t": pd.date_range("2024-01-01", periods=n, freq="7h"),
        }
    )


@pytest.fixture(name="variants")
def _variants_fixture():
    return variants


@pytest.fixture(name="frame")
def _frame_fixture():
    return frame


@pytest.fixture(autouse=True)
def _sync_scheduler():
    import shoal

    with shoal.config.set(scheduler="sync"):
        yield
