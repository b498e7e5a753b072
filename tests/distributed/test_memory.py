"""Sizes of results, memory budgets and thresholds, and the spill store."""

import os
import sys

import pytest

from shoal.core import config
from shoal.distributed.memory import MemoryThresholds, parse_memory_limit
from shoal.distributed.sizeof import sizeof
from shoal.distributed.spill import SpillStore, compressor

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.timeout(60)


# ------------------------------------------------------------------ sizeof


@pytest.mark.parametrize("shape", [(0,), (1,), (1000,), (30, 7)])
def test_sizeof_numpy_is_its_buffer(shape):
    a = np.ones(shape)
    assert sizeof(a) == a.nbytes


def test_sizeof_pandas_counts_columns_index_and_object_values():
    df = pd.DataFrame({"a": np.arange(1000), "s": pd.Series(["x" * 40] * 1000, dtype=object)})
    exact = int(df.memory_usage(deep=True).sum())
    assert abs(sizeof(df) - exact) <= 0.05 * exact
    assert sizeof(df["a"]) == df["a"].memory_usage(deep=True)
    assert sizeof(df.iloc[:0]) == df.iloc[:0].memory_usage(deep=True).sum()
    assert sizeof(df.index) == df.index.memory_usage(deep=True)


def test_sizeof_arrow_bytes_and_containers():
    pa = pytest.importorskip("pyarrow")
    t = pa.table({"a": np.arange(1000)})
    assert sizeof(t) == t.nbytes == 8000
    assert sizeof(b"abcd") == 4 and sizeof(bytearray(10)) == 10 and sizeof(memoryview(b"xy")) == 2
    arrays = [np.zeros(1000) for _ in range(100)]  # 100 x 8 kB, sampled
    assert 800_000 <= sizeof(arrays) <= 800_000 + sys.getsizeof(arrays) + 100 * 200
    nested = {"k": (np.zeros(10), [b"x" * 100])}
    assert sizeof(nested) > 180
    assert sizeof([]) == sys.getsizeof([]) and sizeof(3) == sys.getsizeof(3)


# ------------------------------------------------------------ budgets


@pytest.mark.parametrize(
    "value, expected",
    [
        ("auto", 250),
        (None, 250),
        (0.5, 500),
        (1.0, 1000),
        ("600B", 600),
        (700, 700),
        ("10GB", 1000),  # capped to the machine
        (0, 0),
        ("0", 0),
        (False, 0),
    ],
)
def test_parse_memory_limit(value, expected):
    assert parse_memory_limit(value, n_workers=4, total=1000) == expected


@pytest.mark.parametrize("value", ["lots", -5, True, 1.5, "12 parsecs"])
def test_parse_memory_limit_rejects_bad_values(value):
    with pytest.raises(ValueError, match="is not a size"):
        parse_memory_limit(value, total=1000)


def test_bad_memory_limit_fails_before_any_worker_starts():
    from shoal.distributed import Client

    with pytest.raises(ValueError, match="memory_limit='lots'"):
        Client(n_workers=1, memory_limit="lots")


def test_thresholds_from_config_and_their_validation():
    with config.set(
        {
            "distributed.worker.memory.target": False,
            "distributed.worker.memory.spill": 0.5,
            "distributed.worker.memory.max-spill": "1GB",
        }
    ):
        t = MemoryThresholds.from_config()
    assert (t.target, t.spill, t.pause, t.terminate, t.max_spill) == (None, 0.5, 0.8, 0.95, 10**9)
    for bad in (0, 1.2, "high"):
        with config.set({"distributed.worker.memory.target": bad}):
            with pytest.raises(ValueError, match="distributed.worker.memory.target"):
                MemoryThresholds.from_config()


# ------------------------------------------------------------- spilling


@pytest.mark.parametrize("compression", [False, "lz4", "zstd"])
def test_spill_round_trips_values(tmp_path, compression):
    if compression and compressor("auto") is None:
        pytest.skip("no compression library installed")
    try:
        store = SpillStore(str(tmp_path), compression)
    except ValueError as e:
        pytest.skip(str(e))
    values = {
        "random": np.random.default_rng(0).random(100_000),
        "zeros": np.zeros((300, 400)),
        "strided": np.arange(100_000)[::3],
        "frame": pd.DataFrame({"a": np.arange(50_000), "b": ["x"] * 50_000}),
        "empty": np.array([]),
        "object": {"a": [1, 2, "three"], "b": None},
        ("tuple", 0): b"\x00" * 10,
    }
    for key, value in values.items():
        store.put(key, value)
    assert len(store) == len(values)
    for key, value in values.items():
        got = store.get(key)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(got, value)
            assert got.dtype == value.dtype and got.flags.writeable
        elif isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got, value)
        else:
            assert got == value
    zeros_disk = store.files["zeros"][1]
    random_disk = store.files["random"][1]
    if compression:
        assert zeros_disk < 0.1 * values["zeros"].nbytes  # compressible: compressed
    else:
        assert zeros_disk >= values["zeros"].nbytes
    assert random_disk >= values["random"].nbytes  # incompressible: written as it is
    assert store.disk_bytes == sum(size for _, size in store.files.values())
    for key in list(values):
        store.delete(key)
    assert store.disk_bytes == 0 and os.listdir(store.directory) == []
    store.close()
    assert os.listdir(tmp_path) == []


def test_spill_directory_made_on_first_write_and_removed_on_close(tmp_path):
    store = SpillStore(str(tmp_path / "spill"), False)
    assert not (tmp_path / "spill").exists() or not os.listdir(tmp_path / "spill")
    store.put("x", np.ones(10))
    assert len(os.listdir(tmp_path / "spill")) == 1
    store.close()
    assert os.listdir(tmp_path / "spill") == []


def test_failed_spill_leaves_nothing_behind(tmp_path):
    store = SpillStore(str(tmp_path), False)

    class Unpicklable:
        def __reduce__(self):
            raise OSError("disk full (simulated)")

    with pytest.raises(OSError, match="disk full"):
        store.put("x", Unpicklable())
    assert "x" not in store and store.disk_bytes == 0
    store.close()


def test_unknown_compression_is_rejected():
    with pytest.raises(ValueError, match="spill compression 'brotli' is not known"):
        SpillStore(compression="brotli")
