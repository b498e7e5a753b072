"""Indexers: ``partitions[...]``, ``loc`` (labels, slices and boolean
Series, using divisions to skip partitions) and ``iloc[:, cols]``."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.dataframe.expr import FrameExpr, Partitions, map_partitions_expr

__all__ = ["PartitionIndexer", "LocIndexer", "ILocIndexer"]


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


class ILocIndexer:
    """``df.iloc[:, cols]``: columns by position.

    >>> import shoal.dataframe as sd
    >>> sd.from_pandas(pd.DataFrame({"a": [1], "b": [2]}), npartitions=1).iloc[:, [1]].columns
    ['b']
    """

    def __init__(self, coll):
        self._coll = coll

    def __getitem__(self, key):
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None)):
            raise NotImplementedError(
                "iloc supports column selection only, as iloc[:, cols]; select rows with "
                "partitions[...], head or loc"
            )
        cols = self._coll.columns
        picked = key[1]
        if isinstance(picked, (int, np.integer)):
            return self._coll[cols[picked]]
        if isinstance(picked, slice):
            return self._coll[cols[picked]]
        return self._coll[[cols[i] for i in picked]]


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

        if isinstance(key, Series):
            out = coll[key]
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
