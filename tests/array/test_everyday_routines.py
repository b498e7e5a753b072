"""The everyday NumPy/Dask routines new users reach for, each against NumPy on
several chunkings (uneven, single-element and empty ones included)."""

import threading

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

A = np.random.default_rng(0).standard_normal((6, 8))
CHUNKS_2D = [(2, 3), ((1, 5), (3, 0, 5)), 1, -1]
CHUNKS_1D = [3, (1, 4, 0, 2), 1, -1]
V = np.array([1.0, 4.0, 9.0, 16.0, 20.0, 21.0, 30.0])


@pytest.mark.parametrize("chunks", CHUNKS_2D)
def test_ravel_multi_index_and_unravel(chunks):
    rows = np.array([[0, 5, 3, 2], [1, 1, 4, 5]])
    cols = np.array([[7, 0, 2, 6], [3, 3, 3, 0]])
    r, c = sa.from_array(rows, chunks=1), sa.from_array(cols, chunks=(2, 3))
    for order in "CF":
        expected = np.ravel_multi_index((rows, cols), (6, 8), order=order)
        assert_eq(sa.ravel_multi_index((r, cols), (6, 8), order=order), expected)
        assert_eq(np.ravel_multi_index((r, c), (6, 8), order=order), expected)
        back = sa.unravel_index(sa.from_array(expected, chunks=3), (6, 8), order=order)
        for got, want in zip(back, np.unravel_index(expected, (6, 8), order=order)):
            assert_eq(got, want)
    stacked = sa.from_array(np.stack([rows, cols]), chunks=(1, 1, 3))
    assert_eq(sa.ravel_multi_index(stacked, (6, 8)), np.ravel_multi_index((rows, cols), (6, 8)))
    wrapped = np.ravel_multi_index((rows + 6, cols), (6, 8), mode="wrap")
    assert_eq(sa.ravel_multi_index((r + 6, cols), (6, 8), mode="wrap"), wrapped)
    with pytest.raises(ValueError, match="invalid entry"):
        sa.ravel_multi_index((r + 6, cols), (6, 8)).compute()
    with pytest.raises(ValueError, match="2 coordinate arrays for 3 dims"):
        sa.ravel_multi_index((r, c), (6, 8, 2))
    with pytest.raises(TypeError, match="integer"):
        sa.ravel_multi_index((r * 1.0, c), (6, 8))


@pytest.mark.parametrize("chunks", CHUNKS_2D)
@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient(chunks, edge_order):
    x = sa.from_array(A, chunks=chunks)
    for got, want in zip(
        sa.gradient(x, edge_order=edge_order), np.gradient(A, edge_order=edge_order)
    ):
        assert_eq(got, want)
    coords = np.array([0.0, 0.5, 1.5, 1.7, 3.0, 4.0])
    assert_eq(
        sa.gradient(x, coords, 2.0, edge_order=edge_order)[0],
        np.gradient(A, coords, 2.0, edge_order=edge_order)[0],
    )
    assert_eq(
        sa.gradient(x, 0.5, axis=1, edge_order=edge_order),
        np.gradient(A, 0.5, axis=1, edge_order=edge_order),
    )
    ints = (np.arange(48).reshape(6, 8) ** 2).astype("i4")
    assert_eq(np.gradient(sa.from_array(ints, chunks=chunks), axis=0), np.gradient(ints, axis=0))
    f32 = A.astype("f4")
    assert_eq(sa.gradient(sa.from_array(f32, chunks=chunks), axis=-1), np.gradient(f32, axis=-1))


def test_gradient_errors():
    with pytest.raises(ValueError, match="at least edge_order"):
        sa.gradient(sa.ones(2, chunks=1), edge_order=2)
    with pytest.raises(ValueError, match="1-D of that axis' length"):
        sa.gradient(sa.ones(4, chunks=1), [0, 1, 2])
    with pytest.raises(TypeError, match="spacing"):
        sa.gradient(sa.ones((3, 3), chunks=1), 1.0, 2.0, 3.0)


@pytest.mark.parametrize("chunks", [(2, 3), ((1, 5), (3, 0, 5)), 1, -1])
@pytest.mark.parametrize("reduction", [np.sum, np.mean, np.max])
def test_coarsen(chunks, reduction):
    x = sa.from_array(A, chunks=chunks)
    expected = reduction(A.reshape(3, 2, 2, 4), axis=(1, 3))
    assert_eq(sa.coarsen(reduction, x, {0: 2, 1: 4}), expected)
    trimmed = reduction(A[:, :6].reshape(6, 2, 3), axis=2)
    assert_eq(sa.coarsen(reduction, x, {1: 3}, trim_excess=True), trimmed)
    with pytest.raises(ValueError, match="trim_excess"):
        sa.coarsen(reduction, x, {1: 3})


@pytest.mark.parametrize("chunks", CHUNKS_2D)
def test_rot90(chunks):
    cube = np.arange(6 * 8 * 2).reshape(6, 8, 2)
    x = sa.from_array(
        cube, chunks=chunks if isinstance(chunks, int) else (*chunks, 1) if chunks != -1 else -1
    )
    for k in range(-1, 6):
        for axes in [(0, 1), (1, 0), (2, 0), (-1, 1)]:
            assert_eq(sa.rot90(x, k, axes), np.rot90(cube, k, axes))
    assert_eq(np.rot90(x), np.rot90(cube))
    with pytest.raises(ValueError, match="different axes"):
        sa.rot90(x, 1, (1, 1))


def test_apply_over_axes():
    x = sa.from_array(A, chunks=(4, 3))
    for axes in [0, [1], [0, 1], (1, 0)]:
        assert_eq(sa.apply_over_axes(np.sum, x, axes), np.apply_over_axes(np.sum, A, axes))
        assert_eq(np.apply_over_axes(np.mean, x, axes), np.apply_over_axes(np.mean, A, axes))
    with pytest.raises(ValueError, match="out of bounds"):
        sa.apply_over_axes(np.sum, x, [2])


@pytest.mark.parametrize("chunks", [2, (1, 30, 0, 9), 1, -1])
def test_histogramdd(chunks):
    pts = np.random.default_rng(1).uniform(0, 3, (40, 3))
    w = np.arange(40.0)
    x = sa.from_array(pts, chunks=(chunks, 2) if chunks != -1 else -1)
    edges = [[0, 1, 2, 3], [0, 1.5, 3], [0, 0.5, 3]]
    for kw in [{}, {"weights": w}, {"density": True}]:
        counts, got_edges = sa.histogramdd(x, bins=edges, **kw)
        want, want_edges = np.histogramdd(pts, bins=edges, **kw)
        assert_eq(counts, want)
        for e1, e2 in zip(got_edges, want_edges):
            np.testing.assert_array_equal(e1, e2)
    rng = [(0, 3), (0, 3), (1, 2)]
    counts, _ = np.histogramdd(x, bins=4, range=rng)
    assert_eq(counts, np.histogramdd(pts, bins=4, range=rng)[0])
    columns = [sa.from_array(pts[:, d], chunks=chunks) for d in range(3)]
    assert_eq(sa.histogramdd(columns, bins=edges)[0], np.histogramdd(pts, bins=edges)[0])
    with pytest.raises(ValueError, match="range="):
        sa.histogramdd(x, bins=4)


@pytest.mark.parametrize("chunks", CHUNKS_1D)
def test_ediff1d(chunks):
    x = sa.from_array(V, chunks=chunks)
    assert_eq(sa.ediff1d(x), np.ediff1d(V))
    assert_eq(np.ediff1d(x, to_end=[7, 8], to_begin=-1), np.ediff1d(V, to_end=[7, 8], to_begin=-1))
    grid = sa.from_array(A, chunks=(2, 3))
    assert_eq(sa.ediff1d(grid), np.ediff1d(A))
    assert_eq(sa.ediff1d(sa.ones(0, chunks=1)), np.ediff1d(np.ones(0)))
    ints = sa.arange(5, chunks=2)
    with pytest.raises(TypeError, match="same_kind"):
        sa.ediff1d(ints, to_begin=0.5)


@pytest.mark.parametrize("chunks", CHUNKS_1D)
def test_union1d(chunks):
    a = np.array([5, 1, 9, 1, 3, 7, 7])
    b = np.array([[2, 9], [0, 11]])
    got = sa.union1d(sa.from_array(a, chunks=chunks), b)
    assert_eq(got.compute_chunk_sizes(), np.union1d(a, b))
    assert_eq(
        np.union1d(sa.from_array(a, chunks=chunks), sa.from_array(b, chunks=1)).compute(),
        np.union1d(a, b),
    )


@pytest.mark.parametrize("chunks", CHUNKS_1D)
def test_stacking_mixed_inputs(chunks):
    x = sa.from_array(V, chunks=chunks)
    n = V * 10
    for func in ["vstack", "hstack", "dstack", "column_stack"]:
        for seq in ([x, n], [n, x, x], (x, n.tolist())):
            expected = getattr(np, func)(
                [np.asarray(s) if not isinstance(s, sa.Array) else V for s in seq]
            )
            assert_eq(getattr(sa, func)(seq), expected)
            assert_eq(getattr(np, func)(seq), expected)
    g = sa.from_array(A, chunks=(2, 3))
    assert_eq(np.hstack([g, A[:, :2]]), np.hstack([A, A[:, :2]]))
    assert_eq(np.vstack([A[:1], g, np.ones(8)]), np.vstack([A[:1], A, np.ones(8)]))
    with pytest.raises(TypeError, match="sequence"):
        sa.vstack(x)
    with pytest.raises(ValueError, match="dimensions except for the concatenation"):
        sa.vstack([x, np.ones(3)])


def test_array_equal_and_equiv():
    x = sa.from_array(A, chunks=(4, 3))
    assert bool(np.array_equal(x, A))
    assert bool(sa.array_equal(x, sa.from_array(A, chunks=(1, 5))))
    assert not bool(np.array_equal(x, A + 1e-9))
    assert not bool(np.array_equal(x, A[:3]))
    with_nan = np.where(A > 1, np.nan, A)
    y = sa.from_array(with_nan, chunks=3)
    assert not bool(np.array_equal(y, with_nan))
    assert bool(np.array_equal(y, with_nan, equal_nan=True))
    assert bool(np.array_equiv(sa.ones((3, 4), chunks=2), np.ones(4)))
    assert not bool(np.array_equiv(sa.ones((3, 4), chunks=2), np.ones(3)))
    assert isinstance(np.array_equal(x, A), sa.Array)  # lazy until asked


def test_array_store_method():
    x = sa.from_array(A, chunks=((1, 5), (3, 0, 5)))
    target = np.zeros_like(A)
    assert x.store(target) is None
    np.testing.assert_array_equal(target, A)
    delayed_write = (x * 2).store(target, compute=False, lock=threading.Lock())
    np.testing.assert_array_equal(target, A)
    delayed_write.compute()
    np.testing.assert_array_equal(target, A * 2)
    with pytest.raises(ValueError, match="shape"):
        x.store(np.zeros(3))


@pytest.mark.parametrize("chunks", CHUNKS_2D)
def test_from_array_inline_array(chunks):
    inlined = sa.from_array(A, chunks=chunks, inline_array=True)
    shared = sa.from_array(A, chunks=chunks)
    assert_eq(inlined, A)
    assert_eq((inlined + 1).sum(axis=0), (A + 1).sum(axis=0))
    graph, graph_shared = dict(inlined.__shoal_graph__()), dict(shared.__shoal_graph__())
    assert len(graph) == inlined.npartitions  # no separate entry for the source
    assert len(graph_shared) == shared.npartitions + 1
    assert inlined.name != shared.name


@pytest.mark.parametrize("chunks", [1, 3, (2, 0, 5), -1, (1,) * 7])
@pytest.mark.parametrize("method", ["sequential", "blelloch"])
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "nancumsum", "nancumprod"])
def test_cumulative_methods(chunks, method, name):
    values = np.array([1.5, 2.0, np.nan, 0.5, 3.0, -1.0, 2.0])
    if not name.startswith("nan"):
        values = np.nan_to_num(values, nan=1.25)
    x = sa.from_array(values, chunks=chunks)
    assert_eq(getattr(sa, name)(x, method=method), getattr(np, name)(values))
    grid = sa.from_array(A, chunks=(2, 3))
    assert_eq(getattr(sa, name)(grid, axis=1, method=method), getattr(np, name)(A, axis=1))
    assert_eq(grid.cumsum(axis=0, method=method), np.cumsum(A, axis=0))


def test_blelloch_is_shallow():
    x = sa.ones(64, chunks=1)
    seq = dict(sa.cumsum(x).__shoal_graph__())
    par = dict(sa.cumsum(x, method="blelloch").__shoal_graph__())

    def depth(graph):
        from shoal.core.graph import get_dependencies, toposort

        deps = get_dependencies(graph)
        level: dict = {}
        for key in toposort(graph, deps):
            level[key] = 1 + max((level[d] for d in deps[key]), default=0)
        return max(level.values())

    assert depth(par) <= 2 * 6 + 4 < depth(seq)
    with pytest.raises(ValueError, match="blelloch"):
        sa.cumsum(x, method="fast")


@pytest.mark.parametrize("split_every", [2, 3, {0: 2}, None])
@pytest.mark.parametrize("chunks", [(1, 5, 2, 4), 3, -1])
def test_argtopk_split_every(split_every, chunks):
    data = np.random.default_rng(3).permutation(12).astype(float)
    x = sa.from_array(data, chunks=chunks)
    for k in [3, -4, 12]:
        order = np.argsort(-data if k > 0 else data, kind="stable")[: abs(k)]
        assert_eq(x.argtopk(k, split_every=split_every), order)
        assert_eq(sa.argtopk(x, k, split_every=split_every), order)
        assert_eq(x.topk(k, split_every=split_every), data[order])
    with pytest.raises(ValueError, match="split_every"):
        x.argtopk(2, split_every=1)
