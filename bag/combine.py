"""Bags built from several partitions or collections: ``join`` with an
in-memory table, ``product`` and ``repartition``."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any

from shoal.bag import chain as ch
from shoal.bag.core import Bag, Layer, value_arg
from shoal.bag.reductions import key_func
from shoal.bag.sources import _bounds
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize

__all__ = ["join", "product", "repartition"]


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


def repartition(bag: Bag, npartitions: int) -> Bag:
    """``Bag.repartition``: merge neighbouring partitions, or split each
    partition into nearly equal pieces; element order is kept.

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
