import pickle

import numpy as np
import pytest

import shoal
import shoal.array as sa
from shoal.testing import assert_eq


def test_metadata():
    x = sa.ones((10, 7), chunks=(3, 4), dtype="f4")
    assert x.shape == (10, 7)
    assert x.ndim == 2
    assert x.dtype == np.float32
    assert x.size == 70
    assert x.nbytes == 280
    assert x.chunks == ((3, 3, 3, 1), (4, 3))
    assert x.numblocks == (4, 2)
    assert x.npartitions == 8
    assert x.chunksize == (3, 4)
    assert x.meta.shape == (0, 0) and x.meta.dtype == np.float32
    assert len(x) == 10


def test_repr_and_html_show_the_summary():
    x = sa.ones((10, 7), chunks=(3, 4))
    text = repr(x)
    for part in ("shape=(10, 7)", "float64", "chunksize=(3, 4)", "96 B", "560 B", "tasks=8"):
        assert part in text
    html = x._repr_html_()
    for part in ("(10, 7)", "float64", "(3, 4)", "560 B", "<td>8</td>"):
        assert part in html


@pytest.mark.parametrize("scheduler", ["sync", "threads", "processes"])
def test_compute_on_every_scheduler(scheduler):
    x = sa.arange(20, chunks=6).reshape((4, 5))
    result = (x * 2 + 1).sum(axis=0).compute(scheduler=scheduler)
    np.testing.assert_array_equal(result, (np.arange(20).reshape(4, 5) * 2 + 1).sum(axis=0))


def test_persist_keeps_values_and_metadata():
    x = sa.random.default_rng(1).random((9, 4), chunks=(4, 3))
    p = x.persist(scheduler="sync")
    assert p.chunks == x.chunks and p.dtype == x.dtype
    graph = p.__shoal_graph__()
    assert all(isinstance(v, np.ndarray) for v in graph.values())
    assert_eq(p, x.compute())
    assert_eq(p + 1, x.compute() + 1)


def test_optimize_round_trips():
    x = sa.arange(10, chunks=3) + 1
    (o,) = shoal.optimize(x)
    assert_eq(o, np.arange(10) + 1)


def test_to_delayed_gives_the_blocks():
    x = sa.arange(12, chunks=5).reshape((3, 4)).rechunk((2, 3))
    blocks = x.to_delayed()
    assert len(blocks) == 2 and len(blocks[0]) == 2
    np.testing.assert_array_equal(blocks[1][0].compute(), np.arange(12).reshape(3, 4)[2:, :3])


def test_blocks_selection():
    data = np.arange(24).reshape(4, 6)
    x = sa.from_array(data, chunks=(2, 2))
    assert_eq(x.blocks[1], data[2:4])
    assert_eq(x.blocks[:, ::2], data[:, [0, 1, 4, 5]])
    assert_eq(x.blocks[0, [2, 0]], data[:2, [4, 5, 0, 1]])
    assert x.blocks.shape == (2, 3)
    assert len(x.blocks.ravel()) == 6
    with pytest.raises(IndexError, match="out of bounds"):
        x.blocks[5]


def test_zero_d_and_empty_arrays():
    zero_d = sa.asarray(np.float64(3.5))
    assert zero_d.shape == () and zero_d.chunks == ()
    assert_eq(zero_d, np.array(3.5))
    assert_eq(zero_d + 1, np.array(4.5))
    empty = sa.zeros((0, 3), chunks=2)
    assert empty.chunks == ((0,), (2, 1))
    assert_eq(empty, np.zeros((0, 3)))
    assert_eq(empty.sum(axis=0), np.zeros(3))


def test_scalar_conversions():
    x = sa.arange(5, chunks=2)
    assert float(x.sum()) == 10.0
    assert int(x[3]) == 3
    assert bool(x[1])
    assert [int(v) for v in x] == [0, 1, 2, 3, 4]
    with pytest.raises(TypeError, match="size-1"):
        float(x)


def test_numpy_array_protocol():
    x = sa.arange(6, chunks=4)
    np.testing.assert_array_equal(np.asarray(x), np.arange(6))
    assert np.asarray(x, dtype="f8").dtype == np.float64


def test_graph_pickles():
    x = (sa.random.default_rng(0).normal(size=(50,), chunks=7) * 2).sum()
    graph = x.__shoal_graph__()
    again = pickle.loads(pickle.dumps(graph))
    assert shoal.core.local.get_sync(again, x.__shoal_keys__()) == pytest.approx(float(x))


def test_dask_collections_are_refused():
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match="Dask collection"):
        shoal.compute(da.ones(3))


def test_array_wraps_only_expressions():
    with pytest.raises(TypeError, match="ArrayExpr"):
        sa.Array(np.ones(3))
