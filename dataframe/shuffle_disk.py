"""The ``disk`` shuffle: shards on local disk, memory bounded by a partition.

::

    input i  --shard-->  file shard-i: piece 0 | piece 1 | ... | piece k-1
                         (returns the file's path and the k + 1 offsets)
    barrier:  the list of (path, offsets) of every shard
    output j  <--read--  piece j of every shard file, in input order

A shard task holds one input partition; an output task holds one output
partition; everything in between is on disk, so a shuffle of data larger
than memory runs in the memory of a few partitions. Each input writes one
file with its pieces one after the other (no file is shared between tasks,
so no locks, and threads or processes may write at once); each output reads
its slice of every file. Pieces are pickled with protocol 5, their buffers
written out of band (no copy of the column data into the pickle), and read
back into writable memory.

The files live in one directory per built graph (``ShuffleDirectory``, under
config ``dataframe.shuffle.directory`` or the system's temporary directory).
The last output task to finish reading removes it (each output leaves a
marker file; the one that completes the set deletes the directory), so a
computation that returns has left nothing behind, whichever scheduler ran it.
The graph also holds the directory object, so when an error or Ctrl-C ends
the computation the directory goes when the graph is released (once the
exception is discarded), at interpreter exit at the latest. Copies sent to
other processes never remove it by release, only by the marker count.
"""

from __future__ import annotations

import itertools
import os
import pickle
import shutil
import struct
import tempfile
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from shoal.core import config
from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Ref, Task
from shoal.dataframe.arrow_rows import concat_rows, split_rows
from shoal.dataframe.shuffle import ShuffledRows, _describe

__all__ = ["DiskShuffle", "ShuffleDirectory", "write_frame", "read_frame"]

_HEAD = struct.Struct("<QI")
_counter = itertools.count()


class ShuffleDirectory:
    """A directory for one shuffle's files (created when first written),
    removed when this object is released or the interpreter exits; a copy
    unpickled in another process only borrows it.

    >>> d = ShuffleDirectory("doc")
    >>> os.makedirs(d.path); os.path.isdir(d.path)
    True
    >>> path = d.path; del d
    >>> os.path.exists(path)
    False
    """

    def __init__(self, name: str, root: str | None = None):
        root = root or config.get("dataframe.shuffle.directory") or tempfile.gettempdir()
        self.name = name
        self.path = os.path.join(
            root, f"shoal-shuffle-{name}-{os.getpid()}-{next(_counter)}-{os.urandom(4).hex()}"
        )
        self._finalizer: weakref.finalize[Any, Any] | None = weakref.finalize(
            self, shutil.rmtree, self.path, ignore_errors=True
        )

    @classmethod
    def _borrowed(cls, name: str, path: str) -> ShuffleDirectory:
        obj = cls.__new__(cls)
        obj.name, obj.path, obj._finalizer = name, path, None
        return obj

    def __reduce__(self):
        return (ShuffleDirectory._borrowed, (self.name, self.path))

    def __shoal_tokenize__(self) -> str:
        return self.name  # the same shuffle built twice is the same computation

    def __repr__(self) -> str:
        return f"ShuffleDirectory({self.path!r})"


def write_frame(f: Any, obj: Any) -> None:
    """Append ``obj`` to the open binary file ``f``: a header, the pickle
    (protocol 5) and its out-of-band buffers."""
    buffers: list = []
    head = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    raws = []
    for buf in buffers:
        try:
            raws.append(buf.raw())
        except BufferError:  # not contiguous: copied
            raws.append(memoryview(bytes(buf)))
    f.write(_HEAD.pack(len(head), len(raws)))
    f.write(struct.pack(f"<{len(raws)}Q", *(r.nbytes for r in raws)))
    f.write(head)
    for r in raws:
        f.write(r)


def read_frame(data: bytearray) -> Any:
    """The object ``write_frame`` wrote into ``data`` (its bytes); the
    arrays share ``data``'s memory.

    >>> import io, pandas as pd
    >>> f = io.BytesIO(); write_frame(f, pd.Series([1.5, 2.5]))
    >>> read_frame(bytearray(f.getvalue())).tolist()
    [1.5, 2.5]
    """
    view = memoryview(data)
    size, count = _HEAD.unpack_from(view, 0)
    offset = _HEAD.size
    lengths = struct.unpack_from(f"<{count}Q", view, offset)
    offset += 8 * count
    head = view[offset : offset + size]
    offset += size
    buffers = []
    for n in lengths:
        buffers.append(view[offset : offset + n])
        offset += n
    return pickle.loads(head, buffers=buffers)


def write_shard(
    part: Any, i: int, directory: ShuffleDirectory, assign: Callable, kwargs: dict, k: int
) -> tuple:
    """Split input partition ``i`` by target into one file of ``k`` pieces;
    ``(path, offsets)`` with piece ``j`` at ``offsets[j]:offsets[j + 1]``."""
    os.makedirs(directory.path, exist_ok=True)
    targets = np.asarray(assign(part, i, **kwargs), dtype=np.intp)
    pieces = split_rows(part, targets, k)
    path = os.path.join(directory.path, f"shard-{i}")
    offsets = [0]
    with open(path, "wb") as f:
        for rows in pieces:
            if len(rows):
                write_frame(f, rows)
            offsets.append(f.tell())
    return path, offsets


def collect_shards(directory: ShuffleDirectory, *shards: tuple) -> tuple:
    """The barrier: the directory, a name for this run of the shuffle (its
    outputs' markers carry it, so a graph computed twice counts each run
    apart) and every shard's ``(path, offsets)``, in input order."""
    return directory, os.urandom(6).hex(), list(shards)


def read_target(barrier: tuple, j: int, k: int, meta: Any) -> Any:
    """Output partition ``j`` of ``k``: piece ``j`` of every shard file, in
    input order; the last of the ``k`` outputs removes the files."""
    directory, run, shards = barrier
    pieces = []
    for path, offsets in shards:
        start, stop = offsets[j], offsets[j + 1]
        if stop > start:
            data = bytearray(stop - start)
            with open(path, "rb") as f:
                f.seek(start)
                f.readinto(data)
            pieces.append(read_frame(data))
    _mark_read(directory, run, j, k)
    return concat_rows(pieces, meta)


def _mark_read(directory: ShuffleDirectory, run: str, j: int, k: int) -> None:
    """Record that output ``j`` of this run has read its pieces; the output
    completing the set of ``k`` removes the directory (two finishing at once
    both try: removal is idempotent)."""
    os.makedirs(directory.path, exist_ok=True)
    prefix = f"read-{run}-"
    open(os.path.join(directory.path, f"{prefix}{j}"), "wb").close()
    try:
        done = sum(name.startswith(prefix) for name in os.listdir(directory.path))
    except FileNotFoundError:  # another output saw this one's marker and removed it all
        return
    if done >= k:
        shutil.rmtree(directory.path, ignore_errors=True)


class DiskShuffle(ShuffledRows):
    """The disk method of ``Shuffle`` (module docstring).

    >>> import pandas as pd
    >>> from shoal.core.local import get_sync
    >>> from shoal.dataframe.expr import FromPandas
    >>> from shoal.dataframe.shuffle import hash_targets
    >>> e = DiskShuffle(FromPandas.of(pd.DataFrame({"a": range(8)}), 4), hash_targets,
    ...                 {"on": ("a",), "k": 3}, 3, ("a",))
    >>> sorted(pd.concat(get_sync(e.__shoal_graph__(), [(e._name, j) for j in range(3)])).a)
    [0, 1, 2, 3, 4, 5, 6, 7]
    """

    fusable: ClassVar[bool] = True

    def _explain_args(self) -> str:
        return _describe(self.assign, self.kwargs, self.npartitions_out)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True  # each input partition is written by one task

    def _extra_layer(self, b: GraphBuilder) -> dict:
        directory = ShuffleDirectory(self._name)
        shard = self.stage_name("shard")
        k = self.npartitions_out
        layer: dict = {}
        for i in range(self.frame.npartitions):
            layer[(shard, i)] = Task(
                write_shard,
                b.input(self, self.frame, (i,)),
                i,
                directory,
                self.assign,
                self.kwargs,
                k,
            )
        layer[(self.stage_name("barrier"), 0)] = Task(
            collect_shards, directory, *[Ref((shard, i)) for i in range(self.frame.npartitions)]
        )
        return layer

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        barrier = Ref((self.stage_name("barrier"), 0))
        return Task(read_target, barrier, index[0], self.npartitions_out, self._meta)
