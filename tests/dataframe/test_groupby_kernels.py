"""The bincount route of the groupby chunk against the pandas route, and
string keys read from parquet as categoricals (encoded_keys.py)."""

import uuid

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shoal
import shoal.dataframe as sd
from shoal.dataframe.groupby import groupby_chunk
from shoal.dataframe.groupby_kernels import fast_chunk
from shoal.dataframe.optimize import optimize_expr
from shoal.dataframe.parquet import ReadParquet
from shoal.testing import assert_eq

SPECS = {
    0: ("f", "sum"),
    1: ("f", "mean"),
    2: ("f", "count"),
    3: ("i", "count"),
    4: ("s", "count"),
    5: (None, "size"),
    6: ("g", "mean"),
}


def _frame(n, seed, missing_keys=True):
    rng = np.random.default_rng(seed)
    names = ["x", "y", "zz"] + ([None] if missing_keys else [])
    return pd.DataFrame(
        {
            "s": pd.Series(rng.choice(names, n), dtype="str"),
            "o": pd.Series(rng.choice(["p", "q", "r"], n), dtype=object),
            "i": rng.integers(-3, 3, n),
            "b": rng.random(n) < 0.5,
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 3, n), "D"),
            "k": np.where(
                rng.random(n) < (0.2 if missing_keys else 0), np.nan, rng.integers(0, 4, n)
            ),
            "f": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),
            "g": rng.normal(size=n),
        }
    )


def _pandas_route(part, keys, specs, dropna):
    opts = {"sort": False, "dropna": dropna, "observed": True}
    # one aggregation the bincount route does not do sends the whole chunk through pandas
    extra = {**specs, 99: ("g", "max")}
    out = groupby_chunk(part, by=keys, opts=opts, specs=extra, split_out=1)
    del out[99]
    return out


@pytest.mark.parametrize(
    "keys",
    [["s"], ["o"], ["i"], ["b"], ["t"], ["k"], ["s", "i"], ["i", "s", "b"], ["t", "o"], ["k", "s"]],
)
@pytest.mark.parametrize("n", [0, 1, 7, 500])
def test_fast_route_matches_pandas_route(keys, n):
    part = _frame(n, seed=n + len(keys))
    fast = fast_chunk(part, keys, SPECS, True, {})
    assert fast is not None
    slow = _pandas_route(part, keys, SPECS, True)
    assert fast.keys() == slow.keys()
    for k in fast:
        a, b = fast[k], slow[k]
        # same groups in the same (first appearance) order, same dtypes and names
        pd.testing.assert_index_equal(a.index, b.index)
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
        else:
            pd.testing.assert_series_equal(a, b, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("keys", [["s"], ["s", "i"], ["i", "s", "b"], ["k", "s"], ["t"]])
@pytest.mark.parametrize("n", [0, 3, 500])
def test_fast_route_in_any_order(keys, n):
    """Without keep_order the groups may come in any order, with the same values."""
    part = _frame(n, seed=n + 7)
    part.loc[part.index[:2], "g"] = [np.inf, -np.inf][: min(n, 2)]  # sums NaN, nothing missing
    fast = fast_chunk(part, keys, SPECS, True, {}, keep_order=False)
    slow = _pandas_route(part, keys, SPECS, True)
    for k in fast:
        a, b = fast[k].sort_index(), slow[k].sort_index()
        pd.testing.assert_index_equal(a.index, b.index)
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
        else:
            pd.testing.assert_series_equal(a, b, check_exact=False, rtol=1e-12)


def test_fast_route_declines_what_it_cannot_do():
    part = _frame(20, seed=1)
    assert fast_chunk(part, ["s"], {0: ("f", "std")}, True, {}) is None
    assert fast_chunk(part, ["s"], {0: ("i", "sum")}, True, {}) is None  # int sums stay exact
    assert fast_chunk(part, ["s"], {0: ("f", "sum")}, False, {}) is None  # missing keys kept
    cat = part.assign(c=part.o.astype("category"))
    assert fast_chunk(cat, ["c"], {0: ("f", "sum")}, True, {}) is None
    complete = _frame(20, seed=1, missing_keys=False)
    assert fast_chunk(complete, ["s"], {0: ("f", "sum")}, False, {}) is not None


@pytest.mark.parametrize("dropna", [True, False])
def test_groupby_results_through_both_routes(variants, dropna):
    pdf = _frame(60, seed=3, missing_keys=not dropna)
    agg = {"total": ("f", "sum"), "avg": ("g", "mean"), "n": ("f", "count"), "rows": ("i", "count")}
    for _, df in variants(pdf):
        for keys in (["s"], ["s", "i"], ["o", "t"]):
            expect = pdf.groupby(keys, dropna=dropna).agg(**agg)
            assert_eq(df.groupby(keys, dropna=dropna).agg(**agg), expect)
            assert_eq(
                df.groupby(keys, dropna=dropna).size(), pdf.groupby(keys, dropna=dropna).size()
            )


# ------------------------------------------------ dictionary reads and encoded keys


@pytest.fixture
def url():
    path = f"memory://shoal-kernels-{uuid.uuid4().hex}"
    yield path
    fs = fsspec.filesystem("memory")
    if fs.exists(path):
        fs.rm(path, recursive=True)


def _write(url, pdf, files=3, row_group_size=None):
    bounds = np.linspace(0, len(pdf), files + 1).astype(int)
    for i in range(files):
        table = pa.Table.from_pandas(pdf.iloc[bounds[i] : bounds[i + 1]], preserve_index=False)
        with fsspec.open(f"{url}/part.{i}.parquet", "wb") as f:
            pq.write_table(table, f, row_group_size=row_group_size)


def _table(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "flag": pd.Series(rng.choice(["A", "N", "R", None], n), dtype="str"),
            "status": pd.Series(rng.choice(["F", "O"], n), dtype="str"),
            "comment": pd.Series([f"text {v}" for v in rng.integers(0, 10**9, n)], dtype="str"),
            "qty": rng.integers(1, 50, n).astype("float64"),
            "price": np.where(rng.random(n) < 0.1, np.nan, rng.random(n) * 100),
            "day": pd.Timestamp("1995-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), "D"),
        }
    )


def test_dictionary_reads_give_plain_strings(url):
    pdf = _table()
    # different dictionaries per file and per row group; "comment" has a big dictionary
    _write(url, pdf, files=3, row_group_size=400)
    df = sd.read_parquet(url)
    assert_eq(df, pdf, check_index=False)
    filtered = df[(df.flag == "A") & (df.day >= "1996-01-01")]
    expect = pdf[(pdf.flag == "A") & (pdf.day >= "1996-01-01")]
    assert_eq(filtered, expect, check_index=False)
    assert_eq(
        df[df.status.isin(["O"])].comment, pdf[pdf.status.isin(["O"])].comment, check_index=False
    )


def _reader(collection):
    plan = optimize_expr(collection.expr)
    return next(n for n in plan.walk() if isinstance(n, ReadParquet))


def test_group_keys_read_as_categoricals(url):
    pdf = _table()
    _write(url, pdf, files=4, row_group_size=500)
    df = sd.read_parquet(url)
    q = df[df.day <= "1997-06-01"]
    q = q.assign(value=q.price * (1 - q.qty / 100))
    agg = {
        "s": ("value", "sum"),
        "m": ("qty", "mean"),
        "c": ("price", "count"),
        "x": ("qty", "max"),
    }
    result = q.groupby(["flag", "status"]).agg(**agg)
    assert _reader(result).categorical == ("flag", "status")
    p = pdf[pdf.day <= "1997-06-01"]
    p = p.assign(value=p.price * (1 - p.qty / 100))
    expect = p.groupby(["flag", "status"]).agg(**agg)
    assert_eq(result, expect)
    assert result.compute().index.levels[0].dtype == pdf.flag.dtype
    # sort=False: groups in order of first appearance, as pandas
    got = df.groupby(["status", "flag"], sort=False).qty.sum().compute()
    pd.testing.assert_series_equal(got, pdf.groupby(["status", "flag"], sort=False).qty.sum())
    # the pandas route with categorical keys: nunique, first, last, custom aggregations
    other = {"u": ("status", "nunique"), "f": ("comment", "first"), "l": ("day", "last")}
    result = df.groupby("flag").agg(**other)
    assert _reader(result).categorical == ("flag",)
    assert_eq(result, pdf.groupby("flag").agg(**other))
    # dropna=False, std (pandas route) and split_out with categorical keys
    assert_eq(
        df.groupby("flag", dropna=False).price.std(), pdf.groupby("flag", dropna=False).price.std()
    )
    got = df.groupby("flag").price.sum(split_out=3).compute().sort_index()
    pd.testing.assert_series_equal(got, pdf.groupby("flag").price.sum())


def test_keys_used_elsewhere_stay_strings(url):
    pdf = _table()
    _write(url, pdf)
    df = sd.read_parquet(url)
    cases = [
        (df[df.flag.str.startswith("A")], pdf[pdf.flag.str.startswith("A", na=False)]),
        (df.assign(flag=df.flag + "!"), pdf.assign(flag=pdf.flag + "!")),
        # (an assigned column the groupby does not read is pruned away: this one it reads)
        (
            df.assign(qty=df.qty + (df.flag + df.status).str.len()),
            pdf.assign(qty=pdf.qty + (pdf.flag + pdf.status).str.len()),
        ),
    ]
    for frame, pframe in cases:
        result = frame.groupby("flag").qty.sum()
        assert _reader(result).categorical == ()
        assert_eq(result, pframe.groupby("flag").qty.sum())
    # a key that is also aggregated keeps its dtype
    agg = {"n": ("flag", "count"), "top": ("flag", "max"), "q": ("qty", "sum")}
    result = df.groupby("flag").agg(**agg)
    assert _reader(result).categorical == ()
    assert_eq(result, pdf.groupby("flag").agg(**agg))
    # a DataFrame-wide operation between reader and groupby would see categoricals
    result = df[["flag", "qty"]].map_partitions(lambda p: p.astype({"qty": "float32"}))
    assert _reader(result.groupby("flag").qty.sum()).categorical == ()
    # the same filtered frame also computed for another result: it must stay strings
    base = df[df.qty > 10]
    grouped = base.groupby("flag").qty.sum()
    firsts, flags = shoal.compute(grouped, base.flag, scheduler="sync")
    pbase = pdf[pdf.qty > 10]
    pd.testing.assert_series_equal(firsts, pbase.groupby("flag").qty.sum())
    assert flags.dtype == pdf.flag.dtype
    assert flags.tolist() == pbase.flag.tolist()


def _nunique_frame(n=300, seed=4):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "dense": rng.integers(0, 40, n),  # small span: codes without hashing
            "wide": rng.integers(-(2**40), 2**40, n) // 2**30 * 2**30,  # hashed
            "s": pd.Series(rng.choice(["p", "q", "r", None], n), dtype="str"),
            "f": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 5, n).astype(float)),
            "v": rng.integers(0, 7, n),
            "u": rng.integers(0, 3, n).astype(np.uint8),
        }
    )


@pytest.mark.parametrize(
    "by, col",
    [
        ("dense", "v"),
        ("dense", "f"),
        ("wide", "v"),
        ("s", "u"),
        (["dense", "s"], "f"),
        (["s", "wide"], "v"),
        ("v", "s"),
    ],
)
def test_nunique_through_distinct_pairs(variants, by, col):
    pdf = _nunique_frame()
    for dropna in (True, False):
        want = pdf.groupby(by, dropna=dropna)[col].nunique()
        for _, df in variants(pdf):
            got = df.groupby(by, dropna=dropna)[col].nunique()
            assert_eq(got, want, check_dtype=False)
            both = df.groupby(by, dropna=dropna).agg(n=(col, "nunique"), m=(col, "count"))
            expected = pdf.groupby(by, dropna=dropna).agg(n=(col, "nunique"), m=(col, "count"))
            assert_eq(both, expected, check_dtype=False)
    empty = sd.from_pandas(pdf.iloc[:0], npartitions=1).groupby(by)[col].nunique().compute()
    assert len(empty) == 0
