"""Cumulative scans, shift, diff and pct_change across partitions, against pandas."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq


def numbers(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "i": rng.integers(-5, 10, n),
            "f": np.where(rng.random(n) < 0.25, np.nan, rng.normal(size=n)),
            "g": np.where(np.arange(n) < 9, np.nan, rng.random(n) + 0.5),  # leading missing
        }
    )


@pytest.mark.parametrize("method", ["cumsum", "cumprod", "cummax", "cummin"])
@pytest.mark.parametrize("skipna", [True, False])
def test_cumulative(variants, method, skipna):
    pdf = numbers()
    for _label, df in variants(pdf):
        want = getattr(pdf, method)(skipna=skipna)
        assert_eq(getattr(df, method)(skipna=skipna), want)
        assert_eq(getattr(df.f, method)(skipna=skipna), getattr(pdf.f, method)(skipna=skipna))
        assert_eq(getattr(df.i, method)(skipna=skipna), getattr(pdf.i, method)(skipna=skipna))


def test_cumulative_trailing_missing_partition():
    # a whole partition of missing values, and missing values ending a partition
    pdf = pd.DataFrame({"x": [1.0, 2.0, np.nan, np.nan, np.nan, np.nan, 3.0, np.nan, 4.0]})
    for n in (2, 3, 5, 9):
        df = sd.from_pandas(pdf, npartitions=n)
        for method in ("cumsum", "cummax", "cummin", "cumprod"):
            for skipna in (True, False):
                got = getattr(df.x, method)(skipna=skipna)
                assert_eq(got, getattr(pdf.x, method)(skipna=skipna))


def test_cumulative_datetimes():
    s = pd.Series(pd.to_datetime(["2024-03-01", "2024-01-01", None, "2024-05-01", "2024-02-01"]))
    df = sd.from_pandas(s, npartitions=3)
    assert_eq(df.cummax(), s.cummax())
    assert_eq(df.cummin(), s.cummin())


def test_cumulative_fuses_with_elementwise_users():
    pdf = numbers()
    df = sd.from_pandas(pdf, npartitions=4)
    out = (df.f.cumsum() * 2).sum()
    assert_eq(out, (pdf.f.cumsum() * 2).sum())


def test_cumulative_bad_input():
    df = sd.from_pandas(numbers(), npartitions=2)
    with pytest.raises(TypeError, match="skipna"):
        df.cumsum(skipna="yes")


@pytest.mark.parametrize("method", ["shift", "diff", "pct_change"])
@pytest.mark.parametrize("periods", [1, 3, -2, 0, 15])
def test_row_offsets(variants, method, periods):
    pdf = numbers()
    for _label, df in variants(pdf):
        assert_eq(getattr(df, method)(periods), getattr(pdf, method)(periods))
        assert_eq(getattr(df.f, method)(periods), getattr(pdf.f, method)(periods))


def test_shift_strings_and_periods_check(variants, frame):
    pdf = frame()
    for _label, df in variants(pdf):
        assert_eq(df.s.shift(2), pdf.s.shift(2))
    with pytest.raises(TypeError, match="periods must be an integer"):
        sd.from_pandas(pdf, npartitions=2).shift(1.5)
