"""``pad`` with every NumPy mode, including ``empty`` and a function.

Axes are padded one after the other, each seeing the padding of the axes
before it, as ``numpy.pad`` does. Each side of an axis becomes a small array
concatenated to the blocks of that axis, so the blocks in the middle stay as
they are:

- ``constant``, ``edge``, ``linear_ramp``: made from the constant or from the
  one edge slice (ramps of integers are floored, as ``numpy.linspace`` does);
- ``maximum``, ``minimum``, ``mean``, ``median``: a reduction over the first
  (or last) ``stat_length`` slices, broadcast over the width (integer results
  of ``mean``/``median`` are rounded like NumPy);
- ``reflect``, ``symmetric``, ``wrap``: a gather of the slices NumPy would
  copy, found by padding an index vector with ``numpy.pad`` itself (which
  also covers widths longer than the axis, reflected again and again); with
  ``reflect_type="odd"`` the side is a linear map of a few slices, found by
  padding the columns of the identity that those slices pick;
- ``empty``: the padding's values are unspecified, as in NumPy (here zeros);
- a function ``f(vector, (before, after), axis, kwargs)``: as ``numpy.pad``,
  zeros around the array, then ``f`` edits every 1-D vector along each axis
  in turn, in place; the array is one block along that axis for its turn.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import numpy as np

from . import numpy_reductions, order_stats
from .convert import asarray
from .core import Array
from .creation import full
from .products import tensordot
from .shape import broadcast_to, concatenate, moveaxis

__all__ = ["pad"]

MODES = (
    "constant",
    "edge",
    "linear_ramp",
    "maximum",
    "minimum",
    "mean",
    "median",
    "reflect",
    "symmetric",
    "wrap",
)
_STATS = ("maximum", "minimum", "mean", "median")
_REFLECTING = ("reflect", "symmetric", "wrap")


def _along(ndim: int, axis: int, index: Any) -> tuple:
    return (slice(None),) * axis + (index,)


def _pairs(value: Any, ndim: int, what: str, dtype: Any = None) -> np.ndarray:
    """``value`` as one (before, after) pair per axis, like ``numpy.pad``."""
    arr = np.asarray(value, dtype=dtype)
    try:
        return np.broadcast_to(arr, (ndim, 2))
    except ValueError:
        raise ValueError(
            f"{what}={value!r} must be a number, a (before, after) pair, or one pair per "
            f"axis of the {ndim}-d array"
        ) from None


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Array:
    """``numpy.pad`` for shoal arrays (see module docstring for the modes).

    Keywords as NumPy: ``constant_values`` (constant), ``end_values``
    (linear_ramp), ``stat_length`` (maximum/minimum/mean/median),
    ``reflect_type`` (reflect/symmetric).

    >>> import shoal.array as sa
    >>> pad(sa.arange(3, chunks=2), (1, 2), constant_values=9).compute()
    array([9, 0, 1, 2, 9, 9])
    >>> pad(sa.arange(4, chunks=3), 3, mode="reflect").compute()
    array([3, 2, 1, 0, 1, 2, 3, 2, 1, 0])
    """
    a = asarray(array)
    if callable(mode):
        return _pad_with_function(a, pad_width, mode, kwargs)
    if mode == "empty":
        if kwargs:
            raise ValueError(f"unsupported keyword arguments for mode 'empty': {sorted(kwargs)}")
        mode = "constant"
    if mode not in MODES:
        raise ValueError(
            f"pad mode {mode!r} is not supported; expected one of {MODES}, 'empty' or a function"
        )
    allowed = {
        "constant": {"constant_values"},
        "linear_ramp": {"end_values"},
        "reflect": {"reflect_type"},
        "symmetric": {"reflect_type"},
    }.get(mode, {"stat_length"} if mode in _STATS else set())
    unknown = set(kwargs) - allowed
    if unknown:
        raise ValueError(f"unsupported keyword arguments for mode {mode!r}: {sorted(unknown)}")
    widths = _pairs(pad_width, a.ndim, "pad_width")
    if not np.issubdtype(widths.dtype, np.integer):
        raise TypeError(f"pad_width must be integers, got {pad_width!r}")
    if (widths < 0).any():
        raise ValueError(f"pad widths must be non-negative, got {pad_width}")
    reflect_type = kwargs.get("reflect_type", "even")
    if reflect_type not in ("even", "odd"):
        raise ValueError(f"reflect_type must be 'even' or 'odd', got {reflect_type!r}")
    for ax in range(a.ndim):
        before, after = (int(w) for w in widths[ax])
        if not (before or after):
            continue
        if a.shape[ax] == 0 and mode != "constant":
            raise ValueError(f"can't extend empty axis {ax} using modes other than 'constant'")
        sides = _sides(a, ax, before, after, mode, kwargs, reflect_type)
        pieces = [p for p in (sides[0], a, sides[1]) if p is not None]
        a = concatenate(pieces, axis=ax)
    return a


def _pad_with_function(a: Array, pad_width: Any, function: Any, kwargs: dict) -> Array:
    padded = pad(a, pad_width)
    widths = _pairs(pad_width, a.ndim, "pad_width")
    for axis in range(a.ndim):
        width = (int(widths[axis, 0]), int(widths[axis, 1]))
        whole = padded.rechunk({axis: -1})
        padded = whole.map_blocks(
            _apply_along, function, width, axis, kwargs, dtype=padded.dtype, name="pad-function"
        )
    return padded


def _apply_along(block: np.ndarray, function: Any, width: tuple, axis: int, kw: dict) -> np.ndarray:
    """``function`` called on every 1-D vector of ``block`` along ``axis``, as
    ``numpy.pad`` calls it (on a copy: blocks are never changed in place)."""
    out = np.array(block, copy=True)
    view = np.moveaxis(out, axis, -1)
    for index in np.ndindex(view.shape[:-1]):
        function(view[index], width, axis, kw)
    return out


def _sides(a: Array, ax: int, before: int, after: int, mode: str, kw: dict, kind: str) -> list:
    if mode in _REFLECTING:
        return _reflected(a, ax, before, after, mode, kind)
    out: list[Array | None] = []
    for side, width in ((0, before), (1, after)):
        if not width:
            out.append(None)
            continue
        shape = a.shape[:ax] + (width,) + a.shape[ax + 1 :]
        chunks = a.chunks[:ax] + ((width,),) + a.chunks[ax + 1 :]
        out.append(_side(a, ax, side, width, shape, chunks, mode, kw))
    return out


def _side(
    a: Array, ax: int, side: int, width: int, shape: tuple, chunks: tuple, mode: str, kw: dict
) -> Array:
    n = a.shape[ax]
    if mode == "constant":
        value = _pairs(kw.get("constant_values", 0), a.ndim, "constant_values")[ax, side]
        return full(shape, value, dtype=a.dtype, chunks=chunks)
    edge = a[_along(a.ndim, ax, slice(0, 1) if side == 0 else slice(n - 1, n))]
    if mode == "edge":
        return broadcast_to(edge, shape, chunks=chunks)
    if mode == "linear_ramp":
        end = _pairs(kw.get("end_values", 0), a.ndim, "end_values")[ax, side]
        steps = np.arange(width, dtype=np.float64)
        if side == 1:
            steps = steps[::-1]
        steps = steps.reshape((width,) + (1,) * (a.ndim - ax - 1))
        ramp = steps * ((edge - end) / width) + end
        if np.issubdtype(a.dtype, np.integer):
            ramp = np.floor(ramp)  # numpy.linspace floors for integer dtypes
        return ramp.astype(a.dtype).rechunk(chunks)
    length = kw.get("stat_length")
    length = n if length is None else int(_pairs(length, a.ndim, "stat_length")[ax, side])
    if length < 0:
        raise ValueError(f"stat_length must be non-negative, got {kw.get('stat_length')!r}")
    length = min(max(length, 0), n)
    if length == 0 and mode in ("maximum", "minimum"):
        raise ValueError("stat_length of 0 yields no value for padding")
    window = a[_along(a.ndim, ax, slice(0, length) if side == 0 else slice(n - length, n))]
    stat = {"maximum": "max", "minimum": "min", "mean": "mean", "median": "median"}[mode]
    reduce = getattr(order_stats if stat == "median" else numpy_reductions, stat)
    with np.errstate(all="ignore"):
        value = reduce(window, axis=ax, keepdims=True)
    if mode in ("mean", "median"):
        value = _cast_like_numpy(value, a.dtype)
    return broadcast_to(value, shape, chunks=chunks)


def _cast_like_numpy(x: Array, dtype: np.dtype) -> Array:
    """Round to integers first when the target is an integer type (NumPy's
    ``_round_if_needed``), then cast."""
    if np.issubdtype(dtype, np.integer):
        x = x.round()
    return x.astype(dtype)


def _reflected(a: Array, ax: int, before: int, after: int, mode: str, kind: str) -> list:
    n = a.shape[ax]
    reflecting = cast(Literal["reflect", "symmetric", "wrap"], mode)  # one of _REFLECTING
    index = np.pad(np.arange(n), (before, after), mode=reflecting)
    spans = (index[:before], index[before + n :])
    if kind == "even" or mode == "wrap":
        return [a[_along(a.ndim, ax, s)] if len(s) else None for s in spans]
    # Odd reflection: each padded slice is a linear map of a few original ones.
    used = np.unique(np.concatenate([index[:before], index[before + n :], [0, n - 1]]))
    basis = np.zeros((n, len(used)))
    basis[used, np.arange(len(used))] = 1.0
    coeffs = np.pad(basis, ((before, after), (0, 0)), mode=reflecting, reflect_type="odd")
    source = a[_along(a.ndim, ax, used)]
    out: list[Array | None] = []
    for rows in (coeffs[:before], coeffs[before + n :]):
        if not len(rows):
            out.append(None)
            continue
        mapped = moveaxis(tensordot(source, rows.T, axes=([ax], [0])), -1, ax)
        out.append(_cast_like_numpy(mapped, a.dtype) if a.dtype != mapped.dtype else mapped)
    return out
