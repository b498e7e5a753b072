"""Rebalance, replicate, graceful retirement and who_has/has_what on real
clusters: in-process workers (fast) and worker processes with nannies."""

import sys
import time

import cloudpickle
import pytest

import shoal
from shoal.distributed import Client, LocalCluster

np = pytest.importorskip("numpy")

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)


def block(i, n=50_000):
    """400 kB, the same for the same ``i``."""
    return np.random.default_rng(i).random(n)


def total(x):
    return float(x.sum())


def _tasks_run(shoal_worker):
    return shoal_worker.tasks_run


def _spilled(shoal_worker):
    return sorted(shoal_worker.spill.files)


def _loads(client):
    """Bytes of results each worker holds, by the scheduler's accounting."""
    return client.run_on_scheduler(
        lambda shoal_scheduler: {a: ws.nbytes for a, ws in shoal_scheduler.state.workers.items()}
    )


@pytest.fixture(scope="module")
def client():
    with Client(n_workers=3, threads_per_worker=1, processes=False) as c:
        yield c


def test_rebalance_evens_out_scattered_data_and_keeps_values(client):
    first = sorted(client.nthreads())[0]
    data = [np.full(10_000, i, dtype="f8") for i in range(30)]
    futures = client.scatter(data, workers=[first])
    assert set(sum(client.who_has(futures).values(), [])) == {first}
    moved = client.rebalance(futures)
    assert moved["moved"] >= 15 and moved["failed"] == 0
    loads = _loads(client)
    mean = sum(loads.values()) / len(loads)
    assert max(loads.values()) - min(loads.values()) <= 2 * 80_000 + 1e-9, (loads, mean)
    held = client.has_what()
    assert sorted(sum(held.values(), [])) == sorted(f.key for f in futures)  # moved, not copied
    got = client.gather(futures)
    assert all(np.array_equal(g, d) for g, d in zip(got, data))
    assert client.rebalance(futures)["moved"] == 0  # balanced already
    del futures


def _pause_worker(paused, shoal_worker):
    """As if its memory were high (its heartbeats then say so too)."""
    shoal_worker.state.status = "paused" if paused else "running"
    shoal_worker.state.pause_reason = "paused by the test" if paused else ""


def _pause(address, paused, shoal_scheduler):
    shoal_scheduler.state.workers[address].status = "paused" if paused else "running"


def test_scatter_places_no_data_on_a_paused_worker(client):
    paused = sorted(client.nthreads())[0]
    client.run(_pause_worker, True, workers=[paused])
    client.run_on_scheduler(_pause, paused, True)
    try:
        futures = client.scatter([np.full(100, i) for i in range(12)])
        holders = set(sum(client.who_has(futures).values(), []))
        assert holders and paused not in holders
        assert client.replicate(futures)["moved"] == 12  # copies go to the running ones only
        assert paused not in set(sum(client.who_has(futures).values(), []))
    finally:
        client.run(_pause_worker, False, workers=[paused])
        client.run_on_scheduler(_pause, paused, False)
    del futures


def test_replicate_to_every_worker_then_back_to_one(client):
    futures = client.map(block, range(4))
    client.gather(futures)
    made = client.replicate(futures)
    assert made["moved"] == 8 and made["failed"] == 0
    assert all(len(h) == 3 for h in client.who_has(futures).values())
    per_worker = client.has_what()
    assert all(set(f.key for f in futures) <= set(keys) for keys in per_worker.values())
    dropped = client.replicate(futures, n=1)
    assert dropped["dropped"] == 8
    assert all(len(h) == 1 for h in client.who_has(futures).values())
    got = client.gather(futures)
    assert all(np.array_equal(g, block(i)) for i, g in enumerate(got))
    with pytest.raises(ValueError, match="n >= 1"):
        client.replicate(futures, n=0)
    with pytest.raises(TypeError, match="expects futures"):
        client.replicate([1])
    del futures


def test_who_has_and_has_what_list_spilled_results():
    """A worker over its target spills; the scheduler still counts its
    results as held there, and a peer can copy a spilled one. (In-process
    workers share the test's RSS: only the managed-memory target is on.)"""
    rss_off = {f"distributed.worker.memory.{t}": False for t in ("spill", "pause", "terminate")}
    with (
        shoal.config.set(rss_off),
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, memory_limit="8MB") as lc,
        Client(lc) as c,
    ):
        full, empty = sorted(c.nthreads())
        data = [block(i) for i in range(30)]
        futures = c.scatter(data, workers=[full])  # 12 MB where the target is 4.8 MB
        spilled = c.run(_spilled)
        assert len(spilled[full]) >= 15 and not spilled[empty], spilled
        who = c.who_has(futures)
        held = c.has_what([full])[full]
        assert all(who[key] == [full] and key in held for key in spilled[full])
        (f,) = [f for f in futures if f.key == spilled[full][0]]
        assert c.replicate([f], n=2)["moved"] == 1  # read back from disk, sent to the other
        assert sorted(c.who_has([f])[f.key]) == sorted([empty, full])
        assert np.array_equal(c.gather(f), data[futures.index(f)])
        del futures, f


def test_retire_workers_moves_data_off_and_recomputes_nothing(no_leaks):
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=True) as cluster:
        with Client(cluster) as c:
            futures = c.map(block, range(12))
            expected = [float(block(i).sum()) for i in range(12)]
            c.gather(futures)
            held = c.has_what()
            leaving = max(held, key=lambda a: len(held[a]))
            assert held[leaving]
            before = c.run(_tasks_run)
            retired = c.retire_workers([leaving])
            assert list(retired) == [leaving] and retired[leaving]["nthreads"] == 1
            assert leaving not in set(sum(c.who_has(futures).values(), []))
            assert sorted(sum(c.has_what().values(), [])) == sorted(f.key for f in futures)
            sums = c.gather(c.map(total, futures))
            assert sums == pytest.approx(expected, rel=1e-12)
            runs = c.run(_tasks_run)
            assert leaving not in runs
            # the 12 sums ran, and nothing else: no block was computed again
            assert sum(runs[a] - before[a] for a in runs) == 12
            time.sleep(1.0)  # its nanny does not bring it back
            assert leaving not in c.nthreads() and len(c.nthreads()) == 2
            with pytest.raises(ValueError, match="no other running worker"):
                c.retire_workers(list(c.nthreads()))
            assert np.array_equal(c.gather(futures[0]), block(0))
            del futures
