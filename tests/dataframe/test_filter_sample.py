"""Sampled filter estimates (dataframe/filter_sample.py): the share a pandas
filter keeps, measured on a few partitions only while the join planner
asks, and the join orders it leads to, checked against pandas."""

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.dataframe import filter_sample
from shoal.dataframe.filter_sample import filter_share, sampling
from shoal.dataframe.sizes import estimate_rows
from shoal.testing import compute_checked


@pytest.fixture
def star(tmp_path):
    """A fact table (12 files) and a dimension whose names hold "green" in
    about 1 row of 20, keyed 0..n-1, in 4 files."""
    rng = np.random.default_rng(5)
    n_dim, n_fact = 4000, 48000
    colours = np.where(rng.random(n_dim) < 0.05, "green", "blue")
    dim = pd.DataFrame(
        {"d_key": np.arange(n_dim), "d_name": [f"{c} thing {i}" for i, c in enumerate(colours)]}
    )
    fact = pd.DataFrame(
        {
            "f_id": np.arange(n_fact),
            "f_dim": rng.integers(0, n_dim, n_fact),
            "f_other": rng.integers(0, 300, n_fact),
            "f_amount": rng.random(n_fact),
        }
    )
    other = pd.DataFrame({"o_key": np.arange(300), "o_label": [f"o{i % 7}" for i in range(300)]})
    for name, df, files in (("dim", dim, 4), ("fact", fact, 12), ("other", other, 1)):
        (tmp_path / name).mkdir()
        step = -(-len(df) // files)
        for k in range(files):
            piece = df.iloc[k * step : (k + 1) * step]
            piece.to_parquet(tmp_path / name / f"part.{k}.parquet", index=False)
    return {"dim": dim, "fact": fact, "other": other}, tmp_path


def read(path):
    return sd.read_parquet(path, blocksize=1)


def test_share_is_measured_only_while_planning(star):
    frames, root = star
    dim = read(root / "dim")
    green = dim.d_name.str.contains("green", regex=False)
    assert filter_share(green.expr, 4000.0) is None
    with sampling():
        share = filter_share(green.expr, 4000.0)
    truth = frames["dim"].d_name.str.contains("green").mean()
    assert share == pytest.approx(truth, abs=0.03)
    # the estimate of the filtered frame follows while planning, not otherwise
    assert estimate_rows(dim[green].expr) == 4000.0
    with sampling():
        assert estimate_rows(dim[green].expr) == pytest.approx(4000 * share)
    with shoal.config.set({"dataframe.optimize.sample-filters": False}), sampling():
        assert estimate_rows(dim[green].expr) == 4000.0


def test_sampling_is_skipped_when_costly_or_not_per_partition(star, monkeypatch):
    frames, root = star
    dim, fact = read(root / "dim"), read(root / "fact")
    green = dim.d_name.str.contains("green", regex=False)
    monkeypatch.setattr(filter_sample, "MAX_SAMPLE_ROWS", 100)
    monkeypatch.setattr(filter_sample, "_shares", type(filter_sample._shares)())
    with sampling():
        assert filter_share(green.expr, 4000.0) is None
    monkeypatch.setattr(filter_sample, "MAX_SAMPLE_ROWS", 10**9)
    above_mean = fact.f_amount > fact.f_amount.mean()  # a reduction below: not sampled
    with sampling():
        assert filter_share(above_mean.expr, 48000.0) is None
        assert filter_share(green.expr, 4000.0) is not None


def test_a_failing_predicate_is_left_to_the_computation(star):
    frames, root = star
    dim = read(root / "dim")

    def boom(s):
        raise ZeroDivisionError("no sample for you")

    bad = dim.d_key.map_partitions(boom, meta=pd.Series([], dtype=bool, name="d_key"))
    with sampling():
        assert filter_share(bad.expr, 4000.0) is None
    j = read(root / "fact").merge(dim[bad], left_on="f_dim", right_on="d_key")
    with pytest.raises(ZeroDivisionError, match="no sample for you"):
        j.compute()


def test_a_selective_pandas_filter_is_joined_first(star):
    frames, root = star
    fact, dim, other = read(root / "fact"), read(root / "dim"), read(root / "other")
    green = dim[dim.d_name.str.contains("green", regex=False)]
    j = fact.merge(other, left_on="f_other", right_on="o_key")
    j = j.merge(green, left_on="f_dim", right_on="d_key")
    plan = j.optimize().explain()
    # the fact table meets the filtered dimension before the other one
    first_join = [line for line in plan.split("Optimized plan:")[1].splitlines() if "Join" in line]
    assert "d_key" in first_join[-1] or "f_dim" in first_join[-1], plan
    pf, pd_, po = frames["fact"], frames["dim"], frames["other"]
    want = pf.merge(po, left_on="f_other", right_on="o_key")
    want = want.merge(pd_[pd_.d_name.str.contains("green")], left_on="f_dim", right_on="d_key")
    got = compute_checked(j)
    cols = list(want.columns)
    pd.testing.assert_frame_equal(
        got[cols].sort_values("f_id").reset_index(drop=True),
        want.sort_values("f_id").reset_index(drop=True),
        check_dtype=False,
    )
