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
