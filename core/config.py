"""Nested settings with documented defaults.

Where a value comes from, later sources winning:

1. ``DEFAULTS`` below (each documented in ``DOCS``);
2. YAML files in ``$SHOAL_CONFIG`` or ``~/.config/shoal/`` (``*.yaml``/``*.yml``);
3. environment variables ``SHOAL_<SECTION>__<NAME>=value`` (double underscore
   nests; values are parsed as YAML scalars, so ``4`` is an int);
4. ``shoal.config.set(...)``, globally or as a ``with`` block that restores the
   previous values on exit.

Keys are dotted paths (``"optimization.fuse.max-width"``); ``-`` and ``_`` are
interchangeable. Setting a key that is not in the defaults raises with the
closest valid names. All reads and writes hold one lock, so threads may use
``set`` concurrently.
"""

from __future__ import annotations

import copy
import difflib
import os
import threading
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["get", "set", "refresh", "update_defaults", "DEFAULTS", "DOCS", "config"]

DEFAULTS: dict[str, Any] = {
    "scheduler": None,
    "num-workers": None,
    "optimization": {
        "fuse": {"active": True, "max-length": 10_000},
    },
    "array": {"chunk-size": "128MiB"},
    "dataframe": {"partition-size": "128MiB"},
    "tokenize": {"ensure-deterministic": False},
    "diagnostics": {"progress-interval": 0.1},
}

DOCS: dict[str, str] = {
    "scheduler": "Backend used by compute(): 'sync', 'threads', 'processes', a callable "
    "get(graph, keys), or a Client; None lets each collection choose.",
    "num-workers": "Threads or processes of the local pools; None means the number of cores.",
    "optimization.fuse.active": "Fuse linear chains of tasks into one task before running.",
    "optimization.fuse.max-length": "Longest chain that is fused into one task.",
    "array.chunk-size": "Target bytes per block for chunks='auto'.",
    "dataframe.partition-size": "Target bytes per partition when readers split input.",
    "tokenize.ensure-deterministic": "Raise instead of using a random token for objects "
    "that cannot be hashed deterministically.",
    "diagnostics.progress-interval": "Seconds between progress bar redraws.",
}

_lock = threading.RLock()
config: dict[str, Any] = {}


def _norm(key: str) -> str:
    return key.replace("_", "-").lower()


def _merge(base: dict[str, Any], new: Mapping[str, Any]) -> None:
    for k, v in new.items():
        k = _norm(str(k))
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v) if isinstance(v, (dict, list)) else v


def _yaml_files() -> list[str]:
    root = os.environ.get("SHOAL_CONFIG") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "shoal"
    )
    if not os.path.isdir(root):
        return [root] if os.path.isfile(root) else []
    return sorted(os.path.join(root, f) for f in os.listdir(root) if f.endswith((".yaml", ".yml")))


def _from_yaml() -> list[dict[str, Any]]:
    files = _yaml_files()
    if not files:
        return []
    import yaml

    out = []
    for path in files:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"shoal config file {path} must hold a mapping, got {type(data)}")
        out.append(dict(data.get("shoal", data)))
    return out


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("SHOAL_") or name == "SHOAL_CONFIG":
            continue
        path = [_norm(p) for p in name[len("SHOAL_") :].split("__")]
        try:
            import yaml

            value = yaml.safe_load(raw)
        except Exception:
            value = raw
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
        node[path[-1]] = value
    return out


def refresh(environ: Mapping[str, str] | None = None) -> None:
    """Rebuild the settings from defaults, YAML files and the environment.

    >>> refresh(); get("optimization.fuse.active")
    True
    """
    with _lock:
        fresh: dict[str, Any] = copy.deepcopy(DEFAULTS)
        for data in _from_yaml():
            _merge(fresh, data)
        _merge(fresh, _from_env(os.environ if environ is None else environ))
        config.clear()
        config.update(fresh)


_MISSING = object()


def update_defaults(new: Mapping[str, Any], docs: Mapping[str, str] | None = None) -> None:
    """Add a room's own settings (and their docs) to the defaults.

    Values already set by the user, a file or the environment are kept.

    >>> update_defaults({"example": {"answer": 42}}, {"example.answer": "For doctests."})
    >>> get("example.answer")
    42
    """
    with _lock:
        _merge(DEFAULTS, new)
        DOCS.update(docs or {})
        current = copy.deepcopy(config)
        fresh: dict[str, Any] = copy.deepcopy(DEFAULTS)
        _merge(fresh, current)
        config.clear()
        config.update(fresh)


def get(key: str, default: Any = _MISSING) -> Any:
    """The value at a dotted ``key``; ``default`` if absent, else a KeyError
    that suggests close names.

    >>> get("optimization.fuse.max-length")
    10000

    A section comes back as a copy: changing it changes nothing (use ``set``).
    """
    with _lock:
        node: Any = config
        for part in _norm(key).split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif default is not _MISSING:
                return default
            else:
                raise KeyError(_unknown_message(key))
        return copy.deepcopy(node) if isinstance(node, dict) else node  # never the live section


def _all_paths(node: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for k, v in node.items():
        path = f"{prefix}{k}"
        yield path
        if isinstance(v, Mapping):
            yield from _all_paths(v, path + ".")


def _unknown_message(key: str) -> str:
    paths = list(_all_paths(DEFAULTS))
    close = difflib.get_close_matches(_norm(key), paths, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown shoal config key {key!r}{hint}"


def _check_known(path: list[str], key: str) -> None:
    node: Any = DEFAULTS
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(_unknown_message(key))
        node = node[part]


class _Change:
    """One key changed by one ``set``: the value to put back when it ends."""

    __slots__ = ("old", "owner", "scoped")

    def __init__(self, old: Any, owner: set):
        self.old = old
        self.owner = weakref.ref(owner)
        self.scoped = False


# Open changes per key path, oldest first. When a ``with set(...)`` block ends
# while a later one on the same key is still open (threads interleave), the
# later one inherits the value to restore instead of being overwritten, so the
# last block to close always puts back the value from before the first.
_open: dict[tuple[str, ...], list[_Change]] = {}


def _node(path: tuple[str, ...]) -> dict[str, Any]:
    node = config
    for part in path[:-1]:
        node = node.setdefault(part, {})
    return node


class set:  # noqa: N801 - used as shoal.config.set(...), like a function
    """Set values now; used as a ``with`` block, restore them on exit.

    Keys are dotted strings in a mapping, or keyword arguments where ``__``
    stands for a dot. Blocks may be opened and closed by several threads in any
    order: when the last one on a key closes, the key is back to its value from
    before the first. Without ``with``, the values stay.

    >>> with set({"optimization.fuse.active": False}):
    ...     get("optimization.fuse.active")
    False
    >>> get("optimization.fuse.active")
    True
    """

    def __init__(self, arg: Mapping[str, Any] | None = None, **kwargs: Any):
        updates: dict[str, Any] = {}
        for k, v in (arg or {}).items():
            updates[k] = v
        for k, v in kwargs.items():
            updates[k.replace("__", ".")] = v
        paths = []
        for key in updates:
            path = tuple(_norm(key).split("."))
            _check_known(list(path), key)  # all checked before anything changes
            paths.append(path)
        self._changes: list[tuple[tuple[str, ...], _Change]] = []
        with _lock:
            for path, value in zip(paths, updates.values()):
                node = _node(path)
                change = _Change(node.get(path[-1], _MISSING), self)
                stack = _open.setdefault(path, [])
                # changes of sets never used as a block, and gone, stay for good
                stack[:] = [c for c in stack if c.scoped or c.owner() is not None]
                stack.append(change)
                self._changes.append((path, change))
                node[path[-1]] = value

    def __enter__(self) -> set:
        for _, change in self._changes:
            change.scoped = True
        return self

    def __exit__(self, *exc: object) -> None:
        with _lock:
            for path, change in reversed(self._changes):
                stack = _open.get(path, [])
                position = next((i for i, c in enumerate(stack) if c is change), None)
                if position is not None and position + 1 < len(stack):
                    stack[position + 1].old = change.old  # a later block restores for us
                    del stack[position]
                    continue
                if position is not None:
                    del stack[position]
                if not stack:
                    _open.pop(path, None)
                node = _node(path)
                if change.old is _MISSING:
                    node.pop(path[-1], None)
                else:
                    node[path[-1]] = change.old
            self._changes = []


refresh()
