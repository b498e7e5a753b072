"""``delayed``: lazy Python function calls that build a task graph.

A ``Delayed`` is one key plus the tasks that produce it. Each holds only its
own small layer and references to the ``Delayed`` objects it depends on, so
building a chain of n calls costs O(n); the whole graph is assembled once, by
a walk, when it is computed.

Calling a delayed function with arguments that contain ``Delayed`` objects (or
other shoal collections), anywhere inside lists, tuples, dicts and sets,
makes those arguments dependencies.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from shoal.core import base
from shoal.core.annotate import ANNOTATIONS
from shoal.core.base import CollectionMethods, finalize_collection, is_collection
from shoal.core.graph import flatten_keys, keys_to_refs
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize
from shoal.core.utils import funcname

__all__ = ["Delayed", "delayed"]


def _first(results: Any) -> Any:
    return results


def _build_set(items: list[Any]) -> set[Any]:
    return set(items)


def _apply(func: Callable[..., Any], args: list[Any], kwargs: dict[Any, Any]) -> Any:
    return func(*args, **kwargs)


class Delayed(CollectionMethods):
    """A lazy value: the result of a key in a task graph.

    >>> d = Delayed("x", {"x": 41}) + 1
    >>> d.compute()
    42
    """

    __slots__ = ("_key", "_layer", "_deps", "_length")
    __shoal_scheduler__ = "threads"

    def __init__(
        self,
        key: Any,
        layer: Mapping[Any, Any],
        deps: tuple[Any, ...] = (),
        length: int | None = None,
    ):
        self._key = key
        self._layer = layer
        self._deps = deps
        self._length = length

    @property
    def key(self) -> Any:
        """The key whose value this object stands for."""
        return self._key

    @property
    def dask(self) -> Mapping[Any, Any]:
        """The task graph (key -> node) that computes this value, as a Mapping;
        spelled as in dask, so ``dict(d.dask)`` lists every task.

        >>> d = delayed(abs)(delayed(-2, name="minus-two"), shoal_key_name="abs-of-it")
        >>> sorted(dict(d.dask))
        ['abs-of-it', 'minus-two']
        """
        return self.__shoal_graph__()

    def __shoal_graph__(self) -> dict[Any, Any]:
        graph: dict[Any, Any] = {}
        seen: set[Any] = set()
        stack = [self]
        while stack:
            d = stack.pop()
            if id(d) in seen:
                continue
            seen.add(id(d))
            graph.update(d._layer)
            stack.extend(d._deps)
        return graph

    def __shoal_keys__(self) -> Any:
        return self._key

    def __shoal_postcompute__(self) -> tuple[Any, ...]:
        return _first, ()

    def __shoal_postpersist__(self) -> tuple[Any, ...]:
        return _rebuild, (self._key, self._length)

    def __shoal_tokenize__(self) -> Any:
        return self._key

    def __repr__(self) -> str:
        return f"Delayed({self._key!r})"

    def __hash__(self) -> int:
        return hash(self._key)

    def __dir__(self) -> list[Any]:
        return sorted(set(dir(type(self))) | {"key", "dask"})

    def __getattr__(self, attr: str) -> Delayed:
        if attr.startswith("_"):
            raise AttributeError(f"Delayed has no attribute {attr!r}")
        return _call_task(getattr, (self, attr), {}, pure=True, name="getattr")

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr in Delayed.__slots__:
            object.__setattr__(self, attr, value)
        else:
            raise TypeError("Delayed objects are immutable; build a new one with a delayed call")

    def __getitem__(self, index: Any) -> Delayed:
        return _call_task(operator.getitem, (self, index), {}, pure=True, name="getitem")

    def __call__(
        self, *args: Any, pure: bool | None = None, shoal_key_name: Any = None, **kwargs: Any
    ) -> Delayed:
        return _call_task(
            _apply, (self, list(args), kwargs), {}, pure=pure, name="call", key=shoal_key_name
        )

    def __iter__(self) -> Iterator[Delayed]:
        if self._length is None:
            raise TypeError(
                "Delayed objects of unknown length are not iterable; pass nout= to delayed"
            )
        return iter([self[i] for i in range(self._length)])

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("Delayed objects of unknown length have no len(); pass nout=")
        return self._length

    def __bool__(self) -> bool:
        raise TypeError(
            "the truth value of a Delayed object is not known until it is computed; "
            "compute it first, or use delayed functions for control flow"
        )


def _rebuild(graph: dict[Any, Any], key: Any, length: int | None) -> Delayed:
    return Delayed(key, graph, (), length)


def _binary(op: Callable[..., Any], reflected: bool = False) -> Callable[..., Any]:
    def method(self: Delayed, other: Any) -> Delayed:
        args = (other, self) if reflected else (self, other)
        return _call_task(op, args, {}, pure=True, name=op.__name__.strip("_"))

    return method


def _unary(op: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: Delayed) -> Delayed:
        return _call_task(op, (self,), {}, pure=True, name=op.__name__.strip("_"))

    return method


for _op in (
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.floordiv,
    operator.mod,
    operator.pow,
    operator.matmul,
    operator.and_,
    operator.or_,
    operator.xor,
    operator.lshift,
    operator.rshift,
):
    _name = _op.__name__.strip("_")
    setattr(Delayed, f"__{_name}__", _binary(_op))
    setattr(Delayed, f"__r{_name}__", _binary(_op, reflected=True))
for _op in (operator.lt, operator.le, operator.eq, operator.ne, operator.gt, operator.ge):
    setattr(Delayed, f"__{_op.__name__.strip('_')}__", _binary(_op))
for _op1 in (operator.neg, operator.pos, operator.abs, operator.invert):
    setattr(Delayed, f"__{_op1.__name__.strip('_')}__", _unary(_op1))


def _unpack(obj: Any, deps: list[Any]) -> Any:
    """Replace Delayed objects and collections inside ``obj`` by references,
    appending what they need to ``deps``."""
    typ = type(obj)
    if typ is Delayed:
        deps.append(obj)
        return Ref(obj._key)
    if is_collection(obj):
        d = _from_collection(obj)
        deps.append(d)
        return Ref(d._key)
    base._check_foreign(obj)
    if typ is list or typ is tuple:
        items = [_unpack(x, deps) for x in obj]
        return items if typ is list else tuple(items)
    if typ is dict:
        return {k: _unpack(v, deps) for k, v in obj.items()}
    if typ is set or typ is frozenset:
        n = len(deps)
        items = [_unpack(x, deps) for x in obj]
        if len(deps) == n:
            return obj
        return Task(_build_set, items)
    return obj


def _from_collection(coll: Any) -> Delayed:
    """A Delayed whose value is a collection's computed value."""
    finalize, extra = coll.__shoal_postcompute__()
    keys = coll.__shoal_keys__()
    name = "finalize-" + tokenize(*flatten_keys(keys))
    layer = dict(coll.__shoal_graph__())
    layer[name] = Task(finalize_collection, keys_to_refs(keys), finalize, extra)
    return Delayed(name, layer)


def _call_task(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[Any, Any],
    pure: bool | None = None,
    name: str | None = None,
    key: Any = None,
    nout: int | None = None,
) -> Delayed:
    deps: list[Any] = []
    task_args = [_unpack(a, deps) for a in args]
    task_kwargs = {k: _unpack(v, deps) for k, v in kwargs.items()}
    if key is None:
        prefix = name or funcname(func)
        if pure:
            key = f"{prefix}-{tokenize(func, args, kwargs)}"
        else:
            key = f"{prefix}-{uuid.uuid4().hex}"
    task = Task(func, *task_args, **task_kwargs)
    annotations = ANNOTATIONS.get()  # shoal.annotate(...) in force
    if annotations:
        task.annotations = dict(annotations)
    return Delayed(key, {key: task}, tuple(deps), nout)


class DelayedFunction:
    """A function whose calls are delayed; made by ``delayed(func)``."""

    __slots__ = ("func", "pure", "nout", "name")

    def __init__(
        self, func: Callable[..., Any], pure: bool | None, nout: int | None, name: str | None
    ):
        self.func = func
        self.pure = pure
        self.nout = nout
        self.name = name

    def __call__(
        self, *args: Any, pure: bool | None = None, shoal_key_name: Any = None, **kwargs: Any
    ) -> Delayed:
        p = self.pure if pure is None else pure
        return _call_task(
            self.func, args, kwargs, pure=p, name=self.name, key=shoal_key_name, nout=self.nout
        )

    def __repr__(self) -> str:
        return f"delayed({funcname(self.func)})"

    def __shoal_tokenize__(self) -> Any:
        return (self.func, self.pure, self.nout, self.name)

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return self.func


def delayed(
    obj: Any = None,
    *,
    name: str | None = None,
    pure: bool | None = None,
    nout: int | None = None,
    traverse: bool = True,
) -> Any:
    """Make a function lazy, or wrap a value as a ``Delayed``.

    ``delayed(func)`` (or ``@delayed``) returns a function whose calls build
    tasks. ``pure=True`` names calls by a hash of the function and arguments,
    so equal calls share one task; otherwise every call is new. ``nout=n``
    makes results unpackable into n ``Delayed`` values. ``delayed(value)`` wraps
    data; lists, tuples, dicts and sets holding ``Delayed`` objects become one
    task that builds the container.

    >>> @delayed(pure=True)
    ... def inc(x):
    ...     return x + 1
    >>> a, b = delayed(divmod, nout=2)(inc(6), 3)
    >>> (a + b).compute()
    3
    """
    if obj is None:
        return lambda f: delayed(f, name=name, pure=pure, nout=nout, traverse=traverse)
    if isinstance(obj, (Delayed, DelayedFunction)):
        return obj
    base._check_foreign(obj)
    if nout is not None and (not isinstance(nout, int) or nout < 0):
        raise ValueError(f"nout must be a non-negative int or None, got {nout!r}")
    if is_collection(obj):
        return _from_collection(obj)
    if callable(obj):
        return DelayedFunction(obj, pure, nout, name)
    deps: list[Any] = []
    node = _unpack(obj, deps) if traverse else obj
    key = name if name is not None else f"{type(obj).__name__.lower()}-{tokenize(obj)}"
    if deps:
        task = node if type(node) is Task else Task(_first, node)
        return Delayed(key, {key: task}, tuple(deps), nout)
    return Delayed(key, {key: obj}, (), nout)
