"""Groupby-aggregate of groups that never span partitions: no tree.

When the first group key holds disjoint, increasing ranges per partition
(``sorted_ranges.key_ranges``, e.g. parquet files written in key order), every
group is whole in one partition. Each partition then runs the chunk and the
aggregate steps of ``groupby.py`` on its own, fused into one task, and the
partitions' results concatenated are the answer: sorted by key when each is
(``sort=True``), in order of first appearance otherwise::

    p0  p1  p2          tree (groupby.py)      p0  p1  p2     partitionwise
     \\  |  /                                   |   |   |
     combine -> one partition                  r0  r1  r2     as many partitions

With ``sort=True`` on an integer or datetime key the result knows its
divisions: each partition's minimum key, then the last maximum.
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd

from shoal.dataframe.expr import Blockwise, FrameExpr
from shoal.dataframe.groupby import groupby_aggregate, groupby_chunk
from shoal.dataframe.groupby_kernels import nunique_by_sorting
from shoal.dataframe.sorted_ranges import key_ranges, range_divisions

__all__ = ["GroupAggPartitionwise", "groupby_partitionwise", "partitionwise_groupby"]


def groupby_partitionwise(part, *, chunk_kw: dict, agg_kw: dict, meta):
    """The groupby result of one partition whose groups lie in no other
    (``meta`` when it has none, so every partition has the same dtypes).

    >>> part = pd.DataFrame({"k": [2, 1, 2], "v": [1, 2, 3]})
    >>> chunk_kw = {"by": "k", "opts": {"sort": False, "dropna": True, "observed": True},
    ...             "specs": {0: ("v", "sum")}, "split_out": 1}
    >>> agg_kw = {"specs": {0: ("v", "sum")}, "nlevels": 1, "opts": chunk_kw["opts"],
    ...           "outputs": [0], "labels": ["v"], "series_name": "v", "sort": True, "ddof": 1}
    >>> groupby_partitionwise(part, chunk_kw=chunk_kw, agg_kw=agg_kw, meta=None).to_dict()
    {1: 2, 2: 4}
    """
    out = _nunique_by_pandas(part, chunk_kw, agg_kw)
    if out is None:
        out = groupby_aggregate([groupby_chunk(part, **chunk_kw)], **agg_kw)
    return out if len(out) or meta is None else meta


def _nunique_by_pandas(part, chunk_kw: dict, agg_kw: dict):
    """When every aggregation is ``nunique`` of a column and the keys are
    plain columns, pandas' own groupby of the partition (one pass, about
    twice as fast as the chunk and aggregate steps made for combining);
    None otherwise."""
    by, specs = chunk_kw["by"], agg_kw["specs"]
    keys = [by] if isinstance(by, str) else list(by) if isinstance(by, list) else []
    plain = keys and all(
        isinstance(k, str) and k in part.columns and not k.startswith("__shoal") for k in keys
    )
    if not plain or agg_kw.get("counted") or isinstance(agg_kw["labels"], pd.MultiIndex):
        return None
    if any(func != "nunique" or col not in part.columns for col, func in specs.values()):
        return None
    columns = _nunique_sorted(part, keys, [specs[k][0] for k in agg_kw["outputs"]], agg_kw)
    if columns is None:
        grouped = part.groupby(by, **chunk_kw["opts"])
        columns = [grouped[specs[k][0]].nunique() for k in agg_kw["outputs"]]
    result = pd.concat(columns, axis=1) if len(columns) > 1 else columns[0].to_frame()
    result.columns = list(agg_kw["labels"])
    if agg_kw["sort"]:
        result = result.sort_index()
    if agg_kw["series_name"] is not False:
        return result.iloc[:, 0].rename(agg_kw["series_name"])
    return result


def _nunique_sorted(part, keys: list, columns: list, agg_kw: dict) -> list | None:
    """``nunique`` of each of ``columns`` per one integer key by sorting
    (``nunique_by_sorting``), when the groups may come sorted by key (asked
    for, or the key already in order); None otherwise."""
    if len(keys) != 1 or not (agg_kw["sort"] or part[keys[0]].is_monotonic_increasing):
        return None
    out = [nunique_by_sorting(part, keys[0], c) for c in columns]
    return None if any(c is None for c in out) else out


class GroupAggPartitionwise(Blockwise):
    """One groupby result per partition of ``frame`` (see module docstring);
    ``needed`` lists the columns it reads."""

    frame: FrameExpr
    chunk_kw: dict
    agg_kw: dict
    needed: list
    meta: Any
    divisions_: tuple

    operation = staticmethod(groupby_partitionwise)

    @property
    def _prefix(self) -> str:
        return "groupby-agg-partitionwise"

    def _args(self) -> list:
        return [self.frame]

    def _kwargs(self) -> dict:
        return {"chunk_kw": self.chunk_kw, "agg_kw": self.agg_kw, "meta": self.meta}

    @functools.cached_property
    def _meta(self) -> Any:
        return self.meta

    @functools.cached_property
    def divisions(self) -> tuple:
        return self.divisions_

    def _needed_columns(self, needed):
        return [(self.frame, set(self.needed))]

    def _explain_args(self) -> str:
        return f"by={self.chunk_kw['by']!r}"


def partitionwise_groupby(
    frame: FrameExpr, keys: list, chunk_kw: dict, agg_kw: dict, meta, needed: list
) -> GroupAggPartitionwise | None:
    """The partitionwise groupby of ``frame`` by ``keys`` when the first key
    holds disjoint increasing ranges in more than one partition and no key is
    categorical (unobserved categories would appear in every partition), else
    None (a single partition keeps the tree: one chunk and one aggregate, which
    ``encoded_keys.py`` may read as categoricals).

    >>> import shoal.dataframe as sd
    >>> pd.DataFrame({"k": [1, 1], "v": [1, 2]}).to_parquet("memory://doc-pw/a.parquet")
    >>> pd.DataFrame({"k": [2, 3], "v": [3, 4]}).to_parquet("memory://doc-pw/b.parquet")
    >>> q = sd.read_parquet("memory://doc-pw/", blocksize=1).groupby("k").v.sum()
    >>> "GroupAggPartitionwise" in q.explain(), q.divisions, q.compute().to_dict()
    (True, (1, 2, 3), {1: 3, 2: 3, 3: 4})
    """
    dtypes = frame._meta.dtypes
    if any(isinstance(dtypes[k], pd.CategoricalDtype) for k in keys):
        return None
    bounds = key_ranges(frame, keys[0])
    if bounds is None or len(bounds) == 1:  # one partition: the tree is as short
        return None
    divisions = None
    if agg_kw["sort"] and len(keys) == 1:
        divisions = range_divisions(bounds, meta.index.dtype)
    if divisions is None:
        divisions = (None,) * (len(bounds) + 1)
    return GroupAggPartitionwise(frame, chunk_kw, agg_kw, needed, meta, divisions)
