"""The scheduler state machine, driven without sockets.

Graphs are drawn in docstrings; a small simulator plays the workers (it
finishes, fails or loses tasks in random orders) and ``validate_state``
runs after every event.
"""

import random
from operator import add

import pytest

from shoal.core import config
from shoal.core.order import order_keys
from shoal.core.task import Ref, Task
from shoal.distributed.scheduler_events import (
    AddClient,
    AddWorker,
    CancelKeys,
    CloseWorker,
    ComputeTask,
    FreeKeys,
    Heartbeat,
    KeyCancelled,
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
from shoal.distributed.scheduler_state import KilledWorker, LostData, SchedulerState

pytestmark = pytest.mark.timeout(60)


class Sim:
    """A scheduler state plus fake workers that run what they are told."""

    def __init__(self, workers=("a", "b"), nthreads=1, validate=True):
        self.s = SchedulerState(validate=validate)
        self.running = {}  # worker -> list of keys it runs
        self.memory = {}  # worker -> set of keys it holds
        self.to_client = []
        self.stim = 0
        for w in workers:
            self.add_worker(w, nthreads)
        self.do(AddClient("c"))

    def do(self, ev):
        self.stim += 1
        ev.stimulus_id = f"s{self.stim}"
        out = self.s.handle(ev)
        for ins in out:
            if type(ins) is ComputeTask:
                assert ins.key not in self.running[ins.worker]
                self.running[ins.worker].append(ins.key)
            elif type(ins) is FreeKeys:
                for k in ins.keys:
                    if k in self.running.get(ins.worker, ()):
                        self.running[ins.worker].remove(k)
                    self.memory.get(ins.worker, set()).discard(k)
            elif type(ins) is StealTask:
                if ins.key in self.running.get(ins.worker, ()):
                    self.running[ins.worker].remove(ins.key)
            elif type(ins) in (KeyInMemory, KeyErred, KeyCancelled):
                self.to_client.append(ins)
        return out

    def add_worker(self, w, nthreads=1):
        self.running[w] = []
        self.memory[w] = set()
        self.do(AddWorker(w, nthreads=nthreads))

    def kill(self, w):
        self.running.pop(w)
        self.memory.pop(w)
        self.do(RemoveWorker(w, reason="killed"))

    def submit(self, graph, wanted, client="c", retries=None):
        known = {
            d: None
            for node in graph.values()
            for d in getattr(node, "dependencies", ())
            if d not in graph
        }
        order = {k: i for i, k in enumerate(order_keys({**known, **graph}, wanted))}
        keys = list(graph)
        self.do(
            UpdateGraph(
                client,
                keys,
                [getattr(graph[k], "dependencies", ()) for k in keys],
                [graph[k] for k in keys],
                [order[k] for k in keys],
                list(wanted),
                retries or {},
            )
        )

    def finish(self, w, key, nbytes=8):
        self.running[w].remove(key)
        self.memory[w].add(key)
        self.do(TaskFinished(w, key, nbytes, 0.01))

    def fail(self, w, key, exc):
        self.running[w].remove(key)
        self.do(TaskErred(w, key, exc, "tb"))

    def step(self, rng):
        """Finish one random running task; False when nothing runs."""
        busy = [w for w, ks in self.running.items() if ks]
        if not busy:
            return False
        w = rng.choice(busy)
        self.finish(w, rng.choice(self.running[w]))
        return True

    def run_all(self, rng=None):
        rng = rng or random.Random(0)
        while self.step(rng):
            pass

    def client_events(self, typ):
        return {i.key for i in self.to_client if type(i) is typ}


def inc(x):
    return x + 1


def tree(width):
    """x0..x{width-1} -> pairwise adds -> ... -> one root 'total'."""
    graph = {f"x{i}": Task(inc, i) for i in range(width)}
    level = [f"x{i}" for i in range(width)]
    n = 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            key = f"t{n}"
            n += 1
            pair = level[i : i + 2]
            graph[key] = Task(sum, [Ref(k) for k in pair])
            nxt.append(key)
        level = nxt
    graph["total"] = Task(inc, Ref(level[0]))
    return graph


def test_chain_runs_in_order_and_releases_intermediates():
    """a -> b -> c; only c is wanted, so a and b are forgotten once c is done."""
    sim = Sim(workers=("a",))
    graph = {"x": Task(inc, 1), "y": Task(inc, Ref("x")), "z": Task(inc, Ref("y"))}
    sim.submit(graph, ["z"])
    assert sim.running["a"] == ["x"]
    sim.finish("a", "x")
    assert sim.running["a"] == ["y"]
    sim.finish("a", "y")
    # x's memory is freed; its record stays while y may need recomputing
    assert sim.s.tasks["x"].state == "released" and "x" not in sim.memory["a"]
    sim.finish("a", "z")
    assert {k: ts.state for k, ts in sim.s.tasks.items()} == {
        "x": "released",
        "y": "released",
        "z": "memory",
    }
    assert sim.client_events(KeyInMemory) == {"z"}
    assert sim.memory["a"] == {"z"}
    sim.do(ReleaseKeys("c", ["z"]))
    assert not sim.s.tasks and not sim.memory["a"]


def test_diamond_placement_prefers_data_locality():
    r"""   d
          / \
         b   c     b and c need a's 1 GB; they run where a is.
          \ /
           a
    """
    sim = Sim(workers=("w1", "w2"), nthreads=2)
    graph = {
        "a": Task(inc, 1),
        "b": Task(inc, Ref("a")),
        "c": Task(inc, Ref("a")),
        "d": Task(add, Ref("b"), Ref("c")),
    }
    sim.submit(graph, ["d"])
    (where,) = [w for w, ks in sim.running.items() if ks]
    sim.finish(where, "a", nbytes=10**9)
    assert sorted(sim.running[where]) == ["b", "c"]


def test_root_tasks_are_queued_to_thread_count():
    sim = Sim(workers=("a", "b"), nthreads=2)
    graph = {f"x{i}": Task(inc, i) for i in range(100)}
    sim.submit(graph, list(graph))
    assert len(sim.running["a"]) == 2 and len(sim.running["b"]) == 2
    assert sum(ts.state == "queued" for ts in sim.s.tasks.values()) == 96
    sim.finish("a", sim.running["a"][0])
    assert len(sim.running["a"]) == 2  # refilled from the queue, no more
    sim.run_all()
    assert sim.client_events(KeyInMemory) == set(graph)


def test_queue_is_drained_in_priority_order():
    sim = Sim(workers=("a",))
    graph = {f"x{i}": Task(inc, i) for i in range(10)}
    sim.submit(graph, list(graph))
    seen = []
    while sim.running["a"]:
        key = sim.running["a"][0]
        seen.append(key)
        sim.finish("a", key)
    assert seen == [f"x{i}" for i in range(10)]


def test_fast_root_tasks_get_more_slots():
    with config.set({"distributed.scheduler.fast-task-window": 0.1}):
        sim = Sim(workers=("a",))
    graph = {("x", i): Task(inc, i) for i in range(200)}  # one key prefix: "x"
    sim.submit(graph, list(graph))
    assert len(sim.running["a"]) == 1
    sim.finish("a", sim.running["a"][0])  # measured: 0.01 s per task
    assert len(sim.running["a"]) == 10
    sim.run_all()


def test_tree_reduction_completes_under_random_orders():
    graph = tree(64)
    for seed in range(5):
        sim = Sim(workers=("a", "b", "c"), nthreads=2)
        sim.submit(graph, ["total"])
        sim.run_all(random.Random(seed))
        assert sim.client_events(KeyInMemory) == {"total"}
        in_memory = {k for k, ts in sim.s.tasks.items() if ts.state == "memory"}
        assert in_memory == {"total"} and sim.memory["a"] | sim.memory["b"] | sim.memory["c"] == {
            "total"
        }
        sim.do(ReleaseKeys("c", ["total"]))
        assert not sim.s.tasks


def test_worker_death_reschedules_processing_and_recomputes_lost_results():
    sim = Sim(workers=("a", "b"))
    graph = {"x": Task(inc, 1), "y": Task(inc, 2), "z": Task(add, Ref("x"), Ref("y"))}
    sim.submit(graph, ["z"])
    ((wx, kx),) = [(w, ks[0]) for w, ks in sim.running.items() if ks and ks[0] == "x"]
    sim.finish(wx, "x")
    other = "b" if wx == "a" else "a"
    sim.kill(wx)  # x's result is lost; y may have been running there too
    assert sim.s.tasks["x"].state in ("processing", "queued")
    sim.run_all()
    assert sim.client_events(KeyInMemory) == {"z"}
    assert sim.memory[other] == {"z"}


def test_lost_dependency_of_processing_task_via_missing_data():
    sim = Sim(workers=("a", "b"), nthreads=1)
    graph = {"x": Task(inc, 1), "y": Task(inc, Ref("x"))}
    sim.submit(graph, ["y"])
    wx = next(w for w, ks in sim.running.items() if ks)
    sim.finish(wx, "x", nbytes=1)
    wy = next(w for w, ks in sim.running.items() if ks)
    if wy == wx:  # force the interesting case: y on another worker than x
        return
    sim.running[wy].remove("y")
    sim.do(MissingData(wy, "y", "x", wx))
    assert sim.s.tasks["x"].state in ("processing", "queued")
    sim.run_all()
    assert sim.client_events(KeyInMemory) == {"y"}


def test_killed_worker_after_allowed_failures():
    with config.set({"distributed.scheduler.allowed-failures": 1}):
        sim = Sim(workers=("a",))
    sim.submit({"bad": Task(inc, 1), "after": Task(inc, Ref("bad"))}, ["after"])
    sim.kill("a")
    sim.add_worker("b")
    assert sim.running["b"] == ["bad"]
    sim.kill("b")
    ts = sim.s.tasks["bad"]
    assert ts.state == "erred" and isinstance(ts.exception, KilledWorker)
    msg = str(ts.exception)
    assert "'bad'" in msg and "2 workers" in msg and "a (killed)" in msg and "b (killed)" in msg
    (err,) = [i for i in sim.to_client if type(i) is KeyErred]
    assert err.key == "after" and isinstance(err.exception, KilledWorker)


def test_errors_propagate_to_dependents_and_clients():
    sim = Sim(workers=("a",))
    graph = {"x": Task(inc, 1), "y": Task(inc, Ref("x")), "w": Task(inc, 5)}
    sim.submit(graph, ["y", "w"])
    boom = ZeroDivisionError("boom")
    sim.fail("a", "x", boom)
    sim.run_all()
    errs = {i.key: i for i in sim.to_client if type(i) is KeyErred}
    assert set(errs) == {"y"} and errs["y"].exception is boom
    assert sim.s.tasks["y"].state == "erred"
    assert sim.client_events(KeyInMemory) == {"w"}
    sim.do(ReleaseKeys("c", ["y", "w"]))
    assert not sim.s.tasks


def test_retries_rerun_a_failed_task():
    sim = Sim(workers=("a",))
    sim.submit({"x": Task(inc, 1)}, ["x"], retries={"x": 2})
    sim.fail("a", "x", ValueError("1"))
    sim.fail("a", "x", ValueError("2"))
    assert sim.running["a"] == ["x"]
    sim.fail("a", "x", ValueError("3"))
    (err,) = [i for i in sim.to_client if type(i) is KeyErred]
    assert str(err.exception) == "3"


def test_shared_keys_between_clients_are_reference_counted():
    sim = Sim(workers=("a",))
    sim.do(AddClient("d"))
    sim.submit({"x": Task(inc, 1)}, ["x"], client="c")
    sim.submit({"x": Task(inc, 1)}, ["x"], client="d")
    assert sim.running["a"] == ["x"]  # computed once
    sim.finish("a", "x")
    assert {(i.client, i.key) for i in sim.to_client} == {("c", "x"), ("d", "x")}
    sim.do(ReleaseKeys("c", ["x"]))
    assert sim.s.tasks["x"].state == "memory"
    sim.do(RemoveClient("d"))
    assert not sim.s.tasks


def test_release_while_processing_forgets_after_finish():
    sim = Sim(workers=("a",))
    sim.submit({"x": Task(inc, 1)}, ["x"])
    sim.do(ReleaseKeys("c", ["x"]))
    assert "x" not in sim.s.tasks and sim.running["a"] == []
    # a late report from the worker is answered with free-keys
    out = sim.do(TaskFinished("a", "x", 8, 0.01))
    assert [type(i) for i in out] == [FreeKeys]


def test_cancel_tells_client_and_forgets():
    sim = Sim(workers=("a",))
    sim.submit({"x": Task(inc, 1), "y": Task(inc, Ref("x"))}, ["y"])
    sim.do(CancelKeys("c", ["y"]))
    assert sim.client_events(KeyCancelled) == {"y"}
    assert not sim.s.tasks


def test_scattered_data_feeds_tasks_and_is_lost_with_its_worker():
    sim = Sim(workers=("a", "b"))
    sim.do(UpdateData("c", {"data": (["a"], 100)}))
    sim.memory["a"].add("data")
    sim.submit({"y": Task(inc, Ref("data"))}, ["y"])
    assert sim.running["a"] == ["y"]
    sim.kill("a")
    ts = sim.s.tasks["data"]
    assert ts.state == "erred" and isinstance(ts.exception, LostData)
    assert {i.key for i in sim.to_client if type(i) is KeyErred} == {"data", "y"}


def test_unknown_dependency_errs_clearly():
    sim = Sim(workers=("a",))
    sim.do(UpdateGraph("c", ["y"], [("ghost",)], [Task(inc, Ref("ghost"))], [0], ["y"]))
    (err,) = [i for i in sim.to_client if type(i) is KeyErred]
    assert "ghost" in str(err.exception)


def test_heartbeat_timeout_removes_worker():
    with config.set({"distributed.scheduler.worker-ttl": 5}):
        sim = Sim(workers=("a", "b"))
    sim.submit({"x": Task(inc, 1)}, ["x"])
    sim.do(Heartbeat("a", now=10.0, metrics={"cpu": 1}))
    sim.do(Heartbeat("b", now=10.0))
    out = sim.do(Tick(now=12.0))
    assert not [i for i in out if type(i) is CloseWorker]
    sim.do(Heartbeat("b", now=14.0))
    out = sim.do(Tick(now=16.0))
    assert [i.worker for i in out if type(i) is CloseWorker] == ["a"]
    assert list(sim.s.workers) == ["b"]
    sim.running.pop("a")
    assert sim.running["b"] == ["x"] or sim.s.tasks["x"].state == "processing"


def test_no_workers_queues_until_one_joins():
    sim = Sim(workers=())
    graph = {"x": Task(inc, 1), "y": Task(inc, Ref("x"))}
    sim.submit(graph, ["y"])
    assert sim.s.tasks["x"].state == "queued"
    sim.add_worker("late")
    assert sim.running["late"] == ["x"]
    sim.run_all()
    assert sim.client_events(KeyInMemory) == {"y"}


def test_stealing_moves_waiting_work_to_idle_worker():
    sim = Sim(workers=("a",))
    sim.do(UpdateData("c", {f"d{i}": (["a"], 1) for i in range(20)}))
    graph = {f"y{i}": Task(inc, Ref(f"d{i}")) for i in range(20)}
    sim.submit(graph, list(graph))
    assert len(sim.running["a"]) == 20
    sim.add_worker("b")
    out = sim.do(Tick(now=0.0))
    moved = [i.key for i in out if type(i) is StealTask]
    assert moved and len(sim.running["b"]) == len(moved)
    sim.run_all()
    assert sim.client_events(KeyInMemory) >= set(graph)


def test_fire_and_forget_is_released_when_done():
    sim = Sim(workers=("a",))
    sim.submit({"x": Task(inc, 1)}, ["x"])
    sim.do(UpdateGraph("fire-and-forget", [], [], [], [], ["x"]))
    sim.do(ReleaseKeys("c", ["x"]))
    assert sim.running["a"] == ["x"]
    sim.finish("a", "x")
    assert not sim.s.tasks


def test_fire_and_forget_of_a_finished_task_does_not_keep_it():
    """The fire-and-forget message may arrive after the task finished."""
    sim = Sim(workers=("a",))
    sim.submit({"x": Task(inc, 1)}, ["x"])
    sim.finish("a", "x")
    sim.do(UpdateGraph("fire-and-forget", [], [], [], [], ["x"]))
    sim.do(ReleaseKeys("c", ["x"]))
    assert not sim.s.tasks


def test_random_simulation_with_deaths_and_joins():
    """Random trees, workers dying and joining at random: every wanted key
    ends in memory and the state is valid after every event."""
    for seed in range(8):
        rng = random.Random(seed)
        with config.set({"distributed.scheduler.allowed-failures": 10_000}):
            sim = Sim(workers=("w0", "w1", "w2"), nthreads=2)
        graph = tree(rng.randint(1, 40))
        extra = {f"m{i}": Task(inc, i) for i in range(rng.randint(0, 30))}
        graph.update(extra)
        wanted = ["total", *extra]
        sim.submit(graph, wanted)
        n = 3
        for _ in range(10_000):
            r = rng.random()
            if r < 0.03 and len(sim.running) > 1:
                sim.kill(rng.choice(list(sim.running)))
            elif r < 0.06:
                sim.add_worker(f"w{n}", 2)
                n += 1
            elif not sim.step(rng):
                break
        sim.run_all(rng)
        assert not sim.client_events(KeyErred), seed
        assert sim.client_events(KeyInMemory) >= set(wanted), seed
        sim.do(ReleaseKeys("c", wanted))
        assert not sim.s.tasks


def test_thousands_of_transitions_without_validation():
    sim = Sim(workers=[f"w{i}" for i in range(8)], nthreads=4, validate=False)
    graph = tree(4096)
    sim.submit(graph, ["total"])
    sim.run_all()
    assert sim.client_events(KeyInMemory) == {"total"}
    assert sim.s.transition_count > 3 * len(graph)
    assert sim.s.story_of("total")[-1][2] == "memory"


def test_released_task_wanted_again_is_recomputed():
    """y -> x: after y is done x is released; a new graph wanting x recomputes it."""
    sim = Sim(workers=("a",))
    sim.submit({"x": Task(inc, 1), "y": Task(inc, Ref("x"))}, ["y"])
    sim.run_all()
    assert sim.s.tasks["x"].state == "released"
    sim.submit({"x": Task(inc, 1)}, ["x"])
    assert sim.running["a"] == ["x"]
    sim.run_all()
    assert sim.client_events(KeyInMemory) == {"x", "y"}


# ------------------------------------------------------------ worker memory


def test_paused_worker_gets_no_new_tasks_until_it_runs_again():
    sim = Sim(workers=("a", "b"), nthreads=1)
    sim.do(WorkerStatus("a", "paused", "memory", {"rss": 900, "managed": 500}))
    assert sim.s.workers["a"].status == "paused" and sim.s.workers["a"].memory["rss"] == 900
    graph = {f"x{i}": Task(inc, i) for i in range(4)}
    sim.submit(graph, list(graph))
    assert not sim.running["a"] and len(sim.running["b"]) == 1
    sim.do(WorkerStatus("b", "paused"))
    sim.finish("b", sim.running["b"][0])
    assert not sim.running["a"] and not sim.running["b"]  # all paused: tasks wait queued
    sim.do(WorkerStatus("a", "running"))
    assert len(sim.running["a"]) == 1
    sim.do(Heartbeat("b", 1.0, {"status": "running", "rss": 10}))  # heartbeats sync it too
    sim.run_all()
    assert sim.client_events(KeyInMemory) == set(graph)


def test_dependent_task_avoids_a_paused_worker_holding_its_input():
    sim = Sim(workers=("a", "b"))
    sim.submit({"x": Task(inc, 1), "y": Task(inc, Ref("x"))}, ["y"])
    (holder,) = [w for w, ks in sim.running.items() if ks]
    other = "b" if holder == "a" else "a"
    sim.do(WorkerStatus(holder, "paused"))
    sim.finish(holder, "x", nbytes=10**9)
    assert sim.running[other] == ["y"]  # moving 1 GB beats waiting for a paused worker


def test_new_data_goes_to_the_emptier_worker():
    sim = Sim(workers=("a", "b"))
    sim.s.workers["a"].memory_limit = sim.s.workers["b"].memory_limit = 1000
    sim.do(Heartbeat("a", 1.0, {"rss": 700}))
    sim.do(Heartbeat("b", 1.0, {"rss": 100}))
    sim.submit({"x": Task(inc, 1)}, ["x"])
    assert sim.running["b"] == ["x"]


def test_tasks_not_started_move_off_a_paused_worker():
    sim = Sim(workers=("a", "b"), nthreads=1)
    graph = {"x": Task(inc, 1), **{f"y{i}": Task(inc, Ref("x")) for i in range(4)}}
    sim.submit(graph, [f"y{i}" for i in range(4)])
    (holder,) = [w for w, ks in sim.running.items() if ks]
    other = "b" if holder == "a" else "a"
    sim.finish(holder, "x", nbytes=10**12)  # so every y is placed where x is
    assert len(sim.running[holder]) == 4
    started = sim.running[holder][0]
    sim.do(WorkerStatus(holder, "paused", metrics={"executing_keys": [started]}))
    sim.do(Tick(1.0))
    # the thief takes up to twice its threads; the started one stays
    assert len(sim.running[other]) == 2 and started in sim.running[holder]
    assert len(sim.running[holder]) == 2
    sim.run_all()
    assert sim.client_events(KeyInMemory) == {f"y{i}" for i in range(4)}


def test_results_lost_with_dying_workers_count_toward_killed_worker():
    """x is computed, its worker dies holding it, twice: x errs (and its
    dependent with it) instead of being recomputed forever."""
    with config.set({"distributed.scheduler.allowed-failures": 1}):
        sim = Sim(workers=("a", "b"))
    sim.submit({"x": Task(inc, 1), "y": Task(inc, Ref("x"))}, ["x", "y"])
    for _ in range(2):
        (w,) = [w for w, ks in sim.running.items() if "x" in ks]
        sim.finish(w, "x")
        (w,) = [w for w in sim.running if "x" in sim.memory[w]]
        sim.s.workers[w].memory = {"rss": 990, "managed": 800}
        sim.kill(w)
        sim.add_worker(w)
    ts = sim.s.tasks["x"]
    assert ts.state == "erred" and isinstance(ts.exception, KilledWorker)
    msg = str(ts.exception)
    assert "result of task 'x' was lost with 2 workers that died" in msg, msg
    assert "last known memory 990 B, of which 800 B managed" in msg and "holding its result" in msg
    assert {i.key for i in sim.to_client if type(i) is KeyErred} == {"x", "y"}


def test_results_of_workers_closing_on_purpose_do_not_count():
    with config.set({"distributed.scheduler.allowed-failures": 0}):
        sim = Sim(workers=("a", "b"))
    sim.submit({"x": Task(inc, 1)}, ["x"])
    (w,) = [w for w, ks in sim.running.items() if ks]
    sim.finish(w, "x")
    sim.running.pop(w)
    sim.memory.pop(w)
    sim.do(RemoveWorker(w, reason="retired", expected=True))
    assert sim.s.tasks["x"].state == "processing"  # recomputed, no error
    sim.run_all()
    assert not sim.client_events(KeyErred)


def test_killed_worker_message_names_limit_memory_and_running_tasks():
    with config.set({"distributed.scheduler.allowed-failures": 0}):
        sim = Sim(workers=("a",))
    sim.s.workers["a"].memory_limit = 2**30
    sim.submit({"big": Task(inc, 1)}, ["big"])
    sim.do(Heartbeat("a", 1.0, {"rss": 2**30, "managed": 0, "executing_keys": ["big"]}))
    sim.kill("a")
    msg = str(sim.s.tasks["big"].exception)
    assert "a (killed) [memory limit 1.00 GiB; last known memory 1.00 GiB" in msg, msg
    assert "it was running ['big']" in msg, msg
