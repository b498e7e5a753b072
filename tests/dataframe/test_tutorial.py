"""What the Dask tutorial (01_dataframe) relies on, checked against pandas:
``to_datetime``, ``len`` reading one column, ``visualize(engine=...)`` and the
notebook's own flow on a small flights-like dataset."""

import warnings

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.testing import assert_eq

from .conftest import variants


def _dates_frame(n=23, seed=3):
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("1990-01-01") + pd.to_timedelta(rng.integers(0, 4000, n), unit="D")
    return pd.DataFrame(
        {
            "year": days.year,
            "month": days.month,
            "day": days.day,
            "text": pd.Series(
                np.where(rng.random(n) < 0.2, None, days.strftime("%Y-%m-%d")), dtype="str"
            ),
            "epoch": rng.integers(0, 2_000_000_000, n),
            "fepoch": np.where(rng.random(n) < 0.2, np.nan, rng.random(n) * 1e9),
        }
    )


@pytest.mark.parametrize("n", [1, 2, 23])
@pytest.mark.parametrize(
    "column, kwargs",
    [
        ("text", {}),
        ("text", {"format": "%Y-%m-%d"}),
        ("text", {"utc": True}),
        ("epoch", {"unit": "s"}),
        ("epoch", {}),
        ("fepoch", {"unit": "s"}),
    ],
)
def test_to_datetime_series(n, column, kwargs):
    pdf = _dates_frame(n)
    for label, ddf in variants(pdf):
        got = sd.to_datetime(ddf[column], **kwargs)
        want = pd.to_datetime(pdf[column], **kwargs)
        assert got.dtype == want.dtype, label
        assert_eq(got, want)


@pytest.mark.parametrize("n", [1, 5, 23])
def test_to_datetime_frame_of_parts(n):
    pdf = _dates_frame(n)
    for _label, ddf in variants(pdf):
        assert_eq(
            sd.to_datetime(ddf[["year", "month", "day"]]),
            pd.to_datetime(pdf[["year", "month", "day"]]),
        )


def test_to_datetime_index_meta_and_plain_values():
    pdf = _dates_frame(9).dropna(subset=["text"]).set_index("text")
    got = sd.to_datetime(sd.from_pandas(pdf, npartitions=3).index)
    assert_eq(got, pd.to_datetime(pdf.sort_index().index))
    s = pd.Series(["2001-02-03 04:05:06.123456789", "2001-02-04 00:00:00.5"])
    want = pd.to_datetime(s)
    assert_eq(sd.to_datetime(sd.from_pandas(s, npartitions=2), meta=want), want)
    assert sd.to_datetime("2000-01-02") == pd.Timestamp("2000-01-02")
    with_errors = pd.Series(["2000-01-01", "not a date", None])
    assert_eq(
        sd.to_datetime(sd.from_pandas(with_errors, npartitions=2), errors="coerce"),
        pd.to_datetime(with_errors, errors="coerce"),
    )


def test_to_datetime_bad_input_fails_before_tasks():
    ddf = sd.from_pandas(_dates_frame(6), npartitions=2)
    with pytest.raises(ValueError, match="day.*missing"):
        sd.to_datetime(ddf[["year", "month"]])
    with pytest.raises(TypeError, match="expected a Series, Index or DataFrame"):
        sd.to_datetime(ddf.year.sum())


def _flights(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "Year": rng.integers(1990, 2000, n),
            "Month": rng.integers(1, 13, n),
            "DayofMonth": rng.integers(1, 29, n),
            "TailNum": np.nan,
            "DepDelay": np.where(rng.random(n) < 0.1, np.nan, rng.normal(10, 5, n).round()),
            "Origin": rng.choice(["EWR", "JFK", "LGA"], n),
            "Cancelled": (rng.random(n) < 0.1).astype(int),
        }
    )


@pytest.fixture(name="flight_files")
def _flight_files(tmp_path):
    """Three CSV files; the last one has strings in TailNum (inferred float)."""
    frames = [_flights(n, i) for i, n in enumerate([40, 1, 25])]
    frames[-1]["TailNum"] = [f"N{i}" for i in range(len(frames[-1]))]
    for i, f in enumerate(frames):
        f.to_csv(tmp_path / f"{1990 + i}.csv", index=False)
    return str(tmp_path / "*.csv"), frames


def test_len_reads_one_column(flight_files):
    pattern, frames = flight_files
    ddf = sd.read_csv(pattern)
    assert len(ddf) == sum(map(len, frames))  # TailNum of the last file is never parsed
    with pytest.raises(Exception, match="TailNum"):
        ddf.tail()  # as in the tutorial: reading that column fails, naming it
    full = pd.concat(frames, ignore_index=True)
    assert len(ddf[ddf.Cancelled == 0]) == int((full.Cancelled == 0).sum())
    dup = pd.DataFrame([[1, 2], [3, 4], [5, 6]], columns=["a", "a"])
    assert len(sd.from_pandas(dup, npartitions=2)) == 3


def test_tutorial_dataframe_flow(flight_files):
    pattern, frames = flight_files
    full = pd.concat(frames, ignore_index=True)
    full["Cancelled"] = full["Cancelled"].astype(bool)
    full["TailNum"] = full["TailNum"].astype("str")
    ddf = sd.read_csv(pattern, dtype={"TailNum": str, "Cancelled": bool})
    parts = {"Year": "year", "Month": "month", "DayofMonth": "day"}
    ddf["Date"] = sd.to_datetime(ddf[list(parts)].rename(columns=parts))
    ddf = ddf.drop(columns=list(parts))
    pdf = full.assign(Date=pd.to_datetime(full[list(parts)].rename(columns=parts))).drop(
        columns=list(parts)
    )
    assert_eq(ddf, pdf, check_index=False)
    assert_eq(ddf.tail(), pdf.tail(), check_index=False)
    assert_eq(ddf.DepDelay.max(), pdf.DepDelay.max())
    assert len(ddf[~ddf.Cancelled]) == int((~pdf.Cancelled).sum())
    kept, pkept = ddf[~ddf.Cancelled], pdf[~pdf.Cancelled]
    assert_eq(kept.groupby("Origin").Origin.count(), pkept.groupby("Origin").Origin.count())
    mean, std = shoal.compute(kept.DepDelay.mean(), kept.DepDelay.std())
    assert np.isclose(mean, pkept.DepDelay.mean()) and np.isclose(std, pkept.DepDelay.std())
    jfk = kept[kept.Origin == "JFK"].persist()
    assert_eq(jfk.DepDelay.sum(), pkept[pkept.Origin == "JFK"].DepDelay.sum())
    km = ddf.DepDelay.map_partitions(
        lambda s, m=1: s * m, m=0.6, meta=pd.Series(name="DepDelay", dtype="float64")
    )
    assert_eq(km, pdf.DepDelay * 0.6, check_index=False)


def test_visualize_engine():
    total = sd.from_pandas(pd.Series([1.0, 2.0, 3.0]), npartitions=2).sum()
    with pytest.warns(UserWarning, match="graphviz only"):
        source = shoal.visualize(total, filename=None, engine="cytoscape")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert shoal.visualize(total, filename=None, engine="graphviz") == source
    assert source.startswith("digraph")
    with pytest.raises(ValueError, match="unknown engine"):
        total.visualize(filename=None, engine="plotly")


def test_map_partitions_of_a_scalar_gives_one_row_per_partition(variants):
    pdf = pd.DataFrame({"a": range(23), "b": [0.5] * 23})
    for _, df in variants(pdf):
        sizes = df.map_partitions(len)
        got = sizes.compute()
        assert got.tolist() == [len(df.partitions[i].compute()) for i in range(df.npartitions)]
        assert got.sum() == len(pdf) and sizes.sum().compute() == len(pdf)
        assert list(got.index) == [0] * df.npartitions
        totals = df.a.map_partitions(lambda s: s.sum()).compute()
        assert totals.sum() == pdf.a.sum() and len(totals) == df.npartitions
    with pytest.raises(TypeError, match="not a pandas object"):
        sd.from_pandas(pdf, npartitions=2).map_partitions(lambda p: [len(p)]).compute()
