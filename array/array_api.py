"""The Array API namespace of shoal arrays (``x.__array_namespace__()``).

It holds the standard's names (2023.12): the shoal functions where names
agree, and thin adapters where the standard spells things differently
(``permute_dims``, ``concat``, ``pow``, ``bitwise_invert``, ``std(correction=)``,
``cumulative_sum``, ...). Sorting gathers the sorted axis into one block.
``from_dlpack`` takes CPU producers that NumPy can read.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

import shoal.array as _sa

from .core import Array
from .sliding import sliding_window_view
from .sorting import argsort, sort  # noqa: F401 - part of the namespace

__array_api_version__ = "2023.12"

e, inf, nan, pi, newaxis = np.e, np.inf, np.nan, np.pi, None
_Bool = bool  # the builtin, for annotations: the namespace's bool is NumPy's
bool = np.bool_  # noqa: A001 - the standard's name
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8, uint16, uint32, uint64 = np.uint8, np.uint16, np.uint32, np.uint64
float32, float64, complex64, complex128 = np.float32, np.float64, np.complex64, np.complex128
can_cast, finfo, iinfo, isdtype, result_type = (
    np.can_cast,
    np.finfo,
    np.iinfo,
    np.isdtype,
    np.result_type,
)

_SAME = """arange asarray empty empty_like eye full full_like linspace meshgrid ones ones_like
tril triu zeros zeros_like abs add atan2 bitwise_and bitwise_or bitwise_xor ceil clip conj
copysign cos cosh divide equal exp expm1 floor floor_divide greater greater_equal hypot imag
isfinite isinf isnan less less_equal log log1p log2 log10 logaddexp logical_and logical_not
logical_or logical_xor maximum minimum multiply negative not_equal positive real remainder
round sign signbit sin sinh square sqrt subtract tan tanh trunc matmul tensordot
broadcast_arrays broadcast_to expand_dims flip moveaxis repeat reshape roll squeeze stack tile
argmax argmin nonzero searchsorted where max mean min prod sum all any""".split()
for _name in _SAME:
    globals()[_name] = getattr(_sa, _name)
# the ufuncs are bound in a loop (shoal.array.api), out of a type checker's sight
acos, acosh, asin, asinh = _sa.arccos, _sa.arccosh, _sa.arcsin, _sa.arcsinh  # type: ignore[attr-defined]
atan, atanh, pow = _sa.arctan, _sa.arctanh, _sa.power  # type: ignore[attr-defined]  # noqa: A001
bitwise_invert, bitwise_left_shift, bitwise_right_shift = (
    _sa.invert,  # type: ignore[attr-defined]
    _sa.left_shift,  # type: ignore[attr-defined]
    _sa.right_shift,  # type: ignore[attr-defined]
)
concat = _sa.concatenate
nextafter, reciprocal = _sa.nextafter, _sa.reciprocal  # type: ignore[attr-defined]
count_nonzero, diff = _sa.count_nonzero, _sa.diff
unique_values = _sa.unique


def unique_counts(x: Array, /) -> tuple:
    """(values, counts) of the unique values.

    >>> [a.compute() for a in unique_counts(_sa.asarray([2, 1, 2], chunks=2))]
    [array([1, 2]), array([1, 2])]
    """
    return _sa.unique(x, return_counts=True)


def unique_inverse(x: Array, /) -> tuple:
    """(values, inverse indices shaped like ``x``).

    >>> [a.compute() for a in unique_inverse(_sa.asarray([2, 1, 2], chunks=2))]
    [array([1, 2]), array([1, 0, 1])]
    """
    return _sa.unique(x, return_inverse=True)


def unique_all(x: Array, /) -> tuple:
    """(values, first indices, inverse indices, counts).

    >>> [a.compute() for a in unique_all(_sa.asarray([2, 1, 2], chunks=2))][1]
    array([1, 0])
    """
    return _sa.unique(x, return_index=True, return_inverse=True, return_counts=True)


def astype(x: Array, dtype: Any, /, *, copy: _Bool = True, device: Any = None) -> Array:
    """Cast ``x`` to ``dtype``.

    >>> astype(_sa.arange(3, chunks=2), float32).dtype
    dtype('float32')
    """
    return _sa.asarray(x).astype(dtype)


def permute_dims(x: Array, /, axes: tuple) -> Array:
    """Permute the axes.

    >>> permute_dims(_sa.ones((2, 3), chunks=1), (1, 0)).shape
    (3, 2)
    """
    return _sa.transpose(x, axes)


def matrix_transpose(x: Array, /) -> Array:
    """Swap the last two axes.

    >>> matrix_transpose(_sa.ones((4, 2, 3), chunks=2)).shape
    (4, 3, 2)
    """
    return _sa.swapaxes(x, -1, -2)


def vecdot(x1: Array, x2: Array, /, *, axis: int = -1) -> Array:
    """Dot product along ``axis`` (conjugating ``x1``).

    >>> int(vecdot(_sa.arange(3, chunks=2), _sa.arange(3, chunks=1)))
    5
    """
    dtype = np.result_type(x1.dtype, x2.dtype)  # NumPy's: no widening of small ints
    return (_sa.conj(x1) * x2).sum(axis=axis, dtype=dtype)  # type: ignore[attr-defined]


def unstack(x: Array, /, *, axis: int = 0) -> tuple:
    """The slices of ``x`` along ``axis``.

    >>> [a.shape for a in unstack(_sa.ones((2, 3), chunks=1))]
    [(3,), (3,)]
    """
    x = _sa.asarray(x)
    axis %= x.ndim
    return tuple(
        x[tuple(i if a == axis else slice(None) for a in range(x.ndim))]
        for i in range(x.shape[axis])
    )


def take(x: Array, indices: Any, /, *, axis: int | None = None) -> Array:
    """Elements at integer ``indices`` along ``axis``.

    >>> take(_sa.arange(5, chunks=2), np.array([4, 0])).compute()
    array([4, 0])
    """
    x = _sa.asarray(x)
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take needs axis= for arrays of more than one axis")
        axis = 0
    axis %= x.ndim
    return x[tuple(indices if a == axis else slice(None) for a in range(x.ndim))]


def std(
    x: Array, /, *, axis: Any = None, correction: float = 0.0, keepdims: _Bool = False
) -> Array:
    """Standard deviation with ``correction`` degrees of freedom.

    >>> float(std(_sa.asarray([1.0, 3.0]), correction=1)) == float(np.std([1.0, 3.0], ddof=1))
    True
    """
    return _sa.std(x, axis=axis, ddof=correction, keepdims=keepdims)


def var(
    x: Array, /, *, axis: Any = None, correction: float = 0.0, keepdims: _Bool = False
) -> Array:
    """Variance with ``correction`` degrees of freedom.

    >>> float(var(_sa.asarray([1.0, 3.0])))
    1.0
    """
    return _sa.var(x, axis=axis, ddof=correction, keepdims=keepdims)


def cumulative_sum(
    x: Array,
    /,
    *,
    axis: int | None = None,
    dtype: Any = None,
    include_initial: _Bool = False,
) -> Array:
    """Running sums along ``axis`` (optionally starting with a zero).

    >>> cumulative_sum(_sa.arange(4, chunks=3), include_initial=True).compute()
    array([0, 0, 1, 3, 6])
    """
    x = _sa.asarray(x)
    if axis is None:
        if x.ndim != 1:
            raise ValueError("cumulative_sum needs axis= for arrays of more than one axis")
        axis = 0
    out = _sa.cumsum(x, axis=axis, dtype=dtype)
    if include_initial:
        axis %= x.ndim
        shape = tuple(1 if a == axis else n for a, n in enumerate(x.shape))
        chunks = tuple((1,) if a == axis else c for a, c in enumerate(out.chunks))
        out = _sa.concatenate([_sa.zeros(shape, dtype=out.dtype, chunks=chunks), out], axis)
    return out


def from_dlpack(x: Any, /) -> Array:
    """A shoal array from a DLPack producer on the CPU (through NumPy).

    >>> from_dlpack(np.arange(3)).compute()
    array([0, 1, 2])
    """
    return _sa.asarray(np.from_dlpack(x))


def cumulative_prod(
    x: Array,
    /,
    *,
    axis: int | None = None,
    dtype: Any = None,
    include_initial: _Bool = False,
) -> Array:
    """Running products along ``axis`` (optionally starting with a one).

    >>> cumulative_prod(_sa.arange(1, 5, chunks=3)).compute()
    array([ 1,  2,  6, 24])
    """
    x = _sa.asarray(x)
    if axis is None:
        if x.ndim != 1:
            raise ValueError("cumulative_prod needs axis= for arrays of more than one axis")
        axis = 0
    out = _sa.cumprod(x, axis=axis, dtype=dtype)
    if include_initial:
        axis %= x.ndim
        shape = tuple(1 if a == axis else n for a, n in enumerate(x.shape))
        chunks = tuple((1,) if a == axis else c for a, c in enumerate(out.chunks))
        out = _sa.concatenate([_sa.ones(shape, dtype=out.dtype, chunks=chunks), out], axis)
    return out


class _Info:
    """What this namespace supports (``__array_api_info__()``)."""

    def capabilities(self) -> dict:
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": None}

    def default_device(self) -> str:
        return "cpu"

    def devices(self) -> list:
        return ["cpu"]

    def default_dtypes(self, *, device: Any = None) -> dict:
        return {
            "real floating": float64,
            "complex floating": complex128,
            "integral": int64,
            "indexing": int64,
        }

    def dtypes(self, *, device: Any = None, kind: Any = None) -> dict:
        names = [
            "bool",
            "int8",
            "int16",
            "int32",
            "int64",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "float32",
            "float64",
            "complex64",
            "complex128",
        ]
        table = {n: np.dtype(n) for n in names}
        if kind is None:
            return table
        return {n: d for n, d in table.items() if np.isdtype(d, kind)}


def __array_api_info__() -> _Info:  # noqa: N807 - the standard's name
    """The namespace's capabilities, devices and dtypes.

    >>> __array_api_info__().default_device()
    'cpu'
    """
    return _Info()


# NumPy names outside the standard that xarray reads from an array's namespace
# (``rolling`` pads, then takes ``xp.lib.stride_tricks.sliding_window_view``).
pad = _sa.pad  # type: ignore[attr-defined]
lib = SimpleNamespace(stride_tricks=SimpleNamespace(sliding_window_view=sliding_window_view))
