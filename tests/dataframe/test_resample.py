"""resample across partitions, against pandas."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq


def timed(n=300, seed=1, start="2024-01-01 03:00"):
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(start, periods=13 * n, freq="17min")
    index = pd.DatetimeIndex(np.sort(rng.choice(stamps, n, replace=False)), name="t")
    return pd.DataFrame(
        {
            "v": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "i": rng.integers(0, 9, n),
        },
        index=index,
    )


def timed_variants(pdf):
    base = sd.from_pandas(pdf, npartitions=5)
    d = base.divisions
    with_empty = (d[0], d[0] + pd.Timedelta("1min"), d[1], d[2], d[2] + (d[3] - d[2]) / 2, *d[3:])
    return [
        ("one", sd.from_pandas(pdf, npartitions=1)),
        ("one-unknown", sd.from_pandas(pdf, npartitions=1, sort=False)),
        ("known", base),
        ("many", sd.from_pandas(pdf, npartitions=12)),
        ("empty-parts", base.repartition(divisions=with_empty)),
    ]


RULES = [
    ("h", {}),
    ("7h", {}),
    ("D", {}),
    ("W", {}),
    ("ME", {}),
    ("3h", {"closed": "right"}),
    ("2h", {"label": "right"}),
    ("D", {"closed": "right", "label": "left"}),
    ("90min", {"origin": "epoch"}),
    ("5h", {"offset": "30min"}),
    ("5h", {"origin": "start"}),
]


def check(got, want):
    # dtypes: shoal gives what pandas gives when a bin is empty (max of ints is float64)
    assert_eq(got, want, check_dtype=False, check_freq=False)
    assert got.known_divisions or got.npartitions == 1


@pytest.mark.parametrize("rule, options", RULES)
def test_resample_methods(rule, options):
    pdf = timed()
    for _label, df in timed_variants(pdf):
        r, p = df.resample(rule, **options), pdf.resample(rule, **options)
        for how in ("sum", "mean", "count", "max", "first", "size"):
            check(getattr(r, how)(), getattr(p, how)())
        check(r.agg({"v": "mean", "i": "sum"}), p.agg({"v": "mean", "i": "sum"}))
        check(
            df.v.resample(rule, **options).agg(["sum", "max"]),
            pdf.v.resample(rule, **options).agg(["sum", "max"]),
        )
        check(df.v.resample(rule, **options).ohlc(), pdf.v.resample(rule, **options).ohlc())


@pytest.mark.parametrize("rule, options", [("h", {}), ("W", {}), ("3h", {"closed": "right"})])
def test_resample_every_method(rule, options):
    pdf = timed()
    for _label, df in timed_variants(pdf):
        r, p = df.resample(rule, **options), pdf.resample(rule, **options)
        for how in ("min", "last", "std", "var", "nunique", "median", "prod"):
            check(getattr(r, how)(), getattr(p, how)())


def test_resample_output_divisions_are_bin_labels():
    pdf = timed()
    df = sd.from_pandas(pdf, npartitions=6)
    out = df.resample("D").sum()
    labels = pdf.resample("D").sum().index
    assert out.divisions[0] == labels[0] and out.divisions[-1] == labels[-1]
    assert set(out.divisions) <= set(labels)
    assert out.npartitions <= df.npartitions


def test_resample_bins_straddling_every_partition():
    # a coarse rule: every bin is spread over several input partitions
    pdf = timed(n=200)
    df = sd.from_pandas(pdf, npartitions=25)
    check(df.resample("W").mean(), pdf.resample("W").mean())
    check(df.resample("2D").sum(), pdf.resample("2D").sum())


def test_resample_timezone_and_microseconds():
    pdf = timed(n=80)
    pdf.index = pdf.index.tz_localize("Europe/Paris").as_unit("ns")
    for _label, df in timed_variants(pdf):
        check(df.resample("4h").sum(), pdf.resample("4h").sum())


def test_resample_errors():
    pdf = timed(n=40)
    with pytest.raises(ValueError, match="known divisions"):
        sd.from_pandas(pdf, npartitions=3, sort=False).resample("h")
    with pytest.raises(TypeError, match="datetime index"):
        sd.from_pandas(pdf.reset_index(), npartitions=2).resample("h")
    df = sd.from_pandas(pdf, npartitions=2)
    with pytest.raises(ValueError, match="not a frequency rule"):
        df.resample("banana")
    with pytest.raises(ValueError, match="closed must be"):
        df.resample("h", closed="middle")
    with pytest.raises(NotImplementedError, match="origin='end'"):
        df.resample("h", origin="end")
    with pytest.raises(NotImplementedError, match="multiples of calendar rules"):
        df.resample("2W")
