"""Many small parquet files (issue 11): files combined into partitions, read
with the footers of planning, filtered once per partition; ``filesystem=``."""

import uuid

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

import shoal.dataframe as sd
from shoal.testing import assert_eq

SIZES = [0, 1, 7, 0, 30, 2, 55, 1, 13, 40, 0, 3]  # rows per file: empty, single, uneven


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.integers(0, 100, n),
            "y": rng.normal(size=n),
            "s": rng.choice(["a", "b", "c"], n),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
        }
    )


def _write_files(root, sizes=SIZES, layouts=(None,)):
    """Files ``part.{i}.parquet`` of ``sizes`` rows, with row groups of the
    ``layouts`` sizes in turn and plain (not dictionary) strings in every
    third file; returns the concatenated frame."""
    pdf = _frame(sum(sizes))
    fs = fsspec.filesystem("file")
    fs.makedirs(str(root), exist_ok=True)
    start = 0
    for i, n in enumerate(sizes):
        table = pa.Table.from_pandas(pdf.iloc[start : start + n], preserve_index=False)
        pq.write_table(
            table,
            f"{root}/part.{i}.parquet",
            row_group_size=layouts[i % len(layouts)],
            use_dictionary=i % 3 != 2,
        )
        start += n
    return pdf


@pytest.mark.parametrize("blocksize", [1, 600, 5000, "128MiB"])
@pytest.mark.parametrize("layouts", [(None,), (1, 4, None, 9)])
def test_many_small_files_match_pandas(tmp_path, blocksize, layouts):
    pdf = _write_files(tmp_path, layouts=layouts)
    df = sd.read_parquet(str(tmp_path), blocksize=blocksize)
    assert_eq(df, pdf, check_index=False)
    assert len(df) == len(pdf)
    groups = [
        pq.read_metadata(f).row_group(g)
        for f in sorted(tmp_path.iterdir())
        for g in range(pq.read_metadata(f).num_row_groups)
    ]
    # one partition per non-empty row group at most; small files combined
    assert df.npartitions <= sum(1 for g in groups if g.num_rows)
    if blocksize == "128MiB":
        assert df.npartitions == 1
    q = df[(df.x >= 20) & (df.x < 70) & (df.y > -0.5)]
    expected = pdf[(pdf.x >= 20) & (pdf.x < 70) & (pdf.y > -0.5)]
    assert_eq(q, expected, check_index=False)
    assert q.y.sum().compute() == pytest.approx(expected.y.sum())
    assert_eq(q.s, expected.s, check_index=False)
    assert_eq(df.s.value_counts(), pdf.s.value_counts(), check_index=False, ordered=False)


@pytest.mark.parametrize("batch_rows", [1, 10, 100_000])
def test_filtered_rows_keep_their_positions_across_files(tmp_path, monkeypatch, batch_rows):
    from shoal.dataframe import parquet_part

    monkeypatch.setattr(parquet_part, "_FILTER_BATCH_ROWS", batch_rows)
    pdf = _write_files(tmp_path, layouts=(2, None))
    df = sd.read_parquet(str(tmp_path), blocksize="1GiB")  # one partition of every file
    assert df.npartitions == 1
    got = df[df.x > 60].compute()
    whole = df.compute()
    pd.testing.assert_frame_equal(got, whole[whole.x > 60])
    assert_eq(got.reset_index(drop=True), pdf[pdf.x > 60].reset_index(drop=True))


def test_filters_prune_row_groups_by_statistics(tmp_path):
    sizes = [20] * 6
    pdf = _frame(sum(sizes)).sort_values("x", ignore_index=True)
    _ = [
        pq.write_table(
            pa.Table.from_pandas(pdf.iloc[i * 20 : (i + 1) * 20], preserve_index=False),
            f"{tmp_path}/part.{i}.parquet",
            row_group_size=5,
        )
        for i in range(6)
    ]
    df = sd.read_parquet(str(tmp_path), filters=[("x", ">=", 90)], blocksize=1)
    assert df.npartitions < 6 * 4  # row groups whose max is below 90 are skipped
    assert_eq(df, pdf[pdf.x >= 90], check_index=False)
    many = sd.read_parquet(str(tmp_path), filters=[[("x", "<", 5)], [("x", ">", 95)]])
    assert_eq(many, pdf[(pdf.x < 5) | (pdf.x > 95)], check_index=False)


def test_all_files_empty(tmp_path):
    _write_files(tmp_path, sizes=[0, 0, 0])
    df = sd.read_parquet(str(tmp_path))
    assert len(df) == 0
    assert list(df.compute().columns) == ["x", "y", "s", "t"]
    assert df[df.x > 1].compute().empty


def test_non_parquet_files_in_the_directory_are_skipped(tmp_path):
    pdf = _write_files(tmp_path, sizes=[5, 6, 7])
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / "_metadata").write_bytes(b"not a footer")
    (tmp_path / ".part.0.parquet.crc").write_bytes(b"\x00crc")
    (tmp_path / "part.1.parquet.crc").write_bytes(b"\x00crc")
    (tmp_path / "_temporary").mkdir()
    (tmp_path / "_temporary" / "part.9.parquet").write_bytes(b"half written")
    assert_eq(sd.read_parquet(str(tmp_path)), pdf, check_index=False)


def test_hive_partitions_of_many_small_files(tmp_path):
    pdf = _frame(90)
    pdf["k"] = np.arange(90) % 3
    for k in range(3):
        part = pdf[pdf.k == k].drop(columns="k")
        for j in range(5):
            chunk = part.iloc[j * 6 : (j + 1) * 6]
            (tmp_path / f"k={k}").mkdir(exist_ok=True)
            chunk.to_parquet(tmp_path / f"k={k}" / f"part.{j}.parquet", index=False)
    df = sd.read_parquet(str(tmp_path))
    expected = pdf.sort_values(["k"], kind="stable")
    assert_eq(
        df.compute().sort_values(["k", "x", "y"]),
        expected.sort_values(["k", "x", "y"]),
        check_index=False,
    )
    got = sd.read_parquet(str(tmp_path), filters=[("k", "==", 1), ("x", "<", 50)])
    want = pdf[(pdf.k == 1) & (pdf.x < 50)]
    assert_eq(
        got.compute().sort_values(["x", "y"]), want.sort_values(["x", "y"]), check_index=False
    )


@pytest.mark.parametrize(
    "filesystem",
    ["fsspec", "arrow", fsspec.filesystem("file"), pafs.LocalFileSystem()],
    ids=["fsspec", "arrow", "fsspec-object", "pyarrow-object"],
)
def test_filesystem_argument(tmp_path, filesystem):
    pdf = _write_files(tmp_path, layouts=(3, None))
    df = sd.read_parquet(str(tmp_path), filesystem=filesystem)
    assert_eq(df, pdf, check_index=False)
    q = df[df.x < 30]
    assert q.y.sum().compute() == pytest.approx(pdf[pdf.x < 30].y.sum())


def test_memory_filesystem_and_storage_options():
    url = f"memory://small-{uuid.uuid4().hex}"
    pdf = _frame(60)
    for i in range(12):
        pdf.iloc[i * 5 : (i + 1) * 5].to_parquet(f"{url}/part.{i}.parquet", index=False)
    try:
        df = sd.read_parquet(url, storage_options={})
        assert_eq(df, pdf, check_index=False)
        fs = fsspec.filesystem("memory")
        got = sd.read_parquet(url.removeprefix("memory://"), filesystem=fs)
        assert_eq(got[got.x > 50], pdf[pdf.x > 50], check_index=False)
    finally:
        fsspec.filesystem("memory").rm(url, recursive=True)


def test_filesystem_errors(tmp_path):
    _write_files(tmp_path, sizes=[3])
    with pytest.raises(ValueError, match="not both"):
        sd.read_parquet(
            str(tmp_path),
            filesystem=fsspec.filesystem("file"),
            storage_options={"auto_mkdir": True},
        )
    with pytest.raises(TypeError, match="filesystem= must be"):
        sd.read_parquet(str(tmp_path), filesystem=42)


def test_dataset_pickles_after_planning(tmp_path):
    import pickle

    pdf = _write_files(tmp_path, layouts=(3,))
    df = sd.read_parquet(str(tmp_path), filters=[("x", ">", 40)], blocksize=200)
    assert df.npartitions > 1  # planned: the row groups were decoded
    ds = pickle.loads(pickle.dumps(df.expr.dataset))
    assert [g.num_rows for g in ds.row_groups(1)] == [1]
    assert_eq(df, pdf[pdf.x > 40], check_index=False)


def test_small_files_on_a_cluster_of_processes(tmp_path):
    # the footers travel with the reading tasks to the worker processes
    from shoal.distributed import Client, LocalCluster

    pdf = _write_files(tmp_path, layouts=(2, None))
    df = sd.read_parquet(str(tmp_path), filters=[("x", ">", 30)], blocksize=300)
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        got = client.compute(df[df.y < 0.5]).result()
    expected = pdf[(pdf.x > 30) & (pdf.y < 0.5)]
    assert_eq(got.reset_index(drop=True), expected.reset_index(drop=True))
