"""Linear algebra of the Array API main namespace (``matmul``, ``tensordot``,
``vecdot``, ``matrix_transpose``), and the stacked ``diagonal``/``trace`` and
``outer`` that the ``linalg`` extension adds. Products are shoal's blocked
products; ``diagonal`` gathers the last two axes of each matrix into a block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.exceptions import AxisError  # an IndexError and a ValueError

from . import numpy_reductions, products, shape
from .blockwise import _LETTERS, blockwise
from .convert import asarray
from .core import Array
from .numpy_dispatch import array_ufunc

__all__ = ["diagonal", "matmul", "matrix_transpose", "outer", "tensordot", "trace", "vecdot"]


def matmul(x1: Array, x2: Array, /) -> Array:
    """The matrix product (1-D operands promoted, stack axes broadcast).

    >>> matmul(asarray([[1, 2]]), asarray([[3], [4]])).compute()
    array([[11]])
    """
    return products.matmul(asarray(x1), asarray(x2))


def tensordot(
    x1: Array, x2: Array, /, *, axes: int | tuple[Sequence[int], Sequence[int]] = 2
) -> Array:
    """Sum of products over ``axes`` (the last ``axes`` of ``x1`` with the first of ``x2``).

    >>> int(tensordot(asarray([1, 2]), asarray([3, 4]), axes=1))
    11
    """
    a, b = asarray(x1), asarray(x2)
    if isinstance(axes, int) and not 0 <= axes <= min(a.ndim, b.ndim):
        raise ValueError(f"tensordot: axes={axes} must be within 0..{min(a.ndim, b.ndim)}")
    if isinstance(axes, int) and axes == 0:
        # np.tensordot with no contracted axis is the outer product
        return a.reshape((*a.shape, *(1,) * b.ndim)) * b
    return products.tensordot(a, b, axes=axes)


def matrix_transpose(x: Array, /) -> Array:
    """Each matrix transposed (the last two axes swapped).

    >>> matrix_transpose(asarray(np.ones((4, 2, 3)))).shape
    (4, 3, 2)
    """
    x = asarray(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose needs at least 2 axes, got {x.ndim}")
    return shape.swapaxes(x, -1, -2)


def vecdot(x1: Array, x2: Array, /, *, axis: int = -1) -> Array:
    """The dot product along ``axis`` (of the broadcast shape), conjugating ``x1``.

    >>> int(vecdot(asarray([1, 2, 3]), asarray([1, 1, 1])))
    6
    """
    a, b = asarray(x1), asarray(x2)
    nd = max(a.ndim, b.ndim)
    if not -nd <= axis < nd:
        raise AxisError(f"vecdot: axis {axis} out of range for {nd} axes")
    if axis >= 0:
        axis -= nd
    if a.shape[axis] != b.shape[axis]:
        raise ValueError(
            f"vecdot: axis {axis} has length {a.shape[axis]} in x1 and {b.shape[axis]} in x2"
        )
    dtype = np.result_type(a.dtype, b.dtype)  # no widening of small ints
    if dtype.kind == "c":
        a = array_ufunc(np.conj, "__call__", (a,), {})
    return numpy_reductions.sum(a * b, axis=axis, dtype=dtype)


def outer(x1: Array, x2: Array, /) -> Array:
    """The outer product of two vectors.

    >>> outer(asarray([1, 2]), asarray([1, 10])).compute()
    array([[ 1, 10],
           [ 2, 20]])
    """
    a, b = asarray(x1), asarray(x2)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer needs two vectors, got {a.ndim}-D and {b.ndim}-D")
    return a[:, None] * b[None, :]


def _diagonal(block: np.ndarray, offset: int) -> np.ndarray:
    return np.diagonal(block, offset, axis1=-2, axis2=-1).copy()


def diagonal(x: Array, /, *, offset: int = 0) -> Array:
    """The diagonal ``offset`` of each matrix (last two axes).

    >>> diagonal(asarray(np.arange(4).reshape(2, 2))).compute()
    array([0, 3])
    """
    x = asarray(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal needs at least 2 axes, got {x.ndim}")
    m, n = x.shape[-2:]
    length = max(0, min(m + min(offset, 0), n - max(offset, 0)))
    nd = x.ndim
    x = x.rechunk({nd - 2: -1, nd - 1: -1})
    letters = _LETTERS[:nd]
    return blockwise(
        _diagonal,
        letters[:-2] + "Z",
        x,
        letters,
        offset,
        None,
        concatenate=True,
        new_axes={"Z": length},
        dtype=x.dtype,
        name="diagonal",
    )


def trace(x: Array, /, *, offset: int = 0, dtype: Any = None) -> Array:
    """The sum of diagonal ``offset`` of each matrix (small integers widen as in ``sum``).

    >>> int(trace(asarray(np.eye(3, dtype=np.int8))))
    3
    """
    return numpy_reductions.sum(diagonal(x, offset=offset), axis=-1, dtype=dtype)
