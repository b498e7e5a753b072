"""persist() on a cluster, then more work on the persisted collections: the
blocks stay on the workers (Futures in the graph, never fused into tasks).
Results are computed on the cluster (``assert_eq`` alone would compute with
the sync scheduler, which cannot read Futures)."""

import numpy as np
import pandas as pd
import pytest

import shoal.array as sa
import shoal.bag as sb
import shoal.dataframe as sd
from shoal.distributed import Client, Future
from shoal.testing import assert_eq


@pytest.fixture(scope="module")
def client():
    with Client(n_workers=2, threads_per_worker=1) as c:
        yield c


@pytest.mark.parametrize("chunks", [(10, 10), (7, 33), (100, 100), (1, 100)])
def test_array_persist_then_compute(client, chunks):
    data = np.arange(10_000.0).reshape(100, 100)
    x = sa.from_array(data, chunks=chunks).persist()
    assert all(type(v) is Future for v in dict(x.__shoal_graph__()).values())
    assert_eq((x + 1).sum(axis=0).compute(), (data + 1).sum(axis=0))
    assert_eq((x.T[::3] * 2).compute(), data.T[::3] * 2)
    assert float((x - x.mean()).std().compute()) == pytest.approx(data.std())


@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_frame_persist_then_compute(client, npartitions):
    pdf = pd.DataFrame({"a": range(50), "b": np.linspace(0, 1, 50), "c": list("xyz" * 16 + "xy")})
    df = sd.from_pandas(pdf, npartitions=npartitions).persist()
    assert_eq((df[df.a > 10].b * 2).compute(), pdf[pdf.a > 10].b * 2)
    assert_eq(df.groupby("c").a.sum().compute(), pdf.groupby("c").a.sum())
    assert int((df.a + 1).sum().compute()) == int((pdf.a + 1).sum())


def test_bag_persist_then_compute(client):
    b = sb.from_sequence(range(100), npartitions=5).map(lambda v: v * 3).persist()
    assert b.filter(lambda v: v % 2).sum().compute() == sum(v * 3 for v in range(100) if v % 2)
    assert sorted(b.map(str).compute()) == sorted(str(v * 3) for v in range(100))


def test_wait_on_persisted_collections(client):
    from shoal.distributed import futures_of, wait

    x = sa.from_array(np.arange(30.0), chunks=7).persist()
    df = sd.from_pandas(pd.DataFrame({"a": range(9)}), npartitions=3).persist()
    bag = sb.from_sequence(range(10), npartitions=2).persist()
    single = client.submit(abs, -4)
    futures = futures_of([x, {"frame": df}, (bag, single)])
    assert len(futures) == 5 + 3 + 2 + 1
    assert len({f.key for f in futures}) == len(futures)
    done, not_done = wait([x, df, bag, single])
    assert len(done) == len(futures) and not not_done
    assert all(f.status == "finished" for f in futures)
    assert futures_of(sa.arange(5, chunks=2)) == []  # not persisted: nothing to wait for
    assert wait(x).done == set(futures_of(x))
