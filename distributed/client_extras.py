"""More of the client's verbs, as dask users call them: published datasets,
plugins, uploaded files, logs, ``retry`` and cluster information.
``Client`` inherits them (``client.py`` holds the core: submit, gather ...).

>>> from shoal.distributed import Client
>>> with Client(n_workers=1, processes=False) as client:
...     client.publish_dataset(numbers=client.scatter([1, 2, 3]))
...     print(client.list_datasets(), client.gather(client.get_dataset("numbers")))
['numbers'] [1, 2, 3]
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from shoal.distributed.future import Future
from shoal.distributed.plugins import SchedulerPlugin, WorkerPlugin, plugin_name
from shoal.distributed.primitives import dumps_value, hold, received
from shoal.distributed.protocol import ToPickle, pickle_dumps

__all__ = ["ClientExtras", "Datasets", "UploadFile"]

_NO_DEFAULT = object()


class UploadFile(WorkerPlugin):
    """The worker plugin behind ``Client.upload_file``: writes the file to
    a directory on the worker's ``sys.path`` and imports it (a ``.py`` file
    is imported, or reloaded if imported before; an ``.egg``, ``.zip`` or
    ``.whl`` goes on ``sys.path`` itself)."""

    def __init__(self, filename: str, data: bytes | None = None):
        self.filename = os.path.basename(filename)
        if data is None:
            with open(filename, "rb") as f:
                data = f.read()
        self.data = data
        self.name = f"upload-file-{self.filename}"
        self.directory: str | None = None

    def setup(self, worker: Any) -> None:
        self.directory = tempfile.mkdtemp(prefix="shoal-upload-")
        path = os.path.join(self.directory, self.filename)
        with open(path, "wb") as f:
            f.write(self.data)
        root, ext = os.path.splitext(self.filename)
        if ext in (".egg", ".zip", ".whl"):
            sys.path.insert(0, path)
        else:
            sys.path.insert(0, self.directory)
        importlib.invalidate_caches()
        if ext == ".py":
            if root in sys.modules:
                importlib.reload(sys.modules[root])
            else:
                importlib.import_module(root)

    def teardown(self, worker: Any) -> None:
        if self.directory is not None:
            for entry in (self.directory, os.path.join(self.directory, self.filename)):
                if entry in sys.path:
                    sys.path.remove(entry)
            shutil.rmtree(self.directory, ignore_errors=True)


class Datasets(MutableMapping):
    """``client.datasets``: the published datasets as a mapping."""

    def __init__(self, client: Any):
        self.client = client

    def __getitem__(self, name: str) -> Any:
        return self.client.get_dataset(name)

    def __setitem__(self, name: str, value: Any) -> None:
        self.client.publish_dataset(value, name=name, override=True)

    def __delitem__(self, name: str) -> None:
        self.client.unpublish_dataset(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.client.list_datasets())

    def __len__(self) -> int:
        return len(self.client.list_datasets())

    def __contains__(self, name: object) -> bool:
        return name in self.client.list_datasets()


class ClientExtras:
    """Mixin of ``Client`` (see module docstring); it relies on the client's
    ``_sync``, ``_scheduler_call`` and ``states``."""

    if TYPE_CHECKING:
        id: str
        states: dict

        def _sync(self, func: Any, *args: Any, **kwargs: Any) -> Any: ...

        async def _scheduler_call(self, msg: dict) -> Any: ...

        def _send(self, msg: dict, epoch: int | None = None) -> None: ...

    # ------------------------------------------------------ datasets

    def publish_dataset(
        self, *args: Any, name: str | None = None, override: bool = False, **kwargs: Any
    ) -> Any:
        """Publish named datasets (futures, persisted collections, any
        picklable value) on the scheduler, for any client to get: their
        results stay while published. ``publish_dataset(x=...)`` or
        ``publish_dataset(value, name="x")``; KeyError if a name is taken
        (unless ``override``)."""
        if args:
            if name is None or len(args) != 1:
                raise ValueError(
                    "publish_dataset takes datasets as keywords (x=...) or one value with a "
                    "name (publish_dataset(value, name='x'))"
                )
            kwargs[name] = args[0]
        elif name is not None:
            raise ValueError("publish_dataset(name=...) needs the value to publish")
        if not kwargs:
            raise ValueError("publish_dataset needs at least one dataset")
        msgs = []
        for key, value in kwargs.items():
            blob, futures = dumps_value(value)
            holder, keys = hold(futures)
            msgs.append(
                {
                    "op": "dataset-publish",
                    "name": key,
                    "value": blob,
                    "holder": holder,
                    "keys": keys,
                    "override": bool(override),
                }
            )

        async def run() -> None:
            for msg in msgs:
                await self._scheduler_call(msg)

        return self._sync(run)

    def get_dataset(self, name: str, default: Any = _NO_DEFAULT) -> Any:
        """A published dataset (its futures become this client's); KeyError
        if none has that name, unless ``default`` is given."""

        async def run() -> Any:
            try:
                reply = await self._scheduler_call(
                    {"op": "dataset-get", "name": name, "client": self.id}
                )
            except KeyError:
                if default is _NO_DEFAULT:
                    raise
                return default
            return received(self, reply)

        return self._sync(run)

    def unpublish_dataset(self, name: str) -> Any:
        """Remove a published dataset (KeyError if none has that name)."""

        async def run() -> None:
            await self._scheduler_call({"op": "dataset-unpublish", "name": name})

        return self._sync(run)

    def list_datasets(self) -> Any:
        """Names of the published datasets, sorted."""

        async def run() -> list:
            return list(await self._scheduler_call({"op": "dataset-list"}))

        return self._sync(run)

    @property
    def datasets(self) -> Datasets:
        """The published datasets as a mapping (``client.datasets["x"]``)."""
        return Datasets(self)

    # ------------------------------------------------------- plugins

    def register_plugin(
        self, plugin: Any, name: str | None = None, idempotent: bool | None = None
    ) -> Any:
        """Register a ``SchedulerPlugin`` (runs in the scheduler) or a
        ``WorkerPlugin`` (pickled to every worker, joining ones too); one
        of the same name is replaced (first torn down), unless
        ``idempotent``, which keeps the first."""
        name = plugin_name(plugin, name)
        if idempotent is None:
            idempotent = bool(getattr(plugin, "idempotent", False))
        if isinstance(plugin, SchedulerPlugin):
            msg = {"op": "register-scheduler-plugin", "plugin": ToPickle(plugin)}
        elif isinstance(plugin, WorkerPlugin) or hasattr(plugin, "setup"):
            msg = {"op": "register-worker-plugin", "plugin": pickle_dumps(plugin)}
        else:
            raise TypeError(
                f"register_plugin expects a SchedulerPlugin or a WorkerPlugin, got "
                f"{type(plugin).__name__}"
            )
        msg.update(name=name, idempotent=idempotent)

        async def run() -> Any:
            return await self._scheduler_call(msg)

        return self._sync(run)

    def register_worker_plugin(self, plugin: Any, name: str | None = None) -> Any:
        """dask's older spelling of ``register_plugin`` for worker plugins."""
        if isinstance(plugin, SchedulerPlugin):
            raise TypeError("register_worker_plugin got a SchedulerPlugin: use register_plugin")
        return self.register_plugin(plugin, name)

    def register_scheduler_plugin(
        self, plugin: Any, name: str | None = None, idempotent: bool | None = None
    ) -> Any:
        """dask's older spelling of ``register_plugin`` for scheduler plugins."""
        if not isinstance(plugin, SchedulerPlugin):
            raise TypeError(f"register_scheduler_plugin expects a SchedulerPlugin, got {plugin!r}")
        return self.register_plugin(plugin, name, idempotent)

    def unregister_worker_plugin(self, name: str) -> Any:
        """Tear down and forget a worker plugin (KeyError if unknown)."""

        async def run() -> Any:
            return await self._scheduler_call({"op": "unregister-worker-plugin", "name": name})

        return self._sync(run)

    def unregister_scheduler_plugin(self, name: str) -> Any:
        """Close and forget a scheduler plugin (KeyError if unknown)."""

        async def run() -> Any:
            return await self._scheduler_call({"op": "unregister-scheduler-plugin", "name": name})

        return self._sync(run)

    def upload_file(self, filename: str, load: bool = True) -> Any:
        """Send a local ``.py``, ``.egg``, ``.zip`` or ``.whl`` file to every
        worker (present and joining) and make it importable there."""
        if not os.path.isfile(filename):
            raise FileNotFoundError(f"upload_file: no file {filename!r}")
        plugin = UploadFile(filename)
        return self.register_plugin(plugin, plugin.name)

    # ---------------------------------------------------------- logs

    def get_worker_logs(self, n: int | None = None, workers: list | None = None) -> Any:
        """The last ``n`` log lines (all kept if None) of each worker:
        ``{address: [(level, line), ...]}``."""

        async def run() -> dict:
            replies = await self._scheduler_call(
                {"op": "broadcast", "msg": {"op": "get-logs", "n": n}, "workers": workers}
            )
            out = {}
            for address, reply in replies.items():
                if isinstance(reply, dict) and reply.get("status") == "error":
                    from shoal.distributed.server import raise_error

                    raise_error(reply)
                out[address] = [tuple(entry) for entry in reply]
            return out

        return self._sync(run)

    def get_scheduler_logs(self, n: int | None = None) -> Any:
        """The last ``n`` log lines of the scheduler, as ``(level, line)``."""

        async def run() -> list:
            reply = await self._scheduler_call({"op": "get-logs", "n": n})
            return [tuple(entry) for entry in reply]

        return self._sync(run)

    # ------------------------------------------------------- futures

    def retry(self, futures: Any) -> Any:
        """Compute erred futures again (with the erred tasks they depend on)."""
        found = [futures] if isinstance(futures, Future) else list(futures)

        async def run() -> None:
            keys = [f.key for f in found if f.status == "error"]
            if not keys:
                return
            retried = await self._scheduler_call({"op": "retry", "keys": keys})
            for key in retried:
                state = self.states.get(key)
                if state is not None and state.status == "error":
                    state.reset()

        return self._sync(run)

    # ---------------------------------------------------- cluster info

    def scheduler_info(self) -> Any:
        """The scheduler and its workers, as dask's ``scheduler_info()``:
        ``{"type", "id", "address", "workers": {address: {...}}}``."""

        async def run() -> dict:
            info = await self._scheduler_call({"op": "identity"})
            workers = {}
            for address, w in info["workers"].items():
                host = address.split("://", 1)[-1].rpartition(":")[0]
                workers[address] = {"type": "Worker", "id": w["name"], "host": host, **w}
            return {
                "type": "Scheduler",
                "id": info["address"],
                "address": info["address"],
                "workers": workers,
            }

        return self._sync(run)

    def ncores(self, workers: list | None = None) -> Any:
        """Threads of each worker (dask's older name of ``nthreads``)."""

        async def run() -> dict:
            info = await self._scheduler_call({"op": "identity"})
            return {
                a: w["nthreads"]
                for a, w in info["workers"].items()
                if workers is None or a in workers
            }

        return self._sync(run)
