"""Process-level helpers: file limits, a loop in a thread, ids.

>>> new_id("worker").startswith("worker-")
True
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Coroutine
from typing import Any

__all__ = ["raise_open_file_limit", "LoopRunner", "new_id"]

logger = logging.getLogger("shoal.distributed")

_LOW_FILE_LIMIT = 4096


def raise_open_file_limit() -> int:
    """Raise this process's open-file soft limit to the hard limit; warn if it
    stays low (each worker peer and client costs a descriptor). Returns the limit.

    >>> raise_open_file_limit() > 0
    True
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return 1 << 30
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        target = max(soft, 1 << 20) if soft != resource.RLIM_INFINITY else soft
    else:
        target = hard
    if soft != target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < _LOW_FILE_LIMIT:
        logger.warning(
            "open-file limit is %d; a large cluster needs more (raise the hard limit, "
            "e.g. `ulimit -n` or /etc/security/limits.conf)",
            soft,
        )
    return soft


def new_id(prefix: str) -> str:
    """A unique name such as ``"client-1a2b..."``.

    >>> new_id("client").startswith("client-")
    True
    """
    return f"{prefix}-{uuid.uuid4().hex}"


class LoopRunner:
    """An asyncio event loop running in a daemon thread, for synchronous APIs.

    >>> runner = LoopRunner()
    >>> async def two():
    ...     return 2
    >>> runner.run(two())
    2
    >>> runner.stop()
    """

    def __init__(self, name: str = "shoal-loop"):
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()
        self._started.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        try:
            self.loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def run(self, coro: Coroutine, timeout: float | None = None) -> Any:
        """Run ``coro`` on the loop and wait for its result here."""
        if threading.current_thread() is self.thread:
            raise RuntimeError("LoopRunner.run called from its own loop thread (would deadlock)")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def call_soon(self, func, *args) -> None:
        """Call ``func(*args)`` on the loop from any thread."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(func, *args)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop (cancelling what still runs) and join its thread."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
