"""``map_overlap``: a function over each partition with rows borrowed from
its neighbours, then trimmed back. ``before``/``after`` are row counts, or
time spans (``pd.Timedelta``) over a datetime index with known divisions:
then every row within that span of the partition's index range is borrowed.

The rows before partition ``i`` come from a chain of small tasks
``before_i = tail(concat(before_{i-1}, partition_{i-1}), n)``, so they are
right even when neighbouring partitions are shorter than the window or
empty; the rows after come from the mirror chain of heads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

from shoal.core.build import GraphBuilder
from shoal.core.task import Ref, Task
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import FrameExpr

__all__ = ["apply_overlap"]


def _tail(prev, part, n):
    both = part if prev is None else concat_frames([prev, part])
    return both.iloc[max(len(both) - n, 0) :] if n else both.iloc[:0]


def _head(part, nxt, n):
    both = part if nxt is None else concat_frames([part, nxt])
    return both.iloc[:n]


def _tail_since(prev, part, start):
    both = part if prev is None else concat_frames([prev, part])
    return both[both.index >= start]


def _head_until(part, nxt, stop):
    both = part if nxt is None else concat_frames([part, nxt])
    return both[both.index <= stop]


def apply_overlap(before, part, after, func, args, kwargs):
    """``func`` over ``before + part + after``, trimmed to ``part``'s rows.

    >>> import pandas as pd
    >>> s = pd.Series([3, 4])
    >>> apply_overlap(pd.Series([1, 2]), s, None, lambda x: x.cumsum(), (), {}).tolist()
    [6, 10]
    """
    pieces = [p for p in (before, part, after) if p is not None]
    both = concat_frames(pieces)
    out = func(both, *args, **kwargs)
    start = 0 if before is None else len(before)
    stop = len(out) - (0 if after is None else len(after))
    return out.iloc[start:stop]


class MapOverlap(FrameExpr):
    """``func`` applied with ``before``/``after`` neighbouring rows."""

    frame: FrameExpr
    func: Callable
    before: Any
    after: Any
    args: tuple
    kwargs: dict
    meta: Any

    _explain_params: ClassVar[tuple[str, ...]] = ("before", "after")

    @functools.cached_property
    def _meta(self):
        return self.meta

    @functools.cached_property
    def divisions(self):
        return self.frame.divisions

    def _build_layer(self, b: GraphBuilder) -> dict:
        tails, heads = self.stage_name("before"), self.stage_name("after")
        n = self.frame.npartitions
        parts = [b.ref(self.frame, (i,)) for i in range(n)]
        by_time = not isinstance(self.before, int)
        div = self.frame.divisions
        layer: dict = {}
        for i in range(1, n):
            prev = Ref((tails, i - 1)) if i > 1 else None
            if by_time:  # rows within `before` of the partition's first possible label
                layer[(tails, i)] = Task(_tail_since, prev, parts[i - 1], div[i] - self.before)
            else:
                layer[(tails, i)] = Task(_tail, prev, parts[i - 1], self.before)
        for i in range(n - 2, -1, -1):
            nxt = Ref((heads, i + 1)) if i < n - 2 else None
            if by_time:
                layer[(heads, i)] = Task(_head_until, parts[i + 1], nxt, div[i + 1] + self.after)
            else:
                layer[(heads, i)] = Task(_head, parts[i + 1], nxt, self.after)
        for i in range(n):
            before = Ref((tails, i)) if i > 0 and self.before else None
            after = Ref((heads, i)) if i < n - 1 and self.after else None
            layer[self.key((i,))] = Task(
                apply_overlap, before, parts[i], after, self.func, self.args, self.kwargs
            )
        return layer
