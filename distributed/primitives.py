"""Coordination primitives, as in dask.distributed: ``Lock``, ``Semaphore``,
``Event``, ``Variable``, ``Queue``, ``Pub``/``Sub``. Their state lives on
the scheduler (``coordination.py``), so they work across clients and from
inside tasks (where they use the worker's client, ``get_client()``); they
pickle by name, so a task may take one as an argument.

Inside a task, a wait that does not succeed at once happens seceded (the
task's thread leaves the worker's pool meanwhile), so tasks waiting on each
other through primitives do not deadlock a worker with one thread.

Timeouts follow dask: ``Lock.acquire``/``Semaphore.acquire`` and
``Event.wait`` return False when time runs out; ``Variable.get``,
``Queue.get``/``put`` and ``Sub.get`` raise ``TimeoutError``. Values may
hold futures (the scheduler keeps their results alive while stored). With
an asynchronous client every method returns an awaitable.

A lease (of a lock or semaphore) is refreshed by its client every
``distributed.scheduler.locks.lease-validation-interval`` seconds; the
scheduler drops it when its client disconnects or stops refreshing it for
``lease-timeout`` seconds.

>>> from shoal.distributed import Client
>>> with Client(n_workers=1, processes=False) as client:
...     lock = Lock("resource")
...     with lock:
...         print(lock.locked(), Lock("resource").acquire(timeout=0.1))
...     q = Queue("jobs")
...     q.put(client.submit(abs, -3))  # the result lives while queued
...     print(q.get().result())
True False
3
"""

from __future__ import annotations

import asyncio
import io
import pickle
import uuid
import weakref
from collections.abc import Callable
from typing import Any, Self

import cloudpickle

from shoal.core import config
from shoal.distributed.future import Future
from shoal.distributed.worker_context import in_task, seceded_while_waiting

__all__ = [
    "Lock",
    "Semaphore",
    "Event",
    "Variable",
    "Queue",
    "Pub",
    "Sub",
    "dumps_value",
    "loads_value",
    "received",
    "hold",
]


# ---------------------------------------------------------------- values


class _FuturePickler(cloudpickle.Pickler):
    def __init__(self, file: Any):
        super().__init__(file, protocol=5)
        self.futures: list[Future] = []

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is Future:
            self.futures.append(obj)
            return ("shoal-future", obj.key)
        return None


class _FutureUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, client: Any):
        super().__init__(file)
        self.client = client

    def persistent_load(self, pid: Any) -> Any:
        kind, key = pid
        if kind != "shoal-future":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        return Future(key, self.client)


def dumps_value(value: Any) -> tuple[bytes, list[Future]]:
    """Pickle ``value``; futures in it become references to their keys
    (and are returned, so the scheduler can keep their results: ``hold``).

    >>> blob, futures = dumps_value({"a": [1, 2]})
    >>> loads_value(blob, None), futures
    ({'a': [1, 2]}, [])
    """
    out = io.BytesIO()
    pickler = _FuturePickler(out)
    pickler.dump(value)
    return out.getvalue(), pickler.futures


def loads_value(blob: bytes, client: Any) -> Any:
    """Unpickle what ``dumps_value`` made; futures come back as futures of ``client``."""
    return _FutureUnpickler(io.BytesIO(blob), client).load()


def hold(futures: list[Future]) -> tuple[str, list]:
    """A new pseudo-client keeping the results of ``futures`` on the cluster
    for a stored value, and their keys. It is named on the stream of each
    future's client: after the graph that made the key, before any release
    of it (see ``coordination.Coordination._held``).

    >>> hold([])[1]
    []
    """
    holder = f"shoal-hold-{uuid.uuid4().hex}"
    by_client: dict = {}
    for f in futures:
        by_client.setdefault(f.client, {})[f.key] = None
    for client, keys in by_client.items():
        client._send({"op": "desire-keys", "keys": list(keys), "client": holder})
    return holder, list(dict.fromkeys(f.key for f in futures))


def _patiently(attempt: Callable[[float | None], Any], timeout: float | None) -> Any:
    """``attempt(timeout)``. In a task on a worker, a wait that does not
    succeed at once happens seceded: the task's thread leaves the worker's
    pool meanwhile (``worker_context.secede``), so the tasks it waits for
    (a ``put``, a ``release``) can run even on a worker with one thread."""
    if timeout == 0 or not in_task():
        return attempt(timeout)
    try:
        result = attempt(0)
        if result is not False:
            return result
    except TimeoutError:
        pass
    with seceded_while_waiting():
        return attempt(timeout)


def _client(client: Any) -> Any:
    if client is not None:
        return client
    from shoal.distributed.worker_context import get_client

    return get_client()


class _Primitive:
    """Named, bound to a client (the worker's inside a task), pickled by name."""

    _prefix = "primitive"

    def __init__(self, name: str | None = None, client: Any = None):
        self.name = name or f"{self._prefix}-{uuid.uuid4().hex}"
        self._bound = client

    @property
    def client(self) -> Any:
        if self._bound is None:
            self._bound = _client(None)
        return self._bound

    def _call(self, msg: dict, then: Any = None) -> Any:
        """Send ``msg`` to the scheduler; ``then(reply)`` shapes the result."""
        client = self.client

        async def run() -> Any:
            reply = await client._scheduler_call(msg)
            return reply if then is None else then(reply)

        return client._sync(run)

    def __reduce__(self) -> tuple:
        return (type(self), (self.name,))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.name}>"


# ---------------------------------------------------------------- leases


class _Leases:
    """The leases a client holds, refreshed on its loop while there are any."""

    def __init__(self, client: Any):
        self.client = client
        self.held: set[tuple[str, str]] = set()
        self.task: asyncio.Future | None = None

    def add(self, name: str, lease: str) -> None:
        self.held.add((name, lease))
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        while self.held and self.client.status != "closed":
            await asyncio.sleep(
                float(config.get("distributed.scheduler.locks.lease-validation-interval"))
            )
            if not self.held or self.client.status != "running":
                continue
            try:
                lost = await self.client._scheduler_call(
                    {"op": "semaphore-refresh", "leases": sorted(self.held)}
                )
            except Exception:
                continue  # the scheduler is gone: so are the leases
            for entry in lost:
                self.held.discard(tuple(entry))


_leases: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _leases_of(client: Any) -> _Leases:
    found = _leases.get(client)
    if found is None:
        found = _leases[client] = _Leases(client)
    return found


class _LeaseHolder(_Primitive):
    """Takes and gives back leases of a semaphore on the scheduler."""

    _prefix = "semaphore"

    def __init__(
        self,
        max_leases: int = 1,
        name: str | None = None,
        register: bool = True,
        client: Any = None,
    ):
        if not isinstance(max_leases, int) or isinstance(max_leases, bool) or max_leases < 1:
            raise ValueError(f"max_leases must be an int >= 1, got {max_leases!r}")
        super().__init__(name, client)
        self.max_leases = max_leases
        self._held: list[str] = []  # leases this object took, oldest first
        self._registered = False
        if register and client is not None and not client.asynchronous:
            self._with_semaphore({"op": "semaphore-value", "name": self.name}, int)

    def _with_semaphore(self, msg: dict, then: Any) -> Any:
        """Send ``msg`` once the semaphore exists on the scheduler (made on first use)."""
        client = self.client
        register = {"op": "semaphore-register", "name": self.name, "max_leases": self.max_leases}

        async def run() -> Any:
            if not self._registered:
                await client._scheduler_call(register)
                self._registered = True
            return then(await client._scheduler_call(msg))

        return client._sync(run)

    def _acquire(self, timeout: float | None) -> Any:
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        return _patiently(self._acquire_once, timeout)

    def _acquire_once(self, timeout: float | None) -> Any:
        client = self.client
        lease = uuid.uuid4().hex
        msg = {
            "op": "semaphore-acquire",
            "name": self.name,
            "lease": lease,
            "client": client.id,
            "timeout": timeout,
        }

        def then(ok: Any) -> bool:
            if ok:
                self._held.append(lease)
                _leases_of(client).add(self.name, lease)
            return bool(ok)

        return self._with_semaphore(msg, then)

    def release(self) -> Any:
        """Give back the oldest lease this object holds; RuntimeError if it
        holds none. False if the lease had expired meanwhile."""
        if not self._held:
            raise RuntimeError(f"{self!r} released more often than acquired")
        lease = self._held.pop(0)
        client = self.client
        _leases_of(client).held.discard((self.name, lease))
        return self._call({"op": "semaphore-release", "name": self.name, "lease": lease}, bool)

    def get_value(self) -> Any:
        """How many leases are held now (by anyone)."""
        return self._with_semaphore({"op": "semaphore-value", "name": self.name}, int)

    def __enter__(self) -> Self:
        self._acquire(None)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    async def __aenter__(self) -> Self:
        await self._acquire(None)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.release()

    def __reduce__(self) -> tuple:
        return (type(self), (self.max_leases, self.name))


class Semaphore(_LeaseHolder):
    """At most ``max_leases`` holders at once, across clients and tasks.

    >>> from shoal.distributed import Client
    >>> with Client(n_workers=1, processes=False) as client:
    ...     sem = Semaphore(max_leases=2, name="db")
    ...     print(sem.acquire(), sem.acquire(), sem.acquire(timeout=0.05), sem.get_value())
    ...     print(sem.release(), sem.get_value())
    True True False 2
    True 1
    """

    def acquire(self, timeout: float | None = None) -> Any:
        """Take a lease, waiting up to ``timeout`` seconds (forever if None);
        False if none came free in time."""
        return self._acquire(timeout)


class Lock(_LeaseHolder):
    """A lock held by at most one holder, across clients and tasks (a
    ``Semaphore`` of one lease: it expires if its client dies).

    >>> from shoal.distributed import Client
    >>> with Client(n_workers=1, processes=False) as client:
    ...     lock = Lock("x")
    ...     print(lock.acquire(), lock.acquire(blocking=False), lock.locked())
    ...     lock.release()
    ...     print(lock.locked())
    True False True
    True
    False
    """

    _prefix = "lock"

    def __init__(self, name: str | None = None, client: Any = None):
        super().__init__(1, name, register=True, client=client)

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> Any:
        """Take the lock; False if ``blocking`` is False and it is held, or
        if ``timeout`` seconds pass first."""
        if not blocking:
            if timeout is not None:
                raise ValueError("a non-blocking acquire cannot have a timeout")
            timeout = 0
        return self._acquire(timeout)

    def release(self) -> Any:
        """Release the lock (RuntimeError if this object does not hold it)."""
        if not self._held:
            raise RuntimeError(f"{self!r}: released, but not acquired")
        return super().release()

    def locked(self) -> Any:
        """Whether anyone holds the lock."""
        return self._with_semaphore({"op": "semaphore-value", "name": self.name}, bool)

    def __reduce__(self) -> tuple:
        return (type(self), (self.name,))


# ---------------------------------------------------------------- others


class Event(_Primitive):
    """A flag shared across clients: ``set``, ``clear``, ``is_set`` and
    ``wait(timeout)`` (False if not set in time).

    >>> from shoal.distributed import Client
    >>> with Client(n_workers=1, processes=False) as client:
    ...     ev = Event("go")
    ...     print(ev.wait(timeout=0.05), ev.is_set())
    ...     ev.set()
    ...     print(ev.wait(), ev.is_set())
    False False
    True True
    """

    _prefix = "event"

    def set(self) -> Any:
        return self._call({"op": "event-set", "name": self.name}, lambda _: None)

    def clear(self) -> Any:
        return self._call({"op": "event-clear", "name": self.name}, lambda _: None)

    def wait(self, timeout: float | None = None) -> Any:
        """Wait until set; False if ``timeout`` seconds pass first."""

        def attempt(timeout: float | None) -> Any:
            return self._call({"op": "event-wait", "name": self.name, "timeout": timeout}, bool)

        return _patiently(attempt, timeout)

    def is_set(self) -> Any:
        return self._call({"op": "event-wait", "name": self.name, "timeout": 0}, bool)


class Variable(_Primitive):
    """One value shared across clients (may hold futures): ``set``,
    ``get(timeout)`` (waits until set; TimeoutError) and ``delete``.

    >>> from shoal.distributed import Client
    >>> with Client(n_workers=1, processes=False) as client:
    ...     v = Variable("x")
    ...     v.set({"a": 1})
    ...     print(Variable("x").get())
    {'a': 1}
    """

    _prefix = "variable"

    def set(self, value: Any) -> Any:
        blob, futures = dumps_value(value)
        holder, keys = hold(futures)
        msg = {"op": "variable-set", "name": self.name, "value": blob, "keys": keys}
        msg["holder"] = holder
        return self._call(msg, lambda _: None)

    def get(self, timeout: float | None = None) -> Any:
        client = self.client

        def attempt(timeout: float | None) -> Any:
            msg = {"op": "variable-get", "name": self.name, "client": client.id}
            msg["timeout"] = timeout
            return self._call(msg, lambda reply: received(client, reply))

        return _patiently(attempt, timeout)

    def delete(self) -> Any:
        return self._call({"op": "variable-delete", "name": self.name}, lambda _: None)


def received(client: Any, reply: dict) -> Any:
    """A stored value as this client's. The scheduler made the client want
    the keys of its futures; the client says so again on its stream, after
    any release of older futures of those keys posted before (which would
    undo the first), and only then lets their holder go (a queue item's)."""
    value = loads_value(reply["value"], client)
    keys = list(reply["keys"])
    if keys:
        msgs = [{"op": "desire-keys", "keys": keys}]
        if reply.get("holder"):
            msgs.append({"op": "release-keys", "keys": keys, "client": reply["holder"]})
        for msg in msgs:
            client.loop.call_soon(client._send, msg)
    return value


class Queue(_Primitive):
    """A FIFO queue shared across clients (items may hold futures).

    >>> from shoal.distributed import Client
    >>> with Client(n_workers=1, processes=False) as client:
    ...     q = Queue("q", maxsize=2)
    ...     q.put(1)
    ...     q.put(2)
    ...     print(q.qsize(), q.get(), q.get(batch=True))
    2 1 [2]
    """

    _prefix = "queue"

    def __init__(self, name: str | None = None, client: Any = None, maxsize: int = 0):
        if not isinstance(maxsize, int) or maxsize < 0:
            raise ValueError(f"maxsize must be an int >= 0, got {maxsize!r}")
        super().__init__(name, client)
        self.maxsize = maxsize
        self._created = False

    def _with_queue(self, msg: dict, then: Any) -> Any:
        client = self.client
        create = {"op": "queue-create", "name": self.name, "maxsize": self.maxsize}

        async def run() -> Any:
            if not self._created:
                await client._scheduler_call(create)
                self._created = True
            return then(await client._scheduler_call(msg))

        return client._sync(run)

    def put(self, value: Any, timeout: float | None = None) -> Any:
        """Append ``value``; TimeoutError if the queue stays full ``timeout`` seconds."""
        blob, futures = dumps_value(value)

        def attempt(timeout: float | None) -> Any:
            holder, keys = hold(futures)
            msg: dict[str, Any] = {"op": "queue-put", "name": self.name, "value": blob}
            msg.update(keys=keys, holder=holder, timeout=timeout)
            return self._with_queue(msg, lambda _: None)

        return _patiently(attempt, timeout)

    def get(self, timeout: float | None = None, batch: bool | int = False) -> Any:
        """The next item (TimeoutError if none comes within ``timeout``);
        ``batch=True``: a list of every item there now; ``batch=n``: a list of n."""
        if batch is not True and batch is not False and (not isinstance(batch, int) or batch < 0):
            raise ValueError(f"batch must be True, False or an int >= 0, got {batch!r}")
        client = self.client

        def then(items: list) -> Any:
            values = [received(client, item) for item in items]
            return values if batch is not False else values[0]

        def attempt(timeout: float | None) -> Any:
            msg = {"op": "queue-get", "name": self.name, "client": client.id, "batch": batch}
            msg["timeout"] = timeout
            return self._with_queue(msg, then)

        return _patiently(attempt, None if batch is True else timeout)

    def qsize(self) -> Any:
        return self._with_queue({"op": "queue-qsize", "name": self.name}, int)

    def __reduce__(self) -> tuple:
        return (_queue, (self.name, self.maxsize))


def _queue(name: str, maxsize: int) -> Queue:
    return Queue(name, maxsize=maxsize)


class Pub(_Primitive):
    """Publish messages on the channel ``name``: every ``Sub`` of that name
    subscribed at the time gets each one (in order).

    >>> from shoal.distributed import Client
    >>> with Client(n_workers=1, processes=False) as client:
    ...     sub = Sub("news")
    ...     Pub("news").put("hello")
    ...     print(sub.get(timeout=5))
    hello
    """

    _prefix = "channel"

    def __init__(self, name: str, client: Any = None):
        super().__init__(name, client)

    def put(self, msg: Any) -> Any:
        blob, futures = dumps_value(msg)
        if futures:
            raise TypeError("Pub.put sends plain values, not futures (use a Queue for futures)")
        return self._call({"op": "channel-put", "name": self.name, "value": blob}, lambda _: None)


class Sub(_Primitive):
    """Receive what ``Pub`` objects of channel ``name`` publish from now on:
    ``get(timeout)`` (TimeoutError) or iterate."""

    _prefix = "channel"

    def __init__(self, name: str, client: Any = None):
        super().__init__(name, client)
        self.subscriber = uuid.uuid4().hex
        pending = self._call(
            {
                "op": "channel-subscribe",
                "name": self.name,
                "subscriber": self.subscriber,
                "client": self.client.id,
            }
        )
        if asyncio.iscoroutine(pending):  # an asynchronous client: subscribe in the background
            self._subscribing = asyncio.ensure_future(pending)

    def get(self, timeout: float | None = None) -> Any:
        """The next message; TimeoutError if none comes within ``timeout`` seconds."""
        client = self.client

        def attempt(timeout: float | None) -> Any:
            msg: dict[str, Any] = {"op": "channel-get", "name": self.name}
            msg.update(subscriber=self.subscriber, timeout=timeout)
            return self._call(msg, lambda blob: loads_value(blob, client))

        return _patiently(attempt, timeout)

    def __iter__(self) -> Sub:
        return self

    def __next__(self) -> Any:
        return self.get()

    def close(self) -> Any:
        """Stop receiving."""
        return self._call(
            {"op": "channel-unsubscribe", "subscriber": self.subscriber}, lambda _: None
        )

    def __reduce__(self) -> tuple:
        raise TypeError("a Sub cannot be pickled; make one where its messages are read")
