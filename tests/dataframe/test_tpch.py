"""The 22 TPC-H queries of ``benchmarks/tpch`` (written as a pandas user
writes them) against DuckDB's SQL answers on the same parquet files.

The tables are generated once per session by ``tpchgen-cli`` at scale
factor 0.1 (the smallest at which every query has a non-trivial answer: at
0.01 Q17 selects nothing), three files per large table. Small partitions
(one file each) and a small broadcast limit make the joins of the large
tables hash joins through the shuffle, as at scale factor 10 and more;
nation and region are still broadcast.
"""

import pytest

from shoal.benchmarks.tpch import compare, data, queries, sql
from shoal.core import config

duckdb = pytest.importorskip("duckdb")
pytestmark = pytest.mark.skipif(data.tpchgen_path() is None, reason="tpchgen-cli not installed")

SCALE = 0.1


@pytest.fixture(scope="session", name="tpch")
def _tpch(tmp_path_factory):
    root = data.generate(SCALE, str(tmp_path_factory.mktemp("tpch")), split=3)
    paths = data.table_paths(root)
    return paths, sql.duckdb_connection(paths, threads=1)


@pytest.mark.parametrize("query", range(1, 23))
def test_query_matches_duckdb(tpch, query):
    import shoal.dataframe as sd

    paths, con = tpch
    expected = sql.run_duckdb(con, query)
    settings = {
        "dataframe.partition-size": "1MB",
        "dataframe.merge.broadcast-bytes": 1_000_000,
        "dataframe.merge.broadcast-local-bytes": 0,
    }
    with config.set(settings):
        answer = queries.QUERIES[query](lambda table: sd.read_parquet(paths[table]))
        got = compare.as_frame(answer, query, list(expected.columns))
    assert len(expected) > 0
    compare.assert_same(got, expected, query)


def test_comparison_detects_differences(tpch):
    """The comparison itself fails on a changed value, a missing row and a
    broken order (so the query tests can fail)."""
    paths, con = tpch
    expected = sql.run_duckdb(con, 3)
    changed = expected.copy()
    changed.loc[4, "revenue"] *= 1.001
    with pytest.raises(AssertionError):
        compare.assert_same(changed, expected, 3)
    with pytest.raises(AssertionError):
        compare.assert_same(expected.iloc[:-1], expected, 3)
    with pytest.raises(AssertionError, match="not ordered"):
        compare.assert_same(expected.iloc[::-1].reset_index(drop=True), expected, 3)


@pytest.mark.parametrize("partition_size", ["1MB", "16MB"])
def test_join_order_keeps_nation_key_join_last(tpch, partition_size):
    """Q5 joins supplier on (suppkey, nationkey): joining it first to the
    customers on the nation key alone (a many-to-many join, 400 suppliers
    per nation at SF1) must not look cheap to the join planner, also when
    the customers were joined already (16MB: the small tables are one
    partition each and join partition-wise, as at SF1)."""
    import shoal.dataframe as sd

    paths, _ = tpch
    settings = {
        "dataframe.partition-size": partition_size,
        "dataframe.merge.broadcast-bytes": 1_000_000,
        "dataframe.merge.broadcast-local-bytes": 0,
    }
    with config.set(settings):
        plan = queries.q5(lambda table: sd.read_parquet(paths[table])).explain()
    optimized = plan.split("Optimized plan:")[1]
    assert "['s_suppkey', 's_nationkey']" in optimized  # supplier joins on both keys at once
    assert "_on=['s_nationkey']" not in optimized
