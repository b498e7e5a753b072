"""Bags from in-memory sequences, ranges, delayed values and function calls:
the source nodes of bag plans and the functions that build them."""

from __future__ import annotations

import builtins
import functools
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from shoal.bag.core import Bag, value_expr
from shoal.bag.expr import BagExpr, ValueArg, check_callable, fill_values, shown_name, unpack
from shoal.core.build import GraphBuilder
from shoal.core.delayed import Delayed
from shoal.core.layers import Layer
from shoal.core.task import Ref, Task
from shoal.core.utils import funcname

__all__ = ["from_sequence", "range", "from_delayed", "from_map"]


def bounds(n: int, npartitions: int) -> list[tuple[int, int]]:
    """Balanced contiguous ``[start, stop)`` slices of ``n`` items.

    >>> bounds(5, 2)
    [(0, 3), (3, 5)]
    """
    size, extra = divmod(n, npartitions)
    out, start = [], 0
    for i in builtins.range(npartitions):
        stop = start + size + (1 if i < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def _check_count(where: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
    return value


class FromSequence(BagExpr):
    """Partitions held in the graph as lists (one key each), read by
    reference from every task that uses them."""

    parts: tuple

    cost: ClassVar[str] = "free"

    def _numblocks(self) -> tuple:
        return (len(self.parts),)

    def _block(self, index: tuple, b: GraphBuilder) -> Ref:
        return Ref(self.key(index))

    def _build_layer(self, b: GraphBuilder) -> dict:
        return {}  # the data is the extra layer, under this node's keys

    def _extra_layer(self, b: GraphBuilder) -> Layer:
        return Layer(self._name, self.numblocks, list(self.parts))

    def _explain_args(self) -> str:
        return f"npartitions={len(self.parts)}"


class Range(BagExpr):
    """``numbers`` (a ``range``) cut into ``npartitions`` contiguous ranges,
    made in the tasks that use them."""

    numbers: range
    count: int

    cost: ClassVar[str] = "free"

    def _numblocks(self) -> tuple:
        return (self.count,)

    @functools.cached_property
    def _bounds(self) -> list:
        return bounds(len(self.numbers), self.count)

    def _block(self, index: tuple, b: GraphBuilder) -> builtins.range:
        start, stop = self._bounds[index[0]]
        return self.numbers[start:stop]

    def _explain_args(self) -> str:
        return f"{self.numbers!r}, npartitions={self.count}"


class FromDelayed(BagExpr):
    """One partition per ``Delayed`` value (each an iterable)."""

    values: tuple

    cost: ClassVar[str] = "free"

    def _numblocks(self) -> tuple:
        return (len(self.values),)

    def _block(self, index: tuple, b: GraphBuilder) -> Ref:
        return Ref(self.values[index[0]].key)

    def _extra_layer(self, b: GraphBuilder) -> dict:
        graph: dict = {}
        for d in self.values:
            graph.update(d.__shoal_graph__())
        return graph

    def _explain_args(self) -> str:
        return f"npartitions={len(self.values)}"


def call_source(func: Callable, row: tuple, spec: Any) -> Iterator:
    """The elements of ``func(*row, *args, **kwargs)`` (``spec``: the
    ``args, kwargs``), called when first iterated (so its errors are noted
    like every partition's).

    >>> from shoal.bag.expr import Packed
    >>> list(call_source(range, (1, 3), Packed((), {})))
    [1, 2]
    """
    args, kwargs = unpack(spec)
    out = func(*row, *args, **kwargs)
    try:
        it = iter(out)
    except TypeError:
        raise TypeError(
            f"from_map: {shown_name(func)} returned {type(out).__name__}, expected an iterable "
            "(the elements of a partition)"
        ) from None
    yield from it


class FromMap(BagExpr):
    """One partition per call ``func(*rows[i], *args, **kwargs)``
    (``ValueArg(k)`` among ``args``/``kwargs`` stands for ``values[k]``)."""

    func: Callable
    rows: tuple
    args: tuple = ()
    kwargs: dict | None = None
    values: tuple = ()

    def _numblocks(self) -> tuple:
        return (len(self.rows),)

    @property
    def _prefix(self) -> str:
        return "from-map-" + funcname(self.func)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        spec = fill_values(self.args, self.kwargs, self.values, b)
        return Task(call_source, self.func, self.rows[index[0]], spec)

    def _explain_args(self) -> str:
        return f"func={shown_name(self.func)}, npartitions={len(self.rows)}"


def from_sequence(
    seq: Iterable, partition_size: int | None = None, npartitions: int | None = None
) -> Bag:
    """A bag of the elements of an in-memory sequence, split into contiguous
    partitions (``npartitions`` of them, or ``partition_size`` elements each;
    by default about 100 partitions).

    >>> b = from_sequence([1, 2, 3, 4, 5], npartitions=2)
    >>> b.npartitions, b.compute(scheduler="sync")
    (2, [1, 2, 3, 4, 5])
    """
    items = list(seq)
    if partition_size is not None and npartitions is not None:
        raise ValueError("from_sequence: give partition_size or npartitions, not both")
    if partition_size is not None:
        size = _check_count("from_sequence", "partition_size", partition_size)
        npartitions = max(1, math.ceil(len(items) / size))
        cuts = [(i * size, min(len(items), (i + 1) * size)) for i in builtins.range(npartitions)]
    else:
        if npartitions is None:
            npartitions = min(100, len(items)) or 1
        _check_count("from_sequence", "npartitions", npartitions)
        npartitions = max(1, min(npartitions, len(items)))
        cuts = bounds(len(items), npartitions)
    return Bag(FromSequence(tuple(items[a:b] for a, b in cuts)))


def range(
    start: int, stop: int | None = None, step: int = 1, *, npartitions: int | None = None
) -> Bag:
    """A bag of ``range(start, stop, step)`` in ``npartitions`` contiguous
    partitions (default: one per ~100 000 numbers, at most 100); nothing is
    materialized until a partition runs.

    >>> range(5, npartitions=2).compute(scheduler="sync")
    [0, 1, 2, 3, 4]
    """
    numbers = builtins.range(start) if stop is None else builtins.range(start, stop, step)
    if npartitions is None:
        npartitions = max(1, min(100, math.ceil(len(numbers) / 100_000)))
    _check_count("range", "npartitions", npartitions)
    return Bag(Range(numbers, max(1, min(npartitions, len(numbers)))))


def from_delayed(values: Delayed | list) -> Bag:
    """A bag with one partition per ``Delayed`` value (each an iterable).

    >>> from shoal import delayed
    >>> parts = [delayed(list)("ab"), delayed(list)("c")]
    >>> from_delayed(parts).compute(scheduler="sync")
    ['a', 'b', 'c']
    """
    if isinstance(values, Delayed):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError("from_delayed: expected at least one Delayed value, got none")
    for v in values:
        if not isinstance(v, Delayed):
            raise TypeError(
                f"from_delayed expects Delayed objects (from shoal.delayed), got "
                f"{type(v).__name__}: {v!r:.80}"
            )
    return Bag(FromDelayed(tuple(values)))


def from_map(func: Callable, *iterables: Iterable, args: tuple | None = None, **kwargs: Any) -> Bag:
    """A bag with one partition per call ``func(*items, *args, **kwargs)``,
    ``items`` taken in step from ``iterables``; each call returns an iterable
    (a generator streams). Calls run lazily, inside the partition's task.

    >>> from_map(lambda n, k: [n] * k, [1, 2], [2, 1]).compute(scheduler="sync")
    [1, 1, 2]
    """
    check_callable("from_map", "func", func)
    if not iterables:
        raise TypeError("from_map needs at least one iterable of inputs")
    columns = [list(it) for it in iterables]
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError(
            f"from_map: the iterables have different lengths {[len(c) for c in columns]}"
        )
    if n == 0:
        raise ValueError("from_map: the iterables are empty; a bag needs at least one partition")
    values: list = []

    def slot(value: Any) -> Any:
        expr = value_expr(value)
        if expr is None:
            return value
        values.append(expr)
        return ValueArg(len(values) - 1)

    extra = tuple(slot(a) for a in (args or ()))
    kw = {k: slot(v) for k, v in kwargs.items()} or None
    return Bag(FromMap(func, tuple(zip(*columns)), extra, kw, tuple(values)))
