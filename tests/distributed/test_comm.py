"""Protocol, comms and servers: framing, limits, bad input, batching."""

import asyncio
import pickle
import socket
import struct

import numpy as np
import pytest

from shoal.core import config
from shoal.distributed.batched import BatchedSend
from shoal.distributed.comm import (
    HEADER,
    MAGIC,
    VERSION,
    CommClosedError,
    client_proof,
    connect,
    listen,
)
from shoal.distributed.protocol import Pickled, ProtocolError, ToPickle, dumps, loads
from shoal.distributed.server import ConnectionPool, Server

pytestmark = pytest.mark.timeout(30)


def test_round_trip_keeps_tuple_keys_and_bytes():
    msg = {
        "op": "x",
        "keys": [("a", 1, 2), "b"],
        "blob": b"\x00\xff",
        "n": None,
        "nested": {("k", 0): [1.5, True]},
    }
    out = loads(dumps(msg))
    assert out["keys"] == (("a", 1, 2), "b")
    assert out["nested"] == {("k", 0): (1.5, True)}
    assert out["blob"] == b"\x00\xff" and out["n"] is None


def test_large_numpy_buffers_go_out_of_band_without_copies():
    a = np.arange(1_000_000, dtype="f8")
    frames = dumps({"x": ToPickle(a), "y": ToPickle(a[::2].copy())})
    assert len(frames) == 4
    assert np.shares_memory(np.frombuffer(frames[2], dtype="f8"), a)
    assert len(frames[1]) < 1000  # the pickle itself holds no array data
    out = loads(frames, deserialize=True)
    np.testing.assert_array_equal(out["x"], a)
    np.testing.assert_array_equal(out["y"], a[::2])


def test_functions_are_pickled_once_per_message():
    def local_function(x):  # a closure: needs cloudpickle, by value
        return x + 1

    one = dumps({"t": ToPickle([local_function])})
    many = dumps({"t": ToPickle([local_function] * 1000)})
    assert len(many[1]) < len(one[1]) + 5000
    funcs = loads(many, deserialize=True)["t"]
    assert funcs[0](1) == 2 and funcs[0] is funcs[999]


def test_lazy_pickled_values_unpickle_once():
    out = loads(dumps({"a": ToPickle([1]), "b": ToPickle({"x": 2})}))
    assert type(out["a"]) is Pickled and out["a"].load() == [1] and out["b"].load() == {"x": 2}


@pytest.mark.parametrize(
    "frames",
    [
        [b"\xc1"],  # msgpack's never-used byte
        [b"\x92\x01"],  # truncated array
        [b"\x81\xa1a\xd6\x07\x00\x00\x00\x00"],  # unknown extension type
        [dumps({"x": ToPickle(1)})[0]],  # a pickled value whose payload frame is missing
    ],
)
def test_malformed_bodies_raise_protocol_error(frames):
    with pytest.raises(ProtocolError):
        loads(frames, deserialize=True)


def test_unsendable_control_values_say_what_to_do():
    with pytest.raises(TypeError, match="ToPickle"):
        dumps({"x": object()})


@pytest.mark.parametrize("scheme", ["tcp://127.0.0.1:0", "inproc://"])
def test_comm_echo(scheme):
    async def run():
        async def echo(comm):
            while True:
                await comm.write(await comm.read())

        listener = await listen(scheme, echo)
        comm = await connect(listener.address)
        big = np.random.default_rng(0).random(300_000)
        for msg in [{"op": "a"}, [1, 2, 3], {"data": ToPickle(big)}]:
            await comm.write(msg)
            reply = await comm.read(deserialize=True)
            if isinstance(msg, dict) and "data" in msg:
                np.testing.assert_array_equal(reply["data"], big)
            else:
                assert reply == (msg if isinstance(msg, dict) else tuple(msg))
        await comm.close()
        listener.stop()

    asyncio.run(run())


def _raw(address):
    """A raw socket past the handshake (no token: the empty key), so what the
    tests send next reaches the frame decoder."""
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(client_proof(s.recv(40, socket.MSG_WAITALL), b""))
    assert s.recv(40, socket.MSG_WAITALL)[5] == 2, "handshake refused"
    return s


def _frame(payload: bytes, nframes=1, lengths=None, magic=MAGIC, version=VERSION):
    lengths = lengths if lengths is not None else [len(payload)]
    return (
        HEADER.pack(magic, version, 0, 0, nframes)
        + struct.pack(f"<{len(lengths)}Q", *lengths)
        + payload
    )


BAD_FRAMES = {
    "garbage": b"GET / HTTP/1.1\r\n\r\n" * 3,
    "bad version": _frame(dumps({"op": "ping"})[0], version=99),
    "malformed msgpack": _frame(b"\xc1\xc1\xc1"),
    "not a request": _frame(dumps([1, 2])[0]),
    "unknown op": _frame(dumps({"op": "no-such-op"})[0]),
    "oversized": _frame(b"", lengths=[1 << 62]),
    "too many frames": HEADER.pack(MAGIC, VERSION, 0, 0, 0xFFFFFFFF),
    "truncated": _frame(b"\x81\xa2op", lengths=[1000]),
    "bad pickle": _frame(b"", nframes=2, lengths=[0, 0]),
}


@pytest.mark.parametrize("name", list(BAD_FRAMES))
def test_bad_frames_close_only_their_connection(name, caplog):
    async def run():
        server = Server({"ping": lambda comm: "pong"})
        await server.listen("tcp://127.0.0.1:0")
        loop = asyncio.get_running_loop()

        def attack():
            s = _raw(server.address)
            s.sendall(BAD_FRAMES[name])
            s.shutdown(socket.SHUT_WR)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
            s.close()

        await loop.run_in_executor(None, attack)
        pool = ConnectionPool()
        assert await pool.call(server.address, {"op": "ping"}) == "pong"
        await pool.close()
        await server.close()

    with caplog.at_level("INFO"):
        asyncio.run(run())


def test_size_limit_applies_to_writes_and_reads():
    async def run():
        got = []

        async def receive(comm):
            got.append(await comm.read())

        with config.set({"distributed.comm.max-message-size": "1MiB"}):
            listener = await listen("tcp://127.0.0.1:0", receive)
            comm = await connect(listener.address)
            with pytest.raises(ValueError, match="over the limit"):
                await comm.write({"x": b"\0" * (2 << 20)})
            await comm.write({"x": b"\0" * 1000})
        await asyncio.sleep(0.05)
        listener.stop()
        assert len(got) == 1

    asyncio.run(run())


def test_batched_send_groups_many_small_messages():
    async def run():
        got = []
        done = asyncio.Event()

        async def receive(comm):
            while True:
                batch = await comm.read()
                got.append(len(batch))
                if sum(got) == 10_000:
                    done.set()

        listener = await listen("tcp://127.0.0.1:0", receive)
        b = BatchedSend(interval=0.005)
        b.start(await connect(listener.address))
        for i in range(10_000):
            b.send({"op": "x", "i": i})
            if i % 1000 == 0:
                await asyncio.sleep(0)
        await asyncio.wait_for(done.wait(), 10)
        await b.close()
        listener.stop()
        assert len(got) <= 20
        with pytest.raises(CommClosedError):
            b.send({"op": "late"})

    asyncio.run(run())


def test_remote_errors_keep_their_type_and_traceback():
    def fail(comm):
        raise KeyError("missing-thing")

    async def run():
        server = Server({"fail": fail})
        await server.listen("tcp://127.0.0.1:0")
        pool = ConnectionPool()
        with pytest.raises(KeyError, match="missing-thing") as info:
            await pool.call(server.address, {"op": "fail"})
        assert any("in fail" in n for n in info.value.__notes__)
        await pool.close()
        await server.close()

    asyncio.run(run())


def test_connection_pool_limit_is_respected():
    async def run():
        async def slow(comm):
            await asyncio.sleep(0.01)
            return 1

        servers = [Server({"slow": slow}) for _ in range(4)]
        for s in servers:
            await s.listen("tcp://127.0.0.1:0")
        pool = ConnectionPool(limit=2)
        calls = [pool.call(s.address, {"op": "slow"}) for s in servers for _ in range(5)]
        assert sum(await asyncio.gather(*calls)) == 20
        assert pool.open <= 2
        await pool.close()
        for s in servers:
            await s.close()

    asyncio.run(run())


def test_connect_failure_is_clear():
    async def run():
        with pytest.raises(CommClosedError, match="could not connect"):
            await connect("tcp://127.0.0.1:1", timeout=0.2)

    asyncio.run(run())


def test_unknown_scheme_is_clear():
    async def run():
        with pytest.raises(ValueError, match="unknown comm scheme"):
            await connect("udp://127.0.0.1:1")

    asyncio.run(run())


def test_pickle_of_exceptions_with_notes_round_trip():
    e = ValueError("x")
    e.add_note("note")
    out = loads(dumps({"e": ToPickle(e)}), deserialize=True)["e"]
    assert type(out) is ValueError and out.__notes__ == ["note"]
    assert pickle.loads(pickle.dumps(e)).__notes__ == ["note"]


def test_open_file_soft_limit_is_raised_to_the_hard_limit():
    import resource

    from shoal.distributed.utils import raise_open_file_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        raised = raise_open_file_limit()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == raised
        assert raised == hard or hard == resource.RLIM_INFINITY
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_zstd_compression_round_trip_and_bomb_limit():
    zstandard = pytest.importorskip("zstandard")
    settings = {
        "distributed.comm.compression": "zstd",
        "distributed.comm.compression-min-size": "1kB",
    }

    async def run():
        got = []

        async def receive(comm):
            while True:
                got.append(await comm.read(deserialize=True))

        listener = await listen("tcp://127.0.0.1:0", receive)
        comm = await connect(listener.address)
        data = np.zeros(100_000)
        assert await comm.write({"x": ToPickle(data)}) < 50_000  # zeros compress well
        await comm.write({"small": 1})
        for _ in range(200):
            if len(got) == 2:
                break
            await asyncio.sleep(0.01)
        np.testing.assert_array_equal(got[0]["x"], data)
        assert got[1] == {"small": 1}
        comm.abort()

        # a compressed frame that expands past the limit closes its connection
        frames = dumps({"x": ToPickle(b"\0" * 4_000_000)})
        packed = [frames[0]] + [zstandard.ZstdCompressor().compress(bytes(f)) for f in frames[1:]]
        bomb = (
            HEADER.pack(MAGIC, VERSION, 1, 0, len(packed))
            + struct.pack(f"<{len(packed)}Q", *map(len, packed))
            + b"".join(packed)
        )
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: _send_and_drain(listener.address, bomb)
        )
        await asyncio.sleep(0.1)
        assert len(got) == 2
        listener.stop()

    with config.set({**settings, "distributed.comm.max-message-size": "1MiB"}):
        asyncio.run(run())


def _send_and_drain(address, payload):
    s = _raw(address)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
