"""Range joins (join_ranges.py, sorted_ranges.py, membership.IsinRanges)
attacked with generated data: parquet files written in key order with random
cut points (ties across files, empty and one-row files, gaps, duplicate keys
on both sides, files out of order, row groups cut inside files), random
filters, every ``how``, int/string/timestamp keys, one or two keys, chains,
``isin``; then hostile plans (key dtypes that differ, a key overwritten or
renamed after reading, partition selections, repartition, a cluster). Every
result is compared with pandas, rows as a multiset."""

import itertools

import fsspec
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shoal.dataframe as sd
from shoal.dataframe.meta import has_known_categories
from shoal.dataframe.sorted_ranges import column_bounds
from shoal.testing import compute_checked

HOWS = ["inner", "left", "right", "outer", "leftsemi", "leftanti"]
_paths = itertools.count()
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def normalized(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order (categoricals as their values: the union of
    partitions' categories may order them otherwise)."""
    cats = [c for c, d in df.dtypes.items() if isinstance(d, pd.CategoricalDtype)]
    df = df.astype(dict.fromkeys(cats, object)).reset_index(drop=True)
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def check(got, want: pd.DataFrame) -> None:
    out = compute_checked(got)  # partitions checked against meta
    if isinstance(want, pd.Series):
        out, want = out.to_frame(), want.to_frame()
    for c, dtype in out.dtypes.items():  # no placeholder of the meta leaks out
        assert not isinstance(dtype, pd.CategoricalDtype) or has_known_categories(dtype), c
    pd.testing.assert_frame_equal(normalized(out), normalized(want), check_dtype=False)


def oracle(left, right, how, left_on, right_on, suffixes=("_x", "_y")):
    if how in ("leftsemi", "leftanti"):
        lk = pd.MultiIndex.from_frame(left[left_on]) if len(left_on) > 1 else left[left_on[0]]
        rk = pd.MultiIndex.from_frame(right[right_on]) if len(right_on) > 1 else right[right_on[0]]
        found = np.asarray(lk.isin(rk))
        return left[found if how == "leftsemi" else ~found]
    return pd.merge(left, right, how=how, left_on=left_on, right_on=right_on, suffixes=suffixes)


def plan_heads(frame) -> list:
    return [line.strip().split(":")[0] for line in frame.optimize().explain().splitlines()]


KINDS = {"int": ["int64", "int32", "uint16"], "str": ["str"], "ts": ["ns", "us", "ms", "s"]}


def as_kind(keys, kind: str, dtype: str | None = None) -> pd.Series:
    """Integer ``keys`` as ``kind`` values of ``dtype`` (a timestamp's unit),
    in an order that follows the integers except for text."""
    keys = np.asarray(keys, dtype="int64")
    if kind == "int":
        return pd.Series(keys, dtype=dtype or "int64")
    if kind == "str":  # not zero-padded: text order is not number order
        return pd.Series([f"k{k}" for k in keys], dtype="str")
    stamps = pd.Series(pd.Timestamp("2021-03-01") + pd.to_timedelta(keys, unit="s"))
    return stamps.astype(f"datetime64[{dtype or 'ns'}]")


def write_files(df: pd.DataFrame, key: str, cuts, row_group_size=None, swap=None) -> str:
    """``df`` sorted by ``key`` as one file per slice between ``cuts``
    (row groups of ``row_group_size`` rows; files ``swap`` exchanged); the
    memory URL of their directory."""
    df = df.sort_values(key, kind="stable").reset_index(drop=True)
    root = f"memory://rjp/{next(_paths)}"
    edges = [0, *sorted(cuts), len(df)]
    pieces = [df.iloc[a:b] for a, b in zip(edges, edges[1:])]
    if swap is not None and len(pieces) > 1:
        i = swap % (len(pieces) - 1)
        pieces[i], pieces[i + 1] = pieces[i + 1], pieces[i]
    for i, piece in enumerate(pieces):
        piece.to_parquet(f"{root}/part.{i:03d}.parquet", index=False, row_group_size=row_group_size)
    return root


def read(root: str, blocksize: int | None = 1):
    """Small files are combined unless ``blocksize=1``: a partition per file
    (or per row group)."""
    return sd.read_parquet(root, blocksize=blocksize)


@pytest.fixture(autouse=True, scope="module")
def _forget_files():
    yield
    fs = fsspec.filesystem("memory")
    if fs.exists("/rjp"):
        fs.rm("/rjp", recursive=True)


# ------------------------------------------------------------- strategies


@st.composite
def sides(draw, n_max=60, key_max=40):
    """Sorted keys with duplicates and gaps, the file cuts (ties across files,
    empty and one-row files), a row group size, maybe two files swapped, and
    the reader's blocksize."""
    keys = sorted(draw(st.lists(st.integers(0, key_max), min_size=0, max_size=n_max)))
    n = len(keys)
    cuts = draw(st.lists(st.integers(0, n), min_size=2, max_size=6))
    rgs = draw(st.sampled_from([None, None, 1, 3]))
    swap = draw(st.none() | st.none() | st.none() | st.integers(0, 5))
    blocksize = draw(st.sampled_from([1, 1, 1, 600]))
    return keys, cuts, rgs, swap, blocksize


def frame(keys, kind, dtype, seed, prefix):
    rng = np.random.default_rng(seed)
    n = len(keys)
    return pd.DataFrame(
        {
            "k": as_kind(keys, kind, dtype),
            "k2": rng.integers(0, 2, n),
            f"{prefix}v": rng.integers(0, 5, n),
            "shared": rng.integers(0, 3, n),
            f"{prefix}cat": pd.Categorical(rng.choice(list("xyz"), n)),
        }
    )


FILTERS = ["none", "key", "value", "both"]


# ----------------------------------------------------------------- joins


@SETTINGS
@given(
    left=sides(),
    right=sides(),
    how=st.sampled_from(HOWS),
    kind=st.sampled_from(sorted(KINDS)),
    dtypes=st.data(),
    two_keys=st.booleans(),
    same_name=st.booleans(),
    lfilter=st.sampled_from(FILTERS),
    rfilter=st.sampled_from(FILTERS),
    cut=st.integers(0, 30),
    seed=st.integers(0, 2**16),
)
def test_joins_of_files_in_key_order(
    left, right, how, kind, dtypes, two_keys, same_name, lfilter, rfilter, cut, seed
):
    ldtype, rdtype = (dtypes.draw(st.sampled_from(KINDS[kind])) for _ in "lr")
    pl = frame(left[0], kind, ldtype, seed, "l")
    pr = frame(right[0], kind, rdtype, seed + 1, "r")
    if not same_name:
        pr = pr.rename(columns={"k": "rk", "k2": "rk2"})
    lkey, rkey = "k", "k" if same_name else "rk"
    lon = [lkey, "k2"] if two_keys else [lkey]
    ron = [rkey, "k2" if same_name else "rk2"] if two_keys else [rkey]
    lroot = write_files(pl, lkey, *left[1:4])
    rroot = write_files(pr, rkey, *right[1:4])
    threshold = as_kind([cut], kind)[0]
    l_, r_ = read(lroot, left[4]), read(rroot, right[4])
    pl = pd.read_parquet(lroot)
    pr = pd.read_parquet(rroot)
    if lfilter in ("key", "both"):
        l_, pl = l_[l_[lkey] >= threshold], pl[pl[lkey] >= threshold]
    if lfilter in ("value", "both"):
        l_, pl = l_[l_.lv != 1], pl[pl.lv != 1]
    if rfilter in ("key", "both"):
        r_, pr = r_[r_[rkey] >= threshold], pr[pr[rkey] >= threshold]
    if rfilter in ("value", "both"):
        r_, pr = r_[r_.rv != 1], pr[pr.rv != 1]
    if same_name:  # the other same-name columns are suffixed
        got = sd.merge(l_, r_, how=how, on=lon)
    else:
        got = sd.merge(l_, r_, how=how, left_on=lon, right_on=ron)
    check(got, oracle(pl, pr, how, lon, ron))


# ------------------------------------------------------------------ isin


@SETTINGS
@given(
    left=sides(),
    right=sides(),
    kind=st.sampled_from(sorted(KINDS)),
    negated=st.booleans(),
    cut=st.integers(0, 40),
    seed=st.integers(0, 2**16),
)
def test_isin_both_ways(left, right, kind, negated, cut, seed):
    aroot = write_files(frame(left[0], kind, None, seed, "a"), "k", *left[1:4])
    broot = write_files(frame(right[0], kind, None, seed + 1, "b"), "k", *right[1:4])
    a, b = read(aroot, left[4]), read(broot, right[4])
    pa_, pb = pd.read_parquet(aroot), pd.read_parquet(broot)
    threshold = as_kind([cut], kind)[0]
    b, pb = b[b.bv != 1], pb[pb.bv != 1]
    for x, px, y, py in ((a, pa_, b, pb), (b, pb, a[a.k >= threshold], pa_[pa_.k >= threshold])):
        mask, pmask = x.k.isin(y.k), px.k.isin(py.k)
        if negated:
            mask, pmask = ~mask, ~pmask
        check(x[mask], px[pmask])
        check(x.k[mask], px.k[pmask])  # a Series filtered by it


# ---------------------------------------------------------------- chains


@settings(SETTINGS, max_examples=15)  # four plans per example
@given(
    left=sides(),
    right=sides(),
    how=st.sampled_from(["inner", "left", "right", "leftsemi"]),
    kind=st.sampled_from(sorted(KINDS)),
    seed=st.integers(0, 2**16),
)
def test_join_groupby_reset_index_join(left, right, how, kind, seed):
    lroot = write_files(frame(left[0], kind, None, seed, "l"), "k", *left[1:4])
    rroot = write_files(frame(right[0], kind, None, seed + 1, "r"), "k", *right[1:4])
    l_, r_ = read(lroot, left[4]), read(rroot, right[4])
    pl, pr = pd.read_parquet(lroot), pd.read_parquet(rroot)
    joined = sd.merge(l_, r_, how=how, on="k")
    pj = oracle(pl, pr, how, ["k"], ["k"])
    sums = joined.groupby("k").lv.sum().reset_index()
    psums = pj.groupby("k").lv.sum().reset_index()
    check(sums, psums)
    again = sd.merge(sums, r_, how="left" if how == "right" else "inner", on="k")
    check(again, oracle(psums, pr, "left" if how == "right" else "inner", ["k"], ["k"]))
    back = sd.merge(l_, sums, how="leftanti", on="k")
    check(back, oracle(pl, psums, "leftanti", ["k"], ["k"]))


# ------------------------------------------------------- hostile plans


@pytest.fixture(scope="module")
def keyed():
    """Keys 0..19 twice each in 4 files (a key across the first cut) and
    even keys in 3 files."""
    left = pd.DataFrame({"k": np.repeat(np.arange(20), 2), "a": np.arange(40)[::-1]})
    left["x"] = np.arange(40) % 3
    right = pd.DataFrame({"k": np.arange(0, 40, 2), "b": np.arange(20) * 2})
    lroot = write_files(left, "k", [9, 20, 30])
    rroot = write_files(right, "k", [5, 12])
    return left, right, read(lroot), read(rroot)


@pytest.mark.parametrize("how", HOWS)
def test_self_joins(keyed, how):
    """Regression: a self-join has one frame on both sides, and the side a
    task reads whole was found by identity: ``right`` range self-joins
    repeated right rows (88 rows for 80), broadcast self-joins joined the
    whole frame with itself in every partition (320 rows for 80)."""
    pl, _, l_, _ = keyed
    want = oracle(pl, pl, how, ["k"], ["k"])
    if how != "outer":
        got = sd.merge(l_, l_, how=how, on="k", broadcast=False)
        assert "RangeJoin" in plan_heads(got)
        check(got, want)
    if how in ("inner", "left", "right"):
        check(sd.merge(l_, l_, how=how, on="k", broadcast=True), want)
    if how == "inner":  # the broadcast side's key, not the other's, is indexed
        for lk, rk in (("a", "k"), ("k", "a")):
            got = sd.merge(l_, l_, left_on=lk, right_on=rk, broadcast=True)
            check(got, oracle(pl, pl, how, [lk], [rk]))


def test_self_isin(keyed):
    pl, _, l_, _ = keyed
    check(l_[l_.k.isin(l_.k)], pl[pl.k.isin(pl.k)])
    check(l_[~l_.k.isin(l_[l_.x == 1].k)], pl[~pl.k.isin(pl[pl.x == 1].k)])


@pytest.mark.parametrize(
    "ltype, rtype, ranges",
    [
        ("int32", "int64", True),
        ("uint16", "int64", True),
        ("int64", "float64", False),  # floats have no bounds (NaN matches NaN)
        ("datetime64[ms]", "datetime64[ns]", True),
        ("datetime64[s]", "datetime64[us]", True),
    ],
)
def test_key_dtypes_that_differ_between_sides(keyed, ltype, rtype, ranges):
    pl, pr, _, _ = keyed
    if ltype.startswith("datetime"):
        stamp = pd.Timestamp("2020-01-01")
        pl = pl.assign(k=(stamp + pd.to_timedelta(pl.k, unit="h")).astype(ltype))
        pr = pr.assign(k=(stamp + pd.to_timedelta(pr.k, unit="h")).astype(rtype))
    else:
        pl, pr = pl.astype({"k": ltype}), pr.astype({"k": rtype})
    l_ = read(write_files(pl, "k", [9, 20, 30]))
    r_ = read(write_files(pr, "k", [5, 12]))
    for how in ("inner", "left", "right", "leftanti"):
        got = sd.merge(l_, r_, how=how, on="k", broadcast=False)
        assert ("RangeJoin" in plan_heads(got)) == ranges
        check(got, oracle(pl, pr, how, ["k"], ["k"]))
    check(r_[r_.k.isin(l_.k)], pr[pr.k.isin(pl.k)])
    check(l_[~l_.k.isin(r_.k)], pl[~pl.k.isin(pr.k)])


def test_timezones(keyed):
    pl, pr, _, _ = keyed
    stamp = pd.Timestamp("2020-01-01")
    pl = pl.assign(k=(stamp + pd.to_timedelta(pl.k, unit="h")).dt.tz_localize("Asia/Tokyo"))
    pr = pr.assign(k=(stamp + pd.to_timedelta(pr.k, unit="h")).dt.tz_localize("US/Eastern"))
    naive = pr.assign(k=pr.k.dt.tz_localize(None))
    l_ = read(write_files(pl, "k", [9, 20, 30]))
    r_ = read(write_files(pr, "k", [5, 12]))
    n_ = read(write_files(naive, "k", [5, 12]))
    for how in ("inner", "left", "right"):  # two zones: the same instants compare
        got = sd.merge(l_, r_, how=how, on="k", broadcast=False)
        assert "RangeJoin" in plan_heads(got)
        check(got, oracle(pl, pr, how, ["k"], ["k"]))
    check(l_[l_.k.isin(r_.k)], pl[pl.k.isin(pr.k)])
    with pytest.raises(ValueError, match="datetime64"):  # aware with naive: pandas' error
        sd.merge(l_, n_, on="k")
    check(l_[l_.k.isin(n_.k)], pl[pl.k.isin(naive.k)])  # never equal, as in pandas


def test_key_overwritten_or_renamed_after_reading(keyed):
    """Bounds read from the files no longer hold for a key ``assign``ed or
    renamed after reading, also through a range join and a groupby."""
    pl, pr, l_, r_ = keyed
    shifted, pshifted = l_.assign(k=39 - l_.k), pl.assign(k=39 - pl.k)  # now descending
    assert column_bounds(shifted.expr, "k") is None
    for how in ("inner", "left", "right"):
        got = sd.merge(shifted, r_, how=how, on="k", broadcast=False)
        assert "RangeJoin" not in plan_heads(got)
        check(got, oracle(pshifted, pr, how, ["k"], ["k"]))
    set_key, pset_key = l_[["k", "a", "x"]], pl.copy()
    set_key["k"] = set_key["a"]
    pset_key["k"] = pset_key["a"]
    check(
        sd.merge(set_key, r_, on="k", broadcast=False), oracle(pset_key, pr, "inner", ["k"], ["k"])
    )
    joined = sd.merge(l_, r_, how="left", on="k", broadcast=False)
    pjoined = oracle(pl, pr, "left", ["k"], ["k"])
    moved, pmoved = joined.assign(k=joined.k + 7), pjoined.assign(k=pjoined.k + 7)
    assert column_bounds(moved.expr, "k") is None
    check(moved.groupby("k").a.sum().reset_index(), pmoved.groupby("k").a.sum().reset_index())
    check(sd.merge(moved, r_, on="k", broadcast=False), oracle(pmoved, pr, "inner", ["k"], ["k"]))
    check(r_[r_.k.isin(moved.k)], pr[pr.k.isin(pmoved.k)])
    # a key renamed into place, and two keys swapped by a rename
    renamed = l_.drop(columns=["k"]).rename(columns={"a": "k"})
    prenamed = pl.drop(columns=["k"]).rename(columns={"a": "k"})
    check(
        sd.merge(renamed, r_, on="k", broadcast=False), oracle(prenamed, pr, "inner", ["k"], ["k"])
    )
    swapped = r_.rename(columns={"k": "b", "b": "k"})
    pswapped = pr.rename(columns={"k": "b", "b": "k"})
    for how in ("left", "right"):
        got = sd.merge(l_, swapped, how=how, on="k", broadcast=False)
        check(got, oracle(pl, pswapped, how, ["k"], ["k"]))


def test_partition_selections_and_repartition(keyed):
    pl, pr, l_, r_ = keyed
    parts = [pl.iloc[a:b] for a, b in ((0, 9), (9, 20), (20, 30), (30, 40))]
    for picks in ([1, 3], [3, 1], [0, 0, 2], [2]):
        chosen, pchosen = l_.partitions[picks], pd.concat([parts[i] for i in picks])
        for how in ("inner", "left", "right", "leftsemi"):
            got = sd.merge(chosen, r_.partitions[[0, 2]], how=how, on="k", broadcast=False)
            want = oracle(pchosen, pr[(pr.k < 10) | (pr.k >= 24)], how, ["k"], ["k"])
            check(got, want)
        check(r_[r_.k.isin(chosen.k)], pr[pr.k.isin(pchosen.k)])
    for n in (1, 3, 7):
        again = l_.repartition(npartitions=n)
        check(
            sd.merge(again, r_, how="left", on="k", broadcast=False),
            oracle(pl, pr, "left", ["k"], ["k"]),
        )


@pytest.mark.timeout(120)
def test_on_a_cluster(tmp_path):
    """Worker processes (no shared memory filesystem: files on disk): a right
    range self-join, a filtered ``leftanti`` and the per-key sums of a range
    join joined back, with the answers of pandas."""
    from shoal.distributed import Client

    pl = pd.DataFrame({"k": np.repeat(np.arange(60), 2), "a": np.arange(120) % 7})
    pr = pd.DataFrame({"k": np.arange(0, 60, 3), "b": np.arange(20)})
    for name, df, cuts in (("l", pl, [25, 50, 51, 90]), ("r", pr, [7, 14])):
        (tmp_path / name).mkdir()
        edges = [0, *cuts, len(df)]
        for i, (lo, hi) in enumerate(zip(edges, edges[1:])):
            df.iloc[lo:hi].to_parquet(tmp_path / name / f"{i}.parquet", index=False)
    l_ = sd.read_parquet(tmp_path / "l", blocksize=1)
    r_ = sd.read_parquet(tmp_path / "r", blocksize=1)
    selfjoin = sd.merge(l_, l_, how="right", on="k", broadcast=False)
    anti = sd.merge(l_, r_[r_.b != 4], how="leftanti", on="k", broadcast=False)
    sums = sd.merge(l_, r_, on="k", broadcast=False).groupby("k").a.sum().reset_index()
    back = sd.merge(r_, sums, how="left", on="k", broadcast=False)
    for frame in (selfjoin, anti, back):
        assert "RangeJoin" in plan_heads(frame)
    psums = pl.merge(pr, on="k").groupby("k").a.sum().reset_index()
    wants = (
        oracle(pl, pl, "right", ["k"], ["k"]),
        oracle(pl, pr[pr.b != 4], "leftanti", ["k"], ["k"]),
        oracle(pr, psums, "left", ["k"], ["k"]),
    )
    with Client(n_workers=2, threads_per_worker=1, processes=True):
        gots = [frame.compute() for frame in (selfjoin, anti, back)]
    for got, want in zip(gots, wants):
        pd.testing.assert_frame_equal(normalized(got), normalized(want), check_dtype=False)


def test_a_join_the_planner_chooses_again_keeps_what_was_planned_above():
    """Regression: a groupby (partitionwise) and an ``isin`` (IsinRanges)
    were planned on the ranges of a broadcast join's driving side, then the
    join planner broadcast the other side once a filter reached the reader:
    455 groups for 434, and 2 rows for 8 kept by the ``isin``."""
    rng = np.random.default_rng(0)
    n = 20000
    pa_ = pd.DataFrame({"k": np.arange(n), "a": rng.integers(0, 9, n)})
    pb = pd.DataFrame({"k": rng.integers(0, n, 3000), "b": rng.integers(0, 9, 3000)})
    pc = pd.DataFrame({"k": np.arange(0, n, 7), "c": 1})
    a = read(write_files(pa_, "k", [5000, 10000, 15000]))
    b = read(write_files(pb.sample(frac=1, random_state=1), "b", [1000, 2000]))  # unordered k
    c = read(write_files(pc, "k", [300, 600, 900, 1200]))
    for cut in (300, 3000):
        joined = a[a.k < cut].merge(b, on="k")
        assert joined.expr.algorithm == "broadcast-right"  # as built: a's ranges
        pjoined = pa_[pa_.k < cut].merge(pb, on="k")
        sums = joined.groupby("k").b.sum().reset_index()
        check(sums, pjoined.groupby("k").b.sum().reset_index())
        check(c[c.k.isin(joined.k)], pc[pc.k.isin(pjoined.k)])
        check(joined[~joined.k.isin(c.k)], pjoined[~pjoined.k.isin(pc.k)])


def test_isin_of_a_lazy_index_fails_clearly(keyed):
    _, _, l_, r_ = keyed
    index = l_.groupby("k").a.sum().index
    with pytest.raises(TypeError, match="tests a Series, not a Index"):
        index.isin(r_.k)


def test_isin_ranges_planned_on_ranges_since_gone_gathers():
    """An IsinRanges whose meeting partitions no longer hold when lowered
    (its inputs rewritten) plans again: here it gathers the values."""
    from shoal.dataframe.collection import new_collection
    from shoal.dataframe.expr import FromPandas
    from shoal.dataframe.membership import IsinRanges

    s = pd.Series([5, 1, 4, 2], name="k")
    o = pd.Series([1, 5, 3], name="k")
    expr = IsinRanges(FromPandas.of(s, 2), FromPandas.of(o, 2), ((0,), (1,)))
    assert "IsinRanges" not in expr.lower().explain_text()
    check(new_collection(expr), s.isin(o))


@pytest.mark.parametrize("how", ["left", "right"])
@pytest.mark.parametrize("categories", ["read", "cast"])
def test_partitions_meeting_none_keep_real_categories(how, categories):
    """Regression: a driving partition whose range meets no partition of the
    other side joined the other side's meta, whose unknown categories are a
    placeholder: ``__UNKNOWN_CATEGORIES__`` showed among the categories read
    from parquet, and integer categories (cast after reading) failed to
    concatenate with it (``TypeError: dtype of categories must be the same``)."""
    pl = pd.DataFrame({"k": np.arange(40), "a": np.arange(40)})
    pr = pd.DataFrame({"k": np.arange(20), "c": list("abcd") * 5})
    if categories == "cast":
        pr["c"] = np.arange(20) % 4
    l_ = read(write_files(pl, "k", [10, 20, 30]))
    r_ = read(write_files(pr.astype({"c": "category"}), "k", [10]))
    if categories == "cast":
        r_ = r_.assign(c=r_.c.astype("category"))
    pr = pr.astype({"c": "category"})
    got = sd.merge(l_, r_, how="left", on="k", broadcast=False)
    want = oracle(pl, pr, "left", ["k"], ["k"])
    if how == "right":
        got = sd.merge(r_, l_, how="right", on="k", broadcast=False)
        want = oracle(pr, pl, "right", ["k"], ["k"])
    assert "RangeJoin" in plan_heads(got)
    out = compute_checked(got)
    assert list(out.c.cat.categories) == list(pr.c.cat.categories)
    check(got, want)


def test_categories_of_a_partition_filtered_out():
    """Regression (the parquet reader's): a left join whose right partition
    a filter empties took its categorical column from that empty piece, whose
    categories were object, and the partitions no longer concatenated
    (``TypeError: dtype of categories must be the same``)."""
    pl = pd.DataFrame({"k": ["k0", "k1", "k2", "k3"], "lcat": list("xyxy")})
    pr = pd.DataFrame({"k": ["k0", "k1", "k2", "k3"], "rcat": list("zwzw")})
    l_ = read(write_files(pl.astype({"lcat": "category"}), "k", [2]))
    r_ = read(write_files(pr.astype({"rcat": "category"}), "k", [2]))
    got = sd.merge(l_, r_[r_.k >= "k3"], how="left", on="k", broadcast=False)
    check(got, oracle(pl, pr[pr.k >= "k3"], "left", ["k"], ["k"]))
