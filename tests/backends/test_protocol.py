"""The backend protocol in core/base.py, with a fake engine: the submitted
graph, the driver (callbacks, results, errors, cancellation, Ctrl-C) and how
``scheduler=`` picks a backend. No Ray or dask needed."""

from __future__ import annotations

import io
from operator import add

import pytest

import shoal
from shoal.core.base import (
    Backend,
    GraphSubmission,
    SubmittingBackend,
    get_scheduler,
    register_backend_adapter,
    register_scheduler,
)
from shoal.core.graph import CycleError, MissingKeyError
from shoal.core.local import BACKENDS, get_sync, get_threads
from shoal.core.task import Fused, Ref, Task


class StepRun:
    """A submission that runs one task per ``wait``, in the submitted order."""

    def __init__(self, graph: GraphSubmission, log: list, fail_at: int | None = None):
        self.graph = graph
        self.log = log
        self.values: dict = {}
        self.next = 0
        self.fail_at = fail_at

    def wait(self, timeout):
        if self.next == self.fail_at:
            raise ValueError(f"task {self.graph.keys[self.next]!r} failed")
        key, node = self.graph.keys[self.next], self.graph.nodes[self.next]
        self.values[key] = node(self.values) if isinstance(node, (Task, Fused)) else node
        self.next += 1
        return [key], self.next == len(self.graph.keys)

    def results(self):
        return [self.values[k] for k in self.graph.outputs]

    def cancel(self):
        self.log.append(("cancel", self.next))


class StepBackend(SubmittingBackend):
    worker_name = "fake"

    def __init__(self, fail_at=None):
        self.log: list = []
        self.fail_at = fail_at

    def submit(self, graph, **options):
        self.log.append(("submit", list(graph.keys), options))
        return StepRun(graph, self.log, self.fail_at)


def chain_graph():
    return {
        "a": 1,
        "b": Task(add, Ref("a"), 10),
        "c": Task(add, Ref("b"), Ref("a")),
        "unused": Task(add, Ref("a"), 100),
    }


@pytest.mark.parametrize("spelling", ["plain", "reversed"])
def test_submission_is_culled_ordered_and_annotated(spelling):
    """
        c        only c is wanted: "unused" is culled; a runs first, c last
       / \\
      b   |
       \\ /
        a
    """
    graph = chain_graph()
    graph["b"] = Task(add, Ref("a"), 10).annotate(retries=3)
    if spelling == "reversed":
        graph = dict(reversed(list(graph.items())))
    s = GraphSubmission(graph, ["c"])
    assert s.keys == ["a", "b", "c"]
    assert s.dependencies == [(), (0,), (1, 0)]
    assert s.dependents == [2, 1, 0]
    assert s.annotations == {1: {"retries": 3}}
    assert s.output_positions() == [2]
    assert s.graph() == {k: graph[k] for k in "abc"}


def test_bad_graphs_fail_before_submit():
    backend = StepBackend()
    with pytest.raises(MissingKeyError, match="'nope'"):
        backend.get({"a": Task(abs, Ref("nope"))}, "a")
    with pytest.raises(CycleError):
        backend.get({"a": Task(abs, Ref("b")), "b": Task(abs, Ref("a"))}, "a")
    assert backend.log == []


def test_driver_returns_values_in_the_nesting_of_keys():
    backend = StepBackend()
    graph = chain_graph()
    assert backend.get(graph, [["c"], "a", ["b", ["c"]]]) == [[12], 1, [11, [12]]]
    assert backend.get(graph, "b") == get_sync(graph, "b") == 11
    assert isinstance(backend, Backend)


def test_driver_calls_callbacks_with_the_culled_graph():
    backend = StepBackend()
    seen: dict = {"start": None, "post": [], "finish": None}
    cb = shoal.Callback(
        start=lambda graph: seen.update(start=sorted(graph)),
        posttask=lambda key, result, worker: seen["post"].append((key, result, worker)),
        finish=lambda graph, errored: seen.update(finish=errored),
    )
    assert backend.get(chain_graph(), "c", callbacks=[cb]) == 12
    assert seen["start"] == ["a", "b", "c"]
    assert seen["post"] == [("a", None, "fake"), ("b", None, "fake"), ("c", None, "fake")]
    assert seen["finish"] is False


def test_progress_bar_on_a_submitting_backend():
    out = io.StringIO()
    with shoal.ProgressBar(out=out, interval=0.01):
        assert StepBackend().get(chain_graph(), "c") == 12
    assert "100% 3/3" in out.getvalue()


def test_a_failing_task_cancels_the_submission():
    backend = StepBackend(fail_at=1)
    finished = []
    cb = shoal.Callback(finish=lambda graph, errored: finished.append(errored))
    with pytest.raises(ValueError, match="task 'b' failed"):
        backend.get(chain_graph(), "c", callbacks=[cb])
    assert backend.log[-1] == ("cancel", 1)
    assert finished == [True]


def test_ctrl_c_cancels_the_submission():
    backend = StepBackend()

    def interrupt(key, result, worker):
        if key == "b":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backend.get(chain_graph(), "c", callbacks=[shoal.Callback(posttask=interrupt)])
    assert backend.log[-1] == ("cancel", 2)


def test_options_reach_submit_except_the_local_pools_ones():
    backend = StepBackend()
    backend.get(chain_graph(), "c", num_workers=4, retries=2)
    assert backend.log[0][2] == {"retries": 2}


def test_compute_with_a_backend_object_and_config():
    backend = StepBackend()
    x = shoal.delayed(add)(shoal.delayed(1, name="one"), 2)
    assert x.compute(scheduler=backend) == 3
    with shoal.config.set(scheduler=backend):
        assert shoal.compute(x, x + 1) == (3, 4)
    assert [entry[0] for entry in backend.log] == ["submit", "submit"]


def test_lazy_scheduler_names():
    register_scheduler("lazy-threads", "shoal.core.local:get_threads")
    try:
        assert get_scheduler("lazy-threads") is get_threads
        assert get_scheduler("LAZY-THREADS") is get_threads
        register_scheduler("lazy-threads", get_sync)  # a function replaces the lazy entry
        assert get_scheduler("lazy-threads") is get_sync
    finally:
        BACKENDS.pop("lazy-threads", None)
    with pytest.raises(ValueError, match="module:attribute"):
        register_scheduler("broken", "no-colon-here")
    register_scheduler("missing-module", "shoal.no_such_module:get")
    try:
        with pytest.raises(ImportError, match="shoal.no_such_module"):
            get_scheduler("missing-module")
    finally:
        register_scheduler("missing-module", get_sync)
        BACKENDS.pop("missing-module")


def test_unknown_scheduler_lists_the_engine_names():
    with pytest.raises(ValueError, match="dask.*processes.*ray.*sync.*threads"):
        get_scheduler("no-such-engine")


class Client:
    """Looks like dask.distributed's Client to the adapter table."""

    __module__ = "distributed.client"


class SubClient(Client):
    __module__ = "someone.elses"


def test_a_dask_client_is_wrapped_in_a_dask_backend():
    from shoal.backends import DaskBackend

    for client in (Client(), SubClient()):
        get = get_scheduler(client)
        assert isinstance(get.__self__, DaskBackend)
        assert get.__self__.client is client


class Engine:
    __module__ = "fakeengine.core"


def wrap_engine(engine):
    backend = StepBackend()
    backend.engine = engine
    return backend


def test_registered_adapters_wrap_foreign_objects(monkeypatch):
    from shoal.core import base

    monkeypatch.setattr(base, "_ADAPTERS", dict(base._ADAPTERS))
    engine = Engine()
    with pytest.raises(TypeError, match="scheduler must be"):
        get_scheduler(engine)
    register_backend_adapter("fakeengine", "Engine", f"{__name__}:wrap_engine")
    get = get_scheduler(engine)
    assert get.__self__.engine is engine
    assert shoal.delayed(add)(1, 1).compute(scheduler=engine) == 2
    register_backend_adapter("fakeengine", "Engine", "tests_no_such_module:wrap")
    with pytest.raises(ImportError, match="tests_no_such_module"):
        get_scheduler(engine)


def test_the_matrix_option_routes_computations_to_the_engine(_engine_backend):
    """With ``--backend``, compute() and assert_eq run on the engine."""
    if _engine_backend is None:
        pytest.skip("run with --backend=ray or --backend=dask")
    from shoal.testing import assert_eq

    calls = []
    real = type(_engine_backend).submit

    def counting(self, graph, **options):
        calls.append(len(graph.keys))
        return real(self, graph, **options)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(_engine_backend), "submit", counting)
        assert (shoal.delayed(add)(1, 2)).compute() == 3
        assert_eq(shoal.delayed(add)(2, 2), 4)
    assert len(calls) == 2
