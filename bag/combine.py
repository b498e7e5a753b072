"""Bags built from several partitions or collections: ``join`` with an
in-memory table, ``product`` and ``repartition``."""

from __future__ import annotations

import bisect
import itertools
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any

from shoal.bag import chain as ch
from shoal.bag.core import Bag, Layer, Parts, value_arg
from shoal.bag.reductions import key_func
from shoal.bag.sources import _bounds
from shoal.core.base import compute as compute_collections
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize
from shoal.core.utils import parse_bytes

__all__ = ["join", "product", "repartition", "repartition_by_size", "sizeof"]


def build_table(other: Iterable, on_other: Callable) -> dict:
    """``key -> [elements]`` of the in-memory side of a join.

    >>> build_table(["a", "bb", "c"], len)
    {1: ['a', 'c'], 2: ['bb']}
    """
    table: dict = {}
    for y in other:
        table.setdefault(on_other(y), []).append(y)
    return table


def op_join(it: Iterable, table: dict, on_self: Callable) -> Iterator:
    """``(other, element)`` for every ``other`` in the table under ``on_self(element)``.

    >>> list(op_join([1, 2], {1: ["a"]}, abs))
    [('a', 1)]
    """
    get = table.get
    for x in it:
        for y in get(on_self(x), ()):
            yield (y, x)


def join(bag: Bag, other: Any, on_self: Any, on_other: Any = None) -> Bag:
    """``Bag.join`` (see there).

    >>> import shoal.bag as sb
    >>> join(sb.from_sequence([1, 2]), [("a", 1)], abs, on_other=1).compute(scheduler="sync")
    [(('a', 1), 1)]
    """
    on_self = key_func("join", on_self)
    on_other = on_self if on_other is None else key_func("join", on_other)
    if on_self is None:
        raise TypeError("join: on_self must be a function or an item index, got None")
    deps: list = []
    if isinstance(bag_other := other, Bag):
        if bag_other.npartitions != 1:
            raise ValueError(
                f"join: the other bag must have one partition (it is held in memory), got "
                f"{bag_other.npartitions}; use other.repartition(1)"
            )
        source: Any = bag_other.part_node(0)
        deps.extend(bag_other.needs())
    else:
        source = value_arg(other, deps)
        if source is other:
            try:
                source = list(other)
            except TypeError:
                raise TypeError(
                    f"join: other must be an iterable, a one-partition Bag or a Delayed, got "
                    f"{type(other).__name__}"
                ) from None
    table = f"join-table-{tokenize(source if type(source) is list else other, on_other)}"
    deps.append(Layer({table: Task(build_table, source, on_other)}))
    return bag.then("join", (op_join, Ref(table), on_self), (table, on_self), tuple(deps))


def product_part(a: list, b: list) -> list:
    """All ``(x, y)`` pairs of two partitions.

    >>> product_part([1, 2], "a")
    [(1, 'a'), (2, 'a')]
    """
    return list(itertools.product(a, b))


def product(bag: Bag, other: Bag) -> Bag:
    """``Bag.product`` (see there).

    >>> import shoal.bag as sb
    >>> product(sb.from_sequence([1]), sb.from_sequence("ab")).compute(scheduler="sync")
    [(1, 'a'), (1, 'b')]
    """
    if not isinstance(other, Bag):
        raise TypeError(f"product: other must be a Bag, got {type(other).__name__}")
    srcs = [
        Task(product_part, Ref((bag.name, i)), Ref((other.name, j)))
        for i in range(bag.npartitions)
        for j in range(other.npartitions)
    ]
    name = f"product-{tokenize(bag.name, other.name)}"
    return Bag(name, len(srcs), srcs=srcs, deps=(bag, other))


def _concat(parts: list) -> Iterator:
    return itertools.chain.from_iterable(parts)


def split_even(part: list, n: int) -> list[list]:
    """``part`` cut into ``n`` contiguous pieces of nearly equal length.

    >>> split_even([1, 2, 3, 4, 5], 2)
    [[1, 2, 3], [4, 5]]
    """
    return [part[a:b] for a, b in _bounds(len(part), n)]


_SAMPLE = 20  # items of a container measured by ``sizeof`` (the rest extrapolated)


def sizeof(x: Any, depth: int = 3) -> int:
    """Estimated bytes held by ``x``: ``sys.getsizeof`` of it plus, for lists,
    tuples, sets and dicts, of their items (a sample of at most 20 of them
    extrapolated to all, ``depth`` levels deep).

    >>> sizeof(1) == sys.getsizeof(1)
    True
    >>> sizeof([1, 2]) == sys.getsizeof([1, 2]) + 2 * sys.getsizeof(1)
    True
    """
    size = sys.getsizeof(x)
    if depth <= 0 or not isinstance(x, (list, tuple, set, frozenset, dict)) or not x:
        return size
    items: Any = x.items() if isinstance(x, dict) else x
    n = len(x)
    step = max(1, n // _SAMPLE)
    sample = list(itertools.islice(items, 0, None, step))[:_SAMPLE]
    measured = sum(sizeof(y, depth - 1) for y in sample)
    if isinstance(x, dict):
        measured -= sum(sys.getsizeof(kv) for kv in sample)  # pairs are not stored
    return size + measured * n // len(sample)


def partition_stats(part: Iterable) -> tuple[int, int]:
    """``(number of elements, estimated bytes)`` of a partition.

    >>> partition_stats(["ab", "cd"]) == (2, 2 * sys.getsizeof("ab"))
    True
    """
    count = total = 0
    for x in part:
        count += 1
        total += sizeof(x)
    return count, total


def split_at(part: Iterable, cuts: list[int]) -> list[list]:
    """``part`` cut before each position of ``cuts`` (increasing).

    >>> split_at(iter(range(6)), [2, 5])
    [[0, 1], [2, 3, 4], [5]]
    """
    part = list(part)
    bounds = [0, *cuts, len(part)]
    return [part[a:b] for a, b in itertools.pairwise(bounds)]


def size_boundaries(stats: list[tuple[int, int]], target: int) -> list[int]:
    """Global element positions where output partitions of about ``target``
    bytes start (the first is 0), from each input partition's
    ``(count, bytes)``; elements within a partition count as equally big.
    There are ``ceil(total bytes / target)`` outputs (at most one per
    element), none empty.

    >>> size_boundaries([(4, 400), (0, 0), (2, 400)], 300)
    [0, 3, 5]
    """
    counts = [c for c, _ in stats]
    total = sum(b for _, b in stats)
    n = sum(counts)
    m = min(n, max(1, math.ceil(total / target)))
    if m <= 1:
        return [0]
    byte_ends = list(itertools.accumulate(b for _, b in stats))
    elem_starts = [0, *itertools.accumulate(counts)]
    starts = [0]
    for k in range(1, m):
        goal = total * k / m
        i = bisect.bisect_right(byte_ends, goal)  # a partition holding elements
        before = byte_ends[i] - stats[i][1]
        local = round((goal - before) / stats[i][1] * counts[i])
        pos = elem_starts[i] + min(local, counts[i])
        # keep every output non-empty: after the previous cut, room for the rest
        starts.append(min(max(pos, starts[-1] + 1), n - (m - k)))
    return starts


def repartition_by_size(bag: Bag, partition_size: Any) -> Bag:
    """``Bag.repartition(partition_size=...)``: computes every partition's
    element count and estimated bytes (``sizeof``) now, then cuts the
    element sequence into partitions of about ``partition_size`` bytes each,
    in order. Elements are never split, so a partition holds at least one.

    >>> import shoal
    >>> import shoal.bag as sb
    >>> with shoal.config.set(scheduler="sync"):
    ...     r = repartition_by_size(sb.from_sequence(["x" * 100] * 10, npartitions=2), 600)
    >>> r.npartitions, r.compute(scheduler="sync") == ["x" * 100] * 10
    (3, True)
    """
    try:
        target = parse_bytes(partition_size)
    except (TypeError, AttributeError):
        raise TypeError(
            f"repartition: partition_size must be a number of bytes or a string like "
            f"'64MiB', got {type(partition_size).__name__}: {partition_size!r}"
        ) from None
    if isinstance(partition_size, bool) or target < 1:
        raise ValueError(f"repartition: partition_size must be positive, got {partition_size!r}")
    stats_name = f"repartition-stats-{tokenize(bag.name)}"
    layer = {(stats_name, i): bag.part_node(i, partition_stats) for i in range(bag.npartitions)}
    stats_bag = Bag(stats_name, bag.npartitions, layer=layer, deps=bag.needs())
    (stats,) = compute_collections(Parts(stats_bag))
    starts = size_boundaries(stats, target)
    return _from_boundaries(bag, [c for c, _ in stats], starts, tokenize(bag.name, target, stats))


def _from_boundaries(bag: Bag, counts: list[int], starts: list[int], tok: str) -> Bag:
    """``bag`` re-cut so that output partition ``j`` holds the global
    elements ``[starts[j], starts[j + 1])`` (the last to the end)."""
    elem_starts = [0, *itertools.accumulate(counts)]
    split = f"repartition-split-{tok}"
    layer: dict = {}
    pieces: list[list] = [[] for _ in starts]
    for i in range(len(counts)):
        lo, hi = elem_starts[i], elem_starts[i + 1]
        first = bisect.bisect_right(starts, lo) - 1
        cuts = [s - lo for s in starts if lo < s < hi]
        if not cuts:
            pieces[first].append(bag.part_node(i, ch.as_iterator))
            continue
        layer[(split, i)] = Task(split_at, bag.part_node(i), cuts)
        for r in range(len(cuts) + 1):
            pieces[first + r].append(Task(itemgetter(r), Ref((split, i))))
    srcs = [Task(_concat, nodes) for nodes in pieces]
    return Bag(f"repartition-{tok}", len(srcs), srcs=srcs, deps=(Layer(layer), *bag.needs()))


def repartition(bag: Bag, npartitions: int) -> Bag:
    """``Bag.repartition(npartitions)``: merge neighbouring partitions, or
    split each partition into nearly equal pieces; element order is kept.

    >>> import shoal.bag as sb
    >>> r = repartition(sb.range(5, npartitions=2), 3)
    >>> r.npartitions, r.compute(scheduler="sync")
    (3, [0, 1, 2, 3, 4])
    """
    if isinstance(npartitions, bool) or not isinstance(npartitions, int) or npartitions < 1:
        raise ValueError(f"repartition: npartitions must be a positive int, got {npartitions!r}")
    n_in = bag.npartitions
    if npartitions == n_in:
        return bag
    tok = tokenize(bag.name, npartitions)
    if npartitions < n_in:
        srcs = [
            Task(_concat, [bag.part_node(i, ch.as_iterator) for i in range(a, b)])
            for a, b in _bounds(n_in, npartitions)
        ]
        return Bag(f"repartition-{tok}", npartitions, srcs=srcs, deps=bag.needs())
    split = f"repartition-split-{tok}"
    layer: dict = {}
    srcs = []
    for i, (a, b) in enumerate(_bounds(npartitions, n_in)):
        layer[(split, i)] = Task(split_even, bag.part_node(i), b - a)
        srcs.extend(Task(itemgetter(r), Ref((split, i))) for r in range(b - a))
    return Bag(f"repartition-{tok}", npartitions, srcs=srcs, deps=(Layer(layer), *bag.needs()))
