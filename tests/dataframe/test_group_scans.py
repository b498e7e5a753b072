"""Cumulative functions of groups (group_scans.py) against pandas, row for row
in input order, on the partitionings of conftest.py: the output keeps the
input's partitions, so assigning it back to the frame lines up."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq

METHODS = ["cumsum", "cumprod", "cummax", "cummin", "cumcount"]


def _keyed(n=50, seed=3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "k": rng.integers(0, 5, n),
            "s": pd.Series(rng.choice(["a", "b", None], n), dtype="object"),
            "c": pd.Categorical(rng.choice(["p", "q"], n), categories=["p", "q", "r"]),
            "x": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "y": rng.integers(-3, 4, n),
        },
        index=pd.Index(np.arange(n) * 3, name="row"),
    )


def _same_rows(got, want):
    """Row for row in input order; dtypes may be widened (grouped.py)."""
    result = got.compute()
    assert list(result.index) == list(want.index)
    assert_eq(result, want, check_dtype=False)


@pytest.mark.parametrize("method", METHODS)
def test_each_method_in_input_order(variants, method):
    pdf = _keyed()
    for _, df in variants(pdf):
        for by in ("k", ["k", "c"], "s"):
            if method == "cumcount":
                _same_rows(df.groupby(by).cumcount(), pdf.groupby(by, observed=True).cumcount())
                continue
            for sel in ("x", ["x", "y"]):
                got = getattr(df.groupby(by)[sel], method)()
                _same_rows(got, getattr(pdf.groupby(by, observed=True)[sel], method)())


def test_missing_keys_kept_with_dropna_false(variants):
    pdf = _keyed()
    for _, df in variants(pdf):
        g, pg = df.groupby("s", dropna=False), pdf.groupby("s", dropna=False)
        _same_rows(g.y.cumsum(), pg.y.cumsum())
        _same_rows(g.cumcount(), pg.cumcount())


def test_series_and_level_keys(variants):
    pdf = _keyed()
    for _, df in variants(pdf):
        _same_rows(df.groupby(df.y > 0).x.cummax(), pdf.groupby(pdf.y > 0).x.cummax())
        _same_rows(df.groupby("row").y.cumsum(), pdf.groupby("row").y.cumsum())


def test_assigned_back_without_a_shuffle(variants):
    pdf = _keyed()
    want = pdf.assign(n=pdf.groupby("k").cumcount(), t=pdf.groupby("k").y.cumsum())
    for _, df in variants(pdf):
        out = df.assign(n=df.groupby("k").cumcount(), t=df.groupby("k").y.cumsum())
        assert out.npartitions == df.npartitions
        assert out.divisions == df.divisions
        assert_eq(out, want, check_dtype=False)


def test_single_rows_and_empty_frames():
    one = pd.DataFrame({"k": [1], "v": [2.5]})
    df = sd.from_pandas(one, npartitions=1)
    _same_rows(df.groupby("k").v.cumsum(), one.groupby("k").v.cumsum())
    empty = one.iloc[:0]
    got = sd.from_pandas(empty, npartitions=1).groupby("k").v.cumprod().compute()
    assert len(got) == 0


def test_descending_cumcount_and_explicit_shuffles_still_work(variants):
    pdf = _keyed()
    for _, df in variants(pdf):
        got = df.groupby("k").cumcount(ascending=False).compute().sort_index()
        assert_eq(got, pdf.groupby("k").cumcount(ascending=False).sort_index(), check_dtype=False)
        got = df.groupby("k").y.cumsum(npartitions=2).compute().sort_index()
        assert_eq(got, pdf.groupby("k").y.cumsum().sort_index(), check_dtype=False)
