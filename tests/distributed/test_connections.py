"""Bounded connections: with 16 worker processes exchanging data all to all,
each worker keeps a bounded pool of connections to its peers and reuses it, so
its sockets and file descriptors do not grow with the number of tasks (Dask's
authors list the many open connections per worker among its scaling limits)."""

import sys

import cloudpickle
import psutil
import pytest

import shoal
from shoal.distributed import Client, LocalCluster

cloudpickle.register_pickle_by_value(sys.modules[__name__])

N_WORKERS = 16


def _sockets(shoal_worker=None) -> dict:
    proc = psutil.Process()
    tcp = [c for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_ESTABLISHED]
    return {"tcp": len(tcp), "fds": proc.num_fds()}


def _part(i: int) -> bytes:
    return bytes(20_000) + i.to_bytes(4, "little")


def _gather_all(*parts: bytes) -> int:
    return sum(len(p) for p in parts)


def _all_to_all(client: Client, rounds: int) -> None:
    """Each task reads a part from every worker: every pair of workers talks."""
    for r in range(rounds):
        parts = client.map(_part, range(r * 100, r * 100 + N_WORKERS * 2), pure=False)
        totals = [client.submit(_gather_all, *parts, pure=False) for _ in range(N_WORKERS * 2)]
        assert client.gather(totals) == [len(_part(0)) * len(parts)] * len(totals)
        del parts, totals


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=N_WORKERS, threads_per_worker=1, memory_limit="300MB") as c:
        yield c


def test_sockets_per_worker_stay_bounded_and_are_reused(cluster):
    with Client(cluster) as client:
        client.wait_for_workers(N_WORKERS, timeout=120)
        _all_to_all(client, rounds=2)
        first = client.run(_sockets)
        _all_to_all(client, rounds=4)
        later = client.run(_sockets)
    assert len(first) == N_WORKERS
    for address, counts in later.items():
        # a pool to each peer, the peers' pools to it, the scheduler: no more
        assert counts["tcp"] <= 2 * (N_WORKERS - 1) + 4, (address, counts)
        # reuse: more work opens no more connections or files
        assert counts["tcp"] <= first[address]["tcp"] + 2, (address, first[address], counts)
        assert counts["fds"] <= first[address]["fds"] + 4, (address, first[address], counts)


def _outgoing(shoal_worker) -> int:
    """Connections this worker opened (not accepted on its own listening port)."""
    port = int(shoal_worker.address.rsplit(":", 1)[1])
    conns = psutil.Process().net_connections(kind="tcp")
    return sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED and c.laddr.port != port)


def test_a_smaller_pool_limit_holds_and_the_work_still_completes(monkeypatch):
    # worker processes read their settings from the environment they inherit
    monkeypatch.setenv("SHOAL_DISTRIBUTED__COMM__MAX_CONNECTIONS", "2")
    with LocalCluster(n_workers=6, threads_per_worker=1, memory_limit="300MB") as cluster:
        with Client(cluster) as client:
            client.wait_for_workers(6, timeout=60)
            parts = client.map(_part, range(12), pure=False)
            totals = [client.submit(_gather_all, *parts, pure=False) for _ in range(12)]
            assert client.gather(totals) == [len(_part(0)) * 12] * 12
            limits = client.run(lambda: shoal.config.get("distributed.comm.max-connections"))
            outgoing = client.run(_outgoing)
    assert set(limits.values()) == {2}
    for address, n in outgoing.items():
        # at most 2 from the peer pool, plus its connections to the scheduler
        assert n <= 2 + 2, (address, n)  # unbounded, each would open one per peer (5) + 1


def _connections_opened(shoal_worker=None) -> int:
    from shoal.distributed.comm import OPENED

    return OPENED["connected"]


def test_repeated_computations_over_tls_open_no_connections():
    from shoal.distributed.security import Security

    def opened(client: Client) -> int:
        return _connections_opened() + sum(client.run(_connections_opened).values())

    security = Security.temporary(token=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, security=security) as cluster:
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=60)
            opened(client)  # its own calls to the workers open the client's pool first
            counts = []
            for r in range(3):
                parts = client.map(_part, range(r * 10, r * 10 + 4), pure=False)
                # each total reads parts from both workers: worker-to-worker transfers
                totals = [client.submit(_gather_all, *parts, pure=False) for _ in range(4)]
                assert client.gather(totals) == [len(_part(0)) * 4] * 4
                assert len(client.gather(parts)) == 4
                del parts, totals
                counts.append(opened(client))
    assert counts[0] > 0  # the counter sees connections (first round: pools fill)
    # later rounds reuse the pooled connections: none opened, so no handshakes
    assert counts[1] == counts[2] == counts[0], counts
