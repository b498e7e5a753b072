"""The client: submits work to a scheduler and holds futures of its results.

``Client()`` starts a ``LocalCluster``; ``Client("tcp://host:port")``
connects to a running scheduler. While it is open the client is the
default backend of ``shoal.compute`` (it has ``get(graph, keys)``), so
collections compute on the cluster unchanged.

Threads: a synchronous client runs an event loop in a daemon thread; its
methods post coroutines there and wait. ``Client(asynchronous=True)`` runs
on the caller's loop and its methods return awaitables.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import threading
import uuid
from collections import ChainMap, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from shoal.core import config
from shoal.core.base import (
    collections_to_graph,
    is_collection,
    push_active_backend,
    remove_active_backend,
)
from shoal.core.delayed import _finalize_collection as finalize_collection
from shoal.core.delayed import _to_refs as keys_to_refs
from shoal.core.diagnostics.callbacks import active_callbacks
from shoal.core.graph import flatten_keys
from shoal.core.local import _collect_results as collect_results
from shoal.core.order import order_chunks
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize
from shoal.core.utils import funcname
from shoal.distributed.batched import BatchedSend
from shoal.distributed.comm import CommClosedError, connect
from shoal.distributed.future import ClientClosedError, Future, KeyState
from shoal.distributed.graph_codec import FunctionTableEncoder, KeyEncoder
from shoal.distributed.protocol import Pickled, ToPickle
from shoal.distributed.server import ConnectionPool
from shoal.distributed.sizeof import sizeof
from shoal.distributed.utils import LoopRunner, new_id

__all__ = ["Client", "fire_and_forget", "default_client"]

logger = logging.getLogger("shoal.distributed.client")

FIRE_AND_FORGET = "fire-and-forget"
_clients: list = []


def default_client() -> Client:
    """The most recent open client.

    >>> with Client(n_workers=1, processes=False) as c:
    ...     default_client() is c
    True
    """
    for c in reversed(_clients):
        if c.status == "running":
            return c
    raise ValueError("no shoal.distributed Client is open; create one with Client()")


def _replace_futures(obj: Any, found: dict) -> Any:
    """Swap futures inside arguments for ``Ref``s to their keys."""
    typ = type(obj)
    if typ is Future:
        found[obj.key] = obj
        return Ref(obj.key)
    if typ is list or typ is tuple:
        items = [_replace_futures(x, found) for x in obj]
        return items if typ is list else tuple(items)
    if typ is dict:
        return {k: _replace_futures(v, found) for k, v in obj.items()}
    return obj


_PLAIN = frozenset((int, float, str, bytes, bool, type(None)))
_MAP_BATCH = 10_000  # tasks per update-graph message of Client.map


def _token(base: str, args: tuple) -> str:
    """``tokenize(base, args)``'s role for one map call, faster when every
    argument is a plain scalar (whose repr is already deterministic).

    >>> _token("t", (1, "a")) == _token("t", (1, "a")) != _token("t", (1.0, "a"))
    True
    """
    for a in args:
        if type(a) not in _PLAIN:
            return tokenize(base, args)
    return hashlib.md5(repr((base, args)).encode(), usedforsecurity=False).hexdigest()


class Client:
    """Connect to a cluster (see module docstring).

    >>> import shoal
    >>> with Client(n_workers=2, threads_per_worker=1, processes=False) as client:
    ...     print(client.submit(pow, 2, 10).result())
    ...     print((shoal.delayed(sum)([1, 2]) * 2).compute())
    1024
    6
    """

    def __init__(
        self,
        address: Any = None,
        *,
        n_workers: int | None = None,
        threads_per_worker: int | None = None,
        processes: bool = True,
        memory_limit: Any = None,
        asynchronous: bool = False,
        set_as_default: bool = True,
        timeout: float = 30.0,
    ):
        self.id = new_id("client")
        self.asynchronous = asynchronous
        self.set_as_default = set_as_default
        self.timeout = timeout
        self.status = "init"
        self.cluster = None
        self._own_cluster = False
        self._address = address
        self._cluster_kwargs = {
            "n_workers": n_workers,
            "threads_per_worker": threads_per_worker,
            "processes": processes,
            "memory_limit": memory_limit,
        }
        self.scheduler_address = ""
        self.states: dict[Any, KeyState] = {}
        self.refcount: dict[Any, int] = defaultdict(int)
        self.lock = threading.RLock()  # re-entrant: Future.__del__ may run inside it (GC)
        self.stream: BatchedSend | None = None
        self.pool: ConnectionPool | None = None
        self._release_pending: list = []
        self._functions = FunctionTableEncoder()
        self._encode_lock = threading.Lock()
        self._graph_id = 0
        self._restarts: dict = {}
        self._progress: dict = {}
        self._read_task: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: LoopRunner | None = None
        if not asynchronous:
            self._runner = LoopRunner(name="shoal-client")
            self.loop = self._runner.loop
            try:
                self._runner.run(self._start(), timeout)
            except BaseException:
                self._runner.run(self._close())
                self._runner.stop()
                raise

    # ---------------------------------------------------------- lifecycle

    async def _start(self) -> Client:
        if self.status == "running":
            return self
        from shoal.distributed.cluster import LocalCluster

        self.loop = asyncio.get_running_loop()
        address = self._address
        if address is None:
            self.cluster = LocalCluster(asynchronous=True, **self._cluster_kwargs)
            await self.cluster._start()
            self._own_cluster = True
            address = self.cluster.scheduler_address
        elif isinstance(address, LocalCluster):
            self.cluster = address
            address = address.scheduler_address
        self.scheduler_address = address
        comm = await connect(address, timeout=self.timeout)
        await comm.write({"op": "register-client", "client": self.id})
        reply = await comm.read()
        if reply.get("status") != "ok":
            raise ConnectionError(f"scheduler at {address} refused the client: {reply}")
        self.stream = BatchedSend(name=f"{self.id}->scheduler")
        self.stream.start(comm)
        self._comm = comm
        self.pool = ConnectionPool(deserialize=False)
        self._read_task = asyncio.ensure_future(self._read(comm))
        self.status = "running"
        _clients.append(self)
        if self.set_as_default:
            push_active_backend(self)
        return self

    def __await__(self):
        return self._start().__await__()

    async def __aenter__(self) -> Client:
        return await self._start()

    async def __aexit__(self, *exc) -> None:
        await self._close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> Any:
        """Close the connection (and the local cluster this client started)."""
        if self.asynchronous:
            return self._close()
        if self._runner is None:
            return None
        try:
            self._runner.run(self._close(), 60)
        finally:
            self._runner.stop()
            self._runner = None
        return None

    async def _close(self) -> None:
        if self.status == "closed":
            return
        self.status = "closed"
        remove_active_backend(self)
        if self in _clients:
            _clients.remove(self)
        if self.stream is not None:
            try:
                self.stream.send({"op": "close-client"})
            except CommClosedError:
                pass
            await self.stream.close(timeout=2.0)
        if self._read_task is not None:
            self._read_task.cancel()
        if self.pool is not None:
            await self.pool.close()
        for state in list(self.states.values()):
            if state.status == "pending":
                state.traceback = "the client closed"
                state.finish("cancelled")
        if self._own_cluster and self.cluster is not None:
            await self.cluster._close()

    def __del__(self):
        if getattr(self, "status", "closed") != "closed" and not self.asynchronous:
            try:
                self.close()
            except Exception:
                pass

    def __repr__(self) -> str:
        return f"<Client {self.scheduler_address!r} status={self.status}>"

    # ------------------------------------------------------------ helpers

    def _sync(self, func: Callable, *args: Any, **kwargs: Any) -> Any:
        if self.asynchronous:
            return func(*args, **kwargs)
        if self.status == "closed" or self._runner is None:
            raise ClientClosedError("this client is closed")
        return self._runner.run(func(*args, **kwargs))

    def _on_loop(self, func: Callable, *args: Any) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            func(*args)
        else:
            loop.call_soon_threadsafe(func, *args)

    def _send(self, msg: dict) -> None:
        if self.status != "running":
            raise ClientClosedError("this client is closed")
        self._on_loop(self._send_now, msg)

    def _send_now(self, msg: dict) -> None:
        try:
            self.stream.send(msg)
        except CommClosedError:
            logger.info("client %s could not send %s: stream closed", self.id, msg.get("op"))

    def _inc_ref(self, key: Any) -> KeyState:
        with self.lock:
            self.refcount[key] += 1
            state = self.states.get(key)
            if state is None:
                state = self.states[key] = KeyState()
            return state

    def _dec_ref(self, key: Any) -> None:
        with self.lock:
            n = self.refcount[key] - 1
            if n > 0:
                self.refcount[key] = n
                return
            del self.refcount[key]
            self.states.pop(key, None)
            if self.status != "running":
                return
            self._release_pending.append(key)
            if len(self._release_pending) > 1:
                return
        self._on_loop(self._flush_releases)

    def _flush_releases(self) -> None:
        with self.lock:
            keys, self._release_pending = self._release_pending, []
        if keys and self.status == "running":
            self._send_now({"op": "release-keys", "keys": keys})

    async def _read(self, comm) -> None:
        try:
            while True:
                msgs = await comm.read()
                for msg in msgs:
                    op = msg["op"]
                    if op == "key-done":
                        with self.lock:
                            hooks = self._progress.pop(msg["key"], None)
                        for hook in hooks or ():
                            hook(msg["key"], None, None)
                        continue
                    if op == "restarted":
                        waiter = self._restarts.pop(msg["id"], None)
                        if waiter is not None and not waiter.done():
                            waiter.set_result(msg.get("error"))
                        continue
                    state = self.states.get(msg["key"])
                    if state is None:
                        continue
                    if op == "key-in-memory":
                        state.finish("finished")
                    elif op == "task-erred":
                        exc = msg["exception"]
                        try:
                            exc = exc.load() if type(exc) is Pickled else exc
                        except Exception as e:
                            exc = RuntimeError(
                                f"task {msg['key']!r} failed; its exception "
                                f"could not be unpickled here: {e}"
                            )
                        tb = msg.get("traceback")
                        if tb and isinstance(exc, BaseException):
                            exc.add_note(f"traceback on the worker:\n{tb}")
                        state.traceback = tb or ""
                        state.finish("error", exc)
                    elif op == "cancelled-key":
                        state.traceback = msg.get("reason", "")
                        state.finish("cancelled")
        except CommClosedError as e:
            if self.status == "running":
                logger.warning("client %s lost the scheduler: %s", self.id, e)
                for state in list(self.states.values()):
                    if state.status == "pending":
                        state.traceback = f"lost the scheduler: {e}"
                        state.finish("cancelled")
        except asyncio.CancelledError:
            pass

    # ----------------------------------------------------------- submit

    def _key_for(self, func: Callable, args: tuple, kwargs: dict, pure: bool) -> str:
        token = tokenize(func, args, kwargs) if pure else uuid.uuid4().hex
        return f"{funcname(func)}-{token}"

    def submit(
        self,
        func: Callable,
        *args: Any,
        key: Any = None,
        pure: bool = True,
        retries: int | None = None,
        **kwargs: Any,
    ) -> Future:
        """Run ``func(*args, **kwargs)`` on the cluster; futures among the
        arguments are replaced by their results.

        >>> with Client(n_workers=1, processes=False) as c:
        ...     a = c.submit(abs, -5)
        ...     print(c.submit(max, a, 3).result())
        5
        """
        if not callable(func):
            raise TypeError(f"submit expects a callable first, got {type(func).__name__}")
        if key is None:
            key = self._key_for(func, args, kwargs, pure)
        deps: dict = {}
        task = Task(func, *_replace_futures(list(args), deps), **_replace_futures(kwargs, deps))
        future = Future(key, self)
        self._send_tasks([key], [task], [task.dependencies], [key], retries)
        return future

    def map(
        self,
        func: Callable,
        *iterables: Iterable,
        key: Any = None,
        pure: bool = True,
        retries: int | None = None,
        **kwargs: Any,
    ) -> list[Future]:
        """``submit`` over zipped iterables, sent to the scheduler in one message.

        >>> with Client(n_workers=1, processes=False) as c:
        ...     print(c.gather(c.map(pow, [1, 2, 3], [2, 2, 2])))
        [1, 4, 9]
        """
        if not callable(func):
            raise TypeError(f"map expects a callable first, got {type(func).__name__}")
        arg_lists = list(zip(*[list(it) for it in iterables]))
        if key is not None and not isinstance(key, str):
            given = list(key)
            if len(given) != len(arg_lists):
                raise ValueError(f"map got {len(given)} keys for {len(arg_lists)} tasks")

            def make_keys(lo: int, hi: int) -> list:
                return given[lo:hi]
        else:
            prefix = key or funcname(func)
            base = tokenize(func, kwargs) if pure else uuid.uuid4().hex

            def make_keys(lo: int, hi: int) -> list:
                if pure:
                    return [f"{prefix}-{_token(base, args)}" for args in arg_lists[lo:hi]]
                return [f"{prefix}-{base}-{i}" for i in range(lo, min(hi, len(arg_lists)))]

        # sent in batches, so the cluster starts on the first ones while the
        # client still builds the rest of a very long map
        futures: list[Future] = []
        for lo in range(0, len(arg_lists), _MAP_BATCH):
            hi = lo + _MAP_BATCH
            keys = make_keys(lo, hi)
            tasks = []
            deps = []
            for args in arg_lists[lo:hi]:
                if any(type(a) is Future for a in args) or any(
                    type(v) is Future for v in kwargs.values()
                ):
                    found: dict = {}
                    t = Task(
                        func,
                        *_replace_futures(list(args), found),
                        **_replace_futures(kwargs, found),
                    )
                else:
                    t = Task(func, *args, **kwargs)
                tasks.append(t)
                deps.append(t.dependencies)
            futures.extend(Future(k, self) for k in keys)
            self._send_tasks(keys, tasks, deps, keys, retries)
        return futures

    def _send_tasks(
        self,
        keys: list,
        nodes: list,
        deps: list,
        wanted: list,
        retries: int | None = None,
        watch: bool = False,
    ) -> None:
        """Send tasks: ``keys``/``nodes`` in execution order, ``deps[i]``
        holding positions in ``keys`` (ints) and keys from outside (futures)."""
        chunk = int(config.get("distributed.client.graph-chunk"))
        chunks = (
            (keys[lo : lo + chunk], nodes[lo : lo + chunk], deps[lo : lo + chunk])
            for lo in range(0, max(len(keys), 1), chunk)
        )
        self._send_chunks(chunks, wanted, retries, watch)

    def _send_chunks(
        self, chunks: Iterable, wanted: list, retries: int | None = None, watch: bool = False
    ) -> None:
        """Send a graph in the compact form of ``graph_codec``, one message
        per chunk of ``(keys, nodes, deps)``, each as soon as it is encoded
        (so the cluster starts on the first tasks of a big graph at once).

        If producing a chunk raises after earlier ones went out, a last empty
        chunk withdraws them (the scheduler lets go of the whole graph).
        """
        with self._encode_lock:
            self._graph_id += 1
            gid = self._graph_id
            key_enc = KeyEncoder()
            encode = key_enc.encode
            funcs = self._functions

            def message(keys, nodes, deps, first: bool, final: bool) -> dict:
                msg = {
                    "op": "update-graph",
                    "graph": gid,
                    "first": first,
                    "final": final,
                    "specs": [funcs.dumps(node) for node in nodes],
                    "keys": [encode(k) for k in keys],
                    "deps": [[d if type(d) is int else (encode(d),) for d in ds] for ds in deps],
                    "wanted": [encode(k) for k in wanted] if final else [],
                    "retries": int(retries or 0),
                    "watch": watch,
                }
                msg["names"] = key_enc.take_names()
                msg["funcs"] = funcs.take_new()
                return msg

            first = True
            pending = None  # one chunk is held back: the last one goes out with ``final``
            try:
                for chunk in chunks:
                    if pending is not None:
                        self._send(message(*pending, first, False))
                        first = False
                    pending = chunk
                self._send(message(*(pending or ([], [], [])), first, True))
            except BaseException:
                if not first:
                    self._send(message([], [], [], False, True))
                raise
            finally:
                funcs.forget_objects()

    def _graph_to_futures(
        self, graph: Any, wanted: list, retries: int | None = None, posttask: list | None = None
    ) -> dict:
        wanted = list(dict.fromkeys(wanted))
        chunk = int(config.get("distributed.client.graph-chunk"))
        held: list = []  # futures standing in the graph, alive until it is sent
        futures = {k: Future(k, self) for k in wanted}
        chunks = _without_futures(order_chunks(graph, wanted, chunk), held)
        if posttask:
            chunks = self._watching(chunks, posttask)
        self._send_chunks(chunks, wanted, retries, watch=bool(posttask))
        del held
        return futures

    def _watching(self, chunks: Iterable, posttask: list) -> Iterable:
        """Chunks passed through, their keys registered for progress callbacks."""
        for keys, nodes, deps in chunks:
            with self.lock:
                for k in keys:
                    self._progress[k] = posttask
            yield keys, nodes, deps

    # ------------------------------------------------------------ gather

    async def _gather_keys(self, keys: list) -> list:
        """Values of keys that are finished (fetched directly from workers)."""
        results: dict = {}
        missing = list(dict.fromkeys(keys))
        attempts = 0
        while missing:
            for key in missing:
                state = self.states.get(key)
                if state is not None and state.status == "error":
                    raise state.exception
                if state is not None and state.status == "cancelled":
                    from shoal.distributed.future import CancelledError

                    raise CancelledError(f"future {key!r} was cancelled: {state.traceback}")
            who_has = await self._scheduler_call({"op": "who-has", "keys": missing})
            by_worker: dict = defaultdict(list)
            for key in missing:
                holders = who_has.get(key)
                if holders:
                    by_worker[random.choice(holders)].append(key)

            async def fetch(address, ks):
                try:
                    return (await self.pool.call(address, {"op": "get-data", "keys": ks}))["data"]
                except (CommClosedError, OSError):
                    return {}

            replies = await asyncio.gather(*(fetch(a, ks) for a, ks in by_worker.items()))
            for data in replies:
                for k, v in data.items():
                    results[k] = v.load() if type(v) is Pickled else v
            missing = [k for k in missing if k not in results]
            if missing:
                attempts += 1
                await asyncio.sleep(min(0.5, 0.01 * attempts))
        return [results[k] for k in keys]

    async def _scheduler_call(self, msg: dict) -> Any:
        return await self.pool.call(self.scheduler_address, msg)

    async def _gather(self, futures: list) -> list:
        for f in futures:
            if f.client is not self:
                raise ValueError(f"future {f.key!r} belongs to another client")
            await f._wait()
            if f.status == "error":
                raise f._state.exception
            if f.status == "cancelled":
                from shoal.distributed.future import CancelledError

                raise CancelledError(f"future {f.key!r} was cancelled: {f._state.traceback}")
        return await self._gather_keys([f.key for f in futures])

    def gather(self, futures: Any) -> Any:
        """Results of futures, in the same structure (future, list, tuple, dict).

        >>> with Client(n_workers=1, processes=False) as c:
        ...     print(c.gather({"a": c.submit(abs, -1), "b": [c.submit(abs, -2)]}))
        {'a': 1, 'b': [2]}
        """
        flat: list = []

        def collect(obj):
            typ = type(obj)
            if typ is Future:
                flat.append(obj)
            elif typ in (list, tuple, set):
                for x in obj:
                    collect(x)
            elif typ is dict:
                for x in obj.values():
                    collect(x)

        collect(futures)

        def rebuild(obj, values):
            typ = type(obj)
            if typ is Future:
                return values[obj.key]
            if typ in (list, tuple, set):
                return typ(rebuild(x, values) for x in obj)
            if typ is dict:
                return {k: rebuild(v, values) for k, v in obj.items()}
            return obj

        async def run():
            nonlocal collect, rebuild
            try:
                values = await self._gather(flat)
                return rebuild(futures, dict(zip([f.key for f in flat], values)))
            finally:
                # the recursive closures form reference cycles: break them, so
                # the futures are released now rather than by the cyclic collector
                collect = rebuild = None
                flat.clear()

        return self._sync(run)

    # ----------------------------------------------------------- backend

    def get(
        self,
        graph: dict,
        keys: Any,
        retries: int | None = None,
        callbacks: list | None = None,
        **kwargs: Any,
    ) -> Any:
        """The backend protocol: compute ``keys`` of ``graph`` on the cluster.

        Active callbacks (``shoal.ProgressBar`` ...) get ``start``, one
        ``posttask`` per task as the scheduler reports it, and ``finish``.
        """
        flat = flatten_keys(keys)
        cbs = list(active_callbacks()) + list(callbacks or ())
        for cb in cbs:
            if cb.start is not None:
                cb.start(graph)
        posttask = [cb.posttask for cb in cbs if cb.posttask is not None]
        errored = True
        try:
            futures = self._graph_to_futures(graph, flat, retries, posttask)
            values = self.gather([futures[k] for k in flat])
            errored = False
        finally:
            if posttask:
                with self.lock:
                    for k in graph:
                        self._progress.pop(k, None)
            for cb in cbs:
                if cb.finish is not None:
                    cb.finish(graph, errored)
        return collect_results(keys, dict(zip(flat, values)))

    def compute(self, collections: Any, retries: int | None = None, optimize_graph: bool = True):
        """Start computing collections; returns a future per collection (of its
        final value) with the same nesting as a list, or one future.

        >>> import shoal
        >>> with Client(n_workers=1, processes=False) as c:
        ...     print(c.compute(shoal.delayed(sum)([1, 2])).result())
        3
        """
        single = is_collection(collections)
        items = [collections] if single else list(collections)
        colls = [c for c in items if is_collection(c)]
        graph, keys = collections_to_graph(colls, optimize_graph)
        finals: dict = {}
        for c, ks in zip(colls, keys):
            finalize, extra = c.__shoal_postcompute__()
            fkey = f"finalize-{tokenize(ks, id(finalize))}"
            finals[fkey] = Task(finalize_collection, keys_to_refs(ks), finalize, tuple(extra))
        final_keys = list(finals)
        # the graph is only read (it may be a compact Mapping): the finalize
        # tasks sit in front of it
        futures = self._graph_to_futures(ChainMap(finals, graph), final_keys, retries)
        it = iter(final_keys)
        out = [futures[next(it)] if is_collection(c) else c for c in items]
        return out[0] if single else out

    def persist(self, collections: Any, optimize_graph: bool = True, **kwargs: Any):
        """Start computing collections; return new ones backed by futures.

        >>> import shoal
        >>> with Client(n_workers=1, processes=False) as c:
        ...     p = c.persist(shoal.delayed(sum)([1, 2]))
        ...     print(p.compute())
        3
        """
        single = is_collection(collections)
        colls = [collections] if single else list(collections)
        graph, keys = collections_to_graph(colls, optimize_graph)
        flat = flatten_keys(keys)
        futures = self._graph_to_futures(graph, flat)
        out = []
        for c, ks in zip(colls, keys):
            rebuild, extra = c.__shoal_postpersist__()
            out.append(rebuild({k: futures[k] for k in flatten_keys(ks)}, *extra))
        return out[0] if single else out

    # ------------------------------------------------------- more verbs

    def scatter(self, data: Any, workers: list | None = None) -> Any:
        """Place local data on workers; returns futures (same structure:
        one value, a list, or a dict whose keys become the keys).

        >>> with Client(n_workers=1, processes=False) as c:
        ...     f = c.scatter([1, 2, 3])
        ...     print(c.submit(sum, f).result())
        6
        """
        if isinstance(data, dict):
            items = list(data.items())
        elif isinstance(data, (list, tuple)):
            items = [(f"{type(v).__name__}-{tokenize(v)}", v) for v in data]
        else:
            items = [(f"{type(data).__name__}-{tokenize(data)}", data)]
        futures = [Future(k, self) for k, _ in items]

        async def run():
            targets = (
                list(workers)
                if workers
                else list((await self._scheduler_call({"op": "identity"}))["workers"])
            )
            if not targets:
                raise ValueError("scatter needs at least one worker in the cluster")
            per_worker: dict = defaultdict(dict)
            start = random.randrange(len(targets))
            for i, (k, v) in enumerate(items):
                per_worker[targets[(start + i) % len(targets)]][k] = v
            placed = {}
            for address, chunk in per_worker.items():
                reply = await self.pool.call(
                    address,
                    {"op": "update-data", "data": {k: ToPickle(v) for k, v in chunk.items()}},
                )
                for k in chunk:
                    placed[k] = ([address], reply["nbytes"].get(k, sizeof(chunk[k])))
            self.stream.send({"op": "update-data", "data": placed})

        self._sync(run)
        if isinstance(data, dict):
            return dict(zip(data, futures))
        if isinstance(data, (list, tuple)):
            return type(data)(futures)
        return futures[0]

    def cancel(self, futures: Any) -> None:
        """Stop computing these futures' keys (for this client)."""
        if isinstance(futures, Future):
            futures = [futures]
        keys = list({f.key for f in futures})
        self._send({"op": "cancel-keys", "keys": keys})

    def run(
        self, function: Callable, *args: Any, workers: list | None = None, **kwargs: Any
    ) -> Any:
        """Run ``function(*args, **kwargs)`` on every worker (it gets the worker as
        ``shoal_worker=`` if it takes that argument); returns {address: result}.

        >>> import os
        >>> with Client(n_workers=2, processes=False) as c:
        ...     print(len(c.run(os.getpid)))
        2
        """
        msg = {
            "op": "run",
            "function": ToPickle(function),
            "args": ToPickle(args),
            "kwargs": ToPickle(kwargs),
        }

        async def run():
            replies = await self._scheduler_call(
                {"op": "broadcast", "msg": msg, "workers": workers}
            )
            out = {}
            for address, reply in replies.items():
                if reply.get("status") == "error":
                    from shoal.distributed.server import raise_error

                    raise_error(reply)
                value = reply["result"]
                out[address] = value.load() if type(value) is Pickled else value
            return out

        return self._sync(run)

    def run_on_scheduler(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run ``function`` in the scheduler process (it gets the scheduler as
        ``shoal_scheduler=`` if it takes that argument).

        >>> def count_workers(shoal_scheduler):
        ...     return len(shoal_scheduler.state.workers)
        >>> with Client(n_workers=2, processes=False) as c:
        ...     print(c.run_on_scheduler(count_workers))
        2
        """

        async def run():
            reply = await self._scheduler_call(
                {
                    "op": "run-on-scheduler",
                    "function": ToPickle(function),
                    "args": ToPickle(args),
                    "kwargs": ToPickle(kwargs),
                }
            )
            value = reply["result"]
            return value.load() if type(value) is Pickled else value

        return self._sync(run)

    def restart(self, timeout: float = 60.0) -> None:
        """Restart every worker (through its nanny) and forget all tasks; all
        futures are cancelled."""

        async def run():
            # through the stream, so graphs sent before are known to be forgotten
            request = uuid.uuid4().hex
            waiter = self._restarts[request] = asyncio.get_running_loop().create_future()
            self.stream.send({"op": "restart", "id": request, "timeout": timeout})
            error = await asyncio.wait_for(waiter, timeout + 10)
            if error is not None:
                from shoal.distributed.server import raise_error

                raise_error(error)

        return self._sync(run)

    def nthreads(self) -> dict:
        """Threads of each worker: {address: nthreads}."""

        async def run():
            info = await self._scheduler_call({"op": "identity"})
            return {a: w["nthreads"] for a, w in info["workers"].items()}

        return self._sync(run)

    def wait_for_workers(self, n: int, timeout: float = 60.0) -> None:
        """Block until at least ``n`` workers are connected."""

        async def run():
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                info = await self._scheduler_call({"op": "identity"})
                if len(info["workers"]) >= n:
                    return
                if loop.time() > deadline:
                    raise TimeoutError(f"{len(info['workers'])} of {n} workers after {timeout}s")
                await asyncio.sleep(0.05)

        return self._sync(run)


def _without_futures(chunks: Iterable, held: list) -> Iterable:
    """Chunks of an ordered graph with the futures standing in it left out
    (they are on the cluster already): their dependents refer to their keys
    instead of their positions. A future under another key becomes an alias.
    """
    remap: list | None = None  # position -> position among sent tasks, or a key
    seen = sent = 0
    for keys, nodes, deps in chunks:
        if remap is None and not any(type(n) is Future for n in nodes):
            seen += len(keys)
            sent += len(keys)
            yield keys, nodes, deps
            continue
        if remap is None:
            remap = list(range(seen))
        out_keys, out_nodes, out_deps = [], [], []
        for key, node, ds in zip(keys, nodes, deps):
            if type(node) is Future:
                held.append(node)
                if node.key == key:
                    remap.append(key)
                    continue
                node, ds = Ref(node.key), (node.key,)
            else:
                ds = tuple([remap[d] for d in ds])
            remap.append(sent)
            sent += 1
            out_keys.append(key)
            out_nodes.append(node)
            out_deps.append(ds)
        yield out_keys, out_nodes, out_deps


def fire_and_forget(futures: Any) -> None:
    """Let the tasks run to completion even after their futures are dropped.

    >>> with Client(n_workers=1, processes=False) as c:
    ...     fire_and_forget(c.submit(abs, -1))
    """
    if isinstance(futures, Future):
        futures = [futures]
    futures = list(futures)
    if not futures:
        return
    client = futures[0].client
    client._send({"op": "desire-keys", "keys": [f.key for f in futures], "client": FIRE_AND_FORGET})
