"""Coordination primitives and the task context on a real cluster: TCP,
worker processes under nannies, several clients (one in another process)."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import cloudpickle
import pytest

from shoal.core import config
from shoal.distributed import (
    Client,
    Event,
    LocalCluster,
    Lock,
    Pub,
    Queue,
    Semaphore,
    Sub,
    Variable,
    get_client,
    get_worker,
    rejoin,
    secede,
    worker_client,
)

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(90)

FAST_LEASES = {
    "distributed.scheduler.locks.lease-timeout": 1.0,
    "distributed.scheduler.locks.lease-validation-interval": 0.1,
}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=2, processes=True) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def other(cluster):
    with Client(cluster.scheduler_address, set_as_default=False) as c:
        yield c


# ------------------------------------------------------------ locks


_HOLDER = """
import sys, time
from shoal.distributed import Client, Lock
client = Client(sys.argv[1])
assert Lock(sys.argv[2]).acquire()
print("acquired", flush=True)
time.sleep(600)
"""


def _holder(address: str, name: str) -> subprocess.Popen:
    """Another process whose client takes lock ``name`` and keeps it."""
    env = dict(os.environ, SHOAL_DISTRIBUTED__SCHEDULER__LOCKS__LEASE_VALIDATION_INTERVAL="0.1")
    proc = subprocess.Popen(
        [sys.executable, "-P", "-c", _HOLDER, address, name],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout.readline().strip() == "acquired"
    return proc


def test_lock_of_a_killed_client_goes_to_another(client):
    proc = _holder(client.scheduler_address, "killed")
    try:
        lock = Lock("killed")
        assert lock.acquire(timeout=0.3) is False  # held by the other process
        assert lock.locked()
        os.kill(proc.pid, signal.SIGKILL)
        start = time.monotonic()
        assert lock.acquire(timeout=20) is True
        assert time.monotonic() - start < 10  # its connection closed: released at once
        lock.release()
    finally:
        proc.kill()
        proc.wait()


def test_lease_of_a_frozen_client_expires_but_a_live_one_does_not(client):
    with config.set(FAST_LEASES):
        proc = _holder(client.scheduler_address, "frozen")
        try:
            lock = Lock("frozen")
            # the holder refreshes its lease: it outlives the lease timeout
            assert lock.acquire(timeout=1.6) is False
            os.kill(proc.pid, signal.SIGSTOP)  # its connection stays open, silent
            start = time.monotonic()
            assert lock.acquire(timeout=20) is True
            waited = time.monotonic() - start
            assert 0.5 < waited < 10, waited
            # never granted twice: the holder's lease is gone, ours is kept alive
            assert lock.acquire(timeout=1.6) is False
            lock.release()
        finally:
            proc.kill()
            proc.wait()


def test_lock_api_and_errors(client):
    lock = Lock("api")
    assert lock.acquire(blocking=False) is True
    assert Lock("api").acquire(blocking=False) is False
    assert Lock("api").acquire(timeout=0.05) is False
    with pytest.raises(ValueError, match="non-blocking"):
        lock.acquire(blocking=False, timeout=1)
    lock.release()
    assert not lock.locked()
    with pytest.raises(RuntimeError, match="not acquired"):
        lock.release()
    with Lock("api") as held:
        assert held.locked()
    assert not Lock("api").locked()


def _guarded(sem, i, delay):
    with sem:
        start = time.time()
        time.sleep(delay)
        return start, time.time(), sem.get_value()


@pytest.mark.parametrize("max_leases", [1, 3])
def test_semaphore_never_exceeds_max_leases_under_contention(client, max_leases):
    sem = Semaphore(max_leases=max_leases, name=f"pool-{max_leases}")
    spans = client.gather(client.map(_guarded, [sem] * 12, range(12), [0.05] * 12))
    assert all(1 <= value <= max_leases for _, _, value in spans)
    events = sorted([(s, 1) for s, _, _ in spans] + [(e, -1) for _, e, _ in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak <= max_leases
    if max_leases > 1:
        assert peak > 1  # 4 threads contended: the semaphore let several in
    assert sem.get_value() == 0


def test_semaphore_timeouts_and_errors(client):
    sem = Semaphore(max_leases=2, name="small")
    assert sem.acquire() and sem.acquire()
    assert sem.acquire(timeout=0) is False
    assert sem.acquire(timeout=0.1) is False
    assert sem.get_value() == 2
    assert sem.release() is True
    assert sem.release() is True
    with pytest.raises(RuntimeError, match="released more often"):
        sem.release()
    with pytest.raises(ValueError, match="max_leases"):
        Semaphore(max_leases=0)
    with pytest.raises(ValueError, match="exists with max_leases=2"):
        Semaphore(max_leases=3, name="small").acquire()


# ------------------------------------------- queues, variables, events


def _producer(n):
    q = Queue("work")
    for i in range(n):
        q.put(i)
    return get_worker().address


def _consumer(n):
    q = Queue("results")
    total = 0
    for _ in range(n):
        total += q.get(timeout=30)
    return total


def test_queue_across_clients_and_tasks(client, other):
    done = client.submit(_producer, 5).result()
    assert done in client.scheduler_info()["workers"]
    q = Queue("work", client=other)
    assert q.qsize() == 5
    assert [q.get() for _ in range(2)] == [0, 1]
    assert q.get(batch=2) == [2, 3]
    assert q.get(batch=True) == [4]
    assert q.get(batch=True) == []
    with pytest.raises(TimeoutError):
        q.get(timeout=0.1)
    consumer = client.submit(_consumer, 3)  # waits on a worker for another client's puts
    results = Queue("results", client=other)
    for i in (10, 20, 30):
        results.put(i)
    assert consumer.result() == 60


def test_queue_of_futures_and_maxsize(client, other):
    q = Queue("futures", maxsize=1)
    q.put(client.submit(sum, [1, 2, 3]))  # the future dies here: the queue keeps its result
    with pytest.raises(TimeoutError):
        q.put(1, timeout=0.1)  # full
    got = Queue("futures", client=other).get(timeout=5)
    assert got.client is other and got.result() == 6
    with pytest.raises(ValueError, match="maxsize"):
        Queue("bad", maxsize=-1)


def _set_variable(name, value):
    Variable(name).set(get_client().submit(pow, value, 2))
    return "set"


def test_variable_across_clients_and_from_a_task(client, other):
    v = Variable("shared", client=other)
    with pytest.raises(TimeoutError):
        v.get(timeout=0.1)
    waiting = client.submit(lambda: Variable("shared").get(timeout=30))
    Variable("shared").set({"a": [1, 2]})
    assert v.get() == {"a": [1, 2]}
    assert waiting.result() == {"a": [1, 2]}
    assert client.submit(_set_variable, "from-task", 7).result() == "set"
    future = Variable("from-task", client=other).get(timeout=5)
    assert future.result() == 49  # its result lives in the variable, not in the task
    v.delete()
    with pytest.raises(TimeoutError):
        v.get(timeout=0.1)


def _wait_event(name):
    return Event(name).wait(timeout=30)


def test_event_across_clients_and_tasks(client, other):
    ev = Event("go", client=other)
    assert ev.wait(timeout=0.05) is False
    assert ev.is_set() is False
    waiters = client.map(_wait_event, ["go"] * 3, pure=False)
    time.sleep(0.2)
    assert not any(w.done() for w in waiters)
    Event("go").set()
    assert client.gather(waiters) == [True] * 3
    assert ev.is_set() and ev.wait(0) is True
    ev.clear()
    assert not Event("go").is_set()


def _publish(n):
    pub = Pub("chan")
    for i in range(n):
        pub.put(("msg", i))
    return n


def test_pub_sub_across_clients_and_tasks(client, other):
    sub = Sub("chan", client=other)
    late = Sub("elsewhere")
    assert client.submit(_publish, 3).result() == 3
    assert [sub.get(timeout=5) for _ in range(3)] == [("msg", 0), ("msg", 1), ("msg", 2)]
    with pytest.raises(TimeoutError):
        sub.get(timeout=0.05)
    with pytest.raises(TimeoutError):
        late.get(timeout=0.05)
    Pub("chan").put("x")
    assert next(iter(sub)) == "x"
    sub.close()
    with pytest.raises(TypeError, match="futures"):
        Pub("chan").put(client.submit(abs, 1))


def test_primitives_pickle_by_name(client):
    for obj in (Lock("p"), Semaphore(2, "p2"), Queue("p3", maxsize=4), Variable("p4"), Event("p")):
        back = cloudpickle.loads(cloudpickle.dumps(obj))
        assert type(back) is type(obj) and back.name == obj.name
    assert cloudpickle.loads(cloudpickle.dumps(Queue("p3", maxsize=4))).maxsize == 4
    with pytest.raises(TypeError):
        cloudpickle.dumps(Sub("p"))


# ------------------------------------------------------ task context


def _fib(n):
    if n < 2:
        return n
    with worker_client() as c:
        a, b = c.submit(_fib, n - 1), c.submit(_fib, n - 2)
        return a.result() + b.result()


def _fan_out(n):
    client = get_client()
    worker = get_worker()
    secede()  # frees the only thread: the subtasks run meanwhile
    total = sum(client.gather(client.map(abs, [-i for i in range(n)])))
    rejoin()
    return total, worker.address, get_worker() is worker


def test_get_client_secede_rejoin_on_a_one_thread_worker():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True) as cluster:
        with Client(cluster) as c:
            total, address, same = c.submit(_fan_out, 10).result(timeout=30)
            assert (total, same) == (45, True)
            assert address == next(iter(c.nthreads()))
            assert c.submit(_fib, 6).result(timeout=60) == 8
            # tasks waiting on each other through primitives on the only thread:
            # a wait that does not succeed at once secedes
            got = c.submit(lambda: Queue("one-thread").get(timeout=30), pure=False)
            holder = c.submit(_hold_lock_until_event, pure=False)
            time.sleep(0.3)
            c.submit(lambda: Queue("one-thread").put("sent"), pure=False).result(timeout=30)
            assert got.result(timeout=30) == "sent"
            assert c.submit(_set_event_then_lock, pure=False).result(timeout=30) == "locked"
            assert holder.result(timeout=30) == "released"
            # the seceded threads are gone: the scheduler counts one thread again
            deadline = time.monotonic() + 5
            while _scheduler_threads(c) != [1] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _scheduler_threads(c) == [1]


def _hold_lock_until_event():
    with Lock("one-thread"):
        assert Event("one-thread").wait(timeout=30)
    return "released"


def _set_event_then_lock():
    Event("one-thread").set()
    with Lock("one-thread"):
        return "locked"


def _scheduler_threads(c):
    return c.run_on_scheduler(
        lambda shoal_scheduler: [w.nthreads for w in shoal_scheduler.state.workers.values()]
    )


def test_task_context_outside_tasks():
    with pytest.raises(ValueError, match="inside a task"):
        get_worker()
    with pytest.raises(ValueError, match="inside a task"):
        secede()


def test_primitives_with_an_asynchronous_client(cluster):
    async def main():
        async with Client(cluster.scheduler_address, asynchronous=True) as c:
            lock = Lock("async", client=c)
            assert await lock.acquire() is True
            assert await Lock("async", client=c).acquire(timeout=0.05) is False
            assert await lock.release() is True
            q = Queue("async", client=c)
            await q.put(c.submit(abs, -7))
            future = await q.get(timeout=5)
            assert await future == 7
            v = Variable("async", client=c)
            await v.set(3)
            assert await v.get() == 3
            ev = Event("async", client=c)
            assert await ev.wait(0.01) is False
            await ev.set()
            assert await ev.wait() is True
            async with Semaphore(2, "async-sem", client=c) as sem:
                assert await sem.get_value() == 1

    asyncio.run(main())
