"""Indexing: ``x[...]`` and ``x[...] = value``.

- Basic indices (ints, slices with any step, ``Ellipsis``, ``None``) give a
  ``BasicSlice``: each output block is the selected part of one input block,
  so output chunks follow input chunks and free sources read only the part
  they need.
- One integer array (NumPy or list) along an axis gives a ``Take``: the index
  is cut into blocks of the input's block length, and each output block
  gathers from just the input blocks its indices fall in.
- A shoal integer array gathers from the whole axis (``blockwise`` with the
  axis contracted).
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

from shoal.core.task import Task

from .blockwise import _LETTERS, blockwise
from .chunks import chunk_offsets, has_unknown, normalize_chunks
from .core import Array
from .expr import ArrayExpr, GraphBuilder

__all__ = ["getitem", "setitem", "vindex", "BasicSlice", "Take", "PointIndex", "normalize_index"]


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
    expanded = []
    for i in index:
        if i is Ellipsis:
            expanded.extend([slice(None)] * (len(shape) - n_real))
        else:
            expanded.append(i)
    if not any(i is Ellipsis for i in index):
        expanded.extend([slice(None)] * (len(shape) - n_real))
    out = []
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

    _parameters = ["child", "index"]

    @functools.cached_property
    def _selection(self) -> list:
        """Per entry of the index: None (new axis) or the axis selection."""
        out = []
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
        return np.empty((0,) * len(self.chunks), dtype=self.child.dtype)

    def _one_to_one(self, child: ArrayExpr) -> bool:
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


def _gather(parts: list, inverse: np.ndarray, axis: int) -> np.ndarray:
    joined = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)
    return np.take(joined, inverse, axis=axis)


class Take(ArrayExpr):
    """``child`` indexed by a NumPy integer array along ``axis``.

    >>> import shoal.array as sa
    >>> sa.arange(10, chunks=4)[[9, 0, 5]].expr.explain_text().splitlines()[0]
    'Take: axis=0, 3 indices'
    """

    _parameters = ["child", "axis", "indices", "out_chunks"]

    @functools.cached_property
    def chunks(self) -> tuple:
        c = list(self.child.chunks)
        c[self.axis] = self.out_chunks
        return tuple(c)

    @property
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
        return Task(_gather, nodes, inverse, self.axis)

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
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise IndexError(
            f"a shoal index array must be 1-D integers, got {idx.dtype} of shape {idx.shape}"
        )
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
    if mask.ndim > 1:
        x = x.reshape((-1, *x.shape[mask.ndim :]))
        mask = mask.ravel()
    letters = _LETTERS[: x.ndim]
    out = blockwise(
        _mask_block, letters, x, letters, mask, letters[0], dtype=x.dtype, name="getitem-mask"
    )
    expr = out.expr
    chunks = ((math.nan,) * len(expr.chunks[0]), *expr.chunks[1:])
    ops = list(expr.operands)
    ops[expr._parameters.index("chunks_")] = chunks
    return Array(type(expr)(*ops))


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
        from .creation import asarray

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
        from .shape import moveaxis

        result = moveaxis(result, axis, 0)  # NumPy puts split advanced indices first
    return result


def _several_arrays(x: Array, index: tuple) -> Array:
    """NumPy's rule for several advanced indices: they (and any ints) broadcast
    together and pick points; the point axes go where the advanced indices were
    if those are adjacent, else first."""
    from .shape import moveaxis, transpose

    if any(i is None for i in index):
        raise NotImplementedError("None together with several index arrays is not supported")
    advanced, picks = [], []
    for pos, i in enumerate(index):
        if isinstance(i, slice):
            continue
        if isinstance(i, Array):
            raise NotImplementedError(
                "several shoal index arrays at once are not supported; compute them to NumPy"
            )
        a = np.asarray(i)
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


# ------------------------------------------------------------- setitem


def _assign(block: np.ndarray, index: tuple, value: np.ndarray, block_info: dict) -> np.ndarray:
    location = block_info[None]["array-location"]
    local, value_sel = [], []
    shape = block_info[None]["shape"]
    for axis, (spec, (a, b)) in enumerate(zip(index, location)):
        if _is_int(spec):
            if not a <= spec < b:
                return block
            local.append(spec - a)
            continue
        start, stop, step = spec.indices(shape[axis])
        if step > 0:
            first = start if start >= a else start + -(-(a - start) // step) * step
            bound = min(stop, b)
            if first >= bound:
                return block
            count = len(range(first, bound, step))
            local.append(slice(first - a, first - a + (count - 1) * step + 1, step))
            v0 = (first - start) // step
        else:
            first = start if start < b else start - -(-(start - (b - 1)) // -step) * -step
            bound = max(stop, a - 1)
            if first <= bound:
                return block
            count = len(range(first, bound, step))
            last = first + (count - 1) * step
            local.append(slice(first - a, last - a - 1 if last - a - 1 >= 0 else None, step))
            v0 = (start - first) // -step
        value_sel.append(slice(v0, v0 + count))
    out = block.copy()
    out[tuple(local)] = value[tuple(value_sel)]
    return out


def _mask_assign(block: np.ndarray, mask: np.ndarray, value: Any) -> np.ndarray:
    return np.where(mask, value, block).astype(block.dtype, copy=False)


def setitem(x: Array, index: Any, value: Any) -> Array:
    """The array ``x`` with ``x[index] = value`` applied (a new expression).

    Supported: a boolean mask (NumPy or shoal, the shape of ``x``) with a
    scalar or an array broadcasting to ``x``; ints and slices with a scalar
    or a NumPy array broadcasting to ``x[index]``.

    >>> import shoal.array as sa
    >>> x = sa.zeros(5, dtype=int, chunks=2)
    >>> x[1:4] = 7
    >>> x[x > 5] = np.array([1, 2, 3, 4, 5])
    >>> x.compute()
    array([0, 2, 3, 4, 0])
    """
    from .elementwise import elemwise

    if isinstance(value, Array) and not (isinstance(index, Array) or _is_bool_array(index)):
        raise NotImplementedError(
            "assigning a shoal array through slices is not supported; use a NumPy value "
            "or where(mask, value, x)"
        )
    if isinstance(index, Array) or _is_bool_array(index):
        if tuple(np.shape(index)) != tuple(x.shape):
            raise IndexError(
                f"boolean mask of shape {np.shape(index)} must match the array "
                f"shape {x.shape} for assignment"
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
    try:
        full = np.broadcast_to(np.asarray(value, dtype=x.dtype), target_shape)
    except ValueError:
        raise ValueError(
            f"could not broadcast a value of shape {np.shape(value)} into the selection of "
            f"shape {target_shape}"
        ) from None
    letters = _LETTERS[: x.ndim]
    return blockwise(
        _assign, letters, x, letters, norm, None, full, None, dtype=x.dtype, name="setitem"
    )


# -------------------------------------------------------------- vindex


def _points(block: np.ndarray, local: tuple) -> np.ndarray:
    return block[local]


class PointIndex(ArrayExpr):
    """Points of ``child`` picked by integer coordinates along its first axes.

    >>> import shoal.array as sa
    >>> sa.arange(6, chunks=4).reshape((2, 3)).vindex[[1, 0], [2, 2]].chunks
    ((2,),)
    """

    _parameters = ["child", "coords", "out_chunks"]

    @functools.cached_property
    def chunks(self) -> tuple:
        return (self.out_chunks, *self.child.chunks[len(self.coords) :])

    @property
    def meta(self) -> np.ndarray:
        return np.empty((0,) * len(self.chunks), dtype=self.child.dtype)

    @functools.cached_property
    def _plan(self) -> list:
        k = len(self.coords)
        offsets = [np.asarray(chunk_offsets(c)) for c in self.child.chunks[:k]]
        plan = []
        start = 0
        for n in self.out_chunks:
            pts = [c[start : start + n] for c in self.coords]
            start += n
            blocks = (
                np.stack(
                    [
                        np.minimum(np.searchsorted(o, p, side="right") - 1, len(o) - 2)
                        for o, p in zip(offsets, pts)
                    ],
                    axis=1,
                )
                if n
                else np.empty((0, k), dtype=int)
            )
            groups: dict = {}
            for i, b in enumerate(map(tuple, blocks)):
                groups.setdefault(b, []).append(i)
            parts, order = [], []
            for b, members in groups.items():
                members = np.asarray(members)
                local = tuple(p[members] - o[j] for p, o, j in zip(pts, offsets, b))
                parts.append((b, local))
                order.append(members)
            flat = np.concatenate(order) if order else np.empty(0, dtype=int)
            inverse = np.empty(len(flat), dtype=np.intp)
            inverse[flat] = np.arange(len(flat))
            plan.append((parts, inverse))
        return plan

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        parts, inverse = self._plan[index[0]]
        if not parts:
            shape = tuple(c[i] for c, i in zip(self.chunks, index))
            return Task(np.empty, shape, self.dtype)
        nodes = [
            Task(_points, b.input(self, self.child, (*blk, *index[1:])), local)
            for blk, local in parts
        ]
        return Task(_gather, nodes, inverse, 0)


def vindex(x: Array, index: Any) -> Array:
    """Point-wise indexing: integer arrays for the leading axes are broadcast
    together and pick one element (or sub-array) per point, like NumPy's
    ``x[[0, 2], [1, 3]]``.

    >>> import shoal.array as sa
    >>> x = sa.arange(12, chunks=5).reshape((3, 4))
    >>> x.vindex[[0, 2, 1], [3, 0, 1]].compute()
    array([3, 8, 5])
    """
    if not isinstance(index, tuple):
        index = (index,)
    if len(index) > x.ndim:
        raise IndexError(f"too many indices for vindex: {len(index)} for {x.ndim} axes")
    if has_unknown(x.chunks):
        raise ValueError("vindex needs known chunk sizes; call .compute_chunk_sizes() first")
    arrays = []
    for axis, i in enumerate(index):
        if isinstance(i, Array):
            raise NotImplementedError("vindex takes NumPy integer arrays, not shoal arrays")
        a = np.asarray(i)
        if a.dtype.kind not in "iu":
            raise IndexError(f"vindex takes integer arrays, got {a.dtype} for axis {axis}")
        n = x.shape[axis]
        if a.size and (a.min() < -n or a.max() >= n):
            bad = a[(a < -n) | (a >= n)].ravel()[0]
            raise IndexError(f"index {bad} is out of bounds for axis {axis} with size {n}")
        arrays.append(np.where(a < 0, a + n, a))
    try:
        shape = np.broadcast_shapes(*[a.shape for a in arrays])
    except ValueError:
        raise IndexError(
            f"vindex arrays of shapes {[a.shape for a in arrays]} do not broadcast"
        ) from None
    coords = tuple(np.broadcast_to(a, shape).ravel().astype(np.intp) for a in arrays)
    # about as many elements per output block as in an input block
    per_block = math.prod(max(c) if c else 1 for c in x.chunks)
    per_point = math.prod(max(c) if c else 1 for c in x.chunks[len(index) :])
    size = max(per_block // max(per_point, 1), 1)
    out_chunks = normalize_chunks(size, (len(coords[0]),))[0]
    flat = Array(PointIndex(x.expr, coords, out_chunks))
    return flat.reshape(shape + x.shape[len(index) :])


class VIndexer:
    """``x.vindex[...]``: see ``vindex``."""

    __slots__ = ("_array",)

    def __init__(self, array: Array):
        self._array = array

    def __getitem__(self, index: Any) -> Array:
        return vindex(self._array, index)
