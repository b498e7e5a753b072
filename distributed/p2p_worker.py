"""The worker's side of peer-to-peer exchanges (the ``"exchange"`` service of
``shoal.core.services``): pieces of blocks go straight to the worker that
owns their output block, never through the scheduler or the task graph.

::

    transfer i (pool thread)          pieces pickled, grouped by owner
        own pieces ----------------->  ShardLog (disk) of this worker
        others' pieces -> send buffer per peer; a full one (batch-bytes)
                          goes out as one p2p-receive message; the thread
                          waits while more than send-buffer bytes are
                          buffered or unacknowledged (bounded memory)
    peer's p2p-receive (event loop) -> written by the disk thread, then
                          acknowledged (so memory on this side is bounded too)
    barrier: the scheduler asks every participant p2p-inputs-done: each
                          sends what it still buffers and waits for the
                          acknowledgements
    output j (pool thread, on j's owner) <- its pieces from the ShardLog,
                          in input order, unpickled

A run is one attempt at an exchange: the scheduler numbers them (see
``p2p_scheduler.py``) and, when a participant dies, closes the run on every
worker (``p2p-close``: its pieces are deleted) and starts the exchange's
tasks again. A task of a closed run raises ``Reschedule``: it is run again
under the next run, and no failure counts. Pieces of a closed (stale) run
that still arrive are refused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import pickle
import shutil
import tempfile
import threading
from dataclasses import asdict
from typing import Any

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config
from shoal.core.services import ExchangeSpec
from shoal.core.utils import parse_bytes
from shoal.distributed.comm import CommClosedError
from shoal.distributed.p2p_store import ExchangeDiskFull, ShardLog
from shoal.distributed.protocol import Pickled, ToPickle

__all__ = ["ExchangeService", "Reschedule", "WorkerRun"]

logger = logging.getLogger("shoal.distributed.p2p")


def _frames_of(piece: Any) -> list:
    """``piece`` pickled as frames: the head, then its out-of-band buffers
    (NumPy arrays, Arrow buffers: sent and stored without a copy into the head).

    >>> import numpy as np
    >>> head, data = _frames_of(np.arange(3))
    >>> pickle.loads(head, buffers=[data])
    array([0, 1, 2])
    """
    buffers: list = []
    head = pickle.dumps(piece, protocol=5, buffer_callback=buffers.append)
    frames: list = [head]
    for b in buffers:
        try:
            frames.append(b.raw())
        except BufferError:  # not contiguous: copied
            frames.append(memoryview(bytes(b)))
    return frames


class Reschedule(Exception):
    """Raised by a task that must run again later (its exchange's run was
    restarted): the worker reports it as such, not as an error."""


def _byte_setting(name: str) -> int | None:
    value = config.get(name)
    return None if value in (None, False) else parse_bytes(value)


class WorkerRun:
    """One run of one exchange on this worker: what it sends and what it
    received. ``owners`` (the worker of each output) is known once this
    worker asked the scheduler or heard the barrier."""

    def __init__(self, service: ExchangeService, spec: ExchangeSpec, run: int, owners: Any):
        self.service = service
        self.spec = spec
        self.run = run
        self.owners: list[str] | None = list(owners) if owners is not None else None
        directory = os.path.join(service.directory(), f"{spec.id}-run{run}")
        self.log = ShardLog(
            directory,
            f"exchange {spec.id!r} run {run} on worker {service.address}",
            service.max_disk,
        )
        self.cond = threading.Condition()
        self.buffers: dict[str, list] = {}  # peer -> pieces waiting to be sent
        self.buffered: dict[str, int] = {}  # their bytes
        self.outstanding = 0  # bytes buffered or sent and not acknowledged
        self.sending: set[concurrent.futures.Future] = set()
        self.error: BaseException | None = None  # the first failed send, raised on next use
        self.inputs_done = False
        self.closed = False

    def add(self, peer: str, pieces: list, nbytes: int) -> None:
        """Buffer ``pieces`` for ``peer`` (a pool thread); send a full buffer;
        wait while too much is outstanding."""
        service = self.service
        with self.cond:
            self._raise_if_failed()
            self.buffers.setdefault(peer, []).extend(pieces)
            self.buffered[peer] = self.buffered.get(peer, 0) + nbytes
            self.outstanding += nbytes
            if self.buffered[peer] >= service.batch_bytes:
                self._send_locked(peer)
            if self.outstanding > service.send_limit:
                for other in list(self.buffers):  # everything out, then wait for room
                    self._send_locked(other)
                while self.outstanding > service.send_limit and self.sending:
                    self.cond.wait()
                    self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self.closed:
            raise Reschedule(f"run {self.run} of exchange {self.spec.id!r} was closed")
        if self.error is not None:
            raise self.error

    def _send_locked(self, peer: str) -> None:
        pieces = self.buffers.pop(peer)
        nbytes = self.buffered.pop(peer)
        loop = self.service.loop
        future = asyncio.run_coroutine_threadsafe(self.service.send(self, peer, pieces), loop)
        self.sending.add(future)
        future.add_done_callback(lambda f: self._sent(f, nbytes))

    def _sent(self, future: concurrent.futures.Future, nbytes: int) -> None:
        with self.cond:
            self.sending.discard(future)
            self.outstanding -= nbytes
            if self.error is None and not future.cancelled():
                error = future.exception()
                if error is not None:
                    self.error = error
            self.cond.notify_all()

    async def flush(self) -> None:
        """Send everything buffered and wait for every acknowledgement (on the
        event loop); raise the first failed send's error."""
        with self.cond:
            self._raise_if_failed()
            for peer in list(self.buffers):
                self._send_locked(peer)
            pending = list(self.sending)
        if pending:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in pending))
        with self.cond:
            self._raise_if_failed()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        self.log.close()


class ExchangeService:
    """The ``"exchange"`` service of one worker (module docstring)."""

    def __init__(self, worker: Any, local_directory: str | None = None):
        self.worker = worker
        self.local_directory = local_directory
        self.runs: dict[str, WorkerRun] = {}  # exchange id -> its latest run here
        self.closed: dict[str, int] = {}  # exchange id -> its latest run closed here
        self.lock = threading.RLock()  # a new run makes the directory under it
        self.batch_bytes = _byte_setting("distributed.p2p.batch-bytes") or 1
        self.send_limit = _byte_setting("distributed.p2p.send-buffer") or 1
        self.max_disk = _byte_setting("distributed.p2p.max-disk")
        self._directory = ""
        self._disk: concurrent.futures.ThreadPoolExecutor | None = None
        self.bytes_received = 0  # figures for benchmarks
        self.bytes_sent = 0

    @property
    def address(self) -> str:
        return str(self.worker.address)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self.worker.loop
        assert loop is not None, "the worker has not started"
        return loop

    def directory(self) -> str:
        """This worker's directory of exchange pieces (made on first use)."""
        with self.lock:
            if not self._directory:
                parent = self.local_directory
                if parent:
                    os.makedirs(parent, exist_ok=True)
                self._directory = tempfile.mkdtemp(prefix="shoal-p2p-", dir=parent or None)
            return self._directory

    # ------------------------------------------------ the task's side

    def transfer(self, spec: ExchangeSpec, i: int, pieces: dict[int, Any]) -> int:
        """Hand over input ``i``'s pieces by output; the run they joined. Each
        piece is pickled (its buffers out of band, not copied) and buffered
        (or written) in turn, so the pieces of a big input block never all
        exist pickled at once."""
        run = self._current(spec)
        owners = run.owners
        assert owners is not None, "a run this worker asked for knows its owners"
        mine: list = []
        mine_bytes = 0
        for j, piece in pieces.items():
            frames = _frames_of(piece)
            nbytes = sum(memoryview(f).nbytes for f in frames)
            owner = owners[j]
            if owner != self.address:
                run.add(owner, [(j, i, frames)], nbytes)
                continue
            mine.append((j, i, frames))
            mine_bytes += nbytes
            if mine_bytes >= self.batch_bytes:
                run.log.append(mine)
                mine, mine_bytes = [], 0
        if mine:
            run.log.append(mine)
        return run.run

    def barrier(self, spec: ExchangeSpec, runs: list[int]) -> int:
        """Return once every piece of the run reached its owner (asks the
        scheduler, which asks every participant to flush)."""
        found = set(runs)
        if len(found) > 1:  # a stale transfer's result was taken: start over
            self._call_scheduler(
                {
                    "op": "p2p-restart",
                    "spec": asdict(spec),
                    "run": max(found),
                    "reason": f"the barrier saw transfers of runs {sorted(found)}",
                }
            )
            raise Reschedule(f"exchange {spec.id!r}: transfers of several runs {sorted(found)}")
        reply = self._call_scheduler(
            {"op": "p2p-barrier", "spec": asdict(spec), "run": found.pop() if found else None}
        )
        if reply["status"] == "restarted":
            raise Reschedule(reply["reason"])
        return int(reply["run"])

    def output(self, spec: ExchangeSpec, run: int, j: int) -> list:
        """Output ``j``'s pieces, in input order (on ``j``'s owner)."""
        with self.lock:
            found = self.runs.get(spec.id)
        if found is None or found.run != run or not found.inputs_done or found.closed:
            raise Reschedule(f"run {run} of exchange {spec.id!r} is not (or no more) here")
        owners = found.owners
        assert owners is not None, "inputs-done tells the owners"
        if owners[j] != self.address:
            raise Reschedule(f"output {j} of exchange {spec.id!r} belongs to {owners[j]}")
        return [pickle.loads(head, buffers=buffers) for head, *buffers in found.log.read(j)]

    def _current(self, spec: ExchangeSpec) -> WorkerRun:
        with self.lock:
            run = self.runs.get(spec.id)
        if run is not None and not run.closed and run.owners is not None:
            return run
        reply = self._call_scheduler(
            {"op": "p2p-get-or-create", "spec": asdict(spec), "worker": self.address}
        )
        return self._run(spec, int(reply["run"]), reply["owners"])

    def _run(self, spec: ExchangeSpec, number: int, owners: Any) -> WorkerRun:
        """The local record of run ``number`` (made if new; older ones closed);
        ``Reschedule`` if that run was closed here already."""
        with self.lock:
            if self.closed.get(spec.id, 0) >= number:
                raise Reschedule(f"run {number} of exchange {spec.id!r} was closed")
            run = self.runs.get(spec.id)
            if run is not None and run.run == number:
                if run.owners is None and owners is not None:
                    run.owners = list(owners)
                return run
            if run is not None and run.run > number:
                raise Reschedule(f"run {number} of exchange {spec.id!r} is stale")
            old = run
            run = self.runs[spec.id] = WorkerRun(self, spec, number, owners)
        if old is not None:
            old.close()
        return run

    def _call_scheduler(self, msg: dict) -> dict:
        """A request to the scheduler from a pool thread."""
        call = self.worker.pool.call(self.worker.scheduler_address, msg)
        reply = asyncio.run_coroutine_threadsafe(call, self.loop).result()
        assert type(reply) is dict, reply
        return reply

    # --------------------------------------------- the event loop's side

    async def send(self, run: WorkerRun, peer: str, pieces: list) -> None:
        """One batch of pieces to ``peer``; raises what the peer answered."""
        msg = {
            "op": "p2p-receive",
            "spec": asdict(run.spec),
            "run": run.run,
            "index": [(j, i) for j, i, _ in pieces],
            "data": ToPickle([[pickle.PickleBuffer(f) for f in frames] for _, _, frames in pieces]),
        }
        try:
            await self.worker.pool.call(peer, msg)
        except (CommClosedError, OSError) as e:
            if isinstance(e, ExchangeDiskFull):
                raise
            raise Reschedule(f"exchange {run.spec.id!r}: could not reach {peer}: {e}") from e
        self.bytes_sent += sum(memoryview(f).nbytes for _, _, frames in pieces for f in frames)

    async def receive(self, comm: Any, spec: dict, run: int, index: list, data: Any) -> str:
        """Handler of ``p2p-receive``: a peer's batch, written to disk before
        the answer (so the peer's send buffer bounds this side's memory too)."""
        found = self._run(ExchangeSpec(**spec), run, None)
        received = data.load() if type(data) is Pickled else data
        pieces = [(j, i, frames) for (j, i), frames in zip(index, received)]
        await self.loop.run_in_executor(self._disk_thread(), found.log.append, pieces)
        self.bytes_received += sum(memoryview(f).nbytes for frames in received for f in frames)
        return "ok"

    async def inputs_done(self, comm: Any, spec: dict, run: int, owners: list) -> str:
        """Handler of ``p2p-inputs-done`` (the barrier): send everything
        buffered for the run and wait until it arrived."""
        found = self._run(ExchangeSpec(**spec), run, owners)
        await found.flush()
        found.inputs_done = True
        return "ok"

    def close_run(self, exchange: str, run: int) -> None:
        """``p2p-close`` from the scheduler: drop run ``run`` (and older ones)."""
        with self.lock:
            if self.closed.get(exchange, 0) < run:
                self.closed[exchange] = run
            found = self.runs.get(exchange)
            if found is None or found.run > run:
                return
            del self.runs[exchange]
        found.close()

    def _disk_thread(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._disk is None:
            self._disk = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="shoal-p2p")
        return self._disk

    def close(self) -> None:
        """The worker closes: every run's pieces are deleted."""
        with self.lock:
            runs = list(self.runs.values())
            self.runs.clear()
        for run in runs:
            run.close()
        if self._disk is not None:
            self._disk.shutdown(wait=True)
            self._disk = None
        if self._directory:
            shutil.rmtree(self._directory, ignore_errors=True)
