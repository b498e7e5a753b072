"""A worker: runs tasks on a pool of threads and keeps their results.

Data flow::

    scheduler --compute-task--> on_compute: inputs here? --no--> fetch queue per peer
                                     | yes                     (one get-data request
                                     v                          per peer for many keys)
                                ready heap (by priority) <------------+
                                     | while a thread is free
                                     v
                          thread pool: run the node, time it
                                     | call_soon_threadsafe (one wake-up per burst)
                                     v
    scheduler <--task-finished / task-erred (batched)-- results kept in ``data``

Inputs fetched from peers are dropped as soon as no local task needs them
(the scheduler only tracks results computed here). A peer that fails is
tried no more for that key; when no holder is left the worker reports
``missing-data`` and drops the task, which the scheduler reschedules.
Heartbeats carry CPU and memory figures.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import logging
import os
import random
import threading
import time
from collections import defaultdict, deque
from typing import Any

import psutil

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config
from shoal.core.task import execute_node
from shoal.distributed.batched import BatchedSend
from shoal.distributed.comm import CommClosedError, connect
from shoal.distributed.graph_codec import load_function, load_spec
from shoal.distributed.protocol import Pickled, ToPickle
from shoal.distributed.server import ConnectionPool, Server, error_message
from shoal.distributed.utils import raise_open_file_limit, sizeof

__all__ = ["Worker"]

logger = logging.getLogger("shoal.distributed.worker")

_FETCH_BATCH = 1000


class _Job:
    __slots__ = ("key", "spec", "functions", "priority", "deps", "missing", "state")

    def __init__(self, key: Any, spec: Any, functions: list | None, priority: int, deps: tuple):
        self.key = key
        self.spec = spec  # bytes (see graph_codec) or a Pickled node
        self.functions = functions  # the function table ``spec`` refers to
        self.priority = priority
        self.deps = deps
        self.missing: set = set()
        self.state = "waiting"


def _run(spec: Any, functions: list | None, inputs: dict) -> tuple:
    """Executed in a pool thread: unpickle the node and run it."""
    start = time.perf_counter()
    try:
        if type(spec) is bytes:
            node = load_spec(spec, functions)
        else:
            node = spec.load() if type(spec) is Pickled else spec
        value = execute_node(node, inputs)
        return True, value, time.perf_counter() - start
    except BaseException as e:  # noqa: BLE001 - every task error goes to the scheduler
        return False, e, time.perf_counter() - start


class Worker(Server):
    """Connects to the scheduler at ``scheduler_address`` and runs what it sends.

    >>> import asyncio
    >>> from shoal.distributed.scheduler import Scheduler
    >>> async def demo():
    ...     async with Scheduler() as s, Worker(s.address, nthreads=2) as w:
    ...         return len(s.state.workers), w.nthreads
    >>> asyncio.run(demo())
    (1, 2)
    """

    def __init__(
        self,
        scheduler_address: str,
        nthreads: int = 1,
        name: str = "",
        memory_limit: int = 0,
        nanny: str = "",
        listen: str = "tcp://127.0.0.1:0",
    ):
        super().__init__(
            handlers={
                "get-data": self.get_data,
                "update-data": self.update_data,
                "run": self.run_function,
                "identity": self.identity,
                "close": self._close_handler,
            },
        )
        self.scheduler_address = scheduler_address
        self.nthreads = int(nthreads)
        self.name = name
        self.memory_limit = int(memory_limit or 0)
        self.nanny = nanny
        self.listen_address = listen
        self.data: dict = {}
        self.nbytes: dict = {}
        self.jobs: dict[Any, _Job] = {}
        self.functions: dict[int, list] = {}  # function tables of the clients, by id
        self.ready: list = []
        self.executing = 0
        self.needed_by: dict[Any, set] = defaultdict(set)
        self.fetched: set = set()
        self.holders: dict[Any, list] = {}
        self.to_fetch: dict[str, list] = defaultdict(list)
        self.fetching_from: set = set()
        self.in_flight: set = set()
        self.pool = ConnectionPool(deserialize=False)
        self.stream = BatchedSend(name="worker->scheduler")
        self.comm = None
        self.done: deque = deque()
        self.wake_pending = False
        self.cv = threading.Condition()
        self.stopping = False
        self.threads: list[threading.Thread] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = asyncio.Event()
        self.status = "init"
        self.tasks_run = 0
        self._bg: list[asyncio.Task] = []
        self._process = psutil.Process()

    # ----------------------------------------------------------- lifecycle

    async def start(self) -> Worker:
        raise_open_file_limit()
        self.loop = asyncio.get_running_loop()
        await self.listen(self.listen_address)
        for i in range(self.nthreads):
            t = threading.Thread(target=self._thread_main, name=f"shoal-worker-{i}", daemon=True)
            t.start()
            self.threads.append(t)
        comm = await connect(self.scheduler_address)
        await comm.write(
            {
                "op": "register-worker",
                "address": self.address,
                "nthreads": self.nthreads,
                "name": self.name,
                "memory_limit": self.memory_limit,
                "nanny": self.nanny,
                "pid": os.getpid(),
            }
        )
        reply = await comm.read()
        if reply.get("status") != "ok":
            comm.abort()
            raise ValueError(f"the scheduler refused worker {self.address}: {reply.get('message')}")
        self.comm = comm
        self.stream.start(comm)
        self.status = "running"
        self._bg.append(asyncio.ensure_future(self._read_scheduler()))
        self._bg.append(asyncio.ensure_future(self._heartbeats()))
        return self

    def __await__(self):
        return self.start().__await__()

    async def __aenter__(self) -> Worker:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self, report: bool = True) -> None:
        """Stop: leave the scheduler, stop threads and listeners."""
        if self.status == "closed":
            return
        self.status = "closed"
        for task in self._bg:
            task.cancel()
        await self.stream.close(timeout=1.0)
        with self.cv:
            self.stopping = True
            self.cv.notify_all()
        await super().close()
        await self.pool.close()
        for t in self.threads:
            t.join(timeout=5)
        self.data.clear()
        self.closed.set()

    async def finished(self) -> None:
        """Wait until the worker has closed."""
        await self.closed.wait()

    def _close_handler(self, comm, reason: str = "") -> str:
        logger.info("worker %s asked to close: %s", self.address, reason)
        asyncio.ensure_future(self.close())
        return "ok"

    # --------------------------------------------------- scheduler stream

    async def _read_scheduler(self) -> None:
        comm = self.comm
        try:
            while True:
                msgs = await comm.read()
                for msg in msgs:
                    op = msg["op"]
                    if op == "compute-task":
                        self._on_compute(
                            msg["key"],
                            msg["spec"],
                            msg["priority"],
                            msg["who_has"],
                            msg.get("table"),
                        )
                    elif op == "functions":
                        self._on_functions(msg["table"], msg["start"], msg["funcs"])
                    elif op == "forget-functions":
                        self.functions.pop(msg["table"], None)
                    elif op == "free-keys":
                        self._on_free(msg["keys"])
                    elif op == "steal-task":
                        self._on_steal(msg["key"])
                    elif op == "close":
                        await self.close()
                        return
                    else:
                        logger.warning("unknown message from the scheduler: %r", op)
        except CommClosedError as e:
            logger.info("worker %s lost the scheduler: %s", self.address, e)
        except asyncio.CancelledError:
            return
        except Exception:
            logger.exception("worker %s failed on a scheduler message", self.address)
        if self.status != "closed":
            asyncio.ensure_future(self.close())

    async def _heartbeats(self) -> None:
        interval = float(config.get("distributed.worker.heartbeat-interval"))
        proc = self._process
        proc.cpu_percent()
        while True:
            await asyncio.sleep(interval)
            try:
                self.stream.send(
                    {
                        "op": "heartbeat",
                        "metrics": {
                            "cpu": proc.cpu_percent(),
                            "memory": proc.memory_info().rss,
                            "executing": self.executing,
                            "ready": len(self.ready),
                            "in_memory": len(self.data),
                            "tasks_run": self.tasks_run,
                        },
                    }
                )
            except CommClosedError:
                return

    # ------------------------------------------------------------- tasks

    def _on_functions(self, table: int, start: int, funcs: list) -> None:
        """New entries of a client's function table (each sent once)."""
        known = self.functions.setdefault(table, [])
        if start != len(known):  # never on an ordered stream; keep indices right anyway
            logger.warning(
                "function table %s: got entries from %d, have %d", table, start, len(known)
            )
            del known[start:]
            gap = LookupError(f"entries {len(known)}-{start - 1} of function table {table} lost")
            known.extend([_Unloadable(gap)] * (start - len(known)))
        for blob in funcs:
            try:
                known.append(load_function(blob))
            except Exception as e:  # the tasks using it will raise this when they run
                known.append(_Unloadable(e))

    def _on_compute(
        self, key: Any, spec: Any, priority: int, who_has: dict, table: int | None = None
    ) -> None:
        job = self.jobs.get(key)
        if job is not None:
            return
        if key in self.data and key not in self.fetched:
            self.stream.send(
                {"op": "task-finished", "key": key, "nbytes": self.nbytes[key], "duration": 0.0}
            )
            return
        functions = None if table is None else self.functions.get(table)
        job = self.jobs[key] = _Job(key, spec, functions, priority, tuple(who_has))
        for dep, holders in who_has.items():
            self.needed_by[dep].add(key)
            if dep in self.data:
                continue
            job.missing.add(dep)
            if dep in self.in_flight:
                continue
            self.in_flight.add(dep)
            candidates = [h for h in holders if h != self.address]
            random.shuffle(candidates)
            self.holders[dep] = candidates
            self._queue_fetch(dep)
        if not job.missing:
            self._make_ready(job)

    def _queue_fetch(self, dep: Any) -> None:
        holders = self.holders.get(dep)
        if not holders:
            self._give_up(dep)
            return
        peer = holders[0]
        self.to_fetch[peer].append(dep)
        if peer not in self.fetching_from:
            self.fetching_from.add(peer)
            self._bg.append(asyncio.ensure_future(self._fetch_from(peer)))

    def _give_up(self, dep: Any, errant: str = "") -> None:
        """No peer has ``dep``: report it and drop the tasks that needed it."""
        self.in_flight.discard(dep)
        self.holders.pop(dep, None)
        for key in list(self.needed_by.get(dep, ())):
            job = self.jobs.get(key)
            if job is None or job.state != "waiting":
                continue
            self._drop_job(key)
            self.stream.send(
                {"op": "missing-data", "key": key, "dependency": dep, "errant": errant}
            )

    async def _fetch_from(self, peer: str) -> None:
        try:
            while self.to_fetch.get(peer):
                pending = self.to_fetch[peer]
                keys = [k for k in pending[:_FETCH_BATCH] if k in self.needed_by]
                del pending[:_FETCH_BATCH]
                if not keys:
                    continue
                try:
                    reply = await self.pool.call(peer, {"op": "get-data", "keys": keys})
                    data = reply["data"]
                except (CommClosedError, OSError) as e:
                    logger.info("worker %s could not fetch from %s: %s", self.address, peer, e)
                    data = {}
                for k in keys:
                    if k in data and self.needed_by.get(k):
                        value = data[k]
                        if type(value) is Pickled:
                            value = value.load()
                        self._store_fetched(k, value)
                    elif k in self.in_flight:
                        holders = self.holders.get(k)
                        if holders and holders[0] == peer:
                            holders.pop(0)
                        if holders:
                            self._queue_fetch(k)
                        else:
                            self._give_up(k, peer)
        finally:
            self.fetching_from.discard(peer)
            self.to_fetch.pop(peer, None)

    def _store_fetched(self, key: Any, value: Any) -> None:
        self.in_flight.discard(key)
        self.holders.pop(key, None)
        if key not in self.data:
            self.data[key] = value
            self.nbytes[key] = sizeof(value)
            self.fetched.add(key)
        for k in self.needed_by.get(key, ()):
            job = self.jobs.get(k)
            if job is not None and job.state == "waiting":
                job.missing.discard(key)
                if not job.missing:
                    self._make_ready(job)

    def _make_ready(self, job: _Job) -> None:
        with self.cv:
            job.state = "ready"
            heapq.heappush(self.ready, (job.priority, job.key))
            self.cv.notify()

    def _thread_main(self) -> None:
        """Pool thread: pop the best ready task, run it, hand the result to the
        loop (one wake-up per burst of results), repeat without waiting for it."""
        cv = self.cv
        ready = self.ready
        jobs = self.jobs
        data = self.data
        done = self.done
        heappop = heapq.heappop
        while True:
            with cv:
                while True:
                    if self.stopping:
                        return
                    if ready:
                        _, key = heappop(ready)
                        job = jobs.get(key)
                        if job is not None and job.state == "ready":
                            job.state = "executing"
                            self.executing += 1
                            break
                    else:
                        cv.wait()
            try:
                inputs = {d: data[d] for d in job.deps}
            except KeyError as e:
                done.append((key, False, e, 0.0))
            else:
                ok, value, duration = _run(job.spec, job.functions, inputs)
                done.append((key, ok, value, duration))
            if not self.wake_pending:
                self.wake_pending = True
                try:
                    self.loop.call_soon_threadsafe(self._drain)
                except RuntimeError:  # the loop is closed: we are shutting down
                    return

    def _drain(self) -> None:
        self.wake_pending = False
        done = self.done
        send = self.stream.send
        try:
            while done:
                key, ok, value, duration = done.popleft()
                with self.cv:
                    self.executing -= 1
                self.tasks_run += 1
                job = self.jobs.get(key)
                if job is None or job.state != "executing":
                    continue
                self._drop_job(key)
                if ok:
                    self.data[key] = value
                    self.fetched.discard(key)
                    nbytes = self.nbytes[key] = sizeof(value)
                    send(
                        {"op": "task-finished", "key": key, "nbytes": nbytes, "duration": duration}
                    )
                else:
                    exc = value
                    note = f"shoal: raised while computing task {key!r} on worker {self.address}"
                    if note not in (getattr(exc, "__notes__", None) or []):
                        exc.add_note(note)
                    err = error_message(exc)
                    send(
                        {
                            "op": "task-erred",
                            "key": key,
                            "exception": err["exception"],
                            "traceback": err["traceback"],
                        }
                    )
        except CommClosedError:
            return

    def _drop_job(self, key: Any) -> None:
        job = self.jobs.pop(key, None)
        if job is None:
            return
        with self.cv:
            job.state = "dropped"
        for dep in job.deps:
            users = self.needed_by.get(dep)
            if users is not None:
                users.discard(key)
                if not users:
                    del self.needed_by[dep]
                    if dep in self.fetched:
                        self.fetched.discard(dep)
                        self.data.pop(dep, None)
                        self.nbytes.pop(dep, None)
                    self.in_flight.discard(dep)

    def _on_free(self, keys) -> None:
        for key in keys:
            job = self.jobs.get(key)
            if job is not None:
                self._drop_job(key)
            if key not in self.needed_by:
                self.data.pop(key, None)
                self.nbytes.pop(key, None)
                self.fetched.discard(key)
            else:
                self.fetched.add(key)

    def _on_steal(self, key: Any) -> None:
        job = self.jobs.get(key)
        if job is not None and job.state != "executing":
            self._drop_job(key)

    # ---------------------------------------------------------- handlers

    def get_data(self, comm, keys) -> dict:
        data = self.data
        return {"status": "ok", "data": {k: ToPickle(data[k]) for k in keys if k in data}}

    def update_data(self, comm, data: dict) -> dict:
        nbytes = {}
        for key, value in data.items():
            if type(value) is Pickled:
                value = value.load()
            self.data[key] = value
            self.fetched.discard(key)
            nbytes[key] = self.nbytes[key] = sizeof(value)
        return {"status": "ok", "nbytes": nbytes}

    async def run_function(self, comm, function, args=(), kwargs=None) -> dict:
        func = function.load() if type(function) is Pickled else function
        args = args.load() if type(args) is Pickled else args
        kwargs = dict(kwargs.load() if type(kwargs) is Pickled else (kwargs or {}))
        try:
            if "shoal_worker" in inspect.signature(func).parameters:
                kwargs["shoal_worker"] = self
        except (TypeError, ValueError):
            pass
        result = func(*args, **kwargs)
        if asyncio.iscoroutine(result):
            result = await result
        return {"status": "ok", "result": ToPickle(result)}

    def identity(self, comm) -> dict:
        return {
            "type": "Worker",
            "address": self.address,
            "nthreads": self.nthreads,
            "name": self.name,
            "pid": os.getpid(),
            "keys": len(self.data),
        }

    def __repr__(self) -> str:
        return f"<Worker {self.address!r} nthreads={self.nthreads} status={self.status}>"


class _Unloadable:
    """A function that could not be unpickled on this worker: calling it
    raises why (so only the tasks using it fail, with the reason)."""

    def __init__(self, error: Exception):
        self.error = error

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"this worker could not unpickle the task's function: {self.error!r}")
