"""Batched sends: many small messages to one peer, few writes.

``send(msg)`` only appends to a buffer. A background coroutine writes the
whole buffer as one message (a list) at most once per ``interval`` seconds:
the first message after a quiet period goes out at once, the ones that
follow within the interval are grouped, so 10,000 task reports cost a handful
of writes. The receiver reads lists of messages.

>>> import asyncio
>>> from shoal.distributed.comm import listen, connect
>>> async def demo():
...     got = []
...     async def receive(comm):
...         while len(got) < 1000:
...             got.extend(await comm.read())
...     listener = await listen("tcp://127.0.0.1:0", receive)
...     batched = BatchedSend(interval=0.01)
...     batched.start(await connect(listener.address))
...     for i in range(1000):
...         batched.send({"op": "n", "i": i})
...     while len(got) < 1000:
...         await asyncio.sleep(0.01)
...     await batched.close()
...     listener.stop()
...     return len(got), batched.batches < 10
>>> asyncio.run(demo())
(1000, True)
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config
from shoal.distributed.comm import Comm, CommClosedError

__all__ = ["BatchedSend"]

logger = logging.getLogger("shoal.distributed.batched")


class BatchedSend:
    """Groups messages to one comm (see module docstring)."""

    def __init__(self, interval: float | None = None, name: str = ""):
        if interval is None:
            interval = float(config.get("distributed.comm.batch-interval"))
        self.interval = interval
        self.name = name
        self.buffer: list = []
        self.comm: Comm | None = None
        self.wake = asyncio.Event()
        self.closing = False
        self.task: asyncio.Task | None = None
        self.last_send = 0.0
        self.batches = 0
        self.messages = 0

    def start(self, comm: Comm) -> None:
        """Start writing to ``comm`` (on the running event loop)."""
        self.comm = comm
        self.task = asyncio.ensure_future(self._run(comm))

    def send(self, *msgs: Any) -> None:
        """Queue messages; raises ``CommClosedError`` once the comm is closed."""
        if self.closing or (self.comm is not None and self.comm.closed()):
            raise CommClosedError(f"batched stream {self.name} is closed")
        self.buffer.extend(msgs)
        self.wake.set()

    async def _run(self, comm: Comm) -> None:
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                wait = self.last_send + self.interval - time.monotonic()
                if wait > 0 and not self.closing:
                    await asyncio.sleep(wait)
                if self.buffer:
                    payload, self.buffer = self.buffer, []
                    self.last_send = time.monotonic()
                    self.batches += 1
                    self.messages += len(payload)
                    await comm.write(payload)
                if self.closing and not self.buffer:
                    return
        except CommClosedError as e:
            logger.info("batched stream %s closed: %s", self.name, e)
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("batched stream %s failed", self.name)
        finally:
            self.closing = True
            comm.abort()

    async def close(self, timeout: float = 2.0) -> None:
        """Flush what is buffered, then close the comm."""
        if self.task is None:
            return
        if not self.closing:
            self.closing = True
            self.wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except (TimeoutError, asyncio.CancelledError):
            self.task.cancel()
        if self.comm is not None:
            self.comm.abort()

    def abort(self) -> None:
        """Drop the buffer and close at once."""
        self.closing = True
        self.buffer = []
        if self.task is not None:
            self.task.cancel()
        if self.comm is not None:
            self.comm.abort()
