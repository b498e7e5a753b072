"""Reshaping: ``pivot_table``, ``crosstab``, ``get_dummies``, ``melt``.

A partitioned frame must know its output columns before anything runs, so
the values that become columns (``pivot_table``'s and ``crosstab``'s
``columns``, ``get_dummies``' encoded columns) must be categoricals with
known categories (``categorize()`` or ``astype(pd.CategoricalDtype([...]))``).
Every category is a column, whether or not it occurs (pandas'
``observed=False, dropna=False``).

``pivot_table`` and ``crosstab`` are tree reductions (``reductions.py``):
each partition aggregates its rows per (index value, category) in long
form, groups of these are merged (sums, counts, extremes, first/last), and
the last step lets pandas pivot the merged cells, so the output is pandas'
own layout in one partition. ``get_dummies`` and ``melt`` work partition by
partition (``melt``'s rows come partition by partition, each with its own
0-based index).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import map_partitions_expr
from shoal.dataframe.meta import has_known_categories, meta_nonempty
from shoal.dataframe.reductions import reduction

__all__ = ["pivot_table", "crosstab", "get_dummies", "melt"]

# per aggregation: the partial results each partition keeps, and how partials merge
_PARTIALS = {
    "sum": ("sum",),
    "count": ("count",),
    "mean": ("sum", "count"),
    "min": ("min",),
    "max": ("max",),
    "first": ("first",),
    "last": ("last",),
}
_MERGE = {
    "sum": "sum",
    "count": "sum",
    "min": "min",
    "max": "max",
    "first": "first",
    "last": "last",
}


def _new(expr: Any) -> Any:
    from shoal.dataframe.collection import new_collection

    return new_collection(expr)


def _require_known(meta: Any, column: Any, what: str) -> None:
    dtype = meta[column].dtype
    if not isinstance(dtype, pd.CategoricalDtype) or not has_known_categories(dtype):
        kind = "unknown categories" if isinstance(dtype, pd.CategoricalDtype) else dtype
        raise ValueError(
            f"{what}: column {column!r} ({kind}) becomes output columns, which must be known "
            f"before computing: make it categorical with known categories first, e.g. "
            f"df.categorize(columns=[{column!r}]) or "
            f"df.astype({{{column!r}: pd.CategoricalDtype([...])}})"
        )


# ------------------------------------------------------------- pivot_table


def pivot_chunk(
    part: pd.DataFrame, index: Any, columns: Any, values: list, aggfunc: str, single: Any = None
):
    """Per (index value, category): the partial aggregates of each value."""
    grouped = part.groupby([index, columns], observed=True, sort=False, dropna=False)[values]
    return grouped.agg(list(_PARTIALS[aggfunc]))


def pivot_combine(
    parts: list, index: Any, columns: Any, values: list, aggfunc: str, single: Any = None
):
    """Partials of several groups of partitions merged into one."""
    both = concat_frames(parts)
    merges = {col: _MERGE.get(col[1], "sum") for col in both.columns}
    return both.groupby(level=[0, 1], observed=True, sort=False, dropna=False).agg(merges)


def pivot_aggregate(
    parts: list, index: Any, columns: Any, values: list, aggfunc: str, single: Any = None
):
    """The pivoted table: merged cells, pivoted by pandas (the columns of
    value ``single`` only, when one value column was asked by name)."""
    merged = pivot_combine(parts, index, columns, values, aggfunc)
    if aggfunc == "mean":
        cells = {v: merged[(v, "sum")] / merged[(v, "count")] for v in values}
    else:
        cells = {v: merged[(v, aggfunc)] for v in values}
    long = pd.DataFrame(cells, index=merged.index).reset_index()
    final = "sum" if aggfunc == "count" else aggfunc  # one merged cell per group
    out = long.pivot_table(
        index=index,
        columns=columns,
        values=values,
        aggfunc=final,
        observed=False,
        dropna=False,
    )
    if aggfunc == "count":
        out = out.astype("int64")
    return out if single is None else out[single]


def pivot_table(
    df: Any,
    index: Any,
    columns: Any,
    values: Any = None,
    aggfunc: str = "mean",
    split_every: int | None = None,
) -> Any:
    """A spreadsheet-style pivot: one row per ``index`` value, one column
    per category of ``columns`` (known categories), cells ``aggfunc`` of
    ``values`` (``mean sum count min max first last``). Unobserved
    categories are columns too (pandas' ``observed=False, dropna=False``).

    >>> import shoal.dataframe as sd
    >>> pdf = pd.DataFrame({"k": pd.Categorical(list("abab"), categories=list("abc")),
    ...                     "i": [1, 1, 2, 2], "v": [1.0, 2.0, 3.0, 4.0]})
    >>> sd.from_pandas(pdf, npartitions=2).pivot_table("i", "k", "v", "sum").compute()
    k    a    b    c
    i...
    1  1.0  2.0  0.0
    2  3.0  4.0  0.0
    """
    if aggfunc not in _PARTIALS:
        raise ValueError(
            f"pivot_table: aggfunc must be one of {sorted(_PARTIALS)}, got {aggfunc!r}"
        )
    names = [index, columns] + (
        [] if values is None else (list(values) if isinstance(values, list) else [values])
    )
    for name in names:
        if not isinstance(name, (str, int, float, tuple)):
            raise TypeError(f"pivot_table: index=, columns= and values= name columns, got {name!r}")
    df._check_columns(names, "pivot_table")
    _require_known(df._meta, columns, "pivot_table")
    if values is None:
        value_list = [c for c in df.columns if c not in (index, columns)]
    else:
        value_list = list(values) if isinstance(values, list) else [values]
    kwargs = {"index": index, "columns": columns, "values": value_list, "aggfunc": aggfunc}
    single = None if isinstance(values, list) else values
    kwargs = {**kwargs, "single": single}
    fake = meta_nonempty(df._meta)
    meta = pivot_aggregate([pivot_chunk(fake, **kwargs)], **kwargs).iloc[:0]
    expr = reduction(
        df[[index, columns, *value_list]]._expr,
        pivot_chunk,
        pivot_combine,
        pivot_aggregate,
        meta,
        "pivot-table",
        split_every,
        chunk_kwargs=kwargs,
        kwargs=kwargs,
    )
    return _new(expr)


# ----------------------------------------------------------------- crosstab


def crosstab(index: Any, columns: Any, split_every: int | None = None) -> Any:
    """Counts of each pair of (``index`` value, ``columns`` category) of two
    aligned Series; ``columns`` needs known categories (every category is a
    column, as ``pd.crosstab(..., dropna=False)``).

    >>> import shoal.dataframe as sd
    >>> pdf = pd.DataFrame({"a": [1, 1, 2], "b": pd.Categorical(list("xyx"), categories=list("xyz"))})
    >>> df = sd.from_pandas(pdf, npartitions=2)
    >>> sd.crosstab(df.a, df.b).compute()
    b  x  y  z
    a...
    1  1  1  0
    2  1  0  0
    """
    from shoal.dataframe.series import Series

    if not isinstance(index, Series) or not isinstance(columns, Series):
        raise TypeError("crosstab takes two shoal Series (index and columns)")
    row_name = index.name if index.name is not None else "row_0"
    col_name = columns.name if columns.name is not None else "col_0"
    if row_name == col_name:
        raise ValueError(f"crosstab: index and columns are both named {row_name!r}; rename one")
    frame = index.to_frame(row_name).assign(**{col_name: columns})
    _require_known(frame._meta, col_name, "crosstab")
    counted = frame.assign(__count__=1)
    out = pivot_table(counted, row_name, col_name, "__count__", "count", split_every)
    return out


# ------------------------------------------------------------- get_dummies


def _dummies(part: Any, **kwargs: Any) -> Any:
    return pd.get_dummies(part, **kwargs)


def get_dummies(
    data: Any,
    prefix: Any = None,
    prefix_sep: str = "_",
    dummy_na: bool = False,
    columns: list | None = None,
    drop_first: bool = False,
    dtype: Any = bool,
) -> Any:
    """One indicator column per category (as ``pd.get_dummies``): the
    encoded columns (``columns``, or every categorical, string and object
    column) must be categoricals with known categories.

    >>> import shoal.dataframe as sd
    >>> s = pd.Series(pd.Categorical(list("aba"), categories=list("abc")), name="k")
    >>> sd.get_dummies(sd.from_pandas(s, npartitions=2)).compute().sum().tolist()
    [2, 1, 0]
    """
    from shoal.dataframe.collection import FrameBase

    if not isinstance(data, FrameBase):
        raise TypeError(f"get_dummies takes a shoal DataFrame or Series, got {type(data).__name__}")
    meta = data._meta
    if isinstance(meta, pd.Series):
        _require_known(meta.to_frame("__series__"), "__series__", "get_dummies")
    else:
        if columns is None:
            columns = [
                c
                for c, d in meta.dtypes.items()
                if isinstance(d, pd.CategoricalDtype)
                or pd.api.types.is_object_dtype(d)
                or isinstance(d, pd.StringDtype)
            ]
        data._check_columns(columns, "get_dummies")
        for c in columns:
            _require_known(meta, c, "get_dummies")
    kwargs = {
        "prefix": prefix,
        "prefix_sep": prefix_sep,
        "dummy_na": dummy_na,
        "columns": columns,
        "drop_first": drop_first,
        "dtype": dtype,
    }
    if isinstance(meta, pd.Series):
        del kwargs["columns"]
    return _new(map_partitions_expr(_dummies, data._expr, label="get-dummies", **kwargs))


# --------------------------------------------------------------------- melt


def melt(
    frame: Any,
    id_vars: Any = None,
    value_vars: Any = None,
    var_name: Any = None,
    value_name: Any = "value",
) -> Any:
    """Unpivot to long form (``pd.melt``), partition by partition: rows come
    partition by partition (pandas orders them by variable first), and each
    partition's index starts at 0.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"k": [1, 2], "a": [3, 4], "b": [5, 6]}), npartitions=2)
    >>> sd.melt(df, id_vars="k").compute().value.tolist()
    [3, 5, 4, 6]
    """
    for arg in (id_vars, value_vars):
        if arg is not None:
            frame._check_columns(arg if isinstance(arg, list) else [arg], "melt")
    return _new(
        map_partitions_expr(
            pd.melt,
            frame._expr,
            id_vars=id_vars,
            value_vars=value_vars,
            var_name=var_name,
            value_name=value_name,
            label="melt",
        )
    )
