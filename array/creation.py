"""Creating arrays: constants, ranges, grids and functions of the index (and,
from ``convert.py``, arrays from NumPy and other sliceable stores).

All of these are region sources (``sources.py``): nothing is stored, each
block is made (or read) where it is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shoal.core.delayed import Delayed

from .chunks import normalize_chunks
from .convert import array, asanyarray, asarray, check_shape, from_array, meta_from
from .core import Array
from .shape import broadcast_to
from .sources import FromDelayed, FunctionSource, RegionSource, region_shape

__all__ = [
    "from_array",
    "asarray",
    "asanyarray",
    "array",
    "from_delayed",
    "ones",
    "zeros",
    "empty",
    "full",
    "ones_like",
    "zeros_like",
    "empty_like",
    "full_like",
    "arange",
    "linspace",
    "eye",
    "identity",
    "tri",
    "indices",
    "fromfunction",
    "meshgrid",
]


def from_delayed(
    value: Delayed, shape: Sequence[int], dtype: Any = None, meta: Any = None
) -> Array:
    """A one-block array from a ``Delayed`` whose shape is known.

    >>> import shoal
    >>> from_delayed(shoal.delayed(np.zeros)(2), (2,), float).compute()
    array([0., 0.])
    """
    if not isinstance(value, Delayed):
        raise TypeError(f"from_delayed takes a Delayed value, got {type(value).__name__}")
    shape = check_shape(shape)
    if meta is None:
        if dtype is None:
            raise ValueError("from_delayed needs dtype= (or meta=) to describe the blocks")
        meta = meta_from(dtype, len(shape))
    chunks = tuple((n,) for n in shape)
    return Array(FromDelayed(value.key, value.__shoal_graph__(), chunks, meta))


# ------------------------------------------------------------- constants


def _full_region(region: tuple, value: Any, dtype: np.dtype) -> np.ndarray:
    return np.full(region_shape(region), value, dtype=dtype)


def _empty_region(region: tuple, dtype: np.dtype) -> np.ndarray:
    return np.empty(region_shape(region), dtype=dtype)


def full(shape: Any, fill_value: Any, dtype: Any = None, chunks: Any = "auto") -> Array:
    """An array filled with ``fill_value``.

    >>> full((2, 2), 1.5, chunks=1).compute()
    array([[1.5, 1.5],
           [1.5, 1.5]])
    """
    shape = check_shape(shape)
    if np.ndim(fill_value) != 0:
        raise ValueError(
            f"fill_value must be a scalar, got an array of shape {np.shape(fill_value)}"
        )
    dtype = np.dtype(dtype) if dtype is not None else np.array(fill_value).dtype
    chunks = normalize_chunks(chunks, shape, dtype)
    return Array(
        RegionSource(
            _full_region, (fill_value, dtype), chunks, meta_from(dtype, len(shape)), "full"
        )
    )


def ones(shape: Any, dtype: Any = float, chunks: Any = "auto") -> Array:
    """An array of ones.

    >>> ones(3, chunks=2).compute()
    array([1., 1., 1.])
    """
    dtype = float if dtype is None else dtype  # NumPy's default, not the fill value's type
    return _named(full(shape, 1, dtype=dtype, chunks=chunks), "ones")


def zeros(shape: Any, dtype: Any = float, chunks: Any = "auto") -> Array:
    """An array of zeros.

    >>> zeros((2,), dtype=int, chunks=1).compute()
    array([0, 0])
    """
    dtype = float if dtype is None else dtype  # NumPy's default, not the fill value's type
    return _named(full(shape, 0, dtype=dtype, chunks=chunks), "zeros")


def empty(shape: Any, dtype: Any = float, chunks: Any = "auto") -> Array:
    """An array whose values are whatever memory held (like ``np.empty``).

    >>> empty((2, 3), chunks=2).shape
    (2, 3)
    """
    shape = check_shape(shape)
    dtype = np.dtype(dtype)
    chunks = normalize_chunks(chunks, shape, dtype)
    return Array(
        RegionSource(_empty_region, (dtype,), chunks, meta_from(dtype, len(shape)), "empty")
    )


def _named(arr: Array, prefix: str) -> Array:
    e = arr.expr
    assert isinstance(e, RegionSource), "_named renames region sources only"
    return Array(RegionSource(e.maker, e.args, e.chunks, e.meta, prefix))


def _like(a: Any, dtype: Any, chunks: Any, shape: Any) -> tuple:
    shape = tuple(a.shape) if shape is None else check_shape(shape)
    dtype = a.dtype if dtype is None else dtype
    if chunks is None:
        chunks = a.chunks if isinstance(a, Array) and shape == a.shape else "auto"
    return shape, dtype, chunks


def full_like(
    a: Any, fill_value: Any, dtype: Any = None, chunks: Any = None, shape: Any = None
) -> Array:
    """Like ``full`` with the shape, dtype and chunks of ``a``.

    >>> full_like(arange(3, chunks=2), 9).compute()
    array([9, 9, 9])
    """
    shape, dtype, chunks = _like(a, dtype, chunks, shape)
    return full(shape, fill_value, dtype=dtype, chunks=chunks)


def ones_like(a: Any, dtype: Any = None, chunks: Any = None, shape: Any = None) -> Array:
    """Ones with the shape, dtype and chunks of ``a``.

    >>> ones_like(np.zeros(2, dtype=int)).compute()
    array([1, 1])
    """
    shape, dtype, chunks = _like(a, dtype, chunks, shape)
    return ones(shape, dtype=dtype, chunks=chunks)


def zeros_like(a: Any, dtype: Any = None, chunks: Any = None, shape: Any = None) -> Array:
    """Zeros with the shape, dtype and chunks of ``a``.

    >>> zeros_like(arange(2, chunks=1)).chunks
    ((1, 1),)
    """
    shape, dtype, chunks = _like(a, dtype, chunks, shape)
    return zeros(shape, dtype=dtype, chunks=chunks)


def empty_like(a: Any, dtype: Any = None, chunks: Any = None, shape: Any = None) -> Array:
    """An uninitialized array with the shape, dtype and chunks of ``a``.

    >>> empty_like(arange(2, chunks=1)).dtype
    dtype('int64')
    """
    shape, dtype, chunks = _like(a, dtype, chunks, shape)
    return empty(shape, dtype=dtype, chunks=chunks)


# ---------------------------------------------------------------- ranges


def _arange_region(region: tuple, start: Any, step: Any, dtype: np.dtype) -> np.ndarray:
    (r,) = region
    i = np.arange(r.start, r.stop, r.step)
    return (start + i * step).astype(dtype, copy=False)


def arange(
    start: Any, stop: Any = None, step: Any = 1, dtype: Any = None, chunks: Any = "auto"
) -> Array:
    """Evenly spaced values in ``[start, stop)``.

    >>> arange(2, 11, 3, chunks=2).compute()
    array([2, 5, 8])
    """
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange step must not be zero")
    n = max(int(math.ceil((stop - start) / step)), 0)
    if dtype is None:
        # NumPy types the range by all three bounds (arange(3, 13.0, 2) is float);
        # zero-valued bounds of the same types give that type without the values.
        dtype = np.arange(start * 0, stop * 0, step).dtype
    dtype = np.dtype(dtype)
    chunks = normalize_chunks(chunks, (n,), dtype)
    return Array(
        RegionSource(_arange_region, (start, step, dtype), chunks, meta_from(dtype, 1), "arange")
    )


def _linspace_region(
    region: tuple, start: float, step: float, num: int, stop: float, endpoint: bool, dtype: np.dtype
) -> np.ndarray:
    (r,) = region
    i = np.arange(r.start, r.stop, r.step)
    out = i * step + start
    if endpoint and num > 1:
        out[i == num - 1] = stop
    if dtype.kind in "iu":
        out = np.floor(out)  # NumPy floors, not truncates, into integer dtypes
    return out.astype(dtype, copy=False)


def linspace(
    start: float,
    stop: float,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    chunks: Any = "auto",
) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop``.

    >>> linspace(0, 1, 5, chunks=2).compute()
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    if num < 0:
        raise ValueError(f"linspace needs num >= 0, got {num}")
    div = (num - 1) if endpoint else num
    step = (stop - start) / div if div > 0 else float("nan")
    dtype = np.dtype(dtype) if dtype is not None else np.result_type(start, stop, float)
    chunks = normalize_chunks(chunks, (num,), dtype)
    out = Array(
        RegionSource(
            _linspace_region,
            (start, step if div > 0 else 0.0, num, stop, endpoint, dtype),
            chunks,
            meta_from(dtype, 1),
            "linspace",
        )
    )
    return (out, step) if retstep else out


def _eye_region(region: tuple, k: int, lower: bool, dtype: np.dtype) -> np.ndarray:
    rows = np.arange(region[0].start, region[0].stop, region[0].step)[:, None]
    cols = np.arange(region[1].start, region[1].stop, region[1].step)[None, :]
    mask = (cols <= rows + k) if lower else (cols == rows + k)
    return mask.astype(dtype)


def eye(
    N: int,
    M: int | None = None,
    k: int = 0,
    dtype: Any = float,  # noqa: N803
    chunks: Any = "auto",
) -> Array:
    """A 2-D array with ones on diagonal ``k``.

    >>> eye(3, k=1, chunks=2).compute()
    array([[0., 1., 0.],
           [0., 0., 1.],
           [0., 0., 0.]])
    """
    shape = check_shape((N, N if M is None else M))
    dtype = np.dtype(dtype)
    chunks = normalize_chunks(chunks, shape, dtype)
    return Array(
        RegionSource(_eye_region, (int(k), False, dtype), chunks, meta_from(dtype, 2), "eye")
    )


def identity(n: int, dtype: Any = float, chunks: Any = "auto") -> Array:
    """The ``n`` x ``n`` identity matrix.

    >>> identity(2, chunks=1).compute()
    array([[1., 0.],
           [0., 1.]])
    """
    return eye(n, dtype=dtype, chunks=chunks)


def tri(
    N: int,
    M: int | None = None,
    k: int = 0,
    dtype: Any = float,  # noqa: N803
    chunks: Any = "auto",
) -> Array:
    """Ones at and below diagonal ``k``, zeros elsewhere.

    >>> tri(3, k=-1, dtype=int, chunks=2).compute()
    array([[0, 0, 0],
           [1, 0, 0],
           [1, 1, 0]])
    """
    shape = check_shape((N, N if M is None else M))
    dtype = np.dtype(dtype)
    chunks = normalize_chunks(chunks, shape, dtype)
    return Array(
        RegionSource(_eye_region, (int(k), True, dtype), chunks, meta_from(dtype, 2), "tri")
    )


def _indices_region(region: tuple, dtype: np.dtype) -> np.ndarray:
    which = np.arange(region[0].start, region[0].stop, region[0].step)
    grids = (
        np.meshgrid(
            *[np.arange(r.start, r.stop, r.step, dtype=dtype) for r in region[1:]],
            indexing="ij",
            sparse=False,
        )
        if len(region) > 1
        else []
    )
    if not grids:
        return np.empty((len(which),), dtype=dtype)
    return (
        np.stack([grids[w] for w in which])
        if len(which)
        else np.empty((0, *grids[0].shape), dtype=dtype)
    )


def indices(dimensions: Sequence[int], dtype: Any = int, chunks: Any = "auto") -> Array:
    """An array of the index grids along each axis (like ``np.indices``).

    >>> indices((2, 3), chunks=1)[1].compute()
    array([[0, 1, 2],
           [0, 1, 2]])
    """
    dims = check_shape(dimensions)
    dtype = np.dtype(dtype)
    shape = (len(dims), *dims)
    if isinstance(chunks, (tuple, list)) and len(chunks) == len(dims):
        chunks = (1, *chunks)
    elif not isinstance(chunks, (tuple, list, dict)):
        chunks = (1, *normalize_chunks(chunks, dims, dtype))
    chunks = normalize_chunks(chunks, shape, dtype)
    return Array(
        RegionSource(_indices_region, (dtype,), chunks, meta_from(dtype, len(shape)), "indices")
    )


def _function_region(region: tuple, func: Callable, dtype: np.dtype, kwargs: dict) -> np.ndarray:
    coords = np.meshgrid(
        *[np.arange(r.start, r.stop, r.step, dtype=dtype) for r in region], indexing="ij"
    )
    out = np.asarray(func(*coords, **kwargs))
    shape = region_shape(region)
    return np.broadcast_to(out, shape) if out.shape != shape else out


def fromfunction(
    func: Callable, shape: Sequence[int], dtype: Any = float, chunks: Any = "auto", **kwargs: Any
) -> Array:
    """An array whose value at each index is ``func(*coordinates)``, computed
    block by block on coordinate grids of ``dtype``.

    >>> fromfunction(lambda i, j: i + 10 * j, (2, 2), dtype=int, chunks=1).compute()
    array([[ 0, 10],
           [ 1, 11]])
    """
    shape = check_shape(shape)
    dtype = np.dtype(dtype)
    chunks = normalize_chunks(chunks, shape, dtype)
    probe = np.asarray(func(*[np.zeros((1,) * len(shape), dtype) for _ in shape], **kwargs))
    meta = meta_from(probe.dtype, len(shape))
    source = FunctionSource(_function_region, (func, dtype, kwargs), chunks, meta, "fromfunction")
    return Array(source)


def meshgrid(*xi: Any, indexing: str = "xy", sparse: bool = False) -> list:
    """Coordinate arrays from 1-D arrays (like ``np.meshgrid``), by broadcasting.

    >>> a, b = meshgrid(arange(2, chunks=1), arange(3, chunks=2))
    >>> a.compute()
    array([[0, 1],
           [0, 1],
           [0, 1]])
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"indexing must be 'xy' or 'ij', got {indexing!r}")
    arrays = [asarray(x).ravel() for x in xi]
    n = len(arrays)
    shapes = [a.shape[0] for a in arrays]
    if indexing == "xy" and n > 1:
        shapes[0], shapes[1] = shapes[1], shapes[0]
    out = []
    for i, a in enumerate(arrays):
        pos = i
        if indexing == "xy" and n > 1 and i < 2:
            pos = 1 - i
        view = a.reshape(tuple(-1 if j == pos else 1 for j in range(n)))
        out.append(view if sparse else broadcast_to(view, tuple(shapes)))
    return out
