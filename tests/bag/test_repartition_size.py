"""repartition(partition_size=...) against plain Python: same elements in the
same order, partitions of about the requested size."""

import math
import random
import sys

import pytest

import shoal
import shoal.bag as sb
from shoal.bag.combine import size_boundaries, sizeof
from shoal.testing import assert_eq

from .conftest import partitionings


@pytest.fixture(autouse=True)
def sync_scheduler():
    with shoal.config.set(scheduler="sync"):
        yield


def varied_data(n):
    rng = random.Random(n)
    return ["x" * rng.choice([0, 5, 300]) for _ in range(n)]


@pytest.mark.parametrize("target", [1, 200, 1000, "2kB", 10**9])
def test_partition_size_keeps_order_and_count(size, target):
    data = varied_data(size)
    total = sum(sys.getsizeof(x) for x in data)
    for b in partitionings(data):
        r = b.repartition(partition_size=target)
        assert_eq(r, data)
        parts = shoal.compute(sb.core.Parts(r))[0]
        expected_n = max(1, min(len(data), math.ceil(total / shoal.core.utils.parse_bytes(target))))
        assert len(parts) == r.npartitions == expected_n
        if data:
            assert all(parts)
        assert_eq(r.map(len).sum(), sum(map(len, data)))


@pytest.mark.parametrize("target", [400, 1000, 5000])
def test_partitions_uniform_inside_but_different_between(target):
    # elements are equally big within each input partition: sizes are exact
    widths = [0, 10, 300, 50, 1000]
    chunks = [[c * w for _ in range(n)] for c, w, n in zip("abcde", widths, [40, 0, 7, 30, 5])]
    data = [x for chunk in chunks for x in chunk]
    b = sb.from_delayed([shoal.delayed(c, name=f"chunk-{i}") for i, c in enumerate(chunks)])
    r = b.repartition(partition_size=target)
    assert_eq(r, data)
    biggest = max(map(sys.getsizeof, data))
    total = sum(map(sys.getsizeof, data))
    for part in shoal.compute(sb.core.Parts(r))[0]:
        assert sum(map(sys.getsizeof, part)) <= total / r.npartitions + 2 * biggest


def test_uniform_elements_split_evenly():
    data = [str(i).zfill(20) for i in range(1000)]
    each = sys.getsizeof(data[0])
    for b in partitionings(data):
        r = b.repartition(partition_size=each * 100)
        parts = shoal.compute(sb.core.Parts(r))[0]
        assert [len(p) for p in parts] == [100] * 10
        assert_eq(r, data)


def test_partition_size_with_chains_and_processes():
    data = list(range(300))
    b = sb.from_sequence(data, npartitions=4).map(lambda x: [x] * (x % 5)).filter(len)
    expected = [[x] * (x % 5) for x in data if x % 5]
    r = b.repartition(partition_size="4kB")
    assert r.npartitions > 1
    assert_eq(r, expected)
    assert r.compute(scheduler="processes") == expected


def test_sizeof_counts_items():
    assert sizeof("abc") == sys.getsizeof("abc")
    row = ("abc", 1.5)
    assert sizeof(row) == sys.getsizeof(row) + sys.getsizeof("abc") + sys.getsizeof(1.5)
    d = {"k": [1, 2]}
    expected = sys.getsizeof(d) + sys.getsizeof("k") + sys.getsizeof([1, 2]) + 2 * sys.getsizeof(1)
    assert sizeof(d) == expected
    big = list(range(1000, 11000))
    exact = sys.getsizeof(big) + sum(map(sys.getsizeof, big))
    assert abs(sizeof(big) - exact) <= exact * 0.01


def test_size_boundaries_against_a_uniform_model():
    rng = random.Random(0)
    for _ in range(200):
        stats = []
        for _ in range(rng.randint(1, 6)):
            c = rng.choice([0, 1, rng.randint(0, 50)])
            stats.append((c, c * rng.randint(1, 100)))
        target = rng.randint(1, 3000)
        starts = size_boundaries(stats, target)
        n = sum(c for c, _ in stats)
        total = sum(s for _, s in stats)
        assert starts[0] == 0
        assert starts == sorted(set(starts))
        assert all(0 < s < n for s in starts[1:])
        assert len(starts) == max(1, min(n, math.ceil(total / target)))


def test_bad_arguments():
    b = sb.range(10, npartitions=2)
    with pytest.raises(ValueError, match="exactly one of npartitions or partition_size"):
        b.repartition()
    with pytest.raises(ValueError, match="exactly one of npartitions or partition_size"):
        b.repartition(3, partition_size="1kB")
    with pytest.raises(ValueError, match="partition_size must be positive"):
        b.repartition(partition_size=0)
    with pytest.raises(TypeError, match="partition_size must be a number of bytes"):
        b.repartition(partition_size=[1])
    with pytest.raises(ValueError, match="cannot read 'lots'"):
        b.repartition(partition_size="lots")
