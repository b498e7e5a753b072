"""Masked arrow tables to pandas (``arrow_pandas.py``) and filtered parquet
reads (``parquet_part.py``) against pyarrow's filter + ``to_pandas`` and
pandas' own boolean filtering."""

from __future__ import annotations

import datetime
import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import shoal.dataframe as sd
from shoal.dataframe.arrow_pandas import masked_to_pandas
from shoal.dataframe.parquet_mask import filter_mask as _filter_mask
from shoal.dataframe.parquet_part import read_parquet_part

N = 23


def _columns(n: int, rng) -> dict:
    """Arrays of ``n`` rows, one of every kind of column."""
    ints = rng.integers(-50, 50, n)
    floats = rng.normal(size=n)
    nulls = rng.random(n) < 0.3
    words = np.array(["apple", "pear", "fig", "plum"])[rng.integers(0, 4, n)]
    stamps = np.datetime64("2020-01-01") + rng.integers(0, 10**6, n).astype("timedelta64[s]")
    return {
        "i8": pa.array(ints.astype(np.int8)),
        "i32": pa.array(ints.astype(np.int32)),
        "i64": pa.array(ints),
        "u16": pa.array(np.abs(ints).astype(np.uint16)),
        "f32": pa.array(floats.astype(np.float32)),
        "f64": pa.array(floats),
        "f64_nulls": pa.array(floats, mask=nulls),
        "i64_nulls": pa.array(ints, mask=nulls),
        "bool": pa.array(ints > 0),
        "ts_ns": pa.array(stamps.astype("datetime64[ns]")),
        "ts_us": pa.array(stamps.astype("datetime64[us]")),
        "ts_ms": pa.array(stamps.astype("datetime64[ms]")),
        "ts_s": pa.array(stamps),
        "ts_tz": pa.array(stamps.astype("datetime64[ns]")).cast(pa.timestamp("ns", "UTC")),
        "ts_nulls": pa.array(stamps.astype("datetime64[ns]"), mask=nulls),
        "date": pa.array(stamps.astype("datetime64[D]")).cast(pa.date32()),
        "dur": pa.array(ints.astype("timedelta64[ms]")),
        "str": pa.array(words),
        "str_nulls": pa.array(words, mask=nulls),
        "large_str": pa.array(words, pa.large_string()),
        "dict": pa.array(words).dictionary_encode(),
        "dict_nulls": pa.array(words, mask=nulls).dictionary_encode(),
        "dec": pa.array([decimal.Decimal(int(i)) / 4 for i in ints], pa.decimal128(10, 2)),
        "list": pa.array([[int(i)] * (int(i) % 3) for i in ints]),
        "bin": pa.array([w.encode() for w in words]),
    }


def _table(n: int, seed: int, chunks: int = 1) -> pa.Table:
    """A table of ``n`` rows in about ``chunks`` chunks; dictionary chunks get
    their own dictionaries (values first seen in another order), as parquet
    row groups do."""
    rng = np.random.default_rng(seed)
    whole = pa.table(_columns(n, rng))
    whole = whole.cast(pa.table(_columns(1, rng)).schema)  # types of empty columns too
    if chunks == 1 or n < 2:
        return whole
    cuts = sorted(set(rng.integers(0, n, chunks - 1).tolist()) | {0, n})
    pieces = []
    for a, b in zip(cuts, cuts[1:]):
        piece = whole.slice(a, b - a)
        arrays = []
        for col in piece.columns:
            col = col.combine_chunks()
            if pa.types.is_dictionary(col.type):  # a dictionary of this chunk's own
                col = col.cast(col.type.value_type).dictionary_encode()
            arrays.append(col)
        pieces.append(pa.table(dict(zip(piece.column_names, arrays))))
    return pa.concat_tables(pieces)


def _oracle(tables: list, masks: list, schema: pa.Schema, categorical: set) -> pd.DataFrame:
    """Filter with arrow, concatenate, settle dictionaries, ``to_pandas``."""
    parts = [t if m is None else t.filter(pa.array(m)) for t, m in zip(tables, masks)]
    table = pa.concat_tables(parts) if parts else schema.empty_table()
    for i, field in enumerate(table.schema):
        is_dict = pa.types.is_dictionary(field.type)
        if field.name in categorical and not is_dict:
            column = pc.dictionary_encode(table.column(i))
            table = table.set_column(i, pa.field(field.name, column.type), column)
        elif field.name not in categorical and is_dict:
            column = table.column(i).cast(field.type.value_type)
            table = table.set_column(i, pa.field(field.name, column.type), column)
    return table.to_pandas(split_blocks=True)


MASKS = ["none", "all", "no", "random", "first"]


def _mask(kind: str, n: int, rng):
    return {
        "none": None,
        "all": np.ones(n, bool),
        "no": np.zeros(n, bool),
        "random": rng.random(n) < 0.6,
        "first": np.arange(n) == 0,
    }[kind]


@pytest.mark.parametrize("sizes", [[N], [N, 7], [0], [1], [0, N, 1], [N, N, N]])
@pytest.mark.parametrize("chunks", [1, 3])
@pytest.mark.parametrize("mask_kinds", [["none"], ["random"], ["no"], ["all", "random", "first"]])
@pytest.mark.parametrize("categorical", [(), ("dict", "dict_nulls", "str")])
def test_masked_to_pandas_matches_arrow(sizes, chunks, mask_kinds, categorical):
    rng = np.random.default_rng(len(sizes) * 10 + chunks)
    tables = [_table(n, seed, chunks) for seed, n in enumerate(sizes)]
    masks = [_mask(mask_kinds[i % len(mask_kinds)], t.num_rows, rng) for i, t in enumerate(tables)]
    schema = tables[0].schema
    got = masked_to_pandas(tables, masks, schema, categorical)
    want = _oracle(tables, masks, schema, set(categorical))
    pd.testing.assert_frame_equal(got, want)
    assert list(got.columns) == schema.names and got.columns.dtype == want.columns.dtype


def test_masked_to_pandas_no_tables_and_no_columns():
    schema = _table(3, 0).schema
    pd.testing.assert_frame_equal(masked_to_pandas([], [], schema), _oracle([], [], schema, set()))
    empty = pa.table({"x": [1, 2, 3]}).select([])
    got = masked_to_pandas([empty], [np.array([True, False, True])], empty.schema)
    pd.testing.assert_frame_equal(got, empty.slice(0, 2).to_pandas(split_blocks=True))


def test_masked_to_pandas_categories_unified_in_order():
    a = pa.array(["b", "a", "b"]).dictionary_encode()
    b = pa.array(["c", "a"]).dictionary_encode()
    table = pa.table({"k": pa.chunked_array([a, b])})
    got = masked_to_pandas(
        [table], [np.array([True, False, True, True, True])], table.schema, ["k"]
    )
    assert list(got.k.cat.categories) == ["b", "a", "c"]
    assert got.k.tolist() == ["b", "b", "c", "a"]
    assert got.k.cat.codes.dtype == np.int8


# ------------------------------------------------------------ filter masks

_WORDS = pa.array(["apple", "pear", None, "fig", "apple", None, "plum"])


@pytest.mark.parametrize(
    "term",
    [
        ("==", "apple"),
        ("<", "fig"),
        (">=", "pear"),
        ("in", ["apple", "plum"]),
        ("in", ["apple", None]),
        ("not in", ["apple"]),
        ("not in", ["apple", None]),
        ("in", ["nothing"]),
    ],
)
def test_dictionary_filter_mask_matches_plain(term):
    op, value = term
    plain = pa.table({"s": pa.chunked_array([_WORDS[:3], _WORDS[3:]])})
    encoded = pa.table(
        {"s": pa.chunked_array([_WORDS[:3].dictionary_encode(), _WORDS[3:].dictionary_encode()])}
    )
    filters = [[("s", op, value)]]
    np.testing.assert_array_equal(_filter_mask(encoded, filters), _filter_mask(plain, filters))


def test_filter_mask_repeated_terms_and_alternatives():
    table = pa.table({"s": _WORDS.dictionary_encode(), "x": list(range(7))})
    filters = [[("s", "==", "apple"), ("x", ">", 1)], [("s", "==", "apple"), ("x", "<", 1)]]
    np.testing.assert_array_equal(
        _filter_mask(table, filters), [True, False, False, False, True, False, False]
    )


# ------------------------------------------------------------ whole reads


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Several files (one empty, one of one row) with row groups of a few
    rows each, string columns with small dictionaries and nulls."""
    root = tmp_path_factory.mktemp("convert")
    rng = np.random.default_rng(7)
    frames = []
    for i, n in enumerate([40, 0, 1, 33, 57]):
        words = np.array(["AIR", "MAIL", "SHIP", "RAIL"])[rng.integers(0, 4, n)]
        df = pd.DataFrame(
            {
                "k": rng.integers(0, 20, n),
                "x": rng.normal(size=n),
                "mode": pd.Series(words).where(rng.random(n) > 0.2),
                "day": pd.Timestamp("1995-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
                "q": pd.array(rng.integers(0, 50, n), dtype="Int64"),
            }
        )
        df.loc[df.index % 7 == 3, "q"] = pd.NA
        pq.write_table(
            pa.Table.from_pandas(df, preserve_index=False),
            root / f"part.{i}.parquet",
            row_group_size=8,
        )
        frames.append(df)
    return str(root), pd.concat(frames, ignore_index=True)


FILTERS = [
    (None, lambda df: np.ones(len(df), bool)),
    ([("mode", "==", "AIR")], lambda df: df["mode"] == "AIR"),
    ([("mode", "in", ["AIR", "SHIP"]), ("x", ">", 0)], lambda df: df["mode"].isin(["AIR", "SHIP"]) & (df.x > 0)),
    ([("mode", "not in", ["AIR"])], lambda df: ~df["mode"].isin(["AIR"])),
    ([[("k", "<", 3)], [("mode", "==", "RAIL"), ("day", ">=", datetime.datetime(1996, 1, 1))]],
     lambda df: (df.k < 3) | ((df["mode"] == "RAIL") & (df.day >= "1996-01-01"))),
    ([("k", ">", 100)], lambda df: df.k > 100),
    ([("x", ">", -5.0)], lambda df: df.x > -5),
]  # fmt: skip


@pytest.mark.parametrize("blocksize", ["1 kB", "64 MB"])
@pytest.mark.parametrize("case", range(len(FILTERS)))
def test_filtered_read_matches_pandas(files, case, blocksize):
    path, whole = files
    filters, keep = FILTERS[case]
    df = sd.read_parquet(path, filters=filters, blocksize=blocksize)
    got = df.compute(scheduler="sync")
    want = whole[np.asarray(keep(whole), dtype=bool)]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    # the columns the filter reads are dropped again when not asked for
    narrow = sd.read_parquet(path, columns=["x"], filters=filters, blocksize=blocksize)
    np.testing.assert_array_equal(narrow.x.compute(scheduler="sync").to_numpy(), want.x.to_numpy())


def test_filtered_rows_keep_positions_in_partition(files):
    path, whole = files
    got = sd.read_parquet(path + "/part.3.parquet", filters=[("mode", "==", "SHIP")]).compute()
    part = whole.iloc[41:74].reset_index(drop=True)
    want = part[part["mode"] == "SHIP"]
    pd.testing.assert_frame_equal(got, want)


def test_read_part_categorical_and_hive(tmp_path):
    for key in ["a", "b"]:
        (tmp_path / f"g={key}").mkdir()
        table = pa.table({"s": ["x", "y", "x", "z"] if key == "a" else ["z", "z", "y", "x"]})
        pq.write_table(table, tmp_path / f"g={key}" / "f.parquet", row_group_size=2)
    ds = sd.read_parquet(str(tmp_path))
    expr = ds.expr
    pieces = expr._pieces(0)
    got = read_parquet_part(
        expr.dataset.fs, pieces, ["s", "g"], [], [[("s", "!=", "y")]], dict(expr.dataset.hive_types),
        expr.dataset.full_schema, ("s",),
    )  # fmt: skip
    want = pd.DataFrame({"s": ["x", "x", "z", "z", "z", "x"], "g": list("aaabbb")})
    assert isinstance(got.s.dtype, pd.CategoricalDtype)
    assert got.s.tolist() == want.s.tolist()
    assert got.g.tolist() == want.g.tolist()
    assert got.index.tolist() == [0, 2, 3, 4, 5, 7]


# ------------------------------------------------ partial predicate pushdown


def _reads(df) -> list:
    from shoal.dataframe.parquet import ReadParquet

    return list(df.optimize().expr.find_operations(ReadParquet))


def test_pushable_parts_of_an_and_chain_filter_while_reading(files):
    path, whole = files
    df = sd.read_parquet(path, blocksize="1 kB")
    pred = (df["mode"] == "AIR") & (df.x < df.k) & (df.day >= "1996-01-01")
    got = df[pred]
    reads = _reads(got)
    assert [r.filters for r in reads] == [
        [[("mode", "==", "AIR"), ("day", ">=", datetime.datetime(1996, 1, 1))]]
    ]
    want = whole[(whole["mode"] == "AIR") & (whole.x < whole.k) & (whole.day >= "1996-01-01")]
    out = got.compute(scheduler="sync")
    pd.testing.assert_frame_equal(out.reset_index(drop=True), want.reset_index(drop=True))
    # a column of the result that only the predicate's other reader read
    np.testing.assert_array_equal(got.k.compute(scheduler="sync").to_numpy(), want.k.to_numpy())
    # rows keep their positions within their partition, as without pushdown
    plain = df.compute(scheduler="sync")
    mask = (plain["mode"] == "AIR") & (plain.x < plain.k) & (plain.day >= "1996-01-01")
    pd.testing.assert_frame_equal(out, plain[mask])


@pytest.mark.parametrize(
    "make",
    [
        lambda df: (df.x < df.k) | (df["mode"] == "AIR"),  # an alternative is not pushable
        lambda df: (df.x < df.k) & ((df["mode"] == "AIR") | (df.x > df.k + 5)),
        lambda df: (df.x < df.k) & (df.x.abs() > 0.5),
    ],
)
def test_nothing_pushed_when_no_part_is_a_plain_conjunction(files, make):
    path, whole = files
    df = sd.read_parquet(path, blocksize="1 kB")
    got = df[make(df)]
    assert all(r.filters is None for r in _reads(got))
    want = whole[make(whole)]
    out = got.compute(scheduler="sync")
    pd.testing.assert_frame_equal(out.reset_index(drop=True), want.reset_index(drop=True))


def test_only_plain_conjunctions_of_an_and_chain_are_pushed(files):
    path, whole = files
    df = sd.read_parquet(path, blocksize="1 kB")
    got = df[((df.k < 3) | (df.k > 15)) & (df.x < df.k) & (df.day >= "1996-01-01")]
    (read,) = _reads(got)
    assert read.filters == [[("day", ">=", datetime.datetime(1996, 1, 1))]]
    want = whole[((whole.k < 3) | (whole.k > 15)) & (whole.x < whole.k) & (whole.day >= "1996")]
    out = got.compute(scheduler="sync")
    pd.testing.assert_frame_equal(out.reset_index(drop=True), want.reset_index(drop=True))


def test_partial_pushdown_after_read_filters_and_with_another_frame(files, tmp_path):
    path, whole = files
    df = sd.read_parquet(path, filters=[("k", ">", 2)], blocksize="1 kB")
    got = df[(df.x > 0) & (df.x < df.k)]
    (read,) = _reads(got)
    assert read.filters == [[("k", ">", 2), ("x", ">", 0)]]
    base = whole[whole.k > 2]
    want = base[(base.x > 0) & (base.x < base.k)]
    out = got.compute(scheduler="sync")
    pd.testing.assert_frame_equal(out.reset_index(drop=True), want.reset_index(drop=True))
    # a predicate looking beyond its row (a mean over all rows) is not pushed
    mixed = df[(df.x > 0) & (df.x < df.x.mean())]
    assert [r.filters for r in _reads(mixed)] == [[[("k", ">", 2)]]]
    out = mixed.compute(scheduler="sync")
    want = base[(base.x > 0) & (base.x < base.x.mean())]
    pd.testing.assert_frame_equal(out.reset_index(drop=True), want.reset_index(drop=True))


def test_hive_values_fill_every_row(tmp_path):
    frames = []
    for year, city in [("2020", "a"), ("__HIVE_DEFAULT_PARTITION__", "b"), ("2021", "b")]:
        (tmp_path / f"year={year}" / f"city={city}").mkdir(parents=True)
        pdf = pd.DataFrame({"v": np.arange(5.0) + len(frames) * 10})
        pdf.to_parquet(tmp_path / f"year={year}" / f"city={city}" / "f.parquet", index=False)
        frames.append(pdf.assign(year=None if "HIVE" in year else int(year), city=city))
    got = sd.read_parquet(str(tmp_path), blocksize=1).compute(scheduler="sync").sort_values("v")
    want = pd.concat(frames, ignore_index=True)
    assert got.v.tolist() == want.v.tolist()
    assert got.city.tolist() == want.city.tolist()
    assert [None if y != y else y for y in got.year.tolist()] == want.year.tolist()
    kept = sd.read_parquet(str(tmp_path), filters=[("city", "==", "b")], blocksize=1)
    assert sorted(kept.v.compute(scheduler="sync")) == want.v[want.city == "b"].tolist()


def test_partition_functions_in_the_predicate_keep_their_rows(files):
    path, _ = files
    df = sd.read_parquet(path, blocksize="1 kB")
    above = df.x.map_partitions(lambda s: s > s.mean(), meta=("x", bool))
    got = df[(df.k > 2) & above]
    assert all(r.filters is None for r in _reads(got))
    want = df.map_partitions(lambda p: p[(p.k > 2) & (p.x > p.x.mean())])
    pd.testing.assert_frame_equal(got.compute(scheduler="sync"), want.compute(scheduler="sync"))
    # row-by-row methods and accessors do not stop the pushdown
    rowwise = df[(df.k > 2) & ~df["mode"].str.startswith("A") & df.x.abs().between(0.1, 1)]
    assert [r.filters for r in _reads(rowwise)] == [[[("k", ">", 2)]]]
