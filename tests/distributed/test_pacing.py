"""Pacing a shared store, pure parts: the token bucket under a fake clock,
rate parsing, the paced filesystem, and the IO readers' annotations."""

import pickle

import fsspec
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.core.io_pacing import (
    PacedFileSystem,
    TokenBucket,
    io_limits,
    parse_rate,
)
from shoal.core.task import Fused, Task


class Clock:
    def __init__(self):
        self.t = 0.0
        self.slept = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.slept += s
        self.t += s


@pytest.mark.parametrize("sizes", [[10] * 50, [1000], [1, 999, 500, 3], [0, 0, 7]])
def test_bucket_never_runs_faster_than_its_rate(sizes):
    clock = Clock()
    bucket = TokenBucket(100.0, burst=20.0, clock=clock, sleep=clock.sleep)
    total = 0
    for n in sizes:
        bucket.take(n)
        total += n
        # bytes taken so far never exceed what the bucket allowed by now
        assert total <= 20.0 + 100.0 * clock.t + 1e-9
    assert bucket.taken == total
    assert clock.slept == pytest.approx(max(0.0, (total - 20.0) / 100.0))


def test_bucket_refills_while_idle_up_to_its_burst():
    clock = Clock()
    bucket = TokenBucket(10.0, burst=5.0, clock=clock, sleep=clock.sleep)
    assert bucket.wait_for(5) == 0.0
    clock.t += 100.0  # a long pause saves up no more than the burst
    assert bucket.wait_for(10) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "rate, expected",
    [(1000, 1000.0), ("2kB", 2000.0), ("1 MiB/s", 2.0**20), ("3e3", 3000.0)],
)
def test_parse_rate(rate, expected):
    assert parse_rate(rate, "x") == expected


@pytest.mark.parametrize("bad", ["fast", "-1MB", 0, True, [1]])
def test_bad_rates_and_limits_raise(bad):
    with pytest.raises((ValueError, TypeError), match="max_read_rate"):
        parse_rate(bad, "read_csv")
    with pytest.raises(ValueError, match="max_concurrent must be a positive int"):
        io_limits(fsspec.filesystem("memory"), 0, None, "read_csv")


def test_paced_filesystem_reads_everything_and_pickles():
    fs = fsspec.filesystem("memory")
    with fs.open("/pacing/data.bin", "wb") as f:
        f.write(bytes(range(256)) * 40)
    paced = PacedFileSystem(fs, 1e9)
    with paced.open("/pacing/data.bin", "rb") as f:
        head = f.read(100)
        buf = bytearray(50)
        assert f.readinto(buf) == 50
        rest = f.read()
    assert head + bytes(buf) + rest == bytes(range(256)) * 40
    back = pickle.loads(pickle.dumps(paced))
    assert back.rate == 1e9 and back.exists("/pacing/data.bin")


def annotations_of(coll):
    return {
        repr(n.annotations)
        for n in coll.__shoal_graph__().values()
        if type(n) in (Task, Fused) and n.annotations
    }


@pytest.mark.parametrize("npartitions", [1, 4])
def test_readers_and_writers_attach_a_pool(tmp_path, npartitions):
    pdf = pd.DataFrame({"a": range(20), "b": [0.5] * 20})
    df = sd.from_pandas(pdf, npartitions=npartitions)
    out = sd.to_parquet(df, str(tmp_path / "pq"), max_concurrent=3, compute=False)
    assert annotations_of(out) == {"{'concurrency': {'io-file': 3}}"}
    out.compute()
    back = sd.read_parquet(str(tmp_path / "pq"), max_concurrent=2)
    assert annotations_of(back.a + 1) == {"{'concurrency': {'io-file': 2}}"}
    pd.testing.assert_frame_equal(back.compute().reset_index(drop=True), pdf)
    pdf.to_csv(tmp_path / "t.csv", index=False)
    with shoal.config.set({"io.max-concurrent": {"file": 5}}):
        csv = sd.read_csv(str(tmp_path / "t.csv"), blocksize=50)
    assert annotations_of(csv) == {"{'concurrency': {'io-file': 5}}"}
    pd.testing.assert_frame_equal(csv.compute(scheduler="threads").reset_index(drop=True), pdf)
    assert not annotations_of(sd.read_csv(str(tmp_path / "t.csv")))
