"""TLS, the token handshake, the exposure warning and remote close (issue 13)."""

import asyncio
import json
import logging
import os
import pickle
import signal
import socket
import ssl
import struct
import subprocess
import sys
import urllib.request

import cloudpickle
import pytest

import shoal
from shoal.distributed import Client, LocalCluster
from shoal.distributed.comm import (
    HEADER,
    MAGIC,
    SESSIONS,
    VERSION,
    AuthenticationError,
    CommClosedError,
    client_proof,
    connect,
)
from shoal.distributed.protocol import dumps
from shoal.distributed.scheduler import Scheduler, exposure_warning
from shoal.distributed.security import TOKEN_ENV, Security
from shoal.distributed.server import ConnectionPool, Server

pytest.importorskip("cryptography")
cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)


def inc(x):
    return x + 1


@pytest.fixture(scope="module")
def tls():
    return Security.temporary()


def test_tls_and_token_cluster_of_worker_processes_computes(no_leaks, tls):
    security = tls.with_token("a shared secret")
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, security=security) as cluster,
        Client(cluster) as client,
    ):
        assert cluster.scheduler_address.startswith("tls://")
        workers = client.run(lambda shoal_worker: shoal_worker.address)
        assert len(workers) == 2 and all(a.startswith("tls://") for a in workers.values())
        futures = client.map(inc, range(20))
        # the sum fetches results from both worker processes (worker-to-worker TLS)
        assert client.submit(sum, futures).result() == sum(range(1, 21))


def test_tls_in_process_cluster_and_upgraded_tcp_addresses(tls):
    with LocalCluster(n_workers=1, processes=False, security=tls) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        # a tcp:// address is reached over TLS when TLS is configured
        with Client(address.replace("tls://", "tcp://"), security=tls) as client:
            assert client.submit(inc, 1).result() == 2


def _handshake_refused(address, security):
    async def run():
        with pytest.raises(AuthenticationError) as info:
            await connect(address, timeout=5, security=security)
        return str(info.value)

    return asyncio.run(run())


def test_wrong_or_missing_token_is_refused_and_logged(caplog):
    async def run():
        server = Server({"ping": lambda comm: "pong"}, security=Security(token="right"))
        await server.listen("tcp://127.0.0.1:0")
        for wrong in (Security(token="wrong"), Security()):
            with pytest.raises(AuthenticationError, match="refused this connection"):
                await connect(server.address, timeout=5, security=wrong)
        pool = ConnectionPool(security=Security(token="right"))
        assert await pool.call(server.address, {"op": "ping"}) == "pong"
        await pool.close()
        # a server without the token cannot pose as one to a client that has it
        impostor = Server({"ping": lambda comm: "pong"}, security=Security())
        await impostor.listen("tcp://127.0.0.1:0")
        with pytest.raises(AuthenticationError):
            await connect(impostor.address, timeout=5, security=Security(token="right"))
        await impostor.close()
        await server.close()

    with caplog.at_level(logging.WARNING, logger="shoal.distributed.comm"):
        asyncio.run(run())
    refusals = [r.getMessage() for r in caplog.records if "refused a connection" in r.getMessage()]
    assert len(refusals) >= 3
    assert all("tcp://127.0.0.1:" in m and "wrong token" in m for m in refusals[:2])


class _Tripwire:
    """Unpickling it creates a file: proof that a server unpickled it."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_nothing_is_unpickled_before_the_token_is_proven(tmp_path, caplog):
    marker = str(tmp_path / "unpickled")
    payload = pickle.dumps(_Tripwire(marker))
    frames = [dumps({"op": "ping"})[0], payload]
    body = HEADER.pack(MAGIC, VERSION, 0, 0, 2) + struct.pack("<2Q", *map(len, frames))
    attack = body + b"".join(frames)

    async def run():
        server = Server(
            {"ping": lambda comm, **kw: [v.load() for v in kw.values()]},
            security=Security(token="secret"),
        )
        await server.listen("tcp://127.0.0.1:0")
        host, port = server.address.removeprefix("tcp://").rsplit(":", 1)

        def send():
            with socket.create_connection((host, int(port)), timeout=5) as s:
                hello = s.recv(40)
                # a proof made with the wrong key, then the message at once
                s.sendall(client_proof(hello, b"guess") + attack)
                answer = s.recv(40)
                rest = s.recv(100)
                return answer, rest

        answer, rest = await asyncio.get_running_loop().run_in_executor(None, send)
        await server.close()
        return answer, rest

    with caplog.at_level(logging.WARNING, logger="shoal.distributed.comm"):
        answer, rest = asyncio.run(run())
    assert answer[5] == 3 and rest == b""  # refused, then closed
    assert not os.path.exists(marker)
    assert any("wrong token" in r.getMessage() for r in caplog.records)


def test_fake_worker_without_the_token_cannot_register(caplog):
    async def run():
        async with Scheduler(security=Security(token="cluster-secret")) as s:
            with pytest.raises(AuthenticationError):
                comm = await connect(s.address, timeout=5, security=Security())
                await comm.write({"op": "register-worker", "address": "tcp://1.2.3.4:1"})
            return len(s.state.workers)

    with caplog.at_level(logging.WARNING, logger="shoal.distributed.comm"):
        assert asyncio.run(run()) == 0
    assert any(
        "refused a connection from tcp://127.0.0.1:" in r.getMessage() for r in caplog.records
    )


def test_mutual_tls_refuses_peers_without_a_certificate(tls):
    ca_only = Security(tls_ca_file=tls.tls_ca_file)
    plain = Security()

    async def run():
        server = Server({"ping": lambda comm: "pong"}, security=tls)
        await server.listen("tcp://127.0.0.1:0")
        assert server.address.startswith("tls://")
        with pytest.raises((AuthenticationError, CommClosedError)):
            await connect(server.address, timeout=2, security=ca_only)
        with pytest.raises(ValueError, match="no TLS settings"):
            await connect(server.address, timeout=2, security=plain)
        # a certificate from another CA is refused, both ways
        stranger = Security.temporary()
        with pytest.raises(AuthenticationError, match="TLS"):
            await connect(server.address, timeout=2, security=stranger)
        other = Server({"ping": lambda comm: "pong"}, security=stranger)
        await other.listen("tcp://127.0.0.1:0")
        with pytest.raises(AuthenticationError, match="TLS"):
            await connect(other.address, timeout=2, security=tls)
        await other.close()
        # plain TCP to a TLS port: the handshake never completes
        with pytest.raises(CommClosedError, match="TLS server reached without TLS settings"):
            await connect(server.address.replace("tls://", "tcp://"), timeout=1, security=plain)
        pool = ConnectionPool(security=tls)
        assert await pool.call(server.address, {"op": "ping"}) == "pong"
        await pool.close()
        await server.close()

    asyncio.run(run())


def _session_reused(comm) -> bool:
    return comm.stream.socket.session_reused


def test_tls_sessions_resume_and_a_new_listener_still_shows_its_certificate(tls):
    secure = tls.with_token("resume")

    async def run():
        server = Server({"ping": lambda comm: "pong"}, security=secure)
        await server.listen("tcp://127.0.0.1:0")
        first = await connect(server.address, security=secure)
        second = await connect(server.address, security=secure)
        assert not _session_reused(first) and _session_reused(second)
        for comm in (first, second):
            await comm.write({"op": "ping", "reply": True})
            assert await comm.read() == "pong"
            await comm.close()
        # a resumed session still proves the token: a wrong one is refused
        assert SESSIONS.get(tls.client_context(), server.address.split("://")[1]) is not None
        with pytest.raises(AuthenticationError, match="token"):
            await connect(server.address, timeout=2, security=tls.with_token("wrong"))
        # another listener on the same address (its certificate from a CA we do not
        # trust) cannot read our ticket: a full handshake, and its certificate is refused
        port = server.address.rsplit(":", 1)[1]
        await server.close()
        impostor = Server({"ping": lambda comm: "pong"}, security=Security.temporary())
        await impostor.listen(f"tcp://127.0.0.1:{port}")
        with pytest.raises(AuthenticationError, match="TLS"):
            await connect(impostor.address, timeout=2, security=secure)
        await impostor.close()

    asyncio.run(run())


def test_dashboard_is_served_over_https_when_tls_is_on(tls):
    async def run():
        async with Scheduler(dashboard_address="127.0.0.1:0", security=tls) as s:
            url = s.dashboard.url.replace("/status", "/json/status")
            assert url.startswith("https://127.0.0.1:")
            context = ssl.create_default_context(cafile=tls.tls_ca_file)
            body = await asyncio.to_thread(
                lambda: urllib.request.urlopen(url, context=context, timeout=10).read()
            )
            plain = url.replace("https://", "http://")

            def over_http():
                try:
                    urllib.request.urlopen(plain, timeout=5).read()
                except OSError:
                    return "refused"
                return "served"

            return json.loads(body), await asyncio.to_thread(over_http)

    summary, plain = asyncio.run(run())
    assert summary["workers"]["count"] == 0 and summary["address"].startswith("tls://")
    assert plain == "refused"


def test_exposure_warning_says_what_is_exposed(tls, caplog):
    assert exposure_warning("tcp://127.0.0.1:1", Security()) == ""
    assert exposure_warning("tls://0.0.0.0:1", tls.with_token("t")) == ""
    assert exposure_warning("tls://0.0.0.0:1", tls) == ""  # mutual TLS authenticates peers
    open_one = exposure_warning("tcp://0.0.0.0:1", Security())
    assert "all interfaces" in open_one and "run any code" in open_one and "--token" in open_one
    token_only = exposure_warning("tcp://10.0.0.5:1", Security(token="t"))
    assert "in clear" in token_only and "all interfaces" not in token_only
    no_client_auth = Security(tls.tls_ca_file, tls.tls_cert, tls.tls_key, False)
    assert "without a token or client certificates" in exposure_warning(
        "tls://0.0.0.0:1", no_client_auth
    )

    async def run():
        async with Scheduler("tcp://0.0.0.0:0", security=Security()):
            pass

    with caplog.at_level(logging.WARNING, logger="shoal.distributed.scheduler"):
        asyncio.run(run())
    assert any("without TLS and without a token" in r.getMessage() for r in caplog.records)


def test_security_settings_come_from_config_and_are_checked(tls, tmp_path):
    settings = {
        "distributed.comm.token": "from-config",
        "distributed.comm.tls.ca-file": tls.tls_ca_file,
        "distributed.comm.tls.cert": tls.tls_cert,
        "distributed.comm.tls.key": tls.tls_key,
    }
    with shoal.config.set(settings):
        sec = Security.from_config()
    assert sec == tls.with_token("from-config") and "from-config" not in repr(sec)
    assert sec.environment() == {TOKEN_ENV: '"from-config"'}
    assert sec.command_line()[:2] == ["--tls-ca-file", tls.tls_ca_file]
    with pytest.raises(FileNotFoundError, match="tls_cert"):
        Security(tls_cert=str(tmp_path / "missing.pem"), tls_key=tls.tls_key)
    with pytest.raises(TypeError, match="string"):
        Security(token=123)
    with pytest.raises(ValueError, match="certificate and key"):
        Security(tls_ca_file=tls.tls_ca_file).server_context()


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), **extra)
    env.pop(TOKEN_ENV, None)
    env.update(extra)
    return env


def test_command_line_token_workers_and_remote_close_exit_code(no_leaks):
    token = "0123"  # reads as a number in YAML: must stay a string end to end
    env = _env(**{TOKEN_ENV: json.dumps(token)})
    cli = [sys.executable, "-P", "-m", "shoal.distributed.cli"]
    sched = subprocess.Popen(
        [*cli, "scheduler", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    worker = None
    try:
        address = sched.stdout.readline().split()[-1]
        assert address.startswith("tcp://127.0.0.1:")
        worker = subprocess.Popen([*cli, "worker", address, "--token", token], env=_env())
        with pytest.raises(AuthenticationError):
            Client(address, security=Security(token="0124"), timeout=5)
        with Client(address, security=Security(token=token)) as c:
            c.wait_for_workers(1, timeout=60)
            assert c.submit(inc, 1).result() == 2
            c.shutdown()
        assert sched.wait(20) == 3
        assert "closed by a remote request" in sched.stderr.read()
        assert worker.wait(30) == 0  # its worker lost the scheduler: a clean stop
    finally:
        for p in (worker, sched):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(20)
        sched.stdout.close()
        sched.stderr.close()


def test_temporary_security_files_are_private(tls):
    for path in (tls.tls_cert, tls.tls_key):
        assert os.stat(path).st_mode & 0o077 == 0
    assert tls.server_context() is not None and tls.client_context() is not None
