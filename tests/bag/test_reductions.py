"""Aggregations against plain Python, on many partitionings and split_every."""

import functools
import heapq
import math
import operator
import statistics
from collections import Counter

import pytest

import shoal.bag as sb
from shoal.testing import assert_eq

from .conftest import partitionings


def values(n):
    return [(i * 7919) % 23 - 5 for i in range(n)]


@pytest.mark.parametrize("split_every", [2, 3, None])
def test_simple_aggregations(size, split_every):
    data = values(size)
    for b in partitionings(data):
        assert_eq(b.count(split_every), len(data))
        assert_eq(b.sum(split_every), sum(data))
        assert_eq(b.any(split_every), any(data))
        assert_eq(b.all(split_every), all(data))
        assert_eq(b.map(lambda x: x > -100).all(split_every), True)
        if data:
            assert_eq(b.min(split_every), min(data))
            assert_eq(b.max(split_every), max(data))
            assert_eq(b.mean(split_every), statistics.fmean(data), rtol=1e-12, atol=1e-12)
            assert_eq(
                b.var(split_every=split_every), statistics.pvariance(data), rtol=1e-9, atol=1e-12
            )
            assert_eq(
                b.std(split_every=split_every), statistics.pstdev(data), rtol=1e-9, atol=1e-12
            )
        if len(data) > 1:
            assert_eq(b.var(ddof=1, split_every=split_every), statistics.variance(data), rtol=1e-9)
            assert_eq(b.std(ddof=1, split_every=split_every), statistics.stdev(data), rtol=1e-9)


def test_empty_aggregation_errors():
    b = sb.from_sequence([1, 2, 3], npartitions=3).filter(lambda x: x > 5)
    for method, exc in (("min", ValueError), ("max", ValueError), ("mean", ValueError)):
        with pytest.raises(exc, match="empty bag"):
            getattr(b, method)().compute(scheduler="sync")
    with pytest.raises(ValueError, match="ddof"):
        sb.from_sequence([1]).var(ddof=1).compute(scheduler="sync")
    with pytest.raises(TypeError, match="empty bag with no initial"):
        b.fold(operator.add).compute(scheduler="sync")
    assert b.sum().compute(scheduler="sync") == 0
    assert b.count().compute(scheduler="sync") == 0
    with pytest.raises(ValueError, match="split_every"):
        b.sum(split_every=1)


def test_mean_var_large_offset_is_stable():
    data = [1e9 + (i % 7) * 0.1 for i in range(1000)]
    b = sb.from_sequence(data, npartitions=13)
    assert_eq(b.var(), statistics.pvariance(data), rtol=1e-6)


@pytest.mark.parametrize("split_every", [2, None])
def test_distinct_frequencies_topk(size, split_every):
    data = values(size)
    for b in partitionings(data):
        assert_eq(b.distinct(split_every=split_every), list(dict.fromkeys(data)))
        first_by_mod = {}
        for x in data:
            first_by_mod.setdefault(x % 4, x)
        assert_eq(
            b.distinct(key=lambda x: x % 4, split_every=split_every), list(first_by_mod.values())
        )
        assert_eq(
            b.frequencies(split_every=split_every), list(Counter(data).items()), ordered=False
        )
        freq = b.frequencies(sort=True, split_every=split_every).compute(scheduler="sync")
        assert sorted(freq) == sorted(Counter(data).items())
        assert [c for _, c in freq] == sorted(Counter(data).values(), reverse=True)
        assert_eq(b.topk(4, split_every=split_every), heapq.nlargest(4, data))
        assert_eq(b.topk(3, key=lambda x: -x, split_every=split_every), heapq.nsmallest(3, data))
        pairs = [(x, i) for i, x in enumerate(data)]
        assert_eq(
            sb.from_sequence(pairs or [(0, 0)], npartitions=3).topk(2, key=1),
            heapq.nlargest(2, pairs or [(0, 0)], key=operator.itemgetter(1)),
        )
        for b2 in partitionings(data):
            assert b2.frequencies().npartitions == 1


@pytest.mark.parametrize("split_every", [2, None])
def test_fold(size, split_every):
    data = values(size)
    for b in partitionings(data):
        assert_eq(b.fold(operator.add, initial=0, split_every=split_every), sum(data))
        as_list = b.fold(
            lambda acc, x: acc + [x], operator.add, initial=[], split_every=split_every
        )
        assert_eq(as_list, data)
        if data:
            assert_eq(b.fold(max, split_every=split_every), max(data))
            assert_eq(b.fold(operator.add), functools.reduce(operator.add, data))


@pytest.mark.parametrize("split_every", [2, None])
def test_foldby(size, split_every):
    data = values(size)
    for b in partitionings(data):
        key = lambda x: x % 3  # noqa: E731
        expected = {}
        for x in data:
            expected[key(x)] = expected.get(key(x), 0) + x
        got = b.foldby(key, operator.add, 0, split_every=split_every)
        assert_eq(got, list(expected.items()), ordered=False)
        # no initial: the first element starts each group
        assert_eq(
            b.foldby(key, max, split_every=split_every),
            [(k, max(x for x in data if key(x) == k)) for k in expected],
            ordered=False,
        )
        # callable initial, a different combine and a combine_initial
        lists = b.foldby(
            key,
            lambda acc, x: acc + [x],
            list,
            combine=operator.add,
            combine_initial=[],
            split_every=split_every,
        )
        got_lists = dict(lists.compute(scheduler="sync"))
        assert {k: sorted(v) for k, v in got_lists.items()} == {
            k: sorted(x for x in data if key(x) == k) for k in expected
        }
        # a key given as an item index
        pairs = [(x % 2, x) for x in data]
        by_index = sb.from_sequence(pairs or [(0, 0)], npartitions=2).foldby(
            0, lambda acc, p: acc + p[1], 0, combine=operator.add
        )
        exp = {}
        for k, v in pairs or [(0, 0)]:
            exp[k] = exp.get(k, 0) + v
        assert_eq(by_index, list(exp.items()), ordered=False)


def test_reduction_user_functions(size):
    data = values(size)
    for b in partitionings(data):
        assert_eq(b.reduction(len, sum), len(data))
        assert_eq(
            b.reduction(sorted, lambda parts: sorted(x for p in parts for x in p), split_every=2),
            sorted(data),
        )
        as_bag = b.reduction(
            lambda p: [max(p, default=None)],
            lambda parts: [x for p in parts for x in p if x is not None],
            out_type=sb.Bag,
        )
        got = as_bag.compute(scheduler="sync")
        assert (max(got) if got else None) == (max(data) if data else None)
        assert as_bag.npartitions == 1


def test_item_apply_and_delayed():
    b = sb.range(10, npartitions=3)
    total = b.sum()
    assert total.apply(math.sqrt).compute(scheduler="sync") == math.sqrt(45)
    assert total.to_delayed().compute(scheduler="sync") == 45
    assert_eq(b.map(lambda x, t: x / t, total), [x / 45 for x in range(10)])
    assert total.persist(scheduler="sync").compute(scheduler="sync") == 45


def test_tree_depth_respects_split_every():
    b = sb.range(100, npartitions=20)
    graph = b.sum(split_every=3).__shoal_graph__()
    for key, node in graph.items():
        deps = getattr(node, "dependencies", ())
        assert len(deps) <= 3, (key, deps)
    assert b.sum(split_every=3).compute(scheduler="sync") == sum(range(100))
