"""The scheduler server: the IO around ``SchedulerState``.

Workers and clients register and then talk over batched streams; every
message becomes one event for the state machine, and its instructions are
routed to the streams of the workers and clients they name. Graphs arrive in
the compact chunked form of ``graph_codec``; each chunk is unpacked in a
thread, off the event loop, and applied as one event, so the first tasks run
while later chunks are still arriving. Task specs stay opaque bytes here;
each client's function table is forwarded to a worker once, before the
first task that needs it. A periodic tick removes workers whose heartbeats
stopped, steals work for idle workers and drops the function tables of
closed clients once no task refers to them.

>>> import asyncio
>>> async def demo():
...     async with Scheduler() as s:
...         return s.address.startswith("tcp://127.0.0.1:")
>>> asyncio.run(demo())
True
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import time
from typing import Any

from shoal.core import config
from shoal.core.annotate import normalize_annotations
from shoal.distributed.batched import BatchedSend
from shoal.distributed.comm import CommClosedError
from shoal.distributed.coordination import Coordination
from shoal.distributed.dashboard import Dashboard
from shoal.distributed.dashboard_live import LiveRecord
from shoal.distributed.graph_codec import FunctionTable, GraphDecoder
from shoal.distributed.logs import capture_logs, get_logs
from shoal.distributed.p2p_scheduler import ExchangeScheduler
from shoal.distributed.plugins import SchedulerPlugins
from shoal.distributed.protocol import Pickled, ToPickle
from shoal.distributed.scheduler_events import (
    AcquireReplicas,
    AddClient,
    AddWorker,
    CancelKeys,
    CloseWorker,
    ComputeTask,
    FreeKeys,
    Heartbeat,
    KeyCancelled,
    KeyDone,
    KeyErred,
    KeyInMemory,
    MissingData,
    Rebalance,
    ReleaseKeys,
    RemoveClient,
    RemoveWorker,
    ReplicaAdded,
    Replicate,
    RequestDone,
    RetireWorkers,
    StealTask,
    TaskErred,
    TaskFinished,
    TaskRescheduled,
    Tick,
    UpdateData,
    UpdateGraph,
    WorkerStatus,
)
from shoal.distributed.scheduler_state import SchedulerState
from shoal.distributed.security import Security
from shoal.distributed.server import ConnectionPool, Server
from shoal.distributed.state_requests import retry, threads_changed
from shoal.distributed.utils import raise_open_file_limit

__all__ = ["Scheduler"]

logger = logging.getLogger("shoal.distributed.scheduler")

EXIT_CAUSE_WAIT = 1.0
DIAGNOSE_WAIT = 2.0  # seconds to wait for a nanny's account of a silent worker
RETIRE_WAIT = 10.0  # seconds retire_workers waits for the retired workers to leave


def _load(value: Any) -> Any:
    return value.load() if type(value) is Pickled else value


class Scheduler(Server):
    """Serves workers and clients on ``address`` (port 0 picks a free port)."""

    def __init__(
        self,
        address: str = "tcp://127.0.0.1:0",
        validate: bool = False,
        dashboard_address: str | None = None,
        security: Security | None = None,
    ):
        super().__init__(
            handlers={
                "identity": self.identity,
                "who-has": self.who_has,
                "run-on-scheduler": self.run_on_scheduler,
                "broadcast": self.broadcast,
                "restart": self.restart,
                "close": self._close_handler,
                "retire-workers": self.retire_workers,
                "rebalance": self.rebalance,
                "has-what": self.has_what,
                "workers-for-data": self.workers_for_data,
                "replicate": self.replicate,
                "worker-exited": self.worker_exited,
            },
            stream_handlers={
                "register-worker": self.add_worker,
                "register-client": self.add_client,
            },
            security=security,
        )
        self.listen_address = address
        self.dashboard_address = dashboard_address
        self.dashboard: Dashboard | None = None
        self.state = SchedulerState(validate=validate)
        self.live = LiveRecord(self.state.tasks)  # task stream, errors, time series
        self.worker_streams: dict[str, BatchedSend] = {}
        self.worker_info: dict[str, dict] = {}
        self.client_streams: dict[str, BatchedSend] = {}
        self.pool = ConnectionPool(deserialize=False, security=self.security)
        self.close_reason = ""  # why the scheduler closed (see close)
        self.finished = asyncio.Event()
        self._exit_causes: dict = {}
        self._closing: set[str] = set()  # workers that said they close on purpose
        self._stim = 0
        self._tick_task: asyncio.Task | None = None
        self.status = "init"
        self.events = 0
        self._tables: dict[str, FunctionTable] = {}  # client -> its function table
        self._closed_tables: list[FunctionTable] = []
        self._tables_sent: dict[str, dict[int, int]] = {}  # worker -> table id -> entries sent
        self._inbound: dict[tuple, GraphDecoder] = {}  # (client, graph id) -> graph arriving
        self._table_ids = itertools.count()
        self._requests: dict[str, asyncio.Future] = {}  # data moves awaited by callers
        self._request_ids = itertools.count()
        self.exchanges = ExchangeScheduler(self)  # peer-to-peer exchanges (p2p_scheduler.py)
        self.coordination = Coordination(self)  # locks, queues, variables ... (coordination.py)
        self.plugins = SchedulerPlugins(self)  # plugins.py
        self.handlers.update(self.coordination.handlers())
        self.handlers.update(self.plugins.handlers())
        self.handlers["get-logs"] = get_logs
        self.handlers["retry"] = lambda comm, keys: retry(self, comm, keys)
        capture_logs()

    async def start(self) -> Scheduler:
        raise_open_file_limit()
        await self.listen(self.listen_address)
        warning = exposure_warning(self.address, self.security)
        if warning:
            logger.warning(warning)
        if self.dashboard_address is not None:
            self.dashboard = Dashboard(self, self.dashboard_address, self.security)
            logger.info("dashboard at %s", self.dashboard.url)
        self._tick_task = asyncio.ensure_future(self._ticks())
        self.status = "running"
        logger.info("scheduler at %s", self.address)
        return self

    def __await__(self):
        return self.start().__await__()

    async def __aenter__(self) -> Scheduler:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self, reason: str = "closed") -> None:
        """Stop serving; ``reason`` is kept in ``close_reason`` (the
        command-line scheduler exits with a code saying why)."""
        if self.status == "closed":
            return
        self.status = "closed"
        self.close_reason = reason
        if self._tick_task is not None:
            self._tick_task.cancel()
        self.coordination.close()
        await self.plugins.close("close")
        if self.dashboard is not None:
            await self.dashboard.close()
        for stream in list(self.worker_streams.values()) + list(self.client_streams.values()):
            stream.abort()
        await super().close()
        await self.pool.close()
        self.finished.set()

    def _close_handler(self, comm, reason: str = "") -> str:
        why = f"closed by a remote request from {comm.peer_address}"
        if reason:
            why += f" ({reason})"
        logger.warning("scheduler %s %s", self.address, why)
        asyncio.ensure_future(self.close(why))
        return "ok"

    def _next_stim(self, op: str) -> str:
        self._stim += 1
        return f"{op}-{self._stim}"

    # --------------------------------------------------- event routing

    def handle(self, event) -> None:
        """Feed one event to the state machine and send its instructions."""
        self.events += 1
        self.route(self.state.handle(event))
        if self.exchanges.runs and (type(event) is RemoveWorker or type(event) is Tick):
            self.exchanges.check()

    def route(self, instructions: list) -> None:
        workers = self.worker_streams
        clients = self.client_streams
        for ins in instructions:
            typ = type(ins)
            try:
                if typ is ComputeTask:
                    stream = workers.get(ins.worker)
                    if stream is not None:
                        table = ins.table
                        spec = ins.spec
                        msg = {
                            "op": "compute-task",
                            "key": ins.key,
                            "spec": spec if type(spec) is bytes else ToPickle(spec),
                            "priority": ins.priority,
                            "who_has": ins.who_has,
                        }
                        if ins.nbytes:
                            msg["nbytes"] = ins.nbytes
                        if table is not None:
                            msg["table"] = table.id
                            sent = self._tables_sent.setdefault(ins.worker, {})
                            n = sent.get(table.id, 0)
                            if n < len(table.funcs):
                                stream.send(
                                    {
                                        "op": "functions",
                                        "table": table.id,
                                        "start": n,
                                        "funcs": table.funcs[n:],
                                    }
                                )
                                sent[table.id] = len(table.funcs)
                        stream.send(msg)
                elif typ is KeyInMemory:
                    stream = clients.get(ins.client)
                    if stream is not None:
                        stream.send({"op": "key-in-memory", "key": ins.key})
                elif typ is FreeKeys:
                    stream = workers.get(ins.worker)
                    if stream is not None:
                        stream.send({"op": "free-keys", "keys": ins.keys})
                elif typ is KeyErred:
                    stream = clients.get(ins.client)
                    if stream is not None:
                        stream.send(
                            {
                                "op": "task-erred",
                                "key": ins.key,
                                "exception": ToPickle(_load(ins.exception)),
                                "traceback": ins.traceback,
                            }
                        )
                elif typ is KeyCancelled:
                    stream = clients.get(ins.client)
                    if stream is not None:
                        stream.send({"op": "cancelled-key", "key": ins.key, "reason": ins.reason})
                elif typ is KeyDone:
                    stream = clients.get(ins.client)
                    if stream is not None:
                        stream.send({"op": "key-done", "key": ins.key})
                elif typ is StealTask:
                    stream = workers.get(ins.worker)
                    if stream is not None:
                        stream.send({"op": "steal-task", "key": ins.key})
                elif typ is AcquireReplicas:
                    stream = workers.get(ins.worker)
                    if stream is not None:
                        stream.send(
                            {"op": "acquire-replicas", "who_has": ins.who_has, "nbytes": ins.nbytes}
                        )
                elif typ is RequestDone:
                    waiter = self._requests.pop(ins.request, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(ins)
                elif typ is CloseWorker:
                    stream = workers.pop(ins.worker, None)
                    if stream is not None:
                        logger.warning("closing worker %s: %s", ins.worker, ins.reason)
                        stream.abort()
                    self._tell_nanny_removed(ins.worker, ins.reason)
            except CommClosedError:
                pass

    async def _ticks(self) -> None:
        interval = float(config.get("distributed.scheduler.tick-interval"))
        while True:
            await asyncio.sleep(interval)
            await self._remove_silent_workers()
            self.handle(Tick(time.monotonic(), stimulus_id=self._next_stim("tick")))
            self._tick_live()
            self._drop_unused_tables()

    def _tick_live(self) -> None:
        """A sample for the dashboard's time series (its CPU counted as the
        dashboard's)."""
        cpu = time.thread_time()
        self.live.tick(self.state)
        if self.dashboard is not None:
            self.dashboard.cpu_seconds += time.thread_time() - cpu

    async def _remove_silent_workers(self) -> None:
        """Remove the workers whose heartbeats stopped for ``worker-ttl``
        seconds, with their nannies' account of why in the reason (a stopped
        process, or one alive whose event loop does not run: a task holding
        the GIL), so a task that keeps silencing its workers ends in a
        ``KilledWorker`` that says so. (The state machine's own tick removes
        the ones that fall silent meanwhile.)"""
        ttl = self.state.worker_ttl
        now = time.monotonic()
        silent = [ws for ws in self.state.workers.values() if now - ws.last_seen > ttl]
        if not silent:
            return
        accounts = await asyncio.gather(*(self._diagnose(ws.address) for ws in silent))
        for ws, account in zip(silent, accounts):
            if self.state.workers.get(ws.address) is not ws:
                continue
            quiet = time.monotonic() - ws.last_seen
            if quiet <= ttl:
                continue  # it spoke while its nanny was asked
            reason = f"no heartbeat for {quiet:.1f}s (distributed.scheduler.worker-ttl = {ttl:g}s)"
            if account:
                reason += f": {account}"
            stim = self._next_stim("worker-ttl")
            self.route([CloseWorker(ws.address, reason, stimulus_id=stim)])
            self.handle(RemoveWorker(ws.address, reason, False, stimulus_id=stim))

    async def _diagnose(self, address: str) -> str:
        """A nanny's account of its silent worker's process ("" without one)."""
        info = self.worker_info.get(address)
        if not info or not info["nanny"]:
            return ""
        try:
            reply = await asyncio.wait_for(
                self.pool.call(info["nanny"], {"op": "diagnose-worker", "pid": info["pid"]}),
                DIAGNOSE_WAIT,
            )
        except Exception as e:  # a nanny that does not answer is an answer too
            return f"its nanny did not answer ({type(e).__name__})"
        return str(reply.get("account", "")) if type(reply) is dict else ""

    def _tell_nanny_removed(self, address: str, reason: str) -> None:
        """A worker the scheduler removed (not one that was told to close) is
        killed and replaced by its nanny: in the background, best effort."""
        info = self.worker_info.get(address)
        if not info or not info["nanny"] or self.status == "closed":
            return
        msg = {"op": "worker-removed", "pid": info["pid"], "reason": reason}

        async def tell() -> None:
            try:
                await asyncio.wait_for(self.pool.call(info["nanny"], msg), DIAGNOSE_WAIT)
            except Exception as e:
                logger.info("could not tell the nanny of %s it was removed: %s", address, e)

        asyncio.ensure_future(tell())

    def _drop_unused_tables(self) -> None:
        """Tell workers to forget the function tables of closed clients once
        no task refers to them any more."""
        if not self._closed_tables:
            return
        keep = []
        for table in self._closed_tables:
            if table.ntasks > 0:
                keep.append(table)
                continue
            for address, sent in self._tables_sent.items():
                if sent.pop(table.id, None) is not None:
                    stream = self.worker_streams.get(address)
                    if stream is not None:
                        try:
                            stream.send({"op": "forget-functions", "table": table.id})
                        except CommClosedError:
                            pass
        self._closed_tables = keep

    # ----------------------------------------------------------- workers

    async def add_worker(
        self,
        comm,
        address: str,
        nthreads: int = 1,
        name: str = "",
        memory_limit: int = 0,
        nanny: str = "",
        pid: int = 0,
        resources: dict | None = None,
    ) -> None:
        if address in self.worker_streams:
            await comm.write({"status": "error", "message": f"worker {address} exists"})
            return
        await comm.write({"status": "ok"})
        stream = BatchedSend(name=f"scheduler->{address}")
        stream.start(comm)
        self.worker_streams[address] = stream
        self.worker_info[address] = {
            "nthreads": nthreads,
            "name": name or address,
            "memory_limit": memory_limit,
            "nanny": nanny,
            "pid": pid,
            "resources": dict(resources or {}),
        }
        self.handle(
            AddWorker(
                address,
                nthreads,
                name,
                memory_limit,
                nanny,
                time.monotonic(),
                {str(k): float(v) for k, v in (resources or {}).items()},
                stimulus_id=self._next_stim("add-worker"),
            )
        )
        logger.info("worker %s joined (%d threads)", address, nthreads)
        self.plugins.worker_added(address)
        reason = "the worker closed its connection"
        try:
            while True:
                msgs = await comm.read()
                for msg in msgs:
                    self._worker_message(address, msg)
        except CommClosedError as e:
            if address in self._closing:
                reason = "it closed"
            else:
                reason = await self._exit_cause(address, pid, nanny) or f"connection lost: {e}"
        except asyncio.CancelledError:
            reason = "scheduler closing"
            raise
        except Exception as e:
            logger.exception("bad message from worker %s", address)
            reason = f"bad message: {e}"
        finally:
            stream.abort()
            if self.worker_streams.get(address) is stream:
                del self.worker_streams[address]
            self.worker_info.pop(address, None)
            self._tables_sent.pop(address, None)
            expected = address in self._closing
            self._closing.discard(address)
            if self.status != "closed":
                logger.info("worker %s left: %s", address, reason)
                self.plugins.notify("remove_worker", worker=address)
                self.handle(
                    RemoveWorker(
                        address, reason, expected, stimulus_id=self._next_stim("remove-worker")
                    )
                )

    async def _exit_cause(self, address: str, pid: int, nanny: str) -> str:
        """Why a worker's connection dropped, as its nanny saw the process end
        (waits up to ``EXIT_CAUSE_WAIT`` seconds for the nanny's report), or as
        a worker without a nanny said before closing itself."""
        key = (nanny or address, pid)
        waiter = self._exit_causes.setdefault(key, asyncio.get_running_loop().create_future())
        if not nanny and not waiter.done():
            self._exit_causes.pop(key, None)
            return ""
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), EXIT_CAUSE_WAIT)
        except TimeoutError:
            return ""
        finally:
            self._exit_causes.pop(key, None)

    def worker_exited(self, comm, nanny: str, pid: int, cause: str) -> str:
        """A nanny reports how its worker process ended (``nanny`` is the
        worker's own address when a worker without a nanny closes itself)."""
        key = (nanny, pid)
        waiter = self._exit_causes.setdefault(key, asyncio.get_running_loop().create_future())
        if not waiter.done():
            waiter.set_result(f"its process {cause}")
        return "ok"

    def _worker_message(self, address: str, msg: dict) -> None:
        op = msg["op"]
        if op == "task-finished":
            self.live.task_finished(address, msg["key"], msg["duration"])
            self.handle(
                TaskFinished(
                    address,
                    msg["key"],
                    msg["nbytes"],
                    msg["duration"],
                    stimulus_id=self._next_stim("task-finished"),
                )
            )
        elif op == "task-erred":
            self.live.task_erred(address, msg["key"], msg["exception"], msg["traceback"])
            self.handle(
                TaskErred(
                    address,
                    msg["key"],
                    msg["exception"],
                    msg["traceback"],
                    stimulus_id=self._next_stim("task-erred"),
                )
            )
        elif op == "heartbeat":
            self.handle(
                Heartbeat(
                    address,
                    time.monotonic(),
                    msg["metrics"],
                    stimulus_id=self._next_stim("heartbeat"),
                )
            )
        elif op == "worker-status":
            self.handle(
                WorkerStatus(
                    address,
                    msg["status"],
                    msg.get("reason", ""),
                    msg.get("metrics") or {},
                    stimulus_id=self._next_stim("worker-status"),
                )
            )
        elif op == "closing":
            self._closing.add(address)
        elif op == "threads-changed":  # a task seceded or rejoined (worker_context.py)
            threads_changed(self, address, msg["delta"])
        elif op == "task-rescheduled":
            self.handle(
                TaskRescheduled(address, msg["key"], stimulus_id=self._next_stim("rescheduled"))
            )
        elif op == "replica-added":
            self.handle(
                ReplicaAdded(
                    address, msg["key"], msg["nbytes"], stimulus_id=self._next_stim("replica")
                )
            )
        elif op == "missing-data":
            self.handle(
                MissingData(
                    address,
                    msg["key"],
                    msg["dependency"],
                    msg["errant"],
                    stimulus_id=self._next_stim("missing-data"),
                )
            )
        else:
            raise ValueError(f"unknown worker message {op!r}")

    # ----------------------------------------------------------- clients

    async def add_client(self, comm, client: str) -> None:
        await comm.write({"status": "ok"})
        stream = BatchedSend(name=f"scheduler->{client}")
        stream.start(comm)
        self.client_streams[client] = stream
        self.handle(AddClient(client, stimulus_id=self._next_stim("add-client")))
        self.plugins.notify("add_client", client=client)
        try:
            while True:
                msgs = await comm.read()
                for msg in msgs:
                    if msg["op"] == "close-client":
                        return
                    if msg["op"] == "heartbeat":  # the client checks we are alive
                        stream.send({"op": "heartbeat"})
                        continue
                    await self._client_message(client, msg)
        except CommClosedError as e:
            logger.info("client %s left: %s", client, e)
        finally:
            stream.abort()
            if self.client_streams.get(client) is stream:
                del self.client_streams[client]
            table = self._tables.pop(client, None)
            if table is not None:
                table.closed = True
                self._closed_tables.append(table)
            for gkey in [g for g in self._inbound if g[0] == client]:
                del self._inbound[gkey]
                if self.status != "closed":  # a graph that never finished arriving
                    hold = _hold_name(*gkey)
                    self.handle(RemoveClient(hold, stimulus_id=self._next_stim("remove-client")))
            if self.status != "closed":
                self.handle(RemoveClient(client, stimulus_id=self._next_stim("remove-client")))
                self.coordination.client_left(client)
                self.plugins.notify("remove_client", client=client)

    async def _client_message(self, client: str, msg: dict) -> None:
        op = msg["op"]
        if op == "update-graph":
            event = await self._graph_event(client, msg)
            if event is not None:
                self.handle(event)
        elif op == "release-keys":
            self.handle(
                ReleaseKeys(
                    msg.get("client", client),
                    msg["keys"],
                    stimulus_id=self._next_stim("release-keys"),
                )
            )
        elif op == "cancel-keys":
            self.handle(CancelKeys(client, msg["keys"], stimulus_id=self._next_stim("cancel")))
        elif op == "update-data":
            self.handle(UpdateData(client, msg["data"], stimulus_id=self._next_stim("scatter")))
        elif op == "restart":
            try:
                await self.restart(None, msg.get("timeout", 30.0))
                reply = {"op": "restarted", "id": msg["id"]}
            except Exception as e:
                from shoal.distributed.server import error_message

                reply = {"op": "restarted", "id": msg["id"], "error": error_message(e)}
            stream = self.client_streams.get(client)
            if stream is not None:
                stream.send(reply)
        elif op == "desire-keys":
            self.handle(
                UpdateGraph(
                    msg.get("client", client),
                    [],
                    [],
                    [],
                    [],
                    msg["keys"],
                    stimulus_id=self._next_stim("desire-keys"),
                )
            )
        else:
            raise ValueError(f"unknown client message {op!r}")

    async def _graph_event(self, client: str, msg: dict) -> UpdateGraph | None:
        """One chunk of a graph as an event (unpacked in a thread)."""
        gkey = (client, msg["graph"])
        first = bool(msg["first"])
        final = bool(msg["final"])
        if first:
            decoder = self._inbound[gkey] = GraphDecoder()
        else:
            if gkey not in self._inbound:
                raise ValueError(f"graph {msg['graph']} of {client} continues but never began")
            decoder = self._inbound[gkey]
        table = self._tables.get(client)
        if table is None:
            table = self._tables[client] = FunctionTable(next(self._table_ids))
        table.funcs.extend(msg["funcs"])
        loop = asyncio.get_running_loop()
        try:
            keys, deps, order, wanted = await loop.run_in_executor(None, decoder.decode, msg)
        finally:
            if final:
                self._inbound.pop(gkey, None)
        specs = msg["specs"]
        if len(specs) != len(keys) or len(deps) != len(keys):
            raise ValueError(
                f"a graph message from {client} has {len(keys)} keys, {len(deps)} dependency "
                f"lists and {len(specs)} specs"
            )
        retries = int(msg.get("retries") or 0)
        annotated = msg.get("annotations")  # {position in this message: annotations}
        return UpdateGraph(
            client,
            keys,
            deps,
            specs,
            order,
            wanted,
            dict.fromkeys(keys, retries) if retries else {},
            bool(msg.get("watch")),
            table,
            "" if first and final else _hold_name(*gkey),
            not first,
            final,
            _annotations_by_key(keys, annotated, client) if annotated else {},
            stimulus_id=self._next_stim("update-graph"),
        )

    # ---------------------------------------------------------- handlers

    def identity(self, comm) -> dict:
        return {
            "type": "Scheduler",
            "address": self.address,
            "workers": {a: dict(info) for a, info in self.worker_info.items()},
            "tasks": len(self.state.tasks),
            "dashboard": self.dashboard.url if self.dashboard is not None else "",
        }

    def who_has(self, comm, keys=None) -> dict:
        """Workers holding each of ``keys`` (in memory or spilled); all keys in
        memory if None."""
        tasks = self.state.tasks
        if keys is None:
            keys = [k for k, ts in tasks.items() if ts.state == "memory"]
        out = {}
        for key in keys:
            ts = tasks.get(key)
            out[key] = [ws.address for ws in ts.who_has] if ts is not None else []
        return out

    async def run_on_scheduler(self, comm, function, args=(), kwargs=None) -> dict:
        func = _load(function)
        args = _load(args)
        kwargs = dict(_load(kwargs) or {})
        try:
            if "shoal_scheduler" in inspect.signature(func).parameters:
                kwargs["shoal_scheduler"] = self
        except (TypeError, ValueError):
            pass
        result = func(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return {"status": "ok", "result": ToPickle(result)}

    async def broadcast(self, comm, msg: dict, workers=None, nanny: bool = False) -> dict:
        targets = list(workers) if workers is not None else list(self.worker_info)

        async def one(address: str):
            dest = self.worker_info[address]["nanny"] if nanny else address
            try:
                reply = await self.pool.call(dest, dict(msg))
                return address, reply
            except Exception as e:
                from shoal.distributed.server import error_message

                return address, error_message(e)

        replies = await asyncio.gather(*(one(a) for a in targets if a in self.worker_info))
        return dict(replies)

    async def restart(self, comm, timeout: float = 30.0) -> dict:
        self.route(self.state.restart(self._next_stim("restart")))
        infos = dict(self.worker_info)
        missing = [a for a, info in infos.items() if not info["nanny"]]
        if missing:
            raise ValueError(f"cannot restart workers without a nanny: {missing}")
        n = len(infos)
        await asyncio.gather(
            *(self.pool.call(info["nanny"], {"op": "restart"}) for info in infos.values())
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(set(self.worker_info) - set(infos)) >= n:
                return {"status": "ok", "workers": len(self.worker_info)}
            await asyncio.sleep(0.05)
        raise TimeoutError(
            f"only {len(set(self.worker_info) - set(infos))} of {n} workers came "
            f"back within {timeout}s of the restart"
        )

    async def retire_workers(self, comm, workers, close_workers: bool = True) -> dict:
        """Retire workers gracefully: they get no new tasks, finish the ones
        they have, and every result only they hold is copied to other
        workers (nothing is recomputed); then they close (with their
        nannies), unless ``close_workers`` is False."""
        done = await self._request(
            lambda request: RetireWorkers(request, list(workers)), "retire-workers"
        )
        retired = done.result["retired"]
        infos = {a: dict(self.worker_info[a]) for a in retired if a in self.worker_info}
        if close_workers:
            for address in retired:
                info = self.worker_info.get(address)
                if info is None:
                    continue
                target = info["nanny"] or address
                try:
                    await self.pool.call(target, {"op": "close", "reason": "retired"})
                except (CommClosedError, OSError):
                    pass
            deadline = time.monotonic() + RETIRE_WAIT  # answer once they are gone
            while any(a in self.state.workers for a in retired) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        return {"status": "ok", **done.result, "workers": infos}

    async def rebalance(self, comm, keys=None, workers=None) -> dict:
        """Move results from workers holding more than the mean to workers
        holding less (within their memory budgets); see ``moves.py``."""
        done = await self._request(
            lambda request: Rebalance(
                request,
                None if keys is None else list(keys),
                None if workers is None else list(workers),
            ),
            "rebalance",
        )
        return {"status": "ok", **done.result}

    async def replicate(self, comm, keys, n=None) -> dict:
        """Hold each of ``keys`` on ``n`` workers (every running one if None)."""
        done = await self._request(
            lambda request: Replicate(request, list(keys), None if n is None else int(n)),
            "replicate",
        )
        return {"status": "ok", **done.result}

    def has_what(self, comm, workers=None) -> dict:
        """Keys of the results each worker holds, in memory or spilled (all
        workers if None)."""
        chosen = self.state.workers
        addresses = list(chosen) if workers is None else [a for a in workers if a in chosen]
        return {a: [ts.key for ts in chosen[a].has_what] for a in addresses}

    def workers_for_data(self, comm) -> list:
        """Where a client may place new data (scatter): the workers that take
        tasks (not paused, not retiring), least loaded first; every worker if
        none does."""
        state = self.state
        chosen = state.running_workers() or list(state.workers.values())
        return [ws.address for ws in sorted(chosen, key=lambda ws: (ws.memory_fraction, ws.nbytes))]

    async def _request(self, make_event, op: str) -> RequestDone:
        """Hand a data-moving request to the state machine; wait for its end."""
        request = f"{op}-{next(self._request_ids)}"
        waiter = self._requests[request] = asyncio.get_running_loop().create_future()
        event = make_event(request)
        event.stimulus_id = self._next_stim(op)
        self.handle(event)
        try:
            done = await waiter
        finally:
            self._requests.pop(request, None)
        if done.error:
            raise ValueError(done.error)
        return done


def _hold_name(client: str, graph_id: int) -> str:
    """The pseudo-client holding a graph of ``client`` while it arrives."""
    return f"{client}/graph-{graph_id}"


def exposure_warning(address: str, security: Security) -> str:
    """What a scheduler listening on ``address`` exposes, if it listens
    beyond this machine without TLS or without a token ("" when it does not).

    >>> exposure_warning("tcp://127.0.0.1:8786", Security())
    ''
    >>> print(exposure_warning("tcp://0.0.0.0:8786", Security()))  # doctest: +ELLIPSIS
    the scheduler listens on tcp://0.0.0.0:8786 (all interfaces) without TLS and without a token: ...
    """
    host = address.split("://", 1)[-1].rpartition(":")[0].strip("[]")
    if host in ("localhost", "") or host.startswith("127.") or host == "::1":
        return ""
    mutual = security.tls and security.require_client_cert and bool(security.tls_ca_file)
    if security.token and security.tls:
        return ""
    where = f"{address} (all interfaces)" if host in ("0.0.0.0", "::") else address
    if security.token:
        what = (
            "with a token but without TLS: peers must prove the token, but task code, "
            "arguments and results cross the network in clear and can be read (or changed) "
            "by anyone on the path"
        )
    elif mutual:
        return ""
    elif security.tls:
        what = (
            "with TLS but without a token or client certificates: traffic is encrypted, yet "
            "anyone who can reach this port can connect and run any code on the scheduler and "
            "every worker, read and overwrite every result, and shut the cluster down"
        )
    else:
        what = (
            "without TLS and without a token: anyone who can reach this port can run any code "
            "on the scheduler and every worker, read and overwrite every client's results, "
            "register fake workers that swallow tasks, and shut the cluster down; task code "
            "and results cross the network in clear"
        )
    return (
        f"the scheduler listens on {where} {what}. Set a token (--token, "
        "SHOAL_DISTRIBUTED__COMM__TOKEN or distributed.comm.token) and TLS (--tls-ca-file "
        "--tls-cert --tls-key, or distributed.comm.tls.*), or listen on 127.0.0.1 only"
    )


def _annotations_by_key(keys: list, annotated: Any, client: str) -> dict:
    """The ``annotations`` entry of a graph message by key, validated (a bad
    entry fails the message, like any other malformed part of it)."""
    if not isinstance(annotated, dict):
        raise ValueError(f"a graph message from {client} has malformed annotations")
    out = {}
    for i, ann in annotated.items():
        if not isinstance(i, int) or not 0 <= i < len(keys) or not isinstance(ann, dict):
            raise ValueError(f"a graph message from {client} has malformed annotations")
        try:
            out[keys[i]] = normalize_annotations(ann, f"task {keys[i]!r}")
        except (TypeError, ValueError) as e:
            raise ValueError(f"a graph message from {client}: {e}") from None
    return out
