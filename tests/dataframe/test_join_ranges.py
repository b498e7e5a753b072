"""Range joins (dataframe/join_ranges.py) against pandas: parquet files
written in key order joined without a shuffle, for every ``how``, several
file layouts (uneven, empty after a filter, one row, ties across files,
gaps), key kinds (integers, strings, timestamps, several keys), through
chains of broadcast and range joins and partitionwise group-bys; sides
whose ranges overlap keep another algorithm."""

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.dataframe.join_ranges import plan_range_join, range_overlaps
from shoal.dataframe.sorted_ranges import column_bounds
from shoal.testing import compute_checked


def normalized(df):
    df = df.reset_index(drop=True)
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def check(got, want):
    out = compute_checked(got)  # partitions checked against meta
    pd.testing.assert_frame_equal(normalized(out), normalized(want), check_dtype=False)


def oracle(left, right, how, left_on, right_on):
    if how in ("leftsemi", "leftanti"):
        lk = left[left_on].apply(tuple, axis=1)
        rk = set(right[right_on].apply(tuple, axis=1))
        found = lk.isin(rk)
        return left[found if how == "leftsemi" else ~found]
    return pd.merge(left, right, how=how, left_on=left_on, right_on=right_on)


def write_sorted(path, df, key, cuts):
    """``df`` sorted by ``key`` written as one file per slice between ``cuts``."""
    df = df.sort_values(key, kind="stable").reset_index(drop=True)
    path.mkdir(parents=True, exist_ok=True)
    edges = [0, *cuts, len(df)]
    for i, (a, b) in enumerate(zip(edges, edges[1:])):
        df.iloc[a:b].to_parquet(path / f"part.{i:03d}.parquet", index=False)
    return df


def read(path):
    """One partition per file (small files are otherwise combined)."""
    return sd.read_parquet(path, blocksize=1)


def plan_heads(frame):
    return [line.strip().split(":")[0] for line in frame.optimize().explain().splitlines()]


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """``orders`` (unique keys 0..1999 with gaps) in 5 uneven files and
    ``items`` (0-6 rows per order, some orders with none, some items
    without an order) in 7 files whose cuts fall inside and between orders."""
    root = tmp_path_factory.mktemp("ranges")
    rng = np.random.default_rng(7)
    okeys = np.sort(rng.choice(np.arange(2300), 2000, replace=False))
    orders = pd.DataFrame(
        {
            "o_key": okeys,
            "o_cust": rng.integers(0, 50, 2000),
            "o_name": [f"order-{k:05d}" for k in okeys],
            "o_day": pd.Timestamp("2020-01-01") + pd.to_timedelta(okeys, unit="D"),
            "shared": rng.integers(0, 3, 2000),
        }
    )
    per = rng.integers(0, 7, 2300)
    ikeys = np.repeat(np.arange(2300), per)
    items = pd.DataFrame(
        {
            "i_key": ikeys,
            "i_line": np.concatenate([np.arange(p) for p in per]),
            "i_qty": rng.integers(1, 50, len(ikeys)).astype("int64"),
            "i_name": [f"order-{k:05d}" for k in ikeys],
            "i_day": pd.Timestamp("2020-01-01") + pd.to_timedelta(ikeys, unit="D"),
            "shared": rng.integers(0, 3, len(ikeys)),
        }
    )
    orders = write_sorted(root / "orders", orders, "o_key", [1, 400, 401, 1500])
    n = len(items)
    items = write_sorted(
        root / "items", items, "i_key", [n // 9, n // 4, n // 2, n // 2 + 1, n - 5, n - 1]
    )
    return orders, items, root


def test_overlaps_of_ranges():
    assert range_overlaps([(0, 4), (5, 9), (10, 20)], [(3, 6), (7, 7), (15, 30)]) == (
        (0,),
        (0, 1),
        (2,),
    )
    assert range_overlaps([(1, 1)], [(1, 1)]) == ((0,),)
    assert range_overlaps([(50, 60)], [(0, 10), (20, 30)]) == ((),)
    assert range_overlaps([("a", "c")], [(1, 2)]) is None  # do not compare


@pytest.mark.parametrize("how", ["inner", "left", "right", "leftsemi", "leftanti"])
def test_every_how_against_pandas(tables, how):
    orders, items, root = tables
    o = read(root / "orders")
    i = read(root / "items")
    assert o.npartitions == 5 and i.npartitions == 7
    j = sd.merge(i, o, how=how, left_on="i_key", right_on="o_key")
    assert "RangeJoin" in plan_heads(j)
    check(j, oracle(items, orders, how, ["i_key"], ["o_key"]))
    # and the other way round
    j = sd.merge(o, i, how=how, left_on="o_key", right_on="i_key")
    assert "RangeJoin" in plan_heads(j)
    check(j, oracle(orders, items, how, ["o_key"], ["i_key"]))


def test_outer_joins_shuffle(tables):
    orders, items, root = tables
    o, i = read(root / "orders"), read(root / "items")
    j = sd.merge(i, o, how="outer", left_on="i_key", right_on="o_key", broadcast=False)
    assert "RangeJoin" not in plan_heads(j)
    check(j, pd.merge(items, orders, how="outer", left_on="i_key", right_on="o_key"))


def test_inner_join_drives_with_the_side_of_more_partitions(tables):
    orders, items, root = tables
    o, i = read(root / "orders"), read(root / "items")
    j = o.merge(i, left_on="o_key", right_on="i_key")
    assert j.expr.algorithm == "ranges-right" and j.npartitions == i.npartitions
    check(j, orders.merge(items, left_on="o_key", right_on="i_key"))


@pytest.mark.parametrize(
    "keys",
    [
        (["i_name"], ["o_name"]),  # strings
        (["i_day"], ["o_day"]),  # timestamps
        (["i_key", "shared"], ["o_key", "shared"]),  # two keys, the first ordered
    ],
)
def test_key_kinds(tables, keys):
    orders, items, root = tables
    o, i = read(root / "orders"), read(root / "items")
    lk, rk = keys
    for how in ("inner", "left"):
        j = sd.merge(i, o, how=how, left_on=lk, right_on=rk)
        assert "RangeJoin" in plan_heads(j)
        check(j, pd.merge(items, orders, how=how, left_on=lk, right_on=rk))


def test_same_key_name_and_suffixed_columns(tables):
    orders, items, root = tables
    o = read(root / "orders").rename(columns={"o_key": "key"})
    i = read(root / "items").rename(columns={"i_key": "key"})
    po, pi = orders.rename(columns={"o_key": "key"}), items.rename(columns={"i_key": "key"})
    for how in ("inner", "left", "right"):
        j = sd.merge(i, o, how=how, on="key")  # "shared" is suffixed on both sides
        check(j, pd.merge(pi, po, how=how, on="key"))


def test_filters_empty_partitions_and_one_row_files(tables):
    orders, items, root = tables
    o, i = read(root / "orders"), read(root / "items")
    # a filter that empties whole partitions on both sides
    fo = o[(o.o_key < 300) | (o.o_key > 2100)]
    fi = i[(i.i_key > 1700) & (i.i_qty > 10)]
    j = fi.merge(fo, left_on="i_key", right_on="o_key", how="left")
    assert "RangeJoin" in plan_heads(j)
    po = orders[(orders.o_key < 300) | (orders.o_key > 2100)]
    pi = items[(items.i_key > 1700) & (items.i_qty > 10)]
    check(j, pi.merge(po, left_on="i_key", right_on="o_key", how="left"))
    # partitions chosen by position keep their ranges
    part = i.partitions[[1, 3, 4]]
    j = part.merge(o, left_on="i_key", right_on="o_key")
    assert "RangeJoin" in plan_heads(j)
    want = pd.concat([i.get_partition(k).compute() for k in (1, 3, 4)])
    check(j, want.merge(orders, left_on="i_key", right_on="o_key"))


def test_chains_keep_ranges_through_broadcast_and_range_joins(tables):
    """orders ⋈ customers (broadcast) ⋈ items (range), then the per-order
    sums of a partitionwise groupby joined back on the order key (range)."""
    orders, items, root = tables
    o, i = read(root / "orders"), read(root / "items")
    customers = pd.DataFrame({"c_id": range(50), "c_vip": [k % 3 == 0 for k in range(50)]})
    vip = sd.from_pandas(customers, npartitions=1)
    j = o.merge(vip, left_on="o_cust", right_on="c_id")  # broadcast: orders' ranges kept
    assert column_bounds(j.expr, "o_key") is not None
    j = j.merge(i, left_on="o_key", right_on="i_key")
    per_order = o.groupby("o_key").o_cust.sum().reset_index()  # partitionwise: keys unique
    assert column_bounds(per_order.expr, "o_key") is not None
    big = per_order[per_order.o_cust > 20]
    out = j.merge(big, on="o_key", suffixes=("", "_sum"))
    heads = plan_heads(out)
    assert heads.count("RangeJoin") == 2 and "HashJoin" not in heads
    pj = orders.merge(customers, left_on="o_cust", right_on="c_id")
    pj = pj.merge(items, left_on="o_key", right_on="i_key")
    sums = orders.groupby("o_key").o_cust.sum().reset_index()
    check(out, pj.merge(sums[sums.o_cust > 20], on="o_key", suffixes=("", "_sum")))


def test_overlapping_ranges_keep_another_algorithm(tmp_path):
    rng = np.random.default_rng(3)
    left = pd.DataFrame({"k": rng.integers(0, 100, 400), "a": range(400)})
    right = pd.DataFrame({"k": np.arange(100), "b": np.arange(100) * 2})
    (tmp_path / "l").mkdir()
    for n in range(4):  # every file spans the whole key range
        left.iloc[n * 100 : (n + 1) * 100].to_parquet(tmp_path / "l" / f"{n}.parquet")
    write_sorted(tmp_path / "r", right, "k", [50])
    l_, r_ = read(tmp_path / "l"), read(tmp_path / "r")
    # a side whose every partition spans the keys is in no range join
    assert plan_range_join(l_.expr, r_.expr, "inner", ("k",), ("k",)) is None
    assert plan_range_join(r_.expr, l_.expr, "left", ("k",), ("k",)) is None
    assert plan_range_join(r_.expr, l_.expr, "right", ("k",), ("k",)) is None
    # nor a side whose files go down
    (tmp_path / "down").mkdir()
    right.iloc[50:].to_parquet(tmp_path / "down" / "0.parquet")
    right.iloc[:50].to_parquet(tmp_path / "down" / "1.parquet")
    down = read(tmp_path / "down")
    assert plan_range_join(r_.expr, down.expr, "left", ("k",), ("k",)) is None
    # a key across two files of the other side (its neighbours' bounds touch) is fine
    tied = pd.DataFrame({"k": [1, 2, 2, 2, 3, 60], "c": range(6)})
    write_sorted(tmp_path / "tied", tied, "k", [2, 4])
    t_ = read(tmp_path / "tied")
    assert plan_range_join(r_.expr, t_.expr, "left", ("k",), ("k",)) == ("left", ((0, 1, 2), (2,)))
    check(r_.merge(t_, on="k", how="left"), right.merge(tied, on="k", how="left"))
    # a side without ranges (in memory) keeps the other algorithms
    mem = sd.from_pandas(left, npartitions=4)
    with shoal.config.set({"dataframe.merge.broadcast-local-bytes": 0}):
        j = mem.merge(r_, on="k", broadcast=False)
        assert "RangeJoin" not in plan_heads(j)
        check(j, left.merge(right, on="k"))


def test_broadcast_and_partition_count_requests_win(tables):
    orders, items, root = tables
    o, i = read(root / "orders"), read(root / "items")
    j = i.merge(o, left_on="i_key", right_on="o_key", broadcast=True)
    assert "BroadcastJoin" in plan_heads(j)
    j = i.merge(o, left_on="i_key", right_on="o_key", npartitions=3, broadcast=False)
    assert j.npartitions == 3 and "RangeJoin" not in plan_heads(j)
    check(j, items.merge(orders, left_on="i_key", right_on="o_key"))


def test_reset_index_numbers_across_partitions_in_order(tables):
    orders, items, root = tables
    i = read(root / "items")
    sums = i.groupby("i_key").i_qty.sum().reset_index()
    out = compute_checked(sums)
    expected = items.groupby("i_key").i_qty.sum().reset_index()
    pd.testing.assert_frame_equal(out, expected)
    assert out.index.equals(pd.RangeIndex(len(expected)))


def test_a_range_join_whose_ranges_are_gone_hashes_into_the_same_count():
    from shoal.dataframe.collection import new_collection
    from shoal.dataframe.expr import FromPandas
    from shoal.dataframe.merge import Merge

    left = pd.DataFrame({"k": [3, 1, 2, 2, 5], "a": range(5)})
    right = pd.DataFrame({"k": [2, 5, 1], "b": range(3)})
    expr = Merge(
        FromPandas.of(left, 3),
        FromPandas.of(right, 2),
        "left",
        {"on": ["k"], "suffixes": ("_x", "_y"), "indicator": False},
        ("k",),
        ("k",),
        "ranges-left",  # as if chosen when the sides still had ranges
        3,
    )
    lowered = expr.lower()
    assert lowered._explain_head() == "HashJoin" and lowered.npartitions == 3
    check(new_collection(expr), left.merge(right, on="k", how="left"))


def test_isin_of_ordered_series_meets_partitions_only(tables):
    orders, items, root = tables
    o, i = read(root / "orders"), read(root / "items")
    big = i[i.i_qty > 40]
    kept = o[o.o_key.isin(big.i_key)]
    assert "IsinRanges" in plan_heads(kept)
    pbig = items[items.i_qty > 40]
    check(kept, orders[orders.o_key.isin(pbig.i_key)])
    dropped = o[~o.o_key.isin(big.i_key) & (o.o_cust < 25)]
    check(dropped, orders[~orders.o_key.isin(pbig.i_key) & (orders.o_cust < 25)])
    # strings, and a side emptied by its filter in places
    names = i[(i.i_key < 500) | (i.i_key > 2000)].i_name
    check(
        o[o.o_name.isin(names)],
        orders[orders.o_name.isin(items.i_name[(items.i_key < 500) | (items.i_key > 2000)])],
    )
    # the other way round: each item partition meets one or two order files
    check(i[i.i_key.isin(o.o_key)], items[items.i_key.isin(orders.o_key)])
    # unordered values are gathered once, as before
    assert "IsinRanges" not in plan_heads(o[o.o_cust.isin(i.i_qty)])
    check(o[o.o_cust.isin(i.i_qty)], orders[orders.o_cust.isin(items.i_qty)])
