import gzip
import uuid

import fsspec
import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as sd
from shoal.testing import assert_eq


@pytest.fixture
def csv_frame():
    rng = np.random.default_rng(0)
    n = 2000
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n).round(4),
            "name": rng.choice(["ann", "bob", "cy"], n),
            "when": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M:%S"),
        }
    )


def test_blocksize_splits_at_line_boundaries(tmp_path, csv_frame):
    path = tmp_path / "a.csv"
    csv_frame.to_csv(path, index=False)
    for blocksize in (None, 5_000, 777, "20kB"):
        df = sd.read_csv(str(path), blocksize=blocksize)
        assert_eq(df, csv_frame, check_index=False)
    assert sd.read_csv(str(path), blocksize=5_000).npartitions > 5


def test_glob_usecols_dtype_parse_dates(tmp_path, csv_frame):
    for i in range(3):
        csv_frame.iloc[i * 500 : (i + 1) * 500].to_csv(tmp_path / f"p{i}.csv", index=False)
    df = sd.read_csv(
        str(tmp_path / "p*.csv"),
        blocksize=4000,
        usecols=["id", "when"],
        parse_dates=["when"],
        dtype={"id": "float64"},
    )
    want = csv_frame.iloc[:1500][["id", "when"]].astype({"id": "float64"})
    want["when"] = pd.to_datetime(want["when"])
    assert_eq(df, want, check_index=False)
    with pytest.raises(KeyError, match="did you mean 'name'"):
        sd.read_csv(str(tmp_path / "p*.csv"), usecols=["nam"])
    with pytest.raises(FileNotFoundError):
        sd.read_csv(str(tmp_path / "zzz*.csv"))


def test_compression(tmp_path, csv_frame):
    path = tmp_path / "c.csv.gz"
    with gzip.open(path, "wt") as f:
        csv_frame.to_csv(f, index=False)
    df = sd.read_csv(str(path), blocksize=1000)
    assert df.npartitions == 1  # compressed files are read whole
    assert_eq(df, csv_frame, check_index=False)


def test_malformed_later_block_names_file_and_column(tmp_path, csv_frame):
    bad = csv_frame.astype({"id": object})
    bad.loc[1800, "id"] = "n/a?"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    df = sd.read_csv(str(path), blocksize=10_000, sample=5_000)
    assert df.dtypes["id"] == np.int64
    with pytest.raises(sd.csv.CSVBlockError, match=r"bad.csv.*column 'id'.*dtype=\{'id'"):
        df.compute()
    floats = csv_frame.astype({"id": object})
    floats.loc[1800, "id"] = 0.5
    floats.to_csv(path, index=False)
    with pytest.raises(sd.csv.CSVBlockError, match="values would change"):
        sd.read_csv(str(path), blocksize=10_000, sample=5_000).compute()


def test_to_csv_per_partition_and_single_file(tmp_path, variants, csv_frame):
    pdf = csv_frame.iloc[:100]
    for k, (_, df) in enumerate(variants(pdf)):
        files = df.to_csv(str(tmp_path / f"out{k}-*.csv"))
        assert len(files) == df.npartitions
        assert_eq(sd.read_csv(str(tmp_path / f"out{k}-*.csv")), pdf, check_index=False)
        single = df.to_csv(str(tmp_path / f"single{k}.csv"), single_file=True)
        pd.testing.assert_frame_equal(pd.read_csv(single[0]), pdf)
    url = f"memory://csv-{uuid.uuid4().hex}"
    sd.from_pandas(pdf, npartitions=3).to_csv(url)
    assert len(fsspec.filesystem("memory").ls(url)) == 3
    assert_eq(sd.read_csv(f"{url}/*.part"), pdf, check_index=False)


def test_from_dict_delayed_map():
    pdf = pd.DataFrame({"a": range(10), "b": list("abcdefghij")})
    assert_eq(sd.from_dict({"a": list(range(10)), "b": list("abcdefghij")}, npartitions=3), pdf)
    parts = [shoal.delayed(lambda i: pdf.iloc[i * 5 : (i + 1) * 5])(i) for i in range(2)]
    assert_eq(sd.from_delayed(parts), pdf)
    assert_eq(sd.from_delayed(parts, meta=pdf.iloc[:0], divisions=(0, 5, 9)), pdf)
    wrong = sd.from_delayed(parts, meta={"a": "float64", "b": "str"})
    with pytest.raises(ValueError, match="mismatched dtypes"):
        wrong.compute()
    df = sd.from_map(lambda i: pdf.iloc[i::2], [0, 1])
    assert_eq(df, pd.concat([pdf.iloc[0::2], pdf.iloc[1::2]]))
    with pytest.raises(ValueError, match="exactly one"):
        sd.from_pandas(pdf)
    with pytest.raises(TypeError, match="pandas"):
        sd.from_pandas([1, 2], npartitions=1)


def test_from_pandas_options():
    pdf = pd.DataFrame({"a": range(10)}, index=[5, 5, 5, 1, 2, 3, 9, 9, 7, 0])
    df = sd.from_pandas(pdf, npartitions=4)
    assert df.known_divisions
    assert_eq(df, pdf.sort_index())
    kept = sd.from_pandas(pdf, chunksize=3, sort=False)
    assert kept.npartitions == 4 and not kept.known_divisions
    assert_eq(kept, pdf)
    assert_eq(sd.from_pandas(pdf.iloc[:0], npartitions=3), pdf.iloc[:0])
    s = pd.Series(range(5), name="s")
    assert_eq(sd.from_pandas(s, npartitions=5), s)


def test_json_lines_roundtrip(tmp_path, variants, csv_frame):
    pdf = csv_frame.iloc[:300]
    for k, (_, df) in enumerate(variants(pdf)):
        files = df.to_json(str(tmp_path / f"j{k}-*.json"))
        assert len(files) == df.npartitions
        back = sd.read_json(str(tmp_path / f"j{k}-*.json"), blocksize=2000)
        assert_eq(back, pdf, check_index=False)
    whole = tmp_path / "whole.json"
    pdf.to_json(whole, orient="records")
    assert_eq(sd.read_json(str(whole), lines=False, orient="records"), pdf, check_index=False)
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1}\n' * 200 + '{"a": "x"}\n')
    with pytest.raises(sd.csv.CSVBlockError, match="bad.json.*column 'a'"):
        sd.read_json(str(bad), blocksize=500).compute()


def test_to_bag(variants):
    pdf = pd.DataFrame({"a": range(7), "b": list("abcdefg")})
    for _, df in variants(pdf):
        assert df.to_bag().compute(scheduler="sync") == list(pdf.itertuples(index=False, name=None))
        assert df.to_bag(index=True, format="dict").compute(scheduler="sync") == [
            {"index": i, **r} for i, r in zip(pdf.index, pdf.to_dict(orient="records"))
        ]
        assert df.b.to_bag().compute(scheduler="sync") == list("abcdefg")
    with pytest.raises(ValueError, match="format"):
        sd.from_pandas(pdf, npartitions=1).to_bag(format="list")


def test_from_array_and_to_array(variants):
    import shoal.array as sa

    data = np.arange(60.0).reshape(20, 3)
    for chunks in ((7, 3), (20, 3), (5, 1)):
        x = sa.from_array(data, chunks=chunks)
        df = sd.from_array(x, columns=["a", "b", "c"])
        assert df.known_divisions
        assert_eq(df, pd.DataFrame(data, columns=["a", "b", "c"]))
    assert_eq(
        sd.from_array(sa.from_array(data[:, 0], chunks=6), columns="v"),
        pd.Series(data[:, 0], name="v"),
    )
    assert_eq(sd.from_array(data, chunksize=8), pd.DataFrame(data))
    pdf = pd.DataFrame({"i": np.arange(9), "f": np.arange(9) / 2})
    for _, df in variants(pdf):
        arr = df.to_array(lengths=True)
        assert arr.shape == (9, 2)
        assert arr.chunks[0] == tuple(len(p) for p in shoal.compute(*df.to_delayed()))
        np.testing.assert_array_equal(arr.compute(), pdf.to_numpy())
        np.testing.assert_array_equal(df.i.to_array().compute(), pdf.i.to_numpy())
        lazy = df.values
        assert all(np.isnan(c) for c in lazy.chunks[0]) and lazy.chunks[1] == (2,)
        np.testing.assert_array_equal(lazy.compute(), pdf.values)
        np.testing.assert_array_equal(lazy.compute_chunk_sizes().compute(), pdf.values)
        assert lazy.compute_chunk_sizes().chunks == arr.chunks
        np.testing.assert_array_equal((lazy[:, 1] * 2).sum().compute(), pdf.f.sum() * 2)
        rec = df.to_records().compute()
        np.testing.assert_array_equal(rec["f"], pdf.f.to_numpy())
        rec = df.to_records(lengths=True, index=True)
        assert rec.shape == (9,)
        np.testing.assert_array_equal(rec.compute()["index"], pdf.index.to_numpy())
        given = df.to_array(lengths=list(arr.chunks[0]))
        assert given.chunks == arr.chunks
        np.testing.assert_array_equal(given.compute(), pdf.to_numpy())
    df = sd.from_pandas(pdf, npartitions=2)
    with pytest.raises(ValueError, match="one per partition"):
        df.to_array(lengths=[9])
    assert [len(p) for p in shoal.compute(*df.to_delayed())] == [4, 5]
    with pytest.raises(ValueError, match="partition 0 has 4 rows, but lengths= said 5"):
        df.to_array(lengths=[5, 4]).compute()


def test_projection_keeps_parse_dates_to_the_columns_read(tmp_path, csv_frame):
    for i in range(3):
        csv_frame.iloc[i * 500 : (i + 1) * 500].to_csv(tmp_path / f"p{i}.csv", index=False)
    want = csv_frame.iloc[:1500].assign(when=lambda d: pd.to_datetime(d["when"]))
    for parse_dates in (["when"], [3]):
        df = sd.read_csv(str(tmp_path / "p*.csv"), blocksize=4000, parse_dates=parse_dates)
        # a projection that drops the date column, and one that keeps it
        assert_eq(df.groupby("name").x.sum(), want.groupby("name").x.sum())
        assert_eq(df[["id", "when"]], want[["id", "when"]], check_index=False)
    with pytest.raises(ValueError, match=r"parse_dates \['when'\] are not in usecols"):
        sd.read_csv(str(tmp_path / "p*.csv"), usecols=["id"], parse_dates=["when"])
