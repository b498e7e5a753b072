"""``groupby(cols).transform("mean")`` (any named reduction) without moving
rows: the groups' results come from the groupby's tree reduction, are held
as one value (``GroupValues``, no frame, so a plan broadcasts it to every
partition like a scalar), and each partition looks up its rows' groups.

The result keeps the input's partitions, divisions and row order, so it
lines up with the frame it came from: ``df[df.x > df.groupby("k").x.
transform("mean")]`` works as in pandas (the shuffle route of
``grouped.py`` returns rows grouped, which no longer line up). User
functions still go through the shuffle: they need whole groups.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shoal.dataframe.expr import FrameExpr, map_partitions_expr

__all__ = ["REDUCTIONS", "GroupValues", "broadcast_group_values", "transform_by_reduction"]

# transform names whose value per group is a groupby aggregation of the same name
REDUCTIONS = frozenset(
    {"sum", "mean", "count", "size", "min", "max", "first", "last", "std", "var", "prod"}
)


class GroupValues:
    """One result per group (a pandas Series or DataFrame indexed by the
    group keys), held as a plain value so a plan broadcasts it.

    >>> GroupValues(pd.Series([1.5], index=["a"])).values.tolist()
    [1.5]
    """

    __slots__ = ("values",)

    def __init__(self, values: pd.Series | pd.DataFrame):
        self.values = values

    def __repr__(self) -> str:
        return f"GroupValues({len(self.values)} groups)"


def _hold(result: Any) -> GroupValues:
    return GroupValues(result)


def broadcast_group_values(
    part: pd.DataFrame, held: GroupValues, by: list, meta: Any
) -> pd.Series | pd.DataFrame:
    """Each row of ``part`` given its group's value (missing where its
    group has none: a missing key), cast to ``meta``'s dtypes.

    >>> part = pd.DataFrame({"k": ["b", "a", "b"]}, index=[7, 8, 9])
    >>> held = GroupValues(pd.Series([1.0, 2.0], index=pd.Index(["a", "b"], name="k"), name="v"))
    >>> broadcast_group_values(part, held, ["k"], pd.Series([], dtype="float64", name="v"))
    7    2.0
    8    1.0
    9    2.0
    Name: v, dtype: float64
    """
    if len(by) == 1:
        keys: Any = pd.Index(part[by[0]])
    else:
        keys = pd.MultiIndex.from_frame(part[by])
    out = held.values.reindex(keys)
    out.index = part.index
    if isinstance(meta, pd.DataFrame):
        out.columns = meta.columns
        return out.astype(meta.dtypes.to_dict())
    out.name = meta.name
    return out.astype(meta.dtype)


def transform_by_reduction(groupby: Any, func: str, meta: Any) -> FrameExpr:
    """The plan of ``groupby.transform(func)`` for a named reduction ``func``
    grouped by column names: the aggregation, held, then looked up per
    partition; ``meta`` is the transform's (pandas' on fake rows).

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"k": [1, 2, 1], "v": [1.0, 2.0, 5.0]}), npartitions=2)
    >>> g = df.groupby("k").v
    >>> from shoal.dataframe.collection import new_collection
    >>> new_collection(transform_by_reduction(g, "mean", df._meta.v)).compute().tolist()
    [3.0, 2.0, 3.0]
    """
    by = groupby._key_columns()
    aggregated = groupby.agg(func).expr
    held_meta = GroupValues(aggregated._meta)
    held = map_partitions_expr(_hold, aggregated, label="group-values", meta=held_meta)
    return map_partitions_expr(
        broadcast_group_values,
        groupby._frame.expr,
        held,
        by,
        meta,
        label=f"groupby-transform-{func}",
        meta=meta,
    )
