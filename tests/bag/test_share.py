"""Bags and items computed together run their common work once per partition:
equal plans have equal names, and a node with several users is stored once."""

import random

import pytest

import shoal
import shoal.bag as sb

from .conftest import partitionings

calls: list = []  # arguments seen by `traced`, by the sync scheduler


def traced(x):
    calls.append(x)
    return x * 2


def is_even(x):
    return x % 4 == 0


def test_shared_prefix_runs_once(size):
    data = list(range(size))
    for b in partitionings(data):
        calls.clear()
        n, total = shoal.compute(b.map(traced).count(), b.map(traced).sum(), scheduler="sync")
        assert (n, total) == (size, 2 * sum(data))
        assert sorted(calls) == data  # once per element, not twice


def test_many_consumers_that_part_ways(size):
    data = list(range(size))
    doubled = [2 * x for x in data]
    for b in partitionings(data):
        calls.clear()
        m = b.map(traced)
        out = shoal.compute(
            m.count(),
            m.filter(is_even).sum(),
            m.filter(is_even).count(),
            m,
            m.frequencies(),
            b.map(abs).sum(),
            b.count(),
            scheduler="sync",
        )
        evens = [x for x in doubled if is_even(x)]
        assert out[:5] == (size, sum(evens), len(evens), doubled, [(x, 1) for x in doubled])
        assert out[5:] == (sum(data), size)
        assert sorted(calls) == data


def test_file_source_read_once(tmp_path, monkeypatch):
    from shoal.bag import text

    rng = random.Random(0)
    lines = [f"{rng.randrange(100)}\n" for _ in range(300)]
    path = tmp_path / "n.txt"
    path.write_text("".join(lines))
    reads: list = []
    original = text.read_block_lines

    def counting(*args):
        reads.append(args[2])
        yield from original(*args)

    monkeypatch.setattr(text, "read_block_lines", counting)
    b = sb.read_text(str(path), blocksize=200)
    expected = (len(lines), sum(map(int, lines)), max(lines))
    got = shoal.compute(b.count(), b.map(int).sum(), b.max(), scheduler="sync")
    assert got == expected
    assert len(reads) == b.npartitions  # each block read once for three consumers
    reads.clear()
    assert b.map(int).sum().compute(scheduler="sync") == expected[1]
    assert len(reads) == b.npartitions  # one consumer: read inside its task, streamed


def test_shared_work_on_processes_and_threads(tmp_path):
    data = list(range(1000))
    for b in (sb.from_sequence(data, npartitions=7), sb.range(1000, npartitions=4)):
        m = b.map(lambda x: x * 3).filter(lambda x: x % 2)
        for scheduler in ("threads", "processes"):
            out = shoal.compute(m.count(), m.sum(), m.topk(2), scheduler=scheduler)
            odd = [3 * x for x in data if (3 * x) % 2]
            assert out == (len(odd), sum(odd), sorted(odd)[-1:-3:-1])


def test_error_in_shared_part_names_the_partition():
    b = sb.from_sequence([1, 2, 0, 4], npartitions=2).map(lambda x: 1 / x)
    with pytest.raises(ZeroDivisionError) as info:
        shoal.compute(b.sum(), b.count(), scheduler="sync")
    assert any("partition 1" in note for note in info.value.__notes__)


def test_persist_and_optimize_keep_working():
    b = sb.from_sequence(range(20), npartitions=3).map(traced)
    total, count = shoal.persist(b.sum(), b.count(), scheduler="sync")
    assert (total.compute(), count.compute()) == (380, 20)
    s, c = shoal.optimize(b.sum(), b.count())
    assert shoal.compute(s, c, scheduler="sync") == (380, 20)


def sort_and_take_two(part):
    part.sort(reverse=True)  # mutates its input
    return part[:2]


def test_a_mutating_consumer_does_not_change_the_others():
    b = sb.from_sequence([3, 1, 2, 5, 4], npartitions=2).map(abs)
    top = b.reduction(sort_and_take_two, lambda parts: sorted(sum(parts, []))[-2:])
    assert shoal.compute(top, b, scheduler="sync") == ([4, 5], [3, 1, 2, 5, 4])
