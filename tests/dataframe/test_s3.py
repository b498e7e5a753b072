"""Reading and writing ``s3://`` URLs against a real S3-compatible HTTP
server (moto's server app, served by werkzeug in a thread of this test),
read through s3fs as users read S3; and pacing a shared store: with
``max_concurrent=2`` the server never sees more than two object reads at
once from a cluster of many worker threads, and ``max_read_rate`` holds
the bytes per second."""

import io
import threading
import time

import pandas as pd
import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto")

import s3fs  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

import shoal  # noqa: E402
import shoal.dataframe as sd  # noqa: E402
from shoal.core.io_pacing import bucket_for  # noqa: E402
from shoal.distributed import Client, LocalCluster  # noqa: E402
from shoal.testing import assert_eq  # noqa: E402

pytestmark = pytest.mark.timeout(120)


class CountingApp:
    """WSGI middleware: counts object reads (GET of a key) in flight, with
    ``delay`` seconds added to each so that concurrent readers overlap."""

    def __init__(self, app, delay=0.0):
        self.app = app
        self.delay = delay
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.reads = 0

    def reset(self, delay=None):
        with self.lock:
            self.now = self.peak = self.reads = 0
            if delay is not None:
                self.delay = delay

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "").strip("/")
        is_read = environ["REQUEST_METHOD"] == "GET" and "/" in path
        if not is_read:
            return self.app(environ, start_response)
        with self.lock:
            self.now += 1
            self.reads += 1
            self.peak = max(self.peak, self.now)
        try:
            time.sleep(self.delay)
            return list(self.app(environ, start_response))
        finally:
            with self.lock:
                self.now -= 1


@pytest.fixture(scope="module")
def s3():
    app = CountingApp(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    thread.start()
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {
            "endpoint_url": f"http://127.0.0.1:{server.server_port}",
        },
    }
    fs = s3fs.S3FileSystem(**options)
    fs.call_s3("create_bucket", Bucket="shoal-test")
    try:
        yield app, options, fs
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def frame(n=400):
    return pd.DataFrame({"i": range(n), "x": [i * 0.5 for i in range(n)], "s": ["ab"] * n})


def test_parquet_round_trip_on_s3(s3):
    app, options, fs = s3
    pdf = frame()
    df = sd.from_pandas(pdf, npartitions=5)
    written = sd.to_parquet(df, "s3://shoal-test/rt", storage_options=options, max_concurrent=2)
    assert len(written) == 5 and len(fs.ls("shoal-test/rt")) == 5
    back = sd.read_parquet("s3://shoal-test/rt", storage_options=options)
    assert_eq(back, pdf.reset_index(drop=True), check_index=False)
    filtered = sd.read_parquet(
        "s3://shoal-test/rt", storage_options=options, filters=[("i", "<", 7)], columns=["x"]
    )
    assert filtered.x.compute().tolist() == [i * 0.5 for i in range(7)]


def test_csv_read_on_s3(s3):
    _, options, fs = s3
    pdf = frame(300)
    for i in range(3):
        with fs.open(f"shoal-test/csv/part-{i}.csv", "wb") as f:
            f.write(pdf.iloc[i * 100 : (i + 1) * 100].to_csv(index=False).encode())
    df = sd.read_csv(
        "s3://shoal-test/csv/*.csv", storage_options=options, blocksize=1000, max_concurrent=1
    )
    assert df.npartitions > 3
    got = df.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(got, pdf)


@pytest.fixture(scope="module")
def dataset(s3):
    app, options, fs = s3
    pdf = frame(1600)
    for i in range(16):
        buf = io.BytesIO()
        pdf.iloc[i * 100 : (i + 1) * 100].to_parquet(buf, index=False)
        with fs.open(f"shoal-test/ds/part.{i}.parquet", "wb") as f:
            f.write(buf.getvalue())
    return pdf


def test_max_concurrent_holds_against_the_server(s3, dataset):
    app, options, _ = s3
    with LocalCluster(n_workers=4, threads_per_worker=2, processes=False) as cluster:
        with Client(cluster) as client:
            # blocksize=1: a partition per file (row group), 16 reading tasks
            free = sd.read_parquet("s3://shoal-test/ds", storage_options=options, blocksize=1)
            app.reset(delay=0.05)
            got = client.compute(free).result()
            assert len(got) == len(dataset)
            assert app.peak > 2, "eight reader threads should overlap without a limit"
            paced = sd.read_parquet(
                "s3://shoal-test/ds", storage_options=options, blocksize=1, max_concurrent=2
            )
            app.reset()
            got = client.compute(paced.x.sum()).result()
            assert got == dataset.x.sum()
            assert app.reads >= 16  # every file was read through the server
            assert app.peak <= 2, f"{app.peak} reads at once with max_concurrent=2"
            # a config default per protocol does the same
            with shoal.config.set({"io.max-concurrent": {"s3": 1}}):
                paced = sd.read_parquet("s3://shoal-test/ds", storage_options=options, blocksize=1)
            app.reset()
            assert client.compute(paced.i.max()).result() == 1599
            assert app.peak == 1
    app.reset(delay=0.0)


def _chunk_bytes(fs, path: str) -> int:
    import pyarrow.parquet as pq

    with fs.open(path, "rb") as f:
        md = pq.read_metadata(f)
    return sum(
        md.row_group(r).column(c).total_compressed_size
        for r in range(md.num_row_groups)
        for c in range(md.num_columns)
    )


def test_max_read_rate_holds_bytes_per_second(s3, dataset):
    app, options, fs = s3
    rate = 200_000.0
    bucket = bucket_for("s3", rate)
    df = sd.read_parquet(
        "s3://shoal-test/ds", storage_options=options, blocksize=1, max_read_rate=rate
    )
    before = bucket.taken  # the footers were read (and paced) already
    start = time.monotonic()
    got = df.compute(scheduler="threads", num_workers=4)
    elapsed = time.monotonic() - start
    pd.testing.assert_frame_equal(got.reset_index(drop=True), dataset)
    taken = bucket.taken - before
    # the column chunks (the footers, read when planning, are not read again)
    data = sum(_chunk_bytes(fs, f"shoal-test/ds/part.{i}.parquet") for i in range(16))
    assert taken >= data  # every byte read went through the bucket
    # never faster than the rate (after the burst the bucket starts with)
    assert elapsed >= (taken - bucket.burst) / rate * 0.95
