"""Repartitioning: by number of partitions, by divisions, by size.

Every output takes its inputs as stored partitions (``b.ref``: made in
parallel, each possibly used by several outputs); an output's own task may
nest into a per-partition user. Partitions are put together with the one
category-preserving concatenation (``concat.py``).

- Fewer partitions: runs of neighbours are concatenated (divisions stay
  known, as a subset of the old ones). More partitions: each partition is
  cut by position into near-equal pieces; the new divisions are unknown
  because the cut points depend on the data.
- New divisions: each output gathers the rows of the overlapping inputs that
  fall in its index range (this is also how collections with different
  divisions are aligned for elementwise operations).
- A target size: large partitions are cut, small neighbours combined, from
  sizes measured by a first computation.
"""

from __future__ import annotations

import functools
from typing import ClassVar

from shoal.core.build import GraphBuilder
from shoal.core.task import Task
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import FrameExpr

__all__ = ["repartition_npartitions", "repartition_divisions", "repartition_size"]


def _piece(part, k, n):
    size = len(part)
    return part.iloc[size * k // n : size * (k + 1) // n]


class CombinePartitions(FrameExpr):
    """Concatenate runs of neighbouring partitions: ``bounds`` are the
    starting input partition of each output, plus the end. The inputs are
    stored (made in parallel), not nested into the concatenating task."""

    frame: FrameExpr
    bounds: tuple

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("npartitions",)

    @functools.cached_property
    def _meta(self):
        return self.frame._meta

    @functools.cached_property
    def divisions(self):
        d = self.frame.divisions
        return tuple(d[b] for b in self.bounds)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        lo, hi = self.bounds[index[0]], self.bounds[index[0] + 1]
        return Task(concat_frames, [b.ref(self.frame, (j,)) for j in range(lo, hi)])

    def _needed_columns(self, needed):
        return [(self.frame, needed)]


class SplitPartitions(FrameExpr):
    """Cut every input partition by position into ``counts[j]`` pieces."""

    frame: FrameExpr
    counts: tuple

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("npartitions",)

    @functools.cached_property
    def _meta(self):
        return self.frame._meta

    @functools.cached_property
    def divisions(self):
        return (None,) * (sum(self.counts) + 1)

    @functools.cached_property
    def _sources(self) -> list:
        """For each output: ``(input partition, piece, pieces)``."""
        return [(j, k, count) for j, count in enumerate(self.counts) for k in range(count)]

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        j, k, count = self._sources[index[0]]
        return Task(_piece, b.ref(self.frame, (j,)), k, count)

    def _needed_columns(self, needed):
        return [(self.frame, needed)]


def repartition_npartitions(expr: FrameExpr, npartitions: int) -> FrameExpr:
    """An expression with ``npartitions`` partitions holding the same rows in order.

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> e = FromPandas.of(pd.DataFrame({"a": range(10)}), 5)
    >>> repartition_npartitions(e, 2).npartitions, repartition_npartitions(e, 7).npartitions
    (2, 7)
    """
    if not isinstance(npartitions, int) or npartitions < 1:
        raise ValueError(f"npartitions must be a positive integer, got {npartitions!r}")
    n = expr.npartitions
    if npartitions == n:
        return expr
    if npartitions < n:
        bounds = tuple(round(n * k / npartitions) for k in range(npartitions + 1))
        return CombinePartitions(expr, bounds)
    base, extra = divmod(npartitions, n)
    counts = tuple(base + (1 if j < extra else 0) for j in range(n))
    return SplitPartitions(expr, counts)


def _select_range(parts: list, lo, hi, last: bool, empty):
    if not parts:
        return empty
    pieces = []
    for part in parts:
        index = part.index
        mask = (index >= lo) & ((index <= hi) if last else (index < hi))
        pieces.append(part[mask])
    return concat_frames(pieces)


class RepartitionDivisions(FrameExpr):
    """Re-cut partitions with known divisions at new boundaries."""

    frame: FrameExpr
    new_divisions: tuple

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("npartitions",)

    @functools.cached_property
    def _meta(self):
        return self.frame._meta

    @functools.cached_property
    def divisions(self):
        return tuple(self.new_divisions)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        j = index[0]
        old, new = self.frame.divisions, self.new_divisions
        lo, hi = new[j], new[j + 1]
        inputs = [i for i in range(len(old) - 1) if old[i] <= hi and lo <= old[i + 1]]
        last = j == len(new) - 2
        refs = [b.ref(self.frame, (i,)) for i in inputs]
        return Task(_select_range, refs, lo, hi, last, self.frame._meta)

    def _needed_columns(self, needed):
        return [(self.frame, needed)]


def repartition_divisions(expr: FrameExpr, divisions) -> FrameExpr:
    """``expr`` re-cut at ``divisions`` (its own divisions must be known and
    within the new first and last ones).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> e = FromPandas((pd.DataFrame({"a": range(4)}),), (0, 3))
    >>> repartition_divisions(e, (0, 2, 3)).divisions
    (0, 2, 3)
    """
    divisions = tuple(divisions)
    if not expr.known_divisions:
        raise ValueError(
            "repartition(divisions=) needs known divisions on the input: build it with "
            "from_pandas(sort=True) or another source with a sorted index"
        )
    if len(divisions) < 2 or list(divisions) != sorted(divisions):
        raise ValueError(f"divisions must be sorted with at least two values, got {divisions}")
    old = expr.divisions
    if divisions[0] > old[0] or divisions[-1] < old[-1]:
        raise ValueError(
            f"new divisions {divisions[0]!r}..{divisions[-1]!r} do not cover the data's range "
            f"{old[0]!r}..{old[-1]!r}; rows outside would be lost"
        )
    if divisions == old:
        return expr
    return RepartitionDivisions(expr, divisions)


def _pieces(parts: list, cuts: list):
    return concat_frames([_piece(p, k, n) for p, (k, n) in zip(parts, cuts)])


class Regroup(FrameExpr):
    """Outputs made of pieces of inputs: ``plan[j]`` lists ``(input, k, n)``,
    the k-th of n positional pieces of an input partition."""

    frame: FrameExpr
    plan: tuple

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("npartitions",)

    @functools.cached_property
    def _meta(self):
        return self.frame._meta

    @functools.cached_property
    def divisions(self):
        old = self.frame.divisions
        whole = all(n == 1 for out in self.plan for _, _, n in out)
        if not self.frame.known_divisions or not whole:
            return (None,) * (len(self.plan) + 1)
        return tuple(old[out[0][0]] for out in self.plan) + (old[-1],)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        out = self.plan[index[0]]
        return Task(
            _pieces, [b.ref(self.frame, (i,)) for i, _, _ in out], [(k, n) for _, k, n in out]
        )

    def _needed_columns(self, needed):
        return [(self.frame, needed)]


def repartition_size(expr: FrameExpr, sizes: list, partition_size) -> FrameExpr:
    """Partitions of about ``partition_size`` bytes, given each input's size:
    large ones are cut by position, small neighbours are combined.

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> e = FromPandas.of(pd.DataFrame({"a": range(10)}), 5)
    >>> repartition_size(e, [10, 10, 50, 10, 10], 25).npartitions
    4
    """
    from shoal.core.utils import parse_bytes

    target = parse_bytes(partition_size)
    if target <= 0:
        raise ValueError(f"partition_size must be positive, got {partition_size!r}")
    plan: list = []
    current: list = []
    current_size = 0
    for i, size in enumerate(sizes):
        n = max(1, -(-int(size) // target))
        if n > 1:
            if current:
                plan.append(tuple(current))
                current, current_size = [], 0
            plan.extend(((i, k, n),) for k in range(n))
            continue
        if current and current_size + size > target:
            plan.append(tuple(current))
            current, current_size = [], 0
        current.append((i, 0, 1))
        current_size += size
    if current:
        plan.append(tuple(current))
    return Regroup(expr, tuple(plan))
