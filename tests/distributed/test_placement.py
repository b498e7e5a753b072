"""Placement keywords and annotations on a real TCP cluster: priority,
workers (+ allow_other_workers), resources, retries and concurrency pools
through Client.submit/map/compute/persist and shoal.annotate; workers that
offer resources (Worker(resources=), LocalCluster(resources=), the CLI)."""

import threading
import time

import pytest

import shoal
from shoal.distributed import Client, LocalCluster
from shoal.distributed.cli import build_parser
from shoal.distributed.worker_context import get_worker

pytestmark = pytest.mark.timeout(120)


class Gauge:
    """How many calls run at once in this process (in-process workers)."""

    lock = threading.Lock()
    now = 0
    peak = 0
    calls = 0

    @classmethod
    def reset(cls):
        cls.now = cls.peak = cls.calls = 0


def gauged(x, delay=0.05):
    with Gauge.lock:
        Gauge.now += 1
        Gauge.peak = max(Gauge.peak, Gauge.now)
    time.sleep(delay)
    with Gauge.lock:
        Gauge.now -= 1
    return x


def where(_=None):
    return get_worker().name


def flaky(n):
    with Gauge.lock:
        Gauge.calls += 1
        calls = Gauge.calls
    if calls <= n:
        raise OSError(f"flaky call {calls}")
    return calls


def keywords(x, **kwargs):
    return x, kwargs


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=4, processes=False, resources={"GPU": 1}
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def test_scheduler_keywords_never_reach_the_function(client):
    f = client.submit(keywords, 1, priority=3, retries=1, workers=["0"], pure=False, y=2)
    assert f.result() == (1, {"y": 2})
    assert client.map(keywords, [1], priority=1, resources={"GPU": 1})[0].result() == (1, {})
    with pytest.raises(TypeError, match="unsupported scheduler keyword 'fifo_timeout'"):
        client.submit(keywords, 1, fifo_timeout="1s")
    with pytest.raises(TypeError, match="priority must be an int"):
        client.submit(keywords, 1, priority="high")
    with pytest.raises(ValueError, match="retries must be >= 0"):
        client.map(keywords, [1], retries=-1)
    with pytest.raises(TypeError, match="unknown annotation"):
        with shoal.annotate(colour="red"):
            pass


def test_workers_restriction_and_allow_other_workers(client):
    futures = [client.submit(where, i, workers="1", pure=False) for i in range(6)]
    assert client.gather(futures) == ["1"] * 6
    futures = client.map(where, range(6), workers=["0"], pure=False)
    assert set(client.gather(futures)) == {"0"}
    # a worker that does not exist: waits, unless other workers are allowed
    loose = client.submit(where, 0, workers="nowhere", allow_other_workers=True, pure=False)
    assert loose.result(timeout=10) in {"0", "1"}
    strict = client.submit(where, 1, workers="nowhere", pure=False)
    time.sleep(0.3)
    assert strict.status == "pending"
    strict.cancel()


def test_resources_limit_tasks_per_worker(client):
    Gauge.reset()
    futures = client.map(gauged, range(8), resources={"GPU": 1}, pure=False)
    assert client.gather(futures) == list(range(8))
    assert Gauge.peak <= 2  # one GPU on each of the two workers
    Gauge.reset()
    assert client.gather(client.map(gauged, range(8), pure=False)) == list(range(8))
    assert Gauge.peak > 2  # without resources the 8 threads run them together


def test_concurrency_pool_from_annotate_on_collections(client):
    Gauge.reset()
    with shoal.annotate(concurrency={"store": 3}):
        parts = [shoal.delayed(gauged)(i, 0.05) for i in range(12)]
    total = shoal.delayed(sum)(parts)
    assert client.compute(total).result() == sum(range(12))
    assert 1 <= Gauge.peak <= 3
    Gauge.reset()
    plain = [shoal.delayed(gauged)(i, 0.051) for i in range(12)]
    persisted = client.persist(plain, concurrency={"store": 2})
    assert shoal.compute(*persisted) == tuple(range(12))
    assert Gauge.peak <= 2
    Gauge.reset()  # the task's own annotation wins over the call's
    persisted = client.persist(parts, concurrency={"store": 1})
    assert shoal.compute(*persisted) == tuple(range(12))
    assert 1 < Gauge.peak <= 3


def test_retries_keyword_and_annotation(client):
    Gauge.reset()
    assert client.submit(flaky, 2, retries=2, pure=False).result() == 3
    Gauge.reset()
    with pytest.raises(OSError, match="flaky call 2"):
        client.submit(flaky, 5, retries=1, pure=False).result()
    Gauge.reset()
    with shoal.annotate(retries=3):
        x = shoal.delayed(flaky, pure=False)(3)
    assert client.compute(x).result() == 4


STARTED: list = []
GATE = threading.Event()


def run_in_order(name):
    if name == "block":
        GATE.wait(10)
    STARTED.append(name)
    return name


def test_priority_orders_queued_tasks():
    STARTED.clear()
    GATE.clear()
    with Client(n_workers=1, threads_per_worker=1, processes=False) as c:
        first = c.submit(run_in_order, "block")
        time.sleep(0.2)
        low = [c.submit(run_in_order, f"low-{i}", priority=-1) for i in range(8)]
        high = c.submit(run_in_order, "high", priority=10)
        time.sleep(0.2)
        GATE.set()
        c.gather([first, high, *low])
    assert STARTED[0] == "block"
    # the scheduler had sent the worker a few low tasks before "high" came
    assert STARTED.index("high") <= 3, STARTED


def test_compute_keywords_apply_to_every_task(client):
    Gauge.reset()
    parts = [shoal.delayed(gauged)(i) for i in range(6)]
    futures = client.compute(parts, workers="0", resources={"GPU": 1})
    assert [f.result() for f in futures] == list(range(6))
    assert Gauge.peak == 1


def test_worker_processes_advertise_resources():
    args = build_parser().parse_args(["worker", "tcp://h:1", "--resources", "GPU=2,FPGA=1"])
    assert args.resources == "GPU=2,FPGA=1"
    with LocalCluster(n_workers=1, threads_per_worker=2, resources="GPU=2") as cluster:
        with Client(cluster) as c:
            info = c.run_on_scheduler(_resources_of)
            assert info == [{"GPU": 2.0}]
            assert c.submit(abs, -3, resources={"GPU": 2}).result() == 3


def _resources_of(shoal_scheduler):
    return [ws.resources for ws in shoal_scheduler.state.workers.values()]


def test_local_threads_honour_pools_priority_and_retries():
    Gauge.reset()
    with shoal.annotate(concurrency={"local": 2}):
        parts = [shoal.delayed(gauged)(i, 0.03) for i in range(8)]
    assert shoal.compute(*parts, scheduler="threads", num_workers=4) == tuple(range(8))
    assert Gauge.peak <= 2
    order = []
    tasks = []
    for i in range(5):
        with shoal.annotate(priority=i):
            tasks.append(shoal.delayed(order.append, pure=False)(i))
    shoal.compute(*tasks, scheduler="sync")
    assert order == [4, 3, 2, 1, 0]
    Gauge.reset()
    with shoal.annotate(retries=2):
        x = shoal.delayed(flaky, pure=False)(2)
    assert x.compute(scheduler="threads") == 3
