"""``rechunk``: the other primitive — cut an array into different blocks.

Each output block is assembled from the pieces of the input blocks it
overlaps. A source that makes any region at the cost of that region alone
(free sources: constants, ranges, stored arrays; random ``random``/``uniform``
float64 draws, which seek their stream to the region's first row) is
rechunked in one stage with every piece made directly inside the output
block's task: rechunking ``from_array`` reads each region once, and a
right-angle rechunk of such a source keeps nothing but the output blocks (up
to ``MAX_DIRECT_PIECES`` pieces; beyond, the planner below applies).

The planner: a direct rechunk builds one piece per overlap of an input and an
output block. When source and target are at right angles (rows to columns)
that is every input block times every output block: a 40,000 x 40,000
array from (40000, 100) to (100, 40000) blocks would need 160,000 pieces and
every task would wait on all 400 inputs. The planner then goes through an
intermediate chunking whose block sides are the geometric mean of the old and
new ones ((2000, 2000) here: 2 x 8,000 pieces, each task reading 20 inputs),
recursively while that keeps lowering the count. For any other source,
memory for such a rechunk stays about the array's size (every output needs
every input) plus a block per thread; the intermediate stage only lowers
graph size and task fan-in.
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

from .chunks import chunk_offsets, has_unknown, normalize_chunks
from .convert import asarray
from .core import Array, join_blocks
from .expr import ArrayExpr, GraphBuilder

__all__ = ["Rechunk", "rechunk", "plan_rechunk"]


def _axis_pieces(old: tuple, new: tuple) -> list:
    """For each new block along one axis: [(old block, slice inside it), ...].

    >>> _axis_pieces((2, 2), (1, 3))
    [[(0, slice(0, 1, None))], [(0, slice(1, 2, None)), (1, slice(0, 2, None))]]
    """
    old_off = chunk_offsets(old)
    last = len(old) - 1
    out = []
    start = 0
    for n in new:
        stop = start + n
        k = min(max(bisect.bisect_right(old_off, start) - 1, 0), last)
        if n == 0:
            out.append([(k, slice(start - old_off[k], start - old_off[k]))])
            continue
        pieces = []
        while k <= last and old_off[k] < stop:
            lo = max(start, old_off[k]) - old_off[k]
            hi = min(stop, old_off[k + 1]) - old_off[k]
            if hi > lo:
                pieces.append((k, slice(lo, hi)))
            k += 1
        out.append(pieces)
        start = stop
    return out


def _piece_count(old: tuple, new: tuple) -> int:
    return math.prod(sum(len(p) for p in _axis_pieces(o, n)) for o, n in zip(old, new))


class Rechunk(ArrayExpr):
    """The blocks of ``child`` re-cut into ``chunks`` (one stage).

    >>> import shoal.array as sa
    >>> sa.arange(6, chunks=2).rechunk(3).expr.explain_text().splitlines()[0]
    'Rechunk: chunks=((3, 3),)'
    """

    child: ArrayExpr
    chunks: tuple

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return self.child.meta

    @property
    def _pieces(self) -> list:
        cached = self.__dict__.get("_pieces_cache")
        if cached is None:
            cached = [_axis_pieces(o, n) for o, n in zip(self.child.chunks, self.chunks)]
            self.__dict__["_pieces_cache"] = cached
        return cached

    def _one_to_one(self, child: BlockExpr) -> bool:
        cached = self.__dict__.get("_one_to_one_cache")
        if cached is None:  # asked once per block: computed once per node
            cached = True
            for axis_pieces in self._pieces:
                used = [k for pieces in axis_pieces for k, _ in pieces]
                if len(used) != len(set(used)):
                    cached = False
            self.__dict__["_one_to_one_cache"] = cached
        return cached

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        per_axis = [self._pieces[a][i] for a, i in enumerate(index)]
        child = self.child
        old = child.chunks
        direct = _reads_regions(child)

        def make(axis: int, cidx: tuple, slices: tuple) -> Any:
            if axis == len(per_axis):
                if not direct and all(
                    s.start == 0 and s.stop == old[a][k]
                    for a, (k, s) in enumerate(zip(cidx, slices))
                ):
                    return b.input(self, child, cidx)
                return b.input_part(self, child, cidx, slices)
            return [make(axis + 1, (*cidx, k), (*slices, s)) for k, s in per_axis[axis]]

        draws = getattr(child, "region_draw", None) if direct else None
        if draws is not None and b.leaf_refs is None:
            # one call per output block draws every piece: no task per piece
            nested = _nested_draws(draws, per_axis, (), ())
            if nested is not None:
                return Task(_assemble_draws, nested, len(per_axis))
        nested = make(0, (), ())
        if all(len(p) == 1 for p in per_axis):
            node = nested
            for _ in per_axis:
                node = node[0]
            return node
        return Task(_assemble, nested, len(per_axis))

    def _explain_args(self) -> str:
        return f"chunks={self.chunks}"


# A one-stage rechunk of a region source builds one piece per overlap; past
# this many, the planner's stages keep the graph small instead.
MAX_DIRECT_PIECES = 1_000_000

# Pieces per input and output block up to which the planner keeps one stage.
THRESHOLD = 4


def _reads_regions(expr: ArrayExpr) -> bool:
    """True if any region of ``expr`` is made at the cost of the region alone
    (free sources, seekable random draws): a rechunk then reads its pieces
    straight from it, in one stage, and keeps nothing."""
    return expr.cost == "free" or getattr(expr, "seekable", False)


def _nested_draws(draws: Any, per_axis: list, cidx: tuple, slices: tuple) -> Any:
    """Nested lists of ``draws(block index, slices)`` over the pieces, or None
    if one piece cannot be drawn alone."""
    axis = len(cidx)
    if axis == len(per_axis):
        return draws(cidx, slices)
    out = []
    for k, s in per_axis[axis]:
        inner = _nested_draws(draws, per_axis, (*cidx, k), (*slices, s))
        if inner is None:
            return None
        out.append(inner)
    return out


def _assemble_draws(nested: Any, ndim: int) -> Any:
    def run(node: Any) -> Any:
        return node() if callable(node) else [run(n) for n in node]

    return _assemble(run(nested), ndim)


def _assemble(nested: Any, ndim: int, axis: int = 0) -> Any:
    if axis == ndim - 1:
        parts = nested
    else:
        parts = [_assemble(n, ndim, axis + 1) for n in nested]
    return parts[0] if len(parts) == 1 else join_blocks(parts, axis)


def plan_rechunk(old: tuple, new: tuple, threshold: float = THRESHOLD, depth: int = 0) -> list:
    """The chunkings to go through, ending with ``new`` (see module docstring):
    one stage while the direct rechunk makes at most ``threshold`` pieces per
    input and output block.

    >>> plan = plan_rechunk(((40000,), (100,) * 400), ((100,) * 400, (40000,)))
    >>> [tuple(max(c) for c in stage) for stage in plan]
    [(8944, 447), (2000, 2000), (447, 8944), (100, 40000)]
    >>> len(plan_rechunk(((40000,), (100,) * 400), ((100,) * 400, (40000,)), threshold=500))
    1
    """
    direct = _piece_count(old, new)
    n_blocks = math.prod(len(c) for c in old) + math.prod(len(c) for c in new)
    if depth >= 3 or len(old) < 2 or direct <= threshold * n_blocks:
        return [new]
    shape = tuple(sum(c) for c in old)
    sides = []
    for o, n, size in zip(old, new, shape):
        side = math.sqrt(max(max(o), 1) * max(max(n), 1))
        sides.append(min(max(int(round(side)), 1), max(size, 1)))
    mid = normalize_chunks(tuple(sides), shape)
    if mid in (old, new):
        return [new]
    staged = _piece_count(old, mid) + _piece_count(mid, new)
    if staged >= direct:
        return [new]
    return plan_rechunk(old, mid, threshold, depth + 1) + plan_rechunk(
        mid, new, threshold, depth + 1
    )


def rechunk(
    x: Any, chunks: Any = "auto", threshold: Any = None, block_size_limit: Any = None
) -> Array:
    """The same values cut into new blocks.

    ``chunks`` takes every spelling of ``normalize_chunks``; a dict changes only
    the axes it names; ``block_size_limit`` sizes ``"auto"`` blocks. Right-angle
    rechunks go through intermediate chunkings (see module docstring) when the
    direct one would make more than ``threshold`` pieces (default 4) per input
    and output block.

    >>> import shoal.array as sa
    >>> sa.arange(6, chunks=2).rechunk(3).chunks
    ((3, 3),)
    """
    if threshold is None:
        threshold = THRESHOLD
    elif isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or threshold <= 0:
        raise ValueError(
            f"rechunk threshold must be a positive number (pieces per block), got {threshold!r}"
        )
    x = asarray(x)
    if isinstance(chunks, dict):
        chunks = {k: (x.chunks[k] if v is None else v) for k, v in chunks.items()}
    new = normalize_chunks(chunks, x.shape, x.dtype, limit=block_size_limit, previous=x.chunks)
    if new == x.chunks:
        return x
    if has_unknown(x.chunks):
        raise ValueError(
            f"cannot rechunk an array with unknown chunk sizes {x.chunks}; "
            "call .compute_chunk_sizes() first"
        )
    expr = x.expr
    while isinstance(expr, Rechunk):
        expr = expr.child
    if expr.chunks == new:
        return Array(expr)
    direct = _reads_regions(expr) and _piece_count(expr.chunks, new) <= MAX_DIRECT_PIECES
    stages = [new] if direct else plan_rechunk(expr.chunks, new, threshold)
    for stage in stages:
        expr = Rechunk(expr, stage)
    return Array(expr)
