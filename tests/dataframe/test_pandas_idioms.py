"""Idioms of pandas query code (TPC-H style) against pandas: ``s.str[...]``,
``Series.reset_index(name=)``, ``groupby(as_index=False)``, ``sort_index``."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq


@pytest.mark.parametrize("key", [slice(None, 2), 0, -1, slice(1, None, 2)])
def test_str_getitem(variants, frame, key):
    pdf = frame()
    for _, df in variants(pdf):
        assert_eq(df.s.str[key], pdf.s.str[key])


def test_str_getitem_refused_on_dt():
    df = sd.from_pandas(pd.DataFrame({"t": pd.date_range("2024", periods=3)}), npartitions=1)
    with pytest.raises(TypeError, match="not subscriptable"):
        df.t.dt[0]


def test_series_reset_index_name(variants, frame):
    pdf = frame()
    expected = pdf.groupby("s").f.sum().reset_index(name="total")
    for _, df in variants(pdf):
        assert_eq(df.groupby("s").f.sum().reset_index(name="total"), expected)
        assert_eq(df.i.reset_index(name="x"), pdf.i.reset_index(name="x"))
        assert_eq(df.i.reset_index(drop=True, name="x"), pdf.i.reset_index(drop=True))


@pytest.mark.parametrize(
    "call",
    [
        lambda g: g.f.sum(),
        lambda g: g.agg(total=("f", "sum"), n=("i", "count")),
        lambda g: g[["f", "i"]].mean(),
        lambda g: g.size(),
        lambda g: g.f.nunique(),
    ],
)
@pytest.mark.parametrize("by", ["s", ["s", "b"]])
def test_groupby_as_index_false(variants, frame, call, by):
    pdf = frame()
    expected = call(pdf.groupby(by, as_index=False))
    for _, df in variants(pdf):
        assert_eq(call(df.groupby(by, as_index=False)), expected)


def test_groupby_as_index_false_split_out(frame):
    pdf = frame()
    expected = pdf.groupby("i", as_index=False).f.sum().sort_values("i").reset_index(drop=True)
    df = sd.from_pandas(pdf, npartitions=3)
    got = df.groupby("i", as_index=False).f.sum(split_out=2).compute()
    pd.testing.assert_frame_equal(got.sort_values("i").reset_index(drop=True), expected)


def test_groupby_as_index_false_with_series_keys(frame):
    pdf = frame()
    df = sd.from_pandas(pdf, npartitions=2)
    want = pdf.groupby(pdf.i, as_index=False).f.sum()
    assert_eq(df.groupby(df.i, as_index=False).f.sum(), want, check_index=False)
    want = pdf.groupby(pdf.i > 2, as_index=False).f.sum()
    assert_eq(df.groupby(df.i > 2, as_index=False).f.sum(), want, check_index=False)


@pytest.mark.parametrize("ascending", [True, False])
def test_sort_index(variants, ascending):
    rng = np.random.default_rng(3)
    pdf = pd.DataFrame({"a": rng.normal(size=30)}, index=rng.permutation(30) * 3)
    for _, df in variants(pdf):
        assert_eq(df.sort_index(ascending=ascending), pdf.sort_index(ascending=ascending))
        assert_eq(df.a.sort_index(ascending=ascending), pdf.a.sort_index(ascending=ascending))
    shuffled = sd.from_pandas(pdf, npartitions=4, sort=False)
    got = shuffled.sort_index(ascending=ascending)
    assert not got.known_divisions
    assert_eq(got, pdf.sort_index(ascending=ascending))


def test_sort_index_of_groupby_result(frame):
    pdf = frame()
    df = sd.from_pandas(pdf, npartitions=3)
    got = df.groupby("i").f.sum(split_out=2).sort_index(ascending=False)
    assert_eq(got, pdf.groupby("i").f.sum().sort_index(ascending=False))


def test_sort_index_bad_ascending():
    df = sd.from_pandas(pd.DataFrame({"a": [1]}), npartitions=1)
    with pytest.raises(ValueError, match="ascending must be a bool"):
        df.sort_index(ascending="yes")


@pytest.mark.parametrize(
    "func", ["sum", "mean", "count", "size", "min", "max", "first", "last", "std", "var", "prod"]
)
@pytest.mark.parametrize("by", ["s", ["s", "b"], "i"])
def test_groupby_transform_reduction_lines_up(variants, frame, func, by):
    pdf = frame()
    expected = pdf.groupby(by).f.transform(func)
    for _, df in variants(pdf):
        got = df.groupby(by).f.transform(func)
        assert got.divisions == df.divisions  # rows stay where they are
        assert_eq(got, expected)


def test_groupby_transform_filters_its_own_frame(variants, frame):
    pdf = frame()
    expected = pdf[pdf.f > pdf.groupby("s").f.transform("mean")]
    frame_expected = pdf.groupby("s")[["f", "i"]].transform("max")
    for _, df in variants(pdf):
        assert_eq(df[df.f > df.groupby("s").f.transform("mean")], expected)
        assert_eq(df.groupby("s")[["f", "i"]].transform("max"), frame_expected)
        assert_eq(df.groupby("s").transform("size"), pdf.groupby("s").transform("size"))


@pytest.mark.parametrize("dropna", [True, False])
@pytest.mark.parametrize("by", ["s", ["s", "i"], "f"])
def test_groupby_nunique_many_groups(variants, by, dropna):
    rng = np.random.default_rng(5)
    n = 300
    pdf = pd.DataFrame(
        {
            "s": pd.Series(rng.choice(["x", "y", None], n), dtype="str"),
            "i": rng.integers(0, 40, n),
            "f": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 30, n).astype(float)),
            "v": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 6, n).astype(float)),
        }
    )
    expected = pdf.groupby(by, dropna=dropna).agg(n=("v", "nunique"), t=("v", "sum"))
    for _, df in variants(pdf):
        got = df.groupby(by, dropna=dropna).agg(n=("v", "nunique"), t=("v", "sum"))
        assert_eq(got, expected)
        out = df.groupby(by, dropna=dropna).v.nunique(split_out=2).compute()
        pd.testing.assert_series_equal(
            out.sort_index(), pdf.groupby(by, dropna=dropna).v.nunique().sort_index()
        )


def test_level_codes_overflow_falls_back():
    from shoal.dataframe.groupby import _finish_one, _level_codes

    big = pd.RangeIndex(2**21)
    mi = pd.MultiIndex(levels=[big, big, big], codes=[[0, 0], [1, 1], [2, 3]])
    assert _level_codes(mi, 3, 2) is None
    assert _level_codes(pd.MultiIndex.from_arrays([[1.0, None], [1, 2]]), 2, 1) is None
    value = pd.Series([1, 1], index=mi)
    assert _finish_one(value, "nunique", 2, 1).tolist() == [2]
