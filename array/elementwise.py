"""Elementwise operations: operators, every NumPy ufunc, casts, ``where``.

All of them are ``Blockwise`` nodes with one letter per output axis, so
arrays broadcast like NumPy (aligned from the right, length-1 axes stretch)
and arrays with different chunks are rechunked to the common refinement.
Shapes that do not broadcast raise before any task is built.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from shoal.core.utils import funcname

from .blockwise import _LETTERS, Elementwise, build_blockwise
from .convert import asarray, from_array, is_masked, masked_meta, meta_from
from .core import Array, Casting

__all__ = [
    "digitize",
    "angle",
    "isclose",
    "allclose",
    "array_equal",
    "array_equiv",
    "nan_to_num",
    "real",
    "imag",
    "elemwise",
    "astype",
    "clip",
    "round",
    "around",
    "is_operand",
]


def is_operand(x: Any) -> bool:
    """True for values an array operator accepts (arrays, numbers, NumPy data).

    >>> is_operand(1.5), is_operand(np.ones(2)), is_operand("text")
    (True, True, False)
    """
    return isinstance(x, (Array, np.ndarray, np.generic, numbers.Number, list, tuple))


def _prepare(x: Any) -> Any:
    if isinstance(x, Array):
        return x
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if isinstance(x, np.ndarray) and x.ndim > 0:
        return from_array(x, chunks=-1)
    if isinstance(x, np.ndarray):
        return x[()]
    return x


def elemwise(
    op: Callable, *args: Any, dtype: Any = None, name: str | None = None, **kwargs: Any
) -> Array:
    """Apply ``op`` elementwise with NumPy broadcasting.

    >>> import shoal.array as sa
    >>> elemwise(np.add, sa.arange(3, chunks=2), np.array([[10], [20]])).compute()
    array([[10, 11, 12],
           [20, 21, 22]])
    """
    args = tuple(_prepare(a) for a in args)
    arrays = [a for a in args if isinstance(a, Array)]
    shapes = [a.shape for a in arrays]
    what = name or funcname(op)
    try:
        np.broadcast_shapes(*[tuple(1 if n != n else n for n in s) for s in shapes])
    except ValueError:
        raise ValueError(
            f"operands could not be broadcast together in {what}: shapes "
            f"{', '.join(str(s) for s in shapes)}"
        ) from None
    ndim = max((a.ndim for a in arrays), default=0)
    out_ind = _LETTERS[:ndim]
    pairs: list = []
    for a in args:
        if isinstance(a, Array):
            pairs += [a, out_ind[ndim - a.ndim :]]
        else:
            pairs += [a, None]
    meta = None
    if dtype is not None:
        masked = any(is_masked(a.meta) for a in arrays)  # NumPy's ufuncs keep masks
        meta = (masked_meta if masked else meta_from)(dtype, ndim)
    return build_blockwise(
        Elementwise, op, out_ind, tuple(pairs), None, meta, False, None, None, name, True, kwargs
    )


def _astype(block: np.ndarray, dtype: np.dtype, casting: Casting) -> np.ndarray:
    return block.astype(dtype, casting=casting, copy=False)


def astype(x: Array, dtype: Any, casting: Casting = "unsafe") -> Array:
    """Cast to ``dtype``; with ``casting`` other than "unsafe" a cast NumPy
    would refuse raises here, before any task runs.

    >>> import shoal.array as sa
    >>> astype(sa.arange(3, chunks=2), np.float32).compute()
    array([0., 1., 2.], dtype=float32)
    """
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    if not np.can_cast(x.dtype, dtype, casting=casting):
        raise TypeError(f"cannot cast array from {x.dtype} to {dtype} with casting={casting!r}")
    return elemwise(_astype, x, dtype, casting, dtype=dtype, name="astype")


def clip(x: Any, min: Any = None, max: Any = None) -> Array:
    """Limit values to ``[min, max]``.

    >>> import shoal.array as sa
    >>> clip(sa.arange(5, chunks=2), 1, 3).compute()
    array([1, 1, 2, 3, 3])
    """
    if min is None and max is None:
        raise ValueError("clip needs at least one of min and max")
    return elemwise(np.clip, x, min, max, name="clip")


def round(x: Any, decimals: int = 0) -> Array:
    """Round to ``decimals`` places (half to even, like NumPy).

    >>> import shoal.array as sa
    >>> round(sa.asarray([0.5, 1.26]), 1).compute()
    array([0.5, 1.3])
    """
    return elemwise(np.round, x, decimals=decimals, name="round")


around = round


def real(x: Any) -> Array:
    """The real part.

    >>> import shoal.array as sa
    >>> real(sa.asarray([1 + 2j, 3 - 1j])).compute()
    array([1., 3.])
    """
    return elemwise(np.real, x, name="real")


def imag(x: Any) -> Array:
    """The imaginary part.

    >>> import shoal.array as sa
    >>> imag(sa.asarray([1 + 2j, 3 - 1j])).compute()
    array([ 2., -1.])
    """
    return elemwise(np.imag, x, name="imag")


def isclose(
    a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Array:
    """Elementwise ``|a - b| <= atol + rtol * |b|``.

    >>> import shoal.array as sa
    >>> isclose(sa.asarray([1.0, 2.0]), [1.0 + 1e-9, 2.1]).compute()
    array([ True, False])
    """
    return elemwise(np.isclose, a, b, rtol=rtol, atol=atol, equal_nan=equal_nan, name="isclose")


def allclose(
    a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Array:
    """Whether all elements are close (a lazy 0-d boolean).

    >>> import shoal.array as sa
    >>> bool(allclose(sa.arange(3.0, chunks=2), [0, 1, 2]))
    True
    """
    return isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan).all()


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> Array:
    """Whether both have the same shape and elements (a lazy 0-d boolean;
    different shapes give False without computing anything).

    >>> import numpy as np, shoal.array as sa
    >>> bool(np.array_equal(sa.arange(3, chunks=2), np.arange(3)))
    True
    """
    x, y = asarray(a1), asarray(a2)
    if x.shape != y.shape:
        return asarray(np.False_)
    if equal_nan and (x.dtype.kind in "fc" or y.dtype.kind in "fc"):
        same = (x == y) | (
            elemwise(np.isnan, x, name="isnan") & elemwise(np.isnan, y, name="isnan")
        )
        return same.all()
    return (x == y).all()


def array_equiv(a1: Any, a2: Any) -> Array:
    """Whether both broadcast to one shape with equal elements (lazy 0-d boolean).

    >>> import shoal.array as sa
    >>> bool(array_equiv(sa.ones((2, 3), chunks=1), [1, 1, 1]))
    True
    """
    x, y = asarray(a1), asarray(a2)
    try:
        np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        return asarray(np.False_)
    return (x == y).all()


def nan_to_num(
    x: Any,
    copy: bool = True,
    nan: float = 0.0,
    posinf: float | None = None,
    neginf: float | None = None,
) -> Array:
    """NaN and infinities replaced by finite numbers.

    >>> import shoal.array as sa
    >>> nan_to_num(sa.asarray([np.nan, 1.0]), nan=-1).compute()
    array([-1.,  1.])
    """
    return elemwise(np.nan_to_num, x, nan=nan, posinf=posinf, neginf=neginf, name="nan_to_num")


def digitize(x: Any, bins: Any, right: bool = False) -> Array:
    """Indices of the bins (a NumPy array) each value falls in.

    >>> import shoal.array as sa
    >>> digitize(sa.asarray([0.5, 1.5, 3.0], chunks=2), np.array([1.0, 2.0])).compute()
    array([0, 1, 2])
    """
    bins = np.asarray(bins)
    if bins.ndim != 1:
        raise ValueError("bins must be a 1-D NumPy array")
    op = functools.partial(np.digitize, bins=bins, right=right)
    return elemwise(op, x, dtype=np.intp, name="digitize")


def angle(z: Any, deg: bool = False) -> Array:
    """The angle of complex numbers.

    >>> import shoal.array as sa
    >>> angle(sa.asarray([1j, -1.0]), deg=True).compute()
    array([ 90., 180.])
    """
    return elemwise(np.angle, z, deg=deg, name="angle")
