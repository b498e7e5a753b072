"""Results spilled to a worker's local disk, one file per key.

A value is pickled with protocol 5: its large buffers (NumPy arrays, pandas
and pyarrow columns) come out of band, without copies, and go to the file as
they are, each compressed first when that pays (a sample of it must shrink
by a tenth; lz4 is preferred, then zstandard, when installed). Reading a
file back takes one read into one writable buffer; uncompressed buffers are
handed to the unpickler as views of it, so arrays are rebuilt on it without
another copy. The directory is made on the first write and removed by
``close``.

File layout::

    b"SHSP" | u32 frames | per frame: u8 codec, u64 raw size, u64 stored size | frames

>>> import numpy as np
>>> store = SpillStore()
>>> disk = store.put("x", {"a": np.arange(1000)})
>>> store.get("x")["a"].sum(), "x" in store, store.disk_bytes == disk
(np.int64(499500), True, True)
>>> store.delete("x"); len(store)
0
>>> store.close()
"""

from __future__ import annotations

import os
import pickle
import shutil
import struct
import tempfile
import threading
from collections.abc import Callable
from typing import Any

import shoal.distributed.settings  # noqa: F401  (registers the config defaults)
from shoal.core import config
from shoal.distributed.protocol import pickle_dumps

__all__ = ["SpillStore", "compressor"]

_MAGIC = b"SHSP"
_HEAD = struct.Struct("<4sI")
_FRAME = struct.Struct("<BQQ")
_RAW, _LZ4, _ZSTD = 0, 1, 2
_MIN_COMPRESS = 1 << 16  # smaller frames are written as they are
_SAMPLE = 1 << 16


def _lz4() -> tuple[int, Callable, Callable] | None:
    try:
        import lz4.block
    except ImportError:
        return None
    return (
        _LZ4,
        lambda b: lz4.block.compress(b, store_size=False),
        lambda b, n: lz4.block.decompress(b, uncompressed_size=n, return_bytearray=True),
    )


def _zstd() -> tuple[int, Callable, Callable] | None:
    try:
        import zstandard
    except ImportError:
        return None
    return (
        _ZSTD,
        lambda b: zstandard.ZstdCompressor(level=1).compress(b),
        lambda b, n: bytearray(zstandard.ZstdDecompressor().decompress(b, max_output_size=n)),
    )


_CODECS = {"lz4": _lz4, "zstd": _zstd}


def compressor(name: Any = "auto") -> tuple[int, Callable, Callable] | None:
    """``(codec id, compress, decompress)`` for a setting of
    ``distributed.worker.memory.spill-compression``, or ``None`` (no compression).

    >>> compressor(False) is None
    True
    >>> compressor("gzip")
    Traceback (most recent call last):
    ValueError: spill compression 'gzip' is not known; expected 'auto', 'lz4', 'zstd' or False
    """
    if name in (False, None, "none"):
        return None
    if name == "auto":
        return _lz4() or _zstd()
    make = _CODECS.get(name)
    if make is None:
        raise ValueError(
            f"spill compression {name!r} is not known; expected 'auto', 'lz4', 'zstd' or False"
        )
    found = make()
    if found is None:
        raise ValueError(f"spill compression {name!r} needs the {name} package, not installed")
    return found


def _decompressors() -> dict[int, Callable]:
    out = {}
    for make in (_lz4, _zstd):
        found = make()
        if found is not None:
            out[found[0]] = found[2]
    return out


class SpillStore:
    """Values on disk by key (see module docstring). ``put``/``delete`` run
    on the worker's event loop; ``get`` also from pool threads, for keys
    nobody deletes meanwhile (the state machine keeps a spilled input until
    the tasks using it are done)."""

    def __init__(self, directory: str | None = None, compression: Any = None):
        self.parent = directory
        self.directory: str | None = None
        self.codec = compressor(
            config.get("distributed.worker.memory.spill-compression")
            if compression is None
            else compression
        )
        self.files: dict[Any, tuple[str, int]] = {}  # key -> (path, bytes on disk)
        self.disk_bytes = 0
        self.written = 0  # bytes written since the start (a figure for benchmarks)
        self._count = 0
        self._lock = threading.Lock()
        self._decompress = _decompressors()

    def __contains__(self, key: Any) -> bool:
        return key in self.files

    def __len__(self) -> int:
        return len(self.files)

    def _path(self) -> str:
        if self.directory is None:
            if self.parent:
                os.makedirs(self.parent, exist_ok=True)
            self.directory = tempfile.mkdtemp(prefix="shoal-spill-", dir=self.parent or None)
        self._count += 1
        return os.path.join(self.directory, str(self._count))

    def put(self, key: Any, value: Any) -> int:
        """Write ``value`` under ``key``; return its bytes on disk. Raises
        ``OSError`` (disk full ...) with nothing left behind."""
        buffers: list = []
        head = pickle_dumps(value, buffers)
        frames = [memoryview(head), *(b.raw() for b in buffers)]
        table = []
        stored = []
        for frame in frames:
            codec, data = self._maybe_compress(frame)
            table.append(_FRAME.pack(codec, frame.nbytes, len(data) if codec else frame.nbytes))
            stored.append(data)
        path = self._path()
        try:
            with open(path, "wb") as f:
                f.write(_HEAD.pack(_MAGIC, len(frames)))
                f.write(b"".join(table))
                for data in stored:
                    f.write(data)
                size = f.tell()
        except BaseException:
            try:
                os.unlink(path)
            except OSError:
                pass
            raise
        old = self.files.get(key)
        if old is not None:
            self._unlink(old)
        self.files[key] = (path, size)
        self.disk_bytes += size
        self.written += size
        return size

    def _maybe_compress(self, frame: memoryview) -> tuple[int, Any]:
        codec = self.codec
        if codec is None or frame.nbytes < _MIN_COMPRESS:
            return _RAW, frame
        ident, compress, _ = codec
        flat = frame.cast("B")
        if len(compress(flat[:_SAMPLE])) > 0.9 * _SAMPLE:
            return _RAW, frame  # incompressible (random floats ...): not worth the time
        data = compress(flat)
        if len(data) > 0.9 * frame.nbytes:
            return _RAW, frame
        return ident, data

    def get(self, key: Any) -> Any:
        """The value spilled under ``key`` (it stays on disk)."""
        path, size = self.files[key]
        buf = bytearray(size)
        with open(path, "rb", buffering=0) as f:
            view = memoryview(buf)
            got = 0
            while got < size:
                n = f.readinto(view[got:])
                if not n:
                    raise OSError(f"spill file {path} of {key!r} is truncated")
                got += n
        magic, nframes = _HEAD.unpack_from(buf, 0)
        if magic != _MAGIC:
            raise OSError(f"spill file {path} of {key!r} is not a shoal spill file")
        offset = _HEAD.size + nframes * _FRAME.size
        frames = []
        for i in range(nframes):
            codec, raw, stored = _FRAME.unpack_from(buf, _HEAD.size + i * _FRAME.size)
            chunk = view[offset : offset + stored]
            offset += stored
            frames.append(chunk if codec == _RAW else self._decompress[codec](chunk, raw))
        return pickle.loads(frames[0], buffers=frames[1:])

    def delete(self, key: Any) -> None:
        """Remove ``key``'s file (nothing if it is not here)."""
        entry = self.files.pop(key, None)
        if entry is not None:
            self._unlink(entry)

    def _unlink(self, entry: tuple[str, int]) -> None:
        self.disk_bytes -= entry[1]
        try:
            os.unlink(entry[0])
        except OSError:
            pass

    def close(self) -> None:
        """Delete every file and the directory."""
        self.files.clear()
        self.disk_bytes = 0
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
