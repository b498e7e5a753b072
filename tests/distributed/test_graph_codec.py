"""The compact graph form: keys, function tables, opaque specs, chunked graphs."""

import gc
import operator
import sys
import time

import cloudpickle
import numpy as np
import pytest

import shoal
from shoal.core import config
from shoal.core.task import Fused, Ref, Task
from shoal.distributed import Client
from shoal.distributed.graph_codec import (
    FunctionTableEncoder,
    GraphDecoder,
    KeyEncoder,
    decode_key,
    load_function,
    load_spec,
)
from shoal.distributed.protocol import dumps, loads
from shoal.distributed.scheduler_events import (
    AddClient,
    AddWorker,
    RemoveClient,
    TaskFinished,
    UpdateGraph,
)
from shoal.distributed.scheduler_state import SchedulerState

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(90)


def inc(x):
    return x + 1


def add(*xs):
    return sum(xs)


KEYS = [
    "x",
    "",
    ("a", 0),
    ("a", 1, 2),
    ("b-0123456789abcdef", 7),
    ("a",),
    ("a", "s", 1.5, None),
    ("a", ("nested", 1)),
    (1, 2),  # a tuple key without a name
    ((), 3),
    ("a", -1),
]


def _wire(msg):
    return loads(dumps(msg))


def test_keys_round_trip_through_the_wire():
    enc = KeyEncoder()
    encoded = [enc.encode(k) for k in KEYS]
    names = list(_wire({"n": enc.take_names()})["n"])
    back = [decode_key(e, names) for e in _wire({"k": encoded})["k"]]
    assert back == KEYS
    assert [type(k) for k in back] == [type(k) for k in KEYS]
    assert enc.encode(("a", 3)) == (0, 3)  # names are sent once per graph
    assert enc.take_names() == []


def _roundtrip(node, results=None):
    enc = FunctionTableEncoder()
    spec = enc.dumps(node)
    funcs = [load_function(b) for b in _wire({"f": enc.take_new()})["f"]]
    return load_spec(_wire({"s": spec})["s"], funcs)


@pytest.mark.parametrize(
    "node, results, expected",
    [
        (Task(inc, 1), {}, 2),
        (Task(inc, Ref(("a", 0))), {("a", 0): 4}, 5),
        (Task(add, Ref("x"), Task(inc, Ref("y")), 3), {"x": 1, "y": 1}, 6),
        (Task(add, *[Ref(("a", i)) for i in range(5)]), {("a", i): i for i in range(5)}, 10),
        (Task(sorted, [Ref("x"), 1], reverse=True), {"x": 5}, [5, 1]),
        (Task(lambda v: v * 3, Ref("x")), {"x": 2}, 6),
        (Fused("c", [("b", Task(inc, Ref("a"))), ("c", Task(inc, Ref("b")))]), {"a": 0}, 2),
        (Task(operator.getitem, Ref("x"), slice(1, None)), {"x": [1, 2, 3]}, [2, 3]),
        ([1, (2, 3), {"k": None}], {}, [1, (2, 3), {"k": None}]),
    ],
)
def test_specs_rebuild_equal_nodes(node, results, expected):
    from shoal.core.task import execute_node

    assert execute_node(_roundtrip(node), results) == expected


def test_numpy_literals_and_annotations_survive():
    arr = np.arange(12.0).reshape(3, 4)
    node = Task(np.sum, arr, axis=0).annotate(retries=2)
    back = _roundtrip(node)
    np.testing.assert_array_equal(back(), arr.sum(axis=0))
    assert back.annotations == {"retries": 2}


def test_each_function_is_pickled_once_per_client():
    enc = FunctionTableEncoder()
    specs = [enc.dumps(Task(inc, Ref(("a", i)))) for i in range(1000)]
    first = enc.take_new()
    assert len(first) == len(set(first)) <= 4  # inc, Task's rebuild function, Ref
    # a by-value function is in the table, not in every spec
    assert all(len(s) < 80 for s in specs)
    enc.forget_objects()
    enc.dumps(Task(inc, 1))
    assert enc.take_new() == []  # the same function again: no new entry
    enc.dumps(Task(lambda v: v, 1))
    assert len(enc.take_new()) == 1


def test_unpicklable_node_is_a_clear_error_before_sending():
    import threading

    enc = FunctionTableEncoder()
    with pytest.raises(TypeError, match="cannot serialize task"):
        enc.dumps(Task(inc, threading.Lock()))


def test_missing_function_entry_is_a_clear_error():
    enc = FunctionTableEncoder()
    spec = enc.dumps(Task(inc, 1))
    with pytest.raises(Exception, match="missing from the table"):
        load_spec(spec, [])


def test_graph_decoder_resolves_positions_across_chunks():
    enc = KeyEncoder()
    keys = [("a", i) for i in range(6)] + ["total"]
    deps = [(), (0,), (), (2,), (), (4,), (1, 3, 5)]
    dec = GraphDecoder()
    out_keys, out_deps = [], []
    for lo in range(0, 7, 3):
        msg = {
            "keys": [enc.encode(k) for k in keys[lo : lo + 3]],
            "deps": [list(d) for d in deps[lo : lo + 3]],
            "wanted": [enc.encode("total")] if lo + 3 >= 7 else [],
        }
        msg["names"] = enc.take_names()
        k, d, order, wanted = dec.decode(_wire(msg))
        assert list(order) == list(range(lo, lo + len(k)))
        out_keys += k
        out_deps += d
    assert out_keys == keys
    assert out_deps == [tuple(keys[i] for i in ds) for ds in deps]
    assert wanted == ["total"]


# ------------------------------------------------------------ state machine


def test_held_results_survive_until_their_dependents_arrive():
    s = SchedulerState(validate=True)
    s.handle(AddWorker("w", nthreads=4))
    s.handle(AddClient("c"))
    first = s.handle(
        UpdateGraph("c", ["a", "b"], [(), ()], ["sa", "sb"], [0, 1], [], hold="h", final=False)
    )
    assert {i.key for i in first} == {"a", "b"}
    s.handle(TaskFinished("w", "a", 8, 0.01))
    s.handle(TaskFinished("w", "b", 8, 0.01))
    # nobody wants a and b yet, but the rest of their graph is on its way
    assert s.tasks["a"].state == s.tasks["b"].state == "memory"
    out = s.handle(
        UpdateGraph(
            "c", ["c"], [("a", "b")], ["sc"], [2], ["c"], hold="h", continues=True, final=True
        )
    )
    assert [i.key for i in out if type(i).__name__ == "ComputeTask"] == ["c"]
    assert "h" not in s.clients and not s.holds
    assert s.tasks["c"].priority >> 32 == s.tasks["a"].priority >> 32  # one generation
    s.handle(TaskFinished("w", "c", 8, 0.01))
    # a and b are let go of once c is done (records kept while c may need them)
    assert s.tasks["a"].state == s.tasks["b"].state == "released"
    assert not s.workers["w"].has_what - {s.tasks["c"]}


def test_a_graph_that_never_finishes_arriving_is_released():
    s = SchedulerState(validate=True)
    s.handle(AddWorker("w"))
    s.handle(AddClient("c"))
    s.handle(
        UpdateGraph("c", ["a", "b"], [(), ("a",)], ["sa", "sb"], [0, 1], [], hold="h", final=False)
    )
    s.handle(RemoveClient("h"))
    s.handle(TaskFinished("w", "a", 8, 0.01))
    assert s.tasks == {} or all(ts.state != "memory" for ts in s.tasks.values())


def test_single_dependents_need_no_container():
    s = SchedulerState(validate=True)
    s.handle(AddClient("c"))
    keys = ["a", "b", "c", "d"]
    deps = [(), ("a",), ("b",), ("a", "b", "c")]
    s.handle(UpdateGraph("c", keys, deps, ["spec"] * 4, [0, 1, 2, 3], ["d"]))
    b = s.tasks["b"]
    assert b.dependencies is s.tasks["a"]  # one dependency: stored bare
    assert type(s.tasks["a"].dependents) is tuple and len(s.tasks["a"].dependents) == 2
    s.handle(AddWorker("w"))
    for key in keys:
        s.handle(TaskFinished("w", key, 8, 0.01))
    assert {k for k, ts in s.tasks.items() if ts.state == "memory"} == {"d"}


# ------------------------------------------------------------------ clusters


def _tree(n, fan_in=4):
    graph = {("load", i): Task(inc, i) for i in range(n)}
    level = [("load", i) for i in range(n)]
    depth = 0
    while len(level) > 1:
        nxt = []
        for j in range(0, len(level), fan_in):
            key = ("sum", depth, j // fan_in)
            graph[key] = Task(add, *[Ref(k) for k in level[j : j + fan_in]])
            nxt.append(key)
        level, depth = nxt, depth + 1
    return graph, level[0]


@pytest.mark.parametrize("chunk", [1, 7, 100_000])
@pytest.mark.parametrize("n", [1, 2, 50, 333])
def test_chunked_graphs_compute_like_the_sync_scheduler(client, chunk, n):
    graph, top = _tree(n)
    with config.set({"distributed.client.graph-chunk": chunk}):
        assert client.get(graph, top) == shoal.core.local.get_sync(graph, top)
    _wait_idle(client)


def test_chunked_graph_with_futures_as_inputs(client):
    x = client.scatter({"x": 10})["x"]
    graph = {"x": x, "y": Task(inc, Ref("x")), "z": Task(add, Ref("y"), Ref("x"))}
    graph.update({("p", i): Task(add, Ref("z"), i) for i in range(20)})
    with config.set({"distributed.client.graph-chunk": 3}):
        out = client.get(graph, [("p", i) for i in range(20)])
    assert out == [21 + i for i in range(20)]


def _wait_idle(c, timeout=10.0):
    """No task left on the scheduler once the futures are gone."""
    # a task through the client's stream: what was sent before it has arrived
    assert c.submit(inc, -1, pure=False).result() == 0
    deadline = time.monotonic() + timeout
    while c.run_on_scheduler(_n_tasks) and time.monotonic() < deadline:
        gc.collect()  # futures of Client.get are freed by the cyclic collector
        time.sleep(0.02)
    assert c.run_on_scheduler(_n_tasks) == 0, c.run_on_scheduler(_task_states)
    assert c.run_on_scheduler(_n_holds) == 0


def _n_tasks(shoal_scheduler):
    return len(shoal_scheduler.state.tasks)


def _task_states(shoal_scheduler):
    return {k: ts.state for k, ts in shoal_scheduler.state.tasks.items()}


def _n_holds(shoal_scheduler):
    return len(shoal_scheduler.state.holds) + len(shoal_scheduler._inbound)


def _tables(shoal_worker):
    return sorted(shoal_worker.functions)


@pytest.fixture(scope="module")
def client():
    with Client(n_workers=2, threads_per_worker=1, processes=False) as c:
        yield c


def test_function_tables_reach_workers_once_and_go_with_their_client():
    with Client(n_workers=2, threads_per_worker=1, processes=True) as main:
        with Client(main.scheduler_address, set_as_default=False) as other:
            assert other.gather(other.map(lambda v: v * 2, range(50))) == list(range(0, 100, 2))
            tables = main.run(_tables)
            assert any(tables.values())  # other's table (main sent no task yet)
            assert all(len(t) <= 1 for t in tables.values())
        deadline = time.monotonic() + 10
        while any(main.run(_tables).values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(main.run(_tables).values())  # dropped with the client
        assert main.submit(inc, 1).result() == 2


# ------------------------------------------------------------ streamed order


def _graphs():
    tree, top = _tree(100, fan_in=3)
    chains = {
        ("c", i, j): Task(inc, Ref(("c", i, j - 1))) if j else i for i in range(5) for j in range(6)
    }
    shared = {"x": 1, **{("y", i): Task(add, Ref("x"), i) for i in range(10)}}
    shared["z"] = Task(add, *[Ref(("y", i)) for i in range(10)], Ref("x"))
    return [
        (tree, [top]),
        (chains, [("c", i, 5) for i in range(5)]),
        (shared, ["z", ("y", 3)]),
        ({"a": 1}, ["a"]),
    ]


@pytest.mark.parametrize("chunk", [1, 2, 7, 1000])
@pytest.mark.parametrize("case", range(4))
def test_streamed_order_equals_core_order(case, chunk):
    from shoal.core.order import order_chunks, order_graph

    graph, outputs = _graphs()[case]
    keys, nodes, deps, _ = order_graph(graph, outputs)
    chunks = list(order_chunks(graph, outputs, chunk))
    assert all(0 < len(c[0]) <= chunk for c in chunks)
    assert [k for c in chunks for k in c[0]] == keys
    assert [d for c in chunks for d in c[2]] == deps
    assert all(a is b for a, b in zip([n for c in chunks for n in c[1]], nodes))


def test_streamed_order_raises_like_core_order():
    from shoal.core.graph import CycleError, MissingKeyError
    from shoal.core.order import order_chunks

    with pytest.raises(MissingKeyError, match="ghost"):
        list(order_chunks({"a": Task(inc, Ref("ghost"))}, ["a"], 10))
    with pytest.raises(MissingKeyError, match="nope"):
        list(order_chunks({"a": 1}, ["nope"], 10))
    cyclic = {"a": Task(inc, Ref("b")), "b": Task(inc, Ref("a"))}
    with pytest.raises(CycleError):
        list(order_chunks(cyclic, ["a"], 10))


def test_a_bad_graph_found_late_is_withdrawn(client):
    graph, top = _tree(60)
    graph[("load", 59)] = Task(inc, Ref("ghost"))  # found only at the end of the walk
    from shoal.core.graph import MissingKeyError

    with config.set({"distributed.client.graph-chunk": 5}):
        with pytest.raises(MissingKeyError, match="ghost"):
            client.get(graph, top)
    _wait_idle(client)
    assert client.submit(inc, 41).result() == 42  # the client still works
