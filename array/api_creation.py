"""Creation functions of the Array API namespace, with the standard's
signatures: ``device=`` (only ``"cpu"``), ``asarray(copy=)``, default dtypes
(``int64``, ``float64``, ``complex128``, ``bool`` by the kind of the value)
and ``from_dlpack``. Each wraps the shoal function of the same job.

``asarray(copy=)``: shoal arrays are lazy and only ``__setitem__`` changes
one (by giving that object a new plan), so a "copy" of a shoal array is a new
``Array`` object around the same plan; ``copy=False`` returns the very
object. A NumPy (or buffer) source is read lazily where it is used, so
``copy=True`` snapshots it first, and ``copy=False`` refuses what would need
a conversion (a dtype change, nested lists).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import creation, routines
from .api_dtypes import check_dtype, default_float
from .convert import asarray as _asarray
from .convert import from_array
from .core import Array

__all__ = [
    "arange",
    "asarray",
    "check_device",
    "empty",
    "empty_like",
    "eye",
    "from_dlpack",
    "full",
    "full_like",
    "linspace",
    "meshgrid",
    "ones",
    "ones_like",
    "tril",
    "triu",
    "zeros",
    "zeros_like",
]


def check_device(device: Any, what: str) -> None:
    """Refuse devices other than the cpu.

    >>> check_device("cpu", "zeros")
    """
    if device is not None and device != "cpu":
        raise ValueError(f"{what}: shoal arrays live on the cpu, not {device!r}")


def _dtype(dtype: Any, what: str) -> np.dtype | None:
    return None if dtype is None else check_dtype(dtype, what)


def _scalar_dtype(value: Any) -> np.dtype:
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(value, (int, np.integer)):
        return np.dtype(np.int64) if isinstance(value, int) else np.dtype(type(value))
    if isinstance(value, (Array, np.ndarray, np.generic)):
        return np.dtype(value.dtype)
    return default_float(value)


def asarray(
    obj: Any,
    /,
    *,
    dtype: Any = None,
    device: Any = None,
    copy: bool | None = None,
) -> Array:
    """A shoal array from an array, a buffer, a scalar or nested sequences.

    >>> x = asarray([1, 2])
    >>> asarray(x, copy=False) is x, asarray(x, copy=True) is x
    (True, False)
    """
    check_device(device, "asarray")
    dtype = _dtype(dtype, "asarray")
    if isinstance(obj, Array):
        if dtype is not None and dtype != obj.dtype:
            if copy is False:
                raise ValueError("asarray(copy=False) cannot change an array's dtype")
            return obj.astype(dtype)
        return Array(obj.expr) if copy else obj
    if (
        isinstance(obj, np.ndarray)
        or hasattr(obj, "__buffer__")
        and not isinstance(obj, (bytes, bytearray))
    ):
        source = np.asarray(obj)
        if dtype is not None and dtype != source.dtype or copy:
            if copy is False:
                raise ValueError(f"asarray(copy=False) cannot cast {source.dtype} to {dtype}")
            source = np.array(source, dtype=dtype, copy=True)
        return from_array(source)
    if copy is False:
        raise ValueError(
            f"asarray(copy=False) cannot wrap a {type(obj).__name__} without copying it"
        )
    if dtype is None and isinstance(obj, (bool, int, float, complex)):
        dtype = _scalar_dtype(obj)
    return _asarray(obj, dtype=dtype)


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Array:
    """A shoal array from a DLPack producer on the cpu.

    >>> from_dlpack(np.arange(3)).compute()
    array([0, 1, 2])
    """
    check_device(device, "from_dlpack")
    if isinstance(x, Array):
        return asarray(x, copy=copy)
    return from_array(np.from_dlpack(x, copy=copy))


def arange(
    start: int | float,
    /,
    stop: int | float | None = None,
    step: int | float = 1,
    *,
    dtype: Any = None,
    device: Any = None,
) -> Array:
    """Evenly spaced values in ``[start, stop)``; int64 for int bounds, float64 otherwise.

    >>> arange(1, 2.0, 0.5).compute()
    array([1. , 1.5])
    """
    check_device(device, "arange")
    dtype = _dtype(dtype, "arange")
    if dtype is None:
        bounds = [b for b in (start, stop, step) if b is not None]
        dtype = np.dtype(np.int64 if all(isinstance(b, int) for b in bounds) else np.float64)
    return creation.arange(start, stop, step, dtype=dtype)


def _shape_dtype(dtype: Any, what: str) -> np.dtype:
    out = _dtype(dtype, what)
    return np.dtype(np.float64) if out is None else out


def empty(shape: Any, *, dtype: Any = None, device: Any = None) -> Array:
    """An array whose values are unspecified (float64 unless ``dtype``).

    >>> empty((2, 1)).dtype
    dtype('float64')
    """
    check_device(device, "empty")
    return creation.empty(shape, dtype=_shape_dtype(dtype, "empty"))


def zeros(shape: Any, *, dtype: Any = None, device: Any = None) -> Array:
    """An array of zeros (float64 unless ``dtype``).

    >>> zeros(2).compute()
    array([0., 0.])
    """
    check_device(device, "zeros")
    return creation.zeros(shape, dtype=_shape_dtype(dtype, "zeros"))


def ones(shape: Any, *, dtype: Any = None, device: Any = None) -> Array:
    """An array of ones (float64 unless ``dtype``).

    >>> ones(2, dtype=np.dtype("int8")).compute()
    array([1, 1], dtype=int8)
    """
    check_device(device, "ones")
    return creation.ones(shape, dtype=_shape_dtype(dtype, "ones"))


def full(shape: Any, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Array:
    """An array filled with ``fill_value``; its dtype follows the value's kind.

    >>> full(2, True).dtype, full(2, 3).dtype
    (dtype('bool'), dtype('int64'))
    """
    check_device(device, "full")
    dtype = _dtype(dtype, "full")
    if isinstance(fill_value, Array):
        fill_value = fill_value.compute()
    return creation.full(
        shape, fill_value, dtype=_scalar_dtype(fill_value) if dtype is None else dtype
    )


def _like(x: Any, dtype: Any, device: Any, what: str) -> tuple:
    check_device(device, what)
    x = _asarray(x)
    return x, x.dtype if dtype is None else check_dtype(dtype, what)


def empty_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Array:
    """Unspecified values shaped and chunked like ``x``.

    >>> empty_like(arange(3)).shape
    (3,)
    """
    x, dtype = _like(x, dtype, device, "empty_like")
    return creation.empty_like(x, dtype=dtype)


def zeros_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Array:
    """Zeros shaped and chunked like ``x``.

    >>> zeros_like(arange(2)).compute()
    array([0, 0])
    """
    x, dtype = _like(x, dtype, device, "zeros_like")
    return creation.zeros_like(x, dtype=dtype)


def ones_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Array:
    """Ones shaped and chunked like ``x``.

    >>> ones_like(arange(2)).compute()
    array([1, 1])
    """
    x, dtype = _like(x, dtype, device, "ones_like")
    return creation.ones_like(x, dtype=dtype)


def full_like(x: Any, /, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Array:
    """``fill_value`` shaped and chunked like ``x``, in ``x``'s dtype unless ``dtype``.

    >>> full_like(arange(2), 7).compute()
    array([7, 7])
    """
    x, dtype = _like(x, dtype, device, "full_like")
    return creation.full_like(x, fill_value, dtype=dtype)


def eye(
    n_rows: int,
    n_cols: int | None = None,
    /,
    *,
    k: int = 0,
    dtype: Any = None,
    device: Any = None,
) -> Array:
    """Ones on diagonal ``k`` of an ``n_rows`` x ``n_cols`` matrix.

    >>> eye(2, 3, k=1).compute()
    array([[0., 1., 0.],
           [0., 0., 1.]])
    """
    check_device(device, "eye")
    return creation.eye(n_rows, n_cols, k=k, dtype=_shape_dtype(dtype, "eye"))


def linspace(
    start: int | float | complex,
    stop: int | float | complex,
    /,
    num: int,
    *,
    dtype: Any = None,
    device: Any = None,
    endpoint: bool = True,
) -> Array:
    """``num`` evenly spaced values from ``start`` to ``stop`` (float64, or complex128).

    >>> linspace(0, 1, 3).compute()
    array([0. , 0.5, 1. ])
    """
    check_device(device, "linspace")
    dtype = _dtype(dtype, "linspace")
    if dtype is None:
        dtype = default_float(complex(0) if complex in (type(start), type(stop)) else 0.0)
    low: Any = start  # shoal's linspace computes complex ranges too
    high: Any = stop
    return creation.linspace(low, high, num, endpoint=endpoint, dtype=dtype)


def meshgrid(*arrays: Array, indexing: str = "xy") -> tuple:
    """Coordinate arrays from 1-D arrays, as a tuple.

    >>> [a.shape for a in meshgrid(arange(2), arange(3))]
    [(3, 2), (3, 2)]
    """
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        raise ValueError(f"meshgrid needs arrays of one dtype, got {sorted(map(str, dtypes))}")
    return tuple(creation.meshgrid(*arrays, indexing=indexing))


def tril(x: Array, /, *, k: int = 0) -> Array:
    """The lower triangle of each matrix in ``x``, zeros elsewhere.

    >>> tril(ones((2, 2))).compute()
    array([[1., 0.],
           [1., 1.]])
    """
    return routines.tril(x, k)


def triu(x: Array, /, *, k: int = 0) -> Array:
    """The upper triangle of each matrix in ``x``, zeros elsewhere.

    >>> triu(ones((2, 2))).compute()
    array([[1., 1.],
           [0., 1.]])
    """
    return routines.triu(x, k)
