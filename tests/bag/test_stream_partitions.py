"""map_partitions(stream=True): partitions reach the function lazily, one pass."""

import itertools
import json

import pytest

import shoal.bag as sb
from shoal.testing import assert_eq

from .conftest import partitionings

produced: list = []  # elements pulled from `counting_source`, by the sync scheduler


def counting_source(n):
    for i in range(n):
        produced.append(i)
        yield i


def first_three(it):
    return list(itertools.islice(it, 3))


def running_sums(it):
    return itertools.accumulate(it)


def test_stream_matches_python(size):
    data = list(range(size))
    for b in partitionings(data):
        parts = b.to_delayed()
        expected = []
        for d in parts:
            expected.extend(itertools.accumulate(d.compute(scheduler="sync")))
        assert_eq(b.map_partitions(running_sums, stream=True), expected)
        assert_eq(b.map(abs).map_partitions(running_sums, stream=True).sum(), sum(expected))


def test_stream_zipped_bags(size):
    data = list(range(size))
    for b in partitionings(data):
        other = b.map(lambda x: 10 * x)
        out = sb.map_partitions(
            lambda p, q, k=0: (a + c + k for a, c in zip(p, q, strict=True)),
            b,
            other,
            k=1,
            stream=True,
        )
        assert_eq(out, [11 * x + 1 for x in data])


def test_stream_is_lazy_and_one_pass():
    b = sb.from_map(counting_source, [1000, 5, 0])
    produced.clear()
    out = b.map_partitions(first_three, stream=True).compute(scheduler="sync")
    assert out == [0, 1, 2, 0, 1, 2]
    assert len(produced) == 6  # only what the function asked for: nothing materialized
    produced.clear()
    assert b.map_partitions(first_three).compute(scheduler="sync") == out
    assert len(produced) == 1005  # the default gives the function a list
    kinds = b.map_partitions(lambda it: [type(it) is list], stream=True)
    assert kinds.compute(scheduler="sync") == [False] * 3


def test_stream_over_text_lines(tmp_path):
    lines = [json.dumps({"i": i}) + "\n" for i in range(500)]
    path = tmp_path / "x.jsonl"
    path.write_text("".join(lines))
    b = sb.read_text(str(path), blocksize=1000).map(json.loads)
    picked = b.map_partitions(lambda it: (r["i"] for r in it if r["i"] % 7 == 0), stream=True)
    assert picked.compute(scheduler="processes") == [i for i in range(500) if i % 7 == 0]


def test_stream_bad_input():
    with pytest.raises(TypeError, match="stream must be True or False"):
        sb.range(3).map_partitions(list, stream="yes")
    with pytest.raises(TypeError, match="expected an iterable"):
        sb.range(3).map_partitions(sum, stream=True).compute(scheduler="sync")
