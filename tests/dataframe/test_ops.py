import operator

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq


def test_selection_and_filters(variants, frame):
    pdf = frame()
    for _, df in variants(pdf):
        assert_eq(df["i"], pdf["i"])
        assert_eq(df.f, pdf.f)
        assert_eq(df[["s", "i"]], pdf[["s", "i"]])
        assert_eq(df[df.i > 2], pdf[pdf.i > 2])
        assert_eq(
            df[(df.i > 0) & ~df.b | (df.s == "apple")],
            pdf[(pdf.i > 0) & ~pdf.b | (pdf.s == "apple")],
        )
        assert_eq(df[df.b], pdf[pdf.b])
        assert_eq(df.loc[df.i < 0, ["f"]], pdf.loc[pdf.i < 0, ["f"]])


def test_boolean_filter_needs_bool(frame):
    df = sd.from_pandas(frame(), npartitions=2)
    with pytest.raises(TypeError, match="bool Series"):
        df[df.i]


@pytest.mark.parametrize(
    "op",
    [
        operator.add,
        operator.sub,
        operator.mul,
        operator.truediv,
        operator.floordiv,
        operator.mod,
        operator.pow,
        operator.lt,
        operator.le,
        operator.gt,
        operator.ge,
        operator.eq,
        operator.ne,
    ],
)
def test_arithmetic_and_comparison(op, variants, frame):
    pdf = frame()[["i", "f"]]
    # no zero divisors or negative powers: pandas' own int dtypes then depend on values
    pdf["i"] = pdf.i.abs() + 1
    for _, df in variants(pdf):
        assert_eq(op(df, 2), op(pdf, 2))
        assert_eq(op(df.i, df.f), op(pdf.i, pdf.f))
        assert_eq(op(df, df), op(pdf, pdf))
        assert_eq(op(3, df.f), op(3, pdf.f))
        assert_eq(op(df.f, df.i.max()), op(pdf.f, pdf.i.max()))


def test_misaligned_operands_raise(frame):
    pdf = frame()
    a = sd.from_pandas(pdf, npartitions=2, sort=False)
    b = sd.from_pandas(pdf, npartitions=3, sort=False)
    with pytest.raises(ValueError, match="2 and 3 partitions"):
        a.i + b.i
    known = sd.from_pandas(pdf, npartitions=2)
    with pytest.raises(ValueError, match="known divisions and the other unknown"):
        known.i + a.i
    with pytest.raises(TypeError, match="from_pandas"):
        a.i + pdf.i
    c = sd.from_pandas(pdf.iloc[::-1], npartitions=2, sort=False)
    with pytest.raises(ValueError, match="different sources"):
        a.i + c.i
    assert_eq(a.i + a[a.i > 0].f, pdf.i + pdf[pdf.i > 0].f)  # one source: aligned


def test_assign_rename_drop_astype(variants, frame):
    pdf = frame()
    for _, df in variants(pdf):
        assert_eq(
            df.assign(z=df.i * 2, c=1, w=lambda d: d.f + 1),
            pdf.assign(z=pdf.i * 2, c=1, w=lambda d: d.f + 1),
        )
        assert_eq(df.rename(columns={"i": "ii"}), pdf.rename(columns={"i": "ii"}))
        assert_eq(df.rename(columns=str.upper), pdf.rename(columns=str.upper))
        assert_eq(df.drop(columns=["s", "t"]), pdf.drop(columns=["s", "t"]))
        assert_eq(df.drop("b", axis=1), pdf.drop("b", axis=1))
        assert_eq(df.astype({"i": "float32"}), pdf.astype({"i": "float32"}))
        assert_eq(df.i.astype("float64"), pdf.i.astype("float64"))
        assert_eq(df.i.rename("k"), pdf.i.rename("k"))
        assert_eq(df.i.to_frame(), pdf.i.to_frame())
        d2 = df.assign()
        d2["new"] = d2.i + 1
        assert_eq(d2, pdf.assign(new=pdf.i + 1))
    with pytest.raises(KeyError, match="nope"):
        sd.from_pandas(pdf, npartitions=2).drop(columns=["nope"])


def test_missing_values(variants, frame):
    pdf = frame()
    for _, df in variants(pdf):
        assert_eq(df.isna(), pdf.isna())
        assert_eq(df.notna(), pdf.notna())
        assert_eq(df.f.fillna(0), pdf.f.fillna(0))
        assert_eq(df.fillna({"f": -1.0, "s": "none"}), pdf.fillna({"f": -1.0, "s": "none"}))
        assert_eq(df.dropna(), pdf.dropna())
        assert_eq(df.dropna(subset=["f"]), pdf.dropna(subset=["f"]))
        assert_eq(df.dropna(how="all"), pdf.dropna(how="all"))


def test_where_mask_clip_replace_isin_map(variants, frame):
    pdf = frame()[["i", "f", "s"]]
    num = pdf[["i", "f"]]
    for _, df in variants(pdf):
        dnum = df[["i", "f"]]
        assert_eq(dnum.where(dnum > 0, -1), num.where(num > 0, -1))
        assert_eq(dnum.mask(dnum > 0), num.mask(num > 0))
        assert_eq(df.f.where(df.i > 0, 0.0), pdf.f.where(pdf.i > 0, 0.0))
        assert_eq(dnum.clip(-1, 1), num.clip(-1, 1))
        assert_eq(df.replace({"apple": "APPLE"}), pdf.replace({"apple": "APPLE"}))
        assert_eq(df.i.replace(3, 30), pdf.i.replace(3, 30))
        assert_eq(df.i.isin([1, 2, 3]), pdf.i.isin([1, 2, 3]))
        assert_eq(df.i.map({1: "one", 2: "two"}), pdf.i.map({1: "one", 2: "two"}))
        assert_eq(df.i.map(lambda v: v * 10), pdf.i.map(lambda v: v * 10))
        assert_eq(df.f.abs().round(1), pdf.f.abs().round(1))
        assert_eq(df.i.between(0, 3), pdf.i.between(0, 3))
        assert_eq(-df.i, -pdf.i)


def test_apply_query_eval_select_dtypes(variants, frame):
    pdf = frame()
    for _, df in variants(pdf):
        assert_eq(
            df.apply(lambda r: r.i * 2 + 1, axis=1, meta=("x", "int64")),
            pdf.apply(lambda r: r.i * 2 + 1, axis=1).rename("x"),
        )
        assert_eq(df.apply(lambda r: r.f + r.i, axis=1), pdf.apply(lambda r: r.f + r.i, axis=1))
        assert_eq(df.query("i > 2 and f < 0.5"), pdf.query("i > 2 and f < 0.5"))
        assert_eq(df.eval("i + f"), pdf.eval("i + f"))
        assert_eq(df.eval("z = i * 2"), pdf.eval("z = i * 2"))
        assert_eq(df.select_dtypes("number"), pdf.select_dtypes("number"))
        assert_eq(df.select_dtypes(exclude=["number"]), pdf.select_dtypes(exclude=["number"]))
    with pytest.raises(NotImplementedError):
        sd.from_pandas(pdf, npartitions=2).apply(len, axis=0)


def test_str_and_dt_accessors(variants, frame):
    pdf = frame()
    for _, df in variants(pdf):
        assert_eq(df.s.str.upper(), pdf.s.str.upper())
        assert_eq(df.s.str.len(), pdf.s.str.len())
        assert_eq(df.s.str.contains("an"), pdf.s.str.contains("an"))
        assert_eq(df.s.str.slice(0, 2), pdf.s.str.slice(0, 2))
        assert_eq(df.t.dt.year, pdf.t.dt.year)
        assert_eq(df.t.dt.hour, pdf.t.dt.hour)
        assert_eq(df.t.dt.floor("D"), pdf.t.dt.floor("D"))
        assert_eq(df.t.dt.day_name(), pdf.t.dt.day_name())
    with pytest.raises(AttributeError, match=".dt accessor"):
        _ = sd.from_pandas(pdf, npartitions=1).i.dt


def test_loc_with_divisions():
    pdf = pd.DataFrame({"x": np.arange(30.0)}, index=np.arange(0, 60, 2))
    df = sd.from_pandas(pdf, npartitions=4)
    assert_eq(df.loc[10:30], pdf.loc[10:30])
    assert df.loc[10:30].npartitions < df.npartitions
    assert_eq(df.loc[:7], pdf.loc[:7])
    assert_eq(df.loc[51:], pdf.loc[51:])
    assert_eq(df.loc[20], pdf.loc[[20]])
    assert_eq(df.loc[[4, 40]], pdf.loc[[4, 40]])
    assert_eq(df.loc[df.x > 20, "x"], pdf.loc[pdf.x > 20, "x"])
    assert df.loc[20].npartitions == 1
    unknown = sd.from_pandas(pdf, npartitions=3, sort=False)
    with pytest.raises(ValueError, match="known divisions"):
        unknown.loc[10:20]
    assert_eq(unknown.loc[[4, 40]], pdf.loc[[4, 40]])


def test_repartition(variants, frame):
    pdf = frame(50)
    for _, df in variants(pdf):
        for n in (1, 2, 7):
            out = df.repartition(npartitions=n)
            assert out.npartitions == n
            assert_eq(out, pdf)
    known = sd.from_pandas(pdf, npartitions=6).repartition(npartitions=3)
    assert known.known_divisions
    with pytest.raises(ValueError, match="positive"):
        known.repartition(npartitions=0)


def test_iloc_columns(variants, frame):
    pdf = frame()
    for _, df in variants(pdf):
        assert_eq(df.iloc[:, [0, 2]], pdf.iloc[:, [0, 2]])
        assert_eq(df.iloc[:, 1], pdf.iloc[:, 1])
        assert_eq(df.iloc[:, 1:3], pdf.iloc[:, 1:3])
    with pytest.raises(NotImplementedError, match="column selection"):
        sd.from_pandas(pdf, npartitions=2).iloc[3]


def test_alignment_of_different_divisions():
    a = pd.DataFrame({"x": np.arange(20.0)}, index=np.arange(20))
    b = pd.DataFrame({"y": np.arange(15.0)}, index=np.arange(5, 35, 2))
    da = sd.from_pandas(a, npartitions=3)
    db = sd.from_pandas(b, npartitions=4)
    assert da.divisions != db.divisions
    assert_eq(da.x + db.y, a.x + b.y)
    assert_eq(da.assign(y=db.y), a.assign(y=b.y))
    assert_eq(da.x.where(db.y > 5, -1.0), a.x.where(b.y.reindex(a.index) > 5, -1.0))
    assert_eq(da.groupby(db.y > 5).x.sum(), a.x.groupby(b.y > 5).sum())


def test_repartition_divisions_and_size(variants, frame):
    pdf = frame(60).set_index("i").sort_index()
    df = sd.from_pandas(pdf, npartitions=3)
    lo, hi = pdf.index.min(), pdf.index.max()
    out = df.repartition(divisions=[lo, 0, 3, 5, hi])
    assert out.divisions == (lo, 0, 3, 5, hi)
    assert_eq(out, pdf)
    with pytest.raises(ValueError, match="do not cover"):
        df.repartition(divisions=[lo + 1, hi])
    with pytest.raises(ValueError, match="known divisions"):
        sd.from_pandas(pdf, npartitions=2, sort=False).repartition(divisions=[lo, hi])
    with pytest.raises(ValueError, match="exactly one"):
        df.repartition()
    raw = frame(200)
    for _, d in variants(raw):
        total = int(raw.memory_usage(deep=True).sum())
        small = d.repartition(partition_size=total // 5)
        assert small.npartitions >= 5
        assert_eq(small, raw)
        assert d.repartition(partition_size=total * 10).npartitions == 1


def test_map_overlap(variants, frame):
    pdf = frame(40)[["i", "f"]]
    for _, df in variants(pdf):
        assert_eq(df.map_overlap(lambda d: d.rolling(3).sum(), 2, 0), pdf.rolling(3).sum())
        assert_eq(df.i.map_overlap(lambda s: s.diff(-2), 0, 2), pdf.i.diff(-2))
        assert_eq(
            df.map_overlap(lambda d: d.rolling(5, center=True, min_periods=1).mean(), 2, 2),
            pdf.rolling(5, center=True, min_periods=1).mean(),
        )
    with pytest.raises(ValueError, match="row count"):
        sd.from_pandas(pdf, npartitions=2).map_overlap(lambda d: d, -1, 0)


def test_categoricals(variants, frame):
    pdf = frame(40)
    in_order = pd.CategoricalDtype(list(pdf.s.dropna().unique()))
    for _, df in variants(pdf):
        cat = df.categorize(columns=["s"])
        assert cat.dtypes["s"] == in_order
        assert_eq(cat, pdf.astype({"s": in_order}))
        assert_eq(cat.s.cat.codes, pdf.s.astype(in_order).cat.codes)
        assert list(cat.s.cat.categories) == list(in_order.categories)
        assert_eq(df.categorize().s, pdf.s.astype(in_order))
    s = sd.from_pandas(pdf.s.astype("category"), npartitions=3)
    assert_eq(s.as_known(), pdf.s.astype(in_order))
    with pytest.raises(TypeError, match="categorical"):
        sd.from_pandas(pdf, npartitions=2).i.as_known()


def test_series_boolean_filter(variants, frame):
    pdf = frame()
    for _, df in variants(pdf):
        assert_eq(df.f[df.i > 2], pdf.f[pdf.i > 2])
        assert_eq(df.s[df.s.str.len() > 5], pdf.s[pdf.s.str.len() > 5])
    with pytest.raises(TypeError, match="boolean"):
        sd.from_pandas(pdf, npartitions=1).f[3]


def test_unknown_categories(variants, frame, tmp_path):
    pdf = frame(40)
    for _, df in variants(pdf):
        cat = df.astype({"s": "category"})
        assert not cat.s.cat.known
        with pytest.raises(ValueError, match="unknown"):
            _ = cat.s.cat.categories
        got = cat.compute()
        assert set(got.s.cat.categories) == set(pdf.s.dropna())
        pd.testing.assert_series_equal(got.s.astype(str), pdf.s.astype(str))
        known = cat.s.cat.as_known()
        assert known.cat.known
        assert_eq(known, pdf.s.astype(pd.CategoricalDtype(list(pdf.s.dropna().unique()))))
        assert not known.cat.as_unknown().cat.known
        want = pdf.astype({"s": "category"}).groupby("s", observed=True).i.sum()
        assert_eq(cat.groupby("s").i.sum(), want, check_categorical=False)
    pdf[["i", "s"]].to_csv(tmp_path / "c.csv", index=False)
    df = sd.read_csv(str(tmp_path / "c.csv"), blocksize=100, dtype={"s": "category"})
    assert not df.s.cat.known
    assert set(df.s.cat.as_known().cat.categories) == set(pdf.s.dropna())


def test_map_overlap_time_spans():
    idx = pd.date_range("2024-01-01", periods=60, freq="37min")
    pdf = pd.DataFrame({"v": np.arange(60.0)}, index=idx)
    for n in (1, 4, 7):
        df = sd.from_pandas(pdf, npartitions=n)
        assert_eq(df.map_overlap(lambda d: d.rolling("3h").sum(), "3h", 0), pdf.rolling("3h").sum())
        assert_eq(
            df.v.map_overlap(lambda s: s.rolling("2h", center=True).mean(), "1h", "1h"),
            pdf.v.rolling("2h", center=True).mean(),
        )
    with pytest.raises(ValueError, match="known divisions"):
        sd.from_pandas(pdf, npartitions=2, sort=False).map_overlap(lambda d: d, "1h", 0)
