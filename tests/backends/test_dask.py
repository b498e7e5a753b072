"""shoal on dask.distributed: the translation to dask's task spec (checked by
running the translated graph with dask's own executor) and computations on
one in-process Client shared by the module; skipped where dask.distributed
is not installed. Results are compared with the threaded scheduler's and
with NumPy / pandas / Python."""

from __future__ import annotations

import _thread
import threading
import time
from operator import add, mul

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.array as sa
import shoal.bag as sb
import shoal.dataframe as sd
from shoal.backends import DaskBackend
from shoal.backends.dask_engine import _layers
from shoal.backends.dask_spec import to_dask_graph, to_dask_node
from shoal.core.base import GraphSubmission, collections_to_graph
from shoal.core.graph import flatten_keys, pack_results
from shoal.core.local import get_sync
from shoal.core.task import Fused, Ref, Task

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
spec = pytest.importorskip("dask._task_spec")


@pytest.fixture(scope="module")
def client():
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ) as c:
        yield c


def run_translated(graph, keys):
    """Translate a shoal graph and run it with dask's own executor."""
    plan = GraphSubmission(graph, keys)
    dsk = to_dask_graph(plan.keys, plan.nodes)
    values = spec.execute_graph(dsk)
    return [values[k] for k in keys]


# ------------------------------------------------------------ translation


@pytest.mark.parametrize("spelling", ["plain", "reversed"])
def test_translated_graphs_compute_what_shoal_computes(spelling):
    graph = {
        "a": 2,
        "b": [1, 2, 3],
        "c": Task(add, Ref("a"), 1),
        "d": Task(sum, [Ref("a"), Ref("c"), 10]),
        "e": Task(dict, x=Ref("c"), y=(Ref("a"), "literal")),
        "f": Task(mul, Task(add, Ref("a"), Ref("c")), 3),  # a nested task runs inline
        "g": Ref("d"),  # an alias
        "h": Task(len, Ref("b")),
        "i": Task(tuple, ("no", "refs", ("here",))),
    }
    if spelling == "reversed":
        graph = dict(reversed(list(graph.items())))
    keys = sorted(graph)
    assert run_translated(graph, keys) == [get_sync(graph, k) for k in keys]


def test_tasks_keep_their_own_functions():
    t = to_dask_node("b", Task(add, Ref("a"), 1))
    assert isinstance(t, spec.Task) and t.func is add and t.key == "b"
    assert t.dependencies == frozenset({"a"})
    literal = to_dask_node("x", (add, 1, 2))  # a tuple is data in shoal, never a task
    assert isinstance(literal, spec.DataNode) and literal() == (add, 1, 2)
    plain = to_dask_node("y", Task(len, [1, 2]))
    assert plain.args == ([1, 2],)  # containers without references stay plain


def test_fused_chains_nest_and_shared_inner_results_use_a_subgraph():
    chain = Fused(
        "c",
        [("a", Task(add, Ref("x"), 1)), ("b", Task(mul, Ref("a"), 2)), ("c", Task(abs, Ref("b")))],
    )
    nested = to_dask_node("c", chain)
    assert nested.func is abs and not nested.has_subgraph()
    assert nested.dependencies == frozenset({"x"})
    assert nested({"x": -5}) == abs((-5 + 1) * 2)
    shared = Fused("c", [("a", Task(add, Ref("x"), 1)), ("c", Task(mul, Ref("a"), Ref("a")))])
    grouped = to_dask_node("c", shared)
    assert grouped.has_subgraph() and grouped.key == "c"
    assert grouped({"x": 2}) == 9


@pytest.mark.parametrize("chunks", [(5, 5), (3, 7), (10, 1)])
def test_collection_graphs_translate(chunks):
    data = np.arange(100.0).reshape(10, 10)
    x = sa.from_array(data, chunks=chunks)
    expr = (x + 1).sum(axis=0)
    graph, (keys,) = collections_to_graph([expr])
    flat = flatten_keys(keys)
    blocks = pack_results(keys, dict(zip(flat, run_translated(graph, flat))))
    finalize, extra = expr.__shoal_postcompute__()
    np.testing.assert_allclose(finalize(blocks, *extra), (data + 1).sum(axis=0))


def test_priorities_follow_the_static_order_and_annotations():
    graph = {
        "a": 1,
        "b": Task(add, Ref("a"), 1).annotate(retries=2),
        "c": Task(add, Ref("b"), 1).annotate(priority=1),
        "d": Task(add, Ref("c"), Ref("a")),
    }
    plan = GraphSubmission(graph, ["d"])
    hlg = _layers(plan, to_dask_graph(plan.keys, plan.nodes))
    annotations = {}
    for layer in hlg.layers.values():
        for key in layer:
            annotations[key] = {
                name: (value(key) if callable(value) else value)
                for name, value in layer.annotations.items()
            }
    n = len(plan.keys)
    assert annotations["a"] == {"priority": n}  # first in static order: runs first
    assert (
        annotations["d"]["priority"] < annotations["b"]["priority"] < annotations["a"]["priority"]
    )
    assert annotations["b"] == {"priority": n - 1, "retries": 2}
    assert annotations["c"]["priority"] > annotations["a"]["priority"]  # user priority first


# ------------------------------------------------------------ on a client


def test_collections_match_threads_and_oracles(client):
    data = np.arange(600.0).reshape(20, 30) % 11
    x = sa.from_array(data, chunks=(6, 7))
    for expr, expected in [(x.sum(), data.sum()), (x.std(axis=1), data.std(axis=1))]:
        on_dask = expr.compute(scheduler=client)
        np.testing.assert_array_equal(on_dask, expr.compute(scheduler="threads"))
        np.testing.assert_allclose(on_dask, expected)
    pdf = pd.DataFrame({"k": [i % 4 for i in range(30)], "v": np.arange(30.0)})
    df = sd.from_pandas(pdf, npartitions=4)
    pd.testing.assert_series_equal(
        df.groupby("k").v.mean().compute(scheduler=DaskBackend(client)), pdf.groupby("k").v.mean()
    )
    b = sb.from_sequence(range(50), npartitions=5).map(lambda v: v % 7).frequencies()
    with shoal.config.set(scheduler=client):
        assert dict(b.compute()) == dict(b.compute(scheduler="threads"))
    d = shoal.delayed(sum)([shoal.delayed(add)(i, 1) for i in range(10)])
    assert d.compute(scheduler="dask") == 55  # the default client


def test_dask_scheduler_name_without_a_client_says_what_to_do(client, monkeypatch):
    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "default_client", no_client)
    with pytest.raises(ValueError, match="needs a running dask.distributed Client"):
        shoal.delayed(abs)(-1).compute(scheduler="dask")


def fails(x):
    raise ValueError(f"no good: {x}")


def test_errors_keep_type_message_and_the_failing_key(client):
    graph = {"a": -3, "boom": Task(fails, Ref("a")), "out": Task(list, [Ref("boom"), Ref("a")])}
    with pytest.raises(ValueError, match="no good: -3") as info:
        DaskBackend(client).get(graph, "out")
    assert type(info.value) is ValueError
    assert info.value.__notes__[-1] == "shoal: raised while computing task 'boom'"
    assert not set(graph) & set(client.futures)  # nothing left behind


def test_retries_and_options(client):
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return len(attempts)

    assert DaskBackend(client).get({"f": Task(flaky).annotate(retries=2)}, "f") == 3
    attempts.clear()
    assert shoal.delayed(flaky)().compute(scheduler=client, retries=2) == 3
    with pytest.raises(TypeError, match="takes no options"):
        shoal.delayed(abs)(-1).compute(scheduler=client, colour="red")


def test_ctrl_c_cancels_the_dask_tasks(client):
    finished = []

    def slow(i):
        time.sleep(1.5)
        finished.append(i)
        return i

    graph = {("slow", i): Task(slow, i) for i in range(6)}
    graph["out"] = Task(list, [Ref(("slow", i)) for i in range(6)])
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            DaskBackend(client).get(graph, "out")
    finally:
        timer.cancel()

    def left(dask_scheduler, keys):
        return [k for k in keys if k in dask_scheduler.tasks]

    deadline = time.monotonic() + 10
    while client.run_on_scheduler(left, keys=list(graph)):
        assert time.monotonic() < deadline, "tasks left on the scheduler"
        time.sleep(0.05)
    time.sleep(1.5)
    assert len(finished) <= 2  # the two running when Ctrl-C came; the rest never started


def test_a_client_is_required():
    with pytest.raises(TypeError, match="needs a distributed.Client"):
        DaskBackend(object())
