"""Bytes held by a result: what a worker counts as its managed memory.

Buffers are counted, not Python object headers: a NumPy array or a pyarrow
table by its ``nbytes``, a pandas object by its columns (object columns by
a sample of their values), containers by their header plus a sample of
their items (so sizing a list of a million items costs as much as sizing
sixteen). The figure feeds spilling decisions, so it must be cheap and
roughly right, not exact.

>>> sizeof(b"abc"), sizeof([b"ab", b"cd"]) > 4
(3, True)
"""

from __future__ import annotations

import sys
from sys import getsizeof
from typing import Any

__all__ = ["sizeof"]

_SAMPLE = 16  # items of a container (or values of an object column) measured
_MAX_DEPTH = 4  # nesting of containers followed before counting headers only
_SCALARS = frozenset({int, float, bool, complex, type(None)})


def sizeof(obj: Any) -> int:
    """Approximate bytes held by ``obj`` and what it refers to.

    >>> import numpy as np, pandas as pd
    >>> sizeof(np.zeros(10))
    80
    >>> sizeof(pd.Series(np.zeros(100))) >= 800
    True
    >>> sizeof({"a": np.zeros(1000)}) > 8000
    True
    """
    if type(obj) in _SCALARS:  # the results of many small tasks: the quickest answer
        return getsizeof(obj)
    return _sizeof(obj, _MAX_DEPTH)


def _sizeof(obj: Any, depth: int) -> int:
    typ = type(obj)
    if typ in _SCALARS:
        return getsizeof(obj)
    if typ is bytes or typ is bytearray:
        return len(obj)
    if typ is str:
        return sys.getsizeof(obj)
    if typ is memoryview:
        return obj.nbytes
    if typ in (list, tuple, set, frozenset, dict):
        return _container(obj, typ, depth)
    if hasattr(obj, "memory_usage") and hasattr(obj, "dtypes"):
        return _pandas(obj)
    nbytes = getattr(obj, "nbytes", None)  # numpy, pyarrow, cupy, sparse ...
    if type(nbytes) is int:
        return nbytes
    if callable(nbytes):  # pyarrow < 13 style methods
        try:
            return int(nbytes())
        except Exception:
            pass
    return sys.getsizeof(obj)


def _container(obj: Any, typ: type, depth: int) -> int:
    size = sys.getsizeof(obj)
    n = len(obj)
    if not n or depth <= 0:
        return size
    pairs = obj.items() if typ is dict else obj
    sample = pairs if n <= _SAMPLE else [x for _, x in zip(range(_SAMPLE), pairs)]
    measured = 0
    count = 0
    for item in sample:
        if typ is dict:
            measured += _sizeof(item[0], depth - 1) + _sizeof(item[1], depth - 1)
        else:
            measured += _sizeof(item, depth - 1)
        count += 1
    return size + (measured * n // count if count else 0)


def _pandas(obj: Any) -> int:
    """A DataFrame, Series or Index: buffers plus sampled object values."""
    try:
        usage = obj.memory_usage(deep=False)
    except Exception:
        return sys.getsizeof(obj)
    total = int(usage.sum()) if hasattr(usage, "sum") else int(usage)
    columns = (
        [obj] if not hasattr(obj, "columns") else [obj.iloc[:, i] for i in range(obj.shape[1])]
    )
    for col in columns:
        if str(getattr(col, "dtype", "")) == "object" and len(col):
            values = col.iloc[:_SAMPLE] if hasattr(col, "iloc") else col[:_SAMPLE]
            per = sum(_sizeof(v, 1) for v in values) / len(values)
            total += int(per * len(col))
    return total
