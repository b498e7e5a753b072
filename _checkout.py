"""Python started in shoal's checkout root: keep ``array`` and ``distributed`` real.

The checkout root is the ``shoal`` package, so a Python started there (REPL,
``python -c``, a notebook server) has the root on ``sys.path`` and would find
the rooms ``array/`` and ``distributed/`` under the top-level names ``array``
and ``distributed``, ahead of the standard library's ``array`` module (which
``socket`` imports) and the ``distributed`` package. Two guards undo that:

- importing this module installs ``RealModuleFinder`` (``shoal/__init__.py``
  does first thing), so once shoal is imported those two top-level names never
  resolve to the checkout;
- a room imported under its top-level name before that (``import socket``
  before shoal) calls ``hand_over(globals())`` at the very top of its
  ``__init__.py``: the real module takes its place in ``sys.modules``, and
  the room's own body (in the guard's ``else`` branch) does not run.

Stdlib only, and loaded by path by the rooms (not as ``shoal._checkout``):
while the standard library is importing ``array``, shoal is not importable yet.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from typing import Any

SHADOWED = ("array", "distributed")
ROOT = os.path.dirname(os.path.abspath(__file__))


def real_spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """The spec of the top-level module ``name`` on ``sys.path`` without the checkout root.

    >>> real_spec("array").origin != os.path.join(ROOT, "array", "__init__.py")
    True
    """
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != ROOT]
    return importlib.machinery.PathFinder.find_spec(name, path)


class RealModuleFinder:
    """A ``sys.meta_path`` finder: top-level ``array`` and ``distributed`` are
    looked up outside the checkout root (when not found there, the normal
    search goes on and ``hand_over`` raises ``ModuleNotFoundError``)."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> Any:
        return real_spec(name) if path is None and name in SHADOWED else None


def install() -> None:
    """Put ``RealModuleFinder`` first on ``sys.meta_path`` (once).

    >>> install()
    >>> [getattr(f, "__name__", None) for f in sys.meta_path].count("RealModuleFinder")
    1
    """
    if not any(getattr(f, "__name__", None) == "RealModuleFinder" for f in sys.meta_path):
        sys.meta_path.insert(0, RealModuleFinder)


def hand_over(room: dict) -> None:
    """Called with the ``globals()`` of a room imported under its top-level name:
    put the real module of that name in ``sys.modules`` in the room's place, or
    raise ``ModuleNotFoundError`` if there is none (no dask.distributed installed).

    The room's ``__init__.py`` keeps the rest of its body in the ``else``
    branch of its guard, so nothing of shoal is imported on the way.
    """
    name = room["__name__"]
    spec = real_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the import system returns what sys.modules holds
    spec.loader.exec_module(module)


install()
