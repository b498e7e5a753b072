"""Bags from in-memory sequences, ranges, delayed values and function calls."""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Iterable
from typing import Any

from shoal.bag.core import Bag, Layer, check_callable, value_arg
from shoal.core.delayed import Delayed
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize
from shoal.core.utils import funcname

__all__ = ["from_sequence", "range", "from_delayed", "from_map"]


def _bounds(n: int, npartitions: int) -> list[tuple[int, int]]:
    """Balanced contiguous ``[start, stop)`` slices of ``n`` items."""
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
        bounds = [(i * size, min(len(items), (i + 1) * size)) for i in builtins.range(npartitions)]
    else:
        if npartitions is None:
            npartitions = min(100, len(items)) or 1
        _check_count("from_sequence", "npartitions", npartitions)
        npartitions = max(1, min(npartitions, len(items)))
        bounds = _bounds(len(items), npartitions)
    token = tokenize(items, npartitions)
    data = "from-sequence-data-" + token
    layer = {(data, i): items[a:b] for i, (a, b) in enumerate(bounds)}
    srcs = [Ref((data, i)) for i in builtins.range(npartitions)]
    return Bag("from-sequence-" + token, npartitions, srcs=srcs, deps=(Layer(layer),))


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
    npartitions = max(1, min(npartitions, len(numbers)))
    srcs = [numbers[a:b] for a, b in _bounds(len(numbers), npartitions)]
    name = f"range-{tokenize(numbers.start, numbers.stop, numbers.step, npartitions)}"
    return Bag(name, npartitions, srcs=srcs)


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
    name = "from-delayed-" + tokenize(*[v.key for v in values])
    return Bag(name, len(values), srcs=[Ref(v.key) for v in values], deps=tuple(values))


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
    deps: list = []
    extra = tuple(value_arg(a, deps) for a in (args or ()))
    kw = {k: value_arg(v, deps) for k, v in kwargs.items()}
    srcs = [Task(func, *row, *extra, **kw) for row in zip(*columns)]
    name = f"from-map-{funcname(func)}-{tokenize(func, columns, args, kwargs)}"
    return Bag(name, n, srcs=srcs, deps=tuple(deps))
