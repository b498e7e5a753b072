"""``map_overlap``: apply a function to blocks that see ``depth`` elements of
their neighbours (stencils, filters, rolling windows).

Plan, per axis with a depth ``d``:

1. blocks shorter than ``d`` are merged with a neighbour so every block can
   lend ``d`` elements;
2. unless ``boundary="none"``, the array is extended by ``d`` at both ends with
   the boundary values: ``"reflect"`` (mirror including the edge element, like
   ``np.pad(mode="symmetric")``), ``"periodic"`` (wrap around), ``"nearest"``
   (repeat the edge), or a number (constant); each extension is one block;
3. each output task assembles its block with the last ``d`` elements of the
   block before it and the first ``d`` of the block after, calls the function
   and, with ``trim=True``, cuts the borders off again — all in one task, so
   the overlapped block never exists outside it. With ``boundary="none"`` the
   outermost blocks simply get no extension on their outer side.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from shoal.core.task import Task

from .blockwise import infer_meta
from .chunks import common_chunks
from .convert import asarray, meta_from
from .core import Array
from .creation import full
from .expr import ArrayExpr, GraphBuilder
from .rechunk import _assemble, rechunk
from .shape import broadcast_to, concatenate

__all__ = ["map_overlap"]

BOUNDARIES = ("none", "reflect", "periodic", "nearest")


def _per_axis(value: Any, ndim: int, what: str) -> list:
    if isinstance(value, dict):
        out = [None] * ndim
        for a, v in value.items():
            if not -ndim <= a < ndim:
                raise ValueError(f"{what} names axis {a} of a {ndim}-d array")
            out[a % ndim] = v
        return out
    if isinstance(value, (tuple, list)):
        if len(value) != ndim:
            raise ValueError(f"{what} {value} needs one entry per axis ({ndim})")
        return list(value)
    return [value] * ndim


def _min_length(chunks: tuple, d: int) -> tuple:
    """Chunks of one axis merged so that every block has at least ``d`` elements."""
    if len(chunks) == 1 or min(chunks) >= d:
        return chunks
    out: list = []
    acc = 0
    for c in chunks:
        acc += c
        if acc >= d:
            out.append(acc)
            acc = 0
    if acc:
        if out:
            out[-1] += acc
        else:
            out.append(acc)
    return tuple(out)


def _extend(x: Array, axis: int, d: int, boundary: Any) -> Array:
    n = x.shape[axis]

    def take(sl: slice) -> Array:
        return x[tuple(sl if a == axis else slice(None) for a in range(x.ndim))]

    shape = x.shape[:axis] + (d,) + x.shape[axis + 1 :]
    chunks = x.chunks[:axis] + ((d,),) + x.chunks[axis + 1 :]
    if boundary == "periodic":
        before, after = take(slice(n - d, n)), take(slice(0, d))
    elif boundary == "reflect":
        before, after = (
            take(slice(d - 1, None, -1) if d < n else slice(None, None, -1)),
            take(slice(n - 1, n - d - 1, -1) if d < n else slice(None, None, -1)),
        )
    elif boundary == "nearest":
        before = broadcast_to(take(slice(0, 1)), shape, chunks=chunks)
        after = broadcast_to(take(slice(n - 1, n)), shape, chunks=chunks)
    else:
        before = after = full(shape, boundary, dtype=x.dtype, chunks=chunks)
    return concatenate([before, x, after], axis=axis)


class MapOverlap(ArrayExpr):
    """``func`` applied to overlapped blocks of ``arrays`` (equal chunks; see the
    module docstring).

    ``extended[a]`` says whether axis ``a`` carries one boundary block at each
    end; ``depth[a]`` is the overlap along it.
    """

    arrays: tuple
    func: Callable
    depth: tuple  # the overlap along each axis
    extended: tuple  # per axis: one boundary block at each end?
    trim: bool
    meta: np.ndarray
    kwargs: dict

    @property
    def _prefix(self) -> str:
        from shoal.core.utils import funcname

        return "overlap-" + funcname(self.func)

    @property
    def _first(self) -> ArrayExpr:
        return self.arrays[0]

    def _core(self, axis: int) -> tuple:
        c = self._first.chunks[axis]
        return c[1:-1] if self.extended[axis] else c

    @functools.cached_property
    def chunks(self) -> tuple:
        out = []
        for a in range(self._first.ndim):
            core = self._core(a)
            if self.trim or not self.depth[a]:
                out.append(core)
                continue
            grown = []
            for i, c in enumerate(core):
                left, right = self._has_neighbours(a, i)
                grown.append(c + self.depth[a] * (left + right))
            out.append(tuple(grown))
        return tuple(out)

    def _has_neighbours(self, axis: int, i: int) -> tuple:
        j = i + (1 if self.extended[axis] else 0)
        return j > 0, j < self._first.numblocks[axis] - 1

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        first = self._first
        per_axis = []
        trims = []
        for a, i in enumerate(index):
            j = i + (1 if self.extended[a] else 0)
            d = self.depth[a]
            if not d:
                per_axis.append([(j, slice(None))])
                trims.append(slice(None))
                continue
            left, right = self._has_neighbours(a, i)
            pieces = []
            if left:
                n_left = first.chunks[a][j - 1]
                pieces.append((j - 1, slice(n_left - d, n_left)))
            pieces.append((j, slice(None)))
            if right:
                pieces.append((j + 1, slice(0, d)))
            per_axis.append(pieces)
            trims.append(slice(d if left else 0, -d if right else None))

        def make(child: ArrayExpr, axis: int, cidx: tuple, slices: tuple) -> Any:
            if axis == len(per_axis):
                if all(s == slice(None) for s in slices):
                    return b.input(self, child, cidx)
                return b.input_part(self, child, cidx, slices)
            return [make(child, axis + 1, (*cidx, k), (*slices, s)) for k, s in per_axis[axis]]

        nested = [make(child, 0, (), ()) for child in self.arrays]
        trim = tuple(trims) if self.trim else None
        return Task(_apply_overlapped, nested, len(index), self.func, trim, self.kwargs or {})

    def _explain_args(self) -> str:
        return f"depth={self.depth}, trim={self.trim}"


def _apply_overlapped(
    nested: list, ndim: int, func: Callable, trim: tuple | None, kwargs: dict
) -> Any:
    blocks = [_assemble(n, ndim) if ndim else n for n in nested]
    out = func(*blocks, **kwargs)
    if trim is None:
        return out
    if out.shape != blocks[0].shape:
        raise ValueError(
            f"map_overlap with trim=True needs the function to keep the block shape; "
            f"it turned {blocks[0].shape} into {out.shape}"
        )
    return out[trim]


def map_overlap(
    func: Callable,
    *arrays: Any,
    depth: Any = 1,
    boundary: Any = "none",
    trim: bool = True,
    dtype: Any = None,
    meta: Any = None,
    **kwargs: Any,
) -> Array:
    """Call ``func`` on each block extended by ``depth`` neighbouring elements.

    ``arrays`` are one or more arrays of the same shape (rechunked to common
    blocks); ``func`` receives their overlapped blocks. ``depth``: an int, one
    per axis, or ``{axis: depth}``. ``boundary``: ``"none"``, ``"reflect"``,
    ``"periodic"``, ``"nearest"`` or a number (per axis as a tuple or dict too).
    With ``trim=True`` (default) the function must keep the shape and the
    borders are cut off after it.

    >>> import shoal.array as sa
    >>> x = sa.asarray([1.0, 2, 4, 7, 11], chunks=2)
    >>> smooth = lambda b: np.convolve(b, [1/3, 1/3, 1/3], mode="same")
    >>> map_overlap(smooth, x, depth=1, boundary="nearest").compute().round(2)
    array([1.33, 2.33, 4.33, 7.33, 9.67])
    """
    if not arrays:
        raise TypeError("map_overlap needs at least one array")
    xs = [asarray(a) for a in arrays]
    x = xs[0]
    if any(a.shape != x.shape for a in xs):
        raise ValueError(f"map_overlap arrays must have one shape, got {[a.shape for a in xs]}")
    depths = [int(d or 0) for d in _per_axis(depth, x.ndim, "depth")]
    bounds = [b if b is not None else "none" for b in _per_axis(boundary, x.ndim, "boundary")]
    for a, (d, bd) in enumerate(zip(depths, bounds)):
        if d < 0:
            raise ValueError(f"depth must be non-negative, got {d} for axis {a}")
        if not (bd in BOUNDARIES or isinstance(bd, (int, float, complex, np.number))):
            raise ValueError(
                f"boundary {bd!r} for axis {a}: expected one of {BOUNDARIES} or a number"
            )
        if d > x.shape[a] and bd != "none":
            raise ValueError(f"depth {d} is larger than axis {a} of length {x.shape[a]}")
    common = tuple(
        common_chunks(*[a.chunks[ax] for a in xs], where=" in map_overlap") for ax in range(x.ndim)
    )
    target = tuple(_min_length(c, d) if d else c for c, d in zip(common, depths))
    xs = [rechunk(a, target) if a.chunks != target else a for a in xs]
    extended = []
    for a, (d, bd) in enumerate(zip(depths, bounds)):
        use = bool(d) and bd != "none" and x.shape[a] > 0
        if use:
            xs = [_extend(arr, a, d, bd) for arr in xs]
        extended.append(use)
    if meta is None:
        if dtype is not None:
            meta = meta_from(dtype, x.ndim)
        else:
            metas = [arr.meta for arr in xs]
            meta = infer_meta(func, metas, kwargs, x.ndim, "map_overlap function")
    expr = MapOverlap(
        tuple(arr.expr for arr in xs),
        func,
        tuple(depths),
        tuple(extended),
        bool(trim),
        meta,
        kwargs or None,
    )
    return Array(expr)
