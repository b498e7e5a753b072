"""Bags built from several partitions or collections: ``join`` with an
in-memory table, ``product`` and ``repartition``."""

from __future__ import annotations

import bisect
import itertools
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from operator import getitem
from typing import Any

from shoal.bag.core import Bag, Parts, value_expr
from shoal.bag.expr import BagExpr, Consume, PartitionOp, run_partition, shown_name
from shoal.bag.reductions import key_func
from shoal.bag.sources import bounds
from shoal.core.base import compute as compute_collections
from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Ref, Task
from shoal.core.utils import parse_bytes

__all__ = ["join", "product", "repartition", "repartition_by_size", "sizeof", "Recut"]


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


class JoinTable(BlockExpr):
    """The in-memory side of a join, as ``key -> [elements]``: one block,
    built once and read by every partition of the join. ``source`` is a
    list, or the plan of a one-partition bag or of a computed value."""

    source: Any
    on_other: Callable

    numblocks = (1,)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        source = self.source
        if isinstance(source, BlockExpr):
            source = b.input(self, source, index)
        return Task(build_table, source, self.on_other)

    def _explain_args(self) -> str:
        return f"on_other={shown_name(self.on_other)}"


class Join(PartitionOp):
    """``(other, element)`` pairs of ``bag`` with the ``table``."""

    table: BlockExpr
    on_self: Callable

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        part = b.input(self, self.bag, index)
        return Task(op_join, part, b.ref(self.table, (0,)), self.on_self)

    def _explain_args(self) -> str:
        return f"on_self={shown_name(self.on_self)}"


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
    if isinstance(other, Bag):
        if other.npartitions != 1:
            raise ValueError(
                f"join: the other bag must have one partition (it is held in memory), got "
                f"{other.npartitions}; use other.repartition(1)"
            )
        source: Any = other.expr
    else:
        source = value_expr(other)
        if source is None:
            try:
                source = list(other)
            except TypeError:
                raise TypeError(
                    f"join: other must be an iterable, a one-partition Bag or a Delayed, got "
                    f"{type(other).__name__}"
                ) from None
    return Bag(Join(bag.expr, JoinTable(source, on_other), on_self))


def product_part(a: list, b: list) -> list:
    """All ``(x, y)`` pairs of two partitions.

    >>> product_part([1, 2], "a")
    [(1, 'a'), (2, 'a')]
    """
    return list(itertools.product(a, b))


class Product(BagExpr):
    """Partition ``i * nb + j`` pairs partition ``i`` of ``left`` with
    partition ``j`` of ``right`` (each stored once, read many times)."""

    left: BlockExpr
    right: BlockExpr

    def _numblocks(self) -> tuple:
        return (self.left.numblocks[0] * self.right.numblocks[0],)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        i, j = divmod(index[0], self.right.numblocks[0])
        return Task(product_part, b.ref(self.left, (i,)), b.ref(self.right, (j,)))


def product(bag: Bag, other: Bag) -> Bag:
    """``Bag.product`` (see there).

    >>> import shoal.bag as sb
    >>> product(sb.from_sequence([1]), sb.from_sequence("ab")).compute(scheduler="sync")
    [(1, 'a'), (1, 'b')]
    """
    if not isinstance(other, Bag):
        raise TypeError(f"product: other must be a Bag, got {type(other).__name__}")
    return Bag(Product(bag.expr, other.expr))


def _concat(parts: list) -> Iterator:
    return itertools.chain.from_iterable(parts)


def cut_partition(part: Iterable, how: Any) -> list[list]:
    """``part`` cut into ``how`` contiguous pieces of nearly equal length (an
    int), or before each position of ``how`` (a tuple, increasing).

    >>> cut_partition(iter([1, 2, 3, 4, 5]), 2), cut_partition(range(6), (2, 5))
    ([[1, 2, 3], [4, 5]], [[0, 1], [2, 3, 4], [5]])
    """
    part = list(part)
    if isinstance(how, int):
        return [part[a:b] for a, b in bounds(len(part), how)]
    edges = [0, *how, len(part)]
    return [part[a:b] for a, b in itertools.pairwise(edges)]


class Recut(BagExpr):
    """``bag`` re-cut: output partition ``j`` concatenates ``pieces[j]``,
    each ``(i, r)``: piece ``r`` of input partition ``i``, or the whole
    partition when ``r`` is None (streamed, fused into the output's task).
    ``cuts[i]`` says how input ``i`` is cut (``cut_partition``), None if it
    is not: a cut input is read once, by a split task of its own.

    >>> import shoal
    >>> import shoal.bag as sb
    >>> r = Recut(sb.range(5, npartitions=2).expr, (((0, 0),), ((0, 1), (1, None))), (2, None))
    >>> shoal.compute(Parts(Bag(r)), scheduler="sync")[0]
    [[0, 1], [2, 3, 4]]
    """

    bag: BlockExpr
    pieces: tuple
    cuts: tuple

    def _numblocks(self) -> tuple:
        return (len(self.pieces),)

    @property
    def _prefix(self) -> str:
        return "repartition"

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True  # an input partition is read once: whole by one output, or by its split

    def _extra_layer(self, b: GraphBuilder) -> dict:
        split = self.stage_name("split")
        return {
            (split, i): Task(
                run_partition, b.input(self, self.bag, (i,)), cut_partition, self.bag._name, i, how
            )
            for i, how in enumerate(self.cuts)
            if how is not None
        }

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        split = self.stage_name("split")
        parts = [
            b.input(self, self.bag, (i,)) if r is None else Task(getitem, Ref((split, i)), r)
            for i, r in self.pieces[index[0]]
        ]
        return Task(_concat, parts)

    def _explain_args(self) -> str:
        return f"npartitions={len(self.pieces)}"


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
    stats_plan = Consume(bag.expr, partition_stats, "repartition-stats")
    (stats,) = compute_collections(Parts(Bag(stats_plan)))
    return _from_boundaries(bag, [c for c, _ in stats], size_boundaries(stats, target))


def _from_boundaries(bag: Bag, counts: list[int], starts: list[int]) -> Bag:
    """``bag`` re-cut so that output partition ``j`` holds the global
    elements ``[starts[j], starts[j + 1])`` (the last to the end)."""
    elem_starts = [0, *itertools.accumulate(counts)]
    pieces: list[list] = [[] for _ in starts]
    cuts: list = []
    for i in range(len(counts)):
        lo, hi = elem_starts[i], elem_starts[i + 1]
        first = bisect.bisect_right(starts, lo) - 1
        at = tuple(s - lo for s in starts if lo < s < hi)
        cuts.append(at or None)
        if not at:
            pieces[first].append((i, None))
            continue
        for r in range(len(at) + 1):
            pieces[first + r].append((i, r))
    return Bag(Recut(bag.expr, tuple(map(tuple, pieces)), tuple(cuts)))


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
    if npartitions < n_in:
        pieces = tuple(tuple((i, None) for i in range(a, b)) for a, b in bounds(n_in, npartitions))
        return Bag(Recut(bag.expr, pieces, (None,) * n_in))
    out: list = []
    cuts: list = []
    for i, (a, b) in enumerate(bounds(npartitions, n_in)):
        cuts.append(b - a if b - a > 1 else None)
        out.extend(((i, r if b - a > 1 else None),) for r in range(b - a))
    return Bag(Recut(bag.expr, tuple(out), tuple(cuts)))
