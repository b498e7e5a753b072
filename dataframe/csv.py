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

from shoal.core.build import GraphBuilder
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


_DIALECT = (
    "sep",
    "delimiter",
    "quotechar",
    "escapechar",
    "encoding",
    "doublequote",
    "skipinitialspace",
    "lineterminator",
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
) -> pd.DataFrame:
    """Parse one block of a file (``length=None``: the whole file)."""
    where = f"read_csv {path!r}"
    with fs.open(path, "rb", compression=compression) as f:
        if length is None:
            data = f.read()
        else:
            data = read_block(f, offset, length, delimiter=b"\n")
            where += f" bytes {offset}-{offset + length}"
    if len(data) < 4096 and not data.strip():
        return meta.copy() if meta is not None else pd.DataFrame()
    if not first:
        # parse the header alone for the names instead of copying it before the block
        dialect = {k: v for k, v in kwargs.items() if k in _DIALECT}
        names = list(pd.read_csv(io.BytesIO(header), nrows=0, **dialect).columns)
        kwargs = {**kwargs, "header": None, "names": names}
    try:
        df = pd.read_csv(io.BytesIO(data), **kwargs)
    except Exception as e:
        raise _wrapped(e, where) from e
    if meta is None:
        return df
    return _coerce(df, meta, where)


class ReadCSV(FrameExpr):
    """One partition per block of each file (fusable: a block is parsed in
    the task of its first user)."""

    fs: Any
    blocks: tuple
    kwargs: dict
    meta: Any
    token: str

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
        return f"read-csv-{tokenize(self.token, self.kwargs)}"  # the files' token stands for fs

    @functools.cached_property
    def _meta(self):
        usecols = self.kwargs.get("usecols")
        return self.meta[usecols] if usecols is not None else self.meta

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
            self._meta,
            offset == 0,
        )

    def _project_columns(self, needed: set):
        usecols = self.kwargs.get("usecols")
        current = list(usecols) if usecols is not None else list(self.meta.columns)
        cols = [c for c in current if c in needed]
        if cols == current or not cols:
            return None
        return ReadCSV(
            self.fs, self.blocks, {**self.kwargs, "usecols": cols}, self.meta, self.token
        )


def read_csv(
    path,
    blocksize: str | int | None = "64MiB",
    compression: str | None = "infer",
    dtype=None,
    usecols=None,
    parse_dates=None,
    sample: int = 256_000,
    storage_options: dict | None = None,
    **kwargs,
):
    """Read CSV files (a path, glob, URL or list) into a DataFrame.

    ``blocksize`` splits uncompressed files at line boundaries (None: one
    partition per file); ``compression`` ("infer" from the extension, or
    e.g. "gzip") reads files whole. ``dtype``, ``usecols``, ``parse_dates``
    and other keywords go to ``pandas.read_csv``. Each partition has its own
    0-based index.

    >>> import shoal.dataframe as sd
    >>> with open("/tmp/shoal-doc.csv", "w") as f:
    ...     _ = f.write("a,b\\n1,x\\n2,y\\n3,z\\n")
    >>> sd.read_csv("/tmp/shoal-doc.csv", blocksize=8).a.sum().compute()
    np.int64(6)
    """
    fs, files = expand_paths(path, storage_options, "read_csv")
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
    if usecols is not None:
        missing = [c for c in usecols if c not in meta.columns]
        if missing:
            from shoal.dataframe.collection import _missing_message

            raise KeyError(_missing_message(missing, list(meta.columns), "read_csv usecols"))
        opts["usecols"] = list(usecols)
        meta = meta[list(usecols)]
    from shoal.dataframe.collection import new_collection

    return new_collection(ReadCSV(fs, tuple(blocks), opts, meta, tokenize(infos, blocks)))


def write_csv_part(part: pd.DataFrame, i: int, fs, pattern: str, kwargs: dict) -> list[str]:
    """Write partition ``i`` to ``pattern`` with ``*`` replaced by ``i``."""
    target = pattern.replace("*", str(i))
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
    **kwargs,
):
    """Write CSV: one file per partition (``*`` in ``path`` becomes the
    partition number; a path without ``*`` is a directory of ``{i}.part``
    files), or one file with ``single_file=True`` (partitions appended in
    order). Returns the written paths (or a Scalar with ``compute=False``).

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
        out = write_partitions(df, write_csv_part, "to-csv", fs=fs, pattern=target, kwargs=kwargs)
    return out.compute() if compute else out
