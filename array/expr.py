"""Array expressions, and what arrays add to the core graph builder.

Every array operation is an ``ArrayExpr``: a ``BlockExpr`` of the one plan
model (``shoal.core.expr``, ``shoal.core.build``) whose operands are typed
fields, and which knows its ``chunks``, its ``meta`` (a zero-size block of the
right type and dtype) and how to build the task of one of its blocks,
``_block(index, builder)``. The core ``GraphBuilder`` fuses per-block work by
nesting an input's task inside its consumer's (rule in ``shoal.core.build``):
``((x + 1) * 2).sum()`` becomes one task per block that makes, adds,
multiplies and partially sums. In array terms:

- ``cost = "free"``: constants, ``arange``, reads of in-memory or on-disk
  arrays, made inside every consumer; a consumer that needs only part of a
  block asks for just that part (``input_part``/``_sub_block``), so a slice of
  a file reads only that slice;
- ``cost = "cheap"``: random draws, and elementwise work on free or cheap
  inputs, made again inside every consumer that uses each block once, which
  keeps ``(x - x.mean()).std()`` in bounded memory;
- ``cost = "stored"``: everything else; fused into its only consumer when it
  is per-block work (``fusable``).

Arrays add to the core builder: parts of blocks of *seekable* nodes (random
draws that can start anywhere in their stream, ``random.py``), always made
inline at the cost of the part alone; row plans (``input_rows``), with which a
reduction makes its input in cache-sized pieces (``streaming.py``); and the
groups of partial tasks that make the same cheap block once (``sharing.py``,
through ``leaf_refs``).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from shoal.core import build, config
from shoal.core.build import MAX_INLINE_DEPTH, BlockExpr
from shoal.core.layers import LayeredGraph
from shoal.core.task import Ref, Task
from shoal.core.utils import parse_bytes

__all__ = ["ArrayExpr", "GraphBuilder", "FromGraph", "build_graph", "MAX_REGENERATED"]

# A cheap node is made again in every consumer; past this much work per block
# (blocks of nodes, counted per path) it is stored instead.
MAX_REGENERATED = 32


class ArrayExpr(BlockExpr["GraphBuilder"]):
    """Base of array expression nodes: subclasses give ``chunks`` and ``meta``
    (as operand fields, or derived from their children) and ``_block``.

    ``chunks``, ``meta``, ``cost``, ``fusable`` and ``regenerated`` are
    computed when a node is built (``_eager``): a derived one reads its
    children's, which are known already, so nothing is ever computed
    recursively over a deep plan.

    >>> from shoal.array.creation import ones
    >>> ones((4,), chunks=2).expr.chunks
    ((2, 2),)
    """

    _eager = ("chunks", "meta", "cost", "fusable", "regenerated")
    region_draw: ClassVar[Any] = None  # their one-call draw of a block's pieces (random.py)

    if TYPE_CHECKING:  # every node has them: an operand field or a derived attribute

        @property
        def chunks(self) -> tuple[tuple[int, ...], ...]: ...

        @property
        def meta(self) -> np.ndarray: ...

    @property
    def seekable(self) -> bool:
        """True for random draws that can start anywhere in their stream."""
        return False

    @property
    def dtype(self) -> np.dtype:
        return self.meta.dtype

    @functools.cached_property
    def shape(self) -> tuple:
        return tuple(sum(c) if c else 0 for c in self.chunks)

    @property
    def ndim(self) -> int:
        return len(self.chunks)

    @functools.cached_property
    def numblocks(self) -> tuple:
        return tuple(len(c) for c in self.chunks)

    def _sub_block(self, index: tuple, slices: tuple, b: GraphBuilder) -> Any:
        """The task producing ``block[slices]``; free sources override it to
        produce only that part."""
        return Task(operator.getitem, self._block(index, b), slices)

    def _rows(self, index: tuple, b: GraphBuilder) -> tuple | None:
        """A row plan making block ``index`` piece by piece (``streaming.py``),
        or None when this node makes whole blocks only."""
        return None

    def _regenerable_cost(self) -> str:
        """The cost of elementwise work and of nodes that only reshape or select
        their inputs' blocks: cheap when every input is free or cheap and used
        block for block, and making a block again stays small work
        (``regenerated`` at most ``MAX_REGENERATED``); stored otherwise."""
        children = [c for c in self.dependencies() if isinstance(c, ArrayExpr)]
        if not children or not all(
            c.cost in ("free", "cheap") and self._one_to_one(c) for c in children
        ):
            return "stored"
        work = 1 + sum(c.regenerated for c in children)
        return "cheap" if work <= MAX_REGENERATED else "stored"

    @functools.cached_property
    def regenerated(self) -> int:
        """How many blocks of nodes are made to make one block of this node
        again, counted once per path: a cheap input used twice on the way
        counts twice (so plans reusing their inputs at every step, as a time
        loop does, never regenerate exponentially); 0 for stored nodes."""
        if self.cost not in ("free", "cheap"):
            return 0
        children = [c for c in self.dependencies() if isinstance(c, ArrayExpr)]
        return 1 + sum(c.regenerated for c in children)

    def __shoal_graph__(self) -> LayeredGraph:
        return build_graph(self)


class GraphBuilder(build.GraphBuilder):
    """The core builder (``shoal.core.build``) with what arrays add: parts of
    blocks (``input_part``), row plans (``input_rows``) and the groups of
    partial tasks that share leaf blocks (``groups``, see ``sharing.py``).

    >>> from shoal.array.creation import ones
    >>> expr = (ones((4,), chunks=2) + 1).expr
    >>> sorted(GraphBuilder(expr).build())  # the ones-blocks are inlined
    [('add-...', 0), ('add-...', 1)]
    """

    def __init__(self, root: ArrayExpr, others: tuple = ()):
        super().__init__(root, others)
        self.groups: dict | None = None  # partial tasks sharing leaf blocks (sharing.py)

    @functools.cached_property
    def piece_size(self) -> int:
        """Config ``array.piece-size`` in bytes, read once per build."""
        return parse_bytes(config.get("array.piece-size"))

    def _leaf_ref(self, child: ArrayExpr, index: tuple) -> Ref | None:
        if self.leaf_refs is None:
            return None
        key = self.leaf_refs.get((child._name, index))
        return None if key is None else Ref(key)

    def input_part(self, parent: ArrayExpr, child: ArrayExpr, index: tuple, slices: tuple) -> Any:
        """``block[slices]`` of ``child``; free sources produce only that part,
        and seekable ones are always made inline (at the cost of the part)."""
        ref = self._leaf_ref(child, index)
        if ref is not None:
            return Task(operator.getitem, ref, slices)
        seekable = child.seekable and self.depth < MAX_INLINE_DEPTH
        if seekable or self.inline(parent, child):
            return self.nested(child, child._sub_block, index, slices, self)
        return Task(operator.getitem, self.ref(child, index), slices)

    def input_rows(self, parent: ArrayExpr, child: ArrayExpr, index: tuple) -> tuple:
        """Block ``index`` of ``child`` as a row plan (see ``streaming.py``)."""
        ref = self._leaf_ref(child, index)
        if ref is not None:
            return ("rows", ref)
        if self.inline(parent, child):
            return self.nested(child, _rows_or_block, child, index, self)
        return ("rows", self.ref(child, index))


def _rows_or_block(child: ArrayExpr, index: tuple, b: GraphBuilder) -> tuple:
    plan = child._rows(index, b)
    return plan if plan is not None else ("rows", child._block(index, b))


def build_graph(expr: ArrayExpr, *others: ArrayExpr) -> LayeredGraph:
    """The task graph computing every block of ``expr`` (and of ``others``).

    >>> from shoal.array.creation import arange
    >>> len(build_graph(arange(10, chunks=5).expr))
    2
    """
    return GraphBuilder(expr, others).build()


class FromGraph(ArrayExpr):
    """An array whose blocks are already in a graph (persisted or optimized).

    >>> import numpy as np
    >>> e = FromGraph("x", {("x", 0): np.ones(2)}, ((2,),), np.empty((0,)))
    >>> build_graph(e)[("x", 0)]
    array([1., 1.])
    """

    name: str
    graph: Mapping
    chunks: tuple
    meta: np.ndarray

    @property
    def _name(self) -> str:  # type: ignore[override]
        return self.name

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        return self.graph[self.key(index)]

    def _extra_layer(self, b: GraphBuilder) -> Mapping:
        return self.graph

    def _explain_args(self) -> str:
        return f"name={self.name!r}"
