"""Sorting along an axis: ``sort`` and ``argsort`` (Array API signatures).

The sorted axis is gathered into one block (memory: the whole axis times
the other axes' block lengths); the other axes keep their blocks.
"""

from __future__ import annotations

import numpy as np

from .blockwise import _LETTERS, blockwise
from .convert import asarray
from .core import Array

__all__ = ["sort", "argsort"]


def _sort_block(block: np.ndarray, axis: int, descending: bool, arg: bool) -> np.ndarray:
    if not descending:
        if arg:
            return np.argsort(block, axis=axis, kind="stable").astype(np.int64)
        return np.sort(block, axis=axis, kind="stable")
    if not arg:
        return np.flip(np.sort(block, axis=axis, kind="stable"), axis=axis)
    # stable descending: equal elements keep their original order
    n = block.shape[axis]
    reversed_order = np.argsort(np.flip(block, axis=axis), axis=axis, kind="stable")
    return (n - 1 - np.flip(reversed_order, axis=axis)).astype(np.int64)


def _sorted(x: Array, axis: int, descending: bool, stable: bool, arg: bool) -> Array:
    x = asarray(x)
    axis %= x.ndim
    x = x.rechunk({axis: -1})
    letters = _LETTERS[: x.ndim]
    return blockwise(
        _sort_block,
        letters,
        x,
        letters,
        axis,
        None,
        descending,
        None,
        arg,
        None,
        dtype=np.int64 if arg else x.dtype,
        name="argsort" if arg else "sort",
    )


def sort(x: Array, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Array:
    """Sorted along ``axis`` (gathered into one block along it).

    >>> import shoal.array as sa
    >>> sort(sa.asarray([3, 1, 2], chunks=2)).compute()
    array([1, 2, 3])
    """
    return _sorted(x, axis, descending, stable, arg=False)


def argsort(x: Array, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Array:
    """Indices that sort ``x`` along ``axis``.

    >>> import shoal.array as sa
    >>> argsort(sa.asarray([3, 1, 2], chunks=2), descending=True).compute()
    array([0, 2, 1])
    """
    return _sorted(x, axis, descending, stable, arg=True)
