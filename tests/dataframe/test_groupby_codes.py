"""Groupby combines by sorted integer codes (group_codes.py) and the chunk's
sort-based grouping of many groups, against pandas (issue 11)."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.dataframe.group_codes import combine_by_codes, dense_codes, group_ids
from shoal.dataframe.groupby_kernels import fast_chunk
from shoal.testing import compute_checked

from .conftest import _take


def many_groups(n=600, seed=0):
    """Keys with a group per few rows: dense and sparse integers, strings,
    datetimes, a categorical, and keys with missing values."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n // 3, n)
    return pd.DataFrame(
        {
            "a": a,
            "b": rng.integers(0, 5, n) * 10**12 - 7,  # too sparse for value - minimum
            "u": rng.integers(0, n // 4, n).astype(np.uint32),
            "s": pd.Series([f"s{x % 97}" for x in a], dtype="str"),
            "o": pd.Series([f"o{x % 13}" for x in rng.integers(0, 50, n)], dtype=object),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 40, n), "h"),
            "c": pd.Categorical(rng.choice(["x", "y", "z"], n)),
            "na": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 30, n)),
            "sn": pd.Series(rng.choice(["p", "q", None], n), dtype="str"),
            "v": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "i": rng.integers(-50, 50, n),
        }
    )


def partitionings(pdf):
    """The same rows in one, several, many single-row and uneven partitions
    with empty ones."""
    n = len(pdf)
    bounds = [(0, 0), (0, 1), (1, 1), (1, n // 3), (n // 3, n // 3 + 1), (n // 3 + 1, n)]
    return [
        sd.from_pandas(pdf, npartitions=1),
        sd.from_pandas(pdf, npartitions=5, sort=False),
        sd.from_pandas(pdf, npartitions=12, sort=False),
        sd.from_map(_take, bounds, args=(pdf,), meta=pdf.iloc[:0]),
    ]


AGGS = {
    "total": ("v", "sum"),
    "avg": ("v", "mean"),
    "n": ("v", "count"),
    "lo": ("i", "min"),
    "hi": ("v", "max"),
    "isum": ("i", "sum"),
}


@pytest.mark.parametrize(
    "keys", [["a"], ["a", "b"], ["b", "u", "a"], ["s", "a"], ["o", "t"], ["a", "c"]]
)
@pytest.mark.parametrize("sort", [True, False])
def test_many_groups_match_pandas(keys, sort):
    pdf = many_groups()
    want = pdf.groupby(keys, sort=sort, observed=True).agg(**AGGS)
    size = pdf.groupby(keys, sort=sort, observed=True).size()
    for df, split_every in zip(partitionings(pdf), (None, 2, 3, 2)):
        grouped = df.groupby(keys, sort=sort, observed=True)
        got = compute_checked(grouped.agg(split_every=split_every, **AGGS))
        # sort=False: groups in order of first appearance, as pandas
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
        got = compute_checked(grouped.size(split_every=split_every))
        pd.testing.assert_series_equal(got, size)


@pytest.mark.parametrize("keys", [["na"], ["na", "a"], ["sn", "a"]])
@pytest.mark.parametrize("dropna", [True, False])
def test_missing_keys(keys, dropna):
    pdf = many_groups(seed=1)
    want = pdf.groupby(keys, dropna=dropna).agg(**AGGS)
    for df in partitionings(pdf):
        got = compute_checked(df.groupby(keys, dropna=dropna).agg(split_every=3, **AGGS))
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)


def test_series_groupby_and_as_index_false():
    pdf = many_groups(seed=2)
    for df in partitionings(pdf):
        got = compute_checked(df.groupby(["a", "b"]).v.sum(split_every=4))
        pd.testing.assert_series_equal(got, pdf.groupby(["a", "b"]).v.sum())
        got = compute_checked(df.groupby(["u", "s"], as_index=False).i.max())
        want = pdf.groupby(["u", "s"], as_index=False).i.max()
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want)


def _parts(pdf, keys, how, cuts):
    pieces = np.split(np.arange(len(pdf)), cuts)
    return [
        pdf.iloc[p].groupby(keys, sort=False, observed=True)[["v", "i"]].agg(how) for p in pieces
    ]


@pytest.mark.parametrize("how", ["sum", "min", "max"])
@pytest.mark.parametrize("keys", [["a"], ["b"], ["u"], ["a", "s", "t"], ["o", "b"]])
@pytest.mark.parametrize("cuts", [[], [1], [0, 100, 100, 599]])
def test_combine_by_codes_matches_pandas(how, keys, cuts):
    pdf = many_groups(seed=3)
    values = _parts(pdf, keys, how, cuts)
    both = pd.concat(values)
    for keep_order in (True, False):
        got = combine_by_codes(values, how, len(keys), keep_order)
        want = getattr(both.groupby(level=list(range(len(keys))), sort=not keep_order), how)()
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
        series = combine_by_codes([v["i"] for v in values], how, len(keys), keep_order)
        pd.testing.assert_series_equal(series, want["i"])


def test_inf_minus_inf_stays_nan():
    """A chunk's sum of inf and -inf is NaN; the total is NaN, as pandas says."""
    values = [pd.Series([np.nan, 1.0], index=[1, 2]), pd.Series([5.0, 1.0], index=[1, 2])]
    got = combine_by_codes(values, "sum", 1, keep_order=False)
    assert np.isnan(got[1]) and got[2] == 2.0
    pdf = pd.DataFrame({"k": [1, 1, 2, 1], "v": [np.inf, -np.inf, 1.0, 2.0]})
    want = pdf.groupby("k").v.sum()
    got = compute_checked(sd.from_pandas(pdf, npartitions=2).groupby("k").v.sum())
    pd.testing.assert_series_equal(got, want)


def test_combine_by_codes_declines():
    idx = pd.Index([1, 2], name="k")
    assert combine_by_codes([pd.Series([True, False], index=idx)], "sum", 1, False) is None
    assert combine_by_codes([pd.Series(["a", "b"], index=idx)], "min", 1, False) is None
    missing = pd.Series([1.0, 2.0], index=pd.Index([1.0, np.nan], name="k"))
    assert combine_by_codes([missing], "sum", 1, False) is None  # dropna=False keeps it
    cat = pd.Series([1.0], index=pd.CategoricalIndex(["x"], name="k"))
    assert combine_by_codes([cat], "sum", 1, False) is None
    other = pd.Series([2.0], index=pd.CategoricalIndex(["y"], name="k"))  # other categories
    assert combine_by_codes([cat, other], "sum", 1, False) is None
    assert combine_by_codes([pd.Series([], dtype=float)], "sum", 1, False) is None
    assert combine_by_codes([pd.Series([1.0], index=idx[:1])], "prod", 1, False) is None


@pytest.mark.parametrize("keep_order", [True, False])
def test_many_keys_beyond_62_bits(keep_order):
    """7 keys of 11 bits each: the codes so far are ranked to make room."""
    rng = np.random.default_rng(5)
    labels = np.arange(1100) * 10**9 - 5 * 10**11
    keys = [rng.permutation(labels)[rng.integers(0, 1100, 3000)] for _ in range(6)]
    keys.append(pd.Series([f"x{k}" for k in rng.integers(0, 1100, 3000)], dtype="str"))
    pdf = pd.DataFrame({f"k{j}": k for j, k in enumerate(keys)} | {"v": rng.normal(size=3000)})
    pdf = pd.concat([pdf, pdf.iloc[::3]], ignore_index=True)  # groups of several rows
    names = [f"k{j}" for j in range(7)]
    parts = [pdf.iloc[:1000], pdf.iloc[1000:2500], pdf.iloc[2500:]]
    values = [p.groupby(names, sort=False).v.sum() for p in parts]
    got = combine_by_codes(values, "sum", 7, keep_order)
    want = pd.concat(values).groupby(level=list(range(7)), sort=not keep_order).sum()
    pd.testing.assert_series_equal(got, want, check_exact=False, rtol=1e-12)
    fast = fast_chunk(pdf, names, {0: ("v", "sum")}, True, {}, keep_order=keep_order)[0]
    want = pdf.groupby(names, sort=False).v.sum()
    if not keep_order:
        fast, want = fast.sort_index(), want.sort_index()
    pd.testing.assert_series_equal(fast, want, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("in_order", [False, True])
@pytest.mark.parametrize("n", [0, 1, 2, 1000])
def test_group_ids_match_factorize(n, in_order):
    codes = np.random.default_rng(n).integers(0, max(n // 3, 1), n)
    codes = np.sort(codes) if in_order else codes  # keys sorted in the files: no sort
    ids, uniques = group_ids(codes, keep_order=True)
    want_ids, want_uniques = pd.factorize(codes)
    assert ids.tolist() == want_ids.tolist() and uniques.tolist() == want_uniques.tolist()
    ids, uniques = group_ids(codes, keep_order=False)
    assert uniques.tolist() == sorted(set(codes.tolist()))
    assert (uniques[ids] == codes).all()


def test_dense_codes():
    assert dense_codes(np.array([], dtype=np.int64)) is None
    assert dense_codes(np.array([0, 10**9])) is None
    assert dense_codes(np.array([1.0])) is None
    codes, size, low = dense_codes(np.array([2**64 - 1, 2**64 - 3], dtype=np.uint64))
    assert codes.tolist() == [2, 0] and size == 3 and low == 2**64 - 3


@pytest.mark.parametrize("keep_order", [True, False])
@pytest.mark.parametrize("keys", [["a", "u"], ["a", "s"], ["b", "a"], ["a"]])
@pytest.mark.parametrize("in_order", [False, True])
def test_chunk_of_many_groups_matches_pandas(keys, keep_order, in_order):
    """Many possible groups in the chunk: grouped by sorting, not hashing."""
    pdf = many_groups(n=5000, seed=4)
    if in_order:  # keys sorted, and spanning more values than rows
        pdf = pdf.assign(a=np.arange(len(pdf)) * 3 // 2).sort_values(keys, kind="stable")
    specs = {0: ("v", "sum"), 1: ("v", "mean"), 2: ("v", "count"), 3: (None, "size")}
    fast = fast_chunk(pdf, keys, specs, True, {}, keep_order=keep_order)
    for k, (_, func) in specs.items():
        grouped = pdf.groupby(keys, sort=False)
        if func == "size":
            want = grouped.size()
        elif func == "mean":
            want = pd.DataFrame({"n": grouped.v.count().astype(float), "sum": grouped.v.sum()})
        else:
            want = getattr(grouped.v, func)()
        got = fast[k] if keep_order else fast[k].sort_index()
        want = want if keep_order else want.sort_index()
        if isinstance(want, pd.DataFrame):
            pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
        else:
            pd.testing.assert_series_equal(got, want, check_exact=False, rtol=1e-12)
