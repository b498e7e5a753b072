"""The shuffle layer: df.shuffle with the tasks and disk methods, the hash
kernel's normalization and stability, partitioning tracking, cleanup."""

import gc
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.dataframe.shuffle import hash_targets, hash_values, output_partitioning
from shoal.dataframe.shuffle_tasks import stage_plan
from shoal.testing import compute_checked

METHODS = ["tasks", "disk"]


def keyed_frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "i": rng.integers(0, 7, n),
            "f": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 4, n).astype(float)),
            "s": pd.Series(rng.choice(["x", "y", "z", None], n), dtype="str"),
            "c": pd.Series(rng.choice(["p", "q", None], n)).astype(pd.CategoricalDtype(["p", "q"])),
            "v": np.arange(n),
        }
    )


def _parts(coll):
    from shoal.core.local import get_sync

    return get_sync(coll.__shoal_graph__(), coll.__shoal_keys__())


def _check_shuffled(parts, pdf, on):
    """Same rows as pdf, each key in one partition, input order kept within each."""
    got = pd.concat(parts)
    pd.testing.assert_frame_equal(got.sort_values("v"), pdf.sort_values("v"))
    home = {}
    for j, p in enumerate(parts):
        keys = p[on].astype(object).where(p[on].notna(), None)
        for key in set(map(tuple, keys.to_numpy())):
            assert home.setdefault(key, j) == j, f"key {key} in partitions {home[key]} and {j}"
        assert p.index.is_monotonic_increasing


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("on", [["i"], ["f"], ["s"], ["c"], ["s", "i"]])
def test_shuffle_matches_pandas_rows(variants, method, on):
    pdf = keyed_frame()
    for _, df in variants(pdf):
        for k, branch in [(1, None), (5, 2), (7, 32)]:
            out = df.shuffle(on, npartitions=k, shuffle_method=method, max_branch=branch)
            assert out.npartitions == k and not out.known_divisions
            parts = _parts(out)
            assert len(parts) == k
            _check_shuffled(parts, pdf, on)
            pd.testing.assert_frame_equal(compute_checked(out).sort_values("v"), pdf)


def test_shuffle_by_series_and_default_npartitions(variants):
    pdf = keyed_frame()
    for _, df in variants(pdf):
        out = df.shuffle(df.i % 3)
        assert out.npartitions == df.npartitions
        assert list(out.columns) == list(pdf.columns)
        parts = _parts(out)
        home = {}
        for j, p in enumerate(parts):
            for key in (p.i % 3).unique():
                assert home.setdefault(key, j) == j
        pd.testing.assert_frame_equal(pd.concat(parts).sort_values("v"), pdf)


def test_many_stages_reach_every_target():
    pdf = keyed_frame(300, seed=3)
    df = sd.from_pandas(pdf, npartitions=30)
    assert stage_plan(30, 3) == (4, 3)
    out = df.shuffle("v", npartitions=40, max_branch=3)
    parts = _parts(out)
    assert len(parts) == 40
    _check_shuffled(parts, pdf, ["v"])
    for j, p in enumerate(parts):
        assert (hash_targets(p, 0, ("v",), 40) == j).all()


def test_hash_normalizes_dtypes():
    ints = pd.DataFrame({"k": pd.Series([1, 2, None, 4], dtype="Int64")})
    floats = pd.DataFrame({"k": [1.0, 2.0, np.nan, 4.0]})
    objects = pd.DataFrame({"k": pd.Series([1, 2, None, 4], dtype=object)})
    for other in (floats, objects):
        np.testing.assert_array_equal(
            hash_targets(ints, 0, ("k",), 7), hash_targets(other, 0, ("k",), 7)
        )
    strings = pd.DataFrame({"k": pd.Series(["a", None, "b"], dtype="str")})
    cats = pd.DataFrame({"k": pd.Series(["a", None, "b"], dtype="category")})
    objs = pd.DataFrame({"k": pd.Series(["a", np.nan, "b"], dtype=object)})
    for other in (cats, objs):
        np.testing.assert_array_equal(
            hash_targets(strings, 0, ("k",), 5), hash_targets(other, 0, ("k",), 5)
        )
    ns = pd.DataFrame({"k": pd.to_datetime(["2024-01-01", None])})
    us = ns.astype({"k": "datetime64[us]"})
    np.testing.assert_array_equal(hash_targets(ns, 0, ("k",), 9), hash_targets(us, 0, ("k",), 9))
    neg = pd.DataFrame({"k": [-0.0, 0.0]})
    t = hash_targets(neg, 0, ("k",), 11)
    assert t[0] == t[1]
    index = pd.DataFrame({"x": [1, 2]}, index=pd.Index([3, 4]))
    np.testing.assert_array_equal(
        hash_targets(index, 0, None, 5), hash_targets(pd.DataFrame({"k": [3, 4]}), 0, ("k",), 5)
    )


def test_hash_is_stable_across_processes():
    keys = [pd.Series([1, 2, 3, None]), pd.Series(["a", "b", None, "c"], dtype="str")]
    here = hash_values(keys).tolist()
    code = (
        "import pandas as pd; from shoal.dataframe.shuffle import hash_values; "
        "print(hash_values([pd.Series([1, 2, 3, None]), "
        "pd.Series(['a', 'b', None, 'c'], dtype='str')]).tolist())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    cwd = os.path.dirname(os.path.dirname(shoal.__file__))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, check=True
    )
    assert eval(out.stdout) == here


def test_shuffle_errors_before_running():
    df = sd.from_pandas(keyed_frame(), npartitions=2)
    with pytest.raises(KeyError, match="'nope'"):
        df.shuffle("nope")
    with pytest.raises(ValueError, match="npartitions must be a positive integer"):
        df.shuffle("i", npartitions=0)
    with pytest.raises(ValueError, match="shuffle_method must be one of"):
        df.shuffle("i", shuffle_method="rows")
    with pytest.raises(ValueError, match="max_branch must be an integer >= 2"):
        df.shuffle("i", max_branch=1)
    with shoal.config.set({"dataframe.shuffle.method": "bogus"}):
        with pytest.raises(ValueError, match="shuffle_method must be one of"):
            df.shuffle("i").compute()


def test_config_and_argument_choose_the_method():
    df = sd.from_pandas(keyed_frame(), npartitions=3)
    assert "TaskShuffle" in df.shuffle("i").explain()
    with shoal.config.set({"dataframe.shuffle.method": "disk"}):
        assert "DiskShuffle" in df.shuffle("i").explain()
        assert "TaskShuffle" in df.shuffle("i", shuffle_method="tasks").explain()


def test_explain_golden_and_projection_pushed_below():
    df = sd.from_pandas(keyed_frame(), npartitions=3)
    out = df.shuffle("i", npartitions=4)[["v"]]
    assert out.explain().split("Optimized plan:\n")[1] == (
        "  Projection: columns_=['v']\n"
        "    TaskShuffle: hash on ['i'], npartitions=4, stages=1, branch=4  (fused)\n"
        "      Projection: columns_=['i', 'v']  (fused)\n"
        "        FromPandas: npartitions=3"
    )
    pd.testing.assert_frame_equal(out.compute().sort_values("v"), keyed_frame()[["v"]])


def test_partitioning_is_tracked_through_column_work():
    df = sd.from_pandas(keyed_frame(), npartitions=3)
    out = df.shuffle(["i"], npartitions=5)
    assert output_partitioning(out.expr) == ("hash", ("i",), 5)
    kept = out[out.v > 3].assign(w=out.v * 2)[["i", "w"]]
    assert output_partitioning(kept.expr) == ("hash", ("i",), 5)
    assert output_partitioning(out.assign(i=out.v).expr) is None
    assert output_partitioning(out[["v"]].expr) is None
    assert out.shuffle("i", npartitions=5).expr is out.expr
    assert output_partitioning(df.expr) is None


@pytest.mark.parametrize("scheduler", ["sync", "threads", "processes"])
def test_disk_shuffle_on_every_local_scheduler(tmp_path, scheduler):
    pdf = keyed_frame(80)
    df = sd.from_pandas(pdf, npartitions=4)
    with shoal.config.set({"dataframe.shuffle.directory": str(tmp_path)}):
        out = df.shuffle("s", npartitions=3, shuffle_method="disk")
        got = out.compute(scheduler=scheduler)
    pd.testing.assert_frame_equal(got.sort_values("v"), pdf)
    gc.collect()
    assert os.listdir(tmp_path) == []


def _boom(part):
    raise ZeroDivisionError("after the shuffle")


def _interrupt(part):
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    "func, error", [(_boom, ZeroDivisionError), (_interrupt, KeyboardInterrupt)]
)
def test_disk_shuffle_files_removed_on_error_and_interrupt(tmp_path, func, error):
    df = sd.from_pandas(keyed_frame(), npartitions=4)
    with shoal.config.set({"dataframe.shuffle.directory": str(tmp_path)}):
        out = df.shuffle("i", npartitions=3, shuffle_method="disk")
        out = out.map_partitions(func, meta=out._meta)
        seen = []

        def run():
            try:
                out.compute(scheduler="sync")
            except error:
                seen.append(True)

        run()
    gc.collect()
    assert seen == [True]
    assert os.listdir(tmp_path) == []


def test_disk_files_go_when_the_last_output_is_read(tmp_path):
    """The shards stay on disk until every output has read its pieces, then
    the last output removes them, while the graph is still alive."""
    df = sd.from_pandas(keyed_frame(), npartitions=4)
    with shoal.config.set({"dataframe.shuffle.directory": str(tmp_path)}):
        out = df.shuffle("i", npartitions=3, shuffle_method="disk")
        graph = out.__shoal_graph__()
    from shoal.core.local import get_sync

    (barrier,) = [k for k in graph if "barrier" in str(k[0])]
    get_sync(graph, barrier)
    assert len(os.listdir(tmp_path)) == 1  # the shards, written
    keys = out.__shoal_keys__()
    first = get_sync(graph, keys[:2])
    assert len(os.listdir(tmp_path)) == 1  # one output has not read yet
    parts = get_sync(graph, keys)
    assert sum(len(p) for p in parts) == 60 and sum(len(p) for p in first) < 60
    assert os.listdir(tmp_path) == []


# ------------------------------------------------ per-group work via shuffle


def _same_rows(got, want):
    out = compute_checked(got)
    if isinstance(want, pd.Series):
        pd.testing.assert_series_equal(
            out.sort_index(kind="stable"), want.sort_index(kind="stable")
        )
    else:
        pd.testing.assert_frame_equal(out.sort_index(kind="stable"), want.sort_index(kind="stable"))


@pytest.mark.parametrize("by", ["i", "s", ["c", "i"]])
def test_groupby_scans_and_transform(variants, by):
    pdf = keyed_frame(70)
    for _, df in variants(pdf):
        g, pg = df.groupby(by), pdf.groupby(by)
        _same_rows(g.v.cumsum(), pg.v.cumsum())
        _same_rows(g.cumcount(), pg.cumcount())
        _same_rows(g.f.shift(2), pg.f.shift(2))
        _same_rows(g.v.transform("mean"), pg.v.transform("mean"))
        _same_rows(
            g[["v", "f"]].transform(lambda s: s - s.min()),
            pg[["v", "f"]].transform(lambda s: s - s.min()),
        )
        _same_rows(
            df.groupby(by, dropna=False).v.cumsum(), pdf.groupby(by, dropna=False).v.cumsum()
        )


def test_groupby_apply(variants):
    pdf = keyed_frame(70)
    for _, df in variants(pdf):
        _same_rows(
            df.groupby("i").apply(lambda g: g.v.max() - g.v.min()),
            pdf.groupby("i").apply(lambda g: g.v.max() - g.v.min()),
        )
        _same_rows(
            df.groupby("s").apply(lambda g: g.nlargest(2, "v"), shuffle_method="disk"),
            pdf.groupby("s").apply(lambda g: g.nlargest(2, "v")),
        )
        _same_rows(
            df.groupby("i").f.apply(lambda s: s.fillna(0).cumsum(), meta=("f", "float64")),
            pdf.groupby("i").f.apply(lambda s: s.fillna(0).cumsum()),
        )
        _same_rows(df.groupby(df.i).apply(len), pdf.groupby(pdf.i).apply(len))
        _same_rows(df.groupby(df.i % 3).apply(len), pdf.groupby(pdf.i % 3).apply(len))


def test_drop_duplicates_split_out(variants):
    pdf = keyed_frame(70)
    for _, df in variants(pdf):
        for keep in ("first", "last"):
            out = df.drop_duplicates(subset=["i", "s"], keep=keep, split_out=3)
            assert out.npartitions == 3
            assert output_partitioning(out.expr) == ("hash", ("i", "s"), 3)
            _same_rows(out, pdf.drop_duplicates(subset=["i", "s"], keep=keep))
        _same_rows(df[["i", "s"]].drop_duplicates(split_out=2), pdf[["i", "s"]].drop_duplicates())
        _same_rows(df.s.drop_duplicates(split_out=2), pdf.s.drop_duplicates())


def test_groupby_split_out_is_hash_partitioned_like_the_shuffle():
    pdf = keyed_frame(70)
    df = sd.from_pandas(pdf, npartitions=3)
    out = df.groupby("i").v.sum(split_out=4)
    assert output_partitioning(out.expr) == ("hash", None, 4)
    for j, part in enumerate(_parts(out)):
        assert (hash_targets(part, 0, None, 4) == j).all()
    _same_rows(out, pdf.groupby("i").v.sum())
