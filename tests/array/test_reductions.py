import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

CHUNKINGS = [(1, 1, 1), (2, 3, 4), (5, 6, 7), ((1, 4), (3, 3), (2, 5)), (-1, -1, -1)]
AXES = [None, 0, 1, 2, -1, (0, 2), (1, 2), (0, 1, 2)]


def data(dtype=float):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((5, 6, 7)) * 10).astype(dtype)


@pytest.mark.parametrize(
    "name",
    [
        "sum",
        "prod",
        "mean",
        "var",
        "std",
        "min",
        "max",
        "any",
        "all",
        "nansum",
        "nanprod",
        "nanmean",
        "nanvar",
        "nanstd",
        "nanmin",
        "nanmax",
        "count_nonzero",
    ],
)
@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("axis", AXES)
def test_reductions_match_numpy(name, chunks, axis):
    a = data() / 10 + 1
    if name.startswith("nan"):
        a[1, 2, :] = np.nan
        a[0, :, 3] = np.nan
    x = sa.from_array(a, chunks=chunks)
    ours = getattr(sa, name)(x, axis=axis)
    theirs = getattr(np, name)(a, axis=axis)
    assert_eq(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "min", "argmax"])
def test_keepdims_and_split_every(name):
    a = data()
    x = sa.from_array(a, chunks=(1, 2, 1))
    for split_every in (2, 3, 16, {0: 2, 2: 4}):
        kwargs = {"split_every": split_every}
        axis = 2 if name == "argmax" else (0, 2)
        if name == "argmax" and isinstance(split_every, dict):
            continue
        assert_eq(
            getattr(sa, name)(x, axis=axis, keepdims=True, **kwargs),
            getattr(np, name)(a, axis=axis, keepdims=True),
            rtol=1e-6,
        )


def test_split_every_bounds_the_fan_in():
    x = sa.ones(1000, chunks=1)
    graph = x.sum(split_every=4).__shoal_graph__()
    from shoal.core.task import dependencies_of

    assert max(len(dependencies_of(v)) for v in graph.values()) <= 4
    assert_eq(x.sum(split_every=4), 1000.0)


@pytest.mark.parametrize("dtype", ["i4", "u1", "f4", "bool", "c16"])
def test_dtypes(dtype):
    a = (data() % 5).astype(dtype) if dtype != "c16" else data() + 1j * data()[::-1]
    x = sa.from_array(a, chunks=(2, 3, 4))
    for name in ("sum", "prod", "mean", "var", "std"):
        if dtype == "bool" and name in ("var", "std"):
            continue
        assert_eq(getattr(x, name)(axis=1), getattr(a, name)(axis=1), rtol=1e-5)
    assert_eq(x.sum(dtype="f8"), a.sum(dtype="f8"), rtol=1e-6)
    assert_eq(x.mean(axis=0, dtype="f4"), a.mean(axis=0, dtype="f4"), rtol=1e-5)


def test_var_ddof_and_stability():
    a = np.random.default_rng(1).standard_normal(10_000) + 1e9
    x = sa.from_array(a, chunks=777)
    assert_eq(x.var(ddof=1), a.var(ddof=1), rtol=1e-6)
    assert_eq(x.std(), a.std(), rtol=1e-6)
    assert_eq(sa.var(sa.ones(1, chunks=1), ddof=1), np.array(np.nan))


@pytest.mark.parametrize("name", ["argmin", "argmax", "nanargmin", "nanargmax"])
@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -2])
def test_arg_reductions(name, chunks, axis):
    a = np.round(data())
    if name.startswith("nan"):
        a[1, 2, 3] = np.nan
    x = sa.from_array(a, chunks=chunks)
    assert_eq(getattr(sa, name)(x, axis=axis), getattr(np, name)(a, axis=axis))


def test_arg_reductions_ties_and_nan():
    a = np.array([3.0, 1.0, 5.0, 1.0, 5.0, np.nan, 0.0])
    x = sa.from_array(a, chunks=2)
    assert_eq(x.argmin(), np.argmin(a))
    assert_eq(x.argmax(), np.argmax(a))
    b = np.array([2.0, 1.0, 1.0, 5.0, 5.0])
    assert_eq(sa.from_array(b, chunks=1).argmin(), np.argmin(b))
    assert_eq(sa.from_array(b, chunks=2).argmax(), np.argmax(b))
    allnan = sa.from_array(np.array([[np.nan, 1.0], [np.nan, 2.0]]), chunks=1)
    with pytest.raises(ValueError, match="All-NaN"):
        sa.nanargmin(allnan, axis=0).compute()
    with pytest.raises(TypeError, match="single int axis"):
        x.argmin(axis=(0,))


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "nancumsum", "nancumprod"])
@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumulative(name, chunks, axis):
    a = data() / 20 + 1
    if name.startswith("nan"):
        a[2, 3, :] = np.nan
    x = sa.from_array(a, chunks=chunks)
    assert_eq(getattr(sa, name)(x, axis=axis), getattr(np, name)(a, axis=axis), rtol=1e-6)


def test_cumulative_dtype_and_methods():
    a = np.arange(10, dtype="i2")
    x = sa.from_array(a, chunks=3)
    assert_eq(x.cumsum(), np.cumsum(a))
    assert_eq(x.cumsum(dtype="f8"), np.cumsum(a, dtype="f8"))
    assert_eq(np.cumsum(x, axis=0), np.cumsum(a, axis=0))
    assert_eq(sa.cumsum(sa.ones((0, 3), chunks=2), axis=0), np.zeros((0, 3)))


def test_empty_arrays():
    e = sa.ones((0, 4), chunks=2)
    assert_eq(e.sum(), np.ones((0, 4)).sum())
    assert_eq(e.sum(axis=0), np.zeros(4))
    assert_eq(e.prod(axis=1), np.ones(0))
    with pytest.warns(RuntimeWarning):
        expected = np.ones((0, 4)).mean(axis=0)
    assert_eq(e.mean(axis=0), expected)
    with pytest.raises(ValueError, match="zero-size"):
        e.max()
    with pytest.raises(ValueError, match="empty"):
        e.argmin()


def test_zero_length_blocks_inside_are_skipped():
    a = np.arange(10.0)
    x = sa.from_array(a, chunks=((3, 0, 7),))
    assert_eq(x.min(), a.min())
    assert_eq(x.argmax(), a.argmax())
    assert_eq(x.std(), a.std())


def test_zero_d():
    s = sa.asarray(np.array(4.0))
    assert_eq(s.sum(), np.array(4.0).sum())
    assert_eq(s.mean(), np.array(4.0))
    assert_eq(s.max(), np.array(4.0))


def test_axis_errors():
    x = sa.ones((2, 3), chunks=1)
    with pytest.raises(np.exceptions.AxisError, match="out of bounds"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="duplicate"):
        x.sum(axis=(0, 0))
    with pytest.raises(TypeError, match="out="):
        sa.sum(x, out=np.empty(3))


def test_methods_and_numpy_functions():
    a = data()
    x = sa.from_array(a, chunks=3)
    assert_eq(np.sum(x, axis=1), np.sum(a, axis=1))
    assert_eq(np.mean(x), np.mean(a))
    assert_eq(np.std(x, axis=(0, 1)), np.std(a, axis=(0, 1)))
    assert_eq(np.max(x, axis=0), np.max(a, axis=0))
    assert_eq(np.amin(x), np.amin(a))
    assert_eq(np.argmax(x, axis=2), np.argmax(a, axis=2))
    assert_eq(x.any(axis=0), a.any(axis=0))
    assert_eq(np.count_nonzero(x > 0, axis=1), np.count_nonzero(a > 0, axis=1))


def test_unknown_chunks_need_sizes():
    x = sa.arange(10, chunks=3)
    y = x[x > 4]
    assert_eq(y.sum(), np.arange(5, 10).sum())
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        y.cumsum(axis=0)


def test_ptp_average():
    a = data()
    x = sa.from_array(a, chunks=(2, 3, 4))
    assert_eq(sa.ptp(x, axis=1), np.ptp(a, axis=1))
    assert_eq(np.ptp(x), np.ptp(a))
    w = np.arange(1.0, 8.0)
    assert_eq(sa.average(x, axis=2, weights=w), np.average(a, axis=2, weights=w))
    assert_eq(np.average(x, axis=(0, 1)), np.average(a, axis=(0, 1)))
    avg, total = sa.average(x, weights=np.ones_like(a) * 2, returned=True)
    eavg, etotal = np.average(a, weights=np.ones_like(a) * 2, returned=True)
    assert_eq(avg, eavg)
    assert_eq(total, etotal)
    with pytest.raises(ValueError, match="do not match"):
        sa.average(x, axis=0, weights=w)


def test_isclose_allclose_nan_to_num():
    a = np.array([1.0, np.nan, np.inf, 2.0])
    x = sa.from_array(a, chunks=2)
    assert_eq(sa.isclose(x, a + 1e-9), np.isclose(a, a + 1e-9))
    assert_eq(sa.isclose(x, a, equal_nan=True), np.isclose(a, a, equal_nan=True))
    assert bool(np.allclose(x, a, equal_nan=True))
    assert not bool(sa.allclose(x, a))
    assert_eq(sa.nan_to_num(x, nan=-1.0, posinf=9.0), np.nan_to_num(a, nan=-1.0, posinf=9.0))
