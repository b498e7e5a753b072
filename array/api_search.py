"""Searching, set and sorting functions of the Array API namespace.

Functions whose output length depends on the data (``nonzero``,
``unique_*``) return arrays of known shape, as the standard's tests expect:
they compute the lengths when called (``compute_chunk_sizes``), so calling
them runs part of the plan once. ``unique_*`` follow the standard's NaN rule
(every NaN is distinct) and gather the flattened array into one block;
``shoal.array.unique`` is the blocked, lazy alternative.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.exceptions import AxisError  # an IndexError and a ValueError

from . import routines, search, sorting
from .api_dtypes import result_type
from .api_manipulation import take
from .blockwise import map_blocks
from .convert import asarray
from .core import Array

__all__ = [
    "UniqueAllResult",
    "UniqueCountsResult",
    "UniqueInverseResult",
    "argsort",
    "isin",
    "nonzero",
    "searchsorted",
    "sort",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
    "where",
]


class UniqueAllResult(NamedTuple):
    values: Array
    indices: Array
    inverse_indices: Array
    counts: Array


class UniqueCountsResult(NamedTuple):
    values: Array
    counts: Array


class UniqueInverseResult(NamedTuple):
    values: Array
    inverse_indices: Array


def _unravel(flat: np.ndarray, shape: tuple, axis: int) -> np.ndarray:
    return np.unravel_index(flat, shape)[axis].astype(np.int64)


def nonzero(x: Array, /) -> tuple:
    """Indices of the non-zero elements, one array per axis (lengths computed now).

    >>> [a.compute() for a in nonzero(asarray([[0, 1], [1, 0]]))]
    [array([0, 1]), array([1, 0])]
    """
    x = asarray(x)
    if x.ndim == 0:
        raise ValueError("nonzero needs an array of at least one axis (0-d is ambiguous)")
    flat = routines.flatnonzero(x).compute_chunk_sizes()
    return tuple(map_blocks(_unravel, flat, x.shape, a, dtype=np.int64) for a in range(x.ndim))


def where(condition: Array, x1: Any, x2: Any, /) -> Array:
    """``x1`` where ``condition`` holds, else ``x2`` (arrays or scalars, broadcast).

    >>> where(asarray([True, False]), asarray([1, 2]), 0).compute()
    array([1, 0])
    """
    condition = asarray(condition)
    if condition.dtype.kind != "b":  # the standard asks for bool; NumPy takes truth values
        condition = condition.astype(bool)
    dtype = result_type(x1, x2)
    x1 = x1.astype(dtype) if isinstance(x1, Array) else x1
    x2 = x2.astype(dtype) if isinstance(x2, Array) else x2
    return routines.where(condition, x1, x2).astype(dtype)


def searchsorted(
    x1: Array, x2: Any, /, *, side: str = "left", sorter: Array | None = None
) -> Array:
    """Where ``x2``'s values would go into the sorted 1-D ``x1`` (or ``x1[sorter]``).

    >>> searchsorted(asarray([1, 3, 5]), asarray([0, 3, 6])).compute()
    array([0, 1, 3])
    """
    x1 = asarray(x1)
    if sorter is not None:
        x1 = take(x1, sorter)
    out = search.searchsorted(x1, x2, side=side)  # type: ignore[arg-type]
    return out.astype(np.int64)


def isin(x1: Any, x2: Any, /, *, invert: bool = False) -> Array:
    """Whether each element of ``x1`` is in ``x2`` (a scalar ``x1`` gives a 0-d array).

    >>> isin(asarray([1, 2, 3]), asarray([2])).compute()
    array([False,  True, False])
    """
    if not isinstance(x1, Array) and not isinstance(x2, Array):
        raise TypeError("isin needs x1 or x2 to be an array")
    return search.isin(asarray(x1), asarray(x2), invert=invert)


def _unique_part(block: np.ndarray, part: int) -> np.ndarray:
    values, index, inverse, counts = np.unique(
        block.ravel(), return_index=True, return_inverse=True, return_counts=True, equal_nan=False
    )
    if part == 0:
        return values
    return (index, inverse, counts)[part - 1].astype(np.int64)


def _unique(x: Array, parts: tuple) -> list:
    x = asarray(x)
    flat = x.reshape((-1,)).rechunk(-1)
    values = map_blocks(_unique_part, flat, 0, dtype=x.dtype, chunks=((np.nan,),))
    values = values.compute_chunk_sizes()
    n = values.shape[0]
    out = []
    for part in parts:
        if part == 0:
            out.append(values)
        elif part == 2:
            inverse = map_blocks(_unique_part, flat, 2, dtype=np.int64)
            out.append(inverse.reshape(x.shape))
        else:
            out.append(map_blocks(_unique_part, flat, part, dtype=np.int64, chunks=((n,),)))
    return out


def unique_values(x: Array, /) -> Array:
    """The unique values, sorted (each NaN its own value).

    >>> unique_values(asarray([2, 1, 2])).compute()
    array([1, 2])
    """
    return _unique(x, (0,))[0]


def unique_counts(x: Array, /) -> UniqueCountsResult:
    """The unique values and how often each occurs.

    >>> unique_counts(asarray([2, 1, 2])).counts.compute()
    array([1, 2])
    """
    return UniqueCountsResult(*_unique(x, (0, 3)))


def unique_inverse(x: Array, /) -> UniqueInverseResult:
    """The unique values and, for each element of ``x``, its value's position.

    >>> unique_inverse(asarray([2, 1, 2])).inverse_indices.compute()
    array([1, 0, 1])
    """
    return UniqueInverseResult(*_unique(x, (0, 2)))


def unique_all(x: Array, /) -> UniqueAllResult:
    """Unique values, their first indices (flattened), the inverse and the counts.

    >>> unique_all(asarray([2, 1, 2])).indices.compute()
    array([1, 0])
    """
    return UniqueAllResult(*_unique(x, (0, 1, 2, 3)))


def sort(x: Array, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Array:
    """``x`` sorted along ``axis`` (gathered into one block along it).

    >>> sort(asarray([3, 1, 2]), descending=True).compute()
    array([3, 2, 1])
    """
    x = asarray(x)
    _check_axis(axis, x.ndim, "sort")
    return sorting.sort(x, axis=axis, descending=descending, stable=stable)


def argsort(x: Array, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Array:
    """The indices that sort ``x`` along ``axis`` (ties keep their order).

    >>> argsort(asarray([3, 1, 3]), descending=True).compute()
    array([0, 2, 1])
    """
    x = asarray(x)
    _check_axis(axis, x.ndim, "argsort")
    return sorting.argsort(x, axis=axis, descending=descending, stable=stable)


def _check_axis(axis: int, ndim: int, what: str) -> None:
    if not -(ndim or 1) <= axis < (ndim or 1):
        raise AxisError(f"{what}: axis {axis} out of range for {ndim} axes")
