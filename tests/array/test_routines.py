import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

A = np.arange(42).reshape(6, 7) % 9


@pytest.mark.parametrize("chunks", [1, (4, 3), -1])
def test_diff(chunks):
    x = sa.from_array(A, chunks=chunks)
    for n, axis in [(1, -1), (2, 0), (0, 1), (3, 1)]:
        assert_eq(sa.diff(x, n, axis), np.diff(A, n, axis))
    with pytest.raises(ValueError, match="non-negative"):
        sa.diff(x, -1)


@pytest.mark.parametrize("shift, axis", [(2, None), (-3, 0), (10, 1), ((1, 2), (0, 1)), (0, 0)])
def test_roll(shift, axis):
    x = sa.from_array(A, chunks=(4, 3))
    assert_eq(sa.roll(x, shift, axis), np.roll(A, shift, axis))


@pytest.mark.parametrize("repeats, axis", [(2, None), (3, 0), (1, 1), (0, 1)])
def test_repeat(repeats, axis):
    x = sa.from_array(A, chunks=(4, 3))
    assert_eq(sa.repeat(x, repeats, axis=axis), np.repeat(A, repeats, axis=axis))


@pytest.mark.parametrize("reps", [2, (2, 1), (1, 3), (2, 1, 2), 0])
def test_tile(reps):
    x = sa.from_array(A, chunks=(4, 3))
    assert_eq(sa.tile(x, reps), np.tile(A, reps))


@pytest.mark.parametrize("width", [1, (1, 2), ((0, 2), (3, 1))])
@pytest.mark.parametrize("mode", ["constant", "edge"])
def test_pad(width, mode):
    x = sa.from_array(A, chunks=(4, 3))
    kwargs = {"constant_values": 7} if mode == "constant" else {}
    assert_eq(sa.pad(x, width, mode=mode, **kwargs), np.pad(A, width, mode=mode, **kwargs))


def test_isin_searchsorted():
    x = sa.from_array(A, chunks=(4, 3))
    tests = np.array([1, 5, 8])
    assert_eq(sa.isin(x, tests), np.isin(A, tests))
    assert_eq(
        sa.isin(x, sa.from_array(tests, chunks=2), invert=True), np.isin(A, tests, invert=True)
    )
    sorted_a = np.sort(np.random.default_rng(0).integers(0, 50, 40))
    values = np.array([[-1, 0, 7], [25, 49, 60]])
    s = sa.from_array(sorted_a, chunks=7)
    for side in ("left", "right"):
        assert_eq(sa.searchsorted(s, values, side=side), np.searchsorted(sorted_a, values, side))
    with pytest.raises(ValueError, match="1-D"):
        sa.searchsorted(x, values)


def test_unique_bincount():
    x = sa.from_array(A.ravel(), chunks=5)
    assert_eq(sa.unique(x), np.unique(A))
    assert_eq(sa.unique(sa.from_array(A, chunks=4)), np.unique(A))
    assert_eq(sa.bincount(x), np.bincount(A.ravel()))
    assert_eq(sa.bincount(x, minlength=20), np.bincount(A.ravel(), minlength=20))
    w = np.linspace(0, 1, 42)
    assert_eq(sa.bincount(x, weights=sa.from_array(w, chunks=5)), np.bincount(A.ravel(), weights=w))
    with pytest.raises(TypeError, match="integers"):
        sa.bincount(sa.ones(3, chunks=1))


@pytest.mark.parametrize("bins, rng", [(5, (0, 9)), (np.array([0, 1, 4, 9]), None)])
def test_histogram(bins, rng):
    x = sa.from_array(A, chunks=(4, 3))
    counts, edges = sa.histogram(x, bins=bins, range=rng)
    expected, expected_edges = np.histogram(A, bins=bins, range=rng)
    assert_eq(counts, expected)
    np.testing.assert_allclose(edges, expected_edges)
    w = A / 10.0
    wc, _ = sa.histogram(x, bins=bins, range=rng, weights=sa.from_array(w, chunks=3))
    assert_eq(wc, np.histogram(A, bins=bins, range=rng, weights=w)[0])
    dens, _ = sa.histogram(x, bins=bins, range=rng, density=True)
    assert_eq(dens, np.histogram(A, bins=bins, range=rng, density=True)[0])
    with pytest.raises(ValueError, match="range"):
        sa.histogram(x, bins=3)


@pytest.mark.parametrize(
    "subscripts, shapes",
    [
        ("ij,jk->ik", [(4, 5), (5, 3)]),
        ("ij->ji", [(4, 5)]),
        ("ii->i", [(5, 5)]),
        ("ii->", [(5, 5)]),
        ("ijk,jl->ilk", [(2, 3, 4), (3, 2)]),
        ("i,i->", [(6,), (6,)]),
        ("i,j->ij", [(3,), (4,)]),
        ("ij,ij,ij->i", [(3, 4)] * 3),
    ],
)
def test_einsum(subscripts, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = sa.einsum(subscripts, *[sa.from_array(a, chunks=2) for a in arrays])
    assert_eq(ours, np.einsum(subscripts, *arrays))


def test_einsum_errors():
    x = sa.ones((2, 3), chunks=1)
    with pytest.raises(NotImplementedError, match="->"):
        sa.einsum("ij", x)
    with pytest.raises(ValueError, match="subscripts"):
        sa.einsum("ijk->i", x)
    with pytest.raises(ValueError, match="operands"):
        sa.einsum("ij,jk->ik", x)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_apply_along_axis(axis):
    x = sa.from_array(A, chunks=(4, 3))
    assert_eq(sa.apply_along_axis(np.sort, axis, x), np.apply_along_axis(np.sort, axis, A))
    assert_eq(sa.apply_along_axis(np.ptp, axis, x), np.apply_along_axis(np.ptp, axis, A))
    assert_eq(
        sa.apply_along_axis(lambda v, k: v[:k] * 2, axis, x, 2),
        np.apply_along_axis(lambda v, k: v[:k] * 2, axis, A, 2),
    )
    with pytest.raises(NotImplementedError):
        sa.apply_along_axis(lambda v: np.outer(v, v), axis, x)


@pytest.mark.parametrize("chunks", [1, 4, -1])
def test_unique_with_index_inverse_counts(chunks):
    a = np.array([[3.0, np.nan, 1.0, 3.0], [2.0, 1.0, np.nan, 7.0], [7.0, 7.0, 0.5, 3.0]])
    x = sa.from_array(a, chunks=chunks)
    ours = sa.unique(x, return_index=True, return_inverse=True, return_counts=True)
    theirs = np.unique(a, return_index=True, return_inverse=True, return_counts=True)
    for o, t in zip(ours, theirs):
        assert_eq(o, t)
    values, counts = sa.unique(sa.from_array(A, chunks=(4, 3)), return_counts=True)
    ev, ec = np.unique(A, return_counts=True)
    assert_eq(values, ev)
    assert_eq(counts, ec)
    xp = x.__array_namespace__()  # the Array API counts every NaN as its own value
    standard = np.unique(
        a, return_index=True, return_inverse=True, return_counts=True, equal_nan=False
    )
    assert_eq(xp.unique_all(x)[1], standard[1])
    assert_eq(xp.unique_inverse(x)[1], standard[2])
    assert_eq(xp.unique_counts(x)[1], standard[3])


def test_unique_index_needs_known_chunks():
    x = sa.arange(6, chunks=2)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        sa.unique(x[x > 2], return_index=True)
    assert_eq(sa.unique(x[x > 2]), np.arange(3, 6))


@pytest.mark.parametrize("rowvar", [True, False])
@pytest.mark.parametrize("chunks", [1, (2, 5), -1])
def test_cov_corrcoef(rowvar, chunks):
    data = np.random.default_rng(3).standard_normal((4, 9))
    x = sa.from_array(data, chunks=chunks)
    assert_eq(sa.cov(x, rowvar=rowvar), np.cov(data, rowvar=rowvar))
    assert_eq(sa.cov(x, rowvar=rowvar, ddof=0), np.cov(data, rowvar=rowvar, ddof=0))
    assert_eq(sa.corrcoef(x, rowvar=rowvar), np.corrcoef(data, rowvar=rowvar))
    assert_eq(np.cov(x), np.cov(data))
    v = data[0]
    assert_eq(sa.cov(sa.from_array(v, chunks=4)), np.cov(v))
    assert_eq(sa.cov(sa.from_array(v, chunks=4), data[1]), np.cov(v, data[1]))


def test_inner_trace_digitize_angle_nanpercentile():
    a = np.arange(12.0).reshape(3, 4)
    x = sa.from_array(a, chunks=2)
    assert_eq(sa.inner(x, x), np.inner(a, a))
    assert_eq(sa.trace(x, 1), np.trace(a, 1))
    bins = np.array([2.0, 5.0, 9.0])
    assert_eq(sa.digitize(x, bins), np.digitize(a, bins))
    assert_eq(sa.digitize(x, bins, right=True), np.digitize(a, bins, right=True))
    z = a + 1j * a[::-1]
    assert_eq(sa.angle(sa.from_array(z, chunks=2)), np.angle(z))
    b = a.copy()
    b[1, 2] = np.nan
    y = sa.from_array(b, chunks=2)
    assert_eq(sa.nanpercentile(y, [10, 90], axis=1), np.nanpercentile(b, [10, 90], axis=1))
    assert_eq(sa.nanquantile(y, 0.5, axis=0), np.nanquantile(b, 0.5, axis=0))
