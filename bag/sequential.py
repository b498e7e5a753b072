"""Operations whose partitions depend on the partitions before them.

``accumulate`` is a running fold in element order across partitions: each
partition's task starts from the last value of the previous one, so the
partitions run one after another (their upstream chains still in parallel)::

    part 0 -> (list 0, last 0) -> part 1 -> (list 1, last 1) -> part 2 ...
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from shoal.bag.core import Bag
from shoal.bag.expr import PartitionOp, check_callable, no_default, run_partition, shown_name
from shoal.core.build import GraphBuilder
from shoal.core.task import Ref, Task
from shoal.core.utils import funcname

__all__ = ["accumulate", "Accumulate"]


def accumulate_part(part: list, binop: Callable, carry: Any) -> tuple[list, Any]:
    """One partition of a running fold that starts from ``carry`` (the last
    value so far, or ``no_default`` if there is none yet, in which case an
    explicit initial value is the partition's first element).

    >>> accumulate_part([1, 2], max, 5)
    ([5, 5], 5)
    """
    if carry is no_default:
        out = list(itertools.accumulate(part, binop))
    else:
        out = list(itertools.accumulate(part, binop, initial=carry))[1:]
    return out, (out[-1] if out else carry)


def _with_initial(part: Any, initial: Any) -> Any:
    return itertools.chain((initial,), part)


class Accumulate(PartitionOp):
    """The running ``binop`` over ``bag``, partitions in sequence: a step
    key per partition holds ``(partition, last value)``."""

    binop: Callable
    initial: Any = no_default

    fusable = False

    @property
    def _prefix(self) -> str:
        return "accumulate-" + funcname(self.binop)

    def _build_layer(self, b: GraphBuilder) -> dict:
        step = self.stage_name("step")
        layer: dict = {}
        carry: Any = no_default
        for i in range(self.npartitions):
            part = b.input(self, self.bag, (i,))
            if i == 0 and self.initial is not no_default:
                part = Task(_with_initial, part, self.initial)
            layer[(step, i)] = Task(
                run_partition, part, accumulate_part, self.bag._name, i, self.binop, carry
            )
            layer[(self._name, i)] = Task(itemgetter(0), Ref((step, i)))
            carry = Task(itemgetter(1), Ref((step, i)))
        return layer

    def _explain_args(self) -> str:
        return f"binop={shown_name(self.binop)}"


def accumulate(bag: Bag, binop: Callable, initial: Any = no_default) -> Bag:
    """``Bag.accumulate``: the running ``binop`` over all elements; the
    result starts with ``initial`` when it is given.

    >>> import shoal.bag as sb
    >>> accumulate(sb.range(5, npartitions=3), lambda a, b: a + b).compute(scheduler="sync")
    [0, 1, 3, 6, 10]
    """
    check_callable("Bag.accumulate", "binop", binop)
    return Bag(Accumulate(bag.expr, binop, initial))
