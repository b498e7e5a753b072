"""rolling, expanding and ewm across partitions, against pandas."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq


def numbers(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "i": rng.integers(-5, 10, n),
            "f": np.where(rng.random(n) < 0.25, np.nan, rng.normal(size=n) * 100 + 1e4),
            "g": np.where(np.arange(n) < 9, np.nan, rng.random(n)),  # leading missing
        }
    )


def timed(n=120, seed=1):
    """Irregular timestamps (gaps longer than the windows) and missing values."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2024-01-01 03:00", periods=4 * n, freq="17min")
    index = pd.DatetimeIndex(np.sort(rng.choice(stamps, n, replace=False)), name="t")
    return pd.DataFrame(
        {
            "v": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "i": rng.integers(0, 9, n),
        },
        index=index,
    )


def timed_variants(pdf):
    """Known divisions: one partition, several, several with empty ones."""
    base = sd.from_pandas(pdf, npartitions=5)
    d = base.divisions
    with_empty = (d[0], d[0] + pd.Timedelta("1min"), d[1], d[2], d[2] + (d[3] - d[2]) / 2, *d[3:])
    return [
        ("one", sd.from_pandas(pdf, npartitions=1)),
        ("known", base),
        ("many", sd.from_pandas(pdf, npartitions=30)),
        ("empty-parts", base.repartition(divisions=with_empty)),
    ]


ROLLING = ["sum", "mean", "min", "max", "std", "var", "count", "median"]


@pytest.mark.parametrize(
    "window, options",
    [
        (3, {}),
        (5, {"center": True}),
        (4, {"center": True, "min_periods": 1}),
        (1, {}),
        (12, {"min_periods": 2}),
        (0, {}),
    ],
)
def test_rolling_rows(variants, window, options):
    pdf = numbers()
    for _label, df in variants(pdf):
        for how in ROLLING:
            want = getattr(pdf.rolling(window, **options), how)()
            assert_eq(getattr(df.rolling(window, **options), how)(), want)
        assert_eq(df.f.rolling(window, **options).sum(), pdf.f.rolling(window, **options).sum())


def test_rolling_quantile_apply_agg(variants):
    pdf = numbers()
    for _label, df in variants(pdf):
        assert_eq(df.f.rolling(4).quantile(0.3), pdf.f.rolling(4).quantile(0.3))
        assert_eq(
            df.rolling(3, min_periods=1).apply(np.nanmax, raw=True),
            pdf.rolling(3, min_periods=1).apply(np.nanmax, raw=True),
        )
        assert_eq(df.f.rolling(3).agg(["sum", "max"]), pdf.f.rolling(3).agg(["sum", "max"]))


@pytest.mark.parametrize("window", ["2h", "45min", "1D"])
@pytest.mark.parametrize("options", [{}, {"center": True}, {"closed": "both"}, {"min_periods": 2}])
def test_rolling_time_window(window, options):
    pdf = timed()
    for _label, df in timed_variants(pdf):
        for how in ("sum", "mean", "count", "max", "std"):
            want = getattr(pdf.rolling(window, **options), how)()
            assert_eq(getattr(df.rolling(window, **options), how)(), want)


def test_rolling_errors():
    pdf = timed()
    unknown = sd.from_pandas(pdf, npartitions=3, sort=False)
    with pytest.raises(ValueError, match="known divisions"):
        unknown.rolling("2h")
    assert_eq(
        sd.from_pandas(pdf, npartitions=1, sort=False).rolling("2h").sum(), pdf.rolling("2h").sum()
    )
    ints = sd.from_pandas(numbers(), npartitions=2)
    with pytest.raises(ValueError, match="needs a datetime index"):
        ints.rolling("2h")
    with pytest.raises(ValueError, match="min_periods 4 must be <= window 3"):
        ints.rolling(3, min_periods=4)
    with pytest.raises(ValueError, match="window must be >= 0"):
        ints.rolling(-1)
    with pytest.raises(ValueError, match="neither a row count nor a fixed time span"):
        sd.from_pandas(pdf, npartitions=2).rolling("1ME")
    with pytest.raises(TypeError, match="window must be"):
        ints.rolling(2.5)


@pytest.mark.parametrize("min_periods", [0, 1, 3])
def test_expanding(variants, min_periods):
    pdf = numbers()
    for _label, df in variants(pdf):
        for how in ("sum", "mean", "count", "min", "max", "var", "std"):
            want = getattr(pdf.expanding(min_periods), how)()
            assert_eq(getattr(df.expanding(min_periods), how)(), want)
            assert_eq(
                getattr(df.g.expanding(min_periods), how)(),
                getattr(pdf.g.expanding(min_periods), how)(),
            )
        assert_eq(df.expanding(min_periods).std(ddof=0), pdf.expanding(min_periods).std(ddof=0))


EWM = [
    {"alpha": 0.3},
    {"span": 5, "adjust": False},
    {"com": 2, "ignore_na": True},
    {"halflife": 3, "adjust": False, "ignore_na": True},
    {"alpha": 0.5, "min_periods": 4},
    {"alpha": 0.2, "adjust": False},
    {"span": 3, "ignore_na": True, "min_periods": 2},
]


@pytest.mark.parametrize("options", EWM)
def test_ewm(variants, options):
    pdf = numbers()
    for _label, df in variants(pdf):
        assert_eq(df.ewm(**options).mean(), pdf.ewm(**options).mean())
        assert_eq(df.g.ewm(**options).mean(), pdf.g.ewm(**options).mean())
        if options.get("adjust", True):
            assert_eq(df.ewm(**options).sum(), pdf.ewm(**options).sum())


def test_ewm_long_missing_runs():
    # runs of missing values across partition boundaries (decay over the gap)
    values = [1.0, np.nan, np.nan, np.nan, 5.0, np.nan, np.nan, 2.0, np.nan, np.nan, np.nan, 7.0]
    s = pd.Series(values * 3)
    for n in (2, 5, 12, 36):
        ds = sd.from_pandas(s, npartitions=n)
        for adjust in (True, False):
            for ignore_na in (True, False):
                opts = {"alpha": 0.4, "adjust": adjust, "ignore_na": ignore_na}
                assert_eq(ds.ewm(**opts).mean(), s.ewm(**opts).mean())


def test_ewm_errors():
    df = sd.from_pandas(numbers(), npartitions=2)
    with pytest.raises(ValueError, match="exactly one of"):
        df.ewm(alpha=0.5, span=3)
    with pytest.raises(ValueError, match="alpha must be in"):
        df.ewm(alpha=1.5)
    with pytest.raises(NotImplementedError, match="adjust=True"):
        df.ewm(alpha=0.5, adjust=False).sum()
    with pytest.raises(ValueError, match="min_periods"):
        df.expanding(-1)
