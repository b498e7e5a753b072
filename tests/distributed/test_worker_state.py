"""The worker state machine, driven without processes, sockets or files.

``WSim`` plays the adapter: it remembers what the machine asked for (tasks
to run, keys to fetch, values to spill or delete) and feeds back what
happened; ``validate_state`` runs after every event.
"""

import random

import pytest

from shoal.distributed.memory import MemoryThresholds
from shoal.distributed.worker_events import (
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
    ReportStatus,
    Spill,
    SpillDone,
    TaskAssigned,
    TaskStolen,
    Terminate,
)
from shoal.distributed.worker_state import FETCH_BATCH, WorkerState

pytestmark = pytest.mark.timeout(60)


class WSim:
    """A worker state machine plus a fake adapter (see module docstring)."""

    def __init__(self, nthreads=1, limit=0, validate=True, compress=1.0, nanny=True, **thresholds):
        t = MemoryThresholds(**thresholds)
        self.w = WorkerState(nthreads, limit, t, address="me", has_nanny=nanny, validate=validate)
        self.running = []  # keys handed to threads, in order
        self.fetching = {}  # peer -> keys asked
        self.memory = set()  # keys whose values the adapter holds in memory
        self.disk = {}  # key -> bytes on disk
        self.sent = []  # reports to the scheduler
        self.compress = compress
        self.refuse_disk = False
        self.stim = 0
        self.now = 0.0

    def do(self, ev):
        self.stim += 1
        ev.stimulus_id = f"s{self.stim}"
        out = self.w.handle(ev)
        for ins in out:
            typ = type(ins)
            if typ is Execute:
                assert ins.key not in self.running
                self.running.append(ins.key)
            elif typ is Fetch:
                assert ins.peer not in self.fetching, "two requests to one peer at once"
                self.fetching[ins.peer] = list(ins.keys)
            elif typ is Spill:
                written, failed = {}, []
                for k in ins.keys:
                    assert k in self.memory, f"spilling {k!r}, which is not in memory"
                    if self.refuse_disk:
                        failed.append(k)
                    else:
                        self.memory.discard(k)
                        written[k] = int(self.w.tasks[k].nbytes * self.compress)
                        self.disk[k] = written[k]
                self.do(SpillDone(written, failed, "disk full" if failed else ""))
            elif typ is DeleteData:
                for k in ins.keys:
                    self.memory.discard(k)
                    self.disk.pop(k, None)
            elif typ in (ReportFinished, ReportErred, ReportMissing, ReportStatus, Terminate):
                self.sent.append(ins)
        return out

    def do_many(self, events):
        """A burst: the events are handled together, as the adapter does."""
        self.stim += 1
        for ev in events:
            ev.stimulus_id = f"s{self.stim}"
        out = self.w.handle(*events)
        for ins in out:
            if type(ins) is Execute:
                self.running.append(ins.key)
            elif type(ins) is Spill:
                for k in ins.keys:
                    self.memory.discard(k)
                    self.disk[k] = self.w.tasks[k].nbytes
                self.do(SpillDone(dict.fromkeys(ins.keys, 300)))
        return out

    def assign(self, key, deps=None, priority=0):
        self.do(TaskAssigned(key, b"spec", priority, deps or {}))

    def finish(self, key, nbytes=10):
        self.running.remove(key)
        self.memory.add(key)
        self.do(ExecuteSuccess(key, nbytes, 0.01))

    def fail(self, key):
        self.running.remove(key)
        self.do(ExecuteFailure(key, ValueError("boom"), "tb"))

    def deliver(self, peer, have=None, nbytes=10):
        keys = self.fetching.pop(peer)
        got = {k: nbytes for k in keys if have is None or k in have}
        self.memory.update(got)
        self.do(FetchDone(peer, got, [k for k in keys if k not in got]))

    def sample(self, rss):
        self.now += 0.05
        self.do(MemorySample(rss, self.now))

    def reports(self, typ):
        return [i for i in self.sent if type(i) is typ]

    def state(self, key):
        ts = self.w.tasks.get(key)
        return ts.state if ts is not None else "released"

    def check_store(self):
        """The adapter's values are exactly where the machine says they are."""
        w = self.w
        assert self.memory == {k for k, ts in w.tasks.items() if ts.state == "memory"}
        assert set(self.disk) == {k for k, ts in w.tasks.items() if ts.state == "spilled"}
        assert sum(self.disk.values()) == w.spilled_bytes


def test_chain_runs_and_fetched_inputs_are_dropped_after_use():
    """a (on peer p) -> b -> c here; a is fetched once, dropped once b ran."""
    sim = WSim()
    sim.assign("b", {"a": ["p", "q"]})
    assert sim.state("b") == "waiting" and sim.state("a") == "flight"
    assert sim.fetching == {"p": ["a"]} or sim.fetching == {"q": ["a"]}
    (peer,) = sim.fetching
    sim.deliver(peer)
    assert sim.running == ["b"] and sim.state("a") == "memory"
    sim.finish("b", 30)
    assert sim.state("a") == "released" and "a" not in sim.memory
    assert [(r.key, r.nbytes) for r in sim.reports(ReportFinished)] == [("b", 30)]
    sim.assign("c", {"b": ["me"]})
    assert sim.running == ["c"]  # b is here: nothing to fetch
    sim.finish("c")
    sim.do(KeysFreed(["b", "c"]))
    assert not sim.w.tasks and not sim.memory
    sim.check_store()


def test_threads_bound_and_priority_order():
    sim = WSim(nthreads=2)
    for i, prio in enumerate([5, 1, 4, 2, 3]):
        sim.assign(f"t{i}", priority=prio)
    assert sim.running == ["t0", "t1"]  # the first two took the free threads
    order = []
    while sim.running:
        key = sim.running[0]
        order.append(key)
        sim.finish(key)
    assert order == ["t0", "t1", "t3", "t4", "t2"]


def test_fetches_are_batched_per_peer():
    sim = WSim()
    n = FETCH_BATCH + 5
    sim.assign("sum", {f"x{i}": ["p"] for i in range(n)})
    assert list(sim.fetching) == ["p"] and len(sim.fetching["p"]) == FETCH_BATCH
    sim.deliver("p")
    assert len(sim.fetching["p"]) == 5 and not sim.running
    sim.deliver("p")
    assert sim.running == ["sum"]


def test_fetches_are_bounded_in_bytes():
    """limit 1000: at most 100 bytes asked at once (one key may pass it alone)."""
    sim = WSim(limit=1000)
    sizes = {"a": 60, "b": 30, "c": 50, "d": 500}
    sim.do(TaskAssigned("t", b"spec", 0, {k: ["p"] for k in sizes}, None, sizes))
    assert sim.fetching == {"p": ["a", "b"]}
    assert sim.w.transfer_bytes == 90
    sim.deliver("p")
    assert sim.fetching == {"p": ["c"]}
    sim.deliver("p")
    assert sim.fetching == {"p": ["d"]}  # alone, though bigger than the bound
    sim.deliver("p")
    assert sim.running == ["t"] and sim.w.transfer_bytes == 0


def test_missing_data_tries_other_holders_then_reports():
    sim = WSim()
    sim.assign("b", {"a": ["p", "q"]})
    (first,) = sim.fetching
    sim.deliver(first, have=())
    (second,) = sim.fetching
    assert second != first
    sim.deliver(second, have=())
    (missing,) = sim.reports(ReportMissing)
    assert (missing.key, missing.dependency, missing.errant) == ("b", "a", second)
    assert not sim.w.tasks and not sim.running


def test_input_without_holders_is_reported_at_once():
    sim = WSim()
    sim.assign("b", {"a": ["me"]})  # the scheduler thinks we hold it; we do not
    (missing,) = sim.reports(ReportMissing)
    assert missing.key == "b" and not sim.w.tasks


def test_freed_while_executing_drops_the_result():
    sim = WSim()
    sim.assign("x")
    sim.do(KeysFreed(["x"]))
    assert sim.state("x") == "executing"
    sim.finish("x")
    assert not sim.reports(ReportFinished) and not sim.w.tasks and not sim.memory


def test_failure_is_reported_and_frees_the_thread():
    sim = WSim()
    sim.assign("bad")
    sim.assign("good")
    sim.fail("bad")
    (err,) = sim.reports(ReportErred)
    assert err.key == "bad" and sim.running == ["good"]


def test_stolen_task_is_dropped_unless_running():
    sim = WSim()
    sim.assign("a")
    sim.assign("b")
    sim.do(TaskStolen("b"))
    sim.do(TaskStolen("a"))  # running: it finishes here
    assert sim.state("b") == "released" and sim.state("a") == "executing"
    sim.finish("a")
    assert [r.key for r in sim.reports(ReportFinished)] == ["a"]


def test_target_spills_least_recently_used_first():
    """limit 1000, target 60%: four results of 200 fit (800 > 600 spills)."""
    sim = WSim(limit=1000, spill=None, pause=None)
    for k in "abc":
        sim.assign(k)
        sim.finish(k, 200)
    assert sim.w.managed == 600 and not sim.disk
    sim.do(DataRequested(["a"]))  # a peer read a: b is now the oldest
    sim.assign("d")
    sim.finish("d", 200)
    assert list(sim.disk) == ["b"] and sim.state("b") == "spilled"
    assert sim.w.managed == 600 and sim.w.spilled_bytes == 200
    sim.assign("e", {"c": ["me"]})  # running e uses c: c becomes recent
    sim.finish("e", 200)
    assert list(sim.disk) == ["b", "a"]
    sim.check_store()


def test_result_bigger_than_target_goes_to_disk_at_once():
    sim = WSim(limit=1000, compress=0.25)
    sim.assign("big")
    sim.finish("big", 900)
    assert sim.state("big") == "spilled" and sim.w.managed == 0
    assert sim.w.spilled_bytes == 225  # what the disk reported, not the size in memory
    sim.do(KeysFreed(["big"]))
    assert not sim.disk and sim.w.spilled_bytes == 0


def test_spilled_inputs_still_run_their_dependents():
    sim = WSim(limit=1000)
    sim.assign("a")
    sim.finish("a", 900)
    assert sim.state("a") == "spilled"
    sim.assign("b", {"a": ["me"]})
    assert sim.running == ["b"]  # the adapter reads a back from disk for b
    sim.finish("b", 10)
    assert sim.state("a") == "spilled"  # still wanted by the scheduler


def test_rss_above_spill_spills_until_the_estimate_is_below_target():
    """Unmanaged memory counts: 500 managed + 300 unmanaged is 80% of 1000."""
    sim = WSim(limit=1000, pause=None)
    for k in "abcde":
        sim.assign(k)
        sim.finish(k, 100)
    assert not sim.disk
    sim.sample(800)  # above spill (700): spill down to target (600)
    assert list(sim.disk) == ["a", "b"]
    sim.sample(800)  # the RSS did not fall (allocator): spill more, oldest first
    assert list(sim.disk) == ["a", "b", "c", "d"]
    sim.check_store()


def test_pause_and_unpause_on_rss():
    sim = WSim(limit=1000)
    sim.assign("a")
    sim.sample(850)  # above pause (800)
    (status,) = sim.reports(ReportStatus)
    assert status.status == "paused" and "80%" in status.reason
    assert status.metrics["executing_keys"] == ["a"]
    sim.assign("b")
    sim.assign("c", {"x": ["p"]})
    sim.finish("a", 10)
    assert not sim.running and not sim.fetching  # nothing new starts, nothing is fetched
    assert sim.state("b") == "ready" and sim.state("x") == "fetch"
    sim.sample(500)
    assert [s.status for s in sim.reports(ReportStatus)] == ["paused", "running"]
    assert sim.running == ["b"] and list(sim.fetching) == ["p"]


def test_disk_bound_pauses_until_spilled_data_is_released():
    sim = WSim(limit=1000, max_spill=300, spill=None, pause=None)
    for k in "abcd":
        sim.assign(k)
        sim.finish(k, 200)
    assert list(sim.disk) == ["a"]
    sim.assign("e")
    sim.finish("e", 200)  # a second spill would pass 300 bytes on disk
    assert list(sim.disk) == ["a"] and sim.w.status == "paused"
    assert "max-spill" in sim.w.pause_reason
    sim.assign("f")
    assert not sim.running
    sim.do(KeysFreed(["a"]))  # room on disk again: b goes there, the worker runs
    assert list(sim.disk) == ["b"] and sim.w.status == "running" and sim.running == ["f"]
    sim.check_store()


def test_disk_refusing_a_spill_keeps_the_value_and_pauses():
    sim = WSim(limit=1000, spill=None, pause=None)
    sim.refuse_disk = True
    for k in "abcd":
        sim.assign(k)
        sim.finish(k, 200)
    assert sim.state("a") == "memory" and sim.w.status == "paused"
    assert "disk full" in sim.w.pause_reason
    assert next(iter(sim.w.lru)) == "a"  # still first to go
    sim.refuse_disk = False
    sim.do(KeysFreed(["b", "c"]))  # below target again
    assert sim.w.status == "running"
    sim.check_store()


def test_thresholds_off_spill_nothing():
    sim = WSim(limit=1000, target=None, spill=None, pause=None, terminate=None, nanny=False)
    for k in "abcdef":
        sim.assign(k)
        sim.finish(k, 300)
    sim.sample(5000)
    assert not sim.disk and sim.w.status == "running" and not sim.reports(Terminate)


def test_no_limit_means_no_memory_management():
    sim = WSim(limit=0, nanny=False)
    sim.assign("a")
    sim.finish("a", 10**12)
    sim.sample(10**12)
    assert not sim.disk and sim.w.status == "running" and not sim.reports(Terminate)


def test_terminate_only_without_a_nanny():
    with_nanny = WSim(limit=1000, nanny=True)
    with_nanny.sample(990)
    assert not with_nanny.reports(Terminate)
    alone = WSim(limit=1000, nanny=False)
    alone.sample(990)
    alone.sample(995)
    (term,) = alone.reports(Terminate)
    assert "95%" in term.reason


def test_scattered_data_and_reassignment():
    sim = WSim()
    sim.memory.add("s")
    sim.do(DataPut({"s": 50}))
    assert sim.state("s") == "memory" and sim.w.tasks["s"].held
    sim.assign("s")  # asked to compute what is here: reported at once
    assert [r.key for r in sim.reports(ReportFinished)] == ["s"]
    sim.assign("t", {"s": ["me"]})
    sim.finish("t")
    sim.do(KeysFreed(["s"]))
    assert sim.state("s") == "released"


def test_freed_input_kept_while_a_local_task_needs_it():
    sim = WSim(nthreads=1)
    sim.assign("a")
    sim.finish("a")
    sim.assign("block")  # occupies the thread
    sim.assign("b", {"a": ["me"]})
    sim.do(KeysFreed(["a"]))
    assert sim.state("a") == "memory"  # b still needs it
    sim.finish("block")
    sim.finish("b")
    assert sim.state("a") == "released"


def test_late_fetch_of_released_key_is_deleted():
    sim = WSim()
    sim.assign("b", {"a": ["p"]})
    sim.do(KeysFreed(["b"]))
    assert sim.state("a") == "released"
    sim.deliver("p")
    assert not sim.memory and not sim.w.tasks


def test_story_records_transitions_with_their_stimulus():
    sim = WSim(limit=1000)
    sim.assign("a")
    sim.finish("a", 900)
    steps = [(start, finish) for _, start, finish, _ in sim.w.story_of("a")]
    assert steps == [
        ("new", "waiting"),
        ("waiting", "ready"),
        ("ready", "executing"),
        ("executing", "memory"),
        ("memory", "spilled"),
    ]
    assert all(entry[3].startswith("s") for entry in sim.w.story_of("a"))


def test_validate_state_catches_corruption():
    sim = WSim()
    sim.assign("a")
    sim.finish("a", 10)
    sim.w.managed += 1
    with pytest.raises(AssertionError):
        sim.w.validate_state()


def test_random_simulation_keeps_invariants():
    """Random tasks, inputs, results, frees, thefts, RSS samples and a
    flaky disk, with a small budget: the state is valid after every event,
    the adapter's values are where the machine says, and every assigned
    task is finished, failed, stolen, freed or reported missing."""
    for seed in range(6):
        rng = random.Random(seed)
        sim = WSim(nthreads=2, limit=2000, max_spill=3000 if seed % 2 else 0)
        assigned = set()
        for step in range(1500):
            r = rng.random()
            done = [k for k, ts in sim.w.tasks.items() if ts.state in ("memory", "spilled")]
            if r < 0.25:
                key = f"t{step}"
                deps = {}
                for d in rng.sample(done, min(len(done), rng.randint(0, 2))):
                    deps[d] = ["me"]
                if rng.random() < 0.3:
                    deps[f"remote{rng.randint(0, 20)}"] = rng.sample(["p", "q", "r"], 2)
                sim.assign(key, deps, priority=rng.randint(0, 5))
                assigned.add(key)
            elif r < 0.5 and sim.running:
                key = rng.choice(sim.running)
                if rng.random() < 0.1:
                    sim.fail(key)
                else:
                    sim.finish(key, rng.randint(1, 700))
            elif r < 0.6 and sim.fetching:
                peer = rng.choice(list(sim.fetching))
                keys = sim.fetching[peer]
                sim.deliver(peer, have=rng.sample(keys, rng.randint(0, len(keys))))
            elif r < 0.7 and done:
                sim.do(KeysFreed(rng.sample(done, min(len(done), 2))))
            elif r < 0.75 and assigned:
                sim.do(TaskStolen(rng.choice(sorted(assigned))))
            elif r < 0.9:
                sim.sample(sim.w.managed + rng.randint(0, 1500))
            else:
                sim.refuse_disk = rng.random() < 0.2
                sim.do(DataRequested(rng.sample(done, min(len(done), 3))))
            sim.check_store()
        # the scheduler moves the tasks of a paused worker elsewhere and lets
        # go of every result: whatever paused the worker clears
        sim.refuse_disk = False
        sim.sample(0)
        while sim.running or sim.fetching or sim.w.status == "paused":
            if sim.running:
                sim.finish(sim.running[0], 100)
            elif sim.fetching:
                sim.deliver(next(iter(sim.fetching)))
            else:
                for key, ts in list(sim.w.tasks.items()):
                    if ts.state in ("waiting", "ready"):
                        sim.do(TaskStolen(key))
                held = [k for k, ts in sim.w.tasks.items() if ts.state in ("memory", "spilled")]
                sim.do(KeysFreed(held))
        assert sim.w.status == "running", seed
        sim.do(KeysFreed(list(sim.w.tasks)))
        assert not sim.w.tasks and not sim.memory and not sim.disk, seed
        assert sim.w.managed == sim.w.spilled_bytes == 0
        assert sim.w.transition_count > 500, seed


def test_thousands_of_events_without_validation():
    sim = WSim(nthreads=4, limit=10**6, validate=False)
    for i in range(5000):
        sim.assign(f"x{i}", {f"x{i - 1}": ["me"]} if i % 2 else {})
        while sim.running:
            sim.finish(sim.running[0], 300)
        if i % 10 == 0:
            sim.sample(sim.w.managed)
    sim.w.validate_state()
    assert len(sim.reports(ReportFinished)) == 5000
    assert sim.w.transition_count > 15_000


def test_a_burst_of_events_is_reconsidered_once():
    """Results arriving together: one Spill of the oldest, one round of Execute."""
    sim = WSim(nthreads=3, limit=1000, spill=None, pause=None)
    for k in ("a", "b", "c", "d", "e"):
        sim.assign(k)
    assert sim.running == ["a", "b", "c"]
    sim.running.clear()
    sim.memory.update("abc")
    out = sim.do_many([ExecuteSuccess(k, 300, 0.1) for k in "abc"])
    kinds = [type(i).__name__ for i in out]
    assert kinds.count("Spill") == 1 and kinds.count("Execute") == 2, kinds
    assert list(sim.disk) == ["a"] and sim.running == ["d", "e"]
