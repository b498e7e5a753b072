"""The ``Bag`` collection and the ``Item`` it reduces to.

A ``Bag`` is ``npartitions`` partitions, each an iterable of Python objects.
It is either *materialized* (its keys ``(name, i)`` are in its own layer, e.g.
after a reduction or ``persist``) or a *chain*: one source node per partition
(a list, a ``range``, a task that yields lines) plus a tuple of per-partition
operations (``shoal.bag.chain``). Element-wise methods only append to the
chain, so the graph holds one ``run_chain`` task per partition however many
maps and filters were applied: the per-partition work is function
composition, fused before the graph is built.

    read_text -> map -> filter -> frequencies

    graph:  (frequencies-part, i) = run_chain(read_block_i, [map, filter], Counter)
            (frequencies-combine, level, j) ... frequencies-agg

Other collections a bag needs (the sources' data, a ``Delayed`` argument, a
materialized parent) are kept in ``_deps`` and merged into the graph by a walk
at compute time, so building a long pipeline costs O(length).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

from shoal.bag import chain as ch
from shoal.bag.share import graph_together
from shoal.core.base import CollectionMethods, is_collection
from shoal.core.delayed import Delayed, delayed
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize
from shoal.core.utils import funcname
from shoal.testing import register_checker

__all__ = [
    "Bag",
    "Item",
    "Layer",
    "PerPart",
    "Parts",
    "collect_graph",
    "check_callable",
    "no_default",
]


class _NoDefault:
    def __repr__(self) -> str:
        return "<no default>"

    def __reduce__(self):
        return "no_default"


no_default = _NoDefault()


def check_callable(where: str, argument: str, value: Any) -> None:
    """Raise a TypeError naming the argument if ``value`` is not callable.

    >>> check_callable("Bag.map", "func", 3)
    Traceback (most recent call last):
    ...
    TypeError: Bag.map: func must be callable, got int: 3
    """
    if not callable(value):
        raise TypeError(
            f"{where}: {argument} must be callable, got {type(value).__name__}: {value!r:.80}"
        )


class Layer:
    """A plain piece of graph (data nodes, a reduction tree) that bags and
    items depend on.

    >>> collect_graph(Layer({"x": 1}))
    {'x': 1}
    """

    __slots__ = ("graph",)
    _deps: tuple = ()

    def __init__(self, graph: dict):
        self.graph = graph

    def _own_layer(self) -> dict:
        return self.graph


class PerPart:
    """An operation argument that differs per partition (a zipped bag's
    partition node); resolved when the graph is built.

    >>> PerPart(["a", "b"]).nodes[1]
    'b'
    """

    __slots__ = ("nodes",)

    def __init__(self, nodes: list):
        self.nodes = nodes


def collect_graph(*roots: Any) -> dict:
    """The whole graph needed by bags, items and any other collections.

    >>> from shoal.bag import from_sequence
    >>> sorted(collect_graph(from_sequence([1, 2], npartitions=2)))[-1][1]
    1
    """
    graph: dict = {}
    seen: set = set()
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if hasattr(obj, "_own_layer"):
            graph.update(obj._own_layer())
            stack.extend(obj._deps)
        else:
            graph.update(obj.__shoal_graph__())
    return graph


def _merge_deps(*groups: tuple) -> tuple:
    out: list = []
    seen: set = set()
    for group in groups:
        for d in group:
            if id(d) not in seen:
                seen.add(id(d))
                out.append(d)
    return tuple(out)


def _concat(parts: list) -> list:
    return list(itertools.chain.from_iterable(parts))


def _rebuild_bag(graph: dict, name: str, npartitions: int) -> Bag:
    return Bag(name, npartitions, layer=graph)


def _first(result: Any) -> Any:
    return result


def _rebuild_item(graph: dict, key: Any) -> Item:
    return Item(key, graph)


def value_arg(value: Any, deps: list) -> Any:
    """A function argument as a task argument: ``Item``/``Delayed`` (and other
    collections) become references to their computed value.

    >>> from shoal import delayed
    >>> deps = []
    >>> value_arg(delayed(1, name="one"), deps), value_arg(2, deps), len(deps)
    (Ref('one'), 2, 1)
    """
    if isinstance(value, Item):
        deps.append(value)
        return Ref(value.key)
    if isinstance(value, Delayed):
        deps.append(value)
        return Ref(value.key)
    if is_collection(value):
        d = delayed(value)
        deps.append(d)
        return Ref(d.key)
    return value


class Bag(CollectionMethods):
    """A lazy, partitioned collection of Python objects.

    Build one with ``from_sequence``, ``range``, ``read_text``, ``from_map`` or
    ``from_delayed``; it computes with the processes scheduler by default.

    >>> import shoal.bag as sb
    >>> b = sb.from_sequence(range(10), npartitions=3)
    >>> b.map(lambda x: x * x).filter(lambda x: x % 2).compute(scheduler="sync")
    [1, 9, 25, 49, 81]
    """

    __slots__ = ("name", "npartitions", "_layer", "_deps", "_srcs", "_ops")
    __shoal_scheduler__ = "processes"
    __shoal_graph_together__ = staticmethod(graph_together)

    def __init__(
        self,
        name: str,
        npartitions: int,
        layer: dict | None = None,
        deps: tuple = (),
        srcs: list | None = None,
        ops: tuple = (),
    ):
        self.name = name
        self.npartitions = npartitions
        self._layer = layer or {}
        self._deps = deps
        self._srcs = srcs
        self._ops = ops

    # ------------------------------------------------------------ protocol

    def __shoal_graph__(self) -> dict:
        return collect_graph(self)

    def __shoal_keys__(self) -> list:
        return [(self.name, i) for i in range(self.npartitions)]

    def __shoal_postcompute__(self) -> tuple:
        return _concat, ()

    def __shoal_postpersist__(self) -> tuple:
        return _rebuild_bag, (self.name, self.npartitions)

    def __shoal_tokenize__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"shoal.bag<{self.name}, npartitions={self.npartitions}>"

    def __iter__(self) -> Iterator:
        return iter(self.compute())

    # -------------------------------------------------------------- graph

    def _own_layer(self) -> dict:
        if self._srcs is None:
            return self._layer
        name = self.name
        return {(name, i): self.part_node(i) for i in range(self.npartitions)}

    def needs(self) -> tuple:
        """What the per-partition nodes of this bag refer to.

        >>> import shoal.bag as sb
        >>> sb.range(3).needs()
        ()
        """
        return self._deps if self._srcs is not None else (self,)

    def part_node(self, i: int, finish: Callable | None = None) -> Any:
        """The node computing partition ``i`` (finished by ``finish``).

        >>> import shoal.bag as sb
        >>> sb.range(5, npartitions=2).map(abs).part_node(1, sum)({})
        7
        """
        if self._srcs is None:
            if finish is None:
                return Ref((self.name, i))
            return Task(ch.run_chain, Ref((self.name, i)), (), finish, (self.name, i))
        ops = tuple(
            tuple(a.nodes[i] if type(a) is PerPart else a for a in op)
            if any(type(a) is PerPart for a in op)
            else op
            for op in self._ops
        )
        return Task(ch.run_chain, self._srcs[i], ops, finish, (self.name, i))

    def then(self, prefix: str, op: tuple, token: Any, deps: tuple = ()) -> Bag:
        """A new bag: this one with ``op`` appended to every partition's chain.

        >>> import shoal.bag as sb
        >>> sb.range(3).then("neg", (ch.op_map, abs), None).compute(scheduler="sync")
        [0, 1, 2]
        """
        if self._srcs is None:
            srcs, ops, base = [Ref((self.name, i)) for i in range(self.npartitions)], (), (self,)
        else:
            srcs, ops, base = self._srcs, self._ops, self._deps
        name = f"{prefix}-{tokenize(self.name, prefix, token)}"
        return Bag(name, self.npartitions, srcs=srcs, ops=ops + (op,), deps=_merge_deps(base, deps))

    # -------------------------------------------------------- element-wise

    def map(self, func: Callable, *args: Any, **kwargs: Any) -> Bag:
        """Apply ``func`` to each element; other bags among the arguments are
        zipped element by element, ``Item``/``Delayed`` arguments are computed
        values.

        >>> import shoal.bag as sb
        >>> b = sb.from_sequence([1, 2, 3], npartitions=2)
        >>> b.map(lambda x, y, z=0: x + y + z, b, z=10).compute(scheduler="sync")
        [12, 14, 16]
        """
        return bag_map(func, self, *args, **kwargs)

    def starmap(self, func: Callable, **kwargs: Any) -> Bag:
        """Apply ``func(*element, **kwargs)`` to each (tuple) element.

        >>> import shoal.bag as sb
        >>> sb.from_sequence([(1, 2), (3, 4)]).starmap(max).compute(scheduler="sync")
        [2, 4]
        """
        check_callable("Bag.starmap", "func", func)
        deps: list = []
        kw = {k: value_arg(v, deps) for k, v in kwargs.items()}
        spec = ((), kw) if deps else ch.Packed((), kw)
        return self.then(
            "starmap-" + funcname(func), (ch.op_starmap, func, spec), (func, kwargs), tuple(deps)
        )

    def filter(self, predicate: Callable) -> Bag:
        """Keep the elements for which ``predicate`` is true.

        >>> import shoal.bag as sb
        >>> sb.range(6, npartitions=2).filter(lambda x: x % 3 == 0).compute(scheduler="sync")
        [0, 3]
        """
        check_callable("Bag.filter", "predicate", predicate)
        return self.then("filter-" + funcname(predicate), (ch.op_filter, predicate), predicate)

    def remove(self, predicate: Callable) -> Bag:
        """Drop the elements for which ``predicate`` is true.

        >>> import shoal.bag as sb
        >>> sb.range(6, npartitions=2).remove(lambda x: x % 3 == 0).compute(scheduler="sync")
        [1, 2, 4, 5]
        """
        check_callable("Bag.remove", "predicate", predicate)
        return self.then("remove-" + funcname(predicate), (ch.op_remove, predicate), predicate)

    def flatten(self) -> Bag:
        """Concatenate the elements, each itself iterable.

        >>> import shoal.bag as sb
        >>> sb.from_sequence([[1, 2], [], [3]]).flatten().compute(scheduler="sync")
        [1, 2, 3]
        """
        return self.then("flatten", (ch.op_flatten,), None)

    def pluck(self, key: Any, default: Any = no_default) -> Bag:
        """``element[key]`` for each element; a list of keys gives tuples.

        >>> import shoal.bag as sb
        >>> b = sb.from_sequence([{"a": 1, "b": 2}, {"a": 3}])
        >>> b.pluck(["a", "b"], default=None).compute(scheduler="sync")
        [(1, 2), (3, None)]
        """
        as_tuple = isinstance(key, list)
        keys = tuple(key) if as_tuple else key
        if default is no_default:
            op = (ch.op_pluck, keys, as_tuple)
        else:
            op = (ch.op_pluck_default, keys, as_tuple, default)
        return self.then("pluck", op, (keys, as_tuple, repr(default)))

    def map_partitions(
        self, func: Callable, *args: Any, stream: bool = False, **kwargs: Any
    ) -> Bag:
        """Apply ``func`` to each whole partition; it returns the new partition
        (any iterable, consumed lazily). Other bags among the arguments pass
        their matching partition.

        By default each partition reaches ``func`` as a list (materialized:
        ``func`` may take its ``len``, index it or read it twice). With
        ``stream=True`` it gets a one-pass iterator instead, fed lazily by the
        partition's source and operations (a file's lines are read as ``func``
        asks for them), so a ``func`` that consumes its input once runs in
        bounded memory.

        >>> import shoal.bag as sb
        >>> b = sb.from_sequence([3, 1, 2, 0], npartitions=2)
        >>> b.map_partitions(sorted).compute(scheduler="sync")
        [1, 3, 0, 2]
        >>> from itertools import accumulate
        >>> b.map_partitions(accumulate, stream=True).compute(scheduler="sync")
        [3, 4, 2, 2]
        """
        return bag_map_partitions(func, self, *args, stream=stream, **kwargs)

    def accumulate(self, binop: Callable, initial: Any = no_default) -> Bag:
        """Running ``binop`` over all elements, in order, across partitions.

        >>> import shoal.bag as sb
        >>> sb.range(5, npartitions=2).accumulate(max, initial=2).compute(scheduler="sync")
        [2, 2, 2, 2, 3, 4]
        """
        from shoal.bag.sequential import accumulate

        return accumulate(self, binop, initial)

    @property
    def str(self):
        """String methods applied to each element: ``b.str.lower()``,
        ``.strip()``, ``.split(",")``, ``.match("a*")`` (filter by glob).

        >>> import shoal.bag as sb
        >>> sb.from_sequence([" A ", "b"]).str.strip().str.lower().compute(scheduler="sync")
        ['a', 'b']
        """
        from shoal.bag.strings import StringAccessor

        return StringAccessor(self)

    # ----------------------------------------------------------- reductions

    def reduction(
        self,
        perpartition: Callable,
        aggregate: Callable,
        split_every: int | None = None,
        combine: Callable | None = None,
        out_type: type | None = None,
        name: str | None = None,
    ) -> Any:
        """A tree reduction: ``perpartition(list)`` on each partition, then
        ``combine(list_of_partials)`` in groups of ``split_every`` and
        ``aggregate(list_of_partials)`` at the root. Returns an ``Item`` (or a
        one-partition ``Bag`` with ``out_type=Bag``).

        >>> import shoal.bag as sb
        >>> sb.range(10, npartitions=4).reduction(len, sum).compute(scheduler="sync")
        10
        """
        from shoal.bag.reductions import user_reduction

        return user_reduction(self, perpartition, aggregate, split_every, combine, out_type, name)

    def fold(
        self,
        binop: Callable,
        combine: Callable | None = None,
        initial: Any = no_default,
        split_every: int | None = None,
    ) -> Item:
        """Reduce with ``binop(acc, element)`` in each partition and
        ``combine(acc, acc)`` across them (``binop`` by default).

        >>> import shoal.bag as sb
        >>> sb.range(5, npartitions=2).fold(lambda a, b: a + b).compute(scheduler="sync")
        10
        """
        from shoal.bag.reductions import fold

        return fold(self, binop, combine, initial, split_every)

    def foldby(
        self,
        key: Any,
        binop: Callable,
        initial: Any = no_default,
        combine: Callable | None = None,
        combine_initial: Any = no_default,
        split_every: int | None = None,
    ) -> Bag:
        """Fold the elements of each key group without a shuffle: ``binop(acc,
        element)`` per partition, ``combine(acc, acc)`` across partitions.
        Returns a bag of ``(key, value)`` pairs. ``key`` may be a function or an
        item index; a callable ``initial`` is called for each new key.

        >>> import shoal.bag as sb
        >>> b = sb.range(10, npartitions=3)
        >>> sorted(b.foldby(lambda x: x % 2, lambda a, x: a + x, 0).compute(scheduler="sync"))
        [(0, 20), (1, 25)]
        """
        from shoal.bag.reductions import foldby

        return foldby(self, key, binop, initial, combine, combine_initial, split_every)

    def _agg(self, name: str, *args: Any, **kwargs: Any) -> Any:
        from shoal.bag import reductions

        return getattr(reductions, name)(self, *args, **kwargs)

    def count(self, split_every: int | None = None) -> Item:
        """Number of elements.

        >>> import shoal.bag as sb
        >>> sb.range(7, npartitions=3).count().compute(scheduler="sync")
        7
        """
        return self._agg("count", split_every)

    def sum(self, split_every: int | None = None) -> Item:
        """Sum of the elements (0 for an empty bag).

        >>> import shoal.bag as sb
        >>> sb.range(5, npartitions=2).sum().compute(scheduler="sync")
        10
        """
        return self._agg("total", split_every)

    def min(self, split_every: int | None = None) -> Item:
        """Smallest element.

        >>> import shoal.bag as sb
        >>> sb.from_sequence([3, 1, 2], npartitions=2).min().compute(scheduler="sync")
        1
        """
        return self._agg("extreme", min, split_every)

    def max(self, split_every: int | None = None) -> Item:
        """Largest element.

        >>> import shoal.bag as sb
        >>> sb.from_sequence([3, 1, 2], npartitions=2).max().compute(scheduler="sync")
        3
        """
        return self._agg("extreme", max, split_every)

    def mean(self, split_every: int | None = None) -> Item:
        """Arithmetic mean.

        >>> import shoal.bag as sb
        >>> sb.range(5, npartitions=2).mean().compute(scheduler="sync")
        2.0
        """
        return self._agg("moments", "mean", 0, split_every)

    def var(self, ddof: int = 0, split_every: int | None = None) -> Item:
        """Variance (with ``ddof`` delta degrees of freedom).

        >>> import shoal.bag as sb
        >>> sb.range(5, npartitions=2).var().compute(scheduler="sync")
        2.0
        """
        return self._agg("moments", "var", ddof, split_every)

    def std(self, ddof: int = 0, split_every: int | None = None) -> Item:
        """Standard deviation (with ``ddof`` delta degrees of freedom).

        >>> import shoal.bag as sb
        >>> sb.from_sequence([1, 3], npartitions=2).std().compute(scheduler="sync")
        1.0
        """
        return self._agg("moments", "std", ddof, split_every)

    def any(self, split_every: int | None = None) -> Item:
        """Whether any element is true.

        >>> import shoal.bag as sb
        >>> sb.from_sequence([0, 0, 1], npartitions=3).any().compute(scheduler="sync")
        True
        """
        return self._agg("truth", any, split_every)

    def all(self, split_every: int | None = None) -> Item:
        """Whether every element is true.

        >>> import shoal.bag as sb
        >>> sb.from_sequence([0, 1], npartitions=2).all().compute(scheduler="sync")
        False
        """
        return self._agg("truth", all, split_every)

    def distinct(self, key: Any = None, split_every: int | None = None) -> Bag:
        """The distinct elements (by ``key`` if given: the first element of
        each key), in order of first appearance, in one partition.

        >>> import shoal.bag as sb
        >>> sb.from_sequence([1, 2, 1, 3, 2], npartitions=2).distinct().compute(scheduler="sync")
        [1, 2, 3]
        """
        return self._agg("distinct", key, split_every)

    def frequencies(self, sort: bool = False, split_every: int | None = None) -> Bag:
        """``(element, count)`` pairs in one partition; ``sort=True`` orders
        them by decreasing count.

        >>> import shoal.bag as sb
        >>> b = sb.from_sequence("abracadabra", npartitions=3)
        >>> b.frequencies(sort=True).compute(scheduler="sync")[:2]
        [('a', 5), ('b', 2)]
        """
        return self._agg("frequencies", sort, split_every)

    def topk(self, k: int, key: Any = None, split_every: int | None = None) -> Bag:
        """The ``k`` largest elements (by ``key``: a function or an item
        index), largest first, in one partition.

        >>> import shoal.bag as sb
        >>> sb.from_sequence([5, 1, 9, 3], npartitions=2).topk(2).compute(scheduler="sync")
        [9, 5]
        """
        return self._agg("topk", k, key, split_every)

    # -------------------------------------------------------------- shuffles

    def groupby(
        self,
        grouper: Any,
        npartitions: int | None = None,
        shuffle: str | None = None,
        blocksize: Any = None,
        max_branch: int | None = None,
    ) -> Bag:
        """Group elements by ``grouper`` (a function or an item index) with a
        full shuffle: a bag of ``(key, [elements])``, each key in exactly one
        partition, elements in their input order. ``shuffle="disk"`` spills
        partitions to files in a temporary directory (for bags larger than
        memory; the default for local schedulers), ``"tasks"`` moves them
        through the task graph, in several stages of fan-out at most
        ``max_branch`` (config ``bag.shuffle-max-branch``, 32) when both
        sides have more partitions than that. ``blocksize`` is accepted for
        Dask compatibility and unused (the disk shuffle writes one file per
        input partition).

        >>> import shoal.bag as sb
        >>> b = sb.range(6, npartitions=3).groupby(lambda x: x % 2)
        >>> sorted(b.compute(scheduler="sync"))
        [(0, [0, 2, 4]), (1, [1, 3, 5])]
        """
        from shoal.bag.shuffle import groupby

        return groupby(self, grouper, npartitions, shuffle, max_branch)

    def join(self, other: Any, on_self: Any, on_other: Any = None) -> Bag:
        """Inner join with an in-memory iterable (or a one-partition bag, or a
        ``Delayed``): ``(other_element, self_element)`` pairs whose keys match.

        >>> import shoal.bag as sb
        >>> b = sb.from_sequence([1, 2, 3], npartitions=2)
        >>> b.join(["a", "bb"], on_self=lambda x: x, on_other=len).compute(scheduler="sync")
        [('a', 1), ('bb', 2)]
        """
        from shoal.bag.combine import join

        return join(self, other, on_self, on_other)

    def product(self, other: Bag) -> Bag:
        """Cartesian product: ``(a, b)`` pairs, one partition per pair of
        partitions.

        >>> import shoal.bag as sb
        >>> a, b = sb.from_sequence([1, 2]), sb.from_sequence("xy")
        >>> a.product(b).compute(scheduler="sync")
        [(1, 'x'), (1, 'y'), (2, 'x'), (2, 'y')]
        """
        from shoal.bag.combine import product

        return product(self, other)

    def repartition(self, npartitions: int | None = None, partition_size: Any = None) -> Bag:
        """The same elements, in the same order, in ``npartitions`` partitions,
        or in partitions of about ``partition_size`` bytes each (an int or a
        string like ``"64MiB"``; element sizes are estimated with
        ``sys.getsizeof`` of each element and its items). Give exactly one.
        ``partition_size`` computes the bag once now to measure it.

        >>> import shoal.bag as sb
        >>> sb.range(10, npartitions=2).repartition(5).npartitions
        5
        >>> import shoal
        >>> b = sb.from_sequence(["x" * 100] * 10, npartitions=1)
        >>> with shoal.config.set(scheduler="sync"):
        ...     b.repartition(partition_size="1kB").npartitions
        2
        """
        from shoal.bag.combine import repartition, repartition_by_size

        if (npartitions is None) == (partition_size is None):
            raise ValueError(
                "repartition: give exactly one of npartitions or partition_size, got "
                f"npartitions={npartitions!r}, partition_size={partition_size!r}"
            )
        if partition_size is not None:
            return repartition_by_size(self, partition_size)
        return repartition(self, npartitions)

    # --------------------------------------------------------------- outputs

    def take(
        self, k: int, npartitions: int = 1, compute: bool = True, warn: bool = True, **kwargs: Any
    ) -> Any:
        """The first ``k`` elements as a tuple, computing only the first
        ``npartitions`` partitions (-1 for all) and only as far as needed.

        >>> import shoal.bag as sb
        >>> sb.range(100, npartitions=4).take(3, scheduler="sync")
        (0, 1, 2)
        """
        from shoal.bag.outputs import take

        return take(self, k, npartitions, compute, warn, **kwargs)

    def to_delayed(self, optimize_graph: bool = True) -> list[Delayed]:
        """One ``Delayed`` per partition (each computes to a list).

        >>> import shoal.bag as sb
        >>> [d.compute() for d in sb.range(4, npartitions=2).to_delayed()]
        [[0, 1], [2, 3]]
        """
        from shoal.bag.outputs import to_delayed

        return to_delayed(self, optimize_graph)

    def to_textfiles(
        self,
        path: Any,
        name_function: Callable | None = None,
        compression: str | None = "infer",
        encoding: str = "utf-8",
        compute: bool = True,
        storage_options: dict | None = None,
        **kwargs: Any,
    ) -> Any:
        """Write one text file per partition, one element (a string) per line.

        ``path`` is a directory, a pattern with one ``*`` (replaced by
        ``name_function(i)``, default ``str(i)``) or a list of paths. Returns
        the paths written, or a list of ``Delayed`` writes if ``compute=False``.

        >>> import shoal.bag as sb, tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> paths = sb.from_sequence(["a", "b"]).to_textfiles(d + "/*.txt", scheduler="sync")
        >>> [open(p).read() for p in paths]
        ['a\\n', 'b\\n']
        """
        from shoal.bag.text import to_textfiles

        return to_textfiles(
            self, path, name_function, compression, encoding, compute, storage_options, **kwargs
        )

    def to_dataframe(self, meta: Any = None, columns: Any = None) -> Any:
        """A partitioned dataframe (``shoal.dataframe``) with one pandas
        partition per bag partition; elements are dicts, tuples or lists.

        Needs ``shoal.dataframe.from_delayed`` (checked when called).

        >>> import shoal.bag as sb
        >>> df = sb.from_sequence([{"a": 1}, {"a": 2}], npartitions=2).to_dataframe()
        >>> int(df.a.sum().compute())
        3
        """
        from shoal.bag.outputs import to_dataframe

        return to_dataframe(self, meta, columns)


class Item(CollectionMethods):
    """A single lazy value computed from a bag (``b.sum()``, ``b.fold(...)``).

    >>> import shoal.bag as sb
    >>> total = sb.range(4, npartitions=2).sum()
    >>> total.apply(lambda x: x * 10).compute(scheduler="sync")
    60
    """

    __slots__ = ("key", "_layer", "_deps")
    __shoal_scheduler__ = "processes"
    __shoal_graph_together__ = staticmethod(graph_together)

    def __init__(self, key: Any, layer: dict, deps: tuple = ()):
        self.key = key
        self._layer = layer
        self._deps = deps

    def _own_layer(self) -> dict:
        return self._layer

    def __shoal_graph__(self) -> dict:
        return collect_graph(self)

    def __shoal_keys__(self) -> Any:
        return self.key

    def __shoal_postcompute__(self) -> tuple:
        return _first, ()

    def __shoal_postpersist__(self) -> tuple:
        return _rebuild_item, (self.key,)

    def __shoal_tokenize__(self) -> Any:
        return self.key

    def __repr__(self) -> str:
        return f"shoal.bag.Item<{self.key}>"

    def apply(self, func: Callable) -> Item:
        """An item computed as ``func(value)``.

        >>> import shoal.bag as sb
        >>> sb.range(3).count().apply(str).compute(scheduler="sync")
        '3'
        """
        check_callable("Item.apply", "func", func)
        key = f"apply-{funcname(func)}-{tokenize(self.key, func)}"
        return Item(key, {key: Task(func, Ref(self.key))}, (self,))

    def to_delayed(self, optimize_graph: bool = True) -> Delayed:
        """This value as a ``Delayed``.

        >>> import shoal.bag as sb
        >>> sb.range(3).count().to_delayed().compute()
        3
        """
        from shoal.core.fuse import fuse_linear

        graph = collect_graph(self)
        if optimize_graph:
            graph = fuse_linear(graph, [self.key])
        return Delayed(self.key, graph)


# ------------------------------------------------------------------ functions


def _arg_converter(bags: list, deps: list) -> Callable:
    def convert(value: Any) -> Any:
        if isinstance(value, Bag):
            for k, b in enumerate(bags):
                if b is value:
                    return ch.BagArg(k)
            bags.append(value)
            return ch.BagArg(len(bags) - 1)
        return value_arg(value, deps)

    return convert


def _zipped(where: str, func: Callable, args: tuple, kwargs: dict):
    check_callable(where, "func", func)
    bags: list = []
    deps: list = []
    convert = _arg_converter(bags, deps)
    template = tuple(convert(a) for a in args)
    kwtemplate = {k: convert(v) for k, v in kwargs.items()}
    if not bags:
        raise TypeError(f"{where} needs at least one Bag among its arguments")
    n = bags[0].npartitions
    for b in bags[1:]:
        if b.npartitions != n:
            raise ValueError(
                f"{where}: zipped bags must have the same number of partitions, got "
                f"{n} and {b.npartitions}; repartition one of them first"
            )
    spec = (template, kwtemplate) if deps else ch.Packed(template, kwtemplate)
    token = (
        func,
        [b.name for b in bags],
        [a for a in args if not is_collection(a)],
        {k: v for k, v in kwargs.items() if not is_collection(v)},
        [getattr(d, "key", None) for d in deps],
    )
    return bags, deps, template, kwtemplate, spec, token


def bag_map(func: Callable, *args: Any, **kwargs: Any) -> Bag:
    """Apply ``func`` element-wise; bags among the arguments are zipped (they
    must have the same partitioning), other values are passed as they are.

    >>> import shoal.bag as sb
    >>> a, b = sb.range(3, npartitions=2), sb.range(10, 13, npartitions=2)
    >>> sb.map(lambda x, y: x * y, a, b).compute(scheduler="sync")
    [0, 11, 24]
    """
    bags, deps, template, kwtemplate, spec, token = _zipped("map", func, args, kwargs)
    base, others = bags[0], bags[1:]
    if template == (ch.BagArg(0),) and not kwtemplate:
        op: tuple = (ch.op_map, func)
    else:
        lazy = [
            PerPart([o.part_node(i, ch.as_iterator) for i in range(o.npartitions)]) for o in others
        ]
        op = (ch.op_map_args, func, spec, *lazy)
    extra = [d for o in others for d in o.needs()]
    return base.then("map-" + funcname(func), op, token, _merge_deps(tuple(deps), tuple(extra)))


def bag_map_partitions(func: Callable, *args: Any, stream: bool = False, **kwargs: Any) -> Bag:
    """Apply ``func`` to whole partitions (lists, or one-pass iterators with
    ``stream=True``: see ``Bag.map_partitions``); bags among the arguments
    pass their matching partitions.

    >>> import shoal.bag as sb
    >>> sb.map_partitions(len, sb.range(5, npartitions=2)).compute(scheduler="sync")
    Traceback (most recent call last):
    ...
    TypeError: map_partitions: the function returned int, expected an iterable (the new partition)
    ...
    """
    bags, deps, template, kwtemplate, spec, token = _zipped("map_partitions", func, args, kwargs)
    base, others = bags[0], bags[1:]
    if not isinstance(stream, bool):
        raise TypeError(f"map_partitions: stream must be True or False, got {stream!r}")
    finish = ch.as_iterator if stream else None
    lazy = [PerPart([o.part_node(i, finish) for i in range(o.npartitions)]) for o in others]
    extra = [d for o in others for d in o.needs()]
    op = ch.op_stream_partition if stream else ch.op_map_partition
    return base.then(
        "map-partitions-" + funcname(func),
        (op, func, spec, *lazy),
        (token, stream),
        _merge_deps(tuple(deps), tuple(extra)),
    )


def bag_zip(*bags: Bag) -> Bag:
    """Zip bags element by element into tuples (same partitioning needed).

    >>> import shoal.bag as sb
    >>> sb.zip(sb.range(3), sb.from_sequence("abc", npartitions=1)).compute(scheduler="sync")
    [(0, 'a'), (1, 'b'), (2, 'c')]
    """
    if not bags or not all(isinstance(b, Bag) for b in bags):
        raise TypeError("zip expects one or more Bags")
    return bag_map(_tuple_of, *bags)


def _tuple_of(*values: Any) -> tuple:
    return values


class Parts:
    """A view of a bag whose computed value is its list of partition results
    (not concatenated): for outputs whose partitions finish as other values.

    >>> import shoal
    >>> import shoal.bag as sb
    >>> shoal.compute(Parts(sb.range(3, npartitions=2)), scheduler="sync")[0]
    [[0, 1], [2]]
    """

    __shoal_scheduler__ = "processes"

    def __init__(self, bag: Bag):
        self.bag = bag

    def __shoal_graph__(self) -> dict:
        return self.bag.__shoal_graph__()

    def __shoal_keys__(self) -> list:
        return self.bag.__shoal_keys__()

    def __shoal_postcompute__(self) -> tuple:
        return _first, ()


@register_checker(Bag)
def _check_bag(bag: Bag, parts: list) -> None:
    """``assert_eq`` check: one computed list per declared partition."""
    assert len(parts) == bag.npartitions, (
        f"bag {bag.name!r} declares {bag.npartitions} partitions but computed {len(parts)}"
    )
    for i, part in enumerate(parts):
        assert type(part) is list, (
            f"partition {i} of bag {bag.name!r} computed to {type(part).__name__}, expected a list"
        )
