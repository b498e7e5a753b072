"""Partitions that a pushed filter empties (whole row groups pruned by their
statistics, or row groups read and every row dropped) must have exactly the
dtypes of the others and of the meta: categoricals with categories of their
values' dtype (arrow gives an empty dictionary object categories), nullable,
datetime, bool and string columns, the index. Results are compared with
pandas, also after concat, merge and groupby, where an empty piece's dtypes
meet the other partitions' (``dtype of categories must be the same``)."""

from __future__ import annotations

import itertools

import fsspec
import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.dataframe.meta import has_known_categories
from shoal.testing import compute_checked

FILES = 4
ROWS = 6  # per file
_roots = itertools.count()

# which partitions (files) the filter empties
EMPTIED = {"first": {0}, "middle": {1, 2}, "last": {3}, "all": {0, 1, 2, 3}, "none": set()}


@pytest.fixture(autouse=True, scope="module")
def _forget_files():
    yield
    fs = fsspec.filesystem("memory")
    if fs.exists("/pep"):
        fs.rm("/pep", recursive=True)


def frame(emptied: set, how: str) -> pd.DataFrame:
    """``FILES * ROWS`` rows; ``g == 1`` keeps rows of the files not in
    ``emptied``. With ``how="rows"`` the emptied files' ``g`` spans 0..2 (the
    statistics keep their row groups, the rows all go), with ``"groups"``
    it is 0 (the statistics prune them)."""
    rng = np.random.default_rng(len(emptied) * 7 + len(how))
    n = FILES * ROWS
    file_of = np.repeat(np.arange(FILES), ROWS)
    g = np.where(np.arange(n) % 2, 2, 1)  # kept files: half the rows match
    for f in emptied:
        g[file_of == f] = np.where(np.arange(ROWS) % 2, 2, 0) if how == "rows" else 0
    nullable = pd.array(rng.integers(0, 5, n), dtype="Int64")
    nullable[::3] = pd.NA
    return pd.DataFrame(
        {
            "k": np.arange(n) * 3,
            "g": g,
            "cat": pd.Categorical(rng.choice(["x", "y", "z"], n)),
            "ocat": pd.Categorical(rng.choice(["lo", "hi"], n), ["lo", "hi"], ordered=True),
            "s": pd.Series(rng.choice(["p", "q", "r"], n), dtype="str"),
            "ni": nullable,
            "i": rng.integers(-5, 5, n),
            "f": rng.normal(size=n),
            "b": rng.random(n) < 0.5,
            "nb": pd.array([True, None, False] * (n // 3), dtype="boolean"),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
        }
    )


def write(df: pd.DataFrame, index: str | None, row_group_size: int | None) -> str:
    root = f"memory://pep/{next(_roots)}"
    for f in range(FILES):
        piece = df.iloc[f * ROWS : (f + 1) * ROWS]
        if index is not None:
            piece = piece.set_index(index)
        piece.to_parquet(
            f"{root}/part.{f}.parquet", index=index is not None, row_group_size=row_group_size
        )
    return root


def check_parts(got, categories: dict | None = None) -> list:
    """Every partition's columns and index have the meta's dtypes exactly
    (categoricals: categories of the meta's categories' dtype, which is
    str for unknown ones, or of the dtype ``categories`` gives a column;
    ordered alike)."""
    meta = got._meta
    categories = categories or {}
    parts = [got.partitions[i].compute() for i in range(got.npartitions)]
    for part in parts:
        assert list(part.columns) == list(meta.columns)
        pairs = [*zip(part.columns, part.dtypes, meta.dtypes)]
        pairs.append((None, part.index.dtype, meta.index.dtype))
        for name, have, want in pairs:
            if isinstance(want, pd.CategoricalDtype):
                assert isinstance(have, pd.CategoricalDtype), (have, want)
                expected = categories.get(name, want.categories.dtype)
                assert have.categories.dtype == expected, (name, have, want)
                assert have.ordered == want.ordered
                assert has_known_categories(have)
            else:
                assert have == want, (have, want)
        assert part.index.names == meta.index.names
    return parts


def plain(df: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as values (partitions unite categories in another order);
    an unnamed index dropped (partitions number their rows each from 0)."""
    cats = [c for c, d in df.dtypes.items() if isinstance(d, pd.CategoricalDtype)]
    df = df.astype(dict.fromkeys(cats, object))
    if df.index.name is None:
        df = df.reset_index(drop=True)
    if isinstance(df.index, pd.CategoricalIndex):
        df.index = df.index.astype(object)
    return df


def assert_same(got, want: pd.DataFrame, sort: list | None = None) -> None:
    """Equal to pandas; rows in ``sort`` order, then dtypes are not compared
    (a merge's key dtypes follow other rules than pandas')."""
    out = plain(compute_checked(got))
    want = plain(want)
    if sort:
        out = out.sort_values(sort).reset_index(drop=True)
        want = want.sort_values(sort).reset_index(drop=True)
    pd.testing.assert_frame_equal(out, want, check_dtype=not sort)


@pytest.mark.parametrize("emptied", sorted(EMPTIED))
@pytest.mark.parametrize("how", ["groups", "rows"])
@pytest.mark.parametrize("pushed", [True, False])
@pytest.mark.parametrize("index", [None, "k"])
def test_emptied_partitions_keep_meta_dtypes(emptied, how, pushed, index):
    df = frame(EMPTIED[emptied], how)
    root = write(df, index, row_group_size=4 if how == "groups" else None)
    pdf = pd.read_parquet(root)
    want = pdf[pdf.g == 1]
    if pushed:  # the optimizer turns the filter into the reader's
        r = sd.read_parquet(root, blocksize=1)
        got = r[r.g == 1]
    else:
        got = sd.read_parquet(root, blocksize=1, filters=[("g", "==", 1)])
    parts = check_parts(got)
    # filters given to read_parquet prune row groups when planning, pushed ones when reading
    has_empty = bool(EMPTIED[emptied]) and (pushed or how == "rows" or emptied == "all")
    assert any(len(p) == 0 for p in parts) == has_empty
    assert sum(len(p) for p in parts) == len(want)
    assert_same(got, want)
    # the emptied pieces meet the others' dtypes
    assert_same(sd.concat([got, got]), pd.concat([want, want]))
    # a left join takes the right side's columns from its emptied pieces too
    drop = index is None  # else k is the index
    left = sd.read_parquet(root, blocksize=1, columns=["g", "f", "k"][: 3 - (not drop)])
    pleft = pdf[["g", "f", "k"][: 3 - (not drop)]]
    cols = ["cat", "ocat", "s", "ni", "nb", "t", "k"][: 7 - (not drop)]
    left, pleft = left.reset_index(drop=drop), pleft.reset_index(drop=drop)
    right, pright = got[cols].reset_index(drop=drop), want[cols].reset_index(drop=drop)
    for how_, broadcast in (("left", False), ("left", True), ("inner", False)):
        merged = sd.merge(left, right, on="k", how=how_, broadcast=broadcast)
        assert_same(merged, pd.merge(pleft, pright, on="k", how=how_), sort=["k"])
    sums = got.groupby("cat", observed=True).f.sum().to_frame()
    assert_same(sums, want.groupby("cat", observed=True).f.sum().to_frame().sort_index())
    counts = got.groupby("s").i.sum().to_frame()
    assert_same(counts, want.groupby("s").i.sum().to_frame())


@pytest.mark.parametrize("emptied", ["first", "middle", "all"])
def test_int_categories_of_emptied_partitions(emptied):
    df = frame(EMPTIED[emptied], "groups")
    root = write(df, None, None)
    pdf = pd.read_parquet(root)
    r = sd.read_parquet(root, blocksize=1)
    got = r[r.g == 1].assign(ic=lambda d: d.i.astype("category"))
    want = pdf[pdf.g == 1].assign(ic=lambda d: d.i.astype("category"))
    check_parts(got, {"ic": np.dtype("int64")})
    assert_same(got, want)
    assert_same(sd.concat([got, got]), pd.concat([want, want]))


@pytest.mark.parametrize("emptied", ["first", "last", "all"])
def test_string_keys_read_as_categoricals_in_emptied_partitions(emptied):
    """Groupby keys the optimizer reads as categoricals (encoded_keys.py)."""
    df = frame(EMPTIED[emptied], "rows")
    root = write(df, None, 4)
    pdf = pd.read_parquet(root)
    r = sd.read_parquet(root, blocksize=1)
    got = r[r.g == 1].groupby("s").f.sum()
    assert "categorical=['s']" in got.optimize().explain()
    want = pdf[pdf.g == 1].groupby("s").f.sum()
    pd.testing.assert_series_equal(compute_checked(got), want)


@pytest.mark.parametrize("emptied", ["first", "all"])
def test_stored_categorical_index_of_emptied_partitions(emptied):
    df = frame(EMPTIED[emptied], "rows")
    df = df.set_index(pd.CategoricalIndex([f"i{j}" for j in range(len(df))], name="ci"))
    root = f"memory://pep/{next(_roots)}"
    for f in range(FILES):
        df.iloc[f * ROWS : (f + 1) * ROWS].to_parquet(f"{root}/part.{f}.parquet")
    pdf = pd.read_parquet(root)
    r = sd.read_parquet(root, blocksize=1)
    got = r[r.g == 1]
    assert isinstance(got._meta.index, pd.CategoricalIndex)
    check_parts(got)
    out = compute_checked(got)
    want = pdf[pdf.g == 1]
    assert list(out.index) == list(want.index)
    assert_same(got, want)
    # categories order a categorical index, not the values' statistics
    ordered = sd.read_parquet(root, blocksize=1, calculate_divisions=True)
    assert not ordered.known_divisions
    assert list(compute_checked(ordered).index) == list(pdf.index)


def test_all_null_categorical_gets_typed_categories():
    """A kept partition whose categorical holds only nulls has no categories
    either: they must have the values' dtype too."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = f"memory://pep/{next(_roots)}"
    fs = fsspec.filesystem("memory")
    for i, values in enumerate([["a", "b", None], [None, None, None]]):
        cat = pa.array(values, pa.string()).dictionary_encode()
        table = pa.table({"k": [3 * i, 3 * i + 1, 3 * i + 2], "cat": cat})
        with fs.open(f"{root}/part.{i}.parquet", "wb") as f:
            pq.write_table(table, f)
    got = sd.read_parquet(root, blocksize=1)
    parts = check_parts(got)
    assert len(parts[1].cat.cat.categories) == 0
    want = pd.read_parquet(root)
    assert_same(got, want)
    assert_same(sd.concat([got, got]), pd.concat([want, want]))
