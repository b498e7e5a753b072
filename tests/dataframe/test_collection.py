import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.testing import assert_eq


def test_properties_and_repr():
    pdf = pd.DataFrame({"x": range(10), "name": list("abcdefghij")})
    df = sd.from_pandas(pdf, npartitions=3)
    assert df.npartitions == 3
    assert df.divisions == (0, 3, 7, 9)
    assert df.known_divisions
    assert isinstance(df.columns, pd.Index) and list(df.columns) == ["x", "name"]
    assert df.dtypes["x"] == np.int64
    assert isinstance(df.dtypes["name"], pd.StringDtype)  # pyarrow-backed str, as pandas 3
    text = repr(df)
    assert "npartitions=3" in text and "name" in text and "str" in text
    assert isinstance(df.x, sd.Series) and df.x.name == "x"
    assert isinstance(df.index, sd.Index)
    assert isinstance(df.x.sum(), sd.Scalar)
    assert_eq(df.index, pdf.index)
    unknown = sd.from_pandas(pdf, npartitions=3, sort=False)
    assert unknown.divisions == (None,) * 4 and not unknown.known_divisions


def test_compute_persist_to_delayed(variants, frame):
    pdf = frame()
    for label, df in variants(pdf):
        assert_eq(df, pdf, check_index=label != "x")
        p = df.persist()
        assert p.npartitions == df.npartitions and p.divisions == df.divisions
        assert_eq(p.i + 1, pdf.i + 1)
        parts = shoal.compute(*df.to_delayed())
        assert len(parts) == df.npartitions
        pd.testing.assert_frame_equal(pd.concat(parts), pdf)


def test_partitions_and_get_partition():
    pdf = pd.DataFrame({"x": range(20)})
    df = sd.from_pandas(pdf, npartitions=4)
    assert_eq(df.partitions[1], pdf.iloc[5:10])
    assert_eq(df.partitions[1:3], pdf.iloc[5:15])
    assert df.partitions[1:3].divisions == (5, 10, 15)
    assert_eq(df.partitions[[0, 3]], pd.concat([pdf.iloc[:5], pdf.iloc[15:]]))
    assert_eq(df.get_partition(3), pdf.iloc[15:])
    assert_eq(df.partitions[-1], pdf.iloc[15:])
    with pytest.raises(IndexError):
        df.get_partition(4)


def _tracked(i, calls):
    calls.append(i)
    return pd.DataFrame({"x": range(i * 10, i * 10 + 10)})


def test_head_computes_only_needed_partitions():
    calls = []
    df = sd.from_map(_tracked, range(8), args=(calls,), meta={"x": "int64"})
    out = df.head(5)
    assert out.x.tolist() == [0, 1, 2, 3, 4]
    assert calls == [0]
    calls.clear()
    assert df.head(25).x.tolist() == list(range(25))
    assert sorted(calls) == [0, 1, 2]  # batches of 1 then 2 partitions
    calls.clear()
    assert df.tail(3).x.tolist() == [77, 78, 79]
    assert calls == [7]


def test_head_tail_with_empty_partitions(variants, frame):
    pdf = frame(30)
    for _, df in variants(pdf):
        pd.testing.assert_frame_equal(df.head(7), pdf.head(7))
        pd.testing.assert_frame_equal(df.tail(7), pdf.tail(7))
        pd.testing.assert_frame_equal(df.head(100), pdf)
        first = df.partitions[0].compute()
        assert_eq(df.head(3, compute=False), first.head(3))


def test_len(variants, frame):
    pdf = frame(33)
    for _, df in variants(pdf):
        assert len(df) == 33
        assert len(df[df.i > 0]) == int((pdf.i > 0).sum())


def test_meta_inference_failure_names_function():
    df = sd.from_pandas(pd.DataFrame({"x": [1, 2]}), npartitions=1)

    def broken(part):
        raise RuntimeError("boom")

    with pytest.raises(sd.MetaInferenceError, match="broken.*meta="):
        df.map_partitions(broken)
    out = df.map_partitions(lambda p: p.x * 2, meta=("x", "int64"))
    assert_eq(out, pd.Series([2, 4], name="x"))


def test_map_partitions_with_aligned_collections(variants, frame):
    pdf = frame()
    for _, df in variants(pdf):
        out = df.map_partitions(lambda a, b, k: a.i + b + k, df.f, 3)
        assert_eq(out, pdf.i + pdf.f + 3)
    a = sd.from_pandas(pdf, npartitions=2)
    b = sd.from_pandas(pdf, npartitions=3)  # known divisions: re-cut to common ones
    assert_eq(a.map_partitions(lambda x, y: x.i + y.i, b), pdf.i * 2)
    c = sd.from_pandas(pdf, npartitions=3, sort=False)
    with pytest.raises(ValueError, match="2 and 3 partitions"):
        a.map_partitions(lambda x, y: x, c)


def test_missing_column_suggests_close_names():
    df = sd.from_pandas(pd.DataFrame({"price": [1.0], "quantity": [2]}), npartitions=1)
    with pytest.raises(KeyError, match="did you mean 'price'"):
        df["prise"]
    with pytest.raises(AttributeError, match="did you mean 'quantity'"):
        _ = df.quantiy
    with pytest.raises(KeyError, match="not found"):
        df[["price", "nope"]]
    with pytest.raises(KeyError, match="did you mean 'price'"):
        df.groupby("prices")


def test_mismatched_dtypes_in_arithmetic():
    df = sd.from_pandas(pd.DataFrame({"s": ["a", "b"], "x": [1, 2]}), npartitions=1)
    with pytest.raises(TypeError, match="cannot apply 'add'.*str"):
        df.s + df.x
    with pytest.raises(TypeError, match="cannot apply 'sub'"):
        df.s - 1


GOLDEN_BOTH_PLANS = """\
Logical plan:
  MapPartitions: add
    Projection: columns_='y'
      Filter
        FromPandas: npartitions=2
        MapPartitions: gt
          Projection: columns_='x'
            (shared: FromPandas)

Optimized plan:
  MapPartitions: add
    Filter  (fused)
      Projection: columns_='y'  (fused)
        FromPandas: npartitions=2
      MapPartitions: gt  (fused)
        Projection: columns_='x'  (fused)
          (shared: FromPandas)"""


def test_explain_shows_both_plans():
    pdf = pd.DataFrame({"x": range(4), "y": range(4)})
    out = sd.from_pandas(pdf, npartitions=2)
    out = out[out.x > 1].y + 1
    # in-memory partitions stay stored; everything above runs in one task per partition
    assert out.explain() == GOLDEN_BOTH_PLANS
    assert len(out.__shoal_graph__()) == 4
    assert_eq(out, pdf[pdf.x > 1].y + 1)


def test_scalar_arithmetic_and_broadcast(variants, frame):
    pdf = frame()
    for _, df in variants(pdf):
        assert_eq(df.i.sum() * 2 + 1, pdf.i.sum() * 2 + 1)
        assert_eq(df.i - df.i.mean(), pdf.i - pdf.i.mean())
    with pytest.raises(TypeError, match="truth value"):
        bool(sd.from_pandas(pdf, npartitions=2).i.sum())


def test_threads_and_processes_schedulers(frame):
    pdf = frame(100)
    df = sd.from_pandas(pdf, npartitions=4)
    q = df[df.i > 0].groupby("s").f.mean()
    for scheduler in ("threads", "processes"):
        pd.testing.assert_series_equal(
            q.compute(scheduler=scheduler), pdf[pdf.i > 0].groupby("s").f.mean()
        )


def test_underscore_column_as_attribute():
    pdf = pd.DataFrame({"_flag": [1, 2, 3], "a": [4, 5, 6]})
    df = sd.from_pandas(pdf, npartitions=2)
    assert_eq(df._flag, pdf._flag)
    assert not hasattr(df, "_missing")
    assert not hasattr(df, "__missing__")
