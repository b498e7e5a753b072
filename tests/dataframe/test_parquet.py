import uuid

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq


@pytest.fixture
def url():
    path = f"memory://shoal-test-{uuid.uuid4().hex}"
    yield path
    fs = fsspec.filesystem("memory")
    if fs.exists(path):
        fs.rm(path, recursive=True)


def test_roundtrip_every_partitioning(url, variants, frame):
    pdf = frame(50)
    for k, (_, df) in enumerate(variants(pdf)):
        files = df.to_parquet(f"{url}/{k}")
        assert len(files) == df.npartitions
        back = sd.read_parquet(f"{url}/{k}")
        assert_eq(back, pdf, check_index=False)
        pd.testing.assert_frame_equal(pd.read_parquet(f"{url}/{k}"), pdf.reset_index(drop=True))


def test_file_glob_and_list(url):
    pdf = pd.DataFrame({"a": range(30), "b": [f"x{i}" for i in range(30)]})
    for i in range(3):
        pdf.iloc[i * 10 : (i + 1) * 10].to_parquet(f"{url}/f{i}.parquet", index=False)
    assert_eq(sd.read_parquet(f"{url}/f1.parquet"), pdf.iloc[10:20].reset_index(drop=True))
    assert_eq(sd.read_parquet(f"{url}/f*.parquet"), pdf, check_index=False)
    assert_eq(
        sd.read_parquet([f"{url}/f2.parquet", f"{url}/f0.parquet"]),
        pd.concat([pdf.iloc[20:], pdf.iloc[:10]]),
        check_index=False,
    )
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sd.read_parquet(f"{url}/nope.parquet")


def test_split_by_row_groups_and_combine_small_files(url):
    pdf = pd.DataFrame({"a": np.arange(10_000), "b": np.random.default_rng(0).normal(size=10_000)})
    with fsspec.open(f"{url}/big/one.parquet", "wb") as f:
        pq.write_table(pa.Table.from_pandas(pdf, preserve_index=False), f, row_group_size=1000)
    footer = pq.read_metadata(fsspec.open(f"{url}/big/one.parquet", "rb").open())
    rg_bytes = footer.row_group(0).total_byte_size
    split = sd.read_parquet(f"{url}/big", blocksize=rg_bytes * 3)
    assert split.npartitions == 4  # 10 row groups, 3 per partition
    assert_eq(split, pdf, check_index=False)
    for i in range(6):
        pdf.iloc[i * 10 : (i + 1) * 10].to_parquet(f"{url}/small/p{i}.parquet", index=False)
    combined = sd.read_parquet(f"{url}/small", blocksize="1MiB")
    assert combined.npartitions == 1
    assert_eq(combined, pdf.iloc[:60], check_index=False)


def test_columns_filters_and_statistics_pruning(url):
    pdf = pd.DataFrame({"a": np.arange(1000), "b": np.arange(1000) % 7, "c": ["x", "y"] * 500})
    with fsspec.open(f"{url}/d/data.parquet", "wb") as f:
        pq.write_table(pa.Table.from_pandas(pdf, preserve_index=False), f, row_group_size=100)
    df = sd.read_parquet(f"{url}/d", columns=["a", "c"], blocksize=1)
    assert df.npartitions == 10 and list(df.columns) == ["a", "c"]
    f = sd.read_parquet(f"{url}/d", filters=[("a", ">=", 850)], blocksize=1)
    assert f.npartitions == 2  # row groups 0-7 pruned by statistics
    assert_eq(f, pdf[pdf.a >= 850], check_index=False)
    dnf = [[("a", "<", 50), ("c", "==", "x")], [("b", "in", [3]), ("a", ">", 990)]]
    want = pdf[((pdf.a < 50) & (pdf.c == "x")) | (pdf.b.isin([3]) & (pdf.a > 990))]
    assert_eq(sd.read_parquet(f"{url}/d", filters=dnf), want, check_index=False)
    nothing = sd.read_parquet(f"{url}/d", filters=[("a", ">", 5000)])
    assert nothing.npartitions == 1
    assert_eq(nothing, pdf.iloc[:0], check_index=False)
    with pytest.raises(KeyError, match="did you mean 'a'"):
        sd.read_parquet(f"{url}/d", filters=[("aa", ">", 1)])
    with pytest.raises(KeyError, match="not found"):
        sd.read_parquet(f"{url}/d", columns=["zz"])


def test_hive_partitioning_and_partition_pruning(url):
    pdf = pd.DataFrame(
        {"year": [2020, 2020, 2021, 2022] * 5, "city": ["a", "b"] * 10, "v": np.arange(20.0)}
    )
    df = sd.from_pandas(pdf, npartitions=3)
    df.to_parquet(url, partition_on=["year", "city"])
    fs = fsspec.filesystem("memory")
    assert fs.exists(f"{url}/year=2020/city=a")
    back = sd.read_parquet(url)
    assert set(back.columns) == {"v", "year", "city"}
    assert back.dtypes["year"] == np.int64
    got = back.compute().sort_values("v").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["year", "city", "v"]], pdf)
    only = sd.read_parquet(url, filters=[("year", "==", 2021)], blocksize=1)
    assert only.npartitions == 3  # one directory, one file per written partition
    assert_eq(only.v, pdf[pdf.year == 2021].v, check_index=False, check_names=False)
    arrow = pq.read_table(fs._strip_protocol(url), filesystem=fs)
    assert arrow.num_rows == 20


def test_index_roundtrip_and_overwrite(url):
    pdf = pd.DataFrame({"v": np.arange(10.0)}, index=pd.Index(np.arange(10) * 3, name="key"))
    df = sd.from_pandas(pdf, npartitions=3)
    df.to_parquet(url)
    back = sd.read_parquet(url)
    assert back._meta.index.name == "key"
    assert_eq(back, pdf)
    flat = sd.read_parquet(url, index=False)
    assert list(flat.columns) == ["v", "key"]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        df.to_parquet(url)
    sd.from_pandas(pdf.iloc[:4], npartitions=1).to_parquet(url, overwrite=True)
    assert len(sd.read_parquet(url)) == 4
    by_col = sd.read_parquet(url, index="v")
    assert by_col._meta.index.name == "v"


def test_to_parquet_compute_false(url):
    pdf = pd.DataFrame({"a": range(5)})
    lazy = sd.from_pandas(pdf, npartitions=2).to_parquet(url, compute=False)
    assert isinstance(lazy, sd.Scalar)
    fs = fsspec.filesystem("memory")
    assert not fs.find(url)
    assert sorted(lazy.compute()) == [
        f"{fs._strip_protocol(url)}/part.{i}.parquet" for i in range(2)
    ]
    assert_eq(sd.read_parquet(url), pdf, check_index=False)


def test_unreadable_parquet_named(url):
    fs = fsspec.filesystem("memory")
    pd.DataFrame({"a": [1]}).to_parquet(f"{url}/good.parquet")
    with fs.open(f"{url}/bad.parquet", "wb") as f:
        f.write(b"this is not parquet")
    with pytest.raises(OSError, match="bad.parquet"):
        sd.read_parquet(url)


def test_schema_from_footers_only(url):
    pdf = pd.DataFrame({"a": np.arange(100), "s": ["q"] * 100})
    pdf.to_parquet(f"{url}/x.parquet", index=False)
    df = sd.read_parquet(f"{url}/x.parquet")
    assert df.dtypes.to_dict() == pdf.dtypes.to_dict()
    assert len(df._meta) == 0


def test_calculate_divisions_from_statistics(url):
    pdf = pd.DataFrame({"v": np.arange(40.0)}, index=pd.Index(np.arange(40) * 2, name="key"))
    sd.from_pandas(pdf, npartitions=4).to_parquet(url)
    df = sd.read_parquet(url, calculate_divisions=True, blocksize=1)
    assert df.divisions == (0, 20, 40, 60, 78)
    assert_eq(df, pdf)
    assert_eq(df.loc[30:50], pdf.loc[30:50])
    assert not sd.read_parquet(url).known_divisions
    shuffled = f"{url}-shuffled"
    sd.from_pandas(pdf.iloc[::-1], npartitions=2, sort=False).to_parquet(shuffled)
    assert not sd.read_parquet(shuffled, calculate_divisions=True, blocksize=1).known_divisions


def test_len_from_footers(url):
    pdf = pd.DataFrame({"a": np.arange(25)})
    sd.from_pandas(pdf, npartitions=3).to_parquet(url)
    df = sd.read_parquet(url)
    assert len(df) == 25 == len(df[["a"]]) == len(df.a)
    assert len(df[df.a > 20]) == 4  # filtered: counted, not read from footers
    assert len(sd.read_parquet(url, filters=[("a", "<", 5)])) == 5


def test_unnamed_stored_index_is_no_column_with_index_given(url):
    pdf = pd.DataFrame({"i": [3, 1, 2], "f": [1.0, 2.0, 3.0]})
    sd.to_parquet(sd.from_pandas(pdf, npartitions=2), url, write_index=True)
    assert_eq(sd.read_parquet(url), pdf)
    by_i = sd.read_parquet(url, index="i")
    assert list(by_i.columns) == ["f"]
    assert_eq(by_i, pdf.set_index("i"))
    named = pdf.rename_axis("row")
    sd.to_parquet(sd.from_pandas(named, npartitions=2), f"{url}/named", write_index=True)
    # a named stored index becomes a column again (last, as stored) when another index is chosen
    expect = named.reset_index().set_index("i")[["f", "row"]]
    assert_eq(sd.read_parquet(f"{url}/named", index="i"), expect)


@pytest.mark.parametrize(
    "filters",
    [
        [("a", "!=", 3)],
        [("a", "in", [1, 2, 40])],
        [("a", "not in", [1, 2, 40])],
        [("s", "==", "x")],
        [("s", "in", ["x", "z"])],
        [("s", "<", "y"), ("f", ">=", 0.5)],
        [[("t", "<=", pd.Timestamp("2024-01-02").to_pydatetime())], [("a", ">", 45)]],
        [("f", "<", 0.3)],
        [("a", "=", 7)],
    ],
)
def test_filters_match_pyarrow(url, filters):
    """Rows kept by filters= are exactly those pyarrow keeps, missing values included."""
    rng = np.random.default_rng(4)
    n = 50
    pdf = pd.DataFrame(
        {
            "a": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 50, n)), "Int64"),
            "f": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
            "s": pd.Series(rng.choice(["x", "y", "z", None], n), dtype="str"),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 72, n), "h"),
        }
    )
    with fsspec.open(f"{url}/f.parquet", "wb") as f:
        pq.write_table(pa.Table.from_pandas(pdf, preserve_index=False), f, row_group_size=16)
    fs = fsspec.filesystem("memory")
    expect = pq.read_table(fs._strip_protocol(url), filesystem=fs, filters=filters).to_pandas()
    got = sd.read_parquet(url, filters=filters)
    assert_eq(got, expect, check_index=False)


def test_pushed_filters_keep_row_positions(url):
    """A filter pushed into the reader keeps each row's position in its
    partition as index, also across row groups pruned in the middle."""
    pdf = pd.DataFrame({"a": np.arange(1000), "b": np.arange(1000.0) % 13})
    with fsspec.open(f"{url}/one.parquet", "wb") as f:
        pq.write_table(pa.Table.from_pandas(pdf, preserve_index=False), f, row_group_size=100)
    df = sd.read_parquet(url, blocksize="1GiB")
    assert df.npartitions == 1
    for q, p in [
        (df[(df.a < 150) | (df.a >= 850)], pdf[(pdf.a < 150) | (pdf.a >= 850)]),
        (df[(df.a > 420) & (df.b < 3)], pdf[(pdf.a > 420) & (pdf.b < 3)]),
        (df[df.a > 5000], pdf[pdf.a > 5000]),
    ]:
        assert "filters=" in q.explain().split("Optimized plan")[1]
        assert_eq(q, p)
    with pytest.raises(TypeError, match="compares column 'a' of type int64 with str 'x'"):
        sd.read_parquet(url, filters=[("a", "in", ["x"])])
    with pytest.raises(TypeError, match="needs a list"):
        sd.read_parquet(url, filters=[("a", "in", 3)])
    # numbers of another type compare fine
    assert_eq(sd.read_parquet(url, filters=[("a", "<", 2.5)]), pdf[pdf.a < 2.5])


def test_integer_columns_with_nulls_keep_one_dtype(url):
    """Without pandas metadata, nullable integers are float64 in every
    partition (arrow gives float64 only where nulls are), so meta holds."""
    table = pa.table(
        {
            "a": pa.array([1, 2, None, 4, 5, 6], pa.int64()),
            "b": pa.array([1, 2, 3, 4, 5, 6], pa.int32()),
            "c": pa.array([True, None, False, True, True, False]),
        }
    )
    with fsspec.open(f"{url}/t.parquet", "wb") as f:
        pq.write_table(table, f, row_group_size=2)
    df = sd.read_parquet(url, blocksize=1)
    assert df.npartitions == 3
    expect = table.to_pandas()  # the whole table holds nulls: float64 and object
    assert df.dtypes["a"] == np.float64 and df.dtypes["b"] == np.int32
    assert_eq(df, expect, check_index=False)
    # pandas' own nullable dtypes come back as written
    pdf = pd.DataFrame({"n": pd.array([1, None, 3], "Int64"), "m": pd.array([True, None, False])})
    sd.to_parquet(sd.from_pandas(pdf, npartitions=2), f"{url}/p")
    assert_eq(sd.read_parquet(f"{url}/p"), pdf)
