"""``__array_function__``: NumPy functions called on shoal arrays run the
shoal implementation (``np.sum(x)`` is a lazy shoal reduction).

A NumPy function without a shoal implementation is refused by NumPy with
"no implementation found" rather than silently computing the whole array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["array_function", "implementations"]


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
    import shoal.array as sa

    from . import (
        arg_reductions,
        creation,
        elementwise,
        linalg,
        manipulation,
        order_stats,
        products,
        reductions,
        routines,
        scans,
        search,
        shape,
        stats,
    )

    table: dict[Callable, Callable] = {
        np.shape: _shape,
        np.ndim: _ndim,
        np.size: _size,
        np.result_type: _result_type,
    }
    for module in (
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
    ):
        for name in module.__all__:
            np_func = getattr(np, name, None)
            if np_func is not None and callable(np_func) and not isinstance(np_func, np.ufunc):
                table[np_func] = getattr(module, name)
    for name in ("ones_like", "zeros_like", "empty_like", "full_like"):
        table[getattr(np, name)] = getattr(creation, name)
    table[np.amin] = reductions.min
    table[np.amax] = reductions.max
    table[np.round] = elementwise.round
    table[np.around] = elementwise.round
    if hasattr(np, "astype"):
        table[np.astype] = sa.astype
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
    import shoal.array as sa

    if order is not None:
        return NotImplemented
    return sa.sort(sa.asarray(a).ravel() if axis is None else a, axis=-1 if axis is None else axis)


def _np_argsort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None) -> Any:
    import shoal.array as sa

    if order is not None:
        return NotImplemented
    return sa.argsort(
        sa.asarray(a).ravel() if axis is None else a, axis=-1 if axis is None else axis
    )
