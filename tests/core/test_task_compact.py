"""The compact task layout and the scheduler fast paths keep every observable value.

A ``Task`` stores its call in three slots with several internal shapes (no
references, one bare argument, one reference, several references, anything
else). Whatever the shape, ``args``, ``kwargs``, ``annotations``,
``dependencies``, equality, pickling and the call itself must be what was given.
"""

import pickle
from operator import add

import pytest

from shoal.core.fuse import fuse_linear
from shoal.core.local import get_sync, get_threads
from shoal.core.order import order_graph
from shoal.core.task import Fused, Ref, Task


def pack(*args, **kwargs):
    return args, kwargs


RESULTS = {"a": 1, "b": 2, ("t", 0): 3}

SHAPES = [
    ((), {}),
    ((5,), {}),
    (((1, 2),), {}),  # a lone tuple argument stays one argument
    ((None,), {}),
    (([1, 2],), {}),
    ((Ref("a"),), {}),
    ((Ref("a"), 10), {}),
    ((10, Ref("a")), {}),
    ((Ref("a"), Ref("a")), {}),
    ((1, 2, 3, 4, 5, 6, 7, Ref(("t", 0))), {}),  # the last position with a compact slot
    ((1, 2, 3, 4, 5, 6, 7, 8, Ref("a")), {}),  # past it: the Ref is kept as an object
    ((1, Ref("b"), 3), {}),
    ((Ref("a"), Ref("b")), {}),
    ((Ref("a"), Ref("b"), Ref(("t", 0)), 4), {}),
    (([Ref("a")],), {}),
    ((Ref("a"),), {"k": 1}),
    ((), {"k": Ref("b")}),
    ((Task(add, Ref("a"), 1),), {}),
]


def plain(args, kwargs):
    """The expected call result, substituting by hand."""

    def sub(x):
        if type(x) is Ref:
            return RESULTS[x.key]
        if type(x) is Task:
            return x(RESULTS)
        if type(x) is list:
            return [sub(v) for v in x]
        return x

    return tuple(sub(a) for a in args), {k: sub(v) for k, v in kwargs.items()}


@pytest.mark.parametrize("args, kwargs", SHAPES)
def test_every_shape_keeps_its_arguments_and_calls_right(args, kwargs):
    t = Task(pack, *args, **kwargs)
    assert t.args == args
    assert t.kwargs == (kwargs or None)
    assert t.annotations is None
    assert t(RESULTS) == plain(args, kwargs)
    again = pickle.loads(pickle.dumps(t))
    assert again == t and again(RESULTS) == plain(args, kwargs)
    assert again.dependencies == t.dependencies


@pytest.mark.parametrize("args, kwargs", SHAPES)
def test_annotating_any_shape_keeps_the_call(args, kwargs):
    t = Task(pack, *args, **kwargs)
    deps = t.dependencies
    t.annotate(retries=1)
    assert t.annotations == {"retries": 1}
    assert t.args == args and t.kwargs == (kwargs or None) and t.dependencies == deps
    assert t(RESULTS) == plain(args, kwargs)
    t.annotations = None
    assert t.annotations is None and t(RESULTS) == plain(args, kwargs)
    assert pickle.loads(pickle.dumps(t)) == t


def test_equality_sees_through_the_layout():
    assert Task(pack, 1) == Task(pack, 1)
    assert Task(pack, 1) != Task(pack, (1,))
    assert Task(pack, Ref("a")) != Task(pack, Ref("b"))
    assert Task(pack, 1).annotate(priority=1) != Task(pack, 1)


def test_order_graph_positions_and_counts():
    """
    a   b
    |\\ /
    | c
     \\|
      d      (wanted: d and c)
    """
    graph = {
        "d": Task(add, Ref("a"), Ref("c")),
        "c": Task(add, Ref("a"), Ref("b")),
        "a": 1,
        "b": 2,
    }
    keys, nodes, deps, n_dependents = order_graph(graph, ["d", "c"])
    assert keys == ["a", "b", "c", "d"]
    assert [graph[k] for k in keys] == nodes
    assert deps == [(), (), (0, 1), (0, 2)]
    assert n_dependents == [2, 1, 1, 0]
    assert get_sync(graph, ["d", "c"]) == get_threads(graph, ["d", "c"]) == [4, 3]


class Block:
    live = 0
    peak = 0

    def __init__(self, value):
        self.value = value
        Block.live += 1
        Block.peak = max(Block.peak, Block.live)

    def __del__(self):
        Block.live -= 1


def make(i):
    return Block(i)


def grow(block):
    return Block(block.value + 1)


def test_a_fused_chain_releases_its_inner_results_as_it_goes():
    graph = {"x0": Task(make, 0)}
    for i in range(1, 500):
        graph[f"x{i}"] = Task(grow, Ref(f"x{i - 1}"))
    fused = fuse_linear(graph, ["x499"])
    assert list(fused) == ["x499"] and type(fused["x499"]) is Fused
    Block.live = Block.peak = 0
    assert get_sync(fused, "x499").value == 499
    assert Block.peak <= 2


def test_tasks_built_alike_share_one_record_without_mixing_values():
    a = Task(pack, 1, axis=(0,), keepdims=True)
    b = Task(pack, 2, axis=(0,), keepdims=True)
    assert a._meta is b._meta  # one record and kwargs dict for a whole layer
    look_alikes = [
        Task(pack, 1, axis=(0,), keepdims=1),
        Task(pack, 1, axis=(0.0,), keepdims=True),
        Task(pack, 1, axis=(False,), keepdims=True),
        Task(pack, 1, axis=[0], keepdims=True),
    ]
    for t in look_alikes:  # equal under == but not the same values
        assert t._meta is not a._meta
    assert [t({})[1] for t in look_alikes] == [
        {"axis": (0,), "keepdims": 1},
        {"axis": (0.0,), "keepdims": True},
        {"axis": (False,), "keepdims": True},
        {"axis": [0], "keepdims": True},
    ]
    assert type(look_alikes[0]({})[1]["keepdims"]) is int
    b.annotate(retries=3)
    assert a.annotations is None and b.annotations == {"retries": 3}
    assert a({}) == ((1,), {"axis": (0,), "keepdims": True})
    assert b({}) == ((2,), {"axis": (0,), "keepdims": True})


def test_unhashable_and_reference_kwargs_still_work():
    t = Task(pack, k=Ref("a"), j=[1, 2], m={"x": Ref("b")})
    assert t.dependencies == ("a", "b")
    assert t(RESULTS) == ((), {"k": 1, "j": [1, 2], "m": {"x": 2}})
