"""Routines built on the primitives: block selection, nonzero/argwhere,
``where``, diagonals and triangles, chunk relabelling.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any, overload

import numpy as np

from shoal.core.build import BlockExpr
from shoal.core.task import Task

from .blockwise import _LETTERS, blockwise, map_blocks
from .chunks import chunk_offsets
from .convert import asarray
from .core import Array
from .creation import tri, zeros
from .elementwise import elemwise
from .expr import ArrayExpr, GraphBuilder
from .rechunk import rechunk
from .shape import concatenate, expand_dims, stack

__all__ = [
    "apply_along_axis",
    "apply_over_axes",
    "with_chunks",
    "select_blocks",
    "nonzero",
    "where",
    "flatnonzero",
    "argwhere",
    "diag",
    "diagonal",
    "tril",
    "triu",
]


class WithChunks(ArrayExpr):
    """``child`` with chunk lengths that were unknown filled in."""

    child: ArrayExpr
    chunks: tuple

    fusable = True

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return self.child.meta

    @functools.cached_property
    def cost(self) -> str:  # type: ignore[override]
        return self.child.cost

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        return b.input(self, self.child, index)


def with_chunks(x: Array, chunks: tuple) -> Array:
    """``x`` with the given (computed) chunks; block counts must agree.

    >>> import shoal.array as sa
    >>> with_chunks(sa.arange(4, chunks=2), ((2, 2),)).chunks
    ((2, 2),)
    """
    if tuple(len(c) for c in chunks) != x.numblocks:
        raise ValueError(f"chunks {chunks} do not match the {x.numblocks} blocks of the array")
    return Array(WithChunks(x.expr, tuple(tuple(c) for c in chunks)))


class SelectBlocks(ArrayExpr):
    """Chosen blocks of ``child``: ``picks`` lists the block numbers per axis."""

    child: ArrayExpr
    picks: tuple  # per axis, the chosen block numbers

    @functools.cached_property
    def chunks(self) -> tuple:
        return tuple(tuple(c[i] for i in p) for c, p in zip(self.child.chunks, self.picks))

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return self.child.meta

    def _one_to_one(self, child: BlockExpr) -> bool:
        return all(len(set(p)) == len(p) for p in self.picks)

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        return b.input(self, self.child, tuple(p[i] for p, i in zip(self.picks, index)))


def select_blocks(x: Array, index: Any) -> Array:
    """The array made of the blocks ``index`` selects (``x.blocks[index]``).

    >>> import shoal.array as sa
    >>> select_blocks(sa.arange(6, chunks=2), [2, 0]).compute()
    array([4, 5, 0, 1])
    """
    if not isinstance(index, tuple):
        index = (index,)
    if len(index) > x.ndim:
        raise IndexError(f"too many block indices {index} for {x.ndim} axes")
    index = index + (slice(None),) * (x.ndim - len(index))
    picks = []
    for axis, (i, n) in enumerate(zip(index, x.numblocks)):
        if isinstance(i, slice):
            chosen = list(range(n))[i]
        elif isinstance(i, (numbers.Integral, np.integer)):
            if not -n <= i < n:
                raise IndexError(
                    f"block index {i} is out of bounds for axis {axis} with {n} blocks"
                )
            chosen = [int(i) % n]
        else:
            chosen = [int(j) % n for j in np.asarray(i).ravel()]
            if any(not -n <= int(j) < n for j in np.asarray(i).ravel()):
                raise IndexError(
                    f"block indices {i} are out of bounds for axis {axis} with {n} blocks"
                )
        if not chosen:
            raise IndexError(f"block selection {i} along axis {axis} selects no block")
        picks.append(tuple(chosen))
    return Array(SelectBlocks(x.expr, tuple(picks)))


# -------------------------------------------------------------- nonzero


def _flatnonzero_block(block: np.ndarray, block_info: dict) -> np.ndarray:
    start = block_info[0]["array-location"][0][0]
    return np.flatnonzero(block) + start


def _unravel(flat: np.ndarray, shape: tuple, axis: int) -> np.ndarray:
    return np.unravel_index(flat, shape)[axis].astype(np.intp)


def flatnonzero(x: Any) -> Array:
    """Indices of non-zero values in the flattened array (unknown chunk lengths).

    >>> import shoal.array as sa
    >>> flatnonzero(sa.asarray([0, 3, 0, 4], chunks=2)).compute()
    array([1, 3])
    """
    flat = asarray(x).ravel()
    out = map_blocks(_flatnonzero_block, flat, dtype=np.intp)
    return with_chunks(out, ((math.nan,) * flat.numblocks[0],))


def nonzero(x: Any) -> tuple:
    """Indices of non-zero values, one array per axis (unknown chunk lengths).

    >>> import shoal.array as sa
    >>> [a.compute() for a in nonzero(sa.eye(2, chunks=1))]
    [array([0, 1]), array([0, 1])]
    """
    x = asarray(x)
    flat = flatnonzero(x)
    if x.ndim <= 1:
        return (flat,)
    return tuple(map_blocks(_unravel, flat, x.shape, axis, dtype=np.intp) for axis in range(x.ndim))


def argwhere(x: Any) -> Array:
    """Indices of non-zero values as an (n, ndim) array.

    >>> import shoal.array as sa
    >>> argwhere(sa.asarray([[0, 1], [1, 0]], chunks=1)).compute()
    array([[0, 1],
           [1, 0]])
    """
    x = asarray(x)
    if x.ndim == 0:
        x = x.reshape((1,))
    return stack(list(nonzero(x)), axis=1)


@overload
def where(condition: Any) -> tuple[Array, ...]: ...
@overload
def where(condition: Any, x: Any, y: Any) -> Array: ...


def where(condition: Any, x: Any = None, y: Any = None) -> Array | tuple[Array, ...]:
    """Values from ``x`` where ``condition`` holds, else from ``y``; with only
    ``condition``, the indices where it is true (``nonzero``).

    >>> import shoal.array as sa
    >>> a = sa.arange(4, chunks=3)
    >>> where(a > 1, a, -1).compute()
    array([-1, -1,  2,  3])
    """
    if x is None and y is None:
        return nonzero(condition)
    if x is None or y is None:
        raise TypeError("where takes either condition alone or condition, x and y")
    return elemwise(np.where, condition, x, y, name="where")


# ------------------------------------------------------------ diagonals


class Diagonal(ArrayExpr):
    """Diagonal ``k`` of a 2-D array, in blocks where row and column blocks meet."""

    child: ArrayExpr
    k: int

    @functools.cached_property
    def _segments(self) -> list:
        rows, cols = self.child.chunks
        n, m = self.child.shape
        rs, cs = max(-self.k, 0), max(self.k, 0)
        length = max(0, min(n - rs, m - cs))
        bounds = {0, length}
        for off in chunk_offsets(rows):
            if 0 < off - rs < length:
                bounds.add(off - rs)
        for off in chunk_offsets(cols):
            if 0 < off - cs < length:
                bounds.add(off - cs)
        edges = sorted(bounds)
        row_off, col_off = chunk_offsets(rows), chunk_offsets(cols)
        segs = []
        for a, b in zip(edges[:-1], edges[1:]):
            ri = int(np.searchsorted(row_off, a + rs, side="right") - 1)
            ci = int(np.searchsorted(col_off, a + cs, side="right") - 1)
            segs.append((ri, ci, a + rs - row_off[ri], a + cs - col_off[ci], b - a))
        return segs

    @functools.cached_property
    def chunks(self) -> tuple:
        return (tuple(s[4] for s in self._segments) or (0,),)

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return np.empty((0,), dtype=self.child.dtype)

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        if not self._segments:
            return np.empty((0,), dtype=self.dtype)
        ri, ci, r0, c0, n = self._segments[index[0]]
        return Task(_diag_piece, b.input(self, self.child, (ri, ci)), r0, c0, n)


def _diag_piece(block: np.ndarray, r0: int, c0: int, n: int) -> np.ndarray:
    return block[r0 + np.arange(n), c0 + np.arange(n)]


def _diag_block(block: np.ndarray) -> np.ndarray:
    return np.diag(block)


def diagonal(x: Any, offset: int = 0) -> Array:
    """Diagonal ``offset`` of a 2-D array.

    >>> import shoal.array as sa
    >>> diagonal(sa.arange(9, chunks=4).reshape((3, 3)), 1).compute()
    array([1, 5])
    """
    x = asarray(x)
    if x.ndim != 2:
        raise ValueError(f"diagonal needs a 2-D array, got {x.ndim}-D")
    return Array(Diagonal(x.expr, int(offset)))


def diag(v: Any, k: int = 0) -> Array:
    """The diagonal of a 2-D array, or a 2-D array with ``v`` on diagonal ``k``.

    >>> import shoal.array as sa
    >>> diag(sa.arange(1, 3, chunks=1), 1).compute()
    array([[0, 1, 0],
           [0, 0, 2],
           [0, 0, 0]])
    """
    v = asarray(v)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag takes a 1-D or 2-D array, got {v.ndim}-D")
    square = Array(_DiagFrom(v.expr))
    if k == 0:
        return square
    n = v.shape[0] + abs(k)
    pad_rows = zeros((abs(k), v.shape[0]), dtype=v.dtype, chunks=(abs(k), v.chunks[0]))
    pad_cols = zeros((n, abs(k)), dtype=v.dtype, chunks=((abs(k),) + v.chunks[0], abs(k)))
    if k > 0:
        tall = concatenate([square, pad_rows], axis=0)
        return concatenate([pad_cols, tall], axis=1)
    tall = concatenate([pad_rows, square], axis=0)
    return concatenate([tall, pad_cols], axis=1)


class _DiagFrom(ArrayExpr):
    """A square array with a 1-D array on its diagonal, zeros elsewhere."""

    child: ArrayExpr

    @functools.cached_property
    def chunks(self) -> tuple:
        return (self.child.chunks[0], self.child.chunks[0])

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return np.empty((0, 0), dtype=self.child.dtype)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        i, j = index
        if i == j:
            return Task(_diag_block, b.input(self, self.child, (i,)))
        shape = (self.chunks[0][i], self.chunks[1][j])
        return Task(np.zeros, shape, self.dtype)


def _triangle(x: Any, k: int, lower: bool) -> Array:
    x = asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{'tril' if lower else 'triu'} needs at least 2 axes, got {x.ndim}")
    n, m = x.shape[-2:]
    if lower:
        mask = tri(n, m, k, dtype=bool, chunks=x.chunks[-2:])
    else:
        mask = ~tri(n, m, k - 1, dtype=bool, chunks=x.chunks[-2:])
    return where(mask, x, np.zeros((), dtype=x.dtype))


def tril(x: Any, k: int = 0) -> Array:
    """The lower triangle (at and below diagonal ``k``), zeros elsewhere.

    >>> import shoal.array as sa
    >>> tril(sa.ones((2, 2), dtype=int, chunks=1)).compute()
    array([[1, 0],
           [1, 1]])
    """
    return _triangle(x, k, True)


def triu(x: Any, k: int = 0) -> Array:
    """The upper triangle (at and above diagonal ``k``), zeros elsewhere.

    >>> import shoal.array as sa
    >>> triu(sa.ones((2, 2), dtype=int, chunks=1)).compute()
    array([[1, 1],
           [0, 1]])
    """
    return _triangle(x, k, False)


def _along_axis(block: np.ndarray, func1d: Any, axis: int, args: tuple, kwargs: dict) -> np.ndarray:
    return np.apply_along_axis(func1d, axis, block, *args, **kwargs)


def apply_along_axis(
    func1d: Any,
    axis: int,
    arr: Any,
    *args: Any,
    dtype: Any = None,
    shape: tuple | None = None,
    **kwargs: Any,
) -> Array:
    """``func1d`` on every 1-D slice along ``axis`` (gathered into one block per
    slice group). The result's shape is found by calling ``func1d`` on a slice
    of ones unless ``shape``/``dtype`` are given; it may be a scalar or a 1-D
    array.

    >>> import shoal.array as sa
    >>> x = sa.arange(6, chunks=2).reshape((2, 3))
    >>> apply_along_axis(lambda v: v[::-1].cumsum(), 1, x).compute()
    array([[ 2,  3,  3],
           [ 5,  9, 12]])
    """
    x = asarray(arr)
    axis = axis % x.ndim
    if shape is None or dtype is None:
        probe = np.asarray(func1d(np.ones(x.shape[axis], dtype=x.dtype), *args, **kwargs))
        shape = probe.shape if shape is None else shape
        dtype = probe.dtype if dtype is None else dtype
    if len(shape) > 1:
        raise NotImplementedError("apply_along_axis with results of more than one axis")
    x = rechunk(x, {axis: -1})
    letters = _LETTERS[: x.ndim]
    if not shape:
        out = letters.replace(letters[axis], "")
        return blockwise(
            _along_axis,
            out,
            x,
            letters,
            func1d,
            None,
            axis,
            None,
            args,
            None,
            kwargs,
            None,
            concatenate=True,
            dtype=dtype,
            name="apply-along-axis",
        )
    return blockwise(
        _along_axis,
        letters,
        x,
        letters,
        func1d,
        None,
        axis,
        None,
        args,
        None,
        kwargs,
        None,
        adjust_chunks={letters[axis]: shape[0]},
        dtype=dtype,
        name="apply-along-axis",
    )


def apply_over_axes(func: Any, a: Any, axes: Any) -> Array:
    """``func(a, axis)`` over each of ``axes`` in turn, keeping the number of
    axes (a result with one axis fewer gets it back as length 1), as NumPy's.

    >>> import numpy as np, shoal.array as sa
    >>> apply_over_axes(np.sum, sa.arange(6, chunks=4).reshape((2, 3)), [0, 1]).compute()
    array([[15]])
    """
    x = asarray(a)
    for axis in [axes] if isinstance(axes, (int, np.integer)) else axes:
        axis = int(axis) % x.ndim if -x.ndim <= axis < x.ndim else None
        if axis is None:
            raise ValueError(f"axes {axes} are out of bounds for an array with {x.ndim} axes")
        result = asarray(func(x, axis))
        if result.ndim == x.ndim - 1:
            result = expand_dims(result, axis)
        elif result.ndim != x.ndim:
            raise ValueError(
                f"func gave {result.ndim} axes from {x.ndim}; it must keep them or drop the one"
            )
        x = result
    return x
