"""The client API on an in-process cluster (real TCP, workers as threads)."""

import asyncio
import gc
import sys
import time

import cloudpickle
import pytest

import shoal
from shoal.core.task import Ref, Task
from shoal.distributed import (
    CancelledError,
    Client,
    ClientClosedError,
    Future,
    LocalCluster,
    as_completed,
    default_client,
    fire_and_forget,
    wait,
)

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)


def inc(x):
    return x + 1


def slow(x, delay=0.2):
    time.sleep(delay)
    return x


class Flaky:
    """Fails the first ``n`` calls in this process."""

    calls = 0


def flaky(n):
    Flaky.calls += 1
    if Flaky.calls <= n:
        raise OSError(f"flaky call {Flaky.calls}")
    return Flaky.calls


@pytest.fixture(scope="module")
def client():
    with Client(n_workers=2, threads_per_worker=2, processes=False) as c:
        yield c


def _wait_for_keys_gone(c, keys, timeout=5.0):
    keys = set(keys)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gc.collect()
        known = c.run_on_scheduler(_known_keys, list(keys))
        if not known:
            return True
        time.sleep(0.02)
    return False


def _known_keys(keys, shoal_scheduler):
    return [k for k in keys if k in shoal_scheduler.state.tasks]


def test_client_is_default_backend_while_open():
    assert shoal.core.base._active_backends == []
    with Client(n_workers=1, processes=False) as c:
        assert default_client() is c
        assert shoal.delayed(inc)(1).compute() == 2
        assert shoal.core.base._active_backends == [c]
    assert shoal.core.base._active_backends == []
    with pytest.raises(ValueError, match="no shoal.distributed Client"):
        default_client()


def test_future_api(client):
    f = client.submit(slow, 7, 0.1)
    assert isinstance(f, Future) and not f.done() and f.status == "pending"
    assert f.key.startswith("slow-")
    seen = []
    f.add_done_callback(lambda fut: seen.append(fut.key))
    assert f.result(timeout=10) == 7
    assert f.done() and f.status == "finished" and f.exception() is None
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == [f.key]
    later = []
    f.add_done_callback(later.append)
    assert later == [f]
    assert "finished" in repr(f)


def test_same_call_same_key_and_pure_false(client):
    assert client.submit(inc, 1).key == client.submit(inc, 1).key
    assert client.submit(inc, 1, pure=False).key != client.submit(inc, 1, pure=False).key
    assert client.submit(inc, 1, key="mine").key == "mine"


def test_map_sends_one_message_and_keeps_order(client):
    futures = client.map(inc, range(1000))
    assert client.gather(futures) == list(range(1, 1001))
    futures = client.map(pow, [2, 3], [3, 2])
    assert client.gather(futures) == [8, 9]
    assert client.map(inc, []) == []
    with pytest.raises(ValueError, match="2 keys for 3 tasks"):
        client.map(inc, [1, 2, 3], key=["a", "b"])


def test_futures_as_arguments_and_nested(client):
    a = client.submit(inc, 1)
    b = client.submit(sum, [a, a, 10])
    c = client.submit(lambda d: d["x"] + d["y"], {"x": a, "y": b})
    assert c.result() == 2 + 14


def test_gather_structures(client):
    a, b = client.submit(inc, 1), client.submit(inc, 2)
    assert client.gather({"a": a, "rest": (b, 5)}) == {"a": 2, "rest": (3, 5)}
    assert client.gather(a) == 2


def test_errors_keep_type_and_name_the_key(client):
    f = client.submit(int, "not a number")
    with pytest.raises(ValueError, match="invalid literal") as info:
        f.result()
    assert any("raised while computing task" in n for n in info.value.__notes__)
    assert isinstance(f.exception(), ValueError)
    dependent = client.submit(inc, f)
    with pytest.raises(ValueError, match="invalid literal"):
        dependent.result()
    with pytest.raises(ValueError):
        client.gather([client.submit(inc, 1), f])


def test_retries(client):
    Flaky.calls = 0
    assert client.submit(flaky, 2, retries=2, pure=False).result() == 3
    Flaky.calls = 0
    with pytest.raises(OSError, match="flaky call 2"):
        client.submit(flaky, 5, retries=1, pure=False).result()


def test_compute_and_persist_collections(client):
    parts = [shoal.delayed(inc)(i) for i in range(10)]
    total = shoal.delayed(sum)(parts)
    f = client.compute(total)
    assert isinstance(f, Future) and f.result() == 55
    fs = client.compute([total, parts[0], 3])
    assert [x.result() if isinstance(x, Future) else x for x in fs] == [55, 1, 3]
    persisted = client.persist(total)
    assert persisted.compute() == 55
    (p2,) = shoal.persist(total * 2)
    assert p2.compute() == 110


def test_get_follows_backend_protocol(client):
    graph = {"a": 1, "b": Task(inc, Ref("a")), ("c", 0): Task(sum, [Ref("a"), Ref("b")])}
    assert client.get(graph, "b") == 2
    assert client.get(graph, [[("c", 0)], "a"]) == [[3], 1]


def test_scatter(client):
    [x, y] = client.scatter([10, 20])
    assert client.submit(sum, [x, y]).result() == 30
    d = client.scatter({"named": [1, 2, 3]})
    assert client.submit(len, d["named"]).result() == 3
    single = client.scatter(5)
    assert single.result() == 5


def test_as_completed_and_wait(client):
    futures = client.map(slow, [0.8, 0.01, 0.1], [0.8, 0.01, 0.1], pure=False)
    order = [f.result() for f in as_completed(futures)]
    assert sorted(order) == [0.01, 0.1, 0.8] and order[-1] == 0.8
    pairs = list(as_completed(client.map(inc, range(5)), with_results=True))
    assert sorted(v for _, v in pairs) == [1, 2, 3, 4, 5]
    done, not_done = wait(client.map(slow, [1, 2], [0.01, 0.01]))
    assert len(done) == 2 and not not_done
    slow_one = client.submit(slow, 1, 2.0, pure=False)
    done, not_done = wait([slow_one, client.submit(inc, 1)], return_when="FIRST_COMPLETED")
    assert len(done) == 1 and not_done == {slow_one}
    with pytest.raises(TimeoutError):
        wait([slow_one], timeout=0.05)


def test_cancel(client):
    f = client.submit(slow, 1, 1.0, pure=False)
    f.cancel()
    with pytest.raises(CancelledError):
        f.result(timeout=10)
    assert f.status == "cancelled"


def test_fire_and_forget_runs_after_futures_are_dropped(client):
    f = client.submit(slow, "ff", 0.2, key="fire-forget-test")
    fire_and_forget(f)
    del f
    gc.collect()
    assert _wait_for_keys_gone(client, ["fire-forget-test"])


def test_a_release_never_overtakes_the_graph_of_its_key(client):
    """Releases are batched; one batch must not take a key whose graph was
    posted after the batch's flush (the scheduler would see the release
    first, ignore it, and keep the key for good)."""
    client.loop.call_soon_threadsafe(time.sleep, 0.3)  # what is posted meanwhile waits in order
    a = client.submit(inc, 1, key="order-a")
    a = client.submit(inc, 2, key="order-b")  # drops order-a: a flush of releases is posted
    c = client.submit(inc, 3, key="order-c")  # posted after that flush
    del a, c  # releases order-b and order-c
    gc.collect()
    assert _wait_for_keys_gone(client, ["order-a", "order-b", "order-c"])


def test_released_futures_free_scheduler_and_worker_memory(client):
    futures = client.map(inc, range(200), pure=False)
    client.gather(futures)
    keys = [f.key for f in futures]
    del futures
    assert _wait_for_keys_gone(client, keys)
    deadline = time.monotonic() + 5
    while True:  # free-keys reach the workers on their own stream, a moment later
        held = client.run(lambda keys, shoal_worker: set(keys) & set(shoal_worker.data), keys)
        if not any(held.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not any(held.values())


def test_run_and_run_on_scheduler(client):
    addresses = client.run(lambda shoal_worker: shoal_worker.address)
    assert sorted(addresses) == sorted(addresses.values())
    assert client.run(lambda: 1, workers=list(addresses)[:1]) == {list(addresses)[0]: 1}
    assert client.run_on_scheduler(lambda shoal_scheduler: shoal_scheduler.status) == "running"
    with pytest.raises(ZeroDivisionError):
        client.run(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        client.run_on_scheduler(lambda: 1 / 0)


def test_closed_client_futures_raise_clearly():
    c = Client(n_workers=1, processes=False)
    f = c.submit(inc, 1)
    assert f.result() == 2
    c.close()
    with pytest.raises(ClientClosedError, match="client of future .* is closed"):
        f.result()
    with pytest.raises(ClientClosedError):
        c.submit(inc, 2)


def test_connect_to_existing_cluster_by_address():
    with LocalCluster(n_workers=1, processes=False) as cluster:
        with Client(cluster.scheduler_address) as c:
            assert c.submit(inc, 1).result() == 2
        with Client(cluster) as c:
            assert len(c.nthreads()) == 1


def test_async_client():
    async def main():
        async with LocalCluster(n_workers=2, processes=False, asynchronous=True) as cluster:
            async with Client(cluster, asynchronous=True) as c:
                f = c.submit(inc, 1)
                assert await f == 2
                assert await c.gather(c.map(inc, range(3))) == [1, 2, 3]
                done, not_done = await wait(c.map(inc, [7, 8]))
                assert len(done) == 2 and not not_done
                got = [await fut async for fut in as_completed(c.map(inc, [5, 6]))]
                assert sorted(got) == [6, 7]
                with pytest.raises(ZeroDivisionError):
                    await c.submit(lambda: 1 / 0)
        c2 = await Client(
            cluster.scheduler_address if False else None,
            n_workers=1,
            processes=False,
            asynchronous=True,
        )
        assert await c2.submit(inc, 10) == 11
        await c2.close()

    asyncio.run(main())


def test_bad_arguments_are_clear(client):
    with pytest.raises(TypeError, match="callable"):
        client.submit(3)
    with pytest.raises(TypeError, match="callable"):
        client.map("x", [1])
    with pytest.raises(ValueError, match="return_when"):
        wait([], return_when="SOMETIMES")


def test_scale_down_and_up_keeps_computing():
    with LocalCluster(n_workers=2, processes=False) as cluster, Client(cluster) as c:
        futures = c.map(slow, range(20), [0.02] * 20)
        cluster.scale(1)
        assert c.gather(futures) == list(range(20))
        cluster.scale(3)
        c.wait_for_workers(3)
        assert c.gather(c.map(inc, range(30))) == list(range(1, 31))


def test_callbacks_follow_tasks_on_the_cluster(client):
    seen = []
    started = []
    finished = []
    cb = shoal.Callback(
        start=lambda graph: started.append(len(graph)),
        posttask=lambda key, result, worker: seen.append(key),
        finish=lambda graph, errored: finished.append(errored),
    )
    parts = [shoal.delayed(inc)(i) for i in range(5)]
    total = shoal.delayed(sum)(parts)
    with cb:
        assert total.compute(optimize_graph=False) == 15
    assert started == [6] and finished == [False]
    assert sorted(map(str, seen)) == sorted(map(str, total.__shoal_graph__()))


def test_whole_cluster_over_inproc_comms():
    from shoal.distributed import Scheduler, Worker

    async def main():
        async with Scheduler("inproc://") as s:
            async with Worker(s.address, nthreads=2, listen="inproc://") as w1:
                async with Worker(s.address, listen="inproc://") as w2:
                    async with Client(s.address, asynchronous=True) as c:
                        total = c.submit(sum, c.map(abs, range(-50, 0)))
                        assert await total == 1275
                        assert s.address.startswith("inproc://")
                        assert w1.tasks_run + w2.tasks_run == 51

    asyncio.run(main())


def test_garbage_collected_futures_in_cycles_do_not_deadlock(client):
    """Future.__del__ may run inside the client's own bookkeeping (a GC pass
    triggered by an allocation while the client holds its lock)."""
    import threading

    gc.disable()
    try:
        for f in client.map(inc, range(50), pure=False):
            box = {"future": f}
            box["self"] = box  # a cycle: only the cyclic GC frees it
        del f, box

        def collect_inside_bookkeeping():
            with client.lock:
                gc.collect()  # runs Future.__del__ -> client._dec_ref

        t = threading.Thread(target=collect_inside_bookkeeping, daemon=True)
        t.start()
        t.join(10)
        assert not t.is_alive(), "Future.__del__ deadlocked on the client's lock"
    finally:
        gc.enable()
    assert client.submit(inc, 1).result() == 2


def test_futures_are_cancelled_when_the_scheduler_goes_away():
    cluster = LocalCluster(n_workers=1, processes=False)
    c = Client(cluster.scheduler_address)
    try:
        f = c.submit(slow, 1, 1.0, pure=False)
        time.sleep(0.2)
        cluster.close()
        with pytest.raises(CancelledError, match="lost the scheduler"):
            f.result(timeout=20)
    finally:
        c.close()
        cluster.close()


def _known(keys, shoal_scheduler):
    return [k for k in keys if k in shoal_scheduler.state.tasks]


def test_get_releases_its_futures_without_the_cyclic_collector(client):
    keys = ["get-release-a", "get-release-b"]
    graph = {keys[0]: Task(inc, 1), keys[1]: Task(inc, Ref(keys[0]))}
    gc.disable()
    try:
        assert client.get(graph, keys[1]) == 3
        deadline = time.monotonic() + 5
        while client.run_on_scheduler(_known, keys) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.run_on_scheduler(_known, keys) == []
    finally:
        gc.enable()
