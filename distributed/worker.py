"""A worker: the IO around ``WorkerState`` (``worker_state.py``).

Data flow::

    scheduler --compute-task / free-keys / steal-task--> events --> WorkerState
                                                                        | instructions
        Execute: the task joins the pool's priority heap; a free thread  <-+
                 takes the best one (none while paused), gathers its inputs
                 (from ``data``, or read back from the spill directory), runs
                 it, sizes the result and hands it back in bursts (one
                 event-loop wake-up per burst)
        Fetch:   one get-data request per peer for many keys
        Spill / DeleteData: values move between ``data`` and the ``SpillStore``
        Report*: task-finished / task-erred / missing-data / worker-status
                 messages to the scheduler (batched)

The state machine decides; this module only carries out. Values live in
``data`` (in memory) or in ``spill`` (on disk); the machine knows their sizes
only. With a memory limit, a monitor thread samples the process's RSS every
``distributed.worker.memory.monitor-interval`` seconds (a thread, so a busy
event loop does not delay it); each sample is an event, and the machine
spills, pauses or (without a nanny) closes the worker. Heartbeats carry the
memory figures; pausing and resuming are reported at once.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import logging
import os
import threading
import time
from collections import deque
from typing import Any

import psutil

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config
from shoal.core.services import bind_services
from shoal.core.task import execute_node
from shoal.core.utils import format_bytes
from shoal.distributed.batched import BatchedSend
from shoal.distributed.comm import Comm, CommClosedError, connect
from shoal.distributed.graph_codec import load_function, load_spec
from shoal.distributed.logs import capture_logs, get_logs
from shoal.distributed.memory import MemoryThresholds, parse_memory_limit
from shoal.distributed.p2p_worker import ExchangeService, Reschedule
from shoal.distributed.placement import parse_resources
from shoal.distributed.plugins import WorkerPlugins
from shoal.distributed.protocol import Pickled, ToPickle
from shoal.distributed.server import ConnectionPool, Server, error_message
from shoal.distributed.sizeof import sizeof
from shoal.distributed.spill import SpillStore
from shoal.distributed.utils import raise_open_file_limit
from shoal.distributed.worker_context import bind_worker, close_task_client, leaving_pool
from shoal.distributed.worker_events import (
    AcquireReplicas,
    DataPut,
    DataRequested,
    DeleteData,
    Execute,
    ExecuteFailure,
    ExecuteSuccess,
    Fetch,
    FetchDone,
    KeysFreed,
    MemorySample,
    ReportErred,
    ReportFinished,
    ReportMissing,
    ReportReplica,
    ReportRescheduled,
    ReportStatus,
    Spill,
    SpillDone,
    TaskAssigned,
    TaskStolen,
    Terminate,
    WorkerEvent,
)
from shoal.distributed.worker_state import WorkerState

__all__ = ["Worker"]

logger = logging.getLogger("shoal.distributed.worker")


_ABSENT = object()


def _run(spec: Any, functions: list | None, deps: list, data: dict, store: SpillStore) -> tuple:
    """Executed in a pool thread: gather the inputs (from memory, or read back
    from disk: a value is always in one of the two, as ``put`` registers the
    file before the value leaves ``data``), unpickle the node, run it and size
    its result."""
    start = time.perf_counter()
    try:
        inputs = {}
        for key in deps:
            value = data.get(key, _ABSENT)
            inputs[key] = store.get(key) if value is _ABSENT else value
        if type(spec) is bytes:
            node = load_spec(spec, functions or [])
        else:
            node = spec.load() if type(spec) is Pickled else spec
        value = execute_node(node, inputs)
        duration = time.perf_counter() - start
        return True, value, duration, sizeof(value)
    except BaseException as e:  # noqa: BLE001 - every task error goes to the scheduler
        return False, e, time.perf_counter() - start, 0


class Worker(Server):
    """Connects to the scheduler at ``scheduler_address`` and runs what it sends.

    ``memory_limit``: bytes, a string such as ``"4GB"``, a fraction of the
    machine's memory or ``"auto"`` (see ``memory.parse_memory_limit``); 0 means
    none. ``local_directory``: where results are spilled (a temporary
    directory by default, removed on close). ``resources``: what it offers
    tasks annotated with ``resources`` (``{"GPU": 2}`` or ``"GPU=2"``).

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
        memory_limit: Any = 0,
        nanny: str = "",
        listen: str = "tcp://127.0.0.1:0",
        local_directory: str | None = None,
        validate: bool = False,
        security: Any = None,
        resources: Any = None,
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
        # peer-to-peer exchanges: the "exchange" service of the pool threads
        self.exchange = ExchangeService(self, local_directory)
        self.handlers["p2p-receive"] = self.exchange.receive
        self.handlers["p2p-inputs-done"] = self.exchange.inputs_done
        self.scheduler_address = scheduler_address
        self.nthreads = int(nthreads)
        self.name = name
        # what it offers tasks annotated with ``resources`` (the scheduler
        # never gives it more than this at once: distributed/placement.py)
        self.resources = parse_resources(resources)
        self.memory_limit = parse_memory_limit(memory_limit)
        self.nanny = nanny
        self.listen_address = listen
        self.security = security or self.security  # TLS and token (shoal.distributed.security)
        self.state = WorkerState(
            self.nthreads,
            self.memory_limit,
            MemoryThresholds.from_config(),
            has_nanny=bool(nanny),
            validate=validate,
            # as many tasks wait in the pool per thread as the scheduler sends
            # short root tasks per thread: one refill of the pool per burst of
            # results (see WorkerState)
            prefetch=self.nthreads * int(config.get("distributed.scheduler.max-queued-per-thread")),
        )
        self.data: dict = {}  # values in memory; the spilled ones are in ``spill``
        self.spill = SpillStore(local_directory)
        self.functions: dict[int, list] = {}  # function tables of the clients, by id
        self.pool = ConnectionPool(deserialize=False, security=self.security)
        self.stream = BatchedSend(name="worker->scheduler")
        self.comm: Comm | None = None
        # (priority, n, key, spec, functions, input keys): the threads take the best
        self.jobs: list = []
        self._job_count = 0
        self.paused = False  # threads start no queued job while set
        self.gated = False  # the same, set by the monitor thread itself (see _monitor_main)
        self.running: dict[int, Any] = {}  # thread id -> key it runs
        self.done: deque = deque()
        self.wake_pending = False
        self.cv = threading.Condition()
        self.stopping = False
        self.threads: list[threading.Thread] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = asyncio.Event()
        self.status = "init"
        self.tasks_run = 0
        self.bytes_fetched = 0  # results received from peers (the dashboard's network figures)
        self.bytes_served = 0  # results sent to peers
        self.terminated = ""  # why the worker closed itself for memory, if it did
        self._events: deque = deque()
        self._handling = False
        self._stim = 0
        self._bg: list[asyncio.Task] = []
        self._monitor_stop = threading.Event()
        self._process = psutil.Process()
        # tasks' access to their worker (worker_context.py) and plugins (plugins.py)
        self.task_client: Any = None  # the client tasks get from get_client()
        self.client_lock = threading.Lock()
        self.rejoins: list[threading.Event] = []  # seceded tasks waiting for a pool thread
        self.plugins = WorkerPlugins(self, self.state)
        self.handlers.update(self.plugins.handlers())
        self.handlers["get-logs"] = get_logs
        capture_logs()

    # ----------------------------------------------------------- lifecycle

    async def start(self) -> Worker:
        raise_open_file_limit()
        self.loop = asyncio.get_running_loop()
        await self.listen(self.listen_address)
        self.state.address = self.address
        for i in range(self.nthreads):
            t = threading.Thread(target=self._thread_main, name=f"shoal-worker-{i}", daemon=True)
            t.start()
            self.threads.append(t)
        if self.memory_limit:
            t = threading.Thread(target=self._monitor_main, name="shoal-memory", daemon=True)
            t.start()
            self.threads.append(t)
        comm = await connect(self.scheduler_address, security=self.security)
        await comm.write(
            {
                "op": "register-worker",
                "address": self.address,
                "nthreads": self.nthreads,
                "name": self.name,
                "memory_limit": self.memory_limit,
                "nanny": self.nanny,
                "pid": os.getpid(),
                "resources": self.resources,
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

    async def close(self, graceful: bool = True) -> None:
        """Stop: leave the scheduler (saying so, if ``graceful``: its results
        then count as let go of, not lost), stop threads and listeners, delete
        spilled data. A closing that is not graceful does not wait for tasks
        still running on the threads."""
        if self.status == "closed":
            return
        self.status = "closed"
        for task in self._bg:
            task.cancel()
        await self.plugins.close("teardown")
        await close_task_client(self)
        if graceful:
            try:
                self.stream.send({"op": "closing"})
            except CommClosedError:
                pass
        await self.stream.close(timeout=1.0)
        self._monitor_stop.set()
        with self.cv:
            self.stopping = True
            self.cv.notify_all()
        await super().close()
        await self.pool.close()
        for t in self.threads:
            t.join(timeout=5 if graceful else 0.1)
        self.data.clear()
        self.spill.close()
        self.exchange.close()
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
        assert comm is not None, "started before the scheduler answered"
        try:
            while True:
                msgs = await comm.read()
                events: list = []  # a batch of messages is one burst of events
                for msg in msgs:
                    op = msg["op"]
                    if op == "compute-task":
                        events.append(
                            TaskAssigned(
                                msg["key"],
                                msg["spec"],
                                msg["priority"],
                                msg["who_has"],
                                msg.get("table"),
                                msg.get("nbytes"),
                            )
                        )
                    elif op == "functions":  # before the tasks that need them run
                        self._on_functions(msg["table"], msg["start"], msg["funcs"])
                    elif op == "forget-functions":
                        self.functions.pop(msg["table"], None)
                    elif op == "p2p-close":
                        self.exchange.close_run(msg["id"], msg["run"])
                    elif op == "free-keys":
                        events.append(KeysFreed(msg["keys"]))
                    elif op == "steal-task":
                        events.append(TaskStolen(msg["key"]))
                    elif op == "acquire-replicas":
                        events.append(AcquireReplicas(msg["who_has"], msg.get("nbytes") or {}))
                    elif op == "close":
                        await self.close()
                        return
                    else:
                        logger.warning("unknown message from the scheduler: %r", op)
                if events:
                    self._handle(*events)
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
        fetched, served, last = self.bytes_fetched, self.bytes_served, time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            net_read = (self.bytes_fetched - fetched) / max(now - last, 1e-3)
            net_write = (self.bytes_served - served) / max(now - last, 1e-3)
            fetched, served, last = self.bytes_fetched, self.bytes_served, now
            if not self.memory_limit:  # else the monitor thread samples
                self._handle(MemorySample(proc.memory_info().rss, time.monotonic()))
            metrics = self.state.memory_metrics()
            metrics.update(
                executing_keys=list(self.running.values()),  # on threads, not queued
                cpu=proc.cpu_percent(),
                memory=self.state.rss,
                executing=len(self.state.executing),
                ready=len(self.state.ready),
                in_memory=len(self.state.lru),
                tasks_run=self.tasks_run,
                net_read=net_read,
                net_write=net_write,
            )
            try:
                self.stream.send({"op": "heartbeat", "metrics": metrics})
            except CommClosedError:
                return

    def _monitor_main(self) -> None:
        """Thread: sample RSS and hand each sample to the event loop. Above
        the pause threshold it also stops the pool threads from starting
        queued tasks at once, without waiting for the loop: a loop busy
        spilling must not let the threads run on and pass the limit."""
        interval = float(config.get("distributed.worker.memory.monitor-interval"))
        pause = self.state.thresholds.pause
        pause_at = pause * self.memory_limit if pause is not None else None
        proc = self._process
        loop = self.loop
        assert loop is not None, "started off the event loop"
        while not self._monitor_stop.wait(interval):
            try:
                rss = proc.memory_info().rss
                loop.call_soon_threadsafe(self._on_sample, rss, time.monotonic())
            except (RuntimeError, psutil.Error):  # the loop closed: we are shutting down
                return
            gated = pause_at is not None and rss > pause_at
            if gated != self.gated:
                with self.cv:
                    self.gated = gated
                    self.cv.notify_all()

    def _on_sample(self, rss: int, now: float) -> None:
        if self.status != "closed":
            self._handle(MemorySample(rss, now))

    # ----------------------------------------------------- state machine

    def _handle(self, *events: WorkerEvent) -> None:
        """Feed a burst of events to the state machine and carry out its
        instructions (events raised while doing so are queued, not nested).
        The burst shares one stimulus id."""
        self._stim += 1
        stim = f"{type(events[0]).__name__}-{self._stim}"
        for event in events:
            event.stimulus_id = stim
        self._events.append(events)
        if self._handling:
            return
        self._handling = True
        try:
            pending = self._events
            while pending:
                # the two instructions of every task are carried out in bulk:
                # one hand-over to the pool, one send of the reports
                jobs: list = []
                finished: list = []
                instructions: list[Any] = self.state.handle(*pending.popleft())
                for ins in instructions:
                    typ = type(ins)
                    if typ is Execute:
                        jobs.append(self._job(ins.key))
                    elif typ is ReportFinished:
                        finished.append(
                            {
                                "op": "task-finished",
                                "key": ins.key,
                                "nbytes": ins.nbytes,
                                "duration": ins.duration,
                            }
                        )
                    else:
                        self._carry_out(ins)
                if finished:
                    try:
                        self.stream.send(*finished)
                    except CommClosedError:
                        pass
                if jobs:
                    self._queue_jobs(jobs)
        finally:
            self._handling = False

    def _carry_out(self, ins: Any) -> None:
        typ = type(ins)
        try:
            if typ is DeleteData:
                data = self.data
                for key in ins.keys:
                    data.pop(key, None)
                spill = self.spill
                if len(spill):  # most workers most of the time spill nothing
                    for key in ins.keys:
                        spill.delete(key)
            elif typ is Fetch:
                self._bg.append(asyncio.ensure_future(self._fetch(ins.peer, ins.keys)))
            elif typ is Spill:
                self._spill(ins.keys)
            elif typ is ReportErred:
                self.stream.send(
                    {
                        "op": "task-erred",
                        "key": ins.key,
                        "exception": ins.exception,
                        "traceback": ins.traceback,
                    }
                )
            elif typ is ReportRescheduled:
                self.stream.send({"op": "task-rescheduled", "key": ins.key})
            elif typ is ReportReplica:
                self.stream.send({"op": "replica-added", "key": ins.key, "nbytes": ins.nbytes})
            elif typ is ReportMissing:
                self.stream.send(
                    {
                        "op": "missing-data",
                        "key": ins.key,
                        "dependency": ins.dependency,
                        "errant": ins.errant,
                    }
                )
            elif typ is ReportStatus:
                log = logger.warning if ins.status == "paused" else logger.info
                log("worker %s %s: %s", self.address, ins.status, ins.reason)
                with self.cv:
                    self.paused = ins.status == "paused"
                    self.cv.notify_all()
                ins.metrics["executing_keys"] = list(self.running.values())
                self.stream.send(
                    {
                        "op": "worker-status",
                        "status": ins.status,
                        "reason": ins.reason,
                        "metrics": ins.metrics,
                    }
                )
            elif typ is Terminate:
                asyncio.ensure_future(self._terminate(ins.reason))
        except CommClosedError:
            pass

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

    def _job(self, key: Any) -> tuple:
        """What a pool thread needs to run ``key`` (an ``Execute``), as a heap entry."""
        ts = self.state.tasks[key]
        functions = None if ts.table is None else self.functions.get(ts.table)
        deps = [dts.key for dts in ts.dependencies] if ts.dependencies else ()
        self._job_count += 1
        return (ts.priority, self._job_count, key, ts.spec, functions, deps)

    def _queue_jobs(self, jobs: list) -> None:
        """Hand a burst of jobs to the pool: one lock and one wake-up for all
        (waking a thread per task costs more than a short task itself)."""
        heap = self.jobs
        with self.cv:
            for job in jobs:
                heapq.heappush(heap, job)
            self.cv.notify(len(jobs))

    def _thread_main(self) -> None:
        """Pool thread: take a job, run it, hand the result to the loop (one
        wake-up per burst of results), repeat."""
        cv = self.cv
        jobs = self.jobs
        done = self.done
        data = self.data
        store = self.spill
        running = self.running
        loop = self.loop
        assert loop is not None, "started off the event loop"
        me = threading.get_ident()
        heappop = heapq.heappop
        bind_services({"exchange": self.exchange})
        bind_worker(self)
        while True:
            with cv:
                while self.rejoins or not jobs or self.paused or self.gated:
                    if self.rejoins:  # a seceded task takes this thread's place
                        self.rejoins.pop(0).set()
                        return
                    if self.stopping:
                        return
                    cv.wait()
                if self.stopping:
                    return
                _, _, key, spec, functions, deps = heappop(jobs)
                running[me] = key
            done.append((key, *_run(spec, functions, deps, data, store)))
            running.pop(me, None)
            if not self.wake_pending:
                self.wake_pending = True
                try:
                    loop.call_soon_threadsafe(self._drain)
                except RuntimeError:  # the loop is closed: we are shutting down
                    return
            if leaving_pool(self):
                return

    def add_pool_thread(self) -> None:
        """One more pool thread (for a task that seceded: worker_context.py)."""
        t = threading.Thread(
            target=self._thread_main, name=f"shoal-worker-{len(self.threads)}", daemon=True
        )
        t.start()
        self.threads.append(t)

    def _drain(self) -> None:
        """The results the threads handed back since the last wake-up, as one
        burst of events."""
        self.wake_pending = False
        done = self.done
        events: list = []
        while done:
            key, ok, value, duration, nbytes = done.popleft()
            if ok:
                self.data[key] = value
                events.append(ExecuteSuccess(key, nbytes, duration))
            else:
                exc = value
                if isinstance(exc, Reschedule):
                    events.append(ExecuteFailure(key, None, "", reschedule=True))
                    continue
                note = f"shoal: raised while computing task {key!r} on worker {self.address}"
                if note not in (getattr(exc, "__notes__", None) or []):
                    exc.add_note(note)
                err = error_message(exc)
                events.append(ExecuteFailure(key, err["exception"], err["traceback"]))
        if events:
            self.tasks_run += len(events)
            self._handle(*events)

    async def _fetch(self, peer: str, keys: list) -> None:
        try:
            reply = await self.pool.call(peer, {"op": "get-data", "keys": keys})
            got = reply["data"]
        except (CommClosedError, OSError) as e:
            logger.info("worker %s could not fetch from %s: %s", self.address, peer, e)
            got = {}
        data = self.data
        nbytes = {}
        for key, value in got.items():
            if key in data or key in self.spill:
                continue  # here already (computed meanwhile): keep ours
            try:
                value = value.load() if type(value) is Pickled else value
            except Exception as e:
                logger.warning(
                    "worker %s could not unpickle %r from %s: %s", self.address, key, peer, e
                )
                continue
            data[key] = value
            nbytes[key] = sizeof(value)
        self.bytes_fetched += sum(nbytes.values())
        missing = [k for k in keys if k not in nbytes and k not in data and k not in self.spill]
        if self.status != "closed":
            self._handle(FetchDone(peer, nbytes, missing))

    def _spill(self, keys: list) -> None:
        data = self.data
        written = {}
        failed: list[Any] = []
        error = ""
        for key in keys:
            if failed:
                failed.append(key)  # the disk refused one: keep the rest in memory
                continue
            try:
                written[key] = self.spill.put(key, data[key])
            except OSError as e:
                error = f"{type(e).__name__}: {e}"
                logger.error("worker %s could not spill %r: %s", self.address, key, error)
                failed.append(key)
                continue
            del data[key]
        self._handle(SpillDone(written, failed, error))

    async def _terminate(self, reason: str) -> None:
        """Close this nanny-less worker because its memory passed ``terminate``,
        telling the scheduler why first (so errors can name the cause)."""
        running = list(self.running.values())
        self.terminated = reason
        cause = f"closed itself: {reason}; it was running {running}"
        logger.error("worker %s %s", self.address, cause)
        try:
            await asyncio.wait_for(
                self.pool.call(
                    self.scheduler_address,
                    {
                        "op": "worker-exited",
                        "nanny": self.address,
                        "pid": os.getpid(),
                        "cause": cause,
                    },
                ),
                2.0,
            )
        except Exception as e:  # the scheduler may be gone: close anyway
            logger.info("could not tell the scheduler why worker %s closes: %s", self.address, e)
        await self.close(graceful=False)

    # ---------------------------------------------------------- handlers

    def get_data(self, comm, keys) -> dict:
        data = self.data
        spill = self.spill
        out = {}
        for key in keys:
            if key in data:
                out[key] = ToPickle(data[key])
            elif key in spill:
                out[key] = ToPickle(spill.get(key))  # read back for this reply only
        if out:
            known = self.state.tasks
            self.bytes_served += sum(known[k].nbytes for k in out if k in known)
            self._handle(DataRequested(list(out)))
        return {"status": "ok", "data": out}

    def update_data(self, comm, data: dict) -> dict:
        nbytes = {}
        for key, value in data.items():
            if type(value) is Pickled:
                value = value.load()
            if key not in self.spill:
                self.data[key] = value
            nbytes[key] = sizeof(value)
        self._handle(DataPut(nbytes))
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
            "keys": len(self.state.tasks),
            "memory_limit": self.memory_limit,
            "memory": self.state.memory_metrics(),
        }

    def __repr__(self) -> str:
        return (
            f"<Worker {self.address!r} nthreads={self.nthreads} status={self.status} "
            f"memory_limit={format_bytes(self.memory_limit) if self.memory_limit else 'none'}>"
        )


class _Unloadable:
    """A function that could not be unpickled on this worker: calling it
    raises why (so only the tasks using it fail, with the reason)."""

    def __init__(self, error: Exception):
        self.error = error

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"this worker could not unpickle the task's function: {self.error!r}")
