"""Clusters of separate processes for the distributed benchmarks.

The scheduler, each worker and the client (the benchmark itself) are separate
processes, so the scheduler process's memory and CPU time are its own. The
same shape for shoal and dask.distributed: one scheduler, ``n_workers``
workers with ``nthreads`` threads each, no nannies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

_DASK_SCHEDULER = """
import asyncio, logging
logging.getLogger("distributed").setLevel(logging.ERROR)
from distributed import Scheduler
async def main():
    async with Scheduler(host="127.0.0.1", port=0, dashboard_address=None) as s:
        print(s.address, flush=True)
        await s.finished()
asyncio.run(main())
"""


class ProcessCluster:
    """``with ProcessCluster("shoal" | "dask", n_workers, nthreads) as c:``
    gives ``c.address`` and ``c.scheduler_pid``; workers may be 0."""

    def __init__(self, system: str, n_workers: int = 2, nthreads: int = 1):
        self.system = system
        self.n_workers = n_workers
        self.nthreads = nthreads
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> ProcessCluster:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        if self.system == "shoal":
            cmd = [sys.executable, "-P", "-m", "shoal.distributed.cli", "scheduler", "--port", "0"]
        else:
            cmd = [sys.executable, "-P", "-c", _DASK_SCHEDULER]
        sched = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, text=True, env=env, stderr=subprocess.DEVNULL
        )
        self.procs.append(sched)
        self.address = sched.stdout.readline().split()[-1]
        self.scheduler_pid = sched.pid
        self.env = env
        self.add_workers(self.n_workers)
        return self

    def add_workers(self, n: int) -> None:
        for _ in range(n):
            if self.system == "shoal":
                cmd = [sys.executable, "-P", "-m", "shoal.distributed.cli", "worker"]
                cmd += [self.address, "--nthreads", str(self.nthreads), "--no-nanny"]
            else:
                cmd = [sys.executable, "-P", "-m", "distributed.cli.dask_worker", self.address]
                cmd += ["--nthreads", str(self.nthreads), "--no-nanny", "--no-dashboard"]
            self.procs.append(
                subprocess.Popen(
                    cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )

    def client(self):
        if self.system == "shoal":
            from shoal.distributed import Client
        else:
            from distributed import Client
        return Client(self.address)

    def __exit__(self, *exc) -> None:
        for p in reversed(self.procs):
            p.kill()
            p.wait()
        self.procs[0].stdout.close()
        time.sleep(0.2)


def scheduler_cpu(shoal_scheduler=None, dask_scheduler=None) -> float:
    """CPU seconds the scheduler process has used (run on the scheduler)."""
    return time.process_time()


def scheduler_tasks(shoal_scheduler=None, dask_scheduler=None) -> int:
    """Tasks the scheduler holds (run on the scheduler)."""
    s = shoal_scheduler.state if shoal_scheduler is not None else dask_scheduler
    return len(s.tasks)
