"""The distributed room's settings, added to ``shoal.config`` on import.

>>> from shoal.core import config
>>> config.get("distributed.comm.batch-interval")
0.002
"""

from __future__ import annotations

from shoal.core import config

__all__ = ["DEFAULTS"]

DEFAULTS = {
    "distributed": {
        "comm": {
            "max-message-size": "2GiB",
            "batch-interval": 0.002,
            "connect-timeout": 10.0,
            "max-connections": 256,
            "compression": None,
            "compression-min-size": "1MiB",
            "max-frames": 1_000_000,
            "max-in-flight": "auto",
            "handshake-timeout": 10.0,
            "stall-timeout": 60.0,
            "token": None,
            "tls": {
                "ca-file": None,
                "cert": None,
                "key": None,
                "require-client-cert": True,
            },
        },
        "scheduler": {
            "worker-saturation": 1.0,
            "fast-task-window": 0.02,
            "max-queued-per-thread": 64,
            "unknown-task-duration": 0.5,
            "allowed-failures": 3,
            "worker-ttl": 30.0,
            "tick-interval": 0.5,
            "bandwidth": 100_000_000,
        },
        "client": {
            "graph-chunk": 10_000,
            "reconnect": True,
            "heartbeat-interval": 2.0,
            "scheduler-ttl": 20.0,
            "reconnect-wait": 10.0,
        },
        "p2p": {
            "batch-bytes": "8MiB",
            "send-buffer": "128MiB",
            "max-disk": None,
        },
        "worker": {
            "heartbeat-interval": 0.5,
            "memory": {
                "target": 0.6,
                "spill": 0.7,
                "pause": 0.8,
                "terminate": 0.95,
                "max-spill": False,
                "monitor-interval": 0.05,
                "spill-compression": "auto",
            },
        },
    }
}

DOCS = {
    "distributed.comm.max-message-size": "Largest message a comm reads or writes; a bigger "
    "frame header closes the connection.",
    "distributed.comm.batch-interval": "Seconds a batched stream waits to group messages.",
    "distributed.comm.connect-timeout": "Seconds to keep retrying a connection before failing.",
    "distributed.comm.max-connections": "Open connections a connection pool keeps at most.",
    "distributed.comm.compression": "None, or 'zstd' to compress the data frames of TCP "
    "messages (needs the optional zstandard package; worth it on slow networks only).",
    "distributed.comm.compression-min-size": "Messages smaller than this are never compressed.",
    "distributed.comm.max-frames": "Most frames one message may announce; more closes the "
    "connection.",
    "distributed.comm.max-in-flight": "Bytes all connections of a process may hold in messages "
    "still arriving (memory is reserved as data arrives, never from the announced size); "
    "'auto' is a quarter of the machine's memory. A message waits for room, at most "
    "stall-timeout.",
    "distributed.comm.handshake-timeout": "Seconds a new connection has to finish TLS and the "
    "token handshake before it is closed.",
    "distributed.comm.stall-timeout": "Seconds a message may go without new bytes (or wait for "
    "in-flight room) once it has begun arriving, before its connection is closed.",
    "distributed.comm.token": "Shared secret every peer proves in the handshake (HMAC "
    "challenge-response, checked before any message is read); None: no token. Environment: "
    "SHOAL_DISTRIBUTED__COMM__TOKEN (read as YAML: quote it if it looks like a number).",
    "distributed.comm.tls.ca-file": "PEM file of the CA that signs the cluster's certificates; "
    "with it every connection uses TLS.",
    "distributed.comm.tls.cert": "PEM certificate this process shows (with tls.key).",
    "distributed.comm.tls.key": "PEM private key of tls.cert.",
    "distributed.comm.tls.require-client-cert": "With a CA file, listeners ask connecting peers "
    "for a certificate the CA signed (mutual TLS).",
    "distributed.scheduler.worker-saturation": "Root tasks per worker thread sent at once; the "
    "rest wait in the scheduler's queue.",
    "distributed.scheduler.fast-task-window": "Seconds of measured work per thread a worker may "
    "hold of short root tasks (so round trips do not starve it).",
    "distributed.scheduler.max-queued-per-thread": "Upper bound of root tasks per thread however "
    "short they are.",
    "distributed.scheduler.unknown-task-duration": "Duration assumed for a task group never run.",
    "distributed.scheduler.allowed-failures": "Worker deaths a task may be part of before it "
    "errs with KilledWorker.",
    "distributed.scheduler.worker-ttl": "Seconds without a heartbeat before a worker is removed.",
    "distributed.scheduler.tick-interval": "Seconds between scheduler checks of worker health.",
    "distributed.scheduler.bandwidth": "Bytes per second assumed between workers for placement.",
    "distributed.client.graph-chunk": "Tasks per update-graph message: the scheduler starts on "
    "the first chunk while the client still encodes the rest.",
    "distributed.client.reconnect": "Whether a client that lost its scheduler keeps trying to "
    "reconnect to the same address (Client(reconnect=...) overrides it).",
    "distributed.client.heartbeat-interval": "Seconds between a client's heartbeats to its "
    "scheduler.",
    "distributed.client.scheduler-ttl": "Seconds without a word from the scheduler (it answers "
    "heartbeats) before a client takes it as lost.",
    "distributed.client.reconnect-wait": "Seconds a call made while the client reconnects waits "
    "for the scheduler before raising.",
    "distributed.p2p.batch-bytes": "Bytes of pieces a worker gathers for one peer before "
    "sending them in one message, in a peer-to-peer exchange (shuffle, rechunk).",
    "distributed.p2p.send-buffer": "Bytes of pieces a worker may hold buffered or sent and not "
    "yet acknowledged in a peer-to-peer exchange; its transfer tasks wait beyond it.",
    "distributed.p2p.max-disk": "Bytes (or e.g. '100GB') of exchange pieces a worker may keep "
    "on disk; None: its disk's free space. An exchange that needs more fails with "
    "ExchangeDiskFull.",
    "distributed.worker.heartbeat-interval": "Seconds between a worker's heartbeats.",
    "distributed.worker.memory.target": "Fraction of the memory limit: above it, results are "
    "spilled to disk, least recently used first, until managed memory is below it (False: off).",
    "distributed.worker.memory.spill": "Fraction of the memory limit: when the process's RSS is "
    "above it, results are spilled until RSS is estimated below `target` (False: off).",
    "distributed.worker.memory.pause": "Fraction of the memory limit: above it the worker starts "
    "no new task and fetches nothing until memory falls (False: off).",
    "distributed.worker.memory.terminate": "Fraction of the memory limit: above it the nanny "
    "kills and restarts the worker (a worker without a nanny closes itself) (False: off).",
    "distributed.worker.memory.max-spill": "Bytes (or e.g. '10GB') of spilled data a worker may "
    "keep on disk; once a spill would pass it the worker pauses instead (False: no bound).",
    "distributed.worker.memory.monitor-interval": "Seconds between samples of a worker's RSS "
    "(by the worker and by its nanny).",
    "distributed.worker.memory.spill-compression": "'auto' (lz4, else zstandard, if installed), "
    "'lz4', 'zstd' or False: how spilled buffers are compressed when that pays.",
}

config.update_defaults(DEFAULTS, DOCS)
