"""Every collection computes through a local cluster (worker processes) with
results equal to the threaded scheduler's."""

import sys

import cloudpickle
import numpy as np
import pandas as pd
import pytest

import shoal
from shoal.distributed import Client

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def client():
    with Client(n_workers=2, threads_per_worker=1, processes=True) as c:
        yield c


def _same_as_threads(*collections):
    on_cluster = shoal.compute(*collections)
    on_threads = shoal.compute(*collections, scheduler="threads")
    assert len(on_cluster) == len(on_threads)
    for a, b in zip(on_cluster, on_threads):
        if isinstance(a, (pd.DataFrame, pd.Series)):
            pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
        elif isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b


def test_arrays(client):
    sa = pytest.importorskip("shoal.array")
    base = np.arange(360.0).reshape(18, 20)
    for chunks in [(5, 7), (18, 20), (1, 20)]:
        x = sa.from_array(base, chunks=chunks)
        _same_as_threads(x.sum(), (x + 1).mean(axis=0), x.T @ x, x[::2, 3:].max(axis=1))
    np.testing.assert_array_equal((sa.from_array(base, chunks=(5, 7)) * 2).compute(), base * 2)


def test_dataframes(client):
    sd = pytest.importorskip("shoal.dataframe")
    pdf = pd.DataFrame({"k": np.arange(60) % 7, "v": np.arange(60.0), "w": np.arange(60) % 5})
    for n in (1, 3, 7):
        df = sd.from_pandas(pdf, npartitions=n)
        _same_as_threads(df.groupby("k").v.sum(), df[df.v > 10].w.mean(), df.v.sum())
    result = sd.from_pandas(pdf, npartitions=4).groupby("k").v.sum().compute()
    pd.testing.assert_series_equal(result.sort_index(), pdf.groupby("k").v.sum())


def test_bags(client):
    sb = pytest.importorskip("shoal.bag")
    for n in (1, 3, 10):
        b = sb.from_sequence(range(50), npartitions=n)
        _same_as_threads(b.map(lambda v: v * 2).sum(), b.filter(lambda v: v % 3 == 0).count())
    freqs = sb.from_sequence(range(50), npartitions=4).map(lambda v: v % 2).frequencies()
    assert sorted(freqs.compute()) == [(0, 25), (1, 25)]
