"""Getting values out of a bag: ``take`` and ``to_delayed``.

(``compute`` is the collection protocol; ``to_textfiles`` is in ``text``,
``to_dataframe`` in ``frames``.)
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Iterable
from typing import Any

from shoal.bag.core import Bag
from shoal.bag.expr import Consume
from shoal.core.delayed import Delayed
from shoal.core.fuse import fuse_linear

__all__ = ["take", "to_delayed"]


def _take_list(it: Iterable, n: int) -> list:
    return list(itertools.islice(it, n))


def _first_partitions(bag: Bag, n: int) -> Bag:
    """The first ``n`` partitions of ``bag``."""
    from shoal.bag.combine import Recut

    if n == bag.npartitions:
        return bag
    pieces = tuple(((i, None),) for i in range(n))
    return Bag(Recut(bag.expr, pieces, (None,) * bag.npartitions))


def take(
    bag: Bag, k: int, npartitions: int = 1, compute: bool = True, warn: bool = True, **kwargs: Any
) -> Any:
    """``Bag.take``: the first ``k`` elements of the first ``npartitions``
    partitions; each partition stops once it has produced ``k`` elements.

    >>> import shoal.bag as sb
    >>> take(sb.range(10, npartitions=5), 3, npartitions=2, scheduler="sync")
    (0, 1, 2)
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"take: k must be a non-negative int, got {k!r}")
    n = bag.npartitions if npartitions == -1 else npartitions
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= bag.npartitions:
        raise ValueError(
            f"take: npartitions must be -1 or between 1 and {bag.npartitions} (the bag's "
            f"partitions), got {npartitions!r}"
        )
    head = _first_partitions(bag, n)
    out = Bag(Consume(head.expr, functools.partial(_take_list, n=k), "take"))
    if not compute:
        return out
    elements = out.compute(**kwargs)[:k]
    if warn and len(elements) < k:
        warnings.warn(
            f"take: asked for {k} elements but the first {n} partition(s) hold only "
            f"{len(elements)}; pass npartitions=-1 to look in all of them",
            stacklevel=3,
        )
    return tuple(elements)


def to_delayed(bag: Bag, optimize_graph: bool = True) -> list[Delayed]:
    """``Bag.to_delayed``: one ``Delayed`` per partition, sharing one graph.

    >>> import shoal.bag as sb
    >>> len(to_delayed(sb.range(6, npartitions=3)))
    3
    """
    keys = bag.__shoal_keys__()
    graph = bag.__shoal_graph__()
    if optimize_graph:
        graph = fuse_linear(graph, keys)
    return [Delayed(k, graph) for k in keys]
