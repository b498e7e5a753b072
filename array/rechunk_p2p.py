"""The ``p2p`` rechunk: pieces of blocks sent straight from worker to worker.

::

    input block i  --transfer-->  cut into one piece per output block it
                                  overlaps; each piece goes to the worker
                                  owning that output block (on its disk)
    barrier:                      every piece has arrived
    output block j <--unpack---   its pieces, in input order, placed

The graph has ``n + 1 + m`` tasks, whatever the chunkings (a right-angle
rechunk by tasks makes up to ``n x m`` pieces, or goes through intermediate
chunkings, see ``rechunk.py``). The pieces move outside the graph, through
the ``"exchange"`` service of ``shoal.core.services`` (the same one the
dataframe's p2p shuffle uses), which only a distributed worker offers; this
module never imports the backend. A graph built for a cluster and computed by
another backend passes the pieces through the barrier task, in memory.
Output tasks keep their own keys (their owner runs them), so work after the
rechunk is not fused into them.

``rechunk`` (``rechunk.py``) chooses this node; both share the pieces'
geometry (``rechunk_pieces.py``).
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np

from shoal.core.services import ExchangeSpec, exchange_barrier, exchange_output, exchange_transfer
from shoal.core.task import Ref, Task

from .expr import ArrayExpr, GraphBuilder
from .rechunk_pieces import _assemble, _axis_pieces

__all__ = ["P2PRechunk", "rechunk_transfer", "rechunk_unpack"]


def _pieces_by_input(by_output: list, n_old: int) -> list:
    """For each old block along one axis: [(new block, slice inside the old
    block), ...] (``_axis_pieces`` turned around).

    >>> _pieces_by_input(_axis_pieces((2, 2), (1, 3)), 2)
    [[(0, slice(0, 1, None)), (1, slice(1, 2, None))], [(1, slice(0, 2, None))]]
    """
    out: list = [[] for _ in range(n_old)]
    for n, pieces in enumerate(by_output):
        for k, s in pieces:
            out[k].append((n, s))
    return out


def rechunk_transfer(block: Any, i: int, spec: ExchangeSpec, per_axis: list) -> Any:
    """Send input block ``i``'s pieces to their output blocks. ``per_axis``
    lists, for each axis, the output blocks this block overlaps and the slice
    of this block each gets."""
    strides = []
    stride = 1
    for n in reversed(spec.output_grid):
        strides.append(stride)
        stride *= n
    strides.reverse()
    pieces = {}
    for combo in itertools.product(*per_axis):
        j = sum(n * s for (n, _), s in zip(combo, strides))
        piece = block[tuple(s for _, s in combo)]
        if type(piece) is np.ndarray and not (piece.flags.c_contiguous or piece.flags.f_contiguous):
            # contiguous, the piece's bytes travel and rest on disk without another copy
            piece = np.ascontiguousarray(piece)
        pieces[j] = piece
    return exchange_transfer(spec, i, pieces)


def rechunk_unpack(barrier: Any, spec: ExchangeSpec, j: int, per_axis: list) -> Any:
    """Output block ``j``: its pieces from every input block, in input order,
    placed. ``per_axis`` lists, for each axis, the input blocks it overlaps and
    the slices they give."""
    pieces = exchange_output(spec, barrier, j)
    counts = [len(p) for p in per_axis]
    expected = 1
    for c in counts:
        expected *= c
    if len(pieces) != expected:
        raise RuntimeError(
            f"exchange {spec.id!r}: output block {spec.output_key(j)[1:]} received "
            f"{len(pieces)} pieces, expected {expected}"
        )
    if len(pieces) == 1:
        return pieces[0]
    if all(type(p) is np.ndarray for p in pieces):
        shape = tuple(sum(s.stop - s.start for _, s in axis) for axis in per_axis)
        out = np.empty(shape, dtype=pieces[0].dtype)
        starts = []
        for axis in per_axis:
            offsets = [0]
            for _, s in axis:
                offsets.append(offsets[-1] + s.stop - s.start)
            starts.append(offsets)
        for position, piece in zip(itertools.product(*[range(c) for c in counts]), pieces):
            region = tuple(slice(o[p], o[p + 1]) for o, p in zip(starts, position))
            out[region] = piece
        return out
    return _assemble(_nest(pieces, counts), len(counts))


def _nest(flat: list, counts: list) -> list:
    """``flat`` (C order) as nested lists of ``counts`` entries per level.

    >>> _nest([1, 2, 3, 4, 5, 6], [2, 3])
    [[1, 2, 3], [4, 5, 6]]
    """
    if len(counts) == 1:
        return list(flat)
    size = len(flat) // counts[0]
    return [_nest(flat[a * size : (a + 1) * size], counts[1:]) for a in range(counts[0])]


class P2PRechunk(ArrayExpr):
    """The blocks of ``child`` re-cut into ``chunks`` through a peer-to-peer
    exchange (module docstring).

    >>> import shoal.array as sa
    >>> from collections import Counter
    >>> x = sa.ones((4, 6), chunks=(4, 1)) + 1  # 6 inputs, 4 outputs
    >>> e = P2PRechunk(x.expr, ((1, 1, 1, 1), (6,)))
    >>> sorted(Counter(k[0].rsplit("-", 1)[0] for k in e.__shoal_graph__()).items())
    [('p2p-rechunk', 4), ('p2p-rechunk-barrier', 1), ('p2p-rechunk-transfer', 6)]
    >>> from shoal.array.core import Array  # no exchange service: pieces in memory
    >>> Array(e).compute(scheduler="sync")[0]
    array([2., 2., 2., 2., 2., 2.])
    """

    child: ArrayExpr
    chunks: tuple

    @property
    def _prefix(self) -> str:
        return "p2p-rechunk"

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return self.child.meta

    @functools.cached_property
    def _by_output(self) -> list:
        return [_axis_pieces(o, n) for o, n in zip(self.child.chunks, self.chunks)]

    @functools.cached_property
    def _spec(self) -> ExchangeSpec:
        return ExchangeSpec(
            self._name,
            tuple(self.child.numblocks),
            tuple(self.numblocks),
            self.stage_name("transfer"),
            (self.stage_name("barrier"), 0),
            self._name,
        )

    def _one_to_one(self, child: Any) -> bool:
        return True  # each input block is read by one transfer task

    def _extra_layer(self, b: GraphBuilder) -> dict:
        spec = self._spec
        child = self.child
        by_input = [
            _pieces_by_input(pieces, n) for pieces, n in zip(self._by_output, child.numblocks)
        ]
        layer: dict = {}
        for i, index in enumerate(itertools.product(*[range(n) for n in child.numblocks])):
            per_axis = [by_input[a][k] for a, k in enumerate(index)]
            layer[spec.transfer_key(i)] = Task(
                rechunk_transfer, b.input(self, child, index), i, spec, per_axis
            )
        layer[spec.barrier_key] = Task(
            exchange_barrier, spec, *[Ref(spec.transfer_key(i)) for i in range(len(layer))]
        )
        return layer

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        spec = self._spec
        j = 0
        for k, n in zip(index, self.numblocks):
            j = j * n + k
        per_axis = [self._by_output[a][k] for a, k in enumerate(index)]
        task = Task(rechunk_unpack, Ref(spec.barrier_key), spec, j, per_axis)
        # the annotation keeps the output's key through the graph's fusion of
        # linear chains (fused tasks share annotations): its owner runs it
        return task.annotate(exchange=spec.id)

    def _explain_args(self) -> str:
        return f"chunks={self.chunks}, p2p"
