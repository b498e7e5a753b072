import numpy as np
import pytest

import shoal
import shoal.array as sa
from shoal.array.rechunk import plan_rechunk
from shoal.testing import assert_eq

A = np.arange(11 * 13).reshape(11, 13)


@pytest.mark.parametrize("old", [1, (3, 5), (11, 13), ((2, 0, 9), (6, 7))])
@pytest.mark.parametrize("new", [1, (4, 4), -1, ((5, 6), (1, 12)), {1: 3}, "auto"])
def test_rechunk_values(old, new):
    x = sa.from_array(A, chunks=old)
    y = x.rechunk(new)
    assert_eq(y, A)
    if new == {1: 3}:
        assert y.chunks[0] == x.chunks[0] and y.chunks[1] == (3, 3, 3, 3, 1)


def test_rechunk_of_computed_blocks():
    x = (sa.random.default_rng(0).random((30, 20), chunks=(7, 3)) * 2).persist(scheduler="sync")
    values = x.compute()
    assert_eq(x.rechunk((5, 20)), values)
    assert_eq(x.rechunk((30, 1)).rechunk(4), values)


def test_rechunk_no_op_and_collapse():
    x = sa.arange(10, chunks=3)
    assert x.rechunk(3) is x
    y = x.rechunk(2).rechunk(5)
    assert y.expr.child.chunks == x.chunks


def test_right_angle_rechunk_is_staged():
    x = sa.random.default_rng(0).random((400, 400), chunks=(400, 10))
    y = x.rechunk((10, 400))
    stages = plan_rechunk(x.chunks, y.chunks)
    assert len(stages) > 1
    graph = y.__shoal_graph__()
    from shoal.core.task import dependencies_of

    widest = max(len(dependencies_of(v)) for v in graph.values())
    assert widest < 40
    assert len(graph) < 40 * 40
    assert_eq(y, x.compute())


def test_rechunk_errors():
    x = sa.ones((4, 4), chunks=2)
    with pytest.raises(ValueError, match="sum to"):
        x.rechunk(((1, 1), (4,)))
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        x[x > 0].rechunk(3)


def test_rechunk_auto_respects_limit():
    x = sa.ones((1000, 1000), chunks=10)
    with shoal.config.set({"array.chunk-size": "800kB"}):
        y = x.rechunk("auto")
    assert max(y.chunks[0]) * max(y.chunks[1]) * 8 <= 800_000


@pytest.mark.parametrize("method, args", [("random", ()), ("uniform", (-3.0, 2.0))])
def test_right_angle_rechunk_of_seekable_random_keeps_nothing(method, args):
    x = getattr(sa.random.default_rng(4), method)(*args, size=(60, 60), chunks=(60, 2))
    values = x.compute()
    y = x.rechunk((2, 60))
    graph, _ = shoal.core.base.collections_to_graph([y], optimize_graph=False)
    assert len(graph) == 30  # one task per output block; no random block is stored
    assert_eq(y, values)
    assert_eq(x.rechunk((7, 11)), values)


@pytest.mark.parametrize("method", ["random", "uniform", "standard_normal"])
@pytest.mark.parametrize(
    "index",
    [
        (slice(3, 40, 5), slice(None, None, -2), 1),
        (slice(None), slice(2, 5), slice(0, 1)),
        (7, slice(None), slice(None, None, 3)),
        (slice(10, 10), slice(None), 0),
    ],
)
def test_random_regions_equal_whole_draws(method, index):
    x = getattr(sa.random.default_rng(2), method)(size=(50, 7, 3), chunks=(13, 4, 2))
    values = x.compute()
    assert_eq(x[index], values[index])


def test_direct_rechunk_of_a_source_falls_back_to_stages_when_huge(monkeypatch):
    import importlib

    rechunk_module = importlib.import_module("shoal.array.rechunk")

    x = sa.random.default_rng(0).random((60, 60), chunks=(60, 1))
    values = x.compute()
    assert x.rechunk((1, 60)).expr.explain_text().count("Rechunk") == 1
    monkeypatch.setattr(rechunk_module, "MAX_DIRECT_PIECES", 100)
    staged = x.rechunk((1, 60))
    assert staged.expr.explain_text().count("Rechunk") > 1
    assert_eq(staged, values)


@pytest.mark.parametrize("old", [1, (3, 5), ((2, 0, 9), (6, 7))])
@pytest.mark.parametrize("new", [(4, 4), -1, ((5, 6), (1, 12)), {1: 3}])
def test_p2p_rechunk_without_a_cluster_passes_pieces_in_memory(old, new):
    from shoal.array.rechunk_p2p import P2PRechunk

    y = sa.from_array(A, chunks=old).rechunk(new, method="p2p")
    assert isinstance(y.expr, P2PRechunk)
    assert_eq(y, A)
    assert_eq(y.rechunk(2, method="p2p"), A)  # a rechunk of a rechunk starts from the source
    assert y.rechunk(2, method="p2p").expr.child is y.expr.child


def test_p2p_rechunk_of_empty_and_structured_arrays_in_memory():
    empty = np.empty((0, 4, 3), dtype="f4")
    assert_eq(sa.from_array(empty, chunks=(1, 1, 2)).rechunk((1, 4, 1), method="p2p"), empty)
    rec = np.array([(i, str(i)) for i in range(10)], dtype=[("a", "i8"), ("b", "U2")])
    assert_eq(sa.from_array(rec, chunks=3).rechunk(4, method="p2p"), rec)


def test_rechunk_method_choice_without_a_cluster():
    from shoal.array.rechunk import Rechunk

    x = sa.from_array(A, chunks=(11, 1)) + 1
    assert isinstance(x.rechunk((1, 13)).expr, Rechunk)  # auto: no exchange service here
    with shoal.config.set({"array.rechunk.method": "p2p"}):
        assert type(x.rechunk((1, 13)).expr).__name__ == "P2PRechunk"
        assert isinstance(x.rechunk((1, 13), method="auto").expr, Rechunk)
    with pytest.raises(ValueError, match="one of 'tasks', 'p2p' or 'auto', got 'disk'"):
        x.rechunk((1, 13), method="disk")
    with shoal.config.set({"array.rechunk.method": "shuffle"}):
        with pytest.raises(ValueError, match="got 'shuffle'"):
            x.rechunk((1, 13))
