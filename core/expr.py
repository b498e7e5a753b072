"""The plan model: immutable expression trees that every collection builds,
optimizes, explains and lowers to a task graph.

A node declares its operands as typed fields, dataclass style::

    class Projection(Expr):
        frame: Expr          # an operand (a child expression)
        columns: list        # an operand (data)
        label: str = "proj"  # an operand with a default

        kind: ClassVar[str] = "x"   # class-level setting, not an operand
        _cache: dict[Any, Any] = {}           # names starting with "_" are never operands

The fields, in order, are the constructor's parameters (positional or by
keyword) and plain attributes of the instance; ``operands`` is the tuple of
their values. Expressions inside tuple or list operands are children too. A
node never changes after construction.

Names are content hashes: ``"{prefix}-{token of type and operands}"``, made
when the node is built (its children are named already, so naming never
recurses). Attributes listed in ``_eager`` are computed at construction for the
same reason: a derived attribute that reads its children's (a dataframe's
meta, an array's cost) is then never computed recursively over a deep plan.

Stages, each returning a new tree:

- ``simplify()``: local rewrites to a fixed point (``_simplify_down`` on a
  node, ``_simplify_up`` from a child to its parent); ``ConvergenceError`` on
  a rewrite cycle or without convergence after ``max_passes``;
- ``lower()``: logical nodes replaced by physical ones (``_lower``);
- fusion: adjacent per-block nodes become one task per block when the graph
  is built (``core/build.py``); ``explain()`` shows what fuses.

Every traversal is iterative, with an explicit stack, so a plan 100,000
operations deep is walked, rewritten, explained and built in linear time
without touching the recursion limit: ``walk`` (parents first), ``postorder``
(children first), ``users``, ``transform`` (rebuild bottom-up), ``replace``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Self, TypeVar

from shoal.core.annotate import ANNOTATIONS, annotate_nodes
from shoal.core.layers import Layer, LayeredGraph
from shoal.core.tokenize import tokenize

__all__ = ["Expr", "ConvergenceError", "MISSING"]


_SEQUENCES = (list, tuple)
_MAX_INDENT = 32


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def _is_classvar(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _map_operand(op: Any, func: Callable[[Expr], Expr]) -> Any:
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
    """Base class of expression nodes (see the module docstring).

    >>> class Lit(Expr):
    ...     value: int
    ...     scale: int = 1
    ...     def _layer(self):
    ...         return {self._name: self.value * self.scale}
    >>> Lit(3)._name == Lit(3, scale=1)._name != Lit(4)._name
    True
    >>> Lit(3).operands, Lit(3, 2).scale
    ((3, 1), 2)
    >>> Lit(3, scale=2).explain_text()
    'Lit: value=3, scale=2'
    """

    _fields: ClassVar[tuple[str, ...]] = ()
    _field_defaults: ClassVar[dict[str, Any]] = {}
    _eager: ClassVar[tuple[str, ...]] = ()
    # ``shoal.annotate`` in force when the node was built (core/annotate.py);
    # set on the instance only when there are some
    _annotations: ClassVar[Mapping[str, Any] | None] = None
    __slots__ = ("operands", "__dict__")
    operands: tuple[Any, ...]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = list(cls._fields)
        defaults = dict(cls._field_defaults)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if name.startswith("_") or name == "operands" or _is_classvar(annotation):
                continue
            if name not in fields:
                _check_not_shadowing(cls, name)
                fields.append(name)
            if name in cls.__dict__:
                defaults[name] = cls.__dict__[name]
            else:
                defaults.pop(name, None)
        cls._fields = tuple(fields)
        cls._field_defaults = defaults
        cls._class_prefix = _kebab(cls.__name__)

    def __init__(self, *args: Any, **kwargs: Any):
        fields = self._fields
        if len(args) > len(fields):
            raise TypeError(
                f"{type(self).__name__} takes {len(fields)} operands {list(fields)}, "
                f"got {len(args)}"
            )
        values = list(args)
        if len(args) < len(fields) or kwargs:
            defaults = self._field_defaults
            for name in fields[len(args) :]:
                if name in kwargs:
                    values.append(kwargs.pop(name))
                elif name in defaults:
                    values.append(defaults[name])
                else:
                    raise TypeError(f"{type(self).__name__} is missing operand {name!r}")
            if kwargs:
                raise TypeError(f"{type(self).__name__} got unknown operands {sorted(kwargs)}")
        object.__setattr__(self, "operands", tuple(values))
        self.__dict__.update(zip(fields, values))
        annotations = ANNOTATIONS.get()
        if annotations is not None:
            self.__dict__["_annotations"] = annotations
        self._name  # noqa: B018 - named now: children are named already, nothing recurses
        for attr in self._eager:
            getattr(self, attr)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"{type(self).__name__} is immutable: build a new node instead of setting {name!r}"
        )

    # ---------------------------------------------------------------- naming

    @functools.cached_property
    def _name(self) -> str:
        return f"{self._prefix}-{tokenize(type(self).__qualname__, *self.operands)}"

    _class_prefix: ClassVar[str] = "expr"

    @property
    def _prefix(self) -> str:
        """The key prefix grouping this node's tasks: the class name in kebab case."""
        return self._class_prefix

    def __shoal_tokenize__(self) -> str:
        return self._name

    def __hash__(self) -> int:
        return hash(self._name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and other._name == self._name

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.operands, self._annotations))

    # ------------------------------------------------------------- structure

    def dependencies(self) -> list[Expr]:
        """The operands that are expressions, also inside list or tuple operands
        (the children), in operand order; a child used twice appears twice."""
        out: list[Any] = []
        for op in self.operands:
            if isinstance(op, Expr):
                out.append(op)
            elif type(op) in _SEQUENCES:
                out.extend(x for x in op if isinstance(x, Expr))
        return out

    def replace_operands(self, **changes: Any) -> Self:
        """A node of the same type with some operands changed.

        >>> class Pair(Expr):
        ...     a: int
        ...     b: int = 0
        >>> Pair(1, 2).replace_operands(b=5).operands
        (1, 5)
        """
        values = dict(zip(self._fields, self.operands))
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no operands {sorted(unknown)}")
        values.update(changes)
        return _under(self, lambda: type(self)(**values))

    def substitute_operands(self, operands: list[Any] | tuple[Any, ...]) -> Self:
        """A node of the same type with new operands, in field order (and the
        same annotations)."""
        return _under(self, lambda: type(self)(*operands))

    def _map_children(self, func: Callable[[Expr], Expr]) -> Self:
        new = [_map_operand(op, func) for op in self.operands]
        if all(a is b for a, b in zip(new, self.operands)):
            return self
        return self.substitute_operands(new)

    def walk(self) -> Iterator[Expr]:
        """Every distinct node in the tree, parents before children.

        >>> class N(Expr):
        ...     child: Any = None
        ...     tag: int = 0
        >>> [n.tag for n in N(N(None, 1), 2).walk()]
        [2, 1]
        """
        seen: set[Any] = set()
        stack = [self]
        while stack:
            node = stack.pop()
            if node._name in seen:
                continue
            seen.add(node._name)
            yield node
            stack.extend(reversed(node.dependencies()))

    def postorder(self) -> list[Expr]:
        """Every distinct node, each after all of its children (leaves first).

        >>> class N(Expr):
        ...     child: Any = None
        ...     tag: int = 0
        >>> [n.tag for n in N(N(None, 1), 2).postorder()]
        [1, 2]
        """
        out: list[Any] = []
        done: set[Any] = set()
        stack: list[Any] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            name = node._name
            if name in done:
                continue
            if expanded:
                done.add(name)
                out.append(node)
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.dependencies()) if c._name not in done)
        return out

    def users(self) -> dict[str, list[Expr]]:
        """For each node name, the distinct nodes that use it (its parents).

        >>> class N(Expr):
        ...     child: Any = None
        ...     tag: int = 0
        >>> leaf = N(None, 1)
        >>> [u.tag for u in N(leaf, 2).users()[leaf._name]]
        [2]
        """
        out: dict[Any, Any] = {}
        for node in self.walk():
            for child in {c._name: c for c in node.dependencies()}.values():
                out.setdefault(child._name, []).append(node)
        return out

    def transform(self, func: Callable[[Expr], Expr | None]) -> Expr:
        """Rebuild the tree bottom-up: each node is rebuilt on its transformed
        children, then ``func(node)`` may return a replacement (None keeps it).
        Shared subtrees are transformed once.

        >>> class N(Expr):
        ...     child: Any = None
        ...     tag: int = 0
        >>> out = N(N(None, 1), 2).transform(lambda n: N(n.child, n.tag * 10))
        >>> [n.tag for n in out.walk()]
        [20, 10]
        """
        memo: dict[str, Expr] = {}
        for node in self.postorder():
            rebuilt = node._map_children(lambda c: memo[c._name])
            new = func(rebuilt)
            memo[node._name] = rebuilt if new is None else new
        return memo[self._name]

    def replace(self, mapping: Mapping[str, Expr]) -> Expr:
        """The tree with every node named in ``mapping`` swapped for its value
        (whose own subtree is kept as it is).

        >>> class N(Expr):
        ...     child: Any = None
        ...     tag: int = 0
        >>> leaf = N(None, 1)
        >>> [n.tag for n in N(leaf, 2).replace({leaf._name: N(None, 7)}).walk()]
        [2, 7]
        """
        if self._name in mapping:
            return mapping[self._name]
        memo: dict[str, Expr] = {}
        # the nodes above the replaced ones, children before parents (a shared
        # child is rebuilt before any of its parents)
        stack: list[tuple[Expr, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if node._name in memo:
                continue
            if children_done:
                memo[node._name] = node._map_children(lambda c: memo.get(c._name, c))
                continue
            stack.append((node, True))
            for child in node.dependencies():
                if child._name in mapping:
                    memo[child._name] = mapping[child._name]
                elif child._name not in memo:
                    stack.append((child, False))
        return memo[self._name]

    def find_operations(self, kind: type) -> Iterator[Expr]:
        """Nodes of the tree that are instances of ``kind``."""
        return (node for node in self.walk() if isinstance(node, kind))

    # ----------------------------------------------------------- optimizing

    def _simplify_down(self) -> Expr | None:
        """Rewrite this node alone; None if nothing to do."""
        return None

    def _simplify_up(self, parent: Expr, dependents: dict[Any, Any]) -> Expr | None:
        """Rewrite ``parent`` (which uses this node); None if nothing to do.
        ``dependents`` maps each node name to the parents that use it, so a
        pushdown can check it is the only user."""
        return None

    def simplify(self, max_passes: int = 100) -> Expr:
        """Rewrite to a fixed point (see module docstring)."""
        expr = self
        for _ in range(max_passes):
            new = expr._simplify_pass(expr.users(), {})
            if new._name == expr._name:
                return new
            expr = new
        raise ConvergenceError(
            f"simplify did not converge after {max_passes} passes; last plan:\n{expr.explain_text()}"
        )

    def _simplify_pass(self, dependents: dict[str, list[Expr]], memo: dict[str, Expr]) -> Expr:
        """One rewrite pass over the tree, iterative. A node that rewrites itself
        (down) or is rewritten by a child (up) is replaced, and the replacement
        is simplified in the same pass, so a pushdown travels all the way down
        at once; otherwise the node's children are simplified."""
        expanded: set[Any] = set()
        active: set[Any] = set()  # names on the stack, not finished yet
        replaced_by: dict[Any, Any] = {}  # name -> name of the node that replaced it
        rewrites: dict[Any, Any] = {}  # name -> how many rewrites led to it in a row
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
                new = _under(node, node._simplify_down)
                if new is None:
                    for child in node.dependencies():
                        new = _under(node, child._simplify_up, node, dependents)
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
        memo: dict[str, Expr] = {}

        def pending(node: Expr) -> list[Any]:
            return [[c, None, 0] for c in reversed(node.dependencies()) if c._name not in memo]

        # frames: [node, candidate whose children are being lowered, rounds]
        stack: list[Any] = [[self, None, 0]]
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
            lowered = candidate._map_children(lambda c: memo[c._name])
            replacement = _under(lowered, lowered._lower) if rounds < 100 else None
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

    def _layer(self) -> Layer | Mapping[Any, Any]:
        """The tasks this node adds to the graph (keys named after ``_name``): a
        ``Layer`` of its blocks (keys kept compact), a ``LayeredGraph`` or a dict."""
        raise NotImplementedError(f"{type(self).__name__} has no _layer()")

    def __shoal_graph__(self) -> LayeredGraph:
        graph = LayeredGraph()
        for node in self.walk():
            layer = node._layer()
            if node._annotations is not None:
                annotate_nodes(
                    layer.nodes if isinstance(layer, Layer) else layer.values(), node._annotations
                )
            graph.update(layer)
        return graph

    # --------------------------------------------------------------- explain

    def _explain_head(self) -> str:
        return type(self).__name__

    def _explain_args(self) -> str:
        """The operands worth showing: not children, not at their defaults."""
        parts = []
        defaults = self._field_defaults
        for name, op in zip(self._fields, self.operands):
            if isinstance(op, Expr) or (name in defaults and op is defaults[name]):
                continue
            if type(op) in _SEQUENCES and any(isinstance(x, Expr) for x in op):
                continue
            text = repr(op)
            if len(text) > 60:
                text = text[:57] + "..."
            parts.append(f"{name}={text}")
        return ", ".join(parts)

    def explain_text(self, indent: int = 0, note: Callable[..., Any] | None = None) -> str:
        """The tree as text, one node per line, children indented; a subplan
        used again is printed once, then referred to as ``(shared: Name)``.
        ``note(node, parent)`` may add a suffix to a node's line. Past
        ``_MAX_INDENT`` levels a line shows its depth as a number instead of
        more spaces, so the text of a deep plan stays linear in its size."""
        lines = []
        seen: set[Any] = set()
        stack: list[Any] = [(self, indent, None)]
        while stack:
            node, level, parent = stack.pop()
            pad = "  " * level if level <= _MAX_INDENT else "  " * _MAX_INDENT + f"[{level}] "
            suffix = note(node, parent) if note is not None else ""
            if node._name in seen:
                lines.append(f"{pad}(shared: {node._explain_head()}){suffix}")
                continue
            seen.add(node._name)
            args = node._explain_args()
            lines.append(pad + node._explain_head() + (f": {args}" if args else "") + suffix)
            stack.extend((c, level + 1, node) for c in reversed(node.dependencies()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name}>"


def _check_not_shadowing(cls: type, name: str) -> None:
    """A field named like a method or property of a base class would hide it
    (``key`` hiding ``BlockExpr.key()``) or be hidden by it: refuse it."""
    for base in cls.__mro__[1:]:
        attr = base.__dict__.get(name)
        if isinstance(attr, (property, staticmethod, classmethod)) or callable(attr):
            raise TypeError(
                f"{cls.__name__}: operand field {name!r} would shadow "
                f"{base.__name__}.{name}; give the field another name"
            )


def _rebuild(
    cls: type[Expr], operands: tuple[Any, ...], annotations: Mapping[str, Any] | None = None
) -> Expr:
    node = cls(*operands)
    if annotations is not None:
        node.__dict__["_annotations"] = annotations
    return node


R = TypeVar("R")


def _under(node: Expr, func: Callable[..., R], *args: Any) -> R:
    """``func(*args)`` with ``node``'s annotations in force (instead of the
    caller's): the nodes a rewrite of ``node`` builds carry its annotations."""
    annotations = node._annotations
    if annotations is ANNOTATIONS.get():
        return func(*args)
    token = ANNOTATIONS.set(annotations)
    try:
        return func(*args)
    finally:
        ANNOTATIONS.reset(token)


def _kebab(name: str) -> str:
    out = [name[0].lower()]
    for ch in name[1:]:
        out.append("-" + ch.lower() if ch.isupper() else ch)
    return "".join(out)
