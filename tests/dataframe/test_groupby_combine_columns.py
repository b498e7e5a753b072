"""Groupby intermediates on several keys are combined as key columns, not
by concatenating MultiIndexes (issue 11): same answers as pandas."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.dataframe.groupby import _combine_one
from shoal.testing import compute_checked


def frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 40, n)
    return pd.DataFrame(
        {
            "id": k,
            "name": pd.Series([f"c{x}" for x in k], dtype="str"),
            "nation": pd.Series(rng.choice(["FR", "DE", None], n), dtype="str"),
            "cat": pd.Categorical(rng.choice(["x", "y"], n)),
            "v": rng.normal(size=n),
            "w": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
        }
    )


@pytest.mark.parametrize("npartitions", [1, 3, 17])
@pytest.mark.parametrize("dropna", [True, False])
def test_several_string_keys_every_simple_aggregation(npartitions, dropna):
    pdf = frame()
    df = sd.from_pandas(pdf, npartitions=npartitions, sort=False)
    keys = ["id", "name", "nation"]
    specs = {
        "s": ("v", "sum"),
        "c": ("w", "count"),
        "m": ("w", "mean"),
        "lo": ("v", "min"),
        "f": ("w", "first"),
    }
    got = compute_checked(df.groupby(keys, dropna=dropna).agg(**specs))
    want = pdf.groupby(keys, dropna=dropna).agg(**specs)
    pd.testing.assert_frame_equal(got.sort_index(), want.sort_index(), check_exact=False)
    got = compute_checked(df.groupby(["cat", "name"], observed=True).v.sum())
    want = pdf.groupby(["cat", "name"], observed=True).v.sum()
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index())


def test_combine_as_columns_matches_the_level_route():
    pdf = frame(seed=1)
    parts = [pdf.iloc[:100], pdf.iloc[100:101], pdf.iloc[101:]]
    values = [p.groupby(["id", "name"], sort=False).v.sum() for p in parts]
    got = _combine_one(values, "sum", 2, {})
    want = pd.concat(values).groupby(level=[0, 1], sort=False).sum()
    pd.testing.assert_series_equal(got, want)
    unnamed = [v.rename_axis([None, None]) for v in values]  # no names: the level route
    pd.testing.assert_series_equal(
        _combine_one(unnamed, "sum", 2, {}), want.rename_axis([None, None])
    )
