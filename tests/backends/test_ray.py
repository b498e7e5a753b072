"""shoal on Ray: one shared local instance (``ray.init(num_cpus=2)``) for the
module; skipped where the ``ray`` extra is not installed. Results are
compared with the threaded scheduler's and with NumPy / pandas / Python."""

from __future__ import annotations

import _thread
import io
import sys
import threading
import time
from operator import add

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.array as sa
import shoal.bag as sb
import shoal.dataframe as sd
from shoal.backends import RayBackend, ray_engine
from shoal.core.base import collections_to_graph
from shoal.core.task import Fused, Ref, Task
from shoal.testing import assert_eq

ray = pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False)
    # this module's functions cannot be imported on Ray's workers: ship them by value
    try:
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    except ValueError:  # already registered (the --backend=ray matrix does it too)
        pass
    yield
    if started:
        ray.shutdown()


# ---------------------------------------------------------------- results


@pytest.mark.parametrize("chunks", [(7, 11), (20, 50), (1, 50), ((3, 17), (50,))])
def test_array_reductions_match_threads_and_numpy(chunks):
    data = np.arange(1000.0).reshape(20, 50) % 17
    x = sa.from_array(data, chunks=chunks)
    for expr, expected in [
        ((x + 1).sum(), (data + 1).sum()),
        (x.mean(axis=0), data.mean(axis=0)),
        (x.max(axis=1), data.max(axis=1)),
        ((x.T @ x)[:3], (data.T @ data)[:3]),
    ]:
        on_ray = expr.compute(scheduler="ray")
        np.testing.assert_array_equal(on_ray, expr.compute(scheduler="threads"))
        np.testing.assert_allclose(on_ray, expected)


@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_dataframe_matches_threads_and_pandas(npartitions):
    pdf = pd.DataFrame({"k": [i % 5 for i in range(40)], "v": np.arange(40.0)})
    df = sd.from_pandas(pdf, npartitions=npartitions)
    backend = RayBackend()
    grouped = df.groupby("k").v.sum()
    pd.testing.assert_series_equal(
        grouped.compute(scheduler=backend), grouped.compute(scheduler="threads")
    )
    pd.testing.assert_series_equal(grouped.compute(scheduler=backend), pdf.groupby("k").v.sum())
    filtered = df[df.v > 10].v.mean()
    assert filtered.compute(scheduler=backend) == pdf[pdf.v > 10].v.mean()


def test_bag_and_delayed_match_threads():
    b = sb.from_sequence(range(100), npartitions=6).map(lambda x: x * x).filter(lambda x: x % 3)
    with shoal.config.set(scheduler="ray"):
        assert b.sum().compute() == sum(x * x for x in range(100) if x * x % 3)
        assert b.compute() == b.compute(scheduler="threads")
        assert sb.from_sequence([], npartitions=1).count().compute() == 0
    d = shoal.delayed(sum)([shoal.delayed(add)(i, 1) for i in range(10)])
    assert d.compute(scheduler="ray") == d.compute(scheduler="threads") == 55


def test_literal_outputs_aliases_and_shared_keys():
    graph = {"a": 1, "big": np.ones(10), "alias": Ref("big"), "s": Task(np.sum, Ref("alias"))}
    backend = RayBackend()
    out = backend.get(graph, [["a", "alias"], "s", "s"])
    assert out[0][0] == 1 and out[1] == out[2] == 10.0
    np.testing.assert_array_equal(out[0][1], np.ones(10))


def test_persist_then_compute():
    x = sa.ones((10, 10), chunks=3) + 1
    (p,) = shoal.persist(x, scheduler="ray")
    assert_eq(p.sum(), 200.0)


# ------------------------------------------------------ how the graph runs


class Recorder:
    """Wraps the remote functions: records every submission and what the
    driver fetches with ray.get."""

    def __init__(self, monkeypatch):
        self.submitted: list = []
        self.fetched: list = []
        self.puts = 0
        real_remote = ray_engine._remote_functions()
        recorder = self

        class Remote:
            def for_key(self, key, annotations=None):
                remote = real_remote.for_key(key, annotations)

                class Submit:
                    @staticmethod
                    def remote(node, *args):
                        recorder.submitted.append((node, args))
                        return remote.remote(node, *args)

                return Submit

        real_get, real_put = ray.get, ray.put

        def get(refs, *a, **kw):
            values = real_get(refs, *a, **kw)
            self.fetched.extend(values if isinstance(refs, list) else [values])
            return values

        def put(value, *a, **kw):
            self.puts += 1
            return real_put(value, *a, **kw)

        monkeypatch.setattr(ray_engine, "_remote", Remote())
        monkeypatch.setattr(ray, "get", get)
        monkeypatch.setattr(ray, "put", put)


def test_data_stays_on_workers_and_literals_are_put_once(monkeypatch):
    data = np.arange(40_000.0).reshape(200, 200)
    x = sa.from_array(data, chunks=50)
    total = (x * 2).sum()
    rec = Recorder(monkeypatch)
    assert total.compute(scheduler="ray") == (data * 2).sum()
    assert rec.puts == 1  # the source array, once for its 16 readers
    # the driver fetched task statuses (None) and the one output, never a block
    blocks = [v for v in rec.fetched if isinstance(v, np.ndarray) and v.size > 1]
    assert blocks == []
    assert sum(v is not None for v in rec.fetched) == 1
    # dependencies went as object refs, not values
    refs = [a for _, args in rec.submitted for a in args]
    assert refs and all(isinstance(a, ray.ObjectRef) for a in refs)


def test_fused_tasks_stay_fused_and_go_in_static_order(monkeypatch):
    b = sb.from_sequence(range(20), npartitions=4).map(abs).map(str).map(len)
    graph, keys = collections_to_graph([b])
    rec = Recorder(monkeypatch)
    assert b.compute(scheduler="ray") == [len(str(i)) for i in range(20)]
    submitted = [node for node, _ in rec.submitted]
    assert any(type(n) is Fused for n in submitted)
    from shoal.core.base import GraphSubmission
    from shoal.core.graph import flatten_keys

    plan = GraphSubmission(graph, flatten_keys(keys))
    in_order = [n for n in plan.nodes if type(n) in (Task, Fused)]
    assert len(submitted) == len(in_order)
    assert submitted == in_order


def test_one_remote_function_per_task_group_and_options():
    remotes = ray_engine._remote_functions()
    first = remotes.for_key(("sum-aggregate-0123456789abcdef0123456789abcdef", 0, 1))
    assert remotes.for_key(("sum-aggregate-fedcba9876543210fedcba9876543210", 2)) is first
    assert remotes.for_key("other-0123456789abcdef0123456789abcdef") is not first
    retried = remotes.for_key("x", {"retries": 1})
    assert remotes.for_key("x", {"retries": 1}) is retried
    assert remotes.for_key("x") is not retried


def test_tasks_in_flight_are_bounded():
    graph = {("x", i): Task(add, i, 1) for i in range(60)}
    graph["total"] = Task(sum, [Ref(("x", i)) for i in range(60)])
    from shoal.core.base import GraphSubmission

    submission = RayBackend(max_in_flight=4).submit(GraphSubmission(graph, ["total"]))
    seen, done = [], False
    while not done:
        assert len(submission._running) <= 4
        finished, done = submission.wait(0.1)
        seen += finished
    assert sorted(seen, key=str) == sorted(graph, key=str)
    assert submission.results() == [sum(range(1, 61))]


def test_progress_bar_counts_every_task():
    out = io.StringIO()
    x = sa.ones((12, 12), chunks=4)
    with shoal.ProgressBar(out=out, interval=0.01):
        assert x.sum().compute(scheduler="ray") == 144
    graph, _ = collections_to_graph([x.sum()])
    assert f"100% {len(graph)}/{len(graph)}" in out.getvalue()


# ---------------------------------------------------------------- errors


def fails(x):
    raise ValueError(f"no good: {x}")


def flaky(path, failures):
    """Fails ``failures`` times (counted in a file), then returns the try number."""
    from pathlib import Path

    marker = Path(path)
    tries = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(tries))
    if tries <= failures:
        raise RuntimeError(f"try {tries}")
    return tries


def slow_mark(directory, i, seconds):
    """Sleeps, then leaves a file: a task that was stopped leaves none."""
    from pathlib import Path

    time.sleep(seconds)
    (Path(directory) / str(i)).write_text("done")
    return i


def test_errors_keep_type_message_and_key():
    d = shoal.delayed(fails, name="fails-here")(shoal.delayed(abs, name="abs-first")(-3))
    with pytest.raises(ValueError, match="no good: 3") as info:
        d.compute(scheduler="ray", optimize_graph=False)
    assert type(info.value) is ValueError
    notes = info.value.__notes__
    assert notes[-1].startswith("shoal: raised while computing task 'fails-here-")
    assert any("traceback on the Ray worker" in n and "fails" in n for n in notes)


def test_an_error_inside_a_fused_chain_names_both_keys():
    chain = Fused("f", [("g", Task(fails, Ref("a"))), ("f", Task(abs, Ref("g")))])
    with pytest.raises(ValueError, match="no good: 2") as info:
        RayBackend().get({"a": 2, "f": chain}, "f")
    notes = info.value.__notes__
    assert "shoal: raised by task 'g', fused into 'f'" in notes
    assert notes[-1] == "shoal: raised while computing task 'f'"


def test_retries_annotation(tmp_path):
    marker = tmp_path / "tries"
    graph = {"flaky": Task(flaky, str(marker), 2).annotate(retries=2)}
    assert RayBackend().get(graph, "flaky") == 3
    graph = {"flaky": Task(flaky, str(tmp_path / "again"), 2)}
    with pytest.raises(RuntimeError, match="try 1"):
        RayBackend().get(graph, "flaky")


def test_an_error_cancels_the_rest(tmp_path):
    """The failing task comes first in static order; with two tasks in flight,
    the slow independent tasks after it are never started."""
    marks = [Task(slow_mark, str(tmp_path), i, 0.3) for i in range(12)]
    graph = {"fail": Task(fails, 1)}
    graph.update({("slow", i): t for i, t in enumerate(marks)})
    graph["out"] = Task(list, [Ref("fail"), *[Ref(("slow", i)) for i in range(12)]])
    with pytest.raises(ValueError, match="no good: 1"):
        RayBackend(max_in_flight=2).get(graph, "out")
    time.sleep(1.0)
    assert len(list(tmp_path.iterdir())) < 12


def test_ctrl_c_cancels_the_ray_tasks(tmp_path):
    graph = {("slow", i): Task(slow_mark, str(tmp_path), i, 2.0) for i in range(4)}
    graph["out"] = Task(list, [Ref(("slow", i)) for i in range(4)])
    timer = threading.Timer(0.8, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            RayBackend().get(graph, "out")
    finally:
        timer.cancel()
    time.sleep(2.5)
    assert list(tmp_path.iterdir()) == []


def test_bad_options_fail_before_anything_runs():
    with pytest.raises(TypeError, match="takes no options"):
        shoal.delayed(abs)(-1).compute(scheduler="ray", colour="red")
    with pytest.raises(ValueError, match="max_in_flight"):
        RayBackend(max_in_flight=-1)
