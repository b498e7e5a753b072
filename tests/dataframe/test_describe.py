"""describe of every dtype (include/exclude) and DataFrame.mode against pandas."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq


def _frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    # distinct counts, so "top" has no ties
    words = np.repeat(
        ["apple", "banana", "cherry", "date"],
        [n // 2, n // 4, n // 8, n - n // 2 - n // 4 - n // 8],
    )
    return pd.DataFrame(
        {
            "i": rng.integers(-5, 10, n),
            "f": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "s": pd.Series(rng.permutation(words), dtype="str"),
            "b": rng.permutation(np.arange(n) < n // 3),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
            "z": pd.date_range("2024-03-01", periods=n, freq="5h", tz="Europe/Paris"),
            "c": pd.Categorical(rng.permutation(words)),
        }
    )


def test_describe_series_of_every_kind(variants):
    pdf = _frame()
    for _, df in variants(pdf):
        assert_eq(df.i.describe(), pdf.i.describe())
        for col in ("s", "b", "c"):
            assert_eq(df[col].describe(), pdf[col].describe())
        # 40 rows: every partition keeps all its values, so the percentiles are exact
        assert_eq(df.t.describe(), pdf.t.describe())
        assert_eq(df.z.describe(), pdf.z.describe())
        assert_eq(df.f.describe(percentiles=[0.1, 0.9]), pdf.f.describe(percentiles=[0.1, 0.9]))


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"include": "all"},
        {"include": ["str"]},
        {"include": ["number", "bool"]},
        {"exclude": ["number"]},
        {"include": ["datetime", "datetimetz"]},
    ],
)
def test_describe_frame_include_exclude(variants, kw):
    pdf = _frame()
    for _, df in variants(pdf):
        assert_eq(df.describe(**kw), pdf.describe(**kw))
    assert_eq(df[["s", "c"]].describe(), pdf[["s", "c"]].describe())


def test_describe_empty_and_missing():
    pdf = _frame(12).iloc[:0]
    df = sd.from_pandas(pdf, npartitions=1)
    assert_eq(df.s.describe(), pdf.s.describe())
    missing = pd.DataFrame({"s": pd.Series([None, "a", None, "a", "b"], dtype="str")})
    assert_eq(sd.from_pandas(missing, npartitions=3).s.describe(), missing.s.describe())


def test_describe_errors():
    df = sd.from_pandas(_frame(), npartitions=2)
    with pytest.raises(ValueError, match="exclude must be None"):
        df.describe(include="all", exclude=["number"])
    with pytest.raises(ValueError, match="no columns"):
        df[["i"]].describe(include=["str"])
    with pytest.raises(ValueError, match="between 0 and 1"):
        df.describe(percentiles=[5])


def test_frame_mode(variants):
    rng = np.random.default_rng(2)
    n = 30
    pdf = pd.DataFrame(
        {
            "i": rng.integers(0, 4, n),
            "f": rng.integers(0, 3, n) / 2,
            "s": pd.Series(rng.choice(["x", "y", None], n), dtype="str"),
            "t": pd.Timestamp("2024") + pd.to_timedelta(rng.integers(0, 3, n), "D"),
        }
    )
    pdf.loc[: n // 2, "i"] = 1  # i has one mode, other columns may have several
    for _, df in variants(pdf):
        assert_eq(df.mode(), pdf.mode().astype({"i": "float64"}))
        assert_eq(df.mode(dropna=False), pdf.mode(dropna=False).astype({"i": "float64"}))
        # one column: never padded, so its dtype is kept
        assert_eq(df[["i"]].mode(), pdf[["i"]].mode())
    ties = pd.DataFrame({"a": [1, 1, 2, 2], "b": [True, True, False, True]})
    got = sd.from_pandas(ties, npartitions=2).mode()
    # pandas keeps int64 for "a" because only "b" needed padding; shoal declares float64
    assert_eq(got, ties.mode().astype({"a": "float64"}))
