"""The task spec: what one node of a task graph is.

A graph is a plain ``dict`` mapping keys to nodes. A key is a ``str`` or a
tuple ``(name, i, j, ...)``. A node is one of:

- ``Task(func, *args, **kwargs)``: call ``func``; any ``Ref(key)`` found in the
  arguments (also inside lists, tuples, dicts and nested ``Task`` objects) is
  replaced by that key's result before the call.
- ``Fused(key, tasks)``: several tasks run in one call, in order; the inner
  tasks refer to each other by ``Ref`` and the result is the last one's.
- anything else: a literal value (a "data node"); it is its own result.

Nothing here guesses: a tuple is always data, a reference is always a ``Ref``.
Dependencies are computed once, when a node is built, and stored as a tuple.
All classes use ``__slots__`` because a graph may hold millions of them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

Key = str | tuple

__all__ = ["Ref", "Task", "Fused", "Key", "dependencies_of", "execute_node", "is_node"]

# How a Task builds its call arguments; chosen once, at construction.
_PLAN_NONE = 0  # no references: call with the stored arguments as they are
_PLAN_FLAT = 1  # references only as top-level positional arguments
_PLAN_DEEP = 2  # references (or inner tasks) nested somewhere: substitute recursively


class Ref:
    """An explicit reference to the result of another key in the graph.

    >>> Ref("x")
    Ref('x')
    """

    __slots__ = ("key",)

    def __init__(self, key: Key):
        self.key = key

    def __repr__(self) -> str:
        return f"Ref({self.key!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is Ref and other.key == self.key

    def __hash__(self) -> int:
        return hash((Ref, self.key))

    def __reduce__(self):
        return (Ref, (self.key,))


def _collect(obj: Any, out: list, seen: set) -> bool:
    """Append the keys referenced inside ``obj`` to ``out``; return True if
    ``obj`` holds a reference or an inner task anywhere."""
    typ = type(obj)
    if typ is Ref:
        if obj.key not in seen:
            seen.add(obj.key)
            out.append(obj.key)
        return True
    if typ is Task or typ is Fused:
        for k in obj.dependencies:
            if k not in seen:
                seen.add(k)
                out.append(k)
        return True
    if typ is tuple or typ is list:
        found = False
        for item in obj:
            if _collect(item, out, seen):
                found = True
        return found
    if typ is dict:
        found = False
        for item in obj.values():
            if _collect(item, out, seen):
                found = True
        return found
    return False


def _substitute(obj: Any, results: Mapping) -> Any:
    """Replace every ``Ref`` in ``obj`` by its result and run inner tasks."""
    typ = type(obj)
    if typ is Ref:
        return results[obj.key]
    if typ is Task or typ is Fused:
        return obj(results)
    if typ is tuple:
        return tuple([_substitute(item, results) for item in obj])
    if typ is list:
        return [_substitute(item, results) for item in obj]
    if typ is dict:
        return {k: _substitute(v, results) for k, v in obj.items()}
    return obj


class Task:
    """A function call whose arguments may reference other keys' results.

    >>> from operator import add
    >>> t = Task(add, Ref("x"), 1)
    >>> t.dependencies
    ('x',)
    >>> t({"x": 41})
    42
    """

    __slots__ = ("func", "args", "kwargs", "dependencies", "plan", "annotations")

    def __init__(self, func: Callable, /, *args: Any, **kwargs: Any):
        if not callable(func):
            raise TypeError(
                f"Task expects a callable as its first argument, got {type(func).__name__}: {func!r}"
            )
        self.func = func
        self.args = args
        self.kwargs = kwargs or None
        self.annotations = None
        deps: list = []
        seen: set = set()
        plan = _PLAN_NONE
        for a in args:
            typ = type(a)
            if typ is Ref:
                if a.key not in seen:
                    seen.add(a.key)
                    deps.append(a.key)
                if plan == _PLAN_NONE:
                    plan = _PLAN_FLAT
            elif _collect(a, deps, seen):
                plan = _PLAN_DEEP
        if kwargs and _collect(kwargs, deps, seen):
            plan = _PLAN_DEEP
        self.plan = plan
        self.dependencies = tuple(deps) if deps else ()

    def annotate(self, **annotations: Any) -> Task:
        """Attach annotations (``priority``, ``resources``, ``retries``, ...) and
        return the task itself.

        >>> Task(len, "abc").annotate(retries=2).annotations
        {'retries': 2}
        """
        merged = dict(self.annotations or {})
        merged.update(annotations)
        self.annotations = merged
        return self

    def __call__(self, results: Mapping = None) -> Any:  # type: ignore[assignment]
        plan = self.plan
        if plan == _PLAN_NONE:
            args = self.args
            kwargs = self.kwargs
        elif plan == _PLAN_FLAT:
            args = [results[a.key] if type(a) is Ref else a for a in self.args]
            kwargs = self.kwargs
        else:
            args = [_substitute(a, results) for a in self.args]
            kwargs = self.kwargs and _substitute(self.kwargs, results)
        if kwargs:
            return self.func(*args, **kwargs)
        return self.func(*args)

    def __repr__(self) -> str:
        name = getattr(self.func, "__name__", type(self.func).__name__)
        parts = [repr(a) for a in self.args]
        if self.kwargs:
            parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"Task({name}, {', '.join(parts)})" if parts else f"Task({name})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is Task
            and other.func == self.func
            and other.args == self.args
            and other.kwargs == self.kwargs
            and other.annotations == self.annotations
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        return (_rebuild_task, (self.func, self.args, self.kwargs, self.annotations))


def _rebuild_task(func, args, kwargs, annotations):
    task = Task(func, *args, **(kwargs or {}))
    task.annotations = annotations
    return task


class Fused:
    """Several tasks run in one call, in order, keeping only the last result.

    ``tasks`` is a sequence of ``(key, node)`` pairs in an order where every
    inner reference points to an earlier pair or outside the fused group; the
    result of the last pair is the result of the whole.

    >>> from operator import add
    >>> f = Fused("c", [("b", Task(add, Ref("a"), 1)), ("c", Task(add, Ref("b"), 1))])
    >>> f.dependencies
    ('a',)
    >>> f({"a": 1})
    3
    """

    __slots__ = ("key", "tasks", "dependencies", "annotations")

    def __init__(self, key: Key, tasks: list[tuple[Key, Any]], annotations: dict | None = None):
        if not tasks:
            raise ValueError("Fused needs at least one inner task")
        if tasks[-1][0] != key:
            raise ValueError(f"the last inner task of Fused({key!r}) must have key {key!r}")
        self.key = key
        self.tasks = tuple(tasks)
        self.annotations = annotations
        inner = set()
        deps: list = []
        seen: set = set()
        for k, node in self.tasks:
            for d in dependencies_of(node):
                if d not in inner and d not in seen:
                    seen.add(d)
                    deps.append(d)
            inner.add(k)
        self.dependencies = tuple(deps)

    def __call__(self, results: Mapping = None) -> Any:  # type: ignore[assignment]
        local = _Chain(results)
        value = None
        for k, node in self.tasks:
            typ = type(node)
            value = node(local) if typ is Task or typ is Fused else node
            local.mine[k] = value
        return value

    def __repr__(self) -> str:
        return f"Fused({self.key!r}, {len(self.tasks)} tasks)"

    def __eq__(self, other: object) -> bool:
        return type(other) is Fused and other.key == self.key and other.tasks == self.tasks

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        return (Fused, (self.key, list(self.tasks), self.annotations))


class _Chain:
    """Results lookup for a fused task: its own inner results first, then outside."""

    __slots__ = ("mine", "outer")

    def __init__(self, outer: Mapping | None):
        self.mine: dict = {}
        self.outer = outer

    def __getitem__(self, key: Hashable) -> Any:
        mine = self.mine
        if key in mine:
            return mine[key]
        return self.outer[key]


def is_node(obj: Any) -> bool:
    """True if ``obj`` is a runnable node (``Task`` or ``Fused``) rather than data.

    >>> is_node(Task(len, "ab")), is_node((len, "ab"))
    (True, False)
    """
    typ = type(obj)
    return typ is Task or typ is Fused


def dependencies_of(node: Any) -> tuple:
    """The keys a graph node needs: empty for data, stored for tasks.

    >>> dependencies_of(Task(len, Ref("a"))), dependencies_of([1, 2])
    (('a',), ())
    """
    typ = type(node)
    if typ is Task or typ is Fused:
        return node.dependencies
    if typ is Ref:
        return (node.key,)
    return ()


def execute_node(node: Any, results: Mapping) -> Any:
    """Run a graph node against the results of its dependencies.

    A ``Ref`` as a whole node is an alias: its value is the referenced result.

    >>> execute_node(Task(sum, [Ref("a"), 2]), {"a": 1})
    3
    """
    typ = type(node)
    if typ is Task or typ is Fused:
        return node(results)
    if typ is Ref:
        return results[node.key]
    return node
