"""merge / join against pandas: every how, every algorithm, several
partitionings, awkward keys (duplicates, nulls, strings, categoricals,
mismatched dtypes), and the plans the optimizer picks."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal
import shoal.dataframe as sd
from shoal.testing import compute_checked

HOWS = ["inner", "left", "right", "outer", "leftsemi", "leftanti"]


def sides(seed=0, n=40, m=25, key="int"):
    rng = np.random.default_rng(seed)
    if key == "int":
        lk, rk = rng.integers(0, 12, n), rng.integers(5, 18, m)
    elif key == "float-nan":
        lk = np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 8, n).astype(float))
        rk = np.where(rng.random(m) < 0.2, np.nan, rng.integers(4, 12, m).astype(float))
    elif key == "str":
        lk = pd.Series(rng.choice(["a", "b", "c", "d", None], n), dtype="str")
        rk = pd.Series(rng.choice(["c", "d", "e", None], m), dtype="str")
    elif key == "category":
        cats = pd.CategoricalDtype(["a", "b", "c", "d", "e"])
        lk = pd.Series(rng.choice(["a", "b", "c", "d"], n)).astype(cats)
        rk = pd.Series(rng.choice(["c", "d", "e"], m)).astype(cats)
    elif key == "int-float":
        lk, rk = rng.integers(0, 12, n), rng.integers(5, 18, m).astype(float)
    left = pd.DataFrame({"k": lk, "a": rng.integers(0, 100, n), "flag": rng.random(n) < 0.5})
    right = pd.DataFrame({"k": rk, "b": rng.integers(0, 100, m), "a": rng.normal(size=m)})
    return left, right


def normalized(df):
    df = df.reset_index(drop=True)
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def oracle(left, right, how, **kw):
    if how in ("leftsemi", "leftanti"):
        lk, rk = kw.get("left_on", kw.get("on")), kw.get("right_on", kw.get("on"))
        found = left[lk].isin(right[rk].tolist())
        return left[found if how == "leftsemi" else ~found]
    return pd.merge(left, right, how=how, **kw)


def check(got, want, check_index=False, check_dtype=True):
    """Same rows as pandas in any order. ``check_dtype=False`` where pandas
    keeps a dtype only because no row was unmatched (docs/dataframe.md)."""
    out = compute_checked(got)  # partitions checked against meta and divisions
    if check_index:
        out, want = out.reset_index(), want.reset_index()
    pd.testing.assert_frame_equal(normalized(out), normalized(want), check_dtype=check_dtype)


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("broadcast", [None, True, False])
def test_merge_on_column_every_partitioning(how, broadcast, variants):
    if how == "outer" and broadcast:
        pytest.skip("outer joins cannot broadcast")
    left, right = sides()
    for (_, dl), (_, dr) in zip(variants(left), variants(right)[::-1]):
        got = sd.merge(dl, dr, how=how, on="k", broadcast=broadcast)
        check(got, oracle(left, right, how, on="k"), check_dtype=False)


@pytest.mark.parametrize("key", ["float-nan", "str", "category", "int-float"])
@pytest.mark.parametrize("how", HOWS)
def test_merge_awkward_keys(key, how, variants):
    left, right = sides(1, key=key)
    for (_, dl), (_, dr) in zip(variants(left), variants(right)):
        for broadcast in [False, True] if how != "outer" else [False]:
            got = dl.merge(dr, how=how, on="k", broadcast=broadcast, npartitions=3)
            check(got, oracle(left, right, how, on="k"), check_dtype=False)


def test_left_on_right_on_suffixes_indicator():
    left, right = sides(2)
    right = right.rename(columns={"k": "rk"})
    dl = sd.from_pandas(left, npartitions=3)
    dr = sd.from_pandas(right, npartitions=2, sort=False)
    for how in ["inner", "left", "right", "outer"]:
        kw = dict(left_on="k", right_on="rk", suffixes=("_l", "_r"), indicator=True)
        check(
            sd.merge(dl, dr, how=how, broadcast=False, **kw), pd.merge(left, right, how=how, **kw)
        )
    for how in ["leftsemi", "leftanti"]:
        check(
            sd.merge(dl, dr, how=how, left_on="k", right_on="rk"),
            oracle(left, right, how, left_on="k", right_on="rk"),
        )


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_merge_keeps_time_zones_units_object_and_nullable_columns(how):
    left, right = sides(4)
    n, m = len(left), len(right)
    left["t"] = pd.date_range("2020", periods=n, freq="h", tz="Europe/Paris")
    left["s"] = pd.date_range("2020", periods=n, freq="D").astype("M8[s]")
    right["i"] = pd.array([None if j % 3 else j for j in range(m)], dtype="Int64")
    right["u"] = pd.date_range("2021", periods=m, tz="UTC")
    right["o"] = pd.Series([None if j % 4 else f"s{j}" for j in range(m)], dtype=object)
    dl = sd.from_pandas(left, npartitions=3)
    dr = sd.from_pandas(right, npartitions=2)
    check(
        sd.merge(dl, dr, how=how, on="k", broadcast=False), pd.merge(left, right, how=how, on="k")
    )


def test_merge_on_several_columns(variants):
    rng = np.random.default_rng(4)
    left = pd.DataFrame(
        {"x": rng.integers(0, 3, 50), "y": rng.choice(["a", "b"], 50), "v": range(50)}
    )
    right = pd.DataFrame(
        {"x": rng.integers(1, 4, 20), "y": rng.choice(["a", "b"], 20), "w": range(20)}
    )
    for (_, dl), (_, dr) in zip(variants(left), variants(right)):
        for how in ["inner", "outer"]:
            check(
                dl.merge(dr, on=["x", "y"], how=how, broadcast=False),
                left.merge(right, on=["x", "y"], how=how),
            )


def test_merge_on_indexes_known_divisions_is_partitionwise():
    left = pd.DataFrame({"a": range(30)}, index=np.arange(30) * 2)
    right = pd.DataFrame({"b": range(20)}, index=np.arange(20) * 3)
    dl, dr = sd.from_pandas(left, npartitions=4), sd.from_pandas(right, npartitions=3)
    for how in ["inner", "left", "right", "outer"]:
        got = sd.merge(dl, dr, how=how, left_index=True, right_index=True)
        assert got.known_divisions
        plan = got.explain().split("Optimized plan:")[1]
        assert "PartitionwiseJoin" in plan and "Shuffle" not in plan
        out = compute_checked(got)
        want = pd.merge(left, right, how=how, left_index=True, right_index=True)
        pd.testing.assert_frame_equal(out.sort_index(), want.sort_index())


def test_merge_on_indexes_unknown_divisions_and_mixed():
    left, right = sides(5)
    left = left.set_index("k")
    dl = sd.from_pandas(left, npartitions=3, sort=False)
    rindexed = right.drop_duplicates("k").set_index("k")
    dr = sd.from_pandas(rindexed, npartitions=2, sort=False)
    for how in ["inner", "left", "outer"]:
        got = sd.merge(dl, dr, how=how, left_index=True, right_index=True, broadcast=False)
        check(got, pd.merge(left, rindexed, how=how, left_index=True, right_index=True), True)
    rr = sd.from_pandas(right, npartitions=2)
    got = sd.merge(rr, dr, left_on="k", right_index=True, how="inner", broadcast=False)
    want = pd.merge(right, rindexed, left_on="k", right_index=True, how="inner")
    check(got, want)


def test_join_index_on_column_and_list(variants):
    rng = np.random.default_rng(6)
    a = pd.DataFrame({"x": rng.integers(0, 9, 30), "k": rng.integers(0, 6, 30)}, index=range(30))
    b = pd.DataFrame({"y": rng.normal(size=30)}, index=range(5, 35))
    c = pd.DataFrame({"z": range(10)}, index=range(0, 40, 4))
    for (_, da), (_, db), (_, dc) in zip(variants(a), variants(b), variants(c)):
        for how in ["left", "inner", "outer", "right"]:
            check(da.join(db, how=how), a.join(b, how=how), True)
        check(da.join(dc, on="k"), a.join(c, on="k"), True)
        check(da.join([db, dc]), a.join(b).join(c), True)
    with pytest.raises(ValueError, match="overlap"):
        sd.from_pandas(a, npartitions=2).join(sd.from_pandas(a, npartitions=2))


def test_merge_with_pandas_right_broadcasts():
    left, right = sides(7)
    dl = sd.from_pandas(left, npartitions=4)
    got = dl.merge(right, on="k")
    assert "BroadcastJoin" in got.explain()
    check(got, left.merge(right, on="k"))


def test_mismatched_key_dtypes_fail_before_running():
    left, right = sides(8)
    dl = sd.from_pandas(left, npartitions=2)
    dr = sd.from_pandas(right.astype({"k": "str"}), npartitions=2)
    with pytest.raises(ValueError, match="int64 and str"):
        dl.merge(dr, on="k")
    with pytest.raises(ValueError, match="int64 and str"):
        dl.merge(dr, on="k", how="leftsemi")


def test_merge_argument_errors():
    left, right = sides(9)
    dl, dr = sd.from_pandas(left, npartitions=2), sd.from_pandas(right, npartitions=2)
    with pytest.raises(ValueError, match="how must be one of"):
        dl.merge(dr, how="cross")
    with pytest.raises(ValueError, match="not both"):
        dl.merge(dr, on="k", left_on="k")
    with pytest.raises(KeyError, match="'nope'"):
        dl.merge(dr, on="nope")
    with pytest.raises(ValueError, match="cannot broadcast"):
        dl.merge(dr, on="k", how="outer", broadcast=True)
    with pytest.raises(ValueError, match="2 left keys but 1 right keys"):
        dl.merge(dr, left_on=["k", "a"], right_on="k")
    with pytest.raises(ValueError, match="shuffle_method"):
        dl.merge(dr, on="k", shuffle_method="x")
    with pytest.raises(ValueError, match="no common columns"):
        dl[["flag"]].merge(dr[["b"]])


def test_algorithms_in_explain():
    left, right = sides(10)
    dl = sd.from_pandas(left, npartitions=4)
    dr = sd.from_pandas(right, npartitions=3)
    assert (
        "BroadcastJoin: how=inner, on=['k'], broadcast=right"
        in dl.merge(dr.partitions[0], on="k").explain()
    )
    hashed = dl.merge(dr, on="k", broadcast=False)
    assert hashed.explain().split("Optimized plan:\n")[1] == (
        "  HashJoin: how=inner, on=['k']\n"
        "    TaskShuffle: hash on ['k'], npartitions=4, stages=1, branch=4  (fused)\n"
        "      FromPandas: npartitions=4\n"
        "    TaskShuffle: hash on ['k'], npartitions=4, stages=1, branch=4  (fused)\n"
        "      FromPandas: npartitions=3"
    )
    with shoal.config.set({"dataframe.merge.broadcast-bytes": "1GiB"}):
        assert "BroadcastJoin" in dl.merge(dr, on="k").explain()
    no_broadcast = {
        "dataframe.merge.broadcast-bytes": 0,
        "dataframe.merge.broadcast-local-bytes": 0,
    }
    with shoal.config.set(no_broadcast):
        assert "HashJoin" in dl.merge(dr, on="k").explain()


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_a_side_much_smaller_than_the_other_is_broadcast_on_local_schedulers(how, monkeypatch):
    import importlib

    merge_module = importlib.import_module("shoal.dataframe.merge")  # not the merge function
    rng = np.random.default_rng(3)
    big = pd.DataFrame({"k": rng.integers(0, 500, 20_000), "a": rng.random(20_000)})
    small = pd.DataFrame({"k": np.arange(0, 600, 3), "b": np.arange(200)})
    db, ds = sd.from_pandas(big, npartitions=6), sd.from_pandas(small, npartitions=3)
    only_local = {"dataframe.merge.broadcast-bytes": 1_000}  # both sides over the fixed limit
    # the side allowed for ``how`` is broadcast when it is 8x smaller, and only then
    side = {"inner": "right", "left": "right", "right": None, "outer": None}[how]
    with shoal.config.set(only_local):
        j = db.merge(ds, on="k", how=how)
        assert j.expr.algorithm == (f"broadcast-{side}" if side else "hash")
        out = compute_checked(j)
        assert db.merge(db, on="k", how=how).expr.algorithm == "hash"  # same sizes
        with shoal.config.set({"dataframe.merge.broadcast-local-bytes": 1_000}):
            assert db.merge(ds, on="k", how=how).expr.algorithm == "hash"  # over the cap
        monkeypatch.setattr(merge_module, "default_backend_offers", lambda name: True)
        assert db.merge(ds, on="k", how=how).expr.algorithm == "hash"  # a cluster: no
    want = big.merge(small, on="k", how=how)
    key = ["k", "a", "b"]
    pd.testing.assert_frame_equal(
        out.sort_values(key).reset_index(drop=True), want.sort_values(key).reset_index(drop=True)
    )


def test_no_reshuffle_of_sides_partitioned_already():
    left, right = sides(11)
    third = pd.DataFrame({"k": range(20), "c": range(20)})
    dl = sd.from_pandas(left, npartitions=4).shuffle("k", npartitions=5)
    dr = sd.from_pandas(right, npartitions=3)
    once = dl.merge(dr, on="k", broadcast=False)
    plan = once.explain().split("Optimized plan:")[1]
    assert plan.count("Shuffle") == 2  # dl's own shuffle, and dr's to 5 partitions
    assert once.npartitions == 5
    t = sd.from_pandas(third, npartitions=2)
    chained = once.merge(t, on="k", broadcast=False)
    plan = chained.explain().split("Optimized plan:")[1]
    assert plan.count("Shuffle") == 3  # only the new side is shuffled
    want = left.merge(right, on="k").merge(third, on="k")
    check(chained, want)
    both = dl.merge(sd.from_pandas(right, npartitions=2).shuffle("k", npartitions=5), on="k")
    assert "PartitionwiseJoin" in both.explain()
    check(both, left.merge(right, on="k"))


def test_disk_method_and_threads():
    left, right = sides(12, n=200, m=80)
    dl = sd.from_pandas(left, npartitions=5)
    dr = sd.from_pandas(right, npartitions=4)
    for how in ["inner", "outer", "leftanti"]:
        got = dl.merge(dr, on="k", how=how, shuffle_method="disk", broadcast=False)
        assert "DiskShuffle" in got.explain()
        out = got.compute(scheduler="threads")
        pd.testing.assert_frame_equal(normalized(out), normalized(oracle(left, right, how, on="k")))


def test_projection_reaches_both_sides_and_semi_reads_keys():
    left, right = sides(13)
    dl = sd.from_pandas(left, npartitions=3)
    dr = sd.from_pandas(right, npartitions=2)
    got = dl.merge(dr, on="k", broadcast=False)[["b"]]
    check(got, left.merge(right, on="k")[["b"]])
    semi = dl.merge(dr, on="k", how="leftsemi", broadcast=False)
    plan = semi.explain().split("Optimized plan:")[1]
    assert "Projection: columns_=['k']" in plan
    check(semi, oracle(left, right, "leftsemi", on="k"))


@st.composite
def frame_pairs(draw):
    def one(n, name):
        keys = draw(st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=n, max_size=n))
        vals = draw(st.lists(st.integers(-9, 9), min_size=n, max_size=n))
        return pd.DataFrame({"k": pd.Series(keys, dtype="float64"), name: vals})

    left = one(draw(st.integers(0, 25)), "a")
    right = one(draw(st.integers(0, 15)), "b")
    lparts, rparts = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return (
        left,
        right,
        sd.from_pandas(left, npartitions=lparts, sort=draw(st.booleans())),
        sd.from_pandas(right, npartitions=rparts, sort=draw(st.booleans())),
    )


@settings(max_examples=30, deadline=None)
@given(frame_pairs(), st.sampled_from(HOWS), st.sampled_from([None, False]))
def test_merge_property(pair, how, broadcast):
    left, right, dl, dr = pair
    got = sd.merge(
        dl, dr, how=how, on="k", broadcast=broadcast, shuffle_method="tasks", max_branch=2
    )
    check(got, oracle(left, right, how, on="k"), check_dtype=False)
