"""The scheduler's side of peer-to-peer exchanges: runs, owners, restarts.

An exchange (``shoal.core.services.ExchangeSpec``) is n transfer tasks, one
barrier and m output tasks in the graph; this extension adds what the graph
cannot say:

- **runs**: the first transfer (or the barrier) to ask opens run ``r`` of
  the exchange, numbered from 1 and never reused: the running workers at
  that moment own the outputs (output ``j`` to worker ``j * W // m``, so
  each owns a contiguous range), and each output task is restricted to its
  owner (``RestrictTasks``).
- **the barrier**: every participant (owners and senders) is asked to flush
  (``p2p-inputs-done``); the barrier task returns once all answered.
- **restarts**: when a participant leaves (or a send fails, or the barrier
  saw transfers of two runs), the run is closed on every worker and the
  exchange's transfers, barrier and running outputs are computed again
  (``ResetTasks``): the next transfer opens run ``r + 1`` with the workers
  then alive. Outputs already computed stay. The barrier runs again for the
  new run even on a worker still holding the old run's barrier value for
  outputs still running: a worker never reports a value it keeps only for
  its local tasks as the result of a task assigned to it
  (``WorkerTask.assigned`` in ``worker_state.py``).
- **closing**: on each tick, a run none of whose tasks is still to run is
  closed on every worker (its pieces are deleted) and its restrictions
  lifted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from shoal.core.services import ExchangeSpec
from shoal.distributed.p2p_store import ExchangeDiskFull
from shoal.distributed.p2p_worker import Reschedule
from shoal.distributed.scheduler_events import ResetTasks, RestrictTasks

__all__ = ["ExchangeRun", "ExchangeScheduler", "owners_of"]

logger = logging.getLogger("shoal.distributed.p2p")

_PENDING = ("waiting", "queued", "processing")


def owners_of(workers: list[str], m: int) -> list[str]:
    """The owner of each of ``m`` outputs: contiguous ranges over ``workers``.

    >>> owners_of(["a", "b"], 5)
    ['a', 'a', 'a', 'b', 'b']
    """
    w = len(workers)
    return [workers[j * w // m] for j in range(m)]


class ExchangeRun:
    """One run of one exchange, as the scheduler knows it."""

    def __init__(self, spec: ExchangeSpec, run: int, owners: list[str]):
        self.spec = spec
        self.run = run
        self.owners = owners
        self.senders: set[str] = set()

    def participants(self) -> set[str]:
        return set(self.owners) | self.senders


class ExchangeScheduler:
    """Serves the ``p2p-*`` requests of a scheduler (module docstring)."""

    def __init__(self, scheduler: Any):
        self.scheduler = scheduler
        self.runs: dict[str, ExchangeRun] = {}
        self.numbers: dict[str, int] = {}  # exchange id -> its last run number
        self.restarted = 0  # runs restarted (a figure for tests and logs)
        scheduler.handlers.update(
            {
                "p2p-get-or-create": self.get_or_create,
                "p2p-barrier": self.barrier,
                "p2p-restart": self.restart_request,
            }
        )

    @property
    def state(self) -> Any:
        return self.scheduler.state

    def _stim(self, what: str) -> str:
        return str(self.scheduler._next_stim(what))

    def get_or_create(self, comm: Any, spec: dict, worker: str = "") -> dict:
        """The current run of ``spec`` (opened if none); ``worker`` sends in it."""
        run = self._current(ExchangeSpec(**spec))
        if worker:
            run.senders.add(worker)
        return {"run": run.run, "owners": run.owners}

    def _current(self, spec: ExchangeSpec) -> ExchangeRun:
        run = self.runs.get(spec.id)
        if run is not None:
            return run
        workers = sorted(ws.address for ws in self.state.running_workers())
        if not workers:
            workers = sorted(self.state.workers)
        if not workers:
            raise Reschedule(f"exchange {spec.id!r}: no worker to own its outputs")
        number = self.numbers[spec.id] = self.numbers.get(spec.id, 0) + 1
        owners = owners_of(workers, spec.npartitions_out)
        run = self.runs[spec.id] = ExchangeRun(spec, number, owners)
        restrict = {spec.output_key(j): owner for j, owner in enumerate(owners)}
        self.scheduler.handle(RestrictTasks(restrict, stimulus_id=self._stim("p2p-open")))
        logger.info("exchange %s: run %d over %d workers", spec.id, number, len(workers))
        return run

    async def barrier(self, comm: Any, spec: dict, run: int | None) -> dict:
        """Ask every participant to flush run ``run`` (None: the exchange had
        no transfer); ``{"status": "ok", "run"}`` once all did, or
        ``"restarted"`` (with a reason) if the run is gone meanwhile."""
        exchange = ExchangeSpec(**spec)
        current = self._current(exchange) if run is None else self.runs.get(exchange.id)
        if current is None or (run is not None and current.run != run):
            return {"status": "restarted", "reason": f"run {run} of {exchange.id!r} restarted"}
        gone = current.participants() - set(self.state.workers)
        if gone:
            self.restart(current, f"workers {sorted(gone)} left")
            return {"status": "restarted", "reason": f"workers {sorted(gone)} left"}
        workers = sorted(current.participants())
        msg = {
            "op": "p2p-inputs-done",
            "spec": spec,
            "run": current.run,
            "owners": current.owners,
        }
        replies = await asyncio.gather(
            *(self.scheduler.pool.call(w, dict(msg)) for w in workers), return_exceptions=True
        )
        for worker, reply in zip(workers, replies):
            if isinstance(reply, ExchangeDiskFull):
                raise reply
            if isinstance(reply, BaseException):
                if self.runs.get(exchange.id) is current:
                    self.restart(current, f"worker {worker} could not flush: {reply}")
                return {"status": "restarted", "reason": f"worker {worker}: {reply}"}
        if self.runs.get(exchange.id) is not current:
            return {"status": "restarted", "reason": f"run {current.run} restarted meanwhile"}
        return {"status": "ok", "run": current.run}

    def restart_request(self, comm: Any, spec: dict, run: int, reason: str) -> str:
        """A worker found run ``run`` broken (``reason``): restart it, if it is
        still the current one."""
        current = self.runs.get(spec["id"])
        if current is not None and current.run <= run:
            self.restart(current, reason)
        return "ok"

    def restart(self, run: ExchangeRun, reason: str) -> None:
        """Close ``run`` everywhere and compute its exchange again (module
        docstring)."""
        spec = run.spec
        del self.runs[spec.id]
        self.restarted += 1
        logger.warning("exchange %s: run %d restarted: %s", spec.id, run.run, reason)
        self._broadcast_close(spec.id, run.run)
        tasks = self.state.tasks
        outputs = [spec.output_key(j) for j in range(spec.npartitions_out)]
        keys = [spec.transfer_key(i) for i in range(spec.npartitions_in)]
        keys.append(spec.barrier_key)
        for key in outputs:  # outputs computed already are right: they stay
            ts = tasks.get(key)
            if ts is not None and ts.state == "processing":
                keys.append(key)
        stim = self._stim("p2p-restart")
        self.scheduler.handle(RestrictTasks(dict.fromkeys(outputs, ""), stimulus_id=stim))
        self.scheduler.handle(ResetTasks(keys, stimulus_id=stim))

    def check(self) -> None:
        """Close the runs with nothing left to run; restart those that lost a
        participant (on each tick, and when a worker leaves)."""
        workers = self.state.workers
        for run in list(self.runs.values()):
            if self._finished(run):
                self._close(run)
                continue
            gone = [w for w in run.participants() if w not in workers]
            if gone:
                self.restart(run, f"workers {sorted(gone)} left")

    def _finished(self, run: ExchangeRun) -> bool:
        tasks = self.state.tasks
        spec = run.spec
        keys = [spec.barrier_key]
        keys += [spec.transfer_key(i) for i in range(spec.npartitions_in)]
        keys += [spec.output_key(j) for j in range(spec.npartitions_out)]
        for key in keys:
            ts = tasks.get(key)
            if ts is not None and ts.state in _PENDING:
                return False
        return True

    def _close(self, run: ExchangeRun) -> None:
        spec = run.spec
        del self.runs[spec.id]
        self._broadcast_close(spec.id, run.run)
        outputs = {spec.output_key(j): "" for j in range(spec.npartitions_out)}
        self.scheduler.handle(RestrictTasks(outputs, stimulus_id=self._stim("p2p-close")))

    def _broadcast_close(self, exchange: str, run: int) -> None:
        msg = {"op": "p2p-close", "id": exchange, "run": run}
        for stream in self.scheduler.worker_streams.values():
            try:
                stream.send(dict(msg))
            except Exception as e:  # a worker on its way out: it drops its runs anyway
                logger.debug("could not tell a worker to close %s: %s", exchange, e)
