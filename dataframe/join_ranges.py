"""Joins of frames whose keys hold known ranges per partition: no shuffle.

Tables written in key order (TPC-H's ``orders`` and ``lineitem`` both in
order-key order) tell from their parquet statistics which range of the key
each partition holds (``sorted_ranges.py``). A row can only match rows of
the other side whose partition's range covers its key, so partition ``i``
of the *driving* side is joined with the few partitions of the other side
whose ranges overlap its own, concatenated; nothing is shuffled and each
task holds one driving partition and one or two of the other::

    driving   [1, 40] [41, 90] [91, 130]       output partition i:
    other     [1, 60] [61, 130]                driving i ⋈ overlapping others
    overlaps   (0,)   (0, 1)    (1,)

Both sides must be in order: their partitions' minima and maxima never
decrease (a key may span two neighbours, as when a file ends inside an
order's lines), so each partition meets a run of the other side's, and
the overlaps must be as few as between two sides cut apart: ``n_driving +
n_other - 1``, plus one per pair of neighbours that share a key (ranges that
each span most of the keys would make every task read most of the other
side). The driving side is the one
whose unmatched rows are kept (``left`` for ``left``, ``leftsemi``,
``leftanti``; ``right`` for ``right``), or for ``inner`` the side with more
partitions; ``outer`` never joins this way (the other side's unmatched rows
would be lost). Only the first key pair is used: rows that match on every
key match on the first. Categorical keys are left out (their bounds are
not those of the values pandas compares).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

import pandas as pd

from shoal.dataframe.expr import FrameExpr
from shoal.dataframe.join_sides import KEPT_SIDES
from shoal.dataframe.sorted_ranges import column_bounds

__all__ = ["range_overlaps", "meeting_partitions", "plan_range_join"]


def range_overlaps(drive: list[tuple], other: list[tuple]) -> tuple | None:
    """For each ``(lo, hi)`` of ``drive``, the indices of the ranges of
    ``other`` (minima and maxima never decreasing) that overlap it; None when the bounds
    of the two sides do not compare (a date with a string, say).

    >>> range_overlaps([(1, 40), (41, 90), (91, 130)], [(1, 60), (61, 130)])
    ((0,), (0, 1), (1,))
    >>> range_overlaps([(5, 9)], [(1, 2), (20, 30)])
    ((),)
    """
    los = [lo for lo, _ in other]
    his = [hi for _, hi in other]
    out = []
    try:
        for lo, hi in drive:
            start = bisect_left(his, lo)  # the first range that ends at or after lo
            stop = bisect_right(los, hi)  # past the last range that starts at or before hi
            out.append(tuple(range(start, max(start, stop))))
    except TypeError:
        return None
    return tuple(out)


def _bounds(frame: FrameExpr, key: str) -> list[tuple] | None:
    """The per-partition bounds of ``key`` (a column, or a Series' name) when
    the minima and the maxima both never decrease from one partition to the
    next, else None."""
    meta = frame._meta
    dtype = meta[key].dtype if isinstance(meta, pd.DataFrame) else meta.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return None
    bounds = column_bounds(frame, key)
    if bounds is None:
        return None
    try:
        for (lo, hi), (next_lo, next_hi) in zip(bounds, bounds[1:]):
            if next_lo < lo or next_hi < hi:
                return None
    except TypeError:
        return None
    return bounds


def _touching(bounds: list[tuple]) -> int:
    """How many neighbours share a key (one's maximum is the next one's minimum)."""
    return sum(hi == next_lo for (_, hi), (next_lo, _) in zip(bounds, bounds[1:]))


def meeting_partitions(
    drive: FrameExpr, drive_key: Any, other: FrameExpr, other_key: Any
) -> tuple | None:
    """For each partition of ``drive``, the partitions of ``other`` whose
    ranges of ``other_key`` overlap its range of ``drive_key`` (module
    docstring); None when a side has one partition, unknown ranges or ranges
    out of order, or when the overlaps are more than between sides cut apart.

    >>> import shoal.dataframe as sd
    >>> pd.DataFrame({"k": [1, 2]}).to_parquet("memory://doc-mp/0.parquet")
    >>> pd.DataFrame({"k": [3, 9]}).to_parquet("memory://doc-mp/1.parquet")
    >>> both = sd.read_parquet("memory://doc-mp/", blocksize=1).expr
    >>> meeting_partitions(both, "k", both, "k")
    ((0,), (1,))
    """
    if 1 in (drive.npartitions, other.npartitions):
        return None  # one partition: a broadcast (built once) or a single task
    other_bounds = _bounds(other, other_key)
    drive_bounds = None if other_bounds is None else _bounds(drive, drive_key)
    if drive_bounds is None or other_bounds is None:
        return None
    overlaps = range_overlaps(drive_bounds, other_bounds)
    if overlaps is None:
        return None
    # sides cut apart: each neighbour pair of either side adds one overlap at most
    limit = len(drive_bounds) + len(other_bounds) - 1
    limit += _touching(drive_bounds) + _touching(other_bounds)
    return overlaps if sum(map(len, overlaps)) <= limit else None


def plan_range_join(
    left: FrameExpr, right: FrameExpr, how: str, left_keys: Any, right_keys: Any
) -> tuple[str, tuple] | None:
    """``(driving side, overlaps)`` of a range join of ``left`` and
    ``right`` (module docstring; ``meeting_partitions``), or None.

    >>> import shoal.dataframe as sd
    >>> pd.DataFrame({"k": [1, 2], "a": [1, 2]}).to_parquet("memory://doc-rj/l/0.parquet")
    >>> pd.DataFrame({"k": [3, 9], "a": [3, 4]}).to_parquet("memory://doc-rj/l/1.parquet")
    >>> pd.DataFrame({"k": [2, 3], "b": [5, 6]}).to_parquet("memory://doc-rj/r/0.parquet")
    >>> pd.DataFrame({"k": [8, 9], "b": [7, 8]}).to_parquet("memory://doc-rj/r/1.parquet")
    >>> left = sd.read_parquet("memory://doc-rj/l/", blocksize=1).expr
    >>> right = sd.read_parquet("memory://doc-rj/r/", blocksize=1).expr
    >>> plan_range_join(left, right, "left", ("k",), ("k",))
    ('left', ((0,), (0, 1)))
    """
    if left_keys is None or right_keys is None:
        return None
    sides = {"left": (left, left_keys[0]), "right": (right, right_keys[0])}
    drivers = list(KEPT_SIDES[how])
    if len(drivers) == 2 and right.npartitions > left.npartitions:
        drivers.reverse()
    for name in drivers:
        other = sides["right" if name == "left" else "left"]
        overlaps = meeting_partitions(*sides[name], *other)
        if overlaps is not None:
            return name, overlaps
    return None
