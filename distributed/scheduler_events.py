"""Events into the scheduler state machine and instructions out of it.

Every event carries a ``stimulus_id`` (what caused it), which the state
machine writes into its story log next to each transition it caused.

>>> AddWorker("tcp://127.0.0.1:1", nthreads=2, stimulus_id="s1").nthreads
2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Event",
    "AddWorker",
    "RemoveWorker",
    "Heartbeat",
    "WorkerStatus",
    "AddClient",
    "RemoveClient",
    "UpdateGraph",
    "UpdateData",
    "TaskFinished",
    "TaskErred",
    "MissingData",
    "ReleaseKeys",
    "CancelKeys",
    "Tick",
    "Rebalance",
    "Replicate",
    "RetireWorkers",
    "ReplicaAdded",
    "TaskRescheduled",
    "RestrictTasks",
    "ResetTasks",
    "Instruction",
    "ComputeTask",
    "FreeKeys",
    "CloseWorker",
    "KeyInMemory",
    "KeyErred",
    "KeyCancelled",
    "StealTask",
    "KeyDone",
    "AcquireReplicas",
    "RequestDone",
]


@dataclass(slots=True)
class Event:
    stimulus_id: str = field(default="", kw_only=True)


@dataclass(slots=True)
class AddWorker(Event):
    address: str
    nthreads: int = 1
    name: str = ""
    memory_limit: int = 0
    nanny: str = ""
    now: float = 0.0
    resources: dict[str, float] = field(default_factory=dict)  # e.g. {"GPU": 2}


@dataclass(slots=True)
class RemoveWorker(Event):
    """``address`` left. ``expected``: it closed on purpose (retired, scaled
    down), so the results it held are let go of, not lost; an unexpected
    departure (killed, crashed, hung) counts against the tasks it ran and
    the results it held (see ``allowed-failures``)."""

    address: str
    reason: str = "removed"
    expected: bool = False


@dataclass(slots=True)
class Heartbeat(Event):
    address: str
    now: float
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class WorkerStatus(Event):
    """A worker paused (memory is high: it starts no new task) or runs again;
    ``metrics`` are its memory figures at that moment."""

    address: str
    status: str
    reason: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class AddClient(Event):
    client: str


@dataclass(slots=True)
class RemoveClient(Event):
    client: str


@dataclass(slots=True)
class UpdateGraph(Event):
    """New tasks: ``keys[i]`` runs ``specs[i]`` after ``deps[i]`` (keys, new
    or known); ``order[i]`` is its static priority; ``wanted`` are the keys
    the client holds futures for; ``retries`` maps keys to retry counts;
    ``annotations`` maps keys to their normalized annotations (``priority``,
    ``retries``, ``workers``, ``allow_other_workers``, ``resources``,
    ``concurrency``: see ``shoal.annotate`` and ``placement.py``).

    A big graph arrives as several events: all but the first have
    ``continues`` (same generation of priorities), all but the last name a
    ``hold`` that keeps their tasks (and results) until the last one, whose
    dependents may still be on their way, arrives with ``final``. ``table``
    is the function table the specs refer to (kept with each task)."""

    client: str
    keys: list[Any]
    deps: list[Any]
    specs: list[Any]
    order: Sequence[int]
    wanted: list[Any]
    retries: dict[Any, int] = field(default_factory=dict)
    watch: bool = False
    table: Any = None
    hold: str = ""
    continues: bool = False
    final: bool = True
    annotations: dict[Any, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class UpdateData(Event):
    """Data a client placed on workers (scatter): key -> (addresses, nbytes)."""

    client: str
    data: dict[Any, tuple[list[str], int]]


@dataclass(slots=True)
class TaskFinished(Event):
    worker: str
    key: Any
    nbytes: int = 0
    duration: float = 0.0


@dataclass(slots=True)
class TaskErred(Event):
    worker: str
    key: Any
    exception: Any = None
    traceback: str = ""


@dataclass(slots=True)
class MissingData(Event):
    """``worker`` could not get ``dependency`` of ``key`` from ``errant``."""

    worker: str
    key: Any
    dependency: Any
    errant: str


@dataclass(slots=True)
class ReleaseKeys(Event):
    client: str
    keys: list[Any]


@dataclass(slots=True)
class CancelKeys(Event):
    client: str
    keys: list[Any]


@dataclass(slots=True)
class Tick(Event):
    now: float


@dataclass(slots=True)
class Rebalance(Event):
    """Move results from workers holding more than the mean of ``workers``
    (all running workers if None) to workers holding less; only ``keys`` if
    given. Answered by a ``RequestDone`` named ``request``."""

    request: str
    keys: list[Any] | None = None
    workers: list[str] | None = None


@dataclass(slots=True)
class Replicate(Event):
    """Hold each of ``keys`` on ``n`` running workers (all of them if None):
    copies are made, or the surplus is dropped. Answered by ``RequestDone``."""

    request: str
    keys: list[Any]
    n: int | None = None


@dataclass(slots=True)
class RetireWorkers(Event):
    """Retire ``workers`` gracefully: they get no new tasks, their running
    tasks finish, and results only they hold are copied to other workers.
    Answered by ``RequestDone`` once nothing would be lost by closing them."""

    request: str
    workers: list[str]


@dataclass(slots=True)
class ReplicaAdded(Event):
    """``worker`` holds a copy of ``key`` (``nbytes``) fetched on request."""

    worker: str
    key: Any
    nbytes: int = 0


@dataclass(slots=True)
class TaskRescheduled(Event):
    """``key`` on ``worker`` asked to run again later (its exchange restarted):
    back to waiting, no failure counted."""

    worker: str
    key: Any


@dataclass(slots=True)
class RestrictTasks(Event):
    """Run each key of ``workers`` on that worker (where its inputs wait
    outside the task graph: a peer-to-peer exchange's outputs); an empty
    address lifts the restriction. Keys need not be known yet."""

    workers: dict[Any, str]


@dataclass(slots=True)
class ResetTasks(Event):
    """Compute ``keys`` again: those processing are cancelled, those in memory
    dropped from their workers, and both wait again if still needed (a
    peer-to-peer exchange restarting after a worker died). No failure counts."""

    keys: list[Any]


# ------------------------------------------------------------ instructions


@dataclass(slots=True)
class Instruction:
    stimulus_id: str = field(default="", kw_only=True)


@dataclass(slots=True)
class ComputeTask(Instruction):
    """Run ``key`` on ``worker``: ``who_has`` maps each input to the workers
    holding it, ``nbytes`` to its size (so the worker sizes its fetches)."""

    worker: str
    key: Any
    spec: Any
    priority: int | float  # a float when a user priority made it too big for 64 bits
    who_has: dict[Any, list[str]]
    table: Any = None
    nbytes: dict[Any, int] | None = None


@dataclass(slots=True)
class FreeKeys(Instruction):
    worker: str
    keys: list[Any]


@dataclass(slots=True)
class StealTask(Instruction):
    """Ask ``worker`` to drop a queued task that moves elsewhere."""

    worker: str
    key: Any


@dataclass(slots=True)
class CloseWorker(Instruction):
    worker: str
    reason: str


@dataclass(slots=True)
class KeyInMemory(Instruction):
    client: str
    key: Any
    nbytes: int = 0


@dataclass(slots=True)
class KeyErred(Instruction):
    client: str
    key: Any
    exception: Any = None
    traceback: str = ""


@dataclass(slots=True)
class KeyCancelled(Instruction):
    client: str
    key: Any
    reason: str = ""


@dataclass(slots=True)
class KeyDone(Instruction):
    """A task of a graph the client watches (for progress bars) finished or erred."""

    client: str
    key: Any


@dataclass(slots=True)
class AcquireReplicas(Instruction):
    """Ask ``worker`` to fetch copies of keys: ``who_has`` maps each key to
    the workers holding it, ``nbytes`` to its size."""

    worker: str
    who_has: dict[Any, list[str]]
    nbytes: dict[Any, int]


@dataclass(slots=True)
class RequestDone(Instruction):
    """A ``Rebalance``, ``Replicate`` or ``RetireWorkers`` request ended;
    ``result`` is the answer for its caller (``error`` says why it failed)."""

    request: str
    result: dict[str, Any]
    error: str = ""
