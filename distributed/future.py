"""Futures: handles to remote results held by a client, plus ``wait`` and
``as_completed``.

A ``Future`` names one key; all futures of one key share a ``KeyState``
kept by their client (status, error, done callbacks). The client counts
futures per key and tells the scheduler to release a key when its last
future is garbage collected.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import namedtuple
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "Future",
    "KeyState",
    "ClientClosedError",
    "CancelledError",
    "wait",
    "as_completed",
    "DoneAndNotDone",
]


class ClientClosedError(RuntimeError):
    """The client owning a future was closed."""


class CancelledError(Exception):
    """The future was cancelled (by ``cancel`` or a cluster restart)."""


class KeyState:
    """Status of one key as the client knows it."""

    __slots__ = ("status", "exception", "traceback", "event", "callbacks")

    def __init__(self) -> None:
        self.status = "pending"
        self.exception: BaseException | None = None
        self.traceback = ""
        self.event: asyncio.Event | None = None
        self.callbacks: list = []

    def get_event(self) -> asyncio.Event:
        if self.event is None:
            self.event = asyncio.Event()
            if self.status != "pending":
                self.event.set()
        return self.event

    def finish(self, status: str, exception: BaseException | None = None) -> None:
        """Called on the client's loop when the scheduler reports the key."""
        self.status = status
        self.exception = exception
        if self.event is not None:
            self.event.set()
        callbacks, self.callbacks = self.callbacks, []
        for fut, fn in callbacks:
            try:
                fn(fut)
            except Exception:  # a user callback must not break the client
                import logging

                logging.getLogger("shoal.distributed.client").exception(
                    "done callback of %r failed", fut
                )

    def error(self) -> BaseException:
        """The exception of a key that erred (``finish("error", exc)`` set it)."""
        assert self.exception is not None, f"a key in state {self.status!r} has no exception"
        return self.exception

    def reset(self) -> None:
        self.status = "pending"
        self.exception = None
        if self.event is not None:
            self.event.clear()


class Future:
    """A remote result. ``result()`` waits and returns it (or raises the task's
    own exception); ``status`` is pending, finished, error or cancelled.

    >>> from shoal.distributed import Client
    >>> with Client(n_workers=1, processes=False) as client:
    ...     future = client.submit(sum, [1, 2, 3])
    ...     print(future.result(), future.status)
    6 finished
    """

    __shoal_external__ = True  # a handle to a result on the cluster: graph passes keep its key

    __slots__ = ("key", "client", "_state", "__weakref__")

    def __init__(self, key: Any, client: Any):
        self.key = key
        self.client = client
        self._state: KeyState = client._inc_ref(key)

    @property
    def status(self) -> str:
        return self._state.status

    def done(self) -> bool:
        """True once finished, erred or cancelled."""
        return self._state.status != "pending"

    def _check_client(self) -> None:
        if self.client.status == "closed":
            raise ClientClosedError(
                f"the client of future {self.key!r} is closed; its result is gone with it. "
                "Keep the client open while you use its futures."
            )

    async def _wait(self, timeout: float | None = None) -> None:
        self._check_client()
        state = self._state
        if state.status == "pending":
            await asyncio.wait_for(state.get_event().wait(), timeout)
        self._check_client()

    async def _result(self, timeout: float | None = None) -> Any:
        await self._wait(timeout)
        state = self._state
        if state.status == "error":
            raise state.error()
        if state.status == "cancelled":
            raise CancelledError(f"future {self.key!r} was cancelled: {state.traceback}")
        return (await self.client._gather_keys([self.key]))[0]

    async def _exception(self, timeout: float | None = None) -> BaseException | None:
        await self._wait(timeout)
        return self._state.exception if self._state.status == "error" else None

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the result (``timeout`` seconds at most) and return it."""
        self._check_client()
        return self.client._sync(self._result, timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Wait, then return the task's exception, or None if it succeeded."""
        self._check_client()
        return self.client._sync(self._exception, timeout)

    def cancel(self) -> None:
        """Ask the scheduler to stop computing this key for this client."""
        self.client.cancel([self])

    def retry(self) -> Any:
        """Compute this erred future again (with the erred tasks it depends on)."""
        return self.client.retry([self])

    def add_done_callback(self, fn: Callable[[Future], Any]) -> None:
        """Call ``fn(future)`` once the future is done (at once if it is)."""
        if self.done():
            fn(self)
            return
        self.client._on_loop(self._add_callback, fn)

    def _add_callback(self, fn) -> None:
        if self.done():
            fn(self)
        else:
            self._state.callbacks.append((self, fn))

    def __await__(self):
        return self._result().__await__()

    def __del__(self):
        try:
            self.client._dec_ref(self.key)
        except Exception:  # interpreter shutdown or a closed loop
            pass

    def __shoal_tokenize__(self) -> tuple:
        return ("shoal-future", self.key)

    def __reduce__(self):
        raise TypeError(
            "a Future cannot be pickled; pass it to client.submit/map (it becomes a "
            "dependency) or call .result() first"
        )

    def __repr__(self) -> str:
        return f"<Future: {self.status}, key: {self.key!r}>"


DoneAndNotDone = namedtuple("DoneAndNotDone", ["done", "not_done"])


def futures_of(obj: Any) -> list[Future]:
    """The futures in ``obj``: a future, a collection persisted on a cluster,
    or lists, tuples, sets and dicts of them (in order, each once).

    >>> import shoal.array as sa
    >>> from shoal.distributed import Client
    >>> with Client(n_workers=1, processes=False) as client:
    ...     x = client.persist(sa.ones(10, chunks=4))
    ...     print(len(futures_of([x, client.submit(abs, -1)])))
    4
    """
    from shoal.core.base import is_collection

    found: dict[Any, Future] = {}
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, Future):
            found.setdefault(item.key, item)
        elif is_collection(item):
            stack.extend(reversed([v for v in item.__shoal_graph__().values()]))
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(reversed(list(item)))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
    return list(found.values())


def wait(
    futures: Iterable[Future] | Future,
    timeout: float | None = None,
    return_when: str = "ALL_COMPLETED",
) -> DoneAndNotDone:
    """Wait until all (or the first, ``return_when="FIRST_COMPLETED"``) futures
    are done; returns ``(done, not_done)`` sets. ``futures`` may hold
    persisted collections (their futures are waited for).

    >>> from shoal.distributed import Client
    >>> with Client(n_workers=1, processes=False) as client:
    ...     done, not_done = wait(client.map(abs, [-1, -2]))
    ...     print(len(done), len(not_done))
    2 0
    """
    futures = futures_of(futures)  # persisted collections too, as Dask users wait on them
    if return_when not in ("ALL_COMPLETED", "FIRST_COMPLETED"):
        raise ValueError(
            f"return_when must be ALL_COMPLETED or FIRST_COMPLETED, got {return_when!r}"
        )
    if not futures:
        return DoneAndNotDone(set(), set())
    client = futures[0].client
    futures[0]._check_client()

    async def run():
        if return_when == "ALL_COMPLETED":
            for f in futures:
                if not f.done():
                    await f._state.get_event().wait()
        else:
            pending = [f for f in futures if not f.done()]
            if len(pending) == len(futures):
                waits = [asyncio.ensure_future(f._state.get_event().wait()) for f in pending]
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()

    async def run_with_timeout():
        try:
            await asyncio.wait_for(run(), timeout)
        except TimeoutError:
            n = sum(not f.done() for f in futures)
            raise TimeoutError(f"{n} futures not done after {timeout}s") from None
        done = {f for f in futures if f.done()}
        return DoneAndNotDone(done, {f for f in futures if f not in done})

    return client._sync(run_with_timeout)  # an awaitable for asynchronous clients


class as_completed:
    """Iterate over futures in the order they finish; ``add`` more while iterating.

    >>> from shoal.distributed import Client
    >>> with Client(n_workers=1, processes=False) as client:
    ...     print(sorted(f.result() for f in as_completed(client.map(abs, [-1, -2]))))
    [1, 2]
    """

    def __init__(self, futures: Iterable[Future] = (), with_results: bool = False):
        self.queue: queue.Queue = queue.Queue()
        self.pending = 0
        self.with_results = with_results
        self.lock = threading.Lock()
        for f in futures:
            self.add(f)

    def add(self, future: Future) -> None:
        with self.lock:
            self.pending += 1
        future.add_done_callback(self.queue.put)

    def _next_item(self, future: Future):
        with self.lock:
            self.pending -= 1
        if self.with_results:
            return future, future.result()
        return future

    def __iter__(self):
        return self

    def __next__(self):
        with self.lock:
            if not self.pending:
                raise StopIteration
        return self._next_item(self.queue.get())

    def __aiter__(self):
        return self

    async def __anext__(self):
        with self.lock:
            if not self.pending:
                raise StopAsyncIteration
        while True:
            try:
                future = self.queue.get_nowait()
                break
            except queue.Empty:
                await asyncio.sleep(0.005)
        with self.lock:
            self.pending -= 1
        if self.with_results:
            return future, await future._result()
        return future

    def count(self) -> int:
        """Futures not yielded yet."""
        return self.pending
