"""No fault leaves the cluster dead or the client hanging (issue 13)."""

import asyncio
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time

import cloudpickle
import pytest

import shoal
from shoal.distributed import CancelledError, Client, ClientClosedError, KilledWorker
from shoal.distributed.client import SchedulerLostError
from shoal.distributed.utils import LoopRunner
from shoal.distributed.worker import Worker

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(90)


def inc(x):
    return x + 1


def hold_the_gil(seconds):
    """Block in C code without releasing the GIL (ctypes.PyDLL keeps it)."""
    ctypes.PyDLL(None).usleep(int(seconds * 1e6))
    return seconds


def slow(x, delay):
    time.sleep(delay)
    return x


def test_task_holding_the_gil_ends_in_killed_worker_and_the_cluster_recovers(no_leaks):
    settings = {
        "distributed.scheduler.worker-ttl": 2.0,
        "distributed.scheduler.tick-interval": 0.1,
        "distributed.scheduler.allowed-failures": 1,
    }
    with shoal.config.set(settings), Client(n_workers=2, threads_per_worker=1) as c:
        before = set(c.run(os.getpid).values())
        future = c.submit(hold_the_gil, 5.0, key="hold-the-gil")
        with pytest.raises(KilledWorker) as info:
            future.result(timeout=60)
        text = str(info.value)
        assert "'hold-the-gil'" in text and "was on 2 workers" in text
        assert "no heartbeat for" in text and "holds the GIL" in text
        # both workers were replaced by their nannies, and the cluster works
        deadline = time.monotonic() + 30
        pids: set = set()
        while time.monotonic() < deadline:
            try:
                pids = set(c.run(os.getpid).values())
            except OSError:  # a worker being replaced as we ask
                continue
            if len(pids) == 2 and not pids & before:
                break
            time.sleep(0.1)
        assert len(pids) == 2 and not pids & before
        assert c.submit(inc, 1).result() == 2
        causes = [cause for nanny in c.cluster.workers.values() for cause in nanny.exit_causes]
        assert causes and all("was removed by the scheduler" in cause for cause in causes)


# --------------------------------------------------- a scheduler that goes away


class _SchedulerProcess:
    """``shoal-scheduler`` on a fixed port, with in-process workers."""

    def __init__(self, port=0):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "shoal.distributed.cli", "scheduler", "--port", str(port)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.address = self.proc.stdout.readline().split()[-1]
        self.port = int(self.address.rsplit(":", 1)[1])
        self.runner = LoopRunner(name="shoal-test-workers")
        self.worker = self.runner.run(Worker(self.address, nthreads=2).start(), 30)

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            self.proc.wait(10)

    def stop(self):
        if self.runner is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()
        self.runner.run(self.worker.close(graceful=False), 30)
        self.runner.stop()
        self.runner = None


def test_client_without_reconnect_fails_every_call_at_once(no_leaks):
    sched = _SchedulerProcess()
    try:
        with Client(sched.address, reconnect=False) as c:
            done = c.submit(inc, 1)
            assert done.result() == 2
            pending = c.submit(slow, 1, 3.0)
            time.sleep(0.2)
            sched.kill()
            start = time.monotonic()
            with pytest.raises((CancelledError, ClientClosedError)):
                pending.result(timeout=30)  # whichever comes first: the loss or the close
            assert time.monotonic() - start < 5
            assert "lost the scheduler" in pending._state.traceback
            deadline = time.monotonic() + 5
            while c.status != "closed" and time.monotonic() < deadline:
                time.sleep(0.02)
            assert c.status == "closed"
            assert c not in shoal.core.base._active_backends  # no longer the default backend
            with pytest.raises(ClientClosedError, match="lost the scheduler"):
                c.submit(inc, 2)
            with pytest.raises(ClientClosedError):
                c.gather([done])
            with pytest.raises(ClientClosedError):
                c.compute(shoal.delayed(inc)(1)).result()
    finally:
        sched.stop()


def test_client_reconnects_to_a_scheduler_back_at_the_same_address(no_leaks, caplog):
    sched = _SchedulerProcess()
    again = None
    settings = {"distributed.client.reconnect-wait": 1.0}
    try:
        with shoal.config.set(settings), Client(sched.address) as c:
            finished = c.submit(inc, 10)
            assert finished.result() == 11
            pending = c.submit(slow, 1, 3.0)
            time.sleep(0.2)
            sched.kill()
            with pytest.raises(CancelledError, match="lost the scheduler"):
                pending.result(timeout=30)
            with pytest.raises(CancelledError, match="submit it again"):
                finished.result(timeout=30)  # its result went with the scheduler's workers
            assert c.status == "reconnecting"
            start = time.monotonic()
            with pytest.raises(SchedulerLostError, match="reconnect-wait"):
                c.nthreads()
            with pytest.raises(SchedulerLostError):
                c.submit(inc, 3)
            assert time.monotonic() - start < 10
            sched.stop()
            with caplog.at_level(logging.WARNING, logger="shoal.distributed.client"):
                again = _SchedulerProcess(sched.port)
                deadline = time.monotonic() + 20
                while c.status != "running" and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert c.status == "running"
            assert set(c.lost_keys) == {finished.key, pending.key}
            said = [r.getMessage() for r in caplog.records if "reconnected" in r.getMessage()]
            assert said and repr(finished.key) in said[0] and "2 futures were lost" in said[0]
            # the same keys computed again on the new scheduler
            assert c.submit(inc, 10).result(timeout=30) == 11
            assert finished.result(timeout=30) == 11
            assert c.gather(c.map(inc, range(5))) == [1, 2, 3, 4, 5]
    finally:
        sched.stop()
        if again is not None:
            again.stop()


def test_silent_scheduler_is_taken_as_lost_after_its_ttl(no_leaks):
    settings = {
        "distributed.client.heartbeat-interval": 0.2,
        "distributed.client.scheduler-ttl": 1.5,
    }
    sched = _SchedulerProcess()
    try:
        with shoal.config.set(settings), Client(sched.address) as c:
            pending = c.submit(slow, 1, 3.0)
            time.sleep(0.2)
            sched.kill(signal.SIGSTOP)  # the connection stays open; nothing answers
            start = time.monotonic()
            with pytest.raises(CancelledError, match="no word from it"):
                pending.result(timeout=30)
            assert time.monotonic() - start < 10
            assert c.status == "reconnecting"
    finally:
        sched.proc.send_signal(signal.SIGCONT)
        sched.stop()


def test_asynchronous_client_status_follows_the_scheduler():
    async def run():
        from shoal.distributed.scheduler import Scheduler

        s = await Scheduler().start()
        c = await Client(s.address, asynchronous=True, reconnect=False)
        assert c.status == "running"
        await s.close()
        for _ in range(200):
            if c.status == "closed":
                break
            await asyncio.sleep(0.01)
        status = c.status
        await c.close()
        return status

    assert asyncio.run(run()) == "closed"
