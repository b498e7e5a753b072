"""The client's extras on a real cluster (TCP, worker processes): datasets,
plugins, upload_file, logs, retry, as_completed/wait, cluster information."""

import logging
import os
import sys
import time
import uuid

import cloudpickle
import pytest

from shoal.distributed import (
    Client,
    LocalCluster,
    SchedulerPlugin,
    WorkerPlugin,
    as_completed,
    get_worker,
    wait,
)

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster) as c:
        yield c


def slow(x, delay):
    time.sleep(delay)
    return x


# ---------------------------------------------------------- datasets


def test_datasets_across_clients(client, cluster):
    import numpy as np

    import shoal.array as sa

    x = client.persist(sa.from_array(np.arange(10), chunks=3) * 2)
    with Client(cluster.scheduler_address, set_as_default=False) as publisher:
        publisher.publish_dataset(numbers=publisher.scatter([1, 2, 3]))
        publisher.publish_dataset(x, name="array")
    # the publisher is gone: its published results stay
    assert client.list_datasets() == ["array", "numbers"]
    assert client.gather(client.get_dataset("numbers")) == [1, 2, 3]
    got = client.datasets["array"]
    np.testing.assert_array_equal(got.compute(), np.arange(10) * 2)
    assert "numbers" in client.datasets and len(client.datasets) == 2
    with pytest.raises(KeyError, match="published already"):
        client.publish_dataset(numbers=1)
    client.publish_dataset(numbers=5, override=True)
    assert client.get_dataset("numbers") == 5
    client.datasets["plain"] = {"a": 1}
    assert client.get_dataset("plain") == {"a": 1}
    del client.datasets["plain"]
    client.unpublish_dataset("numbers")
    assert sorted(client.datasets) == ["array"]
    with pytest.raises(KeyError, match="no dataset"):
        client.get_dataset("numbers")
    assert client.get_dataset("numbers", default=None) is None
    with pytest.raises(KeyError):
        client.unpublish_dataset("numbers")
    with pytest.raises(ValueError, match="name"):
        client.publish_dataset(1, 2)
    client.unpublish_dataset("array")


# ----------------------------------------------------------- plugins


class SchedulerRecorder(SchedulerPlugin):
    def __init__(self):
        self.events = []

    async def start(self, scheduler):
        self.events.append(("start", scheduler.address))

    def transition(self, key, start, finish, *args, **kwargs):
        self.events.append((key, start, finish))

    def add_worker(self, scheduler=None, worker=""):
        self.events.append(("add_worker", worker))

    def remove_worker(self, scheduler=None, worker="", **kwargs):
        self.events.append(("remove_worker", worker))

    def close(self):
        self.events.append(("close", None))


def _recorded(shoal_worker):
    return list(getattr(shoal_worker, "recorded", []))


class LogTransitions(WorkerPlugin):
    """Worker transitions run on the worker's event loop: kept on the plugin."""

    name = "log-transitions"

    def setup(self, worker):
        self.worker = worker
        worker.recorded = [("setup", None)]

    def transition(self, key, start, finish, **kwargs):
        self.worker.recorded.append((key, finish))

    def teardown(self, worker):
        worker.recorded.append(("teardown", None))


def test_worker_and_scheduler_plugins(client, cluster):
    client.register_plugin(LogTransitions())
    traced = client.submit(slow, 1, 0, key=f"traced-{uuid.uuid4().hex}")
    assert traced.result() == 1
    recorded = client.run(_recorded)
    assert all(r[0] == ("setup", None) for r in recorded.values())
    finishes = [f for r in recorded.values() for k, f in r if k == traced.key]
    assert finishes[:2] == ["waiting", "ready"] and "memory" in finishes, recorded
    client.unregister_worker_plugin("log-transitions")
    assert all(r[-1] == ("teardown", None) for r in client.run(_recorded).values())
    with pytest.raises(KeyError):
        client.unregister_worker_plugin("log-transitions")

    plugin = SchedulerRecorder()
    client.register_plugin(plugin, name="sched-recorder")
    on_scheduler = cluster.scheduler.plugins.plugins["sched-recorder"]
    assert on_scheduler.events[0] == ("start", cluster.scheduler_address)
    future = client.submit(slow, 2, 0, key=f"sched-traced-{uuid.uuid4().hex}")
    assert future.result() == 2
    seen = [(s, f) for k, s, f in on_scheduler.events[1:] if k == future.key]
    assert ("processing", "memory") in seen, on_scheduler.events
    with pytest.raises(TypeError, match="SchedulerPlugin or a WorkerPlugin"):
        client.register_plugin(object())
    with pytest.raises(TypeError, match="SchedulerPlugin"):
        client.register_scheduler_plugin(LogTransitions())


def test_worker_plugin_reaches_joining_workers(client, cluster):
    client.register_worker_plugin(LogTransitions())  # dask's older spelling
    try:
        cluster.scale(3)
        client.wait_for_workers(3)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            recorded = client.run(_recorded)
            if len(recorded) == 3 and all(r and r[0] == ("setup", None) for r in recorded.values()):
                break
            time.sleep(0.05)
        assert len(recorded) == 3
        assert all(r[0] == ("setup", None) for r in recorded.values()), recorded
    finally:
        client.unregister_worker_plugin("log-transitions")
        cluster.scale(2)
    events = [e[0] for e in cluster.scheduler.plugins.plugins["sched-recorder"].events]
    assert "add_worker" in events and "remove_worker" in events
    plugin = cluster.scheduler.plugins.plugins["sched-recorder"]
    client.unregister_scheduler_plugin("sched-recorder")
    assert plugin.events[-1] == ("close", None)
    assert cluster.scheduler.plugins.plugins == {}
    with pytest.raises(KeyError):
        client.unregister_scheduler_plugin("sched-recorder")


# -------------------------------------------------------- upload_file


def test_upload_file_makes_a_module_importable(client, tmp_path):
    name = f"shoal_uploaded_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text("def answer():\n    return 42\n")

    def use():
        import importlib

        return importlib.import_module(name).answer()

    with pytest.raises(ModuleNotFoundError):
        client.submit(use, pure=False).result()
    client.upload_file(str(path))
    assert client.gather(client.map(lambda _: use(), range(4), pure=False)) == [42] * 4
    assert set(client.run(lambda: __import__(name).answer()).values()) == {42}
    path.write_text("def answer():\n    return 43\n")  # uploading again reloads it
    client.upload_file(str(path))
    assert set(client.run(lambda: __import__(name).answer()).values()) == {43}
    with pytest.raises(FileNotFoundError):
        client.upload_file(str(tmp_path / "missing.py"))


# --------------------------------------------------------------- logs


def _log(message):
    logging.getLogger("shoal.distributed.test").warning(message)
    return get_worker().address


def test_worker_and_scheduler_logs(client, cluster):
    message = f"hello from a task {uuid.uuid4().hex}"
    address = client.submit(_log, message).result()
    logs = client.get_worker_logs()
    assert set(logs) == set(client.nthreads())
    assert any(level == "WARNING" and message in line for level, line in logs[address])
    assert all(isinstance(line, str) for lines in logs.values() for _, line in lines)
    assert len(client.get_worker_logs(n=1)[address]) == 1
    only = client.get_worker_logs(workers=[address])
    assert list(only) == [address]
    assert any("worker" in line and "joined" in line for _, line in client.get_scheduler_logs())
    cluster_logs = cluster.get_logs()
    assert "Scheduler" in cluster_logs and address in cluster_logs
    assert any(message in line for _, line in cluster_logs[address])


# ------------------------------------------------------------- futures


def _fail_until(path):
    if not os.path.exists(path):
        raise OSError(f"{path} is missing")
    return "ok"


def test_future_retry_after_an_error(client, tmp_path):
    flag = str(tmp_path / "flag")
    first = client.submit(_fail_until, flag)
    second = client.submit(lambda s: s + "!", first)
    with pytest.raises(OSError, match="missing"):
        second.result()
    assert first.status == "error" and second.status == "error"
    second.retry()  # no file yet: fails again
    with pytest.raises(OSError, match="missing"):
        second.result()
    open(flag, "w").close()
    second.retry()  # retries the erred dependency too
    assert second.result() == "ok!"
    assert first.result() == "ok"
    first.retry()  # a finished future stays as it is
    assert first.result() == "ok"


def test_as_completed_with_results(client):
    futures = client.map(slow, [3, 1, 2], [0.6, 0.0, 0.3])
    pairs = list(as_completed(futures, with_results=True))
    assert sorted(r for _, r in pairs) == [1, 2, 3]
    assert all(f.result() == r for f, r in pairs)
    assert pairs[0][1] != 3  # the slow one does not come first


def test_as_completed_with_results_raises_task_errors(client):
    futures = [client.submit(slow, 1, 0), client.submit(_fail_until, "/nonexistent/x")]
    with pytest.raises(OSError):
        list(as_completed(futures, with_results=True))


def test_wait_first_completed(client):
    fast = client.submit(slow, 1, 0.0, pure=False)
    slower = client.submit(slow, 2, 1.0, pure=False)
    done, not_done = wait([fast, slower], return_when="FIRST_COMPLETED")
    assert done == {fast} and not_done == {slower}
    with pytest.raises(TimeoutError):
        wait([slower], timeout=0.1)
    with pytest.raises(ValueError, match="return_when"):
        wait([fast], return_when="SOMETIMES")
    done, not_done = wait([fast, slower])
    assert done == {fast, slower} and not not_done


# -------------------------------------------------------- information


def test_scheduler_info_ncores_who_has_has_what(client):
    info = client.scheduler_info()
    assert info["type"] == "Scheduler" and info["address"] == client.scheduler_address
    assert set(info["workers"]) == set(client.nthreads())
    for address, w in info["workers"].items():
        assert w["type"] == "Worker" and w["nthreads"] == 1 and w["host"] == "127.0.0.1"
        assert address.startswith("tcp://")
    assert client.ncores() == client.nthreads()
    one = next(iter(info["workers"]))
    assert client.ncores(workers=[one]) == {one: 1}
    future = client.submit(slow, 5, 0)
    assert future.result() == 5
    holders = client.who_has([future])[future.key]
    assert len(holders) == 1 and future.key in client.has_what()[holders[0]]


def test_shutdown_closes_scheduler_and_client():
    with LocalCluster(n_workers=1, processes=False) as cluster:
        c = Client(cluster)
        c.shutdown()
        assert c.status == "closed"
        deadline = time.monotonic() + 5
        while cluster.scheduler.status != "closed" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cluster.scheduler.status == "closed"
