import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

RNG = np.random.default_rng(0)
TALL = RNG.standard_normal((120, 6))


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf, -np.inf, 0, 3, -1])
def test_vector_norms(ord):
    v = RNG.standard_normal(50)
    x = sa.from_array(v, chunks=7)
    assert_eq(sa.linalg.norm(x, ord=ord), np.linalg.norm(v, ord=ord), rtol=1e-10)


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, -np.inf, 2, -2, "nuc"])
def test_matrix_norms(ord):
    x = sa.from_array(TALL, chunks=(25, 6))
    assert_eq(sa.linalg.norm(x, ord=ord), np.linalg.norm(TALL, ord=ord), rtol=1e-10)
    assert_eq(np.linalg.norm(x, ord=ord), np.linalg.norm(TALL, ord=ord), rtol=1e-10)


def test_norm_axis_keepdims():
    a = RNG.standard_normal((4, 5, 6))
    x = sa.from_array(a, chunks=(2, 3, 4))
    assert_eq(sa.linalg.norm(x, axis=1), np.linalg.norm(a, axis=1))
    assert_eq(
        sa.linalg.norm(x, axis=(0, 2), keepdims=True), np.linalg.norm(a, axis=(0, 2), keepdims=True)
    )
    assert_eq(sa.linalg.norm(x), np.linalg.norm(a))
    assert_eq(sa.linalg.norm(sa.arange(5, chunks=2)), np.linalg.norm(np.arange(5)))


@pytest.mark.parametrize("chunks", [(30, 6), (6, 6), (120, 6), ((50, 10, 60), (4, 2))])
def test_qr(chunks):
    x = sa.from_array(TALL, chunks=chunks)
    q, r = sa.linalg.qr(x)
    qv, rv = q.compute(), r.compute()
    np.testing.assert_allclose(qv @ rv, TALL, atol=1e-10)
    np.testing.assert_allclose(qv.T @ qv, np.eye(6), atol=1e-10)
    np.testing.assert_allclose(np.abs(rv), np.abs(np.linalg.qr(TALL)[1]), atol=1e-10)
    assert_eq(q, qv)
    assert_eq(r, rv)


def test_qr_shares_the_factorization():
    q, r = sa.linalg.qr(sa.from_array(TALL, chunks=(30, 6)))
    import shoal

    qv, rv = shoal.compute(q, r)
    np.testing.assert_allclose(qv @ rv, TALL, atol=1e-10)


def test_svd():
    x = sa.from_array(TALL, chunks=(40, 3))
    u, s, vt = sa.linalg.svd(x)
    np.testing.assert_allclose(s.compute(), np.linalg.svd(TALL, compute_uv=False))
    np.testing.assert_allclose((u.compute() * s.compute()) @ vt.compute(), TALL, atol=1e-10)


def test_qr_errors():
    with pytest.raises(ValueError, match="tall-and-skinny"):
        sa.linalg.qr(sa.ones((10, 6), chunks=(3, 6)))
    with pytest.raises(ValueError, match="2-D"):
        sa.linalg.qr(sa.ones(10, chunks=3))


def test_lstsq():
    b = TALL @ np.arange(6.0) + RNG.standard_normal(120) * 0.01
    x, res, rank, s = sa.linalg.lstsq(
        sa.from_array(TALL, chunks=(40, 6)), sa.from_array(b, chunks=50)
    )
    ex, eres, erank, es = np.linalg.lstsq(TALL, b, rcond=None)
    assert_eq(x, ex, rtol=1e-8)
    assert_eq(res, eres, rtol=1e-6)
    assert int(rank) == erank
    np.testing.assert_allclose(s.compute(), es)
    bb = np.c_[b, 2 * b]
    x2, *_ = sa.linalg.lstsq(sa.from_array(TALL, chunks=(40, 6)), sa.from_array(bb, chunks=30))
    assert_eq(x2, np.linalg.lstsq(TALL, bb, rcond=None)[0], rtol=1e-8)


@pytest.mark.parametrize("chunks", [1, 3, (4, 4), -1, ((2, 5, 3), (2, 5, 3))])
def test_cholesky(chunks):
    m = RNG.standard_normal((10, 10))
    spd = m @ m.T + 10 * np.eye(10)
    x = sa.from_array(spd, chunks=chunks)
    assert_eq(sa.linalg.cholesky(x), np.linalg.cholesky(spd), rtol=1e-10, atol=1e-12)
    assert_eq(sa.linalg.cholesky(x, lower=False), np.linalg.cholesky(spd).T, rtol=1e-10, atol=1e-12)


def test_cholesky_errors():
    with pytest.raises(ValueError, match="square"):
        sa.linalg.cholesky(sa.ones((3, 4), chunks=2))
    bad = sa.linalg.cholesky(sa.from_array(-np.eye(4), chunks=2))
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        bad.compute()


def test_solve_inv():
    m = RNG.standard_normal((8, 8)) + 8 * np.eye(8)
    b = RNG.standard_normal(8)
    bb = RNG.standard_normal((8, 3))
    x = sa.from_array(m, chunks=3)
    assert_eq(sa.linalg.solve(x, sa.from_array(b, chunks=3)), np.linalg.solve(m, b))
    assert_eq(sa.linalg.solve(x, bb), np.linalg.solve(m, bb))
    assert_eq(sa.linalg.inv(x), np.linalg.inv(m), rtol=1e-10)
    assert_eq(np.linalg.solve(x, b), np.linalg.solve(m, b))
    with pytest.raises(ValueError, match="square"):
        sa.linalg.solve(sa.ones((3, 4), chunks=2), np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        sa.linalg.solve(x, np.ones(5))


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("chunks", [1, 3, (4, 4), -1])
def test_solve_triangular(lower, chunks):
    m = RNG.standard_normal((10, 10)) + 5 * np.eye(10)
    tri = np.tril(m) if lower else np.triu(m)
    b = RNG.standard_normal(10)
    bb = RNG.standard_normal((10, 4))
    x = sa.from_array(tri, chunks=chunks)
    assert_eq(
        sa.linalg.solve_triangular(x, sa.from_array(b, chunks=4), lower=lower),
        np.linalg.solve(tri, b),
        rtol=1e-10,
    )
    assert_eq(
        sa.linalg.solve_triangular(x, sa.from_array(bb, chunks=(5, 3)), lower=lower),
        np.linalg.solve(tri, bb),
        rtol=1e-10,
    )


@pytest.mark.parametrize("chunks", [2, (3, 3), -1])
def test_solve_positive_definite_is_blocked(chunks):
    m = RNG.standard_normal((9, 9))
    spd = m @ m.T + 9 * np.eye(9)
    b = RNG.standard_normal((9, 2))
    x = sa.from_array(spd, chunks=chunks)
    result = sa.linalg.solve(x, sa.from_array(b, chunks=3), assume_a="pos")
    assert_eq(result, np.linalg.solve(spd, b), rtol=1e-9)
    if chunks == 2:  # nothing gathers the matrix: every expression keeps small row blocks
        assert all(max(e.chunks[0]) <= 3 for e in result.expr.walk() if e.ndim)
    with pytest.raises(ValueError, match="assume_a"):
        sa.linalg.solve(x, b, assume_a="sym")
