import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq

METHODS = [
    "sum",
    "mean",
    "count",
    "size",
    "min",
    "max",
    "std",
    "var",
    "first",
    "last",
    "nunique",
    "prod",
]


@pytest.mark.parametrize("method", METHODS)
def test_groupby_methods(method, variants, frame):
    pdf = frame(60)[["i", "f", "s"]]
    pdf["k"] = pdf.i % 3
    for _, df in variants(pdf):
        assert_eq(
            getattr(df.groupby("k")[["i", "f"]], method)(),
            getattr(pdf.groupby("k")[["i", "f"]], method)(),
        )
        assert_eq(
            getattr(df.groupby("s").f, method)(split_every=2), getattr(pdf.groupby("s").f, method)()
        )
        assert_eq(
            getattr(df.groupby(["s", "k"]).i, method)(),
            getattr(pdf.groupby(["s", "k"]).i, method)(),
        )


def test_groupby_whole_frame_and_string_columns(variants, frame):
    pdf = frame(40)[["i", "s", "f"]]
    for _, df in variants(pdf):
        assert_eq(df.groupby("i").sum(), pdf.groupby("i").sum())
        assert_eq(df.groupby("i").count(), pdf.groupby("i").count())
        assert_eq(df.groupby("i").max(), pdf.groupby("i").max())
        assert_eq(df.groupby("s").size(), pdf.groupby("s").size())


def test_groupby_dropna_and_sort(variants, frame):
    pdf = frame(50)[["i", "s", "f"]]
    for _, df in variants(pdf):
        assert_eq(df.groupby("s", dropna=False).f.sum(), pdf.groupby("s", dropna=False).f.sum())
        got = df.groupby("s", sort=False).i.sum().compute().sort_index()
        pd.testing.assert_series_equal(got, pdf.groupby("s").i.sum())


def test_groupby_by_series_and_level(variants, frame):
    pdf = frame(50)
    for _, df in variants(pdf):
        assert_eq(df.groupby(df.i % 2).f.mean(), pdf.groupby(pdf.i % 2).f.mean())
        assert_eq(df.f.groupby(df.s).sum(), pdf.f.groupby(pdf.s).sum())
    idx = pdf.set_index("i")
    for _, df in variants(idx):
        assert_eq(df.groupby(level=0).f.sum(), idx.groupby(level=0).f.sum())


def test_groupby_categorical_observed():
    pdf = pd.DataFrame(
        {"c": pd.Categorical(["a", "b", "a"], categories=["a", "b", "z"]), "v": [1.0, 2.0, 3.0]}
    )
    for observed in (True, False):
        df = sd.from_pandas(pdf, npartitions=2)
        assert_eq(
            df.groupby("c", observed=observed).v.sum(), pdf.groupby("c", observed=observed).v.sum()
        )


def test_agg_dicts_lists_named(variants, frame):
    pdf = frame(60)[["i", "f", "s"]]
    for _, df in variants(pdf):
        spec = {"i": "sum", "f": ["mean", "max", "std"]}
        assert_eq(df.groupby("s").agg(spec), pdf.groupby("s").agg(spec))
        assert_eq(
            df.groupby("s").agg({"i": "min", "f": "count"}),
            pdf.groupby("s").agg({"i": "min", "f": "count"}),
        )
        assert_eq(df.groupby("s").agg(["sum", "count"]), pdf.groupby("s").agg(["sum", "count"]))
        assert_eq(df.groupby("s").f.agg(["min", "max"]), pdf.groupby("s").f.agg(["min", "max"]))
        assert_eq(
            df.groupby("s").agg(total=("i", "sum"), avg=("f", "mean"), n=("f", "nunique")),
            pdf.groupby("s").agg(total=("i", "sum"), avg=("f", "mean"), n=("f", "nunique")),
        )


def test_custom_aggregation(variants, frame):
    pdf = frame(60)[["i", "f", "s"]]
    sumsq = sd.Aggregation("sumsq", lambda g: g.apply(lambda x: (x**2).sum()), lambda g: g.sum())
    spread = sd.Aggregation(
        "spread", lambda g: g.max() - g.min(), lambda g: g.max(), lambda s: s * 1.0
    )
    for _, df in variants(pdf):
        assert_eq(
            df.groupby("s").i.agg(sumsq), pdf.groupby("s").i.agg(lambda x: (x**2).sum()).rename("i")
        )
        got = df.groupby("s").agg({"i": [sumsq, "sum"]}).compute()
        assert list(got.columns) == [("i", "sumsq"), ("i", "sum")]
        pd.testing.assert_series_equal(
            got[("i", "sum")], pdf.groupby("s").i.sum(), check_names=False
        )
        assert df.groupby("s").f.agg(spread).compute().dtype == np.float64


@pytest.mark.parametrize("split_out", [1, 3])
def test_custom_aggregation_with_several_intermediates(variants, frame, split_out):
    """Dask's custom mean: chunk returns (count, sum), agg and finalize take both."""
    pdf = frame(60)[["i", "f", "s"]]
    mean = sd.Aggregation(
        "custom_mean",
        lambda s: (s.count(), s.sum()),
        lambda count, total: (count.sum(), total.sum()),
        lambda count, total: total / count,
    )
    for _, df in variants(pdf):
        got = df.groupby("s").f.agg(mean, split_out=split_out).compute().sort_index()
        pd.testing.assert_series_equal(got, pdf.groupby("s").f.mean(), check_names=False)
        frame_got = df.groupby("s").agg({"i": mean, "f": "max"}).compute().sort_index()
        want = pdf.groupby("s").agg({"i": "mean", "f": "max"})
        pd.testing.assert_frame_equal(frame_got, want, check_names=False)
    unfinished = sd.Aggregation(
        "pair", lambda s: (s.count(), s.sum()), lambda c, t: (c.sum(), t.sum())
    )
    with pytest.raises(ValueError, match="finalize must combine them"):
        sd.from_pandas(pdf, npartitions=2).groupby("s").f.agg(unfinished).compute()


@pytest.mark.parametrize("split_out", [2, 5])
def test_split_out(split_out, variants):
    rng = np.random.default_rng(3)
    pdf = pd.DataFrame({"k": rng.integers(0, 500, 3000), "v": rng.normal(size=3000)})
    for _, df in variants(pdf):
        out = df.groupby("k").v.agg(["sum", "mean", "count"], split_out=split_out)
        assert out.npartitions == split_out
        parts = [out.get_partition(j).compute() for j in range(split_out)]
        seen = [set(p.index) for p in parts]
        assert sum(len(s) for s in seen) == len(set().union(*seen))  # groups do not overlap
        got = out.compute().sort_index()
        pd.testing.assert_frame_equal(got, pdf.groupby("k").v.agg(["sum", "mean", "count"]))


def _assert_sorted_across(out, expect, split_out):
    """Partitions sorted within and across, together equal to ``expect``."""
    import shoal

    assert out.npartitions == split_out and not out.known_divisions
    parts = shoal.compute(*out.to_delayed(), scheduler="sync")
    whole = pd.concat(parts)
    assert whole.index.is_monotonic_increasing or whole.index.hasnans
    if isinstance(expect, pd.DataFrame):
        pd.testing.assert_frame_equal(whole, expect)
    else:
        pd.testing.assert_series_equal(whole, expect)


@pytest.mark.parametrize("split_out", [2, 5])
def test_split_out_sorted(split_out, variants, frame):
    rng = np.random.default_rng(5)
    n = 1000
    pdf = pd.DataFrame(
        {
            "k": rng.integers(0, 300, n),
            "s": pd.Series(rng.choice([f"w{i:03d}" for i in range(50)] + [None], n), dtype="str"),
            "v": rng.normal(size=n),
        }
    )
    for label, df in variants(pdf):
        out = df.groupby("k", sort=True).v.agg(["sum", "count"], split_out=split_out)
        _assert_sorted_across(out, pdf.groupby("k").v.agg(["sum", "count"]), split_out)
        if label == "unknown":
            assert_eq(out, pdf.groupby("k").v.agg(["sum", "count"]))
        out = df.groupby(["s", "k"], sort=True).v.sum(split_out=split_out)
        _assert_sorted_across(out, pdf.groupby(["s", "k"]).v.sum(), split_out)
        out = df.groupby("s", sort=True, dropna=False).v.mean(split_out=split_out)
        _assert_sorted_across(out, pdf.groupby("s", dropna=False).v.mean(), split_out)
    # fewer groups than outputs: some partitions are empty
    small = frame(30)
    for _, df in variants(small):
        out = df.groupby("b", sort=True).f.sum(split_out=4)
        _assert_sorted_across(out, small.groupby("b").f.sum(), 4)


def test_split_out_sorted_categorical_keys():
    pdf = pd.DataFrame({"c": pd.Categorical(list("cabca"), categories=list("cba")), "v": range(5)})
    df = sd.from_pandas(pdf, npartitions=2)
    out = df.groupby("c", sort=True, observed=True).v.sum(split_out=2)
    _assert_sorted_across(out, pdf.groupby("c", observed=True).v.sum(), 2)
    unknown = df.assign(c=df.c.astype(str).astype("category"))
    with pytest.raises(NotImplementedError, match="as_known"):
        unknown.groupby("c", sort=True).v.sum(split_out=2)


def test_groupby_errors(frame):
    df = sd.from_pandas(frame(), npartitions=2)
    with pytest.raises(ValueError, match="unknown aggregation"):
        df.groupby("s").agg({"i": "median"})
    with pytest.raises(KeyError, match="did you mean"):
        df.groupby("s").agg({"ii": "sum"})
    with pytest.raises(sd.MetaInferenceError, match="groupby"):
        df.groupby("i").s.mean()


def test_unnamed_series_groupby(variants):
    s = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0])
    k = pd.Series(["a", "b", "a", "b", "a"])
    both = pd.DataFrame({"s": s, "k": k})
    for _, df in variants(both):
        ds, dk = df.s.rename(None), df.k.rename(None)
        assert_eq(ds.groupby(dk).sum(), s.groupby(k).sum())
        assert_eq(ds.groupby(dk).size(), s.groupby(k).size())
        assert_eq(ds.groupby(dk).agg(["min", "max"]), s.groupby(k).agg(["min", "max"]))
    separate = sd.from_pandas(s, npartitions=2, sort=False)
    with pytest.raises(ValueError, match="different sources"):
        separate.groupby(sd.from_pandas(k, npartitions=2, sort=False)).sum()
