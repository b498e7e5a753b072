"""The join optimizer against pandas: filters pushed through joins to each
side's reader, size estimates from parquet footers, algorithms chosen after
pushdown, and chains of inner joins reordered by estimated size (plans
pinned with golden ``explain()`` text)."""

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.dataframe.join_filters import column_sources
from shoal.dataframe.sizes import estimate, estimate_bytes, estimate_rows
from shoal.testing import compute_checked

HOWS = ["inner", "left", "right", "outer", "leftsemi", "leftanti"]


def normalized(df):
    df = df.reset_index(drop=True)
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def check(got, want, check_dtype=True):
    out = compute_checked(got)
    pd.testing.assert_frame_equal(normalized(out), normalized(want), check_dtype=check_dtype)


def optimized(coll) -> str:
    return coll.explain().split("Optimized plan:\n")[1]


def pair(seed=0, n=60, m=30):
    rng = np.random.default_rng(seed)
    left = pd.DataFrame(
        {
            "k": rng.integers(0, 12, n),
            "a": rng.integers(0, 100, n),
            "s": pd.Series(rng.choice(["x", "y", "z", None], n), dtype="str"),
        }
    )
    right = pd.DataFrame({"k": rng.integers(4, 16, m), "b": rng.normal(size=m), "a": range(m)})
    return left, right


def oracle(left, right, how, **kw):
    if how in ("leftsemi", "leftanti"):
        found = left["k"].isin(right["k"].tolist())
        return left[found if how == "leftsemi" else ~found]
    return pd.merge(left, right, how=how, **kw)


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize("how", HOWS)
def test_filters_through_joins_every_how(how, variants):
    left, right = pair()
    want = oracle(left, right, how, on="k")
    a = "a_x" if how not in ("leftsemi", "leftanti") else "a"
    for (_, dl), (_, dr) in zip(variants(left), variants(right)[::-1]):
        j = sd.merge(dl, dr, how=how, on="k", broadcast=False)
        terms = [
            (j[a] > 40, want[a] > 40),  # a left column
            (j.k.isin([5, 6, 7, 9]), want.k.isin([5, 6, 7, 9])),  # the key
            ((j[a] > 20) & (j.s == "x"), (want[a] > 20) & (want.s == "x")),
        ]
        if how not in ("leftsemi", "leftanti"):
            terms.append((j.b > 0, want.b > 0))  # a right column
            terms.append(((j.a_x < 50) | (j.b > 0), (want.a_x < 50) | (want.b > 0)))
        for got_mask, want_mask in terms:
            check(j[got_mask], want[want_mask], check_dtype=False)


def test_which_side_takes_a_filter():
    left, right = pair(1)
    dl, dr = sd.from_pandas(left, npartitions=3), sd.from_pandas(right, npartitions=2)

    def below(how, mask_of):
        j = sd.merge(dl, dr, how=how, on="k", broadcast=False)
        plan = optimized(j[mask_of(j)])
        return plan.splitlines()[0].strip().split(":")[0]

    # a filter that moves below the join leaves the join on top of the plan
    assert below("inner", lambda j: j.b > 0) == "HashJoin"
    assert below("inner", lambda j: j.a_x > 0) == "HashJoin"
    assert below("left", lambda j: j.a_x > 0) == "HashJoin"
    assert below("left", lambda j: j.b > 0) == "Filter"  # unmatched rows are padded
    assert below("right", lambda j: j.a_x > 0) == "Filter"
    assert below("right", lambda j: j.b > 0) == "HashJoin"
    assert below("outer", lambda j: j.k > 3) == "Filter"
    assert below("inner", lambda j: (j.a_x > 3) | (j.b > 0)) == "Filter"  # needs both sides
    assert below("inner", lambda j: j.a_x > j.a_x.mean()) == "Filter"  # not row-local


def test_partly_pushed_predicate_keeps_the_rest_above():
    left, right = pair(2)
    dl, dr = sd.from_pandas(left, npartitions=3), sd.from_pandas(right, npartitions=2)
    j = sd.merge(dl, dr, on="k", broadcast=False)
    got = j[(j.a_x > 30) & (j.a_x + j.a_y > 40) & j.s.str.startswith("x")]
    want = left.merge(right, on="k")
    want = want[(want.a_x > 30) & (want.a_x + want.a_y > 40) & want.s.str.startswith("x")]
    check(got, want)
    plan = optimized(got)
    assert plan.startswith("  Filter")  # a_x + a_y stays above
    assert plan.count("Filter") == 2  # the left side's terms went below


def test_join_used_elsewhere_is_not_split():
    left, right = pair(3)
    dl, dr = sd.from_pandas(left, npartitions=3), sd.from_pandas(right, npartitions=2)
    j = sd.merge(dl, dr, on="k", broadcast=False)
    filtered = j[j.a_x > 50]
    both = filtered.a_x.sum() + j.b.count()
    want = left.merge(right, on="k")
    assert both.compute() == pytest.approx(want[want.a_x > 50].a_x.sum() + want.b.count())
    assert optimized(both).count("HashJoin: ") == 1  # one join, computed once


def test_column_sources_follow_suffixes_and_key_pairs():
    left = pd.DataFrame({"lk": [1], "v": [1.0], "w": [2]})
    right = pd.DataFrame({"rk": [1], "v": [1.0]})
    dl, dr = sd.from_pandas(left, npartitions=1), sd.from_pandas(right, npartitions=1)
    m = sd.merge(dl, dr, left_on="lk", right_on="rk", suffixes=("_l", "_r")).expr
    assert column_sources(m) == {
        "lk": [("left", "lk"), ("right", "rk")],
        "v_l": [("left", "v")],
        "w": [("left", "w")],
        "rk": [("right", "rk"), ("left", "lk")],
        "v_r": [("right", "v")],
    }
    other = sd.from_pandas(right.astype({"rk": "float64"}), npartitions=1)
    m = sd.merge(dl, other, left_on="lk", right_on="rk").expr
    assert column_sources(m)["lk"] == [("left", "lk")]  # dtypes differ: no copy


# ---------------------------------------------------------------- parquet


@pytest.fixture
def tables(tmp_path):
    """A small TPC-H-like star: a fact table and three dimensions."""
    rng = np.random.default_rng(7)
    n = 6000
    paths = {}
    frames = {
        "sales": pd.DataFrame(
            {
                "s_id": np.arange(n),
                "s_cust": rng.integers(0, 300, n),
                "s_item": rng.integers(0, 120, n),
                "s_store": rng.integers(0, 12, n),
                "s_day": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
                "s_amount": rng.random(n).round(3),
                "s_note": ["n" * 30] * n,
            }
        ),
        "customer": pd.DataFrame(
            {
                "c_id": np.arange(300),
                "c_segment": rng.choice(["A", "B", "C", "D", "E"], 300),
                "c_age": rng.integers(18, 90, 300),
            }
        ),
        "item": pd.DataFrame(
            {
                "i_id": np.arange(120),
                "i_price": rng.random(120).round(2),
                "i_kind": rng.choice(["tool", "toy", "food"], 120),
            }
        ),
        "store": pd.DataFrame(
            {"st_id": np.arange(12), "st_city": [f"c{i % 4}" for i in range(12)]}
        ),
    }
    sizes = {"sales": 500, "customer": 30, "item": 40, "store": 12}
    for name, df in frames.items():
        path = tmp_path / name
        path.mkdir()
        df.to_parquet(path / "part.0.parquet", row_group_size=sizes[name], index=False)
        paths[name] = str(path)
    return frames, paths


def test_filter_after_join_reaches_both_readers(tables):
    frames, paths = tables
    sales = sd.read_parquet(paths["sales"], blocksize="64kB")
    cust = sd.read_parquet(paths["customer"])
    j = sales.merge(cust, left_on="s_cust", right_on="c_id")
    q = j[(j.s_day < "2020-02-01") & (j.c_segment == "A")][["s_id", "s_amount", "c_age"]]
    want = frames["sales"].merge(frames["customer"], left_on="s_cust", right_on="c_id")
    want = want[(want.s_day < "2020-02-01") & (want.c_segment == "A")]
    check(q, want[["s_id", "s_amount", "c_age"]])
    assert optimized(q) == (
        "  Projection: columns_=['s_id', 's_amount', 'c_age']\n"
        "    BroadcastJoin: how=inner, left_on=['s_cust'], right_on=['c_id'], broadcast=right"
        "  (fused)\n"
        "      ReadParquet: columns_=['s_id', 's_cust', 's_amount'], filters=[[('s_day', '<', "
        "datetime.datetime(2020, 2, 1, 0, 0))]]  (fused)\n"
        "      ReadParquet: columns_=['c_id', 'c_age'], filters=[[('c_segment', '==', 'A')]]"
    )


def test_estimates_from_footers(tables):
    frames, paths = tables
    sales = sd.read_parquet(paths["sales"])
    assert estimate_rows(sales.expr) == len(frames["sales"])
    narrow = sd.read_parquet(paths["sales"], columns=["s_id"])
    assert estimate_bytes(narrow.expr) < estimate_bytes(sales.expr) / 2
    for cut in ["2020-02-01", "2020-07-01", "2020-11-15"]:
        f = sd.read_parquet(paths["sales"], filters=[("s_day", "<", pd.Timestamp(cut))])
        actual = int((frames["sales"].s_day < cut).sum())
        assert abs(estimate_rows(f.expr) - actual) < 0.1 * len(frames["sales"])
    none = sd.read_parquet(paths["sales"], filters=[("s_id", ">", 10**6)])
    assert estimate_rows(none.expr) == 0  # every row group ruled out by its statistics
    one = sd.read_parquet(paths["customer"], filters=[("c_id", "==", 7)])
    assert estimate_rows(one.expr) == pytest.approx(1, abs=0.5)
    # a filter pushed by the optimizer counts too
    pushed = sales[sales.s_id < 600].optimize()
    assert estimate_rows(pushed.expr) == pytest.approx(600, rel=0.05)


def test_join_estimate_many_to_one(tables):
    frames, paths = tables
    sales = sd.read_parquet(paths["sales"])
    young = sd.read_parquet(paths["customer"], filters=[("c_age", "<", 30)])
    j = sales.merge(young, left_on="s_cust", right_on="c_id")
    e = estimate(j.expr)
    actual = len(
        frames["sales"].merge(
            frames["customer"].query("c_age < 30"), left_on="s_cust", right_on="c_id"
        )
    )
    assert e is not None and abs(e.rows - actual) < 0.35 * actual
    assert e.base == len(frames["sales"])


def test_broadcast_chosen_after_pushdown_keeps_partition_count(tables):
    frames, paths = tables
    sales = sd.read_parquet(paths["sales"], blocksize="64kB")
    items = sd.read_parquet(paths["item"], blocksize="1kB")  # several small partitions
    assert items.npartitions > 1
    no_local = {"dataframe.merge.broadcast-local-bytes": 0}
    with shoal.config.set({"dataframe.merge.broadcast-bytes": "1kB", **no_local}):
        j = sales.merge(items, left_on="s_item", right_on="i_id")
        assert j.expr.algorithm == "hash"  # both sides too big when the join is made
        q = j[j.i_id < 3]
        assert "BroadcastJoin" in optimized(q) and "Shuffle" not in optimized(q)
        assert q.npartitions == j.npartitions
        out = compute_checked(q)
    want = frames["sales"].merge(frames["item"], left_on="s_item", right_on="i_id")
    pd.testing.assert_frame_equal(normalized(out), normalized(want[want.i_id < 3]))


# ------------------------------------------------------------------ order


def test_star_join_reordered_smallest_first(tables):
    frames, paths = tables
    sales = sd.read_parquet(paths["sales"], blocksize="64kB")
    cust = sd.read_parquet(paths["customer"])
    item = sd.read_parquet(paths["item"])
    store = sd.read_parquet(paths["store"])
    # the user's order joins the unfiltered dimension first
    j = sales.merge(store, left_on="s_store", right_on="st_id")
    j = j.merge(cust, left_on="s_cust", right_on="c_id")
    j = j.merge(item, left_on="s_item", right_on="i_id")
    q = j[(j.c_age < 25) & (j.i_kind == "toy")]
    q = q[["s_id", "s_amount", "st_city", "c_segment", "i_price"]]
    s, c, i, st = (frames[k] for k in ("sales", "customer", "item", "store"))
    want = s.merge(st, left_on="s_store", right_on="st_id")
    want = want.merge(c, left_on="s_cust", right_on="c_id")
    want = want.merge(i, left_on="s_item", right_on="i_id")
    want = want[(want.c_age < 25) & (want.i_kind == "toy")]
    want = want[["s_id", "s_amount", "st_city", "c_segment", "i_price"]]
    check(q, want)
    assert optimized(q) == (
        "  Projection: columns_=['s_id', 's_amount', 'st_city', 'c_segment', 'i_price']\n"
        "    BroadcastJoin: how=inner, left_on=['s_store'], right_on=['st_id'], broadcast=right"
        "  (fused)\n"
        "      Projection: columns_=['s_id', 's_store', 's_amount', 'c_segment', 'i_price']"
        "  (fused)\n"
        "        BroadcastJoin: how=inner, left_on=['s_item'], right_on=['i_id'], broadcast=right"
        "  (fused)\n"
        "          Projection: columns_=['s_id', 's_item', 's_store', 's_amount', 'c_segment']"
        "  (fused)\n"
        "            BroadcastJoin: how=inner, left_on=['s_cust'], right_on=['c_id'], "
        "broadcast=right  (fused)\n"
        "              ReadParquet: columns_=['s_id', 's_cust', 's_item', 's_store', 's_amount'], "
        "filters=None  (fused)\n"
        "              ReadParquet: columns_=['c_id', 'c_segment'], filters=[[('c_age', '<', 25)]]\n"
        "          ReadParquet: columns_=['i_id', 'i_price'], filters=[[('i_kind', '==', 'toy')]]\n"
        "      ReadParquet: columns_=['st_id', 'st_city'], filters=None"
    )


def test_reorder_restores_columns_and_partition_count(tables):
    frames, paths = tables
    sales = sd.read_parquet(paths["sales"], blocksize="64kB")
    cust = sd.read_parquet(paths["customer"])
    item = sd.read_parquet(paths["item"])
    store = sd.read_parquet(paths["store"])
    hash_everywhere = {
        "dataframe.merge.broadcast-bytes": 0,
        "dataframe.merge.broadcast-local-bytes": 0,
    }
    with shoal.config.set(hash_everywhere):
        j = store.merge(sales, left_on="st_id", right_on="s_store")
        j = j.merge(item, left_on="s_item", right_on="i_id")
        j = j.merge(cust, left_on="s_cust", right_on="c_id")
        q = j[j.c_segment == "B"]
        plan = optimized(q)
        assert plan.startswith("  Projection: columns_=['st_id', 'st_city', 's_id'")
        assert q.npartitions == j.npartitions
        out = compute_checked(q)
    s, c, i, st = (frames[k] for k in ("sales", "customer", "item", "store"))
    want = st.merge(s, left_on="st_id", right_on="s_store")
    want = want.merge(i, left_on="s_item", right_on="i_id").merge(
        c, left_on="s_cust", right_on="c_id"
    )
    want = want[want.c_segment == "B"]
    assert list(out.columns) == list(want.columns)
    pd.testing.assert_frame_equal(normalized(out), normalized(want))


def test_chain_with_a_cycle_of_keys():
    """Q5's shape: the last join closes a cycle on two keys."""
    rng = np.random.default_rng(5)
    nation = pd.DataFrame({"n_key": range(5), "n_name": list("abcde")})
    cust = pd.DataFrame({"c_key": range(40), "c_nation": rng.integers(0, 5, 40)})
    orders = pd.DataFrame({"o_key": range(200), "o_cust": rng.integers(0, 40, 200)})
    supp = pd.DataFrame({"su_key": range(10), "su_nation": rng.integers(0, 5, 10)})
    line = pd.DataFrame({"l_order": rng.integers(0, 200, 600), "l_supp": rng.integers(0, 10, 600)})
    d = {
        k: sd.from_pandas(v, npartitions=p)
        for k, v, p in [
            ("n", nation, 1),
            ("c", cust, 2),
            ("o", orders, 3),
            ("s", supp, 1),
            ("l", line, 4),
        ]
    }
    j = d["n"].merge(d["c"], left_on="n_key", right_on="c_nation")
    j = j.merge(d["o"], left_on="c_key", right_on="o_cust")
    j = j.merge(d["l"], left_on="o_key", right_on="l_order")
    j = j.merge(d["s"], left_on=["l_supp", "n_key"], right_on=["su_key", "su_nation"])
    q = j[j.n_name == "b"]
    want = nation.merge(cust, left_on="n_key", right_on="c_nation")
    want = want.merge(orders, left_on="c_key", right_on="o_cust")
    want = want.merge(line, left_on="o_key", right_on="l_order")
    want = want.merge(supp, left_on=["l_supp", "n_key"], right_on=["su_key", "su_nation"])
    check(q, want[want.n_name == "b"])


def test_chains_left_as_written():
    left, right = pair(4)
    third = pd.DataFrame({"k": range(16), "c": range(16)})
    dl, dr = sd.from_pandas(left, npartitions=3), sd.from_pandas(right, npartitions=2)
    dt = sd.from_pandas(third, npartitions=2)
    # shared column names (suffixes would depend on the order): no reordering
    j = dl.merge(dr, on="k").merge(dt, on="k")
    logical = [ln.strip().split(":")[0] for ln in j.explain().splitlines() if "Merge" in ln]
    assert len(logical) == 2
    assert "Projection" not in optimized(j).splitlines()[0]
    check(j, left.merge(right, on="k").merge(third, on="k"))
    # hand planning (broadcast=) is respected
    j = dl.merge(dr, on="k", broadcast=False)
    assert "HashJoin" in optimized(j[j.b > 0])
