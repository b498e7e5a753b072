import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

A = np.random.default_rng(0).permutation(60).reshape(5, 12).astype(float)


@pytest.mark.parametrize("k", [1, 3, -2, 12, -5])
@pytest.mark.parametrize("chunks", [(2, 5), 1, -1])
def test_topk_argtopk_along_last_axis(k, chunks):
    x = sa.from_array(A, chunks=chunks)
    order = np.argsort(-A if k > 0 else A, axis=1, kind="stable")[:, : abs(k)]
    assert_eq(sa.topk(x, k), np.take_along_axis(A, order, axis=1))
    assert_eq(sa.argtopk(x, k), order)


@pytest.mark.parametrize("k", [2, -3])
def test_topk_axis0(k):
    x = sa.from_array(A, chunks=(2, 5))
    order = np.argsort(-A if k > 0 else A, axis=0, kind="stable")[: abs(k)]
    assert_eq(sa.topk(x, k, axis=0), np.take_along_axis(A, order, axis=0))
    assert_eq(sa.argtopk(x, k, axis=0), order)


def test_topk_errors():
    x = sa.ones(5, chunks=2)
    with pytest.raises(ValueError, match="non-zero"):
        sa.topk(x, 0)
    with pytest.raises(ValueError, match="larger than axis"):
        sa.topk(x, 6)


@pytest.mark.parametrize("q", [50, [0, 25, 99.5, 100], 12.5])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("method", ["linear", "nearest", "lower"])
def test_percentile_along_axis_is_exact(q, axis, method):
    x = sa.from_array(A, chunks=(2, 5))
    assert_eq(
        sa.percentile(x, q, axis=axis, method=method), np.percentile(A, q, axis=axis, method=method)
    )
    assert_eq(
        sa.percentile(x, q, axis=axis, keepdims=True), np.percentile(A, q, axis=axis, keepdims=True)
    )


def test_quantile_median():
    x = sa.from_array(A, chunks=(2, 5))
    assert_eq(sa.quantile(x, [0.1, 0.9], axis=1), np.quantile(A, [0.1, 0.9], axis=1))
    assert_eq(sa.median(x, axis=0), np.median(A, axis=0))
    b = A.copy()
    b[1, 3] = np.nan
    assert_eq(sa.nanmedian(sa.from_array(b, chunks=3), axis=1), np.nanmedian(b, axis=1))
    assert_eq(sa.median(sa.from_array(A.ravel(), chunks=-1)), np.median(A))


def test_percentile_whole_array_is_approximate_but_close():
    data = np.random.default_rng(1).standard_normal(200_000)
    x = sa.from_array(data, chunks=30_000)
    q = [1, 10, 50, 90, 99]
    approx = sa.percentile(x, q).compute()
    exact = np.percentile(data, q)
    np.testing.assert_allclose(approx, exact, atol=0.02)
    assert abs(float(sa.median(x)) - np.median(data)) < 0.02


def test_percentile_errors():
    with pytest.raises(ValueError, match="0, 100"):
        sa.percentile(sa.ones(3, chunks=1), 120)
