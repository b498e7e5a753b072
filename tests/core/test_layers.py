"""LayeredGraph behaves exactly like a dict of key -> node, while storing grids
of block keys as layers. Every test checks it against a plain dict (the oracle)."""

import pickle
import random
import sys
from itertools import product

import cloudpickle
import numpy as np
import pytest

from shoal.core.fuse import fuse_linear
from shoal.core.layers import Layer, LayeredGraph
from shoal.core.local import get_processes, get_sync, get_threads
from shoal.core.order import order_graph
from shoal.core.task import Fused, Ref, Task

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # for the processes backend


def inc(x):
    return x + 1


def add(x, y):
    return x + y


def total(*xs):
    return sum(xs)


def blocks_graph(n: int, m: int = 3) -> dict:
    """A 1-D layer of loads, a 2-D layer computed from it, and a loose total."""
    g: dict = {("load", i): i for i in range(n)}
    for i in range(n):
        for j in range(m):
            g[("grid", i, j)] = Task(add, Ref(("load", i)), j)
    g["total"] = Task(total, *[Ref(("grid", i, j)) for i in range(n) for j in range(m)])
    return g


def layered(g: dict) -> LayeredGraph:
    """``g`` with every name whose keys fill a whole grid from 0 as a layer, the
    rest loose (as collections would build it)."""
    grids: dict = {}
    for k in g:
        if type(k) is tuple and len(k) > 1 and all(type(i) is int for i in k[1:]):
            grids.setdefault(k[0], []).append(k[1:])
    out = LayeredGraph()
    for name, indices in grids.items():
        shape = tuple(max(ix[a] for ix in indices) + 1 for a in range(len(indices[0])))
        full = list(product(*map(range, shape)))
        if len(indices) >= 32 and sorted(indices) == full:
            out.add_layer(Layer(name, shape, [g[(name, *ix)] for ix in full]))
    out.update({k: v for k, v in g.items() if k not in out})
    return out


def assert_same(lg: LayeredGraph, d: dict) -> None:
    assert len(lg) == len(d)
    assert set(lg) == set(d)
    assert sorted(lg.keys(), key=repr) == sorted(d.keys(), key=repr)
    for k, v in d.items():
        assert k in lg
        assert lg[k] is v
    assert dict(lg.items()) == d
    assert sorted(map(id, lg.values())) == sorted(map(id, d.values()))
    assert lg == d


@pytest.mark.parametrize("n", [0, 1, 11, 40, 333])
def test_a_layered_graph_equals_its_dict(n):
    d = blocks_graph(n)
    lg = layered(d)
    assert_same(lg, d)
    if n * 3 >= 32:  # big enough grids become layers
        assert set(lg.layers) >= {"grid"}
        assert lg.layers["grid"].shape == (n, 3)


def test_keys_off_the_grid_are_missing():
    lg = layered(blocks_graph(40))
    for key in [
        ("grid", 40, 0),
        ("grid", 0, 3),
        ("grid", -1, 0),
        ("grid", 0),
        ("grid",),
        ("grid", 0, 0, 0),
        ("grid", "0", 0),
        ("nope", 0),
        "grid",
        (),
        ("grid", 1.0, 0),
    ]:
        assert key not in lg
        with pytest.raises(KeyError):
            lg[key]
    assert lg.get(("grid", 99, 0), "default") == "default"


def test_numpy_integer_indices_find_their_keys():
    d = blocks_graph(40)
    lg = layered(d)
    assert lg[("grid", np.int64(5), np.int32(2))] is d[("grid", 5, 2)]
    assert ("load", np.uint8(39)) in lg


def test_random_edits_match_a_dict():
    rng = random.Random(0)
    d = blocks_graph(50)
    lg = layered(d)
    snapshot = dict(d)
    frozen = lg.copy()  # shares layers; edits below must not reach it
    keys = list(d) + [("grid", 50, 0), ("load", 50), ("new", 1), "other"]
    for step in range(3000):
        k = rng.choice(keys)
        if rng.random() < 0.5:
            v = object()
            d[k] = v
            lg[k] = v
        elif k in d:
            del d[k]
            del lg[k]
        else:
            with pytest.raises(KeyError):
                del lg[k]
        if step % 500 == 0:
            assert_same(lg, d)
    assert_same(lg, d)
    assert_same(frozen, snapshot)


def test_deleting_a_whole_layer_removes_it():
    lg = layered({("x", i): i for i in range(40)})
    for i in range(40):
        del lg[("x", i)]
    assert lg.layers == {} and len(lg) == 0 and list(lg) == []


def test_update_later_values_win_and_layers_are_shared_not_copied():
    a = layered({("x", i): i for i in range(40)})
    b = LayeredGraph()
    b[("x", 3)] = "loose-before"
    b["s"] = 1
    b.update(a)
    assert b[("x", 3)] == 3 and len(b) == 41
    assert b.layers["x"] is a.layers["x"]
    b[("x", 4)] = "changed"
    assert a[("x", 4)] == 4  # b copied the shared layer before changing it
    a.update({("x", 5): "later"})
    assert a[("x", 5)] == "later" and b[("x", 5)] == 5


def test_add_layer_checks_its_size_and_takes_over_loose_keys():
    with pytest.raises(ValueError, match=r"layer 'x' of shape \(2, 3\) needs 6 nodes, got 5"):
        Layer("x", (2, 3), [0] * 5)
    g = LayeredGraph({("x", 0): "old", ("x", 7): "off-grid"})
    g.add_layer(Layer("x", (2,), ["a", "b"]))
    assert_same(g, {("x", 0): "a", ("x", 1): "b", ("x", 7): "off-grid"})


def test_added_dicts_stay_loose_unless_a_layer_covers_their_keys():
    d = {("x", i): i for i in range(40)} | {("y", "a"): 0}
    lg = LayeredGraph()
    lg.update(d)
    assert lg.layers == {}
    assert_same(lg, d)
    nodes = [-i for i in range(40)]
    lg.update(Layer("x", (40,), nodes))  # the layer takes over ("x", i)
    assert lg.loose == {("y", "a"): 0}
    assert_same(lg, {("x", i): nodes[i] for i in range(40)} | {("y", "a"): 0})


def test_zero_dimensional_layer():
    g = LayeredGraph()
    g.add_layer(Layer("s", (), [5]))
    assert_same(g, {("s",): 5})


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
def test_pickling_keeps_keys_layers_and_holes(dumps):
    d = blocks_graph(40)
    lg = layered(d)
    del lg[("grid", 3, 1)]
    del d[("grid", 3, 1)]
    back = pickle.loads(dumps(lg))
    assert set(back) == set(d) and ("grid", 3, 1) not in back
    assert back.layers["grid"].count == 40 * 3 - 1
    assert get_sync(back, [("grid", 5, 2)]) == [7]


@pytest.mark.parametrize("get", [get_sync, get_threads, get_processes])
def test_schedulers_give_the_dict_results(get):
    d = blocks_graph(40)
    lg = layered(d)
    assert lg.layers
    want = ["total", [("grid", 0, 0), ("load", 39)]]
    assert (
        get(lg, want)
        == get_sync(d, want)
        == [sum(i + j for i in range(40) for j in range(3)), [0, 39]]
    )


def test_order_graph_is_the_same_for_both():
    d = blocks_graph(40)
    keys_l, _, deps_l, count_l = order_graph(layered(d), ["total"])
    keys_d, _, deps_d, count_d = order_graph(d, ["total"])
    assert (keys_l, deps_l, count_l) == (keys_d, deps_d, count_d)


def test_fusing_keeps_layers_and_results():
    n = 64
    d = {("a", i): i for i in range(n)}
    d.update({("b", i): Task(inc, Ref(("a", i))) for i in range(n)})
    d.update({("c", i): Task(inc, Ref(("b", i))) for i in range(n)})
    d["out"] = Task(total, *[Ref(("c", i)) for i in range(n)])
    lg = layered(d)
    fused = fuse_linear(lg, ["out"])
    assert isinstance(fused, LayeredGraph)
    assert set(fused) == set(fuse_linear(d, ["out"]))
    assert set(fused.layers) == {"c"}  # a and b were fused into c, block by block
    assert type(fused[("c", 0)]) is Fused
    assert get_sync(fused, "out") == get_sync(d, "out") == sum(i + 2 for i in range(n))
    assert set(lg) == set(d)  # the input is left alone


def test_drop_matches_deleting_from_a_dict():
    rng = random.Random(1)
    d = blocks_graph(40)
    lg = layered(d)
    other = lg.copy()
    keys = list(d)
    for _ in range(5):
        gone = rng.sample(keys, 30) + [("grid", 99, 0), "missing"]
        lg.drop(gone)
        for k in gone:
            d.pop(k, None)
        assert_same(lg, d)
    lg.drop(list(d))
    assert len(lg) == 0 and lg.layers == {}
    assert len(other) == len(blocks_graph(40))  # the copy kept its shared layers
