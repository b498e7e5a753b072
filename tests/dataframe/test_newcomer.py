"""What a newcomer from Dask tries on day one: mistakes give a clear error
before any task runs, and known categoricals look the same in meta and data."""

import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.testing import assert_eq


def _no_tasks(graph, keys, **kwargs):
    raise AssertionError("a task ran")


@pytest.fixture
def df():
    return sd.from_pandas(pd.DataFrame({"a": range(10), "b": list("xyzxyzxyzx")}), npartitions=3)


def test_query_of_a_missing_column_names_it_once(df):
    pdf = df.compute()
    with shoal.config.set(scheduler=_no_tasks):
        with pytest.raises(pd.errors.UndefinedVariableError) as info:
            df.query("nope > 3")
    assert str(info.value) == "query: name 'nope' is not defined"
    with pytest.raises(pd.errors.UndefinedVariableError, match=str(info.value).split(": ")[1]):
        pdf.query("nope > 3")


@pytest.mark.parametrize("nparts", [1, 2, 5])
def test_known_categories_keep_their_order_in_every_partition(nparts):
    """Categories found in the data come in order of first appearance; pandas
    would keep each partition's sorted categories (an unordered cast to equal
    sets is a no-op), so get_dummies' columns disagreed with meta."""
    pdf = pd.DataFrame({"s": list("cabxxbac"), "v": range(8)})
    df = sd.from_pandas(pdf, npartitions=nparts)
    order = ["c", "a", "b", "x"]
    want = pdf.astype({"s": pd.CategoricalDtype(order)})
    for got in (
        df.astype({"s": "category"}).s.cat.as_known(),
        df.s.astype("category").cat.as_known(),
        df.astype({"s": "category"}).categorize(["s"]).s,
        df.s.astype("category").astype(pd.CategoricalDtype(order)),
    ):
        assert got.cat.categories.tolist() == order
        assert_eq(got, want.s)
    dummies = sd.get_dummies(df.s.astype("category").cat.as_known())
    assert_eq(dummies, pd.get_dummies(want.s))


@pytest.mark.parametrize("reader", ["read_csv", "read_json"])
def test_reading_a_directory_says_to_name_its_files(tmp_path, reader):
    (tmp_path / "part.0").write_text("a,b\n1,2\n")
    with pytest.raises(IsADirectoryError, match=rf"{reader}: '.*' is a directory; name its files"):
        getattr(sd, reader)(str(tmp_path))


@pytest.mark.parametrize("nparts", [1, 3])
def test_an_assigned_column_no_one_reads_is_not_computed_nor_its_inputs_read(tmp_path, nparts):
    """docs/dataframe.md's first example assigns a column its groupby does not
    use: the plan drops the assign, and the reader skips the columns it used."""
    pdf = pd.DataFrame({"k": [1, 2, 1, 3, 2, 1] * 5, "b": range(30), "c": [0.5] * 30})
    sd.from_pandas(pdf, npartitions=nparts).to_parquet(str(tmp_path / "t"))
    df = sd.read_parquet(str(tmp_path / "t"))
    q = df.assign(d=df.b * 2)
    out = q.groupby("k").agg(s=("c", "sum"), n=("k", "count"))
    plan = out.explain().split("Optimized plan:")[1]
    assert "Assign" not in plan and "'b'" not in plan, plan
    want = pdf.assign(d=pdf.b * 2).groupby("k").agg(s=("c", "sum"), n=("k", "count"))
    assert_eq(out, want)
    assert_eq(q[["k", "d"]], pdf.assign(d=pdf.b * 2)[["k", "d"]], check_index=False)
