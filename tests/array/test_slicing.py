import math

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

A = np.arange(7 * 8 * 3).reshape(7, 8, 3)
CHUNKINGS = [(1, 1, 1), (2, 3, 2), (7, 8, 3), ((3, 0, 4), (5, 3), (1, 2))]
INDICES = [
    0,
    -1,
    slice(None),
    slice(2, 5),
    slice(None, None, 2),
    slice(None, None, -1),
    slice(6, 1, -2),
    slice(-3, None),
    slice(10, 20),
    slice(5, 2),
    (1, 2),
    (slice(1, 6, 3), -2),
    (Ellipsis, 1),
    (None, 2),
    (slice(None), None, slice(None, None, -3)),
    (3, Ellipsis, None),
    (slice(0, 7, 4), slice(7, 0, -3), 0),
    (),
    Ellipsis,
    (None, None),
]


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("index", INDICES)
def test_basic_indexing(chunks, index):
    x = sa.from_array(A, chunks=chunks)
    assert_eq(x[index], A[index])


@pytest.mark.parametrize("chunks", [1, 2, 5])
@pytest.mark.parametrize(
    "index", [[0, 2, 2, 1], np.array([6, -1, 0]), [], [True, False] * 3 + [True]]
)
def test_integer_and_bool_numpy_indices_axis0(chunks, index):
    x = sa.from_array(A, chunks=chunks)
    assert_eq(x[index], A[index])


@pytest.mark.parametrize("chunks", [1, 2, 5])
@pytest.mark.parametrize("index", [[0, 2, 2, 1], np.array([7, -1, 0]), [], [True, False] * 4])
def test_integer_and_bool_numpy_indices_axis1(chunks, index):
    x = sa.from_array(A, chunks=chunks)
    assert_eq(x[:, index], A[:, index])
    assert_eq(x[1:, index, 2], A[1:, index, 2])


def test_integer_array_with_other_indices():
    x = sa.from_array(A, chunks=(2, 3, 2))
    assert_eq(x[2:6, [7, 0, 3], ::-1], A[2:6, [7, 0, 3], ::-1])
    assert_eq(x[None, 1, :, [2, 0]], A[None, 1, :, [2, 0]])


def test_shoal_integer_array_index():
    idx = sa.from_array(np.array([5, 0, 6, 6, 1]), chunks=2)
    x = sa.from_array(A, chunks=(3, 4, 3))
    assert_eq(x[idx], A[[5, 0, 6, 6, 1]])
    assert_eq(x[:, idx], A[:, [5, 0, 6, 6, 1]])


def test_out_of_bounds_errors():
    x = sa.from_array(A, chunks=2)
    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 0 with size 7"):
        x[7]
    with pytest.raises(IndexError, match="index -9 is out of bounds for axis 1 with size 8"):
        x[:, -9]
    with pytest.raises(IndexError, match="out of bounds"):
        x[[0, 10]]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]


@pytest.mark.parametrize("chunks", [1, 3, 10])
def test_boolean_mask_1d(chunks):
    a = np.arange(10.0)
    x = sa.from_array(a, chunks=chunks)
    y = x[x % 3 == 0]
    assert all(math.isnan(c) for c in y.chunks[0])
    assert_eq(y, a[a % 3 == 0])
    assert_eq(y + 1, a[a % 3 == 0] + 1)
    sized = y.compute_chunk_sizes()
    assert sum(sized.chunks[0]) == 4
    assert_eq(sized, a[a % 3 == 0])
    assert_eq(sized[1:3], a[a % 3 == 0][1:3])


def test_boolean_mask_nd():
    a = np.arange(24.0).reshape(4, 6)
    x = sa.from_array(a, chunks=(3, 4))
    assert_eq(x[x > 10], a[a > 10])
    assert_eq(x[(a % 5) == 0], a[(a % 5) == 0])
    mask_rows = sa.from_array(np.array([True, False, True, True]), chunks=2)
    assert_eq(x[mask_rows], a[[True, False, True, True]])
    with pytest.raises(IndexError, match="did not match"):
        x[sa.ones(3, chunks=1) > 0]


@pytest.mark.parametrize("chunks", [1, 2, (1, 3, 2), -1])
def test_mask_held_in_memory_gives_known_lengths(chunks):
    a = np.arange(24).reshape(2, 3, 4)
    x = sa.from_array(a, chunks=chunks)
    masks = [a % 3 == 0, (a % 3 == 0)[:, :, 0], (a > 5)[:, 0, 0], np.zeros((2, 3), bool)]
    for m in [*masks, np.array(True), np.array(False)]:
        y = x[sa.from_array(m, chunks=1 if m.ndim else ())]
        assert not any(math.isnan(c) for c in y.chunks[0])
        assert_eq(y, a[m])  # checks every block's length against its chunks
    # the Array API's reshape of a mask in memory keeps it in memory (and the chunks)
    xp = x.__array_namespace__()
    flat = sa.from_array((a % 3 == 0).ravel(), chunks=5)
    mask = xp.reshape(flat, (2, 3, 4))
    assert mask.chunks == sa.from_array((a % 3 == 0).ravel(), chunks=5).reshape((2, 3, 4)).chunks
    y = x[mask]
    assert not any(math.isnan(c) for c in y.chunks[0])
    assert_eq(y, a[a % 3 == 0])
    computed = sa.from_array(a % 3 == 0, chunks=2) & True  # a mask still to compute
    assert all(math.isnan(c) for c in x[computed].chunks[0])
    assert_eq(x[computed], a[a % 3 == 0])


def test_unknown_chunks_are_reported_clearly():
    x = sa.arange(10, chunks=3)
    y = x[x > 2]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        y + sa.arange(7, chunks=3)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        y.reshape((7,))
    with pytest.raises(ValueError, match="unknown"):
        y[2]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        y.rechunk(2)
    assert_eq(y[:], np.arange(3, 10))


def test_setitem_scalars_and_arrays():
    a = np.arange(30.0).reshape(5, 6)
    for chunks in (1, 2, (3, 4)):
        x = sa.from_array(a, chunks=chunks)
        expected = a.copy()
        x[1:4, ::2] = -1
        expected[1:4, ::2] = -1
        x[4] = np.arange(6)
        expected[4] = np.arange(6)
        x[::-2, 1] = [7, 8, 9]
        expected[::-2, 1] = [7, 8, 9]
        x[x > 20] = 0
        expected[expected > 20] = 0
        x[(a % 7) == 0] = sa.ones((5, 6), chunks=2) * 100
        expected[(a % 7) == 0] = 100
        assert_eq(x, expected)


def test_setitem_errors():
    x = sa.zeros((3, 3), chunks=2)
    with pytest.raises(ValueError, match="broadcast"):
        x[0:2] = np.ones(4)
    with pytest.raises(ValueError, match="selection's shape"):
        x[::2] = sa.ones((3, 3), chunks=1)
    with pytest.raises(ValueError, match="selection's shape"):
        x[0] = sa.ones(2, chunks=1)
    with pytest.raises(IndexError, match="must match"):
        x[np.ones(3, dtype=bool)] = 1


def test_setitem_leaves_arrays_derived_before_untouched():
    a = np.arange(5)
    x = sa.from_array(a, chunks=2)
    y = x * 1
    x[0] = 10
    assert_eq(y, a)
    assert_eq(x, np.array([10, 1, 2, 3, 4]))


def test_vindex_points():
    a = np.arange(60).reshape(3, 4, 5)
    for chunks in [1, (2, 3, 2), -1]:
        x = sa.from_array(a, chunks=chunks)
        assert_eq(x.vindex[[0, 2, 1, 2], [3, 0, 1, 1]], a[[0, 2, 1, 2], [3, 0, 1, 1]])
        assert_eq(x.vindex[np.array([[0], [2]]), [3, 0, 1]], a[np.array([[0], [2]]), [3, 0, 1]])
        assert_eq(x.vindex[[1, -1, 0], [3, 0, 2], [0, 4, 4]], a[[1, -1, 0], [3, 0, 2], [0, 4, 4]])
        assert_eq(x.vindex[[2, 2, 0]], a[[2, 2, 0]])
        assert_eq(x.vindex[np.array([], dtype=int)], a[np.array([], dtype=int)])


def test_vindex_errors():
    x = sa.ones((3, 4), chunks=2)
    with pytest.raises(IndexError, match="out of bounds for axis 1 with size 4"):
        x.vindex[[0], [4]]
    with pytest.raises(IndexError, match="broadcast"):
        x.vindex[[0, 1], [0, 1, 2]]
    with pytest.raises(IndexError, match="integer"):
        x.vindex[[0.5]]


@pytest.mark.parametrize(
    "index",
    [
        ([0, 6, 2], [1, 7, 0]),
        ([0, 6], slice(None), [2, 0]),
        (slice(1, 5), [0, 7], [2, 1]),
        (np.array([[0], [3]]), [1, 2, 4]),
        (2, [1, 3], [0, 2]),
        ([1, 3], 5, [0, 2]),
        ([True, False, True, False, False, False, True], [0, 1, 2], slice(None, None, -1)),
    ],
)
def test_several_index_arrays_follow_numpy(index):
    x = sa.from_array(A, chunks=(2, 3, 2))
    assert_eq(x[index], A[index])


def test_setitem_shoal_array_through_slices():
    a = np.arange(42.0).reshape(6, 7)
    for chunks in (1, (4, 3), -1):
        x = sa.from_array(a, chunks=chunks)
        expected = a.copy()
        x[1:4, 2:6] = sa.ones((3, 4), chunks=2) * -1
        expected[1:4, 2:6] = -1
        x[5] = sa.arange(7.0, chunks=3)
        expected[5] = np.arange(7.0)
        x[:, -1] = sa.from_array(np.full(6, 9.0), chunks=4)
        expected[:, -1] = 9.0
        assert_eq(x, expected)


@pytest.mark.parametrize("chunks", [1, (4, 3), (2, 5), -1])
def test_setitem_shoal_array_through_strided_slices(chunks):
    a = np.arange(63.0).reshape(9, 7)
    rng = np.random.default_rng(5)
    for index in [
        (slice(None, None, 2), slice(1, 6, 3)),
        (slice(8, 0, -3), slice(None)),
        (slice(1, None, 4), 3),
        (4, slice(None, None, -2)),
        (slice(2, 3, 5), slice(0, 7, 6)),
        (slice(5, 2, 1), slice(None)),  # selects nothing
    ]:
        x = sa.from_array(a, chunks=chunks)
        expected = a.copy()
        shape = expected[index].shape
        value = rng.standard_normal(shape)
        x[index] = sa.from_array(value, chunks=2)
        expected[index] = value
        assert_eq(x, expected)
