"""groupby (tasks and disk shuffles), join, product, repartition, against plain Python."""

import itertools
import os
import random

import pytest

import shoal
import shoal.bag as sb
from shoal.bag.shuffle import stable_hash
from shoal.testing import assert_eq

from .conftest import partitionings


def grouped(data, key):
    out = {}
    for x in data:
        out.setdefault(key(x), []).append(x)
    return out


def check_groups(bag, data, key, npartitions):
    parts = shoal.compute(sb.core.Parts(bag), scheduler="sync")[0]
    assert len(parts) == npartitions
    seen = {}
    for part in parts:
        for k, values in part:
            assert k not in seen, f"key {k!r} in two partitions"
            seen[k] = values
    assert seen == grouped(data, key)  # values keep input order


@pytest.mark.parametrize("shuffle", ["tasks", "disk"])
def test_groupby_matches_python(size, shuffle, tmp_path):
    rng = random.Random(size)
    data = [(rng.choice(["a", "b", "c", "dd", ("t", 1)]), i) for i in range(size)]
    with shoal.config.set({"bag.shuffle-dir": str(tmp_path)}):
        for b in partitionings(data):
            for n in (None, 1, 4):
                g = b.groupby(lambda x: x[0], npartitions=n, shuffle=shuffle)
                check_groups(g, data, lambda x: x[0], n or b.npartitions)
                assert_eq(
                    b.groupby(0, npartitions=n, shuffle=shuffle),
                    list(grouped(data, lambda x: x[0]).items()),
                    ordered=False,
                )
    if shuffle == "disk":
        assert os.listdir(tmp_path) == []  # every run cleaned up after itself


def test_groupby_then_chain_and_processes(tmp_path):
    data = list(range(2000))
    b = sb.from_sequence(data, npartitions=7)
    with shoal.config.set({"bag.shuffle-dir": str(tmp_path)}):
        for shuffle in ("disk", "tasks"):
            sums = b.groupby(lambda x: x % 13, npartitions=5, shuffle=shuffle).map(
                lambda kv: (kv[0], sum(kv[1]))
            )
            expected = {k: sum(v) for k, v in grouped(data, lambda x: x % 13).items()}
            assert dict(sums.compute()) == expected  # default scheduler: processes
            assert dict(sums.compute(scheduler="threads")) == expected
    assert os.listdir(tmp_path) == []


def test_groupby_partial_run_is_cleaned_at_exit(tmp_path):
    from shoal.bag.shuffle import remove_leftovers

    with shoal.config.set({"bag.shuffle-dir": str(tmp_path)}):
        g = sb.range(100, npartitions=4).groupby(lambda x: x % 10, shuffle="disk")
        assert len(g.take(1, scheduler="sync")) == 1
    assert os.listdir(tmp_path)  # the unread outputs' files wait for exit
    remove_leftovers()
    assert os.listdir(tmp_path) == []


class Raw(str):
    def __repr__(self):
        return str(self)


def test_stable_hash_is_process_independent():
    import subprocess
    import sys

    keys = [
        "abc",
        b"xy",
        ("a", 1, 2.5),
        frozenset({"q", "r"}),
        12345,
        -3.25,
        None,
        "datetime.datetime(2024, 5, 1, 12, 30)",
        "datetime.date(2020, 1, 2)",
        "datetime.timedelta(3, 4)",
        "datetime.time(1, 2)",
        "enum.Enum('E', 'a b').a",
    ]
    keys = [k if not (isinstance(k, str) and "(" in k) else Raw(k) for k in keys]
    code = (
        "import datetime, enum; from shoal.bag.shuffle import stable_hash;"
        f"print([stable_hash(k) for k in {keys!r}])"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-P", "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1
    assert stable_hash(1) == stable_hash(1.0) == stable_hash(True)


def test_groupby_bad_input():
    b = sb.range(5)
    with pytest.raises(ValueError, match="shuffle must be 'disk' or 'tasks'"):
        b.groupby(abs, shuffle="pigeons")
    with pytest.raises(ValueError, match="npartitions"):
        b.groupby(abs, npartitions=0)
    with pytest.raises(TypeError, match="grouper"):
        b.groupby(None)


def test_join(size):
    data = list(range(size))
    table = ["a", "bb", "cc", "ddd", "x" * 9]
    expected = [(y, x) for x in data for y in table if len(y) == x % 4]
    for b in partitionings(data):
        assert_eq(b.join(table, on_self=lambda x: x % 4, on_other=len), expected)
        assert_eq(b.join(sb.from_sequence(table, npartitions=1), lambda x: x % 4, len), expected)
        assert_eq(b.join(shoal.delayed(table), lambda x: x % 4, len), expected)
    pairs = [(1, "one"), (2, "two")]
    assert_eq(
        sb.from_sequence([(1, "x"), (3, "y"), (2, "z")]).join(pairs, 0),
        [((1, "one"), (1, "x")), ((2, "two"), (2, "z"))],
    )
    with pytest.raises(ValueError, match="one partition"):
        sb.range(3).join(sb.from_sequence([1, 2], npartitions=2), abs)
    with pytest.raises(TypeError, match="iterable"):
        sb.range(3).join(5, abs)


def test_product():
    a, b = [1, 2, 3], ["x", "y"]
    for ba in partitionings(a):
        for bb in partitionings(b):
            p = ba.product(bb)
            assert p.npartitions == ba.npartitions * bb.npartitions
            assert_eq(p, list(itertools.product(a, b)), ordered=False)
    with pytest.raises(TypeError, match="Bag"):
        sb.range(2).product([1])


@pytest.mark.parametrize("n", [1, 2, 3, 5, 11])
def test_repartition(size, n):
    data = list(range(size))
    for b in partitionings(data):
        r = b.repartition(n)
        assert r.npartitions == n
        assert_eq(r, data)
        assert_eq(r.map(lambda x: x + 1).sum(), sum(data) + len(data))
    with pytest.raises(ValueError, match="npartitions"):
        sb.range(3).repartition(0)


@pytest.mark.parametrize("shuffle", ["disk", "tasks"])
def test_groupby_consumed_twice_in_one_compute(tmp_path, shuffle):
    data = list(range(500))
    with shoal.config.set({"bag.shuffle-dir": str(tmp_path)}):
        g = sb.from_sequence(data, npartitions=5).groupby(lambda x: x % 7, shuffle=shuffle)
        sizes = g.map(lambda kv: len(kv[1]))
        for scheduler in ("sync", "threads", "processes"):
            n, total, keys = shoal.compute(g.count(), sizes.sum(), g.pluck(0), scheduler=scheduler)
            assert (n, total, sorted(keys)) == (7, 500, list(range(7)))
    assert os.listdir(tmp_path) == []


def test_single_consumer_fuses_with_the_groupby_output():
    g = sb.range(100, npartitions=4).groupby(lambda x: x % 3, shuffle="disk")
    (opt,) = shoal.optimize(g.map(len).sum())
    graph = opt.__shoal_graph__()
    assert not any(isinstance(k, tuple) and k[0] == g.name for k in graph)


@pytest.mark.parametrize("max_branch", [2, 3, 4])
@pytest.mark.parametrize(("n_in", "n_out"), [(5, 5), (9, 4), (4, 9), (7, 30), (30, 7), (27, 27)])
def test_multistage_tasks_shuffle_matches_python(max_branch, n_in, n_out):
    rng = random.Random(n_in * 100 + n_out)
    data = [(rng.randrange(40), i) for i in range(rng.choice([0, 1, 60, 400]))]
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(n_in - 2))
    parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
    parts.insert(rng.randrange(n_in), [])  # an empty partition among the inputs
    assert len(parts) == n_in
    b = sb.from_delayed([shoal.delayed(p) for p in parts])
    g = b.groupby(0, npartitions=n_out, shuffle="tasks", max_branch=max_branch)
    check_groups(g, data, lambda x: x[0], n_out)
    # each key lands where the one-stage and disk shuffles put it
    parts_out = shoal.compute(sb.core.Parts(g), scheduler="sync")[0]
    for j, part in enumerate(parts_out):
        assert all(stable_hash(k) % n_out == j for k, _ in part)


def test_multistage_task_count_grows_like_n_log_n():
    from shoal.bag.shuffle_tasks import plan_stages

    n = 1200
    b = sb.from_sequence(range(4 * n), npartitions=n)
    g = b.groupby(lambda x: x % 997, shuffle="tasks")
    stages, k = plan_stages(n, n, 32)
    assert (stages, k) == (3, 11)
    ntasks = len(g.__shoal_graph__())
    assert ntasks <= stages * k**stages * (k + 1) + n  # one stage: n * n = 1.44 million
    got = dict(g.map(lambda kv: (kv[0], sum(kv[1]))).compute(scheduler="threads"))
    assert got == {r: sum(range(r, 4 * n, 997)) for r in range(997)}


def test_groupby_max_branch_must_be_an_int():
    with pytest.raises(ValueError, match="max_branch must be an int >= 2, got 1"):
        sb.range(5).groupby(abs, shuffle="tasks", max_branch=1)
