"""The task spec: what one node of a task graph is.

A graph is a mapping of keys to nodes: a ``dict``, or a ``LayeredGraph``
(``layers.py``) that stores grids of block keys compactly. A key is a ``str`` or a
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
from typing import Any, cast

Key = str | tuple[Any, ...]

__all__ = ["Ref", "Task", "Fused", "Key", "dependencies_of", "execute_node", "is_node"]


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

    def __reduce__(self) -> Any:
        return (Ref, (self.key,))


_LEAVES = frozenset((int, float, bool, str, bytes, slice, type(None)))  # hold no references


def _collect(obj: Any, out: list[Any], seen: set[Any]) -> bool:
    """Append the keys referenced inside ``obj`` to ``out``; return True if
    ``obj`` holds a reference or an inner task anywhere."""
    typ = type(obj)
    if typ is Ref:
        if obj.key not in seen:
            seen.add(obj.key)
            out.append(obj.key)
        return True
    if typ is Task or typ is Fused:
        for k in dependencies_of(obj):
            if k not in seen:
                seen.add(k)
                out.append(k)
        return True
    if typ is tuple or typ is list:
        found = False
        for item in obj:
            if type(item) not in _LEAVES and _collect(item, out, seen):
                found = True
        return found
    if typ is dict:
        found = False
        for item in obj.values():
            if _collect(item, out, seen):
                found = True
        return found
    return False


def _substitute(obj: Any, results: Mapping[Any, Any]) -> Any:
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


#: True once any task of this process got annotations: until then the local
#: schedulers need not look for them (core/local_annotations.py)
ANNOTATED = [False]


class _Meta:
    """What a ``Task`` knows beyond ``func`` and ``args``, kept only for the
    tasks that need it (keyword arguments, annotations, nested references)."""

    __slots__ = ("dependencies", "deep", "kwargs", "annotations")

    def __init__(
        self,
        dependencies: tuple[Any, ...],
        deep: bool,
        kwargs: dict[Any, Any] | None,
        annotations: Any,
    ) -> None:
        self.dependencies = dependencies
        self.deep = deep
        self.kwargs = kwargs
        self.annotations = annotations


_CONTAINERS = (tuple, list, dict)
_SOLO = object()  # Task._meta of a task with one argument and no references
_REF_ONLY = object()  # Task._meta of a task whose one argument is a Ref


class _RefAt:
    """Task._meta of a task with one top-level ``Ref`` at ``pos`` among plain
    arguments. The Ref's bare key sits in the argument tuple, which saves an
    object per task in the commonest shape, ``f(block, constant)``."""

    __slots__ = ("pos",)

    def __init__(self, pos: int):
        self.pos = pos


_REF_AT = tuple(_RefAt(i) for i in range(8))


_SHARED_METAS: dict[Any, Any] = {}  # (dependencies, deep, kwargs signature) -> one _Meta for all
_PLAIN = (int, float, bool, str, bytes, type(None))


def _signature(value: Any) -> Any:
    """A hashable stand-in for ``value`` telling apart everything ``==`` would
    confuse (1, 1.0 and True), or None if ``value`` is not a plain constant."""
    typ = type(value)
    if typ in _PLAIN:
        return (typ, value)
    if typ is tuple:
        parts = tuple(map(_signature, value))
        if None not in parts:
            return (tuple, parts)
    return None


def _shared_meta(deps: tuple[Any, ...], deep: bool, kwargs: dict[Any, Any] | None) -> _Meta:
    """The ``_Meta`` of a task, shared with every task built with the same
    dependencies, nesting and plain-constant keyword arguments: blocks of one
    layer usually differ only in their positional arguments, so they share one
    record and one kwargs dict instead of ~250 bytes each. Records are never
    changed in place (annotating a task gives it a record of its own)."""
    sig: Any = ()
    if kwargs:
        sig = tuple((k, _signature(v)) for k, v in kwargs.items())
        if any(v is None for _, v in sig):
            return _Meta(deps, deep, kwargs, None)
    key = (deps, deep, sig)
    try:
        meta = _SHARED_METAS.get(key)
    except TypeError:  # a dependency key that cannot be hashed is reported later
        return _Meta(deps, deep, kwargs, None)
    if meta is None:
        if len(_SHARED_METAS) >= 4096:
            _SHARED_METAS.clear()
        meta = _SHARED_METAS[key] = _Meta(deps, deep, kwargs, None)
    return meta


def _call_meta(args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    """The ``_meta`` of a task with these arguments (see ``Task.__slots__``)."""
    deps: list[Any] = []
    seen: set[Any] = set()
    deep = False
    first_ref = None
    for a in args:
        if type(a) is Ref:
            if first_ref is None:
                first_ref = a
            if a.key not in seen:
                seen.add(a.key)
                deps.append(a.key)
        elif type(a) not in _LEAVES and _collect(a, deps, seen):
            deep = True
    if kwargs and _collect(kwargs, deps, seen):
        deep = True
    if deep or kwargs:
        return _shared_meta(tuple(deps), deep, kwargs or None)
    if not deps:
        return None
    if len(deps) == 1:
        return first_ref
    return tuple(deps)


class Task:
    """A function call whose arguments may reference other keys' results.

    >>> from operator import add
    >>> t = Task(add, Ref("x"), 1)
    >>> t.dependencies
    ('x',)
    >>> t({"x": 41})
    42
    """

    # A graph may hold millions of tasks, so a task is three slots and keeps
    # extra objects only when it needs them. ``_meta`` says how to build the
    # call, decided once at construction:
    #   None      no references; ``_args`` is the argument tuple
    #   _SOLO     one argument without references, stored bare in ``_args``
    #   _REF_ONLY one argument, a Ref: ``_args`` is its bare key (no Ref object kept)
    #   _RefAt    one top-level positional Ref among other plain arguments, at
    #             ``_meta.pos``; ``_args`` holds its bare key there
    #   a Ref     one dependency, referenced by several top-level positional Refs
    #   a tuple   several dependencies (the tuple), top-level positional Refs only
    #   _Meta     anything else: keyword arguments, annotations, nested references
    __slots__ = ("func", "_args", "_meta")

    def __init__(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any):
        if not callable(func):
            raise TypeError(
                f"Task expects a callable as its first argument, got {type(func).__name__}: {func!r}"
            )
        self.func = func
        meta: Any = None
        for a in args:
            typ = type(a)
            if typ is Ref and (meta is None or a.key == meta.key):
                meta = a
            elif typ is Ref or typ is Task or typ is Fused or typ in _CONTAINERS:
                meta = _call_meta(args, kwargs)
                break
        else:
            if kwargs:
                meta = _call_meta(args, kwargs)
        if type(meta) is Ref:
            positions = [i for i, a in enumerate(args) if type(a) is Ref]
            if len(args) == 1:
                self._args = meta.key
                self._meta = _REF_ONLY
                return
            if len(positions) == 1 and positions[0] < len(_REF_AT):
                pos = positions[0]
                self._args = (*args[:pos], meta.key, *args[pos + 1 :])
                self._meta = _REF_AT[pos]
                return
        if len(args) == 1 and meta is None:
            self._args = args[0]
            self._meta = _SOLO
        else:
            self._args = args
            self._meta = meta

    @property
    def args(self) -> tuple[Any, ...]:
        """The positional arguments, as given."""
        meta = self._meta
        args: Any = self._args  # a key (one-argument shapes) or the argument tuple
        if meta is _SOLO:
            return (self._args,)
        if meta is _REF_ONLY:
            return (Ref(self._args),)
        if type(meta) is _RefAt:
            return (*args[: meta.pos], Ref(args[meta.pos]), *args[meta.pos + 1 :])
        return cast("tuple[Any, ...]", args)

    @property
    def dependencies(self) -> tuple[Any, ...]:
        """The keys this task needs, in argument order, without repeats."""
        return dependencies_of(self)

    @property
    def kwargs(self) -> dict[Any, Any] | None:
        """The keyword arguments, or None."""
        meta = self._meta
        return meta.kwargs if type(meta) is _Meta else None

    @property
    def annotations(self) -> dict[Any, Any] | None:
        """Annotations for the schedulers (``priority``, ``retries``, ...), or None."""
        meta = self._meta
        return meta.annotations if type(meta) is _Meta else None

    @annotations.setter
    def annotations(self, value: dict[Any, Any] | None) -> None:
        if value:
            ANNOTATED[0] = True
        meta = self._meta
        if type(meta) is not _Meta:
            args, deps = self.args, self.dependencies
            self._args, self._meta = args, _Meta(deps, False, None, value)
        else:  # a new record: ``_Meta`` records may be shared between tasks
            self._meta = _Meta(meta.dependencies, meta.deep, meta.kwargs, value)

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

    def __call__(self, results: Mapping[Any, Any] = None) -> Any:  # type: ignore[assignment]
        # typed Any: the dispatch below is on exact types (``type(x) is``), the
        # fastest test, which mypy does not narrow on
        meta: Any = self._meta
        args: Any = self._args
        if meta is None:
            return self.func(*args)
        if meta is _SOLO:
            return self.func(args)
        if meta is _REF_ONLY:
            return self.func(results[args])
        typ = type(meta)
        if typ is _RefAt:
            if len(args) == 2:  # the most common shape, without building a list
                a, b = args
                if meta.pos:
                    return self.func(a, results[b])
                return self.func(results[a], b)
            args = list(args)
            args[meta.pos] = results[args[meta.pos]]
            return self.func(*args)
        if typ is Ref or typ is tuple:
            if len(args) == 2:  # the most common shape, without building a list
                a, b = args
                if type(a) is Ref:
                    a = results[a.key]
                if type(b) is Ref:
                    b = results[b.key]
                return self.func(a, b)
            return self.func(*[results[a.key] if type(a) is Ref else a for a in args])
        if meta.deep:
            args = [_substitute(a, results) for a in args]
            kwargs = meta.kwargs and _substitute(meta.kwargs, results)
        else:
            args = [results[a.key] if type(a) is Ref else a for a in args]
            kwargs = meta.kwargs
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

    def __reduce__(self) -> Any:
        return (_rebuild_task, (self.func, self.args, self.kwargs, self.annotations))


def _rebuild_task(func: Any, args: Any, kwargs: Any, annotations: Any) -> Any:
    task = Task(func, *args, **(kwargs or {}))
    if annotations is not None:
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

    __slots__ = ("key", "tasks", "dependencies", "annotations", "_linear")

    def __init__(
        self, key: Key, tasks: list[tuple[Key, Any]], annotations: dict[Any, Any] | None = None
    ):
        if not tasks:
            raise ValueError("Fused needs at least one inner task")
        if tasks[-1][0] != key:
            raise ValueError(f"the last inner task of Fused({key!r}) must have key {key!r}")
        self.key = key
        self.tasks = tuple(tasks)
        self.annotations = annotations
        if annotations:
            ANNOTATED[0] = True
        inner = set()
        deps: list[Any] = []
        seen: set[Any] = set()
        # linear: each inner task after the first needs only the one before it,
        # so a run can drop every inner result as soon as the next one exists
        linear = True
        prev: Any = None
        for i, (k, node) in enumerate(self.tasks):
            node_deps = dependencies_of(node)
            if i and (len(node_deps) != 1 or node_deps[0] != prev):
                linear = False
            for d in node_deps:
                if d not in inner and d not in seen:
                    seen.add(d)
                    deps.append(d)
            inner.add(k)
            prev = k
        self.dependencies = tuple(deps)
        self._linear = linear

    def __call__(self, results: Mapping[Any, Any] = None) -> Any:  # type: ignore[assignment]
        linear = self._linear
        local: Any = results if linear else _Chain(results)  # get-item is all that is used
        value = None
        k = self.key
        try:
            for k, node in self.tasks:
                typ = type(node)
                if typ is Task:
                    value = Task.__call__(node, local)
                elif typ is Fused:
                    value = node(local)
                elif typ is Ref:  # an alias inside the chain
                    value = local[node.key]
                else:
                    value = node
                if linear:
                    local = {k: value}  # the next task's only input
                else:
                    local.mine[k] = value
        except Exception as e:
            if k != self.key:  # name the inner task that failed
                e.add_note(f"shoal: raised by task {k!r}, fused into {self.key!r}")
            raise
        return value

    def __repr__(self) -> str:
        return f"Fused({self.key!r}, {len(self.tasks)} tasks)"

    def __eq__(self, other: object) -> bool:
        return type(other) is Fused and other.key == self.key and other.tasks == self.tasks

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return (Fused, (self.key, list(self.tasks), self.annotations))


class _Chain:
    """Results lookup for a fused task: its own inner results first, then outside."""

    __slots__ = ("mine", "outer")

    def __init__(self, outer: Mapping[Any, Any]):
        self.mine: dict[Any, Any] = {}
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


def dependencies_of(node: Any) -> tuple[Any, ...]:
    """The keys a graph node needs: empty for data, stored for tasks.

    >>> dependencies_of(Task(len, Ref("a"))), dependencies_of([1, 2])
    (('a',), ())
    """
    typ = type(node)
    if typ is Task:  # runs once per node per walk, so the common cases come first
        meta = node._meta
        if meta is None or meta is _SOLO:
            return ()
        if meta is _REF_ONLY:
            return (node._args,)
        typ = type(meta)
        if typ is _RefAt:
            return (node._args[meta.pos],)
        if typ is Ref:
            return (meta.key,)
        if typ is tuple:
            keys: tuple[Any, ...] = meta
            return keys
        keys = meta.dependencies
        return keys
    if typ is Fused:
        keys = node.dependencies
        return keys
    if typ is Ref:
        return (node.key,)
    return ()


def execute_node(node: Any, results: Mapping[Any, Any]) -> Any:
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
