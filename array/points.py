"""Point-wise indexing: ``x.vindex[i0, i1, ...]``.

Integer arrays for the leading axes broadcast together and pick one element
(or sub-array) per point. Points are cut into output blocks; each output
block groups its points by the input block they fall in and gathers from just
those blocks.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from shoal.core.task import Task

from .chunks import chunk_offsets, has_unknown, normalize_chunks
from .convert import meta_like
from .core import Array
from .expr import ArrayExpr, GraphBuilder

__all__ = ["vindex", "PointIndex", "VIndexer", "gather_parts"]


def _points(block: np.ndarray, local: tuple) -> np.ndarray:
    return block[local]


def gather_parts(parts: list, inverse: np.ndarray, axis: int) -> np.ndarray:
    """The parts joined along ``axis``, then reordered by ``inverse``.

    >>> gather_parts([np.array([5, 6]), np.array([7])], np.array([2, 0, 1]), 0)
    array([7, 5, 6])
    """
    joined = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)
    return np.take(joined, inverse, axis=axis)


class PointIndex(ArrayExpr):
    """Points of ``child`` picked by integer coordinates along its first axes.

    >>> import shoal.array as sa
    >>> sa.arange(6, chunks=4).reshape((2, 3)).vindex[[1, 0], [2, 2]].chunks
    ((2,),)
    """

    child: ArrayExpr
    coords: tuple  # one NumPy integer array per leading axis
    out_chunks: tuple

    @functools.cached_property
    def chunks(self) -> tuple:
        return (self.out_chunks, *self.child.chunks[len(self.coords) :])

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return meta_like(self.child.meta, len(self.chunks))

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
        return Task(gather_parts, nodes, inverse, 0)


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
