"""Request/reply servers and the connection pool that calls them.

A ``Server`` listens on an address and reads messages ``{"op": name, ...}``
from each connection; ``handlers[name](comm, **fields)`` computes the
reply, written back when the message asks for one (``"reply": True``,
the default). A handler that raises sends ``{"status": "error", ...}`` with
the exception and its traceback, which ``ConnectionPool.call`` raises again
in the caller. Handlers listed in ``stream_handlers`` take over the
connection for good (workers and clients register this way and then talk
through batched streams).

A bad message closes only its own connection; the server keeps serving.

>>> import asyncio
>>> async def demo():
...     server = Server({"add": lambda comm, a, b: a + b})
...     await server.listen("tcp://127.0.0.1:0")
...     pool = ConnectionPool()
...     reply = await pool.call(server.address, {"op": "add", "a": 1, "b": 2})
...     await pool.close()
...     await server.close()
...     return reply
>>> asyncio.run(demo())
3
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import traceback
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config
from shoal.distributed.comm import Comm, CommClosedError, Listener, connect, listen
from shoal.distributed.protocol import Pickled, ToPickle
from shoal.distributed.security import Security

__all__ = ["Server", "ConnectionPool", "RemoteError", "error_message", "raise_error"]

logger = logging.getLogger("shoal.distributed.server")


class RemoteError(RuntimeError):
    """An error raised on a remote process that could not be shipped back as itself."""


def error_message(exc: BaseException) -> dict:
    """The reply describing ``exc``: its pickled self and its traceback text.

    >>> error_message(ValueError("x"))["status"]
    'error'
    """
    text = "".join(traceback.format_exception(exc))
    try:
        from shoal.distributed.protocol import pickle_dumps

        pickle_dumps(exc)
        blob = ToPickle(exc)
    except Exception:
        blob = ToPickle(RemoteError(f"{type(exc).__name__}: {exc}"))
    return {"status": "error", "exception": blob, "traceback": text}


def raise_error(reply: dict) -> None:
    """Raise the exception carried by an error reply, with the remote traceback as a note.

    >>> from shoal.distributed.protocol import dumps, loads
    >>> try:
    ...     raise_error(loads(dumps(error_message(KeyError("k")))))
    ... except KeyError as e:
    ...     print(repr(e))
    KeyError('k')
    """
    exc = reply["exception"]
    if type(exc) is Pickled:
        exc = exc.load()
    tb = reply.get("traceback")
    if tb:
        exc.add_note(f"traceback on the remote process:\n{tb}")
    raise exc


class Server:
    """Serves ``handlers`` on a listener (see module docstring). ``security``
    (default: this process's config) decides TLS and the handshake's token."""

    def __init__(
        self,
        handlers: dict[str, Callable] | None = None,
        stream_handlers: dict[str, Callable] | None = None,
        security: Security | None = None,
    ):
        self.handlers: dict[str, Callable] = dict(handlers or {})
        self.stream_handlers: dict[str, Callable] = dict(stream_handlers or {})
        self.security = security if security is not None else Security.from_config()
        self.listener: Listener | None = None
        self.address = ""
        self.serving: set = set()

    async def listen(self, address: str) -> None:
        self.listener = await listen(address, self.handle_comm, self.security)
        self.address = self.listener.address

    async def handle_comm(self, comm: Comm) -> None:
        task = asyncio.current_task()
        self.serving.add(task)
        try:
            await self._serve(comm)
        finally:
            self.serving.discard(task)

    async def _serve(self, comm: Comm) -> None:
        while not comm.closed():
            msg = await comm.read()
            if type(msg) is not dict or "op" not in msg:
                logger.warning("closing %s: a message without 'op': %.200r", comm, msg)
                comm.abort()
                return
            op = msg.pop("op")
            reply = msg.pop("reply", True)
            stream = self.stream_handlers.get(op)
            if stream is not None:
                await stream(comm, **msg)
                return
            handler = self.handlers.get(op)
            if handler is None:
                logger.warning("closing %s: unknown operation %r", comm, op)
                result = {
                    "status": "error",
                    "exception": ToPickle(ValueError(f"unknown operation {op!r}")),
                    "traceback": "",
                }
                if reply:
                    await comm.write(result)
                comm.abort()
                return
            try:
                result = handler(comm, **msg)
                if inspect.isawaitable(result):
                    result = await result
            except (CommClosedError, asyncio.CancelledError):
                raise
            except Exception as e:
                if not reply:
                    logger.exception("handler %r failed", op)
                result = error_message(e)
            if reply:
                await comm.write(result)

    async def close(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        for task in list(self.serving):
            task.cancel()


class ConnectionPool:
    """Reusable connections to many peers, at most ``limit`` open at once.

    ``call(address, msg)`` sends a request and returns the reply (raising a
    remote error again). Idle connections are reused; when the limit is
    reached the oldest idle ones are closed first, and callers wait.
    """

    def __init__(
        self,
        limit: int | None = None,
        deserialize: bool = True,
        security: Security | None = None,
    ):
        self.limit = limit or int(config.get("distributed.comm.max-connections"))
        self.deserialize = deserialize
        self.security = security if security is not None else Security.from_config()
        self.idle: dict[str, list[Comm]] = defaultdict(list)
        self.open = 0
        self.freed = asyncio.Condition()
        self.closed = False

    async def _acquire(self, address: str) -> Comm:
        while True:
            idle = self.idle.get(address)
            while idle:
                comm = idle.pop()
                if not comm.closed():
                    return comm
                self.open -= 1
            if self.open < self.limit:
                self.open += 1
                try:
                    return await connect(address, security=self.security)
                except BaseException:
                    self.open -= 1
                    raise
            if not self._close_one_idle():
                async with self.freed:
                    await self.freed.wait()

    def _close_one_idle(self) -> bool:
        for comms in self.idle.values():
            if comms:
                comms.pop(0).abort()
                self.open -= 1
                return True
        return False

    async def _release(self, address: str, comm: Comm, ok: bool) -> None:
        if ok and not comm.closed() and not self.closed:
            self.idle[address].append(comm)
        else:
            comm.abort()
            self.open -= 1
        async with self.freed:
            self.freed.notify()

    async def call(self, address: str, msg: dict) -> Any:
        """Send ``msg`` to ``address`` and return the reply."""
        if self.closed:
            raise CommClosedError("connection pool is closed")
        comm = await self._acquire(address)
        ok = False
        try:
            await comm.write(msg)
            reply = await comm.read(deserialize=self.deserialize)
            ok = True
        finally:
            await self._release(address, comm, ok)
        if type(reply) is dict and reply.get("status") == "error" and "exception" in reply:
            raise_error(reply)
        return reply

    async def close(self) -> None:
        self.closed = True
        for comms in self.idle.values():
            for comm in comms:
                comm.abort()
        self.idle.clear()
        self.open = 0
