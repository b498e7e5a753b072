"""Between ``shoal.dataframe`` and ``shoal.array``.

``from_array`` makes one partition per block of rows of an array (columns in
one block), with known divisions from the row positions. ``to_array`` and
``to_records`` need each partition's length, because shoal arrays have
known chunk sizes: they compute the lengths first (``lengths=True``), then
build the array lazily from the partitions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shoal.core.delayed import delayed

__all__ = ["from_array", "to_array", "to_records"]


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


def _values(part, records: bool, index: bool):
    if records:
        return part.to_records(index=index)
    return part.to_numpy()


def _lengths(frame) -> list[int]:
    sizes = frame.map_partitions(lambda p: pd.Series([len(p)]), meta=(None, "int64"))
    return [int(n) for n in sizes.compute()]


def to_array(frame, lengths: bool = True, records: bool = False, index: bool = False):
    """A ``shoal.array.Array`` of the values (or records) of a collection.

    The partitions' lengths are computed first (``lengths=True``; shoal
    arrays need known chunk sizes).

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]}), npartitions=2)
    >>> to_array(df).compute()
    array([[1, 4],
           [2, 5],
           [3, 6]])
    """
    import shoal.array as sa

    if not lengths:
        raise ValueError(
            "to_array needs lengths=True: shoal arrays have known chunk sizes, "
            "so the partition lengths are computed first"
        )
    meta = frame._meta
    sample = _values(meta, records, index)
    sizes = _lengths(frame)
    make = delayed(_values)
    blocks = []
    for part, n in zip(frame.to_delayed(), sizes):
        shape = (n,) + sample.shape[1:]
        blocks.append(sa.from_delayed(make(part, records, index), shape, dtype=sample.dtype))
    return sa.concatenate(blocks) if len(blocks) > 1 else blocks[0]


def to_records(frame, lengths: bool = True, index: bool = False):
    """A ``shoal.array.Array`` of NumPy records (``to_array(records=True)``).

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2]}), npartitions=2)
    >>> to_records(df).compute()["a"].tolist()
    [1, 2]
    """
    return to_array(frame, lengths=lengths, records=True, index=index)
