"""The nanny: starts a worker process and restarts it when it dies.

The worker runs as ``python -m shoal.distributed.cli worker ... --no-nanny``
with this process's ``sys.path`` and a local directory of the nanny's for
its spilled data (emptied after every exit, removed when the nanny closes).
A worker that exits with a non-zero code (killed, crashed, over its memory
limit) is started again; one that exits cleanly (it lost its scheduler, or
was told to close) ends the nanny's watch. A worker the scheduler removed
(no heartbeat for ``worker-ttl``: stopped, hung, or a task holding the GIL)
is not a planned stop: the scheduler asks the nanny how the process looks
(``diagnose-worker``, for its error messages), then tells it the worker was
removed (``worker-removed``); the nanny kills that process and starts a new
one, whatever its exit code.

The worker process gets the nanny's ``Security``: TLS files on its command
line, the token through its environment (never on a command line).

Every ``distributed.worker.memory.monitor-interval`` seconds the nanny
compares the worker's resident memory with ``memory_limit`` and kills it
above the ``terminate`` fraction. Before starting a new worker it tells the
scheduler how the old one ended (for a memory kill: the memory it used and
its limit), so the scheduler's errors can say why tasks were lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Any

import psutil

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config
from shoal.core.utils import format_bytes
from shoal.distributed.memory import MemoryThresholds, parse_memory_limit
from shoal.distributed.placement import format_resources, parse_resources
from shoal.distributed.security import Security
from shoal.distributed.server import ConnectionPool, Server

__all__ = ["Nanny", "worker_command"]

logger = logging.getLogger("shoal.distributed.nanny")


def worker_command(
    scheduler_address: str,
    nthreads: int,
    name: str,
    memory_limit: int,
    nanny_address: str = "",
    local_directory: str = "",
    security: Security | None = None,
    resources: dict | None = None,
) -> list[str]:
    """The command line that starts one worker process without a nanny.

    >>> worker_command("tcp://127.0.0.1:1", 2, "w", 0)[3:6]
    ['shoal.distributed.cli', 'worker', 'tcp://127.0.0.1:1']
    """
    cmd = [
        sys.executable,
        "-P",
        "-m",
        "shoal.distributed.cli",
        "worker",
        scheduler_address,
        "--nthreads",
        str(nthreads),
        "--memory-limit",
        str(memory_limit),
        "--no-nanny",
    ]
    if name:
        cmd += ["--name", name]
    if nanny_address:
        cmd += ["--nanny-address", nanny_address]
    if local_directory:
        cmd += ["--local-directory", local_directory]
    if resources:
        cmd += ["--resources", format_resources(resources)]
    if security is not None:
        cmd += security.command_line()
    return cmd


def _child_env(security: Security) -> dict:
    env = dict(os.environ)
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(security.environment())
    return env


class Nanny(Server):
    """Supervises one worker process (see module docstring).

    >>> import asyncio
    >>> from shoal.distributed.scheduler import Scheduler
    >>> async def demo():
    ...     async with Scheduler() as s:
    ...         nanny = await Nanny(s.address, nthreads=1).start()
    ...         await nanny.wait_for_worker(s)
    ...         n = len(s.state.workers)
    ...         await nanny.close()
    ...         return n, nanny.process is None
    >>> asyncio.run(demo())
    (1, True)
    """

    def __init__(
        self,
        scheduler_address: str,
        nthreads: int = 1,
        name: str = "",
        memory_limit: Any = 0,
        listen: str = "tcp://127.0.0.1:0",
        security: Security | None = None,
        resources: Any = None,
    ):
        super().__init__(
            handlers={
                "restart": self.restart,
                "close": self._close_handler,
                "identity": self.identity,
                "diagnose-worker": self.diagnose_worker,
                "worker-removed": self.worker_removed,
            },
            security=security,
        )
        self.scheduler_address = scheduler_address
        self.nthreads = nthreads
        self.name = name
        self.memory_limit = parse_memory_limit(memory_limit)
        self.resources = parse_resources(resources)
        self.terminate = MemoryThresholds.from_config().terminate
        self.listen_address = listen
        self.local_directory = ""
        self._kill_cause = ""  # why the nanny killed the current process, if it did
        self.process: subprocess.Popen | None = None
        self.status = "init"
        self.restarts = 0
        self.exit_causes: list[str] = []
        self._watch_task: asyncio.Task | None = None
        self._busy = asyncio.Lock()
        self.pool = ConnectionPool(limit=4, security=self.security)
        self._removed: dict[int, str] = {}  # pid -> why the scheduler removed that worker
        self._reports: set = set()
        self.stopped = asyncio.Event()

    async def start(self) -> Nanny:
        await self.listen(self.listen_address)
        self.local_directory = tempfile.mkdtemp(prefix="shoal-nanny-")
        self._spawn()
        self.status = "running"
        self._watch_task = asyncio.ensure_future(self._watch())
        return self

    def __await__(self):
        return self.start().__await__()

    def _spawn(self) -> None:
        cmd = worker_command(
            self.scheduler_address,
            self.nthreads,
            self.name,
            self.memory_limit,
            self.address,
            self.local_directory,
            self.security,
            self.resources,
        )
        self._kill_cause = ""
        self.process = subprocess.Popen(
            cmd, env=_child_env(self.security), stdin=subprocess.DEVNULL
        )

    def _clear_directory(self) -> None:
        """Delete what a dead worker left in the local directory (its spilled data)."""
        if self.local_directory and os.path.isdir(self.local_directory):
            for entry in os.listdir(self.local_directory):
                shutil.rmtree(os.path.join(self.local_directory, entry), ignore_errors=True)

    async def wait_for_worker(self, scheduler, timeout: float = 60.0) -> str:
        """Wait until this nanny's worker has registered with an in-process scheduler."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for address, info in scheduler.worker_info.items():
                if info.get("nanny") == self.address and info.get("pid") == self.pid:
                    return address
            if self.process is None or self.process.poll() not in (None,):
                if self.status != "running":
                    raise RuntimeError("the nanny closed before its worker started")
            await asyncio.sleep(0.02)
        raise TimeoutError(f"worker of nanny {self.address} did not register within {timeout}s")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def _watch(self) -> None:
        interval = float(config.get("distributed.worker.memory.monitor-interval"))
        terminate = self.terminate
        try:
            while self.status == "running":
                await asyncio.sleep(interval)
                if self._busy.locked() or self.process is None:
                    continue
                code = self.process.poll()
                if code is not None:
                    await self._restart_dead(self.process.pid, code)
                    if self.status == "stopped":
                        return
                    continue
                if self.memory_limit and terminate is not None:
                    try:
                        rss = psutil.Process(self.process.pid).memory_info().rss
                    except psutil.Error:
                        continue
                    if rss > terminate * self.memory_limit:
                        self._kill_cause = (
                            f"was killed by its nanny for using {format_bytes(rss)}, over "
                            f"{terminate:.0%} of its memory limit {format_bytes(self.memory_limit)}"
                        )
                        logger.warning("worker of nanny %s %s", self.address, self._kill_cause)
                        self.process.kill()
        except asyncio.CancelledError:
            pass

    async def _restart_dead(self, pid: int, code: int) -> None:
        """The worker process ``pid`` ended with ``code``: tell the scheduler
        why, then start a new one (unless it exited cleanly)."""
        removed = self._removed.pop(pid, None)
        cause = self._kill_cause or _describe_exit(code)
        if removed is not None and not self._kill_cause:
            cause = f"{cause} after the scheduler removed it ({removed})"
        self.exit_causes.append(cause)
        self._clear_directory()
        if code == 0 and removed is None:
            self._report_exit(pid, cause)
            logger.info("worker of nanny %s exited cleanly; nanny stops", self.address)
            self.process = None
            self.status = "stopped"
            self.stopped.set()
            return
        logger.warning("worker of nanny %s %s; restarting it", self.address, cause)
        # the report goes first, so the scheduler names the cause in its errors
        await asyncio.wait([self._report_exit(pid, cause)], timeout=2.0)
        self.restarts += 1
        self._spawn()

    def _report_exit(self, pid: int, cause: str) -> asyncio.Task:
        """Tell the scheduler how the worker process ended (best effort), so
        errors such as KilledWorker can name the cause."""

        async def send():
            try:
                await self.pool.call(
                    self.scheduler_address,
                    {
                        "op": "worker-exited",
                        "nanny": self.address,
                        "pid": pid,
                        "cause": cause,
                    },
                )
            except Exception as e:  # the scheduler may be gone
                logger.debug("could not report the exit of worker %d: %s", pid, e)

        task = asyncio.ensure_future(send())
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)
        return task

    async def _stop_process(self, timeout: float = 5.0, kill: bool = False) -> None:
        proc = self.process
        if proc is None:
            return
        self._report_exit(proc.pid, "was stopped by its nanny")
        if kill and proc.poll() is None:
            proc.kill()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while proc.poll() is None and loop.time() < deadline:
                await asyncio.sleep(0.02)
            if proc.poll() is None:
                proc.kill()
        await asyncio.get_running_loop().run_in_executor(None, proc.wait)
        self.process = None
        self._clear_directory()

    async def restart(self, comm=None, timeout: float = 10.0) -> dict:
        """Kill the worker process and start a fresh one."""
        async with self._busy:
            await self._stop_process(timeout=timeout, kill=True)
            self.restarts += 1
            self._spawn()
        return {"status": "ok"}

    def _close_handler(self, comm, reason: str = "") -> str:
        asyncio.ensure_future(self.close())
        return "ok"

    async def diagnose_worker(self, comm, pid: int) -> dict:
        """How the worker process ``pid`` looks from outside, for a scheduler
        that stopped hearing from it: stopped, busy, or alive but silent."""
        proc = self.process
        if proc is None or proc.pid != pid or proc.poll() is not None:
            return {"account": "its process had already ended"}
        try:
            ps = psutil.Process(pid)
            if ps.status() == psutil.STATUS_STOPPED:
                return {"account": "its process is stopped (SIGSTOP, or a debugger)"}
            before = ps.cpu_times()
            await asyncio.sleep(0.2)
            after = ps.cpu_times()
        except psutil.Error:
            return {"account": "its process had already ended"}
        busy = (after.user + after.system - before.user - before.system) / 0.2
        if busy > 0.5:
            account = (
                f"its process is alive and busy ({busy:.0%} CPU) but its event loop does not "
                "run: a task holds the GIL (a long call into code that does not release it)"
            )
        else:
            account = (
                "its process is alive but its event loop does not run: a task holds the GIL "
                "while it waits (a blocking call that does not release it), or it is deadlocked"
            )
        return {"account": account}

    def worker_removed(self, comm, pid: int, reason: str) -> str:
        """The scheduler removed worker process ``pid``: not a planned stop,
        so kill it (if it still runs) and let the watch start a new one."""
        proc = self.process
        if proc is None or proc.pid != pid or self.status != "running":
            return "ignored"
        self._removed[pid] = reason
        if proc.poll() is None:
            self._kill_cause = f"was removed by the scheduler ({reason}) and killed by its nanny"
            logger.warning("worker of nanny %s %s", self.address, self._kill_cause)
            proc.kill()
        return "ok"

    def identity(self, comm) -> dict:
        return {
            "type": "Nanny",
            "address": self.address,
            "pid": self.pid,
            "restarts": self.restarts,
        }

    async def close(self, timeout: float = 5.0) -> None:
        """Stop the worker process and the nanny."""
        if self.status == "closed":
            return
        self.status = "closed"
        if self._watch_task is not None:
            self._watch_task.cancel()
        async with self._busy:
            await self._stop_process(timeout)
        if self._reports:
            await asyncio.wait(list(self._reports), timeout=1.0)
        await self.pool.close()
        await super().close()
        if self.local_directory:
            shutil.rmtree(self.local_directory, ignore_errors=True)
        self.stopped.set()


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"
