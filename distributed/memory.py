"""A worker's memory budget and the thresholds that act on it.

The budget (``memory_limit``) is per worker: bytes, a string such as
``"4GB"``, a fraction of the machine's memory, or ``"auto"`` (the
machine's memory divided among the workers started on it). ``0`` means no
limit: nothing is spilled, paused or killed for memory.

The thresholds are fractions of the budget, read from
``distributed.worker.memory.*`` (``False`` turns one off)::

    0 ............ target ..... spill ...... pause ....... terminate .. 1
                   managed      RSS above:   RSS above:    RSS above:
                   above: spill spill until  start no new  the nanny kills
                   LRU results  RSS < target tasks         the worker

>>> t = MemoryThresholds.from_config()
>>> t.target, t.spill, t.pause, t.terminate
(0.6, 0.7, 0.8, 0.95)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from typing import Any

import psutil

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config
from shoal.core.utils import parse_bytes

__all__ = [
    "MemoryThresholds",
    "parse_memory_limit",
    "process_memory",
    "system_memory",
    "return_freed_memory",
]


def system_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its cgroup's
    limit when that is lower (containers).

    >>> system_memory() > 0
    True
    """
    total = psutil.virtual_memory().total
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def parse_memory_limit(value: Any, n_workers: int = 1, total: int | None = None) -> int:
    """A per-worker budget in bytes (``0`` = no limit) from what a user wrote.

    ``None`` or ``"auto"``: ``total`` (default: this machine's memory)
    divided by ``n_workers``; a float in (0, 1]: that fraction of ``total``;
    an int or a string such as ``"250MB"``: those bytes; ``0``, ``"0"`` or
    ``False``: no limit. A budget larger than the machine is capped to it.

    >>> parse_memory_limit("4GB", total=2**40), parse_memory_limit(0)
    (4000000000, 0)
    >>> parse_memory_limit("auto", n_workers=4, total=1000), parse_memory_limit(0.5, total=1000)
    (250, 500)
    >>> parse_memory_limit("lots")
    Traceback (most recent call last):
    ValueError: memory_limit='lots' is not a size: expected bytes, a string such as '4GB', a fraction in (0, 1], 'auto' or 0 (no limit)
    """
    if total is None:
        total = system_memory()
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return max(1, total // max(1, int(n_workers)))
    if value is False or value == 0 or (isinstance(value, str) and value.strip() == "0"):
        return 0
    bad = ValueError(
        f"memory_limit={value!r} is not a size: expected bytes, a string such as '4GB', "
        "a fraction in (0, 1], 'auto' or 0 (no limit)"
    )
    if isinstance(value, bool):
        raise bad
    if isinstance(value, float) and 0 < value <= 1:
        return int(total * value)
    if isinstance(value, float) and not value.is_integer():
        raise bad  # 1.5: neither a fraction nor a count of bytes
    try:
        nbytes = parse_bytes(value)
    except (ValueError, AttributeError, TypeError):
        raise bad from None
    if nbytes < 0:
        raise bad
    return min(nbytes, total)


def _fraction(name: str) -> float | None:
    value = config.get(f"distributed.worker.memory.{name}")
    if value is False or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(
            f"distributed.worker.memory.{name} must be a fraction of the memory limit in "
            f"(0, 1] or False, got {value!r}"
        )
    return float(value)


@dataclass(frozen=True, slots=True)
class MemoryThresholds:
    """The four fractions (``None`` = off) and the spill-disk bound in bytes
    (``0`` = unbounded)."""

    target: float | None = 0.6
    spill: float | None = 0.7
    pause: float | None = 0.8
    terminate: float | None = 0.95
    max_spill: int = 0

    @classmethod
    def from_config(cls) -> MemoryThresholds:
        """The thresholds set in ``shoal.config`` (validated).

        >>> from shoal.core import config
        >>> with config.set({"distributed.worker.memory.pause": 1.5}):
        ...     MemoryThresholds.from_config()
        Traceback (most recent call last):
        ValueError: distributed.worker.memory.pause must be a fraction of the memory limit in (0, 1] or False, got 1.5
        """
        max_spill = config.get("distributed.worker.memory.max-spill")
        return cls(
            _fraction("target"),
            _fraction("spill"),
            _fraction("pause"),
            _fraction("terminate"),
            0 if max_spill in (False, None, 0) else parse_bytes(max_spill),
        )


def process_memory(pid: int | None = None) -> int:
    """Resident memory (RSS) of a process, in bytes (this one by default).

    >>> process_memory() > 0
    True
    """
    return psutil.Process(pid or os.getpid()).memory_info().rss


_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_ALLOCATOR_THRESHOLD = 1 << 16


def return_freed_memory() -> bool:
    """Make this process's allocator give freed memory back to the system.

    glibc raises its mmap threshold as big blocks are freed, after which
    results of a few MB come from the heap and their memory stays in the
    process once freed: unmanaged memory that spilling cannot reduce. Fixed
    thresholds (64 kiB) keep big blocks mmapped and the heap trimmed. Called
    by worker processes only (it changes the allocator of the whole process).
    Returns False where there is no glibc.

    >>> return_freed_memory() in (True, False)
    True
    """
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, _ALLOCATOR_THRESHOLD)
    ok &= mallopt(_M_TRIM_THRESHOLD, _ALLOCATOR_THRESHOLD)
    return bool(ok)
