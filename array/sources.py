"""Source expressions: arrays whose blocks are made from nothing but their
position (constants, ranges, reads of a stored array).

A ``RegionSource`` produces any rectangular region of the array on demand,
``maker(region, *args)`` with ``region`` a tuple of positive-step slices of
the whole array. That is what makes these sources free to inline: a
consumer that needs a part of a block asks for exactly that part, and a
source used twice is simply produced twice (see ``expr.py``).

``H5Source`` lets an h5py dataset be such a source on a cluster: it travels
as a file name and a dataset path, never pickled.
"""

from __future__ import annotations

import functools
import importlib
import operator
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from shoal.core.task import Ref, Task

from .chunks import block_slices, chunk_offsets
from .expr import ArrayExpr, GraphBuilder

__all__ = [
    "RegionSource",
    "FunctionSource",
    "FromDelayed",
    "NamedLock",
    "region_shape",
    "H5Source",
    "is_h5py_dataset",
]


def region_shape(region: tuple) -> tuple:
    """Lengths of a region of positive-step slices.

    >>> region_shape((slice(0, 5, 2), slice(3, 3, 1)))
    (3, 0)
    """
    return tuple(len(range(s.start, s.stop, s.step or 1)) for s in region)


def compose_region(outer: tuple, inner: tuple, lengths: tuple) -> tuple:
    """The region (positive steps) that ``block[inner]`` covers, plus the axes
    to flip afterwards (negative steps) and the axes to drop (integer indices).

    >>> compose_region((slice(10, 20),), (slice(8, 1, -3),), (10,))
    ((slice(12, 19, 3),), [0], [])
    """
    region, flip, drop = [], [], []
    for axis, (o, i, n) in enumerate(zip(outer, inner, lengths)):
        base = o.start
        if isinstance(i, (int, np.integer)):
            i = int(i) + n if i < 0 else int(i)
            region.append(slice(base + i, base + i + 1, 1))
            drop.append(axis)
            continue
        start, stop, step = i.indices(n)
        count = len(range(start, stop, step))
        if count == 0:
            region.append(slice(base, base, 1))
        elif step > 0:
            region.append(slice(base + start, base + start + (count - 1) * step + 1, step))
        else:
            last = start + (count - 1) * step
            region.append(slice(base + last, base + start + 1, -step))
            flip.append(axis)
    kept = [a for a in range(len(outer)) if a not in drop]
    return tuple(region), [kept.index(a) for a in flip], drop


def _shape_region(block: Any, flip: list, drop: list) -> Any:
    if drop:
        block = block.reshape(tuple(n for a, n in enumerate(block.shape) if a not in drop))
    if flip:
        block = np.flip(block, axis=tuple(flip))
    return block


class RegionSource(ArrayExpr):
    """An array made region by region by ``maker(region, *args)`` (see module).

    >>> import shoal.array as sa
    >>> sa.full((3,), 7, chunks=2).compute()
    array([7, 7, 7])
    """

    maker: Callable
    args: tuple
    chunks: tuple
    meta: np.ndarray
    prefix: str
    deps: dict | None = None  # graph entries the maker's arguments refer to

    cost = "free"

    @property
    def _prefix(self) -> str:
        return self.prefix

    def _extra_layer(self, b: GraphBuilder) -> dict:
        return dict(self.deps or {})

    @functools.cached_property
    def _axis_regions(self) -> list:
        """Per axis, the slice (step 1) of every block: made once, shared by the tasks."""
        return [
            [slice(start, start + n, 1) for start, n in zip(chunk_offsets(c), c)]
            for c in self.chunks
        ]

    @functools.cached_property
    def _regions_1d(self) -> list:
        """The region tuple of every block of a 1-D source, shared by the tasks."""
        return [(s,) for s in self._axis_regions[0]]

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        if len(index) == 1:
            region = self._regions_1d[index[0]]
        else:
            region = tuple([axis[i] for axis, i in zip(self._axis_regions, index)])
        return Task(self.maker, region, *self.args)

    def _rows(self, index: tuple, b: GraphBuilder) -> tuple | None:
        if not self.chunks:
            return None
        region = block_slices(self.chunks, index)
        return ("region", self.maker, tuple(slice(s.start, s.stop, 1) for s in region), self.args)

    def _sub_block(self, index: tuple, slices: tuple, b: GraphBuilder) -> Any:
        lengths = tuple(c[i] for c, i in zip(self.chunks, index))
        if len(slices) != len(lengths) or not all(
            isinstance(s, (slice, int, np.integer)) for s in slices
        ):
            return Task(operator.getitem, self._block(index, b), slices)
        region, flip, drop = compose_region(block_slices(self.chunks, index), slices, lengths)
        task = Task(self.maker, region, *self.args)
        return Task(_shape_region, task, flip, drop) if flip or drop else task

    def _explain_args(self) -> str:
        return f"{self.prefix}, chunks={self.chunks}"


class FunctionSource(RegionSource):
    """A region source whose maker runs user code (``fromfunction``): made again
    only where each block is used once ("cheap", see ``expr.py``), stored
    otherwise.

    >>> import shoal.array as sa
    >>> sa.fromfunction(lambda i: i * 2, (3,), chunks=2).expr.cost
    'cheap'
    """

    cost = "cheap"


class FromDelayed(ArrayExpr):
    """A one-block array from a ``Delayed`` value of known shape.

    >>> import shoal, shoal.array as sa
    >>> sa.from_delayed(shoal.delayed(np.ones)(3), (3,), float).compute()
    array([1., 1., 1.])
    """

    value_key: Any
    graph: Mapping
    chunks: tuple
    meta: np.ndarray

    def _extra_layer(self, b: GraphBuilder) -> Mapping:
        return self.graph

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        return Task(_check_block, Ref(self.value_key), self.shape)

    def _explain_args(self) -> str:
        return f"key={self.value_key!r}"


def _check_block(value: Any, shape: tuple) -> Any:
    value = np.asarray(value) if not hasattr(value, "shape") else value
    if tuple(value.shape) != tuple(shape):
        raise ValueError(
            f"from_delayed was told shape {shape} but the value computed has shape {value.shape}"
        )
    return value


_locks: dict = {}
_locks_guard = threading.Lock()


class NamedLock:
    """A lock that survives pickling: copies with the same name in one process
    share one ``threading.Lock``.

    >>> lock = NamedLock()
    >>> with lock:
    ...     pass
    """

    __slots__ = ("name", "_lock")

    def __init__(self, name: str | None = None):
        self.name = name or uuid.uuid4().hex
        with _locks_guard:
            self._lock = _locks.setdefault(self.name, threading.Lock())

    def __enter__(self) -> NamedLock:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def __reduce__(self):
        return (NamedLock, (self.name,))

    def __shoal_tokenize__(self) -> str:
        return self.name


# ------------------------------------------------------------------ h5py
#
# h5py datasets as ``from_array`` sources that travel by name.
#
# h5py datasets as ``from_array`` sources that travel by name.
#
# An open h5py dataset cannot be pickled, so a graph holding one could not go
# to a cluster's workers (or to the processes scheduler). ``from_array`` wraps
# it in ``H5Source``: in the process that made it, reads go to the user's own
# open dataset; pickled, it is only the file name and the dataset path, and
# the receiving process opens the file read-only once (one handle per file
# and dataset, per process) and reads from it. h5py is an optional extra
# (``shoal[hdf5]``): this module never imports it unless a file must be opened.

_open_datasets: dict = {}  # (file name, dataset path) -> dataset opened here by name
_open_guard = threading.Lock()


def is_h5py_dataset(x: Any) -> bool:
    """True for an ``h5py.Dataset`` (checked without importing h5py).

    >>> is_h5py_dataset(np.ones(3))
    False
    """
    return type(x).__name__ == "Dataset" and type(x).__module__.startswith("h5py")


def _open(filename: str, path: str) -> Any:
    with _open_guard:
        dataset = _open_datasets.get((filename, path))
        if dataset is None:
            h5py = importlib.import_module("h5py")  # the optional extra, only when needed

            try:  # readers must not wait on the lock of a writer elsewhere
                handle = h5py.File(filename, "r", locking=False)
            except (TypeError, OSError):  # no such switch, or open here with locking
                handle = h5py.File(filename, "r")
            dataset = _open_datasets[(filename, path)] = handle[path]
        return dataset


class H5Source:
    """A picklable stand-in for an h5py dataset (see the comment above):
    shape, dtype and NumPy-style reads.

    >>> import pickle
    >>> source = H5Source("data.h5", "/group/x", (4, 3), np.dtype("f8"))
    >>> pickle.loads(pickle.dumps(source)).path, source.shape
    ('/group/x', (4, 3))
    """

    __slots__ = ("filename", "path", "shape", "dtype", "_dataset")

    def __init__(
        self, filename: str, path: str, shape: tuple, dtype: np.dtype, dataset: Any = None
    ):
        self.filename, self.path = filename, path
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self._dataset = dataset

    @classmethod
    def of(cls, dataset: Any) -> H5Source:
        """The source for an open h5py dataset (kept for reads in this process)."""
        return cls(dataset.file.filename, dataset.name, dataset.shape, dataset.dtype, dataset)

    def __reduce__(self) -> tuple:
        return (H5Source, (self.filename, self.path, self.shape, self.dtype))

    def __shoal_tokenize__(self) -> str:
        return f"h5py:{self.filename}:{self.path}:{self.shape}:{self.dtype.str}"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, region: Any) -> Any:
        dataset = self._dataset
        if dataset is None or not dataset.id.valid:  # pickled here, or the user closed it
            dataset = _open(self.filename, self.path)
        return dataset[region]

    def __repr__(self) -> str:
        return f"H5Source({self.filename!r}, {self.path!r}, shape={self.shape}, dtype={self.dtype})"
