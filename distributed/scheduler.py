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
from shoal.distributed.batched import BatchedSend
from shoal.distributed.comm import CommClosedError
from shoal.distributed.dashboard import Dashboard
from shoal.distributed.graph_codec import FunctionTable, GraphDecoder
from shoal.distributed.protocol import Pickled, ToPickle
from shoal.distributed.scheduler_events import (
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
    ReleaseKeys,
    RemoveClient,
    RemoveWorker,
    StealTask,
    TaskErred,
    TaskFinished,
    Tick,
    UpdateData,
    UpdateGraph,
    WorkerStatus,
)
from shoal.distributed.scheduler_state import SchedulerState
from shoal.distributed.server import ConnectionPool, Server
from shoal.distributed.utils import raise_open_file_limit

__all__ = ["Scheduler"]

logger = logging.getLogger("shoal.distributed.scheduler")

EXIT_CAUSE_WAIT = 1.0


def _load(value: Any) -> Any:
    return value.load() if type(value) is Pickled else value


class Scheduler(Server):
    """Serves workers and clients on ``address`` (port 0 picks a free port)."""

    def __init__(
        self,
        address: str = "tcp://127.0.0.1:0",
        validate: bool = False,
        dashboard_address: str | None = None,
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
                "worker-exited": self.worker_exited,
            },
            stream_handlers={
                "register-worker": self.add_worker,
                "register-client": self.add_client,
            },
        )
        self.listen_address = address
        self.dashboard_address = dashboard_address
        self.dashboard: Dashboard | None = None
        self.state = SchedulerState(validate=validate)
        self.worker_streams: dict[str, BatchedSend] = {}
        self.worker_info: dict[str, dict] = {}
        self.client_streams: dict[str, BatchedSend] = {}
        self.pool = ConnectionPool(deserialize=False)
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

    async def start(self) -> Scheduler:
        raise_open_file_limit()
        await self.listen(self.listen_address)
        if self.dashboard_address is not None:
            self.dashboard = Dashboard(self, self.dashboard_address)
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

    async def close(self) -> None:
        if self.status == "closed":
            return
        self.status = "closed"
        if self._tick_task is not None:
            self._tick_task.cancel()
        if self.dashboard is not None:
            await self.dashboard.close()
        for stream in list(self.worker_streams.values()) + list(self.client_streams.values()):
            stream.abort()
        await super().close()
        await self.pool.close()

    def _close_handler(self, comm) -> str:
        asyncio.ensure_future(self.close())
        return "ok"

    def _next_stim(self, op: str) -> str:
        self._stim += 1
        return f"{op}-{self._stim}"

    # --------------------------------------------------- event routing

    def handle(self, event) -> None:
        """Feed one event to the state machine and send its instructions."""
        self.events += 1
        self.route(self.state.handle(event))

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
                elif typ is CloseWorker:
                    stream = workers.pop(ins.worker, None)
                    if stream is not None:
                        logger.warning("closing worker %s: %s", ins.worker, ins.reason)
                        stream.abort()
            except CommClosedError:
                pass

    async def _ticks(self) -> None:
        interval = float(config.get("distributed.scheduler.tick-interval"))
        while True:
            await asyncio.sleep(interval)
            self.handle(Tick(time.monotonic(), stimulus_id=self._next_stim("tick")))
            self._drop_unused_tables()

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
        }
        self.handle(
            AddWorker(
                address,
                nthreads,
                name,
                memory_limit,
                nanny,
                time.monotonic(),
                stimulus_id=self._next_stim("add-worker"),
            )
        )
        logger.info("worker %s joined (%d threads)", address, nthreads)
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
        try:
            while True:
                msgs = await comm.read()
                for msg in msgs:
                    if msg["op"] == "close-client":
                        return
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
            decoder = self._inbound.get(gkey)
            if decoder is None:
                raise ValueError(f"graph {msg['graph']} of {client} continues but never began")
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
            stimulus_id=self._next_stim("update-graph"),
        )

    # ---------------------------------------------------------- handlers

    def identity(self, comm) -> dict:
        return {
            "type": "Scheduler",
            "address": self.address,
            "workers": {a: dict(info) for a, info in self.worker_info.items()},
            "tasks": len(self.state.tasks),
        }

    def who_has(self, comm, keys) -> dict:
        tasks = self.state.tasks
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

    async def retire_workers(self, comm, workers) -> dict:
        """Close the given workers (their tasks and results move or are recomputed)."""
        for address in workers:
            info = self.worker_info.get(address)
            if info is None:
                continue
            target = info["nanny"] or address
            try:
                await self.pool.call(target, {"op": "close", "reason": "retired"})
            except (CommClosedError, OSError):
                pass
        return {"status": "ok"}


def _hold_name(client: str, graph_id: int) -> str:
    """The pseudo-client holding a graph of ``client`` while it arrives."""
    return f"{client}/graph-{graph_id}"
