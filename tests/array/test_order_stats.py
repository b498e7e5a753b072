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


METHODS = [
    "inverted_cdf",
    "averaged_inverted_cdf",
    "closest_observation",
    "interpolated_inverted_cdf",
    "hazen",
    "weibull",
    "linear",
    "median_unbiased",
    "normal_unbiased",
    "lower",
    "higher",
    "midpoint",
    "nearest",
]
B = np.random.default_rng(2).standard_normal((7, 5, 6))
B_CHUNKS = [(3, 2, 4), ((1, 1, 5), (5,), (2, 2, 1, 1)), 1, -1, ((7,), (0, 5), (6,))]


def test_median_over_several_blocks_is_exact():
    x = sa.arange(12, chunks=5)
    assert float(sa.median(x)) == 5.5
    assert float(np.median(x)) == 5.5
    assert_eq(np.percentile(x, [10, 37.5, 90]), np.percentile(np.arange(12), [10, 37.5, 90]))
    result = np.median(x).compute()
    assert isinstance(result, np.float64)


@pytest.mark.parametrize("chunks", B_CHUNKS)
@pytest.mark.parametrize("axis", [None, 0, 2, (0, 2), (1, 2), (0, 1, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_every_function_every_axis_matches_numpy(chunks, axis, keepdims):
    x = sa.from_array(B, chunks=chunks)
    q = [0, 12.5, 50, 99, 100]
    kw = {"axis": axis, "keepdims": keepdims}
    assert_eq(sa.percentile(x, q, **kw), np.percentile(B, q, **kw))
    assert_eq(sa.quantile(x, 0.3, **kw), np.quantile(B, 0.3, **kw))
    assert_eq(sa.median(x, **kw), np.median(B, **kw))
    with_nan = B.copy()
    with_nan[::2, 1, ::3] = np.nan
    y = sa.from_array(with_nan, chunks=chunks)
    assert_eq(sa.nanmedian(y, **kw), np.nanmedian(with_nan, **kw))
    assert_eq(sa.nanquantile(y, [0.2, 0.7], **kw), np.nanquantile(with_nan, [0.2, 0.7], **kw))
    assert_eq(sa.nanpercentile(y, 40, **kw), np.nanpercentile(with_nan, 40, **kw))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_every_method_is_exact_across_blocks(method, dtype):
    data = np.random.default_rng(3).integers(-50, 50, 101).astype(dtype)
    for chunks in [7, (50, 1, 50), 101]:
        x = sa.from_array(data, chunks=chunks)
        q = [0, 1, 33.3, 50, 75, 100]
        assert_eq(sa.percentile(x, q, method=method), np.percentile(data, q, method=method))
        assert_eq(
            sa.quantile(x.reshape((101, 1)), 0.6, axis=0, method=method),
            np.quantile(data.reshape((101, 1)), 0.6, axis=0, method=method),
        )


@pytest.mark.parametrize("chunks", B_CHUNKS)
def test_weights(chunks):
    x = sa.from_array(B, chunks=chunks)
    w = np.random.default_rng(4).integers(0, 5, B.shape).astype(float)
    kw = {"method": "inverted_cdf"}
    for axis in [None, 1, (0, 2)]:
        assert_eq(
            sa.quantile(x, [0.1, 0.5, 0.9], axis=axis, weights=w, **kw),
            np.quantile(B, [0.1, 0.5, 0.9], axis=axis, weights=w, **kw),
        )
    along = w[:, 0, 0] + 1
    assert_eq(
        sa.percentile(x, 40, axis=0, weights=sa.from_array(along, chunks=2), **kw),
        np.percentile(B, 40, axis=0, weights=along, **kw),
    )
    assert_eq(
        sa.nanquantile(x, 0.5, axis=0, weights=along, keepdims=True, **kw),
        # NumPy's nanquantile fails on 1-D weights; the same weights broadcast
        np.nanquantile(
            B,
            0.5,
            axis=0,
            weights=np.broadcast_to(along[:, None, None], B.shape),
            keepdims=True,
            **kw,
        ),
    )


def test_single_element_and_scalar_input():
    assert_eq(sa.median(sa.ones((1, 1), chunks=1)), np.median(np.ones((1, 1))))
    assert_eq(sa.percentile(sa.asarray(3.0), 50), np.percentile(3.0, 50))


def test_too_large_to_gather_raises_before_running():
    from shoal.array.order_stats import _gather
    from shoal.core import config

    x = sa.ones((1000, 1000), chunks=100)
    with config.set({"array.chunk-size": "100 kB", "array.order-stat-block-limit": 2}):
        with pytest.raises(ValueError, match="above the limit"):
            sa.median(x)
        # one axis fits: the other axis is cut smaller instead
        gathered = _gather(x, (0,))
        assert gathered.chunks[0] == (1000,) and max(gathered.chunks[1]) * 1000 * 8 <= 200_000
        assert_eq(sa.median(x, axis=0), np.ones(1000))


def test_percentile_errors():
    with pytest.raises(ValueError, match="0, 100"):
        sa.percentile(sa.ones(3, chunks=1), 120)
    with pytest.raises(ValueError, match="method"):
        sa.percentile(sa.ones(3, chunks=1), 50, method="fast")
    with pytest.raises(ValueError, match="inverted_cdf"):
        sa.quantile(sa.ones(3, chunks=1), 0.5, weights=np.ones(3))
    with pytest.raises(ValueError, match="do not fit"):
        sa.quantile(sa.ones((3, 4), chunks=1), 0.5, weights=np.ones(4), method="inverted_cdf")
    with pytest.raises(ValueError, match=r"quantiles must be .* \[0, 1\]"):
        sa.quantile(sa.ones(3, chunks=1), 50)
    with pytest.raises(ValueError, match="out of bounds"):
        sa.median(sa.ones(3, chunks=1), axis=1)
