"""Shape operations: reshape, transpose and friends, concatenate, stack,
broadcast_to, flip.

Most are compositions of the primitives: ``transpose`` is a ``blockwise``
with permuted letters, ``squeeze``/``expand_dims``/``flip`` are basic
slices. ``reshape`` rechunks only as needed: axes are matched into groups of
equal size (``(6, 4) -> (24,)`` is one group), a group that merges axes needs
whole blocks along all but its first axis, one that splits an axis needs
block lengths that are multiples of the trailing part, and each block is
then reshaped on its own.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from shoal.core.build import BlockExpr
from shoal.core.task import Task

from .blockwise import _LETTERS, blockwise
from .chunks import common_chunks, has_unknown, normalize_chunks
from .convert import asarray, meta_like
from .core import Array
from .expr import ArrayExpr, GraphBuilder
from .rechunk import rechunk

__all__ = [
    "block",
    "reshape",
    "transpose",
    "moveaxis",
    "swapaxes",
    "squeeze",
    "expand_dims",
    "ravel",
    "concatenate",
    "stack",
    "broadcast_to",
    "flip",
    "flipud",
    "fliplr",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_arrays",
]


def _axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis % ndim


def transpose(x: Any, axes: Sequence[int] | None = None) -> Array:
    """Permute the axes (reverse them by default).

    >>> import shoal.array as sa
    >>> transpose(sa.ones((2, 3), chunks=1)).shape
    (3, 2)
    """
    x = asarray(x)
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    axes = tuple(_axis(a, x.ndim) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"axes {axes} are not a permutation of the {x.ndim} axes")
    if axes == tuple(range(x.ndim)):
        return x
    letters = _LETTERS[: x.ndim]
    out = "".join(letters[a] for a in axes)
    return blockwise(
        np.transpose, out, x, letters, axes=axes, dtype=x.dtype, name="transpose", regenerable=True
    )


def moveaxis(x: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Array:
    """Move axes to new positions (like ``np.moveaxis``).

    >>> import shoal.array as sa
    >>> moveaxis(sa.ones((2, 3, 4), chunks=2), 0, -1).shape
    (3, 4, 2)
    """
    x = asarray(x)
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise ValueError("source and destination need the same number of axes")
    src = [_axis(a, x.ndim) for a in src]
    dst = [_axis(a, x.ndim) for a in dst]
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def swapaxes(x: Any, axis1: int, axis2: int) -> Array:
    """Exchange two axes.

    >>> import shoal.array as sa
    >>> swapaxes(sa.ones((2, 3), chunks=1), 0, 1).shape
    (3, 2)
    """
    x = asarray(x)
    order = list(range(x.ndim))
    a, b = _axis(axis1, x.ndim), _axis(axis2, x.ndim)
    order[a], order[b] = order[b], order[a]
    return transpose(x, order)


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> Array:
    """Remove axes of length one.

    >>> import shoal.array as sa
    >>> squeeze(sa.ones((1, 3, 1), chunks=2)).shape
    (3,)
    """
    x = asarray(x)
    if axis is None:
        axes = [a for a, n in enumerate(x.shape) if n == 1]
    else:
        axes = [_axis(a, x.ndim) for a in ([axis] if isinstance(axis, int) else axis)]
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(
                    f"cannot select an axis to squeeze out which has size not equal to one "
                    f"(axis {a} has length {x.shape[a]})"
                )
    if not axes:
        return x
    return x[tuple(0 if a in axes else slice(None) for a in range(x.ndim))]


def expand_dims(x: Any, axis: int | Sequence[int]) -> Array:
    """Insert axes of length one at ``axis``.

    >>> import shoal.array as sa
    >>> expand_dims(sa.ones(3, chunks=2), (0, 2)).shape
    (1, 3, 1)
    """
    x = asarray(x)
    axes = [axis] if isinstance(axis, int) else list(axis)
    ndim = x.ndim + len(axes)
    axes = sorted(_axis(a, ndim) for a in axes)
    index: list = []
    it = iter(range(x.ndim))
    for pos in range(ndim):
        if pos in axes:
            index.append(None)
        else:
            next(it)
            index.append(slice(None))
    return x[tuple(index)]


def flip(x: Any, axis: int | Sequence[int] | None = None) -> Array:
    """Reverse the order of elements along ``axis`` (all axes by default).

    >>> import shoal.array as sa
    >>> flip(sa.arange(4, chunks=3)).compute()
    array([3, 2, 1, 0])
    """
    x = asarray(x)
    axes = range(x.ndim) if axis is None else [axis] if isinstance(axis, int) else axis
    axes = [_axis(a, x.ndim) for a in axes]
    return x[tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(x.ndim))]


def flipud(x: Any) -> Array:
    """Flip along axis 0.

    >>> import shoal.array as sa
    >>> flipud(sa.arange(3, chunks=2)).compute()
    array([2, 1, 0])
    """
    return flip(x, 0)


def fliplr(x: Any) -> Array:
    """Flip along axis 1.

    >>> import shoal.array as sa
    >>> fliplr(sa.arange(4, chunks=2).reshape((2, 2))).compute()
    array([[1, 0],
           [3, 2]])
    """
    return flip(x, 1)


# ------------------------------------------------------------- reshape


class Reshape(ArrayExpr):
    """Each block of ``child`` reshaped; ``groups`` maps output axes to input axes."""

    child: ArrayExpr
    chunks: tuple
    groups: tuple  # (input axes, output axes) per group of equal size

    fusable = True

    @functools.cached_property
    def cost(self) -> str:  # type: ignore[override]
        return self._regenerable_cost()

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return meta_like(self.child.meta, len(self.chunks))

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        cidx = [0] * self.child.ndim
        for gi, gj in self.groups:
            cidx[gi[0]] = index[gj[0]]
        shape = tuple(c[i] for c, i in zip(self.chunks, index))
        return Task(np.reshape, b.input(self, self.child, tuple(cidx)), shape)

    def _explain_args(self) -> str:
        return f"shape={self.shape}"


def _groups(ins: tuple, outs: tuple) -> list:
    groups = []
    i = j = 0
    while i < len(ins):
        gi, gj = [i], [j]
        pi, pj = ins[i], outs[j]
        while pi != pj:
            if pi < pj:
                i += 1
                gi.append(i)
                pi *= ins[i]
            else:
                j += 1
                gj.append(j)
                pj *= outs[j]
        groups.append((gi, gj))
        i += 1
        j += 1
    return groups


def reshape(x: Any, shape: Sequence[int] | int) -> Array:
    """The same elements (C order) in a new shape; one ``-1`` is inferred.

    >>> import shoal.array as sa
    >>> reshape(sa.arange(12, chunks=4), (3, 4)).compute()[2]
    array([ 8,  9, 10, 11])
    """
    x = asarray(x)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    if has_unknown(x.chunks):
        raise ValueError(
            "cannot reshape an array with unknown chunk sizes; call .compute_chunk_sizes() first"
        )
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension (-1) in reshape")
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        if known == 0 or x.size % known:
            raise ValueError(f"cannot reshape array of size {x.size} into shape {shape}")
        shape = tuple(x.size // known if n == -1 else n for n in shape)
    if math.prod(shape) != x.size or any(n < 0 for n in shape):
        raise ValueError(f"cannot reshape array of size {x.size} into shape {shape}")
    if shape == x.shape:
        return x
    if x.size == 0:
        return _reshape_single(x, shape)
    core = squeeze(x) if 1 in x.shape else x
    out_core = tuple(n for n in shape if n != 1)
    if not out_core:
        result = _reshape_single(core, ())
    elif not core.shape:
        result = _reshape_single(core, out_core)
    else:
        groups = _groups(core.shape, out_core)
        target = list(core.chunks)
        out_chunks: list = [None] * len(out_core)
        for gi, gj in groups:
            if len(gi) == 1 and len(gj) == 1:
                out_chunks[gj[0]] = core.chunks[gi[0]]
            elif len(gj) == 1:
                for a in gi[1:]:
                    target[a] = (core.shape[a],)
                rest = math.prod(core.shape[a] for a in gi[1:])
                out_chunks[gj[0]] = tuple(c * rest for c in core.chunks[gi[0]])
            elif len(gi) == 1:
                rest = math.prod(out_core[a] for a in gj[1:])
                size = max(rest, (max(core.chunks[gi[0]]) // rest) * rest)
                n = core.shape[gi[0]]
                target[gi[0]] = (size,) * (n // size) + ((n % size,) if n % size else ())
                out_chunks[gj[0]] = tuple(c // rest for c in target[gi[0]])
                for a in gj[1:]:
                    out_chunks[a] = (out_core[a],)
            else:
                for a in gi:
                    target[a] = (core.shape[a],)
                for a in gj:
                    out_chunks[a] = (out_core[a],)
        core = rechunk(core, tuple(target))
        result = Array(Reshape(core.expr, tuple(out_chunks), [(g[0], g[1]) for g in groups]))
    if len(shape) != result.ndim:
        index = tuple(None if n == 1 else slice(None) for n in shape)
        result = result[index]
    return result


def _reshape_single(x: Array, shape: tuple) -> Array:
    one = rechunk(x, tuple(-1 for _ in x.shape)) if x.ndim else x
    return Array(_WholeReshape(one.expr, tuple((n,) for n in shape)))


class _WholeReshape(ArrayExpr):
    """A one-block array reshaped as a whole."""

    child: ArrayExpr
    chunks: tuple

    fusable = True

    @functools.cached_property
    def cost(self) -> str:  # type: ignore[override]
        return self._regenerable_cost()

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return meta_like(self.child.meta, len(self.chunks))

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        return Task(np.reshape, b.input(self, self.child, (0,) * self.child.ndim), self.shape)


def ravel(x: Any) -> Array:
    """The elements as a 1-D array in C order.

    >>> import shoal.array as sa
    >>> ravel(sa.arange(6, chunks=2).reshape((2, 3))).compute()
    array([0, 1, 2, 3, 4, 5])
    """
    x = asarray(x)
    return x if x.ndim == 1 else reshape(x, (-1,))


# --------------------------------------------------------- concatenate


class Concatenate(ArrayExpr):
    """Arrays joined along ``axis`` (their other chunks already agree)."""

    axis: int
    arrays: tuple

    fusable = True

    @functools.cached_property
    def cost(self) -> str:  # type: ignore[override]
        return self._regenerable_cost()

    @functools.cached_property
    def chunks(self) -> tuple:
        first = self.arrays[0].chunks
        joined = tuple(c for a in self.arrays for c in a.chunks[self.axis])
        return (*first[: self.axis], joined, *first[self.axis + 1 :])

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return self.arrays[0].meta

    def _one_to_one(self, child: BlockExpr) -> bool:
        return sum(1 for a in self.arrays if a._name == child._name) == 1

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        k = index[self.axis]
        for arr in self.arrays:
            n = arr.numblocks[self.axis]
            if k < n:
                cidx = (*index[: self.axis], k, *index[self.axis + 1 :])
                return b.input(self, arr, cidx)
            k -= n
        raise IndexError(index)

    def _explain_args(self) -> str:
        return f"axis={self.axis}, {len(self.arrays)} arrays"


def concatenate(seq: Sequence[Any], axis: int | None = 0) -> Array:
    """Join arrays along an existing axis (``None`` flattens them first).

    >>> import shoal.array as sa
    >>> concatenate([sa.ones(2, chunks=1), sa.zeros(1, chunks=1)]).compute()
    array([1., 1., 0.])
    """
    arrays = [asarray(a) for a in seq]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    ndim = arrays[0].ndim
    if ndim == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    if any(a.ndim != ndim for a in arrays):
        raise ValueError(
            "all the input arrays must have the same number of dimensions, got "
            f"shapes {[a.shape for a in arrays]}"
        )
    axis = _axis(axis, ndim)
    for d in range(ndim):
        if d != axis and len({str(a.shape[d]) for a in arrays}) > 1:
            raise ValueError(
                f"all the input array dimensions except for the concatenation axis must match "
                f"exactly, but along dimension {d} the shapes are {[a.shape for a in arrays]}"
            )
    dtype = np.result_type(*[a.dtype for a in arrays])
    arrays = [a.astype(dtype) if a.dtype != dtype else a for a in arrays]
    if len(arrays) == 1:
        return arrays[0]
    target = [
        common_chunks(*[a.chunks[d] for a in arrays], where=" in concatenate")
        if d != axis
        else None
        for d in range(ndim)
    ]
    aligned = []
    for a in arrays:
        want = tuple(a.chunks[d] if d == axis else target[d] for d in range(ndim))
        aligned.append(rechunk(a, want) if want != a.chunks else a)
    return Array(Concatenate(axis, tuple(a.expr for a in aligned)))


def stack(seq: Sequence[Any], axis: int = 0) -> Array:
    """Join arrays of the same shape along a new axis.

    >>> import shoal.array as sa
    >>> stack([sa.ones(2, chunks=1), sa.zeros(2, chunks=1)], axis=1).compute()
    array([[1., 0.],
           [1., 0.]])
    """
    arrays = [asarray(a) for a in seq]
    if not arrays:
        raise ValueError("need at least one array to stack")
    if len({str(a.shape) for a in arrays}) > 1:
        raise ValueError(
            f"all input arrays must have the same shape, got {[a.shape for a in arrays]}"
        )
    axis = _axis(axis, arrays[0].ndim + 1)
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


# ------------------------------------------------------------ broadcast


class BroadcastTo(ArrayExpr):
    """``child`` stretched to ``chunks`` (new leading axes, length-1 axes)."""

    child: ArrayExpr
    chunks: tuple

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return meta_like(self.child.meta, len(self.chunks))

    def _one_to_one(self, child: BlockExpr) -> bool:
        source = self.child  # the only child
        lead = self.ndim - source.ndim
        return all(
            len(c) == 1
            for a, c in enumerate(self.chunks)
            if a < lead or source.shape[a - lead] != self.shape[a]
        )

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        child = self.child
        lead = self.ndim - child.ndim
        cidx = tuple(0 if child.numblocks[a] == 1 else index[a + lead] for a in range(child.ndim))
        shape = tuple(c[i] for c, i in zip(self.chunks, index))
        return Task(np.broadcast_to, b.input(self, child, cidx), shape)


def broadcast_to(x: Any, shape: Sequence[int], chunks: Any = None) -> Array:
    """``x`` broadcast to ``shape`` without copying blocks more than needed.

    >>> import shoal.array as sa
    >>> broadcast_to(sa.arange(3, chunks=2), (2, 3)).compute()
    array([[0, 1, 2],
           [0, 1, 2]])
    """
    x = asarray(x)
    shape = tuple(int(n) for n in shape)
    lead = len(shape) - x.ndim
    if lead < 0 or any(n != 1 and n != m for n, m in zip(x.shape, shape[lead:])):
        raise ValueError(f"cannot broadcast an array of shape {x.shape} to shape {shape}")
    if shape == x.shape:
        return x if chunks is None else rechunk(x, chunks)
    out = [(n,) for n in shape[:lead]]
    for a, (n, m) in enumerate(zip(x.shape, shape[lead:])):
        out.append(x.chunks[a] if n == m else (m,))
    out_chunks = tuple(out)
    if chunks is not None:
        out_chunks = normalize_chunks(chunks, shape, x.dtype)
        for a in range(x.ndim):
            if x.shape[a] == shape[lead + a] and out_chunks[lead + a] != x.chunks[a]:
                x = rechunk(x, {a: out_chunks[lead + a]})
    return Array(BroadcastTo(x.expr, out_chunks))


def broadcast_arrays(*args: Any) -> list:
    """Arrays broadcast against each other.

    >>> import shoal.array as sa
    >>> [a.shape for a in broadcast_arrays(sa.ones((2, 1), chunks=1), sa.ones(3, chunks=3))]
    [(2, 3), (2, 3)]
    """
    arrays = [asarray(a) for a in args]
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    return [broadcast_to(a, shape) for a in arrays]


def atleast_1d(*arys: Any) -> Any:
    """Arrays with at least one axis.

    >>> import shoal.array as sa
    >>> atleast_1d(sa.asarray(5)).shape
    (1,)
    """
    out = [asarray(a) if asarray(a).ndim >= 1 else asarray(a).reshape((1,)) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys: Any) -> Any:
    """Arrays with at least two axes (new axes in front).

    >>> import shoal.array as sa
    >>> atleast_2d(sa.ones(3, chunks=2)).shape
    (1, 3)
    """
    out = []
    for a in arys:
        a = asarray(a)
        out.append(a if a.ndim >= 2 else a.reshape((1,) * (2 - a.ndim) + a.shape))
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: Any) -> Any:
    """Arrays with at least three axes (like ``np.atleast_3d``).

    >>> import shoal.array as sa
    >>> atleast_3d(sa.ones(3, chunks=2)).shape
    (1, 3, 1)
    """
    out = []
    for a in arys:
        a = asarray(a)
        if a.ndim == 0:
            a = a.reshape((1, 1, 1))
        elif a.ndim == 1:
            a = a[None, :, None]
        elif a.ndim == 2:
            a = a[:, :, None]
        out.append(a)
    return out[0] if len(out) == 1 else out


def block(arrays: Any) -> Array:
    """Assemble an array from nested lists of blocks (like ``np.block``): the
    innermost lists join along the last axis, the next level along the one
    before, and so on.

    >>> import shoal.array as sa
    >>> a, b = sa.ones((2, 2), chunks=1), sa.zeros((2, 1), chunks=1)
    >>> block([[a, b], [b.T, sa.ones((1, 1), chunks=1)]]).compute()
    array([[1., 1., 0.],
           [1., 1., 0.],
           [0., 0., 1.]])
    """

    def depth(x: Any) -> int:
        return 1 + depth(x[0]) if isinstance(x, list) and x else 0

    if isinstance(arrays, tuple):
        raise TypeError("block takes nested lists, not tuples")
    levels = depth(arrays)
    leaves: list = []

    def collect(x: Any, level: int) -> None:
        if isinstance(x, list):
            if not x:
                raise ValueError("block cannot take empty lists")
            if level >= levels:
                raise ValueError("list depths are mismatched in block")
            for item in x:
                collect(item, level + 1)
        else:
            if level != levels:
                raise ValueError("list depths are mismatched in block")
            leaves.append(asarray(x))

    collect(arrays, 0)
    ndim = max([levels] + [a.ndim for a in leaves])

    def build(x: Any, level: int) -> Array:
        if not isinstance(x, list):
            a = asarray(x)
            return a.reshape((1,) * (ndim - a.ndim) + a.shape) if a.ndim < ndim else a
        parts = [build(item, level + 1) for item in x]
        return parts[0] if len(parts) == 1 else concatenate(parts, axis=ndim - levels + level)

    return build(arrays, 0)
