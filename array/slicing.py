"""Indexing: ``x[...]`` (assignment is in ``assignment.py``, ``vindex`` in ``points.py``).

- Basic indices (ints, slices with any step, ``Ellipsis``, ``None``) give a
  ``BasicSlice``: each output block is the selected part of one input block,
  so output chunks follow input chunks and free sources read only the part
  they need.
- One integer array (NumPy or list) along an axis gives a ``Take``: the index
  is cut into blocks of the input's block length, and each output block
  gathers from just the input blocks its indices fall in.
- A shoal integer array gathers from the whole axis (``blockwise`` with the
  axis contracted).
- Several NumPy integer arrays follow NumPy's advanced-indexing rules through
  ``vindex``.
- Boolean masks: a 1-D NumPy mask along an axis is an integer array; a shoal
  mask selects block by block and the result has unknown (``nan``) chunk
  lengths (see ``Array.compute_chunk_sizes``).

Indices out of bounds raise ``IndexError`` with the numbers before any task.
"""

from __future__ import annotations

import bisect
import functools
import math
import numbers
from typing import Any

import numpy as np

from shoal.core.build import BlockExpr
from shoal.core.task import Task

from .blockwise import _LETTERS, blockwise
from .chunks import chunk_offsets, has_unknown, normalize_chunks
from .convert import asarray, held_numpy, meta_like
from .core import Array
from .expr import ArrayExpr, GraphBuilder
from .points import gather_parts, vindex
from .shape import moveaxis, transpose

__all__ = ["getitem", "BasicSlice", "Take", "normalize_index"]


def _is_int(x: Any) -> bool:
    return isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, (bool, np.bool_))


def normalize_index(index: Any, shape: tuple) -> tuple:
    """The index as a tuple with one entry per axis (plus ``None`` entries for
    new axes), Ellipsis expanded, ints made non-negative and checked.

    >>> normalize_index((Ellipsis, -1), (3, 4))
    (slice(0, 3, 1), 3)
    """
    if not isinstance(index, tuple):
        index = (index,)
    n_real = sum(
        1
        for i in index
        if i is not None and i is not Ellipsis and not (_is_bool_array(i) and np.ndim(i) > 1)
    )
    n_real += sum(np.ndim(i) - 1 for i in index if _is_bool_array(i) and np.ndim(i) > 1)
    if sum(1 for i in index if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if n_real > len(shape):
        raise IndexError(
            f"too many indices for array: array is {len(shape)}-dimensional, "
            f"but {n_real} were indexed"
        )
    expanded: list[Any] = []
    for i in index:
        if i is Ellipsis:
            expanded.extend([slice(None)] * (len(shape) - n_real))
        else:
            expanded.append(i)
    if not any(i is Ellipsis for i in index):
        expanded.extend([slice(None)] * (len(shape) - n_real))
    out: list[Any] = []
    axis = 0
    for i in expanded:
        if i is None:
            out.append(None)
            continue
        n = shape[axis]
        if isinstance(i, slice):
            if isinstance(n, float):
                if i != slice(None):
                    raise ValueError(
                        f"cannot slice axis {axis} of unknown length; "
                        "call .compute_chunk_sizes() first"
                    )
                out.append(slice(None))
            else:
                start, stop, step = i.indices(n)
                if not len(range(start, stop, step)):
                    out.append(slice(0, 0, 1))
                else:
                    # a negative-step stop of -1 means "past the start": spell it None
                    # so that normalizing again gives the same slice
                    out.append(slice(start, None if stop < 0 else stop, step))
        elif _is_int(i):
            if isinstance(n, float):
                raise ValueError(f"cannot index axis {axis} of unknown length")
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
            out.append(int(i) % n)
        else:
            out.append(i)
        axis += np.ndim(i) if _is_bool_array(i) and np.ndim(i) > 1 else 1
    return tuple(out)


def _is_bool_array(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    return dtype is not None and np.dtype(dtype) == bool and np.ndim(x) > 0


def _axis_selection(spec: Any, chunks: tuple) -> list:
    """For a slice or int along one axis: the output blocks as
    [(input block, local slice or int, length)] in output order."""
    offs = chunk_offsets(chunks)
    if _is_int(spec):
        k = min(bisect.bisect_right(offs, spec) - 1, len(chunks) - 1)
        return [(k, spec - offs[k], None)]
    start, stop, step = spec.indices(sum(chunks))
    out = []
    order = range(len(chunks)) if step > 0 else range(len(chunks) - 1, -1, -1)
    for k in order:
        a, b = offs[k], offs[k + 1]
        if step > 0:
            first = start if start >= a else start + -(-(a - start) // step) * step
            bound = min(stop, b)
            if first >= bound:
                continue
            count = len(range(first, bound, step))
            out.append((k, slice(first - a, first - a + (count - 1) * step + 1, step), count))
        else:
            first = start if start < b else start - -(-(start - (b - 1)) // -step) * -step
            bound = max(stop, a - 1)
            if first <= bound:
                continue
            count = len(range(first, bound, step))
            last = first + (count - 1) * step
            stop_local = last - a - 1
            out.append((k, slice(first - a, stop_local if stop_local >= 0 else None, step), count))
    if not out:
        out.append((0 if step > 0 else len(chunks) - 1, slice(0, 0, 1), 0))
    return out


class BasicSlice(ArrayExpr):
    """``child[index]`` for ints, slices and ``None`` (see module docstring).

    >>> import shoal.array as sa
    >>> sa.arange(10, chunks=4)[::3].chunks
    ((2, 1, 1),)
    """

    child: ArrayExpr
    index: tuple  # normalized: ints, slices and None

    fusable = True

    @functools.cached_property
    def cost(self) -> str:  # type: ignore[override]
        return self._regenerable_cost()

    @functools.cached_property
    def _selection(self) -> list:
        """Per entry of the index: None (new axis) or the axis selection."""
        out: list[list[Any] | None] = []
        axis = 0
        for spec in self.index:
            if spec is None:
                out.append(None)
            else:
                chunks = self.child.chunks[axis]
                if isinstance(spec, slice) and has_unknown((chunks,)):
                    out.append([(k, slice(None), c) for k, c in enumerate(chunks)])
                else:
                    out.append(_axis_selection(spec, chunks))
                axis += 1
        return out

    @functools.cached_property
    def chunks(self) -> tuple:
        out = []
        for spec, sel in zip(self.index, self._selection):
            if spec is None:
                out.append((1,))
            elif not _is_int(spec):
                out.append(tuple(n for _, _, n in sel))
        return tuple(out)

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return meta_like(self.child.meta, len(self.chunks))

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        it = iter(index)
        cidx, local, new_axes = [], [], []
        out_axis = 0
        for spec, sel in zip(self.index, self._selection):
            if spec is None:
                next(it)
                new_axes.append(out_axis)
                out_axis += 1
                continue
            if _is_int(spec):
                k, loc, _ = sel[0]
            else:
                k, loc, _ = sel[next(it)]
                out_axis += 1
            cidx.append(k)
            local.append(loc)
        if all(isinstance(s, slice) and s == slice(None) for s in local):
            node = b.input(self, self.child, tuple(cidx))
        else:
            node = b.input_part(self, self.child, tuple(cidx), tuple(local))
        return Task(np.expand_dims, node, tuple(new_axes)) if new_axes else node

    def _explain_args(self) -> str:
        return f"index={self.index}"


def _take_part(block: np.ndarray, local: np.ndarray, axis: int) -> np.ndarray:
    return np.take(block, local, axis=axis)


class Take(ArrayExpr):
    """``child`` indexed by a NumPy integer array along ``axis``.

    >>> import shoal.array as sa
    >>> sa.arange(10, chunks=4)[[9, 0, 5]].expr.explain_text().splitlines()[0]
    'Take: axis=0, 3 indices'
    """

    child: ArrayExpr
    axis: int
    indices: np.ndarray
    out_chunks: tuple

    @functools.cached_property
    def chunks(self) -> tuple:
        c = list(self.child.chunks)
        c[self.axis] = self.out_chunks
        return tuple(c)

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return self.child.meta

    @functools.cached_property
    def _plan(self) -> list:
        offs = np.asarray(chunk_offsets(self.child.chunks[self.axis]))
        plan = []
        start = 0
        for n in self.out_chunks:
            piece = self.indices[start : start + n]
            start += n
            blocks = np.searchsorted(offs, piece, side="right") - 1
            blocks = np.minimum(blocks, len(offs) - 2)
            order = np.argsort(blocks, kind="stable")
            parts = []
            for k in np.unique(blocks):
                sel = order[blocks[order] == k]
                parts.append((int(k), piece[sel] - offs[k]))
            inverse = np.empty(len(piece), dtype=np.intp)
            inverse[order] = np.arange(len(piece))
            plan.append((parts, inverse))
        return plan

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        parts, inverse = self._plan[index[self.axis]]
        if not parts:
            shape = list(c[i] for c, i in zip(self.chunks, index))
            return Task(np.empty, tuple(shape), self.dtype)
        nodes = []
        for k, local in parts:
            cidx = list(index)
            cidx[self.axis] = k
            nodes.append(Task(_take_part, b.input(self, self.child, tuple(cidx)), local, self.axis))
        return Task(gather_parts, nodes, inverse, self.axis)

    def _explain_args(self) -> str:
        return f"axis={self.axis}, {len(self.indices)} indices"


def _take(x: Array, axis: int, indices: Any) -> Array:
    idx = np.asarray(indices)
    if idx.ndim != 1:
        raise NotImplementedError(f"integer array indices must be 1-D, got shape {idx.shape}")
    n = x.shape[axis]
    if isinstance(n, float):
        raise ValueError(
            f"cannot index axis {axis} of unknown length; call .compute_chunk_sizes() first"
        )
    if idx.size:
        if idx.dtype.kind not in "iu":
            raise IndexError(
                f"arrays used as indices must be of integer or boolean type, got {idx.dtype}"
            )
        bad = idx[(idx < -n) | (idx >= n)]
        if bad.size:
            raise IndexError(f"index {bad[0]} is out of bounds for axis {axis} with size {n}")
    idx = np.where(idx < 0, idx + n, idx).astype(np.intp)
    size = max(max(x.chunks[axis]) if x.chunks[axis] else 1, 1)
    out_chunks = normalize_chunks(size, (len(idx),))[0]
    return Array(Take(x.expr, axis, idx, out_chunks))


def _take_whole(idx: np.ndarray, whole: np.ndarray, axis: int) -> np.ndarray:
    return np.take(whole, idx, axis=axis)


def _take_by_array(x: Array, axis: int, idx: Array) -> Array:
    if idx.dtype.kind not in "iu":
        raise IndexError(f"a shoal index array must hold integers, got {idx.dtype}")
    if idx.ndim != 1:  # NumPy's rule: the index's axes replace the indexed axis
        flat = _take_by_array(x, axis, idx.reshape((-1,)))
        return flat.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1 :])
    letters = _LETTERS[: x.ndim]
    contracted = letters[axis]
    out = letters.replace(contracted, "z")
    return blockwise(
        _take_whole,
        out,
        idx,
        "z",
        x,
        letters,
        axis,
        None,
        concatenate=True,
        dtype=x.dtype,
        name="take",
    )


def _mask_block(block: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return block[mask]


def _mask_select(x: Array, mask: Array) -> Array:
    if mask.ndim > x.ndim:
        raise IndexError(
            f"boolean index of shape {mask.shape} has more axes than the array of shape {x.shape}"
        )
    for a, (m, n) in enumerate(zip(mask.shape, x.shape)):
        if m != n and not (isinstance(m, float) or isinstance(n, float)):
            raise IndexError(
                f"boolean index did not match indexed array along axis {a}; "
                f"size of axis is {n} but size of the index is {m}"
            )
    held = held_numpy(mask)  # a mask in memory: the selected lengths are known at once
    if mask.ndim == 0:  # NumPy: a 0-d mask adds an axis of length 1 (True) or 0 (False)
        x = x[None]
        mask = mask.reshape((1,))
    if mask.ndim > 1:
        x = x.reshape((-1, *x.shape[mask.ndim :]))
        mask = mask.ravel()
    letters = _LETTERS[: x.ndim]
    out = blockwise(
        _mask_block, letters, x, letters, mask, letters[0], dtype=x.dtype, name="getitem-mask"
    )
    expr = out.expr
    if held is None:
        lengths: tuple = (math.nan,) * len(expr.chunks[0])
    else:
        flat = held.reshape(-1)
        lengths = tuple(
            int(np.count_nonzero(flat[start : start + n]))
            for start, n in zip(chunk_offsets(expr.chunks[0]), expr.chunks[0])
        )
    return Array(expr.replace_operands(chunks=(lengths, *expr.chunks[1:])))


def getitem(x: Array, index: Any) -> Array:
    """``x[index]`` (see module docstring).

    >>> import shoal.array as sa
    >>> x = sa.arange(10, chunks=3)
    >>> x[::-3].compute(), x[[1, 8, 2]].compute()
    (array([9, 6, 3, 0]), array([1, 8, 2]))
    """
    if isinstance(index, Array) and index.dtype == bool:
        return _mask_select(x, index)
    if isinstance(index, list):
        index = np.asarray(index)
    if _is_bool_array(index) and not isinstance(index, Array) and np.ndim(index) > 1:
        return _mask_select(x, asarray(index, chunks=x.chunks[: np.ndim(index)]))
    index = normalize_index(index, x.shape)
    arrays = [
        (pos, i)
        for pos, i in enumerate(index)
        if not (i is None or isinstance(i, slice) or _is_int(i))
    ]
    if len(arrays) > 1:
        return _several_arrays(x, index)
    basic = index
    if arrays:
        where = arrays[0][0]
        length = x.shape[sum(1 for i in index[:where] if i is not None)]
        basic = tuple(slice(0, length, 1) if p == where else i for p, i in enumerate(index))
    out = x
    real = [i for i in basic if i is not None]
    if None in basic or any(
        not (isinstance(i, slice) and (i == slice(0, n, 1) or i == slice(None)))
        for i, n in zip(real, x.shape)
    ):
        out = Array(BasicSlice(x.expr, basic))
    if not arrays:
        return out
    pos, arr = arrays[0]
    axis = sum(1 for i in index[:pos] if not _is_int(i))
    result = _index_one_array(out, axis, arr)
    advanced = [p for p, i in enumerate(index) if _is_int(i) or p == pos]
    if advanced != list(range(advanced[0], advanced[-1] + 1)) and axis != 0:
        result = moveaxis(result, axis, 0)  # NumPy puts split advanced indices first
    return result


def _several_arrays(x: Array, index: tuple) -> Array:
    """NumPy's rule for several advanced indices: they (and any ints) broadcast
    together and pick points; the point axes go where the advanced indices were
    if those are adjacent, else first."""
    if any(i is None for i in index):
        raise NotImplementedError("None together with several index arrays is not supported")
    advanced, picks = [], []
    for pos, i in enumerate(index):
        if isinstance(i, slice):
            continue
        # the points are planned from the index values, so shoal indices are computed here
        a = np.asarray(i.compute()) if isinstance(i, Array) else np.asarray(i)
        if a.dtype == bool:
            if a.ndim != 1:
                raise IndexError("boolean index arrays mixed with others must be 1-D")
            a = np.flatnonzero(a)
        advanced.append(pos)
        picks.append(a)
    basic = tuple(slice(None) if pos in advanced else i for pos, i in enumerate(index))
    y = getitem(x, basic)
    others = [a for a in range(y.ndim) if a not in advanced]
    points = vindex(transpose(y, advanced + others), tuple(picks))
    n_point_axes = points.ndim - len(others)
    if advanced == list(range(advanced[0], advanced[-1] + 1)) and advanced[0]:
        start = advanced[0]
        points = moveaxis(
            points, list(range(n_point_axes)), list(range(start, start + n_point_axes))
        )
    return points


def _index_one_array(out: Array, axis: int, arr: Any) -> Array:
    if isinstance(arr, Array):
        if arr.dtype == bool:
            raise NotImplementedError(
                "a shoal boolean mask combined with other indices is not supported; "
                "apply the mask alone (x[mask]) or compute it to NumPy first"
            )
        return _take_by_array(out, axis, arr)
    arr = np.asarray(arr)
    if arr.dtype == bool:
        if arr.ndim != 1 or arr.shape[0] != out.shape[axis]:
            raise IndexError(
                f"boolean index of shape {arr.shape} does not match axis {axis} "
                f"of length {out.shape[axis]}"
            )
        arr = np.flatnonzero(arr)
    return _take(out, axis, arr)
