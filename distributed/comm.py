"""Comms: framed messages over a connection, backends chosen by URI scheme.

``connect(address)`` returns a ``Comm``; ``listen(address, handler)`` returns
a started ``Listener`` that calls ``await handler(comm)`` for each incoming
connection. Schemes: ``tcp://host:port`` (tornado streams), ``tls://host:port``
(the same over TLS) and ``inproc://name`` (in-process queues, for fast
tests). Both take a ``Security`` (default: ``Security.from_config()``); when
it has TLS settings, ``tcp://`` addresses are served and reached over TLS.

Handshake: before any message, the listener sends a hello with a random
nonce; the connecting side answers with its own nonce and
``HMAC-SHA256(token, "client" | both nonces)``; the listener checks it in
constant time and proves the token back (``"server" | both nonces``). A
wrong proof is refused (the listener logs the peer's address) and nothing
the peer sent is ever decoded, let alone unpickled. Without a token the key
is empty, so a peer with a token and one without refuse each other. The
handshake (and TLS's) must finish within ``distributed.comm.handshake-timeout``.
Over TLS, reconnecting to a listener this process reached before resumes the
TLS session (a TLS 1.3 ticket, see ``SESSIONS``): the token is proven again
all the same.

Wire format of one message on a stream (little endian)::

    b"SHOL" | version u8 | flags u8 | reserved u16 | nframes u32
    nframes x u64 frame lengths
    the frames, back to back

Flag bit 1 means frames 1.. are zstd-compressed (setting
``distributed.comm.compression: zstd``, for messages over
``compression-min-size``); the receiver decompresses them with the same
size limit.

Memory is reserved as a message arrives, never from its announced size: a
buffer starts at 64 KiB and at most doubles once it is full, so a peer
holds at most twice what it actually sent. Messages still arriving in a
process share ``distributed.comm.max-in-flight`` bytes (one that must wait
for room, or whose bytes stop coming, for ``stall-timeout`` seconds closes
its connection). A bad magic or version, more than ``max-frames`` frames, a
total above ``max-message-size``, an early end of stream or a body that does
not decode raises ``CommClosedError`` with the reason, after the comm has
aborted its connection. Frames are read into one buffer and written as
memoryviews, so big numpy buffers are not copied in Python.

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
import functools
import hashlib
import hmac
import logging
import os
import socket
import ssl
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from tornado.iostream import IOStream, SSLIOStream, StreamClosedError
from tornado.netutil import bind_sockets
from tornado.tcpserver import TCPServer

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config
from shoal.core.utils import parse_bytes
from shoal.distributed.protocol import ProtocolError, dumps, loads
from shoal.distributed.security import Security

__all__ = [
    "Comm",
    "Listener",
    "CommClosedError",
    "AuthenticationError",
    "connect",
    "listen",
    "parse_address",
    "register_backend",
    "MAGIC",
    "VERSION",
    "HEADER",
    "OPENED",
    "SESSIONS",
]

logger = logging.getLogger("shoal.distributed.comm")

MAGIC = b"SHOL"
VERSION = 2
HEADER = struct.Struct("<4sBBHI")
_SMALL = 1 << 16  # messages up to this size are read at once; bigger ones as they arrive
_STEP = 1 << 22  # bigger messages are read this much at a time (the stall check's grain)


#: TCP/TLS connections this process opened and accepted (handshakes passed), for
#: benchmarks and tests that check pooled connections are reused
OPENED = {"connected": 0, "accepted": 0}


class CommClosedError(OSError):
    """The connection is closed (by the peer, by us, or because of a bad message)."""


class AuthenticationError(CommClosedError):
    """The handshake failed: a different token, or not a shoal peer."""


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


# ------------------------------------------------------------- in flight


class _InFlight:
    """The bytes this process holds in messages still arriving, shared by all
    comms on every event loop (a thread lock; waiting polls, as it is rare)."""

    def __init__(self):
        self.used = 0
        self.lock = threading.Lock()

    def try_reserve(self, n: int, limit: int) -> bool:
        with self.lock:
            if self.used + n > limit:
                return False
            self.used += n
            return True

    def release(self, n: int) -> None:
        with self.lock:
            self.used -= n


IN_FLIGHT = _InFlight()


@functools.cache
def _total_memory() -> int:
    import psutil

    return psutil.virtual_memory().total  # read once: each connection asks


def _in_flight_limit() -> int:
    value = config.get("distributed.comm.max-in-flight")
    if value == "auto":
        return _total_memory() // 4
    return parse_bytes(value)


class _Limits:
    """The comm settings read once per connection."""

    __slots__ = ("max_size", "max_frames", "in_flight", "stall", "handshake")

    def __init__(self):
        self.max_size = _max_size()
        self.max_frames = int(config.get("distributed.comm.max-frames"))
        self.in_flight = _in_flight_limit()
        self.stall = float(config.get("distributed.comm.stall-timeout"))
        self.handshake = float(config.get("distributed.comm.handshake-timeout"))


# ------------------------------------------------------------- handshake

_HELLO = struct.Struct("<4sBBH32s")  # magic, version, kind, reserved, nonce (or proof)
_PROOF = struct.Struct("<4sBBH32s32s")  # magic, version, kind, reserved, nonce, proof
_KIND_HELLO, _KIND_PROOF, _KIND_OK, _KIND_REFUSED = 0, 1, 2, 3


def _mac(secret: bytes, label: bytes, first: bytes, second: bytes) -> bytes:
    return hmac.new(secret, label + first + second, hashlib.sha256).digest()


def client_proof(hello: bytes, secret: bytes, nonce: bytes | None = None) -> bytes:
    """The connecting side's answer to a listener's 40-byte hello (also for
    tests that speak the protocol over raw sockets).

    >>> hello = _HELLO.pack(MAGIC, VERSION, _KIND_HELLO, 0, bytes(32))
    >>> len(client_proof(hello, b"token"))
    72
    """
    magic, version, kind, _, server_nonce = _HELLO.unpack(hello)
    if magic != MAGIC or kind != _KIND_HELLO:
        raise ProtocolError("the listener is not a shoal peer (bad hello)")
    if version != VERSION:
        raise ProtocolError(f"the listener speaks protocol version {version}, not {VERSION}")
    nonce = nonce or os.urandom(32)
    proof = _mac(secret, b"client", server_nonce, nonce)
    return _PROOF.pack(MAGIC, VERSION, _KIND_PROOF, 0, nonce, proof)


async def _server_handshake(stream: IOStream, secret: bytes) -> str:
    """Check the peer's proof of the token; returns why it failed ("" if it did not)."""
    if isinstance(stream, SSLIOStream):
        await stream.wait_for_handshake()
    nonce = os.urandom(32)
    await stream.write(_HELLO.pack(MAGIC, VERSION, _KIND_HELLO, 0, nonce))
    magic, version, kind, _, peer_nonce, proof = _PROOF.unpack(await stream.read_bytes(_PROOF.size))
    if magic != MAGIC or kind != _KIND_PROOF:
        why = "not a shoal peer (bad handshake bytes)"
    elif version != VERSION:
        why = f"protocol version {version}, expected {VERSION}"
    elif not hmac.compare_digest(proof, _mac(secret, b"client", nonce, peer_nonce)):
        why = "wrong token (or one side has none)"
    else:
        answer = _mac(secret, b"server", peer_nonce, nonce)
        await stream.write(_HELLO.pack(MAGIC, VERSION, _KIND_OK, 0, answer))
        return ""
    await stream.write(_HELLO.pack(MAGIC, VERSION, _KIND_REFUSED, 0, bytes(32)))
    return why


async def _client_handshake(stream: IOStream, secret: bytes, address: str) -> None:
    try:
        hello = await stream.read_bytes(_HELLO.size)
        nonce = os.urandom(32)
        await stream.write(client_proof(hello, secret, nonce))
        magic, _, kind, _, proof = _HELLO.unpack(await stream.read_bytes(_HELLO.size))
    except ProtocolError as e:
        raise AuthenticationError(f"handshake with {address} failed: {e}") from None
    if kind == _KIND_REFUSED:
        raise AuthenticationError(
            f"{address} refused this connection: its token differs from ours (or one side has "
            "none; see distributed.comm.token, --token)"
        )
    server_nonce = _HELLO.unpack(hello)[4]
    if (
        magic != MAGIC
        or kind != _KIND_OK
        or not hmac.compare_digest(proof, _mac(secret, b"server", nonce, server_nonce))
    ):
        raise AuthenticationError(
            f"{address} could not prove it knows this cluster's token: not our scheduler or peer"
        )


# --------------------------------------------------------------------- tcp


def _host_port(loc: str) -> tuple[str, int]:
    host, sep, port = loc.rpartition(":")
    if not sep:
        return loc, 0
    return host.strip("[]"), int(port)


class TCPComm(Comm):
    """A comm over a tornado ``IOStream`` (or ``SSLIOStream``)."""

    def __init__(self, stream: IOStream, local: str, peer: str, limits: _Limits | None = None):
        self.stream = stream
        self.local_address = local
        self.peer_address = peer
        self.limits = limits or _Limits()
        self.max_size = self.limits.max_size
        self.compressor, self.compress_min = _compressor()
        stream.set_nodelay(True)

    async def read(self, deserialize: bool = False) -> Any:
        stream = self.stream
        limits = self.limits
        try:
            head = await stream.read_bytes(HEADER.size)
            magic, version, flags, _, nframes = HEADER.unpack(head)
            if magic != MAGIC:
                raise ProtocolError(f"bad magic bytes {bytes(magic)!r}, not a shoal peer")
            if version != VERSION:
                raise ProtocolError(f"protocol version {version}, expected {VERSION}")
            if not 0 < nframes <= limits.max_frames:
                raise ProtocolError(
                    f"{nframes} frames in one message (1 to {limits.max_frames}, "
                    "distributed.comm.max-frames)"
                )
            lengths = struct.unpack(f"<{nframes}Q", await stream.read_bytes(8 * nframes))
            total = sum(lengths)
            if total > self.max_size:
                raise ProtocolError(
                    f"message of {total} bytes is over the limit of {self.max_size} bytes "
                    "(distributed.comm.max-message-size)"
                )
            if total <= _SMALL:
                buffer = bytearray(total)
                if total:
                    await stream.read_into(buffer)
            else:
                buffer = await self._read_growing(total)
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

    async def _read_growing(self, total: int) -> bytearray:
        """Read ``total`` bytes into a buffer that grows only as they arrive
        (at most doubling), within the process's in-flight budget; a message
        that stops arriving for ``stall-timeout`` seconds closes the comm."""
        limits = self.limits
        if total > limits.in_flight:
            raise ProtocolError(
                f"message of {total} bytes is over the in-flight limit of {limits.in_flight} "
                "bytes (distributed.comm.max-in-flight)"
            )
        stream = self.stream
        loop = asyncio.get_running_loop()
        buffer = bytearray()
        got = reserved = 0
        progress = [0, loop.time()]  # bytes seen at the last check, and when
        stalled = ""
        watchdog: asyncio.TimerHandle  # set below, re-armed by check()

        def check() -> None:
            nonlocal stalled, watchdog
            now = loop.time()
            if got != progress[0]:
                progress[:] = [got, now]
            elif now - progress[1] >= limits.stall:
                stalled = (
                    f"a message of {total} bytes stopped arriving after {got} bytes "
                    f"(no progress for {limits.stall:g}s, distributed.comm.stall-timeout)"
                )
                self.abort()
                return
            watchdog = loop.call_later(max(limits.stall / 4, 0.01), check)

        watchdog = loop.call_later(max(limits.stall / 4, 0.01), check)
        try:
            while got < total:
                if got == len(buffer):
                    grow = min(total - got, max(_SMALL, got))
                    deadline = loop.time() + limits.stall
                    while not IN_FLIGHT.try_reserve(grow, limits.in_flight):
                        if loop.time() > deadline:
                            raise ProtocolError(
                                f"no room in the in-flight budget of {limits.in_flight} bytes "
                                f"for {limits.stall:g}s (distributed.comm.max-in-flight)"
                            )
                        await asyncio.sleep(0.01)
                    reserved += grow
                    buffer += bytes(grow)
                end = min(len(buffer), got + _STEP)
                with memoryview(buffer) as whole, whole[got:end] as view:
                    # all of it: few wake-ups (TLS records are small); tornado takes any
                    # writable buffer (its docs) though its annotation says bytearray
                    await stream.read_into(view)  # type: ignore[arg-type]
                got = end
            return buffer
        except StreamClosedError:
            if stalled:
                raise ProtocolError(stalled) from None
            raise
        finally:
            watchdog.cancel()
            IN_FLIGHT.release(reserved)

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
        super().__init__(
            ssl_options=listener.security.server_context(),
            max_buffer_size=_max_size() + (1 << 20),
        )
        self.listener = listener

    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        listener = self.listener
        host = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else "?"
        peer = f"{listener.scheme}://{host}"
        limits = _Limits()
        stream.set_nodelay(True)  # else Nagle holds the handshake's small writes
        try:
            why = await asyncio.wait_for(
                _server_handshake(stream, listener.security.secret), limits.handshake
            )
        except TimeoutError:
            why = f"no handshake within {limits.handshake:g}s (distributed.comm.handshake-timeout)"
        except (StreamClosedError, ssl.SSLError, OSError) as e:
            real = getattr(e, "real_error", None) or e
            why = f"the handshake broke off: {type(real).__name__}: {real}"
        if why:
            logger.warning("refused a connection from %s to %s: %s", peer, listener.address, why)
            await _close_soon(stream)
            return
        OPENED["accepted"] += 1
        comm = TCPComm(stream, listener.address, peer, limits)
        listener.comms.add(comm)
        try:
            await listener.handler(comm)
        except CommClosedError as e:
            logger.info("connection closed: %s", e)
        except Exception:
            logger.exception("error while serving %s", comm)
        finally:
            listener.comms.discard(comm)
            comm.abort()


async def _close_soon(stream: IOStream) -> None:
    """Close after what was written (a refusal) has gone out, or at once."""
    try:
        await asyncio.wait_for(stream.write(b""), 1.0)
    except Exception:
        pass
    stream.close()


class TCPListener(Listener):
    """Listens on ``tcp://host:port`` or ``tls://host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        loc: str,
        handler: Callable[[Comm], Awaitable[None]],
        security: Security | None = None,
    ):
        self.host, self.port = _host_port(loc)
        self.handler = handler
        self.security = security if security is not None else Security.from_config()
        self.scheme = "tls" if self.security.tls else "tcp"
        self.server: _Server | None = None
        self.comms: set = set()

    async def start(self) -> None:
        sockets = bind_sockets(self.port, address=self.host or "0.0.0.0", family=socket.AF_INET)
        self.server = _Server(self)
        self.server.add_sockets(sockets)
        host, port = sockets[0].getsockname()[:2]
        self.address = f"{self.scheme}://{host}:{port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        for comm in list(self.comms):
            comm.abort()


def _close_quietly(stream: IOStream | None) -> None:
    """Close a stream, if there is one, whatever state its TLS is in."""
    if stream is not None:
        try:
            stream.close()
        except Exception:  # a TLS socket that broke mid-handshake may refuse to shut down
            pass


class _Sessions:
    """TLS sessions (TLS 1.3 tickets) for reconnecting to peers, by client
    context and address, most recent first out of at most ``limit``. A resumed
    handshake skips the certificates' signatures and checks (the ticket proves
    both ends passed them on an earlier connection, made with the same
    contexts); the key exchange still runs, so forward secrecy stays. Only the
    listener's process can read its tickets: elsewhere the handshake is a full
    one, certificates checked."""

    def __init__(self, limit: int = 1024):
        self.limit = limit
        self.items: OrderedDict[tuple[int, str], ssl.SSLSession] = OrderedDict()
        self.lock = threading.Lock()

    # keyed by id(context): Security caches its contexts for the life of the process
    def get(self, context: ssl.SSLContext, loc: str) -> ssl.SSLSession | None:
        with self.lock:
            return self.items.get((id(context), loc))

    def put(self, context: ssl.SSLContext, loc: str, stream: IOStream) -> None:
        session = getattr(stream.socket, "session", None)
        if session is None or not session.has_ticket:
            return
        with self.lock:
            self.items[(id(context), loc)] = session
            self.items.move_to_end((id(context), loc))
            while len(self.items) > self.limit:
                self.items.popitem(last=False)


SESSIONS = _Sessions()


async def _open_stream(
    host: str, port: int, context: ssl.SSLContext | None, loc: str, limits: _Limits
) -> IOStream:
    """A connected stream, over TLS (resuming a session with ``loc`` when one
    is known) if ``context`` is given; the TLS handshake not yet awaited."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle for handshakes
        if context is None:
            return IOStream(sock, max_buffer_size=limits.max_size + (1 << 20))
        tls = context.wrap_socket(
            sock,
            server_side=False,
            do_handshake_on_connect=False,
            session=SESSIONS.get(context, loc),
        )
    except BaseException:
        sock.close()
        raise
    return SSLIOStream(tls, ssl_options=context, max_buffer_size=limits.max_size + (1 << 20))


async def _tcp_connect(loc: str, timeout: float, security: Security | None = None) -> Comm:
    security = security if security is not None else Security.from_config()
    context = security.client_context()
    scheme = "tls" if context is not None else "tcp"
    address = f"{scheme}://{loc}"
    host, port = _host_port(loc)
    limits = _Limits()
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        stream = None
        connected = False
        try:
            left = max(0.01, deadline - time.monotonic())
            stream = await asyncio.wait_for(_open_stream(host, port, context, loc, limits), left)
            connected = True
            local = stream.socket.getsockname()
            # the handshakes get the rest of the connect timeout, within handshake-timeout
            wait = min(limits.handshake, max(deadline - time.monotonic(), 0.1))
            if isinstance(stream, SSLIOStream):
                await asyncio.wait_for(stream.wait_for_handshake(), wait)
            await asyncio.wait_for(_client_handshake(stream, security.secret, address), wait)
            if context is not None:  # its tickets came before the listener's hello
                SESSIONS.put(context, loc, stream)
            OPENED["connected"] += 1
            return TCPComm(stream, f"{scheme}://{local[0]}:{local[1]}", address, limits)
        except AuthenticationError:
            _close_quietly(stream)
            raise
        except ssl.SSLError as e:
            _close_quietly(stream)
            raise AuthenticationError(f"TLS with {address} failed: {e}") from None
        except (TimeoutError, StreamClosedError, OSError) as e:
            _close_quietly(stream)
            real = getattr(e, "real_error", None)
            if isinstance(real, ssl.SSLError):
                raise AuthenticationError(f"TLS with {address} failed: {real}") from None
            if time.monotonic() + delay > deadline:
                why = f"{real or e!r}"
                if connected and isinstance(e, TimeoutError):
                    why = (
                        "it accepted the connection but no handshake came back (a TLS server "
                        "reached without TLS settings, or not a shoal peer?)"
                    )
                raise CommClosedError(
                    f"could not connect to {address} within {timeout}s: {why}"
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
    """Listens on ``inproc://name`` within this process (no handshake: nothing
    outside the process can reach it)."""

    def __init__(
        self,
        loc: str,
        handler: Callable[[Comm], Awaitable[None]],
        security: Security | None = None,
    ):
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


async def _inproc_connect(loc: str, timeout: float, security: Security | None = None) -> Comm:
    address = f"inproc://{loc}"
    listener = _inproc_listeners.get(address)
    if listener is None:
        raise CommClosedError(f"nothing listens on {address}")
    # frames of one message each; None tells the reader the peer closed
    a: asyncio.Queue[list | None] = asyncio.Queue()
    b: asyncio.Queue[list | None] = asyncio.Queue()
    _inproc_counter[0] += 1
    client_address = f"inproc://client-{_inproc_counter[0]}"
    listener.accept(InprocComm(address, client_address, a, b))
    return InprocComm(client_address, address, b, a)


# ---------------------------------------------------------------- registry

_BACKENDS: dict[str, tuple[type, Callable]] = {
    "tcp": (TCPListener, _tcp_connect),
    "tls": (TCPListener, _tcp_connect),
    "inproc": (InprocListener, _inproc_connect),
}


def register_backend(scheme: str, listener_cls: type, connector: Callable) -> None:
    """Add a comm backend for ``scheme://`` addresses: ``listener_cls(loc,
    handler, security)`` and ``await connector(loc, timeout, security)``.

    >>> register_backend("tcp", TCPListener, _tcp_connect)
    """
    _BACKENDS[scheme] = (listener_cls, connector)


def _resolve(address: str, security: Security | None) -> tuple[str, str, Security]:
    scheme, loc = parse_address(address)
    security = security if security is not None else Security.from_config()
    if scheme == "tls" and not security.tls:
        raise ValueError(
            f"{address} is a TLS address but this process has no TLS settings: give a "
            "Security(...) or set distributed.comm.tls.ca-file/cert/key (--tls-ca-file "
            "--tls-cert --tls-key)"
        )
    return scheme, loc, security


async def connect(
    address: str, timeout: float | None = None, security: Security | None = None
) -> Comm:
    """Open a comm to ``address``, retrying until ``timeout`` seconds; the
    handshake proves ``security``'s token (default: this process's config).
    A refused handshake raises ``AuthenticationError`` at once."""
    scheme, loc, security = _resolve(address, security)
    if timeout is None:
        timeout = float(config.get("distributed.comm.connect-timeout"))
    return await _BACKENDS[scheme][1](loc, timeout, security)


async def listen(
    address: str, handler: Callable[[Comm], Awaitable[None]], security: Security | None = None
) -> Listener:
    """Start listening on ``address``; ``handler(comm)`` serves each connection
    that passed the handshake."""
    scheme, loc, security = _resolve(address, security)
    listener = _BACKENDS[scheme][0](loc, handler, security)
    await listener.start()
    return listener
