"""Skewed hash joins (dataframe/join_skew.py) against pandas: hot keys found
by the sampled census and spread, joins without hot keys unchanged, every
``how``, several partitionings (one, many, empty partitions, unknown
divisions), and the error naming a key that cannot be split."""

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.dataframe.join_skew import (
    TARGET,
    SkewedJoinError,
    hot_keys,
    key_census,
    salt_copy,
    salt_split,
)
from shoal.dataframe.shuffle import hash_values
from shoal.testing import compute_checked

CENSUS = {"dataframe.merge.skew-bytes": 0}  # every hash join counts its keys


def normalized(df):
    df = df.reset_index(drop=True)
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def oracle(left, right, how, on):
    if how in ("leftsemi", "leftanti"):
        found = left[on].isin(right[on].tolist())
        return left[found if how == "leftsemi" else ~found]
    return pd.merge(left, right, how=how, on=on)


def check(got, want):
    out = compute_checked(got)  # partitions checked against meta
    pd.testing.assert_frame_equal(normalized(out), normalized(want), check_dtype=False)


def skewed(seed=20, n=3000, hot=7, share=0.8):
    """A left side whose key ``hot`` holds ``share`` of the rows; the right
    side has every key, ``hot`` twice."""
    rng = np.random.default_rng(seed)
    keys = np.where(rng.random(n) < share, hot, rng.integers(0, 60, n))
    left = pd.DataFrame({"k": keys, "s": pd.Series(keys % 5).astype(str), "a": range(n)})
    right = pd.DataFrame({"k": np.r_[np.arange(60), [hot, hot]], "b": range(62)})
    right["s"] = (right.k % 5).astype(str)
    return left, right


def partitionings(df):
    """The same rows as one partition, several with known divisions, several
    with unknown ones, and several of which some are empty (a filter)."""
    n = len(df)
    gappy = sd.from_pandas(df.assign(_r=range(n)), npartitions=6)
    gappy = gappy[(gappy._r < n // 3) | (gappy._r >= 5 * n // 6)].drop(columns="_r")
    kept = np.r_[0 : n // 3, 5 * n // 6 : n]
    return [
        (sd.from_pandas(df, npartitions=1), df),
        (sd.from_pandas(df, npartitions=6), df),
        (sd.from_pandas(df, npartitions=5, sort=False), df),
        (gappy, df.iloc[kept]),
    ]


def plan(got):
    return got.explain().split("Optimized plan:")[1]


@pytest.mark.parametrize("how", ["inner", "left", "leftsemi", "leftanti"])
def test_hot_key_is_spread_every_partitioning(how):
    left, right = skewed()
    dr = sd.from_pandas(right, npartitions=3)
    with shoal.config.set(CENSUS):
        for dl, want_left in partitionings(left):
            for on in ["k", ["k", "s"]] if how in ("inner", "left") else ["k"]:
                got = dl.merge(dr, on=on, how=how, broadcast=False, npartitions=5)
                text = plan(got)
                assert "salt-split" in text and "salt-copy" in text and "join-key-census" in text
                parts = [len(p) for p in shoal.compute(*got.to_delayed())]
                if how != "leftanti":  # the hot key's rows spread over the partitions
                    assert max(parts) < 0.4 * sum(parts), parts
                check(got, oracle(want_left, right, how, on=on))


def test_hot_key_on_the_right_side_is_spread():
    left, right = skewed(21)
    dl, dr = sd.from_pandas(right, npartitions=2), sd.from_pandas(left, npartitions=5)
    with shoal.config.set(CENSUS):
        for how in ["right", "inner"]:
            got = dl.merge(dr, on="k", how=how, broadcast=False)
            assert "salt-split" in plan(got)
            parts = [len(p) for p in shoal.compute(*got.to_delayed())]
            assert max(parts) < 0.4 * sum(parts), parts
            check(got, right.merge(left, on="k", how=how))


def test_hot_key_with_keys_of_other_dtypes():
    """int64 keys on the split side, float64 on the copied one (the hash is
    normalized), and left_on/right_on with suffixes."""
    left, right = skewed(23)
    right = right.rename(columns={"k": "rk"}).astype({"rk": "float64"})
    dl, dr = sd.from_pandas(left, npartitions=4), sd.from_pandas(right, npartitions=2)
    with shoal.config.set(CENSUS):
        for how in ["inner", "left"]:
            got = dl.merge(dr, left_on="k", right_on="rk", how=how, broadcast=False)
            assert "salt-copy" in plan(got)
            check(got, left.merge(right, left_on="k", right_on="rk", how=how))


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer", "leftsemi", "leftanti"])
def test_no_hot_key_same_partitions_as_a_plain_hash_join(how):
    """Without hot keys the census changes nothing: every output partition
    holds the rows it holds when no census runs."""
    rng = np.random.default_rng(5)
    left = pd.DataFrame({"k": rng.integers(0, 400, 2000), "a": rng.normal(size=2000)})
    right = pd.DataFrame({"k": rng.integers(100, 500, 300), "b": rng.integers(0, 9, 300)})
    for dl, want_left in partitionings(left):
        dr = sd.from_pandas(right, npartitions=3, sort=False)
        got = dl.merge(dr, on="k", how=how, broadcast=False, npartitions=4)
        with shoal.config.set(CENSUS):
            assert "join-key-census" in plan(got)
            counted = shoal.compute(*got.to_delayed())
        plain = shoal.compute(*got.to_delayed())
        assert len(counted) == len(plain) == 4
        for a, b in zip(counted, plain):
            pd.testing.assert_frame_equal(normalized(a), normalized(b))
        with shoal.config.set(CENSUS):
            check(got, oracle(want_left, right, how, on="k"))


def test_big_side_sampled_30_percent_key_detected():
    """Partitions larger than the census sample: a key holding 30 % of the
    left side is estimated, spread over partitions and joined right."""
    n = 400_000
    rng = np.random.default_rng(8)
    keys = np.where(rng.random(n) < 0.3, 123_456, rng.integers(0, 200_000, n))
    left = pd.DataFrame({"k": keys, "a": np.arange(n)})
    right = pd.DataFrame({"k": np.arange(0, 200_000, 7).tolist() + [123_456], "b": 1.5})
    dl, dr = sd.from_pandas(left, npartitions=4), sd.from_pandas(right, npartitions=2)
    with shoal.config.set(CENSUS):
        got = dl.merge(dr, on="k", how="inner", broadcast=False, npartitions=8)
        assert "salt-split" in plan(got)
        parts = [len(p) for p in shoal.compute(*got.to_delayed())]
    want = left.merge(right, on="k")
    assert sum(parts) == len(want)
    # the key's 120,000 rows in pieces of about the rows per partition (50,000), not in one
    assert max(parts) < 1.2 * n / 8, parts
    check(got, want)


def test_skew_that_cannot_be_split_names_the_key():
    left, right = skewed(22)
    dl, dr = sd.from_pandas(left, npartitions=6), sd.from_pandas(right, npartitions=3)
    with shoal.config.set(CENSUS):
        for how in ["outer", "right"]:
            with pytest.raises(SkewedJoinError, match=r"key 7 holds about \d+ rows of the left"):
                dl.merge(dr, on="k", how=how, broadcast=False).compute()
    # below dataframe.merge.skew-bytes no census runs: a small side cannot exhaust memory
    plain = dl.merge(dr, on="k", how="outer", broadcast=False)
    assert "census" not in plain.explain()
    check(plain, left.merge(right, on="k", how="outer"))


def test_census_estimates_from_a_sample():
    n = 50_000
    keys = np.arange(n) % 16  # periodic: a strided sample would see one key only
    keys[: n // 4] = 99  # a quarter of the rows
    part = pd.DataFrame({"k": keys})
    rows, top = key_census(part, ("k",), sample=4000)
    assert rows == n and key_census(part, ("k",), sample=4000) == (rows, top)
    counts = {key: count for count, key in top.values()}
    assert abs(counts[99] - n // 4) < 0.1 * n / 4
    for key in range(16):
        assert abs(counts[key] - (n - n // 4) / 16) < 0.25 * n / 16
    hot = hot_keys([(rows, top), key_census(part.iloc[:0], ("k",))], 8, 1.5)
    assert [key for _, _, key in hot.values()] == [99]
    assert key_census(part, ("k",), sample=n)[1][int(hash_values([pd.Series([99])])[0])][0] == (
        n // 4
    )


@pytest.mark.parametrize("k", [2, 300])
def test_targets_deal_and_copy(k):
    """The split side deals a hot key's rows over its partitions; the copied
    side repeats its rows once per partition; other rows go where the plain
    hash join sends them; empty partitions keep the column's dtype."""
    census = key_census(pd.DataFrame({"k": [5] * 900 + list(range(100))}), ("k",))
    hot = hot_keys([census], k, 1.0)
    (spread,) = [t for t, _, key in hot.values() if key == 5]
    # pieces of about the rows an output partition gets on average (1000 / k)
    assert len(set(spread)) == len(spread) == min(k, -(-901 * k // 1000))
    part = pd.DataFrame({"k": [5] * 20 + [1, 2], "v": range(22)})
    plain = (hash_values([part.k]) % np.uint64(k)).astype(np.int64)
    split = salt_split(part, hot, ("k",), k)
    assert split[TARGET].tolist()[:20] == [spread[j % len(spread)] for j in range(20)]
    assert split[TARGET].tolist()[20:] == plain[20:].tolist()
    copied = salt_copy(part.iloc[18:], hot, ("k",), k)
    assert copied.v.tolist() == [18] * len(spread) + [19] * len(spread) + [20, 21]
    assert copied[TARGET].tolist() == list(spread) * 2 + plain[20:].tolist()
    for kernel in (salt_split, salt_copy):
        empty = kernel(part.iloc[:0], hot, ("k",), k)
        assert len(empty) == 0 and empty[TARGET].dtype == split[TARGET].dtype
