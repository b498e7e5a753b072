"""The tasks shuffle of ``Bag.groupby``: elements move through the task graph.

Every element's destination is output partition ``j = stable_hash(key) %
n_out``. With few partitions (``min(n_in, n_out) <= max_branch``) one stage
does it: input ``i`` groups and buckets its elements by ``j``, bucket
``(i, j)`` is a task of its own, output ``j`` merges bucket ``j`` of every
input: ``n_in * n_out`` bucket tasks.

With many partitions on both sides that is too many tasks (10,000 partitions
make 10^8), so the shuffle runs in ``S`` stages of fan-out ``k``, where ``k**S
>= max(n_in, n_out)`` and ``k <= max_branch``. Partition indices are written
in base ``k`` with ``S`` digits; stage ``s`` sends each element to the
partition whose index has its destination's digit ``s`` in place of its own,
so after stage ``s`` the elements of partition ``p`` all have destinations
whose digits ``0..s`` equal those of ``p``, and after the last stage partition
``j`` holds exactly output ``j``. Each stage is one task per partition
(merge what arrived, split by the next digit) and ``k`` bucket tasks per
partition: about ``S * k * N`` tasks in all (10,000 partitions, ``k = 22``,
``S = 3``: 0.7 million) instead of ``N**2``.

    stage 0:  input i    -> group by key, bucket by digit 0 of j   (fused with the bag's chain)
    stage s:  merge k buckets (digit s-1 fixed) -> bucket by digit s
    output j: merge the k last buckets -> [(key, [elements]), ...]

Between stages a partition is ``{j: {key: [elements]}}``, so keys are
hashed once, and merges concatenate in input order: values keep the order
of the input elements, as in the one-stage shuffle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import getitem
from typing import Any

from shoal.bag.shuffle_hash import stable_hash
from shoal.core.task import Ref, Task

__all__ = ["StagePlan", "plan_stages"]


def plan_stages(n_in: int, n_out: int, max_branch: int) -> tuple[int, int]:
    """``(stages, k)``: one stage with ``k = n_out`` when either side has at
    most ``max_branch`` partitions, else the fewest stages whose fan-out ``k
    <= max_branch`` reaches ``max(n_in, n_out)`` (``k**stages >= n``, ``k``
    as small as that allows).

    >>> plan_stages(8, 8, 32), plan_stages(1000, 1000, 32), plan_stages(10_000, 10_000, 32)
    ((1, 8), (2, 32), (3, 22))
    """
    if min(n_in, n_out) <= max_branch:
        return 1, n_out
    n = max(n_in, n_out)
    stages = 1
    while max_branch**stages < n:
        stages += 1
    k = 2
    while k**stages < n:
        k += 1
    return stages, k


def _digit(j: int, stage: int, k: int) -> int:
    return j // k**stage % k


def split_first(it: Iterable, key: Callable, n_out: int, k: int) -> list[dict]:
    """Stage 0: group one input partition by ``key`` and bucket the groups by
    digit 0 of their destination: ``k`` dicts ``{j: {key: [elements]}}``.

    >>> split_first(range(6), lambda x: x % 3, 3, 2)[0] == {0: {0: [0, 3]}, 2: {2: [2, 5]}}
    True
    """
    groups: dict = {}
    for x in it:
        kx = key(x)
        g = groups.get(kx)
        if g is None:
            groups[kx] = [x]
        else:
            g.append(x)
    buckets: list[dict] = [{} for _ in range(k)]
    for kx, values in groups.items():
        j = stable_hash(kx) % n_out
        dest = buckets[j % k].get(j)
        if dest is None:
            buckets[j % k][j] = {kx: values}
        else:
            dest[kx] = values
    return buckets


def _merge(pieces: Iterable[dict]) -> dict:
    """``{j: {key: [elements]}}`` pieces merged in order (lists copied: the
    pieces may be shared with other readers)."""
    out: dict = {}
    for piece in pieces:
        for j, groups in piece.items():
            dest = out.get(j)
            if dest is None:
                out[j] = {kx: list(values) for kx, values in groups.items()}
                continue
            for kx, values in groups.items():
                g = dest.get(kx)
                if g is None:
                    dest[kx] = list(values)
                else:
                    g.extend(values)
    return out


def regroup(pieces: list, stage: int, k: int) -> list[dict]:
    """A middle stage: merge the pieces that arrived, bucket by digit
    ``stage`` of the destination.

    >>> regroup([{1: {"a": [1]}}, {1: {"a": [2]}, 3: {"b": [3]}}], 1, 2)
    [{1: {'a': [1, 2]}}, {3: {'b': [3]}}]
    """
    buckets: list[dict] = [{} for _ in range(k)]
    for j, groups in _merge(pieces).items():
        buckets[_digit(j, stage, k)][j] = groups
    return buckets


def merge_output(pieces: list, j: int) -> list[tuple]:
    """Output partition ``j``: ``(key, [elements])`` pairs.

    >>> merge_output([{0: {"a": [1]}}, {0: {"a": [2], "b": [3]}}], 0)
    [('a', [1, 2]), ('b', [3])]
    """
    return list(_merge(pieces).get(j, {}).items())


class StagePlan:
    """The keys and tasks of a tasks shuffle of ``n_in`` into ``n_out``
    partitions (see the module docstring): ``output(j)`` is output ``j``'s
    task, ``layer(first)`` every stage and bucket task the outputs need,
    ``first(p)`` making stage 0 of input ``p``.

    >>> plan = StagePlan(4, 4, 2, "stage", "bucket")
    >>> (plan.stages, plan.k), len(plan.layer(lambda p: p))
    ((2, 2), 24)
    >>> plan.output(3)
    Task(merge_output, [Ref(('bucket', 1, 1, 1)), Ref(('bucket', 1, 3, 1))], 3)
    """

    def __init__(self, n_in: int, n_out: int, max_branch: int, stage_name: str, piece_name: str):
        self.n_in = n_in
        self.n_out = n_out
        self.stages, self.k = plan_stages(n_in, n_out, max_branch)
        self.stage_name = stage_name
        self.piece_name = piece_name

    def _exists(self, stage: int, p: int) -> bool:
        # some input has the same digits stage.. as p
        step = self.k**stage
        return p // step * step < self.n_in

    def _pieces_for(self, stage: int, p: int) -> list:
        """The bucket keys partition ``p`` receives after stage ``stage``:
        bucket ``p``'s digit of each partition that differs from ``p`` only
        in digit ``stage``."""
        k = self.k
        step = k**stage
        digit = _digit(p, stage, k)
        base = p - digit * step
        return [
            (self.piece_name, stage, base + d * step, digit)
            for d in range(k)
            if self._exists(stage, base + d * step)
        ]

    def _output_pieces(self, j: int) -> list:
        if self.stages == 1:  # k == n_out: every input sends bucket j to output j
            return [(self.piece_name, 0, i, j) for i in range(self.n_in)]
        return self._pieces_for(self.stages - 1, j)

    def output(self, j: int) -> Task:
        """The task of output partition ``j``."""
        return Task(merge_output, [Ref(key) for key in self._output_pieces(j)], j)

    def layer(self, first: Callable[[int], Any]) -> dict:
        """Every stage and bucket task the outputs need."""
        layer: dict = {}
        todo = [key for j in range(self.n_out) for key in self._output_pieces(j)]
        while todo:
            piece = todo.pop()
            if piece in layer:
                continue
            _, stage, q, digit = piece
            node = (self.stage_name, stage, q)
            layer[piece] = Task(getitem, Ref(node), digit)
            if node in layer:
                continue
            if stage == 0:
                layer[node] = first(q)
            else:
                keys = self._pieces_for(stage - 1, q)
                layer[node] = Task(regroup, [Ref(key) for key in keys], stage, self.k)
                todo.extend(keys)
        return layer
