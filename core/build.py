"""From a plan of blocked expressions to a task graph, fusing per-block work.

Arrays, dataframes and bags are grids of blocks (a dataframe's or a bag's
partitions are a 1-D grid). Their plan nodes are ``BlockExpr``: each knows its
``numblocks`` and how to make the task of one block, ``_block(index, b)``,
asking the builder ``b`` for its inputs' blocks. The builder answers either
with a reference to a stored key (``Ref``) or with the input's own task,
nested inline. Inline answers are the one fusion of per-block work in shoal:
``((x + 1) * 2).sum()`` becomes one task per block that makes, adds,
multiplies and partially sums; ``df[df.a > 0].b.abs()`` one task per
partition; ``bag.map(f).filter(g)`` one task per partition.

When a child is inlined into its parent (``GraphBuilder.fuses``):

- ``cost = "free"`` (constants, reads of in-memory data): always, also into
  several users;
- ``cost = "cheap"`` (random draws, elementwise work on free or cheap inputs):
  when the parent uses each of its blocks once. Such a block is made again in
  every user instead of being kept between two passes, which keeps
  ``(x - x.mean()).std()`` in bounded memory;
- ``cost = "stored"``: when the child is ``fusable`` (per-block work), this
  parent is its only user, and the parent uses each of its blocks once.

Nesting is capped at ``MAX_INLINE_DEPTH`` so long chains never exhaust the
Python stack when run; past it, blocks are stored under their own keys.
Everything here is iterative: a plan of any depth builds in linear time.

::

    plan                          graph (one task per block)
    Add(Mul(Ones, 2), 1)   ->     ("add-..", i): Task(add, Task(mul, ones_i, 2), 1)
"""

from __future__ import annotations

import gc
import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from shoal.core.annotate import annotate_nodes, merge_annotations
from shoal.core.expr import Expr
from shoal.core.layers import Layer, LayeredGraph
from shoal.core.task import Ref

__all__ = ["BlockExpr", "GraphBuilder", "build_graph", "all_block_indices", "MAX_INLINE_DEPTH"]

MAX_INLINE_DEPTH = 40

# The builder a room's nodes are built by: the core one, or a room's subclass
# with more to ask (arrays: parts of blocks, row plans).
BuilderT = TypeVar("BuilderT", bound="GraphBuilder")


def all_block_indices(numblocks: tuple[Any, ...]) -> list[tuple[int, ...]]:
    """Every block index of a grid, in C order.

    >>> all_block_indices((2, 2))
    [(0, 0), (0, 1), (1, 0), (1, 1)]
    >>> all_block_indices(())
    [()]
    """
    return list(itertools.product(*[range(n) for n in numblocks]))


class BlockExpr(Expr, Generic[BuilderT]):
    """A plan node whose output is a grid of blocks (see the module docstring).

    Subclasses give ``numblocks`` and ``_block``; they set ``fusable`` for
    per-block work and ``cost`` for sources and cheap recomputable work, and
    say which children they read one block per output block (``_one_to_one``).
    The type parameter is the builder that builds them: ``GraphBuilder`` here,
    a room's subclass of it where the room's nodes ask it for more
    (``class ArrayExpr(BlockExpr["GraphBuilder"])`` in ``shoal.array.expr``).

    >>> class Numbers(BlockExpr):
    ...     n: int
    ...     cost = "free"
    ...     numblocks = property(lambda self: (self.n,))
    ...     def _block(self, index, b):
    ...         return index[0]
    >>> dict(Numbers(2).__shoal_graph__())
    {('numbers-...', 0): 0, ('numbers-...', 1): 1}
    """

    cost: ClassVar[str] = "stored"
    fusable: ClassVar[bool] = False

    @property
    def numblocks(self) -> tuple[Any, ...]:
        raise NotImplementedError(f"{type(self).__name__} must define numblocks")

    def _block(self, index: tuple[Any, ...], b: BuilderT) -> Any:
        """The task (or data) producing block ``index``."""
        raise NotImplementedError(f"{type(self).__name__} has no _block()")

    def _one_to_one(self, child: BlockExpr[Any]) -> bool:
        """True if each block of ``child`` is used by at most one block here
        (and this node's blocks may be made piece by piece from them)."""
        return False

    def _build_layer(self, b: BuilderT) -> Any:
        """This node's stored blocks: a ``Layer`` by default. A node with other
        keys (a tree's inner levels) returns a mapping and asks ``b.ref`` for
        its children's blocks."""
        block = self._block
        nodes = [block(index, b) for index in all_block_indices(self.numblocks)]
        return Layer(self._name, self.numblocks, nodes)

    def _extra_layer(self, b: BuilderT) -> Any:
        """Graph entries this node needs besides its blocks (persisted data)."""
        return {}

    def key(self, index: tuple[Any, ...]) -> tuple[Any, ...]:
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

    def __shoal_graph__(self) -> LayeredGraph:
        return build_graph(self)

    def explain_text(self, indent: int = 0, note: Callable[..., Any] | None = None) -> str:
        """The plan as text; a node that fuses into its parent's tasks says so."""
        if note is None:
            builder = GraphBuilder(self)

            def note(node: Expr, parent: Expr | None) -> str:
                fused = (
                    parent is not None
                    and isinstance(node, BlockExpr)
                    and isinstance(parent, BlockExpr)
                    and builder.fuses(parent, node)
                )
                return "  (fused)" if fused else ""

        return super().explain_text(indent, note)


class GraphBuilder:
    """Builds the task graph of blocked expressions, fusing inputs inline where
    the module docstring says so.

    >>> class Numbers(BlockExpr):
    ...     n: int
    ...     cost = "free"
    ...     numblocks = property(lambda self: (self.n,))
    ...     def _block(self, index, b):
    ...         return index[0]
    >>> class Double(BlockExpr):
    ...     child: BlockExpr
    ...     fusable = True
    ...     numblocks = property(lambda self: self.child.numblocks)
    ...     def _one_to_one(self, child):
    ...         return True
    ...     def _block(self, index, b):
    ...         from operator import mul
    ...         from shoal.core.task import Task
    ...         return Task(mul, b.input(self, self.child, index), 2)
    >>> graph = GraphBuilder(Double(Numbers(2))).build()
    >>> sorted(graph)  # the numbers are inlined: one task per block
    [('double-...', 0), ('double-...', 1)]
    """

    def __init__(self, root: BlockExpr[Any], others: tuple[Any, ...] = ()):
        self.roots = (root, *others)
        self.uses: Counter[str] = Counter()
        for root in {r._name: r for r in self.roots}.values():  # a root is used as a result:
            self.uses[root._name] += 1  # another root reading it reads it, never remakes it
        for node in self.nodes():
            for child in node.dependencies():
                if isinstance(child, BlockExpr):
                    self.uses[child._name] += 1
        self.leaf_refs: dict[Any, Any] | None = (
            None  # (name, index) -> key chosen elsewhere (sharing)
        )
        self.pending: list[BlockExpr[Any]] = []
        self.stored: set[Any] = set()
        self.extras: set[Any] = set()
        self.graph = LayeredGraph()
        self.depth = 0
        self._inlined: dict[Any, Any] = {}
        # annotations of the nodes inlined into the layer being built
        self._fused_annotations: Any = None

    def nodes(self) -> list[Any]:
        """Every distinct node of the expressions being built."""
        seen: dict[Any, Any] = {}
        for root in self.roots:
            for node in root.walk():
                seen.setdefault(node._name, node)
        return list(seen.values())

    def fuses(self, parent: BlockExpr[Any], child: BlockExpr[Any]) -> bool:
        """The fusion rule (module docstring): is ``child`` made inside
        ``parent``'s tasks? Decided once per pair of nodes."""
        pair = (parent._name, child._name)
        decided = self._inlined.get(pair)
        if decided is None:
            decided = self._inlined[pair] = self._decide(parent, child)
        return decided

    def _decide(self, parent: BlockExpr[Any], child: BlockExpr[Any]) -> bool:
        if child.cost == "free":
            return True
        if not parent._one_to_one(child):
            return False
        if child.cost == "cheap":
            return True
        return child.fusable and self.uses[child._name] == 1

    def inline(self, parent: BlockExpr[Any], child: BlockExpr[Any]) -> bool:
        """``fuses``, unless the nesting is already ``MAX_INLINE_DEPTH`` deep."""
        return self.depth < MAX_INLINE_DEPTH and self.fuses(parent, child)

    def store(self, child: BlockExpr[Any]) -> None:
        """Make sure ``child``'s blocks are in the graph under their own keys."""
        if child._name not in self.stored:
            self.stored.add(child._name)
            self.pending.append(child)

    def extra(self, node: BlockExpr[Any]) -> None:
        """Add ``node``'s extra entries (once)."""
        if node._name not in self.extras:
            self.extras.add(node._name)
            outer, self._fused_annotations = self._fused_annotations, None
            extra = node._extra_layer(self)
            # its own annotations and those of the children its tasks inline
            annotations = merge_annotations(node._annotations, self._fused_annotations)
            self._fused_annotations = outer
            if annotations and extra:
                annotate_nodes(extra.values(), annotations)
            self.graph.update(extra)

    def ref(self, child: BlockExpr[Any], index: tuple[Any, ...]) -> Ref:
        """A reference to block ``index`` of ``child``, stored under its key."""
        if self.leaf_refs is not None:
            key = self.leaf_refs.get((child._name, index))
            if key is not None:
                return Ref(key)
        self.store(child)
        return Ref(child.key(index))

    def nested(self, child: BlockExpr[Any], make: Callable[..., Any], *args: Any) -> Any:
        """``make(*args)`` one nesting level deeper (``child`` inlined)."""
        if child._name not in self.extras:
            self.extra(child)
        if child._annotations is not None:
            self._fused_annotations = merge_annotations(self._fused_annotations, child._annotations)
        self.depth += 1
        try:
            return make(*args)
        finally:
            self.depth -= 1

    def input(self, parent: BlockExpr[Any], child: BlockExpr[Any], index: tuple[Any, ...]) -> Any:
        """Block ``index`` of ``child`` as ``parent`` should receive it: its task
        inline, or a reference to its key."""
        if self.leaf_refs is not None:
            key = self.leaf_refs.get((child._name, index))
            if key is not None:
                return Ref(key)
        fused = self._inlined.get((parent._name, child._name))  # asked once per block
        if fused is None:
            fused = self.fuses(parent, child)
        if fused and self.depth < MAX_INLINE_DEPTH:
            if child._name not in self.extras:
                self.extra(child)
            if child._annotations is not None:  # its work runs in the parent's task
                self._fused_annotations = merge_annotations(
                    self._fused_annotations, child._annotations
                )
            self.depth += 1
            try:
                return child._block(index, self)
            finally:
                self.depth -= 1
        self.store(child)
        return Ref(child.key(index))

    def build(self) -> LayeredGraph:
        """The graph of every block of the roots, with what they need."""
        # Building makes millions of objects and frees none: pausing the cyclic
        # collector saves its repeated walks over the growing graph (~30%).
        paused = gc.isenabled()
        gc.disable()
        try:
            graph = self.graph
            for root in self.roots:
                self.store(root)
            while self.pending:
                node = self.pending.pop()
                self.extra(node)
                self._fused_annotations = None
                layer = node._build_layer(self)
                annotations = merge_annotations(node._annotations, self._fused_annotations)
                if annotations:  # shoal.annotate: on every task of the node, fused ones too
                    annotate_nodes(
                        layer.nodes if isinstance(layer, Layer) else layer.values(), annotations
                    )
                if isinstance(layer, Layer):
                    graph.add_layer(layer)
                else:
                    graph.update(layer)
            return graph
        finally:
            if paused:
                gc.enable()


def build_graph(expr: BlockExpr[Any], *others: BlockExpr[Any]) -> LayeredGraph:
    """The task graph computing every block of ``expr`` (and of ``others``).

    >>> class Numbers(BlockExpr):
    ...     n: int
    ...     numblocks = property(lambda self: (self.n,))
    ...     def _block(self, index, b):
    ...         return index[0]
    >>> len(build_graph(Numbers(3)))
    3
    """
    return GraphBuilder(expr, others).build()
