"""``resample(rule)``: time bins over a datetime index with known divisions.

The input is first re-cut so that no bin straddles two partitions: every
inner division moves back to the left edge of the bin holding it (for bins
closed on the right, just after that edge). Each partition then resamples
its own rows with pandas, and the bins it owns that hold no rows (pandas
only makes bins between a partition's first and last row) are added with
the values pandas gives an empty bin (0 for ``sum``/``count``, missing for
``mean``...). The output's divisions are the labels of each partition's
first bin and of the last bin::

    input   |  p0   :  p1 |  p2   :      (":" = bin edges of rule)
    re-cut  |  p0   |  p1         |  p2
    output  one row per bin of each partition; divisions = bin labels

All pandas calls use one fixed ``origin`` (for ``"start_day"``, midnight
of the first division's day), so partitions agree on the bins.
Results have the dtypes pandas gives when some bin is empty (``max`` of
integers is float64), so every partition has the same dtypes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Task
from shoal.dataframe.expr import FrameExpr
from shoal.dataframe.meta import meta_nonempty
from shoal.dataframe.repartition import repartition_divisions

__all__ = ["Resampler", "Resample"]


def _labels_between(first: Any, last: Any, rule: str, options: dict) -> pd.DatetimeIndex:
    """The labels of every bin from the one holding ``first`` to the one
    holding ``last``."""
    probe = pd.Series(0, index=pd.DatetimeIndex([first, last]))
    return probe.resample(rule, **options).count().index


def _owners(points: list, rule: str, options: dict) -> list:
    """The label of the bin holding each point (one pandas call for all)."""
    unique = sorted(set(points))
    counts = pd.Series(0, index=pd.DatetimeIndex(unique)).resample(rule, **options).count()
    labels = dict(zip(unique, np.repeat(counts.index, counts.to_numpy())))
    return [labels[p] for p in points]


def _bin_starts(points: list, rule: str, options: dict, tick: pd.Timedelta) -> list:
    """The first timestamp (at the index's resolution ``tick``) of the bin
    holding each point, asked of pandas: the bin's left edge, just after it
    (``closed="right"``), or the next midnight (pandas counts whole days
    into monthly and weekly bins closed on the right)."""
    owners = _owners(points, rule, options)
    lefts = _owners(points, rule, {**options, "label": "left"})
    candidates = [(left, left + tick, left + pd.Timedelta(days=1)) for left in lefts]
    flat = [c for group in candidates for c in group]
    flat += [c - tick for c in flat]
    owner_of = dict(zip(flat, _owners(flat, rule, options)))
    starts = []
    for owner, group in zip(owners, candidates):
        found = [c for c in group if owner_of[c] == owner and owner_of[c - tick] != owner]
        if not found:
            raise ValueError(f"resample: cannot find where the bins of {rule!r} start")
        starts.append(found[0])
    return starts


def resample_partition(
    part: Any,
    first: Any,
    last: Any,
    first_label: Any,
    last_label: Any,
    rule: str,
    options: dict,
    how: str,
    args: tuple,
    kwargs: dict,
    empty_bin: Any,
) -> Any:
    """``part.resample(rule).<how>()`` with one row for every bin from the
    one holding ``first`` (labelled ``first_label``) to the one holding
    ``last`` (``last_label``); bins without rows get ``empty_bin``'s values.

    >>> idx = pd.DatetimeIndex(["2024-01-01 00:10", "2024-01-01 02:20"])
    >>> empty = pd.Series([0], index=idx[:1], name="v")
    >>> out = resample_partition(pd.Series([1, 2], index=idx, name="v"),
    ...     pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-01 03:59"),
    ...     pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-01 03:00"), "h",
    ...     {"closed": "left", "label": "left"}, "sum", (), {}, empty)
    >>> out.tolist()
    [1, 0, 2, 0]
    """
    out = getattr(part.resample(rule, **options), how)(*args, **kwargs)
    if first is None:  # one partition of unknown divisions: pandas' bins as they are
        return out.astype(_dtypes(empty_bin))
    labels = _labels_between(first, last, rule, options).as_unit(part.index.unit)
    # pandas may add an empty bin after the last point (a calendar rule closed on the right)
    labels = labels[(labels >= first_label) & (labels <= last_label)]
    missing = labels[~labels.isin(out.index)]
    if len(missing):
        filler = empty_bin.iloc[[0] * len(missing)]
        filler.index = missing.rename(out.index.name)
        out = pd.concat([out, filler]).sort_index() if len(out) else filler
    return out.astype(_dtypes(empty_bin))


def _dtypes(meta: Any) -> Any:
    return meta.dtypes.to_dict() if isinstance(meta, pd.DataFrame) else meta.dtype


class Resample(FrameExpr):
    """One row per bin of ``rule``, each partition from the same-numbered
    partition of ``frame`` (already cut where bins start); ``bounds`` holds
    per partition a timestamp in its first bin and one in its last bin, and
    their labels (None for a single partition of unknown divisions)."""

    frame: FrameExpr
    rule: str
    options: dict
    how: str
    args: tuple
    kwargs: dict
    bounds: tuple
    empty_bin: Any
    divisions_: tuple

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("rule", "how")

    @functools.cached_property
    def _meta(self) -> Any:
        return self.empty_bin.iloc[:0]

    @functools.cached_property
    def divisions(self) -> tuple:
        return self.divisions_

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        i = index[0]
        return Task(
            resample_partition,
            b.input(self, self.frame, index),
            *self.bounds[i],
            self.rule,
            self.options,
            self.how,
            self.args,
            self.kwargs,
            self.empty_bin,
        )


class Resampler:
    """Time bins of ``rule`` over a datetime index (``coll.resample(rule)``).

    >>> import shoal.dataframe as sd
    >>> s = pd.Series(range(6), index=pd.date_range("2024-01-01", periods=6, freq="40min"))
    >>> r = sd.from_pandas(s, npartitions=3).resample("h")
    >>> r.sum().compute().tolist()
    [1, 2, 7, 5]
    """

    def __init__(
        self,
        coll: Any,
        rule: str,
        closed: str | None = None,
        label: str | None = None,
        origin: Any = "start_day",
        offset: Any = None,
    ):
        index = coll._meta.index
        if not isinstance(index, pd.DatetimeIndex):
            raise TypeError(
                f"resample needs a datetime index, the index is {index.dtype} "
                "(set_index a datetime column first)"
            )
        if coll.npartitions > 1 and not coll.known_divisions:
            raise ValueError(
                "resample over several partitions needs known divisions (a sorted datetime "
                "index): from_pandas(sort=True), or read_parquet(index=..., "
                "calculate_divisions=True)"
            )
        for name, value in (("closed", closed), ("label", label)):
            if value not in (None, "left", "right"):
                raise ValueError(f"resample: {name} must be 'left' or 'right', got {value!r}")
        if origin in ("end", "end_day"):
            raise NotImplementedError(
                f"resample: origin={origin!r} is not supported across partitions; use "
                "'start_day', 'start', 'epoch' or a timestamp"
            )
        try:
            grouper = pd.Grouper(freq=rule, closed=closed, label=label)
        except ValueError as e:
            raise ValueError(f"resample: {rule!r} is not a frequency rule: {e}") from e
        freq = to_offset(rule)
        if isinstance(freq, pd.offsets.Day) and freq.n > 1 and index.tz is None:
            # pandas starts multi-day bins at the first row's midnight; as hours,
            # the origin below pins that midnight for every partition
            rule = f"{24 * freq.n}h"
        elif not isinstance(freq, pd.offsets.Tick) and freq.n != 1:
            raise NotImplementedError(
                f"resample: multiples of calendar rules ({rule!r}) start their bins at each "
                "piece of data's first row, so partitions would disagree on the bins; use "
                "a single period or a fixed span in hours"
            )
        first = coll.divisions[0]
        if not isinstance(to_offset(rule), pd.offsets.Tick):
            origin = "start_day"  # pandas ignores the origin of calendar rules
        elif origin == "start_day" and first is not None:
            origin = pd.Timestamp(first).normalize()
        elif origin == "start" and first is not None:
            origin = pd.Timestamp(first)
        self._coll = coll
        self._rule = rule
        self._options = {"closed": grouper.closed, "label": grouper.label}
        if origin != "start_day":
            self._options["origin"] = origin
        if offset is not None:
            self._options["offset"] = offset

    def _empty_bin(self, how: str, args: tuple, kwargs: dict) -> Any:
        """pandas' result for a bin without rows: resample two fake rows two
        bins apart and keep the middle bin."""
        meta = self._coll._meta
        index = meta.index
        points = pd.date_range("2000-01-03", periods=3, freq=self._rule, tz=index.tz)
        fake = meta_nonempty(meta.reset_index(drop=True))  # its own index is replaced below
        fake.index = points[[0, 2]].as_unit(index.unit).rename(index.name)
        options = {k: v for k, v in self._options.items() if k != "origin"}
        try:
            out = getattr(fake.resample(self._rule, **options), how)(*args, **kwargs)
        except Exception as e:
            raise type(e)(f"resample({self._rule!r}).{how}: {e}") from e
        if len(out) != 3:
            raise ValueError(f"resample: cannot use rule {self._rule!r} across partitions")
        return out.iloc[1:2]

    @functools.cached_property
    def _plan(self) -> tuple[FrameExpr, tuple, tuple]:
        """The input re-cut where bins start, the first and last timestamp
        (and bin label) each output partition covers, the output divisions."""
        coll, rule, options = self._coll, self._rule, self._options
        if not coll.known_divisions:
            return coll._expr, ((None,) * 4,), (None, None)
        divisions = coll.divisions
        tick = pd.Timedelta(1, unit=coll._meta.index.unit)
        starts: list = []
        for start in _bin_starts(list(divisions[:-1]), rule, options, tick):
            if not starts or start > starts[-1]:
                starts.append(start)
        frame = repartition_divisions(coll._expr, (divisions[0], *starts[1:], divisions[-1]))
        ends = [s - tick for s in starts[1:]] + [divisions[-1]]
        labels = _owners(starts + ends, rule, options)
        first_labels, last_labels = labels[: len(starts)], labels[len(starts) :]
        bounds = tuple(zip(starts, ends, first_labels, last_labels))
        return frame, bounds, (*first_labels, last_labels[-1])

    def _agg(self, how: str, *args: Any, **kwargs: Any) -> Any:
        from shoal.dataframe.collection import new_collection

        empty_bin = self._empty_bin(how, args, kwargs)
        frame, bounds, divisions = self._plan
        return new_collection(
            Resample(
                frame, self._rule, self._options, how, args, kwargs, bounds, empty_bin, divisions
            )
        )

    def agg(self, func: str | list | dict | Callable) -> Any:
        """Aggregate each bin: a name, a list of names, or a dict per column."""
        return self._agg("agg", func)

    aggregate = agg

    def sum(self) -> Any:
        """Sum of each bin (0 for empty bins)."""
        return self._agg("sum")

    def mean(self) -> Any:
        """Mean of each bin."""
        return self._agg("mean")

    def count(self) -> Any:
        """Non-missing values in each bin."""
        return self._agg("count")

    def size(self) -> Any:
        """Rows in each bin."""
        return self._agg("size")

    def min(self) -> Any:
        """Minimum of each bin."""
        return self._agg("min")

    def max(self) -> Any:
        """Maximum of each bin."""
        return self._agg("max")

    def first(self) -> Any:
        """First non-missing value of each bin."""
        return self._agg("first")

    def last(self) -> Any:
        """Last non-missing value of each bin."""
        return self._agg("last")

    def median(self) -> Any:
        """Median of each bin."""
        return self._agg("median")

    def std(self, ddof: int = 1) -> Any:
        """Standard deviation of each bin."""
        return self._agg("std", ddof=ddof)

    def var(self, ddof: int = 1) -> Any:
        """Variance of each bin."""
        return self._agg("var", ddof=ddof)

    def prod(self) -> Any:
        """Product of each bin (1 for empty bins)."""
        return self._agg("prod")

    def nunique(self) -> Any:
        """Distinct values in each bin."""
        return self._agg("nunique")

    def ohlc(self) -> Any:
        """First, highest, lowest and last value of each bin."""
        return self._agg("ohlc")
