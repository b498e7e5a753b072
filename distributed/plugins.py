"""Scheduler and worker plugins, as dask users write them.

Subclass ``SchedulerPlugin`` or ``WorkerPlugin``, override the hooks you
need and hand an instance to ``Client.register_plugin``. A scheduler plugin
gets ``start(scheduler)``, ``transition(key, start, finish, stimulus_id=)``
for every task transition, ``add_worker``/``remove_worker``,
``add_client``/``remove_client`` and ``close()``. A worker plugin is
pickled to every worker (present and future ones) and gets ``setup(worker)``,
``transition(key, start, finish, stimulus_id=)`` for every task transition
on that worker and ``teardown(worker)`` when the worker closes or the plugin
is replaced/unregistered. Hooks may be coroutines (``start``, ``close``,
``setup``, ``teardown``). A hook that raises is logged; it does not break
the scheduler or worker.

Transitions are seen through the state machines' stories (each records
``key, start, finish, stimulus`` per transition), so a cluster without
plugins pays nothing.

>>> class Count(SchedulerPlugin):
...     def __init__(self):
...         self.n = 0
...     def transition(self, key, start, finish, *args, **kwargs):
...         self.n += finish == "memory"
>>> plugin = Count()
>>> plugin.transition("x", "processing", "memory")
>>> plugin.n
1
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import pickle
from collections import deque
from typing import Any

from shoal.distributed.protocol import Pickled

__all__ = [
    "SchedulerPlugin",
    "WorkerPlugin",
    "PluginHost",
    "SchedulerPlugins",
    "WorkerPlugins",
    "plugin_name",
]

logger = logging.getLogger("shoal.distributed.plugins")


class SchedulerPlugin:
    """Base class of scheduler plugins: every hook does nothing by default."""

    name: str | None = None
    idempotent: bool = False

    def start(self, scheduler: Any) -> Any:
        """Called once registered (on the scheduler's event loop)."""

    def close(self) -> Any:
        """Called when the scheduler closes."""

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        """A task went from state ``start`` to ``finish``."""

    def add_worker(self, scheduler: Any = None, worker: str = "") -> None:
        """A worker joined."""

    def remove_worker(self, scheduler: Any = None, worker: str = "", **kwargs: Any) -> None:
        """A worker left."""

    def add_client(self, scheduler: Any = None, client: str = "") -> None:
        """A client connected."""

    def remove_client(self, scheduler: Any = None, client: str = "") -> None:
        """A client disconnected."""


class WorkerPlugin:
    """Base class of worker plugins: every hook does nothing by default."""

    name: str | None = None
    idempotent: bool = False

    def setup(self, worker: Any) -> Any:
        """Called on each worker once registered (and on workers joining later)."""

    def teardown(self, worker: Any) -> Any:
        """Called when the worker closes or the plugin goes."""

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        """A task on this worker went from ``start`` to ``finish``."""


def plugin_name(plugin: Any, name: str | None = None) -> str:
    """The name a plugin is registered under: ``name``, its ``name`` attribute,
    or its class name.

    >>> plugin_name(WorkerPlugin()), plugin_name(WorkerPlugin(), "mine")
    ('WorkerPlugin', 'mine')
    """
    return name or getattr(plugin, "name", None) or type(plugin).__name__


def _report(hook: str, plugin: Any) -> None:
    logger.exception("plugin %s: its %s hook raised", plugin_name(plugin), hook)


async def call_hook(plugin: Any, hook: str, *args: Any, **kwargs: Any) -> None:
    """Call ``plugin.hook(*args, **kwargs)`` (awaiting it if it is a coroutine); log errors."""
    method = getattr(plugin, hook, None)
    if method is None:
        return
    try:
        result = method(*args, **kwargs)
        if inspect.isawaitable(result):
            await result
    except Exception:
        _report(hook, plugin)


class _WatchedStory(deque):
    """A state machine's story that also tells plugins of each transition."""

    def __init__(self, old: deque, host: PluginHost):
        super().__init__(old, maxlen=old.maxlen)
        self.host = host

    def extend(self, entry: Any) -> None:
        super().extend(entry)
        key, start, finish, stim = entry
        if start != "worker":  # worker status changes share the story
            self.host.transition(key, start, finish, stim)


class PluginHost:
    """The plugins of one scheduler or worker (``owner``), by name; ``state``
    is the owner's state machine, whose story is watched while plugins exist."""

    def __init__(self, owner: Any, state: Any):
        self.owner = owner
        self.state = state
        self.plugins: dict[str, Any] = {}

    async def add(self, plugin: Any, name: str, first_hook: str) -> None:
        old = self.plugins.pop(name, None)
        if old is not None:
            await call_hook(old, "teardown" if first_hook == "setup" else "close", self.owner)
        self.plugins[name] = plugin
        if type(self.state._story) is not _WatchedStory:
            self.state._story = _WatchedStory(self.state._story, self)
        await call_hook(plugin, first_hook, self.owner)

    async def remove(self, name: str, last_hook: str) -> None:
        plugin = self.plugins.pop(name, None)
        if plugin is None:
            raise KeyError(f"no plugin named {name!r} is registered")
        await call_hook(plugin, last_hook, *([self.owner] if last_hook == "teardown" else []))

    async def close(self, last_hook: str) -> None:
        for name in list(self.plugins):
            await self.remove(name, last_hook)

    def transition(self, key: Any, start: str, finish: str, stim: str) -> None:
        for plugin in list(self.plugins.values()):
            try:
                plugin.transition(key, start, finish, stimulus_id=stim)
            except Exception:
                _report("transition", plugin)

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Call a synchronous hook (add_worker ...) of every plugin."""
        for plugin in list(self.plugins.values()):
            method = getattr(plugin, hook, None)
            if method is None:
                continue
            try:
                result = method(scheduler=self.owner, **kwargs)
                if inspect.isawaitable(result):
                    asyncio.ensure_future(result)
            except Exception:
                _report(hook, plugin)


def _load(value: Any) -> Any:
    """A plugin as sent: pickled bytes (worker plugins, which the scheduler
    only forwards) or a ``Pickled`` (scheduler plugins)."""
    if isinstance(value, bytes):
        return pickle.loads(value)
    return value.load() if type(value) is Pickled else value


class SchedulerPlugins(PluginHost):
    """The scheduler's plugins plus the worker plugins it hands to every
    worker, joining ones included (``handlers()`` are the client's operations)."""

    def __init__(self, scheduler: Any):
        super().__init__(scheduler, scheduler.state)
        self.worker_plugins: dict[str, Any] = {}  # name -> pickled plugin

    def handlers(self) -> dict:
        return {
            "register-scheduler-plugin": self.register_scheduler_plugin,
            "unregister-scheduler-plugin": self.unregister_scheduler_plugin,
            "register-worker-plugin": self.register_worker_plugin,
            "unregister-worker-plugin": self.unregister_worker_plugin,
        }

    async def register_scheduler_plugin(
        self, comm: Any, plugin: Any, name: str, idempotent: bool = False
    ) -> str:
        if idempotent and name in self.plugins:
            return "ok"
        await self.add(_load(plugin), name, "start")
        return "ok"

    async def unregister_scheduler_plugin(self, comm: Any, name: str) -> str:
        await self.remove(name, "close")
        return "ok"

    async def _on_workers(self, msg: dict, workers: list) -> dict:
        pool = self.owner.pool
        replies = await asyncio.gather(
            *(pool.call(w, dict(msg)) for w in workers), return_exceptions=True
        )
        return dict(zip(workers, replies))

    async def register_worker_plugin(
        self, comm: Any, plugin: Any, name: str, idempotent: bool = False
    ) -> dict:
        if idempotent and name in self.worker_plugins:
            return {}
        self.worker_plugins[name] = plugin
        msg = {"op": "plugin-add", "plugin": plugin, "name": name}
        replies = await self._on_workers(msg, list(self.owner.worker_info))
        for reply in replies.values():
            if isinstance(reply, BaseException):
                raise reply
        return {a: "ok" for a in replies}

    async def unregister_worker_plugin(self, comm: Any, name: str) -> str:
        if self.worker_plugins.pop(name, None) is None:
            raise KeyError(f"no worker plugin named {name!r} is registered")
        await self._on_workers({"op": "plugin-remove", "name": name}, list(self.owner.worker_info))
        return "ok"

    def worker_added(self, address: str) -> None:
        """Hand the worker plugins to a joining worker (in the background)."""
        self.notify("add_worker", worker=address)
        if not self.worker_plugins:
            return
        plugins = dict(self.worker_plugins)

        async def send() -> None:
            for name, plugin in plugins.items():
                msg = {"op": "plugin-add", "plugin": plugin, "name": name}
                try:
                    await self.owner.pool.call(address, msg)
                except Exception as e:
                    logger.warning("could not give plugin %s to worker %s: %s", name, address, e)

        asyncio.ensure_future(send())


class WorkerPlugins(PluginHost):
    """A worker's plugins (``handlers()``: what the scheduler asks of it)."""

    def handlers(self) -> dict:
        return {"plugin-add": self.plugin_add, "plugin-remove": self.plugin_remove}

    async def plugin_add(self, comm: Any, plugin: Any, name: str) -> str:
        await self.add(_load(plugin), name, "setup")
        return "ok"

    async def plugin_remove(self, comm: Any, name: str) -> str:
        if name in self.plugins:
            await self.remove(name, "teardown")
        return "ok"
