"""Parquet IO through pyarrow and fsspec (every path may be a URL, e.g. ``memory://``).

``read_parquet`` reads only footers when called: the file list (a file, a
directory, a glob or a list; hive ``key=value`` directories become columns),
the schema and each row group's size and min/max statistics. From these it
plans partitions: files larger than ``blocksize`` are split by row groups,
small files are combined, and ``filters`` prune whole files (partition
values) and row groups (statistics) before anything is read; the remaining
rows are filtered exactly while reading. The optimizer narrows ``columns``
(projection pushdown) and turns ``df[df.x > 1]`` into ``filters=``
(predicate pushdown).

``to_parquet`` writes ``part.{i}.parquet`` per partition (under
``key=value`` directories with ``partition_on``), with one schema for all
files, so pyarrow, pandas and ``read_parquet`` read the directory back.
"""

from __future__ import annotations

import functools
import operator
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shoal.core import config
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize
from shoal.core.utils import parse_bytes
from shoal.dataframe.expr import Blockwise, Filter, MapPartitions, Projection, call_method
from shoal.dataframe.paths import natural_key

__all__ = ["read_parquet", "to_parquet", "ReadParquet", "ParquetDataset"]

_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def _is_data_file(rel: str) -> bool:
    return not any(p.startswith(("_", ".")) for p in rel.split("/")) and not rel.endswith(".crc")


def _expand(path, storage_options) -> tuple[Any, list[str], str | None]:
    """``(filesystem, files, root)`` of a path, glob, directory or list."""
    paths = path if isinstance(path, (list, tuple)) else [path]
    if not paths:
        raise ValueError("read_parquet needs at least one path")
    fs, _ = fsspec.core.url_to_fs(str(paths[0]), **(storage_options or {}))
    files: list[str] = []
    root = None
    for p in paths:
        stripped = fs._strip_protocol(str(p))
        if any(ch in stripped for ch in "*?["):
            found = sorted(fs.glob(stripped), key=natural_key)
            if not found:
                raise FileNotFoundError(f"read_parquet: no files match {p!r}")
            files += [f for f in found if fs.isfile(f)]
        elif fs.isdir(stripped):
            root = stripped.rstrip("/")
            found = [f for f in fs.find(stripped) if _is_data_file(f[len(root) + 1 :])]
            if not found:
                raise FileNotFoundError(f"read_parquet: directory {p!r} has no data files")
            files += sorted(found, key=natural_key)
        elif fs.exists(stripped):
            files.append(stripped)
        else:
            raise FileNotFoundError(f"read_parquet: {p!r} does not exist")
    return fs, files, root if len(paths) == 1 else None


def _hive_values(path: str, root: str | None) -> dict:
    rel = path[len(root) + 1 :] if root and path.startswith(root + "/") else ""
    out = {}
    for part in rel.split("/")[:-1]:
        if "=" in part:
            key, value = part.split("=", 1)
            out[key] = None if value == _HIVE_NULL else value
    return out


def _read_footer(fs, path):
    try:
        with fs.open(path, "rb") as f:
            return pq.read_metadata(f)
    except Exception as e:
        raise OSError(
            f"read_parquet: cannot read the parquet footer of {path!r}: {type(e).__name__}: {e}"
        ) from e


def _hive_type(values: list) -> pa.DataType:
    present = [v for v in values if v is not None]
    if present and all(re.fullmatch(r"-?\d+", v) for v in present):
        return pa.int64()
    return pa.string()


class ParquetDataset:
    """Footers, schema and hive partition values of a set of parquet files.

    >>> pd.DataFrame({"a": [1, 2]}).to_parquet("memory://doc-ds/k=1/f.parquet")
    >>> fs = fsspec.filesystem("memory")
    >>> ds = ParquetDataset(fs, ["/doc-ds/k=1/f.parquet"], "/doc-ds")
    >>> ds.full_schema.names, ds.footers[0].num_rows
    (['a', 'k'], 2)
    """

    def __init__(self, fs, files: list[str], root: str | None):
        self.fs = fs
        self.files = files
        self.root = root
        workers = min(16, max(1, len(files)))
        with ThreadPoolExecutor(workers) as pool:
            self.footers = list(pool.map(functools.partial(_read_footer, fs), files))
        self.schema = self.footers[0].schema.to_arrow_schema()
        for path, footer in zip(files[1:], self.footers[1:]):
            other = footer.schema.to_arrow_schema()
            if not other.remove_metadata().equals(self.schema.remove_metadata()):
                raise ValueError(
                    f"read_parquet: {path!r} has schema {other.remove_metadata()} which differs "
                    f"from {files[0]!r}: {self.schema.remove_metadata()}"
                )
        self.hive = [_hive_values(f, root) for f in files]
        keys = list(dict.fromkeys(k for h in self.hive for k in h))
        self.hive_types = {k: _hive_type([h.get(k) for h in self.hive]) for k in keys}
        self.token = tokenize(
            fs.protocol,
            files,
            [(fm.num_rows, fm.num_row_groups, fm.serialized_size) for fm in self.footers],
        )

    def __shoal_tokenize__(self) -> str:
        return self.token

    @functools.cached_property
    def pandas_index(self) -> list:
        meta = self.schema.pandas_metadata or {}
        return [c for c in meta.get("index_columns", []) if isinstance(c, str)]

    @functools.cached_property
    def full_schema(self) -> pa.Schema:
        schema = self.schema.remove_metadata()
        for k, t in self.hive_types.items():
            if k not in schema.names:
                schema = schema.append(pa.field(k, t))
        return schema

    def hive_value(self, file_index: int, key: str):
        value = self.hive[file_index].get(key)
        if value is None:
            return None
        return int(value) if self.hive_types[key] == pa.int64() else value


def _to_pandas(table: pa.Table, index: list) -> pd.DataFrame:
    df = table.to_pandas()
    if index:
        df = df.set_index(index)
        names = [None if str(n).startswith("__index_level_") else n for n in df.index.names]
        df.index.names = names
    return df


# ------------------------------------------------------------------ filters

_OPS = {
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _normalize_filters(filters) -> list[list[tuple]] | None:
    if not filters:
        return None
    if isinstance(filters[0], tuple):
        filters = [filters]
    out = []
    for conj in filters:
        terms = []
        for term in conj:
            if not (isinstance(term, tuple) and len(term) == 3):
                raise ValueError(f"filters: expected (column, op, value) tuples, got {term!r}")
            col, op, value = term
            if op not in _OPS and op not in ("in", "not in"):
                raise ValueError(f"filters: unknown operator {op!r} in {term!r}")
            terms.append((col, op, value))
        out.append(terms)
    return out


def _may_match(op: str, value, lo, hi) -> bool:
    """Whether a value range [lo, hi] can hold a row with ``x op value``."""
    try:
        if op in ("==", "="):
            return lo <= value <= hi
        if op == "<":
            return lo < value
        if op == "<=":
            return lo <= value
        if op == ">":
            return hi > value
        if op == ">=":
            return hi >= value
        if op == "in":
            return any(lo <= v <= hi for v in value)
    except TypeError:
        return True
    return True


def _stats(footer, rg: int) -> dict:
    out = {}
    group = footer.row_group(rg)
    for j in range(group.num_columns):
        col = group.column(j)
        st = col.statistics
        if st is not None and st.has_min_max:
            out[col.path_in_schema] = (st.min, st.max, st.null_count)
    return out


def _filter_expression(filters):
    return pq.filters_to_expression(filters)


# --------------------------------------------------------------------- read


_ROW = "__shoal_row__"


def read_parquet_part(
    fs, pieces: list, columns: list, index: list, filters, hive: dict, schema: pa.Schema
) -> pd.DataFrame:
    """Read row groups of files into one pandas partition.

    ``pieces`` are ``(path, row_groups, hive_values, starts)``, ``starts``
    being each row group's first row within the partition. ``filters`` are
    applied to rows after reading (statistics only chose the row groups);
    without an index column the kept rows keep their positions as index, as
    if the whole partition had been read and then filtered.
    """
    filter_cols = sorted({t[0] for conj in filters for t in conj}) if filters else []
    wanted = list(dict.fromkeys(columns + index + filter_cols))
    positions = bool(filters) and not index
    tables = []
    for path, row_groups, hive_values, starts in pieces:
        file_cols = [c for c in wanted if c not in hive]
        try:
            with fs.open(path, "rb") as f:
                pf = pq.ParquetFile(f)
                table = pf.read_row_groups(row_groups, columns=file_cols)
                sizes = [pf.metadata.row_group(rg).num_rows for rg in row_groups]
        except Exception as e:
            raise OSError(
                f"read_parquet: cannot read row groups {row_groups} of {path!r}: "
                f"{type(e).__name__}: {e}"
            ) from e
        for key, typ in hive.items():
            if key in wanted:
                table = table.append_column(
                    pa.field(key, typ), pa.array([hive_values.get(key)] * table.num_rows, typ)
                )
        if positions:
            rows = np.concatenate([np.arange(a, a + n) for a, n in zip(starts, sizes)])
            table = table.append_column(_ROW, pa.array(rows, pa.int64()))
        if filters:
            table = table.filter(_filter_expression(filters))
        keep = wanted + ([_ROW] if positions else [])
        tables.append(table.select(keep).replace_schema_metadata(None))
    if tables:
        table = pa.concat_tables(tables)
    else:
        table = schema.empty_table().select(wanted)
        if positions:
            table = table.append_column(_ROW, pa.array([], pa.int64()))
    out = _to_pandas(table.select(list(dict.fromkeys(columns + index))), index)
    if positions:
        out.index = pd.Index(table.column(_ROW).to_numpy(), dtype="int64")
    return out


class ReadParquet(Blockwise):
    """Read a parquet dataset; one partition per planned group of row groups.

    >>> import shoal.dataframe as sd
    >>> pd.DataFrame({"a": [1], "b": [2]}).to_parquet("memory://doc-rp/f.parquet")
    >>> sd.read_parquet("memory://doc-rp/f.parquet")[["b"]].optimize(fuse=False).expr.columns_
    ['b']
    """

    _parameters = [
        "dataset",
        "columns_",
        "filters",
        "index",
        "blocksize",
        "calculate_divisions",
        "plan_columns",
        "plan_filters",
    ]
    _defaults = {"calculate_divisions": False, "plan_columns": None, "plan_filters": None}
    _explain_params = ("columns_", "filters")

    @property
    def _prefix(self) -> str:
        return "read-parquet"

    def _args(self):
        return []

    @functools.cached_property
    def _index(self) -> list:
        return list(self.index)

    @functools.cached_property
    def _meta(self):
        schema = self.dataset.full_schema
        table = schema.empty_table().select(list(self.columns_) + self._index)
        return _to_pandas(table, self._index)

    @functools.cached_property
    def _plan(self) -> list[list[tuple]]:
        ds = self.dataset
        filters = self.plan_filters
        target = parse_bytes(self.blocksize)
        parts: list[list[tuple]] = []
        current: list[tuple] = []
        current_size = 0
        for fi, (path, footer) in enumerate(zip(ds.files, ds.footers)):
            hive_values = {k: ds.hive_value(fi, k) for k in ds.hive_types}
            if filters and not _file_may_match(filters, hive_values):
                continue
            groups: list[int] = []
            size = 0
            for rg in range(footer.num_row_groups):
                if filters and not _row_group_may_match(filters, footer, rg, hive_values):
                    continue
                rg_size = self._row_group_bytes(footer, rg)
                if groups and size + rg_size > target:
                    parts.append([(path, groups, hive_values)])
                    groups, size = [], 0
                groups.append(rg)
                size += rg_size
            if not groups:
                continue
            if current and current_size + size > target:
                parts.append(current)
                current, current_size = [], 0
            current.append((path, groups, hive_values))
            current_size += size
        if current:
            parts.append(current)
        return parts or [[]]

    @functools.cached_property
    def _read_columns(self) -> set:
        plan = self.plan_filters
        filter_cols = {t[0] for conj in plan for t in conj} if plan else set()
        columns = self.plan_columns if self.plan_columns is not None else self.columns_
        return set(columns) | set(self._index) | filter_cols

    def _row_group_bytes(self, footer, rg: int) -> int:
        """Uncompressed bytes of the columns this read needs in a row group
        (so a narrow projection makes fewer, fuller partitions)."""
        group = footer.row_group(rg)
        wanted = self._read_columns
        return sum(
            group.column(j).total_uncompressed_size
            for j in range(group.num_columns)
            if group.column(j).path_in_schema.split(".")[0] in wanted
        )

    @functools.cached_property
    def divisions(self):
        unknown = (None,) * (len(self._plan) + 1)
        if not self.calculate_divisions or len(self._index) != 1:
            return unknown
        return self._divisions_from_statistics() or unknown

    def _divisions_from_statistics(self) -> tuple | None:
        """Divisions from the index column's min/max in the footers, when
        the partitions are sorted and do not overlap."""
        ds = self.dataset
        footers = dict(zip(ds.files, ds.footers))
        bounds = []
        for pieces in self._plan:
            lo = hi = None
            for path, groups, _ in pieces:
                for rg in groups:
                    st = _stats(footers[path], rg).get(self._index[0])
                    if st is None:
                        return None
                    lo = st[0] if lo is None else min(lo, st[0])
                    hi = st[1] if hi is None else max(hi, st[1])
            if lo is None:
                return None
            bounds.append((lo, hi))
        for (_, hi), (lo, _) in zip(bounds, bounds[1:]):
            if not hi < lo:
                return None
        dtype = self._meta.index.dtype
        values = [b[0] for b in bounds] + [bounds[-1][1]]
        return tuple(pd.Index(values).astype(dtype))

    @property
    def _plan_columns(self) -> list:
        return list(self.plan_columns if self.plan_columns is not None else self.columns_)

    def _pieces(self, i: int) -> list:
        """Partition ``i``'s pieces with each row group's first row, pruned by
        filters pushed down after planning (the plan itself only uses the
        filters given to read_parquet, so partitions stay aligned with the
        unfiltered reader)."""
        footers = dict(zip(self.dataset.files, self.dataset.footers))
        prune = bool(self.filters) and self.filters != self.plan_filters
        out = []
        start = 0
        for path, groups, hive_values in self._plan[i]:
            footer = footers[path]
            file_ok = not prune or _file_may_match(self.filters, hive_values)
            kept, starts = [], []
            for rg in groups:
                if file_ok and (
                    not prune or _row_group_may_match(self.filters, footer, rg, hive_values)
                ):
                    kept.append(rg)
                    starts.append(start)
                start += footer.row_group(rg).num_rows
            if kept:
                out.append((path, kept, hive_values, starts))
        return out

    def _task(self, i: int):
        ds = self.dataset
        return Task(
            read_parquet_part,
            ds.fs,
            self._pieces(i),
            list(self.columns_),
            self._index,
            self.filters,
            dict(ds.hive_types),
            ds.full_schema,
        )

    def _known_length(self) -> int | None:
        """Rows from the footers, when no filter may drop any."""
        if self.filters:
            return None
        footers = dict(zip(self.dataset.files, self.dataset.footers))
        return sum(
            footers[path].row_group(rg).num_rows
            for pieces in self._plan
            for path, groups, _ in pieces
            for rg in groups
        )

    def _project_columns(self, needed: set):
        cols = [c for c in self.columns_ if c in needed]
        if cols == list(self.columns_):
            return None
        return ReadParquet(
            self.dataset,
            cols,
            self.filters,
            self.index,
            self.blocksize,
            self.calculate_divisions,
            self._plan_columns,
            self.plan_filters,
        )

    def _simplify_up(self, parent, dependents):
        if isinstance(parent, Filter) and parent.frame._name == self._name:
            new = _predicate_to_filters(parent.predicate, self)
            if new is None:
                return None
            merged = _and_filters(self.filters, new)
            return ReadParquet(
                self.dataset,
                self.columns_,
                merged,
                self.index,
                self.blocksize,
                self.calculate_divisions,
                self._plan_columns,
                self.plan_filters,
            )
        return None


def _file_may_match(filters, hive_values: dict) -> bool:
    """Whether a file with these hive values may hold matching rows."""
    for conj in filters:
        ok = True
        for col, op, value in conj:
            if col in hive_values:
                v = hive_values[col]
                if v is None or not _eval_op(op, v, value):
                    ok = False
                    break
        if ok:
            return True
    return False


def _row_group_may_match(filters, footer, rg: int, hive_values: dict) -> bool:
    """Whether a row group may hold matching rows, by its min/max statistics."""
    stats = _stats(footer, rg)
    nrows = footer.row_group(rg).num_rows
    for conj in filters:
        ok = True
        for col, op, value in conj:
            if col in hive_values:
                continue
            if col in stats:
                lo, hi, nulls = stats[col]
                if nulls == nrows or not _may_match(op, value, lo, hi):
                    ok = False
                    break
        if ok:
            return True
    return False


def _eval_op(op: str, left, right) -> bool:
    if op == "in":
        return left in right
    if op == "not in":
        return left not in right
    try:
        return bool(_OPS[op](left, right))
    except TypeError:
        return True


def _and_filters(a, b):
    if not a:
        return b
    return [x + y for x in a for y in b]


_FLIP = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "=="}
_PUSHABLE = {
    operator.gt: ">",
    operator.ge: ">=",
    operator.lt: "<",
    operator.le: "<=",
    operator.eq: "==",
}


def _is_column_of(expr, reader) -> str | None:
    if (
        isinstance(expr, Projection)
        and expr.frame._name == reader._name
        and isinstance(expr.columns_, str)
        and expr.columns_ in reader.dataset.full_schema.names
    ):
        return expr.columns_
    return None


def _literal(value) -> bool:
    return (
        isinstance(value, (int, float, str, pd.Timestamp))
        and not isinstance(value, bool)
        and value == value
    )


def _predicate_to_filters(pred, reader):
    """DNF ``filters=`` equivalent to a boolean Series expression, or None."""
    if not isinstance(pred, MapPartitions):
        return None
    func, args = pred.func, pred.args
    if func in (operator.and_, operator.or_) and len(args) == 2:
        left = _predicate_to_filters(args[0], reader)
        right = _predicate_to_filters(args[1], reader)
        if left is None or right is None:
            return None
        return _and_filters(left, right) if func is operator.and_ else left + right
    if func in _PUSHABLE and len(args) == 2 and not pred.kwargs:
        col = _is_column_of(args[0], reader)
        value = _as_column_literal(args[1], reader, col)
        if value is not _NOT_PUSHABLE:
            return [[(col, _PUSHABLE[func], value)]]
    if func is call_method and pred.kwargs.get("_method") == "isin" and len(args) == 2:
        col = _is_column_of(args[0], reader)
        values = args[1]
        if col is not None and isinstance(values, (list, tuple)) and values:
            cast = [_as_column_literal(v, reader, col) for v in values]
            if all(v is not _NOT_PUSHABLE for v in cast):
                return [[(col, "in", cast)]]
    return None


_NOT_PUSHABLE = object()


def _as_column_literal(value, reader, col):
    """``value`` as parquet filters compare it with column ``col`` the way
    pandas would (e.g. a date string against timestamps), or
    ``_NOT_PUSHABLE`` when the comparison cannot be pushed exactly."""
    if col is None or not _literal(value):
        return _NOT_PUSHABLE
    typ = reader.dataset.full_schema.field(col).type
    is_text = pa.types.is_string(typ) or pa.types.is_large_string(typ) or str(typ) == "string_view"
    if isinstance(value, str):
        if is_text:
            return value
        if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
            try:
                return pd.Timestamp(value).to_pydatetime()
            except (ValueError, TypeError):
                return _NOT_PUSHABLE
        return _NOT_PUSHABLE
    if is_text:
        return _NOT_PUSHABLE
    if isinstance(value, pd.Timestamp):
        if not (pa.types.is_timestamp(typ) or pa.types.is_date(typ)):
            return _NOT_PUSHABLE
        return value.to_pydatetime()
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return value
    return _NOT_PUSHABLE


def read_parquet(
    path,
    columns: list | None = None,
    filters=None,
    index=None,
    blocksize: str | int | None = None,
    calculate_divisions: bool = False,
    storage_options: dict | None = None,
):
    """Read parquet files into a DataFrame.

    ``path``: a file, a directory (hive ``key=value`` subdirectories become
    columns), a glob or a list, as local paths or fsspec URLs. ``columns``
    selects columns; ``filters`` is a list of ``(column, op, value)`` tuples
    (AND) or a list of such lists (OR), with ops ``== != < <= > >= in not in``;
    ``index`` names the column(s) to use as index (default: the index stored
    by pandas, ``False`` for none). ``blocksize`` is the target of
    uncompressed bytes per partition (config ``dataframe.partition-size``).
    ``calculate_divisions`` makes divisions known from the index column's
    statistics when the partitions are sorted and do not overlap.

    >>> import pandas as pd, shoal.dataframe as sd
    >>> pd.DataFrame({"a": [1, 2, 3], "b": list("xyz")}).to_parquet("memory://doc/t.parquet")
    >>> sd.read_parquet("memory://doc/t.parquet", filters=[("a", ">", 1)]).b.compute().tolist()
    ['y', 'z']
    """
    fs, files, root = _expand(path, storage_options)
    dataset = ParquetDataset(fs, files, root)
    names = dataset.full_schema.names
    if index is None:
        index_cols = [c for c in dataset.pandas_index if c in names]
    elif index is False:
        index_cols = []
    else:
        index_cols = index if isinstance(index, list) else [index]
    hidden = set(dataset.pandas_index) if index is None else set()
    available = [c for c in names if c not in hidden and c not in index_cols]
    if columns is None:
        columns = available
    else:
        columns = list(columns) if not isinstance(columns, str) else [columns]
    from shoal.dataframe.collection import _missing_message, new_collection

    missing = [c for c in columns + index_cols if c not in names]
    if missing:
        raise KeyError(_missing_message(missing, names, f"read_parquet({path!r})"))
    filters = _normalize_filters(filters)
    if filters:
        bad = [t[0] for conj in filters for t in conj if t[0] not in names]
        if bad:
            raise KeyError(_missing_message(bad, names, "read_parquet filters"))
    blocksize = blocksize or config.get("dataframe.partition-size")
    return new_collection(
        ReadParquet(
            dataset,
            columns,
            filters,
            tuple(index_cols),
            blocksize,
            calculate_divisions,
            list(columns),
            filters,
        )
    )


# -------------------------------------------------------------------- write


def _hive_dir(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return _HIVE_NULL
    return str(value)


def write_parquet_part(
    part: pd.DataFrame,
    i: int,
    fs,
    path: str,
    partition_on: list,
    write_index: bool,
    schema: pa.Schema,
    compression: str,
) -> list[str]:
    """Write partition ``i`` (split into hive directories with ``partition_on``)."""
    filename = f"part.{i}.parquet"
    written = []
    if partition_on:
        data_schema = pa.schema(
            [f for f in schema if f.name not in partition_on], metadata=schema.metadata
        )
        for keys, group in part.groupby(partition_on, dropna=False, sort=False, observed=True):
            keys = keys if isinstance(keys, tuple) else (keys,)
            sub = "/".join(f"{k}={_hive_dir(v)}" for k, v in zip(partition_on, keys))
            fs.makedirs(f"{path}/{sub}", exist_ok=True)
            target = f"{path}/{sub}/{filename}"
            table = pa.Table.from_pandas(
                group.drop(columns=partition_on), schema=data_schema, preserve_index=write_index
            )
            with fs.open(target, "wb") as f:
                pq.write_table(table, f, compression=compression)
            written.append(target)
        return written
    target = f"{path}/{filename}"
    table = pa.Table.from_pandas(part, schema=schema, preserve_index=write_index)
    with fs.open(target, "wb") as f:
        pq.write_table(table, f, compression=compression)
    return [target]


def to_parquet(
    df,
    path: str,
    partition_on: list | str | None = None,
    write_index: bool | None = None,
    overwrite: bool = False,
    compute: bool = True,
    compression: str = "snappy",
    storage_options: dict | None = None,
):
    """Write ``part.{i}.parquet`` per partition into the directory ``path``.

    ``write_index`` defaults to writing the index when it has a name.
    ``partition_on`` writes ``column=value`` subdirectories. An existing
    directory holding parquet files is an error unless ``overwrite=True``
    (which deletes it first), so stale files are never read back with new
    ones. ``compute=False`` returns a Scalar that writes when computed. The
    result is the list of written files.

    >>> import pandas as pd, shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2, 3]}), npartitions=2)
    >>> len(sd.to_parquet(df, "memory://doc/out", overwrite=True))
    2
    >>> sd.read_parquet("memory://doc/out").a.sum().compute()
    np.int64(6)
    """
    from shoal.dataframe.frame import DataFrame

    if not isinstance(df, DataFrame):
        raise TypeError(f"to_parquet expects a shoal DataFrame, got {type(df).__name__}")
    fs, _ = fsspec.core.url_to_fs(str(path), **(storage_options or {}))
    root = fs._strip_protocol(str(path)).rstrip("/")
    partition_on = [partition_on] if isinstance(partition_on, str) else list(partition_on or [])
    df._check_columns(partition_on, "to_parquet partition_on")
    meta = df._meta
    if write_index is None:
        write_index = any(n is not None for n in meta.index.names)
    if fs.exists(root):
        if overwrite:
            fs.rm(root, recursive=True)
        elif any(f.endswith(".parquet") for f in fs.find(root)):
            raise FileExistsError(
                f"to_parquet: {path!r} already holds parquet files; pass overwrite=True to "
                "replace them (mixing old and new files would read back wrong rows)"
            )
    fs.makedirs(root, exist_ok=True)
    schema = pa.Schema.from_pandas(meta, preserve_index=write_index)
    out = write_partitions(
        df,
        write_parquet_part,
        "to-parquet",
        fs=fs,
        path=root,
        partition_on=partition_on,
        write_index=write_index,
        schema=schema,
        compression=compression,
    )
    return out.compute() if compute else out


class WritePartitions(Blockwise):
    """``func(partition, i, **kwargs)`` for every partition; each returns a
    list of written files."""

    _parameters = ["frame", "func", "kwargs", "label"]
    _explain_params = ("label",)

    @property
    def _prefix(self):
        return self.label

    @functools.cached_property
    def _meta(self):
        return None

    @property
    def is_scalar(self):
        return False

    def _args(self):
        return [self.frame]

    def _task(self, i):
        return Task(self.func, Ref((self.frame._name, i)), i, **self.kwargs)


def _collect(parts: list, **kw) -> list:
    return [f for files in parts for f in files]


def write_partitions(df, func, label: str, **kwargs):
    """A Scalar collection that runs ``func`` on each partition and gives the
    list of all written files."""
    from shoal.dataframe.collection import new_collection
    from shoal.dataframe.reductions import TreeReduce

    writes = WritePartitions(df.expr, func, kwargs, label)
    return new_collection(TreeReduce(writes, _collect, _collect, {}, None, [], label + "-done"))
