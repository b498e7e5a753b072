"""concat along rows and columns against pandas."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq, compute_checked


def test_concat_rows_every_partitioning(variants, frame):
    a = frame(30)[["i", "f", "s"]]
    b = frame(20, seed=1)[["i", "s", "t"]]
    b.index = b.index + 100
    for (_, da), (_, db) in zip(variants(a), variants(b)):
        for join in ["outer", "inner"]:
            got = sd.concat([da, db], join=join)
            assert got.npartitions == da.npartitions + db.npartitions
            assert_eq(got, pd.concat([a, b], join=join))


def test_concat_known_ordered_divisions_stay_known():
    a = pd.DataFrame({"x": range(10)})
    b = pd.DataFrame({"x": range(5)}, index=range(20, 25))
    got = sd.concat([sd.from_pandas(a, npartitions=2), sd.from_pandas(b, npartitions=2)])
    assert got.divisions == (0, 5, 20, 22, 24)
    assert_eq(got, pd.concat([a, b]))
    overlapping = sd.concat([sd.from_pandas(a, npartitions=2), sd.from_pandas(a, npartitions=3)])
    assert not overlapping.known_divisions
    assert_eq(overlapping, pd.concat([a, a]))


def test_interleave_partitions():
    a = pd.DataFrame({"x": range(0, 20, 2)}, index=range(0, 20, 2))
    b = pd.DataFrame({"x": range(100, 110), "y": list("abcdefghij")}, index=range(1, 20, 2))
    da, db = sd.from_pandas(a, npartitions=3), sd.from_pandas(b, npartitions=2)
    got = sd.concat([da, db], interleave_partitions=True)
    assert got.known_divisions
    out = compute_checked(got)
    want = pd.concat([a, b])
    pd.testing.assert_frame_equal(out.sort_index(kind="stable"), want.sort_index(kind="stable"))


def test_concat_series_and_categoricals():
    a = pd.Series(["x", "y"], dtype="category", name="c")
    b = pd.Series(["y", "z"], dtype="category", name="c", index=[5, 6])
    got = sd.concat([sd.from_pandas(a, npartitions=1), sd.from_pandas(b, npartitions=2)])
    assert_eq(got, pd.concat([a, b]))
    known = pd.CategoricalDtype(["x", "y", "z"])
    assert_eq(
        sd.concat([sd.from_pandas(a.astype(known), 1), sd.from_pandas(b.astype(known), 1)]),
        pd.concat([a.astype(known), b.astype(known)]),
    )


def test_concat_columns(variants, frame):
    pdf = frame(30)
    left, right = pdf[["i", "f"]], pdf[["s", "t"]].rename(columns={"s": "s2"})
    for _, df in variants(pdf):
        got = sd.concat([df[["i", "f"]], df[["s", "t"]].rename(columns={"s": "s2"})], axis=1)
        assert_eq(got, pd.concat([left, right], axis=1))
        assert_eq(sd.concat([df.i, df.f], axis=1), pd.concat([pdf.i, pdf.f], axis=1))
    a = pd.DataFrame({"x": range(10)})
    b = pd.DataFrame({"y": np.arange(10.0)}, index=range(3, 13))
    got = sd.concat([sd.from_pandas(a, npartitions=3), sd.from_pandas(b, npartitions=2)], axis=1)
    assert_eq(got, pd.concat([a, b], axis=1))


def test_concat_errors():
    a = sd.from_pandas(pd.DataFrame({"x": range(10)}), npartitions=2)
    b = sd.from_pandas(pd.DataFrame({"y": range(10)}), npartitions=3, sort=False)
    with pytest.raises(TypeError, match="non-empty list"):
        sd.concat([])
    with pytest.raises(ValueError, match="axis must be 0 or 1"):
        sd.concat([a, a], axis=2)
    with pytest.raises(ValueError, match="known divisions and the other unknown|partitions"):
        sd.concat([a, b], axis=1)
    with pytest.raises(TypeError, match="all DataFrames or all Series"):
        sd.concat([a, a.x])
