"""Reductions whose first stage streams its input in pieces of rows
(array/streaming.py), checked against NumPy on the same values."""

import numpy as np
import pytest

import shoal
import shoal.array as sa
from shoal.array.streaming import stream_partials
from shoal.core import config
from shoal.testing import assert_eq

CHUNKINGS_2D = [(7, 5), (3, 13), ((1, 9, 10), (6, 7)), (-1, -1), (1, 1)]
REDUCTIONS = ["sum", "prod", "mean", "var", "std", "min", "max", "nansum", "nanmean", "any"]


@pytest.fixture(autouse=True)
def tiny_pieces():
    # A few rows per piece, so test-sized blocks stream in several pieces.
    with config.set({"array.piece-size": 64}):
        yield


def _streams(array) -> bool:
    graph, _ = shoal.core.base.collections_to_graph([array], optimize_graph=False)
    return "stream_partials" in repr(list(graph.values()))


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("chunks", CHUNKINGS_2D)
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_streamed_random_reductions_match_numpy(name, chunks, axis):
    x = sa.random.default_rng(3).standard_normal((20, 13), chunks=chunks)
    y = x * 0.5 + 1
    with config.set({"array.piece-size": 0}):
        values = y.compute()  # drawn whole, not streamed
    ours = getattr(sa, name)(y, axis=axis)
    assert_eq(ours, getattr(np, name)(values, axis=axis), rtol=1e-9)


@pytest.mark.parametrize(
    "method, args, kwargs",
    [
        ("random", (), {}),
        ("random", (), {"dtype": np.float32}),
        ("standard_normal", (), {}),
        ("normal", (2.0, 3.0), {}),
        ("uniform", (-1, 1), {}),
        ("integers", (0, 1000), {}),
        ("integers", (0, 100), {"dtype": np.int32}),
        ("integers", (0, 100), {"dtype": np.int8}),
        ("exponential", (2.0,), {}),
        ("poisson", (4.0,), {}),
        ("choice", (np.array([1.5, 2.5, 7.0]),), {}),
    ],
)
def test_streamed_draws_equal_whole_draws(method, args, kwargs):
    rng = sa.random.default_rng(11)
    x = getattr(rng, method)(*args, size=(50, 3), chunks=(17, 3), **kwargs)
    with config.set({"array.piece-size": 0}):
        values = x.compute()
    # min/max/argmax-free exact checks: maxima and minima do not depend on order.
    assert_eq(x.max(axis=1), values.max(axis=1))
    assert_eq(x.min(axis=0), values.min(axis=0))
    assert_eq((x * 2).sum(axis=1), (values * 2).sum(axis=1), rtol=1e-6)
    expected = method != "integers" or np.dtype(kwargs.get("dtype", np.int64)).itemsize >= 4
    assert _streams(x.max()) == expected


def test_two_pass_expression_streams_and_matches():
    x = sa.random.default_rng(0).random(1000, chunks=(300, 300, 300, 100))
    values = x.compute()
    y = (x - x.mean()).std()
    assert _streams(y)
    assert_eq(y, (values - values.mean()).std(), rtol=1e-9)


def test_broadcast_inputs_are_passed_whole():
    a = np.arange(60.0).reshape(12, 5)
    x = sa.from_array(a, chunks=(5, 2))
    row_means = x.mean(axis=1, keepdims=True)  # rows stream, one column
    col_means = x.mean(axis=0)  # broadcast along the rows
    y = ((x - row_means) * (x - col_means)).sum(axis=1)
    assert _streams(y)
    m1, m0 = a.mean(axis=1, keepdims=True), a.mean(axis=0)
    assert_eq(y, ((a - m1) * (a - m0)).sum(axis=1), rtol=1e-9)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: sa.arange(100, chunks=30), np.arange(100)),
        (lambda: sa.ones((40, 3), chunks=(11, 2)), np.ones((40, 3))),
        (
            lambda: sa.fromfunction(lambda i, j: i * 10 + j, (30, 4), chunks=(7, 4)),
            np.fromfunction(lambda i, j: i * 10 + j, (30, 4)),
        ),
        (
            lambda: sa.from_array(np.linspace(0, 1, 77).reshape(11, 7), chunks=(6, 3)),
            np.linspace(0, 1, 77).reshape(11, 7),
        ),
    ],
)
def test_sources_stream(make, expected):
    x = make()
    assert _streams(x.sum())
    assert_eq((x + 1).sum(axis=0), (expected + 1).sum(axis=0), rtol=1e-9)
    assert_eq(x.var(), expected.var(), rtol=1e-9)


def test_stored_inputs_and_small_blocks_do_not_stream():
    a = np.arange(24.0).reshape(6, 4)
    x = sa.from_array(a, chunks=(3, 2))
    stored = x.map_blocks(np.negative)
    assert not _streams(stored.sum())
    assert_eq(stored.sum(axis=0), -a.sum(axis=0))
    with config.set({"array.piece-size": "1 MiB"}):
        assert not _streams(x.sum())


def test_empty_and_zero_d():
    assert_eq(sa.ones((0, 4), chunks=2).sum(axis=1), np.ones((0, 4)).sum(axis=1))
    assert_eq(sa.ones((5, 0), chunks=2).sum(axis=0), np.ones((5, 0)).sum(axis=0))
    assert_eq(sa.asarray(np.float64(3.0)).sum(), 3.0)


def test_stream_partials_merges_pieces_like_blocks():
    block = np.arange(40.0).reshape(20, 2)
    spec_rows = (np.sum, np.sum, (1,), {}, {}, 0)
    spec_all = (np.max, np.max, (0, 1), {}, {}, 2)
    rows, total = stream_partials(("rows", block), 20, 3, (spec_rows, spec_all))
    np.testing.assert_array_equal(rows, block.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(total, np.array([[39.0]]))
