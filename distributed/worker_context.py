"""What a task running on a worker can reach: ``get_worker()``,
``get_client()``, ``secede()``/``rejoin()`` and ``worker_client()``.

Each pool thread of a worker is bound to its worker. ``get_client()``
gives the worker's own client (one per worker, made on first use and closed
with the worker), so a task can submit more tasks and wait for them.

A task waiting on other tasks would hold its thread meanwhile: on a worker
with one thread, the tasks it waits for could never run. ``secede()`` takes
the calling task's thread out of the pool (a new pool thread takes its
place); the task goes on running beyond the worker's thread count, and its
thread ends when the task does. ``rejoin()`` waits until a pool thread is
free and takes its place again. ``worker_client()`` secedes, yields the
client and rejoins.

>>> from shoal.distributed import Client
>>> def fib(n):
...     if n < 2:
...         return n
...     with worker_client() as c:
...         a, b = c.submit(fib, n - 1), c.submit(fib, n - 2)
...         return a.result() + b.result()
>>> with Client(n_workers=1, threads_per_worker=1, processes=False) as c:
...     c.submit(fib, 5).result()
5
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shoal.distributed.client import Client
    from shoal.distributed.worker import Worker

__all__ = [
    "get_worker",
    "get_client",
    "secede",
    "rejoin",
    "worker_client",
    "bind_worker",
    "in_task",
    "seceded_while_waiting",
]

_local = threading.local()


def bind_worker(worker: Worker) -> None:
    """Make this thread a pool thread of ``worker`` (the worker calls this)."""
    _local.worker = worker
    _local.seceded = False


def _threads_changed(worker: Worker, delta: int) -> None:
    """Tell the scheduler the worker runs ``delta`` more threads (it sends
    that many more tasks)."""
    msg = {"op": "threads-changed", "delta": delta}
    try:
        worker.loop.call_soon_threadsafe(worker.stream.send, msg)  # type: ignore[union-attr]
    except RuntimeError:  # the loop is closed: the worker is gone
        pass


def leaving_pool(worker: Worker) -> bool:
    """Whether this pool thread ends now, its seceded task done (the thread
    that took its place serves the pool)."""
    if not getattr(_local, "seceded", False):
        return False
    _threads_changed(worker, -1)
    return True


def in_task() -> bool:
    """Whether this thread runs tasks of a worker."""
    return getattr(_local, "worker", None) is not None


@contextlib.contextmanager
def seceded_while_waiting() -> Iterator[None]:
    """Secede for the block (if not seceded already), then rejoin."""
    if getattr(_local, "seceded", False):
        yield
        return
    secede()
    try:
        yield
    finally:
        rejoin()


def get_worker() -> Worker:
    """The worker running the calling task; ValueError outside a task.

    >>> get_worker()
    Traceback (most recent call last):
    ...
    ValueError: get_worker() works only inside a task running on a shoal.distributed worker
    """
    worker = getattr(_local, "worker", None)
    if worker is None:
        raise ValueError(
            "get_worker() works only inside a task running on a shoal.distributed worker"
        )
    return worker


def get_client(timeout: float | None = None) -> Client:
    """The client of the worker running the calling task (one per worker,
    connected on first use), or else the default client of this process.

    >>> from shoal.distributed import Client
    >>> with Client(n_workers=1, processes=False) as c:
    ...     get_client() is c
    True
    """
    worker = getattr(_local, "worker", None)
    if worker is None:
        from shoal.distributed.client import default_client

        return default_client()
    with worker.client_lock:
        client = worker.task_client
        if client is None or client.status == "closed":
            from shoal.distributed.client import Client

            client = Client(
                worker.scheduler_address,
                security=worker.security,
                set_as_default=False,
                timeout=30.0 if timeout is None else timeout,
            )
            worker.task_client = client
        return client


def secede() -> None:
    """Take the calling task's thread out of the worker's pool; a new pool
    thread takes its place (see module docstring)."""
    worker = get_worker()
    if getattr(_local, "seceded", False):
        return
    _local.seceded = True
    worker.add_pool_thread()
    _threads_changed(worker, 1)


def rejoin() -> None:
    """Wait until one of the worker's pool threads is free, then take its
    place again (a task that did not secede returns at once)."""
    worker = get_worker()
    if not getattr(_local, "seceded", False):
        return
    turn = threading.Event()
    with worker.cv:
        worker.rejoins.append(turn)
        worker.cv.notify_all()
    while not turn.wait(0.1):
        if worker.stopping:
            return
    _local.seceded = False
    _threads_changed(worker, -1)


@contextlib.contextmanager
def worker_client(timeout: float | None = None) -> Iterator[Client]:
    """Secede, give the worker's client, rejoin on exit: for a task that
    submits tasks and waits for them."""
    client = get_client(timeout)
    secede()
    try:
        yield client
    finally:
        rejoin()


async def close_task_client(worker: Worker) -> None:
    """Close the worker's client, if a task made one (on worker close)."""
    client = worker.task_client
    worker.task_client = None
    if client is not None:
        await asyncio.get_running_loop().run_in_executor(None, client.close)
