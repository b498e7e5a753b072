"""Bag plans on the one plan model (``core/expr.py``, ``core/build.py``).

A bag's plan is a tree of ``BlockExpr`` nodes over a 1-D grid of partitions
(``numblocks == (npartitions,)``). Per-partition operations are ``BagExpr``
nodes: ``fusable``, reading partition ``i`` of their input through
``b.input(self, child, (i,))``, so core's ``GraphBuilder`` nests a chain of
them into one task per partition::

    read_text -> map(json.loads) -> filter -> frequencies

    (frequencies-partial, i): run_partition(
        Task(filter, ok, Task(loads_each, Task(read_block_lines, ...))), Counter, ...)
    (frequencies-combine1, 0, g) ... (frequencies, 0)      core.tree.TreeReduce

The rules every bag node keeps:

- an inline block is an *iterable* of the partition's elements, and every
  operation is lazy (builtin ``map``/``filter``, ``itertools``, generators),
  so a partition streams through fused operations; nothing is materialized
  between them, and user code runs only when the partition is consumed;
- a stored block (the node's own key: a root, a bag used twice) runs through
  :func:`run_partition`, which consumes it into a list (or finishes it with a
  function, for reductions, writers and shuffles) and notes the bag and
  partition on any error. As all user code runs there, every error gets the
  note, whichever fused operation raised it;
- equal plans have equal names, so bags computed together
  (``shoal.compute(m.count(), m.sum())``) share their common prefix: the
  builder stores a node with several users once (a list per partition) and
  everyone reads it (``core.build.build_graph`` of several roots).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.delayed import Delayed
from shoal.core.layers import Layer
from shoal.core.task import Ref, Task

__all__ = [
    "BagExpr",
    "PartitionOp",
    "Consume",
    "Persisted",
    "DelayedValue",
    "ValueArg",
    "BagArg",
    "Packed",
    "run_partition",
    "shown_name",
    "fill_values",
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


def shown_name(func: Any) -> str:
    """A function's name as ``explain`` shows it.

    >>> import functools
    >>> shown_name(len), shown_name(functools.partial(max, key=abs))
    ('len', 'partial(max)')
    """
    if isinstance(func, functools.partial):
        return f"partial({shown_name(func.func)})"
    return getattr(func, "__name__", type(func).__name__)


def run_partition(part: Any, finish: Callable | None, name: str, index: int, *args: Any) -> Any:
    """Consume one partition: into a list (``finish`` None: a list is kept as
    it is), or ``finish(part, *args)``. An error gets a note naming the bag
    and the partition.

    >>> run_partition(map(abs, [-1, 2]), None, "b", 0), run_partition([1, 2], sum, "b", 0)
    ([1, 2], 3)
    >>> run_partition(map(int, ["x"]), None, "my-bag", 3)
    Traceback (most recent call last):
    ...
    ValueError: invalid literal for int() with base 10: 'x'
    shoal.bag: raised in partition 3 of bag 'my-bag'
    """
    try:
        if finish is None:
            return part if type(part) is list else list(part)
        return finish(part, *args)
    except Exception as e:
        e.add_note(f"shoal.bag: raised in partition {index} of bag {name!r}")
        raise


class BagExpr(BlockExpr):
    """A node whose blocks are the partitions of a bag (see the module
    docstring): ``_block`` gives an iterable, stored blocks become lists."""

    fusable: ClassVar[bool] = True
    _eager: ClassVar[tuple] = ("numblocks",)

    @functools.cached_property
    def numblocks(self) -> tuple:  # type: ignore[override]
        return self._numblocks()

    def _numblocks(self) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} must define _numblocks")

    @property
    def npartitions(self) -> int:
        return self.numblocks[0]

    def _build_layer(self, b: GraphBuilder) -> Layer | dict:
        """The partitions' tasks; nodes whose keys are in their extra layer return {}."""
        name = self._name
        block = self._block
        nodes = [
            Task(run_partition, block((i,), b), None, name, i) for i in range(self.numblocks[0])
        ]
        return Layer(name, self.numblocks, nodes)


class PartitionOp(BagExpr):
    """A per-partition operation on ``bag``: partition ``i`` from partition
    ``i`` (subclasses may read more bags, one partition each)."""

    bag: BlockExpr

    def _numblocks(self) -> tuple:
        return self.bag.numblocks

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True


class Consume(BlockExpr):
    """Each partition of ``bag`` finished by ``func(partition, *extra[i])``
    (a reduction's partial, a file written, a shuffle's split): one value per
    partition, made in the partition's fused task. ``salt`` tells apart nodes
    that must not be shared (random draws).

    >>> from shoal.bag import range as brange
    >>> c = Consume(brange(5, npartitions=2).expr, sum, "total")
    >>> from shoal.core.local import get_sync
    >>> get_sync(c.__shoal_graph__(), [c.key((0,)), c.key((1,))])
    [3, 7]
    """

    bag: BlockExpr
    func: Callable
    label: str
    extra: tuple = ()
    salt: Any = None

    fusable: ClassVar[bool] = True
    _eager: ClassVar[tuple] = ("numblocks",)

    @functools.cached_property
    def numblocks(self) -> tuple:  # type: ignore[override]
        return self.bag.numblocks

    @property
    def _prefix(self) -> str:
        return self.label

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        i = index[0]
        extra = self.extra[i] if self.extra else ()
        part = b.input(self, self.bag, index)
        return Task(run_partition, part, self.func, self.bag._name, i, *extra)

    def _explain_args(self) -> str:
        return f"{self.label}, {shown_name(self.func)}"


class Persisted(BlockExpr):
    """Partitions whose keys ``(name, i)`` are already in ``graph`` (a
    persisted or optimized bag, or an item with ``npartitions=1``).

    >>> p = Persisted("x", 2, {("x", 0): [1], ("x", 1): [2]})
    >>> dict(p.__shoal_graph__())
    {('x', 0): [1], ('x', 1): [2]}
    """

    name: str
    npartitions: int
    graph: Any

    cost: ClassVar[str] = "free"

    @property
    def _name(self) -> str:  # type: ignore[override]
        return self.name

    @property
    def numblocks(self) -> tuple:  # type: ignore[override]
        return (self.npartitions,)

    def _block(self, index: tuple, b: GraphBuilder) -> Ref:
        return Ref(self.key(index))

    def _build_layer(self, b: GraphBuilder) -> dict:
        return {}  # the keys are in the graph (``_extra_layer``)

    def _extra_layer(self, b: GraphBuilder) -> Any:
        return self.graph

    def _explain_args(self) -> str:
        return f"name={self.name!r}"


class DelayedValue(BlockExpr):
    """One value from outside the bag (a ``Delayed``), used as a function
    argument: its key is the ``Delayed``'s own.

    >>> from shoal import delayed
    >>> v = DelayedValue(delayed(3, name="three"))
    >>> v.key((0,)), dict(v.__shoal_graph__())
    ('three', {'three': 3})
    """

    value: Delayed

    numblocks: ClassVar[tuple] = (1,)

    def key(self, index: tuple) -> Any:
        return self.value.key

    def _block(self, index: tuple, b: GraphBuilder) -> Ref:
        return Ref(self.value.key)

    def _build_layer(self, b: GraphBuilder) -> dict:
        return {}

    def _extra_layer(self, b: GraphBuilder) -> Any:
        return self.value.__shoal_graph__()

    def _explain_args(self) -> str:
        return f"key={self.value.key!r}"


class BagArg:
    """Placeholder, inside a function's arguments, for the element
    (``map``) or the partition (``map_partitions``) of the ``index``-th
    zipped bag.

    >>> BagArg(1) == BagArg(1), BagArg(0)
    (True, BagArg(0))
    """

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __reduce__(self):
        return (BagArg, (self.index,))

    def __repr__(self) -> str:
        return f"BagArg({self.index})"

    def __eq__(self, other: object) -> bool:
        return type(other) is BagArg and other.index == self.index

    def __hash__(self) -> int:
        return hash((BagArg, self.index))

    def __shoal_tokenize__(self) -> Any:
        return ("bag-arg", self.index)


class ValueArg(BagArg):
    """Placeholder for the ``index``-th value computed elsewhere (an
    ``Item``, a ``Delayed``); replaced by a reference when the graph is built.

    >>> ValueArg(0)
    ValueArg(0)
    """

    __slots__ = ()

    def __reduce__(self):
        return (ValueArg, (self.index,))

    def __repr__(self) -> str:
        return f"ValueArg({self.index})"

    def __eq__(self, other: object) -> bool:
        return type(other) is ValueArg and other.index == self.index

    def __hash__(self) -> int:
        return hash((ValueArg, self.index))

    def __shoal_tokenize__(self) -> Any:
        return ("value-arg", self.index)


class Packed:
    """Constant extra arguments of a user function, kept opaque so task
    construction does not scan them for references once per partition.

    >>> Packed((1, 2), {}).args
    (1, 2)
    """

    __slots__ = ("args", "kwargs")

    def __init__(self, args: tuple, kwargs: dict):
        self.args = args
        self.kwargs = kwargs

    def __reduce__(self):
        return (Packed, (self.args, self.kwargs))

    def __repr__(self) -> str:
        return f"Packed({self.args!r}, {self.kwargs!r})"


def unpack(spec: Any) -> tuple[tuple, dict]:
    """``(args, kwargs)`` from a ``Packed`` or a plain ``(args, kwargs)`` pair.

    >>> unpack(Packed((1,), {"k": 2})), unpack([[1], {}])
    (((1,), {'k': 2}), ((1,), {}))
    """
    if type(spec) is Packed:
        return spec.args, spec.kwargs
    return tuple(spec[0]), dict(spec[1])


def fill_values(args: tuple, kwargs: dict | None, values: Sequence, b: GraphBuilder) -> Any:
    """The ``(args, kwargs)`` spec of a task: ``Packed`` when there are no
    values, else with each ``ValueArg(k)`` replaced by a reference to
    ``values[k]``'s block (so the task waits for it)."""
    kwargs = kwargs or {}
    if not values:
        return Packed(args, kwargs)

    def fill(a: Any) -> Any:
        return b.ref(values[a.index], (0,)) if type(a) is ValueArg else a

    return ([fill(a) for a in args], {k: fill(v) for k, v in kwargs.items()})
