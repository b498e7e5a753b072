"""Shuffle pieces as Arrow record batches: every frame comes back exactly as
pandas cuts and concatenates it, whichever path (Arrow or pandas) it took."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from shoal.dataframe.arrow_rows import ArrowRows, concat_rows, split_rows

N = 7
rng = np.random.default_rng(0)

FRAMES = {
    "numbers": pd.DataFrame(
        {
            "i8": np.arange(N),
            "u8": np.arange(N, dtype="u8") + 2**63,
            "f4": np.linspace(0, 1, N, dtype="f4"),
            "f8": [1.5, np.nan, -0.0, np.inf, 2.0, 3.0, 4.0],
            "b": [True, False] * 3 + [True],
        }
    ),
    "strings with missing": pd.DataFrame({"s": ["a", None, "ccc", "", "é", "b", "a"]}),
    "datetimes": pd.DataFrame(
        {
            "ns": pd.date_range("2020", periods=N, freq="h"),
            "s": pd.date_range("2020", periods=N).astype("M8[s]"),
            "tz": pd.date_range("2020", periods=N, tz="Europe/Paris"),
            "td": pd.to_timedelta(range(N), unit="s"),
            "nat": [pd.NaT] + list(pd.date_range("2020", periods=N - 1)),
        }
    ),
    "nullable": pd.DataFrame(
        {
            "I": pd.array([1, None, 3, 4, None, 6, 7], dtype="Int64"),
            "F": pd.array([1.5, None, 3, 4, 5, 6, 7], dtype="Float64"),
            "B": pd.array([True, None, False, True, True, None, False], dtype="boolean"),
        }
    ),
    "named index": pd.DataFrame({"x": range(N)}, index=pd.Index(range(10, 10 + N), name="i")),
    "string index": pd.DataFrame({"x": range(N)}, index=[f"r{i}" for i in range(N)]),
    "datetime index": pd.DataFrame({"x": range(N)}, index=pd.date_range("2021", periods=N)),
    "multiindex": pd.DataFrame(
        {"x": range(N)},
        index=pd.MultiIndex.from_arrays([range(N), list("abcdefg")], names=["n", None]),
    ),
    "integer column names": pd.DataFrame({0: range(N), 1: np.ones(N)}),
    "named column axis": pd.DataFrame({"a": range(N)}).rename_axis(columns="cols"),
    "no columns": pd.DataFrame(index=range(N)),
    # these stay pandas pieces
    "object column": pd.DataFrame({"o": [1, "a", None, 2.5, [1], {"k": 1}, (2,)]}),
    "categorical": pd.DataFrame({"c": pd.Categorical(list("abcabca"), categories=list("cba"))}),
    "python strings": pd.DataFrame({"s": pd.array(list("abcdefg"), dtype="string[python]")}),
    "duplicate columns": pd.DataFrame([[1, 2]] * N, columns=["a", "a"]),
    "period": pd.DataFrame({"p": pd.period_range("2020", periods=N, freq="M")}),
    "complex": pd.DataFrame({"c": np.arange(N) * (1 + 1j)}),
}


def pandas_oracle(frame: pd.DataFrame, targets: np.ndarray, k: int) -> list:
    return [frame[targets == j] for j in range(k)]


@pytest.mark.parametrize("name", FRAMES)
@pytest.mark.parametrize("k", [1, 3, 10])
def test_pieces_and_their_concatenation_equal_pandas(name, k):
    frame = FRAMES[name]
    targets = rng.integers(0, k, len(frame))
    pieces = split_rows(frame, targets, k)
    expected = pandas_oracle(frame, targets, k)
    assert len(pieces) == k
    for piece, want in zip(pieces, expected):
        assert len(piece) == len(want)
        got = piece.to_pandas() if type(piece) is ArrowRows else piece
        if len(want):
            pd.testing.assert_frame_equal(got, want, check_freq=False)
    # pieces travel pickled (out-of-band buffers) and come back in any grouping
    travelled = [pickle.loads(pickle.dumps(p, protocol=5)) for p in pieces]
    for order in (list(range(k)), list(range(k))[::-1]):
        got = concat_rows([travelled[j] for j in order], frame.iloc[:0])
        want = pd.concat([expected[j] for j in order])
        pd.testing.assert_frame_equal(got, want, check_freq=False)


def test_exact_kinds_take_the_arrow_path_and_the_rest_do_not():
    arrow = {
        n for n, f in FRAMES.items() if type(split_rows(f, np.zeros(N, int), 2)[0]) is ArrowRows
    }
    assert arrow == set(list(FRAMES)[: list(FRAMES).index("no columns") + 1])


def test_empty_frames_series_and_mixed_pieces():
    frame = FRAMES["numbers"]
    empty = frame.iloc[:0]
    assert [len(p) for p in split_rows(empty, np.array([], dtype=int), 3)] == [0, 0, 0]
    s = pd.Series(range(5), name="s")
    pieces = split_rows(s, np.array([1, 0, 1, 0, 1]), 2)
    pd.testing.assert_series_equal(concat_rows(pieces, s.iloc[:0]), s.iloc[[1, 3, 0, 2, 4]])
    assert concat_rows([], empty) is empty
    # an output may receive Arrow pieces from some inputs and pandas pieces from others
    arrow = split_rows(frame.iloc[:3], np.zeros(3, int), 1)[0]
    mixed = concat_rows([arrow, frame.iloc[3:]], empty)
    pd.testing.assert_frame_equal(mixed, frame)


def test_pieces_of_different_schemas_are_joined_like_pandas():
    a = pd.DataFrame({"x": [1, 2]})
    b = pd.DataFrame({"x": [1.5, 2.5]})  # another input partition's dtype
    pieces = [split_rows(f, np.zeros(2, int), 1)[0] for f in (a, b)]
    pd.testing.assert_frame_equal(concat_rows(pieces, a.iloc[:0]), pd.concat([a, b]))


def test_a_piece_holds_only_its_rows():
    frame = pd.DataFrame({"x": np.arange(100_000), "s": ["abc"] * 100_000})
    targets = (np.arange(100_000) >= 10).astype(int)
    small = split_rows(frame, targets, 2)[0]
    assert small.batch.size < 2_000  # the slice, not the whole column, is serialized
