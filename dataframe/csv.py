"""CSV IO through pandas and fsspec.

``read_csv`` cuts each uncompressed file into blocks of about ``blocksize``
bytes; a block starts after the first newline at or past its offset and ends
with the line that crosses its end, so every line is read exactly once. The
header line is prepended to every block. Compressed files are read whole,
one partition each. Column dtypes are inferred from a sample at the start of
the first file; every block is then parsed and checked against them, and a
block whose column cannot be cast losslessly raises an error naming the
file, the byte range, the column and the ``dtype=`` fix.
Quoted fields containing newlines are not supported with ``blocksize``
(pass ``blocksize=None`` to read whole files).
"""

from __future__ import annotations

import functools
import io
from typing import Any, ClassVar

import fsspec
import pandas as pd
from fsspec.utils import infer_compression, read_block

from shoal.core.annotate import annotate
from shoal.core.build import GraphBuilder
from shoal.core.io_pacing import io_limits
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize
from shoal.core.utils import parse_bytes
from shoal.dataframe.expr import FrameExpr
from shoal.dataframe.meta import has_known_categories, unknown_categorical
from shoal.dataframe.paths import expand_paths

__all__ = ["read_csv", "to_csv", "CSVBlockError"]


class CSVBlockError(ValueError):
    """A block of a CSV file does not match the inferred column types.

    >>> issubclass(CSVBlockError, ValueError)
    True
    """


def _wrapped(cause: Exception, where: str) -> Exception:
    """A new error naming ``where`` that wraps ``cause`` (raise it ``from cause``):
    rebuilding ``type(cause)(message)`` breaks on exceptions whose constructors
    take other arguments, such as ``UnicodeDecodeError``.

    >>> str(_wrapped(UnicodeDecodeError("utf-8", b"\\xff", 0, 1, "invalid start byte"), "f.csv"))
    "f.csv: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"
    """
    kind = ValueError if isinstance(cause, ValueError) else RuntimeError
    return kind(f"{where}: {type(cause).__name__}: {cause}")


def _header(fs, path: str, compression) -> bytes:
    with fs.open(path, "rb", compression=compression) as f:
        return f.readline()


def _coerce(df: pd.DataFrame, meta: pd.DataFrame, where: str) -> pd.DataFrame:
    if list(df.columns) != list(meta.columns):
        raise CSVBlockError(
            f"{where}: columns {list(df.columns)} differ from "
            f"{list(meta.columns)} in the first block"
        )
    out = {}
    for col in meta.columns:
        want, got = meta[col].dtype, df[col].dtype
        s = df[col]
        if isinstance(want, pd.CategoricalDtype) and not has_known_categories(want):
            out[col] = s if isinstance(got, pd.CategoricalDtype) else s.astype("category")
            continue
        if got != want:
            try:
                cast = s.astype(want)
            except (ValueError, TypeError) as e:
                raise CSVBlockError(_mismatch(where, col, got, want, str(e))) from None
            lossless = (cast.isna() == s.isna()).all()
            if lossless and got.kind in "iufb" and want.kind in "iufb":
                lossless = bool(((cast.astype("float64") == s.astype("float64")) | s.isna()).all())
            if not lossless:
                raise CSVBlockError(_mismatch(where, col, got, want, "values would change"))
            s = cast
        out[col] = s
    return pd.DataFrame(out, index=df.index)


def _mismatch(where, col, got, want, detail) -> str:
    return (
        f"{where}: column {col!r} was inferred as {want} from the start of the data, but "
        f"this block holds {got} values ({detail}). Pass dtype={{{col!r}: '{got}'}} (or "
        "another dtype fitting all rows) to read_csv."
    )


def read_csv_block(
    fs,
    path: str,
    offset: int,
    length: int | None,
    header: bytes,
    compression,
    kwargs: dict,
    meta: pd.DataFrame | None,
    first: bool,
    path_column: tuple | None = None,
) -> pd.DataFrame:
    """Parse one block of a file (``length=None``: the whole file);
    ``path_column`` is ``(name, dtype)`` of a column holding ``path``."""
    where = f"read_csv {path!r}"
    with fs.open(path, "rb", compression=compression) as f:
        if length is None:
            data = f.read()
        else:
            data = read_block(f, offset, length, delimiter=b"\n")
            where += f" bytes {offset}-{offset + length}"
    if len(data) < 4096 and not data.strip():
        empty = meta.copy() if meta is not None else pd.DataFrame()
        return with_path_column(empty, path, path_column)
    sep = _widening_separator(kwargs)
    if sep is not None:
        # pandas takes a first row with one extra field as holding an index, and ignores
        # extra fields when usecols= is given (as projections give it): a header with one
        # more column collects them, rows without one leave it empty
        line = header.rstrip(b"\r\n")
        widened = line + sep + _EXTRA_FIELD.encode() + header[len(line) :]
        data = widened + (data[len(header) :] if first else data)
        kwargs = {**kwargs, "index_col": False}
        if "usecols" in kwargs:
            kwargs["usecols"] = [*kwargs["usecols"], _EXTRA_FIELD]
    elif not first:
        data = header + data
        kwargs = {**kwargs, "index_col": False}  # a longer first row is no index here
    try:
        df = pd.read_csv(io.BytesIO(data), **kwargs)
    except Exception as e:
        raise _wrapped(e, where) from e
    if sep is not None:
        _check_no_extra_fields(df.pop(_EXTRA_FIELD), header.count(sep) + 1, where)
    if meta is not None:
        df = _coerce(df, meta, where)
    return with_path_column(df, path, path_column)


_EXTRA_FIELD = "__shoal_extra_field__"


def _widening_separator(kwargs: dict) -> bytes | None:
    """The one-byte separator when rows are checked for extra fields by a
    widened header (no ``on_bad_lines``, a plain separator, an
    ASCII-compatible encoding), else None (pandas' own checks then)."""
    if "on_bad_lines" in kwargs:
        return None
    sep = kwargs.get("sep", kwargs.get("delimiter", ","))
    encoding = str(kwargs.get("encoding") or "utf-8").lower().replace("_", "-")
    if not (isinstance(sep, str) and len(sep) == 1 and sep.isascii()):
        return None
    if encoding not in ("utf-8", "utf8", "ascii", "latin-1", "latin1", "iso-8859-1", "cp1252"):
        return None
    return sep.encode()


def _check_no_extra_fields(extra: pd.Series, width: int, where: str) -> None:
    """Raise when a row had a field past the header's ``width`` columns."""
    present = extra.notna().to_numpy()
    if present.any():
        row = int(present.argmax())
        raise CSVBlockError(
            f"{where}: row {row} of this block has more fields than the header's {width} "
            "columns (pandas and Dask reject such rows); fix the file, or pass "
            "on_bad_lines='skip' (or 'warn') to drop them"
        )


def path_column_of(include_path_column, files: list, columns) -> tuple | None:
    """``(name, dtype)`` of the column ``include_path_column`` asks for
    (True: ``"path"``; a string: that name), or None: a categorical whose
    categories are all the files read, so every partition has one dtype.

    >>> path_column_of(True, ["/a.csv", "/b.csv"], ["x"])[1].categories.tolist()
    ['/a.csv', '/b.csv']
    """
    if not include_path_column:
        return None
    name = "path" if include_path_column is True else include_path_column
    if name in list(columns):
        raise ValueError(
            f"include_path_column: the files already have a column {name!r}; pass "
            "include_path_column='another_name'"
        )
    return (name, pd.CategoricalDtype(list(files)))


def with_path_column(df: pd.DataFrame, path: str, path_column: tuple | None) -> pd.DataFrame:
    """``df`` with the path column ``path_column`` asks for (if any).

    >>> col = path_column_of(True, ["/a.csv", "/b.csv"], [])
    >>> with_path_column(pd.DataFrame({"x": [1]}), "/b.csv", col).path.tolist()
    ['/b.csv']
    """
    if path_column is None:
        return df
    name, dtype = path_column
    return df.assign(**{name: pd.Categorical([path] * len(df), dtype=dtype)})


class ReadCSV(FrameExpr):
    """One partition per block of each file (fusable: a block is parsed in
    the task of its first user)."""

    fs: Any
    blocks: tuple
    kwargs: dict
    meta: Any
    token: str
    path_column: Any = None

    fusable: ClassVar[bool] = True

    def _explain_args(self):
        usecols = self.kwargs.get("usecols")
        text = f"npartitions={self.npartitions}"
        return text + (f", usecols={usecols!r}" if usecols is not None else "")

    @property
    def _prefix(self):
        return "read-csv"

    @functools.cached_property
    def _name(self):
        path = None if self.path_column is None else self.path_column[0]
        return f"read-csv-{tokenize(self.token, self.kwargs, path)}"  # the token stands for fs

    @functools.cached_property
    def _file_meta(self):
        usecols = self.kwargs.get("usecols")
        return self.meta[usecols] if usecols is not None else self.meta

    @functools.cached_property
    def _meta(self):
        return with_path_column(self._file_meta, "", self.path_column)

    @functools.cached_property
    def divisions(self):
        return (None,) * (len(self.blocks) + 1)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        path, offset, length, header, compression = self.blocks[index[0]]
        return Task(
            read_csv_block,
            self.fs,
            path,
            offset,
            length,
            header,
            compression,
            self.kwargs,
            self._file_meta,
            offset == 0,
            self.path_column,
        )

    def _project_columns(self, needed: set):
        usecols = self.kwargs.get("usecols")
        current = list(usecols) if usecols is not None else list(self.meta.columns)
        cols = [c for c in current if c in needed]
        path_column = self.path_column
        if path_column is not None and path_column[0] not in needed:
            path_column = None
        if (cols == current and path_column == self.path_column) or not cols:
            return None
        kwargs = {**self.kwargs, "usecols": cols}
        if isinstance(kwargs.get("parse_dates"), list):  # pandas refuses dates it does not read
            kwargs["parse_dates"] = [c for c in kwargs["parse_dates"] if c in cols]
        return ReadCSV(self.fs, self.blocks, kwargs, self.meta, self.token, path_column)


def read_csv(
    path,
    blocksize: str | int | None = "64MiB",
    compression: str | None = "infer",
    dtype=None,
    usecols=None,
    parse_dates=None,
    sample: int = 256_000,
    storage_options: dict | None = None,
    include_path_column: bool | str = False,
    max_concurrent: int | None = None,
    max_read_rate: int | float | str | None = None,
    **kwargs,
):
    """Read CSV files (a path, glob, URL or list) into a DataFrame.

    ``blocksize`` splits uncompressed files at line boundaries (None: one
    partition per file); ``compression`` ("infer" from the extension, or
    e.g. "gzip") reads files whole. ``dtype``, ``usecols``, ``parse_dates``
    and other keywords go to ``pandas.read_csv``. Each partition has its own
    0-based index. ``include_path_column`` (True, or a column name) adds a
    column ``"path"`` holding each row's file (a categorical of all files).
    A row with more fields than the header is an error, also with ``usecols``.
    ``max_concurrent`` (at most that many reading tasks at once, cluster-wide)
    and ``max_read_rate`` (bytes per second per process) protect a shared
    store; see ``shoal.core.io_pacing`` for their config defaults.

    >>> import shoal.dataframe as sd
    >>> with open("/tmp/shoal-doc.csv", "w") as f:
    ...     _ = f.write("a,b\\n1,x\\n2,y\\n3,z\\n")
    >>> sd.read_csv("/tmp/shoal-doc.csv", blocksize=8).a.sum().compute()
    np.int64(6)
    """
    fs, files = expand_paths(path, storage_options, "read_csv")
    fs, io_annotations = io_limits(fs, max_concurrent, max_read_rate, "read_csv")
    if kwargs.get("header", "infer") not in ("infer", 0):
        raise ValueError("read_csv supports header=0 (a header line) only")
    for bad in ("chunksize", "iterator", "nrows", "skipfooter", "index_col"):
        if bad in kwargs:
            raise ValueError(f"read_csv does not support {bad}= on partitioned reads")
    if blocksize is not None:
        blocksize = parse_bytes(blocksize)
    opts = dict(kwargs)
    if dtype is not None:
        opts["dtype"] = dtype
    if parse_dates is not None:
        opts["parse_dates"] = parse_dates
    blocks: list[tuple[str, int, int | None, bytes, Any]] = []  # path, offset, length, ...
    infos = []
    for f in files:
        comp = infer_compression(f) if compression == "infer" else compression
        info = fs.info(f)
        infos.append((f, info.get("size"), str(info.get("mtime", info.get("created", "")))))
        header = _header(fs, f, comp)
        size = info.get("size") or 0
        if comp is not None or blocksize is None or size <= blocksize:
            blocks.append((f, 0, None, header, comp))
            continue
        for offset in range(0, size, blocksize):
            blocks.append((f, offset, blocksize, header, comp))
    head, sample_file = b"", files[0]
    for f, _, _, _, comp in blocks:
        if f == sample_file and head:
            continue
        with fs.open(f, "rb", compression=comp) as fh:
            data = fh.read(sample)
        if len(data) == sample:
            data = data[: data.rfind(b"\n") + 1]
        if not head or data.count(b"\n") > 1:
            head, sample_file = data, f
        if data.count(b"\n") > 1:
            break  # a file with rows after its header decides the dtypes
    try:
        meta = pd.read_csv(io.BytesIO(head), **opts).iloc[:0]
    except Exception as e:
        where = f"read_csv {sample_file!r}: cannot infer columns from the first {len(head)} bytes"
        raise _wrapped(e, where) from e
    unknown = {
        c: unknown_categorical()
        for c, d in meta.dtypes.items()
        if isinstance(d, pd.CategoricalDtype)
    }
    if unknown:  # each block finds its own categories
        meta = meta.astype(unknown)
    if isinstance(parse_dates, list):  # by name, so projections can keep only those read
        opts["parse_dates"] = [meta.columns[c] if isinstance(c, int) else c for c in parse_dates]
    if usecols is not None:
        missing = [c for c in usecols if c not in meta.columns]
        if missing:
            from shoal.dataframe.collection import _missing_message

            raise KeyError(_missing_message(missing, list(meta.columns), "read_csv usecols"))
        dates = opts["parse_dates"] if isinstance(parse_dates, list) else []
        unread = [c for c in dates if c not in usecols]
        if unread:
            raise ValueError(f"read_csv: parse_dates {unread} are not in usecols {list(usecols)}")
        opts["usecols"] = list(usecols)
        meta = meta[list(usecols)]
    path_column = path_column_of(include_path_column, files, meta.columns)
    from shoal.dataframe.collection import new_collection

    token = tokenize(infos, blocks)
    with annotate(**io_annotations):  # a concurrency pool for the reading tasks
        return new_collection(ReadCSV(fs, tuple(blocks), opts, meta, token, path_column))


def write_csv_part(
    part: pd.DataFrame, i: int, fs, pattern: str, kwargs: dict, names: tuple | None = None
) -> list[str]:
    """Write partition ``i`` to ``pattern`` with ``*`` replaced by ``i``
    (or by ``names[i]``)."""
    target = pattern.replace("*", str(i) if names is None else names[i])
    with fs.open(target, "w", newline="") as f:
        part.to_csv(f, **kwargs)
    return [target]


def append_csv_part(
    part: pd.DataFrame, i: int, previous, fs, target: str, kwargs: dict
) -> list[str]:
    """Write partition ``i`` into one file: the first creates it with the
    header, later ones append (each runs after the previous one)."""
    with fs.open(target, "w" if i == 0 else "a", newline="") as f:
        part.to_csv(f, **{**kwargs, "header": kwargs.get("header", True) if i == 0 else False})
    return [target]


class AppendCSV(FrameExpr):
    """Partitions appended to one file in order: a chain of tasks."""

    frame: FrameExpr
    fs: Any
    target: str
    kwargs: dict

    @property
    def _prefix(self):
        return "to-csv-single"

    @functools.cached_property
    def _meta(self):
        return []

    @functools.cached_property
    def divisions(self):
        return (None, None)

    def _build_layer(self, b: GraphBuilder) -> dict:
        step = self.stage_name("step")
        layer: dict = {}
        previous = None
        for i in range(self.frame.npartitions):
            layer[(step, i)] = Task(
                append_csv_part,
                b.ref(self.frame, (i,)),
                i,
                previous,
                self.fs,
                self.target,
                self.kwargs,
            )
            previous = Ref((step, i))
        layer[self.key((0,))] = previous
        return layer


def to_csv(
    df,
    path: str,
    single_file: bool = False,
    index: bool = False,
    compute: bool = True,
    storage_options: dict | None = None,
    name_function=None,
    **kwargs,
):
    """Write CSV: one file per partition (``*`` in ``path`` becomes the
    partition number, or ``name_function(i)``; a path without ``*`` is a
    directory of ``{i}.part`` files), or one file with ``single_file=True``
    (partitions appended in order). Returns the written paths (or a Scalar
    with ``compute=False``).

    >>> import pandas as pd, shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2, 3]}), npartitions=2)
    >>> sd.to_csv(df, "memory://doc/out-*.csv")
    ['/doc/out-0.csv', '/doc/out-1.csv']
    """
    from shoal.dataframe.collection import FrameBase, new_collection
    from shoal.dataframe.parquet import write_partitions

    if not isinstance(df, FrameBase):
        raise TypeError(f"to_csv expects a shoal DataFrame or Series, got {type(df).__name__}")
    fs, _ = fsspec.core.url_to_fs(str(path), **(storage_options or {}))
    target = fs._strip_protocol(str(path))
    kwargs = {**kwargs, "index": index}
    if single_file:
        parent = target.rsplit("/", 1)[0]
        if parent:
            fs.makedirs(parent, exist_ok=True)
        out = new_collection(AppendCSV(df.expr, fs, target, kwargs))
    else:
        if "*" not in target:
            fs.makedirs(target, exist_ok=True)
            target = target.rstrip("/") + "/*.part"
        else:
            parent = target.rsplit("/", 1)[0]
            if parent:
                fs.makedirs(parent, exist_ok=True)
        names = file_names(name_function, df.npartitions, "to_csv")
        out = write_partitions(
            df, write_csv_part, "to-csv", fs=fs, pattern=target, kwargs=kwargs, names=names
        )
    return out.compute() if compute else out


def file_names(name_function, n: int, what: str) -> tuple | None:
    """``name_function(i)`` for every partition, checked to be distinct
    strings before anything is written (None without a function).

    >>> file_names(lambda i: f"day-{i:02d}", 2, "to_csv")
    ('day-00', 'day-01')
    """
    if name_function is None:
        return None
    names = tuple(name_function(i) for i in range(n))
    if not all(isinstance(x, str) for x in names) or len(set(names)) != n:
        raise ValueError(
            f"{what}: name_function must give a distinct string for each of the {n} "
            f"partitions, got {list(names)[:5]}"
        )
    return names
