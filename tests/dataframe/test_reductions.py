import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.testing import assert_eq


@pytest.mark.parametrize("split_every", [None, 2])
@pytest.mark.parametrize("method", ["sum", "prod", "min", "max", "count", "any", "all"])
def test_simple_reductions(method, split_every, variants, frame):
    pdf = frame(30)
    num = pdf[["i", "f", "b"]]
    for _, df in variants(pdf):
        dnum = df[["i", "f", "b"]]
        assert_eq(getattr(dnum, method)(split_every=split_every), getattr(num, method)())
        assert_eq(getattr(df.i, method)(split_every=split_every), getattr(pdf.i, method)())
        assert_eq(getattr(df.f, method)(split_every=split_every), getattr(pdf.f, method)())


def test_min_max_on_strings_and_dates(variants, frame):
    pdf = frame()
    for _, df in variants(pdf):
        assert_eq(df.s.min(), pdf.s.min())
        assert_eq(df.t.max(), pdf.t.max())


@pytest.mark.parametrize("method", ["mean", "var", "std", "sem"])
def test_moments(method, variants, frame):
    pdf = frame(50)
    num = pdf[["i", "f"]]
    for _, df in variants(pdf):
        assert_eq(getattr(df[["i", "f"]], method)(split_every=2), getattr(num, method)())
        assert_eq(getattr(df.f, method)(), getattr(pdf.f, method)())
        if method != "mean":
            assert_eq(getattr(df.i, method)(ddof=0), getattr(pdf.i, method)(ddof=0))
    big = pd.Series(1e9 + np.arange(1000) * 1e-3)
    assert_eq(sd.from_pandas(big, npartitions=7).var(), big.var(), rtol=1e-6)
    with pytest.raises(TypeError, match="not numeric"):
        sd.from_pandas(pdf, npartitions=2).mean()
    assert_eq(
        sd.from_pandas(pdf, npartitions=2).mean(numeric_only=True), pdf.mean(numeric_only=True)
    )


def test_size_nunique_unique_value_counts(variants, frame):
    pdf = frame(60)
    for _, df in variants(pdf):
        assert_eq(df.size, pdf.size)
        assert_eq(df.i.nunique(), pdf.i.nunique())
        assert_eq(df.s.nunique(dropna=False), pdf.s.nunique(dropna=False))
        assert_eq(df[["i", "s"]].nunique(), pdf[["i", "s"]].nunique())
        assert_eq(df.i.unique(), pd.Series(pdf.i.unique(), name="i"))
        split = df.s.unique(split_out=3)
        assert split.npartitions == 3
        parts = [set(p.dropna()) for p in shoal.compute(*split.to_delayed(), scheduler="sync")]
        assert sum(map(len, parts)) == len(set().union(*parts))  # no value in two partitions
        got = split.compute()
        assert sorted(got.dropna()) == sorted(pdf.s.dropna().unique())
        assert got.isna().sum() == pdf.s.isna().any() and got.name == "s"
        assert_eq(df.s.value_counts().compute().sort_index(), pdf.s.value_counts().sort_index())
        got = df.i.value_counts(split_every=2).compute()
        assert got.is_monotonic_decreasing
        pd.testing.assert_series_equal(got.sort_index(), pdf.i.value_counts().sort_index())
        assert_eq(
            df.s.value_counts(dropna=False, normalize=True).compute().sort_index(),
            pdf.s.value_counts(dropna=False, normalize=True).sort_index(),
        )


def test_drop_duplicates_and_nbest(variants, frame):
    pdf = frame(60)
    for _, df in variants(pdf):
        assert_eq(df[["i", "s"]].drop_duplicates(split_every=2), pdf[["i", "s"]].drop_duplicates())
        assert_eq(
            df.drop_duplicates(subset=["s"], keep="last"),
            pdf.drop_duplicates(subset=["s"], keep="last"),
        )
        assert_eq(df.i.drop_duplicates(), pdf.i.drop_duplicates())
        assert_eq(df.nlargest(5, "f"), pdf.nlargest(5, "f"))
        assert_eq(df.nsmallest(4, ["i", "f"]), pdf.nsmallest(4, ["i", "f"]))
        assert_eq(df.f.nlargest(3, split_every=2), pdf.f.nlargest(3))
        assert_eq(df.i.nsmallest(3), pdf.i.nsmallest(3))
    with pytest.raises(ValueError, match="keep"):
        sd.from_pandas(pdf, npartitions=2).drop_duplicates(keep=False)


def test_idxmin_idxmax(variants, frame):
    pdf = frame(40)
    for _, df in variants(pdf):
        assert_eq(df.f.idxmin(), pdf.f.idxmin())
        assert_eq(df.i.idxmax(split_every=2), pdf.i.idxmax())
        assert_eq(df[["i", "f"]].idxmax(), pdf[["i", "f"]].idxmax())
        assert_eq(df[["i", "f"]].idxmin(), pdf[["i", "f"]].idxmin())


def test_quantile_exact_when_partitions_are_small(variants, frame):
    pdf = frame(80)
    for _, df in variants(pdf):
        assert_eq(df.f.quantile(0.3), pdf.f.quantile(0.3))
        assert_eq(df.i.quantile([0.1, 0.5, 0.9]), pdf.i.quantile([0.1, 0.5, 0.9]))
        assert_eq(df[["i", "f"]].quantile(0.5), pdf[["i", "f"]].quantile(0.5))


def test_quantile_approximate_on_large_partitions():
    rng = np.random.default_rng(1)
    s = pd.Series(rng.normal(size=200_000))
    got = sd.from_pandas(s, npartitions=4).quantile([0.01, 0.5, 0.99], max_points=500).compute()
    want = s.quantile([0.01, 0.5, 0.99])
    assert np.abs(got.to_numpy() - want.to_numpy()).max() < 0.02


def test_describe(variants, frame):
    pdf = frame(50)
    for _, df in variants(pdf):
        assert_eq(df[["i", "f", "s"]].describe(), pdf[["i", "f", "s"]].describe())
        assert_eq(df.f.describe(), pdf.f.describe())


def test_split_every_validation(frame):
    df = sd.from_pandas(frame(), npartitions=3)
    with pytest.raises(ValueError, match="split_every"):
        df.i.sum(split_every=1)


def test_split_out_value_counts_and_drop_duplicates(variants, frame):
    pdf = frame(80)
    for _, df in variants(pdf):
        vc = df.i.value_counts(split_out=3)
        assert vc.npartitions == 3
        pd.testing.assert_series_equal(vc.compute().sort_index(), pdf.i.value_counts().sort_index())
        dd = df[["i", "s"]].drop_duplicates(split_out=2)
        assert dd.npartitions == 2
        pd.testing.assert_frame_equal(
            dd.compute().sort_index(), pdf[["i", "s"]].drop_duplicates().sort_index()
        )
        by_s = df.drop_duplicates(subset="s", split_out=2).compute().sort_index()
        pd.testing.assert_frame_equal(by_s, pdf.drop_duplicates(subset="s").sort_index())
    with pytest.raises(ValueError, match="normalize"):
        sd.from_pandas(pdf, npartitions=2).i.value_counts(normalize=True, split_out=2)


def test_mode_memory_usage(variants, frame):
    pdf = frame(60)
    for _, df in variants(pdf):
        assert_eq(df.i.mode(), pdf.i.mode())
        assert_eq(df.s.mode(dropna=False), pdf.s.mode(dropna=False))
        # numeric columns only: an arrow string column stores one offset per partition more
        num = ["i", "f", "b", "t"]
        assert_eq(df[num].memory_usage(index=False), pdf[num].memory_usage(index=False))
        assert_eq(df.f.memory_usage(index=False), pdf.f.memory_usage(index=False))


def test_cov_corr(variants, frame):
    pdf = frame(80)[["i", "f", "b"]]
    pdf["g"] = 1e6 + pdf.f * 3 + pdf.i  # large offset: checks numerical stability
    for _, df in variants(pdf):
        assert_eq(df.cov(split_every=2), pdf.cov())
        assert_eq(df.corr(), pdf.corr())
        # (pandas ignores ddof when missing values are present, so compare without them)
        assert_eq(df[["i", "b"]].cov(ddof=0), pdf[["i", "b"]].cov(ddof=0))
        assert_eq(df.f.corr(df.g), pdf.f.corr(pdf.g))
        assert_eq(df.i.cov(df.f), pdf.i.cov(pdf.f))
    with pytest.raises(NotImplementedError, match="pearson"):
        sd.from_pandas(pdf, npartitions=2).corr(method="spearman")
