"""The out-of-core bench's answer check (``benchmarks/_range_check.py``):
DuckDB's answer compared with a written output one key range at a time.

Small ``lineitem``/``orders`` tables with the bench's columns (several
files, sparse keys as in TPC-H) and their join written by pandas (the
oracle); the check must pass on it and name the range of any row that is
changed, missing, extra, or keyed outside the orders' span.
"""

import os
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("duckdb")

from shoal.benchmarks import bench_dataframe_out_of_core as bench  # noqa: E402
from shoal.benchmarks.tpch import data  # noqa: E402

# the module the bench imported (the benchmarks folder is on sys.path)
KeyRanges = sys.modules["_range_check"].KeyRanges
PER_RANGE = 60  # 400 lineitem rows: 7 ranges


def _write(frame: pd.DataFrame, folder: str, pieces: int) -> str:
    os.makedirs(folder)
    for i, part in enumerate(np.array_split(np.arange(len(frame)), pieces)):
        frame.iloc[part].to_parquet(os.path.join(folder, f"part.{i}.parquet"), index=False)
    return folder


@pytest.fixture(name="tpch")
def _tpch(tmp_path):
    """``(tables, lineitem, orders, ranges)``: 100 orders keyed 5..~400, 400 lineitems."""
    rng = np.random.default_rng(0)
    okeys = np.sort(rng.choice(np.arange(5, 400), 100, replace=False))
    orders = pd.DataFrame(
        {
            "o_orderkey": okeys,
            "o_custkey": rng.integers(1, 50, 100),
            "o_totalprice": rng.random(100) * 1000,
            "o_orderdate": pd.Timestamp("1995-01-01") + pd.to_timedelta(okeys, "D"),
        }
    )
    lkeys = np.sort(rng.choice(okeys, 400))
    lineitem = pd.DataFrame(
        {
            "l_orderkey": lkeys,
            "l_partkey": rng.integers(1, 1000, 400),
            "l_suppkey": rng.integers(1, 100, 400),
            "l_linenumber": np.arange(400) % 7,
            "l_quantity": rng.integers(1, 50, 400).astype(float),
            "l_extendedprice": rng.random(400) * 100,
            "l_shipdate": pd.Timestamp("1996-01-01") + pd.to_timedelta(np.arange(400), "D"),
        }
    )
    tables = {
        "lineitem": _write(lineitem, str(tmp_path / "lineitem"), 3),
        "orders": _write(orders, str(tmp_path / "orders"), 2),
    }
    ranges = KeyRanges.covering(int(okeys.min()), int(okeys.max()), 400, "l_orderkey", PER_RANGE)
    return tables, lineitem, orders, ranges


def _joined(lineitem: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """The merge output as shoal writes it (other widths and units than the inputs)."""
    out = lineitem[bench.LINEITEM].merge(orders, left_on="l_orderkey", right_on="o_orderkey")
    return out.astype({"l_suppkey": "int32", "o_orderdate": "datetime64[us]"})


def _check(op, tables, frame, tmp_path, pieces=4):
    out = _write(frame, str(tmp_path / "out"), pieces)
    return bench._duckdb_check(op, tables, out, PER_RANGE)


@pytest.mark.parametrize("pieces", [1, 4, 11])
def test_right_merge_passes(tpch, tmp_path, pieces):
    tables, lineitem, orders, _ = tpch
    got = _joined(lineitem, orders).sample(frac=1, random_state=1)  # any row order
    verdict = _check("merge", tables, got, tmp_path, pieces)
    assert verdict.ok, verdict.text
    assert verdict.text == "ok (400 rows in 7 l_orderkey ranges equal DuckDB's)"


def test_right_set_index_passes(tpch, tmp_path):
    tables, lineitem, _, _ = tpch
    verdict = _check("set_index", tables, lineitem[bench.LINEITEM], tmp_path)
    assert verdict.ok, verdict.text


def test_one_range_covers_a_small_table(tpch, tmp_path):
    tables, lineitem, orders, _ = tpch
    out = _write(_joined(lineitem, orders), str(tmp_path / "out"), 2)
    verdict = bench._duckdb_check("merge", tables, out)  # default: millions of rows per range
    assert verdict.text == "ok (400 rows in 1 l_orderkey range equal DuckDB's)"


def test_changed_value_names_its_range(tpch, tmp_path):
    tables, lineitem, orders, ranges = tpch
    got = _joined(lineitem, orders)
    got.loc[250, "o_totalprice"] += 0.01
    a, b = ranges.bounds((got.loc[250, "l_orderkey"] - ranges.lo) // ranges.width)
    assert a <= got.loc[250, "l_orderkey"] <= b
    verdict = _check("merge", tables, got, tmp_path)
    assert not verdict.ok
    assert verdict.text.startswith("MISMATCH in 1 range(s): ")
    assert f"l_orderkey in [{a}, {b}] (range " in verdict.text
    assert "values differ" in verdict.text


def test_missing_and_extra_rows_name_their_ranges(tpch, tmp_path):
    tables, lineitem, orders, ranges = tpch
    got = _joined(lineitem, orders)
    first, last = ranges.bounds(0), ranges.bounds(ranges.count - 1)
    in_first = int((got["l_orderkey"] <= first[1]).sum())
    stray = got.iloc[[0, 0]].assign(l_orderkey=[ranges.hi + 3, ranges.lo - 1])
    got = pd.concat([got.iloc[1:], stray, got.iloc[[-1]]])  # one row lost, three too many
    verdict = _check("merge", tables, got, tmp_path)
    assert not verdict.ok
    assert verdict.text.startswith("MISMATCH in 4 range(s): ")
    assert f"l_orderkey < {ranges.lo}: 1 rows, DuckDB has 0" in verdict.text
    assert f"l_orderkey in [{first[0]}, {first[1]}] (range 1 of 7): {in_first - 1} rows" in (
        verdict.text
    )
    assert f"l_orderkey in [{last[0]}, {last[1]}] (range 7 of 7):" in verdict.text
    assert f"l_orderkey > {ranges.hi}: 1 rows, DuckDB has 0" in verdict.text


def test_null_key_is_named(tpch, tmp_path):
    tables, lineitem, _, _ = tpch
    got = lineitem[bench.LINEITEM].astype({"l_orderkey": "Int64"})
    got.loc[7, "l_orderkey"] = pd.NA
    verdict = _check("set_index", tables, got, tmp_path)
    assert not verdict.ok
    assert "l_orderkey null: 1 rows, DuckDB has 0" in verdict.text


def test_unsorted_set_index_fails(tpch, tmp_path):
    tables, lineitem, _, _ = tpch
    verdict = _check("set_index", tables, lineitem[bench.LINEITEM].iloc[::-1], tmp_path)
    assert not verdict.ok
    assert "not sorted at part.0.parquet" in verdict.text


def test_shuffle_truth_and_check(tpch):
    tables, lineitem, _, _ = tpch
    truth = bench._shuffle_truth(tables, PER_RANGE)
    assert truth["rows"] == len(lineitem)
    assert truth["keys"] == lineitem["l_orderkey"].nunique()
    assert truth["price"] == pytest.approx(lineitem["l_extendedprice"].sum(), rel=1e-12)
    assert bench._shuffle_check(dict(truth), truth).ok
    assert not bench._shuffle_check({**truth, "keys": truth["keys"] + 1}, truth).ok
    assert not bench._shuffle_check({**truth, "price": truth["price"] * 1.001}, truth).ok


@pytest.mark.parametrize(("lo", "hi", "count"), [(1, 100, 4), (5, 5, 1), (-3, 17, 6), (0, 9, 10)])
def test_ranges_partition_the_keys(lo, hi, count):
    """Every key in ``lo..hi`` falls in the range whose bounds hold it, as
    DuckDB computes it; keys outside go to the ranges below and above."""
    import duckdb

    ranges = KeyRanges(lo, hi, count, "k")
    spans = [ranges.bounds(i) for i in range(count)]
    assert spans[0][0] == lo and spans[-1][1] == hi
    assert all(a <= b and b + 1 == c for (a, b), (c, _) in zip(spans, spans[1:]))
    keys = list(range(lo - 3, hi + 4))
    got = duckdb.sql(
        f"SELECT {ranges.bucket_sql('k')} FROM (SELECT unnest({keys}) AS k) ORDER BY k"
    ).fetchall()
    want = [
        -1
        if k < lo
        else count
        if k > hi
        else next(i for i, (a, b) in enumerate(spans) if a <= k <= b)
        for k in keys
    ]
    assert [r for (r,) in got] == want


def test_bad_range_settings_raise():
    with pytest.raises(ValueError, match="no ranges"):
        KeyRanges.covering(10, 9, 100, "k")
    with pytest.raises(ValueError, match="no ranges"):
        KeyRanges.covering(1, 9, 100, "k", per_range=0)


@pytest.mark.skipif(data.tpchgen_path() is None, reason="tpchgen-cli not installed")
def test_bench_exits_on_a_wrong_answer(tmp_path, monkeypatch, capsys):
    """The bench end to end at SF0.01 (shoal's real merge): right, then with
    one written value changed, it exits non-zero naming the range."""
    real_run = bench._run
    argv = ["bench", "--scale", "0.01", "--ops", "merge", "--methods", "auto"]
    argv += ["--systems", "shoal", "--data-dir", str(tmp_path), "--rows-per-range", "10000"]
    monkeypatch.setattr(sys, "argv", argv)
    bench.main()
    assert (
        "answer ok (60,175 rows in 7 l_orderkey ranges equal DuckDB's)" in capsys.readouterr().out
    )

    def corrupting_run(system, op, method, tables, out):
        result = real_run(system, op, method, tables, out)
        path = os.path.join(out, sorted(os.listdir(out))[0])
        frame = pd.read_parquet(path)
        frame.loc[0, "l_quantity"] += 1
        frame.to_parquet(path, index=False)
        return result

    monkeypatch.setattr(bench, "_run", corrupting_run)
    with pytest.raises(
        SystemExit, match=r"merge auto shoal: MISMATCH in 1 range\(s\): l_orderkey in \["
    ):
        bench.main()
    assert "answer MISMATCH" in capsys.readouterr().out
