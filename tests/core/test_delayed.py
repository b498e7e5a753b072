"""delayed: lazy function calls checked against calling the functions directly."""

import operator
import sys

import cloudpickle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal
from shoal import Delayed, delayed
from shoal.core.base import CollectionMethods
from shoal.core.task import Ref, Task

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests


def inc(x):
    return x + 1


def add(x, y=0):
    return x + y


def describe(*args, **kwargs):
    return args, kwargs


def test_call_and_decorator_forms():
    assert delayed(inc)(1).compute() == 2

    @delayed
    def double(x):
        return 2 * x

    @delayed(pure=True, name="triple")
    def triple(x):
        return 3 * x

    assert double(inc(1)).compute() == 4
    assert isinstance(double(1), Delayed)
    t = triple(2)
    assert t.key.startswith("triple-") and t.compute() == 6
    assert delayed(double) is double
    assert double.__wrapped__.__name__ == "double"
    assert "double" in repr(double)


def test_keys_pure_and_impure():
    assert delayed(inc, pure=True)(1).key == delayed(inc, pure=True)(1).key
    assert delayed(inc, pure=True)(1).key != delayed(inc, pure=True)(2).key
    assert delayed(inc, pure=True)(1).key != delayed(add, pure=True)(1).key
    assert delayed(inc)(1).key != delayed(inc)(1).key  # impure: every call is new
    assert delayed(inc)(1, pure=True).key == delayed(inc)(1, pure=True).key
    assert delayed(inc)(1).key.startswith("inc-")
    assert delayed(inc)(1, shoal_key_name="mine").key == "mine"
    # keys of arguments (not object identity) decide a pure call's key
    a1 = delayed(1, name="a")
    a2 = delayed(1, name="a")
    assert delayed(add, pure=True)(a1, 1).key == delayed(add, pure=True)(a2, 1).key
    assert delayed(add, pure=True)(a1, 1).key != delayed(add, pure=True)(a1, y=1).key


def test_wrapped_values_are_named_by_content():
    assert delayed([1, 2]).key == delayed([1, 2]).key != delayed([1, 3]).key
    assert delayed([1, 2]).key.startswith("list-")
    assert delayed(5, name="five").key == "five"
    assert delayed({"a": 1}).compute() == {"a": 1}


def test_attribute_and_item_access():
    s = delayed("Hello")
    assert s.upper().compute() == "HELLO"
    assert s.replace("l", "L", 1).compute() == "HeLlo"
    assert s[1:3].compute() == "el"
    assert delayed(3 + 4j).real.compute() == 3.0
    d = delayed({"k": [10, 20, 30]})
    assert d["k"][-1].compute() == 30
    assert d.get("missing", 7).compute() == 7
    assert delayed([1, 2, 3])[delayed(1, name="idx")].compute() == 2
    with pytest.raises(AttributeError):
        s._private  # noqa: B018
    with pytest.raises(TypeError, match="immutable"):
        s.foo = 1


BINARY = [
    operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
    operator.mod, operator.pow, operator.and_, operator.or_, operator.xor,
    operator.lshift, operator.rshift, operator.lt, operator.le, operator.eq,
    operator.ne, operator.gt, operator.ge,
]  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(
    a=st.integers(-50, 50),
    b=st.integers(1, 6),
    op=st.sampled_from(BINARY),
)
def test_operators_match_python(a, b, op):
    da, db = delayed(a, name="a"), delayed(b, name="b")
    expected = op(a, b)
    assert op(da, db).compute(scheduler="sync") == expected
    assert op(da, b).compute(scheduler="sync") == expected  # delayed on the left
    assert op(a, db).compute(scheduler="sync") == expected  # reflected
    for uop in (operator.neg, operator.pos, operator.abs, operator.invert):
        assert uop(da).compute(scheduler="sync") == uop(a)


def test_matmul_operator():
    class M:
        def __init__(self, v):
            self.v = v

        def __matmul__(self, other):
            return self.v * other.v

    assert (delayed(M(3), name="m3") @ delayed(M(4), name="m4")).compute() == 12


def test_truth_value_is_refused():
    with pytest.raises(TypeError, match="truth value"):
        bool(delayed(1) > 0)
    with pytest.raises(TypeError, match="truth value"):
        if delayed(1):
            pass


def test_nout():
    q, r = delayed(divmod, nout=2)(17, 5)
    assert (q.compute(), r.compute()) == (3, 2)
    parts = delayed(lambda: (1, 2, 3), nout=3)()
    assert len(parts) == 3
    assert [p.compute() for p in parts] == [1, 2, 3]
    (only,) = delayed(lambda: [9], nout=1)()
    assert only.compute() == 9
    assert list(delayed(lambda: (), nout=0)()) == []
    with pytest.raises(TypeError, match="nout"):
        iter(delayed(divmod)(1, 2))
    with pytest.raises(TypeError, match="nout"):
        len(delayed(divmod)(1, 2))
    with pytest.raises(ValueError, match="nout"):
        delayed(divmod, nout=-1)
    with pytest.raises(ValueError, match="nout"):
        delayed(divmod, nout="2")


def test_delayed_inside_containers_become_dependencies():
    a = delayed(1, name="a")
    b = delayed(inc)(a)
    c = delayed(add)(a, y=b)
    out = delayed(describe)([a, (b, 3)], {"k": c, "n": [a]}, {b}, frozenset([a]), key=[c])
    expected = describe([1, (2, 3)], {"k": 3, "n": [1]}, {2}, frozenset([1]), key=[3])
    assert out.compute() == expected
    value = out.compute()
    assert type(value[0][2]) is set and type(value[0][0][1]) is tuple
    graph = out.__shoal_graph__()
    assert {a.key, b.key, c.key} <= set(graph)


def test_delayed_of_containers():
    a = delayed(inc)(1)
    assert delayed([a, 5]).compute() == [2, 5]
    assert delayed((a, [a])).compute() == (2, [2])
    assert delayed({"x": a, "y": {"z": a}}).compute() == {"x": 2, "y": {"z": 2}}
    assert delayed({a, 7}).compute() == {2, 7}
    # traverse=False keeps the container as data
    wrapped = delayed([a], traverse=False)
    assert wrapped.compute() == [a]


def test_calling_a_delayed_object():
    f = delayed(lambda: inc, name="pick")()
    assert f(41).compute() == 42
    assert delayed(add)(1).__class__ is Delayed
    m = delayed([3, 1, 2])
    assert m.index(2).compute() == 2


class Parts(CollectionMethods):
    """A small collection used as an argument to delayed functions."""

    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def __shoal_graph__(self):
        return {("parts", i): Task(list, range(i * 2, i * 2 + 2)) for i in range(self.n)}

    def __shoal_keys__(self):
        return [("parts", i) for i in range(self.n)]

    def __shoal_postcompute__(self):
        return (lambda parts: [x for p in parts for x in p]), ()

    def __shoal_postpersist__(self):
        raise NotImplementedError


def test_collections_as_arguments():
    coll = Parts(3)
    assert delayed(sum)(coll).compute() == sum(range(6))
    assert delayed(len)([coll, coll]).compute() == 2
    d = delayed(coll)
    assert isinstance(d, Delayed) and d.compute() == list(range(6))


def test_compute_persist_visualize():
    d = delayed(inc)(delayed(inc)(1))
    assert d.compute() == 3
    assert d.compute(scheduler="processes") == 3
    p = d.persist()
    assert p.key == d.key and p.__shoal_graph__() == {d.key: 3}
    assert (p + 1).compute() == 4
    assert d.visualize(filename=None).count("shape=box") == 2


CALLS: list = []


def expensive(x):
    CALLS.append(x)
    return x * 100


def test_compute_many_shares_common_work():
    CALLS.clear()
    base = delayed(expensive)(3)
    many = [base + i for i in range(20)]
    results = shoal.compute(*many, scheduler="threads")
    assert results == tuple(300 + i for i in range(20))
    assert CALLS == [3]
    CALLS.clear()
    total = delayed(sum)(many)
    assert shoal.compute(total, many[0], scheduler="sync") == (sum(results), 300)
    assert CALLS == [3]


def test_long_chain_builds_and_computes():
    x = delayed(0, name="zero")
    for _ in range(10_000):
        x = x + 1
    assert x.compute(scheduler="sync") == 10_000
    assert x.compute() == 10_000
    assert len(x.__shoal_graph__()) == 10_001


def test_wide_fan_in():
    parts = [delayed(inc)(i) for i in range(2_000)]
    assert delayed(sum)(parts).compute() == sum(range(1, 2_001))


def test_errors_in_delayed_tasks():
    def fail(x):
        raise ZeroDivisionError(f"cannot {x}")

    d = delayed(fail)(delayed(inc)(1)) + 1
    with pytest.raises(ZeroDivisionError, match="cannot 2") as info:
        d.compute()
    notes = "\n".join(info.value.__notes__)
    assert "fail-" in notes and d.key in notes  # the failing task, and the fused task


def test_delayed_is_a_collection_with_a_stable_token():
    d = delayed(inc)(1)
    assert shoal.is_collection(d)
    assert shoal.tokenize(d) == shoal.tokenize(Delayed(d.key, {}))
    assert hash(d) == hash(d.key)
    assert repr(d) == f"Delayed({d.key!r})"
    assert d.__shoal_keys__() == d.key
    graph = Delayed("x", {"x": Task(inc, Ref("y"))}, (Delayed("y", {"y": 1}),)).__shoal_graph__()
    assert graph == {"x": Task(inc, Ref("y")), "y": 1}
