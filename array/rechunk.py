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

The method (``method=``, else config ``array.rechunk.method``): ``"tasks"``
is the above; ``"p2p"`` sends the pieces straight between the workers of a
cluster, staged on their disks (``P2PRechunk``, ``rechunk_p2p.py``: ``n + 1 +
m`` tasks whatever the chunkings); ``"auto"`` takes ``p2p`` when the backend
a computation would run on offers the ``"exchange"`` service (a
shoal.distributed Client; asked through ``shoal.core.services``, never by
importing it) and the rechunk is all-to-all (more than ``threshold`` pieces
per block, where the planner would add stages), unless the source is read
region by region (then tasks keep nothing, so they win). A ``p2p`` graph
computed by a local scheduler passes its pieces in memory.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any

import numpy as np

from shoal.core import config
from shoal.core.build import BlockExpr
from shoal.core.services import default_backend_offers
from shoal.core.task import Task

from .chunks import has_unknown, normalize_chunks
from .convert import asarray
from .core import Array
from .expr import ArrayExpr, GraphBuilder
from .rechunk_p2p import P2PRechunk
from .rechunk_pieces import _assemble, _axis_pieces

__all__ = ["Rechunk", "rechunk", "plan_rechunk", "check_method", "choose_method", "METHODS"]

METHODS = ("tasks", "p2p", "auto")

config.update_defaults(
    {"array": {"rechunk": {"method": "auto"}}},
    {
        "array.rechunk.method": "How rechunks move pieces of blocks: 'tasks' (in the task "
        "graph, through intermediate chunkings when at right angles), 'p2p' (straight between "
        "the workers of a distributed Client, staged on their disks) or 'auto' (p2p on a "
        "distributed Client for all-to-all rechunks, tasks otherwise)."
    },
)


def _piece_count(old: tuple, new: tuple) -> int:
    return math.prod(sum(len(p) for p in _axis_pieces(o, n)) for o, n in zip(old, new))


def _all_to_all(old: tuple, new: tuple, threshold: float) -> bool:
    """Whether a direct rechunk makes more than ``threshold`` pieces per input
    and output block (the planner then adds stages).

    >>> _all_to_all(((4,), (1, 1, 1, 1)), ((1, 1, 1, 1), (4,)), 1)  # rows to columns
    True
    >>> _all_to_all(((4,),), ((2, 2),), 1)
    False
    """
    n_blocks = math.prod(len(c) for c in old) + math.prod(len(c) for c in new)
    return _piece_count(old, new) > threshold * n_blocks


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
    if depth >= 3 or len(old) < 2 or not _all_to_all(old, new, threshold):
        return [new]
    direct = _piece_count(old, new)
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


def check_method(method: Any) -> str:
    """``method`` (None: config ``array.rechunk.method``) if it is one of
    ``METHODS``; ValueError otherwise.

    >>> check_method("p2p")
    'p2p'
    >>> check_method("disk")
    Traceback (most recent call last):
    ...
    ValueError: rechunk method must be one of 'tasks', 'p2p' or 'auto', got 'disk'
    """
    if method is None:
        method = config.get("array.rechunk.method")
    if method is None:
        return "auto"
    if method not in METHODS:
        raise ValueError(f"rechunk method must be one of 'tasks', 'p2p' or 'auto', got {method!r}")
    return str(method)


def choose_method(method: Any, old: tuple, new: tuple, threshold: float, direct: bool) -> str:
    """``"tasks"`` or ``"p2p"`` for rechunking ``old`` into ``new`` chunks
    (module docstring); ``direct`` says the source is read region by region.

    >>> old, new = ((4,), (1, 1, 1, 1)), ((1, 1, 1, 1), (4,))
    >>> choose_method("p2p", old, new, 1, False), choose_method(None, old, new, 1, False)
    ('p2p', 'tasks')
    """
    method = check_method(method)
    if method != "auto":
        return method
    if direct or not _all_to_all(old, new, threshold):
        return "tasks"
    return "p2p" if default_backend_offers("exchange") else "tasks"


def rechunk(
    x: Any,
    chunks: Any = "auto",
    threshold: Any = None,
    block_size_limit: Any = None,
    method: str | None = None,
) -> Array:
    """The same values cut into new blocks.

    ``chunks`` takes every spelling of ``normalize_chunks``; a dict changes only
    the axes it names; ``block_size_limit`` sizes ``"auto"`` blocks. Right-angle
    rechunks go through intermediate chunkings (see module docstring) when the
    direct one would make more than ``threshold`` pieces (default 4) per input
    and output block. ``method``: ``"tasks"``, ``"p2p"`` (between the workers
    of a distributed Client) or ``"auto"`` (default: config
    ``array.rechunk.method``; see module docstring).

    >>> import shoal.array as sa
    >>> sa.arange(6, chunks=2).rechunk(3).chunks
    ((3, 3),)
    """
    check_method(method)
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
    while isinstance(expr, (Rechunk, P2PRechunk)):
        expr = expr.child
    if expr.chunks == new:
        return Array(expr)
    direct = _reads_regions(expr) and _piece_count(expr.chunks, new) <= MAX_DIRECT_PIECES
    if choose_method(method, expr.chunks, new, threshold, direct) == "p2p":
        return Array(P2PRechunk(expr, new))
    stages = [new] if direct else plan_rechunk(expr.chunks, new, threshold)
    for stage in stages:
        expr = Rechunk(expr, stage)
    return Array(expr)
