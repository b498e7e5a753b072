"""A groupby joined on its keys with a small side: its input is filtered to
the keys of that side first (``join_semi.py``); every answer against pandas,
and the plans checked for where the filter went (or that it did not)."""

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.dataframe.membership import IsinRanges
from shoal.dataframe.optimize import optimize_expr
from shoal.dataframe.sizes import estimate
from shoal.testing import assert_eq


def _facts(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "k1": rng.integers(0, 1000, n),
            "k2": rng.integers(0, 10, n),
            "v": rng.normal(size=n).round(2),
            "w": rng.integers(0, 5, n),
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The facts as 4 parquet files, in no key order and sorted by k1."""
    pdf = _facts()
    root = tmp_path_factory.mktemp("semi")
    for name, frame in (("loose", pdf), ("sorted", pdf.sort_values("k1", kind="stable"))):
        (root / name).mkdir()
        for i, piece in enumerate(np.array_split(np.arange(len(frame)), 4)):
            frame.iloc[piece].to_parquet(root / name / f"part.{i}.parquet", index=False)
    return pdf, str(root / "loose"), str(root / "sorted")


def _dims() -> pd.DataFrame:
    return pd.DataFrame(
        {"k1": [3, 17, 17, 500, 999, 1234], "k2": [1, 2, 9, 0, 4, 4], "d": range(6)}
    )


def _narrowed(coll) -> bool:
    """Whether a lazy isin filters some groupby's input."""
    plan = optimize_expr(coll.expr)
    return any(
        "isin" in node._name or isinstance(node, IsinRanges)
        for node in plan.walk()
        if type(node).__name__ in ("MapPartitions", "IsinRanges")
    )


def _same(got, expected):
    out = got.compute()
    cols = list(expected.columns)
    assert_eq(
        out.sort_values(cols).reset_index(drop=True),
        expected.sort_values(cols).reset_index(drop=True),
    )


@pytest.mark.parametrize("which", ["loose", "sorted"])
@pytest.mark.parametrize("agg", ["sum", "mean", "count", "nunique", "max"])
def test_groupby_joined_with_a_small_side_matches_pandas(files, which, agg):
    pdf, loose, sorted_ = files
    df = sd.read_parquet(loose if which == "loose" else sorted_)
    dims = _dims()
    grouped = df.groupby(["k1", "k2"]).v.agg(agg).reset_index()
    got = sd.from_pandas(dims, npartitions=1).merge(grouped, on=["k1", "k2"])
    expected = dims.merge(pdf.groupby(["k1", "k2"]).v.agg(agg).reset_index(), on=["k1", "k2"])
    assert _narrowed(got)
    _same(got, expected)


@pytest.mark.parametrize(
    "how, grouped_on_left, narrowed",
    [
        ("inner", True, True),
        ("inner", False, True),
        ("left", False, True),
        ("right", True, True),
        ("left", True, False),  # the groupby's unmatched groups are kept
        ("right", False, False),
        ("outer", False, False),
    ],
)
def test_only_sides_whose_unmatched_rows_are_dropped(files, how, grouped_on_left, narrowed):
    pdf, loose, _ = files
    df = sd.read_parquet(loose)
    dims = _dims()
    grouped = df.groupby("k1").agg(total=("v", "sum"), rows=("w", "count")).reset_index()
    pgrouped = pdf.groupby("k1").agg(total=("v", "sum"), rows=("w", "count")).reset_index()
    small = sd.from_pandas(dims, npartitions=2)
    if grouped_on_left:
        got = grouped.merge(small, on="k1", how=how)
        expected = pgrouped.merge(dims, on="k1", how=how)
    else:
        got = small.merge(grouped, on="k1", how=how)
        expected = dims.merge(pgrouped, on="k1", how=how)
    assert _narrowed(got) is narrowed
    _same(got, expected)


def test_semi_and_anti_joins_and_filters_above_the_groupby(files):
    pdf, loose, sorted_ = files
    dims = _dims()
    for path in (loose, sorted_):
        df = sd.read_parquet(path)
        grouped = df.groupby("k1").v.sum().reset_index()
        big = grouped[grouped.v > 0][["k1", "v"]]
        pgrouped = pdf.groupby("k1").v.sum().reset_index()
        pbig = pgrouped[pgrouped.v > 0][["k1", "v"]]
        got = sd.from_pandas(dims, npartitions=1).merge(big, on="k1")
        assert _narrowed(got)
        _same(got, dims.merge(pbig, on="k1"))
        semi = sd.merge(sd.from_pandas(dims, npartitions=1), big, on="k1", how="leftsemi")
        _same(semi, dims[dims.k1.isin(pbig.k1)])
        anti = sd.merge(sd.from_pandas(dims, npartitions=1), big, on="k1", how="leftanti")
        _same(anti, dims[~dims.k1.isin(pbig.k1)])


def test_not_when_the_other_side_is_large_or_keys_are_not_group_keys(files):
    pdf, loose, _ = files
    df = sd.read_parquet(loose)
    grouped = df.groupby("k1").v.sum().reset_index()
    wide = pd.DataFrame({"k1": np.arange(3000), "e": 1.0})
    got = sd.from_pandas(wide, npartitions=2).merge(grouped, on="k1")
    assert not _narrowed(got)  # as many rows as the facts' quarter: no gain
    _same(got, wide.merge(pdf.groupby("k1").v.sum().reset_index(), on="k1"))
    by_value = sd.from_pandas(_dims(), npartitions=1).merge(grouped, left_on="d", right_on="v")
    assert not _narrowed(by_value)  # v is an aggregate, not a group key


def test_keys_the_small_side_mostly_covers_are_not_tested(files):
    pdf, loose, _ = files
    df = sd.read_parquet(loose)
    grouped = df.groupby(["k2"]).v.sum().reset_index()  # k2 takes 10 values, dims hold 5
    got = sd.from_pandas(_dims(), npartitions=1).merge(grouped, on="k2")
    assert not _narrowed(got)
    _same(got, _dims().merge(pdf.groupby("k2").v.sum().reset_index(), on="k2"))


def test_config_turns_it_off(files):
    pdf, loose, _ = files
    df = sd.read_parquet(loose)
    grouped = df.groupby("k1").v.sum().reset_index()
    with shoal.config.set({"dataframe.merge.semi-join-groups": False}):
        got = sd.from_pandas(_dims(), npartitions=1).merge(grouped, on="k1")
        assert not _narrowed(got)
        _same(got, _dims().merge(pdf.groupby("k1").v.sum().reset_index(), on="k1"))


def test_isin_of_a_lazy_series_shrinks_the_size_estimate(files):
    _, loose, _ = files
    df = sd.read_parquet(loose)
    few = sd.from_pandas(pd.Series([1, 2, 3, 4, 5], name="k1"), npartitions=1)
    kept = optimize_expr(df[df.k1.isin(few)].expr)
    every = optimize_expr(df.expr)
    share = estimate(kept).rows / estimate(every).rows
    assert share == pytest.approx(5 / 1000, rel=0.05)  # 5 keys of k1's 1000 possible values
