"""The scheduler as a pure state machine: events in, instructions out.

No sockets, no timers, no clock of its own (events carry the time). The
adapter in ``scheduler.py`` turns messages into events and instructions
into messages. Tests drive this class directly, thousands of events per second.

Task states and the transitions between them (``TRANSITIONS``)::

    released -> waiting -> queued -> processing -> memory -> released -> forgotten
                   |          \\________/  |  \\
                   |       (no worker has  |   -> erred -> released
                   |        room for it)   v
                   +-------------------> erred

- released: known, not computed, not needed right now (or lost).
- waiting: needed; some dependencies not in memory yet (counted in ``n_waiting``).
- queued: ready, but held back: a root task (no dependencies) while every
  worker holds its share of root tasks (queuing keeps data loading from
  outrunning its processing), or any ready task while no worker is up.
- processing: sent to one worker.
- memory: held by one or more workers.
- erred: raised (or a dependency did, or it was on too many dying workers).
- forgotten: no client wants it and no task needs it: dropped.

A transition not in the table goes through ``released``. Every transition
is logged in ``story`` with the stimulus that caused it.

Placement: a ready task goes to the worker minimising
``bytes of inputs it lacks / bandwidth + occupancy / nthreads``, where
occupancy is the summed expected duration (measured per key prefix) of the
tasks it is processing. Root tasks go to the least loaded worker that has
room: ``nthreads * worker-saturation`` tasks, more for task groups measured
to run faster than ``fast-task-window`` (so tiny tasks are not starved by
round trips), at most ``max-queued-per-thread`` per thread.

>>> from shoal.core.task import Task
>>> s = SchedulerState()
>>> _ = s.handle(AddWorker("w1", nthreads=1, stimulus_id="w"))
>>> _ = s.handle(AddClient("c", stimulus_id="c"))
>>> out = s.handle(UpdateGraph("c", ["x"], [()], [Task(abs, -1)], [0], ["x"], stimulus_id="g"))
>>> [type(i).__name__ for i in out], s.tasks["x"].state
(['ComputeTask'], 'processing')
>>> [type(i).__name__ for i in s.handle(TaskFinished("w1", "x", 28, 0.1, stimulus_id="f"))]
['KeyInMemory']
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar, cast, overload

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config
from shoal.core.utils import format_bytes, key_prefix
from shoal.distributed.dashboard_groups import TaskGroups
from shoal.distributed.moves import (
    Move,
    NoRecipient,
    plan_rebalance,
    plan_replicate,
    plan_retirement,
)
from shoal.distributed.placement import Constraints, Placement, constraints_of, user_priority
from shoal.distributed.scheduler_events import (
    AcquireReplicas,
    AddClient,
    AddWorker,
    CancelKeys,
    CloseWorker,
    ComputeTask,
    Event,
    FreeKeys,
    Heartbeat,
    Instruction,
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
    ResetTasks,
    RestrictTasks,
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

__all__ = [
    "SchedulerState",
    "TaskState",
    "WorkerState",
    "KilledWorker",
    "InvalidTransition",
    "LostData",
    "TRANSITIONS",
]


FIRE_AND_FORGET = "fire-and-forget"


class KilledWorker(RuntimeError):
    """A task was on too many workers that died while running it."""


class LostData(RuntimeError):
    """Data placed on workers with scatter is gone with the last worker holding it."""


class InvalidTransition(RuntimeError):
    """A transition the state machine has no rule for (a bug)."""


_EMPTY: frozenset[str] = frozenset()  # who_wants of a task nobody wants
_NONE: tuple[Any, ...] = ()  # the empty dependents / waiters / who_has
T = TypeVar("T")
_SMALL = 8  # up to this many members are a tuple (48-104 B), more a set (216 B and up)


def _added(members: Any, item: Any) -> Any:
    """``members`` with ``item`` added: a lone ``TaskState`` stands for itself
    (see ``TaskState.__iter__``), a few members are a tuple, more a set.

    Most tasks have one dependent and one waiter: that costs nothing, where a
    1-tuple costs 48 bytes and a set 216.
    """
    typ = type(members)
    if typ is set:
        members.add(item)
        return members
    if typ is TaskState:
        return members if members is item else (members, item)
    if not members and type(item) is TaskState:
        return item
    if item in members:
        return members
    if len(members) < _SMALL:
        return (*members, item)
    grown = set(members)
    grown.add(item)
    return grown


def _removed(members: Any, item: Any) -> Any:
    """``members`` without ``item`` (see ``_added``)."""
    typ = type(members)
    if typ is set:
        members.discard(item)
        return members
    if typ is TaskState:
        return _NONE if members is item else members
    if item not in members:
        return members
    return tuple([m for m in members if m is not item])


def _wanted_by(
    members: frozenset[str] | set[str], client: str, shared: dict[str, frozenset[str]]
) -> frozenset[str] | set[str]:
    """``who_wants`` plus ``client``: a task wanted by one client shares one
    frozenset per client instead of owning a set."""
    if members is _EMPTY:
        single = shared.get(client)
        if single is None:
            single = shared[client] = frozenset((client,))
        return single
    if client in members:
        return members
    return set(members) | {client} if type(members) is frozenset else members | {client}


def _unwanted_by(members: frozenset[str] | set[str], client: str) -> frozenset[str] | set[str]:
    """``who_wants`` without ``client``."""
    if client not in members:
        return members
    rest = members - {client}
    return rest if rest else _EMPTY


class _RareField(Generic[T]):
    """A field of ``TaskState`` kept in its ``_Rare`` part (made on the first
    write of a value other than the default)."""

    def __init__(self, default: T) -> None:
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, ts: None, owner: type) -> _RareField[T]: ...

    @overload
    def __get__(self, ts: TaskState, owner: type) -> T: ...

    def __get__(self, ts: TaskState | None, owner: type) -> T | _RareField[T]:
        if ts is None:
            return self
        rare = ts._rare
        return self.default if rare is None else cast(T, getattr(rare, self.name))

    def __set__(self, ts: TaskState, value: T) -> None:
        if ts._rare is None and value == self.default:
            return
        setattr(ts._rare_fields(), self.name, value)


class TaskState:
    """Everything the scheduler knows about one key; no references back to
    the scheduler, so records hold no cycles through it."""

    __slots__ = (
        "key",
        "prefix",
        "run_spec",
        "priority",
        "state",
        "dependencies",
        "dependents",
        "n_waiting",
        "waiters",
        "who_has",
        "processing_on",
        "who_wants",
        "nbytes",
        "table",
        "_rare",
    )

    # what only failing or retried tasks need (see ``_Rare``)
    retries: _RareField[int] = _RareField(0)
    suspicious: _RareField[int] = _RareField(0)
    deaths: _RareField[list[str] | None] = _RareField(None)
    exception: _RareField[Any] = _RareField(None)
    traceback: _RareField[str] = _RareField("")
    blame: _RareField[TaskState | None] = _RareField(None)
    # placement limits from annotations (workers, resources, pools: placement.py)
    constraints: _RareField[Constraints | None] = _RareField(None)

    def __init__(self, key: Any, run_spec: Any, priority: int, prefix: str, table: Any = None):
        self.key = key
        self.prefix = prefix
        self.run_spec = run_spec  # opaque to the scheduler (bytes on a real cluster)
        self.table = table  # the function table ``run_spec`` refers to, or None
        self.priority = priority
        self.state = "released"
        self.dependencies: Any = ()  # a tuple of TaskState, or one TaskState (see below)
        # dependents, waiters and holders are tuples while small, sets when big
        # (see ``_added``); who_wants shares one frozenset per client
        self.dependents: Any = _NONE
        self.n_waiting = 0  # dependencies not in memory (a count, not a set)
        self.waiters: Any = _NONE
        self.who_has: Any = _NONE
        self.processing_on: WorkerState | None = None
        self.who_wants: frozenset[str] | set[str] = _EMPTY
        self.nbytes = 0
        self._rare: _Rare | None = None  # what only failing or retried tasks need

    def _rare_fields(self) -> _Rare:
        rare = self._rare
        if rare is None:
            rare = self._rare = _Rare()
        return rare

    # A task with a single dependency, dependent or waiter stores that task
    # itself in ``dependencies`` / ``dependents`` / ``waiters`` (no
    # container): so a TaskState also acts as the collection of just itself.
    def __iter__(self) -> Iterator[TaskState]:
        yield self

    def __len__(self) -> int:
        return 1

    def __contains__(self, item: object) -> bool:
        return item is self

    def __lt__(self, other: TaskState) -> bool:  # ties in the queue's heap
        return id(self) < id(other)

    def __repr__(self) -> str:
        return f"<TaskState {self.key!r} {self.state}>"


class _Rare:
    """Fields of a ``TaskState`` that most tasks never set."""

    __slots__ = (
        "retries",
        "suspicious",
        "deaths",
        "exception",
        "traceback",
        "blame",
        "constraints",
    )

    def __init__(self) -> None:
        self.constraints: Constraints | None = None
        self.retries = 0
        self.suspicious = 0
        self.deaths: list[str] | None = None
        self.exception: Any = None
        self.traceback = ""
        self.blame: TaskState | None = None


class _Request:
    """A rebalance, replicate or retire_workers request under way."""

    __slots__ = ("id", "kind", "waiting", "moved", "moved_bytes", "failed", "dropped", "retiring")

    def __init__(self, request: str, kind: str) -> None:
        self.id = request
        self.kind = kind
        self.waiting = 0  # copies asked for and not arrived (nor failed) yet
        self.moved = 0  # copies made
        self.moved_bytes = 0
        self.failed = 0  # copies that could not be made (the worker or the data left)
        self.dropped = 0  # surplus copies dropped (replicate)
        self.retiring: list[str] = []  # the workers it retires


class _Copy:
    """A copy asked of a worker: for ``request``; then drop ``sender``'s (if any)."""

    __slots__ = ("request", "sender")

    def __init__(self, request: _Request, sender: str) -> None:
        self.request = request
        self.sender = sender


class WorkerState:
    """One worker: its threads, what it runs and what it holds."""

    __slots__ = (
        "address",
        "nthreads",
        "name",
        "memory_limit",
        "nanny",
        "processing",
        "occupancy",
        "has_what",
        "nbytes",
        "last_seen",
        "metrics",
        "status",
        "memory",
        "executing",
        "retiring",
        "resources",
        "used",
    )

    def __init__(
        self,
        address: str,
        nthreads: int,
        name: str,
        memory_limit: int,
        nanny: str,
        now: float,
        resources: dict[str, float] | None = None,
    ):
        self.address = address
        self.nthreads = nthreads
        self.name = name or address
        self.memory_limit = memory_limit
        self.nanny = nanny
        self.processing: dict[TaskState, float] = {}
        self.occupancy = 0.0
        self.has_what: set[TaskState] = set()
        self.nbytes = 0
        self.last_seen = now
        self.metrics: dict[str, Any] = {}
        self.status = "running"  # or "paused" (memory is high): it gets no new task
        self.memory: dict[
            str, int
        ] = {}  # managed / unmanaged / spilled / rss bytes, as last reported
        self.executing: tuple[Any, ...] = ()  # keys it last said were running on its threads
        self.retiring = False  # leaving gracefully: no new tasks, its results move off
        self.resources: dict[str, float] = dict(resources or {})  # what it offers, e.g. GPU: 2
        self.used: dict[str, float] = {}  # held by the tasks processing here (placement.py)

    @property
    def memory_fraction(self) -> float:
        """Last reported RSS over the memory limit (0 without a limit)."""
        limit = self.memory_limit
        return self.memory.get("rss", 0) / limit if limit else 0.0

    def __repr__(self) -> str:
        status = "retiring" if self.retiring else self.status
        return f"<WorkerState {self.address} processing={len(self.processing)} {status}>"


class SchedulerState:
    """Pure scheduler logic (see the module docstring)."""

    def __init__(self, validate: bool = False, story_length: int = 100_000):
        self.tasks: dict[Any, TaskState] = {}
        self.workers: dict[str, WorkerState] = {}
        # client -> the tasks it wants (a set; a list for the holds of graphs arriving)
        self.clients: dict[str, Any] = {}
        self.queued: list[tuple[int, TaskState]] = []
        self.durations: dict[str, float] = {}
        self.generation = 0
        self.validate = validate
        # the story's entries flat, four items each: the tuple of one entry is
        # freed at once, so logging leaves no objects behind for the cyclic
        # garbage collector (kept tuples made its collections a large part of
        # the cost of a short task)
        self._story: deque[Any] = deque(maxlen=4 * story_length)
        self.transition_count = 0
        # tasks counted by key prefix and state, updated on every state change
        # (dashboard_groups.py): the dashboard never walks the task records
        self.groups = TaskGroups()
        self._out: list[Instruction] = []
        self._prefixes: dict[str, str] = {}
        self._root_slots: dict[str, float] = {}
        self._single_client: dict[str, frozenset[str]] = {}
        self.watched: dict[Any, str] = {}  # key -> client following its progress
        self.holds: set[str] = set()  # pseudo-clients holding graphs still arriving
        self.saturation = float(config.get("distributed.scheduler.worker-saturation"))
        self.fast_window = float(config.get("distributed.scheduler.fast-task-window"))
        self.max_per_thread = int(config.get("distributed.scheduler.max-queued-per-thread"))
        self.unknown_duration = float(config.get("distributed.scheduler.unknown-task-duration"))
        self.allowed_failures = int(config.get("distributed.scheduler.allowed-failures"))
        self.worker_ttl = float(config.get("distributed.scheduler.worker-ttl"))
        self.bandwidth = float(config.get("distributed.scheduler.bandwidth"))
        self._handlers: dict[type, Callable[[Any], None]] = {
            AddWorker: self._add_worker,
            RemoveWorker: self._remove_worker,
            Heartbeat: self._heartbeat,
            WorkerStatus: self._worker_status,
            AddClient: self._add_client,
            RemoveClient: self._remove_client,
            UpdateGraph: self._update_graph,
            UpdateData: self._update_data,
            TaskFinished: self._task_finished,
            TaskErred: self._task_erred,
            MissingData: self._missing_data,
            ReleaseKeys: self._release_keys,
            CancelKeys: self._cancel_keys,
            Tick: self._tick,
            Rebalance: self._rebalance,
            Replicate: self._replicate,
            RetireWorkers: self._retire_workers,
            ReplicaAdded: self._replica_added,
            TaskRescheduled: self._task_rescheduled,
            RestrictTasks: self._restrict_tasks,
            ResetTasks: self._reset_tasks,
        }
        # key -> the worker it must run on (outputs of peer-to-peer exchanges)
        self.restrictions: dict[Any, str] = {}
        # annotated tasks: worker restrictions, resources, concurrency pools
        self.placement = Placement()
        self._holding = self.placement.holding  # tasks holding slots or resources
        # data moves under way (rebalance, replicate, retire_workers): the
        # request awaiting each copy, by (key, recipient), and what each asked
        self.requests: dict[str, _Request] = {}
        self.copying: dict[tuple[Any, str], _Copy] = {}
        memory_target = config.get("distributed.worker.memory.target")
        self.memory_target = float(memory_target) if memory_target else None

    # ------------------------------------------------------------ driver

    def handle(self, event: Event) -> list[Instruction]:
        """Apply one event; return the instructions it produced."""
        out: list[Instruction] = []
        self._out = out
        self._handlers[type(event)](event)
        if self.requests:  # retirements go on as the retiring workers finish tasks
            for req in list(self.requests.values()):
                if req.kind == "retire":
                    self._advance_retirement(req, event.stimulus_id)
        if self.queued and self.workers:
            self._fill_workers(event.stimulus_id)
        if self.placement.wake:
            self._wake_parked(event.stimulus_id)
        if self.validate:
            self.validate_state()
        self._out = []
        return out

    def _transitions(self, recs: dict[Any, str], stim: str) -> None:
        tasks = self.tasks
        while recs:
            key, finish = recs.popitem()
            ts = tasks.get(key)
            if ts is not None:
                self._transition(ts, finish, stim, recs)

    def _transition(self, ts: TaskState, finish: str, stim: str, recs: dict[Any, str]) -> None:
        start = ts.state
        if start == finish:
            return
        if (finish == "released" or finish == "forgotten") and (ts.who_wants or ts.waiters):
            return  # a recommendation to let go of a task that became needed again
        func = TRANSITIONS.get((start, finish))
        if func is not None:
            func(self, ts, stim, recs)
        elif (start, "released") in TRANSITIONS and ("released", finish) in TRANSITIONS:
            TRANSITIONS[(start, "released")](self, ts, stim, recs)
            if ts.state == "released":
                TRANSITIONS[("released", finish)](self, ts, stim, recs)
        else:
            raise InvalidTransition(f"no transition of {ts.key!r} from {start!r} to {finish!r}")
        self.transition_count += 1
        if ts.state != start:
            self.groups.moved(ts.prefix, start, ts.state)
        self._story.extend((ts.key, start, ts.state, stim))

    @property
    def story(self) -> list[tuple[Any, ...]]:
        """The logged transitions, oldest first: ``(key, start, finish, stimulus_id)``
        (workers pausing and resuming too: ``(address, "worker", status, stimulus_id)``)."""
        flat = list(self._story)
        return list(zip(flat[0::4], flat[1::4], flat[2::4], flat[3::4]))

    def story_of(self, key: Any) -> list[tuple[Any, ...]]:
        """The logged transitions of ``key``: ``(key, start, finish, stimulus_id)``."""
        return [entry for entry in self.story if entry[0] == key]

    # ------------------------------------------------------------ events

    def _add_worker(self, ev: AddWorker) -> None:
        if ev.address in self.workers:
            return
        self.workers[ev.address] = WorkerState(
            ev.address,
            max(1, int(ev.nthreads)),
            ev.name,
            ev.memory_limit,
            ev.nanny,
            ev.now,
            ev.resources,
        )
        self.placement.workers_changed()

    def _remove_worker(self, ev: RemoveWorker) -> None:
        ws = self.workers.pop(ev.address, None)
        if ws is None:
            return
        stim = ev.stimulus_id
        recs: dict[Any, str] = {}
        death = _death_note(ws, ev.reason)
        self.placement.workers_changed()
        for ts in list(ws.processing):
            ws.processing.pop(ts)
            if self._holding:
                self.placement.release(ts, ts.constraints)
            ts.processing_on = None
            ts.state = "released"
            self.groups.moved(ts.prefix, "processing", "released")
            self._story.extend((ts.key, "processing", "released", stim))
            if self._suspect(ts, death):
                ts.exception = KilledWorker(
                    f"task {ts.key!r} was on {ts.suspicious} workers that died while running "
                    f"it: {'; '.join(ts.deaths or ())}. It may crash its worker (segfault, memory "
                    "limit); see distributed.scheduler.allowed-failures"
                )
                ts.traceback = ""
                ts.blame = ts
                recs[ts.key] = "erred"
            else:
                recs[ts.key] = "waiting"
        for ts in ws.has_what:
            ts.who_has = _removed(ts.who_has, ws)
            if not ts.who_has:
                self._lost(ts, stim, recs)
                if not ev.expected and ts.run_spec is not None and ts.state == "released":
                    # results lost with workers that keep dying count too, or a
                    # computation that cannot fit would be recomputed forever
                    if self._suspect(ts, f"{death}, holding its result"):
                        ts.exception = KilledWorker(
                            f"the result of task {ts.key!r} was lost with {ts.suspicious} "
                            f"workers that died: {'; '.join(ts.deaths or ())}. It is not computed "
                            "again (distributed.scheduler.allowed-failures); give the workers "
                            "more memory (memory_limit) or make the results smaller"
                        )
                        ts.traceback = ""
                        ts.blame = ts
                        recs[ts.key] = "erred"
        ws.has_what = set()
        self._transitions(recs, stim)
        if self.copying:
            for key, worker in [kw for kw in self.copying if kw[1] == ws.address]:
                self._copy_failed(key, worker, stim)
        for req in self._retirements_of(ws):
            req.retiring.remove(ws.address)

    def _suspect(self, ts: TaskState, death: str) -> bool:
        """Count a worker death against ``ts``; True once it is one too many."""
        ts.suspicious += 1
        if ts.deaths is None:
            ts.deaths = []
        ts.deaths.append(death)
        return ts.suspicious > self.allowed_failures

    def _lost(self, ts: TaskState, stim: str, recs: dict[Any, str]) -> None:
        """``ts`` was in memory and its last copy is gone."""
        self.groups.moved(ts.prefix, ts.state, "released")
        ts.state = "released"
        ts.nbytes = 0
        self._story.extend((ts.key, "memory", "released", stim))
        for dts in ts.dependents:
            if dts.state == "waiting":
                dts.n_waiting += 1
            elif dts.state == "queued" or dts.state == "processing":
                recs[dts.key] = "waiting"
        if ts.run_spec is None:
            ts.exception = LostData(
                f"the data of {ts.key!r} was scattered to workers that are all gone"
            )
            ts.blame = ts
            recs[ts.key] = "erred"
        elif ts.waiters or ts.who_wants:
            recs[ts.key] = "waiting"
        else:
            self._maybe_forget(ts, recs)

    def _heartbeat(self, ev: Heartbeat) -> None:
        ws = self.workers.get(ev.address)
        if ws is not None:
            ws.last_seen = ev.now
            ws.metrics = ev.metrics
            self._note_memory(ws, ev.metrics)
            status = ev.metrics.get("status")
            if status in ("running", "paused"):
                if status != ws.status:
                    self.placement.workers_changed()
                ws.status = status

    def _worker_status(self, ev: WorkerStatus) -> None:
        ws = self.workers.get(ev.address)
        if ws is None or ev.status not in ("running", "paused"):
            return
        if ev.status != ws.status:
            self.placement.workers_changed()
        ws.status = ev.status
        self._note_memory(ws, ev.metrics)
        self._story.extend((ws.address, "worker", ev.status, ev.stimulus_id))

    def _note_memory(self, ws: WorkerState, metrics: dict[str, Any]) -> None:
        ws.memory = {k: metrics[k] for k in _MEMORY_FIGURES if k in metrics}
        executing = metrics.get("executing_keys")
        if executing is not None:
            ws.executing = tuple(executing)

    def _tick(self, ev: Tick) -> None:
        for ws in list(self.workers.values()):
            if ev.now - ws.last_seen > self.worker_ttl:
                reason = f"no heartbeat for {ev.now - ws.last_seen:.1f}s"
                self._out.append(CloseWorker(ws.address, reason, stimulus_id=ev.stimulus_id))
                self._remove_worker(RemoveWorker(ws.address, reason, stimulus_id=ev.stimulus_id))
        self._steal(ev.stimulus_id)

    def _add_client(self, ev: AddClient) -> None:
        self.clients.setdefault(ev.client, set())

    def _remove_client(self, ev: RemoveClient) -> None:
        wants = self.clients.pop(ev.client, None)
        self._single_client.pop(ev.client, None)
        self.holds.discard(ev.client)
        if wants:
            self._drop_wants(ev.client, wants, ev.stimulus_id)

    def _prefix(self, key: Any) -> str:
        """``key_prefix(key)``, interned; the common ``name-<hex token>`` form
        is recognised without a regular expression."""
        name = key[0] if type(key) is tuple and key else key
        if type(name) is str:
            head, sep, tail = name.rpartition("-")
            if sep and len(tail) >= 8 and _HEX_DIGITS.issuperset(tail):
                p = self._prefixes.get(head)
                if p is None:
                    p = self._prefixes[head] = key_prefix(name)
                return p
        p = key_prefix(key)
        return self._prefixes.setdefault(p, p)

    def _update_graph(self, ev: UpdateGraph) -> None:
        stim = ev.stimulus_id
        tasks = self.tasks
        wants = self.clients.setdefault(ev.client, set())
        if not ev.continues:
            self.generation += 1
        base = self.generation << 32
        table = ev.table
        prefix = self._prefix
        groups = self.groups
        new: list[TaskState] = []
        for key, spec, order in zip(ev.keys, ev.specs, ev.order):
            ts = tasks.get(key)
            if ts is None:
                ts = tasks[key] = TaskState(key, spec, base + order, prefix(key), table)
                groups.added(ts.prefix)
                new.append(ts)
            elif ts.run_spec is None and ts.state == "released":
                ts.run_spec = spec
                ts.table = table
                new.append(ts)
            else:
                continue
            if table is not None:
                table.ntasks += 1
        if ev.hold and not ev.final:
            self._hold(ev.hold, new)
        recs: dict[Any, str] = {}
        index = {ts.key: ts for ts in new}
        if new:
            for key, deps in zip(ev.keys, ev.deps):
                ts = index.get(key)
                if ts is None or ts.dependencies:
                    continue
                found = []
                for dk in deps:
                    dts = tasks.get(dk)
                    if dts is None:
                        ts.exception = KeyError(
                            f"task {key!r} depends on {dk!r}, which the scheduler does not "
                            "have (was the future it came from released?)"
                        )
                        ts.blame = ts
                        recs[key] = "erred"
                        continue
                    found.append(dts)
                    dts.dependents = _added(dts.dependents, ts)
                    if dts.prefix is not ts.prefix:
                        groups.depends(ts.prefix, dts.prefix)
                # a single dependency is stored bare (a TaskState iterates as itself)
                ts.dependencies = found[0] if len(found) == 1 else tuple(found)
            if ev.watch:
                for ts in new:
                    self.watched[ts.key] = ev.client
            for key, n in ev.retries.items():
                ts = index.get(key)
                if ts is not None:
                    ts.retries = int(n)
            if ev.annotations:
                self._annotate(index, ev.annotations)
        for key in ev.wanted:
            ts = tasks.get(key)
            if ts is None:
                continue
            if ev.client == FIRE_AND_FORGET and ts.state in ("memory", "erred"):
                continue  # already done: there is nothing left to see through
            ts.who_wants = _wanted_by(ts.who_wants, ev.client, self._single_client)
            wants.add(ts)
            if ts.state == "memory":
                self._out.append(KeyInMemory(ev.client, ts.key, ts.nbytes, stimulus_id=stim))
            elif ts.state == "erred":
                self._tell_erred(ts, ev.client, stim)
            elif ts.state == "released" and ts.run_spec is not None and key not in index:
                recs[ts.key] = "waiting"  # known, let go of before, wanted again
        self._transitions(recs, stim)
        new.sort(key=_priority)
        queued = self.queued
        story = self._story
        for ts in new:
            if ts.state == "released" and (ts.who_wants or ts.dependents):
                if (
                    not ts.dependencies
                    and ts.run_spec is not None
                    and queued
                    and queued[0][0] < ts.priority
                    and self._queued_head_live()
                ):
                    # fast path for a big batch of root tasks behind a live queue:
                    # released -> waiting -> queued without the generic machinery
                    self._queue(ts)
                    groups.moved(ts.prefix, "released", "queued")
                    story.extend((ts.key, "released", "queued", stim))
                    self.transition_count += 2
                    continue
                self._transition(ts, "waiting", stim, recs)
                if recs:
                    self._transitions(recs, stim)
        for ts in new:
            if ts.state == "released":
                self._maybe_forget(ts, recs)
        self._transitions(recs, stim)
        if ev.hold and ev.final:
            self._remove_client(RemoveClient(ev.hold, stimulus_id=stim))

    def _annotate(self, index: dict[Any, TaskState], annotations: dict[Any, Any]) -> None:
        """Apply the annotations of new tasks: a user ``priority`` goes before
        the static order, ``retries`` add to the call's, and placement limits
        are kept for ``_place_constrained``."""
        for key, ann in annotations.items():
            ts = index.get(key)
            if ts is None or not ann:
                continue
            p = ann.get("priority")
            if p:
                ts.priority -= user_priority(p)
            r = ann.get("retries")
            if r and r > ts.retries:
                ts.retries = int(r)
            c = constraints_of(ann)
            if c is not None:
                ts.constraints = c

    def _hold(self, hold: str, tasks: list[TaskState]) -> None:
        """Keep ``tasks`` (and their results) until the rest of their graph
        arrives: they are wanted by the pseudo-client ``hold`` meanwhile.
        Its tasks are a list (8 bytes each), not a set."""
        held = self.clients.get(hold)
        if held is None:
            held = self.clients[hold] = []
            self.holds.add(hold)
        shared = self._single_client
        for ts in tasks:
            ts.who_wants = _wanted_by(ts.who_wants, hold, shared)
        held.extend(tasks)

    def _update_data(self, ev: UpdateData) -> None:
        stim = ev.stimulus_id
        wants = self.clients.setdefault(ev.client, set())
        recs: dict[Any, str] = {}
        for key, (addresses, nbytes) in ev.data.items():
            holders = [self.workers[a] for a in addresses if a in self.workers]
            ts = self.tasks.get(key)
            if ts is None:
                ts = self.tasks[key] = TaskState(key, None, 0, self._prefix(key))
                self.groups.added(ts.prefix)
            if not holders:
                continue
            if ts.state not in ("released", "memory"):
                continue
            start = ts.state
            ts.state = "memory"
            if start != "memory":
                self.groups.moved(ts.prefix, start, "memory")
            ts.nbytes = int(nbytes)
            for ws in holders:
                if ws not in ts.who_has:
                    ts.who_has = _added(ts.who_has, ws)
                    ws.has_what.add(ts)
                    ws.nbytes += ts.nbytes
            self._story.extend((key, start, "memory", stim))
            ts.who_wants = _wanted_by(ts.who_wants, ev.client, self._single_client)
            wants.add(ts)
            self._out.append(KeyInMemory(ev.client, key, ts.nbytes, stimulus_id=stim))
            for dts in ts.dependents:
                if dts.state == "waiting" and start != "memory":
                    dts.n_waiting -= 1
                    if not dts.n_waiting:
                        recs[dts.key] = "processing"
        self._transitions(recs, stim)

    def _task_finished(self, ev: TaskFinished) -> None:
        ts = self.tasks.get(ev.key)
        ws = self.workers.get(ev.worker)
        if ws is None:
            return
        if ts is None or ts.state != "processing" or ts.processing_on is not ws:
            if ts is not None and ts.state == "memory":
                if ws not in ts.who_has:
                    ts.who_has = _added(ts.who_has, ws)
                    ws.has_what.add(ts)
                    ws.nbytes += ts.nbytes
                return
            self._out.append(FreeKeys(ev.worker, [ev.key], stimulus_id=ev.stimulus_id))
            return
        ts.nbytes = int(ev.nbytes)
        old = self.durations.get(ts.prefix)
        d = float(ev.duration)
        self.durations[ts.prefix] = d if old is None else 0.5 * (old + d)
        self._root_slots.pop(ts.prefix, None)
        self.groups.finished(ts.prefix, d, ts.nbytes)
        recs: dict[Any, str] = {}
        self._transition_to_memory(ts, ws, ev.stimulus_id, recs)
        self._transitions(recs, ev.stimulus_id)

    def _task_erred(self, ev: TaskErred) -> None:
        ts = self.tasks.get(ev.key)
        ws = self.workers.get(ev.worker)
        if ts is None or ts.state != "processing" or ts.processing_on is not ws:
            return
        recs: dict[Any, str] = {}
        if ts.retries > 0:
            ts.retries -= 1
            self._transition(ts, "waiting", ev.stimulus_id, recs)
        else:
            ts.exception = ev.exception
            ts.traceback = ev.traceback
            ts.blame = ts
            self._transition(ts, "erred", ev.stimulus_id, recs)
        self._transitions(recs, ev.stimulus_id)

    def _task_rescheduled(self, ev: TaskRescheduled) -> None:
        ts = self.tasks.get(ev.key)
        ws = self.workers.get(ev.worker)
        if ts is None or ts.state != "processing" or ts.processing_on is not ws:
            return
        recs: dict[Any, str] = {}
        self._transition(ts, "waiting", ev.stimulus_id, recs)
        self._transitions(recs, ev.stimulus_id)

    def _restrict_tasks(self, ev: RestrictTasks) -> None:
        restrictions = self.restrictions
        for key, address in ev.workers.items():
            if address:
                restrictions[key] = address
            else:
                restrictions.pop(key, None)

    def _reset_tasks(self, ev: ResetTasks) -> None:
        stim = ev.stimulus_id
        recs: dict[Any, str] = {}
        for key in ev.keys:
            ts = self.tasks.get(key)
            if ts is None:
                continue
            if ts.state == "processing":
                ws = ts.processing_on
                assert ws is not None, ts
                ws.occupancy -= ws.processing.pop(ts, 0.0)
                if self._holding:
                    self.placement.release(ts, ts.constraints)
                self._out.append(FreeKeys(ws.address, [key], stimulus_id=stim))  # cancels it
                ts.processing_on = None
                ts.state = "released"
                self.groups.moved(ts.prefix, "processing", "released")
                self._story.extend((key, "processing", "released", stim))
                recs[key] = "waiting"  # a task processing is needed
            elif ts.state == "memory":
                for ws in ts.who_has:
                    ws.has_what.discard(ts)
                    ws.nbytes -= ts.nbytes
                    self._out.append(FreeKeys(ws.address, [key], stimulus_id=stim))
                ts.who_has = _NONE
                self._lost(ts, stim, recs)
        self._transitions(recs, stim)

    def _missing_data(self, ev: MissingData) -> None:
        stim = ev.stimulus_id
        recs: dict[Any, str] = {}
        dts = self.tasks.get(ev.dependency)
        errant = self.workers.get(ev.errant)
        if dts is not None and errant is not None and errant in dts.who_has:
            dts.who_has = _removed(dts.who_has, errant)
            errant.has_what.discard(dts)
            errant.nbytes -= dts.nbytes
            if not dts.who_has and dts.state == "memory":
                self._lost(dts, stim, recs)
        ts = self.tasks.get(ev.key)
        if ts is not None and ts.state == "processing" and ts.processing_on is not None:
            if ts.processing_on.address == ev.worker:
                recs[ts.key] = "waiting"
        self._transitions(recs, stim)
        if ev.key == ev.dependency and (ev.key, ev.worker) in self.copying:
            self._copy_failed(ev.key, ev.worker, stim)  # a copy it was asked to make

    def _release_keys(self, ev: ReleaseKeys) -> None:
        wants = self.clients.get(ev.client)
        if wants is None:
            return
        dropped = []
        for key in ev.keys:
            ts = self.tasks.get(key)
            if ts is not None and ts in wants:
                wants.discard(ts)
                dropped.append(ts)
        self._drop_wants(ev.client, dropped, ev.stimulus_id)

    def _cancel_keys(self, ev: CancelKeys) -> None:
        for key in ev.keys:
            self._out.append(KeyCancelled(ev.client, key, "cancelled", stimulus_id=ev.stimulus_id))
        self._release_keys(ReleaseKeys(ev.client, ev.keys, stimulus_id=ev.stimulus_id))

    def _drop_wants(self, client: str, dropped: Iterable[TaskState], stim: str) -> None:
        recs: dict[Any, str] = {}
        for ts in dropped:
            ts.who_wants = _unwanted_by(ts.who_wants, client)
            if not ts.who_wants and not ts.waiters:
                recs[ts.key] = "forgotten" if not ts.dependents else "released"
        self._transitions(recs, stim)

    # ------------------------------------------------------- data moves

    def running_workers(self) -> list[WorkerState]:
        """Workers that take new tasks and new data (not paused, not retiring)."""
        return [ws for ws in self.workers.values() if ws.status == "running" and not ws.retiring]

    def _rebalance(self, ev: Rebalance) -> None:
        req = self._open_request(ev.request, "rebalance")
        running = self.running_workers()
        if ev.workers is not None:
            chosen = set(ev.workers)
            running = [ws for ws in running if ws.address in chosen]
        tasks = None
        if ev.keys is not None:
            found = (self.tasks.get(k) for k in ev.keys)
            tasks = [ts for ts in found if ts is not None and ts.state == "memory"]
        self._start_moves(req, plan_rebalance(running, tasks, self.memory_target), ev.stimulus_id)
        self._maybe_done(req, ev.stimulus_id)

    def _replicate(self, ev: Replicate) -> None:
        req = self._open_request(ev.request, "replicate")
        found = (self.tasks.get(k) for k in ev.keys)
        tasks = [ts for ts in found if ts is not None and ts.state == "memory"]
        add, drop = plan_replicate(tasks, ev.n, self.running_workers(), self.memory_target)
        for ts, ws in drop:
            self._drop_copy(ts, ws, ev.stimulus_id)
        req.dropped = len(drop)
        self._start_moves(req, add, ev.stimulus_id)
        self._maybe_done(req, ev.stimulus_id)

    def _retire_workers(self, ev: RetireWorkers) -> None:
        req = self._open_request(ev.request, "retire")
        for address in ev.workers:
            ws = self.workers.get(address)
            if ws is not None and not ws.retiring:
                ws.retiring = True
                req.retiring.append(address)
                self._story.extend((address, "worker", "retiring", ev.stimulus_id))
        self._advance_retirement(req, ev.stimulus_id)

    def _advance_retirement(self, req: _Request, stim: str) -> None:
        """Copy off what only the retiring workers hold (once the copies of the
        last round have arrived); done when they hold nothing unique and run
        nothing (they finish what they were given)."""
        if req.waiting or req.id not in self.requests:
            return
        leaving = [self.workers[a] for a in req.retiring if a in self.workers]
        try:
            moves = plan_retirement(leaving, self.running_workers(), self.memory_target)
        except NoRecipient as e:
            for ws in leaving:
                ws.retiring = False
                self._story.extend((ws.address, "worker", ws.status, stim))
            req.retiring = []
            self._finish(req, stim, f"cannot retire workers: {e}")
            return
        self._start_moves(req, moves, stim)
        if not req.waiting and not any(ws.processing for ws in leaving):
            self._finish(req, stim)

    def _replica_added(self, ev: ReplicaAdded) -> None:
        stim = ev.stimulus_id
        copy = self.copying.pop((ev.key, ev.worker), None)
        ws = self.workers.get(ev.worker)
        ts = self.tasks.get(ev.key)
        if ws is None:
            pass
        elif ts is None or ts.state != "memory":
            self._out.append(FreeKeys(ev.worker, [ev.key], stimulus_id=stim))
        elif ws not in ts.who_has:
            ts.who_has = _added(ts.who_has, ws)
            ws.has_what.add(ts)
            ws.nbytes += ts.nbytes
            sender = self.workers.get(copy.sender) if copy is not None and copy.sender else None
            if sender is not None and sender in ts.who_has:
                self._drop_copy(ts, sender, stim)
            if copy is not None:
                copy.request.moved += 1
                copy.request.moved_bytes += ts.nbytes
        if copy is not None:
            self._copy_settled(copy.request, stim)

    def _copy_failed(self, key: Any, worker: str, stim: str) -> None:
        """``worker`` could not fetch its copy of ``key`` (or left)."""
        copy = self.copying.pop((key, worker), None)
        if copy is not None:
            copy.request.failed += 1
            self._copy_settled(copy.request, stim)

    def _copy_settled(self, req: _Request, stim: str) -> None:
        req.waiting -= 1
        if req.kind == "retire":
            self._advance_retirement(req, stim)
        else:
            self._maybe_done(req, stim)

    def _open_request(self, request: str, kind: str) -> _Request:
        req = self.requests[request] = _Request(request, kind)
        return req

    def _start_moves(self, req: _Request, moves: list[Move], stim: str) -> None:
        """Ask each recipient for its copies in one message, from the sender
        first (then any other holder)."""
        asks: dict[WorkerState, AcquireReplicas] = {}
        for move in moves:
            ts, ws = move.task, move.recipient
            if (ts.key, ws.address) in self.copying:
                continue  # already on its way (another request asked for it)
            self.copying[(ts.key, ws.address)] = _Copy(
                req, move.sender.address if move.sender is not None else ""
            )
            req.waiting += 1
            ask = asks.get(ws)
            if ask is None:
                ask = asks[ws] = AcquireReplicas(ws.address, {}, {}, stimulus_id=stim)
                self._out.append(ask)
            holders = [h.address for h in ts.who_has if h is not move.sender]
            if move.sender is not None:
                holders.insert(0, move.sender.address)
            ask.who_has[ts.key] = holders
            ask.nbytes[ts.key] = ts.nbytes

    def _drop_copy(self, ts: TaskState, ws: WorkerState, stim: str) -> None:
        """``ws`` lets go of its copy of ``ts``, which others hold."""
        ts.who_has = _removed(ts.who_has, ws)
        ws.has_what.discard(ts)
        ws.nbytes -= ts.nbytes
        self._out.append(FreeKeys(ws.address, [ts.key], stimulus_id=stim))

    def _maybe_done(self, req: _Request, stim: str) -> None:
        if not req.waiting and req.id in self.requests:
            self._finish(req, stim)

    def _finish(self, req: _Request, stim: str, error: str = "") -> None:
        del self.requests[req.id]
        result: dict[str, Any] = {
            "moved": req.moved,
            "moved_bytes": req.moved_bytes,
            "failed": req.failed,
        }
        if req.kind == "replicate":
            result["dropped"] = req.dropped
        if req.kind == "retire":
            result["retired"] = list(req.retiring)
        self._out.append(RequestDone(req.id, result, error, stimulus_id=stim))

    def _retirements_of(self, ws: WorkerState) -> list[_Request]:
        return [r for r in self.requests.values() if ws.address in r.retiring]

    def restart(self, stimulus_id: str) -> list[Instruction]:
        """Forget every task (clients' futures are cancelled); workers stay."""
        out: list[Instruction] = []
        self._out = out
        for client, wants in self.clients.items():
            if client not in self.holds:
                for ts in wants:
                    out.append(
                        KeyCancelled(
                            client, ts.key, "the cluster restarted", stimulus_id=stimulus_id
                        )
                    )
            wants.clear()
        for ws in self.workers.values():
            if ws.processing or ws.has_what:
                keys = [ts.key for ts in ws.processing] + [ts.key for ts in ws.has_what]
                out.append(FreeKeys(ws.address, keys, stimulus_id=stimulus_id))
            ws.processing.clear()
            ws.has_what.clear()
            ws.occupancy = 0.0
            ws.nbytes = 0
        self.groups.forget_all()
        for ts in self.tasks.values():
            ts.state = "forgotten"
            if ts.table is not None:
                ts.table.ntasks -= 1
                ts.table = None
        self.tasks.clear()
        self.queued.clear()
        self.watched.clear()
        self.restrictions.clear()
        self.placement.clear()
        for ws in self.workers.values():
            ws.used.clear()
        self._out = []
        return out

    # ------------------------------------------------------- placement

    def _duration(self, ts: TaskState) -> float:
        d = self.durations.get(ts.prefix)
        return self.unknown_duration if d is None else d

    def _slots_per_thread(self, prefix: str) -> float:
        """Root tasks of ``prefix`` a worker thread may hold (see module docstring)."""
        slots = self._root_slots.get(prefix)
        if slots is None:
            slots = self.saturation
            d = self.durations.get(prefix)
            if d is not None and d < self.fast_window:
                slots = max(slots, min(self.max_per_thread, self.fast_window / max(d, 1e-6)))
            self._root_slots[prefix] = slots
        return slots

    def _worker_with_room(self, ts: TaskState) -> WorkerState | None:
        slots = self._slots_per_thread(ts.prefix)
        best = None
        best_load = math.inf
        for ws in self.workers.values():
            if ws.status != "running" or ws.retiring:
                continue
            n = len(ws.processing)
            limit = int(ws.nthreads * slots + 0.999)
            if n < limit or not n:
                load = n / ws.nthreads
                if load < best_load or (
                    # new data between equally loaded workers: the emptier one
                    best is not None
                    and load == best_load
                    and ws.memory_fraction < best.memory_fraction
                ):
                    best, best_load = ws, load
        return best

    def _decide_worker(self, ts: TaskState) -> WorkerState | None:
        workers = self.workers
        if not workers:
            return None
        if self.restrictions:
            address = self.restrictions.get(ts.key)
            if address is not None:
                ws = workers.get(address)
                # even a paused worker: it starts the task once it resumes
                if ws is not None and not ws.retiring:
                    return ws
        candidates: set[WorkerState] = set()
        for dts in ts.dependencies:
            candidates.update(dts.who_has)
        if len(workers) <= 32 or not candidates:
            candidates = set(workers.values())
        else:
            candidates.add(min(workers.values(), key=_load))
        best = None
        best_cost = (math.inf, 0, 0.0)
        for ws in candidates:
            if ws.status != "running" or ws.retiring:
                continue  # a paused or retiring worker gets no new task (and no new data)
            missing = 0
            for dts in ts.dependencies:
                if ws not in dts.who_has:
                    missing += dts.nbytes
            cost = (
                missing / self.bandwidth + ws.occupancy / ws.nthreads,
                len(ws.processing),
                ws.memory_fraction,
            )
            if cost < best_cost:
                best, best_cost = ws, cost
        if best is None and len(candidates) < len(workers):
            running = self.running_workers()
            return min(running, key=_load) if running else None
        return best

    def _assign(self, ts: TaskState, ws: WorkerState, stim: str) -> None:
        d = self._duration(ts)
        ts.state = "processing"
        ts.processing_on = ws
        ws.processing[ts] = d
        ws.occupancy += d
        deps = ts.dependencies
        who_has = {dts.key: [w.address for w in dts.who_has] for dts in deps}
        nbytes = {dts.key: dts.nbytes for dts in deps} if deps else None
        self._out.append(
            ComputeTask(
                ws.address,
                ts.key,
                ts.run_spec,
                # a user priority makes it a big int: as a float on the wire
                # (msgpack has 64-bit ints; the worker only compares them)
                ts.priority if 0 <= ts.priority < _INT64 else float(ts.priority),
                who_has,
                ts.table,
                nbytes,
                stimulus_id=stim,
            )
        )

    def _place_constrained(self, ts: TaskState, c: Constraints, stim: str) -> Any:
        """Assign ``ts`` (annotated with placement limits) to a worker that
        meets them, taking its slots and resources; or return where it must
        wait (``Placement.choose``)."""
        only = self.restrictions.get(ts.key, "") if self.restrictions else ""
        found = self.placement.choose(ts, c, self.workers.values(), self._cost, only)
        if type(found) is tuple:
            return found
        self._assign(ts, found, stim)
        self.placement.hold(ts, found, c)
        return None

    def _retry_constrained(self, ts: TaskState, stim: str) -> Any:
        """``_place_constrained`` for a task already queued (the transition
        recorded if it goes)."""
        where = self._place_constrained(ts, ts.constraints, stim)  # type: ignore[arg-type]
        if where is None:
            self.groups.moved(ts.prefix, "queued", "processing")
            self._story.extend((ts.key, "queued", "processing", stim))
            self.transition_count += 1
        else:
            self.placement.park(ts, where)
        return where

    def _wake_parked(self, stim: str) -> None:
        """Retry the parked tasks that the last event may have unblocked."""

        def place(ts: TaskState) -> Any:
            c = ts.constraints
            if c is None:  # cannot happen: only constrained tasks are parked
                return ("no-worker",)
            where = self._place_constrained(ts, c, stim)
            if where is None:
                self.groups.moved(ts.prefix, "queued", "processing")
                self._story.extend((ts.key, "queued", "processing", stim))
                self.transition_count += 1
            return where

        self.placement.retry(place)

    def _cost(self, ts: TaskState, ws: WorkerState) -> tuple[float, int, float]:
        """The placement cost of ``ts`` on ``ws`` (see the module docstring)."""
        missing = 0
        for dts in ts.dependencies:
            if ws not in dts.who_has:
                missing += dts.nbytes
        return (
            missing / self.bandwidth + ws.occupancy / ws.nthreads,
            len(ws.processing),
            ws.memory_fraction,
        )

    def _queue(self, ts: TaskState) -> None:
        ts.state = "queued"
        # a task queued again leaves a stale entry behind: skipped when popped
        heapq.heappush(self.queued, (ts.priority, ts))

    def _fill_workers(self, stim: str) -> None:
        queued = self.queued
        while queued:
            ts = queued[0][1]
            if ts.state != "queued":
                heapq.heappop(queued)
                continue
            if ts._rare is not None and ts.constraints is not None:
                heapq.heappop(queued)
                self._retry_constrained(ts, stim)
                continue
            ws = self._worker_with_room(ts) if not ts.dependencies else self._decide_worker(ts)
            if ws is None:
                return
            heapq.heappop(queued)
            self._assign(ts, ws, stim)
            self.groups.moved(ts.prefix, "queued", "processing")
            self._story.extend((ts.key, "queued", "processing", stim))
            self.transition_count += 1

    def _steal(self, stim: str) -> None:
        """Move not-yet-started non-root tasks from saturated workers to idle
        ones, and every task not running yet from paused workers to running ones."""
        if len(self.workers) < 2:
            return
        running = self.running_workers()
        if not running:
            return
        for victim in self.workers.values():
            if victim.status != "paused":
                continue
            started = set(victim.executing)
            for ts in sorted(victim.processing, key=_priority):
                if ts.key in started or ts.key in self.restrictions or _constrained(ts):
                    continue
                thief = min(running, key=_load)
                if len(thief.processing) >= 2 * thief.nthreads:
                    break
                victim.occupancy -= victim.processing.pop(ts)
                self._out.append(StealTask(victim.address, ts.key, stimulus_id=stim))
                self._assign(ts, thief, stim)
                self._story.extend((ts.key, "processing", "processing", stim))
        idle = [ws for ws in running if len(ws.processing) < ws.nthreads]
        if not idle:
            return
        busy = sorted(running, key=_load, reverse=True)
        for victim in busy:
            if len(victim.processing) <= 2 * victim.nthreads:
                break
            movable = sorted(
                (
                    ts
                    for ts in victim.processing
                    if ts.dependencies and ts.key not in self.restrictions and not _constrained(ts)
                ),
                key=_priority,
                reverse=True,
            )
            for ts in movable[: len(victim.processing) - 2 * victim.nthreads]:
                thief = min(idle, key=_load)
                if len(thief.processing) >= thief.nthreads:
                    return
                d = victim.processing.pop(ts)
                victim.occupancy -= d
                self._out.append(StealTask(victim.address, ts.key, stimulus_id=stim))
                self._assign(ts, thief, stim)
                self._story.extend((ts.key, "processing", "processing", stim))

    # ----------------------------------------------------- transitions

    def _t_released_waiting(self, ts: TaskState, stim: str, recs: dict[Any, str]) -> None:
        if ts.run_spec is None:
            ts.exception = LostData(f"no way to compute {ts.key!r}: its data is gone")
            ts.blame = ts
            self._t_any_erred(ts, stim, recs)
            return
        waiting_on = 0
        for dts in ts.dependencies:
            dts.waiters = _added(dts.waiters, ts)
            state = dts.state
            if state != "memory":
                waiting_on += 1
                if state == "released":
                    recs[dts.key] = "waiting"
                elif state == "erred":
                    ts.blame = dts.blame
        ts.n_waiting = waiting_on
        ts.state = "waiting"
        if ts.blame is not None:
            recs[ts.key] = "erred"
        elif not waiting_on:
            recs[ts.key] = "processing"

    def _t_waiting_processing(self, ts: TaskState, stim: str, recs: dict[Any, str]) -> None:
        if ts.n_waiting:
            return
        if ts._rare is not None:
            c = ts.constraints
            if c is not None:
                where = self._place_constrained(ts, c, stim)
                if where is not None:
                    ts.state = "queued"
                    self.placement.park(ts, where)
                return
        if not ts.dependencies:
            # root tasks queue behind better-placed ones already waiting
            if self.queued and self.queued[0][0] < ts.priority and self._queued_head_live():
                self._queue(ts)
                return
            ws = self._worker_with_room(ts)
        else:
            ws = self._decide_worker(ts)
        if ws is None:
            self._queue(ts)
            return
        self._assign(ts, ws, stim)

    def _queued_head_live(self) -> bool:
        queued = self.queued
        while queued:
            ts = queued[0][1]
            if ts.state == "queued":
                return True
            heapq.heappop(queued)
        return False

    def _t_unready_released(self, ts: TaskState, stim: str, recs: dict[Any, str]) -> None:
        """waiting / queued -> released."""
        ts.state = "released"
        ts.n_waiting = 0
        self._forget_inputs(ts, recs)

    def _forget_inputs(self, ts: TaskState, recs: dict[Any, str]) -> None:
        for dts in ts.dependencies:
            dts.waiters = _removed(dts.waiters, ts)
            if not dts.waiters and not dts.who_wants and dts.state != "erred":
                others = any(d is not ts for d in dts.dependents)
                recs[dts.key] = "released" if others else "forgotten"

    def _t_processing_released(self, ts: TaskState, stim: str, recs: dict[Any, str]) -> None:
        ws = ts.processing_on
        if ws is not None:
            ws.occupancy -= ws.processing.pop(ts, 0.0)
            if self._holding:
                self.placement.release(ts, ts.constraints)
            self._out.append(FreeKeys(ws.address, [ts.key], stimulus_id=stim))
        ts.processing_on = None
        ts.state = "released"
        self._forget_inputs(ts, recs)

    def _transition_to_memory(
        self, ts: TaskState, ws: WorkerState, stim: str, recs: dict[Any, str]
    ) -> None:
        ws.occupancy -= ws.processing.pop(ts, 0.0)
        if not ws.processing:
            ws.occupancy = 0.0
        if self._holding:
            self.placement.release(ts, ts.constraints)
        ts.processing_on = None
        ts.who_has = _added(ts.who_has, ws)
        ws.has_what.add(ts)
        ws.nbytes += ts.nbytes
        ts.state = "memory"
        self.transition_count += 1
        self.groups.moved(ts.prefix, "processing", "memory")
        self._story.extend((ts.key, "processing", "memory", stim))
        if self.watched:
            self._done_watching(ts, stim)
        for dts in ts.dependents:
            if dts.state == "waiting":
                dts.n_waiting -= 1
                if not dts.n_waiting:
                    recs[dts.key] = "processing"
        for dts in ts.dependencies:
            dts.waiters = _removed(dts.waiters, ts)
            if not dts.waiters and not dts.who_wants:
                recs[dts.key] = "released"
        if ts.who_wants:
            self._drop_fire_and_forget(ts)
            for client in ts.who_wants:
                self._out.append(KeyInMemory(client, ts.key, ts.nbytes, stimulus_id=stim))
        if not ts.who_wants and not ts.waiters:
            recs[ts.key] = "forgotten" if not ts.dependents else "released"

    def _t_memory_released(self, ts: TaskState, stim: str, recs: dict[Any, str]) -> None:
        if ts.waiters or ts.who_wants:
            return
        for ws in ts.who_has:
            ws.has_what.discard(ts)
            ws.nbytes -= ts.nbytes
            self._out.append(FreeKeys(ws.address, [ts.key], stimulus_id=stim))
        ts.who_has = _NONE
        ts.state = "released"
        self._maybe_forget(ts, recs)

    def _maybe_forget(self, ts: TaskState, recs: dict[Any, str]) -> None:
        if not ts.who_wants and not ts.waiters and not ts.dependents:
            recs[ts.key] = "forgotten"

    def _t_released_forgotten(self, ts: TaskState, stim: str, recs: dict[Any, str]) -> None:
        if ts.who_wants or ts.dependents:
            return
        ts.state = "forgotten"
        del self.tasks[ts.key]
        if self.watched:
            self.watched.pop(ts.key, None)
        for dts in ts.dependencies:
            dts.dependents = _removed(dts.dependents, ts)
            dts.waiters = _removed(dts.waiters, ts)
            if dts.state in ("released", "erred", "memory") and not dts.who_wants:
                if not dts.dependents and not dts.waiters:
                    recs[dts.key] = "forgotten"
        ts.dependencies = ()
        ts.run_spec = None
        if ts.table is not None:
            ts.table.ntasks -= 1
            ts.table = None

    def _t_any_erred(self, ts: TaskState, stim: str, recs: dict[Any, str]) -> None:
        ws = ts.processing_on
        if ws is not None:
            ws.occupancy -= ws.processing.pop(ts, 0.0)
            if self._holding:
                self.placement.release(ts, ts.constraints)
            ts.processing_on = None
        ts.n_waiting = 0
        ts.state = "erred"
        if self.watched:
            self._done_watching(ts, stim)
        if ts.blame is None:
            ts.blame = ts
        for dts in ts.dependents:
            if dts.state in ("waiting", "queued", "processing", "released") and (
                dts.state != "released" or dts.who_wants
            ):
                dts.blame = ts.blame
                recs[dts.key] = "erred"
        self._drop_fire_and_forget(ts)
        for client in ts.who_wants:
            self._tell_erred(ts, client, stim)
        self._forget_inputs(ts, recs)

    def _done_watching(self, ts: TaskState, stim: str) -> None:
        client = self.watched.pop(ts.key, None)
        if client is not None:
            self._out.append(KeyDone(client, ts.key, stimulus_id=stim))

    def _drop_fire_and_forget(self, ts: TaskState) -> None:
        """A fire-and-forget key is wanted only until it is done."""
        if FIRE_AND_FORGET in ts.who_wants:
            ts.who_wants = _unwanted_by(ts.who_wants, FIRE_AND_FORGET)
            self.clients[FIRE_AND_FORGET].discard(ts)

    def _tell_erred(self, ts: TaskState, client: str, stim: str) -> None:
        blame = ts.blame or ts
        self._out.append(
            KeyErred(client, ts.key, blame.exception, blame.traceback, stimulus_id=stim)
        )

    def _t_erred_released(self, ts: TaskState, stim: str, recs: dict[Any, str]) -> None:
        ts.state = "released"
        ts.blame = None
        ts.exception = None
        ts.traceback = ""
        self._maybe_forget(ts, recs)

    # ------------------------------------------------------ validation

    def validate_state(self) -> None:
        """Check every invariant; raise AssertionError naming the broken one."""
        for key, ts in self.tasks.items():
            assert ts.key == key, ts
            state = ts.state
            assert state in STATES and state != "forgotten", ts
            for dts in ts.dependencies:
                assert ts in dts.dependents, (ts, dts)
                assert dts.key in self.tasks, f"{ts} depends on forgotten {dts}"
            if state == "memory":
                assert ts.who_has, f"{ts} in memory nowhere"
                for ws in ts.who_has:
                    assert ts in ws.has_what and ws.address in self.workers, (ts, ws)
            else:
                assert not ts.who_has, ts
            if state == "processing":
                ws = ts.processing_on
                assert ws is not None and ws.address in self.workers, ts
                assert ts in ws.processing, ts
                assert all(d.state == "memory" for d in ts.dependencies), ts
            else:
                assert ts.processing_on is None, ts
            if state == "waiting":
                expected = {d for d in ts.dependencies if d.state != "memory"}
                assert ts.n_waiting == len(expected), (ts, ts.n_waiting, expected)
                assert ts.n_waiting, f"{ts} waits on nothing"
            if state in ("waiting", "queued", "processing"):
                for dts in ts.dependencies:
                    assert ts in dts.waiters, (ts, dts)
            if state == "queued":
                assert not ts.n_waiting and all(d.state == "memory" for d in ts.dependencies), ts
            for client in ts.who_wants:
                assert ts in self.clients[client], (ts, client)
        counted: dict[tuple[str, str], int] = {}
        for ts in self.tasks.values():
            counted[ts.prefix, ts.state] = counted.get((ts.prefix, ts.state), 0) + 1
        assert all(prefix in self.groups for prefix, _ in counted), counted
        for group in self.groups:
            for state, n in group.counts.items():
                if state != "forgotten":
                    assert n == counted.get((group.name, state), 0), (group, state, counted)
        self._validate_placement()
        for ws in self.workers.values():
            for ts in ws.processing:
                assert ts.processing_on is ws and ts.state == "processing", (ws, ts)
            for ts in ws.has_what:
                assert ws in ts.who_has and ts.state == "memory", (ws, ts)
        for client, wants in self.clients.items():
            for ts in wants:
                assert client in ts.who_wants and ts.key in self.tasks, (client, ts)
        waiting: dict[str, int] = {}
        for (key, worker), copy in self.copying.items():
            assert self.requests.get(copy.request.id) is copy.request, (key, worker)
            waiting[copy.request.id] = waiting.get(copy.request.id, 0) + 1
        for req in self.requests.values():
            assert req.waiting == waiting.get(req.id, 0), (req.id, req.waiting, waiting)
            for address in req.retiring:
                ws = self.workers.get(address)
                assert ws is not None and ws.retiring, (req.id, address)

    def _validate_placement(self) -> None:
        """Held slots and resources match the constrained tasks processing."""
        pools: dict[str, int] = {}
        used: dict[str, dict[str, float]] = {}
        for ts in self.tasks.values():
            c = ts.constraints if ts._rare is not None else None
            holds = c is not None and bool(c.pools or c.resources)
            if ts.state == "processing" and holds:
                holder = self._holding.get(ts)
                assert holder is ts.processing_on and holder is not None, (ts, holder)
                assert c is not None
                for pool in c.pools or ():
                    pools[pool] = pools.get(pool, 0) + 1
                for r, n in (c.resources or {}).items():
                    mine = used.setdefault(holder.address, {})
                    mine[r] = mine.get(r, 0.0) + n
            else:
                assert ts not in self._holding, ts
        assert pools == self.placement.pool_used, (pools, self.placement.pool_used)
        for ws in self.workers.values():
            mine = used.get(ws.address, {})
            assert set(mine) == set(ws.used), (ws, mine, ws.used)
            for r, n in mine.items():
                assert abs(ws.used[r] - n) < 1e-6 and n <= ws.resources.get(r, 0.0) + 1e-6, (ws, r)


_HEX_DIGITS = frozenset("0123456789abcdef")
_INT64 = 1 << 63
_MEMORY_FIGURES = ("managed", "unmanaged", "spilled", "rss")


def _death_note(ws: WorkerState, reason: str) -> str:
    """How a worker died, for KilledWorker messages: the reason, its memory
    limit, its last known memory and what it was running.

    >>> ws = WorkerState("tcp://w:1", 1, "", 2**28, "", 0.0)
    >>> ws.memory, ws.executing = {"rss": 2**27, "managed": 2**26}, ("x",)
    >>> _death_note(ws, "killed")
    "tcp://w:1 (killed) [memory limit 256.00 MiB; last known memory 128.00 MiB, of which 64.00 MiB managed; it was running ['x']]"
    """
    details = [
        f"memory limit {format_bytes(ws.memory_limit)}" if ws.memory_limit else "no memory limit"
    ]
    if ws.memory:
        details.append(
            f"last known memory {format_bytes(ws.memory.get('rss', 0))}, of which "
            f"{format_bytes(ws.memory.get('managed', 0))} managed"
        )
    running = list(ws.executing) or [ts.key for ts in list(ws.processing)[: ws.nthreads]]
    if running:
        details.append(f"it was running {running}")
    return f"{ws.address} ({reason}) [{'; '.join(details)}]"


def _priority(ts: TaskState) -> int:
    return ts.priority


def _constrained(ts: TaskState) -> bool:
    return ts._rare is not None and ts._rare.constraints is not None


def _load(ws: WorkerState) -> float:
    return ws.occupancy / ws.nthreads


STATES = ("released", "waiting", "queued", "processing", "memory", "erred", "forgotten")

TRANSITIONS: dict[
    tuple[str, str], Callable[[SchedulerState, TaskState, str, dict[Any, str]], None]
] = {
    ("released", "waiting"): SchedulerState._t_released_waiting,
    ("released", "forgotten"): SchedulerState._t_released_forgotten,
    ("released", "erred"): SchedulerState._t_any_erred,
    ("waiting", "processing"): SchedulerState._t_waiting_processing,
    ("waiting", "released"): SchedulerState._t_unready_released,
    ("waiting", "erred"): SchedulerState._t_any_erred,
    ("queued", "released"): SchedulerState._t_unready_released,
    ("queued", "erred"): SchedulerState._t_any_erred,
    ("processing", "released"): SchedulerState._t_processing_released,
    ("processing", "erred"): SchedulerState._t_any_erred,
    ("memory", "released"): SchedulerState._t_memory_released,
    ("erred", "released"): SchedulerState._t_erred_released,
}
