"""The ``Bag`` collection and the ``Item`` it reduces to.

Both are thin collections over a plan (``bag/expr.py``): a ``Bag`` over a
1-D grid of partitions (``expr.numblocks == (npartitions,)``), an ``Item``
over a one-block plan (a tree reduction's root, ``Item.apply``, a persisted
value). Methods build new plan nodes and never touch a graph; the graph is
built when computing, by core's ``GraphBuilder``, which fuses the
per-partition operations into one task per partition::

    b.map(json.loads).filter(ok).frequencies()

    TreeReduce: frequencies, split_every=8
      Consume: frequencies-partial, Counter
        Filter: predicate=ok  (fused)
          Map: func=loads  (fused)
            ReadText: ...  (fused)

``explain()`` prints that plan. Several bags and items computed together are
built as one graph (``__shoal_graph_together__``), so the nodes they have in
common run once.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from shoal.bag.elementwise import Filter, Flatten, Map, MapPartitions, Pluck, Starmap
from shoal.bag.expr import (
    BagArg,
    Persisted,
    ValueArg,
    check_callable,
    no_default,
    shown_name,
)
from shoal.core.base import CollectionMethods, is_collection
from shoal.core.build import BlockExpr, GraphBuilder, build_graph
from shoal.core.delayed import Delayed, delayed
from shoal.core.task import Task
from shoal.core.utils import funcname
from shoal.testing import register_checker

__all__ = [
    "Bag",
    "Item",
    "Parts",
    "ItemApply",
    "check_callable",
    "no_default",
    "value_expr",
    "graph_together",
]


def _concat(parts: list) -> list:
    return list(itertools.chain.from_iterable(parts))


def _rebuild_bag(graph: dict, name: str, npartitions: int) -> Bag:
    return Bag(Persisted(name, npartitions, graph))


def _first(result: Any) -> Any:
    return result


def _rebuild_item(graph: dict, name: str) -> Item:
    return Item(Persisted(name, 1, graph))


def graph_together(collections: list) -> Any:
    """The graph of bags and items computed together, built as one plan so
    their common work runs once (``__shoal_graph_together__``).

    >>> import shoal, shoal.bag as sb
    >>> b = sb.range(5, npartitions=2).map(abs)
    >>> shoal.compute(b.sum(), b.count(), scheduler="sync")
    (10, 5)
    """
    return build_graph(*[c.expr for c in collections])


def value_expr(value: Any) -> BlockExpr | None:
    """The plan node of a function argument computed elsewhere (an ``Item``,
    a ``Delayed``, another collection), or None for a plain value.

    >>> from shoal import delayed
    >>> type(value_expr(delayed(1))).__name__, value_expr(2)
    ('DelayedValue', None)
    """
    from shoal.bag.expr import DelayedValue

    if isinstance(value, Item):
        return value.expr
    if isinstance(value, Delayed):
        return DelayedValue(value)
    if is_collection(value):
        return DelayedValue(delayed(value))
    return None


def _explain(expr: BlockExpr) -> str:
    return "Plan (a (fused) node runs inside its user's tasks):\n" + expr.explain_text(1)


class Bag(CollectionMethods):
    """A lazy, partitioned collection of Python objects.

    Build one with ``from_sequence``, ``range``, ``read_text``, ``from_map`` or
    ``from_delayed``; it computes with the processes scheduler by default.

    >>> import shoal.bag as sb
    >>> b = sb.from_sequence(range(10), npartitions=3)
    >>> b.map(lambda x: x * x).filter(lambda x: x % 2).compute(scheduler="sync")
    [1, 9, 25, 49, 81]
    """

    __slots__ = ("expr",)
    __shoal_scheduler__ = "processes"
    __shoal_graph_together__ = staticmethod(graph_together)

    def __init__(self, expr: BlockExpr):
        if not isinstance(expr, BlockExpr) or len(expr.numblocks) != 1:
            raise TypeError(f"a Bag needs a 1-D plan (a BlockExpr), got {expr!r:.80}")
        self.expr = expr

    @property
    def name(self) -> str:
        """The name of the bag's keys ``(name, i)``."""
        return self.expr._name

    @property
    def npartitions(self) -> int:
        return self.expr.numblocks[0]

    # ------------------------------------------------------------ protocol

    def __shoal_graph__(self) -> Any:
        return build_graph(self.expr)

    def __shoal_keys__(self) -> list:
        return [self.expr.key((i,)) for i in range(self.npartitions)]

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

    def explain(self) -> str:
        """The bag's plan as text, one node per line; a node marked
        ``(fused)`` runs inside its user's tasks (one task per partition for a
        whole chain of per-partition operations).

        >>> import shoal.bag as sb
        >>> print(sb.range(4, npartitions=2).map(abs).filter(bool).explain())
        Plan (a (fused) node runs inside its user's tasks):
          Filter: predicate=bool
            Map: func=abs  (fused)
              Range: range(0, 4), npartitions=2  (fused)
        """
        return _explain(self.expr)

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
        values: list = []
        kw = {k: _slot(v, values) for k, v in kwargs.items()} or None
        return Bag(Starmap(self.expr, func, kw, tuple(values)))

    def filter(self, predicate: Callable) -> Bag:
        """Keep the elements for which ``predicate`` is true.

        >>> import shoal.bag as sb
        >>> sb.range(6, npartitions=2).filter(lambda x: x % 3 == 0).compute(scheduler="sync")
        [0, 3]
        """
        check_callable("Bag.filter", "predicate", predicate)
        return Bag(Filter(self.expr, predicate))

    def remove(self, predicate: Callable) -> Bag:
        """Drop the elements for which ``predicate`` is true.

        >>> import shoal.bag as sb
        >>> sb.range(6, npartitions=2).remove(lambda x: x % 3 == 0).compute(scheduler="sync")
        [1, 2, 4, 5]
        """
        check_callable("Bag.remove", "predicate", predicate)
        return Bag(Filter(self.expr, predicate, keep=False))

    def flatten(self) -> Bag:
        """Concatenate the elements, each itself iterable.

        >>> import shoal.bag as sb
        >>> sb.from_sequence([[1, 2], [], [3]]).flatten().compute(scheduler="sync")
        [1, 2, 3]
        """
        return Bag(Flatten(self.expr))

    def pluck(self, key: Any, default: Any = no_default) -> Bag:
        """``element[key]`` for each element; a list of keys gives tuples.

        >>> import shoal.bag as sb
        >>> b = sb.from_sequence([{"a": 1, "b": 2}, {"a": 3}])
        >>> b.pluck(["a", "b"], default=None).compute(scheduler="sync")
        [(1, 2), (3, None)]
        """
        as_tuple = isinstance(key, list)
        return Bag(Pluck(self.expr, tuple(key) if as_tuple else key, as_tuple, default))

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
        name: builtins.str | None = None,
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

    def _agg(self, name: builtins.str, *args: Any, **kwargs: Any) -> Any:
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
        shuffle: builtins.str | None = None,
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

        if npartitions is not None and partition_size is None:
            return repartition(self, npartitions)
        if partition_size is not None and npartitions is None:
            return repartition_by_size(self, partition_size)
        raise ValueError(
            "repartition: give exactly one of npartitions or partition_size, got "
            f"npartitions={npartitions!r}, partition_size={partition_size!r}"
        )

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
        compression: builtins.str | None = "infer",
        encoding: builtins.str = "utf-8",
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
        from shoal.bag.frames import bag_to_dataframe

        return bag_to_dataframe(self, meta, columns)


class ItemApply(BlockExpr):
    """``func`` of an item's value (``Item.apply``)."""

    item: BlockExpr
    func: Callable

    fusable = True
    numblocks = (1,)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        return Task(self.func, b.input(self, self.item, index))

    @property
    def _prefix(self) -> str:
        return "apply-" + funcname(self.func)

    def _explain_args(self) -> str:
        return f"func={shown_name(self.func)}"


class Item(CollectionMethods):
    """A single lazy value computed from a bag (``b.sum()``, ``b.fold(...)``).

    >>> import shoal.bag as sb
    >>> total = sb.range(4, npartitions=2).sum()
    >>> total.apply(lambda x: x * 10).compute(scheduler="sync")
    60
    """

    __slots__ = ("expr",)
    __shoal_scheduler__ = "processes"
    __shoal_graph_together__ = staticmethod(graph_together)

    def __init__(self, expr: BlockExpr):
        if not isinstance(expr, BlockExpr) or expr.numblocks != (1,):
            raise TypeError(f"an Item needs a plan of one block, got {expr!r:.80}")
        self.expr = expr

    @property
    def key(self) -> Any:
        """The key of the item's value."""
        return self.expr.key((0,))

    def __shoal_graph__(self) -> Any:
        return build_graph(self.expr)

    def __shoal_keys__(self) -> Any:
        return self.key

    def __shoal_postcompute__(self) -> tuple:
        return _first, ()

    def __shoal_postpersist__(self) -> tuple:
        return _rebuild_item, (self.expr._name,)

    def __shoal_tokenize__(self) -> Any:
        return self.expr._name

    def __repr__(self) -> str:
        return f"shoal.bag.Item<{self.expr._name}>"

    def explain(self) -> str:
        """The item's plan as text (see ``Bag.explain``).

        >>> import shoal.bag as sb
        >>> print(sb.range(4, npartitions=2).map(abs).sum(split_every=2).explain())
        Plan (a (fused) node runs inside its user's tasks):
          TreeReduce: sum, split_every=2
            Consume: sum-partial, sum
              Map: func=abs  (fused)
                Range: range(0, 4), npartitions=2  (fused)
        """
        return _explain(self.expr)

    def apply(self, func: Callable) -> Item:
        """An item computed as ``func(value)``.

        >>> import shoal.bag as sb
        >>> sb.range(3).count().apply(str).compute(scheduler="sync")
        '3'
        """
        check_callable("Item.apply", "func", func)
        return Item(ItemApply(self.expr, func))

    def to_delayed(self, optimize_graph: bool = True) -> Delayed:
        """This value as a ``Delayed``.

        >>> import shoal.bag as sb
        >>> sb.range(3).count().to_delayed().compute()
        3
        """
        from shoal.core.fuse import fuse_linear

        graph = self.__shoal_graph__()
        if optimize_graph:
            graph = fuse_linear(graph, [self.key])
        return Delayed(self.key, graph)


# ------------------------------------------------------------------ functions


def _slot(value: Any, values: list) -> Any:
    """``value`` as a task argument: a ``ValueArg`` placeholder (its plan
    appended to ``values``) if it is computed elsewhere, else itself."""
    expr = value_expr(value)
    if expr is None:
        return value
    values.append(expr)
    return ValueArg(len(values) - 1)


def _zipped(where: str, func: Callable, args: tuple, kwargs: dict) -> tuple:
    """``(bags, template, kwtemplate, values)`` of a call over zipped bags:
    each distinct bag once, placeholders in the argument templates."""
    check_callable(where, "func", func)
    bags: list = []
    values: list = []

    def convert(value: Any) -> Any:
        if isinstance(value, Bag):
            for k, b in enumerate(bags):
                if b.name == value.name:
                    return BagArg(k)
            bags.append(value)
            return BagArg(len(bags) - 1)
        return _slot(value, values)

    template = tuple(convert(a) for a in args)
    kwtemplate = {k: convert(v) for k, v in kwargs.items()} or None
    if not bags:
        raise TypeError(f"{where} needs at least one Bag among its arguments")
    n = bags[0].npartitions
    for b in bags[1:]:
        if b.npartitions != n:
            raise ValueError(
                f"{where}: zipped bags must have the same number of partitions, got "
                f"{n} and {b.npartitions}; repartition one of them first"
            )
    return tuple(b.expr for b in bags), template, kwtemplate, tuple(values)


def bag_map(func: Callable, *args: Any, **kwargs: Any) -> Bag:
    """Apply ``func`` element-wise; bags among the arguments are zipped (they
    must have the same partitioning), other values are passed as they are.

    >>> import shoal.bag as sb
    >>> a, b = sb.range(3, npartitions=2), sb.range(10, 13, npartitions=2)
    >>> sb.map(lambda x, y: x * y, a, b).compute(scheduler="sync")
    [0, 11, 24]
    """
    bags, template, kwtemplate, values = _zipped("map", func, args, kwargs)
    return Bag(Map(bags, func, template, kwtemplate, values))


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
    if not isinstance(stream, bool):
        raise TypeError(f"map_partitions: stream must be True or False, got {stream!r}")
    bags, template, kwtemplate, values = _zipped("map_partitions", func, args, kwargs)
    return Bag(MapPartitions(bags, func, template, kwtemplate, values, stream))


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

    __slots__ = ("bag",)
    __shoal_scheduler__ = "processes"
    __shoal_graph_together__ = staticmethod(graph_together)

    def __init__(self, bag: Bag):
        self.bag = bag

    @property
    def expr(self) -> BlockExpr:
        return self.bag.expr

    def __shoal_graph__(self) -> Any:
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
