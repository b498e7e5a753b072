"""Memory limits on real clusters: spilling, pausing, memory kills that end
in a clear ``KilledWorker``, and a worker without a nanny.

A watcher thread samples the RSS of every child process every 10 ms, to
check that no worker passes its budget by more than 20% (the workers sample
themselves every ``memory.monitor-interval``, their nannies too).
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import cloudpickle
import psutil
import pytest

import shoal
from shoal.distributed import Client, KilledWorker, LocalCluster, wait

np = pytest.importorskip("numpy")

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)

MB = 2**20


def block(i, n=1_250_000):
    """10 MB of random floats, the same for the same ``i``."""
    return np.random.default_rng(i).random(n)


def block_sum(x):
    return float(x.sum())


def hog(mb_per_step=2, steps=2000):
    """Allocate far past any test budget, 100 MB/s (so monitors catch it)."""
    held = []
    for _ in range(steps):
        held.append(np.ones(mb_per_step * MB // 8))
        time.sleep(0.02)
    return len(held)


def inc(x):
    return x + 1


class PeakRSS:
    """Highest RSS seen per child process while the ``with`` block runs."""

    def __init__(self):
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        me = psutil.Process()
        while not self._stop.wait(0.01):
            for p in me.children(recursive=True):
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                if rss > self.peak.get(p.pid, 0):
                    self.peak[p.pid] = rss

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def worst(self, pids) -> int:
        return max(self.peak.get(pid, 0) for pid in pids)


def _spill_figures(shoal_worker):
    shoal_worker.state.validate_state()
    return shoal_worker.spill.written, shoal_worker.state.spilled_count


def test_persist_three_times_the_cluster_memory_spills_and_sums_right(no_leaks):
    """2 workers x 200 MB hold 1.2 GB of results: most go to disk, no worker
    dies, the sum is right and RSS stays under the budget."""
    n = 120
    expected = sum(block_sum(block(i)) for i in range(n))
    with PeakRSS() as watch, Client(n_workers=2, threads_per_worker=1, memory_limit="200MB") as c:
        pids = list(c.run(os.getpid).values())
        parts = c.map(block, range(n))
        wait(parts)
        total = c.submit(sum, c.map(block_sum, parts))
        assert total.result() == pytest.approx(expected, rel=1e-12)
        spilled = c.run(_spill_figures)
        assert sum(written for written, _ in spilled.values()) > 600 * MB, spilled
        assert all(count > 0 for _, count in spilled.values()), spilled
        assert [nanny.restarts for nanny in c.cluster.workers.values()] == [0, 0]
        assert set(c.run(os.getpid).values()) == set(pids)  # no worker died
        # gathering spilled results reads them back from disk
        assert c.gather(parts[:3])[1].tobytes() == block(1).tobytes()
    assert watch.worst(pids) < 1.2 * 200e6, {p: v / MB for p, v in watch.peak.items()}


def test_task_past_the_limit_ends_in_killed_worker_while_others_run(no_leaks):
    """A task that allocates without end is killed with its worker by the
    nanny, twice (allowed-failures=1), then errs with a message naming the
    key, the worker, its budget, its memory at death and what it ran; a
    second client's work completes meanwhile; the workers come back."""
    settings = {"distributed.scheduler.allowed-failures": 1}
    with shoal.config.set(settings), PeakRSS() as watch:
        with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="250MB") as cluster:
            with Client(cluster) as c, Client(cluster, set_as_default=False) as other:
                bad = c.submit(hog, key="hog-forever")
                time.sleep(0.5)
                small = [other.submit(inc, i) for i in range(20)]
                assert other.gather(small) == list(range(1, 21))
                with pytest.raises(KilledWorker) as info:
                    bad.result(timeout=90)
                msg = str(info.value)
                assert "'hog-forever'" in msg and "was on 2 workers that died" in msg, msg
                assert msg.count("killed by its nanny for using") == 2, msg
                assert msg.count("memory limit 238.42 MiB") >= 2, msg  # 250 MB
                assert "it was running ['hog-forever']" in msg, msg
                used = [float(x) for x in re.findall(r"for using ([\d.]+) MiB", msg)]
                assert all(0.95 * 238.4 < u < 1.2 * 238.4 for u in used), used
                c.wait_for_workers(2, timeout=60)
                assert c.submit(inc, 1).result(timeout=30) == 2
                assert sum(n.restarts for n in cluster.workers.values()) == 2
                pids = [n.pid for n in cluster.workers.values()]
    budget = 250e6
    assert all(v < 1.2 * budget for v in watch.peak.values()), {
        p: v / MB for p, v in watch.peak.items()
    }
    assert pids


def _worker_cli(address, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    cmd = [sys.executable, "-P", "-m", "shoal.distributed.cli", "worker", address, *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)


def _statuses(shoal_scheduler):
    return [entry[2] for entry in shoal_scheduler.state.story if entry[1] == "worker"]


def test_worker_without_nanny_spills_pauses_and_closes_itself(no_leaks, tmp_path):
    """``shoal-worker --no-nanny --memory-limit 200MB``: results spill to its
    ``--local-directory``, it pauses while a task holds unmanaged memory,
    and it closes itself (exit code 1, the cause reported) past terminate."""
    settings = {"distributed.scheduler.allowed-failures": 0}
    with (
        shoal.config.set(settings),
        LocalCluster(n_workers=0, processes=False) as cluster,
        Client(cluster) as c,
    ):
        proc = _worker_cli(
            cluster.scheduler_address,
            "--no-nanny",
            "--memory-limit",
            "200MB",
            "--local-directory",
            str(tmp_path),
        )
        try:
            c.wait_for_workers(1, timeout=60)
            parts = c.map(block, range(40))  # 400 MB of results
            total = c.submit(sum, c.map(block_sum, parts))
            assert total.result(timeout=60) == pytest.approx(
                sum(block_sum(block(i)) for i in range(40)), rel=1e-12
            )
            ((written, count),) = c.run(_spill_figures).values()
            assert written > 150 * MB and count > 0
            assert any(tmp_path.iterdir())  # spilled files live there
            del parts, total
            bad = c.submit(hog, key="hog-alone")
            with pytest.raises(KilledWorker, match="closed itself: process memory"):
                bad.result(timeout=60)
            assert "paused" in c.run_on_scheduler(_statuses)
            assert proc.wait(30) == 1
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(20)
    assert not any(p.name.startswith("shoal-spill") for p in tmp_path.iterdir())
