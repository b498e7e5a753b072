"""The peer-to-peer rechunk on clusters of worker processes: values equal
NumPy's on many chunkings and dtypes, n + 1 + m tasks, the automatic choice,
a worker killed mid-exchange, a disk too small, nothing left on disk, and
graphs built for a cluster computed by local schedulers."""

import os
import signal
import sys
import time

import cloudpickle
import numpy as np
import pytest

import shoal
import shoal.array as sa
from shoal.array.checker import check_blocks
from shoal.array.rechunk import Rechunk
from shoal.array.rechunk_p2p import P2PRechunk
from shoal.distributed import Client
from shoal.testing import assert_eq

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)

rng = np.random.default_rng(0)
STRUCT = np.dtype([("a", "i4"), ("b", "f8")])
OBJECTS = np.array([None, "x", 3, (1, 2), 2.5, "yz"] * 7, dtype=object)[:40].reshape(8, 5)

# (values, old chunks, new chunks): 1-D..3-D, uneven, single-element, empty blocks and axes
CASES = [
    (np.arange(17.0), (5, 5, 7), 1),
    (np.arange(17.0), 1, -1),
    (np.arange(17.0), ((0, 4, 0, 13),), ((9, 8),)),
    (np.arange(11 * 13).reshape(11, 13), (11, 1), (1, 13)),
    (np.arange(11 * 13).reshape(11, 13), ((2, 0, 9), (6, 7)), ((5, 6), (1, 12))),
    (np.arange(11 * 13).reshape(11, 13), (3, 5), (4, 4)),
    (np.arange(11 * 13).reshape(11, 13), 1, -1),
    (rng.random((4, 5, 6)).astype("f4"), (4, 1, 6), (1, 5, 1)),
    (rng.random((4, 5, 6)), (2, 3, 4), (3, 2, 5)),
    (np.empty((0, 5)), ((0,), (2, 3)), ((0,), (5,))),
    (np.empty((3, 0, 4), dtype="i2"), (1, 1, 2), (3, 1, 1)),
    (rng.random((6, 7)) < 0.5, (6, 1), (1, 7)),
    (rng.integers(-100, 100, (6, 7)).astype("i1"), (2, 7), (6, 3)),
    (rng.random((5, 6)) + 1j * rng.random((5, 6)), (5, 2), (2, 6)),
    (np.arange(30).reshape(5, 6).astype("datetime64[s]"), (1, 6), (5, 1)),
    (np.array([["ab", "c", "def"]] * 4, dtype="U3"), (1, 3), (4, 1)),
    (OBJECTS, (8, 1), (3, 5)),
    (np.array([(i, i / 2) for i in range(12)], dtype=STRUCT).reshape(3, 4), (3, 1), (1, 4)),
]


def stage_counts(arr):
    """The exchange's keys by stage (transfers, barrier, outputs)."""
    prefixes = [k[0].rsplit("-", 1)[0] for k in arr.__shoal_graph__()]
    return {p: prefixes.count(p) for p in set(prefixes) if p.startswith("p2p-rechunk")}


def on_cluster(arr, client):
    """``arr`` computed by ``client``, its blocks checked against its metadata."""
    parts = client.get(arr.__shoal_graph__(), arr.__shoal_keys__())
    check_blocks(arr, parts)
    finalize, extra = arr.__shoal_postcompute__()
    return finalize(parts, *extra)


@pytest.fixture(scope="module")
def client():
    with Client(n_workers=2, threads_per_worker=2, processes=True) as c:
        yield c


@pytest.mark.parametrize("values, old, new", CASES)
def test_values_equal_numpy(client, values, old, new):
    x = sa.from_array(values, chunks=old)
    y = x.rechunk(new, method="p2p")
    assert isinstance(y.expr, P2PRechunk)
    assert stage_counts(y) == {
        "p2p-rechunk-transfer": int(np.prod(x.numblocks)),
        "p2p-rechunk-barrier": 1,
        "p2p-rechunk": int(np.prod(y.numblocks)),
    }
    got = on_cluster(y, client)
    assert got.dtype == values.dtype and got.shape == values.shape
    np.testing.assert_array_equal(got, values)


def test_masked_blocks_are_joined_as_masked_arrays(client):
    values = np.ma.masked_array(
        np.arange(42.0).reshape(6, 7), mask=np.arange(42).reshape(6, 7) % 4 == 0
    )
    y = sa.from_array(values, chunks=(6, 1)).rechunk((2, 7), method="p2p")
    got = on_cluster(y, client)
    assert isinstance(got, np.ma.MaskedArray)
    np.testing.assert_array_equal(got.mask, values.mask)
    np.testing.assert_array_equal(got.data, values.data)


def test_work_before_and_after_and_part_of_the_output(client):
    values = rng.random((40, 30))
    x = sa.from_array(values, chunks=(3, 30)) * 2  # fused into the transfers
    y = x.rechunk((40, 2))
    assert isinstance(y.expr, P2PRechunk)  # chosen automatically on the client
    np.testing.assert_allclose(on_cluster(y.sum(axis=0), client), (values * 2).sum(axis=0))
    np.testing.assert_array_equal(on_cluster(y[5:9, 7], client), values[5:9, 7] * 2)
    assert_eq(y, values * 2)  # the same graph, computed by the sync scheduler


def test_automatic_choice(client):
    x = sa.from_array(rng.random((40, 30)), chunks=(40, 1))
    stored = x + 1
    assert isinstance(stored.rechunk((1, 30)).expr, P2PRechunk)
    # not all-to-all: neighbouring blocks merged by tasks
    assert isinstance(stored.rechunk((40, 2)).expr, Rechunk)
    # a source read region by region: tasks read the pieces straight from it
    assert isinstance(x.rechunk((1, 30)).expr, Rechunk)
    with shoal.config.set({"array.rechunk.method": "tasks"}):
        assert isinstance(stored.rechunk((1, 30)).expr, Rechunk)
    assert isinstance(stored.rechunk((1, 30), method="tasks").expr, Rechunk)
    with shoal.config.set(scheduler="sync"):  # a local backend offers no exchange
        assert isinstance(stored.rechunk((1, 30)).expr, Rechunk)


def test_graph_built_for_the_cluster_computes_locally(client):
    values = rng.random((12, 10))
    y = (sa.from_array(values, chunks=(1, 10)) - 1).rechunk((12, 1))
    assert isinstance(y.expr, P2PRechunk)
    for scheduler in ("sync", "threads"):
        np.testing.assert_array_equal(y.compute(scheduler=scheduler), values - 1)


def _exchange_files(shoal_worker):
    directory = shoal_worker.exchange._directory
    return sorted(os.listdir(directory)) if directory and os.path.isdir(directory) else []


def test_pieces_are_deleted_once_the_outputs_are_done_and_a_rerun_works(client):
    values = rng.random((30, 20))
    y = sa.from_array(values, chunks=(2, 20)).rechunk((30, 3), method="p2p")
    np.testing.assert_array_equal(y.compute(), values)
    deadline = time.monotonic() + 10
    while any(client.run(_exchange_files).values()):
        assert time.monotonic() < deadline, client.run(_exchange_files)
        time.sleep(0.1)
    assert not client.run_on_scheduler(lambda shoal_scheduler: list(shoal_scheduler.exchanges.runs))
    np.testing.assert_array_equal(y.compute(), values)  # the same exchange again: a new run


def slow(block, delay):
    time.sleep(delay)
    return block


def _barrier_done(key, shoal_scheduler):
    """The barrier ran: its result is held, or already released once every
    output had it (which can follow within milliseconds)."""
    ts = shoal_scheduler.state.tasks.get(key)
    return ts is None or ts.state in ("memory", "released", "forgotten")


def slow_outputs(delay):
    """Make this worker's exchange outputs take ``delay`` seconds more (run on
    each worker with ``Client.run``)."""
    from shoal.distributed.p2p_worker import ExchangeService

    real = ExchangeService.output

    def output(self, spec, run, j):
        time.sleep(delay)
        return real(self, spec, run, j)

    ExchangeService.output = output


# When a worker is killed: "transfers": some transfers done, some not;
# "barrier": just after the barrier; "outputs": while the survivor's outputs
# (slowed down, on two threads) still run on run 1's barrier value, which the
# survivor then holds when run 2's barrier is assigned to it. Issue 12: it
# reported that value for run 2 and the outputs rescheduled forever.
KILL_MOMENTS = ["transfers", "barrier", "outputs"]


@pytest.mark.parametrize("moment", KILL_MOMENTS)
def test_worker_killed_mid_exchange_gives_the_right_result(no_leaks, moment):
    values = rng.random((64, 60))
    threads = 2 if moment == "outputs" else 1
    with Client(n_workers=2, threads_per_worker=threads, processes=True) as c:
        pids = c.run(os.getpid)
        if moment == "outputs":
            c.run(slow_outputs, 0.3)
        x = sa.from_array(values, chunks=(4, 60))
        x = x.map_blocks(slow, 0.15 if moment == "transfers" else 0.0)
        y = x.rechunk((64, 4), method="p2p")
        barrier = y.expr._spec.barrier_key
        if moment != "transfers":  # slow work after the outputs: some done, some not
            y = y.map_blocks(slow, 0.2)
        future = c.compute(y)

        def runs(shoal_scheduler):
            return {k: r.run for k, r in shoal_scheduler.exchanges.runs.items()}

        deadline = time.monotonic() + 30
        while not c.run_on_scheduler(runs):
            assert time.monotonic() < deadline, "the exchange never started"
            time.sleep(0.05)
        if moment == "transfers":
            time.sleep(0.4)
        else:
            while not c.run_on_scheduler(_barrier_done, barrier):
                assert time.monotonic() < deadline, "the barrier never passed"
                time.sleep(0.02)
            time.sleep(0.1 if moment == "outputs" else 0.0)
        os.kill(list(pids.values())[0], signal.SIGKILL)
        got = future.result(timeout=30)
        restarted = c.run_on_scheduler(lambda shoal_scheduler: shoal_scheduler.exchanges.restarted)
        if moment != "barrier":  # just after it, the outputs may all be done
            assert restarted >= 1
        np.testing.assert_array_equal(got, values)


def test_output_that_does_not_fit_on_disk_fails_clearly(no_leaks):
    with shoal.config.set({"distributed.p2p.max-disk": 2000}):
        with Client(n_workers=2, threads_per_worker=1, processes=False) as c:
            y = sa.ones((100, 100), chunks=(10, 100)).rechunk((100, 10), method="p2p")
            with pytest.raises(OSError, match="does not fit on its workers' disks"):
                y.compute()
            assert c.submit(sum, [1, 2]).result() == 3  # the cluster still works
