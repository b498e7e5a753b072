"""Groupby methods and grouping forms of issue 15, against pandas on the
partitionings of conftest.py."""

import numpy as np
import pandas as pd
import pytest

from shoal.testing import assert_eq


def _keyed(n=60, seed=2):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "k": rng.integers(0, 6, n),
            "g": pd.Series(rng.choice(["u", "v", "w"], n), dtype="str"),
            "x": np.where(rng.random(n) < 0.15, np.nan, rng.normal(size=n)),
            "y": rng.integers(-3, 9, n),
        }
    )


def _rows(got, want, **kw):
    """Per-row results come grouped (shuffled), so compare in index order."""
    assert_eq(got.compute().sort_index(kind="stable"), want.sort_index(kind="stable"), **kw)


def test_whole_group_reductions(variants):
    pdf = _keyed()
    for _, df in variants(pdf):
        g, pg = df.groupby("k"), pdf.groupby("k")
        assert_eq(g.x.median(), pg.x.median())
        assert_eq(g[["x", "y"]].median(), pg[["x", "y"]].median())
        assert_eq(g.median(numeric_only=True), pg.median(numeric_only=True))
        assert_eq(g.y.idxmin(), pg.y.idxmin())
        assert_eq(g[["y"]].idxmax(), pg[["y"]].idxmax())
        for normalize in (False, True):  # pandas orders ties by no rule: compare sorted
            counts = g.g.value_counts(normalize=normalize)
            assert_eq(counts.compute().sort_index(), pg.g.value_counts(normalize).sort_index())
            by_group = counts.compute().groupby(level="k")
            assert by_group.apply(lambda c: c.is_monotonic_decreasing).all()
        assert_eq(g[["x", "y"]].cov(), pg[["x", "y"]].cov())
        assert_eq(g[["y", "x"]].corr(), pg[["y", "x"]].corr())
        assert_eq(df.groupby(["g", "k"]).x.median(), pdf.groupby(["g", "k"]).x.median())
        assert_eq(g.x.median(split_out=3).compute().sort_index(), pg.x.median())
        assert_eq(df.groupby("k", sort=False).y.idxmax().compute().sort_index(), pg.y.idxmax())
    with pytest.raises(NotImplementedError, match="SeriesGroupBy.cov"):
        df.groupby("k").x.cov()


def test_per_row_group_methods(variants):
    pdf = _keyed()
    pdf.loc[pdf.index[::7], "k"] = np.nan  # missing keys: left out of head, missing in cumsum
    for _, df in variants(pdf):
        g, pg = df.groupby("k"), pdf.groupby("k")
        _rows(g.head(2), pg.head(2))
        _rows(g.tail(1), pg.tail(1))
        _rows(g.x.head(3), pg.x.head(3))
        _rows(g.cumcount(), pg.cumcount())
        _rows(g.y.cumsum(), pg.y.cumsum())
        _rows(g[["x", "y"]].cumprod(), pg[["x", "y"]].cumprod())
        _rows(g.y.cummax(), pg.y.cummax())
        _rows(g.x.cummin(), pg.x.cummin())


def test_agg_numeric_only_min_count(variants):
    pdf = _keyed()
    for _, df in variants(pdf):
        g, pg = df.groupby("k"), pdf.groupby("k")
        assert_eq(g.sum(numeric_only=True), pg.sum(numeric_only=True))
        assert_eq(g.agg("mean", numeric_only=True), pg.agg("mean", numeric_only=True))
        # min_count: float64 in every partition (pandas keeps int64 when no group is short)
        assert_eq(g.y.sum(min_count=4), pg.y.sum(min_count=4).astype("float64"))
        assert_eq(g.x.sum(min_count=3), pg.x.sum(min_count=3))
        assert_eq(
            g[["x", "y"]].prod(min_count=2), pg[["x", "y"]].prod(min_count=2), check_dtype=False
        )
    with pytest.raises(TypeError, match="numeric_only=True"):
        df.groupby("k").g.sum(numeric_only=True)
    with pytest.raises(ValueError, match="min_count"):
        df.groupby("k").y.sum(min_count=-1)


def test_group_keys(variants):
    pdf = _keyed()
    for _, df in variants(pdf):
        for keys in (True, False):
            got = df.groupby("k", group_keys=keys).apply(lambda d: d.nlargest(2, "y"))
            want = pdf.groupby("k", group_keys=keys).apply(lambda d: d.nlargest(2, "y"))
            assert got.compute().index.nlevels == want.index.nlevels
            _rows(got, want)


def test_every_grouping_form(variants):
    pdf = _keyed()
    indexed = pdf.set_index("g")
    for _, df in variants(pdf):
        forms = [
            (df["k"], pdf["k"]),  # the column itself: pandas leaves it out of the values
            (df.k + 0, pdf.k + 0),  # another Series: every column stays
            (df.y > 2, pdf.y > 2),
            ([df["k"], df["g"]], [pdf["k"], pdf["g"]]),
            (["g", df.y > 2], ["g", pdf.y > 2]),
            ([df.y % 2, "k"], [pdf.y % 2, "k"]),
        ]
        for by, pby in forms:
            assert_eq(df.groupby(by).sum(), pdf.groupby(pby).sum())
            assert_eq(df.groupby(by).x.mean(), pdf.groupby(pby).x.mean())
            assert_eq(df.groupby(by).x.median(), pdf.groupby(pby).x.median())
            # string keys may be missing: integer results declared float64 (grouped.py)
            _rows(df.groupby(by).y.cumsum(), pdf.groupby(pby).y.cumsum(), check_dtype=False)
        assert_eq(df.y.groupby(df.k).max(), pdf.y.groupby(pdf.k).max())
        assert_eq(df.y.groupby(df.y).count(), pdf.y.groupby(pdf.y).count())
        _rows(
            df.groupby(df.y > 2).apply(lambda d: d.x.sum()),
            pdf.groupby(pdf.y > 2).apply(lambda d: d.x.sum()),
        )
    for _, di in variants(indexed):
        assert_eq(di.groupby("g").sum(), indexed.groupby("g").sum())
        assert_eq(di.groupby(["g", "k"]).x.sum(), indexed.groupby(["g", "k"]).x.sum())
        assert_eq(di.groupby(level="g").y.max(), indexed.groupby(level="g").y.max())
        assert_eq(di.groupby(level=0).y.median(), indexed.groupby(level=0).y.median())
        _rows(di.groupby("g").y.cumsum(), indexed.groupby("g").y.cumsum(), check_dtype=False)
    with pytest.raises(KeyError, match="nope"):
        df.groupby("nope")
