"""Rows of a frame cut by target and carried as Arrow record batches.

A shuffle cuts every input partition into one piece per output, moves the
pieces (to files, or to other workers) and glues each output's pieces back
together. With pandas pieces each of those steps pays per piece and per
column (a ``take``, a pickle of every block, then a concat of hundreds of
small frames); here the partition becomes one Arrow table once, its rows are
sorted by target once, and each piece is a zero-copy slice serialized as an
Arrow IPC record batch (``ArrowRows``: its buffers pickle out of band, so a
piece is written or sent without another copy). An output decodes its
pieces without copying them and converts them to pandas once.

Only frames whose every column and index level round-trip through Arrow
exactly take this path (numbers, booleans, datetimes, timedeltas, strings,
nullable integers and floats); anything else (object columns, categoricals,
periods, duplicate column names, a Series) stays a pandas piece, and an
output may mix both kinds.

>>> import pandas as pd
>>> df = pd.DataFrame({"k": [3, 1, 2, 1], "s": ["a", "b", "c", "d"]})
>>> pieces = split_rows(df, np.array([1, 0, 1, 0]), 2)
>>> [type(p).__name__ for p in pieces], [len(p) for p in pieces]
(['ArrowRows', 'ArrowRows'], [2, 2])
>>> concat_rows(pieces, df.iloc[:0])
   k  s
1  1  b
3  1  d
0  3  a
2  2  c
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.core.dtypes.dtypes import BaseMaskedDtype

from shoal.dataframe.concat import concat_frames
from shoal.dataframe.shuffle_tasks import split_by_target

__all__ = ["ArrowRows", "split_rows", "concat_rows"]


class ArrowRows:
    """Some rows of a frame: an Arrow schema and one record batch, both
    serialized (IPC). Pickling keeps both buffers out of band.

    >>> df = pd.DataFrame({"x": [1.5, 2.5]})
    >>> rows = split_rows(df, np.array([0, 0]), 1)[0]
    >>> len(rows), rows.to_pandas().equals(df)
    (2, True)
    """

    __slots__ = ("schema", "batch", "num_rows")

    def __init__(self, schema: pa.Buffer, batch: pa.Buffer, num_rows: int):
        self.schema = schema
        self.batch = batch
        self.num_rows = num_rows

    def __len__(self) -> int:
        return self.num_rows

    def __reduce__(self) -> tuple:
        return ArrowRows, (self.schema, self.batch, self.num_rows)

    def record_batch(self, schemas: dict | None = None) -> pa.RecordBatch:
        """The rows as a record batch (sharing this object's memory);
        ``schemas`` caches decoded schemas by their bytes."""
        key = self.schema.to_pybytes()
        schema = None if schemas is None else schemas.get(key)
        if schema is None:
            schema = pa.ipc.read_schema(self.schema)
            if schemas is not None:
                schemas[key] = schema
        return pa.ipc.read_record_batch(self.batch, schema)

    def to_pandas(self) -> pd.DataFrame:
        """The rows as the pandas frame they were cut from."""
        return pa.Table.from_batches([self.record_batch()]).to_pandas()


def split_rows(part: Any, targets: np.ndarray, k: int) -> list:
    """``part`` cut into ``k`` pieces by ``targets`` (one per row, in
    ``range(k)``), rows in input order within a piece: ``ArrowRows`` when
    the frame round-trips through Arrow (module docstring), else pandas.

    >>> pieces = split_rows(pd.Series([10, 11, 12]), np.array([1, 0, 1]), 2)
    >>> [p.tolist() for p in pieces]  # a Series stays pandas
    [[11], [10, 12]]
    """
    table = _as_arrow(part)
    if table is None:
        return [rows for rows, _ in split_by_target(part, targets, 1, k)]
    counts = np.bincount(targets, minlength=k)
    if counts.max(initial=0) == len(targets):
        ordered = table  # everything goes one way: no sort
    else:
        small = np.uint8 if k <= 2**8 else np.uint16 if k <= 2**16 else targets.dtype
        # a stable sort of small unsigned integers is a radix sort: ~15x faster than of int64
        ordered = table.take(np.argsort(targets.astype(small, copy=False), kind="stable"))
    batches = ordered.combine_chunks().to_batches()
    schema = table.schema.serialize()
    pieces: list = []
    start = 0
    for n in counts.tolist():
        if n:
            rows = batches[0].slice(start, n)
            pieces.append(ArrowRows(schema, rows.serialize(), n))
        else:
            pieces.append(part.iloc[:0])
        start += n
    return pieces


def concat_rows(pieces: list, meta: Any) -> Any:
    """One frame of ``pieces`` (``ArrowRows`` or pandas) in order; ``meta``
    when there are none.

    >>> df = pd.DataFrame({"x": [1, 2, 3]})
    >>> concat_rows(split_rows(df, np.array([0, 1, 0]), 2), df.iloc[:0]).x.tolist()
    [1, 3, 2]
    >>> concat_rows([], df.iloc[:0]).shape
    (0, 1)
    """
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return meta
    if all(type(p) is ArrowRows for p in pieces):
        schemas: dict = {}
        batches = [p.record_batch(schemas) for p in pieces]
        if len(schemas) == 1:  # one schema (the usual case): one conversion
            return pa.Table.from_batches(batches).combine_chunks().to_pandas()
    frames = [p.to_pandas() if type(p) is ArrowRows else p for p in pieces]
    return concat_frames(frames)


def _as_arrow(part: Any) -> pa.Table | None:
    """``part`` as an Arrow table (index kept as columns) if it comes back
    from Arrow exactly (same columns, dtypes and index), else None."""
    if type(part) is not pd.DataFrame or not len(part):
        return None
    if not all(_arrow_exact(t) for t in part.dtypes) or not part.columns.is_unique:
        return None
    index = part.index
    levels = [index.get_level_values(n) for n in range(index.nlevels)]
    if not all(_arrow_exact(level.dtype) for level in levels):
        return None
    try:
        table = pa.Table.from_pandas(part, preserve_index=True)
        back = table.slice(0, 1).to_pandas()
    except (pa.ArrowException, ValueError, TypeError):
        return None
    same = (
        back.columns.equals(part.columns)
        and back.columns.dtype == part.columns.dtype
        and back.dtypes.equals(part.dtypes)
        and back.index.names == index.names
        and [str(back.index.get_level_values(n).dtype) for n in range(back.index.nlevels)]
        == [str(level.dtype) for level in levels]
    )
    return table if same else None


def _arrow_exact(dtype: Any) -> bool:
    """Whether a column of ``dtype`` round-trips through Arrow unchanged."""
    if isinstance(dtype, np.dtype):
        return dtype.kind in "biufmM"
    return isinstance(dtype, (pd.StringDtype, pd.DatetimeTZDtype, BaseMaskedDtype))
