import uuid

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.dataframe.optimize import optimize_expr
from shoal.testing import assert_eq


@pytest.fixture
def table():
    pdf = pd.DataFrame({"a": np.arange(100), "b": np.arange(100.0), "c": ["x", "y"] * 50, "d": 1})
    url = f"memory://opt-{uuid.uuid4().hex}/t.parquet"
    pdf.to_parquet(url, index=False)
    return pdf, url


def _plan(collection):
    """The optimized plan (fusion happens when its graph is built)."""
    return optimize_expr(collection.expr)


GOLDEN_QUERY = """\
Logical plan:
  TreeReduce: groupby-agg, split_every=8
    Chunk: groupby-agg
      Assign: 'e'
        Filter
          ReadParquet: columns_=['a', 'b', 'c', 'd'], filters=None
          MapPartitions: and
            MapPartitions: gt
              Projection: columns_='a'
                (shared: ReadParquet)
            MapPartitions: eq
              Projection: columns_='c'
                (shared: ReadParquet)
        MapPartitions: mul
          Projection: columns_='b'
            (shared: Filter)

Optimized plan:
  TreeReduce: groupby-agg, split_every=8
    Chunk: groupby-agg
      Assign: 'e'  (fused)
        ReadParquet: columns_=['b', 'c'], filters=[[('a', '>', 10), ('c', '==', 'x')]], \
categorical=['c']
        MapPartitions: mul  (fused)
          Projection: columns_='b'  (fused)
            (shared: ReadParquet)"""


def test_golden_explain_pushdowns_and_fusion(table):
    pdf, url = table
    df = sd.read_parquet(url)
    q = df[(df.a > 10) & (df.c == "x")]
    q = q.assign(e=q.b * 2)
    result = q.groupby("c").e.sum()
    assert result.explain() == GOLDEN_QUERY
    p = pdf[(pdf.a > 10) & (pdf.c == "x")]
    assert_eq(result, p.assign(e=p.b * 2).groupby("c").e.sum())


def test_projection_pushdown_through_chains(table):
    pdf, url = table
    df = sd.read_parquet(url)
    chain = df.fillna(0).rename(columns={"d": "dd"}).assign(z=df.a + 1)[["b", "z"]]
    readers = list(_plan(chain).find_operations(sd.parquet.ReadParquet))
    assert [r.columns_ for r in readers] == [["a", "b"]]
    simple = df.fillna(0).astype({"a": "float64"})[["a"]]
    (reader,) = _plan(simple).find_operations(sd.parquet.ReadParquet)
    assert reader.columns_ == ["a"]
    filled = pdf.fillna(0).rename(columns={"d": "dd"}).assign(z=pdf.a + 1)[["b", "z"]]
    assert_eq(chain, filled, check_index=False)
    assert_eq(simple, pdf.astype({"a": "float64"})[["a"]], check_index=False)


def test_shared_reader_reads_union_of_columns(table):
    pdf, url = table
    df = sd.read_parquet(url)
    both = df.a.sum() + df.b.sum()
    readers = list(_plan(both).find_operations(sd.parquet.ReadParquet))
    assert len(readers) == 1 and readers[0].columns_ == ["a", "b"]
    assert_eq(both, pdf.a.sum() + pdf.b.sum())


def test_predicate_pushdown_only_when_exact(table):
    pdf, url = table
    df = sd.read_parquet(url)
    pushed = df[(df.a >= 40) | df.c.isin(["y"])]
    (reader,) = _plan(pushed).find_operations(sd.parquet.ReadParquet)
    assert reader.filters == [[("a", ">=", 40)], [("c", "in", ["y"])]]
    assert not list(_plan(pushed).find_operations(sd.expr.Filter))
    assert_eq(pushed, pdf[(pdf.a >= 40) | pdf.c.isin(["y"])], check_index=False)
    # != keeps missing values in pandas but not in parquet filters: not pushed
    kept = df[df.a != 3]
    assert list(_plan(kept).find_operations(sd.expr.Filter))
    assert_eq(kept, pdf[pdf.a != 3], check_index=False)
    derived = df[df.a + 1 > 50]
    assert list(_plan(derived).find_operations(sd.expr.Filter))
    assert_eq(derived, pdf[pdf.a + 1 > 50], check_index=False)


def test_fusion_gives_one_task_per_partition():
    pdf = pd.DataFrame({"x": range(100), "y": range(100)})
    df = sd.from_pandas(pdf, npartitions=5)
    out = (df[df.x > 3].y * 2 + 1).abs()
    graph = out.__shoal_graph__()
    assert len(graph) == 10  # 5 data partitions + 5 fused tasks
    assert_eq(out, (pdf[pdf.x > 3].y * 2 + 1).abs())


def test_common_subplans_share_names():
    pdf = pd.DataFrame({"x": range(10)})
    a = sd.from_pandas(pdf, npartitions=2)
    b = sd.from_pandas(pdf, npartitions=2)
    assert (a.x + 1).expr._name == (b.x + 1).expr._name
    twice = (a.x + 1) * (b.x + 1)
    opt = optimize_expr(twice.expr)
    names = [n._name for n in opt.walk()]
    assert len(names) == len(set(names)) == 4  # from-pandas, x, x + 1, product
    assert_eq(twice, (pdf.x + 1) ** 2)


def test_projection_into_csv_reader(tmp_path):
    pdf = pd.DataFrame({"a": range(10), "b": list("abcdefghij"), "c": 1.5})
    pdf.to_csv(tmp_path / "f.csv", index=False)
    df = sd.read_csv(str(tmp_path / "f.csv"))
    out = df[df.a > 2].b
    assert "usecols=['a', 'b']" in out.explain()
    assert_eq(out, pdf[pdf.a > 2].b, check_index=False)


def test_filter_moves_below_projection_to_reach_reader(table):
    pdf, url = table
    df = sd.read_parquet(url)
    out = df[["b", "c"]][df.a < 30]
    (reader,) = _plan(out).find_operations(sd.parquet.ReadParquet)
    assert reader.filters == [[("a", "<", 30)]] and reader.columns_ == ["b", "c"]
    assert_eq(out, pdf[["b", "c"]][pdf.a < 30], check_index=False)
    series = df.b[df.a < 30]
    assert_eq(series, pdf.b[pdf.a < 30], check_index=False)


def test_predicate_literals_are_cast_like_pandas():
    pdf = pd.DataFrame(
        {
            "t": pd.date_range("2024-01-01", periods=50, freq="D"),
            "v": np.arange(50.0),
            "s": ["a", "b"] * 25,
        }
    )
    url = f"memory://opt-{uuid.uuid4().hex}/t.parquet"
    pdf.to_parquet(url, index=False)
    df = sd.read_parquet(url)
    by_text = df[df.t >= "2024-02-10"]
    (reader,) = _plan(by_text).find_operations(sd.parquet.ReadParquet)
    assert reader.filters is not None
    assert_eq(by_text, pdf[pdf.t >= "2024-02-10"], check_index=False)
    by_stamp = df[(df.t < pd.Timestamp("2024-01-05")) | df.s.isin(["b"])]
    assert_eq(
        by_stamp, pdf[(pdf.t < pd.Timestamp("2024-01-05")) | pdf.s.isin(["b"])], check_index=False
    )
    mixed = df[df.v > 2.5]
    assert_eq(mixed, pdf[pdf.v > 2.5], check_index=False)


def test_pushed_filters_keep_partitions_and_index_aligned():
    pdf = pd.DataFrame({"a": np.arange(1000), "b": np.arange(1000.0), "c": np.arange(1000) % 7})
    url = f"memory://opt-{uuid.uuid4().hex}/t.parquet"
    import fsspec
    import pyarrow as pa
    import pyarrow.parquet as pq

    with fsspec.open(url, "wb") as f:
        pq.write_table(pa.Table.from_pandas(pdf, preserve_index=False), f, row_group_size=100)
    df = sd.read_parquet(url, blocksize=1)
    filtered = df[df.a >= 850]
    (reader,) = _plan(filtered).find_operations(sd.parquet.ReadParquet)
    assert reader.filters and reader.npartitions == df.npartitions == 10
    # the same rows and index as filtering the whole partitions in pandas
    plain = df.map_partitions(lambda p: p[p.a >= 850])
    pd.testing.assert_frame_equal(filtered.compute(), plain.compute())
    both = filtered.b + df.c  # aligned partition by partition, index by index
    pd.testing.assert_series_equal(both.compute(), (plain.b + df.c).compute())
    assert len(filtered) == 150
