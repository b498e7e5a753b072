"""The client: submits work to a scheduler and holds futures of its results.

``Client()`` starts a ``LocalCluster``; ``Client("tcp://host:port")``
connects to a running scheduler. While it is open the client is the
default backend of ``shoal.compute`` (it has ``get(graph, keys)``), so
collections compute on the cluster unchanged.

Threads: a synchronous client runs an event loop in a daemon thread; its
methods post coroutines there and wait. ``Client(asynchronous=True)`` runs
on the caller's loop and its methods return awaitables.

Losing the scheduler (its connection closes, or it stays silent past
``distributed.client.scheduler-ttl`` although the client sends heartbeats):
``status`` turns ``"reconnecting"`` (``reconnect=True``, the default) or
``"closed"``, and every future the client held, pending or finished, is
cancelled with the reason (their results are gone with the scheduler;
``lost_keys`` lists them). While reconnecting, the client retries the same
address in the background; calls that need the scheduler wait up to
``distributed.client.reconnect-wait`` seconds for it and then raise
``SchedulerLostError``. Once a scheduler answers there again the client is
``"running"`` and logs which futures were lost; submitting them again
computes them again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import threading
import time
import uuid
from collections import ChainMap, defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from shoal.core import config
from shoal.core.annotate import KNOWN, current_annotations, normalize_annotations
from shoal.core.base import (
    collections_to_graph,
    finalize_collection,
    is_collection,
    push_active_backend,
    remove_active_backend,
)
from shoal.core.diagnostics.callbacks import active_callbacks
from shoal.core.graph import flatten_keys, keys_to_refs, pack_results
from shoal.core.order import order_chunks
from shoal.core.task import Fused, Ref, Task
from shoal.core.tokenize import tokenize
from shoal.core.utils import funcname
from shoal.distributed.batched import BatchedSend
from shoal.distributed.client_extras import ClientExtras
from shoal.distributed.comm import AuthenticationError, Comm, CommClosedError, connect
from shoal.distributed.future import ClientClosedError, Future, KeyState
from shoal.distributed.graph_codec import FunctionTableEncoder, KeyEncoder
from shoal.distributed.protocol import Pickled, ToPickle
from shoal.distributed.security import Security
from shoal.distributed.server import ConnectionPool
from shoal.distributed.sizeof import sizeof
from shoal.distributed.utils import LoopRunner, new_id

if TYPE_CHECKING:
    from shoal.distributed.cluster import LocalCluster

__all__ = ["Client", "fire_and_forget", "default_client", "SchedulerLostError"]

logger = logging.getLogger("shoal.distributed.client")

FIRE_AND_FORGET = "fire-and-forget"
_clients: list = []


class SchedulerLostError(ConnectionError):
    """The client's scheduler is gone (and did not come back in time)."""


def default_client() -> Client:
    """The most recent open client.

    >>> with Client(n_workers=1, processes=False) as c:
    ...     default_client() is c
    True
    """
    running = [c for c in reversed(_clients) if c.status == "running"]
    for c in running:  # one made with set_as_default=False only if no other is open
        if c.set_as_default:
            return c
    if running:
        return running[0]
    raise ValueError("no shoal.distributed Client is open; create one with Client()")


# scheduler keywords of other clients that shoal's does not take: rejected
# rather than passed on to the user's function
_UNSUPPORTED = ("fifo_timeout", "actor", "actors", "annotations")


def _reject_unsupported(what: str, kwargs: dict) -> None:
    """Refuse scheduler keywords shoal does not support (``fifo_timeout``...).

    >>> _reject_unsupported("submit", {"fifo_timeout": "1s"})
    Traceback (most recent call last):
    ...
    TypeError: submit: unsupported scheduler keyword 'fifo_timeout' (known: priority, retries, workers, allow_other_workers, resources, concurrency, key, pure); to pass it to the function, bind it with functools.partial
    """
    for name in _UNSUPPORTED:
        if name in kwargs:
            raise TypeError(
                f"{what}: unsupported scheduler keyword {name!r} (known: {', '.join(KNOWN)}, "
                "key, pure); to pass it to the function, bind it with functools.partial"
            )


def _call_annotations(
    what: str,
    priority: Any,
    workers: Any,
    allow_other_workers: Any,
    resources: Any,
    concurrency: Any,
    retries: Any,
    context: bool = False,
) -> dict[str, Any] | None:
    """The annotations one call gives all its tasks (validated), over those
    of a ``shoal.annotate`` block in force when ``context``.

    >>> _call_annotations("map", 2, "w1", None, None, None, None)
    {'priority': 2, 'workers': ('w1',)}
    """
    found = normalize_annotations(
        {
            "priority": priority,
            "workers": workers,
            "allow_other_workers": allow_other_workers,
            "resources": resources,
            "concurrency": concurrency,
            "retries": retries,
        },
        what,
    )
    if context:
        outer = current_annotations()
        if outer:
            found = {**outer, **found}
    return found or None


class _Annotator:
    """The ``annotations`` entry of graph messages: for each annotated task,
    its position in the message and its annotations (its own, over the
    call's). Task annotations are validated once per distinct dict (tasks of
    one operation share one); names shoal's scheduler does not know are left out.
    """

    __slots__ = ("call", "_seen")

    def __init__(self, call: dict[str, Any] | None) -> None:
        self.call = call
        self._seen: dict[int, tuple[Any, dict[str, Any] | None]] = {}

    def positions(self, keys: list, nodes: list) -> dict[int, dict[str, Any]]:
        call = self.call
        out: dict[int, dict[str, Any]] = {}
        for i, node in enumerate(nodes):
            typ = type(node)
            own = node.annotations if typ is Task or typ is Fused else None
            if own:
                ann = self._merged(own, keys[i])
                if ann:
                    out[i] = ann
            elif call:
                out[i] = call
        return out

    def _merged(self, own: dict, key: Any) -> dict[str, Any] | None:
        seen = self._seen.get(id(own))
        if seen is not None and seen[0] is own:
            return seen[1]
        known = {k: v for k, v in own.items() if k in KNOWN}
        ann = normalize_annotations(known, f"task {key!r}") if known else {}
        merged = {**self.call, **ann} if self.call else ann
        self._seen[id(own)] = (own, merged or None)
        return merged or None


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


class Client(ClientExtras):
    """Connect to a cluster (see module docstring).

    >>> import shoal
    >>> with Client(n_workers=2, threads_per_worker=1, processes=False) as client:
    ...     print(client.submit(pow, 2, 10).result())
    ...     print((shoal.delayed(sum)([1, 2]) * 2).compute())
    1024
    6
    """

    # what the workers offer the tasks they run (shoal.core.services): the
    # dataframe shuffle and array rechunk choose peer-to-peer exchanges here
    shoal_services = ("exchange",)

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
        security: Security | None = None,
        reconnect: bool | None = None,
    ):
        self.id = new_id("client")
        self.security = security
        if reconnect is None:
            reconnect = bool(config.get("distributed.client.reconnect"))
        self.reconnect = reconnect
        self.lost_keys: list = []  # the keys of the futures lost with the last scheduler
        self._lost_reason = ""
        self._epoch = 0  # bumped when the scheduler is lost: graphs encoded before are void
        self._connected = threading.Event()  # set while running (for the user's threads)
        self._last_heard = 0.0
        self._heartbeat_task: asyncio.Task | None = None
        self._reconnect_task: asyncio.Task | None = None
        self._comm: Comm | None = None
        self.asynchronous = asynchronous
        self.set_as_default = set_as_default
        self.timeout = timeout
        self.status = "init"
        self.cluster: LocalCluster | None = None
        self._own_cluster = False
        self._dashboard_link = ""
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
                self._runner = None
                raise

    # ---------------------------------------------------------- lifecycle

    async def _start(self) -> Client:
        if self.status == "running":
            return self
        from shoal.distributed.cluster import LocalCluster

        self.loop = asyncio.get_running_loop()
        address = self._address
        if address is None:
            self.cluster = LocalCluster(
                asynchronous=True, security=self.security, **self._cluster_kwargs
            )
            await self.cluster._start()
            self._own_cluster = True
            address = self.cluster.scheduler_address
        elif isinstance(address, LocalCluster):
            self.cluster = address
            address = address.scheduler_address
        if self.security is None:
            self.security = (
                self.cluster.security if self.cluster is not None else Security.from_config()
            )
        self.scheduler_address = address
        self.pool = ConnectionPool(deserialize=False, security=self.security)
        await self._connect(self.timeout)
        if self.cluster is None:  # a scheduler elsewhere: ask it for its dashboard
            info = await self._scheduler_call({"op": "identity"})
            self._dashboard_link = _reachable_link(str(info.get("dashboard", "")), address)
        self._heartbeat_task = asyncio.ensure_future(self._heartbeats())
        _clients.append(self)
        if self.set_as_default:
            push_active_backend(self)
        return self

    async def _connect(self, timeout: float) -> None:
        """Open the stream to the scheduler and register (again, after a loss)."""
        address = self.scheduler_address
        comm = await connect(address, timeout=timeout, security=self.security)
        try:
            await comm.write({"op": "register-client", "client": self.id})
            reply = await asyncio.wait_for(comm.read(), timeout)
        except BaseException:
            comm.abort()
            raise
        if reply.get("status") != "ok":
            comm.abort()
            raise ConnectionError(f"scheduler at {address} refused the client: {reply}")
        self.stream = BatchedSend(name=f"{self.id}->scheduler")
        self.stream.start(comm)
        self._comm = comm
        self._last_heard = time.monotonic()
        self._read_task = asyncio.ensure_future(self._read(comm))
        self.status = "running"
        self._connected.set()

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
        self._connected.clear()
        for task in (self._heartbeat_task, self._reconnect_task):
            if task is not None:
                task.cancel()
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
        self._fail_restarts(ClientClosedError("the client closed"))
        if self._own_cluster and self.cluster is not None:
            await self.cluster._close()

    def shutdown(self) -> Any:
        """Close the scheduler (its workers then stop) and this client. A
        scheduler run by ``shoal-scheduler`` exits with code 3."""

        async def run():
            try:
                await asyncio.wait_for(
                    self._scheduler_call({"op": "close", "reason": f"shutdown by {self.id}"}),
                    self.timeout,
                )
            except (CommClosedError, OSError, TimeoutError):
                pass  # it closed before it could answer
            await self._close()

        if self.asynchronous:
            return run()
        if self._runner is None:
            return None
        try:
            self._runner.run(run(), self.timeout + 60)
        finally:
            self._runner.stop()
            self._runner = None
        return None

    # --------------------------------------------------- scheduler health

    async def _heartbeats(self) -> None:
        """Ask the scheduler for a sign of life every ``heartbeat-interval``;
        one silent for ``scheduler-ttl`` seconds is taken as lost (a stopped or
        unreachable host closes no connection)."""
        interval = float(config.get("distributed.client.heartbeat-interval"))
        ttl = float(config.get("distributed.client.scheduler-ttl"))
        while self.status != "closed":
            await asyncio.sleep(interval)
            if self.status != "running":
                continue
            silence = time.monotonic() - self._last_heard
            if silence > ttl:
                self._lost(f"no word from it for {silence:.1f}s (distributed.client.scheduler-ttl)")
                continue
            assert self.stream is not None  # set before the status turns running
            try:
                self.stream.send({"op": "heartbeat"})
            except CommClosedError:
                pass  # the read loop reports the loss

    def _lost(self, reason: str) -> None:
        """The scheduler is gone: every future is lost (see module docstring)."""
        if self.status != "running":
            return
        when = time.strftime("%H:%M:%S")
        self._lost_reason = f"lost the scheduler {self.scheduler_address} at {when}: {reason}"
        self._connected.clear()
        self._epoch += 1
        self._functions = FunctionTableEncoder()  # the next scheduler knows no functions
        self.status = "reconnecting" if self.reconnect else "closing"
        if self.stream is not None:
            self.stream.abort()
        # idle connections in the pool lead to the lost scheduler and its workers
        stale, self.pool = self.pool, ConnectionPool(deserialize=False, security=self.security)
        assert stale is not None  # set before the status turns running
        asyncio.ensure_future(stale.close())
        with self.lock:  # an erred future keeps its error: it lives here, not on the cluster
            lost = [
                (k, st) for k, st in self.states.items() if st.status in ("pending", "finished")
            ]
            self.lost_keys = [k for k, _ in lost]
            self._release_pending = []
            states = [st for _, st in lost]
        note = f"the client {self._lost_reason}; the result went with it (submit it again" + (
            " once the client has reconnected)" if self.reconnect else " on a new client)"
        )
        for state in states:
            state.traceback = note
            state.finish("cancelled")
        self._fail_restarts(SchedulerLostError(f"the client {self._lost_reason}"))
        logger.warning(
            "client %s %s; %d futures lost%s",
            self.id,
            self._lost_reason,
            len(self.lost_keys),
            "; reconnecting" if self.reconnect else "",
        )
        if self.reconnect:
            self._reconnect_task = asyncio.ensure_future(self._reconnect())
        else:
            asyncio.ensure_future(self._close())

    def _fail_restarts(self, error: BaseException) -> None:
        for waiter in list(self._restarts.values()):
            if not waiter.done():
                waiter.set_exception(error)
        self._restarts.clear()

    async def _reconnect(self) -> None:
        """Try the same address until a scheduler answers (or the client closes)."""
        delay = 0.05
        refused = ""
        while self.status == "reconnecting":
            try:
                await self._connect(timeout=2.0)
            except AuthenticationError as e:
                if str(e) != refused:
                    refused = str(e)
                    logger.warning("client %s cannot reconnect: %s", self.id, e)
            except (CommClosedError, OSError, TimeoutError):
                pass
            else:
                shown = ", ".join(repr(k) for k in self.lost_keys[:20])
                more = f" and {len(self.lost_keys) - 20} more" if len(self.lost_keys) > 20 else ""
                logger.warning(
                    "client %s reconnected to %s; %d futures were lost with the old scheduler "
                    "(results gone, submit them again): %s%s",
                    self.id,
                    self.scheduler_address,
                    len(self.lost_keys),
                    shown,
                    more,
                )
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _await_scheduler(self) -> None:
        """Return once connected; while reconnecting wait up to
        ``reconnect-wait`` seconds, then raise ``SchedulerLostError``."""
        if self.status == "running":
            return
        if self.status == "reconnecting":
            wait = float(config.get("distributed.client.reconnect-wait"))
            deadline = time.monotonic() + wait
            while self.status == "reconnecting" and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if self.status == "running":
                return
            raise SchedulerLostError(
                f"the client {self._lost_reason}; it is still reconnecting after waiting "
                f"{wait:g}s (distributed.client.reconnect-wait)"
            )
        raise ClientClosedError(self._closed_message())

    def _closed_message(self) -> str:
        if self._lost_reason:
            return f"this client is closed: it {self._lost_reason}"
        return "this client is closed"

    def __del__(self):
        if getattr(self, "_runner", None) is not None and not self.asynchronous:
            try:
                self.close()
            except Exception:
                pass

    def __repr__(self) -> str:
        return f"<Client {self.scheduler_address!r} status={self.status}>"

    @property
    def dashboard_link(self) -> str:
        """The link to the scheduler's dashboard ("" without one).

        >>> with Client(n_workers=1, processes=False) as c:
        ...     print(c.dashboard_link.startswith("http://127.0.0.1:"))
        True
        """
        if self.cluster is not None:
            return self.cluster.dashboard_link
        return self._dashboard_link

    # ------------------------------------------------------------ helpers

    def _sync(self, func: Callable, *args: Any, **kwargs: Any) -> Any:
        if self.asynchronous:
            return func(*args, **kwargs)
        if self.status == "closed" or self._runner is None:
            raise ClientClosedError(self._closed_message())
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

    def _send(self, msg: dict, epoch: int | None = None) -> None:
        """Post ``msg`` to the scheduler (see ``_wait_until_connected``).
        ``epoch``: the one a graph message was encoded in; a graph straddling
        the loss of the scheduler raises ``SchedulerLostError``."""
        self._wait_until_connected()
        if epoch is not None and epoch != self._epoch:
            raise SchedulerLostError(
                f"the client {self._lost_reason} while this graph was being sent; submit it again"
            )
        with self.lock:  # releases from now on go after this message, in a batch of their own
            self._release_pending = []
        self._on_loop(self._send_now, msg, self._epoch if epoch is None else epoch)

    def _wait_until_connected(self) -> None:
        """Return if connected. While reconnecting, a user thread waits up to
        ``reconnect-wait`` seconds for the scheduler (the event loop cannot
        wait), then ``SchedulerLostError``; a closed client raises at once."""
        if self.status == "reconnecting" and not self._on_own_loop():
            self._connected.wait(float(config.get("distributed.client.reconnect-wait")))
        if self.status == "reconnecting":
            raise SchedulerLostError(
                f"the client {self._lost_reason}; it is still reconnecting "
                "(distributed.client.reconnect-wait)"
            )
        if self.status != "running":
            raise ClientClosedError(self._closed_message())

    def _on_own_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def _send_now(self, msg: dict, epoch: int) -> None:
        if epoch != self._epoch:
            return  # encoded for a scheduler that is gone: its futures are lost already
        assert self.stream is not None  # _send waited for the connection
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
            elif state.status == "cancelled":
                state.reset()  # submitted again (after a cancel or a lost scheduler)
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
            batch = self._release_pending
            batch.append(key)
            if len(batch) > 1:
                return  # its flush is on its way, and no message was posted since
        self._on_loop(self._flush_releases, batch, self._epoch)

    def _flush_releases(self, batch: list, epoch: int) -> None:
        """Send a batch of releases, in its place among the posted messages: a
        release must not overtake the graph that made its key (the scheduler
        would then ignore it and keep the key for good)."""
        with self.lock:
            if self._release_pending is batch:
                self._release_pending = []
        if batch and self.status == "running":
            self._send_now({"op": "release-keys", "keys": batch}, epoch)

    async def _read(self, comm) -> None:
        try:
            while True:
                msgs = await comm.read()
                self._last_heard = time.monotonic()
                for msg in msgs:
                    op = msg["op"]
                    if op == "heartbeat":
                        continue
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
            if comm is self._comm:
                self._lost(f"the connection closed ({e})")
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
        priority: int | None = None,
        workers: str | Iterable[str] | None = None,
        allow_other_workers: bool | None = None,
        resources: dict[str, float] | None = None,
        concurrency: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> Future:
        """Run ``func(*args, **kwargs)`` on the cluster; futures among the
        arguments are replaced by their results.

        The keywords above ``**kwargs`` are the scheduler's and never reach
        ``func`` (pass such names to ``func`` with ``functools.partial``):
        ``priority`` (higher first), ``workers`` (addresses, names or hosts
        it must run on), ``allow_other_workers`` (``workers`` only a
        preference), ``resources`` (``{"GPU": 1}`` held while it runs),
        ``concurrency`` (``{"pool": n}``: at most n tasks of the pool run at
        once), ``retries``; a ``shoal.annotate`` block in force adds its own.

        >>> with Client(n_workers=1, processes=False) as c:
        ...     a = c.submit(abs, -5, priority=10)
        ...     print(c.submit(max, a, 3, retries=2).result())
        5
        """
        if not callable(func):
            raise TypeError(f"submit expects a callable first, got {type(func).__name__}")
        _reject_unsupported("submit", kwargs)
        annotations = _call_annotations(
            "submit", priority, workers, allow_other_workers, resources, concurrency, retries, True
        )
        if key is None:
            key = self._key_for(func, args, kwargs, pure)
        deps: dict = {}
        task = Task(func, *_replace_futures(list(args), deps), **_replace_futures(kwargs, deps))
        future = Future(key, self)
        self._send_tasks(
            [key], [task], [task.dependencies], [key], retries, annotations=annotations
        )
        return future

    def map(
        self,
        func: Callable,
        *iterables: Iterable,
        key: Any = None,
        pure: bool = True,
        retries: int | None = None,
        priority: int | None = None,
        workers: str | Iterable[str] | None = None,
        allow_other_workers: bool | None = None,
        resources: dict[str, float] | None = None,
        concurrency: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> list[Future]:
        """``submit`` over zipped iterables, sent to the scheduler in one
        message; the scheduler's keywords (see ``submit``) apply to every task.

        >>> with Client(n_workers=1, processes=False) as c:
        ...     print(c.gather(c.map(pow, [1, 2, 3], [2, 2, 2], concurrency={"io": 2})))
        [1, 4, 9]
        """
        if not callable(func):
            raise TypeError(f"map expects a callable first, got {type(func).__name__}")
        _reject_unsupported("map", kwargs)
        annotations = _call_annotations(
            "map", priority, workers, allow_other_workers, resources, concurrency, retries, True
        )
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
            self._send_tasks(keys, tasks, deps, keys, retries, annotations=annotations)
        return futures

    def _send_tasks(
        self,
        keys: list,
        nodes: list,
        deps: list,
        wanted: list,
        retries: int | None = None,
        watch: bool = False,
        annotations: dict[str, Any] | None = None,
    ) -> None:
        """Send tasks: ``keys``/``nodes`` in execution order, ``deps[i]``
        holding positions in ``keys`` (ints) and keys from outside (futures)."""
        chunk = int(config.get("distributed.client.graph-chunk"))
        chunks = (
            (keys[lo : lo + chunk], nodes[lo : lo + chunk], deps[lo : lo + chunk])
            for lo in range(0, max(len(keys), 1), chunk)
        )
        self._send_chunks(chunks, wanted, retries, watch, annotations)

    def _send_chunks(
        self,
        chunks: Iterable,
        wanted: list,
        retries: int | None = None,
        watch: bool = False,
        annotations: dict[str, Any] | None = None,
    ) -> None:
        """Send a graph in the compact form of ``graph_codec``, one message
        per chunk of ``(keys, nodes, deps)``, each as soon as it is encoded
        (so the cluster starts on the first tasks of a big graph at once).

        Each message carries the annotations of its tasks by position: a
        task's own (``shoal.annotate``) over the call's ``annotations``.

        If producing a chunk raises after earlier ones went out, a last empty
        chunk withdraws them (the scheduler lets go of the whole graph).
        """
        self._wait_until_connected()  # before encoding: the table starts anew after a loss
        with self._encode_lock:
            self._graph_id += 1
            gid = self._graph_id
            key_enc = KeyEncoder()
            encode = key_enc.encode
            funcs = self._functions
            epoch = self._epoch
            annotator = _Annotator(annotations)

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
                found = annotator.positions(keys, nodes)
                if found:
                    msg["annotations"] = found
                msg["names"] = key_enc.take_names()
                msg["funcs"] = funcs.take_new()
                return msg

            first = True
            # one chunk is held back: the last one goes out with ``final``
            pending: tuple[list, list, list] | None = None
            try:
                for chunk in chunks:
                    if pending is not None:
                        self._send(message(*pending, first, False), epoch)
                        first = False
                    pending = chunk
                self._send(message(*(pending or ([], [], [])), first, True), epoch)
            except BaseException:
                if not first and self.status == "running":
                    self._send(message([], [], [], False, True), epoch)
                raise
            finally:
                funcs.forget_objects()

    def _graph_to_futures(
        self,
        graph: Any,
        wanted: list,
        retries: int | None = None,
        posttask: list | None = None,
        annotations: dict[str, Any] | None = None,
    ) -> dict:
        wanted = list(dict.fromkeys(wanted))
        chunk = int(config.get("distributed.client.graph-chunk"))
        held: list = []  # futures standing in the graph, alive until it is sent
        futures = {k: Future(k, self) for k in wanted}
        chunks = _without_futures(order_chunks(graph, wanted, chunk), held)
        if posttask:
            chunks = self._watching(chunks, posttask)
        self._send_chunks(chunks, wanted, retries, bool(posttask), annotations)
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
            if self.status != "running":
                await self._await_scheduler()
            for key in missing:
                state = self.states.get(key)
                if state is not None and state.status == "error":
                    raise state.error()
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
        await self._await_scheduler()
        assert self.pool is not None  # set before the status turns running
        try:
            return await self.pool.call(self.scheduler_address, msg)
        except (CommClosedError, OSError) as e:
            if self.status == "running":
                raise
            raise SchedulerLostError(f"the client {self._lost_reason}") from e

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
        return pack_results(keys, dict(zip(flat, values)))

    def compute(
        self,
        collections: Any,
        retries: int | None = None,
        optimize_graph: bool = True,
        *,
        priority: int | None = None,
        workers: str | Iterable[str] | None = None,
        allow_other_workers: bool | None = None,
        resources: dict[str, float] | None = None,
        concurrency: dict[str, int] | None = None,
    ):
        """Start computing collections; returns a future per collection (of its
        final value) with the same nesting as a list, or one future.

        ``priority``, ``workers``, ``allow_other_workers``, ``resources``,
        ``concurrency`` and ``retries`` apply to every task (see ``submit``);
        annotations the tasks got from ``shoal.annotate`` take precedence.

        >>> import shoal
        >>> with Client(n_workers=1, processes=False) as c:
        ...     print(c.compute(shoal.delayed(sum)([1, 2]), priority=1).result())
        3
        """
        annotations = _call_annotations(
            "compute", priority, workers, allow_other_workers, resources, concurrency, retries
        )
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
        futures = self._graph_to_futures(
            ChainMap(finals, graph), final_keys, retries, annotations=annotations
        )
        it = iter(final_keys)
        out = [futures[next(it)] if is_collection(c) else c for c in items]
        return out[0] if single else out

    def persist(
        self,
        collections: Any,
        optimize_graph: bool = True,
        *,
        retries: int | None = None,
        priority: int | None = None,
        workers: str | Iterable[str] | None = None,
        allow_other_workers: bool | None = None,
        resources: dict[str, float] | None = None,
        concurrency: dict[str, int] | None = None,
    ):
        """Start computing collections; return new ones backed by futures.
        The scheduler's keywords apply to every task (see ``compute``).

        >>> import shoal
        >>> with Client(n_workers=1, processes=False) as c:
        ...     p = c.persist(shoal.delayed(sum)([1, 2]), workers=list(c.cluster.workers))
        ...     print(p.compute())
        3
        """
        annotations = _call_annotations(
            "persist", priority, workers, allow_other_workers, resources, concurrency, retries
        )
        single = is_collection(collections)
        colls = [collections] if single else list(collections)
        graph, keys = collections_to_graph(colls, optimize_graph)
        flat = flatten_keys(keys)
        futures = self._graph_to_futures(graph, flat, retries, annotations=annotations)
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
                else list(await self._scheduler_call({"op": "workers-for-data"}))
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
            await self._await_scheduler()
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

    def _futures_of(self, futures: Any, what: str) -> list[Future]:
        """``futures`` (a future or an iterable of them) as a list, checked."""
        found = [futures] if isinstance(futures, Future) else list(futures)
        for f in found:
            if not isinstance(f, Future):
                raise TypeError(f"{what} expects futures, got {type(f).__name__}")
            if f.client is not self:
                raise ValueError(f"future {f.key!r} belongs to another client")
        return found

    def rebalance(self, futures: Any = None, workers: list | None = None) -> dict:
        """Even out the results held by the workers: results move from workers
        holding more than the mean to workers holding less, each recipient
        staying under its memory ``target`` (Dask's semantics). Only the results
        of ``futures`` move if given (after they finish); only among
        ``workers`` (addresses) if given. Returns how many results moved and
        their bytes.

        >>> with Client(n_workers=2, processes=False) as c:
        ...     futures = c.scatter(list(range(10)), workers=[c.nthreads().popitem()[0]])
        ...     c.rebalance(futures)["moved"] > 0
        True
        """
        found = None if futures is None else self._futures_of(futures, "rebalance")

        async def run():
            keys = None
            if found is not None:
                for f in found:
                    await f._wait()
                keys = [f.key for f in found if f.status == "finished"]
            chosen = None if workers is None else list(workers)
            reply = await self._scheduler_call({"op": "rebalance", "keys": keys, "workers": chosen})
            return {k: reply[k] for k in ("moved", "moved_bytes", "failed")}

        return self._sync(run)

    def replicate(self, futures: Any, n: int | None = None) -> dict:
        """Hold the results of ``futures`` on ``n`` workers each (every worker
        if None): copies are fetched by the least loaded workers with room under
        their memory ``target``; copies beyond ``n`` are dropped. Waits for the
        futures to finish first. Returns the copies made and dropped.

        >>> with Client(n_workers=2, processes=False) as c:
        ...     f = c.submit(abs, -1)
        ...     c.replicate([f])["moved"], len(c.who_has([f])[f.key])
        (1, 2)
        """
        found = self._futures_of(futures, "replicate")
        if n is not None and (not isinstance(n, int) or n < 1):
            raise ValueError(f"replicate expects n >= 1 copies (or None: every worker), got {n!r}")

        async def run():
            for f in found:
                await f._wait()
            keys = [f.key for f in found if f.status == "finished"]
            reply = await self._scheduler_call({"op": "replicate", "keys": keys, "n": n})
            return {k: reply[k] for k in ("moved", "moved_bytes", "failed", "dropped")}

        return self._sync(run)

    def retire_workers(self, workers: Any, close_workers: bool = True) -> dict:
        """Retire ``workers`` (addresses) gracefully: they get no new tasks, finish
        the ones they run, and every result only they hold is copied to other
        workers first, so nothing is recomputed; then they close, with their
        nannies (``close_workers=False`` leaves them up, idle). Raises
        ``ValueError`` if no other worker could take their results. Returns
        ``{address: worker info}`` of the retired workers.

        >>> with Client(n_workers=2, processes=False) as c:
        ...     f = c.submit(abs, -1)
        ...     _ = f.result()
        ...     address = c.who_has([f])[f.key][0]
        ...     list(c.retire_workers([address])) == [address], f.result()
        (True, 1)
        """
        addresses = [workers] if isinstance(workers, str) else list(workers)

        async def run():
            reply = await self._scheduler_call(
                {"op": "retire-workers", "workers": addresses, "close_workers": bool(close_workers)}
            )
            return reply["workers"]

        return self._sync(run)

    def who_has(self, futures: Any = None) -> dict:
        """The workers holding each future's result (in memory or spilled to
        their disks): ``{key: [addresses]}``; every key the scheduler knows of
        if ``futures`` is None.

        >>> with Client(n_workers=1, processes=False) as c:
        ...     f = c.submit(abs, -1)
        ...     _ = f.result()
        ...     len(c.who_has([f])[f.key])
        1
        """
        keys = None if futures is None else [f.key for f in self._futures_of(futures, "who_has")]

        async def run():
            reply = await self._scheduler_call({"op": "who-has", "keys": keys})
            return {k: list(v) for k, v in reply.items()}

        return self._sync(run)

    def has_what(self, workers: Any = None) -> dict:
        """The keys of the results each worker holds, in memory or spilled to
        its disk: ``{address: [keys]}`` (only ``workers`` if given).

        >>> with Client(n_workers=1, processes=False) as c:
        ...     f = c.submit(abs, -1)
        ...     _ = f.result()
        ...     list(c.has_what().values()) == [[f.key]]
        True
        """
        addresses = None if workers is None else list(workers)

        async def run():
            reply = await self._scheduler_call({"op": "has-what", "workers": addresses})
            return {a: list(keys) for a, keys in reply.items()}

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


def _reachable_link(link: str, scheduler_address: str) -> str:
    """``link`` with a wildcard host (a dashboard on all interfaces) replaced
    by the host of the scheduler's address.

    >>> _reachable_link("http://0.0.0.0:8787/status", "tcp://10.0.0.5:8786")
    'http://10.0.0.5:8787/status'
    """
    scheme, sep, rest = link.partition("://")
    host, colon, tail = rest.partition(":")
    if not sep or host != "0.0.0.0":
        return link
    target = scheduler_address.split("://", 1)[-1].rpartition(":")[0]
    return f"{scheme}://{target}{colon}{tail}"
