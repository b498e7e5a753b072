import numpy as np
import pytest

import shoal
import shoal.array as sa
from shoal.testing import assert_eq


@pytest.mark.parametrize("chunks_a, chunks_b", [(1, 1), ((2, 3), (3, 2)), (-1, -1), (2, 4)])
def test_matmul_2d(chunks_a, chunks_b):
    a = np.arange(20.0).reshape(4, 5)
    b = np.arange(15.0).reshape(5, 3) - 4
    x, y = sa.from_array(a, chunks=chunks_a), sa.from_array(b, chunks=chunks_b)
    assert_eq(x @ y, a @ b)
    assert_eq(np.matmul(x, y), a @ b)
    assert_eq(sa.dot(x, y), a.dot(b))
    assert_eq(x.dot(b), a.dot(b))
    assert_eq(a @ y, a @ b)


def test_matmul_vectors_and_batches():
    v = np.arange(5.0)
    m = np.arange(20.0).reshape(5, 4)
    assert_eq(sa.from_array(v, chunks=2) @ sa.from_array(m, chunks=3), v @ m)
    assert_eq(sa.from_array(m.T, chunks=3) @ sa.from_array(v, chunks=2), m.T @ v)
    assert_eq(sa.from_array(v, chunks=2) @ sa.from_array(v, chunks=3), v @ v)
    batch = np.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    other = np.arange(4 * 2.0).reshape(4, 2)
    assert_eq(
        sa.from_array(batch, chunks=(1, 2, 3)) @ sa.from_array(other, chunks=2), batch @ other
    )
    with pytest.raises(ValueError, match="mismatch in its core dimension"):
        sa.ones((3, 4), chunks=2) @ sa.ones((3, 4), chunks=2)
    with pytest.raises(ValueError, match="enough dimensions"):
        sa.matmul(sa.asarray(1.0), sa.ones(3, chunks=1))


@pytest.mark.parametrize("axes", [1, 2, ([0], [1]), ([1, 2], [0, 1]), ((0, 2), (2, 0)), 0])
def test_tensordot(axes):
    a = np.arange(24.0).reshape(2, 3, 4)
    b = (
        np.arange(24.0).reshape(3, 4, 2)
        if axes in (2, ([1, 2], [0, 1]))
        else np.arange(24.0).reshape(4, 3, 2)
        if axes == 1
        else np.arange(24.0).reshape(4, 2, 3)
    )
    if axes == ([0], [1]):
        b = np.arange(12.0).reshape(3, 2, 2)
    if axes == ((0, 2), (2, 0)):
        b = np.arange(24.0).reshape(4, 3, 2)
    if axes == 1:
        b = np.arange(24.0).reshape(4, 3, 2)
    x, y = sa.from_array(a, chunks=(1, 2, 3)), sa.from_array(b, chunks=2)
    assert_eq(sa.tensordot(x, y, axes=axes), np.tensordot(a, b, axes=axes))
    assert_eq(np.tensordot(x, y, axes=axes), np.tensordot(a, b, axes=axes))


def test_tensordot_errors():
    with pytest.raises(ValueError, match="shape-mismatch"):
        sa.tensordot(sa.ones((2, 3), chunks=1), sa.ones((4, 2), chunks=1), axes=1)


def test_dot_nd_outer_vdot():
    a = np.arange(24.0).reshape(2, 3, 4)
    b = np.arange(20.0).reshape(4, 5)
    assert_eq(sa.dot(sa.from_array(a, chunks=2), sa.from_array(b, chunks=3)), np.dot(a, b))
    assert_eq(sa.dot(sa.asarray(2.0), sa.from_array(b, chunks=3)), 2.0 * b)
    u, v = np.arange(3.0), np.arange(4.0)
    assert_eq(sa.outer(sa.from_array(u, chunks=2), v), np.outer(u, v))
    c = np.array([1 + 2j, 3 - 1j])
    assert_eq(sa.vdot(sa.asarray(c), sa.asarray(c[::-1])), np.vdot(c, c[::-1]))


def test_x_times_x_transpose():
    a = np.random.default_rng(0).standard_normal((50, 8))
    x = sa.from_array(a, chunks=(7, 3))
    assert_eq(x @ x.T, a @ a.T)
    assert_eq((x.T @ x).sum(axis=0), (a.T @ a).sum(axis=0))


@pytest.mark.parametrize("chunks", [(3, 2), ((1, 6), (4, 1)), (7, 5), (1, 1)])
def test_matmul_with_a_transpose_reads_the_blocks_once(chunks):
    x = sa.random.default_rng(0).random((7, 5), chunks=chunks)
    y = sa.random.default_rng(1).standard_normal((6, 5), chunks=(4, 2))
    xv, yv = x.compute(), y.compute()
    assert_eq(x @ x.T, xv @ xv.T, rtol=1e-12)
    assert_eq(x @ y.T, xv @ yv.T, rtol=1e-12)
    assert_eq((y @ x.T).T, (yv @ xv.T).T, rtol=1e-12)
    graph, _ = shoal.core.base.collections_to_graph([(x @ x.T).sum()], optimize_graph=False)
    drawn = [k for k in graph if str(k[0]).startswith("random")]
    assert len(drawn) == len(x.chunks[0]) * len(x.chunks[1])  # x stored once, no x.T copy
