"""Comms: framed messages over a connection, backends chosen by URI scheme.

``connect(address)`` returns a ``Comm``; ``listen(address, handler)`` returns
a started ``Listener`` that calls ``await handler(comm)`` for each incoming
connection. Schemes: ``tcp://host:port`` (tornado streams) and
``inproc://name`` (in-process queues, for fast tests).

Wire format of one message on a TCP stream (little endian)::

    b"SHOL" | version u8 | flags u8 | reserved u16 | nframes u32
    nframes x u64 frame lengths
    the frames, back to back

Flag bit 1 means frames 1.. are zstd-compressed (setting
``distributed.comm.compression: zstd``, for messages over
``compression-min-size``); the receiver decompresses them with the same
size limit.

A bad magic or version, too many frames, a total above
``distributed.comm.max-message-size``, an early end of stream or a body
that does not decode raises ``CommClosedError`` with the reason, after the
comm has aborted its connection. Large frames are read into one buffer and
written as memoryviews, so big numpy buffers are never copied in Python.

>>> import asyncio
>>> async def demo():
...     async def echo(comm):
...         await comm.write(await comm.read())
...     listener = await listen("tcp://127.0.0.1:0", echo)
...     comm = await connect(listener.address)
...     await comm.write({"op": "ping", "n": 1})
...     reply = await comm.read()
...     await comm.close()
...     listener.stop()
...     return reply
>>> asyncio.run(demo())
{'op': 'ping', 'n': 1}
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tornado.iostream import IOStream, StreamClosedError
from tornado.netutil import bind_sockets
from tornado.tcpserver import TCPServer

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config
from shoal.core.utils import parse_bytes
from shoal.distributed.protocol import ProtocolError, dumps, loads

__all__ = [
    "Comm",
    "Listener",
    "CommClosedError",
    "connect",
    "listen",
    "parse_address",
    "register_backend",
    "MAGIC",
    "VERSION",
    "HEADER",
]

logger = logging.getLogger("shoal.distributed.comm")

MAGIC = b"SHOL"
VERSION = 1
HEADER = struct.Struct("<4sBBHI")
MAX_FRAMES = 1 << 20
_SMALL = 1 << 16


class CommClosedError(OSError):
    """The connection is closed (by the peer, by us, or because of a bad message)."""


def parse_address(address: str) -> tuple[str, str]:
    """Split ``"scheme://location"``; a bare ``host:port`` means tcp.

    >>> parse_address("tcp://127.0.0.1:8786"), parse_address("127.0.0.1:1")
    (('tcp', '127.0.0.1:8786'), ('tcp', '127.0.0.1:1'))
    """
    if not isinstance(address, str):
        raise TypeError(f"an address is a string like 'tcp://host:port', got {address!r}")
    scheme, sep, loc = address.partition("://")
    if not sep:
        return "tcp", address
    if scheme not in _BACKENDS:
        raise ValueError(
            f"unknown comm scheme {scheme!r} in {address!r}; expected one of {sorted(_BACKENDS)}"
        )
    return scheme, loc


def _max_size() -> int:
    return parse_bytes(config.get("distributed.comm.max-message-size"))


_COMPRESSED = 1


def _compressor() -> tuple[Any, int]:
    """The configured compressor (or None) and the smallest message it applies to."""
    name = config.get("distributed.comm.compression")
    if not name:
        return None, 0
    if name != "zstd":
        raise ValueError(f"distributed.comm.compression must be None or 'zstd', got {name!r}")
    import zstandard

    minimum = parse_bytes(config.get("distributed.comm.compression-min-size"))
    return zstandard.ZstdCompressor(level=1), minimum


def _decompress(frames: list, limit: int) -> list:
    import zstandard

    out = [frames[0]]
    budget = limit
    d = zstandard.ZstdDecompressor()
    for f in frames[1:]:
        data = d.decompress(f, max_output_size=budget) if len(f) else b""
        budget -= len(data)
        if budget < 0:
            raise ProtocolError(f"compressed message expands over the limit of {limit} bytes")
        out.append(data)
    return out


class Comm:
    """One bidirectional message connection."""

    local_address: str = ""
    peer_address: str = ""

    async def read(self, deserialize: bool = False) -> Any:
        """The next message (``deserialize`` unpickles wrapped values at once)."""
        raise NotImplementedError

    async def write(self, msg: Any) -> int:
        """Send one message; returns the bytes written."""
        raise NotImplementedError

    async def close(self) -> None:
        """Flush and close."""
        raise NotImplementedError

    def abort(self) -> None:
        """Close at once, dropping unsent data."""
        raise NotImplementedError

    def closed(self) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.local_address} -> {self.peer_address}>"


class Listener:
    """Accepts connections and hands each to a handler coroutine."""

    address: str = ""

    async def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------- tcp


def _host_port(loc: str) -> tuple[str, int]:
    host, sep, port = loc.rpartition(":")
    if not sep:
        return loc, 0
    return host.strip("[]"), int(port)


class TCPComm(Comm):
    """A comm over a tornado ``IOStream``."""

    def __init__(self, stream: IOStream, local: str, peer: str):
        self.stream = stream
        self.local_address = local
        self.peer_address = peer
        self.max_size = _max_size()
        self.compressor, self.compress_min = _compressor()
        stream.set_nodelay(True)

    async def read(self, deserialize: bool = False) -> Any:
        stream = self.stream
        try:
            head = await stream.read_bytes(HEADER.size)
            magic, version, flags, _, nframes = HEADER.unpack(head)
            if magic != MAGIC:
                raise ProtocolError(f"bad magic bytes {bytes(magic)!r}, not a shoal peer")
            if version != VERSION:
                raise ProtocolError(f"protocol version {version}, expected {VERSION}")
            if not 0 < nframes <= MAX_FRAMES:
                raise ProtocolError(f"{nframes} frames in one message (1 to {MAX_FRAMES})")
            lengths = struct.unpack(f"<{nframes}Q", await stream.read_bytes(8 * nframes))
            total = sum(lengths)
            if total > self.max_size:
                raise ProtocolError(
                    f"message of {total} bytes is over the limit of {self.max_size} bytes "
                    "(distributed.comm.max-message-size)"
                )
            buffer = bytearray(total)
            if total:
                await stream.read_into(buffer)
        except StreamClosedError as e:
            self.abort()
            reason = e.real_error or "the peer closed the connection"
            raise CommClosedError(f"{self}: {reason}") from None
        except ProtocolError as e:
            self.abort()
            raise CommClosedError(f"{self}: {e}") from e
        view = memoryview(buffer)
        frames = []
        start = 0
        for n in lengths:
            frames.append(view[start : start + n])
            start += n
        try:
            if flags & _COMPRESSED:
                frames = _decompress(frames, self.max_size)
            return loads(frames, deserialize=deserialize)
        except Exception as e:
            self.abort()
            raise CommClosedError(f"{self}: {e}") from e

    async def write(self, msg: Any) -> int:
        frames = dumps(msg)
        lengths = [f.nbytes if isinstance(f, memoryview) else len(f) for f in frames]
        total = sum(lengths)
        if total > self.max_size:
            raise ValueError(
                f"message of {total} bytes is over the limit of {self.max_size} bytes "
                "(distributed.comm.max-message-size)"
            )
        flags = 0
        if self.compressor is not None and len(frames) > 1 and total >= self.compress_min:
            frames = [frames[0], *(self.compressor.compress(f) for f in frames[1:])]
            lengths = [len(f) for f in frames]
            total = sum(lengths)
            flags = _COMPRESSED
        head = HEADER.pack(MAGIC, VERSION, flags, 0, len(frames)) + struct.pack(
            f"<{len(frames)}Q", *lengths
        )
        stream = self.stream
        try:
            if total < _SMALL:
                future = stream.write(b"".join([head, *frames]))
            else:
                stream.write(head)
                for f in frames:
                    if len(f):
                        future = stream.write(f)
            await future
        except StreamClosedError as e:
            self.abort()
            raise CommClosedError(f"{self}: {e.real_error or 'closed'}") from None
        return total + len(head)

    async def close(self) -> None:
        self.stream.close()

    def abort(self) -> None:
        if not self.stream.closed():
            self.stream.close()

    def closed(self) -> bool:
        return self.stream.closed()


class _Server(TCPServer):
    def __init__(self, listener: TCPListener):
        super().__init__(max_buffer_size=_max_size() + (1 << 20))
        self.listener = listener

    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        peer = f"tcp://{address[0]}:{address[1]}" if isinstance(address, tuple) else "tcp://?"
        comm = TCPComm(stream, self.listener.address, peer)
        self.listener.comms.add(comm)
        try:
            await self.listener.handler(comm)
        except CommClosedError as e:
            logger.info("connection closed: %s", e)
        except Exception:
            logger.exception("error while serving %s", comm)
        finally:
            self.listener.comms.discard(comm)
            comm.abort()


class TCPListener(Listener):
    """Listens on ``tcp://host:port`` (port 0 picks a free one)."""

    def __init__(self, loc: str, handler: Callable[[Comm], Awaitable[None]]):
        self.host, self.port = _host_port(loc)
        self.handler = handler
        self.server: _Server | None = None
        self.comms: set = set()

    async def start(self) -> None:
        sockets = bind_sockets(self.port, address=self.host or "0.0.0.0", family=socket.AF_INET)
        self.server = _Server(self)
        self.server.add_sockets(sockets)
        host, port = sockets[0].getsockname()[:2]
        self.address = f"tcp://{host}:{port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        for comm in list(self.comms):
            comm.abort()


async def _tcp_connect(loc: str, timeout: float) -> Comm:
    host, port = _host_port(loc)
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            stream = IOStream(sock, max_buffer_size=_max_size() + (1 << 20))
            await asyncio.wait_for(
                stream.connect((host, port)), max(0.01, deadline - time.monotonic())
            )
            local = sock.getsockname()
            return TCPComm(stream, f"tcp://{local[0]}:{local[1]}", f"tcp://{host}:{port}")
        except (TimeoutError, StreamClosedError, OSError) as e:
            stream.close()
            if time.monotonic() + delay > deadline:
                raise CommClosedError(
                    f"could not connect to tcp://{loc} within {timeout}s: {e}"
                ) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)


# ------------------------------------------------------------------ inproc


class InprocComm(Comm):
    """Half of a pair of in-process queues; messages are encoded and decoded as
    on TCP (so serialization is exercised) but never touch a socket."""

    def __init__(self, local: str, peer: str, inbox: asyncio.Queue, outbox: asyncio.Queue):
        self.local_address = local
        self.peer_address = peer
        self.inbox = inbox
        self.outbox = outbox
        self._closed = False

    async def read(self, deserialize: bool = False) -> Any:
        if self._closed:
            raise CommClosedError(f"{self}: closed")
        frames = await self.inbox.get()
        if frames is None:
            self._closed = True
            raise CommClosedError(f"{self}: the peer closed the connection")
        return loads([bytes(f) for f in frames], deserialize=deserialize)

    async def write(self, msg: Any) -> int:
        if self._closed:
            raise CommClosedError(f"{self}: closed")
        frames = dumps(msg)
        self.outbox.put_nowait(frames)
        return sum(len(memoryview(f)) for f in frames)

    async def close(self) -> None:
        self.abort()

    def abort(self) -> None:
        if not self._closed:
            self._closed = True
            self.outbox.put_nowait(None)
            self.inbox.put_nowait(None)

    def closed(self) -> bool:
        return self._closed


_inproc_listeners: dict[str, InprocListener] = {}
_inproc_counter = [0]


class InprocListener(Listener):
    """Listens on ``inproc://name`` within this process."""

    def __init__(self, loc: str, handler: Callable[[Comm], Awaitable[None]]):
        if not loc or loc.endswith("/0"):
            _inproc_counter[0] += 1
            loc = f"shoal-{_inproc_counter[0]}"
        self.address = f"inproc://{loc}"
        self.handler = handler
        self.tasks: set = set()

    async def start(self) -> None:
        _inproc_listeners[self.address] = self

    def accept(self, comm: Comm) -> None:
        async def serve():
            try:
                await self.handler(comm)
            except CommClosedError as e:
                logger.info("connection closed: %s", e)
            except Exception:
                logger.exception("error while serving %s", comm)
            finally:
                comm.abort()

        task = asyncio.ensure_future(serve())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def stop(self) -> None:
        _inproc_listeners.pop(self.address, None)
        for task in list(self.tasks):
            task.cancel()


async def _inproc_connect(loc: str, timeout: float) -> Comm:
    address = f"inproc://{loc}"
    listener = _inproc_listeners.get(address)
    if listener is None:
        raise CommClosedError(f"nothing listens on {address}")
    a, b = asyncio.Queue(), asyncio.Queue()
    _inproc_counter[0] += 1
    client_address = f"inproc://client-{_inproc_counter[0]}"
    listener.accept(InprocComm(address, client_address, a, b))
    return InprocComm(client_address, address, b, a)


# ---------------------------------------------------------------- registry

_BACKENDS: dict[str, tuple[type, Callable]] = {
    "tcp": (TCPListener, _tcp_connect),
    "inproc": (InprocListener, _inproc_connect),
}


def register_backend(scheme: str, listener_cls: type, connector: Callable) -> None:
    """Add a comm backend for ``scheme://`` addresses.

    >>> register_backend("tcp", TCPListener, _tcp_connect)
    """
    _BACKENDS[scheme] = (listener_cls, connector)


async def connect(address: str, timeout: float | None = None) -> Comm:
    """Open a comm to ``address``, retrying until ``timeout`` seconds."""
    scheme, loc = parse_address(address)
    if timeout is None:
        timeout = float(config.get("distributed.comm.connect-timeout"))
    return await _BACKENDS[scheme][1](loc, timeout)


async def listen(address: str, handler: Callable[[Comm], Awaitable[None]]) -> Listener:
    """Start listening on ``address``; ``handler(comm)`` serves each connection."""
    scheme, loc = parse_address(address)
    listener = _BACKENDS[scheme][0](loc, handler)
    await listener.start()
    return listener
