"""Aggregations as tree reductions.

Every aggregation is three functions: ``perpart`` consumes one partition's
iterator (at the end of its chain, in the same task: nothing is
materialized), ``combine`` merges a list of partial results into one, and
``aggregate`` turns the last list of partials into the answer. Partials are
combined ``split_every`` at a time (config ``bag.split-every``), so no task
receives more than that many inputs:

    part 0  part 1  part 2  part 3  part 4
       \\     |     /          \\     /
       combine(0, 0)          combine(0, 1)
                 \\            /
                   aggregate
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any

from shoal.bag.core import Bag, Item
from shoal.bag.expr import Consume, check_callable, no_default
from shoal.core.tree import TreeReduce, split_every_of
from shoal.core.utils import funcname


def tree_reduce(
    bag: Bag,
    perpart: Callable,
    combine: Callable,
    aggregate: Callable,
    split_every: Any,
    prefix: str,
    output_bag: bool = False,
    salt: Any = None,
) -> Any:
    """An ``Item`` (or a one-partition ``Bag`` if ``output_bag``) computed by
    a tree reduction over ``bag`` (see the module docstring): the partials
    are a ``Consume`` node fused with the bag's per-partition operations,
    the tree is core's ``TreeReduce``. ``salt`` keeps otherwise equal
    reductions apart (random draws).

    >>> import shoal.bag as sb
    >>> b = sb.range(10, npartitions=5)
    >>> tree_reduce(b, sum, sum, sum, 2, "total").compute(scheduler="sync")
    45
    """
    every = split_every_of(split_every, "bag")
    parts = Consume(bag.expr, perpart, f"{prefix}-partial", salt=salt)
    tree = TreeReduce(parts, combine, aggregate, every, label=prefix)
    return Bag(tree) if output_bag else Item(tree)


# ------------------------------------------------------------ simple ones


def _count_part(it: Iterable) -> int:
    if type(it) is list:
        return len(it)
    return sum(1 for _ in it)


def count(bag: Bag, split_every: Any = None) -> Item:
    """Number of elements (``Bag.count``).

    >>> import shoal.bag as sb
    >>> count(sb.range(5, npartitions=2)).compute(scheduler="sync")
    5
    """
    return tree_reduce(bag, _count_part, sum, sum, split_every, "count")


def total(bag: Bag, split_every: Any = None) -> Item:
    """Sum of the elements (``Bag.sum``).

    >>> import shoal.bag as sb
    >>> total(sb.range(5, npartitions=2)).compute(scheduler="sync")
    10
    """
    return tree_reduce(bag, sum, sum, sum, split_every, "sum")


def _extreme_part(it: Iterable, func: Callable) -> list:
    missing = object()
    value = func(it, default=missing)
    return [] if value is missing else [value]


def _extreme_combine(parts: list, func: Callable) -> list:
    return _extreme_part(itertools.chain.from_iterable(parts), func)


def _extreme_final(parts: list, func: Callable) -> Any:
    values = list(itertools.chain.from_iterable(parts))
    if not values:
        raise ValueError(f"{func.__name__}() of an empty bag")
    return func(values)


def extreme(bag: Bag, func: Callable, split_every: Any = None) -> Item:
    """``min`` or ``max`` of the elements; an error for an empty bag.

    >>> import shoal.bag as sb
    >>> extreme(sb.from_sequence([4, 9, 2]), max).compute(scheduler="sync")
    9
    """
    return tree_reduce(
        bag,
        functools.partial(_extreme_part, func=func),
        functools.partial(_extreme_combine, func=func),
        functools.partial(_extreme_final, func=func),
        split_every,
        func.__name__,
    )


def truth(bag: Bag, func: Callable, split_every: Any = None) -> Item:
    """``any`` or ``all`` of the elements.

    >>> import shoal.bag as sb
    >>> truth(sb.from_sequence([1, 0]), all).compute(scheduler="sync")
    False
    """
    return tree_reduce(bag, func, func, func, split_every, func.__name__)


# ------------------------------------------------------------- moments


def _moments_part(it: Iterable) -> tuple:
    """``(n, mean, sum of squared deviations)`` by Welford's update."""
    n = 0
    mean = 0.0
    m2 = 0.0
    for x in it:
        n += 1
        d = x - mean
        mean += d / n
        m2 += d * (x - mean)
    return n, mean, m2


def _moments_merge(parts: list) -> tuple:
    """Chan et al.'s pairwise merge of ``(n, mean, m2)`` partials."""
    n, mean, m2 = 0, 0.0, 0.0
    for nb, mb, m2b in parts:
        if not nb:
            continue
        total = n + nb
        d = mb - mean
        mean += d * nb / total
        m2 += m2b + d * d * n * nb / total
        n = total
    return n, mean, m2


def _moments_final(parts: list, stat: str, ddof: int) -> float:
    n, mean, m2 = _moments_merge(parts)
    if stat == "mean":
        if not n:
            raise ValueError("mean() of an empty bag")
        return mean
    if n - ddof <= 0:
        raise ValueError(f"{stat}() needs more than ddof={ddof} elements, the bag has {n}")
    var = m2 / (n - ddof)
    return var if stat == "var" else math.sqrt(var)


def moments(bag: Bag, stat: str, ddof: int = 0, split_every: Any = None) -> Item:
    """``mean``, ``var`` or ``std`` in one streaming pass (Welford per
    partition, Chan's merge across partitions).

    >>> import shoal.bag as sb
    >>> moments(sb.from_sequence([1, 2, 3, 4]), "var", 1).compute(scheduler="sync")
    1.666...
    """
    return tree_reduce(
        bag,
        _moments_part,
        _moments_merge,
        functools.partial(_moments_final, stat=stat, ddof=ddof),
        split_every,
        stat,
    )


# ------------------------------------------------------ bag-valued ones


def key_func(where: str, key: Any) -> Callable:
    """A key given as a function (or None) as it is, an item index as an
    ``itemgetter``.

    >>> key_func("groupby", "a")({"a": 1})
    1
    """
    if key is None or callable(key):
        return key
    if isinstance(key, (str, int, tuple)):
        return itemgetter(key)
    raise TypeError(f"{where}: key must be a function or an item index, got {key!r:.80}")


def _distinct_part(it: Iterable, key: Callable | None) -> dict:
    if key is None:
        return dict.fromkeys(it)
    out: dict = {}
    for x in it:
        k = key(x)
        if k not in out:
            out[k] = x
    return out


def _distinct_combine(parts: list) -> dict:
    out: dict = {}
    for d in parts:
        for k, v in d.items():
            if k not in out:
                out[k] = v
    return out


def _distinct_final(parts: list, by_key: bool) -> list:
    out = _distinct_combine(parts)
    return list(out.values()) if by_key else list(out)


def distinct(bag: Bag, key: Any = None, split_every: Any = None) -> Bag:
    """Distinct elements in order of first appearance (``Bag.distinct``).

    >>> import shoal.bag as sb
    >>> b = sb.from_sequence(["a", "bb", "c"], npartitions=2)
    >>> distinct(b, key=len).compute(scheduler="sync")
    ['a', 'bb']
    """
    key = key_func("distinct", key)
    return tree_reduce(
        bag,
        functools.partial(_distinct_part, key=key),
        _distinct_combine,
        functools.partial(_distinct_final, by_key=key is not None),
        split_every,
        "distinct",
        output_bag=True,
    )


def _add_counts(parts: list) -> dict:
    out = dict(parts[0])
    for d in parts[1:]:
        get = out.get
        for k, v in d.items():
            out[k] = get(k, 0) + v
    return out


def _frequencies_final(parts: list, sort: bool) -> list:
    items = list(_add_counts(parts).items())
    if sort:
        items.sort(key=itemgetter(1), reverse=True)
    return items


def frequencies(bag: Bag, sort: bool = False, split_every: Any = None) -> Bag:
    """``(element, count)`` pairs (``Bag.frequencies``).

    >>> import shoal.bag as sb
    >>> frequencies(sb.from_sequence("aab"), sort=True).compute(scheduler="sync")
    [('a', 2), ('b', 1)]
    """
    return tree_reduce(
        bag,
        Counter,
        _add_counts,
        functools.partial(_frequencies_final, sort=bool(sort)),
        split_every,
        "frequencies",
        output_bag=True,
    )


def _topk_part(it: Iterable, k: int, key: Callable | None) -> list:
    return heapq.nlargest(k, it, key=key)


def _topk_combine(parts: list, k: int, key: Callable | None) -> list:
    return heapq.nlargest(k, itertools.chain.from_iterable(parts), key=key)


def topk(bag: Bag, k: int, key: Any = None, split_every: Any = None) -> Bag:
    """The ``k`` largest elements, largest first (``Bag.topk``).

    >>> import shoal.bag as sb
    >>> topk(sb.from_sequence([(1, "a"), (3, "b")]), 1, key=0).compute(scheduler="sync")
    [(3, 'b')]
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"topk: k must be a non-negative int, got {k!r}")
    key = key_func("topk", key)
    combine = functools.partial(_topk_combine, k=k, key=key)
    return tree_reduce(
        bag,
        functools.partial(_topk_part, k=k, key=key),
        combine,
        combine,
        split_every,
        "topk",
        output_bag=True,
    )


# ---------------------------------------------------------------- folds


def _fold_part(it: Iterable, binop: Callable, initial: Any) -> list:
    return [functools.reduce(binop, it, initial)]


def _fold_reduce(binop: Callable, values: Iterable) -> list:
    it = iter(values)
    for first in it:
        return [functools.reduce(binop, it, first)]
    return []


def _fold_combine(parts: list, combine: Callable) -> list:
    return _fold_reduce(combine, itertools.chain.from_iterable(parts))


def _fold_final(parts: list, combine: Callable) -> Any:
    out = _fold_combine(parts, combine)
    if not out:
        raise TypeError("fold of an empty bag with no initial value")
    return out[0]


def fold(
    bag: Bag,
    binop: Callable,
    combine: Callable | None = None,
    initial: Any = no_default,
    split_every: Any = None,
) -> Item:
    """``Bag.fold``: ``binop`` folds each partition starting from ``initial``
    (if given), ``combine`` (default ``binop``) merges the partial results.

    >>> import shoal.bag as sb
    >>> fold(sb.range(4, npartitions=2), lambda a, x: a + [x], lambda a, b: a + b,
    ...      initial=[]).compute(scheduler="sync")
    [0, 1, 2, 3]
    """
    check_callable("fold", "binop", binop)
    combine = binop if combine is None else combine
    check_callable("fold", "combine", combine)
    part = functools.partial(_fold_part, binop=binop, initial=initial)
    if initial is no_default:
        part = functools.partial(_fold_reduce_part, binop=binop)
    return tree_reduce(
        bag,
        part,
        functools.partial(_fold_combine, combine=combine),
        functools.partial(_fold_final, combine=combine),
        split_every,
        "fold-" + funcname(binop),
    )


def _fold_reduce_part(it: Iterable, binop: Callable) -> list:
    return _fold_reduce(binop, it)


def _foldby_part(it: Iterable, key: Callable, binop: Callable, initial: Any) -> dict:
    out: dict = {}
    if initial is no_default:
        for x in it:
            k = key(x)
            out[k] = binop(out[k], x) if k in out else x
    elif callable(initial):
        for x in it:
            k = key(x)
            out[k] = binop(out[k] if k in out else initial(), x)
    else:
        get = out.get
        for x in it:
            k = key(x)
            out[k] = binop(get(k, initial), x)
    return out


def _foldby_combine(parts: list, combine: Callable) -> dict:
    out = dict(parts[0])
    for d in parts[1:]:
        for k, v in d.items():
            out[k] = combine(out[k], v) if k in out else v
    return out


def _foldby_final(parts: list, combine: Callable, combine_initial: Any) -> list:
    if combine_initial is no_default:
        return list(_foldby_combine(parts, combine).items())
    out: dict = {}
    for d in parts:
        for k, v in d.items():
            if k not in out:
                start = combine_initial() if callable(combine_initial) else combine_initial
                out[k] = combine(start, v)
            else:
                out[k] = combine(out[k], v)
    return list(out.items())


def foldby(
    bag: Bag,
    key: Any,
    binop: Callable,
    initial: Any = no_default,
    combine: Callable | None = None,
    combine_initial: Any = no_default,
    split_every: Any = None,
) -> Bag:
    """``Bag.foldby``: per-key folds without a shuffle. ``combine_initial``
    starts each key's final combine.

    >>> import shoal.bag as sb
    >>> b = sb.from_sequence(["a", "bb", "cc"], npartitions=2)
    >>> sorted(foldby(b, len, lambda n, x: n + 1, 0).compute(scheduler="sync"))
    [(1, 1), (2, 2)]
    """
    key = key_func("foldby", key)
    if key is None:
        raise TypeError("foldby: key must be a function or an item index, got None")
    check_callable("foldby", "binop", binop)
    combine = binop if combine is None else combine
    check_callable("foldby", "combine", combine)
    part = functools.partial(_foldby_part, key=key, binop=binop, initial=initial)
    return tree_reduce(
        bag,
        part,
        functools.partial(_foldby_combine, combine=combine),
        functools.partial(_foldby_final, combine=combine, combine_initial=combine_initial),
        split_every,
        "foldby",
        output_bag=True,
    )


# ------------------------------------------------------------ user-defined


def _list_then(it: Iterable, func: Callable) -> Any:
    # always a new list: a stored partition is shared with its other readers
    return func(list(it))


def _aggregate_to_list(parts: list, aggregate: Callable) -> list:
    out = aggregate(parts)
    try:
        return list(out)
    except TypeError:
        raise TypeError(
            f"reduction(out_type=Bag): aggregate returned {type(out).__name__}, expected an "
            "iterable (the elements of the one-partition result bag)"
        ) from None


def user_reduction(
    bag: Bag,
    perpartition: Callable,
    aggregate: Callable,
    split_every: Any,
    combine: Callable | None,
    out_type: type | None,
    name: str | None,
) -> Any:
    """``Bag.reduction``: ``perpartition`` gets each partition as a list.

    >>> import shoal.bag as sb
    >>> user_reduction(sb.range(4, npartitions=2), len, sum, None, None, None, None).compute(
    ...     scheduler="sync")
    4
    """
    check_callable("reduction", "perpartition", perpartition)
    check_callable("reduction", "aggregate", aggregate)
    combine = aggregate if combine is None else combine
    check_callable("reduction", "combine", combine)
    if out_type not in (None, Item, Bag):
        raise TypeError(f"reduction: out_type must be Item or Bag, got {out_type!r}")
    prefix = name or f"reduction-{funcname(perpartition)}"
    part = functools.partial(_list_then, func=perpartition)
    if out_type is Bag:
        final = functools.partial(_aggregate_to_list, aggregate=aggregate)
        return tree_reduce(bag, part, combine, final, split_every, prefix, output_bag=True)
    return tree_reduce(bag, part, combine, aggregate, split_every, prefix)
