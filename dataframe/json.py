"""JSON IO: ``read_json`` / ``to_json`` (line-delimited records by default).

With ``lines=True`` files are cut into blocks of about ``blocksize`` bytes at
newlines (like ``read_csv``, without a header); otherwise, or for compressed
files, each file is one partition. Column dtypes come from the first block
of data and every block is cast to them losslessly or raises
``CSVBlockError`` naming the file and column.
"""

from __future__ import annotations

import functools
import io
from typing import Any, ClassVar

import fsspec
import pandas as pd
from fsspec.utils import infer_compression, read_block

from shoal.core.build import GraphBuilder
from shoal.core.task import Task
from shoal.core.tokenize import tokenize
from shoal.core.utils import parse_bytes
from shoal.dataframe.csv import _coerce, _wrapped, path_column_of, with_path_column
from shoal.dataframe.expr import FrameExpr
from shoal.dataframe.meta import make_meta
from shoal.dataframe.paths import expand_paths

__all__ = ["read_json", "to_json"]


def read_json_block(fs, path, offset, length, compression, kwargs, meta, path_column=None):
    """Parse one block (``length=None``: the whole file) and check it
    against ``meta``: keys it lacks become missing values, a key that
    ``meta`` does not have is an error naming the file and the column."""
    where = f"read_json {path!r}"
    with fs.open(path, "rb", compression=compression) as f:
        if length is None:
            data = f.read()
        else:
            data = read_block(f, offset, length, delimiter=b"\n")
            where += f" bytes {offset}-{offset + length}"
    if not data.strip():
        empty = meta.copy() if meta is not None else pd.DataFrame()
        return with_path_column(empty, path, path_column)
    try:
        df = pd.read_json(io.BytesIO(data), **kwargs)
    except Exception as e:
        raise _wrapped(e, where) from e
    if meta is None:
        return df
    extra = [c for c in df.columns if c not in set(meta.columns)]
    if extra:
        raise ValueError(
            f"{where}: column(s) {extra} are not among the columns {list(meta.columns)} "
            "the collection was planned with (found in the first block of data, or given "
            "as meta=); pass meta= naming every column, e.g. "
            f"meta={{{', '.join(f'{c!r}: dtype' for c in [*meta.columns, *extra])}}}"
        )
    missing = [c for c in meta.columns if c not in df.columns]
    for c in missing:  # a key absent from every record of this block
        df[c] = pd.Series(pd.NA, index=df.index, dtype="object")
    return with_path_column(_coerce(df[list(meta.columns)], meta, where), path, path_column)


class ReadJSON(FrameExpr):
    """One partition per block of each file (fusable, like ``ReadCSV``)."""

    fs: Any
    blocks: tuple
    kwargs: dict
    meta: Any
    token: str
    path_column: Any = None

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("npartitions",)

    @property
    def _prefix(self):
        return "read-json"

    @functools.cached_property
    def _name(self):
        path = None if self.path_column is None else self.path_column[0]
        return f"read-json-{tokenize(self.token, self.kwargs, path)}"  # the token stands for fs

    @functools.cached_property
    def _meta(self):
        return with_path_column(self.meta, "", self.path_column)

    @functools.cached_property
    def divisions(self):
        return (None,) * (len(self.blocks) + 1)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        path, offset, length, compression = self.blocks[index[0]]
        return Task(
            read_json_block,
            self.fs,
            path,
            offset,
            length,
            compression,
            self.kwargs,
            self.meta,
            self.path_column,
        )


def read_json(
    path,
    lines: bool = True,
    blocksize: str | int | None = "64MiB",
    compression: str | None = "infer",
    storage_options: dict | None = None,
    meta=None,
    include_path_column: bool | str = False,
    **kwargs,
):
    """Read JSON files (a path, glob, URL or list) into a DataFrame.

    ``lines=True`` reads one record per line and splits files into blocks
    at newlines; ``lines=False`` reads each file whole (``orient`` and other
    keywords go to ``pandas.read_json``). The columns are those of the
    first block with data, or ``meta=`` (a dict of column -> dtype, or an
    empty pandas DataFrame); a record with a key outside them is an error
    naming the file and the key (as Dask), and keys a block lacks are
    missing values. ``include_path_column`` as in ``read_csv``.

    >>> import pandas as pd, shoal.dataframe as sd
    >>> pd.DataFrame({"a": [1, 2, 3]}).to_json("memory://doc/j.json", orient="records",
    ...                                         lines=True)
    >>> sd.read_json("memory://doc/j.json", blocksize=8).a.sum().compute()
    np.int64(6)
    """
    fs, files = expand_paths(path, storage_options, "read_json")
    opts = {"lines": lines, **kwargs}
    if lines:
        opts.setdefault("orient", "records")
    size_limit = parse_bytes(blocksize) if blocksize is not None and lines else None
    blocks: list[tuple[str, int, int | None, Any]] = []  # (path, offset, length, compression)
    infos = []
    for f in files:
        comp = infer_compression(f) if compression == "infer" else compression
        info = fs.info(f)
        size = info.get("size") or 0
        infos.append((f, size, str(info.get("mtime", info.get("created", "")))))
        if comp is not None or size_limit is None or size <= size_limit:
            blocks.append((f, 0, None, comp))
        else:
            blocks.extend((f, off, size_limit, comp) for off in range(0, size, size_limit))
    if meta is not None:
        meta = make_meta(meta)
        if not isinstance(meta, pd.DataFrame):
            raise TypeError(
                f"read_json: meta= must describe a DataFrame (a dict of column -> dtype), "
                f"got {type(meta).__name__}"
            )
    for block in blocks if meta is None else ():
        first = read_json_block(fs, *block, opts, None)
        if len(first.columns):
            meta = first.iloc[:0]
            break
    if meta is None:
        raise ValueError(f"read_json: no records found in {files}")
    path_column = path_column_of(include_path_column, files, meta.columns)
    from shoal.dataframe.collection import new_collection

    token = tokenize(infos, blocks)
    return new_collection(ReadJSON(fs, tuple(blocks), opts, meta, token, path_column))


def write_json_part(
    part: pd.DataFrame, i: int, fs, pattern: str, kwargs: dict, names: tuple | None = None
) -> list[str]:
    """Write partition ``i`` to ``pattern`` with ``*`` replaced by ``i``
    (or by ``names[i]``)."""
    target = pattern.replace("*", str(i) if names is None else names[i])
    with fs.open(target, "w") as f:
        part.to_json(f, **kwargs)
    return [target]


def to_json(
    df,
    path: str,
    orient: str = "records",
    lines: bool = True,
    compute: bool = True,
    storage_options: dict | None = None,
    name_function=None,
    **kwargs,
):
    """Write one JSON file per partition (``*`` in ``path`` becomes the
    partition number, or ``name_function(i)``; a path without ``*`` is a
    directory of ``{i}.part``).

    >>> import pandas as pd, shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2, 3]}), npartitions=2)
    >>> sd.to_json(df, "memory://doc/json-*.json")
    ['/doc/json-0.json', '/doc/json-1.json']
    """
    from shoal.dataframe.collection import FrameBase
    from shoal.dataframe.csv import file_names
    from shoal.dataframe.parquet import write_partitions

    if not isinstance(df, FrameBase):
        raise TypeError(f"to_json expects a shoal DataFrame or Series, got {type(df).__name__}")
    fs, _ = fsspec.core.url_to_fs(str(path), **(storage_options or {}))
    target = fs._strip_protocol(str(path))
    if "*" not in target:
        fs.makedirs(target, exist_ok=True)
        target = target.rstrip("/") + "/*.part"
    else:
        parent = target.rsplit("/", 1)[0]
        if parent:
            fs.makedirs(parent, exist_ok=True)
    kwargs = {"orient": orient, "lines": lines, **kwargs}
    names = file_names(name_function, df.npartitions, "to_json")
    out = write_partitions(
        df, write_json_part, "to-json", fs=fs, pattern=target, kwargs=kwargs, names=names
    )
    return out.compute() if compute else out
