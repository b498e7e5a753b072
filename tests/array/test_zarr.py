"""to_zarr / from_zarr round trips against NumPy (zarr is an optional extra)."""

import numpy as np
import pytest

import shoal
import shoal.array as sa
from shoal.testing import assert_eq

zarr = pytest.importorskip("zarr")

A = np.arange(7 * 11, dtype=np.float64).reshape(7, 11) / 3


@pytest.mark.parametrize("chunks", [(3, 4), (7, 11), (1, 1), ((2, 5), (4, 7)), ((3, 3, 1), (11,))])
@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_round_trip(tmp_path, chunks, scheduler):
    x = sa.from_array(A, chunks=chunks)
    path = str(tmp_path / "a.zarr")
    sa.to_zarr(x * 2, path, scheduler=scheduler)
    back = sa.from_zarr(path)
    assert_eq(back, A * 2)
    regular = {(3, 4): ((3, 3, 1), (4, 4, 3)), (1, 1): ((1,) * 7, (1,) * 11)}
    if chunks in regular:
        assert back.chunks == regular[chunks]  # the blocks become the zarr chunks
    assert np.array_equal(zarr.open_array(path, mode="r")[:], A * 2)


def test_processes_scheduler(tmp_path):
    path = str(tmp_path / "p.zarr")
    sa.to_zarr(sa.arange(20, chunks=6) * 2, path, scheduler="processes")
    assert np.array_equal(sa.from_zarr(path).compute(scheduler="processes"), np.arange(20) * 2)


def test_random_array_and_rechunked_read(tmp_path):
    x = sa.random.default_rng(0).standard_normal((40, 30), chunks=(16, 9))
    path = str(tmp_path / "r.zarr")
    sa.to_zarr(x, path)
    values = x.compute()
    assert_eq(sa.from_zarr(path, chunks=(10, 30)), values)
    assert_eq(sa.from_zarr(path).mean(axis=0), values.mean(axis=0), rtol=1e-12)


def test_component_overwrite_and_existing_array(tmp_path):
    path = str(tmp_path / "g.zarr")
    sa.to_zarr(sa.ones((4, 4), chunks=2), path, component="inner")
    assert_eq(sa.from_zarr(path, component="inner"), np.ones((4, 4)))
    with pytest.raises(ValueError):  # zarr's ContainsArrayError
        sa.to_zarr(sa.zeros((4, 4), chunks=2), path, component="inner")
    sa.to_zarr(sa.zeros((4, 4), chunks=2), path, component="inner", overwrite=True)
    assert_eq(sa.from_zarr(path, component="inner"), np.zeros((4, 4)))
    target = zarr.create_array(str(tmp_path / "t.zarr"), shape=(6,), chunks=(4,), dtype="i8")
    sa.arange(6, chunks=3).to_zarr(target)  # rechunked to the target's chunks
    assert np.array_equal(target[:], np.arange(6))
    assert_eq(sa.from_zarr(target), np.arange(6))


def test_compute_false_returns_delayed(tmp_path):
    path = str(tmp_path / "d.zarr")
    writer = sa.to_zarr(sa.full((5,), 3, chunks=2), path, compute=False)
    assert isinstance(writer, shoal.Delayed)
    assert writer.compute() == 5
    assert_eq(sa.from_zarr(path), np.full(5, 3))


def test_empty_and_zero_d(tmp_path):
    sa.to_zarr(sa.ones((0, 3), chunks=2), str(tmp_path / "e.zarr"))
    assert_eq(sa.from_zarr(str(tmp_path / "e.zarr")), np.ones((0, 3)))


def test_bad_input(tmp_path):
    target = zarr.create_array(str(tmp_path / "s.zarr"), shape=(3,), chunks=(3,), dtype="f8")
    with pytest.raises(ValueError, match="shape"):
        sa.to_zarr(sa.ones(4, chunks=2), target)
    x = sa.arange(10, chunks=3)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        sa.to_zarr(x[x > 3], str(tmp_path / "u.zarr"))
