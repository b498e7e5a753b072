"""What a network can send: raw sockets against servers (issue 13).

Every attack here first passes the handshake (no token is set, so the
proof uses the empty key), so the frame decoder itself is what is tried.
The fuzz tests run a bounded number of inputs; a longer run:
``FUZZ_EXAMPLES=20000 .venv/bin/python -P -m pytest -q tests/distributed/test_hostile_input.py -k fuzz``.
"""

import asyncio
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shoal
from shoal.distributed.comm import HEADER, IN_FLIGHT, MAGIC, VERSION, client_proof
from shoal.distributed.protocol import ProtocolError, dumps, loads
from shoal.distributed.server import ConnectionPool, Server
from shoal.distributed.utils import LoopRunner

pytestmark = pytest.mark.timeout(60)

GIB = 1 << 30
FUZZ = int(os.environ.get("FUZZ_EXAMPLES", "40"))


def _open(address, secret=b""):
    """A raw socket that has passed the handshake."""
    host, port = address.split("://", 1)[1].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(client_proof(_recv_exactly(s, 40), secret))
    assert _recv_exactly(s, 40)[5] == 2, "handshake refused"
    return s


def _recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _header(*lengths, version=VERSION, nframes=None):
    n = len(lengths) if nframes is None else nframes
    return HEADER.pack(MAGIC, version, 0, 0, n) + struct.pack(f"<{len(lengths)}Q", *lengths)


def _closed_by_peer(s, timeout=5.0):
    """Whether the server closes the connection within ``timeout`` (replies
    it sends first are read and dropped)."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _identity(address):
    async def run():
        pool = ConnectionPool()
        try:
            return await pool.call(address, {"op": "identity"})
        finally:
            await pool.close()

    return asyncio.run(run())


def test_announced_sizes_reserve_nothing_and_the_scheduler_keeps_serving(no_leaks):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    sched = subprocess.Popen(
        [sys.executable, "-P", "-m", "shoal.distributed.cli", "scheduler", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    sockets = []
    try:
        address = sched.stdout.readline().split()[-1]
        proc = psutil.Process(sched.pid)
        assert _identity(address)["type"] == "Scheduler"
        before = proc.memory_info().rss
        # two connections announcing 1 GiB each and sending nothing more
        for _ in range(2):
            s = _open(address)
            s.sendall(_header(GIB))
            sockets.append(s)
        # one that sends 8 MiB of its 1 GiB: memory follows what arrived
        s = _open(address)
        s.sendall(_header(GIB) + b"\0" * (8 << 20))
        sockets.append(s)
        for payload in (
            os.urandom(4096),  # garbage
            _header(100) + dumps({"op": "identity"})[0][:5],  # truncated, then closed
            _header(5, nframes=1 << 31),  # far too many frames
        ):
            with _open(address) as bad:
                bad.sendall(payload)
        time.sleep(0.5)
        grown = proc.memory_info().rss - before
        assert grown < 64 << 20, f"the scheduler grew by {grown / 2**20:.0f} MiB"
        assert _identity(address)["type"] == "Scheduler"
        assert sched.poll() is None
    finally:
        for s in sockets:
            s.close()
        sched.send_signal(signal.SIGTERM)
        sched.wait(20)
        sched.stdout.close()


def test_in_flight_budget_and_stalled_messages_close_their_connections(caplog):
    limits = {"distributed.comm.max-in-flight": "1MiB", "distributed.comm.stall-timeout": 0.5}

    async def run():
        server = Server({"ping": lambda comm: "pong"})
        await server.listen("tcp://127.0.0.1:0")
        loop = asyncio.get_running_loop()

        def attack():
            first, second = _open(server.address), _open(server.address)
            first.sendall(_header(900 << 10) + b"\0" * (600 << 10))
            time.sleep(0.1)
            second.sendall(_header(900 << 10) + b"\0" * (200 << 10))
            over = _open(server.address)
            over.sendall(_header(2 << 20))  # over the whole budget: refused at once
            closed = [_closed_by_peer(s) for s in (over, first, second)]
            for s in (first, second, over):
                s.close()
            return closed

        closed = await loop.run_in_executor(None, attack)
        pool = ConnectionPool()
        assert await pool.call(server.address, {"op": "ping"}) == "pong"
        await pool.close()
        await server.close()
        return closed

    with shoal.config.set(limits), caplog.at_level(logging.INFO):
        assert asyncio.run(run()) == [True, True, True]
    assert IN_FLIGHT.used == 0
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "over the in-flight limit" in text
    assert "stopped arriving" in text or "no room in the in-flight budget" in text


@pytest.fixture(scope="module")
def served():
    runner = LoopRunner(name="shoal-fuzz-loop")
    server = Server({"ping": lambda comm: "pong"})
    runner.run(server.listen("tcp://127.0.0.1:0"))
    yield server.address
    runner.run(server.close())
    runner.stop()


frame_bodies = st.one_of(
    st.binary(max_size=256),
    st.builds(
        lambda lengths, tail: _header(*lengths) + tail,
        st.lists(st.integers(0, 1 << 40), min_size=1, max_size=4),
        st.binary(max_size=64),
    ),
    st.builds(
        lambda version, n, tail: HEADER.pack(MAGIC, version, 0, 0, n) + tail,
        st.integers(0, 255),
        st.integers(0, (1 << 32) - 1),
        st.binary(max_size=64),
    ),
)


@settings(
    max_examples=FUZZ, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=frame_bodies)
def test_fuzzed_frames_never_take_the_server_down(served, payload):
    with _open(served) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        assert _closed_by_peer(s, timeout=10)
    assert _identity_like_ping(served) == "pong"


def _identity_like_ping(address):
    async def run():
        pool = ConnectionPool()
        try:
            return await pool.call(address, {"op": "ping"})
        finally:
            await pool.close()

    return asyncio.run(run())


@settings(
    max_examples=FUZZ, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(proof=st.binary(min_size=72, max_size=72))
def test_fuzzed_handshakes_are_refused(served, proof):
    host, port = served.split("://", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        _recv_exactly(s, 40)
        s.sendall(proof)
        answer = s.recv(40)
        assert answer == b"" or answer[5] == 3  # refused (or closed), never accepted


@settings(max_examples=5 * FUZZ, deadline=None)
@given(frames=st.lists(st.binary(max_size=64), min_size=1, max_size=3))
def test_fuzzed_message_bodies_raise_protocol_errors_only(frames):
    try:
        loads(frames)
    except ProtocolError:
        pass
