"""The worker as a pure state machine: events in, instructions out.

No sockets, threads, files or clock here (events carry the time); values
never enter it, only their sizes. The adapter in ``worker.py`` runs the
instructions (threads execute, peers are asked for data, values go to disk)
and feeds back what happened as events. Tests drive this class directly,
thousands of events per second.

A key's record moves through these states (``TRANSITIONS``)::

    assigned by the scheduler:     waiting -> ready -> executing -> memory <-> spilled
                                      (inputs    (handed to   (result   (on disk,
                                       missing)   the pool)    in RAM)   LRU order)
    an input held by a peer:        fetch -> flight -> memory <-> spilled
                                   (queued)  (asked)

At most ``nthreads + prefetch`` tasks are executing: the pool runs
``nthreads`` at once and starts the others as threads free up (the adapter
starts none while the worker is paused). A record leaves (``released``)
when neither the scheduler nor a local task
needs it. Inputs fetched from peers are kept only while local tasks need
them (the scheduler tracks only results computed or placed here).

Memory (``memory_limit`` bytes, 0 = no limit; thresholds as fractions of
it, see ``memory.py``): *managed* is the sum of the sizes of results in
RAM, *spilled* the bytes on disk, *unmanaged* the last RSS sample minus
managed. After every change of managed memory, results are spilled least
recently used first while managed is above ``target``; after every RSS
sample, while RSS (less what was spilled since the sample) is above
``spill``, down to ``target``. Above ``pause``, or when a needed spill would
pass ``max_spill`` bytes on disk, the worker is *paused*: it starts no task
and fetches nothing until the condition clears. A worker without a nanny
closes itself above ``terminate`` (a nanny kills and restarts it there).

>>> from shoal.distributed.worker_events import TaskAssigned, ExecuteSuccess, MemorySample
>>> w = WorkerState(nthreads=1, memory_limit=1000, validate=True)
>>> [type(i).__name__ for i in w.handle(TaskAssigned("x", b"spec", 0, {}))]
['Execute']
>>> [type(i).__name__ for i in w.handle(ExecuteSuccess("x", 700, 0.1))]
['ReportFinished', 'Spill']
>>> w.tasks["x"].state, w.managed, w.spilled_bytes
('spilled', 0, 700)
>>> [(type(i).__name__, i.status) for i in w.handle(MemorySample(900, now=1.0))]
[('ReportStatus', 'paused')]
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from shoal.core.utils import format_bytes
from shoal.distributed.memory import MemoryThresholds
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
    WorkerInstruction,
)

__all__ = ["WorkerState", "WorkerTask", "TRANSITIONS", "FETCH_BATCH", "TRANSFER_FRACTION"]

FETCH_BATCH = 1000  # keys asked of one peer in one request, at most
TRANSFER_FRACTION = 0.1  # of the memory limit: bytes being fetched at once, at most
TRANSFER_UNLIMITED = 256 * 2**20  # the same without a memory limit

_LOCAL = ("memory", "spilled")  # states whose value is on this worker
# shared empty collections of records (typed as what replaces them on the first add)
_NONE: Any = frozenset()
_NO_PEERS: Any = ()


class WorkerTask:
    """One key this worker runs, holds or fetches."""

    __slots__ = (
        "key",
        "state",
        "priority",
        "spec",
        "table",
        "dependencies",
        "dependents",
        "waiting_for",
        "who_has",
        "peer",
        "nbytes",
        "disk_bytes",
        "held",
        "cancelled",
        "rerun",
        "assigned",
    )

    def __init__(self, key: Any, state: str, priority: int = 0, spec: Any = None, table=None):
        self.key = key
        self.state = state
        self.priority = priority
        self.spec = spec  # None for an input fetched from a peer
        self.table = table
        # most tasks of a big map have no inputs and no local users: the empty
        # collections are shared (a set or list is made on the first add)
        self.dependencies: tuple[WorkerTask, ...] = ()
        self.dependents: set[WorkerTask] = _NONE  # local tasks needing this value
        self.waiting_for: set[WorkerTask] = _NONE  # inputs not here yet
        self.who_has: list[str] = _NO_PEERS  # peers that may hold it (fetch / flight)
        self.peer = ""  # the peer asked for it (flight)
        self.nbytes = 0
        self.disk_bytes = 0
        self.held = False  # the scheduler counts this worker as holding the result
        self.cancelled = False  # freed while executing: drop the result when done
        # assigned again while a cancelled run was still executing: that run's
        # result is stale (a peer-to-peer transfer of an earlier run, say), so
        # it is dropped and the task runs once more
        self.rerun = False
        # assigned while its value is kept here only for local tasks (the
        # scheduler freed it, or it was fetched): that value may be stale (a
        # reset peer-to-peer barrier of an earlier run, say), so the task runs
        # again once those tasks let go of it, instead of reporting the value
        self.assigned: TaskAssigned | None = None

    def __lt__(self, other: WorkerTask) -> bool:  # ties in the ready heap
        return id(self) < id(other)

    def __repr__(self) -> str:
        return f"<WorkerTask {self.key!r} {self.state}>"


class WorkerState:
    """Pure worker logic (see the module docstring)."""

    def __init__(
        self,
        nthreads: int = 1,
        memory_limit: int = 0,
        thresholds: MemoryThresholds | None = None,
        address: str = "",
        has_nanny: bool = False,
        validate: bool = False,
        story_length: int = 100_000,
        prefetch: int = 0,
    ):
        if nthreads < 1:
            raise ValueError(f"a worker needs at least one thread, got nthreads={nthreads}")
        self.nthreads = nthreads
        # tasks handed to the pool beyond its threads: they wait there, so a
        # thread never waits for the event loop between two short tasks
        self.max_executing = nthreads + max(0, int(prefetch))
        # bytes asked of peers at once (one request may pass it alone: progress)
        self.transfer_limit = (
            int(TRANSFER_FRACTION * memory_limit) if memory_limit else TRANSFER_UNLIMITED
        )
        self.transfer_bytes = 0
        self.memory_limit = int(memory_limit or 0)
        self.thresholds = thresholds if thresholds is not None else MemoryThresholds()
        self.address = address
        self.has_nanny = has_nanny
        self.validate = validate
        self.tasks: dict[Any, WorkerTask] = {}
        self.ready: list[tuple[int, WorkerTask]] = []  # heap; stale entries are skipped
        self.executing: set[WorkerTask] = set()
        self.lru: OrderedDict[Any, WorkerTask] = OrderedDict()  # in memory, oldest first
        self.managed = 0
        self.spilled_bytes = 0  # on disk (the size in memory until the write reports)
        self.spilled_count = 0
        self.fetch_queue: dict[str, deque[WorkerTask]] = {}  # peer -> records to ask it for
        self.in_flight: dict[str, list[WorkerTask]] = {}  # peer -> records asked for
        self.status = "running"
        self.pause_reason = ""
        self.rss = 0
        self.rss_time = 0.0
        self.freed_since_sample = 0
        self.disk_full = ""  # why the disk refused the last spill (cleared by deletes, samples)
        self.terminating = False
        # the story's entries flat, four items each: the tuple of one entry is
        # freed at once, so logging leaves no new objects for the cyclic
        # garbage collector (a tuple per transition kept made its collections
        # a large part of a short task's cost)
        self._story: deque = deque(maxlen=4 * story_length)
        self.transition_count = 0
        self._out: list[WorkerInstruction] = []
        self._deletes: DeleteData | None = None  # this handle's one DeleteData
        self._handlers: dict[type, Callable] = {
            TaskAssigned: self._task_assigned,
            KeysFreed: self._keys_freed,
            TaskStolen: self._task_stolen,
            ExecuteSuccess: self._execute_success,
            ExecuteFailure: self._execute_failure,
            FetchDone: self._fetch_done,
            DataPut: self._data_put,
            DataRequested: self._data_requested,
            MemorySample: self._memory_sample,
            SpillDone: self._spill_done,
            AcquireReplicas: self._acquire_replicas,
        }

    # ------------------------------------------------------------ driver

    def handle(self, *events: WorkerEvent) -> list[WorkerInstruction]:
        """Apply events (one, or a burst that arrived together: memory,
        fetches and execution are then reconsidered once, after the last);
        return the instructions they produced."""
        out: list[WorkerInstruction] = []
        self._out = out
        self._deletes = None
        handlers = self._handlers
        for event in events:
            handlers[type(event)](event, event.stimulus_id)
        stim = events[-1].stimulus_id
        self._manage_memory(stim)
        self._ensure_fetching(stim)
        self._ensure_executing(stim)
        if self.validate:
            self.validate_state()
        self._out = []
        self._deletes = None
        return out

    def _transition(self, ts: WorkerTask, finish: str, stim: str) -> None:
        start = ts.state
        func = TRANSITIONS.get((start, finish))
        if func is None:
            raise RuntimeError(f"no worker transition of {ts.key!r} from {start!r} to {finish!r}")
        func(self, ts, stim)
        self.transition_count += 1
        self._story.extend((ts.key, start, finish, stim))

    @property
    def story(self) -> list[tuple]:
        """The logged transitions, oldest first: ``(key, start, finish, stimulus_id)``."""
        flat = list(self._story)
        return list(zip(flat[0::4], flat[1::4], flat[2::4], flat[3::4]))

    def story_of(self, key: Any) -> list[tuple]:
        """The logged transitions of ``key``: ``(key, start, finish, stimulus_id)``."""
        return [entry for entry in self.story if entry[0] == key]

    # ------------------------------------------------------------ events

    def _task_assigned(self, ev: TaskAssigned, stim: str) -> None:
        ts = self.tasks.get(ev.key)
        if ts is not None:
            if ts.state == "executing" and ts.cancelled:
                ts.cancelled, ts.rerun = False, True
                ts.spec, ts.table, ts.priority, ts.held = ev.spec, ev.table, ev.priority, False
                return
            if ts.spec is not None:
                return  # asked twice
            if ts.state in _LOCAL and not ts.held:  # kept for local tasks only
                ts.assigned = ev  # run once they let go (see WorkerTask.assigned)
                return
            # counted here already, or an input being fetched: report it once here
            ts.spec, ts.table, ts.priority = ev.spec, ev.table, ev.priority
            if ts.state in _LOCAL:
                self._out.append(ReportFinished(ts.key, ts.nbytes, 0.0, stimulus_id=stim))
            return
        ts = self.tasks[ev.key] = WorkerTask(ev.key, "waiting", ev.priority, ev.spec, ev.table)
        self._story.extend((ts.key, "new", "waiting", stim))
        if ev.who_has:
            self._link_inputs(ts, ev, stim)
            if ts.waiting_for or self.tasks.get(ts.key) is not ts:
                return
        # waiting -> ready, inlined: the path of every task of a big map
        ts.state = "ready"
        heapq.heappush(self.ready, (ts.priority, ts))
        self.transition_count += 1
        self._story.extend((ts.key, "waiting", "ready", stim))

    def _link_inputs(self, ts: WorkerTask, ev: TaskAssigned, stim: str) -> None:
        """Records of ``ts``'s inputs: here already, or to fetch from peers."""
        deps = []
        waiting = set()
        for dep, holders in ev.who_has.items():
            dts = self.tasks.get(dep)
            peers = [h for h in holders if h != self.address]
            if dts is None:
                dts = self.tasks[dep] = WorkerTask(dep, "fetch")
                dts.who_has = peers
                if ev.nbytes:
                    dts.nbytes = int(ev.nbytes.get(dep, 0))  # an estimate until it arrives
                self._story.extend((dep, "new", "fetch", stim))
                self._queue_fetch(dts)
            elif dts.state in ("fetch", "flight"):
                dts.who_has.extend(p for p in peers if p not in dts.who_has)
            deps.append(dts)
            if not dts.dependents:
                dts.dependents = set()
            dts.dependents.add(ts)
            if dts.state not in _LOCAL:
                waiting.add(dts)
        ts.dependencies = tuple(deps)
        if waiting:
            ts.waiting_for = waiting
        for dts in list(waiting):
            if dts.state == "fetch" and not dts.who_has:
                self._give_up(dts, "", stim)

    def _keys_freed(self, ev: KeysFreed, stim: str) -> None:
        tasks = self.tasks
        story = self._story
        for key in ev.keys:
            ts = tasks.get(key)
            if ts is None:
                continue
            if ts.state == "memory" and not ts.dependents:
                # memory -> released, inlined: the path of every result of a big map
                ts.held = False
                ts.spec = None
                self._t_released(ts, stim)
                self.transition_count += 1
                story.extend((key, "memory", "released", stim))
            else:
                self._free(ts, stim)

    def _free(self, ts: WorkerTask, stim: str) -> None:
        ts.held = False
        ts.assigned = None
        state = ts.state
        if state == "executing":
            ts.cancelled = True
        elif state in ("waiting", "ready"):
            if not ts.dependents:  # else it still runs, for the local tasks needing it
                self._transition(ts, "released", stim)
        else:
            ts.spec = None  # from now on only an input of local tasks, if any
            self._maybe_release(ts, stim)

    def _task_stolen(self, ev: TaskStolen, stim: str) -> None:
        ts = self.tasks.get(ev.key)
        if ts is not None and ts.state in ("waiting", "ready"):
            self._transition(ts, "released", stim)
        elif ts is not None:
            ts.assigned = None  # not to run here once local tasks let go either

    def _execute_success(self, ev: ExecuteSuccess, stim: str) -> None:
        ts = self.tasks.get(ev.key)
        if ts is None or ts.state != "executing":
            self._delete(ev.key, stim)
            return
        if ts.cancelled:
            self._delete(ts.key, stim)
            self._transition(ts, "released", stim)
            return
        if ts.rerun:
            self._delete(ts.key, stim)
            self._run_again(ts, stim)
            return
        ts.nbytes = int(ev.nbytes)
        ts.held = True
        self._t_to_memory(ts, stim)  # inlined _transition: the path of every task
        self.transition_count += 1
        self._story.extend((ts.key, "executing", "memory", stim))
        self._out.append(ReportFinished(ts.key, ts.nbytes, ev.duration, stimulus_id=stim))

    def _execute_failure(self, ev: ExecuteFailure, stim: str) -> None:
        ts = self.tasks.get(ev.key)
        if ts is None or ts.state != "executing":
            return
        if ts.rerun:
            self._run_again(ts, stim)
            return
        if not ts.cancelled:
            if ev.reschedule:
                self._out.append(ReportRescheduled(ts.key, stimulus_id=stim))
            else:
                self._out.append(ReportErred(ts.key, ev.exception, ev.traceback, stimulus_id=stim))
        self._transition(ts, "released", stim)

    def _run_again(self, ts: WorkerTask, stim: str) -> None:
        """executing -> ready: a stale run ended (see ``WorkerTask.rerun``)."""
        ts.rerun = False
        self.executing.discard(ts)
        ts.state = "ready"
        heapq.heappush(self.ready, (ts.priority, ts))
        self.transition_count += 1
        self._story.extend((ts.key, "executing", "ready", stim))

    def _fetch_done(self, ev: FetchDone, stim: str) -> None:
        asked = self.in_flight.pop(ev.peer, [])
        self.transfer_bytes -= sum(ts.nbytes for ts in asked)
        unwanted = []
        for key, nbytes in ev.nbytes.items():
            ts = self.tasks.get(key)
            if ts is not None and ts.state in ("fetch", "flight"):
                ts.nbytes = int(nbytes)
                if ts.spec is not None:  # assigned here meanwhile: done, in a way
                    ts.held = True
                    self._out.append(ReportFinished(ts.key, ts.nbytes, 0.0, stimulus_id=stim))
                elif ts.held:  # a copy the scheduler asked for
                    self._out.append(ReportReplica(ts.key, ts.nbytes, stimulus_id=stim))
                self._transition(ts, "memory", stim)
                self._maybe_release(ts, stim)
            elif ts is None or ts.state not in _LOCAL:
                unwanted.append(key)
        for key in unwanted:
            self._delete(key, stim)
        for ts in asked:
            if ts.state == "flight" and ts.peer == ev.peer and self.tasks.get(ts.key) is ts:
                if ts.peer in ts.who_has:
                    ts.who_has.remove(ts.peer)
                self._transition(ts, "fetch", stim)
                if not ts.who_has:
                    self._give_up(ts, ev.peer, stim)

    def _data_put(self, ev: DataPut, stim: str) -> None:
        for key, nbytes in ev.nbytes.items():
            ts = self.tasks.get(key)
            if ts is None:
                ts = self.tasks[key] = WorkerTask(key, "fetch")
                self._story.extend((key, "new", "fetch", stim))
            if ts.state in ("fetch", "flight"):
                if ts.state == "flight":  # its request still counts what was asked
                    self.transfer_bytes += int(nbytes) - ts.nbytes
                ts.nbytes = int(nbytes)
                self._transition(ts, "memory", stim)
            ts.held = True

    def _acquire_replicas(self, ev: AcquireReplicas, stim: str) -> None:
        for key, holders in ev.who_has.items():
            peers = [h for h in holders if h != self.address]
            ts = self.tasks.get(key)
            if ts is None:
                ts = self.tasks[key] = WorkerTask(key, "fetch")
                ts.who_has = peers
                ts.nbytes = int(ev.nbytes.get(key, 0))  # an estimate until it arrives
                ts.held = True
                self._story.extend((key, "new", "fetch", stim))
                if peers:
                    self._queue_fetch(ts)
                else:
                    self._give_up(ts, "", stim)
            elif ts.state in _LOCAL:  # here already (an input of local tasks, say): kept now
                ts.held = True
                self._out.append(ReportReplica(key, ts.nbytes, stimulus_id=stim))
            elif ts.state in ("fetch", "flight"):
                ts.held = True
                ts.who_has.extend(p for p in peers if p not in ts.who_has)
            else:  # a result computed here that was let go of: it will not be kept
                self._out.append(ReportMissing(key, key, "", stimulus_id=stim))

    def _data_requested(self, ev: DataRequested, stim: str) -> None:
        lru = self.lru
        for key in ev.keys:
            if key in lru:
                lru.move_to_end(key)

    def _memory_sample(self, ev: MemorySample, stim: str) -> None:
        self.rss = int(ev.rss)
        self.rss_time = ev.now
        self.freed_since_sample = 0
        self.disk_full = ""  # try the disk again (at most once per sample)

    def _spill_done(self, ev: SpillDone, stim: str) -> None:
        for key, disk in ev.disk_bytes.items():
            ts = self.tasks.get(key)
            if ts is not None and ts.state == "spilled":
                self.spilled_bytes += int(disk) - ts.disk_bytes
                ts.disk_bytes = int(disk)
        for key in ev.failed:
            ts = self.tasks.get(key)
            if ts is not None and ts.state == "spilled":
                self._transition(ts, "memory", stim)
                self.lru.move_to_end(key, last=False)  # still the oldest
        if ev.failed:
            self.disk_full = ev.error or "the disk refused a spill"

    # ------------------------------------------------------------ helpers

    def _delete(self, key: Any, stim: str) -> None:
        """Ask the adapter to drop ``key``'s value: one ``DeleteData`` per
        handled burst, where its first deletion was (values that go later in
        the burst are not used by the instructions in between)."""
        batch = self._deletes
        if batch is None:
            batch = self._deletes = DeleteData([], stimulus_id=stim)
            self._out.append(batch)
        batch.keys.append(key)

    def _queue_fetch(self, ts: WorkerTask) -> None:
        """Queue ``ts`` on the holder with the least asked of it already."""
        peer = min(
            ts.who_has,
            key=lambda p: len(self.fetch_queue.get(p, ())) + len(self.in_flight.get(p, ())),
            default=None,
        )
        if peer is not None:
            self.fetch_queue.setdefault(peer, deque()).append(ts)

    def _give_up(self, ts: WorkerTask, errant: str, stim: str) -> None:
        """No peer has ``ts``: drop the local tasks needing it and tell the
        scheduler (which reschedules them)."""
        for dependent in list(ts.dependents):
            if dependent.state in ("waiting", "ready"):
                self._out.append(ReportMissing(dependent.key, ts.key, errant, stimulus_id=stim))
                self._transition(dependent, "released", stim)
        if ts.spec is not None or ts.held:  # a task of ours, or a copy asked for
            self._out.append(ReportMissing(ts.key, ts.key, errant, stimulus_id=stim))
        if self.tasks.get(ts.key) is ts:
            ts.spec = None
            ts.held = False
            self._transition(ts, "released", stim)

    def _maybe_release(self, ts: WorkerTask, stim: str) -> None:
        """Let go of ``ts`` if neither the scheduler nor a local task needs it."""
        if ts.held or ts.dependents or ts.spec is not None:
            return
        if ts.state in _LOCAL or ts.state in ("fetch", "flight"):
            self._transition(ts, "released", stim)
            if ts.assigned is not None:  # see WorkerTask.assigned
                self._task_assigned(ts.assigned, stim)

    def _ensure_fetching(self, stim: str) -> None:
        """One request per peer at a time, of at most ``FETCH_BATCH`` keys, and
        at most ``transfer_limit`` bytes asked of all peers at once (a single
        key may pass it when nothing else is on its way)."""
        if self.status != "running" or not self.fetch_queue:
            return
        limit = self.transfer_limit
        for peer in list(self.fetch_queue):
            if peer in self.in_flight:
                continue
            queue = self.fetch_queue[peer]
            batch: list[WorkerTask] = []
            while queue and len(batch) < FETCH_BATCH:
                ts = queue[0]
                if ts.state != "fetch" or self.tasks.get(ts.key) is not ts or ts in batch:
                    queue.popleft()
                    continue
                if self.transfer_bytes + ts.nbytes > limit and (batch or self.transfer_bytes):
                    break
                queue.popleft()
                batch.append(ts)
                self.transfer_bytes += ts.nbytes
            if not queue:
                del self.fetch_queue[peer]
            if batch:
                self.in_flight[peer] = batch
                for ts in batch:
                    ts.peer = peer
                    self._transition(ts, "flight", stim)
                self._out.append(Fetch(peer, [ts.key for ts in batch], stimulus_id=stim))

    def _ensure_executing(self, stim: str) -> None:
        ready = self.ready
        if not ready:
            return
        room = self.max_executing - len(self.executing) if self.status == "running" else 0
        tasks = self.tasks
        story = self._story
        out = self._out
        heappop = heapq.heappop
        started = 0
        while ready:
            ts = ready[0][1]
            if ts.state != "ready" or tasks.get(ts.key) is not ts:
                heappop(ready)  # stale: released or stolen meanwhile
                continue
            if started >= room:
                break
            heappop(ready)
            started += 1
            self._t_ready_executing(ts, stim)  # inlined _transition: the path of every task
            story.extend((ts.key, "ready", "executing", stim))
            out.append(Execute(ts.key, stimulus_id=stim))
        self.transition_count += started

    # ------------------------------------------------------------ memory

    def _manage_memory(self, stim: str) -> None:
        limit = self.memory_limit
        if not limit:
            return
        t = self.thresholds
        lru = self.lru
        spill: list[WorkerTask] = []
        blocked = False
        managed = self.managed
        if t.target is not None and managed > t.target * limit:
            goal = t.target * limit
            for ts in lru.values():
                if managed <= goal:
                    break
                if not self._disk_room(ts, spill):
                    blocked = True
                    break
                spill.append(ts)
                managed -= ts.nbytes
        rss = self.rss - self.freed_since_sample - (self.managed - managed)
        if t.spill is not None and rss > t.spill * limit and not blocked:
            goal = (t.target if t.target is not None else t.spill) * limit
            for ts in list(lru.values())[len(spill) :]:
                if rss <= goal:
                    break
                if not self._disk_room(ts, spill):
                    blocked = True
                    break
                spill.append(ts)
                rss -= ts.nbytes
        if spill:
            for ts in spill:
                self._transition(ts, "spilled", stim)
            self._out.append(Spill([ts.key for ts in spill], stimulus_id=stim))
        reason = ""
        if t.pause is not None and rss > t.pause * limit:
            reason = (
                f"process memory {format_bytes(rss)} is above {t.pause:.0%} of the memory "
                f"limit {format_bytes(limit)}"
            )
        elif blocked:
            reason = f"managed memory {format_bytes(self.managed)} needs spilling but " + (
                f"the disk refused: {self.disk_full}"
                if self.disk_full
                else f"spilled data would pass max-spill {format_bytes(t.max_spill)}"
            )
        if reason and self.status == "running":
            self._set_status("paused", reason, stim)
        elif not reason and self.status == "paused":
            self._set_status("running", "memory is below the pause threshold", stim)
        if (
            not self.has_nanny
            and not self.terminating
            and t.terminate is not None
            and self.rss > t.terminate * limit
        ):
            self.terminating = True
            self._out.append(
                Terminate(
                    f"process memory {format_bytes(self.rss)} is above {t.terminate:.0%} of "
                    f"the memory limit {format_bytes(limit)}",
                    stimulus_id=stim,
                )
            )

    def _disk_room(self, ts: WorkerTask, planned: list) -> bool:
        if self.disk_full:
            return False
        bound = self.thresholds.max_spill
        if not bound:
            return True
        pending = sum(p.nbytes for p in planned)
        return self.spilled_bytes + pending + ts.nbytes <= bound

    def _set_status(self, status: str, reason: str, stim: str) -> None:
        self.status = status
        self.pause_reason = reason if status == "paused" else ""
        self._story.extend(("worker", "running" if status == "paused" else "paused", status, stim))
        self._out.append(ReportStatus(status, reason, self.memory_metrics(), stimulus_id=stim))

    def memory_metrics(self) -> dict:
        """Figures for heartbeats and the scheduler: bytes managed, unmanaged
        (last RSS sample minus managed), spilled (on disk), the limit, the
        status and the keys executing (``executing_keys``).

        >>> WorkerState(memory_limit=100).memory_metrics()["status"]
        'running'
        """
        return {
            "managed": self.managed,
            "unmanaged": max(0, self.rss - self.managed),
            "spilled": self.spilled_bytes,
            "spilled_keys": self.spilled_count,
            "rss": self.rss,
            "memory_limit": self.memory_limit,
            "status": self.status,
            "executing_keys": [ts.key for ts in self.executing],
        }

    # ----------------------------------------------------- transitions

    def _t_waiting_ready(self, ts: WorkerTask, stim: str) -> None:
        ts.state = "ready"
        heapq.heappush(self.ready, (ts.priority, ts))

    def _t_ready_executing(self, ts: WorkerTask, stim: str) -> None:
        ts.state = "executing"
        self.executing.add(ts)
        if ts.dependencies:  # inputs in memory count as recently used (spilled last)
            lru = self.lru
            for dts in ts.dependencies:
                if dts.key in lru:
                    lru.move_to_end(dts.key)

    def _t_to_memory(self, ts: WorkerTask, stim: str) -> None:
        """executing / fetch / flight / spilled -> memory."""
        start = ts.state
        if start == "executing":
            self.executing.discard(ts)
            self._forget_inputs(ts, stim)
        elif start == "spilled":
            self.spilled_bytes -= ts.disk_bytes
            self.spilled_count -= 1
            ts.disk_bytes = 0
        elif start == "flight":
            ts.peer = ""
        ts.who_has = _NO_PEERS
        ts.spec = ts.table = None  # the result is here; it is never run again
        ts.state = "memory"
        self.lru[ts.key] = ts
        self.managed += ts.nbytes
        if start != "spilled":
            for dependent in ts.dependents:
                waiting = dependent.waiting_for
                if ts in waiting:
                    waiting.discard(ts)
                    if not waiting and dependent.state == "waiting":
                        self._transition(dependent, "ready", stim)

    def _t_memory_spilled(self, ts: WorkerTask, stim: str) -> None:
        ts.state = "spilled"
        del self.lru[ts.key]
        self.managed -= ts.nbytes
        self.freed_since_sample += ts.nbytes
        ts.disk_bytes = ts.nbytes  # until the write reports its size
        self.spilled_bytes += ts.disk_bytes
        self.spilled_count += 1

    def _t_fetch_flight(self, ts: WorkerTask, stim: str) -> None:
        ts.state = "flight"

    def _t_flight_fetch(self, ts: WorkerTask, stim: str) -> None:
        ts.state = "fetch"
        ts.peer = ""
        if ts.who_has:
            self._queue_fetch(ts)

    def _t_released(self, ts: WorkerTask, stim: str) -> None:
        """Any state -> released: the record goes (and its value, if here)."""
        state = ts.state
        if state == "memory":
            del self.lru[ts.key]
            self.managed -= ts.nbytes
            self.freed_since_sample += ts.nbytes
            self._delete(ts.key, stim)
        elif state == "spilled":
            self.spilled_bytes -= ts.disk_bytes
            self.spilled_count -= 1
            self.disk_full = ""  # room on disk again
            self._delete(ts.key, stim)
        elif state == "executing":
            self.executing.discard(ts)
        ts.state = "released"
        if self.tasks.get(ts.key) is ts:
            del self.tasks[ts.key]
        self._forget_inputs(ts, stim)
        for dependent in ts.dependents:
            if ts in dependent.waiting_for:
                dependent.waiting_for.discard(ts)

    def _forget_inputs(self, ts: WorkerTask, stim: str) -> None:
        deps = ts.dependencies
        if not deps:
            return
        ts.dependencies = ()
        ts.waiting_for = _NONE
        for dts in deps:
            dts.dependents.discard(ts)
            if dts.state != "released":
                self._maybe_release(dts, stim)

    # ------------------------------------------------------ validation

    def validate_state(self) -> None:
        """Check every invariant; raise AssertionError naming the broken one."""
        managed = spilled = nspilled = 0
        in_heap = {id(entry[1]) for entry in self.ready}
        queued = {id(ts) for queue in self.fetch_queue.values() for ts in queue}
        for key, ts in self.tasks.items():
            assert ts.key == key and ts.state in STATES and ts.state != "released", ts
            state = ts.state
            if state == "memory":
                assert key in self.lru and self.lru[key] is ts, ts
                managed += ts.nbytes
            else:
                assert key not in self.lru, ts
            if state == "spilled":
                spilled += ts.disk_bytes
                nspilled += 1
            assert (ts in self.executing) == (state == "executing"), ts
            if state in ("waiting", "ready", "executing"):
                assert ts.spec is not None, f"{ts} has nothing to run"
                for dts in ts.dependencies:
                    assert self.tasks.get(dts.key) is dts, f"{ts} needs forgotten {dts}"
                    assert ts in dts.dependents, (ts, dts)
            if state == "waiting":
                expected = {d for d in ts.dependencies if d.state not in _LOCAL}
                assert ts.waiting_for == expected and expected, (ts, ts.waiting_for, expected)
            elif state in ("ready", "executing"):
                assert all(d.state in _LOCAL for d in ts.dependencies), ts
            if state == "ready":
                assert id(ts) in in_heap, f"{ts} not in the heap"
            if state == "fetch":
                assert ts.who_has, f"{ts} has no peer to fetch from"
                assert id(ts) in queued, f"{ts} not queued"
            if state == "flight":
                assert ts in self.in_flight.get(ts.peer, ()), f"{ts} not asked of {ts.peer}"
            if ts.spec is None and not ts.held:
                assert ts.dependents, f"{ts} is kept for nothing"
            for dependent in ts.dependents:
                assert self.tasks.get(dependent.key) is dependent, (ts, dependent)
                assert ts in dependent.dependencies, (ts, dependent)
        assert managed == self.managed, (managed, self.managed)
        assert spilled == self.spilled_bytes, (spilled, self.spilled_bytes)
        assert nspilled == self.spilled_count, (nspilled, self.spilled_count)
        assert len(self.lru) == sum(ts.state == "memory" for ts in self.tasks.values())
        assert len(self.executing) <= self.max_executing, self.executing
        asked_bytes = sum(ts.nbytes for batch in self.in_flight.values() for ts in batch)
        assert asked_bytes == self.transfer_bytes, (asked_bytes, self.transfer_bytes)
        for peer, asked in self.in_flight.items():
            for ts in asked:
                assert ts.state != "flight" or ts.peer == peer, (peer, ts)
        if self.status == "paused":
            assert self.pause_reason, "paused without a reason"


STATES = ("waiting", "ready", "executing", "memory", "spilled", "fetch", "flight", "released")

TRANSITIONS: dict[tuple[str, str], Callable] = {
    ("waiting", "ready"): WorkerState._t_waiting_ready,
    ("ready", "executing"): WorkerState._t_ready_executing,
    ("executing", "memory"): WorkerState._t_to_memory,
    ("fetch", "memory"): WorkerState._t_to_memory,
    ("flight", "memory"): WorkerState._t_to_memory,
    ("spilled", "memory"): WorkerState._t_to_memory,
    ("memory", "spilled"): WorkerState._t_memory_spilled,
    ("fetch", "flight"): WorkerState._t_fetch_flight,
    ("flight", "fetch"): WorkerState._t_flight_fetch,
    **{
        (state, "released"): WorkerState._t_released
        for state in ("waiting", "ready", "executing", "memory", "spilled", "fetch", "flight")
    },
}
