"""The task spec: references, nesting, data nodes, dependencies, pickling."""

import pickle
from operator import add, mul

import cloudpickle
import pytest

from shoal.core.local import get_sync
from shoal.core.task import Fused, Ref, Task, dependencies_of, execute_node, is_node


def inc(x):
    return x + 1


def pack(*args, **kwargs):
    return args, kwargs


def test_ref_as_positional_argument():
    t = Task(add, Ref("a"), Ref("b"))
    assert t.dependencies == ("a", "b")
    assert t({"a": 1, "b": 2}) == 3


def test_refs_found_in_nested_lists_tuples_and_dicts():
    t = Task(pack, [Ref("a"), (1, Ref("b"), [Ref("c")])], {"x": {"y": Ref("d")}}, k=[Ref("e")])
    assert set(t.dependencies) == {"a", "b", "c", "d", "e"}
    args, kwargs = t({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert args == ([1, (1, 2, [3])], {"x": {"y": 4}})
    assert kwargs == {"k": [5]}


def test_dict_keys_are_never_substituted():
    """Only values of dict arguments are searched; keys are data."""
    t = Task(pack, {"a": Ref("b")})
    assert t.dependencies == ("b",)
    assert t({"b": 1}) == (({"a": 1},), {})


def test_tuple_keys_in_refs():
    t = Task(add, Ref(("x", 0)), Ref(("x", 1)))
    assert t.dependencies == (("x", 0), ("x", 1))
    assert t({("x", 0): 10, ("x", 1): 5}) == 15


def test_dependencies_are_deduplicated_and_in_argument_order():
    t = Task(pack, Ref("b"), [Ref("a"), Ref("b")], z=Ref("c"))
    assert t.dependencies == ("b", "a", "c")
    assert isinstance(t.dependencies, tuple)


def test_dependencies_computed_once_at_construction():
    """Mutating the argument list after construction does not change the stored
    dependencies: they were computed once."""
    args = [Ref("a")]
    t = Task(sum, args)
    deps = t.dependencies
    assert t.dependencies is deps
    assert deps == ("a",)


def test_nested_tasks_run_inline_and_pass_up_their_dependencies():
    inner = Task(mul, Ref("a"), 10)
    t = Task(add, inner, Task(inc, Ref("b")))
    assert t.dependencies == ("a", "b")
    assert t({"a": 2, "b": 5}) == 26
    deeper = Task(sum, [Task(inc, Task(inc, Ref("c"))), 1])
    assert deeper.dependencies == ("c",)
    assert deeper({"c": 0}) == 3


def test_tuples_are_never_guessed_as_tasks():
    """A tuple whose first item is callable is still data, in a graph and in args."""
    t = Task(pack, (inc, 1))
    assert t.dependencies == ()
    assert t({}) == (((inc, 1),), {})
    graph = {"x": (inc, 1), "y": Task(len, Ref("x"))}
    assert get_sync(graph, ["x", "y"]) == [(inc, 1), 2]
    assert not is_node((inc, 1))


def test_data_nodes_are_their_own_result():
    for value in [1, "a", (1, 2), [Ref("a")], {"a": 1}, None]:
        assert dependencies_of(value) == ()
        assert execute_node(value, {}) is value


def test_ref_node_is_an_alias():
    graph = {"a": 5, "b": Ref("a"), "c": Task(inc, Ref("b"))}
    assert dependencies_of(graph["b"]) == ("a",)
    assert get_sync(graph, ["b", "c"]) == [5, 6]


def test_non_callable_function_is_a_clear_type_error():
    with pytest.raises(TypeError, match="callable.*int"):
        Task(1, 2)
    with pytest.raises(TypeError, match="callable"):
        Task("inc", Ref("x"))


def test_fused_runs_inner_tasks_in_order_and_keeps_the_last():
    f = Fused(
        "c",
        [
            ("a", Task(inc, Ref("x"))),
            ("b", Task(mul, Ref("a"), Ref("y"))),
            ("c", Task(add, Ref("b"), Ref("a"))),
        ],
    )
    assert f.dependencies == ("x", "y")
    assert f({"x": 1, "y": 3}) == 8  # a=2, b=6, c=8


def test_fused_with_data_node_and_ref_alias_inside():
    f = Fused("c", [("a", 4), ("b", Ref("a")), ("c", Task(inc, Ref("b")))])
    assert f.dependencies == ()
    assert f({}) == 5


def test_fused_inner_key_shadows_outer_result():
    f = Fused("b", [("a", 1), ("b", Task(inc, Ref("a")))])
    assert f({"a": 100}) == 2


def test_fused_validates_its_inner_tasks():
    with pytest.raises(ValueError, match="at least one"):
        Fused("a", [])
    with pytest.raises(ValueError, match="must have key 'b'"):
        Fused("b", [("a", 1)])


def test_nested_fused_inside_task():
    f = Fused("q", [("p", Task(inc, Ref("x"))), ("q", Task(inc, Ref("p")))])
    t = Task(add, f, Ref("y"))
    assert set(t.dependencies) == {"x", "y"}
    assert t({"x": 0, "y": 10}) == 12


@pytest.mark.parametrize(
    "dumps,loads", [(pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)]
)
def test_pickle_round_trips(dumps, loads):
    t = Task(pack, Ref("a"), [Task(inc, Ref("b"))], k={"z": Ref("c")}).annotate(retries=2)
    f = Fused(
        "c", [("b", Task(inc, Ref("a"))), ("c", Task(inc, Ref("b")))], annotations={"priority": 1}
    )
    for obj in (Ref(("x", 1)), t, f):
        back = loads(dumps(obj))
        assert back == obj
        assert type(back) is type(obj)
    t2 = loads(dumps(t))
    assert t2.dependencies == t.dependencies
    assert t2.annotations == {"retries": 2}
    assert t2({"a": 1, "b": 2, "c": 3}) == t({"a": 1, "b": 2, "c": 3})
    f2 = loads(dumps(f))
    assert f2.annotations == {"priority": 1}
    assert f2({"a": 1}) == 3


def test_cloudpickle_ships_lambdas_inside_tasks():
    t = Task(lambda x: x * 2, Ref("a"))
    back = cloudpickle.loads(cloudpickle.dumps(t))
    assert back({"a": 21}) == 42


def test_annotate_merges_and_returns_the_task():
    t = Task(inc, 1)
    assert t.annotate(retries=1) is t
    t.annotate(priority=5)
    assert t.annotations == {"retries": 1, "priority": 5}


def test_equality_and_repr():
    assert Task(add, Ref("a"), 1) == Task(add, Ref("a"), 1)
    assert Task(add, Ref("a"), 1) != Task(add, Ref("a"), 2)
    assert Task(add, 1, 1) != Task(add, 1, 1).annotate(retries=1)
    assert Ref("a") == Ref("a") != Ref("b")
    assert hash(Ref(("x", 1))) == hash(Ref(("x", 1)))
    assert "add" in repr(Task(add, Ref("a"), 1)) and "Ref('a')" in repr(Task(add, Ref("a"), 1))
    with pytest.raises(TypeError):
        hash(Task(add, 1, 2))


def test_task_without_references_does_not_touch_results():
    class NoLookup(dict):
        def __getitem__(self, key):
            raise AssertionError("looked up a result")

    assert Task(add, 1, 2)(NoLookup()) == 3
    assert Task(pack, [1, (2,)], k={"a": 1})(NoLookup()) == (([1, (2,)],), {"k": {"a": 1}})


def boom(x):
    raise ArithmeticError(f"boom {x}")


def test_errors_inside_fused_tasks_name_the_inner_task():
    f = Fused(
        "c", [("a", Task(inc, Ref("x"))), ("b", Task(boom, Ref("a"))), ("c", Task(inc, Ref("b")))]
    )
    with pytest.raises(ArithmeticError, match="boom 2") as info:
        f({"x": 1})
    assert info.value.__notes__ == ["shoal: raised by task 'b', fused into 'c'"]
    with pytest.raises(ArithmeticError) as info:
        get_sync({"x": 1, "c": f}, "c")
    notes = "\n".join(info.value.__notes__)
    assert "'b', fused into 'c'" in notes and "task 'c'" in notes
