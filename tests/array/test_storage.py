import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_store_into_memmap(tmp_path, scheduler):
    data = np.arange(600.0).reshape(20, 30)
    target = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype="f8", shape=(20, 30))
    sa.store(sa.from_array(data, chunks=(7, 8)) * 2, target, scheduler=scheduler)
    target.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), data * 2)


def test_store_several_and_delayed():
    a, b = np.zeros(10), np.zeros((3, 4), dtype=int)
    x, y = sa.arange(10.0, chunks=3), sa.ones((3, 4), dtype=int, chunks=2)
    job = sa.store([x, y], [a, b], compute=False, lock=False)
    assert a.sum() == 0
    assert job.compute() == 22
    np.testing.assert_array_equal(a, np.arange(10.0))
    np.testing.assert_array_equal(b, np.ones((3, 4)))


def test_store_checks_shapes():
    with pytest.raises(ValueError, match="shape"):
        sa.store(sa.ones(3, chunks=1), np.zeros(4))
    with pytest.raises(ValueError, match="targets"):
        sa.store([sa.ones(3, chunks=1)], [])


@pytest.mark.parametrize("axis", [0, 1])
def test_npy_stack_round_trip(tmp_path, axis):
    data = np.arange(35.0).reshape(5, 7)
    x = sa.from_array(data, chunks=(2, 3))
    sa.to_npy_stack(tmp_path / "stack", x, axis=axis)
    y = sa.from_npy_stack(tmp_path / "stack")
    assert y.chunks[axis] == x.chunks[axis]
    assert_eq(y, data)
    assert_eq(y[1:4, ::-2], data[1:4, ::-2])
    assert_eq(y.rechunk(4).sum(axis=0), data.sum(axis=0))


def test_from_npy_stack_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="info.json"):
        sa.from_npy_stack(tmp_path)
