"""Cumulative functions of groups that leave every row where it is:
``groupby(...).cumsum()``, ``cumprod``, ``cummax``, ``cummin`` and
``cumcount()``.

They run as a ``Scan`` (``scans.py``), not through a shuffle: each partition
is summarized by group (the sum, product, maximum, minimum or row count of
each group's rows in it), a chain of small tasks folds those summaries into
the state of every group before partition ``i``, and partition ``i``'s
output continues from that state. For the value functions the state goes in
as one leading row per group, then pandas' own cumulative function runs over
both and the leading rows are dropped, so pandas decides missing values and
types; ``cumcount`` adds the rows each group had before.

So the output has the input's partitions and divisions, in the input's row
order, as pandas and Dask give it, and ``df["n"] = df.groupby("k").cumcount()``
lines up without a shuffle. Keys must be columns of the frame (``GroupBy``
turns Series and index levels into such columns first).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shoal.dataframe.expr import FrameExpr
from shoal.dataframe.grouped import _grouped
from shoal.dataframe.scans import Scan

__all__ = ["GROUP_SCANS", "group_scan", "group_summary", "group_combine", "group_finish"]

# cumulative method -> the per-group aggregate that carries it across partitions
GROUP_SCANS = {
    "cumsum": "sum",
    "cumprod": "prod",
    "cummax": "max",
    "cummin": "min",
    "cumcount": "size",
}


def group_summary(
    part: Any, *, by: Any, opts: dict, selection: Any, method: str, dtypes: Any
) -> Any:
    """Each group's state after ``part``'s rows (None for no rows).

    >>> df = pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]})
    >>> group_summary(df, by="k", opts={}, selection="v", method="cumsum", dtypes=None).to_dict()
    {'a': 4, 'b': 2}
    """
    if len(part) == 0:
        return None
    return getattr(_grouped(part, by, opts, selection), GROUP_SCANS[method])()


def group_combine(
    carry: Any, summary: Any, *, by: Any, opts: dict, selection: Any, method: str, dtypes: Any
) -> Any:
    """The state of each group after one more partition.

    >>> a, b = pd.Series({"x": 2, "y": 1}), pd.Series({"x": 5})
    >>> group_combine(a, b, by="k", opts={}, selection=None, method="cummax", dtypes=None).to_dict()
    {'x': 5, 'y': 1}
    """
    if summary is None:
        return carry
    if carry is None:
        return summary
    both = pd.concat([carry, summary])
    grouped = both.groupby(level=list(range(both.index.nlevels)), sort=False, dropna=False)
    return grouped.sum() if method == "cumcount" else getattr(grouped, GROUP_SCANS[method])()


def group_finish(
    part: Any, carry: Any, *, by: Any, opts: dict, selection: Any, method: str, dtypes: Any
) -> Any:
    """``part``'s cumulative values by group, continuing from ``carry``.

    >>> df = pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]}, index=[7, 8, 9])
    >>> group_finish(df, pd.Series({"a": 10}), by="k", opts={}, selection="v",
    ...              method="cumsum", dtypes=None).to_dict()
    {7: 11, 8: 2, 9: 14}
    """
    if carry is None or len(part) == 0:
        out = getattr(_grouped(part, by, opts, selection), method)()
    elif method == "cumcount":
        keys = part[by] if isinstance(by, list) else part[[by]]
        before = carry.reindex(
            pd.MultiIndex.from_frame(keys) if keys.shape[1] > 1 else keys.iloc[:, 0]
        )
        out = _grouped(part, by, opts, selection).cumcount()
        out = out + np.nan_to_num(before.to_numpy(dtype="float64"), nan=0.0)
    else:
        head = (carry.rename(selection) if isinstance(carry, pd.Series) else carry).reset_index()
        head.columns = [
            *(by if isinstance(by, list) else [by]),
            *head.columns[carry.index.nlevels :],
        ]
        both = pd.concat([head, part[list(head.columns)]])
        out = getattr(_grouped(both, by, opts, selection), method)().iloc[len(head) :]
        out.index = part.index  # the same rows in the same order; concat lost its name
    return out if dtypes is None else out.astype(dtypes)


def group_scan(
    frame: FrameExpr, by: Any, opts: dict, selection: Any, method: str, meta: Any
) -> Scan:
    """A ``Scan`` computing ``frame.groupby(by, **opts)[selection].<method>()``
    with the output partitioned like ``frame`` (module docstring).

    >>> from shoal.core.local import get_sync
    >>> from shoal.dataframe.expr import FromPandas
    >>> df = pd.DataFrame({"k": ["a", "b", "a", "a"], "v": [1, 2, 3, 4]})
    >>> e = group_scan(FromPandas.of(df, 2), "k", {}, "v", "cumcount", pd.Series([], dtype="int64"))
    >>> get_sync(e.__shoal_graph__(), (e._name, 1)).tolist()
    [1, 2]
    """
    if method not in GROUP_SCANS:
        raise ValueError(
            f"no partition-wise scan for groupby.{method}; use one of {list(GROUP_SCANS)}"
        )
    dtypes = meta.dtypes.to_dict() if isinstance(meta, pd.DataFrame) else meta.dtype
    kwargs = {"by": by, "opts": opts, "selection": selection, "method": method, "dtypes": dtypes}
    return Scan(
        frame, group_summary, group_combine, group_finish, kwargs, meta, f"groupby-{method}"
    )
