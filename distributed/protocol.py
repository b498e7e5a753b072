"""Message encoding: msgpack for control, pickle protocol 5 for data.

A message is any msgpack-able structure (dicts, lists, str, int, bytes ...).
Values that need Python serialization are wrapped in ``ToPickle`` by the
sender. ``dumps`` turns a message into frames::

    frame 0        msgpack of the message; each ToPickle is an ext (its index)
    frame 1        one cloudpickle payload holding every ToPickle value of the
                   message (so a function used by 10,000 tasks of one batch is
                   serialized once, thanks to the pickle memo)
    frames 2..     the out-of-band buffers of protocol 5 (numpy arrays,
                   pandas/pyarrow buffers), sent without copies

``loads`` gives back the message; wrapped values come back as ``Pickled``
placeholders (``.load()`` unpickles the message's payload once) or, with
``deserialize=True``, as the values themselves. Arrays on the wire come back
as tuples, so tuple keys round-trip as tuples.

>>> frames = dumps({"op": "x", "key": ("a", 1), "data": ToPickle([1, 2])})
>>> loads(frames, deserialize=True)
{'op': 'x', 'key': ('a', 1), 'data': [1, 2]}
"""

from __future__ import annotations

import io
import pickle
import struct
import threading
from types import FunctionType
from typing import Any

import cloudpickle
import msgpack

__all__ = ["ToPickle", "Pickled", "dumps", "loads", "ProtocolError", "pickle_dumps"]

_EXT_PICKLED = 1
_INDEX = struct.Struct("<I")


class ProtocolError(ValueError):
    """A message that cannot be decoded (malformed, truncated or oversized)."""


class ToPickle:
    """Marks a value to send with pickle instead of msgpack.

    >>> ToPickle(3).data
    3
    """

    __slots__ = ("data",)

    def __init__(self, data: Any):
        self.data = data

    def __repr__(self) -> str:
        return f"ToPickle({self.data!r})"


class _Payload:
    """The pickled part of one received message, unpickled at most once."""

    __slots__ = ("frames", "values", "lock")

    def __init__(self, frames: list):
        self.frames = frames
        self.values: list | None = None
        self.lock = threading.Lock()

    def load(self) -> list:
        with self.lock:
            if self.values is None:
                head, *buffers = self.frames
                self.values = pickle.loads(head, buffers=buffers)
                self.frames = []  # drop the buffers: values now owns what it needs
            return self.values


class Pickled:
    """A received pickled value, not unpickled yet (so a scheduler can hold and
    forward user objects without running their code on its event loop).

    >>> msg = loads(dumps({"x": ToPickle({"a": 1})}))
    >>> msg["x"].load()
    {'a': 1}
    """

    __slots__ = ("payload", "index")

    def __init__(self, payload: _Payload, index: int):
        self.payload = payload
        self.index = index

    def load(self) -> Any:
        """Unpickle (once per message) and return the value."""
        return self.payload.load()[self.index]

    def __repr__(self) -> str:
        return "Pickled(...)"


def pickle_dumps(obj: Any, buffers: list | None = None) -> bytes:
    """Pickle with protocol 5. Functions and classes that workers cannot import
    (defined in ``__main__`` or registered with
    ``cloudpickle.register_pickle_by_value``) go by value through cloudpickle,
    once each; everything else takes the fast C pickler. Objects even that
    cannot handle (lambdas or closures of other modules) fall back to
    cloudpickle for the whole value.

    >>> pickle.loads(pickle_dumps(lambda x: x + 1))(1)
    2
    """
    callback = None if buffers is None else buffers.append
    try:
        out = io.BytesIO()
        _ByValuePickler(out, protocol=5, buffer_callback=callback).dump(obj)
        return out.getvalue()
    except Exception:
        if buffers is not None:
            buffers.clear()
        return cloudpickle.dumps(obj, protocol=5, buffer_callback=callback)


class _ByValuePickler(pickle.Pickler):
    """The C pickler, shipping ``__main__`` and by-value functions and classes
    as cloudpickle blobs (the pickle memo keeps each one to a single copy)."""

    def reducer_override(self, obj):
        typ = type(obj)
        if typ is FunctionType or isinstance(obj, type):
            module = getattr(obj, "__module__", None)
            if module == "__main__" or module in _BY_VALUE:
                return pickle.loads, (cloudpickle.dumps(obj, protocol=5),)
        return NotImplemented


# Modules registered with cloudpickle.register_pickle_by_value (a live set).
_BY_VALUE: set[str] = getattr(
    getattr(cloudpickle, "cloudpickle", None), "_PICKLE_BY_VALUE_MODULES", set()
)


def dumps(msg: Any) -> list:
    """Encode ``msg`` into a list of frames (bytes or memoryviews)."""
    values: list = []

    def default(obj: Any) -> Any:
        typ = type(obj)
        if typ is ToPickle:
            values.append(obj.data)
            return msgpack.ExtType(_EXT_PICKLED, _INDEX.pack(len(values) - 1))
        if typ is Pickled:
            values.append(obj.load())
            return msgpack.ExtType(_EXT_PICKLED, _INDEX.pack(len(values) - 1))
        if typ is set or typ is frozenset:
            return list(obj)
        raise TypeError(f"cannot send a {typ.__name__} in a control message; wrap it in ToPickle")

    head = msgpack.packb(msg, default=default, use_bin_type=True)
    if not values:
        return [head]
    buffers: list = []
    payload = pickle_dumps(values, buffers)
    return [head, payload, *(b.raw() for b in buffers)]


def loads(frames: list, deserialize: bool = False) -> Any:
    """Decode frames made by ``dumps``; raises ``ProtocolError`` if they are
    not a valid message."""
    if not frames:
        raise ProtocolError("a message needs at least one frame")
    payload = _Payload(list(frames[1:])) if len(frames) > 1 else None

    def ext_hook(code: int, data: bytes) -> Any:
        if code != _EXT_PICKLED or payload is None or len(data) != _INDEX.size:
            raise ProtocolError(f"unknown msgpack extension {code}")
        index = _INDEX.unpack(data)[0]
        if deserialize:
            return payload.load()[index]
        return Pickled(payload, index)

    try:
        return msgpack.unpackb(
            frames[0], ext_hook=ext_hook, use_list=False, strict_map_key=False, raw=False
        )
    except ProtocolError:
        raise
    except Exception as e:
        raise ProtocolError(f"malformed message: {type(e).__name__}: {e}") from e
