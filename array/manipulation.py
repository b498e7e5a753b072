"""Array manipulation as compositions of slicing, concatenation and
elementwise work: ``diff``, ``roll``, ``repeat``, ``tile``, ``pad``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .blockwise import _LETTERS, blockwise
from .convert import asarray
from .core import Array
from .shape import concatenate

__all__ = ["diff", "roll", "repeat", "tile"]


def _axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def _along(ndim: int, axis: int, index: Any) -> tuple:
    return tuple(index if a == axis else slice(None) for a in range(ndim))


def diff(a: Any, n: int = 1, axis: int = -1) -> Array:
    """The ``n``-th discrete difference along ``axis``.

    >>> import shoal.array as sa
    >>> diff(sa.asarray([1, 4, 9, 16], chunks=3), 2).compute()
    array([2, 2])
    """
    a = asarray(a)
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n}")
    if a.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _axis(axis, a.ndim)
    for _ in range(n):
        a = a[_along(a.ndim, axis, slice(1, None))] - a[_along(a.ndim, axis, slice(None, -1))]
    return a


def roll(a: Any, shift: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Array:
    """Elements shifted along ``axis`` (of the flattened array for None), wrapping around.

    >>> import shoal.array as sa
    >>> roll(sa.arange(5, chunks=2), 2).compute()
    array([3, 4, 0, 1, 2])
    """
    a = asarray(a)
    if axis is None:
        return roll(a.ravel(), shift, 0).reshape(a.shape)
    shifts = [shift] if isinstance(shift, int) else list(shift)
    axes = [axis] if isinstance(axis, int) else list(axis)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    if len(shifts) != len(axes):
        raise ValueError("shift and axis must have the same length")
    for s, ax in zip(shifts, axes):
        ax = _axis(ax, a.ndim)
        n = a.shape[ax]
        if n == 0:
            continue
        s %= n
        if s:
            a = concatenate(
                [a[_along(a.ndim, ax, slice(n - s, None))], a[_along(a.ndim, ax, slice(0, n - s))]],
                axis=ax,
            )
    return a


def _repeat_block(block: np.ndarray, repeats: int, axis: int) -> np.ndarray:
    return np.repeat(block, repeats, axis=axis)


def repeat(a: Any, repeats: int, axis: int | None = None) -> Array:
    """Each element repeated ``repeats`` times along ``axis`` (flattened for None).

    >>> import shoal.array as sa
    >>> repeat(sa.arange(3, chunks=2), 2).compute()
    array([0, 0, 1, 1, 2, 2])
    """
    a = asarray(a)
    if not isinstance(repeats, (int, np.integer)):
        raise NotImplementedError("repeat takes one int count for every element")
    if repeats < 0:
        raise ValueError(f"repeats may not be negative, got {repeats}")
    if axis is None:
        a, axis = a.ravel(), 0
    axis = _axis(axis, a.ndim)
    letters = _LETTERS[: a.ndim]
    return blockwise(
        _repeat_block,
        letters,
        a,
        letters,
        repeats,
        None,
        axis,
        None,
        adjust_chunks={letters[axis]: lambda n: n * repeats},
        dtype=a.dtype,
        name="repeat",
    )


def tile(a: Any, reps: int | Sequence[int]) -> Array:
    """``a`` repeated ``reps`` times along each axis (like ``np.tile``).

    >>> import shoal.array as sa
    >>> tile(sa.arange(3, chunks=2), 2).compute()
    array([0, 1, 2, 0, 1, 2])
    """
    a = asarray(a)
    counts = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    if any(r < 0 for r in counts):
        raise ValueError(f"negative repetitions are not allowed: {counts}")
    if len(counts) > a.ndim:
        a = a.reshape((1,) * (len(counts) - a.ndim) + a.shape)
    counts = (1,) * (a.ndim - len(counts)) + counts
    for ax, r in enumerate(counts):
        if r == 0:
            a = a[_along(a.ndim, ax, slice(0, 0))]
        elif r > 1:
            a = concatenate([a] * r, axis=ax)
    return a
