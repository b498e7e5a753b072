"""Placement limits in the scheduler state machine, without sockets:
priorities, worker restrictions, resources, concurrency pools and retries
from task annotations. ``validate_state`` runs after every event (it checks
the slots and resources held against the tasks processing)."""

import random

import pytest

from shoal.core.task import Task
from shoal.distributed.placement import Placement, constraints_of, matches, parse_resources
from shoal.distributed.scheduler_events import (
    AddClient,
    AddWorker,
    ComputeTask,
    KeyErred,
    KeyInMemory,
    RemoveWorker,
    TaskErred,
    TaskFinished,
    UpdateGraph,
    WorkerStatus,
)
from shoal.distributed.scheduler_state import SchedulerState

pytestmark = pytest.mark.timeout(60)


class Cluster:
    """A validated scheduler state and the tasks each fake worker was given."""

    def __init__(self, workers: dict):
        self.s = SchedulerState(validate=True)
        self.given: dict[str, list] = {}
        self.done: list = []
        self.erred: list = []
        self.n = 0
        for address, (nthreads, resources) in workers.items():
            self.add_worker(address, nthreads, resources)
        self.do(AddClient("c"))

    def add_worker(self, address, nthreads=1, resources=None, name=""):
        self.given[address] = []
        self.do(AddWorker(address, nthreads, name, resources=resources or {}))

    def do(self, ev):
        self.n += 1
        ev.stimulus_id = f"s{self.n}"
        for ins in self.s.handle(ev):
            if type(ins) is ComputeTask:
                self.given[ins.worker].append(ins.key)
            elif type(ins) is KeyInMemory:
                self.done.append(ins.key)
            elif type(ins) is KeyErred:
                self.erred.append(ins.key)

    def submit(self, keys, annotations, deps=None):
        deps = deps or [()] * len(keys)
        self.do(
            UpdateGraph(
                "c",
                list(keys),
                deps,
                [Task(abs, 1) for _ in keys],
                list(range(len(keys))),
                list(keys),
                annotations=annotations,
            )
        )

    def finish(self, worker, key):
        self.given[worker].remove(key)
        self.do(TaskFinished(worker, key, 8, 0.01))

    def processing(self):
        return {k for keys in self.given.values() for k in keys}


def test_priority_runs_first_among_queued_root_tasks():
    c = Cluster({"a": (1, None)})
    c.submit([f"low-{i}" for i in range(10)], {})
    c.submit(["high"], {"high": {"priority": 5}})
    c.submit(["neg"], {"neg": {"priority": -5}})
    order = []
    while c.processing():
        key = c.given["a"][0]
        order.append(key)
        c.finish("a", key)
    # what was sent before "high" arrived runs first; then "high" jumps the queue
    high = order.index("high")
    assert all(k.startswith("low") for k in order[:high])
    assert high <= 2 and order[-1] == "neg" and len(order) == 12


def test_worker_restriction_by_address_name_and_host():
    c = Cluster({})
    c.add_worker("tcp://10.0.0.1:1", name="alpha")
    c.add_worker("tcp://10.0.0.2:1", name="beta")
    c.submit(
        ["x", "y", "z"],
        {
            "x": {"workers": ("beta",)},
            "y": {"workers": ("tcp://10.0.0.1:1",)},
            "z": {"workers": ("10.0.0.2",)},
        },
    )
    assert c.given == {"tcp://10.0.0.1:1": ["y"], "tcp://10.0.0.2:1": ["x", "z"]}


def test_restricted_task_waits_for_its_worker_unless_loose():
    c = Cluster({"a": (1, None)})
    c.submit(
        ["strict", "loose"],
        {
            "strict": {"workers": ("b",)},
            "loose": {"workers": ("b",), "allow_other_workers": True},
        },
    )
    assert c.given["a"] == ["loose"]
    assert c.s.tasks["strict"].state == "queued"
    c.add_worker("b")
    assert c.given["b"] == ["strict"]


def test_resources_never_overcommitted_and_freed_tasks_start():
    c = Cluster({"gpu": (8, {"GPU": 2}), "cpu": (8, None)})
    keys = [f"t{i}" for i in range(7)]
    c.submit(keys, {k: {"resources": {"GPU": 1}} for k in keys})
    assert len(c.given["gpu"]) == 2 and not c.given["cpu"]
    finished = 0
    while c.given["gpu"]:
        assert len(c.given["gpu"]) <= 2
        c.finish("gpu", c.given["gpu"][0])
        finished += 1
    assert finished == 7 and sorted(c.done) == sorted(keys)
    assert not c.s.workers["gpu"].used


def test_resources_no_worker_has_waits_for_one():
    c = Cluster({"a": (1, None)})
    c.submit(["big"], {"big": {"resources": {"GPU": 4}}})
    assert c.s.tasks["big"].state == "queued" and not c.given["a"]
    c.add_worker("small", 1, {"GPU": 2})
    assert not c.given["small"]
    c.add_worker("large", 1, {"GPU": 4})
    assert c.given["large"] == ["big"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_concurrency_pool_is_cluster_wide(seed):
    rng = random.Random(seed)
    c = Cluster({w: (4, None) for w in "abcd"})
    keys = [f"io-{i}" for i in range(40)]
    ann = {k: {"concurrency": {"s3": 3}} for k in keys}
    ann.update({f"other-{i}": {"priority": 1} for i in range(5)})
    c.submit(keys + [f"other-{i}" for i in range(5)], ann)
    seen = 0
    while c.processing():
        running = [k for k in c.processing() if k.startswith("io")]
        assert len(running) <= 3
        seen = max(seen, len(running))
        worker = rng.choice([w for w, ks in c.given.items() if ks])
        c.finish(worker, rng.choice(c.given[worker]))
    assert seen == 3 and len(c.done) == 45
    assert not c.s.placement.pool_used


def test_worker_death_gives_back_slots_and_resources():
    c = Cluster({"a": (2, {"GPU": 1}), "b": (2, {"GPU": 1})})
    keys = [f"t{i}" for i in range(4)]
    c.submit(keys, {k: {"resources": {"GPU": 1}, "concurrency": {"p": 2}} for k in keys})
    assert len(c.processing()) == 2
    c.given.pop("a")
    c.do(RemoveWorker("a"))
    assert len(c.given["b"]) == 1  # the other slot stays with a task waiting for a GPU
    while c.given["b"]:
        c.finish("b", c.given["b"][0])
    assert sorted(c.done) == keys


def test_paused_worker_gets_no_restricted_task_until_it_resumes():
    c = Cluster({"a": (1, None), "b": (1, None)})
    c.do(WorkerStatus("b", "paused"))
    c.submit(["x"], {"x": {"workers": ("b",)}})
    assert not c.given["b"]
    c.do(WorkerStatus("b", "running"))
    assert c.given["b"] == ["x"]


def test_retries_annotation_reruns_then_errs():
    c = Cluster({"a": (1, None)})
    c.submit(["x"], {"x": {"retries": 2}})
    for _ in range(2):
        c.given["a"].remove("x")
        c.do(TaskErred("a", "x", ValueError("boom"), ""))
        assert c.given["a"] == ["x"] and not c.erred
    c.given["a"].remove("x")
    c.do(TaskErred("a", "x", ValueError("boom"), ""))
    assert c.erred == ["x"]


def test_constrained_dependents_follow_dependencies():
    c = Cluster({"a": (1, {"GPU": 1}), "b": (1, None)})
    c.submit(["x", "y"], {"y": {"resources": {"GPU": 1}}}, deps=[(), ("x",)])
    worker = next(w for w, ks in c.given.items() if ks)
    c.finish(worker, "x")
    assert c.given["a"] == ["y"]


def test_helpers():
    assert parse_resources("GPU=2,FPGA=0.5") == {"GPU": 2.0, "FPGA": 0.5}
    with pytest.raises(ValueError, match="NAME=AMOUNT"):
        parse_resources("GPU")
    with pytest.raises(ValueError, match="number"):
        parse_resources("GPU=lots")
    assert constraints_of({"priority": 1, "retries": 2}) is None
    c = constraints_of({"workers": ("h",), "allow_other_workers": True})
    assert c.loose and c.workers == frozenset({"h"})

    class W:
        address, name = "tcp://h:5", "w"

    assert matches(W, frozenset({"h"})) and not matches(W, frozenset({"tcp://h:6"}))
    p = Placement()
    p.workers_changed()
    assert p.wake == ""  # nothing parked, nothing to retry


def test_exchange_restriction_wins_over_annotations():
    from shoal.distributed.scheduler_events import RestrictTasks

    c = Cluster({"a": (1, None), "b": (1, None)})
    c.do(RestrictTasks({"out": "b"}))
    c.submit(["out"], {"out": {"concurrency": {"p": 1}, "workers": ("a",)}})
    assert c.given["b"] == ["out"] and not c.given["a"]


def test_malformed_annotations_fail_the_message_not_the_scheduler():
    from shoal.distributed.scheduler import _annotations_by_key

    assert _annotations_by_key(["x"], {0: {"workers": ["w"]}}, "c") == {"x": {"workers": ("w",)}}
    for bad in ([1], {5: {}}, {0: {"priority": "high"}}, {0: {"resources": {"GPU": -1}}}):
        with pytest.raises(ValueError, match="a graph message from c"):
            _annotations_by_key(["x"], bad, "c")
