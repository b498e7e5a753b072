"""Rebalance, replicate and graceful retirement in the scheduler and worker
state machines, driven without processes (``validate_state`` after every
event), and the planning functions of ``moves.py`` alone.

``MSim`` plays the workers: it runs what it is told, fetches the copies it
is asked for (``deliver``) and forgets what it is told to free.
"""

import random

import pytest

from shoal.core.task import Task
from shoal.distributed.moves import plan_rebalance, plan_replicate
from shoal.distributed.scheduler_events import (
    AcquireReplicas,
    AddClient,
    AddWorker,
    ComputeTask,
    FreeKeys,
    MissingData,
    Rebalance,
    ReleaseKeys,
    RemoveWorker,
    ReplicaAdded,
    Replicate,
    RequestDone,
    RetireWorkers,
    TaskFinished,
    UpdateGraph,
)
from shoal.distributed.scheduler_state import SchedulerState
from shoal.distributed.worker_events import (
    AcquireReplicas as WorkerAcquireReplicas,
)
from shoal.distributed.worker_events import (
    Fetch,
    FetchDone,
    KeysFreed,
    ReportMissing,
    ReportReplica,
    TaskAssigned,
)
from shoal.distributed.worker_state import WorkerState as WorkerMachine

pytestmark = pytest.mark.timeout(60)


class MSim:
    def __init__(self, workers=("a", "b", "c"), limits=None):
        self.s = SchedulerState(validate=True)
        self.running = {w: [] for w in workers}
        self.memory = {w: set() for w in workers}
        self.asked = {}  # worker -> {key: holders} copies asked of it
        self.done = []
        self.computed = []  # every ComputeTask, in order
        self.n = 0
        for w in workers:
            self.do(AddWorker(w, nthreads=1, memory_limit=(limits or {}).get(w, 0)))
        self.do(AddClient("c"))

    def do(self, ev):
        self.n += 1
        ev.stimulus_id = f"s{self.n}"
        out = self.s.handle(ev)
        for ins in out:
            typ = type(ins)
            if typ is ComputeTask:
                self.running[ins.worker].append(ins.key)
                self.computed.append(ins.key)
            elif typ is FreeKeys:
                for k in ins.keys:
                    self.memory.get(ins.worker, set()).discard(k)
            elif typ is AcquireReplicas:
                self.asked.setdefault(ins.worker, {}).update(ins.who_has)
            elif typ is RequestDone:
                self.done.append(ins)
        return out

    def finish(self, w, key, nbytes=8):
        """``key`` (running on ``w``) finishes there."""
        self.running[w].remove(key)
        self.memory[w].add(key)
        self.do(TaskFinished(w, key, nbytes, 0.01))

    def deliver(self, worker):
        """``worker`` fetches every copy asked of it and reports each."""
        for key, holders in self.asked.pop(worker, {}).items():
            assert any(key in self.memory[h] for h in holders), (key, holders)
            self.memory[worker].add(key)
            self.do(
                ReplicaAdded(worker, key, self.s.tasks[key].nbytes if key in self.s.tasks else 0)
            )

    def holders(self, key):
        return sorted(ws.address for ws in self.s.tasks[key].who_has)

    def load(self):
        return {a: ws.nbytes for a, ws in self.s.workers.items()}


def _place(sim, worker, sizes):
    """Results of ``sizes`` computed on ``worker`` alone (others busy meanwhile)."""
    keys = list(sizes)
    for w in sim.s.workers:
        if w != worker:
            sim.s.workers[w].status = "paused"  # takes no task: all go to ``worker``
    sim.do(
        UpdateGraph(
            "c",
            keys,
            [()] * len(keys),
            [Task(abs, i) for i in range(len(keys))],
            list(range(len(keys))),
            keys,
        )
    )
    while sim.running[worker]:
        key = sim.running[worker][0]
        sim.finish(worker, key, sizes[key])
    for w in sim.s.workers:
        sim.s.workers[w].status = "running"
    assert all(sim.holders(k) == [worker] for k in keys)


def test_rebalance_moves_from_above_the_mean_to_below_and_drops_the_senders_copies():
    sim = MSim()
    _place(sim, "a", {f"x{i}": 100 for i in range(6)})
    sim.do(Rebalance("r1"))
    assert not sim.done  # waits for the copies
    assert set(sim.asked) == {"b", "c"}
    for w in ("b", "c"):
        for holders in sim.asked[w].values():
            assert holders[0] == "a"  # fetched from the sender
        sim.deliver(w)
    (done,) = sim.done
    assert done.request == "r1" and not done.error
    assert done.result["moved"] == 4 and done.result["moved_bytes"] == 400
    assert sim.load() == {"a": 200, "b": 200, "c": 200}
    assert sim.memory == {
        w: {k for k, ts in sim.s.tasks.items() if w in sim.holders(k)} for w in "abc"
    }
    assert all(len(sim.holders(k)) == 1 for k in sim.s.tasks)  # moved, not copied


def test_rebalance_respects_memory_budgets_and_leaves_small_differences():
    # b may hold 0.6 x 250 = 150 bytes: one result of 100 fits, not two
    sim = MSim(workers=("a", "b"), limits={"b": 250})
    _place(sim, "a", {f"x{i}": 100 for i in range(4)})
    sim.do(Rebalance("r1"))
    sim.deliver("b")
    assert sim.done[0].result["moved"] == 1 and sim.load() == {"a": 300, "b": 100}
    sim2 = MSim(workers=("a", "b"))
    _place(sim2, "a", {"big": 100})
    sim2.do(Rebalance("r2"))  # moving the only result would just swap the imbalance
    assert sim2.done[0].result["moved"] == 0 and not sim2.asked


def test_rebalance_of_chosen_keys_and_workers_only():
    sim = MSim()
    _place(sim, "a", {f"x{i}": 100 for i in range(6)})
    sim.do(Rebalance("r1", keys=["x0", "x1", "x2"], workers=["a", "b"]))
    assert set(sim.asked) == {"b"} and set(sim.asked["b"]) <= {"x0", "x1", "x2"}
    sim.deliver("b")
    assert sim.load()["c"] == 0 and sim.done[0].result["moved"] >= 1


def test_replicate_adds_copies_then_drops_the_surplus():
    sim = MSim()
    _place(sim, "a", {"x": 50, "y": 50})
    sim.do(Replicate("r1", ["x"], n=3))
    assert {w: list(k) for w, k in sim.asked.items()} == {"b": ["x"], "c": ["x"]}
    sim.deliver("b")
    assert not sim.done  # c's copy still to come
    sim.deliver("c")
    assert sim.done[0].result["moved"] == 2 and sim.holders("x") == ["a", "b", "c"]
    sim.do(Replicate("r2", ["x", "y"], n=1))
    assert sim.done[1].result["dropped"] == 2 and sim.done[1].result["moved"] == 0
    assert len(sim.holders("x")) == 1 and sim.holders("y") == ["a"]
    assert sum("x" in m for m in sim.memory.values()) == 1


def test_a_copy_that_cannot_be_made_ends_the_request_as_failed():
    sim = MSim()
    _place(sim, "a", {"x": 50})
    sim.do(Replicate("r1", ["x"], n=3))
    sim.do(MissingData("b", "x", "x", "a"))  # b could not get it (a lost it)
    sim.do(RemoveWorker("c", reason="killed"))  # c left before its copy came
    (done,) = sim.done
    assert done.result["failed"] == 2 and done.result["moved"] == 0
    assert not sim.s.copying and not sim.s.requests


def test_a_copy_of_a_key_released_meanwhile_is_freed_on_arrival():
    sim = MSim()
    _place(sim, "a", {"x": 50})
    sim.do(Replicate("r1", ["x"], n=2))
    (recipient,) = sim.asked
    sim.do(ReleaseKeys("c", ["x"]))
    assert "x" not in sim.s.tasks
    out = sim.do(ReplicaAdded(recipient, "x", 50))
    assert [(type(i), i.worker, i.keys) for i in out if type(i) is FreeKeys] == [
        (FreeKeys, recipient, ["x"])
    ]
    assert sim.done and not sim.s.requests


def test_retirement_copies_unique_results_waits_for_running_tasks_and_recomputes_nothing():
    sim = MSim(workers=("a", "b"))
    _place(sim, "a", {"x": 100, "y": 100})
    sim.s.workers["b"].status = "paused"
    sim.do(UpdateGraph("c", ["z"], [()], [Task(abs, 3)], [0], ["z"]))
    sim.s.workers["b"].status = "running"
    assert sim.running["a"] == ["z"]
    sim.do(RetireWorkers("r1", ["a"]))
    assert set(sim.asked["b"]) == {"x", "y"}
    # new work goes elsewhere while a retires
    sim.do(UpdateGraph("c", ["w"], [()], [Task(abs, 4)], [0], ["w"]))
    assert sim.running["b"] == ["w"]
    sim.deliver("b")
    assert not sim.done  # z still runs on a
    sim.finish("a", "z", 100)
    assert set(sim.asked["b"]) == {"z"}  # its result is unique to a: copied too
    sim.deliver("b")
    (done,) = sim.done
    assert done.result["retired"] == ["a"] and done.result["moved"] == 3
    computed = list(sim.computed)
    sim.do(RemoveWorker("a", reason="retired", expected=True))
    assert sim.computed == computed  # nothing runs again
    assert all(sim.holders(k) == ["b"] for k in ("x", "y", "z"))
    assert all(ts.state == "memory" for ts in sim.s.tasks.values() if ts.key != "w")


def test_retiring_every_worker_holding_data_fails_and_keeps_them():
    sim = MSim(workers=("a",))
    _place(sim, "a", {"x": 10})
    sim.do(RetireWorkers("r1", ["a"]))
    (done,) = sim.done
    assert "no other running worker" in done.error
    assert not sim.s.workers["a"].retiring
    sim.do(UpdateGraph("c", ["y"], [()], [Task(abs, 1)], [0], ["y"]))
    assert sim.running["a"] == ["y"]  # it takes tasks again


def test_random_moves_keep_the_state_valid_and_lose_nothing():
    rng = random.Random(3)
    sim = MSim(workers=("a", "b", "c", "d"))
    _place(sim, "a", {f"x{i}": rng.randrange(1, 500) for i in range(40)})
    for step in range(30):
        choice = rng.random()
        keys = [k for k in sim.s.tasks if rng.random() < 0.3]
        if choice < 0.4:
            sim.do(Rebalance(f"r{step}"))
        elif choice < 0.8:
            sim.do(Replicate(f"r{step}", keys, n=rng.choice([None, 1, 2, 3])))
        else:
            sim.do(ReleaseKeys("c", keys[:2]))
        for w in list(sim.asked):
            if rng.random() < 0.1:
                for key in sim.asked.pop(w):
                    sim.do(MissingData(w, key, key, ""))
            else:
                sim.deliver(w)
        assert not sim.s.requests and not sim.s.copying
    for key, ts in sim.s.tasks.items():
        assert ts.state == "memory" and ts.who_has
        for ws in ts.who_has:
            assert key in sim.memory[ws.address]


# ------------------------------------------------------------ the planners


class _W:
    def __init__(self, name, nbytes=0, limit=0):
        self.address, self.nbytes, self.memory_limit, self.has_what = name, nbytes, limit, set()
        self.memory = {}  # as reported by heartbeats: none yet


class _T:
    def __init__(self, key, nbytes, *holders):
        self.key, self.nbytes, self.who_has = key, nbytes, tuple(holders)
        for h in holders:
            h.has_what.add(self)
            h.nbytes += nbytes


@pytest.mark.parametrize("seed", range(5))
def test_each_rebalance_move_brings_sender_and_recipient_closer_to_the_mean(seed):
    rng = random.Random(seed)
    workers = [_W(f"w{i}", limit=rng.choice([0, 5000])) for i in range(rng.randrange(2, 6))]
    for i in range(rng.randrange(0, 60)):
        _T(f"k{i}", rng.randrange(1, 300), rng.choice(workers))
    before = {w: w.nbytes for w in workers}
    mean = sum(before.values()) / len(workers)
    moves = plan_rebalance(workers, None, 0.6)
    load = dict(before)
    for m in moves:
        s, r, size = m.sender, m.recipient, m.task.nbytes
        assert abs(load[s] - size - mean) < abs(load[s] - mean)
        assert abs(load[r] + size - mean) < abs(load[r] - mean)
        assert r not in m.task.who_has
        load[s] -= size
        load[r] += size
        if r.memory_limit:
            assert load[r] <= 0.6 * r.memory_limit
    spread = sum(abs(v - mean) for v in load.values())
    assert spread <= sum(abs(v - mean) for v in before.values())


def test_replicate_plan_caps_copies_at_the_number_of_workers_and_skips_full_ones():
    a, b, c = _W("a"), _W("b", limit=100), _W("c")
    x = _T("x", 80, a)
    add, drop = plan_replicate([x], 5, [a, b, c], 0.6)  # b may hold 60 bytes: no room
    assert [(m.task.key, m.recipient.address) for m in add] == [("x", "c")] and not drop
    add, drop = plan_replicate([x], None, [a, c], 0.6)
    assert [m.recipient.address for m in add] == ["c"]


# ------------------------------------------------------ the worker's side


def test_worker_fetches_a_copy_reports_it_and_keeps_it_until_freed():
    w = WorkerMachine(nthreads=1, address="me", validate=True)
    out = w.handle(WorkerAcquireReplicas({"x": ["p", "me"]}, {"x": 10}, stimulus_id="s1"))
    assert [(type(i), i.peer, i.keys) for i in out] == [(Fetch, "p", ["x"])]
    out = w.handle(FetchDone("p", {"x": 12}, [], stimulus_id="s2"))
    assert [(type(i), i.key, i.nbytes) for i in out] == [(ReportReplica, "x", 12)]
    assert w.tasks["x"].state == "memory" and w.managed == 12
    w.handle(KeysFreed(["x"], stimulus_id="s3"))
    assert not w.tasks and w.managed == 0


def test_worker_reports_a_copy_no_peer_has_and_one_it_holds_already():
    w = WorkerMachine(nthreads=1, address="me", validate=True)
    w.handle(WorkerAcquireReplicas({"x": ["p"]}, stimulus_id="s1"))
    out = w.handle(FetchDone("p", {}, ["x"], stimulus_id="s2"))
    assert [(type(i), i.key, i.errant) for i in out] == [(ReportMissing, "x", "p")]
    assert not w.tasks
    # an input fetched for a local task becomes a kept copy at once
    w.handle(TaskAssigned("t", b"spec", 0, {"y": ["p"]}, stimulus_id="s3"))
    w.handle(FetchDone("p", {"y": 5}, [], stimulus_id="s4"))
    out = w.handle(WorkerAcquireReplicas({"y": ["p"]}, stimulus_id="s5"))
    assert [(type(i), i.key) for i in out] == [(ReportReplica, "y")]
    assert w.tasks["y"].held
