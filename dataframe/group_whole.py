"""Groupby reductions that need each group whole: ``median``, ``idxmin``,
``idxmax``, ``cov``, ``corr`` and ``value_counts``.

None of them splits into partial results that merge exactly, so rows are
hash-shuffled on the group keys as for ``apply`` (``grouped.py``: every
group sits whole in one partition, rows in input order), pandas computes
the reduction per partition, and the small per-group results are brought
together::

    partitions --shuffle on keys--> k partitions --pandas call--> k results
        split_out=1: one partition, sorted by the keys (stably, so the
                     order pandas gives inside a group stays: value_counts
                     by count, cov by column)
        split_out=k: k hash-partitioned results, each sorted by the keys

The key levels of the result are named as pandas names them.
"""

from __future__ import annotations

import functools
from typing import Any

from shoal.dataframe.expr import map_partitions_expr
from shoal.dataframe.grouped import _cast_like, _grouped, _options, grouped_shuffle
from shoal.dataframe.meta import emulate

__all__ = ["group_reduce_part", "sort_by_keys", "whole_group_reduce"]


def group_reduce_part(
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
    holding whole groups (``empty``, the declared meta, when it has none).

    >>> import pandas as pd
    >>> df = pd.DataFrame({"k": [1, 2, 1], "v": [1.0, 5.0, 4.0]})
    >>> group_reduce_part(df, by="k", opts={}, selection="v", method="median", args=(),
    ...                   kwargs={}).tolist()
    [2.5, 5.0]
    """
    grouped = _grouped(part, by, opts, selection)
    if empty is not None and grouped.ngroups == 0:
        return empty
    out = getattr(grouped, method)(*args, **kwargs)
    return out if empty is None else _cast_like(out, empty)


def sort_by_keys(part: Any, nkeys: int) -> Any:
    """``part`` sorted by its first ``nkeys`` index levels, stably (later
    levels keep the order they came in).

    >>> import pandas as pd
    >>> s = pd.Series([1, 2, 3], index=pd.MultiIndex.from_tuples([(2, "b"), (1, "z"), (1, "a")]))
    >>> sort_by_keys(s, 1).index.tolist()
    [(1, 'z'), (1, 'a'), (2, 'b')]
    """
    if part.index.nlevels == nkeys == 1:
        return part.sort_index(kind="stable")
    return part.sort_index(level=list(range(nkeys)), sort_remaining=False, kind="stable")


def whole_group_reduce(
    groupby: Any,
    method: str,
    kwargs: dict,
    split_out: int = 1,
    shuffle_method: Any = None,
) -> Any:
    """The collection of ``groupby.<method>(**kwargs)`` (module docstring).

    >>> import pandas as pd
    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"k": [1, 2, 1], "v": [1.0, 5.0, 4.0]}), npartitions=2)
    >>> whole_group_reduce(df.groupby("k").v, "median", {}).compute().tolist()
    [2.5, 5.0]
    """
    from shoal.dataframe.collection import new_collection
    from shoal.dataframe.repartition import repartition_npartitions

    if isinstance(split_out, bool) or not isinstance(split_out, int) or split_out < 1:
        raise ValueError(f"split_out must be a positive integer, got {split_out!r}")
    many = split_out > 1
    moved, keys, _ = grouped_shuffle(groupby, split_out if many else None, shuffle_method)
    call = {
        "by": groupby._by,
        "opts": _options(groupby),
        "selection": groupby._selection,
        "method": method,
        "args": (),
        "kwargs": kwargs,
    }
    run = functools.partial(group_reduce_part, **call)
    meta = emulate(run, groupby._frame._meta, fname=f"groupby.{method}", nonempty=True)
    expr: Any = map_partitions_expr(
        group_reduce_part, moved, label=f"groupby-{method}", meta=meta, **call, empty=meta
    )
    if not many:
        expr = repartition_npartitions(expr, 1)
    if groupby._sort is not False:
        expr = map_partitions_expr(
            sort_by_keys, expr, nkeys=len(keys), label="sort-keys", passthrough=True
        )
    result = groupby._named_keys(new_collection(expr))
    if groupby._as_index:
        return result
    return result.reset_index()
