"""Writing arrays out and reading stacks back: ``store``, ``to_npy_stack``,
``from_npy_stack``.

``store`` writes every block into its region of a target with
``__setitem__`` (NumPy memmaps, h5py or zarr datasets), one task per block
with the source block fused in, so a larger-than-memory computation streams
to disk block by block. Targets travel inside the graph as they are: use the
sync or threaded scheduler for targets that do not survive pickling
(``np.memmap`` pickles as a copy).

``to_npy_stack`` writes one ``.npy`` file per block along one axis plus an
``info.json``; ``from_npy_stack`` reads them back lazily (memory-mapped), a
free source like ``from_array``.
"""

from __future__ import annotations

import bisect
import functools
import json
import os
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from shoal.core.build import BlockExpr, all_block_indices
from shoal.core.delayed import Delayed
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize

from .chunks import block_slices, chunk_offsets
from .convert import meta_from
from .core import Array
from .expr import ArrayExpr, GraphBuilder, build_graph
from .rechunk import rechunk
from .sources import NamedLock, RegionSource

__all__ = ["store", "to_npy_stack", "from_npy_stack"]


def _write(block: np.ndarray, target: Any, region: tuple, lock: Any) -> int:
    if lock is not None:
        with lock:
            target[region] = block
    else:
        target[region] = block
    return int(np.size(block))


def _count(written: list) -> int:
    return sum(written)


class Store(ArrayExpr):
    """Blocks of ``child`` written into the target held under ``target_key``
    (added to the graph by ``store``, so the target is never tokenized);
    each output block is the number of elements written."""

    child: ArrayExpr
    target_key: str
    lock: Any

    @functools.cached_property
    def chunks(self) -> tuple:
        return tuple((1,) * n for n in self.child.numblocks)

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return meta_from(np.int64, self.child.ndim)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        region = block_slices(self.child.chunks, index)
        block = b.input(self, self.child, index)
        return Task(_write, block, Ref(self.target_key), region, self.lock)


def store(
    sources: Array | Sequence[Array],
    targets: Any,
    lock: bool | Any = True,
    compute: bool = True,
    **kwargs: Any,
) -> Delayed | None:
    """Write each source array into the matching target (same shape).

    ``lock=True`` serializes writes (one lock per call); pass a lock object
    to share one, or False for targets that take concurrent writes.
    ``compute=False`` returns a ``Delayed`` that writes when computed (its
    value is the number of elements written). ``kwargs`` go to compute.

    >>> import shoal.array as sa
    >>> target = np.zeros((4, 4))
    >>> store(sa.ones((4, 4), chunks=2) * 3, target)
    >>> float(target.sum())
    48.0
    """
    single = isinstance(sources, Array)
    source_list = [sources] if isinstance(sources, Array) else list(sources)
    target_list = [targets] if single else list(targets)
    if len(source_list) != len(target_list):
        raise ValueError(f"store got {len(source_list)} sources but {len(target_list)} targets")
    if lock is True:
        lock = NamedLock()
    lock = lock or None
    graph: dict = {}
    outputs: list[Ref] = []
    for source, target in zip(source_list, target_list):
        if not isinstance(source, Array):
            raise TypeError(f"store writes shoal arrays, got {type(source).__name__}")
        shape = tuple(getattr(target, "shape", ()))
        if shape != source.shape:
            raise ValueError(
                f"cannot store an array of shape {source.shape} into a target of shape {shape}"
            )
        key = f"store-target-{tokenize(id(target), source.name)}"
        expr = Store(source.expr, key, lock)
        graph.update(build_graph(expr))
        graph[key] = target
        outputs.extend(Ref(expr.key(i)) for i in _indices(expr))
    final = f"store-{tokenize([r.key for r in outputs])}"
    graph[final] = Task(_count, outputs)
    result = Delayed(final, graph)
    if compute:
        result.compute(**kwargs)
        return None
    return result


def _indices(expr: ArrayExpr) -> list:
    return all_block_indices(expr.numblocks)


# ------------------------------------------------------------ npy stacks


def _save(block: np.ndarray, path: str) -> int:
    np.save(path, block)
    return 1


def to_npy_stack(dirname: str, x: Array, axis: int = 0) -> None:
    """Write ``x`` as one ``.npy`` file per block along ``axis`` (the array is
    rechunked to whole blocks along the other axes first).

    >>> import tempfile, shoal.array as sa
    >>> d = tempfile.mkdtemp()
    >>> to_npy_stack(d, sa.arange(10, chunks=4))
    >>> sorted(os.listdir(d))
    ['0.npy', '1.npy', '2.npy', 'info.json']
    """
    if x.ndim == 0:
        raise ValueError("to_npy_stack needs at least one axis")
    axis = axis % x.ndim
    whole = tuple(x.chunks[a] if a == axis else (x.shape[a],) for a in range(x.ndim))
    x = rechunk(x, whole)
    os.makedirs(dirname, exist_ok=True)
    graph = x.__shoal_graph__()
    keys = []
    for i in range(x.numblocks[axis]):
        index = tuple(i if a == axis else 0 for a in range(x.ndim))
        key = ("to-npy-stack-" + x.name, i)
        graph[key] = Task(_save, Ref((x.name, *index)), os.path.join(dirname, f"{i}.npy"))
        keys.append(key)
    from shoal.core.base import get_scheduler

    get_scheduler(None, (x,))(graph, keys)
    info = {"chunks": [list(c) for c in x.chunks], "dtype": x.dtype.str, "axis": axis}
    with open(os.path.join(dirname, "info.json"), "w") as f:
        json.dump(info, f)


MmapMode = Literal["r+", "r", "w+", "c"]  # numpy.load's


def _read_stack(
    region: tuple, dirname: str, offsets: list, axis: int, mmap_mode: MmapMode | None
) -> np.ndarray:
    start = region[axis].start
    i = min(bisect.bisect_right(offsets, start) - 1, len(offsets) - 2)
    local = list(region)
    r = region[axis]
    local[axis] = slice(r.start - offsets[i], r.stop - offsets[i], r.step)
    data = np.load(os.path.join(dirname, f"{i}.npy"), mmap_mode=mmap_mode)
    return np.array(data[tuple(local)])


def from_npy_stack(dirname: str, mmap_mode: MmapMode | None = "r") -> Array:
    """Read a directory written by ``to_npy_stack`` (lazily, memory-mapped).

    >>> import tempfile, shoal.array as sa
    >>> d = tempfile.mkdtemp()
    >>> to_npy_stack(d, sa.arange(10, chunks=4))
    >>> from_npy_stack(d)[3:6].compute()
    array([3, 4, 5])
    """
    path = os.path.join(dirname, "info.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{dirname} has no info.json; was it written by to_npy_stack?")
    with open(path) as f:
        info = json.load(f)
    chunks = tuple(tuple(c) for c in info["chunks"])
    axis = info["axis"]
    dtype = np.dtype(info["dtype"])
    offsets = chunk_offsets(chunks[axis])
    args = (os.path.abspath(dirname), offsets, axis, mmap_mode)
    return Array(
        RegionSource(_read_stack, args, chunks, meta_from(dtype, len(chunks)), "from-npy-stack")
    )
