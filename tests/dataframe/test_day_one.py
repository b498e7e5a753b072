"""The everyday API people type first (issue 15), each against pandas on the
partitionings of conftest.py: one partition, known and unknown divisions,
empty partitions."""

import numpy as np
import pandas as pd
import pytest

import shoal.array as sa
import shoal.dataframe as sd
from shoal.testing import assert_eq


def _timed(n=40):
    rng = np.random.default_rng(1)
    pdf = pd.DataFrame(
        {
            "a": rng.integers(0, 5, n),
            "x": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "s": pd.Series(rng.choice(["apple", "kiwi", "fig", None], n), dtype="str"),
        }
    )
    return pdf.set_axis(pd.date_range("2000-01-01", periods=n, freq="17h"), axis=0)


def test_series_apply_and_dtype_meta(variants):
    pdf = _timed()
    for _, df in variants(pdf):
        assert_eq(df.a.apply(lambda v: v * 2 + 1), pdf.a.apply(lambda v: v * 2 + 1))
        assert_eq(df.x.apply(abs, meta="float64"), pdf.x.apply(abs))
        assert_eq(df.x.apply(lambda v, k: v + k, args=(3,), meta=("x", "f8")), pdf.x + 3)
        assert_eq(df.x.map_partitions(np.abs, meta="float64"), np.abs(pdf.x))
        assert_eq(df.a.map_partitions(lambda s: s * 1.5, meta=("a", "f8")), pdf.a * 1.5)
        both = df[["a", "x"]].map_partitions(lambda d: d * 2, meta={"a": "i8", "x": "f8"})
        assert_eq(both, pdf[["a", "x"]] * 2)
        assert_eq(df.map_partitions(lambda d: d.a + d.x, meta="float64"), pdf.a + pdf.x)
        assert_eq(df.a.map(lambda v: v / 2, meta="float64"), pdf.a.map(lambda v: v / 2))


def test_map_partitions_columns_checked_against_meta(variants):
    pdf = _timed()
    for label, df in variants(pdf):
        wrong = df.map_partitions(lambda d: d[["a", "x"]], meta={"a": "i8", "s": "str"})
        if len(pdf) and label != "empty-parts":
            with pytest.raises(ValueError, match=r"partition 0: .*missing \['s'\].*\['x'\]"):
                wrong.compute()
        swapped = df.map_partitions(lambda d: d[["x", "a"]], meta={"a": "i8", "x": "f8"})
        assert_eq(swapped, pdf[["a", "x"]])
    with pytest.raises(ValueError, match="partition 1"):
        df = sd.from_pandas(pdf, npartitions=2)
        df.map_partitions(
            lambda d: d if d.index[0] == pdf.index[0] else d[["a"]], meta=pdf.iloc[:0]
        ).compute()


def test_reset_index_shape_isnull(variants):
    pdf = _timed()
    for _, df in variants(pdf):
        assert_eq(df.reset_index(), pdf.reset_index(), check_index=False)
        assert_eq(df.x.reset_index(drop=True), pdf.x.reset_index(drop=True), check_index=False)
        rows, cols = df.shape
        assert cols == 3 and rows.compute() == len(pdf)
        assert df.x.shape[0].compute() == len(pdf) and len(df.x.shape) == 1
        assert_eq(df.isnull(), pdf.isnull())
        assert_eq(df.x.notnull(), pdf.x.notnull())


def test_str_slicing(variants):
    pdf = _timed()
    for _, df in variants(pdf):
        assert_eq(df.s.str[1:3], pdf.s.str[1:3])
        assert_eq(df.s.str[0], pdf.s.str[0])
        assert_eq(df.s.str[::-1], pdf.s.str[::-1])
        assert_eq(df.s.str.slice(1, None, 2), pdf.s.str.slice(1, None, 2))


@pytest.mark.parametrize("key", ["2000-01-05", "2000-01", "2000-01-10 05", "2000"])
def test_loc_partial_date_strings(variants, key):
    pdf = _timed()
    for _, df in variants(pdf):
        want = pdf.loc[key] if isinstance(pdf.loc[key], pd.DataFrame) else pdf.loc[key:key]
        assert_eq(df.loc[key], want)
        assert_eq(df.x.loc[key], want.x)
        if df.known_divisions:
            assert_eq(df.loc["2000-01-03":"2000-01-05"], pdf.loc["2000-01-03":"2000-01-05"])
            assert_eq(df.loc["2000-01-20":], pdf.loc["2000-01-20":])
    tz = pdf.tz_localize("UTC")
    assert_eq(sd.from_pandas(tz, npartitions=3).loc["2000-01-05"], tz.loc["2000-01-05"])


def test_add_prefix_suffix_and_columns(variants):
    pdf = _timed()
    for _, df in variants(pdf):
        assert_eq(df.add_prefix("p_"), pdf.add_prefix("p_"))
        assert_eq(df.add_suffix("_q"), pdf.add_suffix("_q"))
        assert_eq(df.add_prefix("p_").p_x.sum(), pdf.x.sum())
        assert_eq(df.x.add_prefix("r"), pdf.x.add_prefix("r"))
        assert isinstance(df.columns, pd.Index)
        assert df.columns.equals(pdf.columns)
        renamed = df[list(df.columns)]  # a new collection: setting its columns leaves df
        renamed.columns = ["A", "X", "S"]
        want = pdf.copy()
        want.columns = ["A", "X", "S"]
        assert_eq(renamed, want)
        assert list(df) == list(pdf)  # iterating a frame gives its column labels


@pytest.mark.parametrize("join", ["outer", "inner", "left", "right"])
def test_align(join):
    left = pd.DataFrame({"a": range(10), "b": np.arange(10.0)}, index=range(0, 20, 2))
    right = pd.DataFrame({"b": np.arange(8.0), "c": list("abcdefgh")}, index=range(0, 24, 3))
    want_l, want_r = left.align(right, join=join)
    for n in (1, 3):
        got_l, got_r = sd.from_pandas(left, npartitions=n).align(
            sd.from_pandas(right, npartitions=2), join=join
        )
        assert_eq(got_l, want_l, check_dtype=False)
        assert_eq(got_r, want_r, check_dtype=False)
    df = sd.from_pandas(left, npartitions=3, sort=False)
    got_l, got_r = df.align(df[["b"]], join=join)
    assert_eq(got_l, left.align(left[["b"]], join=join)[0], check_dtype=False)
    assert_eq(got_r, left.align(left[["b"]], join=join)[1], check_dtype=False)
    with pytest.raises(ValueError, match="join must be"):
        df.align(df, join="cross")


def test_is_monotonic(variants):
    for values in ([1, 2, 2, 5, 9], [9, 5, 2, 2, 1], [1, 3, 2, 4, 5], [1.0, np.nan, 3.0, 4.0]):
        ps = pd.Series(values, name="v")
        for _, s in variants(ps):
            assert s.is_monotonic_increasing.compute() == ps.is_monotonic_increasing
            assert s.is_monotonic_decreasing.compute() == ps.is_monotonic_decreasing
            idx = s.index
            assert idx.is_monotonic_increasing.compute() == ps.index.is_monotonic_increasing
    empty = sd.from_pandas(pd.Series([], dtype="int64"), npartitions=1)
    assert empty.is_monotonic_increasing.compute()


def test_clear_divisions(variants):
    pdf = _timed()
    for _, df in variants(pdf):
        cleared = df.clear_divisions()
        assert not cleared.known_divisions and cleared.npartitions == df.npartitions
        assert_eq(cleared, pdf)


def test_writers_name_function_and_engine(tmp_path):
    pdf = _timed()
    df = sd.from_pandas(pdf, npartitions=3)
    files = df.to_csv(str(tmp_path / "csv" / "*.csv"), name_function=lambda i: f"day-{i:02d}")
    assert [f.rsplit("/", 1)[1] for f in files] == ["day-00.csv", "day-01.csv", "day-02.csv"]
    back = sd.read_csv(str(tmp_path / "csv" / "*.csv"))
    assert_eq(back, pdf.reset_index(drop=True), check_index=False)
    with pytest.raises(ValueError, match="distinct string"):
        df.to_csv(str(tmp_path / "bad" / "*.csv"), name_function=lambda i: "same")
    files = df.to_json(str(tmp_path / "js" / "*.json"), name_function=lambda i: f"p{i}")
    assert files[0].endswith("/p0.json")
    df.to_parquet(str(tmp_path / "pq"), engine="pyarrow")
    back = sd.read_parquet(str(tmp_path / "pq"), engine="pyarrow")
    assert_eq(back, pdf.reset_index(drop=True), check_index=False)
    for call in (
        lambda: sd.read_parquet(str(tmp_path / "pq"), engine="fastparquet"),
        lambda: df.to_parquet(str(tmp_path / "pq2"), engine="fastparquet"),
    ):
        with pytest.raises(ValueError, match="engine='fastparquet' is not supported"):
            call()


@pytest.mark.parametrize("reader", ["csv", "json"])
def test_include_path_column(tmp_path, reader):
    parts = [pd.DataFrame({"a": [1, 2, 3]}), pd.DataFrame({"a": [4, 5]})]
    paths = []
    for i, part in enumerate(parts):
        path = str(tmp_path / f"f{i}.{reader}")
        if reader == "csv":
            part.to_csv(path, index=False)
        else:
            part.to_json(path, orient="records", lines=True)
        paths.append(path)
    read = getattr(sd, f"read_{reader}")
    for blocksize in (None, 8):
        df = read(str(tmp_path / f"*.{reader}"), include_path_column=True, blocksize=blocksize)
        dtype = pd.CategoricalDtype(paths)
        want = pd.concat(
            [p.assign(path=pd.Categorical([f] * len(p), dtype=dtype)) for p, f in zip(parts, paths)]
        )
        assert_eq(df, want, check_index=False)
        assert_eq(df.a.sum(), want.a.sum())  # the path column projected away
        named = read(str(tmp_path / f"*.{reader}"), include_path_column="src")
        assert named.src.compute().tolist() == [paths[0]] * 3 + [paths[1]] * 2
    with pytest.raises(ValueError, match="already have a column 'a'"):
        read(str(tmp_path / f"*.{reader}"), include_path_column="a")


def test_dask_spellings_of_array_conversions():
    x = sa.arange(12, chunks=4).reshape((6, 2))
    df = sd.from_dask_array(x, columns=["p", "q"])
    want = pd.DataFrame(np.arange(12).reshape((6, 2)), columns=["p", "q"])
    assert_eq(df, want)
    np.testing.assert_array_equal(df.to_dask_array(lengths=True).compute(), want.to_numpy())
    assert df.to_dask_array(lengths=True).chunks == ((2, 2, 2), (2,))
    with pytest.raises(TypeError, match="index= and meta="):
        sd.from_dask_array(x, index=[1])


def test_meeting_numpy_and_pandas(variants):
    pdf = _timed()
    for _, df in variants(pdf):
        np.testing.assert_array_equal(np.asarray(df.x), pdf.x.to_numpy())
        np.testing.assert_array_equal(np.asarray(df[["a", "x"]]), pdf[["a", "x"]].to_numpy())
        assert pd.Series(df.a).tolist() == pdf.a.tolist()
        assert list(df.a) == list(pdf.a)
        assert list(df.index) == list(pdf.index)
        assert_eq(np.log1p(df.x), np.log1p(pdf.x))
        assert_eq(np.add(df.x, df.a), pdf.x + pdf.a)
        assert_eq(np.maximum(2, df.a), np.maximum(2, pdf.a))
        assert_eq(np.sqrt(df[["a", "x"]]), np.sqrt(pdf[["a", "x"]]))
    with pytest.raises(TypeError, match="reduce on a lazy shoal Series"):
        np.add.reduce(df.x)
    with pytest.raises(TypeError, match="Scalar is not iterable"):
        list(df.x.sum())


def test_to_records_keeps_the_index(variants):
    pdf = _timed()[["a", "x"]]
    for _, df in variants(pdf):
        for index in (True, False):
            got, want = df.to_records(index=index).compute(), pdf.to_records(index=index)
            assert got.dtype == want.dtype
            for field in want.dtype.names:
                np.testing.assert_array_equal(got[field], want[field])
