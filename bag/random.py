"""Random samples of a bag's elements: ``sample`` (without replacement) and
``choices`` (with replacement), each in one pass over the partitions.

Each partition keeps a uniform sample of at most ``k`` of its elements
(reservoir sampling) and its size; partials merge by drawing from each side
in proportion to the number of elements it stands for, so the result is
uniform over the whole bag.
"""

from __future__ import annotations

import functools
import random as _random
from collections.abc import Iterable
from typing import Any

from shoal.bag.core import Bag
from shoal.bag.reductions import tree_reduce

__all__ = ["sample", "choices"]


def _reservoir(it: Iterable, k: int) -> tuple[list, int]:
    """A uniform sample of at most ``k`` elements of ``it``, and its length."""
    rng = _random.Random()
    res: list = []
    n = 0
    for n, x in enumerate(it, 1):
        if n <= k:
            res.append(x)
        else:
            j = rng.randrange(n)
            if j < k:
                res[j] = x
    return res, n


def _pick(rng: _random.Random, weights: list[int]) -> int:
    """An index drawn with probability proportional to ``weights``."""
    r = rng.randrange(sum(weights))
    for i, w in enumerate(weights):
        if r < w:
            return i
        r -= w
    raise AssertionError("unreachable: r < sum(weights)")


def _merge_samples(parts: list, k: int) -> tuple[list, int]:
    rng = _random.Random()
    pools = [(list(s), n) for s, n in parts]
    total = sum(n for _, n in pools)
    remaining = [n for _, n in pools]
    out: list = []
    for _ in range(min(k, total)):
        i = _pick(rng, remaining)
        sample, _ = pools[i]
        out.append(sample.pop(rng.randrange(len(sample))))
        remaining[i] -= 1
    return out, total


def _sample_final(parts: list, k: int) -> list:
    out, total = _merge_samples(parts, k)
    if k > total:
        raise ValueError(f"random.sample: sample of {k} is larger than the bag ({total} elements)")
    return out


def sample(bag: Bag, k: int, split_every: int | None = None) -> Bag:
    """``k`` distinct elements (by position) drawn uniformly without
    replacement, in one partition.

    >>> import shoal.bag as sb
    >>> s = sample(sb.range(100, npartitions=4), 5).compute(scheduler="sync")
    >>> len(set(s)), all(0 <= x < 100 for x in s)
    (5, True)
    """
    _check_k("sample", k)
    return tree_reduce(
        bag,
        functools.partial(_reservoir, k=k),
        functools.partial(_merge_samples, k=k),
        functools.partial(_sample_final, k=k),
        split_every,
        "random-sample",
        output_bag=True,
        salt=_random.random(),
    )


def _choices_part(it: Iterable, k: int) -> tuple[list, int]:
    items = it if type(it) is list else list(it)
    if not items:
        return [], 0
    return _random.Random().choices(items, k=k), len(items)


def _merge_choices(parts: list, k: int) -> tuple[list, int]:
    live = [(s, n) for s, n in parts if n]
    total = sum(n for _, n in live)
    if not live:
        return [], 0
    rng = _random.Random()
    picks = rng.choices(range(len(live)), weights=[n for _, n in live], k=k)
    used = [0] * len(live)
    out = []
    for i in picks:
        out.append(live[i][0][used[i]])
        used[i] += 1
    return out, total


def _choices_final(parts: list, k: int) -> list:
    out, total = _merge_choices(parts, k)
    if not total and k:
        raise ValueError("random.choices: cannot choose from an empty bag")
    return out


def choices(bag: Bag, k: int = 1, split_every: int | None = None) -> Bag:
    """``k`` elements drawn uniformly with replacement, in one partition.

    >>> import shoal.bag as sb
    >>> c = choices(sb.from_sequence("ab", npartitions=2), k=10).compute(scheduler="sync")
    >>> len(c), set(c) <= {"a", "b"}
    (10, True)
    """
    _check_k("choices", k)
    return tree_reduce(
        bag,
        functools.partial(_choices_part, k=k),
        functools.partial(_merge_choices, k=k),
        functools.partial(_choices_final, k=k),
        split_every,
        "random-choices",
        output_bag=True,
        salt=_random.random(),
    )


def _check_k(where: str, k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"random.{where}: k must be a non-negative int, got {k!r}")
