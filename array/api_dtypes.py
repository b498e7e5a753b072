"""Data types of the Array API namespace: the dtype objects, ``finfo`` and
``iinfo`` (fields as Python numbers, as the standard asks), ``isdtype``,
``result_type`` and ``can_cast`` (arrays, dtypes and Python scalars mixed),
``astype`` and the default dtypes.

The dtype objects are NumPy's ``np.dtype`` instances, so ``x.dtype ==
xp.float32`` holds and ``{xp.float32: ...}[x.dtype]`` finds its key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .convert import asarray
from .core import Array
from .elementwise import astype as _astype

__all__ = [
    "DTYPE_NAMES",
    "DTYPES",
    "astype",
    "can_cast",
    "check_dtype",
    "default_float",
    "finfo",
    "iinfo",
    "isdtype",
    "result_type",
]

DTYPE_NAMES = (
    "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 "
    "float32 float64 complex64 complex128".split()
)
DTYPES = {name: np.dtype(name) for name in DTYPE_NAMES}


def check_dtype(dtype: Any, what: str) -> np.dtype:
    """``dtype`` as an ``np.dtype`` if the standard has it; a clear error otherwise.

    >>> check_dtype(np.float32, "zeros")
    dtype('float32')
    """
    try:
        out = np.dtype(dtype)
    except TypeError:
        out = None
    if out is None or out.name not in DTYPES:
        raise TypeError(
            f"{what}: {dtype!r} is not an Array API dtype; expected one of {', '.join(DTYPE_NAMES)}"
        )
    return out


def default_float(x: Any) -> np.dtype:
    """The default floating dtype that holds ``x``'s kind (float64/complex128).

    >>> default_float(1j)
    dtype('complex128')
    """
    return np.dtype(np.complex128 if isinstance(x, complex) else np.float64)


@dataclass(frozen=True)
class FloatInfo:
    """Machine limits of a floating dtype, as Python floats."""

    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: np.dtype


@dataclass(frozen=True)
class IntInfo:
    """Machine limits of an integer dtype, as Python ints."""

    bits: int
    max: int
    min: int
    dtype: np.dtype


def _dtype_of(x: Any) -> np.dtype:
    return x.dtype if isinstance(x, (Array, np.ndarray)) else np.dtype(x)


def finfo(type: Any, /) -> FloatInfo:  # noqa: A002 - the standard's name
    """Limits of a floating dtype (or of an array's dtype).

    >>> finfo(np.float32).eps
    1.1920928955078125e-07
    """
    info = np.finfo(_dtype_of(type))
    return FloatInfo(
        int(info.bits),
        float(info.eps),
        float(info.max),
        float(info.min),
        float(info.smallest_normal),
        np.dtype(info.dtype),
    )


def iinfo(type: Any, /) -> IntInfo:  # noqa: A002 - the standard's name
    """Limits of an integer dtype (or of an array's dtype).

    >>> iinfo(np.int8).min
    -128
    """
    info = np.iinfo(_dtype_of(type))
    return IntInfo(int(info.bits), int(info.max), int(info.min), np.dtype(info.dtype))


def isdtype(dtype: Any, kind: Any) -> bool:
    """Whether ``dtype`` is of ``kind`` (a dtype, a kind name or a tuple of them).

    >>> isdtype(np.dtype("int8"), ("real floating", "signed integer"))
    True
    """
    if not isinstance(dtype, np.dtype):
        raise TypeError(f"isdtype needs a dtype, got {type(dtype).__name__}")
    return np.isdtype(dtype, kind)


def result_type(*arrays_and_dtypes: Any) -> np.dtype:
    """The dtype the standard's promotion gives; Python scalars are weak (they
    take the other operands' dtype when its kind holds them), as in NumPy 2.

    >>> result_type(np.dtype("int8"), np.dtype("int16"), 1)
    dtype('int16')
    """
    if not arrays_and_dtypes:
        raise ValueError("result_type needs at least one array or dtype")
    values = [
        a if type(a) in (bool, int, float, complex) else _dtype_of(a) for a in arrays_and_dtypes
    ]
    return np.result_type(*values)


def can_cast(from_: Any, to: Any, /) -> bool:
    """Whether ``from_`` (a dtype or an array) casts to ``to`` without losing
    values. Within a kind this is the standard's promotion rule; across kinds
    (int to float), which the standard leaves open, NumPy's "safe" rule.

    >>> can_cast(np.dtype("int8"), np.dtype("int16")), can_cast(np.dtype("int64"), np.int8)
    (True, False)
    """
    return np.can_cast(_dtype_of(from_), np.dtype(to), casting="safe")


def astype(x: Array, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Array:
    """``x`` cast to ``dtype`` (``copy`` is moot: shoal arrays are immutable).

    >>> astype(np.arange(3), np.dtype("float32")).dtype
    dtype('float32')
    """
    if device not in (None, "cpu"):
        raise ValueError(f"astype: shoal arrays live on the cpu, not {device!r}")
    x = asarray(x)
    dtype = check_dtype(dtype, "astype")
    if x.dtype.kind == "c" and dtype.kind != "c" and dtype.kind != "b":
        raise TypeError(
            f"astype: casting complex {x.dtype} to {dtype} drops the imaginary part; "
            "take real(x) or imag(x) first"
        )
    return _astype(x, dtype)
