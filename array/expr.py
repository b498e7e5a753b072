"""Array expressions and the graph builder that fuses them.

Every array operation is an ``ArrayExpr`` node that knows its ``chunks``,
its ``meta`` (a zero-size block of the right type and dtype) and how to build
the task for one of its blocks: ``_block(index, builder)``. A node asks the
builder for its inputs' blocks; the builder answers either with a reference
to a stored key (``Ref``) or with the input's own task, nested inline. Inline
answers are how fusion happens: ``((x + 1) * 2).sum()`` becomes one task per
block that generates, adds, multiplies and partially sums.

When an input is inlined (``GraphBuilder.inline``):

- ``cost = "free"`` (constants, ``arange``, reads of in-memory or on-disk
  arrays): always; a consumer that needs only part of a block asks for just
  that part (``_sub_block``), so a slice of a file reads only that slice;
- ``cost = "cheap"`` (random generation, and elementwise work on free or cheap
  inputs only): whenever the consumer uses each block once. Such a block is
  regenerated inside *every* consumer instead of being kept between two
  passes, which is what keeps ``(x - x.mean()).std()`` in bounded memory;
- ``cost = "stored"``: when the node is fusable (per-block work), its only
  user is this consumer, and the consumer uses each block once.

A part of a block (``input_part``) of a *seekable* node (random draws that
can start anywhere in their stream, ``random.py``) is always made inline, at
the cost of the part alone. A reduction may instead ask for a row plan
(``input_rows``) to make its input in cache-sized pieces (``streaming.py``),
and partial tasks that would make the same cheap block are grouped so it is
made once (``sharing.py``, through ``leaf_refs``).

Nesting is capped at ``MAX_INLINE_DEPTH`` so long chains do not exhaust the
Python stack when run; beyond it, blocks are stored under their own keys.
"""

from __future__ import annotations

import functools
import gc
import operator
from collections import Counter
from typing import Any

import numpy as np

from shoal.core import config
from shoal.core.expr import Expr
from shoal.core.layers import Layer, LayeredGraph
from shoal.core.task import Ref, Task
from shoal.core.utils import parse_bytes

from .chunks import all_block_indices

__all__ = ["ArrayExpr", "GraphBuilder", "FromGraph", "build_graph", "MAX_INLINE_DEPTH"]

MAX_INLINE_DEPTH = 40


class ArrayExpr(Expr):
    """Base of array expression nodes: subclasses define ``chunks``, ``meta``
    and ``_block``.

    >>> from shoal.array.creation import ones
    >>> ones((4,), chunks=2).expr.chunks
    ((2, 2),)
    """

    cost = "stored"
    fusable = False
    seekable = False  # random draws that start anywhere in their stream (random.py)
    region_draw = None  # their one-call draw of a block's pieces (random.py)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # Operands as plain attributes: graph building reads them millions of times.
        self.__dict__.update(zip(self._parameters, self.operands))
        self._name  # noqa: B018 - name now, so deep trees never tokenize recursively

    @property
    def chunks(self) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} must define chunks")

    @property
    def meta(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define meta")

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

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        """The task (or data) producing block ``index``."""
        raise NotImplementedError(f"{type(self).__name__} has no _block()")

    def _sub_block(self, index: tuple, slices: tuple, b: GraphBuilder) -> Any:
        """The task producing ``block[slices]``; free sources override it to
        produce only that part."""
        return Task(operator.getitem, self._block(index, b), slices)

    def _one_to_one(self, child: ArrayExpr) -> bool:
        """True if each block of ``child`` is used by at most one block here."""
        return False

    def _rows(self, index: tuple, b: GraphBuilder) -> tuple | None:
        """A row plan making block ``index`` piece by piece (``streaming.py``),
        or None when this node makes whole blocks only."""
        return None

    def _passthrough_cost(self) -> str:
        """Cost of a node that only reshapes or selects its inputs' blocks: as
        cheap as its inputs when it uses each of their blocks once."""
        children = [c for c in self.dependencies() if isinstance(c, ArrayExpr)]
        if children and all(c.cost in ("free", "cheap") and self._one_to_one(c) for c in children):
            return "cheap"
        return "stored"

    def _extra_layer(self, b: GraphBuilder) -> dict:
        """Graph entries this node needs besides its blocks (persisted data)."""
        return {}

    def _layer(self) -> dict:
        return build_graph(self)

    def key(self, index: tuple) -> tuple:
        return (self._name, *index)

    def stage_name(self, stage: str) -> str:
        """The name of an internal stage's keys, grouped under "{prefix}-{stage}"."""
        names = self.__dict__.get("_stage_names")
        if names is None:  # asked once per block: made once per stage
            names = self.__dict__["_stage_names"] = {}
        name = names.get(stage)
        if name is None:
            token = self._name.rsplit("-", 1)[-1]
            name = names[stage] = f"{self._prefix}-{stage}-{token}"
        return name


class GraphBuilder:
    """Builds the task graph of an expression, fusing inputs inline where the
    module docstring says so.

    >>> from shoal.array.creation import ones
    >>> expr = (ones((4,), chunks=2) + 1).expr
    >>> sorted(GraphBuilder(expr).build())  # the ones-blocks are inlined
    [('add-...', 0), ('add-...', 1)]
    """

    def __init__(self, root: ArrayExpr, others: tuple = ()):
        self.roots = (root, *others)
        self.uses: Counter = Counter()
        for node in self.nodes():
            for child in _array_operands(node):
                self.uses[child._name] += 1
        self.groups: dict | None = None  # partial tasks sharing leaf blocks (sharing.py)
        self.leaf_refs: dict | None = None
        self.pending: list[ArrayExpr] = []
        self.stored: set = set()
        self.extras: set = set()
        self.graph = LayeredGraph()
        self.depth = 0
        self._inlined: dict = {}

    @functools.cached_property
    def piece_size(self) -> int:
        """Config ``array.piece-size`` in bytes, read once per build."""
        return parse_bytes(config.get("array.piece-size"))

    def nodes(self) -> list:
        """Every distinct node of the expressions being built."""
        seen: dict = {}
        for root in self.roots:
            for node in root.walk():
                seen.setdefault(node._name, node)
        return list(seen.values())

    def _leaf_ref(self, child: ArrayExpr, index: tuple) -> Ref | None:
        if self.leaf_refs is None:
            return None
        key = self.leaf_refs.get((child._name, index))
        return None if key is None else Ref(key)

    def _extra(self, node: ArrayExpr) -> None:
        if node._name not in self.extras:
            self.extras.add(node._name)
            self.graph.update(node._extra_layer(self))

    def inline(self, parent: ArrayExpr, child: ArrayExpr) -> bool:
        if self.depth >= MAX_INLINE_DEPTH:
            return False
        pair = (parent._name, child._name)
        decided = self._inlined.get(pair)
        if decided is None:  # asked once per block: decided once per pair of nodes
            decided = self._inlined[pair] = self._decide_inline(parent, child)
        return decided

    def _decide_inline(self, parent: ArrayExpr, child: ArrayExpr) -> bool:
        if child.cost == "free":
            return True
        if not parent._one_to_one(child):
            return False
        if child.cost == "cheap":
            return True
        return child.fusable and self.uses[child._name] == 1

    def _store(self, child: ArrayExpr) -> None:
        if child._name not in self.stored:
            self.stored.add(child._name)
            self.pending.append(child)

    def input(self, parent: ArrayExpr, child: ArrayExpr, index: tuple) -> Any:
        """Block ``index`` of ``child`` as ``parent`` should receive it."""
        if self.leaf_refs is not None:
            key = self.leaf_refs.get((child._name, index))
            if key is not None:
                return Ref(key)
        inline = self._inlined.get((parent._name, child._name))  # decided before?
        if inline is None or self.depth >= MAX_INLINE_DEPTH:
            inline = self.inline(parent, child)
        if inline:
            if child._name not in self.extras:
                self._extra(child)
            self.depth += 1
            try:
                return child._block(index, self)
            finally:
                self.depth -= 1
        self._store(child)
        return Ref(child.key(index))

    def input_part(self, parent: ArrayExpr, child: ArrayExpr, index: tuple, slices: tuple) -> Any:
        """``block[slices]`` of ``child``; free sources produce only that part."""
        ref = self._leaf_ref(child, index)
        if ref is not None:
            return Task(operator.getitem, ref, slices)
        seekable = child.seekable and self.depth < MAX_INLINE_DEPTH
        if seekable or self.inline(parent, child):
            self._extra(child)
            self.depth += 1
            try:
                return child._sub_block(index, slices, self)
            finally:
                self.depth -= 1
        self._store(child)
        return Task(operator.getitem, Ref(child.key(index)), slices)

    def input_rows(self, parent: ArrayExpr, child: ArrayExpr, index: tuple) -> tuple:
        """Block ``index`` of ``child`` as a row plan (see ``streaming.py``)."""
        ref = self._leaf_ref(child, index)
        if ref is not None:
            return ("rows", ref)
        if self.inline(parent, child):
            self._extra(child)
            self.depth += 1
            try:
                plan = child._rows(index, self)
                return plan if plan is not None else ("rows", child._block(index, self))
            finally:
                self.depth -= 1
        self._store(child)
        return ("rows", Ref(child.key(index)))

    def build(self) -> LayeredGraph:
        # Building makes millions of objects and frees none: pausing the cyclic
        # collector saves its repeated walks over the growing graph (~30%).
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._build()
        finally:
            if paused:
                gc.enable()

    def _build(self) -> LayeredGraph:
        graph = self.graph
        for root in self.roots:
            self._store(root)
        while self.pending:
            node = self.pending.pop()
            self._extra(node)
            block = node._block
            nodes = [block(index, self) for index in all_block_indices(node.numblocks)]
            graph.add_layer(Layer(node._name, node.numblocks, nodes))
        return graph


def build_graph(expr: ArrayExpr, *others: ArrayExpr) -> LayeredGraph:
    """The task graph computing every block of ``expr`` (and of ``others``).

    >>> from shoal.array.creation import arange
    >>> len(build_graph(arange(10, chunks=5).expr))
    2
    """
    return GraphBuilder(expr, others).build()


def _array_operands(node: Expr) -> list:
    return [d for d in node.dependencies() if isinstance(d, ArrayExpr)]


class FromGraph(ArrayExpr):
    """An array whose blocks are already in a graph (persisted or optimized).

    >>> import numpy as np
    >>> e = FromGraph("x", {("x", 0): np.ones(2)}, ((2,),), np.empty((0,)))
    >>> build_graph(e)[("x", 0)]
    array([1., 1.])
    """

    _parameters = ["name", "graph", "chunks_", "meta_"]

    @property
    def _name(self) -> str:  # type: ignore[override]
        return self.name

    @property
    def chunks(self) -> tuple:
        return self.chunks_

    @property
    def meta(self) -> np.ndarray:
        return self.meta_

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        return self.graph[self.key(index)]

    def _extra_layer(self, b: GraphBuilder) -> dict:
        return self.graph

    def _explain_args(self) -> str:
        return f"name={self.name!r}"
