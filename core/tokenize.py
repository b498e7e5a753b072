"""Deterministic tokens: equal computations get equal names in every process.

``tokenize(*args, **kwargs)`` reduces its arguments to a tree of plain values
(``normalize``) and hashes that tree. Rules:

- builtins by value; dicts and sets independent of insertion order;
- numpy arrays by a fast hash (xxhash) of their buffer plus dtype and shape;
  pandas and pyarrow objects through their arrays, index and dtypes;
- functions by module and qualified name when importable, otherwise (lambdas,
  closures) by their cloudpickled bytes; ``functools.partial`` and bound
  methods by their parts;
- objects with ``__shoal_tokenize__`` by what it returns; dataclasses by fields;
  other objects by type and ``__dict__``/``__slots__``;
- anything that still cannot be reduced deterministically gets a random token
  (never a wrong equal one), or raises if config
  ``tokenize.ensure-deterministic`` is set.

Support for numpy, pandas and pyarrow is registered lazily, by the module of
the object's type, so importing this module imports none of them.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import functools
import hashlib
import pathlib
import types
import uuid
from collections.abc import Callable
from typing import Any

from shoal.core import config

__all__ = ["tokenize", "normalize", "register", "register_lazy", "TokenizationError"]


class TokenizationError(RuntimeError):
    """An object could not be tokenized deterministically."""


_handlers: dict[type, Callable[[Any], Any]] = {}
_lazy: dict[str, Callable[[], None]] = {}


def register(*types_: type) -> Callable:
    """Decorator: ``normalize`` objects of these types with the function.

    >>> class Point:
    ...     def __init__(self, x): self.x = x
    >>> @register(Point)
    ... def _(p): return ("Point", p.x)
    >>> tokenize(Point(1)) == tokenize(Point(1)) != tokenize(Point(2))
    True
    """

    def wrap(func: Callable) -> Callable:
        for t in types_:
            _handlers[t] = func
        return func

    return wrap


def register_lazy(module: str) -> Callable:
    """Decorator: run the function to register handlers the first time an
    object whose type comes from ``module`` (top-level name) is tokenized."""

    def wrap(func: Callable) -> Callable:
        _lazy[module] = func
        return func

    return wrap


def _hash_bytes(data) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)


def tokenize(*args: Any, **kwargs: Any) -> str:
    """A deterministic hex token for the arguments.

    >>> tokenize([1, 2, {"a": 3}]) == tokenize([1, 2, {"a": 3}])
    True
    >>> tokenize({"a": 1, "b": 2}) == tokenize({"b": 2, "a": 1})
    True
    >>> tokenize(1) == tokenize(1.0)
    False
    """
    tree = normalize((args, kwargs) if kwargs else args)
    return hashlib.md5(repr(tree).encode(), usedforsecurity=False).hexdigest()


def _random_token(obj: Any) -> str:
    if config.get("tokenize.ensure-deterministic", False):
        raise TokenizationError(
            f"cannot tokenize {type(obj).__qualname__} object deterministically; "
            "give it a __shoal_tokenize__ method or register a handler"
        )
    return "random-" + uuid.uuid4().hex


_PRIMITIVES = (int, float, complex, str, bytes, bool, type(None), type(Ellipsis), slice, range)


def normalize(obj: Any, _seen: set | None = None) -> Any:
    """Reduce ``obj`` to a tree of plain, ordered values whose ``repr`` is
    deterministic.

    >>> normalize({"b": 1, "a": [2, 3]})
    ('dict', (('a', ('list', (2, 3))), ('b', 1)))
    """
    typ = type(obj)
    if typ in _PRIMITIVES:
        return obj if typ is not float else ("float", obj.hex())
    if _seen is None:
        _seen = set()
    oid = id(obj)
    if oid in _seen:
        return ("cycle",)
    handler = _handlers.get(typ)
    if handler is None:
        handler = _find_handler(typ)
    _seen.add(oid)
    try:
        return handler(obj) if handler is not _normalize_object else handler(obj, _seen)
    finally:
        _seen.discard(oid)


def _find_handler(typ: type) -> Callable:
    root = typ.__module__.split(".", 1)[0]
    if root in _lazy:
        _lazy.pop(root)()
        if typ in _handlers:
            return _handlers[typ]
    for base in typ.__mro__[1:]:
        if base in _handlers:
            handler = _handlers[base]
            _handlers[typ] = handler
            return handler
    return _normalize_object


def _seq(tag: str) -> Callable:
    def handler(obj):
        return (tag, tuple(normalize(x) for x in obj))

    return handler


register(tuple)(_seq("tuple"))
register(list)(_seq("list"))


@register(int, float, complex, str, bytes)
def _normalize_builtin_subclass(x) -> Any:
    # exact builtins never get here (see normalize); their subclasses do
    return ("builtin", type(x).__module__, type(x).__qualname__, repr(x))


@register(dict)
def _normalize_dict(d: dict) -> Any:
    items = [(normalize(k), normalize(v)) for k, v in d.items()]
    items.sort(key=lambda kv: repr(kv[0]))
    return ("dict", tuple(items))


@register(set, frozenset)
def _normalize_set(s) -> Any:
    return (type(s).__name__, tuple(sorted((normalize(x) for x in s), key=repr)))


@register(
    datetime.date, datetime.datetime, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID
)
def _normalize_repr(obj) -> Any:
    return (type(obj).__qualname__, repr(obj))


@register(pathlib.PurePath)
def _normalize_path(p) -> Any:
    return ("path", str(p))


@register(enum.Enum)
def _normalize_enum(e) -> Any:
    return ("enum", type(e).__module__, type(e).__qualname__, e.name)


@register(functools.partial)
def _normalize_partial(p) -> Any:
    return ("partial", normalize(p.func), normalize(p.args), normalize(p.keywords or {}))


@register(types.MethodType)
def _normalize_method(m) -> Any:
    return ("method", m.__func__.__qualname__, normalize(m.__self__))


@register(types.ModuleType)
def _normalize_module(m) -> Any:
    return ("module", m.__name__)


@register(type)
def _normalize_type(t) -> Any:
    return ("type", t.__module__, t.__qualname__)


def _importable(func) -> bool:
    import sys

    mod = sys.modules.get(getattr(func, "__module__", None) or "")
    if mod is None:
        return False
    obj: Any = mod
    for part in getattr(func, "__qualname__", "<").split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return False
    return obj is func


@register(types.FunctionType, types.BuiltinFunctionType, types.BuiltinMethodType)
def _normalize_function(func) -> Any:
    if _importable(func) and not (
        isinstance(func, types.FunctionType) and func.__closure__
    ):
        return ("function", func.__module__, func.__qualname__)
    try:
        import cloudpickle

        return ("function-pickle", _hash_bytes(cloudpickle.dumps(func, protocol=5)))
    except Exception:
        return ("random", _random_token(func))


def _normalize_object(obj: Any, seen: set) -> Any:
    typ = type(obj)
    method = getattr(obj, "__shoal_tokenize__", None)
    if method is not None and not isinstance(obj, type):
        return ("custom", typ.__module__, typ.__qualname__, normalize(method(), seen))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = tuple(
            (f.name, normalize(getattr(obj, f.name, None), seen)) for f in dataclasses.fields(obj)
        )
        return ("dataclass", typ.__module__, typ.__qualname__, fields)
    if callable(obj) and not hasattr(obj, "__dict__") and not hasattr(typ, "__slots__"):
        return _normalize_function(obj)
    state: list = []
    d = getattr(obj, "__dict__", None)
    if isinstance(d, dict):
        state.append(normalize(d, seen))
    for klass in typ.__mro__:
        for name in getattr(klass, "__slots__", ()):
            if name in ("__dict__", "__weakref__"):
                continue
            state.append((name, normalize(getattr(obj, name, None), seen)))
    if state or d is not None:
        return ("object", typ.__module__, typ.__qualname__, tuple(state))
    return ("random", _random_token(obj))


# ------------------------------------------------------------ lazy libraries


@register_lazy("numpy")
def _register_numpy() -> None:
    import numpy as np

    @register(np.ndarray)
    def _normalize_ndarray(x: np.ndarray) -> Any:
        if x.dtype.hasobject:
            try:
                import cloudpickle

                data = _hash_bytes(cloudpickle.dumps(x, protocol=5))
            except Exception:
                return ("random", _random_token(x))
        elif isinstance(x, np.memmap) and x.filename:
            # a view of a file: name it by path, time stamp and layout, not by content
            import os

            st = os.stat(x.filename)
            data = ("memmap", x.filename, st.st_mtime_ns, x.offset)
        else:
            contiguous = np.ascontiguousarray(x)
            data = _hash_bytes(contiguous.view(np.uint8).reshape(-1) if contiguous.size else b"")
        return ("ndarray", str(x.dtype), x.shape, data)

    register(np.memmap)(_normalize_ndarray)

    @register(np.generic)
    def _normalize_scalar(x) -> Any:
        return ("np-scalar", str(x.dtype), x.tobytes())

    @register(np.dtype)
    def _normalize_dtype(x) -> Any:
        return ("dtype", str(x))

    @register(np.ufunc)
    def _normalize_ufunc(f) -> Any:
        return ("ufunc", f.__name__)

    @register(np.random.Generator)
    def _normalize_generator(g) -> Any:
        return ("generator", normalize(g.bit_generator.state))


@register_lazy("pandas")
def _register_pandas() -> None:
    import pandas as pd

    def _values(obj) -> Any:
        return normalize(pd.util.hash_pandas_object(obj, index=False).to_numpy())

    @register(pd.Index)
    def _normalize_index(idx) -> Any:
        return ("pd.Index", idx.name, str(idx.dtype), _values(idx))

    @register(pd.Series)
    def _normalize_series(s) -> Any:
        return ("pd.Series", s.name, str(s.dtype), _values(s), _normalize_index(s.index))

    @register(pd.DataFrame)
    def _normalize_frame(df) -> Any:
        cols = tuple(
            (repr(c), str(df.dtypes.iloc[i]), _values(df.iloc[:, i])) for i, c in enumerate(df.columns)
        )
        return ("pd.DataFrame", cols, _normalize_index(df.index))

    @register(pd.api.extensions.ExtensionDtype)
    def _normalize_ext_dtype(d) -> Any:
        return ("pd.dtype", str(d), repr(d))

    @register(pd.Timestamp, pd.Timedelta, pd.Period, pd.Interval)
    def _normalize_pd_scalar(x) -> Any:
        return ("pd.scalar", type(x).__name__, repr(x))


@register_lazy("pyarrow")
def _register_pyarrow() -> None:
    import pyarrow as pa

    @register(pa.Table, pa.RecordBatch)
    def _normalize_table(t) -> Any:
        import io

        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, t.schema) as writer:
            writer.write(t)
        return ("pa.Table", _hash_bytes(sink.getvalue()))

    @register(pa.DataType, pa.Schema)
    def _normalize_type(t) -> Any:
        return ("pa.type", str(t))
