"""Per-group work that needs whole groups: ``groupby(...).apply``,
``transform``, ``shift``, and ``drop_duplicates(split_out=)``; the
cumulative functions (``cumsum``, ``cumcount``, ...) too when a shuffle is
asked for (``npartitions=``, ``shuffle_method=``) or for
``cumcount(ascending=False)``; otherwise they keep the rows in place
(``group_scans.py``).

Rows are hash-shuffled on the group keys (``shuffle.py``), so every group
sits whole in one partition, in its input order (the shuffle is stable);
then pandas runs the same call on each partition. Results come in no
particular order of groups; ``apply`` results are indexed like pandas'
(group keys, then the original index), ``transform``, ``shift`` and the
cumulative functions keep each row's original index label. Grouping with
``dropna=True`` by keys that can be missing gives those rows missing
values, so integer results are declared float64 (booleans object), as
pandas types them when such rows exist. The output is
hash-partitioned on the keys, so a later join or groupby on them does not
shuffle again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pandas as pd

from shoal.dataframe.expr import FrameExpr, map_partitions_expr
from shoal.dataframe.meta import MetaInferenceError, emulate, make_meta
from shoal.dataframe.shuffle import Partitioned, check_shuffle_method, shuffle_expr

__all__ = ["group_call", "group_apply", "grouped_shuffle", "drop_duplicates_shuffled"]

# per-group methods that pick rows (rows with a missing key are left out, not filled)
ROW_FILTERS = frozenset({"head", "tail", "nth"})


def _grouped(part: Any, by: Any, opts: dict, selection: Any) -> Any:
    grouped = part.groupby(by, **opts)
    return grouped if selection is None else grouped[selection]


def group_apply(
    part: Any,
    *,
    by: Any,
    opts: dict,
    selection: Any,
    func: Callable,
    args: tuple,
    kwargs: dict,
    empty: Any = None,
) -> Any:
    """``func`` applied to every group of one partition (``empty``, the
    declared meta, when the partition has no rows).

    >>> df = pd.DataFrame({"k": [1, 1, 2], "v": [1, 2, 3]})
    >>> group_apply(df, by="k", opts={}, selection="v", func=lambda s: s.max() - s.min(),
    ...             args=(), kwargs={}).tolist()
    [1, 0]
    """
    grouped = _grouped(part, by, opts, selection)
    if empty is not None and grouped.ngroups == 0:  # no rows, or only missing keys
        return empty
    return grouped.apply(func, *args, **kwargs)


def group_call(
    part: Any,
    *,
    by: Any,
    opts: dict,
    selection: Any,
    method: str,
    args: tuple,
    kwargs: dict,
    empty: Any = None,
) -> Any:
    """``groupby(by)[selection].method(*args, **kwargs)`` on one partition
    (``empty``, the declared meta, when it has no rows).

    >>> df = pd.DataFrame({"k": [1, 2, 1], "v": [1, 2, 3]})
    >>> group_call(df, by="k", opts={}, selection="v", method="cumsum", args=(), kwargs={}).tolist()
    [1, 2, 4]
    """
    if empty is not None and not len(part):
        return empty
    grouped = _grouped(part, by, opts, selection)
    if empty is not None and grouped.ngroups == 0:  # only missing keys: missing values
        return empty if method in ROW_FILTERS else empty.reindex(part.index)
    out = getattr(grouped, method)(*args, **kwargs)
    return out if empty is None else _cast_like(out, empty)


def _cast_like(out: Any, meta: Any) -> Any:
    """``out`` with ``meta``'s dtypes where they differ (widened ones)."""
    if isinstance(meta, pd.DataFrame):
        casts = {c: d for c, d in meta.dtypes.items() if c in out and out[c].dtype != d}
        return out.astype(casts) if casts else out
    return out.astype(meta.dtype) if out.dtype != meta.dtype else out


def grouped_shuffle(groupby: Any, npartitions: int | None, shuffle_method: Any) -> Any:
    """The grouped frame hash-shuffled on its key columns, and the keys."""
    frame = groupby._frame
    keys = groupby._key_columns()
    k = frame.npartitions if npartitions is None else npartitions
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"npartitions must be a positive integer, got {k!r}")
    check_shuffle_method(shuffle_method)
    return shuffle_expr(frame.expr, tuple(keys), k, shuffle_method), tuple(keys), k


def _options(groupby: Any) -> dict:
    sort = groupby._sort
    return {
        "sort": True if sort is None else sort,
        "dropna": groupby._dropna,
        "observed": groupby._observed,
        "group_keys": groupby._group_keys,
    }


def run_grouped(
    groupby: Any,
    method: str,
    args: tuple = (),
    kwargs: dict | None = None,
    func: Callable | None = None,
    meta: Any = None,
    npartitions: int | None = None,
    shuffle_method: Any = None,
):
    """The collection of ``groupby.<method>(...)`` computed through the
    shuffle (module docstring); ``method="apply"`` applies ``func``."""
    from shoal.dataframe.collection import new_collection

    moved, keys, k = grouped_shuffle(groupby, npartitions, shuffle_method)
    by = groupby._by
    common = {"by": by, "opts": _options(groupby), "selection": groupby._selection}
    kwargs = kwargs or {}
    if method == "apply":
        if func is None:
            raise TypeError("groupby.apply needs a function")
        run = functools.partial(group_apply, **common, func=func, args=args, kwargs=kwargs)
        given = None if meta is None else make_meta(meta)
        try:
            inferred = emulate(run, groupby._frame._meta, fname="groupby.apply", nonempty=True)
        except MetaInferenceError:
            if given is None:
                raise
        else:  # a given meta rarely spells the index (group keys, then the rows')
            given = inferred if given is None else given.set_axis(inferred.index[:0], axis=0)
        applied = map_partitions_expr(run, moved, label="groupby-apply", meta=given, empty=given)
        return groupby._named_keys(new_collection(applied))
    call = {**common, "method": method, "args": args, "kwargs": kwargs}
    given = grouped_meta(groupby, method, args, kwargs)
    expr: FrameExpr = map_partitions_expr(
        group_call, moved, label=f"groupby-{method}", meta=given, **call, empty=given
    )
    if isinstance(expr._meta, pd.DataFrame) and set(keys) <= set(expr._meta.columns):
        expr = Partitioned(expr, keys, k)
    out = new_collection(expr)
    added = [c for c in out.columns if c in groupby._key_names]  # rows picked whole (head)
    return out[[c for c in out.columns if c not in added]] if added else out


def grouped_meta(groupby: Any, method: str, args: tuple, kwargs: dict) -> Any:
    """The meta of ``groupby.<method>(*args, **kwargs)`` for a per-row
    method (transform, shift, cumulative ones): pandas' on fake rows,
    widened when rows with a missing key get missing values.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"k": [1.0, None], "v": [1, 2]}), npartitions=1)
    >>> grouped_meta(df.groupby("k").v, "transform", ("sum",), {}).dtype
    dtype('float64')
    """
    call = {
        "by": groupby._by,
        "opts": _options(groupby),
        "selection": groupby._selection,
        "method": method,
        "args": args,
        "kwargs": kwargs,
    }
    meta = groupby._frame._meta
    given = emulate(group_call, meta, fname=f"groupby.{method}", nonempty=True, **call)
    keys = tuple(groupby._key_columns())
    if method not in ROW_FILTERS and groupby._dropna and _nullable_keys(meta, keys):
        given = _widened(given)  # rows with a missing key get a missing value
    return given


def _nullable_keys(meta: pd.DataFrame, keys: tuple) -> bool:
    return any(getattr(meta[k].dtype, "kind", "O") not in "iub" for k in keys)


def _widened(meta: Any) -> Any:
    """``meta`` with integer columns as float64 and booleans as object, the
    dtypes pandas gives them once missing values appear."""

    def wide(dtype: Any) -> Any:
        if isinstance(dtype, pd.api.extensions.ExtensionDtype):
            return dtype
        return {"i": "float64", "u": "float64", "b": object}.get(dtype.kind, dtype)

    if isinstance(meta, pd.DataFrame):
        return meta.astype({c: wide(d) for c, d in meta.dtypes.items()})
    return meta.astype(wide(meta.dtype))


def drop_duplicates_shuffled(frame: Any, subset: Any, keep: str, split_out: int, method: Any):
    """Distinct rows in ``split_out`` partitions: duplicates dropped in each
    partition, rows hash-shuffled on ``subset`` (all columns by default),
    duplicates dropped again; ``keep`` holds across partitions because the
    shuffle keeps input order.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2, 1, 3, 2]}), npartitions=2)
    >>> sorted(drop_duplicates_shuffled(df, None, "first", 2, None).compute().a)
    [1, 2, 3]
    """
    from shoal.dataframe.collection import new_collection

    check_shuffle_method(method)
    kw = {"keep": keep, **({"subset": subset} if subset is not None else {})}
    column = None  # the Series' values, as a column
    if isinstance(frame._meta, pd.Series):
        name = frame._meta.name
        column = "__series__" if name is None else name
        frame, keys = frame.to_frame(column), (column,)
    elif subset is None:
        keys = tuple(frame.columns)
    else:
        keys = tuple(subset if isinstance(subset, list) else [subset])
    local = map_partitions_expr(_drop, frame.expr, label="drop-duplicates", **kw)
    moved = shuffle_expr(local, keys, split_out, method)
    out = map_partitions_expr(_drop, moved, label="drop-duplicates", **kw)
    coll = new_collection(Partitioned(out, keys, split_out))
    if column is None:
        return coll
    values = coll[column]
    return values.rename(None) if name is None else values


def _drop(part: Any, **kw: Any) -> Any:
    return part.drop_duplicates(**kw)
