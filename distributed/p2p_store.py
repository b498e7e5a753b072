"""Where one worker keeps the pieces of one exchange run it receives: on disk.

A piece is a list of frames (a pickle's head and its out-of-band buffers).
Pieces arrive in batches (from peers, or from this worker's own transfers)
and are appended to one file per run, in arrival order; an index in memory
says where each piece of each output is (``output -> [(input, offset,
frame lengths)]``). Reading an output gathers its pieces in input order,
each read with one system call into one writable buffer that its frames
are views of (so what is unpickled from them needs no further copy). One
file appended sequentially is the fastest way to put many pieces on a disk,
and the page cache, not the worker's memory, holds what was written recently.

Disk use is bounded: ``max_bytes`` (config ``distributed.p2p.max-disk``), or
else the free space of the disk; a batch that would pass it raises
``ExchangeDiskFull`` naming the worker, the run and the figures, before
anything of that batch is written.

>>> import tempfile
>>> log = ShardLog(tempfile.mkdtemp(), "x-1 run 1 on worker w")
>>> log.append([(0, 1, [b"b1"]), (1, 1, [b"c", b"1"]), (0, 0, [b"a0"])])
>>> [[bytes(f) for f in frames] for frames in log.read(0)], log.read(2), log.size
([[b'a0'], [b'b1']], [], 6)
>>> [bytes(f) for f in log.read(1)[0]]
[b'c', b'1']
>>> log.close()
"""

from __future__ import annotations

import os
import shutil
import threading
from typing import Any

from shoal.core.utils import format_bytes

__all__ = ["ShardLog", "ExchangeDiskFull", "RESERVE"]

RESERVE = 64 * 2**20  # bytes of the disk left free when no max-disk is set


def _write_all(fd: int, frames: list[Any]) -> None:
    """Write every byte of ``frames`` to ``fd`` (no joined copy)."""
    views = [memoryview(f).cast("B") for f in frames]
    k = 0
    while k < len(views):
        written = os.writev(fd, views[k : k + 1024])  # IOV_MAX is 1024 on Linux
        while k < len(views) and written >= views[k].nbytes:
            written -= views[k].nbytes
            k += 1
        if written:
            views[k] = views[k][written:]


class ExchangeDiskFull(OSError):
    """A worker has no room on its disk for the pieces of an exchange sent to it."""


class ShardLog:
    """The pieces one worker received for one run (module docstring).

    ``append`` and ``read`` may be called from several threads; ``read`` of
    an output happens once all its pieces were appended (after the barrier).
    """

    def __init__(self, directory: str, name: str, max_bytes: int | None = None):
        self.directory = directory
        self.name = name  # for errors: which exchange, run and worker
        self.max_bytes = max_bytes
        self.path = os.path.join(directory, "pieces")
        self.index: dict[int, list[tuple[int, int, tuple[int, ...]]]] = {}
        self.size = 0
        self._file: Any = None
        self._lock = threading.Lock()
        os.makedirs(directory, exist_ok=True)

    def append(self, pieces: list[tuple[int, int, list[Any]]]) -> None:
        """Write ``(output, input, frames)`` pieces (frames: bytes-likes) at
        the end of the file."""
        sized = [(j, i, frames, [memoryview(f).nbytes for f in frames]) for j, i, frames in pieces]
        total = sum(sum(lengths) for *_, lengths in sized)
        with self._lock:
            self._check_room(total)
            if self._file is None:
                self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open for the run
            fd = self._file.fileno()
            offset = self.size
            for j, i, frames, lengths in sized:
                _write_all(fd, frames)
                self.index.setdefault(j, []).append((i, offset, tuple(lengths)))
                offset += sum(lengths)
            self.size = offset

    def _check_room(self, total: int) -> None:
        if self.max_bytes is not None:
            if self.size + total > self.max_bytes:
                raise ExchangeDiskFull(
                    f"{self.name}: {format_bytes(self.size + total)} of pieces would pass the "
                    f"{format_bytes(self.max_bytes)} this worker may keep on disk "
                    "(distributed.p2p.max-disk); the exchange's output does not fit on its "
                    "workers' disks: add workers or disk, or raise the limit"
                )
            return
        free = shutil.disk_usage(self.directory).free
        if total > free - RESERVE:
            raise ExchangeDiskFull(
                f"{self.name}: {format_bytes(total)} more of pieces do not fit on the disk of "
                f"{self.directory} ({format_bytes(free)} free, {format_bytes(RESERVE)} kept "
                "free); the exchange's output does not fit on its workers' disks: add workers "
                "or disk"
            )

    def read(self, j: int) -> list[list[memoryview]]:
        """Output ``j``'s pieces (each a list of frames) in input order; a
        piece that arrived twice (a transfer run twice) counts once."""
        entries = sorted(self.index.get(j, ()))
        if not entries:
            return []
        out = []
        seen = -1
        with open(self.path, "rb", buffering=0) as f:
            for i, offset, lengths in entries:
                if i == seen:
                    continue
                seen = i
                data = bytearray(sum(lengths))
                if os.preadv(f.fileno(), [data], offset) != len(data):
                    raise OSError(f"{self.name}: the pieces file {self.path} was cut short")
                view = memoryview(data)
                frames, start = [], 0
                for n in lengths:
                    frames.append(view[start : start + n])
                    start += n
                out.append(frames)
        return out

    def close(self) -> None:
        """Drop the pieces (the file and its directory)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            self.index.clear()
            shutil.rmtree(self.directory, ignore_errors=True)
