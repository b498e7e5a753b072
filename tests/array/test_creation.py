import threading

import numpy as np
import pytest

import shoal
import shoal.array as sa
from shoal.testing import assert_eq

CHUNKINGS_1D = [1, 2, 3, 7, 10, -1, (4, 1, 5)]


@pytest.mark.parametrize("chunks", CHUNKINGS_1D)
def test_from_array_1d(chunks):
    data = np.arange(10) * 1.5
    x = sa.from_array(data, chunks=chunks)
    assert_eq(x, data)
    assert_eq(x[2:9:3], data[2:9:3])


@pytest.mark.parametrize("chunks", [(1, 1), (2, 3), (5, 7), ((1, 4), (3, 4)), -1, "auto"])
def test_from_array_2d(chunks):
    data = np.arange(35).reshape(5, 7)
    assert_eq(sa.from_array(data, chunks=chunks), data)


def test_from_array_memmap_reads_only_regions(tmp_path):
    path = tmp_path / "data.bin"
    data = np.arange(1000, dtype="f8").reshape(100, 10)
    data.tofile(path)
    mm = np.memmap(path, dtype="f8", mode="r", shape=(100, 10))
    x = sa.from_array(mm, chunks=(30, 5))
    assert_eq(x, data)
    assert_eq(x[55:61, 3], data[55:61, 3])
    assert_eq(x.sum(axis=1), data.sum(axis=1))


class CountingStore:
    """A sliceable store that counts reads and checks for concurrent access."""

    def __init__(self, data):
        self.data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.ndim = data.ndim
        self.reads = []
        self.active = 0
        self.max_active = 0
        self.guard = threading.Lock()

    def __getitem__(self, index):
        with self.guard:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            import time

            time.sleep(0.002)
            self.reads.append(index)
            return self.data[index]
        finally:
            with self.guard:
                self.active -= 1


def test_from_array_generic_store_and_lock():
    store = CountingStore(np.arange(40).reshape(8, 5))
    x = sa.from_array(store, chunks=(2, 5), lock=True)
    np.testing.assert_array_equal(x.compute(scheduler="threads"), store.data)
    assert store.max_active == 1
    store.reads.clear()
    np.testing.assert_array_equal(x[3].compute(), store.data[3])
    assert store.reads == [(slice(3, 4, 1), slice(0, 5, 1))]


def test_from_array_rejects_non_arrays():
    with pytest.raises(TypeError, match="shape, dtype and slicing"):
        sa.from_array(object())


def test_asarray_and_array():
    assert_eq(sa.asarray([[1, 2], [3, 4]]), np.array([[1, 2], [3, 4]]))
    assert_eq(sa.asarray([1, 2], dtype="f4"), np.array([1, 2], dtype="f4"))
    x = sa.arange(3, chunks=2)
    assert sa.asarray(x) is x
    assert_eq(sa.array(5), np.array(5))


@pytest.mark.parametrize("func", ["ones", "zeros", "empty"])
@pytest.mark.parametrize("shape, chunks", [((5,), 2), ((4, 3), (3, 1)), ((0, 2), 1), ((), ())])
def test_constants(func, shape, chunks):
    x = getattr(sa, func)(shape, chunks=chunks, dtype="i4")
    expected = getattr(np, func)(shape, dtype="i4")
    assert x.shape == expected.shape and x.dtype == expected.dtype
    if func != "empty":
        assert_eq(x, expected)
    else:
        assert x.compute().shape == shape


def test_full_and_likes():
    assert_eq(sa.full((3, 2), 7, chunks=2), np.full((3, 2), 7))
    assert_eq(sa.full(4, 2.5, dtype="f4", chunks=3), np.full(4, 2.5, dtype="f4"))
    base = sa.arange(7, chunks=3)
    for name in ("ones_like", "zeros_like"):
        y = getattr(sa, name)(base)
        assert y.chunks == base.chunks
        assert_eq(y, getattr(np, name)(np.arange(7)))
    assert_eq(sa.full_like(base, 4, dtype=float), np.full(7, 4.0))
    assert sa.empty_like(base).shape == (7,)
    assert_eq(sa.ones_like(np.zeros((2, 2))), np.ones((2, 2)))
    with pytest.raises(ValueError, match="scalar"):
        sa.full(3, [1, 2, 3])
    with pytest.raises(ValueError, match="non-negative"):
        sa.ones((-1, 2))


@pytest.mark.parametrize(
    "args",
    [(10,), (2, 11, 3), (5, 0, -1), (0, 1, 0.1), (3, 3), (-2.5, 4.0, 0.75), (0, 10, 4)],
)
@pytest.mark.parametrize("chunks", [1, 3, 100])
def test_arange(args, chunks):
    assert_eq(sa.arange(*args, chunks=chunks), np.arange(*args))


def test_arange_errors_and_dtype():
    with pytest.raises(ValueError, match="zero"):
        sa.arange(0, 5, 0)
    assert_eq(sa.arange(5, dtype="f4", chunks=2), np.arange(5, dtype="f4"))


@pytest.mark.parametrize("num, endpoint", [(50, True), (7, False), (1, True), (0, True), (2, True)])
@pytest.mark.parametrize("chunks", [1, 4, 100])
def test_linspace(num, endpoint, chunks):
    assert_eq(
        sa.linspace(-1, 3, num, endpoint=endpoint, chunks=chunks),
        np.linspace(-1, 3, num, endpoint=endpoint),
    )


def test_linspace_retstep():
    x, step = sa.linspace(0, 1, 5, retstep=True, chunks=2)
    assert step == 0.25
    assert_eq(x, np.linspace(0, 1, 5))


@pytest.mark.parametrize("n, m, k", [(5, None, 0), (4, 6, 1), (6, 4, -2), (3, 3, 5)])
@pytest.mark.parametrize("chunks", [1, 2, 4])
def test_eye_tri(n, m, k, chunks):
    assert_eq(sa.eye(n, m, k=k, chunks=chunks), np.eye(n, m, k=k))
    assert_eq(sa.tri(n, m, k=k, dtype=int, chunks=chunks), np.tri(n, m, k=k, dtype=int))
    assert_eq(sa.identity(n, chunks=chunks), np.identity(n))


@pytest.mark.parametrize("k", [0, 1, -2, 4])
@pytest.mark.parametrize("chunks", [1, 3, (2, 4)])
def test_tril_triu(k, chunks):
    data = np.arange(30.0).reshape(5, 6)
    x = sa.from_array(data, chunks=chunks)
    assert_eq(sa.tril(x, k), np.tril(data, k))
    assert_eq(sa.triu(x, k), np.triu(data, k))


@pytest.mark.parametrize("k", [0, 1, -1, 3])
@pytest.mark.parametrize("chunks", [1, 2, 5])
def test_diag(k, chunks):
    v = np.arange(1, 6)
    assert_eq(sa.diag(sa.from_array(v, chunks=chunks), k), np.diag(v, k))
    m = np.arange(42).reshape(6, 7)
    assert_eq(sa.diag(sa.from_array(m, chunks=chunks), k), np.diag(m, k))
    assert_eq(sa.diagonal(sa.from_array(m, chunks=(chunks, 3)), k), np.diagonal(m, k))


@pytest.mark.parametrize("dims, chunks", [((3, 4), 2), ((5,), 1), ((2, 3, 4), (1, 2, 3))])
def test_indices(dims, chunks):
    assert_eq(sa.indices(dims, chunks=chunks), np.indices(dims))


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(indexing, sparse):
    a, b, c = np.arange(3), np.arange(4.0), np.arange(2)
    ours = sa.meshgrid(
        sa.from_array(a, chunks=2),
        sa.from_array(b, chunks=3),
        sa.from_array(c, chunks=1),
        indexing=indexing,
        sparse=sparse,
    )
    theirs = np.meshgrid(a, b, c, indexing=indexing, sparse=sparse)
    for o, t in zip(ours, theirs):
        assert_eq(o, t)


@pytest.mark.parametrize("chunks", [1, 2, (3, 2)])
def test_fromfunction(chunks):
    def func(i, j, scale=1):
        return (i * 10 + j) * scale

    assert_eq(
        sa.fromfunction(func, (4, 5), dtype=int, chunks=chunks, scale=2),
        np.fromfunction(func, (4, 5), dtype=int, scale=2),
    )


def test_from_delayed():
    value = shoal.delayed(np.arange)(6)
    x = sa.from_delayed(value, (6,), dtype=int)
    assert_eq(x * 2, np.arange(6) * 2)
    wrong = sa.from_delayed(value, (5,), dtype=int)
    with pytest.raises(ValueError, match="shape"):
        wrong.compute()
    with pytest.raises(ValueError, match="dtype"):
        sa.from_delayed(value, (6,))
    with pytest.raises(TypeError, match="Delayed"):
        sa.from_delayed(np.ones(3), (3,), dtype=float)


def test_asarray_of_shoal_arrays_stacks_lazily():
    parts = [sa.arange(3, chunks=2) * k for k in range(3)]
    x = sa.asarray(parts)
    assert isinstance(x, sa.Array) and x.shape == (3, 3)
    assert_eq(x, np.stack([np.arange(3) * k for k in range(3)]))
    assert_eq(sa.asarray([[parts[0]], [parts[1]]]), np.arange(3)[None, None, :] * [[[0]], [[1]]])
