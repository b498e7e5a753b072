"""Bags on the one plan model: explain, fusion into one task per partition,
deep plans, and equal plans sharing names."""

import functools
import operator

import shoal.bag as sb
from shoal.core.base import collections_to_graph
from shoal.core.build import MAX_INLINE_DEPTH
from shoal.testing import assert_eq

from .conftest import partitionings


def inc(x):
    return x + 1


def not_multiple_of_7(x):
    return x % 7 != 0


def test_ten_thousand_operation_chain_against_python():
    data = list(range(200))
    for b in (sb.from_sequence(data, npartitions=3), sb.range(200, npartitions=1)):
        expected = list(data)
        for r in range(5_000):
            drop = functools.partial(operator.ne, 3 * r)  # drops the element equal to 3r
            b = b.map(inc).filter(drop)
            expected = [x + 1 for x in expected]
            expected = [x for x in expected if x != 3 * r]
        assert len(expected) == 100  # the even ones: an odd x meets 3r at round (x + 1) / 2
        assert_eq(b, expected)
        assert b.sum().compute(scheduler="sync") == sum(expected)
        lines = b.explain().splitlines()
        assert len(lines) == 10_002  # the header, 10,000 operations and the source
        assert sum(line.endswith("  (fused)") for line in lines) == 10_000


def test_explain_marks_what_fuses():
    b = sb.from_sequence(range(10), npartitions=2).map(inc)
    m = b.filter(not_multiple_of_7)
    assert m.explain() == (
        "Plan (a (fused) node runs inside its user's tasks):\n"
        "  Filter: predicate=not_multiple_of_7\n"
        "    Map: func=inc  (fused)\n"
        "      FromSequence: npartitions=2  (fused)"
    )
    zipped = sb.zip(m, m.map(operator.neg))  # m has two users: stored, not fused
    assert zipped.explain() == (
        "Plan (a (fused) node runs inside its user's tasks):\n"
        "  Map: func=_tuple_of, zip=2\n"
        "    Filter: predicate=not_multiple_of_7\n"
        "      Map: func=inc  (fused)\n"
        "        FromSequence: npartitions=2  (fused)\n"
        "    Map: func=neg  (fused)\n"
        "      (shared: Filter)"
    )
    assert_eq(zipped, [(x, -x) for x in range(1, 11) if x % 7])


def test_a_chain_is_one_task_per_partition(size):
    data = list(range(size))
    for b in partitionings(data):
        chain = b.map(inc).filter(not_multiple_of_7).map(str).pluck(0)
        graph = dict(chain.__shoal_graph__())
        tasks = [k for k in graph if isinstance(k, tuple) and k[0] == chain.name]
        assert len(tasks) == b.npartitions
        assert not any(isinstance(k, tuple) and k[0].startswith(("map-", "filter-")) for k in graph)
        assert_eq(chain, [str(x + 1)[0] for x in data if (x + 1) % 7])


def test_deep_chains_store_a_partition_every_max_inline_depth():
    b = sb.range(30, npartitions=2)
    for _ in range(3 * MAX_INLINE_DEPTH):
        b = b.map(inc)
    graph = dict(b.__shoal_graph__())
    stored = {k[0] for k in graph if isinstance(k, tuple)}
    assert 3 <= len(stored) <= 4  # nesting is capped, so stored every MAX_INLINE_DEPTH maps
    assert_eq(b, [x + 3 * MAX_INLINE_DEPTH for x in range(30)])


def test_equal_plans_share_names():
    a = sb.from_sequence(range(10), npartitions=2).map(inc).filter(not_multiple_of_7)
    b = sb.from_sequence(range(10), npartitions=2).map(inc).filter(not_multiple_of_7)
    assert a.name == b.name
    assert a.sum().expr._name == b.sum().expr._name
    assert a.map(inc).name != b.map(str).name
    graph = dict(collections_to_graph([a.count(), b.sum()])[0])
    stored = [k for k in graph if isinstance(k, tuple) and k[0] == a.name]
    assert len(stored) == 2  # the common prefix is stored once, for both reductions
