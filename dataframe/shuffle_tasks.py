"""The ``tasks`` shuffle: rows exchanged between partitions inside the task
graph, in memory, in stages whose fan-out is at most ``max_branch``.

With ``N = max(input, output partitions)`` at most ``max_branch``, one stage:
each input partition is split by target into pieces and output ``j``
concatenates piece ``j`` of every split (``N * N`` links). Beyond that the
partitions are numbered in base ``b`` (``b ** stages >= N``) and stage ``t``
exchanges rows only between partitions that differ in digit ``t`` of their
number, moving each row to the partition whose digit ``t`` matches its
target's; after the last stage every row sits at its target::

    stage 0: split by digit 0         inputs 0 1 2 3       (b = 2, 4 partitions)
             exchange within {0,1} {2,3}     \\/   \\/
    stage 1: split by digit 1                 /\\   /\\
             exchange within {0,2} {1,3}    outputs 0 1 2 3

so each task splits into or gathers from at most ``b`` pieces and the graph
has ``N * b * stages`` links instead of ``N * N``. Pieces are gathered in
input order, so rows keep their input order within every output (a stable
shuffle: sorts rely on it). Each row's target is computed once and carried
with it between stages.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Ref, Task
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.shuffle import ShuffledRows, _describe

__all__ = ["TaskShuffle", "stage_plan", "split_by_target"]


def stage_plan(n: int, max_branch: int) -> tuple[int, int]:
    """``(stages, branch)`` for ``n`` partitions: ``branch ** stages >= n``
    with ``branch <= max_branch``.

    >>> stage_plan(10, 32), stage_plan(1000, 32), stage_plan(33, 32)
    ((1, 10), (2, 32), (2, 6))
    """
    if n <= max_branch:
        return 1, max(n, 1)
    stages = math.ceil(math.log(n) / math.log(max_branch))
    while max_branch**stages < n:
        stages += 1
    branch = max(2, math.ceil(n ** (1 / stages)))
    while branch**stages < n:
        branch += 1
    return stages, branch


def split_by_target(frame: Any, targets: np.ndarray, stride: int, branch: int) -> list:
    """``frame`` cut into ``branch`` pieces by digit ``(target // stride) %
    branch``, each piece ``(rows, their targets)`` in input order.

    >>> import pandas as pd
    >>> pieces = split_by_target(pd.Series([10, 11, 12]), np.array([1, 0, 1]), 1, 2)
    >>> [p[0].tolist() for p in pieces]
    [[11], [10, 12]]
    """
    digit = targets if stride == 1 else targets // stride
    if branch > 1:
        digit = digit % branch
    else:
        digit = np.zeros(len(targets), dtype=np.intp)
    counts = np.bincount(digit, minlength=branch)
    if (counts == len(targets)).any():  # everything goes one way: no copy
        d = int(np.argmax(counts))
        empty = (frame.iloc[:0], targets[:0])
        return [(frame, targets) if j == d else empty for j in range(branch)]
    # small unsigned digits sort by radix (numpy's stable sort of 8/16-bit ints)
    small = np.uint8 if branch <= 2**8 else np.uint16 if branch <= 2**16 else digit.dtype
    order = np.argsort(digit.astype(small, copy=False), kind="stable")
    frame = frame.take(order)
    targets = targets[order]
    edges = np.concatenate([[0], np.cumsum(counts)])
    return [
        (frame.iloc[edges[j] : edges[j + 1]], targets[edges[j] : edges[j + 1]])
        for j in range(branch)
    ]


def shuffle_split_input(part: Any, i: int, assign: Callable, kwargs: dict, branch: int) -> list:
    """The first stage: targets of one input partition, split by digit 0."""
    targets = np.asarray(assign(part, i, **kwargs), dtype=np.intp)
    return split_by_target(part, targets, 1, branch)


def _gather(splits: list, d: int, meta: Any) -> tuple:
    pieces = [s[d] for s in splits]
    if not pieces:
        return meta, np.zeros(0, dtype=np.intp)
    frame = concat_frames([p[0] for p in pieces])
    targets = np.concatenate([p[1] for p in pieces])
    return frame, targets


def shuffle_split_gathered(splits: list, d: int, stride: int, branch: int, meta: Any) -> list:
    """A middle stage: piece ``d`` of each member's split, together, split
    by the next digit."""
    frame, targets = _gather(splits, d, meta)
    return split_by_target(frame, targets, stride, branch)


def shuffle_gather(splits: list, d: int, meta: Any) -> Any:
    """The last stage: piece ``d`` of each member's split, together."""
    return _gather(splits, d, meta)[0]


class TaskShuffle(ShuffledRows):
    """The tasks method of ``Shuffle`` (module docstring). Output partitions
    are per-partition tasks (``fusable``): work after the shuffle on each
    partition runs in the gathering task.

    >>> import pandas as pd
    >>> from shoal.core.local import get_sync
    >>> from shoal.dataframe.expr import FromPandas
    >>> from shoal.dataframe.shuffle import hash_targets
    >>> e = TaskShuffle(FromPandas.of(pd.DataFrame({"a": range(8)}), 4), hash_targets,
    ...                 {"on": ("a",), "k": 3}, 3, ("a",), 2)
    >>> sorted(pd.concat(get_sync(e.__shoal_graph__(), [(e._name, j) for j in range(3)])).a)
    [0, 1, 2, 3, 4, 5, 6, 7]
    """

    max_branch: int

    fusable: ClassVar[bool] = True

    def _explain_args(self) -> str:
        stages, branch = self._stages
        return (
            _describe(self.assign, self.kwargs, self.npartitions_out)
            + f", stages={stages}, branch={branch}"
        )

    @functools.cached_property
    def _stages(self) -> tuple[int, int]:
        n = max(self.frame.npartitions, self.npartitions_out)
        return stage_plan(n, self.max_branch)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True  # each input partition is split by one task

    def _members(self, q: int, stage: int, present: int) -> list:
        """The partitions of the previous stage that send rows to ``q`` in
        the exchange of digit ``stage``, in input order."""
        _, branch = self._stages
        stride = branch**stage
        digit = (q // stride) % branch
        base = q - digit * stride
        return [m for m in (base + d * stride for d in range(branch)) if m < present]

    def _extra_layer(self, b: GraphBuilder) -> dict:
        stages, branch = self._stages
        n = self.frame.npartitions
        size = branch**stages
        meta = self._meta
        layer: dict = {}
        first = self.stage_name("split-0")
        for p in range(n):
            layer[(first, p)] = Task(
                shuffle_split_input,
                b.input(self, self.frame, (p,)),
                p,
                self.assign,
                self.kwargs,
                branch,
            )
        present = n
        for t in range(1, stages):
            prev, name = self.stage_name(f"split-{t - 1}"), self.stage_name(f"split-{t}")
            stride = branch ** (t - 1)
            for q in range(size):
                members = self._members(q, t - 1, present)
                layer[(name, q)] = Task(
                    shuffle_split_gathered,
                    [Ref((prev, m)) for m in members],
                    (q // stride) % branch,
                    branch**t,
                    branch,
                    meta,
                )
            present = size
        return layer

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        j = index[0]
        stages, branch = self._stages
        last = self.stage_name(f"split-{stages - 1}")
        present = self.frame.npartitions if stages == 1 else branch**stages
        members = self._members(j, stages - 1, present)
        stride = branch ** (stages - 1)
        return Task(
            shuffle_gather,
            [Ref((last, m)) for m in members],
            (j // stride) % branch,
            self._meta,
        )
