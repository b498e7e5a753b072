"""The collection protocol, compute/persist/optimize/visualize, backend choice."""

import os
import sys

import cloudpickle
import dask
import pytest

import shoal
from shoal.core import base
from shoal.core.base import (
    CollectionMethods,
    collections_to_graph,
    get_scheduler,
    is_collection,
    push_active_backend,
    register_scheduler,
    remove_active_backend,
)
from shoal.core.fuse import fuse_linear
from shoal.core.local import get_sync
from shoal.core.task import Fused, Ref, Task

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests


def inc(x):
    return x + 1


def concat(parts):
    out = []
    for p in parts:
        out.extend(p)
    return out


def make_part(start, n):
    return list(range(start, start + n))


def double_part(part):
    return [2 * x for x in part]


class Parts(CollectionMethods):
    """A minimal collection: a list split into parts, one key per part."""

    __slots__ = ("name", "graph", "nparts")

    def __init__(self, name, graph, nparts):
        self.name = name
        self.graph = graph
        self.nparts = nparts

    @classmethod
    def from_sizes(cls, name, sizes):
        graph, start = {}, 0
        for i, n in enumerate(sizes):
            graph[(name, i)] = Task(make_part, start, n)
            start += n
        return cls(name, graph, len(sizes))

    def double(self):
        name = "double-" + self.name
        graph = dict(self.graph)
        for i in range(self.nparts):
            graph[(name, i)] = Task(double_part, Ref((self.name, i)))
        return Parts(name, graph, self.nparts)

    def __shoal_graph__(self):
        return self.graph

    def __shoal_keys__(self):
        return [(self.name, i) for i in range(self.nparts)]

    def __shoal_postcompute__(self):
        return concat, ()

    def __shoal_postpersist__(self):
        return Parts._rebuild, (self.name, self.nparts)

    @staticmethod
    def _rebuild(graph, name, nparts):
        return Parts(name, {k: v for k, v in graph.items() if k[0] == name}, nparts)


class DefaultsToCustom(Parts):
    __slots__ = ()
    __shoal_scheduler__ = "custom-default"


@pytest.mark.parametrize("sizes", [[3], [1, 1, 1], [4, 0, 2], [0], [5, 1, 7, 2]])
@pytest.mark.parametrize("scheduler", ["sync", "threads", "processes"])
def test_custom_collection_matches_plain_python(sizes, scheduler):
    p = Parts.from_sizes("p", sizes).double()
    expected = [2 * x for x in range(sum(sizes))]
    assert p.compute(scheduler=scheduler) == expected
    assert shoal.compute(p, scheduler=scheduler) == (expected,)


def test_is_collection():
    d = shoal.delayed(1)
    assert is_collection(d) and is_collection(Parts.from_sizes("p", [1]))
    assert not is_collection(Parts) and not is_collection([d]) and not is_collection(1)


def test_compute_on_plain_structures_containing_collections():
    a = shoal.delayed(inc)(1)
    p = Parts.from_sizes("p", [2, 1])
    args = ([a, {"x": p, "y": (a, 5)}], {a}, frozenset([a]), "plain", 7)
    out = shoal.compute(*args, scheduler="sync")
    assert out == ([2, {"x": [0, 1, 2], "y": (2, 5)}], {2}, frozenset([2]), "plain", 7)
    assert type(out[0][1]["y"]) is tuple
    assert shoal.compute(1, [2], scheduler="sync") == (1, [2])
    assert shoal.compute() == ()
    # traverse=False leaves containers alone
    (lst,) = shoal.compute([a], traverse=False)
    assert lst[0] is a


CALLS = {"n": 0}


def counted(x):
    CALLS["n"] += 1
    return x * 10


def test_shared_work_is_computed_once():
    CALLS["n"] = 0
    shared = shoal.delayed(counted, pure=True)(4)
    x = shared + 1
    y = shared * 2
    same = shoal.delayed(counted, pure=True)(4)  # equal call, equal key
    assert same.key == shared.key
    assert shoal.compute(x, y, same, [shared], scheduler="threads") == (41, 80, 40, [40])
    assert CALLS["n"] == 1


def test_persist_returns_collections_backed_by_results():
    CALLS["n"] = 0
    d = shoal.delayed(counted)(3) + 1
    (p,) = shoal.persist(d, scheduler="sync")
    assert CALLS["n"] == 1
    assert p.key == d.key
    assert p.__shoal_graph__() == {d.key: 31}
    assert p.compute() == 31 and (p + 1).compute() == 32
    assert CALLS["n"] == 1
    assert d.persist(scheduler="sync").compute() == 31
    assert CALLS["n"] == 2
    parts = Parts.from_sizes("p", [2, 3]).double()
    pp, plain = shoal.persist(parts, 5, scheduler="threads")
    assert plain == 5
    assert pp.__shoal_graph__() == {("double-p", 0): [0, 2], ("double-p", 1): [4, 6, 8]}
    assert pp.compute() == [0, 2, 4, 6, 8]
    assert shoal.persist(1, "a") == (1, "a")


def test_optimize_fuses_but_keeps_the_value():
    x = shoal.delayed(0, name="zero")
    for _ in range(20):
        x = shoal.delayed(inc)(x)
    (o,) = shoal.optimize(x)
    graph = o.__shoal_graph__()
    assert list(graph) == [x.key] and type(graph[x.key]) is Fused
    assert o.compute(scheduler="sync", optimize_graph=False) == 20
    assert shoal.optimize(3) == (3,)


def test_collections_to_graph_merges_and_fuses_only_on_request():
    a = shoal.delayed(inc)(1)
    b = shoal.delayed(inc)(a)
    graph, keys = collections_to_graph([a, b], optimize_graph=False)
    assert keys == [a.key, b.key] and set(graph) == {a.key, b.key}
    fused, _ = collections_to_graph([b], optimize_graph=True)
    assert fused == fuse_linear(b.__shoal_graph__(), [b.key])


# ------------------------------------------------------------- visualize


def test_visualize_dot_source_and_file_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # as if not installed
    d = shoal.delayed(inc)(shoal.delayed(1, name="one"))
    source = shoal.visualize(d, filename=None)
    assert source.startswith("digraph") and "inc" in source and "one" in source
    assert "n0 -> n1" in source or "n1 -> n0" in source
    target = tmp_path / "graph.dot"
    assert d.visualize(filename=str(target)) == source
    assert target.read_text() == source
    out = tmp_path / "graph.png"
    with pytest.raises(ImportError, match=r"pip install .*graphviz|\.dot"):
        d.visualize(filename=str(out))
    assert not out.exists()


def test_visualize_without_the_dot_program_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path))  # no 'dot' on the PATH
    d = shoal.delayed(inc)(1)
    with pytest.raises(RuntimeError, match="'dot' program"):
        d.visualize(filename=str(tmp_path / "graph.svg"))


def test_visualize_shows_fused_graph_when_optimized():
    x = shoal.delayed(0, name="zero")
    for _ in range(5):
        x = shoal.delayed(inc)(x)
    assert shoal.visualize(x, filename=None).count("shape=box") == 5
    assert "fused(6)" in shoal.visualize(x, filename=None, optimize_graph=True)


# --------------------------------------------------------- backend choice


def recording(name, log):
    def get(graph, keys, **kwargs):
        log.append(name)
        return get_sync(graph, keys)

    get.__name__ = f"get_{name}"
    return get


class FakeClient:
    def __init__(self, log):
        self.get = recording("client", log)


def test_scheduler_choice_order():
    log: list = []
    register_scheduler("custom-arg", recording("arg", log))
    register_scheduler("custom-config", recording("config", log))
    register_scheduler("custom-default", recording("default", log))
    coll = DefaultsToCustom.from_sizes("p", [1, 2])
    client = FakeClient(log)

    def run(**kwargs):
        log.clear()
        assert coll.compute(**kwargs) == [0, 1, 2]
        return log[-1]

    try:
        assert run() == "default"
        push_active_backend(client)
        assert run() == "client"
        with shoal.config.set(scheduler="custom-config"):
            assert run() == "config"
            assert run(scheduler="custom-arg") == "arg"
        remove_active_backend(client)
        assert run() == "default"
        assert run(scheduler="custom-arg") == "arg"
        # a function or a client object as the scheduler argument
        assert run(scheduler=recording("func", log)) == "func"
        assert run(scheduler=client) == "client"
    finally:
        remove_active_backend(client)
        for name in ("custom-arg", "custom-config", "custom-default"):
            base.BACKENDS.pop(name, None)


def test_default_backend_is_threads_and_names_are_case_insensitive():
    assert get_scheduler().__name__ == "get_threads"
    assert get_scheduler("SYNC").__name__ == "get_sync"
    assert get_scheduler("processes").__name__ == "get_processes"
    assert get_scheduler(None, (Parts.from_sizes("p", [1]),)).__name__ == "get_threads"


def test_unknown_scheduler_name_lists_valid_names():
    ran = []
    d = shoal.delayed(ran.append)(1)
    with pytest.raises(ValueError, match="unknown scheduler 'thread'") as info:
        d.compute(scheduler="thread")
    for name in ("sync", "threads", "processes"):
        assert name in str(info.value)
    with shoal.config.set(scheduler="nope"):
        with pytest.raises(ValueError, match="'nope'.*threads"):
            shoal.compute(d)
    with pytest.raises(TypeError, match="scheduler must be"):
        d.compute(scheduler=42)
    assert ran == []


def test_dask_collections_are_refused_with_a_clear_error():
    dd = dask.delayed(inc)(1)
    for call in (
        lambda: shoal.compute(dd),
        lambda: shoal.compute([1, {"a": dd}]),
        lambda: shoal.persist(dd),
        lambda: shoal.optimize(dd),
        lambda: shoal.visualize(dd, filename=None),
        lambda: shoal.delayed(inc)(dd),
        lambda: shoal.delayed(inc)([dd]),
        lambda: shoal.delayed(dd),
        lambda: shoal.delayed([1, dd]),
    ):
        with pytest.raises(TypeError, match="Dask collection, not a shoal one"):
            call()


def test_backend_options_reach_the_backend():
    seen = []
    cb = shoal.Callback(posttask=lambda key, result, worker: seen.append(key))
    d = shoal.delayed(inc)(1)
    assert d.compute(scheduler="threads", num_workers=1, callbacks=[cb]) == 2
    assert seen == [d.key]


def test_compute_errors_keep_type_and_name_the_key():
    def fail(x):
        raise KeyError(f"no {x}")

    d = shoal.delayed(fail)(1)
    for scheduler in ("sync", "threads"):
        with pytest.raises(KeyError, match="no 1") as info:
            d.compute(scheduler=scheduler)
        assert d.key in "\n".join(info.value.__notes__)


def test_doctest_collection_example_files_stay_out_of_cwd(tmp_path):
    """visualize writes where it is told, nowhere else."""
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        shoal.delayed(inc)(1).visualize(filename="g.dot")
        assert sorted(os.listdir(tmp_path)) == ["g.dot"]
    finally:
        os.chdir(cwd)


def forbidden_get(graph, keys, **kwargs):
    raise AssertionError("something was computed")


def test_building_optimizing_and_drawing_never_compute():
    """A backend that raises if used proves laziness."""
    register_scheduler("forbidden", forbidden_get)
    try:
        with shoal.config.set(scheduler="forbidden"):
            a = shoal.delayed(inc)(1)
            b = (a + 1) * a
            items = shoal.delayed([a, b, {"k": a}])
            parts = Parts.from_sizes("p", [2, 3]).double()
            shoal.optimize(b, items, parts)
            shoal.visualize(b, items, parts, filename=None)
            shoal.tokenize(b, items)
            _ = b.real, b[0], items.keys(), len(shoal.delayed(divmod, nout=2)(a, 2))
            with pytest.raises(AssertionError, match="something was computed"):
                b.compute()
    finally:
        base.BACKENDS.pop("forbidden", None)
