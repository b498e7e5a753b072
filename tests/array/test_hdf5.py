"""``from_array`` of an h5py dataset: the graph carries the file name and
dataset path (never the pickled dataset), so every scheduler, a cluster's
included, reads it. Skipped without the optional ``h5py`` (``shoal[hdf5]``)."""

import pickle

import numpy as np
import pytest

import shoal.array as sa
from shoal.array.sources import H5Source
from shoal.testing import assert_eq

h5py = pytest.importorskip("h5py")

DATA = np.arange(60.0).reshape(10, 6)


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("/group/x", data=DATA)
    handle = h5py.File(path, "r")
    yield handle["/group/x"]
    handle.close()


@pytest.mark.parametrize("chunks", [(3, 4), ((1, 9), (6,)), 1, -1])
@pytest.mark.parametrize("scheduler", ["sync", "threads", "processes"])
def test_every_scheduler_reads_the_dataset(dataset, chunks, scheduler):
    x = sa.from_array(dataset, chunks=chunks)
    assert x.dtype == DATA.dtype and x.shape == DATA.shape
    np.testing.assert_array_equal(x.compute(scheduler=scheduler), DATA)
    np.testing.assert_array_equal(
        (x[2:, ::2] * 2).sum(axis=0).compute(scheduler=scheduler), (DATA[2:, ::2] * 2).sum(axis=0)
    )
    assert_eq(x, DATA)


def test_the_graph_pickles_to_names_not_datasets(dataset):
    x = sa.from_array(dataset, chunks=5)
    graph = dict(x.__shoal_graph__())
    payload = pickle.dumps(graph)
    assert b"data.h5" in payload and b"/group/x" in payload
    sources = [v for v in graph.values() if isinstance(v, H5Source)]
    assert len(sources) == 1 and sources[0].filename == dataset.file.filename
    again = pickle.loads(pickle.dumps(sources[0]))
    np.testing.assert_array_equal(again[1:3, 2:], DATA[1:3, 2:])
    assert sa.from_array(dataset, chunks=5).name == x.name  # named by file and path


def test_inline_array_pickles_too(dataset):
    x = sa.from_array(dataset, chunks=4, inline_array=True)
    np.testing.assert_array_equal(x.compute(scheduler="processes"), DATA)


def test_on_a_cluster(dataset):
    from shoal.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        x = sa.from_array(dataset, chunks=(3, 3))
        np.testing.assert_array_equal(client.compute(x).result(timeout=60), DATA)
        assert float(client.compute(x.sum()).result(timeout=60)) == DATA.sum()
