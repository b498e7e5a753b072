"""Element-wise bag operations against plain Python on many partitionings."""

import itertools
import json
import operator
import random

import pytest

import shoal
import shoal.bag as sb
from shoal.testing import assert_eq

from .conftest import partitionings


def records(n, seed=0):
    rng = random.Random(seed)
    return [
        {
            "id": i,
            "name": rng.choice("abcde"),
            "value": rng.randint(-5, 20),
            "tags": ["x"] * (i % 3),
        }
        for i in range(n)
    ]


def test_map_filter_remove(size):
    data = list(range(size))
    for b in partitionings(data):
        assert_eq(b.map(lambda x: x * 3 + 1), [x * 3 + 1 for x in data])
        assert_eq(b.filter(lambda x: x % 3 == 0), [x for x in data if x % 3 == 0])
        assert_eq(b.remove(lambda x: x % 3 == 0), [x for x in data if x % 3 != 0])
        chained = b.map(str).map(len).filter(lambda n: n > 1).map(operator.neg)
        assert_eq(chained, [-len(str(x)) for x in data if len(str(x)) > 1])


def test_map_with_args_kwargs_and_items(size):
    data = list(range(size))
    for b in partitionings(data):
        assert_eq(b.map(lambda x, y, z=0: x * y - z, 2, z=1), [x * 2 - 1 for x in data])
        total = b.sum()
        assert_eq(b.map(operator.sub, total), [x - sum(data) for x in data])
        d = shoal.delayed(10)
        assert_eq(b.map(lambda x, k: x + k, k=d), [x + 10 for x in data])


def test_map_zips_bags(size):
    data = list(range(size))
    for b in partitionings(data):
        other = b.map(lambda x: x * 10)
        assert_eq(b.map(operator.add, other), [x + x * 10 for x in data])
        assert_eq(sb.map(lambda a, b, c: (a, b, c), b, 7, other), [(x, 7, x * 10) for x in data])
        assert_eq(b.map(lambda x, y=None: (x, y), y=other), [(x, x * 10) for x in data])
        assert_eq(sb.zip(b, other, b), [(x, x * 10, x) for x in data])


def test_zip_mismatch_errors():
    a = sb.from_sequence(range(4), npartitions=2)
    with pytest.raises(ValueError, match="same number of partitions"):
        sb.zip(a, sb.from_sequence(range(4), npartitions=4))
    uneven = sb.from_sequence(range(5), npartitions=2)
    with pytest.raises(ValueError, match="zip"):
        sb.zip(a, uneven).compute(scheduler="sync")


def test_starmap_flatten_pluck():
    rec = records(40)
    for b in partitionings(rec):
        assert_eq(b.pluck("name"), [r["name"] for r in rec])
        assert_eq(b.pluck(["id", "name"]), [(r["id"], r["name"]) for r in rec])
        assert_eq(b.pluck(["id"]), [(r["id"],) for r in rec])
        assert_eq(b.pluck("tags").flatten(), [t for r in rec for t in r["tags"]])
        pairs = b.pluck(["value", "id"])
        assert_eq(pairs.starmap(operator.mul), [r["value"] * r["id"] for r in rec])
        assert_eq(
            pairs.starmap(lambda a, b, c: a + b + c, c=1), [r["value"] + r["id"] + 1 for r in rec]
        )
    sparse = [{"a": 1}, {"b": 2}, {"a": 3, "b": 4}]
    for b in partitionings(sparse):
        assert_eq(b.pluck("a", default=None), [1, None, 3])
        assert_eq(b.pluck(["a", "b"], default=0), [(1, 0), (0, 2), (3, 4)])
    tuples = [(1, 2, 3), (4, 5, 6)]
    assert_eq(sb.from_sequence(tuples).pluck(1), [2, 5])
    assert_eq(sb.from_sequence(tuples).pluck([2, 0]), [(3, 1), (6, 4)])


def test_pluck_missing_key_names_it():
    b = sb.from_sequence([{"a": 1}, {"b": 2}], npartitions=2)
    with pytest.raises(KeyError, match="'a'.*default="):
        b.pluck("a").compute(scheduler="sync")


def test_map_partitions(size):
    data = list(range(size))
    for b in partitionings(data):
        out = b.map_partitions(lambda part: [sum(part)]).compute(scheduler="sync")
        assert sum(out) == sum(data) and len(out) == b.npartitions
        assert_eq(b.map_partitions(lambda p, k: [x + k for x in p], 5), [x + 5 for x in data])
        other = b.map(lambda x: -x)
        assert_eq(
            sb.map_partitions(lambda p, q: [a + c for a, c in zip(p, q)], b, other), [0] * len(data)
        )


def test_accumulate(size):
    data = list(range(1, size + 1))
    for b in partitionings(data):
        assert_eq(b.accumulate(operator.add), list(itertools.accumulate(data)))
        assert_eq(
            b.accumulate(operator.mul, initial=2),
            list(itertools.accumulate(data, operator.mul, initial=2)),
        )
        # not associative: the order of application matters
        f = lambda acc, x: acc * 2 - x  # noqa: E731
        assert_eq(b.accumulate(f, initial=1), list(itertools.accumulate(data, f, initial=1)))


def test_str_accessor():
    words = [" Alpha ", "beta", "GAMMA,x", "", "alpine "]
    for b in partitionings(words):
        assert_eq(b.str.strip(), [w.strip() for w in words])
        assert_eq(b.str.lower().str.strip(), [w.lower().strip() for w in words])
        assert_eq(b.str.split(","), [w.split(",") for w in words])
        assert_eq(b.str.replace("a", "o", 1), [w.replace("a", "o", 1) for w in words])
        assert_eq(b.str.strip().str.match("al*"), ["alpine"])
        assert_eq(b.str.startswith("b"), [w.startswith("b") for w in words])
    with pytest.raises(AttributeError, match="no method 'nope'"):
        sb.from_sequence(["a"]).str.nope()


def test_json_pipeline_is_one_task_per_partition():
    lines = [json.dumps(r) + "\n" for r in records(30)]
    b = sb.from_sequence(lines, npartitions=4)
    pipe = b.map(json.loads).filter(lambda r: r["value"] > 3).pluck("name")
    graph = shoal.optimize(pipe)[0].__shoal_graph__()
    assert len([k for k in graph if k[0] == pipe.name]) == 4
    assert len(graph) == 4  # the data nodes fused into the chains
    expected = [json.loads(x)["name"] for x in lines if json.loads(x)["value"] > 3]
    assert_eq(pipe, expected)


def test_sources():
    assert_eq(sb.range(10, npartitions=3), list(range(10)))
    assert_eq(sb.range(3, 20, 4, npartitions=2), list(range(3, 20, 4)))
    assert sb.range(0).compute(scheduler="sync") == []
    assert sb.from_sequence([]).npartitions == 1
    assert sb.from_sequence(range(10), partition_size=3).npartitions == 4
    assert sb.from_sequence(range(10), npartitions=4).npartitions == 4
    assert sb.from_sequence(range(1000)).npartitions == 100
    gen = sb.from_map(lambda n: (i for i in range(n)), [3, 0, 2])
    assert_eq(gen, [0, 1, 2, 0, 1])
    assert gen.npartitions == 3
    d = shoal.delayed(list)("xyz")
    assert_eq(sb.from_delayed(d), ["x", "y", "z"])


def test_bad_input_errors_before_running():
    b = sb.range(4)
    for call in (
        lambda: b.map(3),
        lambda: b.filter("x"),
        lambda: b.remove(None),
        lambda: b.starmap(1),
        lambda: b.map_partitions([]),
        lambda: b.accumulate(1),
        lambda: sb.from_map(1, [1]),
        lambda: b.fold(2),
    ):
        with pytest.raises(TypeError, match="must be callable"):
            call()
    with pytest.raises(ValueError, match="npartitions"):
        sb.from_sequence([1], npartitions=0)
    with pytest.raises(ValueError, match="partition_size or npartitions"):
        sb.from_sequence([1], npartitions=1, partition_size=1)
    with pytest.raises(TypeError, match="Delayed"):
        sb.from_delayed([[1, 2]])
    with pytest.raises(ValueError, match="different lengths"):
        sb.from_map(max, [1, 2], [1])
    with pytest.raises(TypeError, match="at least one Bag"):
        sb.map(abs, 1)


def test_user_error_names_partition_and_keeps_type():
    def boom(x):
        if x == 7:
            raise ZeroDivisionError("seven")
        return x

    b = sb.range(10, npartitions=3).map(boom)
    for scheduler in ("sync", "threads"):
        with pytest.raises(ZeroDivisionError, match="seven") as info:
            b.compute(scheduler=scheduler)
        notes = "\n".join(getattr(info.value, "__notes__", []))
        assert "partition 2" in notes
        assert "boom" in "".join(__import__("traceback").format_tb(info.value.__traceback__)) or (
            scheduler != "sync"
        )


def test_iterating_and_repr():
    b = sb.range(5, npartitions=2)
    assert "npartitions=2" in repr(b)
    with shoal.config.set(scheduler="sync"):
        assert list(b) == [0, 1, 2, 3, 4]


class Tracked:
    alive = 0
    peak = 0

    def __init__(self, kind):
        self.kind = kind
        Tracked.alive += 1
        Tracked.peak = max(Tracked.peak, Tracked.alive)

    def __del__(self):
        Tracked.alive -= 1


def tracked_stream(n):
    for i in range(n):
        yield Tracked(i % 5)


def test_fused_chains_stream_partitions():
    """A generator partition flows through map/filter/pluck into a reduction
    one element at a time: at no point is the partition held in memory."""
    b = sb.from_map(tracked_stream, [20_000, 0, 30_000])
    Tracked.peak = Tracked.alive = 0
    kinds = b.map(lambda t: t).filter(lambda t: t.kind != 4).map(lambda t: t.kind)
    assert dict(kinds.frequencies().compute(scheduler="sync")) == {k: 10_000 for k in range(4)}
    assert Tracked.peak <= 3
    Tracked.peak = 0
    assert b.filter(lambda t: t.kind == 0).count().compute(scheduler="sync") == 10_000
    assert b.map(lambda t: t.kind).sum().compute(scheduler="sync") == 100_000
    assert Tracked.peak <= 3
    Tracked.peak = 0
    assert b.map(lambda t: t.kind).take(5, scheduler="sync") == (0, 1, 2, 3, 4)
    assert Tracked.peak <= 3
