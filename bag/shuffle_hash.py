"""``stable_hash``: a hash of a shuffle key that is the same in every process
(Python's own ``hash`` of a ``str`` differs between worker processes)."""

from __future__ import annotations

import datetime
import enum
from typing import Any

__all__ = ["stable_hash"]

_MASK = (1 << 64) - 1


def stable_hash(key: Any) -> int:
    """A hash of ``key`` that is the same in every process (``str`` and
    ``bytes`` by xxhash, tuples and frozensets from their items, ``None``,
    enums and datetimes by their fields, other values by ``hash``, which is
    deterministic for numbers; other key types need a deterministic
    ``__hash__``).

    >>> stable_hash("abc") == stable_hash("abc"), stable_hash(1) == stable_hash(1.0)
    (True, True)
    """
    if isinstance(key, str):
        import xxhash

        return xxhash.xxh64_intdigest(key.encode("utf-8", "surrogatepass"))
    if isinstance(key, (bytes, bytearray)):
        import xxhash

        return xxhash.xxh64_intdigest(bytes(key))
    if isinstance(key, tuple):
        h = 0x345678
        for item in key:
            h = ((h * 1000003) ^ stable_hash(item)) & _MASK
        return h ^ len(key)
    if isinstance(key, frozenset):
        return sum(stable_hash(item) for item in key) & _MASK
    if key is None:
        return 0x9E3779B97F4A7C15
    if isinstance(key, enum.Enum):
        return stable_hash((type(key).__qualname__, key.name))
    if isinstance(key, (datetime.date, datetime.time, datetime.timedelta)):
        return _stable_time_hash(key)
    return hash(key)


def _stable_time_hash(key: Any) -> int:
    # their own hash mixes in the per-process string hash seed
    if isinstance(key, datetime.timedelta):
        return hash((key.days, key.seconds, key.microseconds))
    if isinstance(key, datetime.datetime):
        if key.utcoffset() is not None:
            key = key.astimezone(datetime.UTC).replace(tzinfo=None)
        return hash((key.toordinal(), key.hour, key.minute, key.second, key.microsecond))
    if isinstance(key, datetime.date):
        return hash(key.toordinal())
    offset = key.utcoffset()
    return stable_hash((key.hour, key.minute, key.second, key.microsecond, str(offset)))
