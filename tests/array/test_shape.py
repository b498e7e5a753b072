import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq


@pytest.mark.parametrize(
    "shape, chunks, new",
    [
        ((24,), 5, (4, 6)),
        ((24,), 7, (2, 3, 4)),
        ((4, 6), (3, 4), (24,)),
        ((4, 6), 2, (6, 4)),
        ((2, 3, 4), (1, 2, 3), (6, 4)),
        ((2, 3, 4), 1, (2, 12)),
        ((6, 4), (5, 3), (3, 2, 4)),
        ((1, 24), 5, (24,)),
        ((24,), 5, (1, 24, 1)),
        ((1,), 1, ()),
        ((), (), (1, 1)),
        ((0, 4), 2, (4, 0)),
        ((12,), 12, (-1, 3)),
        ((3, 1, 4), (2, 1, 3), (12, 1)),
    ],
)
def test_reshape(shape, chunks, new):
    a = np.arange(int(np.prod(shape))).reshape(shape)
    x = sa.from_array(a, chunks=chunks)
    assert_eq(x.reshape(new), a.reshape(new))
    assert_eq(sa.reshape(x, new), np.reshape(a, new))


def test_reshape_rechunks_only_as_needed():
    x = sa.ones((100, 10), chunks=(10, 10))
    y = x.reshape((1000,))
    assert y.chunks == ((100,) * 10,)
    z = sa.ones(1000, chunks=100).reshape((100, 10))
    assert z.chunks == ((10,) * 10, (10,))


def test_reshape_errors():
    x = sa.ones((4, 6), chunks=2)
    with pytest.raises(ValueError, match="cannot reshape array of size 24 into shape"):
        x.reshape((5, 5))
    with pytest.raises(ValueError, match="one unknown"):
        x.reshape((-1, -1))


@pytest.mark.parametrize("axes", [None, (1, 0, 2), (2, 0, 1), (0, 1, 2), (-1, 0, 1)])
def test_transpose(axes):
    a = np.arange(60).reshape(3, 4, 5)
    x = sa.from_array(a, chunks=(2, 3, 2))
    assert_eq(x.transpose(axes) if axes else x.T, np.transpose(a, axes))
    assert_eq(np.transpose(x, axes), np.transpose(a, axes))


def test_moveaxis_swapaxes_squeeze_expand():
    a = np.arange(60).reshape(3, 1, 4, 5)
    x = sa.from_array(a, chunks=2)
    assert_eq(sa.moveaxis(x, 0, -1), np.moveaxis(a, 0, -1))
    assert_eq(sa.moveaxis(x, [0, 2], [3, 0]), np.moveaxis(a, [0, 2], [3, 0]))
    assert_eq(x.swapaxes(0, 2), a.swapaxes(0, 2))
    assert_eq(x.squeeze(), a.squeeze())
    assert_eq(sa.squeeze(x, axis=1), np.squeeze(a, axis=1))
    assert_eq(sa.expand_dims(x, (0, -1)), np.expand_dims(a, (0, -1)))
    with pytest.raises(ValueError, match="size not equal to one"):
        sa.squeeze(x, axis=0)
    with pytest.raises(np.exceptions.AxisError):
        sa.swapaxes(x, 0, 7)


@pytest.mark.parametrize("chunks", [1, 2, (3, 2)])
def test_ravel_flip(chunks):
    a = np.arange(30).reshape(5, 6)
    x = sa.from_array(a, chunks=chunks)
    assert_eq(x.ravel(), a.ravel())
    assert_eq(sa.ravel(x), np.ravel(a))
    assert_eq(sa.flip(x), np.flip(a))
    assert_eq(sa.flip(x, 1), np.flip(a, 1))
    assert_eq(sa.flipud(x), np.flipud(a))
    assert_eq(sa.fliplr(x), np.fliplr(a))


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_concatenate(axis):
    a = np.arange(12).reshape(3, 4)
    b = np.arange(8, dtype=float).reshape(2, 4) if axis == 0 else np.arange(6.0).reshape(3, 2)
    if axis is None:
        b = np.arange(5.0)
    x = sa.from_array(a, chunks=(2, 3))
    y = sa.from_array(b, chunks=1)
    assert_eq(sa.concatenate([x, y, x], axis=axis), np.concatenate([a, b, a], axis=axis))
    assert_eq(np.concatenate([x, y], axis=axis), np.concatenate([a, b], axis=axis))


def test_concatenate_errors():
    x = sa.ones((2, 3), chunks=1)
    with pytest.raises(ValueError, match="dimensions except for the concatenation axis"):
        sa.concatenate([x, sa.ones((2, 4), chunks=1)])
    with pytest.raises(ValueError, match="same number of dimensions"):
        sa.concatenate([x, sa.ones(3, chunks=1)])
    with pytest.raises(ValueError, match="at least one"):
        sa.concatenate([])


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack(axis):
    arrays = [np.arange(6).reshape(2, 3) * k for k in range(3)]
    xs = [sa.from_array(a, chunks=(1, 2)) for a in arrays]
    assert_eq(sa.stack(xs, axis=axis), np.stack(arrays, axis=axis))
    assert_eq(np.stack(xs, axis=axis), np.stack(arrays, axis=axis))
    with pytest.raises(ValueError, match="same shape"):
        sa.stack([xs[0], sa.ones(3, chunks=1)])


@pytest.mark.parametrize(
    "shape, target",
    [((3,), (4, 3)), ((1, 3), (5, 3)), ((2, 1), (2, 4)), ((), (2, 2)), ((3,), (3,))],
)
def test_broadcast_to(shape, target):
    a = np.arange(int(np.prod(shape))).reshape(shape)
    x = sa.from_array(a, chunks=2) if shape else sa.asarray(a)
    assert_eq(sa.broadcast_to(x, target), np.broadcast_to(a, target))
    assert_eq(np.broadcast_to(x, target), np.broadcast_to(a, target))
    if shape:
        with pytest.raises(ValueError, match="cannot broadcast"):
            sa.broadcast_to(x, (7, 5))


def test_broadcast_to_with_chunks_and_arrays():
    a = np.arange(4)
    y = sa.broadcast_to(sa.from_array(a, chunks=2), (6, 4), chunks=(3, 4))
    assert y.chunks == ((3, 3), (4,))
    assert_eq(y, np.broadcast_to(a, (6, 4)))
    p, q = sa.broadcast_arrays(sa.ones((2, 1), chunks=1), sa.arange(3, chunks=2))
    assert_eq(p + q, np.ones((2, 1)) + np.arange(3))


def test_atleast():
    assert_eq(sa.atleast_1d(sa.asarray(3)), np.atleast_1d(3))
    assert_eq(sa.atleast_2d(sa.arange(3, chunks=2)), np.atleast_2d(np.arange(3)))
    for shape in [(), (3,), (2, 3), (2, 3, 4)]:
        a = np.ones(shape)
        assert_eq(sa.atleast_3d(sa.asarray(a)), np.atleast_3d(a))
    a, b = sa.atleast_1d(sa.asarray(1), sa.asarray([1, 2]))
    assert a.shape == (1,) and b.shape == (2,)


def test_block():
    a, b, c = np.ones((2, 2)), np.zeros((2, 1)), np.full((1, 3), 7.0)
    xa, xb, xc = (sa.from_array(v, chunks=1) for v in (a, b, c))
    assert_eq(sa.block([[xa, xb], [xc]]), np.block([[a, b], [c]]))
    assert_eq(sa.block([xa, xb]), np.block([a, b]))
    v = np.arange(3)
    assert_eq(sa.block([[sa.from_array(v, chunks=2)], [v]]), np.block([[v], [v]]))
    with pytest.raises(ValueError, match="depths are mismatched"):
        sa.block([xa, [xb]])
    with pytest.raises(TypeError, match="lists"):
        sa.block((xa, xb))
