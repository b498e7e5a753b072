"""Right answers from every reader: schemas made explicit, malformed rows
refused, and computed dtypes equal to meta for every reader and the common
operations after it (``assert_eq`` runs the meta checker on each partition)."""

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq


def _data(n=30):
    rng = np.random.default_rng(4)
    return pd.DataFrame(
        {
            "i": rng.integers(0, 9, n),
            "f": rng.normal(size=n),
            "s": pd.Series(rng.choice(["p", "q", "r"], n), dtype="str"),
            "c": pd.Categorical(rng.choice(["lo", "mid", "hi"], n)),
        }
    )


def test_json_key_after_the_first_block_is_an_error(tmp_path):
    path = tmp_path / "late.json"
    lines = ['{"a": 1}'] * 20 + ['{"a": 2, "late": "x"}']
    path.write_text("\n".join(lines) + "\n")
    df = sd.read_json(str(path), blocksize=64)
    assert df.npartitions > 1 and list(df.columns) == ["a"]
    with pytest.raises(ValueError, match=r"late\.json' bytes .*\['late'\]"):
        df.compute()
    with pytest.raises(ValueError, match=r"\['late'\]"):
        df.a.sum().compute()  # projections do not hide it
    declared = sd.read_json(str(path), blocksize=64, meta={"a": "int64", "late": "str"})
    want = pd.DataFrame({"a": [1] * 20 + [2], "late": pd.Series([None] * 20 + ["x"], dtype="str")})
    assert_eq(declared, want, check_index=False)
    with pytest.raises(TypeError, match="meta= must describe a DataFrame"):
        sd.read_json(str(path), meta=("a", "int64"))


@pytest.mark.parametrize("blocksize", [None, 16])
def test_csv_extra_field_is_refused_with_usecols(tmp_path, blocksize):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n11,12,13\n")
    kw = {"blocksize": blocksize, "sample": 20}  # the bad row lies past the dtype sample
    with pytest.raises(ValueError, match="more fields than the header's 3 columns"):
        sd.read_csv(str(path), **kw).compute()
    for usecols in (["a"], ["a", "c"]):
        with pytest.raises(ValueError, match="more fields than the header's 3 columns"):
            sd.read_csv(str(path), usecols=usecols, **kw).compute()
    with pytest.raises(ValueError, match="more fields"):
        sd.read_csv(str(path), **kw).a.sum().compute()  # usecols added by the optimizer
    skipped = sd.read_csv(str(path), usecols=["a"], on_bad_lines="skip", **kw)
    want = pd.read_csv(path, usecols=["a"], on_bad_lines="skip").a  # pandas keeps the row then
    assert sorted(skipped.a.compute()) == sorted(want)
    good = tmp_path / "good.csv"
    good.write_text("a,b,c\n1,2,3\n4,5\n7,8,9\n")  # a short row: missing values, as pandas
    want = pd.read_csv(good)
    assert_eq(
        sd.read_csv(str(good), usecols=["a", "c"], blocksize=blocksize),
        want[["a", "c"]],
        check_index=False,
    )


def _written(tmp_path, kind, pdf):
    if kind == "parquet":
        sd.from_pandas(pdf, npartitions=3).to_parquet(str(tmp_path / "pq"))
        return sd.read_parquet(str(tmp_path / "pq"))
    if kind == "parquet-file":
        pdf.to_parquet(tmp_path / "one.parquet")
        return sd.read_parquet(str(tmp_path / "one.parquet"))
    if kind == "csv":
        sd.from_pandas(pdf, npartitions=3).to_csv(str(tmp_path / "csv" / "*.csv"))
        return sd.read_csv(str(tmp_path / "csv" / "*.csv"), dtype={"c": "category"}, blocksize=200)
    if kind == "json":
        sd.from_pandas(pdf, npartitions=3).to_json(str(tmp_path / "js" / "*.json"))
        return sd.read_json(str(tmp_path / "js" / "*.json"), blocksize=300).astype(
            {"c": "category"}
        )
    return sd.from_pandas(pdf, npartitions=3)


@pytest.mark.parametrize("kind", ["parquet", "parquet-file", "csv", "json", "pandas"])
def test_computed_dtypes_match_meta(tmp_path, kind):
    pdf = _data()
    df = _written(tmp_path, kind, pdf)
    assert isinstance(df.c.dtype, pd.CategoricalDtype)
    want = pdf.astype({"c": "str"})
    as_str = df.astype({"c": "str"})
    assert_eq(as_str, want, check_index=False)  # every partition checked against meta
    ops = [
        lambda d: d[d.i > 3],
        lambda d: d.assign(g=d.f * 2)[["c", "g"]],
        lambda d: d.c.cat.as_known(),
        lambda d: d.c.astype("str").str.upper(),
        lambda d: d.groupby("c", observed=True).f.sum(),
        lambda d: d.groupby("s").i.max(),
        lambda d: d.c.value_counts(),
        lambda d: d.repartition(npartitions=1),
        lambda d: d.map_partitions(
            lambda p: p.assign(n=p.i * 2), meta={**dict(d.dtypes), "n": "int64"}
        ),
        lambda d: d.reset_index(drop=True),
    ]
    for op in ops:
        got = op(df)
        expected = op(sd.from_pandas(pdf, npartitions=1)).compute()
        assert_eq(got, expected, check_index=False, check_dtype=False, check_categorical=False)
