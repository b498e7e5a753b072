"""Statistical, utility and searching reductions of the Array API namespace,
with the standard's keyword-only signatures: ``sum``/``prod``/``mean``/...
(``axis``, ``keepdims``, ``dtype``), ``std``/``var`` (``correction``),
``cumulative_sum``/``cumulative_prod`` (``include_initial``), ``all``/``any``,
``diff`` (``prepend``/``append``), ``count_nonzero``, ``argmax``/``argmin``.
They are shoal's tree reductions and scans: every block takes part.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.exceptions import AxisError  # an IndexError and a ValueError

from . import arg_reductions, manipulation, numpy_reductions, reductions, scans
from .api_dtypes import check_dtype
from .convert import asarray
from .core import Array
from .shape import concatenate

__all__ = [
    "all",
    "any",
    "argmax",
    "argmin",
    "count_nonzero",
    "cumulative_prod",
    "cumulative_sum",
    "diff",
    "max",
    "mean",
    "min",
    "prod",
    "std",
    "sum",
    "var",
]

Axis = int | tuple[int, ...] | None


def _axes(axis: Axis, ndim: int, what: str) -> Axis:
    for a in (axis,) if isinstance(axis, int) else axis or ():
        if not -(ndim or 1) <= a < (ndim or 1):
            raise AxisError(f"{what}: axis {a} out of range for an array of {ndim} axes")
    if isinstance(axis, tuple) and len({a % (ndim or 1) for a in axis}) != len(axis):
        raise ValueError(f"{what}: repeated axis in {axis}")
    return axis


def _numeric(x: Any, what: str, kinds: str = "biufc") -> Array:
    # the standard says which dtypes inputs "should" have; like NumPy, shoal
    # also takes the others where the answer is well defined (xarray sums bools)
    x = asarray(x)
    if x.dtype.kind not in kinds:
        raise TypeError(f"{what} does not take {x.dtype} arrays")
    return x


def _with_dtype(func: Callable, name: str) -> Callable:
    def reduce(
        x: Array, /, *, axis: Axis = None, dtype: Any = None, keepdims: bool = False
    ) -> Array:
        x = _numeric(x, name)
        dtype = None if dtype is None else check_dtype(dtype, name)
        return func(x, axis=_axes(axis, x.ndim, name), dtype=dtype, keepdims=keepdims)

    reduce.__name__ = reduce.__qualname__ = name
    reduce.__doc__ = (
        f"The {name} over ``axis`` (small integers widen to 64 bits unless ``dtype``).\n\n"
        f"    >>> {name}(asarray([1, 2, 3], dtype=np.int8)).dtype\n"
        f"    dtype('int64')\n"
    )
    return reduce


sum = _with_dtype(numpy_reductions.sum, "sum")
prod = _with_dtype(numpy_reductions.prod, "prod")


def _plain(func: Callable, name: str, kinds: str, example: str, result: str) -> Callable:
    def reduce(x: Array, /, *, axis: Axis = None, keepdims: bool = False) -> Array:
        x = _numeric(x, name, kinds)
        return func(x, axis=_axes(axis, x.ndim, name), keepdims=keepdims)

    reduce.__name__ = reduce.__qualname__ = name
    reduce.__doc__ = (
        f"The {name} over ``axis``.\n\n    >>> {name}(asarray({example})).compute()\n    {result}\n"
    )
    return reduce


max = _plain(numpy_reductions.max, "max", "biuf", "[1, 3]", "np.int64(3)")
min = _plain(numpy_reductions.min, "min", "biuf", "[1, 3]", "np.int64(1)")
mean = _plain(numpy_reductions.mean, "mean", "biufc", "[1.0, 3.0]", "np.float64(2.0)")
all = _plain(numpy_reductions.all, "all", "biufc", "[True, False]", "np.False_")
any = _plain(numpy_reductions.any, "any", "biufc", "[True, False]", "np.True_")


def std(
    x: Array,
    /,
    *,
    axis: Axis = None,
    correction: int | float = 0.0,
    keepdims: bool = False,
) -> Array:
    """Standard deviation with ``correction`` degrees of freedom.

    >>> float(std(asarray([1.0, 3.0]), correction=1)) == float(np.std([1.0, 3.0], ddof=1))
    True
    """
    x = _numeric(x, "std", "biuf")
    return numpy_reductions.std(
        x, axis=_axes(axis, x.ndim, "std"), ddof=correction, keepdims=keepdims
    )


def var(
    x: Array,
    /,
    *,
    axis: Axis = None,
    correction: int | float = 0.0,
    keepdims: bool = False,
) -> Array:
    """Variance with ``correction`` degrees of freedom.

    >>> float(var(asarray([1.0, 3.0])))
    1.0
    """
    x = _numeric(x, "var", "biuf")
    return numpy_reductions.var(
        x, axis=_axes(axis, x.ndim, "var"), ddof=correction, keepdims=keepdims
    )


def _scan_axis(x: Array, axis: int | None, what: str) -> int:
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"{what} needs axis= for arrays of {x.ndim} axes")
        return 0
    _axes(axis, x.ndim, what)
    return axis % x.ndim


def _cumulative(scan: Callable, start: int, name: str) -> Callable:
    def cumulative(
        x: Array,
        /,
        *,
        axis: int | None = None,
        dtype: Any = None,
        include_initial: bool = False,
    ) -> Array:
        x = _numeric(x, name, "biufc")
        axis = _scan_axis(x, axis, name)
        dtype = None if dtype is None else check_dtype(dtype, name)
        out = scan(x, axis=axis, dtype=dtype)
        if include_initial:
            shape = tuple(1 if a == axis else n for a, n in enumerate(x.shape))
            chunks = tuple((1,) if a == axis else c for a, c in enumerate(out.chunks))
            first = asarray(np.full(shape, start, dtype=out.dtype)).rechunk(chunks)
            out = concatenate([first, out], axis)
        return out

    cumulative.__name__ = cumulative.__qualname__ = name
    cumulative.__doc__ = (
        f"Running {name.split('_')[1]}s along ``axis`` (``include_initial``: start with "
        f"{start}).\n\n    >>> {name}(asarray([1, 2, 3]), include_initial=True).compute()\n"
        f"    array({[start, 1, 3, 6] if start == 0 else [1, 1, 2, 6]})\n"
    )
    return cumulative


cumulative_sum = _cumulative(scans.cumsum, 0, "cumulative_sum")
cumulative_prod = _cumulative(scans.cumprod, 1, "cumulative_prod")


def diff(
    x: Array,
    /,
    *,
    axis: int = -1,
    n: int = 1,
    prepend: Array | None = None,
    append: Array | None = None,
) -> Array:
    """The ``n``-th differences along ``axis`` (after joining ``prepend``/``append``).

    >>> diff(asarray([1, 4, 9]), prepend=asarray([0])).compute()
    array([1, 3, 5])
    """
    x = asarray(x)
    if x.ndim == 0:
        raise ValueError("diff needs an array of at least one axis")
    _axes(axis, x.ndim, "diff")
    if n < 0:
        raise ValueError(f"diff needs n >= 0, got {n}")
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = concatenate([asarray(p) for p in parts], axis)
    return manipulation.diff(x, n=n, axis=axis)


def count_nonzero(x: Array, /, *, axis: Axis = None, keepdims: bool = False) -> Array:
    """The number of non-zero values over ``axis`` (default index dtype).

    >>> int(count_nonzero(asarray([0, 2, 3])))
    2
    """
    x = asarray(x)
    out = reductions.count_nonzero(x, axis=_axes(axis, x.ndim, "count_nonzero"), keepdims=keepdims)
    return out.astype(np.int64)


def _arg(func: Callable, name: str) -> Callable:
    def arg(x: Array, /, *, axis: int | None = None, keepdims: bool = False) -> Array:
        x = _numeric(x, name, "biuf")
        _axes(axis, x.ndim, name)
        return func(x, axis=axis, keepdims=keepdims).astype(np.int64)

    arg.__name__ = arg.__qualname__ = name
    arg.__doc__ = (
        f"The index of the first {name[3:]}imum over ``axis`` (of the flattened array "
        f"for None).\n\n    >>> int({name}(asarray([1, 3, 3, 0])))\n"
        f"    {1 if name == 'argmax' else 3}\n"
    )
    return arg


argmax = _arg(arg_reductions.argmax, "argmax")
argmin = _arg(arg_reductions.argmin, "argmin")
