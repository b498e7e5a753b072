import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq


def test_numpy_functions_dispatch_to_shoal():
    a = np.arange(12.0).reshape(3, 4)
    x = sa.from_array(a, chunks=2)
    for result in (
        np.sum(x),
        np.concatenate([x, x]),
        np.where(x > 3, x, 0),
        np.var(x),
        np.transpose(x),
        np.reshape(x, (4, 3)),
        np.cumsum(x, axis=1),
        np.ones_like(x),
        np.tril(x),
        np.stack([x, x]),
        np.argwhere(x > 5),
    ):
        assert isinstance(result, sa.Array)
    assert_eq(np.where(x > 3, x, 0), np.where(a > 3, a, 0))
    assert_eq(np.nonzero(x > 8)[1], np.nonzero(a > 8)[1])
    assert np.shape(x) == (3, 4) and np.ndim(x) == 2 and np.size(x) == 12
    assert_eq(np.ones_like(x), np.ones_like(a))
    assert_eq(np.round(x / 7, 2), np.round(a / 7, 2))
    assert_eq(np.clip(x, 2, 5), np.clip(a, 2, 5))


def test_unimplemented_numpy_functions_are_refused():
    x = sa.ones(3, chunks=1)
    with pytest.raises(TypeError, match="no implementation found"):
        np.partition(x, 1)


def test_array_namespace():
    x = sa.from_array(np.array([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]]), chunks=1)
    a = x.compute()
    xp = x.__array_namespace__()
    assert xp.__array_api_version__ == "2025.12"
    assert_eq(xp.sum(x), a.sum())
    assert_eq(xp.permute_dims(x, (1, 0)), a.T)
    assert_eq(xp.concat([x, x], axis=1), np.concatenate([a, a], axis=1))
    assert_eq(xp.pow(x, 2), a**2)
    assert_eq(xp.acos(x / 10), np.arccos(a / 10))
    assert_eq(xp.sort(x, axis=1), np.sort(a, axis=1))
    assert_eq(xp.sort(x, axis=0, descending=True), -np.sort(-a, axis=0))
    assert_eq(xp.argsort(x, axis=1), np.argsort(a, axis=1))
    assert_eq(xp.std(x, correction=1), a.std(ddof=1))
    assert_eq(xp.vecdot(x, x), (a * a).sum(axis=-1))
    assert_eq(xp.matrix_transpose(x), a.T)
    assert_eq(x.mT, a.T)
    assert_eq(xp.take(x, np.array([2, 0]), axis=1), a[:, [2, 0]])
    assert_eq(
        xp.cumulative_sum(x, axis=1, include_initial=True),
        np.concatenate([np.zeros((2, 1)), np.cumsum(a, axis=1)], axis=1),
    )
    assert [u.shape for u in xp.unstack(x, axis=1)] == [(2,)] * 3
    assert xp.astype(x, xp.float32).dtype == np.float32
    assert xp.isdtype(xp.float64, "real floating")
    assert x.device == "cpu" and x.to_device("cpu") is x
    assert_eq(xp.cumulative_prod(x, axis=0), np.cumprod(a, axis=0))
    assert_eq(xp.reciprocal(x), 1 / a)
    assert_eq(xp.count_nonzero(x > 1), np.count_nonzero(a > 1))
    info = xp.__array_namespace_info__()
    assert info.default_device() == "cpu" and info.devices() == ("cpu",)
    assert set(info.dtypes(kind="real floating")) == {"float32", "float64"}
    with pytest.raises(ValueError, match="version"):
        x.__array_namespace__(api_version="1999.01")


@pytest.mark.parametrize("dtype", ["u1", "i2", "f8", "bool"])
@pytest.mark.parametrize("axis", [0, 1, None])
def test_sort_argsort(dtype, axis):
    a = (np.random.default_rng(0).integers(0, 4, (5, 6))).astype(dtype)
    x = sa.from_array(a, chunks=(2, 4))
    assert_eq(np.sort(x, axis=axis), np.sort(a, axis=axis))
    assert_eq(np.argsort(x, axis=axis, kind="stable"), np.argsort(a, axis=axis, kind="stable"))
    if axis is not None:
        desc = sa.argsort(x, axis=axis, descending=True).compute()
        values = np.take_along_axis(a, desc, axis=axis)
        assert_eq(sa.sort(x, axis=axis, descending=True), values)
        assert (np.diff(values.astype(float), axis=axis) <= 0).all()
