"""Membership, counting and searching: ``isin``, ``searchsorted``, ``unique``,
``bincount``, ``histogram``.

``isin`` and ``searchsorted`` are ``blockwise`` calls with the second
operand's axis contracted (each task sees all of it; for ``searchsorted``,
the position in the whole sorted array is the sum of the positions in its
blocks). ``unique`` and ``bincount`` reduce per-block results in one final
task, and their output lengths are only known after computing (``nan``).
``histogram`` with fixed bins sums per-block counts as a tree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from shoal.core.build import BlockExpr, all_block_indices
from shoal.core.task import Task

from .blockwise import _LETTERS, blockwise, map_blocks
from .chunks import chunk_offsets, has_unknown
from .convert import asarray, meta_from
from .core import Array
from .expr import ArrayExpr, GraphBuilder
from .shape import concatenate, stack

__all__ = ["isin", "searchsorted", "unique", "union1d", "bincount", "histogram", "histogramdd"]


def _isin(block: np.ndarray, test: np.ndarray, invert: bool) -> np.ndarray:
    return np.isin(block, test, invert=invert)


def isin(element: Any, test_elements: Any, invert: bool = False) -> Array:
    """Whether each element is in ``test_elements`` (any shape, flattened).

    >>> import shoal.array as sa
    >>> isin(sa.arange(5, chunks=2), [1, 3]).compute()
    array([False,  True, False,  True, False])
    """
    element = asarray(element)
    test = asarray(test_elements).ravel()
    letters = _LETTERS[: element.ndim]
    return blockwise(
        _isin,
        letters,
        element,
        letters,
        test,
        "z",
        invert,
        None,
        concatenate=True,
        dtype=bool,
        name="isin",
    )


Side = Literal["left", "right"]


def _searchsorted(blocks: list, values: np.ndarray, side: Side) -> Any:
    return sum(np.searchsorted(b, values, side=side) for b in blocks)


def searchsorted(a: Any, v: Any, side: Side = "left") -> Array:
    """Indices where ``v`` would be inserted into the sorted 1-D array ``a``.

    >>> import shoal.array as sa
    >>> searchsorted(sa.asarray([1, 3, 5, 7], chunks=3), [0, 4, 7, 9]).compute()
    array([0, 2, 3, 4])
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    a = asarray(a)
    if a.ndim != 1:
        raise ValueError(f"searchsorted needs a 1-D sorted array, got {a.ndim}-D")
    v = asarray(v)
    letters = _LETTERS[: v.ndim]
    return blockwise(
        _searchsorted, letters, a, "z", v, letters, side, None, dtype=np.intp, name="searchsorted"
    )


class _Gather(ArrayExpr):
    """One block made by ``func`` from all the blocks of a 1-D ``child`` (per-block
    work ``each`` fused into the gathering task's inputs; with ``offsets`` it also
    receives each block's start)."""

    child: ArrayExpr
    each: Callable
    func: Callable
    meta: np.ndarray
    prefix: str
    offsets: bool = False

    @property
    def _prefix(self) -> str:
        return self.prefix

    @property
    def chunks(self) -> tuple:
        return ((math.nan,),)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        indices = all_block_indices(self.child.numblocks)
        if not self.offsets:
            return Task(self.func, [Task(self.each, b.input(self, self.child, i)) for i in indices])
        known = not has_unknown(self.child.chunks)
        starts = chunk_offsets(self.child.chunks[0]) if known else [0] * (len(indices) + 1)
        parts = [Task(self.each, b.input(self, self.child, i), starts[i[0]]) for i in indices]
        return Task(self.func, parts)


def _unique_block(block: np.ndarray, offset: int) -> np.ndarray:
    values, index, counts = np.unique(block, return_index=True, return_counts=True)
    table = np.empty(len(values), dtype=[("v", block.dtype), ("i", np.int64), ("c", np.int64)])
    table["v"], table["i"], table["c"] = values, index + offset, counts
    return table


def _unique_merge(parts: list) -> np.ndarray:
    table = np.concatenate(parts)
    v, i = table["v"], table["i"]
    table = table[np.lexsort((i, v))]
    v = table["v"]
    same = v[1:] == v[:-1]
    if v.dtype.kind in "fc":
        same |= np.isnan(v[1:]) & np.isnan(v[:-1])
    starts = np.flatnonzero(np.concatenate([[True], ~same])) if len(v) else np.empty(0, int)
    out = table[starts]
    if len(v):
        out["c"] = np.add.reduceat(table["c"], starts)
    return out


def _field(table: np.ndarray, name: str) -> np.ndarray:
    return np.ascontiguousarray(table[name])


def _inverse(block: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.searchsorted(values, block).astype(np.intp)


def unique(
    ar: Any, return_index: bool = False, return_inverse: bool = False, return_counts: bool = False
) -> Any:
    """The sorted unique values (length unknown until computed), optionally with
    the index of each value's first occurrence, the inverse (positions of the
    input's elements in the unique values, shaped like the input) and counts.

    >>> import shoal.array as sa
    >>> unique(sa.asarray([3, 1, 3, 2, 1], chunks=2)).compute()
    array([1, 2, 3])
    >>> [r.compute() for r in unique(sa.asarray([3, 1, 3], chunks=2), return_counts=True)]
    [array([1, 3]), array([1, 2])]
    """
    original = asarray(ar)
    flat = original.ravel()
    if return_index and has_unknown(flat.chunks):
        raise ValueError(
            "unique(return_index=True) needs known chunk sizes; call .compute_chunk_sizes() first"
        )
    record = np.dtype([("v", flat.dtype), ("i", np.int64), ("c", np.int64)])
    table = Array(
        _Gather(flat.expr, _unique_block, _unique_merge, meta_from(record, 1), "unique", True)
    )
    values = map_blocks(_field, table, "v", dtype=flat.dtype, name="unique-values")
    if not (return_index or return_inverse or return_counts):
        return values
    out = [values]
    if return_index:
        out.append(map_blocks(_field, table, "i", dtype=np.int64, name="unique-index"))
    if return_inverse:
        letters = "abcdefghijklmnopqrstuvwxy"[: original.ndim]
        out.append(
            blockwise(
                _inverse,
                letters,
                original,
                letters,
                values,
                "z",
                concatenate=True,
                dtype=np.intp,
                name="unique-inverse",
            )
        )
    if return_counts:
        out.append(map_blocks(_field, table, "c", dtype=np.int64, name="unique-counts"))
    return tuple(out)


def union1d(ar1: Any, ar2: Any) -> Array:
    """The sorted unique values found in either input (flattened; length
    unknown until computed).

    >>> import numpy as np, shoal.array as sa
    >>> union1d(sa.asarray([3, 1, 3], chunks=2), np.array([[5, 1]])).compute()
    array([1, 3, 5])
    """
    return unique(concatenate([asarray(ar1).ravel(), asarray(ar2).ravel()]))


def _bincount_block(block: np.ndarray) -> np.ndarray:
    return np.bincount(block)


def _add_padded(parts: list, minlength: int) -> np.ndarray:
    size = max([len(p) for p in parts] + [minlength])
    out = np.zeros(size, dtype=np.result_type(*[p.dtype for p in parts]) if parts else np.intp)
    for p in parts:
        out[: len(p)] += p
    return out


def _weighted_bincount(pair: tuple) -> np.ndarray:
    return np.bincount(pair[0], weights=pair[1])


def bincount(x: Any, weights: Any = None, minlength: int = 0) -> Array:
    """Occurrences of each value of a 1-D array of non-negative ints.

    >>> import shoal.array as sa
    >>> bincount(sa.asarray([0, 2, 2, 5], chunks=3)).compute()
    array([1, 0, 2, 0, 0, 1])
    """
    import functools

    x = asarray(x)
    if x.ndim != 1 or x.dtype.kind not in "iu":
        raise TypeError(f"bincount takes a 1-D array of integers, got {x.dtype} {x.shape}")
    if minlength < 0:
        raise ValueError("minlength must be non-negative")
    gather = functools.partial(_add_padded, minlength=minlength)
    if weights is None:
        meta = meta_from(np.intp, 1)
        return Array(_Gather(x.expr, _bincount_block, gather, meta, "bincount"))
    w = asarray(weights)
    if w.shape != x.shape:
        raise ValueError(f"weights of shape {w.shape} do not match x of shape {x.shape}")
    pairs = blockwise(_pair, "a", x, "a", w, "a", dtype=object, name="bincount-pair")
    meta = meta_from(np.result_type(w.dtype, np.float64), 1)
    return Array(_Gather(pairs.expr, _weighted_bincount, gather, meta, "bincount"))


def _pair(a: np.ndarray, b: np.ndarray) -> tuple:
    return (a, b)


def _histogram_block(block: np.ndarray, bins: np.ndarray, weights: Any = None) -> np.ndarray:
    counts, _ = np.histogram(block, bins=bins, weights=weights)
    return counts[None, :]


def histogram(
    a: Any, bins: Any = 10, range: tuple | None = None, weights: Any = None, density: bool = False
) -> tuple:
    """Counts of ``a`` (flattened) in ``bins``; returns (lazy counts, NumPy edges).

    An integer ``bins`` needs ``range=`` so the edges are known before computing.

    >>> import shoal.array as sa
    >>> counts, edges = histogram(sa.arange(10, chunks=3), bins=2, range=(0, 10))
    >>> counts.compute(), edges
    (array([5, 5]), array([ 0.,  5., 10.]))
    """
    a = asarray(a).ravel()
    if isinstance(bins, (int, np.integer)):
        if range is None:
            raise ValueError(
                "histogram with an integer number of bins needs range=(lo, hi) "
                "so the bin edges are known before computing"
            )
        edges = np.linspace(range[0], range[1], int(bins) + 1)
    else:
        edges = np.asarray(bins, dtype=float)
        if edges.ndim != 1 or (np.diff(edges) < 0).any():
            raise ValueError("bins must be an int or a monotonically increasing 1-D array")
    nbins = len(edges) - 1
    if weights is None:
        dtype: type | np.dtype = np.intp
        per_block = blockwise(
            _histogram_block,
            "ab",
            a,
            "a",
            edges,
            None,
            new_axes={"b": nbins},
            adjust_chunks={"a": 1},
            dtype=dtype,
            name="histogram",
        )
    else:
        w = asarray(weights).ravel()
        dtype = np.result_type(w.dtype, float)
        per_block = blockwise(
            _histogram_block,
            "ab",
            a,
            "a",
            edges,
            None,
            w,
            "a",
            new_axes={"b": nbins},
            adjust_chunks={"a": 1},
            dtype=dtype,
            name="histogram",
        )
    counts = per_block.sum(axis=0, dtype=dtype)
    if density:
        counts = counts / (counts.sum() * np.diff(edges))
    return counts, edges


def _histogramdd_block(sample: np.ndarray, edges: tuple, weights: Any = None) -> np.ndarray:
    counts, _ = np.histogramdd(sample, bins=edges, weights=weights)
    return counts[np.newaxis]


def _edges_per_axis(bins: Any, range: Any, ndim: int) -> tuple:
    if isinstance(bins, (int, np.integer)):
        bins = [int(bins)] * ndim
    if len(bins) != ndim:
        raise ValueError(f"histogramdd got {len(bins)} bin specs for {ndim}-D samples")
    ranges = [None] * ndim if range is None else list(range)
    if len(ranges) != ndim:
        raise ValueError(f"histogramdd got {len(ranges)} ranges for {ndim}-D samples")
    edges = []
    for d, (b, r) in enumerate(zip(bins, ranges)):
        if isinstance(b, (int, np.integer)):
            if r is None:
                raise ValueError(
                    f"histogramdd with an integer number of bins along dimension {d} needs "
                    "range= for it, so the bin edges are known before computing"
                )
            edges.append(np.linspace(r[0], r[1], int(b) + 1))
        else:
            e = np.asarray(b, dtype=float)
            if e.ndim != 1 or (np.diff(e) < 0).any():
                raise ValueError(f"bins along dimension {d} must increase monotonically")
            edges.append(e)
    return tuple(edges)


def histogramdd(
    sample: Any, bins: Any = 10, range: Any = None, density: bool = False, weights: Any = None
) -> tuple:
    """Counts of N points in D dimensions (``sample`` of shape (N, D), or a
    sequence of D 1-D arrays) in the bins along each dimension: (lazy counts,
    NumPy edges per dimension). Integer bins need ``range=`` per dimension.

    >>> import shoal.array as sa
    >>> pts = sa.asarray([[0.5, 1.5], [1.5, 1.5], [0.2, 0.1]], chunks=2)
    >>> counts, edges = histogramdd(pts, bins=2, range=[(0, 2), (0, 2)])
    >>> counts.compute()
    array([[1., 1.],
           [0., 1.]])
    """
    if isinstance(sample, (list, tuple)):
        sample = stack([asarray(s) for s in sample], axis=1)
    x = asarray(sample)
    if x.ndim != 2:
        raise ValueError(f"histogramdd takes samples of shape (N, D), got shape {x.shape}")
    edges = _edges_per_axis(bins, range, x.shape[1])
    x = x.rechunk({1: -1})
    new = {letter: len(e) - 1 for letter, e in zip(_LETTERS[2:], edges)}
    out = "a" + "".join(new)
    args: list = [x, "az", edges, None]
    if weights is not None:
        w = asarray(weights)
        if w.shape != (x.shape[0],):
            raise ValueError(
                f"weights must have one value per sample ({x.shape[0]}), got {w.shape}"
            )
        args += [w.rechunk((x.chunks[0],)), "a"]
    per_block = blockwise(
        _histogramdd_block,
        out,
        *args,
        new_axes=new,
        adjust_chunks={"a": 1},
        concatenate=True,
        dtype=np.float64 if weights is None else np.result_type(float, asarray(weights).dtype),
        name="histogramdd",
    )
    counts = per_block.sum(axis=0)
    if density:
        widths = np.ix_(*[np.diff(e) for e in edges])
        volume = widths[0]
        for w_ in widths[1:]:
            volume = volume * w_
        counts = counts / counts.sum() / volume
    return counts, list(edges)
