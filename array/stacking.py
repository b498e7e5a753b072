"""Stacking and turning whole arrays: ``vstack``, ``hstack``, ``dstack``,
``column_stack`` (any mix of shoal arrays, NumPy arrays and lists; NumPy
inputs become one-block sources) and ``rot90``, all compositions of
``concatenate``, ``flip`` and ``transpose``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .convert import asarray
from .core import Array
from .shape import atleast_1d, atleast_2d, atleast_3d, concatenate, flip, transpose

__all__ = ["vstack", "hstack", "dstack", "column_stack", "rot90"]


def _arrays(tup: Any, what: str) -> list:
    if isinstance(tup, Array) or not isinstance(tup, Sequence) or isinstance(tup, str):
        raise TypeError(f"{what} takes a sequence of arrays (a list or tuple), got {tup!r}")
    if not tup:
        raise ValueError(f"{what} needs at least one array")
    return [asarray(a) for a in tup]


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def vstack(tup: Sequence[Any]) -> Array:
    """Stack arrays row-wise (1-D arrays become rows).

    >>> import numpy as np, shoal.array as sa
    >>> vstack([sa.arange(3, chunks=2), np.array([7, 8, 9])]).compute()
    array([[0, 1, 2],
           [7, 8, 9]])
    """
    arrays = _as_list(atleast_2d(*_arrays(tup, "vstack")))
    return concatenate(arrays, axis=0)


def hstack(tup: Sequence[Any]) -> Array:
    """Stack arrays column-wise (along the first axis for 1-D arrays).

    >>> import numpy as np, shoal.array as sa
    >>> hstack([np.ones((2, 1)), sa.zeros((2, 2), chunks=1)]).compute()
    array([[1., 0., 0.],
           [1., 0., 0.]])
    """
    arrays = _as_list(atleast_1d(*_arrays(tup, "hstack")))
    return concatenate(arrays, axis=0 if arrays[0].ndim == 1 else 1)


def dstack(tup: Sequence[Any]) -> Array:
    """Stack arrays along a third axis.

    >>> import numpy as np, shoal.array as sa
    >>> dstack([sa.arange(2, chunks=1), np.array([5, 6])]).shape
    (1, 2, 2)
    """
    arrays = _as_list(atleast_3d(*_arrays(tup, "dstack")))
    return concatenate(arrays, axis=2)


def column_stack(tup: Sequence[Any]) -> Array:
    """1-D arrays as columns of a 2-D array; 2-D arrays stacked as they are.

    >>> import numpy as np, shoal.array as sa
    >>> column_stack([sa.arange(2, chunks=1), np.array([5, 6])]).compute()
    array([[0, 5],
           [1, 6]])
    """
    arrays = [
        a[:, None] if a.ndim < 2 else a for a in _as_list(atleast_1d(*_arrays(tup, "column_stack")))
    ]
    return concatenate(arrays, axis=1)


def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Array:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``, from the
    first axis towards the second.

    >>> import shoal.array as sa
    >>> rot90(sa.arange(4, chunks=3).reshape((2, 2))).compute()
    array([[1, 3],
           [0, 2]])
    """
    x = asarray(m)
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError(f"rot90 needs two axes, got {axes}")
    if x.ndim < 2:
        raise ValueError(f"rot90 needs an array with at least two axes, got shape {x.shape}")
    a0, a1 = (a % x.ndim if -x.ndim <= a < x.ndim else None for a in axes)
    if a0 is None or a1 is None:
        raise ValueError(f"axes {axes} are out of range for an array with {x.ndim} axes")
    if a0 == a1:
        raise ValueError(f"rot90 needs two different axes, got {axes}")
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a0), a1)
    order = list(range(x.ndim))
    order[a0], order[a1] = order[a1], order[a0]
    # a quarter turn is a flip of one axis and a swap of the two
    return transpose(flip(x, a1), order) if k == 1 else flip(transpose(x, order), a1)
