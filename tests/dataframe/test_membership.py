"""Series.isin(lazy Series or Index) against pandas' isin."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq


def _others():
    rng = np.random.default_rng(1)
    return {
        "ints": pd.Series(rng.integers(-5, 10, 25)),
        "floats-nan": pd.Series([1.0, np.nan, 3.0, 7.0, 1.0]),
        "strings": pd.Series(["banana", None, "durian", "banana"], dtype="str"),
        "empty": pd.Series([], dtype="int64"),
    }


@pytest.mark.parametrize("column", ["i", "f", "s"])
@pytest.mark.parametrize("other_name", list(_others()))
def test_isin_lazy_series(variants, frame, column, other_name):
    pdf = frame()
    other = _others()[other_name]
    expected = pdf[column].isin(other)
    for label, df in variants(pdf):
        for parts in (1, 3):
            lazy = sd.from_pandas(other, npartitions=min(parts, max(len(other), 1)))
            assert_eq(df[column].isin(lazy), expected, check_index=label != "empty-parts")


def test_isin_lazy_filters_rows_from_another_source(variants, frame):
    pdf = frame()
    keys = pd.DataFrame({"k": [3, 4, 4, 9, 100]})
    wanted = keys[keys.k > 3].k
    expected = pdf[pdf.i.isin(wanted)]
    for _, df in variants(pdf):
        lazy_keys = sd.from_pandas(keys, npartitions=2)
        got = df[df.i.isin(lazy_keys[lazy_keys.k > 3].k)]
        assert_eq(got, expected)
        assert_eq(df[~df.i.isin(lazy_keys.k)], pdf[~pdf.i.isin(keys.k)])


def test_isin_lazy_index():
    pdf = pd.DataFrame({"a": [1, 2, 3, 40]}, index=[2, 3, 10, 40])
    df = sd.from_pandas(pdf, npartitions=2)
    assert_eq(df.a.isin(df.index), pdf.a.isin(pdf.index))


def test_isin_lazy_mixed_numeric_kinds():
    s = pd.Series([1, 2, 3])
    other = pd.Series([2.0, 3.5])
    got = sd.from_pandas(s, npartitions=2).isin(sd.from_pandas(other, npartitions=1))
    assert_eq(got, s.isin(other))


def test_isin_lazy_refuses_frames():
    df = sd.from_pandas(pd.DataFrame({"a": [1, 2]}), npartitions=1)
    with pytest.raises(TypeError, match="Series or Index on both sides"):
        df.isin(df.a)
    with pytest.raises(TypeError, match="Series or Index on both sides"):
        df.a.isin(df)
    with pytest.raises(TypeError, match="not a Scalar"):
        df.a.isin(df.a.sum())
