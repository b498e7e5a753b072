"""Helpers shared by the core tests, exposed as session fixtures.

- ``spelling``: runs a test under two opposite key spellings: the keys as
  written, and every key renamed so that sorting them reverses their order
  (the graph is also built in reverse insertion order). A pass that depends on
  how keys sort, or on dict order, shows up as a difference between the two.
- ``random_dag``: draws a random task graph with hypothesis and returns it with
  its plain-Python oracle.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import cloudpickle
import pytest

from shoal.core.task import Fused, Ref, Task

# test modules are not importable in the processes backend's workers: ship by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def mix(i, *xs):
    """Order-sensitive combination, so swapped arguments give another value."""
    total = i * 7
    for j, x in enumerate(xs):
        total = (total * 31 + (j + 1) * x) % 1_000_003
    return total


def mix_list(i, xs, scale=1):
    return mix(i, *xs) * scale


def _respell_obj(obj, rename):
    typ = type(obj)
    if typ is Ref:
        return Ref(rename[obj.key])
    if typ is Task:
        task = Task(
            obj.func,
            *[_respell_obj(a, rename) for a in obj.args],
            **{k: _respell_obj(v, rename) for k, v in (obj.kwargs or {}).items()},
        )
        task.annotations = obj.annotations
        return task
    if typ is Fused:
        inner = [(rename.get(k, k), _respell_obj(n, rename)) for k, n in obj.tasks]
        return Fused(rename.get(obj.key, obj.key), inner, obj.annotations)
    if typ in (list, tuple):
        return typ(_respell_obj(x, rename) for x in obj)
    if typ is dict:
        return {k: _respell_obj(v, rename) for k, v in obj.items()}
    return obj


class Spelling:
    """Rename keys of graphs consistently; ``back`` maps new keys to old ones."""

    def __init__(self, mode: str):
        self.mode = mode

    def __repr__(self) -> str:
        return self.mode

    def respell(self, graph: dict) -> tuple[dict, dict, dict]:
        """(new_graph, rename old->new, back new->old)."""
        if self.mode == "as-written":
            rename = {k: k for k in graph}
            return dict(graph), rename, dict(rename)
        ranked = sorted(graph, key=repr)
        n = len(ranked)
        rename = {k: f"k{n - 1 - i:07d}" for i, k in enumerate(ranked)}
        new = {rename[k]: _respell_obj(graph[k], rename) for k in reversed(list(graph))}
        return new, rename, {v: k for k, v in rename.items()}


@pytest.fixture(params=["as-written", "reversed"], scope="session")
def spelling(request):
    return Spelling(request.param)


def _random_dag(data, max_nodes: int = 25, annotate: bool = False):
    """A random DAG (graph, oracle results, sinks) drawn with ``data.draw``."""
    import hypothesis.strategies as st

    n = data.draw(st.integers(1, max_nodes), label="n")
    graph: dict = {}
    values: dict = {}
    keys: list = []
    for i in range(n):
        key = data.draw(st.sampled_from([f"t-{i}", ("t", i), ("blk", i, 0)]), label="key")
        earlier = keys[:i]
        deps = (
            data.draw(st.lists(st.sampled_from(earlier), max_size=4), label="deps")
            if earlier
            else []
        )
        kind = data.draw(st.sampled_from(["data", "flat", "list", "nested", "kw"]), label="kind")
        if kind == "data" or (not deps and kind != "data" and i % 3 == 0):
            graph[key] = i
            values[key] = i
        elif kind == "flat":
            graph[key] = Task(mix, i, *[Ref(d) for d in deps])
            values[key] = mix(i, *[values[d] for d in deps])
        elif kind == "list":
            graph[key] = Task(mix_list, i, [Ref(d) for d in deps])
            values[key] = mix_list(i, [values[d] for d in deps])
        elif kind == "nested":
            graph[key] = Task(mix, i, Task(mix_list, 0, [Ref(d) for d in deps]), 5)
            values[key] = mix(i, mix_list(0, [values[d] for d in deps]), 5)
        else:
            graph[key] = Task(mix_list, i, xs=[Ref(d) for d in deps], scale=3)
            values[key] = mix_list(i, [values[d] for d in deps], scale=3)
        if annotate and type(graph[key]) is Task and data.draw(st.booleans(), label="ann"):
            graph[key].annotate(priority=data.draw(st.integers(0, 1), label="prio"))
        keys.append(key)
    used = {d for node in graph.values() if type(node) is Task for d in node.dependencies}
    sinks = [k for k in keys if k not in used]
    return graph, values, sinks


@pytest.fixture(scope="session")
def random_dag():
    return _random_dag


@pytest.fixture(scope="session")
def funcs():
    return SimpleNamespace(mix=mix, mix_list=mix_list)


@pytest.fixture(scope="session", autouse=True)
def _close_process_pools():
    """Shut the reused process pools down before the interpreter tears down."""
    yield
    from shoal.core import local

    for pool in list(getattr(local, "_process_pools", {}).values()):
        pool.shutdown(wait=True, cancel_futures=True)
