import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq


def test_blockwise_elementwise_and_literals():
    a = np.arange(12).reshape(3, 4)
    x = sa.from_array(a, chunks=2)
    assert_eq(sa.blockwise(np.add, "ij", x, "ij", 5, None), a + 5)
    assert_eq(sa.blockwise(np.transpose, "ji", x, "ij", dtype=a.dtype), a.T)


def _inner(left, right):
    return sum(np.dot(lb, rb) for lb, rb in zip(left, right))


def test_blockwise_contraction_lists():
    a = np.arange(20.0).reshape(4, 5)
    b = np.arange(15.0).reshape(5, 3)
    x, y = sa.from_array(a, chunks=(2, 2)), sa.from_array(b, chunks=(3, 2))
    out = sa.blockwise(_inner, "ik", x, "ij", y, "jk", dtype=float)
    assert out.chunks == ((2, 2), (2, 1))
    assert_eq(out, a @ b)


def test_blockwise_concatenate():
    a = np.arange(20.0).reshape(4, 5)
    b = np.arange(15.0).reshape(5, 3)
    x, y = sa.from_array(a, chunks=(2, 2)), sa.from_array(b, chunks=(2, 2))
    out = sa.blockwise(np.dot, "ik", x, "ij", y, "jk", concatenate=True, dtype=float)
    assert_eq(out, a @ b)


def test_blockwise_new_axes_and_adjust_chunks():
    a = np.arange(6)
    x = sa.from_array(a, chunks=4)

    def outer3(block):
        return block[:, None] * np.arange(3)

    out = sa.blockwise(outer3, "ij", x, "i", new_axes={"j": 3}, dtype=a.dtype)
    assert_eq(out, a[:, None] * np.arange(3))

    def first(block):
        return block[:1]

    firsts = sa.blockwise(first, "i", x, "i", adjust_chunks={"i": 1}, dtype=a.dtype)
    assert_eq(firsts, np.array([0, 4]))


def test_blockwise_errors():
    x = sa.ones((4, 4), chunks=2)
    with pytest.raises(ValueError, match="do not match"):
        sa.blockwise(np.add, "ij", x, "ij", sa.ones((3, 4), chunks=2), "ij")
    with pytest.raises(ValueError, match="letters"):
        sa.blockwise(np.add, "ij", x, "i")
    with pytest.raises(ValueError, match="dtype"):
        sa.blockwise(lambda b: b.undefined, "ij", x, "ij")
    with pytest.raises(TypeError, match="pairs"):
        sa.blockwise(np.add, "ij", x)


@pytest.mark.parametrize("chunks", [1, 2, 5, (3, 2)])
def test_map_blocks_elementwise(chunks):
    a = np.arange(5.0)
    x = sa.from_array(a, chunks=chunks)
    assert_eq(x.map_blocks(np.sqrt), np.sqrt(a))
    assert_eq(sa.map_blocks(lambda b, c: b * c, x, 3), a * 3)


def test_map_blocks_dtype_from_meta_or_argument():
    x = sa.arange(6, chunks=4)
    assert sa.map_blocks(lambda b: b / 2, x).dtype == np.float64
    assert sa.map_blocks(lambda b: b.astype("f4"), x, dtype="f4").dtype == np.float32


def test_map_blocks_chunks_drop_and_new_axis():
    a = np.arange(24.0).reshape(4, 6)
    x = sa.from_array(a, chunks=(2, 3))
    sums = sa.map_blocks(lambda b: b.sum(axis=1), x, drop_axis=1, dtype=float)
    assert_eq(sums, a.sum(axis=1))
    firsts = sa.map_blocks(lambda b: b[:1], x, chunks=(1, 3))
    assert_eq(firsts, a[[0, 2]])
    expanded = sa.map_blocks(
        lambda b: b[:, :, None] * [1, 2], x, new_axis=2, chunks=((2, 2), (3, 3), (2,))
    )
    assert_eq(expanded, a[:, :, None] * [1, 2])
    with pytest.raises(ValueError, match="entries"):
        sa.map_blocks(lambda b: b, x, chunks=(1,))


def test_map_blocks_block_info():
    a = np.zeros((5, 4))
    x = sa.from_array(a, chunks=(2, 3))

    def where_am_i(block, block_info=None):
        (r0, _), (c0, _) = block_info[None]["array-location"]
        assert block_info[0]["shape"] == (5, 4)
        assert block_info[None]["chunk-shape"] == block.shape
        rows = np.arange(block.shape[0])[:, None] + r0
        cols = np.arange(block.shape[1])[None, :] + c0
        return rows * 10 + cols + block

    assert_eq(
        x.map_blocks(where_am_i, dtype=float), np.fromfunction(lambda i, j: i * 10 + j, (5, 4))
    )


def test_map_blocks_two_arrays_broadcast():
    a = np.arange(12.0).reshape(3, 4)
    b = np.arange(4.0)
    x, y = sa.from_array(a, chunks=2), sa.from_array(b, chunks=3)
    assert_eq(sa.map_blocks(np.add, x, y), a + b)


def test_map_blocks_needs_an_array():
    with pytest.raises(TypeError, match="shoal array"):
        sa.map_blocks(np.sum, np.ones(3))
