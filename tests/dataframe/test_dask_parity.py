"""Behaviour a Dask user relies on, found by running Dask's own merge and
shuffle tests against shoal; each test compares with pandas."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq

from .conftest import variants


def _indexed(sizes, seed):
    rng = np.random.default_rng(seed)
    idx = [i for i, s in enumerate(sizes) for _ in range(s)]
    k = [j for s in sizes for j in range(s)]
    return pd.DataFrame({"idx": idx, "k": k, "v": rng.integers(0, 100, len(k))}).set_index("idx")


LEFT = _indexed([3, 4, 2, 5, 3, 2], 0)
RIGHT = _indexed([4, 2, 5, 3, 2, 1, 3], 1)


@pytest.mark.parametrize("on", ["idx", ["idx"], ["idx", "k"], ["k", "idx"]])
@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_merge_on_index_level_name(on, how):
    expected = LEFT.merge(RIGHT, on=on, how=how)
    for _, left in variants(LEFT):
        for _, right in variants(RIGHT)[:2]:
            out = left.merge(right, on=on, how=how)
            got = out.compute()
            assert got.index.name == "idx"
            assert list(got.columns) == list(expected.columns)
            cols = list(got.columns)
            # integer columns of a side that may miss rows are float64 (docs/dataframe.md)
            pd.testing.assert_frame_equal(
                got.reset_index().sort_values(["idx", *cols]).reset_index(drop=True),
                expected.reset_index().sort_values(["idx", *cols]).reset_index(drop=True),
                check_dtype=False,
            )


def test_merge_on_index_level_name_empty_side():
    empty = RIGHT.iloc[:0]
    got = sd.from_pandas(LEFT, npartitions=2).merge(
        sd.from_pandas(empty, npartitions=1), on=["idx", "k"], how="left"
    )
    expected = LEFT.merge(empty, on=["idx", "k"], how="left")
    assert_eq(got, expected, check_dtype=False, check_index=False)
    assert got.compute().index.name == "idx"


def test_merge_column_named_like_index_stays_a_column_key():
    left = LEFT.reset_index().set_index("k", drop=False).rename_axis("idx_k")
    right = RIGHT.reset_index()
    got = sd.from_pandas(left, npartitions=2).merge(sd.from_pandas(right, 2), on="idx")
    expected = left.merge(right, on="idx")
    cols = list(expected.columns)
    pd.testing.assert_frame_equal(
        got.compute().sort_values(cols).reset_index(drop=True),
        expected.sort_values(cols).reset_index(drop=True),
    )


def test_merge_unknown_key_still_raises():
    with pytest.raises(KeyError, match="nope"):
        sd.from_pandas(LEFT, npartitions=2).merge(sd.from_pandas(RIGHT, 2), on=["idx", "nope"])


@pytest.mark.parametrize("n", [1, 5, 40])
def test_set_index_with_series(n):
    pdf = pd.DataFrame({"a": np.arange(n) % 7, "b": np.arange(n)[::-1].copy()})
    for _, df in variants(pdf):
        assert_eq(df.set_index(df.b), pdf.set_index(pdf.b).sort_index())
        assert_eq(
            df.set_index(df.a * 2 + 1), pdf.set_index(pdf.a * 2 + 1).sort_index(kind="stable")
        )
        unnamed = df.set_index(df.b.rename(None))
        assert unnamed.compute().index.name is None
        assert_eq(unnamed, pdf.set_index(pdf.b.rename(None)).sort_index())


def test_set_index_with_series_divisions_and_npartitions():
    pdf = pd.DataFrame({"a": range(30), "b": np.arange(30)[::-1].copy()})
    df = sd.from_pandas(pdf, npartitions=3)
    out = df.set_index(df.b, npartitions=2)
    assert out.known_divisions
    assert out.npartitions <= 2
    assert_eq(out, pdf.set_index(pdf.b).sort_index())


def test_copy_is_independent():
    pdf = pd.DataFrame({"a": [1, 2, 3]})
    df = sd.from_pandas(pdf, npartitions=2)
    c = df.copy()
    c["b"] = c.a * 2
    assert list(df.columns) == ["a"]
    assert_eq(c, pdf.assign(b=pdf.a * 2))
    assert_eq(df.a.copy(), pdf.a)


@pytest.mark.parametrize("n", [1, 7, 40])
def test_shuffle_on_frame_series_and_ignore_index(n):
    pdf = pd.DataFrame({"k": np.arange(n) % 3, "j": np.arange(n) % 2, "v": np.arange(n)})
    for _, df in variants(pdf):
        by_cols = df.shuffle(["k", "j"], npartitions=3)
        by_frame = df.shuffle(df[pd.Series(["k", "j"])], npartitions=3)
        assert_eq(by_frame, by_cols)
        for out in (by_frame, df.shuffle(df.k + 1, npartitions=2)):
            parts = [p.compute() for p in out.partitions]
            assert_eq(pd.concat(parts).sort_values("v"), pdf)
        parts = [p.compute() for p in by_frame.partitions]
        keys = [set(zip(p.k, p.j)) for p in parts]
        assert all(not (a & b) for i, a in enumerate(keys) for b in keys[i + 1 :])
        dropped = df.shuffle("k", npartitions=2, ignore_index=True)
        for p in dropped.partitions:
            assert p.compute().index.equals(pd.RangeIndex(len(p.compute())))
        got = dropped.compute().sort_values("v", ignore_index=True)
        assert_eq(got, pdf)


def test_getitem_with_pandas_labels():
    pdf = pd.DataFrame({"a": [1, 2], "b": [3, 4], "c": [5, 6]})
    df = sd.from_pandas(pdf, npartitions=2)
    assert_eq(df[pd.Series(["c", "a"])], pdf[pd.Series(["c", "a"])])
    assert_eq(df[pd.Index(["b"])], pdf[pd.Index(["b"])])
    with pytest.raises(KeyError):
        df[pd.Series(["zz"])]


@pytest.mark.parametrize("side", ["left", "right"])
def test_merge_asof_refuses_unsorted_keys_within_a_partition(side):
    a = pd.DataFrame({"a": [1, 5, 10], "lv": ["a", "b", "c"]})
    b = pd.DataFrame({"a": [2, 1, 3, 6, 7], "rv": [1, 2, 3, 6, 7]})
    left, right = (b.rename(columns={"rv": "lv"}), a.rename(columns={"lv": "rv"}))
    if side == "right":
        left, right = a, b
    with pytest.raises(ValueError, match=f"{side} keys must be sorted"):
        pd.merge_asof(left, right, on="a")  # the pandas oracle refuses too
    with pytest.raises(ValueError, match=f"{side} keys must be sorted"):
        sd.merge_asof(sd.from_pandas(left, 2), sd.from_pandas(right, 2), on="a").compute()
    floats = pd.DataFrame({"a": [1.0, 2.0, 3.0, np.nan], "rv": [1, 2, 3, 4]})
    keyed = a.assign(a=a.a.astype(float))
    with pytest.raises(ValueError, match="missing values"):
        sd.merge_asof(sd.from_pandas(keyed, 2), sd.from_pandas(floats, 2), on="a").compute()
    left = left.sort_values("a", ignore_index=True)
    right = right.sort_values("a", ignore_index=True)
    assert_eq(
        sd.merge_asof(sd.from_pandas(left, 2), sd.from_pandas(right, 2), on="a"),
        pd.merge_asof(left, right, on="a"),
        check_index=False,
        check_dtype=False,
    )


# ---------------------------------------------------------------- merge and concat parity

MC_A = pd.DataFrame({"b": [1, 2, 3, 4, 5], "a": [0.5, 1.5, 2.5, 3.5, 4.5]})
MC_B = pd.DataFrame({"c": ["p", "q", "r"], "a": [9.0, 8.0, 7.0]}, index=[10, 11, 12])


@pytest.mark.parametrize("join", ["outer", "inner"])
def test_concat_sort_orders_the_columns(join):
    expected = pd.concat([MC_A, MC_B], join=join, sort=True)
    assert list(expected.columns) == (["a", "b", "c"] if join == "outer" else ["a"])
    for _, a in variants(MC_A):
        for _, b in variants(MC_B):
            out = sd.concat([a, b], join=join, sort=True)
            assert list(out.columns) == list(expected.columns)
            assert_eq(out, expected)
            assert_eq(
                sd.concat([b, a], join=join, sort=True),
                pd.concat([MC_B, MC_A], join=join, sort=True),
            )
    for _, a in variants(MC_A):
        assert_eq(sd.concat([a], sort=True), pd.concat([MC_A], sort=True))
    with pytest.raises(TypeError, match="sort must be True or False"):
        sd.concat([MC_A, MC_B], sort="yes")


def test_concat_axis1_sort_sorts_rows_in_partitions():
    a = pd.DataFrame({"x": [1, 2, 3]}, index=[3, 1, 2])
    b = pd.DataFrame({"y": [4, 5]}, index=[2, 0])
    out = sd.concat(
        [sd.from_pandas(a, 1, sort=False), sd.from_pandas(b, 1, sort=False)], axis=1, sort=True
    )
    assert_eq(out, pd.concat([a, b], axis=1, sort=True))


@pytest.mark.parametrize("ordered", [True, False])
def test_concat_ignore_order_unites_categoricals(ordered):
    a = pd.DataFrame({"x": pd.Categorical(list("abca"), categories=list("abc"), ordered=ordered)})
    b = pd.DataFrame({"x": pd.Categorical(list("cba"), categories=list("cba"), ordered=ordered)})
    for _, da in variants(a):
        for _, db in variants(b)[:2]:
            got = sd.concat([da, db], ignore_order=True).compute()
            assert isinstance(got.x.dtype, pd.CategoricalDtype) and not got.x.cat.ordered
            assert got.x.astype(str).tolist() == pd.concat([a, b]).x.astype(str).tolist()
            assert got.index.tolist() == pd.concat([a, b]).index.tolist()
            # without ignore_order the result is pandas' (objects when categories differ)
            plain = sd.concat([da, db]).compute()
            assert plain.x.astype(str).tolist() == got.x.astype(str).tolist()
    with pytest.raises(TypeError, match="ignore_order"):
        sd.concat([a, b], ignore_order=None)


@pytest.mark.parametrize("name", ["s", None])
def test_concat_series_axis1_is_a_frame(name):
    s = pd.Series([1.0, 2.0, np.nan, 4.0, 5.0], name=name)
    t = pd.Series(list("vwxyz"), name="t")
    for _, ds in variants(s):
        out = sd.concat([ds], axis=1)
        assert isinstance(out, sd.DataFrame)
        assert_eq(out, pd.concat([s], axis=1))
        assert isinstance(sd.concat([ds], axis=0), sd.Series)
    for _, ds in variants(s)[:2]:
        dt = sd.from_pandas(t, npartitions=ds.npartitions)
        assert_eq(sd.concat([ds, dt], axis=1), pd.concat([s, t], axis=1))


MJ_L = pd.DataFrame({"x": [1, 2, 3, 4, 5, 6], "v": [10, 20, 30, 40, 50, 60]})
MJ_R = pd.DataFrame({"y": [2, 4, 6, 8], "w": ["a", "b", "c", "d"]})


@pytest.mark.parametrize("bias", [0.0, 0.75, 1.0])
@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_merge_broadcast_bias_means_automatic(bias, how):
    expected = MJ_L.merge(MJ_R, left_on="x", right_on="y", how=how)
    cols = list(expected.columns)
    for _, left in variants(MJ_L):
        for _, right in variants(MJ_R)[:2]:
            got = left.merge(right, left_on="x", right_on="y", how=how, broadcast=bias).compute()
            pd.testing.assert_frame_equal(
                got.sort_values(cols).reset_index(drop=True),
                expected.sort_values(cols).reset_index(drop=True),
                check_dtype=False,
            )
    auto = sd.merge(variants(MJ_L)[1][1], MJ_R, left_on="x", right_on="y", how=how)
    biased = sd.merge(
        variants(MJ_L)[1][1], MJ_R, left_on="x", right_on="y", how=how, broadcast=bias
    )
    assert biased.npartitions == auto.npartitions


@pytest.mark.parametrize("bad", [1.5, -0.1, 2, "yes"])
def test_merge_broadcast_rejects_other_values(bad):
    with pytest.raises(ValueError, match=r"float in \[0, 1\]"):
        sd.merge(sd.from_pandas(MJ_L, 2), MJ_R, left_on="x", right_on="y", broadcast=bad)


def test_merge_series_key_is_not_implemented():
    left, right = sd.from_pandas(MJ_L, 2), sd.from_pandas(MJ_R, 1)
    for kwargs in (
        {"left_on": "x", "right_on": right.y},
        {"left_on": left.x, "right_on": right.y},
        {"left_on": ["x"], "right_on": [MJ_R.y]},
        {"on": np.array(["x"])},
    ):
        with pytest.raises(NotImplementedError, match="column labels"):
            sd.merge(left, right, **kwargs)
    with pytest.raises(KeyError):
        pd.merge(MJ_L, MJ_R, on=np.array(["x"]))  # pandas: no such column pair


def _asof_sides(sizes_left, sizes_right):
    a = pd.DataFrame(
        {"a": sizes_left, "lv": np.arange(len(sizes_left))}, index=[10 * k for k in sizes_left]
    )
    b = pd.DataFrame({"rv": np.arange(len(sizes_right))}, index=pd.Index(sizes_right, name="k"))
    return a, b


ASOF_CASES = [
    ([5, 10, 15, 20], [1, 2, 3, 4]),
    ([1, 2, 3, 4], [5, 10, 15, 20]),
    ([5, 5, 10, 10, 15, 15], [4, 5, 6, 9, 10, 11, 14, 15, 16]),
    ([5, 10, 15], [4, 4, 5, 5, 6, 6, 9, 9, 10, 10, 11, 11]),
]


def _indexed_variants(pdf):
    n = len(pdf)
    return [sd.from_pandas(pdf, npartitions=k) for k in sorted({1, min(3, n)})]


@pytest.mark.parametrize("direction", ["backward", "forward", "nearest"])
@pytest.mark.parametrize("exact", [True, False])
def test_merge_asof_column_with_index(direction, exact):
    opts = dict(direction=direction, allow_exact_matches=exact)
    for la, rb in ASOF_CASES:
        a, b = _asof_sides(la, rb)
        expected = pd.merge_asof(a, b, left_on="a", right_index=True, **opts)
        mirror = pd.merge_asof(b, a, left_index=True, right_on="a", **opts)
        for _, da in variants(a):
            for db in _indexed_variants(b):
                got = sd.merge_asof(da, db, left_on="a", right_index=True, **opts)
                assert_eq(got, expected, check_dtype=False)
                back = sd.merge_asof(db, da, left_index=True, right_on="a", **opts)
                # the right_on column: the left index, as pandas when a row is unmatched
                assert_eq(back.drop(columns="a"), mirror.drop(columns="a"), check_dtype=False)
                keys = back.compute()
                assert keys.a.tolist() == keys.index.tolist() == mirror.index.tolist()
    with pytest.raises(ValueError, match="right_index=True takes one left_on"):
        sd.merge_asof(MJ_L, MJ_R, left_on=["x"], right_index=True)


# ---------------------------------------------------------------- index and sorting parity

SET_INDEX_DF = pd.DataFrame(
    {"x": [5, 3, 9, 1, 7, 2, 8], "y": [10, 20, 30, 40, 50, 60, 70]},
    index=[6, 2, 4, 0, 5, 1, 3],
)


def test_set_index_one_item_list_and_own_index():
    for _, ddf in variants(SET_INDEX_DF):
        assert_eq(ddf.set_index(["x"]), SET_INDEX_DF.set_index("x").sort_index())
        assert ddf.set_index(ddf.index) is ddf
        assert_eq(ddf.set_index(ddf.index), ddf.compute().set_index(ddf.compute().index))
    ddf = sd.from_pandas(SET_INDEX_DF, npartitions=2)
    for bad in (["x", "y"], [["x", "y"]], [["x"]]):
        with pytest.raises(NotImplementedError, match="multi-indexes"):
            ddf.set_index(bad)


@pytest.mark.parametrize("drop", [True, False])
@pytest.mark.parametrize("append", [True, False])
def test_set_index_sort_false(drop, append):
    expected = SET_INDEX_DF.set_index("x", drop=drop, append=append)
    for _, ddf in variants(SET_INDEX_DF):
        got = ddf.set_index(["x"], sort=False, drop=drop, append=append)
        assert not got.known_divisions
        out = got.compute()
        pd.testing.assert_frame_equal(out, expected.loc[out.index])
        assert sorted(out.index.tolist()) == sorted(expected.index.tolist())
    with pytest.raises(NotImplementedError, match="sort=False"):
        ddf.set_index(ddf.y, sort=False)


def test_set_index_from_other_index():
    index = pd.date_range("2022-02-22", freq="16h", periods=12) - pd.Timedelta(seconds=30)
    pdf = pd.DataFrame({"x": range(12)}, index=index)
    for _, ddf in variants(pdf):
        got = ddf.set_index(ddf.index.dt.floor("D"))
        assert_eq(got, pdf.set_index(pdf.index.floor("D")))


def test_index_dt_and_cat_accessors():
    index = pd.date_range("2024-01-01 05:00", freq="19h", periods=9, name="t")
    pdf = pd.DataFrame({"x": range(9)}, index=index)
    for _, ddf in variants(pdf):
        assert_eq(ddf.index.dt.floor("D"), pdf.index.floor("D"))
        assert_eq(ddf.index.dt.day, pdf.index.day)
        assert_eq(ddf.index.dt.strftime("%d/%H"), pdf.index.strftime("%d/%H"))
    cats = pd.DataFrame(
        {"v": range(6)}, index=pd.CategoricalIndex(list("abcabb"), categories=list("cba"))
    )
    for _, ddf in variants(cats):
        assert ddf.index.cat.known
        assert ddf.index.cat.categories.tolist() == ["c", "b", "a"]
        index = ddf.compute().index  # the rows in the collection's order
        assert_eq(ddf.index.cat.codes, pd.Index(index.codes))
        assert_eq(ddf.index.cat.as_ordered(), index.as_ordered())
        assert not ddf.index.cat.as_unknown().cat.known
    with pytest.raises(AttributeError, match=".dt accessor"):
        _ = sd.from_pandas(cats, npartitions=2).index.dt
    with pytest.raises(AttributeError, match=".cat accessor"):
        _ = sd.from_pandas(pdf, npartitions=2).index.cat


def _by_columns(part, by_columns, ascending, na_position, **kwargs):
    return part.sort_values(by_columns, ascending=ascending, na_position=na_position, kind="stable")


@pytest.mark.parametrize("by", [["a"], ["a", "b"], ["b", "a"]])
def test_sort_values_custom_sort_function(by):
    pdf = pd.DataFrame({"a": [1, 2, 3] * 20, "b": [4, 5, 6, 7] * 15})
    expected = pdf.sort_values(by, kind="stable").reset_index(drop=True)
    for nparts in (1, 3, 10):
        ddf = sd.from_pandas(pdf, npartitions=nparts)
        got = ddf.sort_values(
            "a", sort_function=_by_columns, sort_function_kwargs={"by_columns": by}
        )
        pd.testing.assert_frame_equal(got.compute().reset_index(drop=True), expected)
    big = pd.DataFrame({"a": np.arange(30_000) % 7, "b": np.arange(30_000)[::-1]})
    got = sd.from_pandas(big, npartitions=4).sort_values(
        "a", sort_function=_by_columns, sort_function_kwargs={"by_columns": ["a", "b"]}
    )
    expected = big.sort_values(["a", "b"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got.compute().reset_index(drop=True), expected)
    with pytest.raises(TypeError, match="sort_function must be callable"):
        ddf.sort_values("a", sort_function="quicksort")
    with pytest.raises(TypeError, match="sort_function_kwargs must be a dict"):
        ddf.sort_values("a", sort_function=_by_columns, sort_function_kwargs=["a"])


def test_compute_current_divisions():
    pdf = pd.DataFrame(
        {"x": [1, 2, 3, 4, 5, 6], "y": [1, 1, 2, 3, 5, 8]}, index=[1, 3, 10, 20, 21, 30]
    )
    for _, ddf in variants(pdf):
        cleared = ddf.clear_divisions()
        divisions = cleared.compute_current_divisions()
        parts = [p.compute() for p in ddf.partitions]
        live = [p for p in parts if len(p)]
        assert divisions[0] == pdf.index.min() and divisions[-1] == pdf.index.max()
        assert [d for d, p in zip(divisions, parts) if len(p)] == [p.index.min() for p in live]
        assert cleared.compute_current_divisions("x") == tuple(
            pdf.x.loc[list(divisions[:-1])].tolist()
        ) + (6,)
        with_divs = cleared.compute_current_divisions(set_divisions=True)
        assert with_divs.divisions == divisions
        assert_eq(with_divs, pdf)
    shuffled = sd.from_pandas(pdf.iloc[::-1], npartitions=3, sort=False)
    with pytest.raises(ValueError, match="not sorted"):
        shuffled.compute_current_divisions()
    overlap = sd.from_pandas(pd.DataFrame({"k": [1, 2, 4, 4, 5, 6]}), npartitions=2)
    with pytest.warns(UserWarning, match="overlapping values"):
        assert overlap.compute_current_divisions("k") == (1, 4, 6)
    with pytest.raises(ValueError, match="share index"):
        overlap.set_index("k", sort=False).compute_current_divisions(set_divisions=True)
    with pytest.raises(KeyError):
        overlap.compute_current_divisions("nope")
    empty = sd.from_pandas(pdf.iloc[:0], npartitions=1)
    assert empty.compute_current_divisions() is None


def test_repartition_force():
    pdf = pd.DataFrame({"x": range(10)}, index=range(10, 20))
    for _, ddf in variants(pdf):
        if not ddf.known_divisions:
            continue
        got = ddf.repartition(divisions=(0, 15, 25), force=True)
        assert got.divisions == (0, 15, 25)
        assert_eq(got, pdf)
    with pytest.raises(TypeError, match="force must be a bool"):
        ddf.repartition(divisions=(0, 25), force="yes")
