"""iloc: rows by position across partitions, against pandas."""

import numpy as np
import pytest

import shoal.dataframe as sd
from shoal.dataframe.indexing import partition_lengths
from shoal.testing import assert_eq

ROWS = [
    slice(None, 5),
    slice(3, 30),
    slice(7, 8),
    slice(-6, None),
    slice(2, 39, 4),
    slice(None, None, -1),
    slice(35, 4, -3),
    slice(100, 200),
    slice(5, 5),
    [0, 39, 17, 17, 2],
    [3, 4, 5, 20, 21],
    [-1, -40],
    [],
    np.arange(40) % 3 == 0,
]


@pytest.mark.parametrize("rows", ROWS, ids=[repr(r)[:30] for r in ROWS])
def test_iloc_rows(variants, frame, rows):
    pdf = frame()
    for _label, df in variants(pdf):
        assert_eq(df.iloc[rows], pdf.iloc[rows])
        assert_eq(df.f.iloc[rows], pdf.f.iloc[rows])
        assert_eq(df.iloc[rows, [0, 2]], pdf.iloc[rows, [0, 2]])


def test_iloc_single_row(variants, frame):
    pdf = frame()
    for _label, df in variants(pdf):
        for pos in (0, 13, 39, -1, -40):
            assert_eq(df.i.iloc[pos], pdf.i.iloc[pos])
            assert_eq(df[["i", "f"]].iloc[[pos]], pdf[["i", "f"]].iloc[[pos]])
    with pytest.raises(NotImplementedError, match=r"use df.iloc\[\[3\]\]"):
        variants(pdf)[1][1].iloc[3]


def test_iloc_keeps_known_divisions_when_ascending(frame):
    pdf = frame()
    df = sd.from_pandas(pdf, npartitions=4)
    assert df.iloc[5:33].known_divisions
    assert df.iloc[[1, 2, 30]].known_divisions
    assert not df.iloc[::-1].known_divisions
    assert not df.iloc[[30, 1]].known_divisions


def test_iloc_lengths_counted_once(frame):
    pdf = frame()
    df = sd.from_pandas(pdf, npartitions=3)
    filtered = df[df.i > 2]
    calls = []
    original = sd.Series.compute

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    sd.Series.compute = counting
    try:
        first = filtered.iloc[2:9]
        second = filtered.iloc[[0, 5]]
    finally:
        sd.Series.compute = original
    assert len(calls) == 1
    parts = [df.get_partition(k).compute() for k in range(df.npartitions)]
    assert partition_lengths(filtered) == tuple(int((p.i > 2).sum()) for p in parts)
    assert_eq(first, pdf[pdf.i > 2].iloc[2:9])
    assert_eq(second, pdf[pdf.i > 2].iloc[[0, 5]])


def test_iloc_errors(frame):
    pdf = frame()
    df = sd.from_pandas(pdf, npartitions=3)
    with pytest.raises(IndexError, match="out of bounds for 40 rows"):
        df.iloc[40]
    with pytest.raises(IndexError, match=r"positions \[45\] are out of bounds"):
        df.iloc[[1, 45]]
    with pytest.raises(IndexError, match="boolean mask needs 40 values"):
        df.iloc[np.ones(3, dtype=bool)]
    with pytest.raises(IndexError, match="takes an integer, a slice"):
        df.iloc[["a"]]
    with pytest.raises(IndexError, match="rows for a Series"):
        df.i.iloc[1, 2]
