"""Parquet IO through pyarrow and fsspec (every path may be a URL, e.g. ``memory://``).

``read_parquet`` reads only footers when called: the file list (a file, a
directory, a glob or a list; hive ``key=value`` directories become columns),
the schema and each row group's size and min/max statistics. From these it
plans partitions: files larger than ``blocksize`` are split by row groups,
small files are combined, and ``filters`` prune whole files (partition
values) and row groups (statistics) before anything is read; the remaining
rows are filtered exactly while reading. The optimizer narrows ``columns``
(projection pushdown) and turns ``df[df.x > 1]`` into ``filters=``
(predicate pushdown; of ``df[(df.x > 1) & (df.x < df.y)]`` the pushable
part, the whole predicate then filtering the rows read).

``to_parquet`` writes ``part.{i}.parquet`` per partition (under
``key=value`` directories with ``partition_on``), with one schema for all
files, so pyarrow, pandas and ``read_parquet`` read the directory back.
"""

from __future__ import annotations

import functools
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shoal.core import config
from shoal.core.annotate import annotate
from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.io_pacing import io_limits
from shoal.core.task import Task
from shoal.core.tokenize import tokenize
from shoal.core.tree import split_every_of
from shoal.core.utils import parse_bytes
from shoal.dataframe.expr import Filter, FrameExpr, MapPartitions, Projection
from shoal.dataframe.meta import unknown_categorical
from shoal.dataframe.parquet_filters import (
    _and_filters,
    _check_filter_values,
    _file_may_match,
    _normalize_filters,
    _partial_filters,
    _predicate_to_filters,
    _row_by_row,
    _row_group_may_match,
)
from shoal.dataframe.parquet_part import (
    dictionary_columns,
    open_parquet,
    read_parquet_part,
    table_to_pandas,
)
from shoal.dataframe.paths import natural_key

__all__ = ["read_parquet", "to_parquet", "ReadParquet", "ParquetDataset"]

_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def _is_data_file(rel: str) -> bool:
    return not any(p.startswith(("_", ".")) for p in rel.split("/")) and not rel.endswith(".crc")


def _filesystem(url: str, filesystem, storage_options: dict | None):
    """The fsspec filesystem to read ``url`` through: ``filesystem`` given as
    an fsspec or pyarrow filesystem, or named (``"fsspec"``, ``"arrow"``),
    else the one the URL and ``storage_options`` describe."""
    if filesystem is None or filesystem == "fsspec":
        return fsspec.core.url_to_fs(url, **(storage_options or {}))[0]
    if filesystem == "arrow":
        import pyarrow.fs as pafs
        from fsspec.implementations.arrow import ArrowFSWrapper

        try:
            return ArrowFSWrapper(pafs.FileSystem.from_uri(url)[0])
        except pa.ArrowInvalid:  # a plain local path
            return ArrowFSWrapper(pafs.LocalFileSystem())
    if storage_options:
        raise ValueError(
            "read_parquet: pass storage_options= or a filesystem object as filesystem=, not "
            "both (configure the filesystem object instead)"
        )
    if isinstance(filesystem, fsspec.AbstractFileSystem):
        return filesystem
    import pyarrow.fs as pafs

    if isinstance(filesystem, pafs.FileSystem):
        from fsspec.implementations.arrow import ArrowFSWrapper

        return ArrowFSWrapper(filesystem)
    raise TypeError(
        "read_parquet: filesystem= must be an fsspec or pyarrow filesystem, 'fsspec' or "
        f"'arrow', got {filesystem!r}"
    )


def _expand(path, storage_options, filesystem=None) -> tuple[Any, list[str], str | None]:
    """``(filesystem, files, root)`` of a path, glob, directory or list."""
    paths = path if isinstance(path, (list, tuple)) else [path]
    if not paths:
        raise ValueError("read_parquet needs at least one path")
    fs = _filesystem(str(paths[0]), filesystem, storage_options)
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
        with open_parquet(fs, path) as f:
            return pq.read_metadata(f)
    except Exception as e:
        raise OSError(
            f"read_parquet: cannot read the parquet footer of {path!r}: {type(e).__name__}: {e}"
        ) from e


class RowGroup:
    """What planning needs of a row group: its rows, the uncompressed bytes
    of each top-level column and the min/max statistics of the columns asked
    for (decoded once, when first asked for)."""

    def __init__(self, footer, rg: int):
        self._group = group = footer.row_group(rg)
        self.num_rows: int = group.num_rows
        self.column_bytes: dict = {}
        self._position: dict = {}
        self._stats: dict = {}
        for j in range(group.num_columns):
            col = group.column(j)
            path = col.path_in_schema
            top = path.split(".")[0]
            self.column_bytes[top] = self.column_bytes.get(top, 0) + col.total_uncompressed_size
            self._position[path] = j

    def stats(self, columns) -> dict:
        """``{column: (min, max, null_count)}`` of those ``columns`` that
        have min/max statistics."""
        out = {}
        for c in columns:
            if c not in self._stats:
                j = self._position.get(c)
                st = None if j is None else self._group.column(j).statistics
                self._stats[c] = None
                if st is not None and st.has_min_max:
                    self._stats[c] = (st.min, st.max, st.null_count)
            if self._stats[c] is not None:
                out[c] = self._stats[c]
        return out


def _filter_columns(filters) -> set:
    return {t[0] for conj in filters for t in conj} if filters else set()


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
        self._row_groups: dict[int, list[RowGroup]] = {}
        workers = min(16, max(1, len(files)))
        with ThreadPoolExecutor(workers) as pool:
            self.footers = list(pool.map(functools.partial(_read_footer, fs), files))
        self.schema = self.footers[0].schema.to_arrow_schema()
        first = self.footers[0].schema
        for path, footer in zip(files[1:], self.footers[1:]):
            if footer.schema.equals(first):  # cheaper than comparing arrow schemas
                continue
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

    def __getstate__(self) -> dict:
        # the decoded row groups hold pyarrow objects that do not pickle
        return {**self.__dict__, "_row_groups": {}}

    def row_groups(self, file_index: int) -> list[RowGroup]:
        """A file's row groups, decoded from its footer once for all the
        plans made of this dataset."""
        cached = self._row_groups.get(file_index)
        if cached is None:
            footer = self.footers[file_index]
            cached = [RowGroup(footer, rg) for rg in range(footer.num_row_groups)]
            self._row_groups[file_index] = cached
        return cached

    @functools.cached_property
    def pandas_index(self) -> list:
        meta = self.schema.pandas_metadata or {}
        return [c for c in meta.get("index_columns", []) if isinstance(c, str)]

    @functools.cached_property
    def pandas_dtypes(self) -> dict:
        """Dtypes every partition's columns are cast to, where arrow's default
        conversion would depend on the data: the dtypes pandas recorded
        (nullable ``Int64``, ``boolean``, ...), else float64 (object) for
        integer (boolean) columns that may hold nulls by their statistics,
        as arrow converts those when nulls are present."""
        out = {}
        for name in self.schema.names:
            typ = self.schema.field(name).type
            if (pa.types.is_integer(typ) or pa.types.is_boolean(typ)) and name in self._maybe_null:
                out[name] = np.dtype("float64" if pa.types.is_integer(typ) else object)
        if not self.schema.pandas_metadata:
            return out
        plain = self.schema.remove_metadata().empty_table().to_pandas()
        recorded = self.schema.empty_table().to_pandas().reset_index()
        for c in recorded.columns:
            dtype = recorded[c].dtype
            if (
                c in plain.columns
                and dtype != plain[c].dtype
                and isinstance(dtype, pd.api.extensions.ExtensionDtype)
                and not isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype))
            ):
                out[c] = dtype
        return out

    @functools.cached_property
    def _maybe_null(self) -> set:
        """Columns that may hold nulls by some row group's statistics."""
        out = set()
        for footer in self.footers:
            for rg in range(footer.num_row_groups):
                group = footer.row_group(rg)
                if group.num_rows == 0:
                    continue
                for j in range(group.num_columns):
                    col = group.column(j)
                    st = col.statistics
                    if st is None or not st.has_null_count or st.null_count > 0:
                        out.add(col.path_in_schema)
        return out

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


# --------------------------------------------------------------------- read


class ReadParquet(FrameExpr):
    """Read a parquet dataset; one partition per planned group of row groups.
    Fusable: a partition is read in the task of its user (filters and
    projections after it run in the same task).

    >>> import shoal.dataframe as sd
    >>> pd.DataFrame({"a": [1], "b": [2]}).to_parquet("memory://doc-rp/f.parquet")
    >>> sd.read_parquet("memory://doc-rp/f.parquet")[["b"]].optimize().expr.columns_
    ['b']
    """

    dataset: Any
    columns_: list
    filters: Any
    index: tuple
    blocksize: Any
    calculate_divisions: bool = False
    plan_columns: Any = None
    plan_filters: Any = None
    categorical: tuple = ()

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("columns_", "filters")

    @property
    def _prefix(self) -> str:
        return "read-parquet"

    def _explain_args(self) -> str:
        text = super()._explain_args()
        return text + (f", categorical={list(self.categorical)}" if self.categorical else "")

    def _replace(self, **changes) -> ReadParquet:
        """This read with some operands changed (the plan stays that of the
        original ``plan_columns`` and ``plan_filters``)."""
        return self.replace_operands(**{"plan_columns": self._plan_columns, **changes})

    @functools.cached_property
    def _index(self) -> list:
        return list(self.index)

    @functools.cached_property
    def _meta(self):
        schema = self.dataset.full_schema
        table = schema.empty_table().select(list(self.columns_) + self._index)
        unknown = {
            c: unknown_categorical(getattr(schema.field(c).type, "ordered", False))
            for c in self._categorical_columns()
        }
        return table_to_pandas(table, self._index, {**self._dtypes, **unknown})

    def _categorical_columns(self) -> tuple:
        """Columns (and index columns) every partition gives as pandas
        categoricals: those the optimizer asked for and those stored as
        dictionaries (categoricals when pandas wrote them), whose categories
        each partition finds."""
        schema = self.dataset.full_schema
        stored = [
            c
            for c in [*self.columns_, *self._index]
            if pa.types.is_dictionary(schema.field(c).type)
        ]
        return tuple(dict.fromkeys([*self.categorical, *stored]))

    @functools.cached_property
    def _plan(self) -> list[list[tuple]]:
        ds = self.dataset
        filters = self.plan_filters
        target = parse_bytes(self.blocksize)
        parts: list[list[tuple]] = []
        current: list[tuple] = []
        current_size = 0
        wanted = self._read_columns
        filter_cols = _filter_columns(filters)
        for fi, path in enumerate(ds.files):
            hive_values = {k: ds.hive_value(fi, k) for k in ds.hive_types}
            if filters and not _file_may_match(filters, hive_values):
                continue
            groups: list[int] = []
            size = 0
            for rg, info in enumerate(ds.row_groups(fi)):
                if info.num_rows == 0:  # empty files make no partitions
                    continue
                if filters and not _row_group_may_match(
                    filters, info.stats(filter_cols), info.num_rows, hive_values
                ):
                    continue
                # uncompressed bytes of the columns this read needs (so a
                # narrow projection makes fewer, fuller partitions)
                rg_size = sum(n for c, n in info.column_bytes.items() if c in wanted)
                if groups and size + rg_size > target:
                    if current:  # the earlier files' rows come first
                        parts.append(current)
                        current, current_size = [], 0
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
    def _dtypes(self) -> dict:
        wanted = set(self.columns_) | set(self._index)
        return {c: d for c, d in self.dataset.pandas_dtypes.items() if c in wanted}

    @functools.cached_property
    def _file_columns(self) -> list:
        """The columns this read takes from the files (before filtering)."""
        filter_cols = [t[0] for conj in self.filters for t in conj] if self.filters else []
        return list(dict.fromkeys([*self.columns_, *self._index, *filter_cols]))

    @functools.cached_property
    def _read_columns(self) -> set:
        plan = self.plan_filters
        filter_cols = {t[0] for conj in plan for t in conj} if plan else set()
        columns = self.plan_columns if self.plan_columns is not None else self.columns_
        return set(columns) | set(self._index) | filter_cols

    @functools.cached_property
    def divisions(self):
        unknown = (None,) * (len(self._plan) + 1)
        if not self.calculate_divisions or len(self._index) != 1:
            return unknown
        return self._divisions_from_statistics() or unknown

    def _divisions_from_statistics(self) -> tuple | None:
        """Divisions from the index column's min/max in the footers, when
        the partitions are sorted and do not overlap."""
        dtype = self._meta.index.dtype
        if isinstance(dtype, pd.CategoricalDtype):  # ordered by categories, not values
            return None
        bounds = self._partition_bounds(self._index[0], nulls_allowed=True)
        if bounds is None:
            return None
        for (_, hi), (lo, _) in zip(bounds, bounds[1:]):
            if not hi < lo:
                return None
        values = [b[0] for b in bounds] + [bounds[-1][1]]
        return tuple(pd.Index(values).astype(dtype))

    def column_bounds(self, column: str) -> list[tuple] | None:
        """``[(min, max)]`` of ``column`` per output partition, from the
        statistics of the row groups each reads; None unless ``column`` is an
        integer, date, timestamp or string column of the files whose every
        row group has min/max statistics and no nulls (filters pushed later
        only drop rows, so the bounds stay true).

        >>> import shoal.dataframe as sd
        >>> pd.DataFrame({"k": [3, 1]}).to_parquet("memory://doc-cb/f.parquet")
        >>> sd.read_parquet("memory://doc-cb/f.parquet").expr.column_bounds("k")
        [(1, 3)]
        """
        field = self.dataset.full_schema.field(column) if column in self.columns_ else None
        kinds = [pa.types.is_integer, pa.types.is_date, pa.types.is_timestamp]
        kinds += [pa.types.is_string, pa.types.is_large_string]
        if (
            field is None
            or column in self.dataset.hive_types
            or not any(k(field.type) for k in kinds)
        ):
            return None
        return self._partition_bounds(column, nulls_allowed=False)

    def _partition_bounds(self, column: str, nulls_allowed: bool) -> list[tuple] | None:
        """``[(min, max)]`` of ``column`` per output partition from its row
        groups' statistics; None if a row group has none (or has nulls, unless
        ``nulls_allowed``) or a partition reads no row group."""
        bounds = []
        for pieces in self._plan:
            lo = hi = None
            for path, groups, _ in pieces:
                for rg in groups:
                    st = self._row_groups(path)[rg].stats([column]).get(column)
                    if st is None or not nulls_allowed and (st[2] is None or st[2] > 0):
                        return None
                    lo = st[0] if lo is None else min(lo, st[0])
                    hi = st[1] if hi is None else max(hi, st[1])
            if lo is None:
                return None
            bounds.append((lo, hi))
        return bounds

    @property
    def _plan_columns(self) -> list:
        return list(self.plan_columns if self.plan_columns is not None else self.columns_)

    @functools.cached_property
    def _file_index(self) -> dict:
        return {path: fi for fi, path in enumerate(self.dataset.files)}

    def _row_groups(self, path: str) -> list[RowGroup]:
        return self.dataset.row_groups(self._file_index[path])

    def _pieces(self, i: int) -> list:
        """Partition ``i``'s pieces with each row group's first row, pruned by
        filters pushed down after planning (the plan itself only uses the
        filters given to read_parquet, so partitions stay aligned with the
        unfiltered reader)."""
        prune = bool(self.filters) and self.filters != self.plan_filters
        filter_cols = _filter_columns(self.filters)
        out = []
        start = 0
        for path, groups, hive_values in self._plan[i]:
            file_ok = not prune or _file_may_match(self.filters, hive_values)
            kept, starts = [], []
            infos = self._row_groups(path)
            for rg in groups:
                info = infos[rg]
                if file_ok and (
                    not prune
                    or _row_group_may_match(
                        self.filters, info.stats(filter_cols), info.num_rows, hive_values
                    )
                ):
                    kept.append(rg)
                    starts.append(start)
                start += info.num_rows
            if kept:
                footer = self.dataset.footers[self._file_index[path]]
                out.append((path, kept, hive_values, starts, footer))
        # string columns read as dictionaries: those small enough in every
        # file, so the files' tables concatenate and filter as one
        dictionary = list(self._file_columns)
        for _, kept, _, _, footer in out:
            if dictionary:
                dictionary = dictionary_columns(footer, kept, dictionary)
        return [(p, k, h, s, dictionary, f) for p, k, h, s, f in out]

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        ds = self.dataset
        return Task(
            read_parquet_part,
            ds.fs,
            self._pieces(index[0]),
            list(self.columns_),
            self._index,
            self.filters,
            dict(ds.hive_types),
            ds.full_schema,
            self._categorical_columns(),
            self._dtypes,
        )

    def _known_length(self) -> int | None:
        """Rows from the footers, when no filter may drop any."""
        if self.filters:
            return None
        return sum(
            self._row_groups(path)[rg].num_rows
            for pieces in self._plan
            for path, groups, _ in pieces
            for rg in groups
        )

    def _project_columns(self, needed: set):
        cols = [c for c in self.columns_ if c in needed]
        if cols == list(self.columns_):
            return None
        categorical = tuple(c for c in self.categorical if c in cols)
        return self._replace(columns_=cols, categorical=categorical)

    def _simplify_up(self, parent, dependents):
        if not (isinstance(parent, Filter) and parent.frame._name == self._name):
            return None
        new = _predicate_to_filters(parent.predicate, self)
        if new is not None:
            return self._replace(filters=_and_filters(self.filters, new))
        # the pushable parts of an ``&`` chain filter while reading (so fewer
        # rows reach pandas); the whole predicate still filters what is read
        conjs = self.filters or [[]]
        terms = [
            t for t in _partial_filters(parent.predicate, self) if any(t not in c for c in conjs)
        ]
        if not terms:
            return None
        filters = _and_filters(self.filters, [terms])
        # the predicate must work row by row on reads of these rows (maybe of
        # other columns), which then read only the kept rows too; anything
        # else (a mean over all rows, a function of a whole partition) would
        # see other rows than before
        mapping = {}
        for node in parent.predicate.walk():
            if isinstance(node, ReadParquet) and self._same_rows(node):
                mapping[node._name] = node._replace(filters=filters)
            elif isinstance(node, MapPartitions) and _row_by_row(node) and not node.is_scalar:
                continue
            elif not isinstance(node, Projection):
                return None
        predicate = parent.predicate.transform(lambda node: mapping.get(node._name))
        return Filter(mapping[self._name], predicate)

    def _same_rows(self, other: ReadParquet) -> bool:
        """Whether ``other`` reads the rows this does (its columns may differ)."""
        same = other.replace_operands(columns_=self.columns_, categorical=self.categorical)
        return same._name == self._name


def check_engine(engine: str, what: str) -> None:
    """Raise unless ``engine`` names pyarrow, the one parquet engine.

    >>> check_engine("fastparquet", "read_parquet")
    Traceback (most recent call last):
    ...
    ValueError: read_parquet: engine='fastparquet' is not supported; shoal reads and writes parquet with pyarrow (pass engine='pyarrow' or leave it out)
    """
    if engine not in ("pyarrow", "auto"):
        raise ValueError(
            f"{what}: engine={engine!r} is not supported; shoal reads and writes parquet "
            "with pyarrow (pass engine='pyarrow' or leave it out)"
        )


def read_parquet(
    path,
    columns: list | None = None,
    filters=None,
    index=None,
    blocksize: str | int | None = None,
    calculate_divisions: bool = False,
    storage_options: dict | None = None,
    engine: str = "pyarrow",
    max_concurrent: int | None = None,
    max_read_rate: int | float | str | None = None,
    filesystem: Any = None,
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
    ``engine``: ``"pyarrow"`` (or ``"auto"``), the only one. ``filesystem``:
    an fsspec or pyarrow filesystem to read through, or ``"fsspec"`` (the
    default: from the URL and ``storage_options``) or ``"arrow"``.
    ``max_concurrent`` (at most that many reading tasks at once, cluster-wide)
    and ``max_read_rate`` (bytes per second per process) protect a shared
    store; see ``shoal.core.io_pacing`` for their config defaults.

    >>> import pandas as pd, shoal.dataframe as sd
    >>> pd.DataFrame({"a": [1, 2, 3], "b": list("xyz")}).to_parquet("memory://doc/t.parquet")
    >>> sd.read_parquet("memory://doc/t.parquet", filters=[("a", ">", 1)]).b.compute().tolist()
    ['y', 'z']
    """
    check_engine(engine, "read_parquet")
    fs, files, root = _expand(path, storage_options, filesystem)
    fs, io_annotations = io_limits(fs, max_concurrent, max_read_rate, "read_parquet")
    dataset = ParquetDataset(fs, files, root)
    names = dataset.full_schema.names
    if index is None:
        index_cols = [c for c in dataset.pandas_index if c in names]
    elif index is False:
        index_cols = []
    else:
        index_cols = index if isinstance(index, list) else [index]
    # a stored pandas index is not a column; an unnamed one stays hidden when index= is given
    hidden = {
        c for c in dataset.pandas_index if index is None or re.fullmatch(r"__index_level_\d+__", c)
    }
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
        _check_filter_values(filters, dataset.full_schema)
    blocksize = blocksize or config.get("dataframe.partition-size")
    with annotate(**io_annotations):  # a concurrency pool for the reading tasks
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
    engine: str = "pyarrow",
    max_concurrent: int | None = None,
):
    """Write ``part.{i}.parquet`` per partition into the directory ``path``
    (with pyarrow, the one ``engine``).

    ``write_index`` defaults to writing the index when it has a name.
    ``partition_on`` writes ``column=value`` subdirectories. An existing
    directory holding parquet files is an error unless ``overwrite=True``
    (which deletes it first), so stale files are never read back with new
    ones. ``compute=False`` returns a Scalar that writes when computed. The
    result is the list of written files. ``max_concurrent``: at most that many
    writing tasks at once, cluster-wide (default: config ``io.max-concurrent``
    for the path's protocol).

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
    check_engine(engine, "to_parquet")
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
    _, io_annotations = io_limits(fs, max_concurrent, None, "to_parquet")
    with annotate(**io_annotations):  # a concurrency pool for the writing tasks
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


class WritePartitions(FrameExpr):
    """``func(partition, i, **kwargs)`` for every partition; each returns a
    list of written files. The partitions' own work nests into the writing
    tasks."""

    frame: FrameExpr
    func: Any
    kwargs: dict
    label: str

    _explain_params: ClassVar[tuple[str, ...]] = ("label",)

    @property
    def _prefix(self):
        return self.label

    @functools.cached_property
    def _meta(self):
        return None

    @property
    def is_scalar(self):
        return False

    @functools.cached_property
    def divisions(self):
        return self.frame.divisions

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        i = index[0]
        return Task(self.func, b.input(self, self.frame, index), i, **self.kwargs)


def _collect(parts: list, **kw) -> list:
    return [f for files in parts for f in files]


def write_partitions(df, func, label: str, **kwargs):
    """A Scalar collection that runs ``func`` on each partition and gives the
    list of all written files."""
    from shoal.dataframe.collection import new_collection
    from shoal.dataframe.reductions import FrameReduce

    writes = WritePartitions(df.expr, func, kwargs, label)
    every = split_every_of(None, "dataframe")
    return new_collection(
        FrameReduce(writes, _collect, _collect, every, label=label + "-done", meta=[])
    )
