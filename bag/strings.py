"""``Bag.str``: string methods applied to every element."""

from __future__ import annotations

import fnmatch
import functools
from operator import methodcaller
from typing import Any

__all__ = ["StringAccessor"]


def _matches(text: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(text, pattern)


class StringAccessor:
    """``bag.str.<method>(...)`` maps ``str.<method>`` over the elements;
    ``match(pattern)`` keeps the elements that match a glob pattern.

    >>> import shoal.bag as sb
    >>> b = sb.from_sequence(["Alice,1", "Bob,2"], npartitions=2)
    >>> b.str.lower().str.split(",").compute(scheduler="sync")
    [['alice', '1'], ['bob', '2']]
    >>> b.str.match("A*").compute(scheduler="sync")
    ['Alice,1']
    """

    __slots__ = ("_bag",)

    def __init__(self, bag: Any):
        self._bag = bag

    def __dir__(self) -> list:
        return sorted(set(dir(type(self))) | {n for n in dir(str) if not n.startswith("_")})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not callable(getattr(str, name, None)):
            raise AttributeError(f"str has no method {name!r}; Bag.str maps str methods")
        return functools.partial(self._method, name)

    def _method(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._bag.map(methodcaller(name, *args, **kwargs))

    def match(self, pattern: str) -> Any:
        """Keep the elements matching the glob ``pattern`` (``fnmatch``, case-sensitive).

        >>> import shoal.bag as sb
        >>> sb.from_sequence(["ab", "ba"]).str.match("a*").compute(scheduler="sync")
        ['ab']
        """
        if not isinstance(pattern, str):
            raise TypeError(f"str.match: pattern must be a str, got {type(pattern).__name__}")
        return self._bag.filter(functools.partial(_matches, pattern=pattern))
