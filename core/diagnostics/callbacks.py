"""Scheduler callbacks: hooks the local schedulers call around a computation.

Hooks, all optional, in the order they are called:

- ``start(graph)``: before any task runs, with the culled graph;
- ``pretask(key)``: just before a task runs;
- ``posttask(key, result, worker_id)``: just after it finished;
- ``finish(graph, errored)``: once at the end, also after an error.

In the threaded scheduler ``pretask``/``posttask`` run in the pool thread that
runs the task, under the scheduler's lock: keep them short. A callback is
active inside ``with cb:``, or everywhere after ``cb.register()``; it may also
be passed for one call as ``compute(..., callbacks=[cb])``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Self

__all__ = ["Callback", "active_callbacks"]

_lock = threading.Lock()
_active: list[Callback] = []


def active_callbacks() -> tuple[Callback, ...]:
    """The callbacks registered globally or by an open ``with`` block.

    >>> active_callbacks()
    ()
    """
    return tuple(_active)


class Callback:
    """Base class for scheduler callbacks; pass hooks or override methods.

    >>> from shoal.core.local import get_sync
    >>> seen = []
    >>> with Callback(posttask=lambda key, result, worker: seen.append(key)):
    ...     get_sync({"a": 1}, "a")
    1
    >>> seen
    ['a']
    """

    start: Callable[[dict[Any, Any]], Any] | None = None
    pretask: Callable[[Any], Any] | None = None
    posttask: Callable[[Any, Any, Any], Any] | None = None
    finish: Callable[[dict[Any, Any], bool], Any] | None = None

    def __init__(
        self,
        start: Callable[..., Any] | None = None,
        pretask: Callable[..., Any] | None = None,
        posttask: Callable[..., Any] | None = None,
        finish: Callable[..., Any] | None = None,
    ):
        if start is not None:
            self.start = start
        if pretask is not None:
            self.pretask = pretask
        if posttask is not None:
            self.posttask = posttask
        if finish is not None:
            self.finish = finish

    def register(self) -> None:
        """Make this callback active for every computation until ``unregister``."""
        with _lock:
            if self not in _active:
                _active.append(self)

    def unregister(self) -> None:
        """Stop calling this callback."""
        with _lock:
            if self in _active:
                _active.remove(self)

    def __enter__(self) -> Self:
        self.register()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unregister()
