"""``LocalCluster``: a scheduler and workers on this machine.

The scheduler runs on an event loop in this process (a background thread
for synchronous use); workers run as separate processes under nannies
(``processes=True``) or as in-process workers sharing the loop. Closing
stops every process and thread it started.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from shoal.distributed.dashboard import DEFAULT_ADDRESS
from shoal.distributed.memory import parse_memory_limit
from shoal.distributed.nanny import Nanny
from shoal.distributed.placement import parse_resources
from shoal.distributed.scheduler import Scheduler
from shoal.distributed.security import Security
from shoal.distributed.utils import LoopRunner
from shoal.distributed.worker import Worker

__all__ = ["LocalCluster"]

logger = logging.getLogger("shoal.distributed.cluster")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class LocalCluster:
    """A scheduler plus ``n_workers`` workers of ``threads_per_worker`` threads.

    ``memory_limit`` is per worker: bytes, a string such as ``"2GiB"``, a
    fraction of the machine's memory, ``"auto"`` (the machine's memory split
    among the workers) or ``0`` (no limit). ``None`` means ``"auto"`` for
    worker processes and no limit for in-process workers (they share one
    process, so one RSS).

    ``resources``: what every worker offers tasks annotated with
    ``resources``, e.g. ``{"GPU": 1}`` or ``"GPU=1"`` (see ``placement.py``).

    ``security``: TLS and token of every server and connection of the cluster
    (default: ``Security.from_config()``), e.g. ``Security.temporary(token=True)``;
    a ``Client(cluster)`` takes it from the cluster.

    ``dashboard_address``: where the scheduler serves its dashboard
    (``cluster.dashboard_link``; another free port if 8787 is taken), or None
    for no dashboard.

    >>> with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster:
    ...     print(len(cluster.workers), cluster.scheduler_address.startswith("tcp://"))
    ...     cluster.scale(3)
    ...     print(len(cluster.workers))
    2 True
    3
    """

    def __init__(
        self,
        n_workers: int | None = None,
        threads_per_worker: int | None = None,
        processes: bool = True,
        memory_limit: Any = None,
        host: str = "127.0.0.1",
        scheduler_port: int = 0,
        asynchronous: bool = False,
        validate: bool = False,
        dashboard_address: str | None = DEFAULT_ADDRESS,
        security: Security | None = None,
        resources: Any = None,
    ):
        cores = _cores()
        if n_workers is None:
            n_workers = (
                cores
                if processes and threads_per_worker is None
                else max(1, cores // (threads_per_worker or cores))
            )
        if n_workers < 0:
            raise ValueError(f"n_workers must be >= 0, got {n_workers}")
        self.n_workers = int(n_workers)
        self.threads_per_worker = int(threads_per_worker or max(1, cores // max(1, n_workers)))
        self.processes = processes
        if memory_limit is None and not processes:
            memory_limit = 0
        self.memory_limit = parse_memory_limit(memory_limit, n_workers)
        self.resources = parse_resources(resources)
        self.host = host
        self.scheduler_port = scheduler_port
        self.asynchronous = asynchronous
        self.validate = validate
        self.dashboard_address = dashboard_address
        self.security = security if security is not None else Security.from_config()
        self.scheme = "tls" if self.security.tls else "tcp"
        self.scheduler: Scheduler | None = None
        self.workers: dict[str, Any] = {}
        self._counter = 0
        self.status = "init"
        self._runner: LoopRunner | None = None
        if not asynchronous:
            self._runner = LoopRunner(name="shoal-cluster")
            try:
                self._runner.run(self._start(), 120)
            except BaseException:
                self._runner.run(self._close(), 60)
                self._runner.stop()
                raise

    @property
    def scheduler_address(self) -> str:
        return self.scheduler.address if self.scheduler is not None else ""

    @property
    def dashboard_link(self) -> str:
        """The link to the dashboard's status page ("" without a dashboard)."""
        scheduler = self.scheduler
        if scheduler is None or scheduler.dashboard is None:
            return ""
        return scheduler.dashboard.url

    async def _start(self) -> LocalCluster:
        if self.status == "running":
            return self
        self.scheduler = Scheduler(
            f"{self.scheme}://{self.host}:{self.scheduler_port}",
            validate=self.validate,
            dashboard_address=self.dashboard_address,
            security=self.security,
        )
        await self.scheduler.start()
        self.status = "running"
        await self._scale(self.n_workers)
        return self

    def __await__(self):
        return self._start().__await__()

    async def _new_worker(self) -> None:
        scheduler = self.scheduler
        if scheduler is None:
            raise RuntimeError("LocalCluster: start the cluster (await it) before adding workers")
        name = str(self._counter)
        self._counter += 1
        if self.processes:
            nanny = Nanny(
                scheduler.address,
                self.threads_per_worker,
                name,
                self.memory_limit,
                listen=f"{self.scheme}://{self.host}:0",
                security=self.security,
                resources=self.resources,
            )
            await nanny.start()
            self.workers[name] = nanny
            await nanny.wait_for_worker(scheduler)
        else:
            worker = Worker(
                scheduler.address,
                self.threads_per_worker,
                name,
                self.memory_limit,
                listen=f"{self.scheme}://{self.host}:0",
                security=self.security,
                resources=self.resources,
            )
            await worker.start()
            self.workers[name] = worker

    async def _scale(self, n: int) -> None:
        if n < 0:
            raise ValueError(f"scale needs n >= 0, got {n}")
        while len(self.workers) < n:
            await self._new_worker()
        while len(self.workers) > n:
            name = list(self.workers)[-1]
            await self.workers.pop(name).close()

    def scale(self, n: int) -> Any:
        """Grow or shrink to ``n`` workers (the newest ones leave first)."""
        if self.asynchronous:
            return self._scale(n)
        if self._runner is None:
            raise RuntimeError("LocalCluster.scale: the cluster is closed; make a new one")
        return self._runner.run(self._scale(n), 300)

    async def _close(self) -> None:
        if self.status == "closed":
            return
        self.status = "closed"
        await asyncio.gather(*(w.close() for w in self.workers.values()), return_exceptions=True)
        self.workers.clear()
        if self.scheduler is not None:
            await self.scheduler.close()

    def close(self) -> Any:
        """Stop every worker and the scheduler."""
        if self.asynchronous:
            return self._close()
        if self._runner is not None:
            try:
                self._runner.run(self._close(), 60)
            finally:
                self._runner.stop()
                self._runner = None
        return None

    def get_logs(self, cluster: bool = True, scheduler: bool = True, workers: bool = True) -> Any:
        """Recent log lines: ``{"Scheduler": [...], worker address: [...]}``
        of ``(level, line)`` (``cluster`` is accepted for dask's signature;
        this cluster keeps no lines of its own).

        >>> with LocalCluster(n_workers=1, processes=False) as cluster:
        ...     logs = cluster.get_logs()
        ...     print(len(logs), "Scheduler" in logs)
        2 True
        """

        async def run() -> dict:
            from shoal.distributed.logs import get_logs

            out: dict = {}
            if scheduler and self.scheduler is not None:
                out["Scheduler"] = get_logs()
            if workers and self.scheduler is not None:
                replies = await self.scheduler.broadcast(None, {"op": "get-logs"})
                out.update({a: [tuple(e) for e in r] for a, r in replies.items()})
            return out

        if self.asynchronous:
            return run()
        if self._runner is None:
            raise RuntimeError("LocalCluster.get_logs: the cluster is closed")
        return self._runner.run(run(), 60)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    async def __aenter__(self) -> LocalCluster:
        return await self._start()

    async def __aexit__(self, *exc) -> None:
        await self._close()

    def __repr__(self) -> str:
        return (
            f"<LocalCluster {self.scheduler_address!r} workers={len(self.workers)} "
            f"threads={self.threads_per_worker} processes={self.processes}>"
        )
