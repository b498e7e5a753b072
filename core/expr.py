"""Logical expressions: immutable trees that collections optimize, then lower
to task graphs.

An ``Expr`` subclass declares its operands as ``_parameters`` (names, in
order) with optional ``_defaults``; operands are read as attributes
(``expr.frame``, ``expr.columns``). Operands that are themselves ``Expr`` are
the expression's children. An expression is named by its class prefix and a
token of its operands, so equal trees get equal names and share keys.

Stages, each a method returning a new tree (never mutating):

- ``simplify()``: rewrites to a fixed point. Each node may replace itself
  (``_simplify_down``) or let a parent rewrite through it (``_simplify_up``,
  e.g. pushing a projection into a reader). A replacement is simplified
  again in the same pass, so a pushdown reaches the bottom in one pass. The
  driver stops when a pass changes nothing; it raises ``ConvergenceError`` on
  a rewrite cycle or if it has not converged after ``max_passes``;
- ``lower()``: replace logical nodes by physical ones (``_lower``);
- ``__shoal_graph__()``: every node contributes its ``_layer()`` of tasks.

``explain()`` prints the tree, one node per line, with ``_explain_args``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from shoal.core.layers import Layer, LayeredGraph
from shoal.core.tokenize import tokenize

__all__ = ["Expr", "ConvergenceError"]


_SEQUENCES = (list, tuple)


def _map_operand(op: Any, func) -> Any:
    """``op`` with ``func`` applied to it if it is an expression, or to the
    expressions inside it if it is a list or tuple; the same object if unchanged."""
    if isinstance(op, Expr):
        return func(op)
    if type(op) in _SEQUENCES:
        new = [func(x) if isinstance(x, Expr) else x for x in op]
        if any(a is not b for a, b in zip(new, op)):
            return type(op)(new)
    return op


class ConvergenceError(RuntimeError):
    """An optimizer kept rewriting without reaching a fixed point."""


class Expr:
    """Base class of logical expression nodes.

    >>> class Lit(Expr):
    ...     _parameters = ["value"]
    ...     def _layer(self):
    ...         return {self._name: self.value}
    >>> Lit(3)._name == Lit(3)._name != Lit(4)._name
    True
    >>> Lit(3).explain_text()
    'Lit: value=3'
    """

    _parameters: list[str] = []
    _defaults: dict[str, Any] = {}
    __slots__ = ("operands", "__dict__")

    def __init__(self, *args: Any, **kwargs: Any):
        params = self._parameters
        if len(args) > len(params):
            raise TypeError(
                f"{type(self).__name__} takes {len(params)} operands ({params}), got {len(args)}"
            )
        operands = list(args)
        for name in params[len(args) :]:
            if name in kwargs:
                operands.append(kwargs.pop(name))
            elif name in self._defaults:
                operands.append(self._defaults[name])
            else:
                raise TypeError(f"{type(self).__name__} is missing operand {name!r}")
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unknown operands {sorted(kwargs)}")
        self.operands = operands

    def __getattr__(self, name: str) -> Any:
        params = type(self)._parameters
        if name in params:
            return self.operands[params.index(name)]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # ---------------------------------------------------------------- naming

    @functools.cached_property
    def _name(self) -> str:
        return f"{self._prefix}-{tokenize(type(self).__qualname__, *self.operands)}"

    @property
    def _prefix(self) -> str:
        name = type(self).__name__
        out = [name[0].lower()]
        for ch in name[1:]:
            out.append("-" + ch.lower() if ch.isupper() else ch)
        return "".join(out)

    def __shoal_tokenize__(self) -> str:
        return self._name

    def __hash__(self) -> int:
        return hash(self._name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and other._name == self._name

    # ------------------------------------------------------------- structure

    def dependencies(self) -> list[Expr]:
        """The operands that are expressions, also inside list or tuple operands
        (the children)."""
        out: list = []
        for op in self.operands:
            if isinstance(op, Expr):
                out.append(op)
            elif type(op) in _SEQUENCES:
                out.extend(x for x in op if isinstance(x, Expr))
        return out

    def walk(self) -> Iterator[Expr]:
        """Every distinct node in the tree, parents before children."""
        seen: set = set()
        stack = [self]
        while stack:
            node = stack.pop()
            if node._name in seen:
                continue
            seen.add(node._name)
            yield node
            stack.extend(reversed(node.dependencies()))

    def find_operations(self, kind: type) -> Iterator[Expr]:
        """Nodes of the tree that are instances of ``kind``."""
        return (node for node in self.walk() if isinstance(node, kind))

    def substitute_operands(self, operands: list) -> Expr:
        """A node of the same type with new operands."""
        return type(self)(*operands)

    def _map_children(self, func) -> Expr:
        new = [_map_operand(op, func) for op in self.operands]
        if all(a is b for a, b in zip(new, self.operands)):
            return self
        return self.substitute_operands(new)

    # ----------------------------------------------------------- optimizing

    def _simplify_down(self) -> Expr | None:
        """Rewrite this node alone; None if nothing to do."""
        return None

    def _simplify_up(self, parent: Expr, dependents: dict) -> Expr | None:
        """Rewrite ``parent`` (which uses this node); None if nothing to do.
        ``dependents`` maps each node name to the parents that use it, so a
        pushdown can check it is the only user."""
        return None

    def simplify(self, max_passes: int = 100) -> Expr:
        """Rewrite to a fixed point (see module docstring)."""
        expr = self
        for _ in range(max_passes):
            new = expr._simplify_pass(_dependents(expr), {})
            if new._name == expr._name:
                return new
            expr = new
        raise ConvergenceError(
            f"simplify did not converge after {max_passes} passes; last plan:\n{expr.explain_text()}"
        )

    def _simplify_pass(self, dependents: dict, memo: dict) -> Expr:
        """One rewrite pass over the tree, iterative (deep trees do not hit the
        recursion limit). A node that rewrites itself (down) or is rewritten
        by a child (up) is replaced, and the replacement is simplified in the
        same pass, so a pushdown travels all the way down at once; otherwise
        the node's children are simplified."""
        expanded: set = set()
        active: set = set()  # names on the stack, not finished yet
        replaced_by: dict = {}  # name -> name of the node that replaced it
        rewrites: dict = {}  # name -> how many rewrites led to it in a row
        stack = [self]
        while stack:
            node = stack[-1]
            name = node._name
            if name in memo:
                stack.pop()
                continue
            if name in replaced_by:  # its replacement is done
                memo[name] = memo[replaced_by[name]]
                active.discard(name)
                stack.pop()
                continue
            if name not in expanded:
                new = node._simplify_down()
                if new is None:
                    for child in node.dependencies():
                        new = child._simplify_up(node, dependents)
                        if new is not None:
                            break
                if new is not None and new._name != name:
                    if new._name in memo:
                        memo[name] = memo[new._name]
                        stack.pop()
                        continue
                    if new._name in active:
                        raise ConvergenceError(
                            f"simplify rewrites in a cycle: {type(node).__name__} "
                            f"{name} -> ... -> {type(new).__name__} {new._name}"
                        )
                    rewrites[new._name] = rewrites.get(name, 0) + 1
                    if rewrites[new._name] > 1000 + 10 * len(dependents):
                        raise ConvergenceError(
                            f"simplify kept rewriting {type(new).__name__} without end"
                        )
                    replaced_by[name] = new._name
                    active.add(name)
                    stack.append(new)
                    continue
                expanded.add(name)
                active.add(name)
                todo = [c for c in node.dependencies() if c._name not in memo]
                if todo:
                    stack.extend(reversed(todo))
                    continue
            stack.pop()
            active.discard(name)
            memo[name] = node._map_children(lambda c: memo[c._name])
        return memo[self._name]

    def _lower(self) -> Expr | None:
        """A physical replacement for this node; None if it is already physical."""
        return None

    def lower(self) -> Expr:
        """Lower every node, children first (iteratively: deep trees are fine).

        A node is rebuilt on its lowered children, then replaced by its
        ``_lower()`` result (whose children are lowered in turn) until that
        returns None, at most 100 times.
        """
        memo: dict = {}

        def on_lowered_children(node: Expr) -> Expr:
            return node._map_children(lambda c: memo[c._name])

        def pending(node: Expr) -> list:
            return [[c, None, 0] for c in reversed(node.dependencies()) if c._name not in memo]

        # frames: [node, candidate whose children are being lowered, rounds]
        stack: list = [[self, None, 0]]
        while stack:
            frame = stack[-1]
            node, candidate, rounds = frame
            if candidate is None:
                if node._name in memo:
                    stack.pop()
                    continue
                frame[1] = node
                todo = pending(node)
                if todo:
                    stack.extend(todo)
                    continue
                candidate = node
            lowered = on_lowered_children(candidate)
            replacement = lowered._lower() if rounds < 100 else None
            if replacement is None:
                memo[node._name] = lowered
                stack.pop()
                continue
            frame[1] = replacement
            frame[2] = rounds + 1
            stack.extend(pending(replacement))
        return memo[self._name]

    def optimize(self) -> Expr:
        """``simplify`` then ``lower``: the plan that will run."""
        return self.simplify().lower()

    # ---------------------------------------------------------------- graph

    def _layer(self) -> Layer | Mapping:
        """The tasks this node adds to the graph (keys named after ``_name``): a
        ``Layer`` of its blocks (keys kept compact), a ``LayeredGraph`` or a dict."""
        raise NotImplementedError(f"{type(self).__name__} has no _layer()")

    def __shoal_graph__(self) -> LayeredGraph:
        graph = LayeredGraph()
        for node in self.walk():
            graph.update(node._layer())
        return graph

    # --------------------------------------------------------------- explain

    def _explain_args(self) -> str:
        parts = []
        for name, op in zip(self._parameters, self.operands):
            if isinstance(op, Expr) or op is self._defaults.get(name, object()):
                continue
            text = repr(op)
            if len(text) > 60:
                text = text[:57] + "..."
            parts.append(f"{name}={text}")
        return ", ".join(parts)

    def explain_text(self, indent: int = 0) -> str:
        """The tree as text, one node per line, children indented."""
        lines = []
        stack = [(self, indent)]
        while stack:
            node, level = stack.pop()
            args = node._explain_args()
            lines.append("  " * level + type(node).__name__ + (f": {args}" if args else ""))
            stack.extend((child, level + 1) for child in reversed(node.dependencies()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name}>"


def _dependents(root: Expr) -> dict:
    out: dict = {}
    for node in root.walk():
        for child in node.dependencies():
            out.setdefault(child._name, []).append(node)
    return out
