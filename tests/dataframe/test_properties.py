"""Property tests: random frames on random partitionings agree with pandas."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal.dataframe as sd
from shoal.testing import assert_eq


@st.composite
def frames(draw):
    n = draw(st.integers(0, 30))
    keys = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    values = draw(st.lists(st.one_of(st.none(), st.floats(-1e3, 1e3)), min_size=n, max_size=n))
    counts = draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
    pdf = pd.DataFrame(
        {
            "k": pd.Series(keys, dtype="str"),
            "v": pd.Series(values, dtype="float64"),
            "c": pd.Series(counts, dtype="int64"),
        }
    )
    nparts = draw(st.integers(1, 5))
    sort = draw(st.booleans())
    return pdf, sd.from_pandas(pdf, npartitions=nparts, sort=sort)


@settings(max_examples=25, deadline=None)
@given(frames(), st.sampled_from([None, 2, 3]))
def test_reductions_match_pandas(data, split_every):
    pdf, df = data
    assert_eq(df.c.sum(split_every=split_every), pdf.c.sum())
    assert_eq(df.v.count(split_every=split_every), pdf.v.count())
    assert_eq(df.v.mean(split_every=split_every), pdf.v.mean())
    assert_eq(df.v.var(split_every=split_every), pdf.v.var(), rtol=1e-6, atol=1e-6)
    assert_eq(df.k.nunique(split_every=split_every), pdf.k.nunique())
    assert len(df) == len(pdf)


@settings(max_examples=25, deadline=None)
@given(frames(), st.booleans())
def test_groupby_matches_pandas(data, dropna):
    pdf, df = data
    spec = {"v": ["sum", "mean", "count", "max"], "c": ["min", "size", "nunique"]}
    want = pdf.groupby("k", dropna=dropna).agg(spec)
    got = df.groupby("k", dropna=dropna).agg(spec, split_every=2).compute()
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9, atol=1e-9)


def test_errors_inside_tasks_keep_type_and_name_the_key():
    df = sd.from_pandas(pd.DataFrame({"a": [1, 2, 3]}), npartitions=2)

    def explode(part):
        if len(part) and part.a.iloc[0] == 3:
            raise ZeroDivisionError("bad partition")
        return part

    out = df.map_partitions(explode, meta=df._meta)
    with pytest.raises(ZeroDivisionError, match="bad partition") as info:
        out.compute()
    assert any(
        "map_partitions" in n or "explode" in n for n in getattr(info.value, "__notes__", [])
    )
    assert np.isnan(sd.from_pandas(pd.Series([], dtype="float64"), npartitions=1).mean().compute())
