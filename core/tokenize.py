"""Deterministic tokens: equal computations get equal names in every process.

``tokenize(*args, **kwargs)`` reduces its arguments to a tree of plain values
(``normalize``) and hashes that tree. Rules:

- builtins by value; dicts and sets independent of insertion order;
- numpy arrays by a fast hash (xxhash) of their buffer plus dtype and shape;
  pandas and pyarrow objects through their arrays, index and dtypes;
- functions by module and qualified name when importable, otherwise (lambdas,
  closures) by their bytecode, constants, defaults, closure cells and the
  globals they use; ``functools.partial`` and bound methods by their parts;
- objects with ``__shoal_tokenize__`` by what it returns; dataclasses by fields;
  other objects by type and what pickle would save of them (``__reduce_ex__``);
- anything that still cannot be reduced deterministically gets a random token
  (never a wrong equal one), or raises if config
  ``tokenize.ensure-deterministic`` is set.

Support for numpy, pandas and pyarrow is registered lazily, by the module of
the object's type, so importing this module imports none of them.
"""

from __future__ import annotations

import copyreg
import dataclasses
import datetime
import decimal
import enum
import functools
import hashlib
import pathlib
import sys
import threading
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


def register(*types_: type) -> Callable[..., Any]:
    """Decorator: ``normalize`` objects of these types with the function.

    >>> class Point:
    ...     def __init__(self, x): self.x = x
    >>> @register(Point)
    ... def _(p): return ("Point", p.x)
    >>> tokenize(Point(1)) == tokenize(Point(1)) != tokenize(Point(2))
    True
    """

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        for t in types_:
            _handlers[t] = func
        return func

    return wrap


def register_lazy(module: str) -> Callable[..., Any]:
    """Decorator: run the function to register handlers the first time an
    object whose type comes from ``module`` (top-level name) is tokenized."""

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        _lazy[module] = func
        return func

    return wrap


def _hash_bytes(data: Any) -> str:
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
    try:
        tree = normalize((args, kwargs) if kwargs else args)
    except RecursionError:  # nested too deeply to walk: never guess an equal token
        return _random_token(args)
    return hashlib.md5(repr(tree).encode(), usedforsecurity=False).hexdigest()


def _random_token(obj: Any) -> str:
    if config.get("tokenize.ensure-deterministic", False):
        raise TokenizationError(
            f"cannot tokenize {type(obj).__qualname__} object deterministically; "
            "give it a __shoal_tokenize__ method or register a handler"
        )
    return "random-" + uuid.uuid4().hex


_PRIMITIVES = (int, float, complex, str, bytes, bool, type(None), type(Ellipsis), slice, range)

# The objects on the path from the root of the current ``normalize`` call, by id,
# so that cycles end in a marker instead of a RecursionError; kept per thread so
# that handlers (also user-registered ones) just call ``normalize`` again.
_local = threading.local()


def normalize(obj: Any) -> Any:
    """Reduce ``obj`` to a tree of plain, ordered values whose ``repr`` is
    deterministic.

    >>> normalize({"b": 1, "a": [2, 3]})
    ('dict', (('a', ('list', (2, 3))), ('b', 1)))
    """
    typ = type(obj)
    if typ in _PRIMITIVES:
        if typ is float:
            return ("float", obj.hex())
        if (typ is bytes or typ is str) and len(obj) > 1024:  # keep the tree small
            data = obj if typ is bytes else obj.encode("utf-8", "surrogatepass")
            return (typ.__name__, len(obj), _hash_bytes(data))
        return obj
    seen: set[int] | None = getattr(_local, "seen", None)
    top = seen is None
    if seen is None:
        seen = _local.seen = set()
    oid = id(obj)
    if oid in seen:
        return ("cycle",)
    handler = _handlers.get(typ)
    if handler is None:
        handler = _find_handler(typ)
    seen.add(oid)
    try:
        return handler(obj)
    finally:
        seen.discard(oid)
        if top:
            _local.seen = None


def _find_handler(typ: type) -> Callable[..., Any]:
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


def _seq(tag: str) -> Callable[..., Any]:
    def handler(obj: Any) -> Any:
        return (tag, tuple(normalize(x) for x in obj))

    return handler


register(tuple)(_seq("tuple"))
register(list)(_seq("list"))


@register(int, float, complex, str, bytes)
def _normalize_builtin_subclass(x: Any) -> Any:
    # exact builtins never get here (see normalize); their subclasses do
    return ("builtin", type(x).__module__, type(x).__qualname__, repr(x))


@register(dict)
def _normalize_dict(d: dict[Any, Any]) -> Any:
    items = [(normalize(k), normalize(v)) for k, v in d.items()]
    items.sort(key=lambda kv: repr(kv[0]))
    return ("dict", tuple(items))


@register(set, frozenset)
def _normalize_set(s: set[Any] | frozenset[Any]) -> Any:
    return (type(s).__name__, tuple(sorted((normalize(x) for x in s), key=repr)))


@register(
    datetime.date, datetime.datetime, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID
)
def _normalize_repr(obj: Any) -> Any:
    return (type(obj).__qualname__, repr(obj))


@register(bytearray, memoryview)
def _normalize_buffer(b: bytearray | memoryview) -> Any:
    data = bytes(b) if isinstance(b, memoryview) and not b.c_contiguous else b
    return (type(b).__name__, _hash_bytes(data))


@register(pathlib.PurePath)
def _normalize_path(p: pathlib.PurePath) -> Any:
    return ("path", type(p).__name__, str(p))


@register(enum.Enum)
def _normalize_enum(e: enum.Enum) -> Any:
    return ("enum", type(e).__module__, type(e).__qualname__, e.name)


@register(functools.partial)
def _normalize_partial(p: functools.partial[Any]) -> Any:
    return ("partial", normalize(p.func), normalize(p.args), normalize(p.keywords or {}))


@register(types.MethodType)
def _normalize_method(m: types.MethodType) -> Any:
    return ("method", normalize(m.__func__), normalize(m.__self__))


@register(types.ModuleType)
def _normalize_module(m: types.ModuleType) -> Any:
    return ("module", m.__name__)


@register(type)
def _normalize_type(t: type) -> Any:
    return ("type", t.__module__, t.__qualname__)


def _importable(func: Any) -> bool:
    mod = sys.modules.get(getattr(func, "__module__", None) or "")
    if mod is None:
        return False
    obj: Any = mod
    for part in getattr(func, "__qualname__", "<").split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return False
    return obj is func


@register(types.CodeType)
def _normalize_code(code: types.CodeType) -> Any:
    # the bytecode and what it names, not line numbers: equal source, equal token
    return (
        "code",
        code.co_name,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
        code.co_code,
        tuple(normalize(c) for c in code.co_consts),
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
    )


def _global_names(code: types.CodeType, out: set[Any]) -> set[Any]:
    out.update(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _global_names(c, out)
    return out


@register(types.FunctionType)
def _normalize_python_function(func: types.FunctionType) -> Any:
    if not func.__closure__ and _importable(func):
        return ("function", func.__module__, func.__qualname__)
    # Lambdas, closures, functions of __main__ that moved: by what they run.
    # (Not by cloudpickle's bytes: those depend on the process's hash seed.)
    cells = []
    for cell in func.__closure__ or ():
        try:
            cells.append(normalize(cell.cell_contents))
        except ValueError:  # an empty cell
            cells.append(("empty-cell",))
    names = func.__globals__
    used = sorted(n for n in _global_names(func.__code__, set()) if n in names)
    return (
        "function-code",
        func.__module__,
        func.__qualname__,
        normalize(func.__code__),
        normalize(func.__defaults__),
        normalize(func.__kwdefaults__),
        tuple(cells),
        tuple((n, normalize(names[n])) for n in used),
    )


@register(types.BuiltinFunctionType)
def _normalize_builtin_function(func: types.BuiltinFunctionType) -> Any:
    owner = func.__self__
    if owner is None or isinstance(owner, types.ModuleType):
        return ("builtin", getattr(owner, "__name__", None), func.__qualname__)
    return ("builtin-method", func.__name__, normalize(owner))


def _normalize_callable(func: Any) -> Any:
    """Callables with no visible state (method descriptors, C callables)."""
    if _importable(func):
        return ("function", func.__module__, func.__qualname__)
    try:
        import cloudpickle

        return ("function-pickle", _hash_bytes(cloudpickle.dumps(func, protocol=5)))
    except Exception:
        return ("random", _random_token(func))


def _normalize_object(obj: Any) -> Any:
    typ = type(obj)
    if getattr(typ, "__shoal_tokenize__", None) is not None:  # on the type: no __getattr__ magic
        return ("custom", typ.__module__, typ.__qualname__, normalize(obj.__shoal_tokenize__()))
    if dataclasses.is_dataclass(obj):
        fields = tuple(
            (f.name, normalize(getattr(obj, f.name, None))) for f in dataclasses.fields(obj)
        )
        return ("dataclass", typ.__module__, typ.__qualname__, fields)
    has_dict = isinstance(getattr(obj, "__dict__", None), dict)
    if callable(obj) and not has_dict and not hasattr(typ, "__slots__"):
        return _normalize_callable(obj)
    # What pickle would save: also covers extension types that keep their
    # state outside __dict__ (e.g. random.Random).
    try:
        reduced = obj.__reduce_ex__(4)
    except Exception:
        return ("random", _random_token(obj))
    if isinstance(reduced, str):  # a module-level singleton
        return ("global", typ.__module__, reduced)
    func, args, state, items, pairs = (tuple(reduced) + (None,) * 5)[:5]
    if (
        not has_dict
        and func is copyreg.__newobj__  # type: ignore[attr-defined]  # undocumented, unstubbed
        and tuple(args) == (typ,)
        and state is None
        and items is None
        and pairs is None
    ):
        return ("random", _random_token(obj))  # nothing to tell two of them apart
    return (
        "object",
        typ.__module__,
        typ.__qualname__,
        normalize(func),
        normalize(args),
        normalize(state),
        None if items is None else normalize(list(items)),
        None if pairs is None else normalize(list(pairs)),
    )


# ------------------------------------------------------------ lazy libraries


@register_lazy("numpy")
def _register_numpy() -> None:
    import numpy as np

    @register(np.ndarray)
    def _normalize_ndarray(x: np.ndarray) -> Any:
        if x.dtype.hasobject:
            try:
                import cloudpickle

                data: Any = _hash_bytes(cloudpickle.dumps(x, protocol=5))
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

    @register(np.ma.MaskedArray)
    def _normalize_masked(x: Any) -> Any:
        return (
            "masked",
            _normalize_ndarray(x.data),
            _normalize_ndarray(np.ma.getmaskarray(x)),
            normalize(x.fill_value),
        )

    @register(np.generic)
    def _normalize_scalar(x: Any) -> Any:
        return ("np-scalar", str(x.dtype), x.tobytes())

    @register(np.dtype)
    def _normalize_dtype(x: Any) -> Any:
        return ("dtype", str(x))

    @register(np.ufunc)
    def _normalize_ufunc(f: Any) -> Any:
        return ("ufunc", f.__name__)

    @register(np.random.Generator)
    def _normalize_generator(g: Any) -> Any:
        return ("generator", normalize(g.bit_generator.state))


@register_lazy("pandas")
def _register_pandas() -> None:
    import pandas as pd

    def _values(obj: Any) -> Any:
        try:
            hashed = pd.util.hash_pandas_object(obj, index=False).to_numpy()
        except TypeError:  # unhashable values (lists, dicts): walk them instead
            return ("objects", normalize(list(obj)))
        return normalize(hashed)

    @register(pd.Index)
    def _normalize_index(idx: Any) -> Any:
        return ("pd.Index", normalize(list(idx.names)), normalize(idx.dtype), _values(idx))

    @register(pd.Series)
    def _normalize_series(s: Any) -> Any:
        return (
            "pd.Series",
            normalize(s.name),
            normalize(s.dtype),
            _values(s),
            _normalize_index(s.index),
        )

    @register(pd.DataFrame)
    def _normalize_frame(df: Any) -> Any:
        cols = tuple(
            (normalize(c), normalize(df.dtypes.iloc[i]), _values(df.iloc[:, i]))
            for i, c in enumerate(df.columns)
        )
        return ("pd.DataFrame", cols, _normalize_index(df.index), _normalize_index(df.columns))

    @register(pd.api.extensions.ExtensionDtype)
    def _normalize_ext_dtype(d: Any) -> Any:
        return ("pd.dtype", str(d), repr(d))

    @register(pd.Timestamp, pd.Timedelta, pd.Period, pd.Interval)
    def _normalize_pd_scalar(x: Any) -> Any:
        return ("pd.scalar", type(x).__name__, repr(x))


@register_lazy("pyarrow")
def _register_pyarrow() -> None:
    import pyarrow as pa

    @register(pa.Table, pa.RecordBatch)
    def _normalize_table(t: Any) -> Any:
        import io

        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, t.schema) as writer:
            writer.write(t)
        return ("pa.Table", _hash_bytes(sink.getvalue()))

    @register(pa.DataType, pa.Schema)
    def _normalize_type(t: Any) -> Any:
        return ("pa.type", str(t))
