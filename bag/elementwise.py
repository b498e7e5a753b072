"""Per-partition operations: the plan nodes of ``map``, ``starmap``,
``filter``/``remove``, ``flatten``, ``pluck``, ``map_partitions`` (and zips of
several bags), and the lazy functions their tasks call.

Every node is a fusable ``PartitionOp`` (``bag/expr.py``): its block is one
task over its input's block, nested inline by the graph builder, and every
function here returns an iterator without consuming anything, so a chain of
them streams a partition element by element. Functions are module-level, so
tasks pickle by reference.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any

from shoal.bag.expr import BagArg, BagExpr, PartitionOp, fill_values, no_default, shown_name, unpack
from shoal.bag.jsonlines import loads_each
from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Task
from shoal.core.utils import funcname

__all__ = ["Map", "Starmap", "Filter", "Flatten", "Pluck", "MapPartitions", "WithPath"]


# ------------------------------------------------------------- functions


def _fill(template: tuple, kwtemplate: dict, values: tuple) -> tuple[list, dict]:
    args = [values[a.index] if type(a) is BagArg else a for a in template]
    kwargs = {k: values[v.index] if type(v) is BagArg else v for k, v in kwtemplate.items()}
    return args, kwargs


def op_map(it: Iterable, func: Callable) -> Iterator:
    """``func(x)`` for each element (``json.loads`` runs as
    ``shoal.bag.jsonlines.loads_each``: the same values and errors, faster).

    >>> list(op_map([1, -2], abs))
    [1, 2]
    """
    if func is json.loads:
        return loads_each(it)
    return map(func, it)


def op_map_args(it: Iterable, func: Callable, spec: Any, *others: Iterable) -> Iterator:
    """``func`` called with a template of arguments in which ``BagArg(0)`` is
    this partition's element and ``BagArg(k)`` the k-th zipped bag's element.

    >>> from shoal.bag.expr import Packed
    >>> list(op_map_args([1, 2], pow, Packed((BagArg(0), 2), {})))
    [1, 4]
    """
    template, kwtemplate = unpack(spec)
    if not others and template[:1] == (BagArg(0),) and _no_slots(template[1:], kwtemplate):
        rest = template[1:]
        return (func(x, *rest, **kwtemplate) for x in it)
    rows = zip(it, *others, strict=True) if others else ((x,) for x in it)
    return _map_rows(rows, func, template, kwtemplate)


def _no_slots(args: tuple, kwargs: dict) -> bool:
    return not any(type(a) is BagArg for a in args) and not any(
        type(v) is BagArg for v in kwargs.values()
    )


def _map_rows(rows: Iterable, func: Callable, template: tuple, kwtemplate: dict) -> Iterator:
    for values in rows:
        args, kwargs = _fill(template, kwtemplate, values)
        yield func(*args, **kwargs)


def op_starmap(it: Iterable, func: Callable, spec: Any) -> Iterator:
    """``func(*x, **kwargs)`` for each element.

    >>> from shoal.bag.expr import Packed
    >>> list(op_starmap([(2, 3)], pow, Packed((), {})))
    [8]
    """
    _, kwargs = unpack(spec)
    if kwargs:
        return (func(*x, **kwargs) for x in it)
    return itertools.starmap(func, it)


def op_flatten(it: Iterable) -> Iterator:
    """Concatenate the elements (each an iterable).

    >>> list(op_flatten([[1], [], [2, 3]]))
    [1, 2, 3]
    """
    return itertools.chain.from_iterable(it)


def op_pluck(it: Iterable, key: Any, as_tuple: bool) -> Iterator:
    """``x[key]`` (or a tuple of ``x[k]`` for a list of keys) for each element;
    a missing key raises an error naming it.

    >>> list(op_pluck([{"a": 1}], "a", False))
    [1]
    """
    get: Callable[[Any], Any] = itemgetter(*key) if as_tuple else itemgetter(key)
    if as_tuple and len(key) == 1:
        single = get
        get = lambda x: (single(x),)  # noqa: E731 - itemgetter of one key is not a tuple
    try:
        yield from map(get, it)
    except (KeyError, IndexError) as e:
        raise type(e)(
            f"pluck: an element has no key {e.args[0] if e.args else key!r} "
            f"(plucking {key!r}); pass default= to fill missing keys"
        ) from e


def op_pluck_default(it: Iterable, key: Any, as_tuple: bool, default: Any) -> Iterator:
    """Like ``op_pluck``, with ``default`` for missing keys.

    >>> list(op_pluck_default([{"a": 1}, {}], "a", False, 0))
    [1, 0]
    """
    keys = key if as_tuple else (key,)
    for x in it:
        values = []
        for k in keys:
            try:
                values.append(x[k])
            except (KeyError, IndexError):
                values.append(default)
        yield tuple(values) if as_tuple else values[0]


def op_with_path(it: Iterable, path: str) -> Iterator:
    """``(line, path)`` pairs (``read_text(include_path=True)``).

    >>> list(op_with_path(["a"], "f.txt"))
    [('a', 'f.txt')]
    """
    return zip(it, itertools.repeat(path))


def op_map_partition(it: Iterable, func: Callable, spec: Any, *others: Iterable) -> Iterator:
    """``func`` applied to the whole partition, as a new list (``func`` may
    change it); ``BagArg(k)`` in the template stands for the k-th zipped
    bag's partition. Runs when first iterated.

    >>> from shoal.bag.expr import Packed
    >>> list(op_map_partition(iter([3, 1]), sorted, Packed((BagArg(0),), {})))
    [1, 3]
    """
    template, kwtemplate = unpack(spec)
    parts = (list(it), *(list(o) for o in others))
    args, kwargs = _fill(template, kwtemplate, parts)
    yield from _as_partition(func(*args, **kwargs))


def op_stream_partition(it: Iterable, func: Callable, spec: Any, *others: Iterable) -> Iterator:
    """Like ``op_map_partition``, but the partitions reach ``func`` as
    one-pass iterators, never materialized here.

    >>> from shoal.bag.expr import Packed
    >>> list(op_stream_partition([3, 1], enumerate, Packed((BagArg(0),), {})))
    [(0, 3), (1, 1)]
    """
    template, kwtemplate = unpack(spec)
    parts = (iter(it), *(iter(o) for o in others))
    args, kwargs = _fill(template, kwtemplate, parts)
    yield from _as_partition(func(*args, **kwargs))


def _as_partition(out: Any) -> Iterator:
    try:
        return iter(out)
    except TypeError:
        raise TypeError(
            f"map_partitions: the function returned {type(out).__name__}, expected an "
            "iterable (the new partition)"
        ) from None


# ----------------------------------------------------------------- nodes


class Map(BagExpr):
    """``func`` over the elements of the zipped ``bags`` (distinct; the
    argument template ``args``/``kwargs`` says where each bag's element goes,
    ``BagArg(k)``, and where computed ``values`` go, ``ValueArg(k)``).

    >>> import shoal.bag as sb
    >>> m = Map((sb.range(3).expr,), abs)
    >>> sb.Bag(m).compute(scheduler="sync")
    [0, 1, 2]
    """

    bags: tuple
    func: Callable
    args: tuple = (BagArg(0),)
    kwargs: dict | None = None
    values: tuple = ()

    def _numblocks(self) -> tuple:
        return self.bags[0].numblocks

    @property
    def _prefix(self) -> str:
        return "map-" + funcname(self.func)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        parts = [b.input(self, bag, index) for bag in self.bags]
        if len(parts) == 1 and self.args == (BagArg(0),) and not self.kwargs:
            return Task(op_map, parts[0], self.func)
        spec = fill_values(self.args, self.kwargs, self.values, b)
        return Task(op_map_args, parts[0], self.func, spec, *parts[1:])

    def _explain_args(self) -> str:
        return f"func={shown_name(self.func)}" + (
            f", zip={len(self.bags)}" if len(self.bags) > 1 else ""
        )


class MapPartitions(Map):
    """``func`` over whole partitions of the zipped ``bags``: lists, or
    one-pass iterators when ``stream``.

    >>> import shoal.bag as sb
    >>> sb.Bag(MapPartitions((sb.range(3).expr,), sorted)).compute(scheduler="sync")
    [0, 1, 2]
    """

    stream: bool = False

    @property
    def _prefix(self) -> str:
        return "map-partitions-" + funcname(self.func)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        parts = [b.input(self, bag, index) for bag in self.bags]
        spec = fill_values(self.args, self.kwargs, self.values, b)
        op = op_stream_partition if self.stream else op_map_partition
        return Task(op, parts[0], self.func, spec, *parts[1:])


class Starmap(PartitionOp):
    """``func(*element, **kwargs)`` (``ValueArg(k)`` among the keyword
    values stands for ``values[k]``)."""

    func: Callable
    kwargs: dict | None = None
    values: tuple = ()

    @property
    def _prefix(self) -> str:
        return "starmap-" + funcname(self.func)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        spec = fill_values((), self.kwargs, self.values, b)
        return Task(op_starmap, b.input(self, self.bag, index), self.func, spec)

    def _explain_args(self) -> str:
        return f"func={shown_name(self.func)}"


class Filter(PartitionOp):
    """The elements for which ``predicate`` is true (``keep``) or false."""

    predicate: Callable
    keep: bool = True

    @property
    def _prefix(self) -> str:
        return ("filter-" if self.keep else "remove-") + funcname(self.predicate)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        part = b.input(self, self.bag, index)
        return Task(filter if self.keep else itertools.filterfalse, self.predicate, part)

    def _explain_args(self) -> str:
        return f"predicate={shown_name(self.predicate)}" + ("" if self.keep else ", remove")


class Flatten(PartitionOp):
    """The elements of the elements."""

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        return Task(op_flatten, b.input(self, self.bag, index))


class Pluck(PartitionOp):
    """``element[item]`` (a tuple of them for a tuple of items, ``as_tuple``)."""

    item: Any
    as_tuple: bool = False
    default: Any = no_default

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        part = b.input(self, self.bag, index)
        if self.default is no_default:
            return Task(op_pluck, part, self.item, self.as_tuple)
        return Task(op_pluck_default, part, self.item, self.as_tuple, self.default)


class WithPath(PartitionOp):
    """``(element, paths[i])`` pairs in partition ``i``."""

    paths: tuple

    @property
    def _prefix(self) -> str:
        return "read-text-paths"

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        return Task(op_with_path, b.input(self, self.bag, index), self.paths[index[0]])

    def _explain_args(self) -> str:
        return f"{len(set(self.paths))} paths"
