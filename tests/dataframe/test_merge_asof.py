"""merge_asof against pandas: every direction, by groups, tolerance, exact
matches, on columns and on indexes, over partitionings whose boundaries fall
between a left row and its match (matches several partitions away)."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import compute_checked


def trades_quotes(seed=0, n=60, m=25, spread=200):
    rng = np.random.default_rng(seed)
    trades = pd.DataFrame(
        {
            "t": np.sort(rng.integers(0, spread, n)),
            "sym": rng.choice(["a", "b", "c"], n),
            "qty": rng.integers(1, 100, n),
        }
    )
    # quotes are sparse: a group's previous quote is often partitions away
    quotes = pd.DataFrame(
        {
            "t": np.sort(rng.integers(0, spread, m)),
            "sym": rng.choice(["a", "b", "c", "d"], m, p=[0.6, 0.25, 0.1, 0.05]),
            "bid": rng.integers(0, 1000, m),
            "ok": rng.random(m) < 0.5,
        }
    )
    return trades, quotes


def partitionings(df):
    n = len(df)
    return [
        sd.from_pandas(df, npartitions=1),
        sd.from_pandas(df, npartitions=min(4, n)),
        sd.from_pandas(df, npartitions=min(9, n)),
    ]


def check(got, want):
    out = compute_checked(got)
    assert list(out.columns) == list(want.columns)
    # rows come in the left side's order (each partition has its own index)
    pd.testing.assert_frame_equal(
        out.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False
    )


@pytest.mark.parametrize("direction", ["backward", "forward", "nearest"])
@pytest.mark.parametrize("exact", [True, False])
def test_on_column_every_direction(direction, exact):
    trades, quotes = trades_quotes()
    for dt, dq in zip(partitionings(trades), partitionings(quotes)[::-1]):
        kw = dict(on="t", direction=direction, allow_exact_matches=exact)
        check(sd.merge_asof(dt, dq, **kw), pd.merge_asof(trades, quotes, **kw))
        kw["by"] = "sym"
        check(sd.merge_asof(dt, dq, **kw), pd.merge_asof(trades, quotes, **kw))


@pytest.mark.parametrize("direction", ["backward", "forward", "nearest"])
def test_tolerance_and_indexes(direction):
    trades, quotes = trades_quotes(1)
    ti, qi = trades.set_index("t"), quotes.set_index("t")
    for dt in partitionings(ti):
        for dq in partitionings(qi):
            kw = dict(left_index=True, right_index=True, direction=direction, tolerance=15)
            got = sd.merge_asof(dt, dq, by="sym", **kw)
            assert got.divisions == dt.divisions
            want = pd.merge_asof(ti, qi, by="sym", **kw)
            out = compute_checked(got)
            pd.testing.assert_frame_equal(out, want, check_dtype=False)


def test_datetime_keys_left_right_on_and_empty_partitions():
    rng = np.random.default_rng(2)
    left = pd.DataFrame(
        {"when": pd.date_range("2024-01-01", periods=40, freq="37min"), "x": range(40)}
    )
    right = pd.DataFrame(
        {
            "at": pd.to_datetime("2024-01-01")
            + pd.to_timedelta(np.sort(rng.integers(0, 24 * 60, 12)), "min"),
            "y": rng.normal(size=12),
        }
    )
    empty_first = sd.from_map(
        lambda b: right.iloc[b[0] : b[1]], [(0, 0), (0, 5), (5, 5), (5, 12)], meta=right.iloc[:0]
    )
    for dr in [*partitionings(right), empty_first]:
        for dl in partitionings(left):
            kw = dict(left_on="when", right_on="at", tolerance=pd.Timedelta("2h"))
            check(sd.merge_asof(dl, dr, **kw), pd.merge_asof(left, right, **kw))


def test_errors_before_running():
    trades, quotes = trades_quotes(3)
    dt, dq = sd.from_pandas(trades, npartitions=2), sd.from_pandas(quotes, npartitions=2)
    with pytest.raises(ValueError, match="direction must be one of"):
        sd.merge_asof(dt, dq, on="t", direction="sideways")
    with pytest.raises(KeyError, match="nope"):
        sd.merge_asof(dt, dq, on="nope")
    with pytest.raises(ValueError, match="right_index=True takes one left_on"):
        sd.merge_asof(dt, dq.set_index("t", sorted=True), left_on=["t"], right_index=True)
    shuffled = sd.from_pandas(quotes.sample(frac=1, random_state=0), npartitions=3, sort=False)
    with pytest.raises(ValueError, match="not sorted across partitions|keys must be sorted"):
        sd.merge_asof(dt, shuffled, on="t")
    unknown = sd.from_pandas(quotes.set_index("t"), npartitions=2, sort=False)
    with pytest.raises(ValueError, match="known divisions"):
        sd.merge_asof(dt.set_index("t", sorted=True), unknown, left_index=True, right_index=True)
