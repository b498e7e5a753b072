"""Between ``shoal.dataframe`` and ``shoal.array``.

``from_array`` makes one partition per block of rows of an array (columns in
one block), with known divisions from the row positions. ``to_array`` and
``to_records`` turn each partition into one block of rows, lazily: the row
chunk sizes are unknown (``nan``) unless ``lengths=True`` computes them
first or ``lengths=[...]`` gives them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from shoal.core.delayed import delayed
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize

__all__ = ["from_array", "from_dask_array", "to_array", "to_records"]


def _block_frame(block: np.ndarray, columns, start: int):
    index = pd.RangeIndex(start, start + len(block))
    if block.ndim == 1:
        return pd.Series(block, index=index, name=columns)
    return pd.DataFrame(block, index=index, columns=columns)


def from_array(x: Any, columns=None, chunksize: int | None = None):
    """A DataFrame (2-d input) or Series (1-d) over the rows of an array.

    ``x`` is a ``shoal.array.Array`` (its row blocks become partitions) or a
    NumPy array (split every ``chunksize`` rows, default one partition).

    >>> import shoal.array as sa
    >>> df = from_array(sa.arange(12, chunks=4).reshape((6, 2)), columns=["a", "b"])
    >>> df.npartitions, df.divisions, df.b.sum().compute()
    (3, (0, 2, 4, 5), np.int64(36))
    """
    from shoal.dataframe.io import from_delayed, from_pandas

    if isinstance(x, np.ndarray):
        if x.ndim not in (1, 2):
            raise ValueError(f"from_array needs a 1-d or 2-d array, got {x.ndim}-d")
        frame = _block_frame(x, columns if x.ndim == 2 else columns, 0)
        return from_pandas(frame, chunksize=chunksize or max(len(x), 1))
    import shoal.array as sa

    if not isinstance(x, sa.Array):
        raise TypeError(
            f"from_array expects a shoal.array.Array or numpy array, got {type(x).__name__}"
        )
    if x.ndim not in (1, 2):
        raise ValueError(f"from_array needs a 1-d or 2-d array, got {x.ndim}-d")
    if x.ndim == 2:
        if columns is None:
            columns = list(range(x.shape[1]))
        if len(columns) != x.shape[1]:
            raise ValueError(f"from_array: {len(columns)} column names for {x.shape[1]} columns")
        if len(x.chunks[1]) > 1:
            x = sa.rechunk(x, (x.chunks[0], (x.shape[1],)))
        blocks = [row[0] for row in x.to_delayed()]
    else:
        blocks = list(x.to_delayed())
    sizes = list(x.chunks[0])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    meta = _block_frame(np.empty((0,) + x.shape[1:], dtype=x.dtype), columns, 0)
    make = delayed(_block_frame)
    parts = [make(b, columns, int(s)) for b, s, n in zip(blocks, starts, sizes)]
    keep = [i for i, n in enumerate(sizes) if n] or [0]
    divisions = [int(starts[i]) for i in keep] + [max(int(starts[-1]) - 1, 0)]
    return from_delayed([parts[i] for i in keep], meta=meta, divisions=tuple(divisions))


def from_dask_array(x: Any, columns=None, index=None, meta=None):
    """Dask's spelling of ``from_array`` (``index=`` and ``meta=`` are not
    supported: ``set_index`` or ``astype`` the result).

    >>> import shoal.array as sa
    >>> from_dask_array(sa.arange(4, chunks=2), columns="v").compute().tolist()
    [0, 1, 2, 3]
    """
    if index is not None or meta is not None:
        raise TypeError(
            "from_dask_array: index= and meta= are not supported; build the frame, then "
            "set_index(...) or astype(...)"
        )
    return from_array(x, columns=columns)


def _values(part, records: bool, index: bool, length: int | None = None, i: int = 0):
    out = part.to_records(index=index) if records else part.to_numpy()
    if length is not None and len(out) != length:
        raise ValueError(
            f"partition {i} has {len(out)} rows, but lengths= said {length}; pass "
            "lengths=True to compute them"
        )
    return out


def _length(part) -> pd.Series:
    return pd.Series([len(part)], dtype="int64")


def _lengths(frame, lengths) -> tuple:
    """The chunk sizes along rows: computed (True), given, or unknown (nan)."""
    n = frame.npartitions
    if lengths is None or lengths is False:
        return (math.nan,) * n
    if lengths is True:
        sizes = frame.map_partitions(_length, meta=(None, "int64"))
        return tuple(int(k) for k in sizes.compute())
    sizes = tuple(lengths)
    if len(sizes) != n or not all(isinstance(k, (int, np.integer)) and k >= 0 for k in sizes):
        raise ValueError(
            f"lengths must be True, None or {n} non-negative integers (one per partition), "
            f"got {lengths!r}"
        )
    return tuple(int(k) for k in sizes)


def to_array(frame, lengths=None, records: bool = False, index: bool = False):
    """A ``shoal.array.Array`` of the values (or records) of a collection.

    ``lengths``: None (the default) leaves the row chunk sizes unknown
    (``nan``; ``Array.compute_chunk_sizes()`` finds them later), True
    computes the partitions' lengths first, a sequence gives them (each
    partition is checked against it when it is computed).

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]}), npartitions=2)
    >>> to_array(df).chunks
    ((nan, nan), (2,))
    >>> to_array(df, lengths=True).chunks
    ((2, 1), (2,))
    >>> to_array(df).compute()
    array([[1, 4],
           [2, 5],
           [3, 6]])
    """
    from shoal.array.core import Array
    from shoal.array.expr import FromGraph

    sizes = _lengths(frame, lengths)
    known = not math.isnan(sizes[0]) if sizes else True
    sample = _values(frame._meta, records, index)
    graph = dict(frame.__shoal_graph__())
    keys = frame.__shoal_keys__()
    name = "values-" + tokenize(keys, records, index, sizes)
    for i, key in enumerate(keys):
        block = (name, i) if sample.ndim == 1 else (name, i, 0)
        graph[block] = Task(_values, Ref(key), records, index, sizes[i] if known else None, i)
    chunks = (sizes,) + tuple((n,) for n in sample.shape[1:])
    return Array(FromGraph(name, graph, chunks, sample))


def to_records(frame, lengths=None, index: bool = True):
    """A ``shoal.array.Array`` of NumPy records (``to_array(records=True)``),
    the index first unless ``index=False``, as pandas' ``to_records``.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2]}), npartitions=2)
    >>> to_records(df, lengths=True).compute()["a"].tolist()
    [1, 2]
    """
    return to_array(frame, lengths=lengths, records=True, index=index)
