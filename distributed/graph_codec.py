"""The compact wire form of task graphs, and task specs as opaque bytes.

A client sends a graph as ``update-graph`` messages of at most
``distributed.client.graph-chunk`` tasks each, in execution order, so the
scheduler releases the first tasks while later chunks are still being
encoded, sent and unpacked. Per task a message holds:

- the key, compactly: a ``str`` key as itself, a ``(name, i, j, ...)`` key as
  ``(index of name, i, j, ...)`` into the graph's name table (names are sent
  once per graph), any other key as ``(None, key)``;
- its dependencies: positions in the graph (an ``int``) or, for keys from
  outside the graph (futures), ``(encoded key,)``;
- its spec: the node pickled alone, with every function and class in it
  replaced by an index into the client's function table. Each distinct
  function is pickled once per client and travels in the first message that
  needs it.

The scheduler never unpickles a spec: it keeps the bytes and forwards them;
a worker rebuilds the node with ``load_spec`` against its copy of the
client's function table.

>>> encoder = FunctionTableEncoder()
>>> from shoal.core.task import Task, Ref
>>> spec = encoder.dumps(Task(abs, Ref(("x", 1))))
>>> funcs = [load_function(b) for b in encoder.take_new()]
>>> load_spec(spec, funcs)({("x", 1): -3})
3
"""

from __future__ import annotations

import io
import pickle
from types import BuiltinFunctionType, FunctionType
from typing import Any

from shoal.distributed.protocol import pickle_dumps

__all__ = [
    "FunctionTable",
    "GraphDecoder",
    "FunctionTableEncoder",
    "KeyEncoder",
    "decode_key",
    "load_spec",
    "load_function",
]


class _SpecPickler(pickle.Pickler):
    """Pickles a node with its functions and classes as table indices."""

    def __init__(self, file: io.BytesIO, table: FunctionTableEncoder):
        super().__init__(file, protocol=5)
        self.table = table

    def persistent_id(self, obj: Any) -> int | None:
        typ = type(obj)
        if typ is FunctionType or typ is BuiltinFunctionType or typ is type:
            return self.table.index(obj)
        return None


class FunctionTableEncoder:
    """A client's function table: each distinct function pickled once.

    ``dumps(node)`` returns the node's spec bytes; ``take_new()`` returns the
    pickled functions added since the last call, to send with the message
    whose specs need them. Entries are deduplicated by their pickled bytes,
    so a function object made again (the same lambda) reuses its entry.

    >>> enc = FunctionTableEncoder()
    >>> _ = enc.dumps((len, len, max))
    >>> len(enc.take_new()), len(enc.take_new())
    (2, 0)
    """

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[int, Any]] = {}
        self._by_bytes: dict[bytes, int] = {}
        self._entries: list[bytes] = []
        self._sent = 0
        self._buffer = io.BytesIO()
        self._pickler = _SpecPickler(self._buffer, self)

    def index(self, func: Any) -> int:
        """The table index of ``func`` (added if new)."""
        known = self._by_id.get(id(func))
        if known is not None and known[1] is func:
            return known[0]
        blob = pickle_dumps(func)
        i = self._by_bytes.get(blob)
        if i is None:
            i = self._by_bytes[blob] = len(self._entries)
            self._entries.append(blob)
        self._by_id[id(func)] = (i, func)
        return i

    def dumps(self, node: Any) -> bytes:
        """The spec bytes of one graph node."""
        buf = self._buffer
        buf.seek(0)
        buf.truncate()
        pickler = self._pickler
        try:
            pickler.dump(node)
        except Exception as e:
            raise TypeError(f"cannot serialize task {node!r} for the cluster: {e}") from e
        finally:
            pickler.clear_memo()
        return buf.getvalue()

    def take_new(self) -> list[bytes]:
        """Pickled functions added since the last call."""
        new = self._entries[self._sent :]
        self._sent = len(self._entries)
        return new

    def forget_objects(self) -> None:
        """Drop the references to function objects (kept only while one graph
        is encoded, so ``id`` stays meaningful); their entries stay."""
        self._by_id.clear()


class KeyEncoder:
    """Compact keys of one graph: tuple keys refer to a name table.

    >>> enc = KeyEncoder()
    >>> enc.encode(("sum-1f", 3)), enc.encode("x"), enc.encode(("sum-1f", 4)), enc.take_names()
    ((0, 3), 'x', (0, 4), ['sum-1f'])
    >>> decode_key((0, 4), ["sum-1f"])
    ('sum-1f', 4)
    """

    def __init__(self) -> None:
        self._names: dict[str, int] = {}
        self._new: list[str] = []

    def encode(self, key: Any) -> Any:
        typ = type(key)
        if typ is str:
            return key
        if typ is tuple and key and type(key[0]) is str:
            names = self._names
            i = names.get(key[0])
            if i is None:
                i = names[key[0]] = len(names)
                self._new.append(key[0])
            return (i, *key[1:])
        return (None, key)

    def take_names(self) -> list[str]:
        """Names added since the last call (sent with the message using them)."""
        new, self._new = self._new, []
        return new


def decode_key(encoded: Any, names: list) -> Any:
    """The key for ``encoded`` (see ``KeyEncoder``)."""
    if type(encoded) is str:
        return encoded
    head = encoded[0]
    if head is None:
        return encoded[1]
    return (names[head], *encoded[1:])


class _SpecUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, functions: list):
        super().__init__(file)
        self.functions = functions

    def persistent_load(self, pid: Any) -> Any:
        try:
            return self.functions[pid]
        except (IndexError, TypeError):
            raise pickle.UnpicklingError(f"function {pid!r} is missing from the table") from None


def load_function(blob: bytes) -> Any:
    """One entry of a function table."""
    return pickle.loads(blob)


def load_spec(spec: bytes, functions: list) -> Any:
    """Rebuild a node from its spec bytes and the unpickled function table."""
    return _SpecUnpickler(io.BytesIO(spec), functions).load()


class FunctionTable:
    """The scheduler's copy of one client's function table: pickled functions
    (never unpickled there), sent to each worker once, and how many live
    tasks still refer to it (a closed client's table is dropped at zero).

    >>> t = FunctionTable(1)
    >>> t.funcs.extend([b"f0", b"f1"]); t.ntasks, t.closed
    (0, False)
    """

    __slots__ = ("id", "funcs", "ntasks", "closed")

    def __init__(self, table_id: int):
        self.id = table_id
        self.funcs: list[bytes] = []
        self.ntasks = 0
        self.closed = False


class GraphDecoder:
    """Unpacks the ``update-graph`` messages of one graph (see module
    docstring): keys, dependencies as keys, priorities from positions.

    >>> from shoal.core.task import Task, Ref
    >>> keys = KeyEncoder()
    >>> msg = {"names": [], "keys": [keys.encode(("a", 0)), keys.encode("b")],
    ...        "deps": [[], [0]], "wanted": [keys.encode("b")]}
    >>> msg["names"] = keys.take_names()
    >>> d = GraphDecoder()
    >>> d.decode(msg)
    ([('a', 0), 'b'], [(), (('a', 0),)], range(0, 2), ['b'])
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.positions: list = []  # every key of the graph so far, by position

    def decode(self, msg: dict) -> tuple[list, list, range, list]:
        names = self.names
        names.extend(msg["names"])
        positions = self.positions
        start = len(positions)
        keys = [k if type(k) is str else decode_key(k, names) for k in msg["keys"]]
        positions.extend(keys)
        deps = [
            tuple([positions[d] if type(d) is int else decode_key(d[0], names) for d in ds])
            if ds
            else ()
            for ds in msg["deps"]
        ]
        wanted = [decode_key(k, names) for k in msg["wanted"]]
        return keys, deps, range(start, len(positions)), wanted
