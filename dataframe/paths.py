"""Expanding user paths (one path, a glob, a URL or a list) into files, for
the text readers, in natural order (``part-2`` before ``part-10``)."""

from __future__ import annotations

import re
from typing import Any

import fsspec

__all__ = ["natural_key", "expand_paths"]


def natural_key(path: str) -> list:
    """Sort key that orders embedded numbers by value.

    >>> sorted(["p10.csv", "p2.csv"], key=natural_key)
    ['p2.csv', 'p10.csv']
    """
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


def expand_paths(path: Any, storage_options: dict | None, reader: str) -> tuple[Any, list[str]]:
    """The filesystem and the files that ``path`` names; a path or glob that
    matches nothing raises ``FileNotFoundError`` naming it and ``reader``.

    >>> import fsspec
    >>> with fsspec.open("memory://paths-doc/a1.csv", "w") as f:
    ...     _ = f.write("x")
    >>> expand_paths("memory://paths-doc/*.csv", None, "read_csv")[1]
    ['/paths-doc/a1.csv']
    """
    paths = path if isinstance(path, (list, tuple)) else [path]
    fs, _ = fsspec.core.url_to_fs(str(paths[0]), **(storage_options or {}))
    files: list[str] = []
    for p in paths:
        stripped = fs._strip_protocol(str(p))
        found = (
            sorted(fs.glob(stripped), key=natural_key)
            if any(ch in stripped for ch in "*?[")
            else ([stripped] if fs.exists(stripped) else [])
        )
        if not found:
            raise FileNotFoundError(f"{reader}: no files match {p!r}")
        if found == [stripped] and fs.isdir(stripped):
            glob = str(p).rstrip("/") + "/*"
            raise IsADirectoryError(
                f"{reader}: {p!r} is a directory; name its files, e.g. {glob!r}"
            )
        files += found
    return fs, files
