"""Indexers: ``partitions[...]``, ``loc`` (labels, slices and boolean
Series, using divisions to skip partitions) and ``iloc`` (rows by position
from the partitions' lengths, columns by position)."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Task
from shoal.dataframe.expr import (
    FrameExpr,
    FromPandas,
    Partitions,
    Projection,
    map_partitions_expr,
)
from shoal.dataframe.meta import emulate

__all__ = ["PartitionIndexer", "LocIndexer", "ILocIndexer", "ILocRows", "partition_lengths"]


def _new(expr):
    from shoal.dataframe.collection import new_collection

    return new_collection(expr)


class PartitionIndexer:
    """``coll.partitions[key]``: an int, a slice or a list of partition numbers.

    >>> import shoal.dataframe as sd
    >>> sd.from_pandas(pd.Series(range(6)), npartitions=3).partitions[1:].npartitions
    2
    """

    def __init__(self, coll):
        self._coll = coll

    def __getitem__(self, key):
        n = self._coll.npartitions
        if isinstance(key, (int, np.integer)):
            if not -n <= key < n:
                raise IndexError(f"partition {key} out of range for {n} partitions")
            idx = [int(key) % n]
        elif isinstance(key, slice):
            idx = list(range(n))[key]
        else:
            idx = [int(k) % n for k in key]
        if not idx:
            raise IndexError("selection of partitions is empty")
        return _new(Partitions(self._coll.expr, tuple(idx)))


def _divisions_range(divisions, lo, hi) -> list:
    n = len(divisions) - 1
    out = []
    for i in range(n):
        left, right = divisions[i], divisions[i + 1]
        last = i == n - 1
        if hi is not None and left > hi:
            continue
        if lo is not None and (right < lo or (right == lo and not last)):
            continue
        out.append(i)
    return out


def _loc_slice(part, lo, hi):
    return part.loc[lo:hi]


def _loc_labels(part, labels):
    return part[part.index.isin(labels)]


def _loc_between(part, lo, hi):
    return part[(part.index >= lo) & (part.index <= hi)]


def _period_bounds(text: str, tz) -> tuple | None:
    """First and last instant of the period a date string names, or None."""
    try:
        period = pd.Period(text)
    except (ValueError, TypeError):
        return None
    lo, hi = period.start_time, period.end_time
    return (lo.tz_localize(tz), hi.tz_localize(tz)) if tz is not None else (lo, hi)


def _dates_as_slice(key, index: pd.Index):
    """``key`` with date strings on a datetime index turned into the span
    they name, as pandas' partial string indexing (``"2000-01"``: all of
    January). A lone string becomes ``slice(lo, hi, "")`` (the empty step
    marks it, so unknown divisions can filter by value); a slice with
    string bounds keeps the whole periods of its ends.

    >>> index = pd.DatetimeIndex([])
    >>> _dates_as_slice("2000-01", index).stop.strftime("%Y-%m-%d %H:%M:%S")
    '2000-01-31 23:59:59'
    >>> _dates_as_slice(slice("2000-01-02", None), index)
    slice(Timestamp('2000-01-02 00:00:00'), None, None)
    """
    if not (isinstance(index, pd.DatetimeIndex) and index.nlevels == 1):
        return key
    tz = index.tz
    if isinstance(key, str):
        bounds = _period_bounds(key, tz)
        return key if bounds is None else slice(bounds[0], bounds[1], "")
    if isinstance(key, slice) and key.step is None:
        lo, hi = key.start, key.stop
        if isinstance(lo, str):
            lo = (_period_bounds(lo, tz) or (lo,))[0]
        if isinstance(hi, str):
            hi = (_period_bounds(hi, tz) or (None, hi))[1]
        return slice(lo, hi)
    return key


class ILocIndexer:
    """``coll.iloc[rows]``, ``df.iloc[rows, cols]`` and ``df.iloc[:, cols]``:
    rows by position (an integer, a slice, a list or array of positions, or
    a boolean array), columns by position.

    Row positions need each partition's length: known without computing for
    in-memory sources, otherwise counted once per collection (one pass) when
    rows are first selected. The result is lazy; it keeps the order pandas
    gives, including for negative steps and unsorted lists.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": range(10), "b": 0}), npartitions=3)
    >>> df.iloc[:, [1]].columns.tolist()
    ['b']
    >>> df.iloc[2:9:3].a.compute().tolist()
    [2, 5, 8]
    >>> df.a.iloc[-1].compute()
    np.int64(9)
    """

    def __init__(self, coll):
        self._coll = coll

    def __getitem__(self, key):
        coll = self._coll
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(key, tuple) and (len(key) != 2 or not isinstance(coll._meta, pd.DataFrame)):
            raise IndexError(
                f"iloc takes rows or (rows, columns) for a DataFrame, rows for a Series; "
                f"got {key!r}"
            )
        out = coll if _is_everything(rows) else _rows(coll, rows)
        if _is_everything(cols):
            return out
        if isinstance(rows, (int, np.integer)):
            raise NotImplementedError("iloc[row, cols]: select columns first, then the row")
        names = coll.columns
        if isinstance(cols, (int, np.integer, slice)):
            return out[names[cols]]
        return out[[names[i] for i in cols]]


def _is_everything(key) -> bool:
    return isinstance(key, slice) and key == slice(None)


def partition_lengths(coll) -> tuple[int, ...]:
    """Rows in each partition: from the source when it holds them in memory,
    else counted once (and remembered by the collection for its plan).

    >>> import shoal.dataframe as sd
    >>> partition_lengths(sd.from_pandas(pd.Series(range(5)), npartitions=2))
    (2, 3)
    """
    expr = coll.expr
    cached = coll.__dict__.get("_partition_lengths")
    if cached is not None and cached[0] == expr._name:
        return cached[1]
    source = expr.simplify()
    while isinstance(source, Projection):
        source = source.frame
    if isinstance(source, FromPandas):
        lengths = tuple(len(p) for p in source.parts)
    else:
        counts = map_partitions_expr(
            _length, expr, label="partition-lengths", meta=pd.Series([], dtype="int64")
        )
        lengths = tuple(int(n) for n in _new(counts).compute())
    coll.__dict__["_partition_lengths"] = (expr._name, lengths)
    return lengths


def _length(part) -> pd.Series:
    return pd.Series([len(part)], dtype="int64")


def _rows(coll, rows):
    lengths = partition_lengths(coll)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype("int64")
    total = int(offsets[-1])
    if isinstance(rows, (int, np.integer)) and not isinstance(rows, (bool, np.bool_)):
        pos = int(rows)
        if not -total <= pos < total:
            raise IndexError(f"iloc: position {pos} is out of bounds for {total} rows")
        if isinstance(coll._meta, pd.DataFrame):
            raise NotImplementedError(
                f"df.iloc[{pos}] would be a Series named by that row's label, which is not "
                f"known before computing; use df.iloc[[{pos}]] (a one-row DataFrame), or "
                "df.iloc[:, cols] for column selection"
            )
        pos %= total
        p = int(np.searchsorted(offsets, pos, side="right")) - 1
        one = Partitions(coll.expr, (p,))
        meta = emulate(_row, coll._meta, 0, fname="iloc", nonempty=True)
        return _new(map_partitions_expr(_row, one, pos - int(offsets[p]), label="iloc", meta=meta))
    if isinstance(rows, slice):
        plan = _slice_plan(range(total)[rows], offsets)
        ascending = rows.step is None or rows.step > 0
    else:
        positions = _positions(rows, total)
        plan = _list_plan(positions, offsets, coll.npartitions)
        ascending = bool(np.all(np.diff(positions) >= 0))
    return _new(ILocRows(coll.expr, plan, ascending))


def _row(part, local: int):
    return part.iloc[local]


def _positions(rows, total: int) -> np.ndarray:
    values = np.asarray(rows)
    if values.dtype == bool:
        if values.shape != (total,):
            raise IndexError(
                f"iloc: a boolean mask needs {total} values (one per row), got {values.shape}"
            )
        return np.flatnonzero(values)
    if values.ndim != 1 or (len(values) and values.dtype.kind not in "iu"):
        raise IndexError(
            f"iloc takes an integer, a slice, a list of integers or a boolean mask, got {rows!r}"
        )
    values = values.astype("int64")
    bad = values[(values < -total) | (values >= total)]
    if len(bad):
        raise IndexError(f"iloc: positions {bad[:5].tolist()} are out of bounds for {total} rows")
    return values % max(total, 1)


def _slice_plan(selected: range, offsets: np.ndarray) -> tuple:
    """One output per partition holding selected rows: ``((p, local_slice),)``."""
    plan = []
    n = len(offsets) - 1
    order = range(n) if selected.step > 0 else range(n - 1, -1, -1)
    for p in order:
        lo, hi = int(offsets[p]), int(offsets[p + 1])
        if selected.step > 0:
            first = _ceil_div(lo - selected.start, selected.step)
            last = _ceil_div(hi - selected.start, selected.step)
        else:
            first = _ceil_div(selected.start - (hi - 1), -selected.step)
            last = (selected.start - lo) // -selected.step + 1
        sub = selected[max(first, 0) : max(last, 0)]
        if len(sub):
            stop = sub.stop - lo
            plan.append(((p, slice(sub.start - lo, stop if stop >= 0 else None, sub.step)),))
    return tuple(plan) or (((0, slice(0, 0)),),)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _list_plan(positions: np.ndarray, offsets: np.ndarray, npartitions: int) -> tuple:
    """Outputs of consecutive positions, each a tuple of ``(partition, local
    positions)`` runs in the order asked: one output per partition read when
    the positions ascend (so divisions stay known), else up to
    ``npartitions`` outputs of equal counts."""
    if len(positions) == 0:
        return (((0, ()),),)
    owners = np.searchsorted(offsets, positions, side="right") - 1
    if np.all(np.diff(positions) >= 0):
        bounds = np.r_[0, np.flatnonzero(np.diff(owners)) + 1, len(positions)]
    else:
        bounds = np.linspace(0, len(positions), min(npartitions, len(positions)) + 1)
        bounds = bounds.astype(int)
    plan = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        runs = []
        cuts = np.flatnonzero(np.diff(owners[a:b])) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, b - a]):
            p = int(owners[a + lo])
            runs.append((p, tuple((positions[a + lo : a + hi] - offsets[p]).tolist())))
        plan.append(tuple(runs))
    return tuple(plan)


def _take_rows(parts: list, selectors: list, empty):
    pieces = [
        part.iloc[sel if isinstance(sel, slice) else list(sel)]
        for part, sel in zip(parts, selectors)
    ]
    from shoal.dataframe.concat import concat_frames

    return concat_frames(pieces) if pieces else empty


class ILocRows(FrameExpr):
    """Rows by position: output ``j`` concatenates ``frame`` partition
    ``p``'s rows ``selector`` for each ``(p, selector)`` of ``plan[j]``."""

    frame: FrameExpr
    plan: tuple
    ascending: bool

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("npartitions",)

    @functools.cached_property
    def _meta(self):
        return self.frame._meta

    @functools.cached_property
    def divisions(self):
        if not (self.frame.known_divisions and self.ascending):
            return (None,) * (len(self.plan) + 1)
        d = self.frame.divisions
        return tuple(d[out[0][0]] for out in self.plan) + (d[self.plan[-1][-1][0] + 1],)

    def _one_to_one(self, child: BlockExpr) -> bool:
        used = [p for out in self.plan for p, _ in out]
        return len(used) == len(self.plan) == len(set(used))

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        out = self.plan[index[0]]
        one = self._one_to_one(self.frame)
        parts = [
            b.input(self, self.frame, (p,)) if one else b.ref(self.frame, (p,)) for p, _ in out
        ]
        return Task(_take_rows, parts, [sel for _, sel in out], self.frame._meta)

    def _needed_columns(self, needed):
        return [(self.frame, needed)]


class LocIndexer:
    """``coll.loc[rows]`` or ``coll.loc[rows, cols]``.

    >>> import shoal.dataframe as sd
    >>> s = sd.from_pandas(pd.Series(range(10)), npartitions=5)
    >>> s.loc[3:6].npartitions, s.loc[3:6].compute().tolist()
    (3, [3, 4, 5, 6])
    """

    def __init__(self, coll):
        self._coll = coll

    def __getitem__(self, key):
        coll = self._coll
        cols = None
        if isinstance(key, tuple):
            key, cols = key
        from shoal.dataframe.series import Series

        key = _dates_as_slice(key, coll._meta.index)
        if isinstance(key, Series):
            out = coll[key]
        elif isinstance(key, slice) and isinstance(key.start, pd.Timestamp) and key.step == "":
            out = self._period(key.start, key.stop)
        elif isinstance(key, slice):
            if key.step is not None:
                raise ValueError("loc slices with a step are not supported")
            out = self._slice(key.start, key.stop)
        else:
            labels = list(key) if isinstance(key, (list, tuple, np.ndarray, pd.Index)) else [key]
            expr = coll.expr
            if coll.known_divisions:
                idx = sorted(
                    {i for lab in labels for i in _divisions_range(coll.divisions, lab, lab)}
                )
                if not idx:
                    idx = [0]
                expr = Partitions(expr, tuple(idx))
            out = _new(map_partitions_expr(_loc_labels, expr, labels, label="loc"))
        if cols is not None and not (isinstance(cols, slice) and cols == slice(None)):
            out = out[cols]
        return out

    def _period(self, lo, hi):
        coll = self._coll
        if coll.known_divisions:
            return self._slice(lo, hi)
        return _new(map_partitions_expr(_loc_between, coll.expr, lo, hi, label="loc"))

    def _slice(self, lo, hi):
        coll = self._coll
        if not coll.known_divisions:
            raise ValueError(
                "loc with a slice needs known divisions (a sorted index): build the "
                "collection with from_pandas(sort=True) or read it with index= and divisions"
            )
        idx = _divisions_range(coll.divisions, lo, hi) or [0]
        sub = Partitions(coll.expr, tuple(idx))
        expr = map_partitions_expr(_loc_slice, sub, lo, hi, label="loc")
        return _new(_with_divisions(expr, coll.divisions, idx, lo, hi))


def _with_divisions(expr, divisions, idx, lo, hi):
    first, last = idx[0], idx[-1]
    new = list(divisions[first : last + 2])
    if lo is not None and lo > new[0]:
        new[0] = lo
    if hi is not None and hi < new[-1]:
        new[-1] = hi
    return _Divided(expr, tuple(new))


class _Divided(FrameExpr):
    """An expression with refined (still correct) divisions; its partitions
    are its input's (fusable: no task of its own inside a chain)."""

    frame: FrameExpr
    divisions_: tuple

    fusable: ClassVar[bool] = True

    @functools.cached_property
    def _meta(self):
        return self.frame._meta

    @functools.cached_property
    def divisions(self):
        return self.divisions_

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        return b.input(self, self.frame, index)

    def _needed_columns(self, needed):
        return [(self.frame, needed)]
