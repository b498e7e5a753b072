"""Assignment: ``x[index] = value`` builds a new expression.

Ints and slices (any step) with a scalar or a NumPy value: each block copies
itself and writes the part of the selection that falls inside it. Boolean
masks (NumPy or shoal, the shape of ``x``) with a scalar or an array that
broadcasts to ``x``: an elementwise ``where``. Assigning ``np.ma.masked``
masks the selection (the blocks become masked arrays, as in ``np.ma``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .blockwise import _LETTERS, blockwise
from .convert import masked_meta, meta_from
from .core import Array
from .creation import zeros
from .elementwise import elemwise
from .padding import pad
from .routines import where
from .shape import broadcast_to, concatenate
from .slicing import _is_bool_array, _is_int, normalize_index
from .sources import RegionSource

__all__ = ["setitem"]


def _local_selection(index: tuple, block_info: dict) -> tuple | None:
    """(the part of ``index`` inside this block, the matching part of the
    value), or None when the selection misses the block."""
    location = block_info[None]["array-location"]
    local, value_sel = [], []
    shape = block_info[None]["shape"]
    for axis, (spec, (a, b)) in enumerate(zip(index, location)):
        if _is_int(spec):
            if not a <= spec < b:
                return None
            local.append(spec - a)
            continue
        start, stop, step = spec.indices(shape[axis])
        if step > 0:
            first = start if start >= a else start + -(-(a - start) // step) * step
            bound = min(stop, b)
            if first >= bound:
                return None
            count = len(range(first, bound, step))
            local.append(slice(first - a, first - a + (count - 1) * step + 1, step))
            v0 = (first - start) // step
        else:
            first = start if start < b else start - -(-(start - (b - 1)) // -step) * -step
            bound = max(stop, a - 1)
            if first <= bound:
                return None
            count = len(range(first, bound, step))
            last = first + (count - 1) * step
            local.append(slice(first - a, last - a - 1 if last - a - 1 >= 0 else None, step))
            v0 = (start - first) // -step
        value_sel.append(slice(v0, v0 + count))
    return tuple(local), tuple(value_sel)


def _assign(block: np.ndarray, index: tuple, value: np.ndarray, block_info: dict) -> np.ndarray:
    selection = _local_selection(index, block_info)
    if selection is None:
        return block
    out = block.copy()
    out[selection[0]] = value[selection[1]]
    return out


def _assign_masked(block: np.ndarray, index: tuple, block_info: dict) -> np.ndarray:
    """The block as a masked array, masked where the selection falls in it."""
    out = np.ma.array(block, copy=True)  # keeps the block's own mask
    selection = _local_selection(index, block_info)
    if selection is not None:
        out[selection[0]] = np.ma.masked
    return out


def _mask_assign(block: np.ndarray, mask: np.ndarray, value: Any) -> np.ndarray:
    return np.where(mask, value, block).astype(block.dtype, copy=False)


def _mask_assign_masked(block: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.ma.array(block, mask=np.ma.getmaskarray(block) | mask, copy=True)


def setitem(x: Array, index: Any, value: Any) -> Array:
    """The array ``x`` with ``x[index] = value`` applied (a new expression).

    Supported: a boolean mask (NumPy or shoal, the shape of ``x``) with a
    scalar or an array broadcasting to ``x``; ints and slices with a scalar
    or a NumPy array broadcasting to ``x[index]``, or with a shoal array
    broadcasting to the selection's shape (the value is padded to ``x``'s
    shape and chunks, then selected elementwise).

    >>> import shoal.array as sa
    >>> x = sa.zeros(5, dtype=int, chunks=2)
    >>> x[1:4] = 7
    >>> x[x > 5] = np.array([1, 2, 3, 4, 5])
    >>> x.compute()
    array([0, 2, 3, 4, 0])
    """
    letters = _LETTERS[: x.ndim]
    if isinstance(index, Array) or _is_bool_array(index):
        if tuple(np.shape(index)) != tuple(x.shape):
            raise IndexError(
                f"boolean mask of shape {np.shape(index)} must match the array "
                f"shape {x.shape} for assignment"
            )
        if value is np.ma.masked:
            meta = masked_meta(x.dtype, x.ndim)
            return blockwise(
                _mask_assign_masked, letters, x, letters, index, letters, meta=meta, name="setitem"
            )
        return elemwise(_mask_assign, x, index, value, dtype=x.dtype, name="setitem")
    norm = normalize_index(index, x.shape)
    if any(i is None or not (isinstance(i, slice) or _is_int(i)) for i in norm):
        raise NotImplementedError(
            f"assignment supports ints, slices and boolean masks; got index {index!r}"
        )
    target_shape = tuple(
        len(range(*i.indices(n))) for i, n in zip(norm, x.shape) if isinstance(i, slice)
    )
    if value is np.ma.masked:  # np.ma semantics: the selection becomes masked
        meta = masked_meta(x.dtype, x.ndim)
        return blockwise(_assign_masked, letters, x, letters, norm, None, meta=meta, name="setitem")
    if isinstance(value, Array):
        return _assign_array(x, norm, value, target_shape)
    try:
        full = np.broadcast_to(np.asarray(value, dtype=x.dtype), target_shape)
    except ValueError:
        raise ValueError(
            f"could not broadcast a value of shape {np.shape(value)} into the selection of "
            f"shape {target_shape}"
        ) from None
    return blockwise(
        _assign, letters, x, letters, norm, None, full, None, dtype=x.dtype, name="setitem"
    )


def _in_region(region: tuple, bounds: tuple) -> np.ndarray:
    inside = np.ones(tuple(len(range(r.start, r.stop, r.step)) for r in region), dtype=bool)
    for axis, (r, (lo, hi, step)) in enumerate(zip(region, bounds)):
        coords = np.arange(r.start, r.stop, r.step)
        shape = [1] * len(region)
        shape[axis] = -1
        inside &= ((coords >= lo) & (coords < hi) & ((coords - lo) % step == 0)).reshape(shape)
    return inside


def _spread(v: Array, axis: int, step: int) -> Array:
    """``v`` with ``step - 1`` zeros after each element along ``axis`` but the last."""
    m = v.shape[axis]
    column = v.reshape(v.shape[:axis] + (m, 1) + v.shape[axis + 1 :])
    gaps = zeros(
        column.shape[: axis + 1] + (step - 1,) + column.shape[axis + 2 :],
        dtype=v.dtype,
        chunks=column.chunks[: axis + 1] + ((step - 1,),) + column.chunks[axis + 2 :],
    )
    rows = concatenate([column, gaps], axis=axis + 1)
    flat = rows.reshape(v.shape[:axis] + (m * step,) + v.shape[axis + 1 :])
    return flat[(slice(None),) * axis + (slice(0, (m - 1) * step + 1),)]


def _assign_array(x: Array, norm: tuple, value: Array, target_shape: tuple) -> Array:
    if value.shape != target_shape:
        try:
            value = broadcast_to(value, target_shape)
        except ValueError:
            raise ValueError(
                f"could not assign a shoal array of shape {value.shape} into the selection of "
                f"shape {target_shape} (it must broadcast to the selection's shape)"
            ) from None
    if x.ndim == 0:  # the one element is the whole selection
        return value.astype(x.dtype)
    if 0 in target_shape:
        return x  # nothing selected
    bounds = []
    widths = []
    expanded = value
    for axis, (i, n) in enumerate(zip(norm, x.shape)):
        if _is_int(i):
            expanded = expanded.reshape(expanded.shape[:axis] + (1,) + expanded.shape[axis:])
            lo, hi, step = i, i + 1, 1
        else:
            positions = range(*i.indices(n))
            if positions.step < 0:  # the same positions upwards, with the value reversed
                positions = positions[::-1]
                expanded = expanded[(slice(None),) * axis + (slice(None, None, -1),)]
            step = positions.step if len(positions) > 1 else 1
            lo, hi = positions[0], positions[-1] + 1
            if step > 1:
                expanded = _spread(expanded, axis, step)
        bounds.append((lo, hi, step))
        widths.append((lo, n - hi))
    placed = pad(expanded.astype(x.dtype), widths).rechunk(x.chunks)
    mask = Array(
        RegionSource(
            _in_region, (tuple(bounds),), x.chunks, meta_from(bool, x.ndim), "setitem-region"
        )
    )
    return where(mask, placed, x)
