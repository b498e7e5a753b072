"""Events into the worker state machine and instructions out of it.

Every event carries a ``stimulus_id``; the state machine writes it into its
story next to each transition it caused. Values never enter the machine:
the adapter (``worker.py``) keeps them and reports their sizes.

>>> TaskAssigned("x", spec=b"", priority=0, who_has={}, stimulus_id="s1").key
'x'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "WorkerEvent",
    "TaskAssigned",
    "KeysFreed",
    "TaskStolen",
    "ExecuteSuccess",
    "ExecuteFailure",
    "FetchDone",
    "DataPut",
    "DataRequested",
    "MemorySample",
    "SpillDone",
    "AcquireReplicas",
    "WorkerInstruction",
    "Execute",
    "Fetch",
    "Spill",
    "DeleteData",
    "ReportFinished",
    "ReportErred",
    "ReportRescheduled",
    "ReportMissing",
    "ReportStatus",
    "ReportReplica",
    "Terminate",
]


@dataclass(slots=True)
class WorkerEvent:
    stimulus_id: str = field(default="", kw_only=True)


@dataclass(slots=True)
class TaskAssigned(WorkerEvent):
    """The scheduler asks for ``key``: ``who_has`` maps each input to the
    workers holding it; ``table`` is the function table ``spec`` refers to."""

    key: Any
    spec: Any
    priority: int
    who_has: dict
    table: Any = None
    nbytes: dict | None = None  # sizes of the inputs, as the scheduler knows them


@dataclass(slots=True)
class KeysFreed(WorkerEvent):
    """The scheduler no longer needs these keys (results or tasks) here."""

    keys: list


@dataclass(slots=True)
class TaskStolen(WorkerEvent):
    """The scheduler moved ``key`` to another worker (dropped unless it runs)."""

    key: Any


@dataclass(slots=True)
class ExecuteSuccess(WorkerEvent):
    """``key`` ran; its value (``nbytes`` of it) is in the adapter's store."""

    key: Any
    nbytes: int
    duration: float


@dataclass(slots=True)
class ExecuteFailure(WorkerEvent):
    """``key`` raised; ``reschedule``: it asked to run again later (its
    peer-to-peer exchange restarted), which is no error."""

    key: Any
    exception: Any
    traceback: str = ""
    reschedule: bool = False


@dataclass(slots=True)
class FetchDone(WorkerEvent):
    """A ``get-data`` request to ``peer`` ended: ``nbytes`` of the keys it
    returned (their values are in the adapter's store); ``missing`` it lacked
    (or all the keys asked, if the peer could not be reached)."""

    peer: str
    nbytes: dict
    missing: list = field(default_factory=list)


@dataclass(slots=True)
class DataPut(WorkerEvent):
    """A client placed values here (scatter): their sizes by key."""

    nbytes: dict


@dataclass(slots=True)
class DataRequested(WorkerEvent):
    """A peer or client read these keys (they count as recently used)."""

    keys: list


@dataclass(slots=True)
class MemorySample(WorkerEvent):
    """The process's resident memory at monotonic time ``now``."""

    rss: int
    now: float


@dataclass(slots=True)
class SpillDone(WorkerEvent):
    """``Spill`` was carried out: bytes on disk per key written; ``failed``
    keys are still in memory (the disk refused them)."""

    disk_bytes: dict
    failed: list = field(default_factory=list)
    error: str = ""


@dataclass(slots=True)
class AcquireReplicas(WorkerEvent):
    """The scheduler asks for copies of results held by peers (rebalance,
    replicate, retirement): ``who_has`` maps each key to the peers holding
    it, ``nbytes`` to its size. Copies are kept until the scheduler frees them."""

    who_has: dict
    nbytes: dict = field(default_factory=dict)


# ------------------------------------------------------------ instructions


@dataclass(slots=True)
class WorkerInstruction:
    stimulus_id: str = field(default="", kw_only=True)


@dataclass(slots=True)
class Execute(WorkerInstruction):
    """Run ``key`` on a pool thread (its inputs are here, in memory or on disk)."""

    key: Any


@dataclass(slots=True)
class Fetch(WorkerInstruction):
    """Get ``keys`` from ``peer`` with one request."""

    peer: str
    keys: list


@dataclass(slots=True)
class Spill(WorkerInstruction):
    """Move these keys' values from memory to disk (least recently used first)."""

    keys: list


@dataclass(slots=True)
class DeleteData(WorkerInstruction):
    """Forget these keys' values, in memory or on disk."""

    keys: list


@dataclass(slots=True)
class ReportFinished(WorkerInstruction):
    key: Any
    nbytes: int
    duration: float


@dataclass(slots=True)
class ReportErred(WorkerInstruction):
    key: Any
    exception: Any
    traceback: str


@dataclass(slots=True)
class ReportRescheduled(WorkerInstruction):
    """``key`` asked to run again later (``ExecuteFailure.reschedule``)."""

    key: Any


@dataclass(slots=True)
class ReportMissing(WorkerInstruction):
    """No peer had ``dependency`` of ``key`` (the last one tried: ``errant``)."""

    key: Any
    dependency: Any
    errant: str


@dataclass(slots=True)
class ReportStatus(WorkerInstruction):
    """The worker paused or resumed; ``metrics`` are its memory figures then."""

    status: str
    reason: str
    metrics: dict


@dataclass(slots=True)
class ReportReplica(WorkerInstruction):
    """A copy asked for by ``AcquireReplicas`` is here (``nbytes`` of it)."""

    key: Any
    nbytes: int


@dataclass(slots=True)
class Terminate(WorkerInstruction):
    """A worker without a nanny passed its ``terminate`` threshold: close it."""

    reason: str
