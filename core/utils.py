"""Small helpers shared by the core: key prefixes and byte sizes."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["key_prefix", "parse_bytes", "format_bytes", "funcname"]

_HEX_TOKEN = re.compile(r"-[0-9a-f]{8,}$")


def key_prefix(key: Any) -> str:
    """The group name of a key: the name without its token and block indices.

    >>> key_prefix(("sum-aggregate-3f2a9c1e0b7d4e5f", 0, 1))
    'sum-aggregate'
    >>> key_prefix("x")
    'x'
    """
    name = key[0] if type(key) is tuple and key else key
    if not isinstance(name, str):
        return str(name)
    return _HEX_TOKEN.sub("", name)


_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
}


def parse_bytes(value: str | int | float) -> int:
    """Bytes from a number or a string such as ``"128MiB"`` or ``"2 GB"``.

    >>> parse_bytes("128MiB"), parse_bytes("1.5kB"), parse_bytes(10)
    (134217728, 1500, 10)
    """
    if isinstance(value, (int, float)):
        return int(value)
    text = value.strip().lower().replace(" ", "")
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)([a-z]*)", text)
    if not m or m.group(2) not in _UNITS and m.group(2) != "":
        raise ValueError(
            f"cannot read {value!r} as a size in bytes; expected e.g. '128MiB' or '2GB'"
        )
    return int(float(m.group(1)) * _UNITS[m.group(2) or "b"])


def format_bytes(n: float) -> str:
    """A short human-readable size.

    >>> format_bytes(134217728), format_bytes(999)
    ('128.00 MiB', '999 B')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("kiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} B"


def funcname(func: Any) -> str:
    """A short, key-friendly name for a function.

    >>> import functools
    >>> funcname(functools.partial(max, 1)), funcname(lambda: 0)
    ('max', 'lambda')
    """
    # Unwrap partials and wrappers holding ``.func``; bounded, because some
    # objects (e.g. Dask's Delayed) invent every attribute asked for.
    for _ in range(8):
        inner = None if hasattr(func, "__name__") else getattr(func, "func", None)
        if inner is None or not callable(inner):
            break
        func = inner
    name = getattr(func, "__name__", None) or type(func).__name__
    if name == "<lambda>":
        return "lambda"
    return name.strip("<>").lower().replace("_", "-")
