"""pivot_table, crosstab, get_dummies and melt, against pandas."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq


def sales(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "shop": rng.choice(["north", "south", "east", None], n),
            "kind": pd.Categorical(
                rng.choice(["a", "b", "c", None], n), categories=["a", "b", "c", "d"]
            ),
            "qty": rng.integers(0, 5, n),
            "price": np.where(rng.random(n) < 0.2, np.nan, rng.random(n) * 10),
        }
    )


@pytest.mark.parametrize("aggfunc", ["mean", "sum", "count", "min", "max", "first", "last"])
def test_pivot_table(variants, aggfunc):
    pdf = sales()
    for _label, df in variants(pdf):
        want = pdf.pivot_table(
            index="shop",
            columns="kind",
            values="price",
            aggfunc=aggfunc,
            observed=False,
            dropna=False,
        )
        assert_eq(df.pivot_table("shop", "kind", "price", aggfunc), want)
        want = pdf.pivot_table(
            index="shop",
            columns="kind",
            values=["price", "qty"],
            aggfunc=aggfunc,
            observed=False,
            dropna=False,
        )
        got = sd.pivot_table(df, "shop", "kind", ["price", "qty"], aggfunc, split_every=2)
        assert_eq(got, want)


def test_pivot_table_errors():
    pdf = sales()
    df = sd.from_pandas(pdf, npartitions=3)
    with pytest.raises(ValueError, match=r"categorize\(columns=\['shop'\]\)"):
        df.pivot_table("kind", "shop", "price")
    with pytest.raises(ValueError, match="unknown categories"):
        df.assign(k2=df.shop.astype("category")).pivot_table("kind", "k2", "price")
    with pytest.raises(ValueError, match="aggfunc must be one of"):
        df.pivot_table("shop", "kind", "price", "median")
    with pytest.raises(KeyError, match="pricee"):
        df.pivot_table("shop", "kind", "pricee")
    # categorize() makes the columns known
    known = df.categorize(columns=["shop"])
    cats = known.shop.dtype.categories
    want = pdf.astype({"shop": pd.CategoricalDtype(cats)}).pivot_table(
        index="kind", columns="shop", values="qty", aggfunc="sum", observed=False, dropna=False
    )
    assert_eq(known.pivot_table("kind", "shop", "qty", "sum"), want)


def test_crosstab(variants):
    pdf = sales()
    for _label, df in variants(pdf):
        assert_eq(sd.crosstab(df.shop, df.kind), pd.crosstab(pdf.shop, pdf.kind, dropna=False))
    df = sd.from_pandas(pdf, npartitions=2)
    with pytest.raises(ValueError, match="categorize"):
        sd.crosstab(df.kind, df.shop)
    with pytest.raises(TypeError, match="two shoal Series"):
        sd.crosstab(pdf.shop, df.kind)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"columns": ["kind"]},
        {"dummy_na": True},
        {"drop_first": True, "dtype": "int8"},
        {"prefix": "k", "prefix_sep": ":"},
    ],
)
def test_get_dummies(variants, options):
    pdf = sales().drop(columns="shop")
    for _label, df in variants(pdf):
        assert_eq(sd.get_dummies(df, **options), pd.get_dummies(pdf, **options))
        if "columns" not in options:
            assert_eq(sd.get_dummies(df.kind, **options), pd.get_dummies(pdf.kind, **options))


def test_get_dummies_needs_known_categories():
    df = sd.from_pandas(sales(), npartitions=2)
    with pytest.raises(ValueError, match=r"column 'shop'.*categorize"):
        sd.get_dummies(df)
    with pytest.raises(ValueError, match="unknown categories"):
        sd.get_dummies(df.kind.astype("category"))
    with pytest.raises(TypeError, match="shoal DataFrame or Series"):
        sd.get_dummies(sales())


@pytest.mark.parametrize(
    "options",
    [
        {"id_vars": "shop"},
        {"id_vars": ["shop"], "value_vars": ["qty", "price"]},
        {"value_vars": "qty", "var_name": "what", "value_name": "amount"},
        {},
    ],
)
def test_melt(variants, options):
    pdf = sales().drop(columns="kind")
    for _label, df in variants(pdf):
        got = df.melt(**options)
        want = pd.melt(pdf, **options)
        # rows come partition by partition: compare as sorted tables
        key = list(want.columns)
        assert_eq(
            got.compute().sort_values(key, ignore_index=True),
            want.sort_values(key, ignore_index=True),
        )
        assert got.npartitions == df.npartitions
    with pytest.raises(KeyError, match="nope"):
        sd.melt(sd.from_pandas(pdf, npartitions=2), id_vars="nope")
