"""Linear-chain fusion: chains become one task, everything else is left alone."""

import sys

import cloudpickle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal
from shoal.core.fuse import fuse_linear
from shoal.core.local import get_processes, get_sync, get_threads
from shoal.core.task import Fused, Ref, Task

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # for the processes backend


def inc(x):
    return x + 1


def add(x, y):
    return x + y


def chain(n, head=0, name="x"):
    """
    x0 -> x1 -> x2 -> ... -> x(n-1)
    (x0 is data, the rest are inc)
    """
    graph = {f"{name}0": head}
    for i in range(1, n):
        graph[f"{name}{i}"] = Task(inc, Ref(f"{name}{i - 1}"))
    return graph


def test_thousand_long_chain_becomes_one_task(spelling):
    graph, rename, back = spelling.respell(chain(1000))
    out = rename["x999"]
    fused = fuse_linear(graph, [out])
    assert list(fused) == [out]
    node = fused[out]
    assert type(node) is Fused and len(node.tasks) == 1000
    assert node.dependencies == ()
    assert get_sync(fused, out) == 999
    assert get_threads(fused, out) == 999


def test_chain_through_compute_and_delayed():
    x = shoal.delayed(0, name="start")
    for _ in range(1000):
        x = shoal.delayed(inc)(x)
    graph, keys = shoal.core.base.collections_to_graph([x])
    assert len(graph) == 1
    assert x.compute(scheduler="sync") == 1000
    assert x.compute(scheduler="threads") == 1000
    with shoal.config.set({"optimization.fuse.active": False}):
        graph, _ = shoal.core.base.collections_to_graph([x])
        assert len(graph) == 1001
        assert x.compute(scheduler="sync") == 1000


def test_diamond_is_not_fused(spelling):
    """
          d
         / \\
        b   c
         \\ /
          a
    """
    graph = {
        "a": 1,
        "b": Task(inc, Ref("a")),
        "c": Task(inc, Ref("a")),
        "d": Task(add, Ref("b"), Ref("c")),
    }
    graph, rename, back = spelling.respell(graph)
    fused = fuse_linear(graph, [rename["d"]])
    assert fused == graph
    assert get_sync(fused, rename["d"]) == 4


def test_fan_in_and_fan_out_are_left_alone():
    """
      c       e   f
     / \\      \\ /
    a   b      d
    """
    graph = {
        "a": 1,
        "b": 2,
        "c": Task(add, Ref("a"), Ref("b")),
        "d": 3,
        "e": Task(inc, Ref("d")),
        "f": Task(inc, Ref("d")),
    }
    assert fuse_linear(graph, ["c", "e", "f"]) == graph


def test_chain_below_a_diamond_is_fused():
    """
        z <- y <- x          (x, y, z a chain: fused into z)
              |
              d
             / \\
            b   c
             \\ /
              a
    """
    graph = {
        "a": 1,
        "b": Task(inc, Ref("a")),
        "c": Task(inc, Ref("a")),
        "d": Task(add, Ref("b"), Ref("c")),
        "x": Task(inc, Ref("d")),
        "y": Task(inc, Ref("x")),
        "z": Task(inc, Ref("y")),
    }
    fused = fuse_linear(graph, ["z"])
    assert sorted(fused) == ["a", "b", "c", "z"]
    assert [k for k, _ in fused["z"].tasks] == ["d", "x", "y", "z"]
    assert fused["z"].dependencies == ("b", "c")
    assert get_sync(fused, "z") == 7


def test_outputs_stay_addressable(spelling):
    graph, rename, back = spelling.respell(chain(10))
    outs = [rename["x3"], rename["x9"]]
    fused = fuse_linear(graph, outs)
    assert set(outs) <= set(fused)
    assert sorted(back[k] for k in fused) == ["x3", "x9"]
    assert get_sync(fused, outs) == [3, 9]


@pytest.mark.parametrize("max_length", [1, 2, 7, 100, 1000])
def test_max_length_bounds_chain_length(max_length):
    graph = chain(1000)
    fused = fuse_linear(graph, ["x999"], max_length=max_length)
    sizes = [len(n.tasks) if type(n) is Fused else 1 for n in fused.values()]
    assert max(sizes) <= max_length
    assert sum(sizes) == 1000
    assert len(fused) == -(-1000 // max_length)
    assert get_sync(fused, "x999") == 999


def test_max_length_from_config():
    graph = chain(250)
    with shoal.config.set({"optimization.fuse.max-length": 100}):
        fused = fuse_linear(graph, ["x249"])
    assert sorted(len(n.tasks) for n in fused.values()) == [50, 100, 100]
    assert get_sync(fused, "x249") == 249


def test_annotations_are_kept():
    graph = {"a": Task(inc, 0).annotate(retries=2, priority=3)}
    for i in range(1, 5):
        graph[f"t{i}"] = Task(inc, Ref("a" if i == 1 else f"t{i - 1}")).annotate(
            retries=2, priority=3
        )
    fused = fuse_linear(graph, ["t4"])
    assert list(fused) == ["t4"]
    assert fused["t4"].annotations == {"retries": 2, "priority": 3}
    assert get_sync(fused, "t4") == 5


def test_different_annotations_are_not_fused_together():
    """
    a (priority 1) -> b (priority 1) -> c (resources GPU) -> d (resources GPU) -> e (none)
    fuses into:  b = Fused(a, b),  d = Fused(c, d),  e
    """
    graph = {
        "a": Task(inc, 0).annotate(priority=1),
        "b": Task(inc, Ref("a")).annotate(priority=1),
        "c": Task(inc, Ref("b")).annotate(resources={"GPU": 1}),
        "d": Task(inc, Ref("c")).annotate(resources={"GPU": 1}),
        "e": Task(inc, Ref("d")),
    }
    fused = fuse_linear(graph, ["e"])
    assert sorted(fused) == ["b", "d", "e"]
    assert fused["b"].annotations == {"priority": 1}
    assert fused["d"].annotations == {"resources": {"GPU": 1}}
    assert type(fused["e"]) is Task and fused["e"].annotations is None
    assert get_sync(fused, "e") == 5


FLAKY = {"calls": 0}


def flaky_inc(x):
    FLAKY["calls"] += 1
    if FLAKY["calls"] == 1:
        raise ConnectionError("transient")
    return x + 1


def test_retries_survive_fusion():
    FLAKY["calls"] = 0
    graph = {"a": 0}
    prev = "a"
    for i in range(3):
        graph[f"f{i}"] = Task(flaky_inc, Ref(prev)).annotate(retries=1)
        prev = f"f{i}"
    graph = {"a": Task(int, 0).annotate(retries=1), **{k: v for k, v in graph.items() if k != "a"}}
    fused = fuse_linear(graph, [prev])
    assert list(fused) == [prev]
    assert fused[prev].annotations == {"retries": 1}
    # the first attempt fails inside the fused task; the retry runs the chain again
    assert get_sync(fused, prev) == 3
    assert FLAKY["calls"] == 4


def test_fusing_twice_changes_nothing_more():
    graph = chain(50)
    once = fuse_linear(graph, ["x49"])
    twice = fuse_linear(once, ["x49"])
    assert twice == once
    assert fuse_linear({}, []) == {}


def test_fused_graphs_run_on_processes():
    graph = chain(30)
    graph["y"] = Task(add, Ref("x29"), Ref("x10"))
    fused = fuse_linear(graph, ["y"])
    assert get_processes(fused, "y", num_workers=2) == 29 + 10


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_random_graphs_compute_the_same_after_fusion(data, random_dag, spelling):
    graph, values, sinks = random_dag(data, annotate=True)
    graph, rename, back = spelling.respell(graph)
    outs = [rename[s] for s in sinks]
    extra = data.draw(st.lists(st.sampled_from(sorted(graph, key=repr)), max_size=3), label="extra")
    wanted = outs + [k for k in extra if k not in outs]
    fused = fuse_linear(graph, wanted)
    assert set(wanted) <= set(fused) <= set(graph)
    for node in fused.values():
        if type(node) is Fused:
            anns = {repr(getattr(n, "annotations", None)) for _, n in node.tasks}
            assert len(anns) == 1, "tasks with different annotations were fused"
    assert get_sync(fused, wanted) == [values[back[k]] for k in wanted]


class Handle:
    """Stands for a result a backend holds under its key (a distributed Future)."""

    __shoal_external__ = True


def test_external_handles_are_never_fused_into_their_user():
    """persist on a cluster leaves Futures as data nodes; fusing one into a
    task would hide it from the client (and try to pickle it)."""
    g = {"a": Handle(), "b": Task(abs, Ref("a")), "c": Task(abs, Ref("b"))}
    fused = fuse_linear(g, ["c"])
    assert set(fused) == {"a", "c"} and fused["a"] is g["a"]
    assert fused["c"].dependencies == ("a",)
    plain = {"a": -1, "b": Task(abs, Ref("a")), "c": Task(abs, Ref("b"))}
    assert set(fuse_linear(plain, ["c"])) == {"c"}  # plain data still fuses
