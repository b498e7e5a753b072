"""shoal.datasets: timeseries and make_people, checked against pandas and plain
Python on several partitionings, for determinism, laziness and bad input."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.datasets as datasets
from shoal.testing import assert_eq

PARTITIONINGS = [
    # start, end, freq, partition_freq
    ("2000-01-01", "2000-01-04", "1min", "1D"),  # even
    ("2000-01-01", "2000-01-04", "1min", "7h"),  # uneven last partition
    ("2000-01-01 05:30", "2000-01-03", "10min", "1D"),  # start off the partition grid
    ("2000-01-01", "2000-01-02", "1h", "30D"),  # one partition
    ("2000-01-01", "2000-01-01 00:00:03", "1s", "1s"),  # one row per partition
    ("2000-01-01", "2000-01-01 00:00:10", "7s", "1s"),  # most partitions empty
]


@pytest.mark.parametrize("start, end, freq, partition_freq", PARTITIONINGS)
def test_timeseries_rows_index_and_divisions(start, end, freq, partition_freq):
    df = datasets.timeseries(start, end, freq=freq, partition_freq=partition_freq, seed=5)
    pdf = df.compute(scheduler="sync")
    expected_index = pd.date_range(start, end, freq=freq, inclusive="left", name="timestamp")
    pd.testing.assert_index_equal(pdf.index, expected_index)
    assert df.known_divisions
    assert df.divisions[0] == pd.Timestamp(start) and df.divisions[-1] == pd.Timestamp(end)
    for i in range(df.npartitions):
        part = df.get_partition(i).compute(scheduler="sync")
        low, high = df.divisions[i], df.divisions[i + 1]
        assert ((part.index >= low) & (part.index < high)).all()
        pd.testing.assert_frame_equal(part, pdf[(pdf.index >= low) & (pdf.index < high)])
    # meta, divisions and computed dtypes agree (shoal.testing checks all three)
    assert_eq(df, pdf)
    assert list(pdf.columns) == ["name", "id", "x", "y"]


def test_timeseries_values_follow_their_column_kinds():
    pdf = datasets.timeseries(end="2000-01-02", freq="10s", seed=1).compute()
    assert len(pdf) == 8640
    assert pdf.x.between(-1, 1, inclusive="left").all() and pdf.y.between(-1, 1).all()
    assert abs(pdf.x.mean()) < 0.05 and pdf.x.std() > 0.5  # uniform on [-1, 1)
    assert abs(pdf.id.mean() - 1000) < 5 and pdf.id.dtype == np.int64  # Poisson(1000)
    assert set(pdf.name) == set(datasets.NAMES)


def test_timeseries_custom_dtypes_and_column_parameters():
    df = datasets.timeseries(
        end="2000-01-03",
        freq="1min",
        dtypes={"kind": "category", "count": int, "v": float, "label": object},
        count_lam=4,
        v_low=10,
        v_high=11,
        seed=2,
    )
    pdf = df.compute()
    assert_eq(df, pdf)
    assert isinstance(pdf.kind.dtype, pd.CategoricalDtype)
    assert list(pdf.kind.cat.categories) == list(datasets.NAMES)
    assert list(df._meta.kind.cat.categories) == list(datasets.NAMES)  # known categories
    assert abs(pdf["count"].mean() - 4) < 0.2
    assert pdf.v.between(10, 11, inclusive="left").all()
    assert set(pdf.label) <= set(datasets.NAMES)


def test_timeseries_is_deterministic_per_seed_and_partition():
    a = datasets.timeseries(end="2000-01-03", freq="1min", seed=7)
    b = datasets.timeseries(end="2000-01-03", freq="1min", seed=7)
    c = datasets.timeseries(end="2000-01-03", freq="1min", seed=8)
    pa = a.compute(scheduler="sync")
    pd.testing.assert_frame_equal(pa, b.compute(scheduler="threads"))
    assert not pa.x.equals(c.compute().x)
    assert not np.array_equal(pa.x.iloc[:1440].values, pa.x.iloc[1440:].values)  # partitions differ
    # a partition does not depend on the others: the same days inside a longer range
    longer = datasets.timeseries(end="2000-01-10", freq="1min", seed=7)
    pd.testing.assert_frame_equal(longer.get_partition(1).compute(), a.get_partition(1).compute())
    # without a seed, one is drawn at call time: recomputing agrees with itself
    unseeded = datasets.timeseries(end="2000-01-02", freq="1h")
    pd.testing.assert_frame_equal(unseeded.compute(), unseeded.compute())


def test_timeseries_builds_nothing_at_call_time(monkeypatch):
    rows = []
    real = datasets._column
    monkeypatch.setattr(
        datasets, "_column", lambda kind, n, *a: rows.append(n) or real(kind, n, *a)
    )
    df = datasets.timeseries(seed=0)  # a month of one-second rows
    assert df.npartitions == 30 and sum(rows) == 0  # only the empty meta was made
    assert len(df.get_partition(0)) == 86400 and sum(rows) == 4 * 86400


def test_timeseries_opens_the_dask_tutorials():
    df = shoal.datasets.timeseries(seed=0)
    got = df.groupby("name").x.mean().compute()
    expected = df.compute().groupby("name").x.mean()
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"start": "2000-01-02", "end": "2000-01-01"}, ValueError, "before end"),
        ({"freq": "every second"}, ValueError, "freq='every second' is not a pandas frequency"),
        ({"partition_freq": "daily"}, ValueError, "partition_freq"),
        ({"dtypes": {"x": complex}}, ValueError, "column 'x' has dtype"),
        ({"dtypes": {}}, ValueError, "non-empty dict"),
        ({"x_lam": 3}, TypeError, "unexpected keyword 'x_lam'.*id_lam"),
        ({"seed": -1}, ValueError, "seed must be a non-negative int"),
        ({"seed": 1.5}, ValueError, "seed must be a non-negative int"),
    ],
)
def test_timeseries_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        datasets.timeseries(**kwargs)


@pytest.mark.parametrize("npartitions, records", [(1, 1), (3, 4), (4, 25)])
def test_make_people_records(npartitions, records):
    people = datasets.make_people(npartitions, records, seed=11)
    assert people.npartitions == npartitions
    got = people.compute(scheduler="sync")
    assert len(got) == npartitions * records
    for person in got:
        assert set(person) == {"age", "name", "occupation", "telephone", "address", "credit-card"}
        assert isinstance(person["age"], int) and 0 <= person["age"] <= 120
        first, last = person["name"]
        assert first in datasets.FIRST_NAMES and last in datasets.SURNAMES
        assert person["occupation"] in datasets.OCCUPATIONS
        assert person["address"]["city"] in datasets.CITIES
        number = person["credit-card"]["number"]
        assert len(number.replace(" ", "")) == 16 and number.replace(" ", "").isdigit()
        month, year = person["credit-card"]["expiration-date"].split("/")
        assert 1 <= int(month) <= 12
    # bag operations agree with plain Python on the same records
    ages = [p["age"] for p in got]
    assert people.pluck("age").sum().compute(scheduler="sync") == sum(ages)
    older = people.filter(lambda p: p["age"] > 60).count().compute(scheduler="sync")
    assert older == sum(a > 60 for a in ages)


def test_make_people_is_deterministic_per_seed_and_partition():
    a = datasets.make_people(3, 20, seed=4).compute(scheduler="sync")
    assert a == datasets.make_people(3, 20, seed=4).compute(scheduler="sync")
    assert a != datasets.make_people(3, 20, seed=5).compute(scheduler="sync")
    assert a[:20] != a[20:40]  # partitions differ
    assert datasets.make_people(5, 20, seed=4).compute(scheduler="sync")[:60] == a
    unseeded = datasets.make_people(2, 5)
    assert unseeded.compute(scheduler="sync") == unseeded.compute(scheduler="sync")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"npartitions": 0}, "npartitions must be a positive int"),
        ({"records_per_partition": 2.5}, "records_per_partition must be a positive int"),
        ({"seed": "abc"}, "seed must be a non-negative int"),
        ({"locale": "fr"}, "locale 'fr' is not available"),
    ],
)
def test_make_people_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        datasets.make_people(**kwargs)


def test_timeseries_calendar_frequencies_keep_one_grid():
    df = datasets.timeseries("2000-01-15", "2001-01-01", freq="MS", partition_freq="3MS", seed=0)
    pdf = df.compute()
    expected = pd.date_range("2000-01-15", "2001-01-01", freq="MS", inclusive="left")
    assert list(pdf.index) == list(expected)
    # from Jan 15 to the first month start of the 3-month steps (Feb 1), then May, Aug, Nov
    assert [d.month for d in df.divisions] == [1, 2, 5, 8, 11, 1]
    assert_eq(df, pdf)


def test_shoal_datasets_after_a_plain_import_shoal():
    code = (
        "import sys, shoal; assert 'pandas' not in sys.modules; "
        "df = shoal.datasets.timeseries(end='2000-01-02', seed=0); print(df.npartitions)"
    )
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
    with pytest.raises(AttributeError, match="has no attribute 'datasetz'"):
        shoal.datasetz  # noqa: B018
