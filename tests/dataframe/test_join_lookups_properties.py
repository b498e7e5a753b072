"""The join fast paths of this session attacked with generated data, each
answer against pandas (rows as a multiset): broadcast joins by ``KeyIndex``
lookups (every integer dtype, extremes, keys outside the other side's range,
duplicates, empty sides), range joins over files written in key order,
``isin`` among sorted partitions (NaN, NaT), groupby results joined with a
small side (``join_semi.py``) and small sorts from the sample pass."""

import itertools
import os

import fsspec
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shoal.dataframe as sd
from shoal.testing import compute_checked

EXAMPLES = int(os.environ.get("SHOAL_JOIN_LOOKUP_EXAMPLES", "80"))  # more to hunt harder
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
_paths = itertools.count()


def normalized(df) -> pd.DataFrame:
    if isinstance(df, pd.Series):
        df = df.to_frame()
    cats = [c for c, d in df.dtypes.items() if isinstance(d, pd.CategoricalDtype)]
    df = df.astype(dict.fromkeys(cats, object)).reset_index(drop=True)
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


def check(got, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        normalized(compute_checked(got)), normalized(want), check_dtype=False
    )


@pytest.fixture(autouse=True, scope="module")
def _forget_files():
    yield
    fs = fsspec.filesystem("memory")
    if fs.exists("/jlp"):
        fs.rm("/jlp", recursive=True)


# ------------------------------------------------------- broadcast lookups


def int_value(dtype: str):
    """Values of ``dtype``: its extremes, values near 0 and random ones."""
    info = np.iinfo(dtype)
    low, high = int(info.min), int(info.max)
    return (
        st.sampled_from(sorted({low, low + 1, 0, high - 1, high}))
        | st.integers(max(low, -5), min(high, 40))
        | st.integers(low, high)
    )


@st.composite
def broadcast_case(draw):
    """A small side (keys unique or not) and a big side whose keys are the
    small side's, or any others, on 1-3 integer keys of any dtypes."""
    dtypes = draw(st.lists(st.sampled_from(INT_DTYPES), min_size=1, max_size=3))
    n_small, n_big = draw(st.integers(0, 12)), draw(st.integers(0, 40))
    small = pd.DataFrame(
        {
            f"k{j}": np.array(
                draw(st.lists(int_value(d), min_size=n_small, max_size=n_small)), dtype=d
            )
            for j, d in enumerate(dtypes)
        }
    )
    if draw(st.booleans()):
        small = small.drop_duplicates()
    rows = []
    for _ in range(n_big):
        if len(small) and draw(st.booleans()):
            i = draw(st.integers(0, len(small) - 1))
            row = [small[f"k{j}"].iloc[i] for j in range(len(dtypes))]
        else:
            row = [None] * len(dtypes)
        rows.append([draw(int_value(d)) if v is None else int(v) for v, d in zip(row, dtypes)])
    big = pd.DataFrame(
        {f"k{j}": np.array([r[j] for r in rows], dtype=d) for j, d in enumerate(dtypes)}
    )
    return small.assign(s=np.arange(len(small))), big.assign(b=np.arange(len(big)))


@SETTINGS
@given(
    case=broadcast_case(),
    how=st.sampled_from(["inner", "left"]),
    small_left=st.booleans(),
    by_on=st.booleans(),
    parts=st.integers(1, 4),
    broadcast=st.sampled_from([None, False]),  # False: a left join looks up per partition
)
def test_broadcast_lookups_match_pandas(case, how, small_left, by_on, parts, broadcast):
    small, big = case
    keys = [c for c in small.columns if c.startswith("k")]
    if not by_on:
        big = big.rename(columns={k: f"r{k}" for k in keys})
    left, right = (small, big) if small_left else (big, small)
    if by_on:
        kw = {"on": keys}
    else:
        lk = keys if small_left else [f"r{k}" for k in keys]
        rk = [f"r{k}" for k in keys] if small_left else keys
        kw = {"left_on": lk, "right_on": rk}
    want = pd.merge(left, right, how=how, **kw)
    dl = sd.from_pandas(left, npartitions=parts if not small_left else 1)
    dr = sd.from_pandas(right, npartitions=parts if small_left else 1)
    check(dl.merge(dr, how=how, broadcast=broadcast, **kw), want)


# ------------------------------------------------ groupby joined with a small side

KEY_KINDS = ["int", "float", "str", "cat"]


def key_values(codes, kind: str) -> pd.Series:
    """Codes (-1: missing) as keys of ``kind``."""
    codes = np.asarray(codes)
    if kind == "int":
        return pd.Series(codes, dtype="int64")
    if kind == "float":
        return pd.Series(np.where(codes < 0, np.nan, codes / 2), dtype="float64")
    text = pd.Series([None if c < 0 else f"k{c}" for c in codes], dtype="str")
    if kind == "str":
        return text
    return text.astype(pd.CategoricalDtype([f"k{c}" for c in range(-2, 12)]))


@st.composite
def grouped_case(draw):
    kind = draw(st.sampled_from(KEY_KINDS))
    n = draw(st.integers(8, 80))
    code = st.integers(-1 if kind != "int" else 0, 9)
    facts = pd.DataFrame(
        {
            "a": key_values(draw(st.lists(code, min_size=n, max_size=n)), kind),
            "b": draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
            "v": draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)),
        }
    )
    m = draw(st.integers(0, n // 4))
    dims = pd.DataFrame(
        {
            "a": key_values(draw(st.lists(st.integers(-1, 11), min_size=m, max_size=m)), kind),
            "b": draw(st.lists(st.integers(0, 4), min_size=m, max_size=m)),
            "d": np.arange(m),
        }
    )
    if kind == "int":
        dims["a"] = dims["a"].clip(lower=0)
    return facts, dims


def _group(df, keys, dropna, style, having):
    """A groupby's result with its keys as columns, in one of several styles."""
    g = df.groupby(keys, dropna=dropna, observed=True)
    if style == "reset":
        out = g.v.sum().reset_index()
    elif style == "as_index":
        out = df.groupby(keys, dropna=dropna, observed=True, as_index=False).v.sum()
    else:  # named aggregations
        out = g.agg(total=("v", "sum"), n=("v", "count")).reset_index()
    value = "v" if style != "named" else "total"
    if having:
        out = out[out[value] > 0]
    return out


@SETTINGS
@given(
    case=grouped_case(),
    group_keys=st.sampled_from([["a"], ["a", "b"], ["b", "a"]]),
    join_keys=st.sampled_from([["a"], ["a", "b"], ["b"]]),
    how=st.sampled_from(["inner", "left", "right", "leftsemi", "leftanti"]),
    grouped_left=st.booleans(),
    dropna=st.booleans(),
    style=st.sampled_from(["reset", "as_index", "named"]),
    having=st.booleans(),
    parts=st.integers(1, 4),
)
def test_grouped_side_joined_with_a_small_side(
    case, group_keys, join_keys, how, grouped_left, dropna, style, having, parts
):
    facts, dims = case
    join_keys = [k for k in join_keys if k in group_keys]
    if not join_keys:
        join_keys = group_keys[:1]
    dims = dims[[*join_keys, "d"]]
    grouped = _group(facts, group_keys, dropna, style, having)
    lazy = _group(sd.from_pandas(facts, npartitions=parts), group_keys, dropna, style, having)
    small = sd.from_pandas(dims, npartitions=1)
    left, right = (grouped, dims) if grouped_left else (dims, grouped)
    lleft, lright = (lazy, small) if grouped_left else (small, lazy)
    if how in ("leftsemi", "leftanti"):
        lk = pd.MultiIndex.from_frame(left[join_keys])
        found = np.asarray(lk.isin(pd.MultiIndex.from_frame(right[join_keys])))
        want = left[found if how == "leftsemi" else ~found]
    else:
        want = left.merge(right, how=how, on=join_keys)
    check(lleft.merge(lright, how=how, on=join_keys), want)


# ------------------------------------------------------------- range joins


def write_sorted(df: pd.DataFrame, key: str, cuts) -> str:
    """``df`` sorted by ``key`` as one parquet file per slice between
    ``cuts`` (equal keys may straddle files; empty files)."""
    df = df.sort_values(key, kind="stable").reset_index(drop=True)
    root = f"memory://jlp/{next(_paths)}"
    edges = [0, *sorted(c % (len(df) + 1) for c in cuts), len(df)]
    for i, (a, b) in enumerate(zip(edges, edges[1:])):
        df.iloc[a:b].to_parquet(f"{root}/part.{i:03d}.parquet", index=False)
    return root


@st.composite
def range_case(draw):
    dtype = draw(st.sampled_from(INT_DTYPES))
    info = np.iinfo(dtype)
    ends = [int(info.min), int(info.max)]
    value = st.sampled_from(ends) | st.integers(max(int(info.min), -6), min(int(info.max), 30))
    unique = sorted(set(draw(st.lists(value, min_size=1, max_size=30))))
    other = draw(st.lists(st.sampled_from(unique) | value, min_size=1, max_size=50))
    cuts = [draw(st.lists(st.integers(0, 60), min_size=1, max_size=5)) for _ in range(2)]
    dims = pd.DataFrame({"k": np.array(unique, dtype=dtype), "d": np.arange(len(unique))})
    facts = pd.DataFrame({"k": np.array(other, dtype=dtype), "f": np.arange(len(other))})
    # a second key: the pairs of dims stay unique, facts' often meet them
    dims["j"] = np.array(draw(st.lists(st.integers(0, 2), min_size=len(dims), max_size=len(dims))))
    facts["j"] = np.array(
        draw(st.lists(st.integers(0, 2), min_size=len(facts), max_size=len(facts)))
    )
    return dims, facts, cuts


@SETTINGS
@given(
    case=range_case(),
    how=st.sampled_from(["inner", "left", "right"]),
    dims_left=st.booleans(),
    keys=st.sampled_from([["k"], ["k", "j"], ["j", "k"]]),
)
def test_range_joins_of_sorted_files_match_pandas(case, how, dims_left, keys):
    dims, facts, (c1, c2) = case
    if keys == ["k"]:
        dims, facts = dims.drop(columns="j"), facts.drop(columns="j")
    ld, lf = (
        sd.read_parquet(write_sorted(dims, "k", c1), blocksize=1),
        sd.read_parquet(write_sorted(facts, "k", c2), blocksize=1),
    )
    left, right, lleft, lright = (dims, facts, ld, lf) if dims_left else (facts, dims, lf, ld)
    check(
        lleft.merge(lright, how=how, on=keys, broadcast=False), left.merge(right, how=how, on=keys)
    )


# ------------------------------------------------------------------ isin


def as_values(codes, kind: str) -> pd.Series:
    """Codes (-1: missing) as floats with NaN, timestamps with NaT or ints."""
    codes = np.asarray(codes, dtype="int64")
    if kind == "float":
        return pd.Series(np.where(codes < 0, np.nan, codes / 4))
    if kind == "ts":
        stamps = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(codes, unit="h"))
        return stamps.where(codes >= 0)
    return pd.Series(codes, dtype=kind)


@SETTINGS
@given(
    kind=st.sampled_from(["float", "ts", "int64", "uint16", "int8"]),
    tested=st.lists(st.integers(-1, 30), max_size=40),
    values=st.lists(st.integers(-1, 30), max_size=40),
    cuts=st.lists(st.lists(st.integers(0, 45), max_size=4), min_size=2, max_size=2),
    from_files=st.booleans(),
)
def test_isin_of_sorted_lazy_series_matches_pandas(kind, tested, values, cuts, from_files):
    if kind != "float" and kind != "ts":
        tested, values = [abs(c) for c in tested], [abs(c) for c in values]
    s = pd.DataFrame({"k": as_values(tested, kind), "i": np.arange(len(tested))})
    o = pd.DataFrame({"k": as_values(values, kind)})
    if from_files:
        ls = sd.read_parquet(write_sorted(s, "k", cuts[0]), blocksize=1)
        lo = sd.read_parquet(write_sorted(o, "k", cuts[1]), blocksize=1)
    else:
        s, o = s.sort_values("k"), o.sort_values("k")
        ls = sd.from_pandas(s, npartitions=max(1, min(3, len(s))), sort=False)
        lo = sd.from_pandas(o, npartitions=max(1, min(3, len(o))), sort=False)
    got = ls.assign(found=ls.k.isin(lo.k))
    check(got, s.assign(found=s.k.isin(o.k)))


# ------------------------------------------------------------ small sorts


@st.composite
def small_frame(draw):
    n = draw(st.integers(0, 12))
    ints = st.lists(st.integers(-3, 3), min_size=n, max_size=n)
    cats = pd.Categorical(
        [["b", "a", None, "c"][i % 4] for i in draw(ints)], categories=["c", "b", "a"]
    )
    index = draw(st.permutations(list(range(n))))  # an index not in order
    return pd.DataFrame(
        {
            "i": draw(ints),
            "f": [np.nan if i == 0 else i / 2 for i in draw(ints)],
            "c": cats,
            "s": pd.Series([None if i == 3 else f"t{i}" for i in draw(ints)], dtype="str"),
            "t": pd.to_datetime([None if i < -2 else f"2024-01-0{i + 4}" for i in draw(ints)]),
            "o": [["x", 1, None][i % 3] for i in draw(ints)],  # mixed objects
        },
        index=index,
    )


@SETTINGS
@given(
    pdf=small_frame(),
    by=st.lists(st.sampled_from(["i", "f", "c", "s", "t"]), min_size=1, max_size=3, unique=True),
    ascending=st.booleans() | st.lists(st.booleans(), min_size=3, max_size=3),
    na_position=st.sampled_from(["first", "last"]),
    parts=st.integers(1, 5),
    out_parts=st.none() | st.integers(1, 20),
)
def test_small_sorts_match_pandas(pdf, by, ascending, na_position, parts, out_parts):
    if isinstance(ascending, list):
        ascending = ascending[: len(by)]
    lazy = sd.from_pandas(pdf, npartitions=parts, sort=False)
    got = lazy.sort_values(by, ascending=ascending, na_position=na_position, npartitions=out_parts)
    want = pdf.sort_values(by, ascending=ascending, na_position=na_position, kind="stable")
    out = compute_checked(got)
    pd.testing.assert_frame_equal(out, want)


# ------------------------------------------------------ regressions found here


@pytest.mark.parametrize("dtype", ["Int64", "UInt8", "Int8"])
@pytest.mark.parametrize("how", ["inner", "left"])
@pytest.mark.parametrize("small_left", [True, False])
def test_nullable_integer_keys_with_missing_values_join_as_pandas(dtype, how, small_left):
    # key lookups read keys as NumPy integers: a nullable key's NA broke them
    small = pd.DataFrame({"k": pd.array([1, 2, None], dtype=dtype), "s": [1, 2, 3]})
    big = pd.DataFrame({"k": pd.array([1, None, 2, 5, 2], dtype=dtype), "b": range(5)})
    left, right = (small, big) if small_left else (big, small)
    got = sd.from_pandas(left, npartitions=1 if small_left else 2).merge(
        sd.from_pandas(right, npartitions=2 if small_left else 1), on="k", how=how
    )
    check(got, left.merge(right, on="k", how=how))


def test_nunique_by_sorting_of_uint64_keys_above_the_int64_range():
    from shoal.dataframe.groupby_kernels import nunique_by_sorting

    top = np.iinfo("uint64").max
    df = pd.DataFrame(
        {
            "k": np.array([top, top - 1, top, top], dtype="uint64"),
            "v": np.array([1, 2, 3, 1], dtype="uint64"),
        }
    )
    want = df.groupby("k").v.nunique()
    pd.testing.assert_series_equal(nunique_by_sorting(df, "k", "v"), want)
    small = pd.DataFrame({"k": np.array([-128, 127, -128], dtype="int8"), "v": [5, 5, 6]})
    pd.testing.assert_series_equal(
        nunique_by_sorting(small, "k", "v"), small.groupby("k").v.nunique()
    )


@pytest.mark.parametrize("int_tested", [True, False])
def test_isin_of_integers_beyond_2_53_among_floats_is_exact(int_tested):
    # a lookup among floats rounded 2**53 + 1 to 2**53 (pandas compares exactly)
    ints = pd.Series([-1, 2**53 + 1, 5, 3], dtype="int64", name="k")
    floats = pd.Series([float(2**53), 3.0, np.nan], name="k")
    tested, values = (ints, floats) if int_tested else (floats, ints)
    got = sd.from_pandas(tested, npartitions=2).isin(sd.from_pandas(values, npartitions=2))
    pd.testing.assert_series_equal(got.compute(), tested.isin(values))
