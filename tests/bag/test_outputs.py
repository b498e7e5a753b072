"""take, to_delayed, to_dataframe, persist/optimize, random sampling, schedulers."""

import collections
import warnings

import pytest

import shoal
import shoal.bag as sb
from shoal.testing import assert_eq

from .conftest import partitionings


def test_take_computes_only_what_it_needs(size):
    data = list(range(size))
    for b in partitionings(data):
        first = b.take(3, warn=False, scheduler="sync")
        n0 = len(b.to_delayed()[0].compute(scheduler="sync"))
        assert first == tuple(data[: min(3, n0)])
        assert b.take(5, npartitions=-1, warn=False, scheduler="sync") == tuple(data[:5])

    # a generator that would fail past the first elements is never run that far
    def gen(n):
        for i in range(n):
            if i >= 3:
                raise RuntimeError("read too far")
            yield i

    b = sb.from_map(gen, [10, 10])
    assert b.take(2, scheduler="sync") == (0, 1)
    with pytest.raises(RuntimeError, match="read too far"):
        b.take(2, npartitions=-1, scheduler="sync") and b.compute(scheduler="sync")


def test_take_warns_and_validates():
    b = sb.from_sequence([1, 2, 3], npartitions=3)
    with pytest.warns(UserWarning, match="only 1"):
        assert b.take(2, scheduler="sync") == (1,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert b.take(2, npartitions=2, scheduler="sync") == (1, 2)
    with pytest.raises(ValueError, match="npartitions must be -1 or between 1 and 3"):
        b.take(1, npartitions=4)
    with pytest.raises(ValueError, match="non-negative"):
        b.take(-1)


def test_to_delayed_and_from_delayed_round_trip(size):
    data = list(range(size))
    for b in partitionings(data):
        parts = b.map(lambda x: x + 1).to_delayed()
        assert len(parts) == b.npartitions
        assert sum(shoal.compute(*parts, scheduler="sync"), []) == [x + 1 for x in data]
        assert_eq(sb.from_delayed(parts), [x + 1 for x in data])


def test_persist_and_optimize_keep_values():
    b = sb.range(20, npartitions=4).map(lambda x: x * 2).filter(lambda x: x % 3)
    expected = [x * 2 for x in range(20) if (x * 2) % 3]
    p = b.persist(scheduler="sync")
    assert p.npartitions == 4
    assert_eq(p, expected)
    assert_eq(p.map(lambda x: -x), [-x for x in expected])
    (o,) = shoal.optimize(b)
    assert_eq(o, expected)
    assert_eq(o.sum(), sum(expected))


def test_default_scheduler_is_processes():
    assert sb.Bag.__shoal_scheduler__ == "processes"
    b = sb.range(100, npartitions=4)
    assert b.map(lambda x: x % 7).frequencies().compute() == list(
        collections.Counter(x % 7 for x in range(100)).items()
    )
    # user errors from a worker process keep their type and name the partition
    with pytest.raises(ZeroDivisionError) as info:
        b.map(lambda x: 1 // (x - 60)).compute()
    assert "partition 2" in "\n".join(info.value.__notes__)


def test_checker_catches_wrong_partition_count():
    from shoal.bag.core import _check_bag
    from shoal.bag.expr import Persisted
    from shoal.testing import compute_checked

    b = sb.range(6, npartitions=3)
    assert compute_checked(b) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(AssertionError, match="declares 3 partitions but computed 2"):
        _check_bag(b, [[0, 1], [2, 3]])
    lying = sb.Bag(Persisted("lying", 2, {("lying", 0): [0], ("lying", 1): 5}))
    with pytest.raises(AssertionError, match="expected a list"):
        compute_checked(lying)


def test_random_sample_and_choices():
    import random

    random.seed(0)
    data = list(range(40))
    for b in partitionings(data):
        s = sb.random.sample(b, 10).compute(scheduler="sync")
        assert len(s) == len(set(s)) == 10 and set(s) <= set(data)
        assert sorted(sb.random.sample(b, 40).compute(scheduler="sync")) == data
        c = sb.random.choices(b, 50).compute(scheduler="sync")
        assert len(c) == 50 and set(c) <= set(data)
        with pytest.raises(ValueError, match="larger than the bag"):
            sb.random.sample(b, 41).compute(scheduler="sync")
    with pytest.raises(ValueError, match="empty bag"):
        sb.random.choices(sb.from_sequence([]), 2).compute(scheduler="sync")
    # roughly uniform: each of 8 values in 4 uneven partitions
    b = sb.from_delayed([shoal.delayed(p) for p in ([0], [1, 2, 3, 4, 5], [], [6, 7])])
    counts = collections.Counter()
    for _ in range(300):
        counts.update(sb.random.sample(b, 2).compute(scheduler="sync"))
    assert all(40 < counts[v] < 110 for v in range(8)), counts  # expected 75 each
    counts = collections.Counter(sb.random.choices(b, 4000).compute(scheduler="sync"))
    assert all(380 < counts[v] < 620 for v in range(8)), counts  # expected 500 each


def test_to_dataframe():
    import pandas as pd

    from shoal.bag.frames import partition_to_pandas

    rows = [{"a": i, "b": str(i)} for i in range(10)]
    frame = partition_to_pandas(rows)
    pd.testing.assert_frame_equal(frame, pd.DataFrame(rows))
    tuples = partition_to_pandas([(1, "x")], columns=["n", "s"])
    assert list(tuples.columns) == ["n", "s"]
    meta = pd.DataFrame({"a": pd.Series(dtype="float64"), "b": pd.Series(dtype="object")})
    typed = partition_to_pandas(rows, meta=meta)
    assert typed["a"].dtype == "float64"
    assert partition_to_pandas([], meta=meta).dtypes.equals(meta.dtypes)
    b = sb.from_sequence(rows, npartitions=3)
    assert_eq(b.to_dataframe(), pd.DataFrame(rows), check_index=False)
    some = b.filter(lambda r: r["a"] % 4 == 0)  # leaves an empty partition
    expected = pd.DataFrame([r for r in rows if r["a"] % 4 == 0])
    assert_eq(
        some.to_dataframe(meta={"a": "float64", "b": "object"}),
        expected.astype({"a": "float64"}),
        check_index=False,
        check_dtype=False,
    )
    pairs = sb.from_sequence([(1, "x"), (2, "y"), (3, "z")], npartitions=2)
    assert_eq(
        pairs.to_dataframe(columns=["n", "s"]),
        pd.DataFrame({"n": [1, 2, 3], "s": ["x", "y", "z"]}),
        check_index=False,
    )
    with pytest.raises(ValueError, match="empty"):
        b.filter(lambda r: False).to_dataframe()


def test_dataframe_to_bag_round_trip():
    import pandas as pd

    import shoal.dataframe as sd

    pdf = pd.DataFrame({"a": range(7), "b": list("abcdefg")}, index=range(10, 17))
    for n in (1, 3, 7):
        df = sd.from_pandas(pdf, npartitions=n)
        assert_eq(df.to_bag(), list(pdf.itertuples(index=False, name=None)))
        assert_eq(df.to_bag(index=True), list(pdf.itertuples(index=True, name=None)))
        dicts = df.to_bag(format="dict")
        assert_eq(dicts, pdf.to_dict(orient="records"))
        assert_eq(df.a.to_bag(index=True), list(pdf.a.items()))
        back = dicts.to_dataframe(meta=pdf.iloc[:0])
        assert_eq(back, pdf.reset_index(drop=True), check_index=False)
    with pytest.raises(ValueError, match="format must be 'tuple' or 'dict'"):
        sd.from_pandas(pdf, npartitions=2).to_bag(format="list")
