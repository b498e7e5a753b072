"""Real clusters: worker processes, TCP on 127.0.0.1, faults and leaks."""

import os
import signal
import socket
import struct
import subprocess
import sys
import time

import cloudpickle
import pytest

import shoal
from shoal.core.task import Ref, Task
from shoal.distributed import Client, KilledWorker, LocalCluster
from shoal.distributed.comm import HEADER, MAGIC, VERSION, client_proof
from shoal.distributed.protocol import dumps

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(90)


def inc(x):
    return x + 1


def slow_inc(x, delay=0.05):
    time.sleep(delay)
    return x + 1


class CustomError(Exception):
    pass


def fail(x):
    raise CustomError(f"bad value {x}")


def die_on(x, target):
    if x == target:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


@pytest.fixture(scope="module")
def client():
    with Client(n_workers=2, threads_per_worker=1, processes=True) as c:
        yield c


def _delayed_graphs():
    d = shoal.delayed
    parts = [d(slow_inc)(i, 0.001) for i in range(20)]
    total = d(sum)(parts)
    nested = d(max)([d(sum)(parts[:10]), d(sum)(parts[10:])])
    words = d(sorted)(d(set)(["a", "b", "a", "c"]))
    return [total, nested, words, d(len)(parts), total * 2 - nested]


def test_delayed_graphs_equal_threaded(client):
    graphs = _delayed_graphs()
    expected = shoal.compute(*graphs, scheduler="threads")
    got = shoal.compute(*graphs)  # the client is the default backend
    assert got == expected
    assert [g.compute() for g in graphs] == list(expected)


def test_task_error_keeps_original_exception(client):
    future = client.submit(fail, 3)
    with pytest.raises(CustomError, match="bad value 3") as info:
        future.result()
    notes = "\n".join(info.value.__notes__)
    assert "raised while computing task" in notes and "in fail" in notes
    assert isinstance(future.exception(), CustomError) and future.status == "error"
    with pytest.raises(CustomError):
        shoal.delayed(fail)(4).compute()


def test_kill_worker_mid_computation_gives_right_result(client):
    futures = client.map(slow_inc, range(60), delay=0.02)
    time.sleep(0.3)
    pids = client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    assert client.gather(futures) == [i + 1 for i in range(60)]
    client.wait_for_workers(2)


def test_lost_intermediate_results_are_recomputed(client):
    parts = [shoal.delayed(slow_inc)(i, 0.01) for i in range(30)]
    total = shoal.delayed(sum)(parts)
    future = client.compute(total)
    time.sleep(0.25)
    pids = client.run(os.getpid)
    os.kill(list(pids.values())[-1], signal.SIGKILL)
    assert future.result() == sum(range(1, 31))
    client.wait_for_workers(2)


def test_killed_worker_error_after_repeated_deaths():
    with shoal.config.set({"distributed.scheduler.allowed-failures": 1}):
        with Client(n_workers=1, threads_per_worker=1) as c:
            future = c.submit(die_on, 1, 1)
            with pytest.raises(KilledWorker, match="was on 2 workers that died") as info:
                future.result(timeout=60)
            assert str(info.value).count("its process was killed by signal SIGKILL") == 2
            assert c.submit(inc, 1).result() == 2  # the restarted worker serves


def test_worker_joining_mid_computation_gets_work(no_leaks):
    with LocalCluster(n_workers=1, threads_per_worker=1) as cluster, Client(cluster) as c:
        futures = c.map(slow_inc, range(200), delay=0.02)
        time.sleep(0.2)
        cluster.scale(2)  # returns once the new worker has registered
        assert c.gather(futures) == [i + 1 for i in range(200)]
        counts = c.run(_tasks_run)
        assert len(counts) == 2 and all(n > 0 for n in counts.values()), counts


def _tasks_run(shoal_worker):
    return shoal_worker.tasks_run


def _send_raw(address, payload):
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(client_proof(s.recv(40, socket.MSG_WAITALL), b""))  # past the handshake
        s.recv(40, socket.MSG_WAITALL)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass


def test_bad_frames_to_scheduler_leave_it_serving(client):
    address = client.scheduler_address
    body = dumps({"op": "identity"})[0]
    frames = [
        b"\x00" * 64,  # garbage
        HEADER.pack(MAGIC, VERSION, 0, 0, 1) + struct.pack("<Q", 1 << 40),  # oversized
        HEADER.pack(MAGIC, VERSION, 0, 0, 1) + struct.pack("<Q", 100) + body[:5],  # truncated
        HEADER.pack(MAGIC, VERSION, 0, 0, 1) + struct.pack("<Q", 3) + b"\xc1\xc1\xc1",
        HEADER.pack(MAGIC, VERSION + 1, 0, 0, 1) + struct.pack("<Q", len(body)) + body,
    ]
    for payload in frames:
        _send_raw(address, payload)
    assert client.submit(inc, 41).result() == 42
    assert len(client.nthreads()) == 2


def test_submit_map_gather_and_dependencies(client):
    a = client.submit(inc, 1)
    b = client.map(inc, range(5))
    c = client.submit(sum, b)
    d = client.submit(inc, a)
    assert client.gather([a, c, d]) == [2, 15, 3]


def test_numpy_results_travel_between_workers(client):
    np = pytest.importorskip("numpy")
    arrays = client.map(np.arange, [1_000_000, 2_000_000])
    total = client.submit(lambda xs: sum(float(x.sum()) for x in xs), arrays)
    assert total.result() == float(np.arange(1_000_000).sum() + np.arange(2_000_000).sum())


def test_restart_cancels_futures_and_restarts_workers(no_leaks):
    with Client(n_workers=2, threads_per_worker=1) as c:
        before = set(c.run(os.getpid).values())
        f = c.submit(slow_inc, 1, 5.0)
        c.restart()
        assert f.status == "cancelled"
        after = set(c.run(os.getpid).values())
        assert len(after) == 2 and not (before & after)
        assert c.submit(inc, 1).result() == 2


def test_cluster_closes_without_leaks(no_leaks, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # workers inherit it
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with Client(n_workers=2, threads_per_worker=2) as c:
        assert c.gather(c.map(inc, range(100))) == list(range(1, 101))
        pids = list(c.run(os.getpid).values())
        assert c.run(tempfile.gettempdir) == dict.fromkeys(c.nthreads(), str(tmp_path))
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert list(tmp_path.iterdir()) == []


def test_command_line_scheduler_and_workers(no_leaks):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    sched = subprocess.Popen(
        [sys.executable, "-P", "-m", "shoal.distributed.cli", "scheduler", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    worker = None
    try:
        line = sched.stdout.readline()
        assert line.startswith("shoal scheduler at tcp://"), line
        address = line.split()[-1]
        worker = subprocess.Popen(
            [
                sys.executable,
                "-P",
                "-m",
                "shoal.distributed.cli",
                "worker",
                address,
                "--nthreads",
                "2",
                "--nworkers",
                "2",
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        said = worker.stdout.readline()  # a newcomer sees that it started, and where to
        assert said.startswith("shoal worker: 2 worker process(es) of 2 thread(s) joining"), said
        assert address in said
        with Client(address) as c:
            c.wait_for_workers(2, timeout=60)
            assert sum(c.nthreads().values()) == 4
            assert c.submit(inc, 1).result() == 2
    finally:
        for p in (worker, sched):
            if p is not None:
                p.send_signal(signal.SIGTERM)
        for p in (worker, sched):
            if p is not None:
                p.wait(20)
        sched.stdout.close()
        if worker is not None:
            worker.stdout.close()
    assert sched.returncode == 0 and worker.returncode == 0


def test_graph_with_tuple_keys_and_literals(client):
    graph = {("x", 0): 10, ("x", 1): Task(inc, Ref(("x", 0))), "y": Task(sum, [Ref(("x", 1)), 5])}
    assert client.get(graph, ["y", [("x", 1)]]) == [16, [11]]


def test_hung_worker_is_removed_and_replaced_by_its_nanny(no_leaks):
    settings = {"distributed.scheduler.worker-ttl": 1.5, "distributed.scheduler.tick-interval": 0.1}
    with shoal.config.set(settings), Client(n_workers=2, threads_per_worker=1) as c:
        futures = c.map(slow_inc, range(40), delay=0.02)
        time.sleep(0.2)
        pids = set(c.run(os.getpid).values())
        pid = min(pids)
        os.kill(pid, signal.SIGSTOP)
        try:
            assert c.gather(futures) == [i + 1 for i in range(40)]
            # the nanny killed the stopped process and started another
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                now = set(c.run(os.getpid).values())
                if len(now) == 2 and pid not in now:
                    break
                time.sleep(0.1)
            assert len(now) == 2 and pid not in now and (pids - {pid}) < now
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
