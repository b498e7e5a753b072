"""shoal as an xarray chunk manager: every operation on a shoal-backed DataArray
or Dataset is checked against the same operation on NumPy-backed xarray
objects, on several chunkings (uneven and single-element ones included), and
stays lazy until computed. Skipped when xarray is not installed (extra
``xarray``)."""

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

xr = pytest.importorskip("xarray")

from xarray.namedarray.parallelcompat import (  # noqa: E402
    get_chunked_array_type,
    list_chunkmanagers,
)

import shoal  # noqa: E402
import shoal.array as sa  # noqa: E402
from shoal.array.xarray_chunkmanager import (  # noqa: E402
    ShoalChunkManager,
    parse_gufunc_signature,
)

ROOT = Path(__file__).resolve().parents[2]
CHUNKINGS = [(2, 3), (1, 1), (3, 7), (4, 7), ((1, 3), (5, 2))]


def no_compute(graph, keys, **kwargs):
    raise AssertionError("something computed while the plan was being built")


def numbers(shape=(4, 7), seed=0, nan=True):
    a = np.random.default_rng(seed).normal(size=shape)
    if nan:
        a[1, 2] = np.nan
    return a


def pair(a, chunks, dims=("t", "y")):
    """The same data as a shoal-backed and a NumPy-backed DataArray."""
    coords = {d: np.arange(n) for d, n in zip(dims, a.shape)}
    # named: like a dask array, a shoal array would lend the DataArray its own name
    lazy = xr.DataArray(sa.from_array(a, chunks=chunks), dims=dims, coords=coords, name="v")
    return lazy, xr.DataArray(a, dims=dims, coords=coords, name="v")


def assert_lazy_equal(lazy, expected):
    """``lazy`` is still shoal-backed, and computes to ``expected``."""
    assert isinstance(lazy.data, sa.Array), type(lazy.data)
    computed = lazy.compute()
    assert isinstance(computed.data, np.ndarray)
    xr.testing.assert_allclose(computed, expected)


# -------------------------------------------------------------- registration


def test_entry_point_is_declared_and_registered():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    target = project["entry-points"]["xarray.chunkmanagers"]["shoal"]
    assert target == "shoal.array.xarray_chunkmanager:ShoalChunkManager"
    assert any(extra.startswith("xarray") for extra in project["optional-dependencies"]["xarray"])
    assert "xarray" in project["optional-dependencies"]["complete"][0]
    manager = list_chunkmanagers()["shoal"]
    assert isinstance(manager, ShoalChunkManager)
    assert get_chunked_array_type(sa.ones(3, chunks=2)) is manager
    assert not manager.is_chunked_array(np.ones(3))


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_wrap_compute_load_and_persist(chunks):
    a = numbers()
    lazy, expected = pair(a, chunks)
    assert lazy.chunks == sa.from_array(a, chunks=chunks).chunks
    assert_lazy_equal(lazy, expected)
    np.testing.assert_array_equal(lazy.values, a)
    persisted = lazy.persist()
    assert isinstance(persisted.data, sa.Array) and persisted.chunks == lazy.chunks
    xr.testing.assert_identical(persisted.compute(), expected)
    loaded = lazy.copy()
    assert loaded.load() is loaded and isinstance(loaded.data, np.ndarray)
    xr.testing.assert_identical(loaded, expected)
    assert isinstance(lazy.data, sa.Array)  # the original stays lazy


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_reductions_and_arithmetic_stay_lazy(chunks):
    lazy, expected = pair(numbers(), chunks)
    with shoal.config.set(scheduler=no_compute):
        built = {
            "mean": lazy.mean("t"),
            "sum": lazy.sum(),
            "std": lazy.std("y", ddof=1),
            "max": lazy.max("t", skipna=False),
            "anomaly": lazy - lazy.mean("t"),
            "where": lazy.where(lazy > 0, -1.0),
        }
    assert_lazy_equal(built["mean"], expected.mean("t"))
    assert_lazy_equal(built["sum"], expected.sum())
    assert_lazy_equal(built["std"], expected.std("y", ddof=1))
    assert_lazy_equal(built["max"], expected.max("t", skipna=False))
    assert_lazy_equal(built["anomaly"], expected - expected.mean("t"))
    assert_lazy_equal(built["where"], expected.where(expected > 0, -1.0))


# ------------------------------------------------------------------ chunk


def test_chunk_stays_shoal():
    a = numbers()
    lazy, expected = pair(a, (2, 3))
    rechunked = lazy.chunk({"t": 1}, chunked_array_type="shoal")
    assert isinstance(rechunked.data, sa.Array) and rechunked.chunks == ((1, 1, 1, 1), (3, 3, 1))
    assert_lazy_equal(rechunked, expected)
    assert lazy.chunk({"y": -1}, chunked_array_type="shoal").chunks == ((2, 2), (7,))
    fresh = expected.chunk({"t": 3}, chunked_array_type="shoal")
    assert isinstance(fresh.data, sa.Array) and fresh.chunks == ((3, 1), (7,))
    assert_lazy_equal(fresh, expected)
    with xr.set_options(chunk_manager="shoal"):
        by_option = expected.chunk({"y": 2})
        assert isinstance(by_option.data, sa.Array) and by_option.chunks == ((4,), (2, 2, 2, 1))
        assert isinstance(lazy.chunk({"t": 2}).data, sa.Array)
    assert_lazy_equal(by_option, expected)


def test_chunk_manager_methods_directly():
    manager = ShoalChunkManager()
    assert manager.normalize_chunks((2, -1), shape=(5, 3)) == ((2, 2, 1), (3,))
    assert manager.normalize_chunks({0: 4}, (5, 3), previous_chunks=((5,), (1, 2))) == (
        (4, 1),
        (1, 2),
    )
    with pytest.raises(ValueError, match="needs the array's shape"):
        manager.normalize_chunks(2)
    empty = manager.from_array(np.zeros((0, 3)), ("auto", "auto"), inline_array=True)
    assert empty.shape == (0, 3) and empty.compute().shape == (0, 3)
    assert manager.get_auto_chunk_size() == 128 * 2**20
    assert manager.array_api.__name__ == "shoal.array.api"
    x = sa.from_array(np.arange(12.0).reshape(3, 4), chunks=(2, 3))
    total = manager.reduction(x, np.sum, axis=1, dtype=float)
    np.testing.assert_array_equal(total.compute(), np.arange(12.0).reshape(3, 4).sum(1))
    (computed,) = manager.compute(x + 1)
    np.testing.assert_array_equal(computed, np.arange(12.0).reshape(3, 4) + 1)
    outer = manager.blockwise(np.multiply, ("row", "col"), x, ("row", "col"), 2, None)
    np.testing.assert_array_equal(outer.compute(), 2 * np.arange(12.0).reshape(3, 4))


def test_unify_chunks():
    a, b = numbers(), numbers(seed=1)
    left = xr.DataArray(sa.from_array(a, chunks=(2, 3)), dims=("t", "y"), name="a")
    right = xr.DataArray(sa.from_array(b, chunks=(3, 4)), dims=("t", "y"), name="b")
    u_left, u_right = xr.unify_chunks(left, right)
    assert u_left.chunks == u_right.chunks == ((2, 1, 1), (3, 1, 2, 1))
    xr.testing.assert_identical(u_left.compute(), xr.DataArray(a, dims=("t", "y"), name="a"))
    xr.testing.assert_identical(u_right.compute(), xr.DataArray(b, dims=("t", "y"), name="b"))


# -------------------------------------------------------------- apply_ufunc


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_apply_ufunc_parallelized(chunks):
    lazy, expected = pair(numbers(), chunks)

    def twice(v):
        return 2 * v

    out = xr.apply_ufunc(twice, lazy, dask="parallelized", output_dtypes=[float])
    assert_lazy_equal(out, twice(expected))
    whole_y = lazy.chunk({"y": -1}, chunked_array_type="shoal")
    ranked = xr.apply_ufunc(
        np.sort,
        whole_y,
        input_core_dims=[["y"]],
        output_core_dims=[["y"]],
        dask="parallelized",
        output_dtypes=[float],
    )
    assert_lazy_equal(
        ranked, xr.apply_ufunc(np.sort, expected, input_core_dims=[["y"]], output_core_dims=[["y"]])
    )
    peak = xr.apply_ufunc(
        lambda row: np.nanmax(row) - np.nanmin(row),
        whole_y,
        input_core_dims=[["y"]],
        vectorize=True,
        dask="parallelized",
        output_dtypes=[float],
    )
    assert_lazy_equal(peak, expected.max("y") - expected.min("y"))


def test_apply_ufunc_new_dims_several_outputs_and_rechunking():
    lazy, expected = pair(numbers(nan=False), (2, 3))
    whole_y = lazy.chunk({"y": -1}, chunked_array_type="shoal")
    quartiles = xr.apply_ufunc(
        lambda v: np.quantile(v, [0.25, 0.75], axis=-1).transpose(1, 0),
        whole_y,
        input_core_dims=[["y"]],
        output_core_dims=[["q"]],
        dask="parallelized",
        output_dtypes=[float],
        dask_gufunc_kwargs={"output_sizes": {"q": 2}},
    )
    assert quartiles.dims == ("t", "q")
    assert_lazy_equal(
        quartiles,
        expected.quantile([0.25, 0.75], dim="y")
        .transpose()
        .drop_vars("quantile")
        .rename(quantile="q"),
    )
    low, high = xr.apply_ufunc(
        lambda v: (np.floor(v), np.ceil(v)),
        lazy,
        output_core_dims=[[], []],
        dask="parallelized",
        output_dtypes=[float, float],
    )
    assert_lazy_equal(low, np.floor(expected))
    assert_lazy_equal(high, np.ceil(expected))
    with pytest.raises(ValueError, match="span several chunks|consists of multiple chunks"):
        xr.apply_ufunc(
            np.sort,
            lazy,
            input_core_dims=[["y"]],
            output_core_dims=[["y"]],
            dask="parallelized",
            output_dtypes=[float],
        )
    ranked = xr.apply_ufunc(
        np.sort,
        lazy,
        input_core_dims=[["y"]],
        output_core_dims=[["y"]],
        dask="parallelized",
        output_dtypes=[float],
        dask_gufunc_kwargs={"allow_rechunk": True},
    )
    assert_lazy_equal(
        ranked, xr.apply_ufunc(np.sort, expected, input_core_dims=[["y"]], output_core_dims=[["y"]])
    )


def test_apply_gufunc_checks_its_arguments():
    manager = ShoalChunkManager()
    x = sa.ones((4, 3), chunks=2)
    assert parse_gufunc_signature("(i,j),(j)->(i),()") == ([("i", "j"), ("j",)], [("i",), ()])
    with pytest.raises(ValueError, match="looks like"):
        parse_gufunc_signature("(i)")
    with pytest.raises(ValueError, match="has 2 inputs, got 1"):
        manager.apply_gufunc(np.add, "(),()->()", x)
    with pytest.raises(ValueError, match="output_sizes"):
        manager.apply_gufunc(np.sum, "(i)->(k)", x.rechunk({1: -1}))
    with pytest.raises(ValueError, match="axes=, axis= and keepdims="):
        manager.apply_gufunc(np.sum, "(i)->()", x, axis=0)


# ------------------------------------------------------- map_blocks, rolling


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_map_blocks(chunks):
    lazy, expected = pair(numbers(), chunks)
    assert_lazy_equal(lazy.map_blocks(lambda d: d * 10 + 1), expected * 10 + 1)
    assert_lazy_equal(xr.map_blocks(np.abs, lazy), np.abs(expected))
    direct = ShoalChunkManager().map_blocks(np.negative, lazy.data, dtype=float)
    np.testing.assert_array_equal(direct.compute(), -expected.values)


@pytest.mark.parametrize("chunks", CHUNKINGS)
@pytest.mark.parametrize(
    "window", [{"t": 2}, {"t": 3, "center": True}, {"y": 3, "min_periods": 1}, {"y": 1}]
)
def test_rolling(chunks, window):
    lazy, expected = pair(numbers(), chunks)
    assert_lazy_equal(lazy.rolling(**window).mean(), expected.rolling(**window).mean())
    assert_lazy_equal(lazy.rolling(**window).sum(), expected.rolling(**window).sum())
    assert_lazy_equal(lazy.rolling(**window).max(), expected.rolling(**window).max())


def test_sliding_window_view_matches_numpy():
    from numpy.lib.stride_tricks import sliding_window_view as numpy_windows

    from shoal.array.sliding import sliding_window_view

    a = np.arange(60).reshape(6, 10)
    for chunks in [(2, 3), (1, 1), (6, 10), (4, 7)]:
        x = sa.from_array(a, chunks=chunks)
        for window, axis in [((2, 3), None), (3, 1), (1, 0), (6, 0), ((2, 2), (1, 0)), (0, 1)]:
            got = sliding_window_view(x, window, axis=axis).compute()
            np.testing.assert_array_equal(got, numpy_windows(a, window, axis=axis))
    with pytest.raises(ValueError, match="longer than axis"):
        sliding_window_view(sa.ones(3, chunks=2), 4)
    with pytest.raises(ValueError, match="one entry per axis"):
        sliding_window_view(sa.ones((3, 3), chunks=2), 2)


# --------------------------------------------------------- zarr, a workflow


def climate_dataset(days=3 * 365):
    rng = np.random.default_rng(0)
    time = pd.date_range("2000-01-01", periods=days, freq="D")
    lat, lon = np.linspace(-60, 60, 5), np.arange(0, 360, 60.0)
    season = 10 * np.sin(2 * np.pi * np.asarray(time.day_of_year) / 365)[:, None, None]
    tas = 280 + season + rng.normal(0, 2, (days, lat.size, lon.size))
    tas[40, 1, 2] = np.nan  # a missing day: skipped by the monthly mean
    precip = rng.gamma(2.0, 1.5, (days, lat.size, lon.size))
    return xr.Dataset(
        {"tas": (("time", "lat", "lon"), tas), "precip": (("time", "lat", "lon"), precip)},
        coords={"time": time, "lat": lat, "lon": lon},
    )


def monthly_anomaly(ds):
    """Monthly means, their climatology per calendar month, and the anomaly."""
    monthly = ds.resample(time="MS").mean()
    climatology = monthly.groupby("time.month").mean("time")
    anomaly = monthly.groupby("time.month") - climatology
    return anomaly.assign(precip_total=ds.precip.resample(time="MS").sum())


@pytest.mark.filterwarnings("ignore:The specified chunks separate the stored chunks")
@pytest.mark.parametrize("time_chunks", [100, 37, 365, -1])
def test_climate_workflow_zarr_to_zarr(tmp_path, time_chunks):
    pytest.importorskip("zarr")
    climate_dataset().to_zarr(tmp_path / "in.zarr", mode="w", consolidated=False)
    with shoal.config.set(scheduler=no_compute):
        opened = xr.open_zarr(
            tmp_path / "in.zarr",
            chunks={"time": time_chunks, "lat": 2},
            chunked_array_type="shoal",
            consolidated=False,
        )
        assert isinstance(opened.tas.data, sa.Array)
        anomaly = monthly_anomaly(opened)
        assert all(isinstance(v.data, sa.Array) for v in anomaly.data_vars.values())
    anomaly.to_zarr(tmp_path / "out.zarr", mode="w", consolidated=False)
    eager = monthly_anomaly(
        xr.open_zarr(tmp_path / "in.zarr", chunks=None, consolidated=False).load()
    )
    written = xr.open_zarr(tmp_path / "out.zarr", chunks=None, consolidated=False).load()
    xr.testing.assert_allclose(written, eager)
    assert int(written.tas.isnull().sum()) == 0  # the missing day did not spread


def test_to_zarr_region_writes(tmp_path):
    pytest.importorskip("zarr")
    ds = climate_dataset(days=60)
    template = xr.zeros_like(ds)
    encoding = {name: {"chunks": (10, 5, 6)} for name in ds.data_vars}  # aligned with the writes
    template.to_zarr(tmp_path / "r.zarr", mode="w", consolidated=False, encoding=encoding)
    lazy = ds.chunk({"time": 10}, chunked_array_type="shoal")
    assert isinstance(lazy.tas.data, sa.Array)
    part = lazy.isel(time=slice(20, 50)).drop_vars(["lat", "lon"])
    part.to_zarr(tmp_path / "r.zarr", region={"time": slice(20, 50)}, consolidated=False)
    back = xr.open_zarr(tmp_path / "r.zarr", chunks=None, consolidated=False).load()
    expected = template.copy(deep=True)
    expected[{"time": slice(20, 50)}] = ds.isel(time=slice(20, 50))
    xr.testing.assert_allclose(back, expected)
