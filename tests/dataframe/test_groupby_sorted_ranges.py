"""Groupbys on a column whose parquet statistics show disjoint, increasing
ranges per partition run per partition (``group_partitionwise.py``); every
result is checked against pandas on the concatenated data."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.dataframe.group_partitionwise import GroupAggPartitionwise
from shoal.dataframe.optimize import optimize_expr
from shoal.dataframe.sorted_ranges import key_ranges
from shoal.testing import assert_eq


def _frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    k = np.sort(rng.integers(0, n // 3, n))
    f = rng.normal(size=n)
    f[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame(
        {
            "k": k,
            "j": rng.integers(0, 3, n),
            "v": rng.integers(-5, 10, n),
            "f": f,
            "s": rng.choice(["a", "b", "c"], n),
        }
    )


def _write(path, pdf: pd.DataFrame, cuts: list, row_group_size: int | None = None) -> str:
    """``pdf`` as one parquet file per slice between ``cuts`` (row positions)."""
    path.mkdir()
    bounds = [0, *cuts, len(pdf)]
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        piece = pdf.iloc[a:b]
        piece.to_parquet(path / f"part.{i}.parquet", index=False, row_group_size=row_group_size)
    return str(path)


def _cuts_between_keys(pdf: pd.DataFrame, count: int) -> list:
    """About ``count`` row positions where the key changes (no ties across files)."""
    change = np.flatnonzero(np.diff(pdf.k.to_numpy())) + 1
    return sorted(set(change[np.linspace(0, len(change) - 1, count).astype(int)]))


def _partitionwise(coll) -> bool:
    return any(True for _ in optimize_expr(coll.expr).find_operations(GroupAggPartitionwise))


@pytest.fixture(scope="module")
def sorted_data(tmp_path_factory):
    pdf = _frame()
    root = tmp_path_factory.mktemp("sorted")
    return pdf, _write(root / "files", pdf, _cuts_between_keys(pdf, 4))


SPECS = [
    ("sum", {}),
    ("count", {}),
    ("size", {}),
    ("min", {}),
    ("max", {}),
    ("prod", {}),
    ("first", {}),
    ("last", {}),
    ("mean", {}),
    ("var", {}),
    ("std", {}),
    ("nunique", {}),
]


@pytest.mark.parametrize("func", [f for f, _ in SPECS])
@pytest.mark.parametrize("sort", [True, False])
def test_each_aggregation_matches_pandas(sorted_data, func, sort):
    pdf, url = sorted_data
    df = sd.read_parquet(url, blocksize=1)
    cols = ["v", "f"] if func != "size" else None
    got = df.groupby("k", sort=sort)
    want = pdf.groupby("k", sort=sort)
    if cols is not None:
        got, want = got[cols], want[cols]
    result = getattr(got, func)()
    assert _partitionwise(result)
    assert result.known_divisions == sort
    assert_eq(result, getattr(want, func)())


def test_named_dict_list_custom_and_min_count(sorted_data):
    pdf, url = sorted_data
    df = sd.read_parquet(url, blocksize=1)
    named = df.groupby("k").agg(n=("s", "nunique"), total=("v", "sum"), avg=("f", "mean"))
    assert _partitionwise(named)
    assert_eq(
        named, pdf.groupby("k").agg(n=("s", "nunique"), total=("v", "sum"), avg=("f", "mean"))
    )
    spec = {"v": ["sum", "max"], "f": "count"}
    assert_eq(df.groupby("k").agg(spec), pdf.groupby("k").agg(spec))
    span = sd.Aggregation("span", lambda g: g.max() - g.min(), lambda g: g.max())
    assert_eq(df.groupby("k").v.agg(span), (pdf.groupby("k").v.max() - pdf.groupby("k").v.min()))
    assert_eq(
        df.groupby("k").f.sum(min_count=2), pdf.groupby("k").f.sum(min_count=2).astype("float64")
    )
    assert_eq(df.groupby("k").s.nunique(), pdf.groupby("k").s.nunique())


@pytest.mark.parametrize("sort", [True, False])
def test_as_index_false_and_multi_key(sorted_data, sort):
    pdf, url = sorted_data
    df = sd.read_parquet(url, blocksize=1)
    flat = df.groupby("k", as_index=False, sort=sort).agg(total=("v", "sum"))
    assert _partitionwise(flat)
    want = pdf.groupby("k", as_index=False, sort=sort).agg(total=("v", "sum"))
    assert_eq(flat, want, check_index=False)
    multi = df.groupby(["k", "j"], sort=sort).agg(total=("v", "sum"), n=("s", "nunique"))
    assert _partitionwise(multi)
    assert_eq(multi, pdf.groupby(["k", "j"], sort=sort).agg(total=("v", "sum"), n=("s", "nunique")))
    led_by_other = df.groupby(["j", "k"]).v.sum()
    assert not _partitionwise(led_by_other)
    assert_eq(led_by_other, pdf.groupby(["j", "k"]).v.sum())


@pytest.mark.parametrize("files", [2, 7, 15])
@pytest.mark.parametrize("row_group_size", [None, 3])
def test_partitionings(tmp_path, files, row_group_size):
    pdf = _frame(90, seed=files)
    url = _write(tmp_path / "d", pdf, _cuts_between_keys(pdf, files - 1), row_group_size)
    for blocksize in (1, None):  # one partition per row group; small files combined
        df = sd.read_parquet(url, blocksize=blocksize)
        result = df.groupby("k").agg(n=("s", "nunique"), total=("v", "sum"))
        disjoint = key_ranges(df.expr, "k") is not None  # row groups may split a key's run
        assert disjoint or row_group_size is not None
        assert _partitionwise(result) == (disjoint and df.npartitions > 1)
        assert_eq(result, pdf.groupby("k").agg(n=("s", "nunique"), total=("v", "sum")))


def test_filters_empty_partitions_and_projections(sorted_data):
    pdf, url = sorted_data
    df = sd.read_parquet(url, blocksize=1)
    low = df[df.k < 6]  # pushed to the reader: later partitions read nothing
    result = low.groupby("k").v.sum()
    assert _partitionwise(result)
    assert_eq(result, pdf[pdf.k < 6].groupby("k").v.sum())
    odd = df[df.v % 7 == 3]  # a pandas filter: partitions may become empty at run time
    odd = odd.assign(w=odd.v * 2)[["k", "w", "f"]]
    got = odd.groupby("k").agg(w=("w", "sum"), f=("f", "max"), n=("w", "nunique"))
    assert _partitionwise(got)
    p = pdf[pdf.v % 7 == 3]
    p = p.assign(w=p.v * 2)
    assert_eq(got, p.groupby("k").agg(w=("w", "sum"), f=("f", "max"), n=("w", "nunique")))
    nothing = df[df.v > 100].groupby("k").f.mean()
    assert_eq(nothing, pdf[pdf.v > 100].groupby("k").f.mean())


def test_known_divisions_serve_later_ops(sorted_data):
    pdf, url = sorted_data
    df = sd.read_parquet(url, blocksize=1)
    result = df.groupby("k").v.sum()
    bounds = key_ranges(df.expr, "k")
    assert result.divisions == (*(lo for lo, _ in bounds), bounds[-1][1])
    want = pdf.groupby("k").v.sum()
    assert_eq(result.loc[4:9], want.loc[4:9])


def test_ties_nulls_and_unsorted_fall_back(tmp_path):
    pdf = _frame(60)
    tie = int(np.flatnonzero(pdf.k.to_numpy() == pdf.k.iloc[30])[1])  # inside a run of keys
    tied = sd.read_parquet(_write(tmp_path / "tie", pdf, [tie, 45]), blocksize=1)
    assert key_ranges(tied.expr, "k") is None
    assert_eq(tied.groupby("k").v.sum(), pdf.groupby("k").v.sum())
    shuffled = pdf.sample(frac=1, random_state=1).reset_index(drop=True)
    unsorted = sd.read_parquet(_write(tmp_path / "unsorted", shuffled, [20, 40]), blocksize=1)
    assert key_ranges(unsorted.expr, "k") is None
    assert_eq(unsorted.groupby("k").v.sum(), shuffled.groupby("k").v.sum())
    nulls = pdf.assign(k=pdf.k.astype("float64").mask(pdf.index == 50))
    nulls = nulls.assign(k=nulls.k.astype("Int64"))
    with_null = sd.read_parquet(_write(tmp_path / "nulls", nulls, [20, 40]), blocksize=1)
    assert key_ranges(with_null.expr, "k") is None
    for dropna in (True, False):
        got = with_null.groupby("k", dropna=dropna).v.sum()
        assert not _partitionwise(got)
        assert_eq(got, nulls.groupby("k", dropna=dropna).v.sum())
    floats = sd.read_parquet(_write(tmp_path / "floats", pdf, [20, 40]), blocksize=1)
    assert key_ranges(floats.expr, "f") is None  # float keys are not tracked


def test_plan_walk_stops_at_unknown_nodes(sorted_data):
    pdf, url = sorted_data
    df = sd.read_parquet(url, blocksize=1)
    bounds = key_ranges(df.expr, "k")
    assert bounds is not None and len(bounds) > 2
    assert key_ranges(df[["k", "v"]].expr, "k") == bounds
    assert key_ranges(df.assign(w=df.v + 1).expr, "k") == bounds
    assert key_ranges(df.partitions[[0, 2]].expr, "k") == [bounds[0], bounds[2]]
    assert key_ranges(df.assign(k=df.v).expr, "k") is None
    assert key_ranges(df.map_partitions(lambda p: p).expr, "k") is None
    assert key_ranges(sd.from_pandas(pdf, npartitions=3).expr, "k") is None
    got = df.map_partitions(lambda p: p).groupby("k").v.sum()
    assert not _partitionwise(got)
    assert_eq(got, pdf.groupby("k").v.sum())


def test_explicit_tree_requests_keep_the_tree(sorted_data):
    pdf, url = sorted_data
    df = sd.read_parquet(url, blocksize=1)
    want = pdf.groupby("k").v.sum()
    every = df.groupby("k").v.sum(split_every=2)
    assert not _partitionwise(every)
    assert_eq(every, want)
    out = df.groupby("k").v.sum(split_out=2)
    assert not _partitionwise(out)
    assert_eq(out.compute().sort_index(), want)


def test_string_and_datetime_keys(tmp_path):
    n = 40
    pdf = pd.DataFrame(
        {
            "name": sorted(f"k{i // 3:03d}" for i in range(n)),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) // 2, unit="D"),
            "v": np.arange(n),
        }
    )
    url = _write(tmp_path / "d", pdf, [12, 24, 30])
    df = sd.read_parquet(url, blocksize=1)
    by_name = df.groupby("name").v.sum()
    assert _partitionwise(by_name) and not by_name.known_divisions
    assert_eq(by_name, pdf.groupby("name").v.sum(), check_index=False)
    assert by_name.compute().index.tolist() == sorted(set(pdf.name))
    by_time = df.groupby("t").agg(v=("v", "max"), n=("name", "nunique"))
    assert _partitionwise(by_time) and by_time.known_divisions
    want = pdf.groupby("t").agg(v=("v", "max"), n=("name", "nunique"))
    assert_eq(by_time, want, check_index=False)
    assert (by_time.compute().index == want.index).all()


@pytest.mark.parametrize("sort", [True, False])
def test_nunique_only_runs_pandas_groupby_per_partition(sorted_data, sort):
    pdf, path = sorted_data
    df = sd.read_parquet(path, blocksize=1)
    pdf = pdf.assign(f=pdf.f.round(0))
    df = df.assign(f=df.f.round(0))  # values with missing ones: nunique skips them
    one = df.groupby("k", sort=sort).agg(n=("s", "nunique"), m=("f", "nunique"))
    assert _partitionwise(one)
    assert_eq(one, pdf.groupby("k", sort=sort).agg(n=("s", "nunique"), m=("f", "nunique")))
    assert_eq(df.groupby("k", sort=sort).f.nunique(), pdf.groupby("k", sort=sort).f.nunique())
    two = df.groupby(["k", "j"], sort=sort).agg(n=("v", "nunique"))
    assert_eq(two, pdf.groupby(["k", "j"], sort=sort).agg(n=("v", "nunique")))
