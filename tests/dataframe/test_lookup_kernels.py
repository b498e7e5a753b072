"""Lookup kernels of joins, ``isin`` and ``nunique`` on integer keys against
pandas: the binary search of ``isin_among``, the packed keys of ``KeyIndex``
(a table of slots, a hash index of codes, a key too wide to pack) and the
sorted pairs of ``nunique_by_sorting``; then whole plans that take them."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.dataframe.groupby_kernels import nunique_by_sorting
from shoal.dataframe.join_broadcast import join_unique, key_index, rows_in_range
from shoal.dataframe.membership import isin_among
from shoal.testing import assert_eq

WIDE = np.array([np.iinfo("i8").min, -1, 0, 5, np.iinfo("i8").max])


def _values(rng, kind: str, n: int) -> np.ndarray:
    if kind == "wide":  # spans more than 62 bits
        return rng.choice(WIDE, n)
    if kind == "sparse":  # too many slots per row: a hash index of the codes
        return rng.integers(0, 40, n) * 10_000_019
    return rng.integers(-4, 6, n).astype(kind)


@pytest.mark.parametrize("dtype", ["int64", "uint8", "float64", "datetime64[ns]"])
def test_isin_among_sorted_partitions_matches_pandas(dtype):
    rng = np.random.default_rng(0)
    for _ in range(300):
        part = pd.Series(rng.integers(0, 12, rng.integers(0, 9)).astype(dtype))
        others = [
            pd.Series(np.sort(rng.integers(0, 12, rng.integers(0, 6))).astype(dtype))
            for _ in range(rng.integers(1, 3))
        ]
        if dtype == "float64" and len(part) and rng.random() < 0.3:
            part.iloc[0] = np.nan  # NaN matches only a NaN: the hashed route
        if len(others[0]) > 1 and rng.random() < 0.3:
            others[0] = others[0].iloc[::-1].reset_index(drop=True)  # not sorted
        expected = part.isin(pd.concat(others))
        assert isin_among(part, others).tolist() == expected.tolist()


def test_isin_among_nan_and_nat_in_the_other_side():
    part = pd.Series([1.0, np.nan, 2.0])
    assert isin_among(part, [pd.Series([np.nan])]).tolist() == [False, True, False]
    assert isin_among(part, [pd.Series([1.0, np.nan])]).tolist() == [True, True, False]
    times = pd.Series(pd.to_datetime(["2020-01-01", None]))
    assert isin_among(times, [pd.Series(pd.to_datetime([None]))]).tolist() == [False, True]


@pytest.mark.parametrize("kind", ["int64", "int32", "uint16", "sparse", "wide"])
@pytest.mark.parametrize("nkeys", [1, 2, 3])
def test_key_index_positions_match_a_scan(kind, nkeys):
    rng = np.random.default_rng(nkeys)
    names = [f"a{i}" for i in range(nkeys)]
    for _ in range(150):
        n = rng.integers(0, 14)
        whole = pd.DataFrame({a: _values(rng, kind, n) for a in names})
        m = rng.integers(0, 14)
        part = pd.DataFrame({f"b{i}": _values(rng, kind, m) for i in range(nkeys)})
        index = key_index(whole, tuple(names))
        if whole.duplicated(names).any():
            assert index is None
            continue
        if index is None:  # several keys too wide to pack together
            assert kind in ("wide", "sparse") and nkeys > 1
            continue
        rows = [tuple(r) for r in whole[names].itertuples(index=False)]
        expected = [
            rows.index(tuple(r)) if tuple(r) in rows else -1 for r in part.itertuples(index=False)
        ]
        assert index.positions(part, tuple(part.columns)).tolist() == expected


def test_key_index_uses_a_table_for_dense_keys_and_a_hash_otherwise():
    dense = key_index(pd.DataFrame({"k": np.arange(1000) * 3}), ("k",))
    assert dense.table is not None and dense.index is None
    sparse = key_index(pd.DataFrame({"k": np.arange(1000) * 10**6}), ("k",))
    assert sparse.table is None and sparse.index is not None
    wide = key_index(pd.DataFrame({"k": WIDE}), ("k",))
    assert wide.shifts == () and wide.positions(pd.DataFrame({"k": [5, 6]}), ("k",)).tolist() == [
        3,
        -1,
    ]


def test_join_unique_with_two_keys_matches_pandas_merge():
    rng = np.random.default_rng(5)
    whole = pd.DataFrame(
        {"p": np.arange(50) % 7, "s": np.arange(50) // 7, "w": rng.normal(size=50)}
    )
    part = pd.DataFrame(
        {"x": rng.integers(-1, 9, 200), "y": rng.integers(0, 9, 200), "v": np.arange(200)}
    )
    index = key_index(whole, ("p", "s"))
    got = join_unique(part, ("x", "y"), whole, index, False, ())
    expected = part.merge(whole, left_on=["x", "y"], right_on=["p", "s"])
    assert_eq(got.sort_values("v"), expected.sort_values("v"), check_index=False)


@pytest.mark.parametrize("dtype", ["int64", "int16", "uint32"])
def test_nunique_by_sorting_matches_pandas(dtype):
    rng = np.random.default_rng(2)
    for _ in range(200):
        n = rng.integers(1, 30)
        df = pd.DataFrame({"k": rng.integers(0, 6, n).astype(dtype), "v": rng.integers(-3, 4, n)})
        expected = df.groupby("k").v.nunique()
        pd.testing.assert_series_equal(nunique_by_sorting(df, "k", "v"), expected)


def test_nunique_by_sorting_declines_what_it_cannot_pack():
    df = pd.DataFrame({"k": [np.iinfo("i8").min, np.iinfo("i8").max], "v": [1, 2]})
    assert nunique_by_sorting(df, "k", "v") is None
    assert nunique_by_sorting(pd.DataFrame({"k": [1], "v": [1.5]}), "k", "v") is None


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


@pytest.mark.parametrize("parts", [1, 3, 7])
def test_broadcast_join_on_two_integer_keys_matches_pandas(parts):
    rng = np.random.default_rng(parts)
    facts = pd.DataFrame(
        {"pk": rng.integers(0, 40, 500), "sk": rng.integers(0, 5, 500), "q": rng.normal(size=500)}
    )
    dims = pd.DataFrame({"p": np.repeat(np.arange(30), 4), "s": np.tile(np.arange(4), 30)})
    dims["cost"] = rng.normal(size=len(dims))
    left = sd.from_pandas(facts, npartitions=parts)
    right = sd.from_pandas(dims, npartitions=1)
    got = left.merge(right, left_on=["pk", "sk"], right_on=["p", "s"], broadcast=True)
    expected = facts.merge(dims, left_on=["pk", "sk"], right_on=["p", "s"])
    assert_eq(_sorted(got.compute()), _sorted(expected), check_index=False)
    on = left.rename(columns={"pk": "p", "sk": "s"}).merge(right, on=["p", "s"], broadcast=True)
    expected_on = facts.rename(columns={"pk": "p", "sk": "s"}).merge(dims, on=["p", "s"])
    assert_eq(_sorted(on.compute()), _sorted(expected_on), check_index=False)


def test_partitionwise_nunique_on_sorted_files(tmp_path):
    rng = np.random.default_rng(9)
    pdf = pd.DataFrame({"k": np.sort(rng.integers(0, 50, 400)), "v": rng.integers(0, 6, 400)})
    for i, piece in enumerate(np.array_split(np.arange(400), 4)):
        cut = pdf.iloc[piece]
        cut = cut[~cut.k.isin(pdf.iloc[piece[-1] + 1 :].k)] if i < 3 else cut
        cut.to_parquet(tmp_path / f"part.{i}.parquet", index=False)
    kept = pd.concat(pd.read_parquet(tmp_path / f"part.{i}.parquet") for i in range(4))
    df = sd.read_parquet(str(tmp_path))
    for sort in (True, False):
        got = df.groupby("k", sort=sort).v.nunique()
        assert_eq(got, kept.groupby("k", sort=sort).v.nunique())


def test_rows_in_range_matches_a_filter():
    rng = np.random.default_rng(11)
    for _ in range(300):
        whole = pd.DataFrame({"k": np.sort(rng.integers(-5, 20, rng.integers(0, 12))), "w": 1})
        part = pd.DataFrame({"j": rng.integers(-8, 25, rng.integers(0, 6))})
        got = rows_in_range(whole, "k", part, "j")
        if len(part):
            expected = whole[(whole.k >= part.j.min()) & (whole.k <= part.j.max())]
        else:
            expected = whole
        pd.testing.assert_frame_equal(got, expected)
    unsorted = pd.DataFrame({"k": [5, 1, 3]})
    assert rows_in_range(unsorted, "k", pd.DataFrame({"j": [1]}), "j") is unsorted


def test_key_index_sieves_lookups_by_a_sparsely_held_key():
    rng = np.random.default_rng(12)
    held = rng.choice(1000, 12, replace=False)
    whole = pd.DataFrame({"a": rng.choice(held, 60), "b": rng.integers(0, 50, 60) * 10_000_019})
    whole = whole.drop_duplicates().reset_index(drop=True)
    index = key_index(whole, ("a", "b"))
    assert index.table is None and index.sieve is not None and index.sieve[0] == 0
    part = pd.DataFrame(
        {
            "x": np.concatenate([rng.integers(-5, 1005, 300), whole.a.to_numpy()]),
            "y": np.concatenate([rng.integers(0, 50, 300) * 10_000_019, whole.b.to_numpy()]),
        }
    )
    rows = {tuple(r): i for i, r in enumerate(whole.itertuples(index=False))}
    expected = [rows.get(tuple(r), -1) for r in part.itertuples(index=False)]
    assert index.positions(part, ("x", "y")).tolist() == expected
