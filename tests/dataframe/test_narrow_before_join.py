"""Work a join does not need is not done: a filter takes only the columns
its users read, and a broadcast side is narrowed to the keys of each
partition before pandas hashes it (issue 11)."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.dataframe.merge import merge_partitions
from shoal.testing import compute_checked


def normalized(df):
    df = df.reset_index(drop=True)
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def check(got, want):
    out = compute_checked(got)
    pd.testing.assert_frame_equal(normalized(out), normalized(want), check_dtype=False)


def text_frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    words = np.array(["special requests", "plain", "special deposits requests", "none"])
    return pd.DataFrame(
        {
            "k": rng.integers(0, 15, n),
            "v": rng.normal(size=n),
            "note": pd.Series(rng.choice(words, n), dtype="str"),
        }
    )


@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_filter_takes_only_the_columns_its_users_read(tmp_path, npartitions):
    pdf = text_frame()
    pdf.to_parquet(tmp_path / "t.parquet")
    src = sd.read_parquet(str(tmp_path / "t.parquet"))
    if npartitions > 1:
        src = sd.from_pandas(pdf, npartitions=npartitions)
    plain = src[~src.note.str.contains("special.*requests")]
    keys = pd.DataFrame({"k": np.arange(20)})
    got = sd.from_pandas(keys, npartitions=2).merge(plain, on="k", how="left")
    want = keys.merge(pdf[~pdf.note.str.contains("special.*requests")], on="k", how="left")
    check(got[["k", "v"]], want[["k", "v"]])
    plan = got[["k", "v"]].explain().split("Optimized plan:")[1]
    filter_at = plan.index("Filter")
    assert "Projection: columns_=['k', 'v']" in plan[filter_at:]  # under the filter


def test_a_filter_shared_by_users_of_different_columns():
    pdf = text_frame(seed=1)
    df = sd.from_pandas(pdf, npartitions=4)
    kept = df[df.v > 0]
    got = kept.k.sum() + kept.v.count()
    want = pdf[pdf.v > 0]
    assert compute_checked(got) == want.k.sum() + want.v.count()
    both = kept[["k", "note"]]
    check(both, want[["k", "note"]])
    check(kept, want)  # the whole filter still has every column


def test_a_filtered_series_then_selected():
    pdf = text_frame(seed=2)
    df = sd.from_pandas(pdf, npartitions=3)
    s = df.v[df.k > 4]
    pd.testing.assert_series_equal(compute_checked(s).sort_index(), pdf.v[pdf.k > 4].sort_index())
    got = df[df.k > 4][["note", "k"]]
    check(got, pdf[pdf.k > 4][["note", "k"]])


def broadcast_sides(key, seed=0):
    rng = np.random.default_rng(seed)
    n, m = 30, 400  # the broadcast side much bigger than each partition
    if key == "int":
        lk, rk = rng.integers(0, 50, n), rng.integers(0, 300, m)
    elif key == "float-nan":
        lk = np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 50, n).astype(float))
        rk = np.where(rng.random(m) < 0.1, np.nan, rng.integers(0, 300, m).astype(float))
    else:
        lk = pd.Series(rng.choice(["a", "b", None, "q"], n), dtype="str")
        rk = pd.Series(rng.choice([f"x{i}" for i in range(99)] + ["a", "q", None], m), dtype="str")
    left = pd.DataFrame({"k": lk, "j": rng.integers(0, 3, n), "a": rng.integers(0, 9, n)})
    right = pd.DataFrame({"k": rk, "j": rng.integers(0, 3, m), "b": rng.normal(size=m)})
    return left, right


@pytest.mark.parametrize("key", ["int", "float-nan", "str"])
@pytest.mark.parametrize("how", ["inner", "left", "leftsemi", "leftanti"])
@pytest.mark.parametrize("on", [["k"], ["k", "j"]])
def test_broadcast_side_narrowed_to_the_partition_keys(key, how, on):
    left, right = broadcast_sides(key)
    for nl, nr in [(1, 1), (3, 2), (7, 5), (30, 1)]:
        dl = sd.from_pandas(left, npartitions=nl, sort=False)
        dr = sd.from_pandas(right, npartitions=nr, sort=False)
        got = dl.merge(dr, on=on, how=how, broadcast=True)
        if how in ("leftsemi", "leftanti"):
            found = left.merge(right[on].drop_duplicates(), on=on, how="left", indicator=True)
            hit = (found["_merge"] == "both").to_numpy()
            want = left[hit if how == "leftsemi" else ~hit]
        else:
            want = left.merge(right, on=on, how=how)
        check(got, want)


def test_broadcast_left_and_mixed_key_dtypes():
    left, right = broadcast_sides("int", seed=3)
    got = merge_partitions(
        right,
        left,
        how="right",
        kwargs={"on": ["k"]},
        left_keys=("k",),
        right_keys=("k",),
        meta=right.merge(left, on="k", how="right").iloc[:0],
        broadcast="left",
    )
    pd.testing.assert_frame_equal(
        normalized(got), normalized(right.merge(left, on="k", how="right"))
    )
    wide = right.astype({"k": "float64"})  # pandas coerces; the narrowing steps aside
    got = merge_partitions(
        left,
        wide,
        how="inner",
        kwargs={"on": ["k"]},
        left_keys=("k",),
        right_keys=("k",),
        meta=left.merge(wide, on="k").iloc[:0],
        broadcast="right",
    )
    pd.testing.assert_frame_equal(normalized(got), normalized(left.merge(wide, on="k")))


@pytest.mark.parametrize("unique", [True, False])
@pytest.mark.parametrize("on", [True, False])
def test_left_join_by_unique_left_keys(unique, on):
    rng = np.random.default_rng(5)
    keys = rng.permutation(60) if unique else rng.integers(0, 30, 60)
    left = pd.DataFrame({"k": keys, "a": rng.integers(0, 9, 60)})
    right = pd.DataFrame({"o_k": rng.integers(0, 90, 200), "b": rng.normal(size=200)})
    kw = {"on": "k"} if on else {"left_on": "k", "right_on": "o_k"}
    if on:
        right = right.rename(columns={"o_k": "k"})
    want = left.merge(right, how="left", **kw)
    for nl, nr in [(1, 1), (4, 3), (60, 7)]:
        dl = sd.from_pandas(left, npartitions=nl, sort=False)
        dr = sd.from_pandas(right, npartitions=nr, sort=False)
        for broadcast in (False, None):
            check(dl.merge(dr, how="left", broadcast=broadcast, **kw), want)
    empty = sd.from_pandas(right.iloc[:0], npartitions=1)
    check(
        sd.from_pandas(left, npartitions=2).merge(empty, how="left", **kw),
        left.merge(right.iloc[:0], how="left", **kw),
    )


def test_left_join_unique_keys_with_awkward_right_columns():
    left = pd.DataFrame({"k": np.arange(8), "a": np.arange(8) * 2})
    right = pd.DataFrame(
        {
            "k": [1, 3, 3, 9],
            "c": pd.Categorical(["x", "y", "x", "y"]),
            "flag": [True, False, True, True],
            "t": pd.to_datetime(["2020-01-01"] * 4).tz_localize("UTC"),
        }
    )
    dl, dr = sd.from_pandas(left, npartitions=2), sd.from_pandas(right, npartitions=2)
    check(dl.merge(dr, on="k", how="left", broadcast=False), left.merge(right, on="k", how="left"))
    plain = right.drop(columns="c")
    dr = sd.from_pandas(plain, npartitions=2)
    check(dl.merge(dr, on="k", how="left", broadcast=False), left.merge(plain, on="k", how="left"))
