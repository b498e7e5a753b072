"""Elementwise functions of the Array API namespace: NumPy's ufuncs under the
standard's names (``acos``, ``pow``, ``bitwise_invert`` ...), lazy and fused
like every shoal ufunc, plus adapters where the standard differs: ``clip``
keeps ``x``'s dtype, ``ceil``/``floor``/``trunc``/``round`` return integer
input unchanged, and every function needs at least one array operand (a
Python scalar beside it takes the array's dtype).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .convert import asarray
from .core import Array
from .elementwise import elemwise
from .numpy_dispatch import array_ufunc

__all__ = ["ELEMENTWISE", "clip", "round"]

# the standard's name -> NumPy's ufunc
_UFUNCS = {
    "abs": np.absolute,
    "acos": np.arccos,
    "acosh": np.arccosh,
    "add": np.add,
    "asin": np.arcsin,
    "asinh": np.arcsinh,
    "atan": np.arctan,
    "atan2": np.arctan2,
    "atanh": np.arctanh,
    "bitwise_and": np.bitwise_and,
    "bitwise_left_shift": np.left_shift,
    "bitwise_invert": np.invert,
    "bitwise_or": np.bitwise_or,
    "bitwise_right_shift": np.right_shift,
    "bitwise_xor": np.bitwise_xor,
    "ceil": np.ceil,
    "conj": np.conjugate,
    "copysign": np.copysign,
    "cos": np.cos,
    "cosh": np.cosh,
    "divide": np.divide,
    "equal": np.equal,
    "exp": np.exp,
    "expm1": np.expm1,
    "floor": np.floor,
    "floor_divide": np.floor_divide,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
    "hypot": np.hypot,
    "isfinite": np.isfinite,
    "isinf": np.isinf,
    "isnan": np.isnan,
    "less": np.less,
    "less_equal": np.less_equal,
    "log": np.log,
    "log1p": np.log1p,
    "log2": np.log2,
    "log10": np.log10,
    "logaddexp": np.logaddexp,
    "logical_and": np.logical_and,
    "logical_not": np.logical_not,
    "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "multiply": np.multiply,
    "negative": np.negative,
    "nextafter": np.nextafter,
    "not_equal": np.not_equal,
    "positive": np.positive,
    "pow": np.power,
    "reciprocal": np.reciprocal,
    "remainder": np.remainder,
    "sign": np.sign,
    "signbit": np.signbit,
    "sin": np.sin,
    "sinh": np.sinh,
    "square": np.square,
    "sqrt": np.sqrt,
    "subtract": np.subtract,
    "tan": np.tan,
    "tanh": np.tanh,
    "trunc": np.trunc,
}
_INTEGER_IDENTITY = ("ceil", "floor", "trunc")
_REAL_PARTS = {"real": np.real, "imag": np.imag}


def _operand(x: Any) -> Any:
    return asarray(x) if isinstance(x, np.ndarray) else x


def _apply(name: str, ufunc: np.ufunc, args: tuple) -> Array:
    args = tuple(_operand(a) for a in args)
    if not any(isinstance(a, Array) for a in args):
        raise TypeError(f"{name} needs at least one array argument")
    if name in _INTEGER_IDENTITY and args[0].dtype.kind in "iub":
        return args[0]
    return array_ufunc(ufunc, "__call__", args, {})


def _make(name: str, ufunc: np.ufunc) -> Callable:
    if ufunc.nin == 1:

        def func(x: Array, /) -> Array:
            return _apply(name, ufunc, (x,))

    else:

        def func(x1: Any, x2: Any, /) -> Array:  # type: ignore[misc]
            return _apply(name, ufunc, (x1, x2))

    func.__name__ = func.__qualname__ = name
    func.__doc__ = (
        f"``numpy.{ufunc.__name__}`` elementwise, lazily (the standard's ``{name}``).\n\n"
        f"    >>> {name}(*[asarray([1.0, 2.0])] * {ufunc.nin}).shape\n    (2,)\n"
    )
    return func


def _make_part(name: str, np_func: Callable) -> Callable:
    def func(x: Array, /) -> Array:
        x = asarray(x)
        if x.dtype.kind != "c" and name == "imag":
            return array_ufunc(np.multiply, "__call__", (x, 0), {})
        return x if x.dtype.kind != "c" else _elementwise(np_func, x, name)

    func.__name__ = func.__qualname__ = name
    func.__doc__ = (
        f"The {name} part of each element (real input: the {name} part of a real).\n\n"
        f"    >>> {name}(asarray([1 + 2j])).compute()\n"
        f"    array([{'1.' if name == 'real' else '2.'}])\n"
    )
    return func


def _elementwise(np_func: Callable, x: Array, name: str) -> Array:
    return elemwise(np_func, x, name=name)


ELEMENTWISE: dict[str, Callable] = {name: _make(name, uf) for name, uf in _UFUNCS.items()}
ELEMENTWISE.update({name: _make_part(name, f) for name, f in _REAL_PARTS.items()})


def _clip_block(block: np.ndarray, low: Any, high: Any) -> np.ndarray:
    out = block  # maximum/minimum propagate NaN from any side, as the standard asks
    if low is not None:
        out = np.maximum(out, low)
    if high is not None:
        out = np.minimum(out, high)
    return np.asarray(out).astype(block.dtype, copy=False)


def clip(x: Array, /, min: Any = None, max: Any = None) -> Array:  # noqa: A002
    """``x`` limited to ``[min, max]`` (scalars or arrays); the result keeps ``x``'s dtype.

    >>> clip(asarray([1, 5, 9], dtype=np.int8), 2, 6).compute()
    array([2, 5, 6], dtype=int8)
    """
    x = asarray(x)
    if x.dtype.kind in "bc":
        raise TypeError(f"clip needs a real-valued array, got {x.dtype}")
    return elemwise(_clip_block, x, _operand(min), _operand(max), dtype=x.dtype, name="clip")


def round(x: Array, /) -> Array:  # noqa: A001 - the standard's name
    """Each element rounded to the nearest integer (halves to even); integers unchanged.

    >>> round(asarray([0.5, 1.5, -2.5])).compute()
    array([ 0.,  2., -2.])
    """
    x = asarray(x)
    if x.dtype.kind in "iub":
        return x
    return _elementwise(np.round, x, "round")
