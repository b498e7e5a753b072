"""Pacing reads and writes of a shared store: how many IO tasks run at once,
and how many bytes per second they read.

Two knobs, each an argument of the readers and writers (``read_parquet``,
``read_csv``, ``to_parquet``) with a config default:

- ``max_concurrent=N`` (config ``io.max-concurrent``, per protocol, e.g.
  ``{"s3": 16}``): the IO tasks hold a slot of the concurrency pool
  ``io-<protocol>`` (a ``concurrency`` annotation, see ``shoal.annotate``),
  so at most N of them run at once on the whole cluster (in one process for
  the local schedulers).
- ``max_read_rate=B`` bytes per second (config ``io.read-bytes-per-second``,
  per protocol): the filesystem the tasks read through is wrapped so every
  read draws from a token bucket. The bucket is per process: on a cluster
  each worker may read B bytes per second, so give each worker its share of
  what the store allows (B = budget / number of workers).

::

    task --open--> PacedFileSystem --open--> fsspec file
                        |                       |
                        +-- read(n) --> bytes --+--> TokenBucket.take(len)  (sleeps
                                                     while the bucket is in debt)

>>> pool_annotation("s3", 4)
{'io-s3': 4}
>>> bucket = TokenBucket(100.0, burst=100.0, clock=lambda: 0.0)
>>> bucket.wait_for(150), bucket.wait_for(100)
(0.5, 1.5)
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from shoal.core import config

__all__ = [
    "TokenBucket",
    "PacedFileSystem",
    "PacedFile",
    "pool_annotation",
    "io_limits",
    "protocol_of",
    "parse_rate",
]

config.update_defaults(
    {"io": {"max-concurrent": {}, "read-bytes-per-second": {}}},
    {
        "io.max-concurrent": "Default max_concurrent of readers and writers, by protocol "
        "(e.g. {'s3': 16}): IO tasks of that protocol running at once on the cluster.",
        "io.read-bytes-per-second": "Default max_read_rate of readers, by protocol (e.g. "
        "{'s3': '200MB'}): bytes per second each process (worker) reads through them.",
    },
)


def protocol_of(fs: Any) -> str:
    """The main protocol name of an fsspec filesystem (or a protocol string).

    >>> import fsspec
    >>> protocol_of(fsspec.filesystem("memory")), protocol_of("s3")
    ('memory', 's3')
    """
    proto = fs if isinstance(fs, str) else getattr(fs, "protocol", "file")
    if isinstance(proto, (tuple, list)):
        proto = proto[0]
    return str(proto)


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20}
_UNITS["gib"] = 2**30


def parse_rate(rate: Any, what: str) -> float | None:
    """Bytes per second from a number or a string such as ``"50MB"`` (None: no limit).

    >>> parse_rate("2 MiB", "read_csv"), parse_rate(None, "x")
    (2097152.0, None)
    """
    if rate is None:
        return None
    if isinstance(rate, str):
        m = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*(?:/s)?\s*", rate)
        if not m or m.group(2).lower() not in _UNITS:
            raise ValueError(
                f"{what}: max_read_rate must be bytes per second, e.g. '50MB'; got {rate!r}"
            )
        value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    elif isinstance(rate, (int, float)) and not isinstance(rate, bool):
        value = float(rate)
    else:
        raise TypeError(f"{what}: max_read_rate must be a number or a string, got {rate!r}")
    if not value > 0:
        raise ValueError(f"{what}: max_read_rate must be positive, got {rate!r}")
    return value


def pool_annotation(protocol: str, max_concurrent: int) -> dict[str, int]:
    """The ``concurrency`` annotation of IO tasks of ``protocol``."""
    return {f"io-{protocol}": int(max_concurrent)}


def _check_limit(n: Any, what: str) -> int | None:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{what}: max_concurrent must be a positive int, got {n!r}")
    return n


def io_limits(
    fs: Any, max_concurrent: int | None, max_read_rate: Any, what: str
) -> tuple[Any, dict[str, Any]]:
    """``(filesystem to read through, annotations for the IO tasks)``: the
    arguments (or else the config defaults for ``fs``'s protocol) applied.

    >>> import fsspec
    >>> fs, ann = io_limits(fsspec.filesystem("memory"), 2, "1MB", "read_csv")
    >>> type(fs).__name__, ann
    ('PacedFileSystem', {'concurrency': {'io-memory': 2}})
    """
    proto = protocol_of(fs)
    if max_concurrent is None:
        max_concurrent = (config.get("io.max-concurrent") or {}).get(proto)
    limit = _check_limit(max_concurrent, what)
    if max_read_rate is None:
        max_read_rate = (config.get("io.read-bytes-per-second") or {}).get(proto)
    rate = parse_rate(max_read_rate, what)
    annotations: dict[str, Any] = {}
    if limit is not None:
        annotations["concurrency"] = pool_annotation(proto, limit)
    if rate is not None:
        fs = PacedFileSystem(fs, rate)
    return fs, annotations


class TokenBucket:
    """``rate`` tokens (bytes) per second, at most ``burst`` saved up. A read
    takes its bytes after the fact and may leave the bucket in debt; the
    reader then sleeps until the debt is paid, so over any stretch of time
    the bytes read stay under ``burst + rate * seconds``."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(rate / 10, 1.0))
        self.clock = clock
        self.sleep = sleep
        self.tokens = self.burst
        self.last = clock()
        self.taken = 0  # bytes taken in all
        self._lock = threading.Lock()

    def wait_for(self, n: int) -> float:
        """Take ``n`` tokens; return the seconds to wait before going on."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            self.tokens -= n
            self.taken += n
            return -self.tokens / self.rate if self.tokens < 0 else 0.0

    def take(self, n: int) -> None:
        """Take ``n`` tokens, sleeping while the bucket is in debt."""
        wait = self.wait_for(n)
        if wait > 0:
            self.sleep(wait)


_buckets: dict[tuple[str, float], TokenBucket] = {}
_buckets_lock = threading.Lock()


def bucket_for(protocol: str, rate: float) -> TokenBucket:
    """This process's bucket for ``protocol`` at ``rate`` (shared by every task)."""
    with _buckets_lock:
        found = _buckets.get((protocol, rate))
        if found is None:
            found = _buckets[(protocol, rate)] = TokenBucket(rate)
        return found


class PacedFile:
    """A file whose reads draw from a token bucket (everything else is the
    wrapped file's)."""

    def __init__(self, f: Any, bucket: TokenBucket) -> None:
        self._f = f
        self._bucket = bucket

    def read(self, *args: Any) -> Any:
        data = self._f.read(*args)
        self._bucket.take(len(data))
        return data

    def readinto(self, buffer: Any) -> int:
        n = int(self._f.readinto(buffer) or 0)
        self._bucket.take(n)
        return n

    def readline(self, *args: Any) -> Any:
        line = self._f.readline(*args)
        self._bucket.take(len(line))
        return line

    def __iter__(self) -> Iterator[Any]:
        return iter(self.readline, self._f.read(0))

    def __enter__(self) -> PacedFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._f.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


class PacedFileSystem:
    """An fsspec filesystem whose files, opened for reading, are paced at
    ``rate`` bytes per second per process (``PacedFile``); every other
    attribute is the wrapped filesystem's. Pickles as the filesystem and
    the rate, so tasks carry it to the workers.

    >>> import fsspec
    >>> fs = PacedFileSystem(fsspec.filesystem("memory"), 1e9)
    >>> with fs.open("/paced/a", "wb") as f:
    ...     _ = f.write(b"abc")
    >>> with fs.open("/paced/a", "rb") as f:
    ...     f.read()
    b'abc'
    """

    def __init__(self, fs: Any, rate: float) -> None:
        self.fs = fs
        self.rate = float(rate)

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        f = self.fs.open(path, mode, **kwargs)
        if "r" not in mode:
            return f
        return PacedFile(f, bucket_for(protocol_of(self.fs), self.rate))

    def __getattr__(self, name: str) -> Any:
        if name == "fs":  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self.fs, name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (PacedFileSystem, (self.fs, self.rate))

    def __shoal_tokenize__(self) -> Any:
        from shoal.core.tokenize import tokenize

        return ("paced", tokenize(self.fs), self.rate)
