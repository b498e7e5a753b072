"""``parquet_mask.filter_mask`` (NumPy where it can, arrow elsewhere) against
arrow's compute functions with Kleene logic, the reference semantics of
parquet filters: every column kind, with and without nulls, several chunks,
every operator, values of other widths, units and kinds."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shoal.dataframe import parquet_mask
from shoal.dataframe.parquet_mask import filter_mask

N = 40

_ARROW = {
    "==": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}


def oracle(table: pa.Table, filters: list) -> np.ndarray:
    mask = None
    for conj in filters:
        both = None
        for col, op, value in conj:
            column = table.column(col)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            if op in ("in", "not in"):
                term = pc.is_in(column, value_set=pa.array(list(value)))
                term = pc.invert(term) if op == "not in" else term
            else:
                term = _ARROW[op](column, value)
            both = term if both is None else pc.and_kleene(both, term)
        mask = both if mask is None else pc.or_kleene(mask, both)
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def _chunked(values: pa.Array, chunks: int) -> pa.ChunkedArray:
    """``values`` in ``chunks`` pieces (dictionaries of their own, as parquet
    row groups have), one of them empty."""
    n = len(values)
    cuts = [0, n // 3, n // 3, n][: chunks + 1] if chunks > 1 else [0, n]
    pieces = [values.slice(a, b - a) for a, b in zip(cuts, cuts[1:])]
    if pa.types.is_dictionary(values.type):
        pieces = [p.cast(values.type.value_type).dictionary_encode() for p in pieces]
    return pa.chunked_array(pieces, values.type)


def _columns(rng) -> dict:
    ints = rng.integers(-20, 20, N)
    nulls = rng.random(N) < 0.25
    floats = rng.normal(size=N) * 10
    floats[::7] = np.nan
    stamps = np.datetime64("2020-01-01T00:00:00", "ns") + rng.integers(0, 4, N) * np.timedelta64(
        1500, "ms"
    )
    words = np.array(["AIR", "MAIL", "SHIP", "RAIL"])[rng.integers(0, 4, N)]
    return {
        "i8": pa.array(ints.astype(np.int8)),
        "i32": pa.array(ints.astype(np.int32)),
        "i64": pa.array(ints),
        "u16": pa.array(np.abs(ints).astype(np.uint16)),
        "f32": pa.array(floats.astype(np.float32)),
        "f64": pa.array(floats),
        "i64_nulls": pa.array(ints, mask=nulls),
        "f64_nulls": pa.array(floats, mask=nulls),
        "ts_ns": pa.array(stamps),
        "ts_ms": pa.array(stamps.astype("datetime64[ms]")),
        "ts_s": pa.array(stamps.astype("datetime64[s]")),
        "ts_tz": pa.array(stamps).cast(pa.timestamp("ns", "UTC")),
        "ts_nulls": pa.array(stamps, mask=nulls),
        "str": pa.array(words),
        "dict": pa.array(words).dictionary_encode(),
        "dict_nulls": pa.array(words, mask=nulls).dictionary_encode(),
    }


NUMBERS = [0, 3, -20, 2.5, -0.5, np.int32(4), np.float32(1.5), float("nan"), 2**40]
STAMPS = [
    datetime.datetime(2020, 1, 1, 0, 0, 3),
    datetime.datetime(2020, 1, 1, 0, 0, 1, 500_000),  # between seconds
    np.datetime64("2020-01-01T00:00:01.500000001"),
    pd.Timestamp("2020-01-01 00:00:04.5"),
    datetime.datetime(2020, 1, 1, 0, 0, 1, 500_000, tzinfo=datetime.UTC),
]
WORDS = ["AIR", "MAIL", "ZZZ", "A"]
KINDS = {
    "number": (["i8", "i32", "i64", "u16", "f32", "f64", "i64_nulls", "f64_nulls"], NUMBERS),
    "stamp": (["ts_ns", "ts_ms", "ts_s", "ts_tz", "ts_nulls"], STAMPS),
    "word": (["str", "dict", "dict_nulls"], WORDS),
}
OPS = ["==", "!=", "<", "<=", ">", ">="]


def _check(table: pa.Table, filters: list) -> None:
    try:
        want = oracle(table, filters)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as e:
        with pytest.raises(type(e)):
            filter_mask(table, filters)
        return
    got = filter_mask(table, filters)
    assert got.dtype == bool and got.shape == (table.num_rows,)
    np.testing.assert_array_equal(got, want, err_msg=repr(filters))


@pytest.fixture(params=[None, 7], ids=["one-block", "blocks-of-7"])
def blocks(request, monkeypatch):
    """Rows compared in one block, or in blocks of 7 that cut the chunks."""
    if request.param:
        monkeypatch.setattr(parquet_mask, "_BLOCK_ROWS", request.param)


@pytest.mark.parametrize("chunks", [1, 3])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_comparison_matches_arrow(kind, chunks, blocks):
    rng = np.random.default_rng(chunks)
    columns = _columns(rng)
    table = pa.table({k: _chunked(v, chunks) for k, v in columns.items()})
    names, values = KINDS[kind]
    for name in names:
        for op in OPS:
            for value in values:
                _check(table, [[(name, op, value)]])
        members = [values[0], values[1]]
        for op in ("in", "not in"):
            _check(table, [[(name, op, members)]])
            _check(table, [[(name, op, [*members, None])]])


def test_conjunctions_and_alternatives_with_nulls(blocks):
    rng = np.random.default_rng(5)
    table = pa.table({k: _chunked(v, 3) for k, v in _columns(rng).items()})
    filters = [
        [("i64_nulls", ">", 0), ("dict_nulls", "in", ["AIR", "SHIP"])],
        [("f64", "<=", 2.5), ("ts_nulls", ">=", STAMPS[1]), ("dict", "!=", "MAIL")],
        [("i64_nulls", ">", 0), ("u16", "<", 7)],  # a repeated term
    ]
    _check(table, filters)
    _check(table, filters[:1])
    _check(table, [[("i64_nulls", "<", 100)], [("dict_nulls", "not in", ["AIR"])]])
    np.testing.assert_array_equal(filter_mask(table, [[("i64", ">", 0)], []]), np.ones(N, bool))


@pytest.mark.parametrize("rows", [0, 1])
def test_empty_and_single_row_tables(rows):
    columns = _columns(np.random.default_rng(1))
    table = pa.table({k: v.slice(0, rows) for k, v in columns.items()})
    _check(table, [[("i64", ">", 0), ("dict", "==", "AIR")], [("ts_ns", "<", STAMPS[0])]])
    no_chunks = pa.table({k: pa.chunked_array([], v.type) for k, v in columns.items()})
    assert filter_mask(no_chunks, [[("dict", "==", "AIR"), ("f64", ">", 0)]]).shape == (0,)


def test_dictionary_of_only_nulls():
    """A row group whose string column is all null has an empty dictionary."""
    column = pa.chunked_array(
        [
            pa.array([None, None], pa.string()).dictionary_encode(),
            pa.array(["a", None]).dictionary_encode(),
        ]
    )
    table = pa.table({"s": column})
    for op, value in [("==", "a"), ("!=", "a"), ("in", ["a", None]), ("not in", ["b"])]:
        _check(table, [[("s", op, value)]])
