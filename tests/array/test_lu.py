"""Blocked LU solve/inv (array/lu.py) against NumPy on several chunkings."""

import numpy as np
import pytest

import shoal
import shoal.array as sa
from shoal.array.lu import _getrf, lu_panel
from shoal.testing import assert_eq

CHUNKS = [1, 3, 4, ((5, 3, 4), (4, 8)), -1, ((1, 10, 1), (2, 10))]


def matrix(n, seed=0, dtype=float):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, n))
    if np.dtype(dtype).kind == "c":
        m = m + 1j * rng.standard_normal((n, n))
    return m.astype(dtype)


@pytest.mark.parametrize("chunks", CHUNKS)
def test_solve_matches_numpy(chunks):
    m = matrix(12)
    b = np.random.default_rng(1).standard_normal(12)
    bb = np.random.default_rng(2).standard_normal((12, 5))
    x = sa.from_array(m, chunks=chunks)
    assert_eq(sa.linalg.solve(x, sa.from_array(b, chunks=5)), np.linalg.solve(m, b), rtol=1e-9)
    assert_eq(
        sa.linalg.solve(x, sa.from_array(bb, chunks=(7, 2))), np.linalg.solve(m, bb), rtol=1e-9
    )
    assert_eq(sa.linalg.inv(x), np.linalg.inv(m), rtol=1e-9, atol=1e-12)


def test_needs_pivoting_across_blocks():
    # Zero diagonal blocks: without pivoting over the whole block column this fails.
    m = np.zeros((8, 8))
    m[:4, 4:] = matrix(4, 3)
    m[4:, :4] = matrix(4, 4)
    x = sa.from_array(m, chunks=4)
    b = np.arange(8.0)
    assert_eq(sa.linalg.solve(x, b), np.linalg.solve(m, b), rtol=1e-9)
    assert_eq(sa.linalg.inv(x) @ x, np.eye(8), rtol=0, atol=1e-9)


def test_ill_conditioned_like_numpy():
    # Hilbert matrix (condition ~1e10): residuals as small as NumPy's.
    n = 9
    h = 1.0 / (np.arange(n)[:, None] + np.arange(n)[None, :] + 1)
    b = h @ np.ones(n)
    ours = sa.linalg.solve(sa.from_array(h, chunks=2), b).compute()
    assert np.linalg.norm(h @ ours - b) <= 10 * max(
        np.linalg.norm(h @ np.linalg.solve(h, b) - b), 1e-15
    )


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.complex128])
def test_dtypes(dtype):
    m = matrix(6, 5, dtype) if dtype != np.int64 else (matrix(6, 5) * 10).astype(np.int64)
    b = np.arange(6).astype(dtype)
    x = sa.from_array(m, chunks=4)
    expected = np.linalg.solve(m, b)
    result = sa.linalg.solve(x, b)
    assert result.dtype == np.result_type(m.dtype, b.dtype, np.float64)
    assert_eq(result, expected.astype(result.dtype), rtol=1e-5 if dtype == np.float32 else 1e-9)


def test_singular_raises_linalg_error():
    m = np.ones((6, 6))
    with pytest.raises(np.linalg.LinAlgError, match="Singular"):
        sa.linalg.solve(sa.from_array(m, chunks=2), np.ones(6)).compute()


def test_empty_and_one_element():
    assert_eq(sa.linalg.solve(sa.ones((0, 0), chunks=1), sa.ones(0, chunks=1)), np.ones(0))
    assert_eq(sa.linalg.solve(sa.asarray([[4.0]]), sa.asarray([2.0])), np.array([0.5]))
    assert_eq(sa.linalg.inv(sa.asarray([[4.0]])), np.array([[0.25]]))


def test_bad_input():
    with pytest.raises(ValueError, match="square"):
        sa.linalg.inv(sa.ones((3, 4), chunks=2))
    with pytest.raises(ValueError, match="shape"):
        sa.linalg.solve(sa.ones((3, 3), chunks=2), np.ones(4))


def test_never_gathers_the_matrix():
    x = sa.from_array(matrix(40), chunks=10)
    graph, _ = shoal.core.base.collections_to_graph([sa.linalg.solve(x, np.ones(40))])
    # the input is used block by block: no task reads all 16 blocks of a
    for key, node in graph.items():
        assert len(getattr(node, "dependencies", ())) <= 10, key


@pytest.mark.parametrize("shape", [(7, 3), (30, 30), (50, 20), (9, 1)])
def test_panel_factorization(shape):
    a = np.random.default_rng(7).standard_normal(shape)
    perm, lows, u = lu_panel([a[:4], a[4:]] if shape[0] > 4 else [a], np.float64)
    low = np.concatenate(lows)
    np.testing.assert_allclose(low @ u, a[perm], atol=1e-12)
    assert np.all(np.abs(np.tril(low, -1)) <= 1 + 1e-12)  # partial pivoting bounds L
    work = a.copy()
    assert sorted(_getrf(work)) == list(range(shape[0]))
