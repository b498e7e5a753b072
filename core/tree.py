"""Tree reductions, the one way every collection reduces many blocks to few.

A reduction makes a partial result per input block, then merges groups of at
most ``split_every`` partials, round after round, until one group is left for
each output block, which ``aggregate`` turns into that block::

    p0  p1  p2  p3  p4          partials (fused into each block's task)
     \\  |  /    \\  /
     combine    combine         split_every=3
          \\     /
         aggregate              one output block

Only a group's partials are alive at once, so memory stays bounded by the
tree's width. ``split_every`` comes from the call or from one config key per
collection (``array.split-every``, ``dataframe.split-every``,
``bag.split-every``), checked the same way everywhere (``split_every_of``).
Arrays reduce over several axes at once: the rounds and groups below work on
a grid of blocks, with a factor per reduced axis; a 1-D grid is the frame and
bag case, for which ``TreeReduce`` is the plan node.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from shoal.core import config
from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Ref, Task

__all__ = [
    "split_every_of",
    "axis_factors",
    "reduction_rounds",
    "round_group",
    "TreeReduce",
]

config.update_defaults(
    {
        "array": {"split-every": 8},
        "dataframe": {"split-every": 8},
        "bag": {"split-every": 8},
    },
    {
        "array.split-every": "Partial results merged per task in array tree reductions.",
        "dataframe.split-every": "Partial results merged per task in dataframe tree reductions.",
        "bag.split-every": "Partial results merged per task in bag tree reductions.",
    },
)


def _check_fan_in(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValueError(f"{what} must be an integer >= 2, got {value!r}")
    return int(value)


def split_every_of(value: Any, collection: str, axes: tuple[Any, ...] | None = None) -> Any:
    """The fan-in of a tree reduction: ``value``, or config
    ``{collection}.split-every`` when it is None. An integer >= 2; arrays
    (``axes`` given) also take a dict of such integers per reduced axis.

    >>> split_every_of(4, "bag"), split_every_of({1: 2}, "array", axes=(0, 1))
    (4, {1: 2})
    >>> split_every_of(1, "dataframe")
    Traceback (most recent call last):
    ...
    ValueError: split_every must be an integer >= 2, got 1
    """
    if value is None:
        value = config.get(f"{collection}.split-every")
    if isinstance(value, dict):
        if axes is None:
            raise TypeError(f"split_every must be an integer >= 2, got a dict: {value!r}")
        unknown = set(value) - set(axes)
        if unknown:
            raise ValueError(
                f"split_every names axes {sorted(unknown)} that are not reduced (axes {axes})"
            )
        return {a: _check_fan_in(v, f"split_every[{a}]") for a, v in value.items()}
    return _check_fan_in(value, "split_every")


def axis_factors(
    numblocks: tuple[Any, ...], axes: tuple[Any, ...], split_every: Any
) -> dict[Any, Any]:
    """How many blocks each round merges along each reduced axis: a dict is
    taken per axis (2 where absent); an integer is shared between the axes
    that have more than one block.

    >>> axis_factors((8, 8), (0, 1), 16), axis_factors((8, 1), (0, 1), 16)
    ({0: 4, 1: 4}, {0: 16, 1: 16})
    """
    if not axes:
        return {}
    if isinstance(split_every, dict):
        return {a: split_every.get(a, 2) for a in axes}
    busy = [a for a in axes if numblocks[a] > 1] or list(axes)
    per = max(int(round(split_every ** (1 / len(busy)))), 2)
    return dict.fromkeys(axes, per)


def reduction_rounds(
    numblocks: tuple[Any, ...], axes: tuple[Any, ...], factors: dict[Any, Any]
) -> list[tuple[int, ...]]:
    """The grid's numblocks after each round of merging, from the input's to
    one block along every reduced axis.

    >>> reduction_rounds((10,), (0,), {0: 3})
    [(10,), (4,), (2,), (1,)]
    """
    nb = list(numblocks)
    rounds = [tuple(nb)]
    while math.prod(nb[a] for a in axes) > 1:
        nb = [-(-n // factors[a]) if a in axes else n for a, n in enumerate(nb)]
        rounds.append(tuple(nb))
    return rounds


def round_group(
    prev_nb: tuple[Any, ...],
    index: tuple[Any, ...],
    axes: tuple[Any, ...],
    factors: dict[Any, Any],
    whole: bool,
) -> Any:
    """The previous round's block indices merged into block ``index``: a list
    nested one level per reduced axis. ``whole`` takes every block along the
    reduced axes (a reduction done in one round).

    >>> round_group((5,), (1,), (0,), {0: 3}, False)
    [(3,), (4,)]
    """

    def make(axis_pos: int, fixed: tuple[Any, ...]) -> Any:
        if axis_pos == len(axes):
            return fixed
        a = axes[axis_pos]
        start = 0 if whole else index[a] * factors[a]
        stop = min(start + factors[a], prev_nb[a])
        out = []
        for i in range(start, stop):
            new = list(fixed)
            new[a] = i
            out.append(make(axis_pos + 1, tuple(new)))
        return out

    return make(0, tuple(index))


def _pick(pieces: Any, j: int) -> Any:
    return pieces[j]


class TreeReduce(BlockExpr[GraphBuilder]):
    """Reduce the blocks of a 1-D ``parts`` (partials, one per partition) to
    ``split_out`` blocks: ``combine(list, **kwargs)`` per group of
    ``split_every``, ``aggregate(list, **kwargs)`` at the root. With
    ``split_out > 1`` each partial is a sequence of ``split_out`` pieces and
    piece ``j`` of every partial goes to output block ``j``.

    >>> from shoal.core.local import get_sync
    >>> class Parts(BlockExpr):
    ...     values: tuple
    ...     numblocks = property(lambda self: (len(self.values),))
    ...     def _block(self, index, b):
    ...         return self.values[index[0]]
    >>> tree = TreeReduce(Parts(tuple(range(10))), sum, sum, 3, label="total")
    >>> get_sync(tree.__shoal_graph__(), (tree._name, 0))
    45
    """

    parts: BlockExpr[Any]
    combine: Callable[..., Any]
    aggregate: Callable[..., Any]
    split_every: int
    kwargs: dict[Any, Any] | None = None
    label: str = "reduce"
    split_out: int = 1

    @property
    def _prefix(self) -> str:
        return self.label

    @property
    def numblocks(self) -> tuple[Any, ...]:
        return (self.split_out,)

    def _explain_args(self) -> str:
        text = f"{self.label}, split_every={self.split_every}"
        return text + (f", split_out={self.split_out}" if self.split_out > 1 else "")

    def _build_layer(self, b: GraphBuilder) -> dict[Any, Any]:
        n = self.parts.numblocks[0]
        rounds = reduction_rounds((n,), (0,), {0: self.split_every})
        kwargs = self.kwargs or {}
        layer: dict[Any, Any] = {}
        for j in range(self.split_out):
            inputs: list[Any] = [b.ref(self.parts, (i,)) for i in range(n)]
            if self.split_out > 1:
                pick = self.stage_name("split")
                for i, ref in enumerate(inputs):
                    layer[(pick, j, i)] = Task(_pick, ref, j)
                inputs = [Ref((pick, j, i)) for i in range(n)]
            for level in range(1, len(rounds) - 1):
                stage = self.stage_name(f"combine{level}")
                merged = []
                for g in range(rounds[level][0]):
                    group = round_group(rounds[level - 1], (g,), (0,), {0: self.split_every}, False)
                    layer[(stage, j, g)] = Task(
                        self.combine, [inputs[i] for (i,) in group], **kwargs
                    )
                    merged.append(Ref((stage, j, g)))
                inputs = merged
            layer[(self._name, j)] = Task(self.aggregate, inputs, **kwargs)
        return layer
