"""The bottom floor of the array room: values made into arrays (``asarray``,
``from_array``) and into zero-size blocks (``meta_from``).

Every operation family (elementwise, reductions, slicing, shape, creation,
...) converts its inputs with these, so this module imports no family: the
families import each other at module level, each above the ones it uses,
with this module and the expression modules (``expr``, ``sources``,
``core``) below them all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shoal.core.base import is_collection
from shoal.core.task import Ref
from shoal.core.tokenize import tokenize

from .chunks import normalize_chunks
from .core import Array
from .sources import H5Source, NamedLock, RegionSource, is_h5py_dataset

__all__ = [
    "meta_from",
    "masked_meta",
    "is_masked",
    "meta_like",
    "check_shape",
    "from_array",
    "asarray",
    "asanyarray",
    "array",
]


def meta_from(dtype: Any, ndim: int) -> np.ndarray:
    """A zero-size NumPy block of ``dtype`` with ``ndim`` axes.

    >>> meta_from("i4", 2)
    array([], shape=(0, 0), dtype=int32)
    """
    return np.empty((0,) * ndim, dtype=dtype)


def masked_meta(dtype: Any, ndim: int) -> np.ndarray:
    """A zero-size masked block: the meta of arrays whose blocks carry masks.

    >>> type(masked_meta("f8", 1)).__name__
    'MaskedArray'
    """
    return np.ma.empty((0,) * ndim, dtype=dtype)


def is_masked(meta: Any) -> bool:
    """True if blocks of this meta are masked arrays (``np.ma`` semantics).

    >>> is_masked(masked_meta(float, 1)), is_masked(meta_from(float, 1))
    (True, False)
    """
    return isinstance(meta, np.ma.MaskedArray)


def meta_like(meta: Any, ndim: int, dtype: Any = None) -> np.ndarray:
    """A zero-size block of ``meta``'s kind (masked or not) with ``ndim`` axes.

    >>> meta_like(masked_meta("i4", 2), 1).shape, type(meta_like(meta_from("i4", 2), 0))
    ((0,), <class 'numpy.ndarray'>)
    """
    dtype = meta.dtype if dtype is None else dtype
    return masked_meta(dtype, ndim) if is_masked(meta) else meta_from(dtype, ndim)


def check_shape(shape: Any) -> tuple:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(shape)
    for n in shape:
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"shape {shape} must be a tuple of non-negative integers")
    return tuple(int(n) for n in shape)


def _read(region: tuple, source: Any, lock: Any) -> np.ndarray:
    if lock is not None:
        with lock:
            block = source[region]
    else:
        block = source[region]
    # masked sources keep their masks; anything else becomes a plain array
    return block if isinstance(block, np.ma.MaskedArray) else np.asarray(block)


def held_numpy(x: Array) -> np.ndarray | None:
    """The NumPy array ``x`` reads from when ``x`` is ``from_array`` of one
    (its values are in memory already: nothing runs to see them), else None.

    >>> held_numpy(from_array(np.arange(3), chunks=2)).tolist()
    [0, 1, 2]
    >>> held_numpy(from_array(np.arange(3), chunks=2) + 1) is None
    True
    """
    expr = x.expr
    if not isinstance(expr, RegionSource) or expr.maker is not _read:
        return None
    source = expr.args[0]
    if isinstance(source, Ref):
        source = (expr.deps or {}).get(source.key)
    if type(source) is np.ndarray and source.shape == x.shape:
        return source
    return None


def from_array(
    x: Any,
    chunks: Any = "auto",
    name: str | None = None,
    lock: bool | Any = False,
    asarray: bool = True,
    inline_array: bool = False,
) -> Array:
    """A blocked array reading from ``x``: anything with ``shape``, ``dtype``
    and NumPy-style slicing (NumPy arrays, memmaps, h5py or zarr datasets).

    Blocks are read where they are used, region by region; ``lock=True`` (or
    a lock object) serializes reads for stores that are not thread-safe.
    ``x`` is one graph entry that every read refers to, or, with
    ``inline_array=True``, held by every read task itself (no shared entry:
    for small or cheaply pickled sources). h5py datasets travel as their file
    name and dataset path (``hdf5.py``), never pickled.

    >>> x = from_array(np.arange(10), chunks=4)
    >>> x.chunks, x[3:6].compute()
    (((4, 4, 2),), array([3, 4, 5]))
    >>> from_array(np.arange(4), chunks=2, inline_array=True).sum().compute()
    np.int64(6)
    """
    if isinstance(x, Array):
        return x if chunks == "auto" else x.rechunk(chunks)
    original = x
    if is_h5py_dataset(x):
        x = H5Source.of(x)
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        converted = np.asarray(x)
        if converted.dtype == object and converted.ndim == 0:
            x = None
        else:
            x = converted
    if getattr(x, "dtype", None) is None or not hasattr(x, "__getitem__"):
        raise TypeError(
            f"from_array needs an object with shape, dtype and slicing, got {original!r}"
        )
    shape = check_shape(x.shape)
    dtype = np.dtype(x.dtype)
    chunks = normalize_chunks(chunks, shape, dtype)
    if lock is True:
        lock = NamedLock()
    lock = lock or None
    token = name or tokenize(x, chunks, lock)
    masked = isinstance(x, np.ma.MaskedArray)
    meta = masked_meta(dtype, len(shape)) if masked else meta_from(dtype, len(shape))
    if inline_array:
        return Array(RegionSource(_read, (x, lock), chunks, meta, "array"))
    source_key = f"array-source-{token}"
    return Array(
        RegionSource(_read, (Ref(source_key), lock), chunks, meta, "array", {source_key: x})
    )


def asarray(x: Any, dtype: Any = None, chunks: Any = "auto", **kwargs: Any) -> Array:
    """A shoal array from an array, nested lists (of numbers or of shoal arrays,
    which are stacked lazily), a scalar or a shoal array.

    >>> asarray([[1, 2], [3, 4]]).sum().compute()
    np.int64(10)
    >>> import shoal.array as sa
    >>> asarray([sa.arange(2, chunks=1), sa.arange(2, chunks=1)]).shape
    (2, 2)
    """
    if isinstance(x, Array):
        return x if dtype is None or x.dtype == np.dtype(dtype) else x.astype(dtype)
    if isinstance(x, (list, tuple)) and _holds_arrays(x):
        # np.stack dispatches to shoal's stack (numpy_dispatch.py): this floor
        # module imports no operation family.
        return np.stack([asarray(item, dtype=dtype) for item in x])  # type: ignore[return-value]
    if is_collection(x):
        raise TypeError(f"cannot make an array from a {type(x).__name__}; use from_delayed")
    if not (hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "__getitem__")):
        x = np.asarray(x, dtype=dtype)
    elif dtype is not None and np.dtype(dtype) != x.dtype:
        x = np.asarray(x, dtype=dtype)
    return from_array(x, chunks=chunks, **kwargs)


asanyarray = asarray


def _holds_arrays(items: Any) -> bool:
    return any(
        isinstance(i, Array) or (isinstance(i, (list, tuple)) and _holds_arrays(i)) for i in items
    )


def array(x: Any, dtype: Any = None, **kwargs: Any) -> Array:
    """Like ``asarray`` (shoal arrays are immutable, so no copy is needed).

    >>> array([1, 2]).compute()
    array([1, 2])
    """
    return asarray(x, dtype=dtype, **kwargs)
