"""NumPy's protocols on shoal arrays: ``__array_ufunc__`` (``np.sin(x)``, every
ufunc, lazy and fused) and ``__array_function__`` (``np.sum(x)`` is a lazy
shoal reduction), and the ufuncs as ``shoal.array`` functions.

A NumPy function without a shoal implementation is refused by NumPy with
"no implementation found" rather than silently computing the whole array.
This module sits above every operation family (``Array`` reaches it through
a deferred import, as it reaches the families).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import (
    arg_reductions,
    calculus,
    creation,
    elementwise,
    index_math,
    linalg,
    manipulation,
    numpy_reductions,
    order_stats,
    products,
    reductions,
    routines,
    scans,
    search,
    shape,
    sorting,
    stacking,
    stats,
)
from .convert import asarray
from .core import Array

__all__ = ["array_function", "implementations", "array_ufunc", "make_ufunc", "UFUNC_NAMES"]


def _shape(x: Any) -> tuple:
    return x.shape


def _ndim(x: Any) -> int:
    return x.ndim


def _size(x: Any, axis: int | None = None) -> int:
    return x.size if axis is None else x.shape[axis]


def _result_type(*args: Any) -> np.dtype:
    return np.result_type(*[getattr(a, "dtype", a) for a in args])


def implementations() -> dict:
    """The table of NumPy functions and their shoal versions.

    >>> implementations()[np.sum].__name__
    'sum'
    """
    table: dict[Callable, Callable] = {
        np.shape: _shape,
        np.ndim: _ndim,
        np.size: _size,
        np.result_type: _result_type,
    }
    for module in (
        numpy_reductions,
        reductions,
        shape,
        products,
        routines,
        elementwise,
        manipulation,
        search,
        order_stats,
        scans,
        arg_reductions,
        stats,
        stacking,
        calculus,
        index_math,
    ):
        for name in module.__all__:
            np_func = getattr(np, name, None)
            if np_func is not None and callable(np_func) and not isinstance(np_func, np.ufunc):
                table[np_func] = getattr(module, name)
    for name in ("ones_like", "zeros_like", "empty_like", "full_like"):
        table[getattr(np, name)] = getattr(creation, name)
    table[np.amin] = numpy_reductions.min
    table[np.amax] = numpy_reductions.max
    table[np.round] = elementwise.round
    table[np.around] = elementwise.round
    if hasattr(np, "astype"):
        table[np.astype] = elementwise.astype
    table[np.sort] = _np_sort
    table[np.argsort] = _np_argsort
    for name in linalg.__all__:
        np_func = getattr(np.linalg, name, None)
        if np_func is not None:
            table[np_func] = getattr(linalg, name)
    return table


_TABLE: dict | None = None


def array_function(func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
    """Dispatch ``func`` to its shoal version, or refuse (see module docstring).

    >>> import shoal.array as sa
    >>> np.concatenate([sa.ones(1, chunks=1), sa.zeros(1, chunks=1)]).compute()
    array([1., 0.])
    """
    global _TABLE
    if _TABLE is None:
        _TABLE = implementations()
    impl = _TABLE.get(func)
    if impl is None:
        return NotImplemented
    return impl(*args, **kwargs)


def _np_sort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None) -> Any:
    if order is not None:
        return NotImplemented
    return sorting.sort(
        asarray(a).ravel() if axis is None else a, axis=-1 if axis is None else axis
    )


def _np_argsort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None) -> Any:
    if order is not None:
        return NotImplemented
    return sorting.argsort(
        asarray(a).ravel() if axis is None else a, axis=-1 if axis is None else axis
    )


def _nth_output(ufunc: np.ufunc, n: int, *args: Any, **kwargs: Any) -> Any:
    return ufunc(*args, **kwargs)[n]


_REDUCE_UFUNCS = {
    "add": "sum",
    "multiply": "prod",
    "minimum": "min",
    "maximum": "max",
    "logical_and": "all",
    "logical_or": "any",
}
_ACCUMULATE_UFUNCS = {"add": "cumsum", "multiply": "cumprod"}


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """The ``__array_ufunc__`` of shoal arrays: ufunc calls become lazy arrays.

    >>> import shoal.array as sa
    >>> np.sin(sa.zeros(2, chunks=1)).compute()
    array([0., 0.])
    """
    if "out" in kwargs and kwargs["out"] is None:
        kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    if kwargs.get("out") is not None:
        raise TypeError(
            f"{ufunc.__name__}(..., out=) is not supported on shoal arrays; "
            "shoal arrays are immutable, assign the result instead"
        )
    if not all(elementwise.is_operand(x) for x in inputs):
        return NotImplemented
    if method == "__call__":
        if ufunc is np.matmul:
            return products.matmul(*inputs)
        if kwargs.get("where", True) is not True:
            raise NotImplementedError(
                f"{ufunc.__name__}(..., where=) on shoal arrays; use shoal.array.where instead"
            )
        kwargs.pop("where", None)
        if ufunc.nout == 1:
            # ufunc keywords (dtype=, casting=) go to the ufunc itself, bound once
            op = functools.partial(ufunc, **kwargs) if kwargs else ufunc
            return elementwise.elemwise(op, *inputs, name=ufunc.__name__)
        return tuple(
            elementwise.elemwise(_nth_output, ufunc, i, *inputs, name=ufunc.__name__, **kwargs)
            for i in range(ufunc.nout)
        )
    if method == "reduce" and ufunc.__name__ in _REDUCE_UFUNCS:
        return getattr(numpy_reductions, _REDUCE_UFUNCS[ufunc.__name__])(*inputs, **kwargs)
    if method == "accumulate" and ufunc.__name__ in _ACCUMULATE_UFUNCS:
        return getattr(scans, _ACCUMULATE_UFUNCS[ufunc.__name__])(*inputs, **kwargs)
    if method == "outer" and len(inputs) == 2:
        a, b = (asarray(x) for x in inputs)
        return elementwise.elemwise(ufunc, a.reshape(a.shape + (1,) * b.ndim), b, **kwargs)
    return NotImplemented


def make_ufunc(ufunc: np.ufunc) -> Callable:
    """A module-level function applying ``ufunc`` lazily to shoal arrays (and
    eagerly, like NumPy, to anything else).

    >>> import shoal.array as sa
    >>> make_ufunc(np.sqrt)(sa.full(2, 4.0, chunks=1)).compute()
    array([2., 2.])
    """

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if any(isinstance(a, Array) for a in args):
            return array_ufunc(ufunc, "__call__", args, kwargs)
        return ufunc(*args, **kwargs)

    wrapper.__name__ = ufunc.__name__
    wrapper.__qualname__ = ufunc.__name__
    wrapper.__doc__ = f"``numpy.{ufunc.__name__}`` elementwise on shoal arrays (lazy, fused)."
    return wrapper


# vars(), not getattr() over dir(): touching numpy's lazy submodules (numpy.testing)
# would import them, slowly, and in the middle of any import of shoal.array
UFUNC_NAMES = sorted(
    name for name, value in vars(np).items() if isinstance(value, np.ufunc) and name[0] != "_"
)
