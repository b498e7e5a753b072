"""The one concatenation of partitions, used wherever the dataframe room puts
partitions (or per-partition results) back together: finalizing a compute,
repartitioning, head/tail, groupby and reduction combines, overlaps.

pandas turns a categorical column into plain values when the pieces have
different categories, which happens whenever categories are unknown (each
partition found its own). Here such columns (and a categorical index) stay
categorical with the union of the pieces' categories, as pandas'
``union_categoricals`` makes it: the categories of the first piece in their
order, then new ones in order of appearance. Pieces that share one dtype
(known categories) keep it as it is. Empty pieces are skipped, so they never
change a dtype; when every piece is empty the first one is returned.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.api.types import union_categoricals

__all__ = ["concat_frames"]


def _is_categorical(x: Any) -> bool:
    return isinstance(getattr(x, "dtype", None), pd.CategoricalDtype)


def _union(pieces: list) -> pd.Categorical | None:
    """The categorical union of ``pieces`` (array-likes), or None when they
    are not all categorical or need nothing (one dtype) or cannot be united
    (ordered categoricals with different categories, as in pandas)."""
    dtypes = [p.dtype for p in pieces]
    if not all(isinstance(d, pd.CategoricalDtype) for d in dtypes):
        return None
    if all(d == dtypes[0] for d in dtypes[1:]):
        return None
    if any(d.ordered for d in dtypes):
        return None
    return union_categoricals(pieces)


def _united_index(pieces: list, index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex) or not all(_is_categorical(p) for p in pieces):
        return index
    values = _union(pieces)
    if values is None:
        return index
    return pd.CategoricalIndex(values, name=index.name)


def concat_frames(parts: list) -> Any:
    """Partitions (DataFrames, Series or Indexes) in order as one pandas
    object, categoricals kept (see the module docstring); anything else
    (a scalar result) is returned as the first part.

    >>> a = pd.Series(["x", "y"], dtype="category")
    >>> b = pd.Series(["z"], index=[2], dtype="category")
    >>> out = concat_frames([a, b])
    >>> str(out.dtype), list(out.cat.categories)
    ('category', ['x', 'y', 'z'])
    >>> concat_frames([pd.Index([1]), pd.Index([2, 3])]).tolist()
    [1, 2, 3]
    """
    if not parts:
        raise ValueError("no partitions to concatenate")
    first = parts[0]
    if isinstance(first, pd.Index):
        if len(parts) == 1:
            return first
        values = _union(parts) if all(_is_categorical(p) for p in parts) else None
        if values is not None:
            return pd.CategoricalIndex(values, name=first.name)
        return first.append(list(parts[1:]))
    if not isinstance(first, (pd.DataFrame, pd.Series)):
        return first
    live = [p for p in parts if len(p)]
    if not live:
        return first
    if len(live) == 1:
        return live[0]
    out = pd.concat(live)
    if isinstance(out, pd.Series):
        values = _union([p.array for p in live])
        if values is not None:
            out = pd.Series(values, index=out.index, name=out.name)
    else:
        united = {}
        for j, dtype in enumerate(live[0].dtypes):
            if isinstance(dtype, pd.CategoricalDtype):
                values = _union([p.iloc[:, j].array for p in live])
                if values is not None:
                    united[j] = values
        for j, values in united.items():
            out.isetitem(j, values)
    index = _united_index([p.index for p in live], out.index)
    if index is not out.index:
        out.index = index
    return out
