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

import functools
from collections.abc import Callable, Iterable
from operator import getitem
from typing import Any

from shoal.bag.shuffle_hash import stable_hash
from shoal.core.task import Ref, Task

__all__ = ["tasks_shuffle_layer", "plan_stages"]


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


def tasks_shuffle_layer(
    bag: Any, key: Callable, n_out: int, max_branch: int, tok: str
) -> tuple[dict, list]:
    """The graph of a tasks shuffle of ``bag`` into ``n_out`` partitions:
    ``(layer, outputs)``, ``outputs[j]`` the node of output partition ``j``
    (see the module docstring).

    >>> import shoal.bag as sb
    >>> layer, outs = tasks_shuffle_layer(sb.range(4, npartitions=4), abs, 4, 2, "t")
    >>> len(outs), len(layer)
    (4, 24)
    """
    n_in = bag.npartitions
    stages, k = plan_stages(n_in, n_out, max_branch)
    stage_name, piece_name = f"groupby-stage-{tok}", f"groupby-bucket-{tok}"
    layer: dict = {}
    first = functools.partial(split_first, key=key, n_out=n_out, k=k)

    def exists(stage: int, p: int) -> bool:
        # some input has the same digits stage.. as p
        return p // k**stage * k**stage < n_in

    def stage_node(stage: int, p: int) -> Any:
        name = (stage_name, stage, p)
        if name not in layer:
            if stage == 0:
                layer[name] = bag.part_node(p, first)
            else:
                layer[name] = Task(regroup, pieces_for(stage - 1, p), stage, k)
        return name

    def piece(stage: int, q: int, digit: int) -> Ref:
        name = (piece_name, stage, q, digit)
        if name not in layer:
            layer[name] = Task(getitem, Ref(stage_node(stage, q)), digit)
        return Ref(name)

    def pieces_for(stage: int, p: int) -> list:
        # the partitions that differ from p in digit `stage` send their bucket p's digit
        step = k**stage
        base = p - _digit(p, stage, k) * step
        digit = _digit(p, stage, k)
        return [
            piece(stage, base + d * step, digit) for d in range(k) if exists(stage, base + d * step)
        ]

    if stages == 1:  # k == n_out: every input sends bucket j to output j
        return layer, [
            Task(merge_output, [piece(0, i, j) for i in range(n_in)], j) for j in range(n_out)
        ]
    outputs = [Task(merge_output, pieces_for(stages - 1, j), j) for j in range(n_out)]
    return layer, outputs
