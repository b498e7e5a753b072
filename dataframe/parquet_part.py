"""Reading one parquet partition: row groups of one or more files into pandas.

String columns stored with a small dictionary (few distinct values, the
common case for flags, codes and names) are read as arrow dictionaries:
parquet keeps them dictionary-encoded on disk, so decoding only the indices
is several times cheaper than building every string. Filtering happens on the
compact form (``parquet_mask.py``: a comparison is made on the dictionary's
few values and taken by the indices); afterwards the columns are decoded
back to plain strings, or kept as pandas categoricals for the columns the
optimizer asked for (``categorical``: groupby keys that nothing else looks
at, see ``encoded_keys.py``). A column whose dictionary page is large (many
distinct values, or a writer that fell back to plain pages) is read as plain
strings: re-encoding it would cost more than it saves.

The filter's mask is applied while converting to pandas (``arrow_pandas.py``),
except where it drops most rows: those are dropped at once by arrow, so a
partition of many small files never holds many unfiltered rows. A partition
that ends up empty (or with a categorical of nulls only) has the dtypes of
the others: arrow would give its categoricals object categories.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.arrow import ArrowFSWrapper
from fsspec.implementations.local import LocalFileSystem

from shoal.dataframe.arrow_pandas import masked_to_pandas
from shoal.dataframe.parquet_mask import filter_mask

__all__ = ["read_parquet_part", "table_to_pandas", "dictionary_columns", "open_parquet"]

# a dictionary page this small (compressed) holds few distinct values and
# cannot be a writer's fallback from a dictionary that outgrew its limit (~1 MiB)
_SMALL_DICTIONARY = 32 * 1024
# files read for one partition are filtered together until they hold this many rows
_FILTER_BATCH_ROWS = 100_000


def _is_text(typ: pa.DataType) -> bool:
    return pa.types.is_string(typ) or pa.types.is_large_string(typ)


def dictionary_columns(metadata, row_groups: list, columns: list) -> list:
    """The string ``columns`` whose chunks in ``row_groups`` all have a small
    dictionary page, so reading them as dictionaries is cheap.

    >>> import io
    >>> buf = io.BytesIO()
    >>> pq.write_table(pa.table({"s": ["a", "b"] * 50, "x": range(100)}), buf)
    >>> dictionary_columns(pq.ParquetFile(buf).metadata, [0], ["s", "x"])
    ['s']
    """
    schema = metadata.schema.to_arrow_schema()
    text = [c for c in columns if c in schema.names and _is_text(schema.field(c).type)]
    if not text:
        return []
    out = []
    for name in text:
        ok = True
        for rg in row_groups:
            group = metadata.row_group(rg)
            chunk = next(
                group.column(j)
                for j in range(group.num_columns)
                if group.column(j).path_in_schema == name
            )
            start = chunk.dictionary_page_offset
            if not chunk.has_dictionary_page or start is None:
                ok = False
                break
            if chunk.data_page_offset - start > _SMALL_DICTIONARY:
                ok = False
                break
        if ok:
            out.append(name)
    return out


def table_to_pandas(table: pa.Table, index: list, dtypes: dict | None = None) -> pd.DataFrame:
    """A pandas frame of ``table`` with ``index`` columns as its index (names
    pandas gives to unnamed levels are dropped) and the pandas ``dtypes``
    the writer recorded where they differ from arrow's default (e.g.
    nullable ``Int64``, which would otherwise turn float64 with nulls).

    >>> table_to_pandas(pa.table({"i": [3], "a": [None]}), ["i"], {"a": "Int64"})
          a
    i
    3  <NA>
    """
    return _pandas_layout(table.to_pandas(split_blocks=True), index, dtypes)


def _pandas_layout(df: pd.DataFrame, index: list, dtypes: dict | None) -> pd.DataFrame:
    """``df`` with the recorded ``dtypes`` and ``index`` columns as index."""
    if dtypes:
        df = df.astype({c: d for c, d in dtypes.items() if c in df.columns})
    if index:
        df = df.set_index(index)
        names = [None if str(n).startswith("__index_level_") else n for n in df.index.names]
        df.index.names = names
    return df


def _typed_categories(df: pd.DataFrame, schema: pa.Schema) -> pd.DataFrame:
    """``df`` with its categoricals of no categories (no rows, or nulls
    only) given empty categories of their values' dtype, as the other
    partitions' categories have (arrow makes them object, and partitions
    would then not concatenate).

    >>> df = pd.DataFrame({"c": pd.Categorical([])})
    >>> _typed_categories(df, pa.schema([("c", pa.string())])).c.cat.categories.dtype
    <StringDtype(na_value=nan)>
    """
    for name, dtype in df.dtypes.items():
        if not isinstance(dtype, pd.CategoricalDtype) or len(dtype.categories):
            continue
        typ = schema.field(name).type
        values = typ.value_type if pa.types.is_dictionary(typ) else typ
        categories = pd.Index(pa.array([], values).to_pandas())
        if categories.dtype != dtype.categories.dtype:
            typed = pd.CategoricalDtype(categories, ordered=dtype.ordered)
            df[name] = pd.Categorical.from_codes(df[name].cat.codes, dtype=typed)
    return df


def _positions(mask: np.ndarray, starts: list, sizes: list) -> np.ndarray:
    """Each kept row's position in the partition (row groups begin at
    ``starts``; pruned row groups leave gaps)."""
    kept = np.flatnonzero(mask)
    ends = np.cumsum(sizes)
    shift = np.asarray(starts, dtype=np.int64) - (ends - np.asarray(sizes))
    if (shift == shift[0]).all():  # no row group pruned in between
        kept += shift[0]
        return kept
    return kept + shift[np.searchsorted(ends, kept, side="right")]


def open_parquet(fs, path: str):
    """A context giving ``path`` to pyarrow: the path itself for local files
    and a pyarrow file for pyarrow filesystems (pyarrow then reads without
    holding the GIL, so parallel tasks reading many small files do not queue
    on it), else an fsspec file object.

    >>> import fsspec
    >>> with open_parquet(fsspec.filesystem("file"), "/tmp/x.parquet") as source:
    ...     source
    '/tmp/x.parquet'
    """
    if type(fs) is LocalFileSystem:
        return contextlib.nullcontext(path)
    if type(fs) is ArrowFSWrapper:
        return fs.fs.open_input_file(path)
    return fs.open(path, "rb")


def _read_file(fs, path, row_groups, file_cols, dictionary, footer=None):
    try:
        with open_parquet(fs, path) as f:
            pf = pq.ParquetFile(f, metadata=footer, read_dictionary=dictionary or None)
            table = pf.read_row_groups(row_groups, columns=file_cols, use_threads=False)
            sizes = [pf.metadata.row_group(rg).num_rows for rg in row_groups]
    except Exception as e:
        raise OSError(
            f"read_parquet: cannot read row groups {row_groups} of {path!r}: "
            f"{type(e).__name__}: {e}"
        ) from e
    return table, sizes


def read_parquet_part(
    fs,
    pieces: list,
    columns: list,
    index: list,
    filters,
    hive: dict,
    schema: pa.Schema,
    categorical: tuple = (),
    dtypes: dict | None = None,
) -> pd.DataFrame:
    """Read row groups of files into one pandas partition.

    ``pieces`` are ``(path, row_groups, hive_values, starts, dictionary,
    footer)``, ``starts`` being each row group's first row within the
    partition, ``dictionary`` the string columns to read as dictionaries and
    ``footer`` the file's parquet metadata read when planning (or None to
    read it again). ``filters`` are
    applied to rows after reading (statistics only chose the row groups);
    without an index column the kept rows keep their positions as index, as
    if the whole partition had been read and then filtered. ``categorical``
    columns come back as pandas categoricals.

    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> table = pa.table({"a": [1, 2, 3], "s": list("xyx")})
    >>> with fs.open("/doc-part/f.parquet", "wb") as f:
    ...     pq.write_table(table, f)
    >>> schema = table.schema
    >>> part = read_parquet_part(fs, [("/doc-part/f.parquet", [0], {}, [0], ["s"], None)], ["a", "s"], [],
    ...                          [[("a", ">", 1)]], {}, schema)
    >>> part
       a  s
    1  2  y
    2  3  x
    """
    filter_cols = sorted({t[0] for conj in filters for t in conj}) if filters else []
    wanted = list(dict.fromkeys(columns + index + filter_cols))
    table_columns = list(dict.fromkeys(columns + index))
    positions = bool(filters) and not index  # kept rows keep their positions
    tables: list = []  # read tables of table_columns ...
    masks: list = []  # ... each with the mask of its kept rows (None: all)
    rows: list = []
    batch: list = []  # (table, starts, sizes) read but not yet filtered

    def flush() -> None:
        table = pa.concat_tables([t for t, _, _ in batch]) if len(batch) > 1 else batch[0][0]
        mask = None
        if filters:
            mask = filter_mask(table, filters)
            if positions:
                starts = [s for _, ss, _ in batch for s in ss]
                sizes = [n for _, _, ns in batch for n in ns]
                rows.append(_positions(mask, starts, sizes))
            kept = int(np.count_nonzero(mask))
            if kept == len(mask):
                mask = None
            elif 2 * kept < len(mask):  # most rows go: drop them now, so few are held
                table = table.select(table_columns).filter(mask)
                mask = None
        tables.append(table.select(table_columns))
        masks.append(mask)
        batch.clear()

    for path, row_groups, hive_values, starts, dictionary, footer in pieces:
        file_cols = [c for c in wanted if c not in hive]
        dictionary = [c for c in dictionary if c in file_cols]
        table, sizes = _read_file(fs, path, row_groups, file_cols, dictionary, footer)
        for key, typ in hive.items():
            if key in wanted:
                value = pa.repeat(pa.scalar(hive_values.get(key), typ), table.num_rows)
                table = table.append_column(pa.field(key, typ), value)
        batch.append((table.select(wanted).replace_schema_metadata(None), starts, sizes))
        # small files are filtered together, in batches that bound the unfiltered rows held
        if sum(t.num_rows for t, _, _ in batch) >= _FILTER_BATCH_ROWS:
            flush()
    if batch:
        flush()
    if not tables:
        tables, masks = [schema.empty_table().select(table_columns)], [None]
    out = masked_to_pandas(tables, masks, tables[0].schema, categorical)
    out = _pandas_layout(_typed_categories(out, schema), index, dtypes)
    if positions:
        kept = rows[0] if len(rows) == 1 else np.concatenate(rows) if rows else []
        out.index = pd.Index(kept, dtype="int64", copy=False)
    return out
