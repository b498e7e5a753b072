"""The scheduler's coordination state: semaphores (and so locks) with
expiring leases, events, variables, queues, publish/subscribe channels and
published datasets. The client-side classes are in ``primitives.py``.

Values arrive as bytes pickled by the client (``primitives.dumps_value``),
so no user code runs on the scheduler. A value holding futures comes with
their keys: the scheduler keeps those results alive for the value (a
pseudo-client wants them) and, when a client takes the value, makes that
client want them too before letting go.

A lease is held until it is released, until its client disconnects, or
until its client stops refreshing it for
``distributed.scheduler.locks.lease-timeout`` seconds (a frozen process
keeps its connection open): a lock is never granted twice.

>>> import asyncio
>>> from shoal.distributed.scheduler import Scheduler
>>> async def demo():
...     async with Scheduler() as s:
...         c = s.coordination
...         c.semaphore_register(None, "s", 1)
...         first = await c.semaphore_acquire(None, "s", "lease-1", "client-1", 0)
...         second = await c.semaphore_acquire(None, "s", "lease-2", "client-2", 0)
...         return first, second, c.semaphore_value(None, "s")
>>> asyncio.run(demo())
(True, False, 1)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from shoal.core import config
from shoal.distributed.scheduler_events import RemoveClient, UpdateGraph

__all__ = ["Coordination"]

logger = logging.getLogger("shoal.distributed.coordination")

HOLD_WAIT = 30.0  # seconds a stored value's futures may take to reach the scheduler

config.update_defaults(
    {
        "distributed": {
            "scheduler": {"locks": {"lease-timeout": 30.0, "lease-validation-interval": 5.0}}
        }
    },
    {
        "distributed.scheduler.locks.lease-timeout": "Seconds a Lock or Semaphore lease lives "
        "without its client refreshing it (a client refreshes its leases every "
        "lease-validation-interval); then another client may take it.",
        "distributed.scheduler.locks.lease-validation-interval": "Seconds between a client's "
        "refreshes of its leases, and between the scheduler's checks for expired ones.",
    },
)


class _Semaphore:
    __slots__ = ("max_leases", "leases", "changed")

    def __init__(self, max_leases: int):
        self.max_leases = max_leases
        self.leases: dict[str, tuple[str, float]] = {}  # lease id -> (client, last refresh)
        self.changed = asyncio.Condition()


async def _wait_until(cond: asyncio.Condition, predicate: Any, timeout: float | None) -> bool:
    """Wait on ``cond`` until ``predicate()`` (False after ``timeout`` seconds)."""
    if predicate():
        return True
    if timeout is not None and timeout <= 0:
        return False
    async with cond:
        try:
            await asyncio.wait_for(cond.wait_for(predicate), timeout)
        except TimeoutError:
            return predicate()
    return True


async def _notify(cond: asyncio.Condition) -> None:
    async with cond:
        cond.notify_all()


class Coordination:
    """Coordination state of one scheduler; ``handlers()`` are its operations."""

    def __init__(self, scheduler: Any):
        self.scheduler = scheduler
        self.semaphores: dict[str, _Semaphore] = {}
        self.events: dict[str, asyncio.Event] = {}
        self.variables: dict[str, tuple[bytes, list, str]] = {}  # name -> value, keys, holder
        self.variable_set = asyncio.Condition()
        self.queues: dict[str, asyncio.Queue] = {}
        self.channels: dict[str, dict[str, deque]] = {}  # name -> subscriber id -> messages
        self.channel_clients: dict[str, str] = {}  # subscriber id -> its client
        self.published = asyncio.Condition()
        self.datasets: dict[str, tuple[bytes, list, str]] = {}
        self._handed: set[str] = set()  # holders of taken queue items (see queue_get)
        self._expiry: asyncio.Task | None = None

    def handlers(self) -> dict:
        return {
            "semaphore-register": self.semaphore_register,
            "semaphore-acquire": self.semaphore_acquire,
            "semaphore-release": self.semaphore_release,
            "semaphore-refresh": self.semaphore_refresh,
            "semaphore-value": self.semaphore_value,
            "event-set": self.event_set,
            "event-clear": self.event_clear,
            "event-wait": self.event_wait,
            "variable-set": self.variable_set_value,
            "variable-get": self.variable_get,
            "variable-delete": self.variable_delete,
            "queue-create": self.queue_create,
            "queue-put": self.queue_put,
            "queue-get": self.queue_get,
            "queue-qsize": self.queue_qsize,
            "channel-subscribe": self.channel_subscribe,
            "channel-unsubscribe": self.channel_unsubscribe,
            "channel-put": self.channel_put,
            "channel-get": self.channel_get,
            "dataset-publish": self.dataset_publish,
            "dataset-get": self.dataset_get,
            "dataset-unpublish": self.dataset_unpublish,
            "dataset-list": self.dataset_list,
        }

    def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()

    # ------------------------------------------------- held results

    async def _held(self, holder: str, keys: list) -> str:
        """Wait until ``holder`` wants ``keys``: the client that stores a value
        names a pseudo-client ``holder`` on its own stream, after the graph
        making the keys and before any release of them, while this request
        may arrive first on another connection."""
        if not keys:
            return holder
        state = self.scheduler.state
        deadline = time.monotonic() + HOLD_WAIT
        while True:
            wants = state.clients.get(holder)
            if wants is not None and all(state.tasks.get(k) in wants for k in keys):
                return holder
            if time.monotonic() > deadline:
                self._let_go(holder)
                raise ValueError(
                    f"the futures {keys!r} of a stored value are unknown to the scheduler "
                    f"{HOLD_WAIT}s later (released before they were stored?)"
                )
            await asyncio.sleep(0.005)

    def _hand_over(self, keys: list, client: str, holder: str | None) -> None:
        """``client`` takes the results of a stored value (wants them before
        ``holder``, if given, lets go)."""
        if keys and client:
            self._handle(UpdateGraph(client, [], [], [], [], list(keys)))
        if holder is not None:
            self._let_go(holder)

    def _let_go(self, holder: str) -> None:
        self._handle(RemoveClient(holder))

    def _handle(self, event: Any) -> None:
        event.stimulus_id = self.scheduler._next_stim("coordination")
        self.scheduler.handle(event)

    def client_left(self, client: str) -> None:
        """A client disconnected: its leases and subscriptions end."""
        for name, sem in self.semaphores.items():
            gone = [lid for lid, (c, _) in sem.leases.items() if c == client]
            for lid in gone:
                del sem.leases[lid]
                logger.info("lease %s of semaphore %r released: client %s left", lid, name, client)
            if gone:
                asyncio.ensure_future(_notify(sem.changed))
        for sub in [s for s, c in self.channel_clients.items() if c == client]:
            self._unsubscribe(sub)

    # --------------------------------------------------- semaphores

    def semaphore_register(self, comm: Any, name: str, max_leases: int) -> str:
        if not isinstance(max_leases, int) or max_leases < 1:
            raise ValueError(f"a semaphore needs max_leases >= 1, got {max_leases!r}")
        sem = self.semaphores.get(name)
        if sem is None:
            self.semaphores[name] = _Semaphore(max_leases)
        elif sem.max_leases != max_leases:
            raise ValueError(
                f"semaphore {name!r} exists with max_leases={sem.max_leases}, not {max_leases}"
            )
        self._start_timer()
        return "ok"

    def _start_timer(self) -> None:
        if self._expiry is None:
            self._expiry = asyncio.ensure_future(self._expire())

    def _semaphore(self, name: str) -> _Semaphore:
        sem = self.semaphores.get(name)
        if sem is None:
            raise KeyError(f"no semaphore named {name!r} on this scheduler (create it first)")
        return sem

    async def semaphore_acquire(
        self, comm: Any, name: str, lease: str, client: str, timeout: float | None = None
    ) -> bool:
        sem = self._semaphore(name)
        if lease in sem.leases:
            raise ValueError(f"lease {lease!r} of semaphore {name!r} is held already")
        ok = await _wait_until(sem.changed, lambda: len(sem.leases) < sem.max_leases, timeout)
        if ok:
            sem.leases[lease] = (client, time.monotonic())
        return ok

    async def semaphore_release(self, comm: Any, name: str, lease: str) -> bool:
        """Whether the lease was held (False: it expired or was never granted)."""
        sem = self._semaphore(name)
        if sem.leases.pop(lease, None) is None:
            return False
        await _notify(sem.changed)
        return True

    def semaphore_refresh(self, comm: Any, leases: list) -> list:
        """Refresh ``[(name, lease id)]``; returns those no longer held."""
        now = time.monotonic()
        lost = []
        for name, lease in leases:
            sem = self.semaphores.get(name)
            if sem is None or lease not in sem.leases:
                lost.append((name, lease))
                continue
            sem.leases[lease] = (sem.leases[lease][0], now)
        return lost

    def semaphore_value(self, comm: Any, name: str) -> int:
        return len(self._semaphore(name).leases)

    async def _expire(self) -> None:
        """Expire leases not refreshed in time; forget the holders of taken
        queue items once their client let go of them."""
        while True:
            timeout = float(config.get("distributed.scheduler.locks.lease-timeout"))
            interval = float(config.get("distributed.scheduler.locks.lease-validation-interval"))
            await asyncio.sleep(min(interval, timeout / 4))
            now = time.monotonic()
            for name, sem in self.semaphores.items():
                old = [lid for lid, (_, seen) in sem.leases.items() if now - seen > timeout]
                for lid in old:
                    client = sem.leases.pop(lid)[0]
                    logger.warning(
                        "lease %s of semaphore %r expired: client %s did not refresh it for %gs",
                        lid,
                        name,
                        client,
                        timeout,
                    )
                if old:
                    await _notify(sem.changed)
            clients = self.scheduler.state.clients
            for holder in [h for h in self._handed if not clients.get(h)]:
                self._handed.discard(holder)
                self._let_go(holder)

    # ------------------------------------------------------- events

    def _event(self, name: str) -> asyncio.Event:
        event = self.events.get(name)
        if event is None:
            event = self.events[name] = asyncio.Event()
        return event

    def event_set(self, comm: Any, name: str) -> str:
        self._event(name).set()
        return "ok"

    def event_clear(self, comm: Any, name: str) -> str:
        self._event(name).clear()
        return "ok"

    async def event_wait(self, comm: Any, name: str, timeout: float | None = None) -> bool:
        event = self._event(name)
        if event.is_set():
            return True
        if timeout is not None and timeout <= 0:
            return False
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # ---------------------------------------------------- variables

    async def variable_set_value(
        self, comm: Any, name: str, value: bytes, keys: list, holder: str
    ) -> str:
        await self._held(holder, keys)
        old = self.variables.get(name)
        self.variables[name] = (value, list(keys), holder)
        if old is not None:
            self._let_go(old[2])
        await _notify(self.variable_set)
        return "ok"

    async def variable_get(
        self, comm: Any, name: str, client: str, timeout: float | None = None
    ) -> dict:
        if not await _wait_until(self.variable_set, lambda: name in self.variables, timeout):
            raise TimeoutError(f"variable {name!r} was not set within {timeout}s")
        value, keys, _ = self.variables[name]
        self._hand_over(keys, client, None)
        return {"value": value, "keys": keys}

    def variable_delete(self, comm: Any, name: str) -> str:
        old = self.variables.pop(name, None)
        if old is not None:
            self._let_go(old[2])
        return "ok"

    # ------------------------------------------------------- queues

    def queue_create(self, comm: Any, name: str, maxsize: int = 0) -> str:
        if name not in self.queues:
            self.queues[name] = asyncio.Queue(maxsize=int(maxsize))
        return "ok"

    def _queue(self, name: str) -> asyncio.Queue:
        queue = self.queues.get(name)
        if queue is None:
            raise KeyError(f"no queue named {name!r} on this scheduler (create it first)")
        return queue

    async def queue_put(
        self,
        comm: Any,
        name: str,
        value: bytes,
        keys: list,
        holder: str,
        timeout: float | None = None,
    ) -> str:
        queue = self._queue(name)
        item = (value, list(keys), await self._held(holder, keys))
        try:
            if timeout is not None and timeout <= 0:
                queue.put_nowait(item)
            else:
                await asyncio.wait_for(queue.put(item), timeout)
        except (TimeoutError, asyncio.QueueFull):
            self._let_go(item[2])
            raise TimeoutError(f"queue {name!r} stayed full for {timeout}s") from None
        return "ok"

    async def queue_get(
        self, comm: Any, name: str, client: str, timeout: float | None = None, batch: Any = False
    ) -> list:
        """One item (``batch`` False), all items there now (True) or ``batch`` items."""
        queue = self._queue(name)
        items = []
        if batch is True:
            while not queue.empty():
                items.append(queue.get_nowait())
        else:
            for _ in range(1 if batch is False else int(batch)):
                try:
                    if timeout is not None and timeout <= 0:
                        items.append(queue.get_nowait())
                    else:
                        items.append(await asyncio.wait_for(queue.get(), timeout))
                except (TimeoutError, asyncio.QueueEmpty):
                    for item in reversed(items):  # nothing is lost: back they go
                        queue._queue.appendleft(item)  # type: ignore[attr-defined]
                    raise TimeoutError(f"queue {name!r} stayed empty for {timeout}s") from None
        # the client wants the keys now; their holder lets go once the client
        # says so on its stream, after its own word that it wants them (a
        # release of an older future of the same key, sent before this call on
        # that stream, may arrive after this and must not free them meanwhile)
        for _, keys, holder in items:
            self._hand_over(keys, client, None)
            if keys:
                self._handed.add(holder)
                self._start_timer()
            else:
                self._let_go(holder)
        return [{"value": value, "keys": keys, "holder": holder} for value, keys, holder in items]

    def queue_qsize(self, comm: Any, name: str) -> int:
        return self._queue(name).qsize()

    # ----------------------------------------------- publish/subscribe

    def channel_subscribe(self, comm: Any, name: str, subscriber: str, client: str) -> str:
        self.channels.setdefault(name, {})[subscriber] = deque()
        self.channel_clients[subscriber] = client
        return "ok"

    def _unsubscribe(self, subscriber: str) -> None:
        self.channel_clients.pop(subscriber, None)
        for name, subs in list(self.channels.items()):
            subs.pop(subscriber, None)
            if not subs:
                del self.channels[name]

    def channel_unsubscribe(self, comm: Any, subscriber: str) -> str:
        self._unsubscribe(subscriber)
        return "ok"

    async def channel_put(self, comm: Any, name: str, value: bytes) -> int:
        """Deliver to every current subscriber; returns how many."""
        subs = self.channels.get(name, {})
        for messages in subs.values():
            messages.append(value)
        await _notify(self.published)
        return len(subs)

    async def channel_get(
        self, comm: Any, name: str, subscriber: str, timeout: float | None = None
    ) -> bytes:
        messages = self.channels.get(name, {}).get(subscriber)
        if messages is None:
            raise KeyError(f"subscriber {subscriber!r} is not subscribed to {name!r}")
        if not await _wait_until(self.published, lambda: bool(messages), timeout):
            raise TimeoutError(f"no message on {name!r} within {timeout}s")
        return messages.popleft()

    # ----------------------------------------------------- datasets

    async def dataset_publish(
        self, comm: Any, name: str, value: bytes, keys: list, holder: str, override: bool = False
    ) -> str:
        if name in self.datasets and not override:
            self._let_go(holder)
            raise KeyError(f"dataset {name!r} is published already (override=True replaces it)")
        await self._held(holder, keys)
        old = self.datasets.get(name)
        self.datasets[name] = (value, list(keys), holder)
        if old is not None:
            self._let_go(old[2])
        return "ok"

    def dataset_get(self, comm: Any, name: str, client: str) -> dict:
        found = self.datasets.get(name)
        if found is None:
            raise KeyError(f"no dataset named {name!r} is published")
        value, keys, _ = found
        self._hand_over(keys, client, None)
        return {"value": value, "keys": keys}

    def dataset_unpublish(self, comm: Any, name: str) -> str:
        old = self.datasets.pop(name, None)
        if old is None:
            raise KeyError(f"no dataset named {name!r} is published")
        self._let_go(old[2])
        return "ok"

    def dataset_list(self, comm: Any) -> list:
        return sorted(self.datasets)
