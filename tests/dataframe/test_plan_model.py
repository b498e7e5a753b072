"""The one plan model in the dataframe room: plans of any depth build,
explain, optimize and compute; per-partition work fuses through core's
graph builder; reductions use core's tree; partitions are put together by
one category-preserving concatenation."""

import uuid

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.testing import assert_eq


def _node_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and "(shared:" not in line)


def test_ten_thousand_operation_chain():
    pdf = pd.DataFrame({"a": np.linspace(0.0, 1.0, 24), "b": np.arange(24.0) / 100})
    # unknown divisions: every binary step checks that both sides read the same source
    df, want = sd.from_pandas(pdf, npartitions=4, sort=False), pdf.copy()
    for _ in range(1000):  # 5 nodes each: two projections, mul, add, assign
        df["a"] = df.a * 1.0001 + df.b
        want["a"] = want.a * 1.0001 + want.b
    s, ws = df.a, want.a
    for i in range(5000):
        s = s + 1 if i % 2 else s * 0.9999
        ws = ws + 1 if i % 2 else ws * 0.9999
    nodes = len(list(s.expr.walk()))
    assert nodes > 10_000
    assert_eq(s, ws)
    assert_eq(df, want)
    text = s.explain()
    logical, optimized = text.split("\n\nOptimized plan:\n")
    assert _node_lines(logical) - 1 == nodes  # every node once, the rest as (shared: ...)
    # the optimizer routed every df.b straight to the source: the chain of
    # assignments under them is left to df.a
    assert _node_lines(optimized) == len(list(s.optimize().expr.walk())) < nodes
    assert "(fused)" in optimized


def test_self_referencing_steps_reduce():
    pdf = pd.Series(np.arange(10.0))
    s, want = sd.from_pandas(pdf, npartitions=3), pdf
    for _ in range(1000):  # each step uses its input twice (300 overflowed the stack before)
        s = s + 0.001 * s
        want = want + 0.001 * want
    assert_eq(s.sum(), want.sum(), rtol=1e-9)


@pytest.mark.parametrize("known", [False, True])
def test_categorical_repartition_keeps_meta_dtype(known):
    rng = np.random.default_rng(1)
    pdf = pd.DataFrame(
        {"c": rng.choice(["x", "y", "z", "w"], 40), "v": np.arange(40)},
        index=pd.Index(np.arange(40)),
    )
    pdf.loc[:9, "c"] = "x"  # the first partition holds one category only
    df = sd.from_pandas(pdf, npartitions=4).astype({"c": "category"})
    if known:
        df = df.categorize(columns=["c"])
    assert df.c.cat.known is known
    for out in (
        df.repartition(npartitions=1),
        df.repartition(npartitions=2),
        df.repartition(npartitions=6),
        df.repartition(divisions=(0, 25, 39)),
    ):
        meta_dtype = out._meta.c.dtype
        got = out.compute()
        assert isinstance(got.c.dtype, pd.CategoricalDtype)  # not str
        if known:
            assert got.c.dtype == meta_dtype
        assert set(got.c.cat.categories) == set(pdf.c)
        # every partition's dtype against meta is checked by assert_eq
        assert_eq(out, pdf.astype({"c": got.c.dtype}))
        assert_eq(out.c, pdf.c.astype(got.c.dtype))


def test_categorical_head_and_groupby_combine_keep_categories():
    pdf = pd.DataFrame({"c": list("aabbccdd"), "v": np.arange(8)})
    df = sd.from_pandas(pdf, npartitions=4).astype({"c": "category"})
    head = df.head(5, npartitions=3)
    assert isinstance(head.c.dtype, pd.CategoricalDtype)
    assert head.c.astype(str).tolist() == list("aabbc")
    firsts = df.groupby("v").c.first(split_every=2).compute()
    assert isinstance(firsts.dtype, pd.CategoricalDtype)
    assert firsts.astype(str).tolist() == list("aabbccdd")


def test_split_every_from_config_and_checked():
    pdf = pd.DataFrame({"a": np.arange(30), "k": np.arange(30) % 4})
    df = sd.from_pandas(pdf, npartitions=10)

    def combines(collection):
        return sum(1 for key in collection.__shoal_graph__() if "-combine" in str(key))

    assert df.a.sum().expr.split_every == 8
    with shoal.config.set({"dataframe.split-every": 3}):
        total = df.a.sum()
        grouped = df.groupby("k").a.sum()
    assert total.expr.split_every == 3 and combines(total) == 4 + 2
    assert combines(grouped) == 4 + 2
    assert combines(df.a.sum(split_every=5)) == 2
    assert_eq(total, pdf.a.sum())
    assert_eq(grouped, pdf.groupby("k").a.sum())
    for bad in (1, "4", 2.5):
        with pytest.raises(ValueError, match="split_every must be an integer >= 2"):
            df.a.sum(split_every=bad)
        with pytest.raises(ValueError, match="split_every must be an integer >= 2"):
            df.groupby("k").a.mean(split_every=bad)
    with shoal.config.set({"dataframe.split-every": 1}):
        with pytest.raises(ValueError, match="split_every must be an integer >= 2, got 1"):
            df.a.max()


def test_reader_filter_and_projection_run_as_one_task_per_partition():
    pdf = pd.DataFrame({"a": np.arange(400), "b": np.arange(400.0), "c": "x"})
    url = f"memory://plan-{uuid.uuid4().hex}/t.parquet"
    with __import__("fsspec").open(url, "wb") as f:
        pdf.to_parquet(f, index=False, row_group_size=100)
    df = sd.read_parquet(url, blocksize=1)
    assert df.npartitions == 4
    out = df[df.a > 50].b * 2
    graph = out.__shoal_graph__()
    assert len(graph) == 4  # read, filter (pushed into the read), project, multiply
    assert_eq(out, pdf[pdf.a > 50].b * 2, check_index=False)
    total = (df[df.a > 50].b * 2).sum()
    assert len(total.__shoal_graph__()) == 4 + 1  # the chunk step joins them; one aggregate
    assert_eq(total, (pdf[pdf.a > 50].b * 2).sum())


def test_computed_together_a_shared_subplan_runs_once():
    calls = []

    def tagged(part):
        calls.append(len(part))
        return part.assign(t=part.a * 2)

    pdf = pd.DataFrame({"a": np.arange(12)})
    df = sd.from_pandas(pdf, npartitions=3).map_partitions(
        tagged, meta={"a": "int64", "t": "int64"}
    )
    total, largest = shoal.compute(df.t.sum(), df.a.max(), scheduler="sync")
    assert (total, largest) == (pdf.a.sum() * 2, 11)
    assert sorted(calls) == [4, 4, 4]
