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
    assert df.npartitions == 10 and df.columns == ["a", "c"]
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
    assert flat.columns == ["v", "key"]
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
