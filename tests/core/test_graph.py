"""Graph utilities: dependencies, dependents, toposort, cull and validation."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.core.graph import (
    CycleError,
    MissingKeyError,
    cull,
    flatten_keys,
    get_dependencies,
    get_dependents,
    toposort,
    validate,
)
from shoal.core.local import get_sync, get_threads
from shoal.core.task import Ref, Task

RAN = []


def record(name, *args):
    RAN.append(name)
    return name


def diamond():
    """
          d
         / \\
        b   c
         \\ /
          a
    """
    return {
        "a": 1,
        "b": Task(record, "b", Ref("a")),
        "c": Task(record, "c", Ref("a")),
        "d": Task(record, "d", Ref("b"), Ref("c")),
    }


def test_dependencies_and_dependents(spelling):
    graph, rename, back = spelling.respell(diamond())
    deps = get_dependencies(graph)
    assert {back[k]: sorted(back[d] for d in v) for k, v in deps.items()} == {
        "a": [],
        "b": ["a"],
        "c": ["a"],
        "d": ["b", "c"],
    }
    dependents = get_dependents(graph)
    assert {back[k]: sorted(back[d] for d in v) for k, v in dependents.items()} == {
        "a": ["b", "c"],
        "b": ["d"],
        "c": ["d"],
        "d": [],
    }
    assert get_dependents(graph, deps) == dependents


def test_toposort_diamond(spelling):
    graph, rename, back = spelling.respell(diamond())
    order = [back[k] for k in toposort(graph)]
    assert sorted(order) == ["a", "b", "c", "d"]
    assert order[0] == "a" and order[-1] == "d"


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_toposort_random_graphs_respect_dependencies(data, random_dag):
    graph, _, _ = random_dag(data)
    order = toposort(graph)
    assert sorted(order, key=repr) == sorted(graph, key=repr)
    position = {k: i for i, k in enumerate(order)}
    for k, deps in get_dependencies(graph).items():
        for d in deps:
            assert position[d] < position[k]


def test_toposort_long_chain_is_iterative():
    n = 30_000  # far deeper than the recursion limit
    graph = {("x", 0): 0}
    for i in range(1, n):
        graph[("x", i)] = Task(abs, Ref(("x", i - 1)))
    order = toposort(graph)
    assert order[0] == ("x", 0) and order[-1] == ("x", n - 1)
    assert len(cull(graph, [("x", n - 1)])) == n


def test_cull_keeps_only_what_is_needed(spelling):
    """
    b   e       cull to [b] -> {a, b}
    |   |
    a   d   f
    """
    graph = {
        "a": 1,
        "b": Task(abs, Ref("a")),
        "d": 2,
        "e": Task(abs, Ref("d")),
        "f": 3,
    }
    graph, rename, back = spelling.respell(graph)
    assert sorted(back[k] for k in cull(graph, [rename["b"]])) == ["a", "b"]
    assert sorted(back[k] for k in cull(graph, [rename["b"], rename["f"]])) == ["a", "b", "f"]
    assert cull(graph, []) == {}
    # cull does not mutate its input
    assert len(graph) == 5


def test_cycle_error_names_the_keys_on_the_cycle():
    """
    x -> a -> b -> c -> a      (x hangs off the cycle)
    """
    graph = {
        "x": Task(abs, Ref("a")),
        "a": Task(abs, Ref("b")),
        "b": Task(abs, Ref("c")),
        "c": Task(abs, Ref("a")),
    }
    with pytest.raises(CycleError) as info:
        toposort(graph)
    assert sorted(info.value.cycle) == ["a", "b", "c"]
    message = str(info.value)
    for k in "abc":
        assert repr(k) in message
    assert "'x'" not in message
    with pytest.raises(CycleError):
        validate(graph)


def test_self_cycle():
    with pytest.raises(CycleError, match="'a' -> 'a'"):
        toposort({"a": Task(abs, Ref("a"))})


def test_missing_key_names_key_and_the_task_that_asked():
    graph = {"a": 1, "b": Task(abs, Ref(("gone", 3))), "c": Task(abs, Ref("b"))}
    for func in (toposort, validate, lambda g: cull(g, ["c"])):
        with pytest.raises(MissingKeyError) as info:
            func(graph)
        assert info.value.missing == ("gone", 3)
        assert info.value.needed_by == "b"
        assert "('gone', 3)" in str(info.value) and "'b'" in str(info.value)
    with pytest.raises(MissingKeyError, match="'zzz' was requested"):
        cull(graph, ["zzz"])
    with pytest.raises(MissingKeyError, match="'zzz' was requested"):
        validate({"a": 1}, ["zzz"])


@pytest.mark.parametrize("get", [get_sync, get_threads])
def test_bad_graphs_fail_before_any_task_runs(get):
    RAN.clear()
    cyclic = {
        "ok": Task(record, "ok"),
        "a": Task(record, "a", Ref("b"), Ref("ok")),
        "b": Task(record, "b", Ref("a")),
        "out": Task(record, "out", Ref("a"), Ref("ok")),
    }
    with pytest.raises(CycleError):
        get(cyclic, "out")
    missing = {"ok": Task(record, "ok"), "out": Task(record, "out", Ref("ok"), Ref("nope"))}
    with pytest.raises(MissingKeyError, match="'nope'"):
        get(missing, "out")
    with pytest.raises(MissingKeyError, match="'absent'"):
        get(missing, ["ok", "absent"])
    assert RAN == []


def test_flatten_keys():
    assert flatten_keys("a") == ["a"]
    assert flatten_keys(("x", 1)) == [("x", 1)]
    assert flatten_keys([]) == []
    assert flatten_keys([[["a"]], [], [("b", 0), [("b", 1)]]]) == ["a", ("b", 0), ("b", 1)]
