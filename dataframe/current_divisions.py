"""``compute_current_divisions``: the divisions a collection already has,
read from each partition's smallest and largest key (index or a column),
as Dask does. One pass over the data; nothing moves."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["compute_current_divisions", "partition_extremes"]


def partition_extremes(part: Any, col: Any = None) -> pd.DataFrame:
    """One row ``(n, lo, hi)``: the count, min and max of the non-missing
    keys of ``part`` (its index when ``col`` is None).

    >>> partition_extremes(pd.DataFrame({"a": [3, 1]}, index=[5, 7])).values.tolist()
    [[2, 5, 7]]
    """
    keys = pd.Series(part.index) if col is None else part[col]
    keys = keys.dropna()
    if not len(keys):
        return pd.DataFrame({"n": [0], "lo": [None], "hi": [None]}, dtype=object)
    lo, hi = (v.item() if isinstance(v, np.generic) else v for v in (keys.min(), keys.max()))
    return pd.DataFrame({"n": [len(keys)], "lo": [lo], "hi": [hi]}, dtype=object)


def divisions_from_extremes(stats: pd.DataFrame, what: str) -> tuple | None:
    """Divisions from the per-partition ``(n, lo, hi)`` rows: each partition
    starts at its min (an empty one where the next non-empty one starts),
    the last ends at the largest max. None when every partition is empty;
    ``ValueError`` when the partitions are not sorted; a warning when
    neighbours overlap (share a key).

    >>> s = pd.DataFrame({"n": [2, 0, 1], "lo": [1, None, 5], "hi": [3, None, 5]}, dtype=object)
    >>> divisions_from_extremes(s, "the index")
    (1, 5, 5, 5)
    """
    ns, los, his = stats.n.tolist(), stats.lo.tolist(), stats.hi.tolist()
    live = [i for i, n in enumerate(ns) if n]
    if not live:
        return None
    lo_live, hi_live = [los[i] for i in live], [his[i] for i in live]
    if lo_live != sorted(lo_live) or hi_live != sorted(hi_live):
        raise ValueError(
            f"Partitions are not sorted ascending by {what}: compute_current_divisions "
            "needs sorted partitions; use set_index or sort_values first"
        )
    if any(a <= b for a, b in zip(lo_live[1:], hi_live[:-1])):
        warnings.warn(
            "Partitions have overlapping values, so divisions are non-unique; "
            "set_index(sorted=True) moves the shared keys to one partition",
            UserWarning,
            stacklevel=3,
        )
    starts, start = [], hi_live[-1]
    for n, lo in zip(ns[::-1], los[::-1]):
        start = lo if n else start
        starts.append(start)
    return tuple(starts[::-1]) + (hi_live[-1],)


def compute_current_divisions(collection: Any, col: Any = None, set_divisions: bool = False):
    """The divisions of ``collection`` computed from its partitions' keys
    (the index, or column ``col``); with ``set_divisions=True`` the
    collection with those divisions instead (index only, no overlap).

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": range(4)}), npartitions=2).clear_divisions()
    >>> compute_current_divisions(df)
    (0, 2, 3)
    """
    from shoal.dataframe.collection import new_collection
    from shoal.dataframe.expr import map_partitions_expr
    from shoal.dataframe.sort import WithDivisions

    if col is not None:
        if set_divisions:
            raise ValueError(
                "compute_current_divisions(set_divisions=True) sets the divisions of the "
                "index; call it without col="
            )
        collection._check_columns([col], "compute_current_divisions")
    stats = new_collection(
        map_partitions_expr(
            partition_extremes,
            collection.expr,
            col,
            label="current-divisions",
            meta=pd.DataFrame({"n": [], "lo": [], "hi": []}, dtype=object),
        )
    ).compute()
    what = "the index" if col is None else f"column {col!r}"
    if not set_divisions:
        return divisions_from_extremes(stats, what)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        try:
            divisions = divisions_from_extremes(stats, what)
        except UserWarning:
            raise ValueError(
                "compute_current_divisions(set_divisions=True): partitions share index "
                "values; use set_index(sorted=True) to move them to one partition"
            ) from None
    if divisions is None:
        return collection
    return new_collection(WithDivisions(collection.expr, divisions))
