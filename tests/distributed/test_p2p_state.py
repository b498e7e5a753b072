"""Peer-to-peer exchanges without processes: restrictions, resets and
reschedules in the scheduler's state machine, stale runs in the worker's,
the shard log on disk, the owners of outputs."""

import pytest

from shoal.core.services import ExchangeSpec, backend_offers, bind_services, get_service
from shoal.core.task import Ref, Task
from shoal.distributed.p2p_scheduler import owners_of
from shoal.distributed.p2p_store import ExchangeDiskFull, ShardLog
from shoal.distributed.scheduler_events import (
    AddClient,
    AddWorker,
    ComputeTask,
    FreeKeys,
    ResetTasks,
    RestrictTasks,
    StealTask,
    TaskFinished,
    TaskRescheduled,
    Tick,
    UpdateGraph,
    WorkerStatus,
)
from shoal.distributed.scheduler_state import SchedulerState
from shoal.distributed.worker_events import (
    DeleteData,
    Execute,
    ExecuteFailure,
    ExecuteSuccess,
    KeysFreed,
    ReportErred,
    ReportFinished,
    ReportRescheduled,
    TaskAssigned,
    TaskStolen,
)
from shoal.distributed.worker_state import WorkerState

pytestmark = pytest.mark.timeout(60)


def inc(x):
    return x + 1


class Machine:
    """A scheduler state machine with workers a and b and one client."""

    def __init__(self):
        self.s = SchedulerState(validate=True)
        self.n = 0
        for w in ("a", "b"):
            self.do(AddWorker(w, nthreads=1))
        self.do(AddClient("c"))

    def do(self, ev):
        self.n += 1
        ev.stimulus_id = f"s{self.n}"
        return self.s.handle(ev)

    def submit(self, graph, wanted):
        keys = list(graph)
        deps = [graph[k].dependencies for k in keys]
        return self.do(
            UpdateGraph("c", keys, deps, [graph[k] for k in keys], range(len(keys)), wanted)
        )

    def where(self, key):
        ws = self.s.tasks[key].processing_on
        return ws.address if ws is not None else None


def exchange_graph():
    """x (root) -> t (transfer) -> bar (barrier) -> o0, o1 (outputs)."""
    return {
        "x": Task(inc, 1),
        "t": Task(inc, Ref("x")),
        "bar": Task(inc, Ref("t")),
        "o0": Task(inc, Ref("bar")),
        "o1": Task(inc, Ref("bar")),
    }


def run_to_barrier(m):
    m.submit(exchange_graph(), ["o0", "o1"])
    for key in ("x", "t", "bar"):
        m.do(TaskFinished(m.where(key), key, 8, 0.01))


def test_restricted_tasks_go_to_their_worker_even_paused_and_are_not_stolen():
    m = Machine()
    m.do(RestrictTasks({"o0": "b", "o1": "b"}))  # before the keys are known
    m.do(WorkerStatus("b", "paused"))
    run_to_barrier(m)
    assert m.where("o0") == m.where("o1") == "b"
    out = m.do(Tick(1.0))  # a paused worker's queued tasks move elsewhere, unless pinned
    assert not [i for i in out if type(i) is StealTask] and m.where("o0") == "b"
    m.do(RestrictTasks({"o0": "", "o1": ""}))
    assert not m.s.restrictions


def test_restriction_to_a_worker_that_left_falls_back_to_placement():
    m = Machine()
    m.do(RestrictTasks({"o0": "gone"}))
    run_to_barrier(m)
    assert m.where("o0") in ("a", "b")


def test_reset_cancels_running_and_recomputes_finished_tasks_without_failures():
    m = Machine()
    run_to_barrier(m)
    o0_on = m.where("o0")
    m.do(TaskFinished(m.where("o1"), "o1", 8, 0.01))  # o1 done: it stays
    out = m.do(ResetTasks(["t", "bar", "o0"]))
    freed = {(i.worker, k) for i in out if type(i) is FreeKeys for k in i.keys}
    assert (o0_on, "o0") in freed  # cancelled where it ran
    states = {k: m.s.tasks[k].state for k in ("x", "t", "bar", "o0", "o1")}
    assert states["o1"] == "memory" and states["o0"] == "waiting"
    assert states["t"] in ("processing", "waiting") and states["bar"] == "waiting"
    # the chain runs again from the roots it still needs, and ends right
    while m.s.tasks["o0"].state != "memory":
        running = [k for k, ts in m.s.tasks.items() if ts.state == "processing"]
        assert running, {k: ts.state for k, ts in m.s.tasks.items()}
        m.do(TaskFinished(m.where(running[0]), running[0], 8, 0.01))
    assert all(ts.suspicious == 0 for ts in m.s.tasks.values())


def test_rescheduled_task_is_placed_again_and_stale_reports_are_ignored():
    m = Machine()
    m.submit({"x": Task(inc, 1)}, ["x"])
    w = m.where("x")
    other = "a" if w == "b" else "b"
    m.do(TaskRescheduled(other, "x"))  # not there: ignored
    assert m.where("x") == w
    out = m.do(TaskRescheduled(w, "x"))
    assert [type(i) for i in out].count(ComputeTask) == 1
    assert m.s.tasks["x"].state == "processing" and m.s.tasks["x"].suspicious == 0


def worker():
    return WorkerState(nthreads=1, address="me", validate=True)


def test_worker_reassigned_while_a_cancelled_run_executes_runs_it_again():
    w = worker()
    assert [type(i) for i in w.handle(TaskAssigned("t", b"run1", 0, {}))] == [Execute]
    w.handle(KeysFreed(["t"]))  # the exchange restarted: cancel
    assert w.handle(TaskAssigned("t", b"run2", 0, {})) == []  # still executing the stale run
    out = w.handle(ExecuteSuccess("t", 8, 0.1))  # the stale result: dropped, run again
    assert [type(i) for i in out] == [DeleteData, Execute]
    assert w.tasks["t"].spec == b"run2"
    out = w.handle(ExecuteSuccess("t", 8, 0.1))
    assert [type(i) for i in out] == [ReportFinished]


def test_worker_reports_a_reschedule_not_an_error():
    w = worker()
    w.handle(TaskAssigned("t", b"spec", 0, {}))
    out = w.handle(ExecuteFailure("t", None, "", reschedule=True))
    assert [type(i) for i in out] == [ReportRescheduled] and "t" not in w.tasks
    w.handle(TaskAssigned("u", b"spec", 0, {}))
    out = w.handle(ExecuteFailure("u", ValueError("x"), "tb"))
    assert [type(i) for i in out] == [ReportErred]


@pytest.mark.parametrize("output_ends", ["rescheduled", "finished"])
def test_reset_barrier_kept_for_a_running_output_is_computed_again_not_reported(output_ends):
    """Issue 12: the barrier of run 1 is freed (the exchange restarted) while
    an output still runs on it; assigned again, the worker must compute it
    for run 2 once the output let go, not report run 1's value."""
    w = WorkerState(nthreads=2, address="me", validate=True)
    w.handle(TaskAssigned("bar", b"run1", 0, {}))
    w.handle(ExecuteSuccess("bar", 8, 0.1))
    assert [type(i) for i in w.handle(TaskAssigned("o0", b"out", 0, {"bar": ["me"]}))] == [Execute]
    w.handle(KeysFreed(["bar"]))  # the restart, in the scheduler's order
    w.handle(KeysFreed(["o0"]))
    assert w.tasks["bar"].state == "memory"  # still the running output's input
    assert w.handle(TaskAssigned("bar", b"run2", 0, {})) == []  # not ReportFinished
    if output_ends == "rescheduled":
        out = w.handle(ExecuteFailure("o0", None, "", reschedule=True))
    else:
        out = w.handle(ExecuteSuccess("o0", 8, 0.1))
    assert [type(i) for i in out] == [DeleteData, Execute] and "bar" in out[0].keys
    assert out[1].key == "bar" and w.tasks["bar"].spec == b"run2"
    assert [type(i) for i in w.handle(ExecuteSuccess("bar", 8, 0.1))] == [ReportFinished]


@pytest.mark.parametrize("taken_back", [KeysFreed(["x"]), TaskStolen("x")])
def test_value_kept_for_a_local_task_and_taken_back_is_not_run(taken_back):
    w = WorkerState(nthreads=1, address="me", validate=True)
    w.handle(TaskAssigned("x", b"x", 0, {}))
    w.handle(ExecuteSuccess("x", 8, 0.1))
    w.handle(TaskAssigned("y", b"y", 0, {"x": ["me"]}))
    w.handle(KeysFreed(["x"]))
    assert w.handle(TaskAssigned("x", b"x2", 0, {})) == []
    w.handle(taken_back)  # the scheduler changed its mind: nothing to run
    out = w.handle(ExecuteSuccess("y", 8, 0.1))
    assert [type(i) for i in out] == [DeleteData, ReportFinished] and "x" not in w.tasks


def test_shard_log_orders_by_input_drops_duplicates_and_bounds_disk(tmp_path):
    log = ShardLog(str(tmp_path / "run"), "exchange e run 1 on worker w", max_bytes=12)

    def read(j):
        return [[bytes(f) for f in frames] for frames in log.read(j)]

    log.append([(1, 2, [b"c", b"2"]), (0, 1, [b"a1"])])
    log.append([(1, 0, [b"c0", b""]), (1, 2, [b"XX"])])  # input 2 again (a transfer run twice)
    assert read(1) == [[b"c0", b""], [b"c", b"2"]] and read(0) == [[b"a1"]] and read(5) == []
    with pytest.raises(ExchangeDiskFull, match=r"exchange e run 1 on worker w: .*p2p.max-disk"):
        log.append([(0, 3, [b"too", b"much"])])
    assert read(0) == [[b"a1"]]  # nothing of the refused batch was written
    assert all(isinstance(f.obj, bytearray) for f in log.read(1)[0])  # writable: no copy to use
    log.close()
    assert not (tmp_path / "run").exists()


def test_owners_are_contiguous_ranges_of_the_workers():
    assert owners_of(["a"], 3) == ["a", "a", "a"]
    assert owners_of(["a", "b", "c"], 2) == ["a", "b"]
    owners = owners_of(["a", "b", "c"], 10)
    assert owners == sorted(owners) and {owners.count(w) for w in "abc"} <= {3, 4}


def test_services_are_bound_per_thread_and_backends_declare_them():
    import threading

    bind_services({"exchange": "mine"})
    seen = []
    t = threading.Thread(target=lambda: seen.append(_lookup("exchange")))
    t.start()
    t.join()
    assert get_service("exchange") == "mine" and isinstance(seen[0], LookupError)
    bind_services({})

    class Backend:
        shoal_services = ("exchange",)

        def get(self, graph, keys):
            return None

    assert backend_offers(Backend().get, "exchange") and not backend_offers(inc, "exchange")
    spec = ExchangeSpec("e", (2, 3), (4,), "t", ("bar", 0), "o")
    assert spec.transfer_key(5) == ("t", 1, 2) and spec.output_key(3) == ("o", 3)


def _lookup(name):
    try:
        return get_service(name)
    except LookupError as e:
        return e
