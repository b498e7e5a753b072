"""Manipulation and indexing functions of the Array API namespace, with the
standard's signatures: ``concat`` (``axis=None`` flattens), ``squeeze``
(``axis`` required), ``repeat`` (an int or an array of counts), ``unstack``,
``broadcast_shapes``, ``take`` and ``take_along_axis``. Tuples, not lists,
come back from ``broadcast_arrays`` and ``unstack`` (2025.12).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.exceptions import AxisError  # an IndexError and a ValueError

from . import manipulation
from . import shape as shapes
from .api_dtypes import result_type
from .blockwise import _LETTERS, blockwise
from .convert import asarray, from_array, held_numpy
from .core import Array

__all__ = [
    "broadcast_arrays",
    "broadcast_shapes",
    "broadcast_to",
    "concat",
    "expand_dims",
    "flip",
    "moveaxis",
    "permute_dims",
    "repeat",
    "reshape",
    "roll",
    "squeeze",
    "stack",
    "take",
    "take_along_axis",
    "tile",
    "unstack",
]


def _axis(axis: int, ndim: int, what: str) -> int:
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise AxisError(f"{what}: axis {axis!r} out of range for {ndim} axes")
    return int(axis) % ndim


def _common(arrays: Sequence[Any], what: str) -> list:
    arrays = [asarray(a) for a in arrays]
    if not arrays:
        raise ValueError(f"{what} needs at least one array")
    dtype = result_type(*arrays)
    return [a if a.dtype == dtype else a.astype(dtype) for a in arrays]


def concat(arrays: Sequence[Array], /, *, axis: int | None = 0) -> Array:
    """Join arrays along ``axis`` (flattened first when ``None``), promoting dtypes.

    >>> concat((asarray([1, 2]), asarray([3])), axis=None).compute()
    array([1, 2, 3])
    """
    parts = _common(arrays, "concat")
    if axis is None:
        return shapes.concatenate([p.reshape((-1,)) for p in parts], 0)
    ndim = parts[0].ndim
    if ndim == 0:
        raise ValueError("concat cannot join 0-d arrays along an axis; use axis=None")
    return shapes.concatenate(parts, _axis(axis, ndim, "concat"))


def stack(arrays: Sequence[Array], /, *, axis: int = 0) -> Array:
    """Join arrays of one shape along a new ``axis``, promoting dtypes.

    >>> stack((asarray([1, 2]), asarray([3, 4])), axis=1).shape
    (2, 2)
    """
    parts = _common(arrays, "stack")
    _axis(axis, parts[0].ndim + 1, "stack")
    return shapes.stack(parts, axis)


def expand_dims(x: Array, /, axis: int | tuple[int, ...] = 0) -> Array:
    """``x`` with new length-1 axes at ``axis`` (positions in the result).

    >>> expand_dims(asarray([1, 2]), axis=-1).shape
    (2, 1)
    """
    x = asarray(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = x.ndim + len(axes)
    norm = [_axis(a, ndim, "expand_dims") for a in axes]
    if len(set(norm)) != len(norm):
        raise ValueError(f"expand_dims: repeated axis in {axis}")
    return shapes.expand_dims(x, tuple(norm))


def squeeze(x: Array, /, axis: int | tuple[int, ...]) -> Array:
    """``x`` without the length-1 axes ``axis`` (any other length raises).

    >>> squeeze(asarray([[1, 2]]), axis=0).shape
    (2,)
    """
    x = asarray(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    norm = [_axis(a, x.ndim, "squeeze") for a in axes]
    if len(set(norm)) != len(norm):
        raise ValueError(f"squeeze: repeated axis in {axis}")
    for a in norm:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has length {x.shape[a]}, not 1")
    return shapes.squeeze(x, tuple(norm))


def flip(x: Array, /, *, axis: int | tuple[int, ...] | None = None) -> Array:
    """``x`` reversed along ``axis`` (every axis when ``None``).

    >>> flip(asarray([1, 2, 3])).compute()
    array([3, 2, 1])
    """
    x = asarray(x)
    if axis is None:
        return shapes.flip(x, tuple(range(x.ndim))) if x.ndim else x
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return shapes.flip(x, tuple(_axis(a, x.ndim, "flip") for a in axes))


def roll(
    x: Array,
    /,
    shift: int | tuple[int, ...],
    *,
    axis: int | tuple[int, ...] | None = None,
) -> Array:
    """``x`` shifted cyclically by ``shift`` along ``axis`` (flattened when ``None``).

    >>> roll(asarray([1, 2, 3]), 1).compute()
    array([3, 1, 2])
    """
    x = asarray(x)
    if axis is not None:
        for a in (axis,) if isinstance(axis, int) else axis:
            _axis(a, x.ndim, "roll")
    return manipulation.roll(x, shift, axis)


def reshape(x: Array, /, shape: tuple[int, ...], *, copy: bool | None = None) -> Array:
    """``x`` with a new shape of the same size (one entry may be -1).

    >>> reshape(asarray([1, 2, 3, 4]), (2, -1)).shape
    (2, 2)
    """
    x = asarray(x)
    out = shapes.reshape(x, tuple(shape))
    held = held_numpy(x)
    if held is not None:  # in memory: reshape the NumPy array too, so it stays in memory
        return from_array(held.reshape(out.shape), chunks=out.chunks)
    return out


def _repeat_index(counts: np.ndarray, length: int) -> np.ndarray:
    return np.repeat(np.arange(length), np.broadcast_to(counts, (length,)))


def repeat(x: Array, repeats: int | Array, /, *, axis: int | None = None) -> Array:
    """Each element repeated ``repeats`` times (an int, or one count per element)
    along ``axis`` (of the flattened array when ``None``).

    >>> repeat(asarray([1, 2]), asarray([2, 1])).compute()
    array([1, 1, 2])
    """
    x = asarray(x)
    if axis is None:
        x = x.reshape((-1,))
        axis = 0
    axis = _axis(axis, x.ndim, "repeat")
    if isinstance(repeats, int):
        if repeats < 0:
            raise ValueError(f"repeat needs repeats >= 0, got {repeats}")
        return manipulation.repeat(x, repeats, axis)
    # a count per element: the output length is the counts' sum, read from them now
    counts = np.asarray(asarray(repeats).compute())
    if counts.dtype.kind not in "iu" or counts.ndim > 1 or (counts < 0).any():
        raise ValueError("repeat needs non-negative integer counts (an int or a 1-D array)")
    if counts.ndim == 1 and counts.shape[0] not in (1, x.shape[axis]):
        raise ValueError(f"repeat: {counts.shape[0]} counts for an axis of length {x.shape[axis]}")
    return take(x, asarray(_repeat_index(counts, x.shape[axis])), axis=axis)


def tile(x: Array, repetitions: tuple[int, ...], /) -> Array:
    """``x`` repeated ``repetitions`` times along each axis.

    >>> tile(asarray([1, 2]), (2,)).compute()
    array([1, 2, 1, 2])
    """
    return manipulation.tile(asarray(x), tuple(repetitions))


def unstack(x: Array, /, *, axis: int = 0) -> tuple:
    """The slices of ``x`` along ``axis``, as a tuple.

    >>> [a.shape for a in unstack(asarray(np.ones((2, 3))))]
    [(3,), (3,)]
    """
    x = asarray(x)
    if x.ndim == 0:
        raise ValueError("unstack needs an array of at least one axis")
    axis = _axis(axis, x.ndim, "unstack")
    return tuple(
        x[tuple(i if a == axis else slice(None) for a in range(x.ndim))]
        for i in range(x.shape[axis])
    )


def moveaxis(
    x: Array, source: int | tuple[int, ...], destination: int | tuple[int, ...], /
) -> Array:
    """``x`` with axes ``source`` moved to ``destination``.

    >>> moveaxis(asarray(np.ones((2, 3, 4))), 0, -1).shape
    (3, 4, 2)
    """
    return shapes.moveaxis(asarray(x), source, destination)


def permute_dims(x: Array, /, axes: tuple[int, ...]) -> Array:
    """``x`` with its axes in the order ``axes``.

    >>> permute_dims(asarray(np.ones((2, 3))), (1, 0)).shape
    (3, 2)
    """
    x = asarray(x)
    if sorted(a % (x.ndim or 1) for a in axes) != list(range(x.ndim)):
        raise ValueError(f"permute_dims: {axes} is not a permutation of {x.ndim} axes")
    return shapes.transpose(x, tuple(axes))


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape that ``shapes`` broadcast to.

    >>> broadcast_shapes((2, 1), (3,))
    (2, 3)
    """
    return tuple(np.broadcast_shapes(*shapes))


def broadcast_arrays(*arrays: Array) -> tuple:
    """The arrays broadcast to one shape, as a tuple.

    >>> [a.shape for a in broadcast_arrays(asarray([1, 2]), asarray([[1], [2]]))]
    [(2, 2), (2, 2)]
    """
    return tuple(shapes.broadcast_arrays(*[asarray(a) for a in arrays]))


def broadcast_to(x: Array, /, shape: tuple[int, ...]) -> Array:
    """``x`` broadcast to ``shape``.

    >>> broadcast_to(asarray([1, 2]), (2, 2)).shape
    (2, 2)
    """
    return shapes.broadcast_to(asarray(x), tuple(shape))


def _index_array(indices: Any, what: str) -> Array:
    indices = asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{what} needs integer indices, got {indices.dtype}")
    return indices


def take(x: Array, indices: Array, /, *, axis: int | None = None) -> Array:
    """Elements at integer ``indices`` (negative counting from the end) along ``axis``.

    >>> take(asarray([1, 2, 3]), asarray([2, -3])).compute()
    array([3, 1])
    """
    x = asarray(x)
    indices = _index_array(indices, "take")
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take needs axis= for arrays of more than one axis")
        axis = 0
    axis = _axis(axis, x.ndim, "take")
    if indices.ndim != 1:
        raise ValueError(f"take needs 1-D indices, got {indices.ndim}-D")
    if indices.dtype.kind == "i":
        indices = indices % (x.shape[axis] or 1)
    return x[tuple(indices if a == axis else slice(None) for a in range(x.ndim))]


def _take_along(block: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    return np.take_along_axis(block, index, axis=axis)


def take_along_axis(x: Array, indices: Array, /, *, axis: int = -1) -> Array:
    """Values of ``x`` at ``indices`` along ``axis``; the other axes broadcast.

    >>> take_along_axis(asarray([[10, 20], [30, 40]]), asarray([[1], [0]]), axis=1).compute()
    array([[20],
           [30]])
    """
    x = asarray(x)
    indices = _index_array(indices, "take_along_axis")
    if x.ndim != indices.ndim:
        raise ValueError(
            f"take_along_axis needs x and indices of equal rank, got {x.ndim} and {indices.ndim}"
        )
    axis = _axis(axis, x.ndim, "take_along_axis")
    others = np.broadcast_shapes(
        *[tuple(1 if a == axis else n for a, n in enumerate(s)) for s in (x.shape, indices.shape)]
    )
    x = shapes.broadcast_to(x, tuple(x.shape[a] if a == axis else n for a, n in enumerate(others)))
    indices = shapes.broadcast_to(
        indices, tuple(indices.shape[a] if a == axis else n for a, n in enumerate(others))
    )
    x = x.rechunk({axis: -1})
    indices = indices.rechunk({a: c for a, c in enumerate(x.chunks) if a != axis})
    letters = _LETTERS[: x.ndim]
    x_ind = letters[:axis] + "Z" + letters[axis + 1 :]
    return blockwise(
        _take_along,
        letters,
        x,
        x_ind,
        indices,
        letters,
        axis,
        None,
        concatenate=True,
        dtype=x.dtype,
        name="take_along_axis",
    )
