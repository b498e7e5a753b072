"""``DataFrame``: a partitioned pandas DataFrame (column selection,
assignment, row-wise apply, groupby, writers)."""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import pandas as pd

from shoal.dataframe import reductions as red
from shoal.dataframe.collection import (
    Elementwise,
    FrameBase,
    new_collection,
)
from shoal.dataframe.expr import (
    Assign,
    Filter,
    Projection,
    align,
    check_aligned,
    map_partitions_expr,
)
from shoal.dataframe.meta import declared_meta, emulate, is_frame_like

__all__ = ["DataFrame"]


class DataFrame(Elementwise):
    """A partitioned pandas DataFrame.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"x": [1, 2, 3, 4], "y": list("abcd")}), npartitions=2)
    >>> df.npartitions, df.columns.tolist(), df.divisions
    (2, ['x', 'y'], (0, 2, 3))
    >>> df[df.x > 1].x.sum().compute()
    np.int64(9)
    """

    @property
    def dtypes(self) -> pd.Series:
        """The column dtypes."""
        return self._meta.dtypes

    # ---- day-one API

    @property
    def columns(self) -> pd.Index:
        """The column labels, a ``pandas.Index`` (from meta)."""
        return self._meta.columns

    @columns.setter
    def columns(self, labels) -> None:
        renamed = self._meta.set_axis(pd.Index(labels), axis=1).columns
        back = dict(zip(renamed, self._meta.columns)) if renamed.is_unique else False
        new = self._method("set_axis", renamed, axis=1, passthrough=back)
        self._expr = new._expr
        self._optimized_cache = None

    def __getitem__(self, key):
        if isinstance(key, FrameBase) and isinstance(key._meta, pd.Series):
            if key._meta.dtype != bool and str(key._meta.dtype) != "boolean":
                raise TypeError(f"a boolean filter needs a bool Series, got {key._meta.dtype}")
            base, mask = align(self._expr, key._expr)
            check_aligned(base, mask, what="boolean filter")
            return new_collection(Filter(base, mask))
        if isinstance(key, list):
            self._check_columns(key, "selection")
            return new_collection(Projection(self._expr, list(key)))
        if isinstance(key, (str, int, float, tuple)) or np.isscalar(key):
            self._check_columns([key], "selection")
            return new_collection(Projection(self._expr, key))
        if isinstance(key, (pd.Index, pd.Series)) and key.dtype != bool:
            return self[list(key)]  # labels, as pandas (a bool pandas mask cannot align)
        raise TypeError(f"cannot index a DataFrame with {type(key).__name__}")

    def __getattr__(self, name: str):
        expr = self.__dict__.get("_expr")
        # columns named like "_x" are attributes too, as in pandas; dunders never are
        if expr is not None and not name.startswith("__") and name in expr.columns:
            return self[name]
        if name.startswith("_"):
            raise AttributeError(name)
        cols = expr.columns if expr is not None else []
        close = difflib.get_close_matches(name, [str(c) for c in cols], n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise AttributeError(f"DataFrame has no attribute or column {name!r}{hint}")

    def __dir__(self):
        return list(super().__dir__()) + [c for c in self.columns if isinstance(c, str)]

    def __setitem__(self, key, value):
        new = self.assign(**{key: value}) if isinstance(key, str) else None
        if new is None:
            raise TypeError("df[key] = value needs a string column name")
        self._expr = new._expr
        self._optimized_cache = None

    def assign(self, **kwargs):
        """New columns from aligned Series, scalars or callables of the frame."""
        pairs: list = []
        for name, value in kwargs.items():
            if callable(value) and not isinstance(value, FrameBase):
                value = value(self)
            if isinstance(value, DataFrame):
                raise TypeError(f"assign {name}=: expected a Series or scalar, got a DataFrame")
            if isinstance(value, FrameBase):
                value = value._expr
            elif is_frame_like(value):
                raise TypeError(f"assign {name}=: wrap pandas objects with from_pandas first")
            pairs += [name, value]
        base, *values = align(self._expr, *pairs[1::2])
        check_aligned(base, *values, what="assign")
        pairs[1::2] = values
        return new_collection(Assign(base, tuple(pairs)))

    def mode(self, dropna: bool = True, split_every=None):
        """The most frequent value(s) of every column, sorted, one row per
        mode; shorter columns are padded with missing values (integer and
        boolean columns of a multi-column frame are float64 and object, the
        dtypes pandas gives when it pads)."""
        from shoal.dataframe.describe import mode_expr

        return new_collection(mode_expr(self, dropna, split_every))

    def rename(self, columns=None):
        """Rename columns with a dict or a function."""
        if columns is None:
            raise TypeError("rename needs columns= (a dict or a function)")
        if isinstance(columns, dict):
            self._check_columns(list(columns), "rename")
            back = {new: old for old, new in columns.items()}
            if len(back) == len(columns) and not set(back) & (set(self.columns) - set(columns)):
                return self._method("rename", columns=columns, passthrough=back)
        return self._method("rename", columns=columns)

    def drop(self, columns=None, labels=None, axis: int = 0, errors: str = "raise"):
        """Drop columns (``columns=`` or ``labels=`` with ``axis=1``)."""
        if columns is None and axis in (1, "columns"):
            columns = labels
        if columns is None:
            raise NotImplementedError("drop supports columns only (columns= or axis=1)")
        cols = columns if isinstance(columns, list) else [columns]
        if errors == "raise":
            self._check_columns(cols, "drop")
        return self[[c for c in self.columns if c not in cols]]

    def select_dtypes(self, include=None, exclude=None):
        """Columns of the given dtypes (decided from meta, no computation)."""
        kept = self._meta.select_dtypes(include=include, exclude=exclude).columns
        return self[list(kept)]

    def query(self, expr: str, **kwargs):
        """Rows matching a boolean expression over columns."""
        return self._method("query", expr, **kwargs)

    def eval(self, expr: str, **kwargs):
        """Evaluate an expression over columns (``"z = x + y"`` assigns)."""
        return self._method("eval", expr, **kwargs)

    def apply(self, func, axis: int = 1, meta=None, args: tuple = (), **kwargs):
        """``func(row)`` for every row (axis=1 only); give ``meta`` to skip inference."""
        if axis not in (1, "columns"):
            raise NotImplementedError("DataFrame.apply supports axis=1 only")
        if meta is None:
            meta = emulate(
                _apply_rows, self._meta, func, args, None, fname="apply", nonempty=True, **kwargs
            )
        meta = declared_meta(meta, self._meta)
        expr = map_partitions_expr(
            _apply_rows,
            self._expr,
            func,
            args,
            meta,
            meta=meta,
            enforce=True,
            label="apply",
            **kwargs,
        )
        return new_collection(expr)

    def groupby(
        self,
        by=None,
        level=None,
        sort: bool | None = None,
        dropna: bool = True,
        observed: bool = True,
        as_index: bool = True,
        group_keys: bool = True,
    ):
        """Group rows by columns, aligned Series (``df.a > 2``), index level
        names or ``level=``, or a list mixing them, as pandas; with
        ``as_index=False`` aggregations return the keys as columns;
        ``group_keys=False`` leaves the keys out of ``apply``'s index."""
        from shoal.dataframe.groupby import GroupBy

        return GroupBy(
            self,
            by=by,
            level=level,
            sort=sort,
            dropna=dropna,
            observed=observed,
            as_index=as_index,
            group_keys=group_keys,
        )

    def nlargest(self, n: int, columns, split_every=None):
        """The ``n`` rows with the largest ``columns``."""
        self._check_columns(columns if isinstance(columns, list) else [columns], "nlargest")
        return self._nbest("nlargest", n, split_every, columns=columns)

    def nsmallest(self, n: int, columns, split_every=None):
        """The ``n`` rows with the smallest ``columns``."""
        self._check_columns(columns if isinstance(columns, list) else [columns], "nsmallest")
        return self._nbest("nsmallest", n, split_every, columns=columns)

    def to_parquet(self, path, **kwargs):
        """Write one parquet file per partition (see ``shoal.dataframe.to_parquet``)."""
        from shoal.dataframe.parquet import to_parquet

        return to_parquet(self, path, **kwargs)

    def cov(self, min_periods: int | None = None, ddof: int = 1, split_every=None):
        """Pairwise covariance of the numeric columns (pairwise-complete rows,
        combined with Chan's parallel algorithm)."""
        return self._cov(False, min_periods, split_every, ddof)

    def corr(self, method: str = "pearson", min_periods: int | None = None, split_every=None):
        """Pairwise Pearson correlation of the numeric columns."""
        if method != "pearson":
            raise NotImplementedError(f"corr supports method='pearson', got {method!r}")
        return self._cov(True, min_periods, split_every)

    def _cov(self, corr, min_periods, split_every, ddof=1):
        frame = self.select_dtypes(include=["number", "bool"])
        columns = frame.columns
        meta = pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
        expr = red.reduction(
            frame._expr,
            red.chunk_cov,
            red.combine_cov,
            red.aggregate_cov,
            meta,
            "corr" if corr else "cov",
            split_every,
            kwargs={
                "columns": list(columns),
                "corr": corr,
                "min_periods": min_periods,
                "ddof": ddof,
            },
        )
        return new_collection(expr)

    def categorize(self, columns: list | None = None, split_every=None):
        """Cast columns (default: all string columns) to categoricals whose
        categories are the values found in the data, in order of first
        appearance. Computes the distinct values now."""
        if columns is None:
            columns = [
                c
                for c, d in self.dtypes.items()
                if pd.api.types.is_object_dtype(d) or isinstance(d, pd.StringDtype)
            ]
        self._check_columns(columns, "categorize")
        if not columns:
            return self
        uniques = self[columns]._distinct(split_every)
        dtypes = {c: pd.CategoricalDtype(uniques[c].dropna().tolist()) for c in columns}
        return self.astype(dtypes)

    def to_json(self, path, **kwargs):
        """Write JSON lines (see ``shoal.dataframe.to_json``)."""
        from shoal.dataframe.json import to_json

        return to_json(self, path, **kwargs)

    def to_csv(self, path, **kwargs):
        """Write CSV (see ``shoal.dataframe.to_csv``)."""
        from shoal.dataframe.csv import to_csv

        return to_csv(self, path, **kwargs)

    # ---- shuffles, joins, sorting

    def shuffle(
        self,
        on,
        npartitions: int | None = None,
        shuffle_method: str | None = None,
        max_branch: int | None = None,
        ignore_index: bool | None = False,
    ):
        """Rows moved so that equal values of ``on`` (a column, a list of
        columns, or an aligned Series or DataFrame) share a partition:
        ``npartitions`` (default: as many as now) hash-partitioned partitions,
        rows in their input order within each. ``shuffle_method``:
        ``"tasks"``, ``"disk"`` or None (config ``dataframe.shuffle.method``,
        else automatic). ``ignore_index=True`` gives each partition a 0-based
        index (as Dask).

        >>> import shoal.dataframe as sd
        >>> df = sd.from_pandas(pd.DataFrame({"k": [1, 2, 1, 2]}), npartitions=2)
        >>> out = df.shuffle(df[["k"]], npartitions=2, ignore_index=True)
        >>> sorted(len(set(p.compute().k)) for p in out.partitions)
        [1, 1]
        """
        from shoal.dataframe.series import Series
        from shoal.dataframe.shuffle import check_shuffle_method, max_branch_of, shuffle_expr

        npartitions = self.npartitions if npartitions is None else npartitions
        if isinstance(npartitions, bool) or not isinstance(npartitions, int) or npartitions < 1:
            raise ValueError(
                f"shuffle: npartitions must be a positive integer, got {npartitions!r}"
            )
        check_shuffle_method(shuffle_method)
        if max_branch is not None:
            max_branch_of(max_branch)
        if ignore_index:
            moved = self.shuffle(on, npartitions, shuffle_method, max_branch)
            return moved.map_partitions(_drop_index)
        if isinstance(on, (Series, DataFrame)):
            keys = on.to_frame() if isinstance(on, Series) else on
            names = [f"__shoal_shuffle_key_{i}__" for i in range(len(keys.columns))]
            extra = {n: keys[c] for n, c in zip(names, keys.columns)}
            moved = self.assign(**extra).shuffle(names, npartitions, shuffle_method, max_branch)
            return moved[[c for c in moved.columns if c not in extra]]
        cols = list(on) if isinstance(on, (list, tuple, pd.Index, pd.Series)) else [on]
        if not cols:
            raise ValueError("shuffle: on= needs at least one column")
        self._check_columns(cols, "shuffle")
        return new_collection(
            shuffle_expr(self._expr, tuple(cols), npartitions, shuffle_method, max_branch)
        )

    def merge(
        self,
        right,
        how: str = "inner",
        on=None,
        left_on=None,
        right_on=None,
        left_index: bool = False,
        right_index: bool = False,
        suffixes: tuple = ("_x", "_y"),
        indicator: bool = False,
        npartitions: int | None = None,
        shuffle_method: str | None = None,
        broadcast: bool | None = None,
    ):
        """Join with another frame as ``pandas.merge`` (see ``shoal.dataframe.merge``)."""
        from shoal.dataframe.merge import merge

        return merge(
            self,
            right,
            how=how,
            on=on,
            left_on=left_on,
            right_on=right_on,
            left_index=left_index,
            right_index=right_index,
            suffixes=suffixes,
            indicator=indicator,
            npartitions=npartitions,
            shuffle_method=shuffle_method,
            broadcast=broadcast,
        )

    def join(
        self,
        other,
        on=None,
        how: str = "left",
        lsuffix: str = "",
        rsuffix: str = "",
        npartitions: int | None = None,
        shuffle_method: str | None = None,
        broadcast: bool | None = None,
    ):
        """Join other frames on their index, as ``pandas.DataFrame.join``
        (``other`` may be a list of frames)."""
        from shoal.dataframe.merge import join

        return join(
            self,
            other,
            on=on,
            how=how,
            lsuffix=lsuffix,
            rsuffix=rsuffix,
            npartitions=npartitions,
            shuffle_method=shuffle_method,
            broadcast=broadcast,
        )

    # ---- time series and reshaping

    def pivot_table(self, index, columns, values=None, aggfunc: str = "mean", split_every=None):
        """Spreadsheet-style pivot (see ``shoal.dataframe.pivot_table``);
        ``columns`` must be a categorical with known categories."""
        from shoal.dataframe.reshape import pivot_table

        return pivot_table(self, index, columns, values, aggfunc, split_every)

    def melt(self, id_vars=None, value_vars=None, var_name=None, value_name="value"):
        """Unpivot to long form, partition by partition (see
        ``shoal.dataframe.melt``)."""
        from shoal.dataframe.reshape import melt

        return melt(self, id_vars, value_vars, var_name, value_name)

    def set_index(
        self,
        other,
        drop: bool = True,
        sorted: bool = False,
        divisions=None,
        npartitions: int | None = None,
        shuffle_method: str | None = None,
        max_branch: int | None = None,
        sort: bool = True,
        append: bool = False,
    ):
        """The frame indexed by column ``other``, sorted across partitions
        with known divisions: from approximate quantiles of the data (one
        pass, then a range shuffle), from ``divisions=``, or with
        ``sorted=True`` from each partition's extremes (no shuffle).
        ``other`` may also be a one-item list of a column, or a Series or
        Index partitioned like the frame (as pandas: the index takes its
        name, no column is dropped); the frame's own index returns the frame.
        ``sort=False`` sets the index in each partition as it is (pandas'
        ``drop``/``append`` apply; divisions become unknown).

        >>> import shoal.dataframe as sd
        >>> df = sd.from_pandas(pd.DataFrame({"k": [3, 1, 2]}), npartitions=2)
        >>> df.set_index(df.k * 10).compute().index.tolist()
        [10, 20, 30]
        >>> df.set_index(["k"], sort=False).compute().index.tolist()
        [3, 1, 2]
        """
        from shoal.dataframe.series import Index, Series
        from shoal.dataframe.sort import set_index

        other = _one_key(other)
        if isinstance(other, Index) and other.expr._name == self.index.expr._name:
            return self
        if not sort:
            if isinstance(other, (Series, Index)):
                raise NotImplementedError(
                    "set_index(sort=False) takes a column name; a Series or Index needs sort=True"
                )
            self._check_columns([other], "set_index")
            meta = self._meta.set_index(other, drop=drop, append=append)
            return self.map_partitions(
                _set_index_unsorted, other, drop, append, meta=meta
            ).clear_divisions()
        if append:
            raise NotImplementedError(
                "set_index(append=True) builds a MultiIndex, which shoal dataframe does not "
                "yet support with sort=True; use sort=False"
            )
        if isinstance(other, (Series, Index)):
            tmp = "__set_index__"
            while tmp in self.columns:
                tmp = "_" + tmp
            if isinstance(other, Series):
                with_key = self.assign(**{tmp: other})
            else:  # an index lines up by position: its divisions are of other values
                base = self if other.known_divisions else self.clear_divisions()
                with_key = base.map_partitions(
                    _index_as_column, other, tmp, meta=self._meta.assign(**{tmp: other._meta})
                )
            out = set_index(
                with_key, tmp, True, sorted, divisions, npartitions, shuffle_method, max_branch
            )
            return out.map_partitions(_name_index, other.name)
        return set_index(
            self, other, drop, sorted, divisions, npartitions, shuffle_method, max_branch
        )

    def sort_values(
        self,
        by,
        ascending=True,
        na_position: str = "last",
        npartitions: int | None = None,
        shuffle_method: str | None = None,
        max_branch: int | None = None,
        sort_function=None,
        sort_function_kwargs: dict | None = None,
    ):
        """Rows sorted by the columns ``by`` (``ascending`` one bool or one per
        column), stably: equal keys keep their input order; a key holding
        most rows is spread over several partitions. ``sort_function(part,
        by=, ascending=, na_position=, **sort_function_kwargs)`` replaces the
        final per-partition sort, as in Dask.

        >>> import shoal.dataframe as sd
        >>> df = sd.from_pandas(pd.DataFrame({"k": [2, 1, 2], "v": [0, 1, 2]}), npartitions=2)
        >>> def by_k_then_v_desc(part, by, ascending, na_position):
        ...     return part.sort_values([by, "v"], ascending=[ascending, False])
        >>> df.sort_values("k", sort_function=by_k_then_v_desc).compute().v.tolist()
        [1, 2, 0]
        """
        from shoal.dataframe.sort import sort_values

        return sort_values(
            self,
            by,
            ascending,
            na_position,
            npartitions,
            shuffle_method,
            max_branch,
            sort_function,
            sort_function_kwargs,
        )


def _drop_index(part: pd.DataFrame) -> pd.DataFrame:
    return part.reset_index(drop=True)


def _name_index(part: pd.DataFrame, name: Any) -> pd.DataFrame:
    return part.rename_axis(index=name)


def _one_key(other: Any) -> Any:
    """The key of ``set_index``: a one-item list is its item; longer lists
    (or nested ones) would build a MultiIndex."""
    if not isinstance(other, list):
        return other
    if len(other) == 1 and not isinstance(other[0], list):
        return other[0]
    raise NotImplementedError(
        f"shoal dataframe does not yet support multi-indexes: set_index takes one column, "
        f"got {other!r}"
    )


def _set_index_unsorted(part: pd.DataFrame, col: Any, drop: bool, append: bool) -> pd.DataFrame:
    return part.set_index(col, drop=drop, append=append)


def _index_as_column(part: pd.DataFrame, index: pd.Index, name: str) -> pd.DataFrame:
    if len(index) != len(part):
        raise ValueError(
            f"set_index: a partition of the index has {len(index)} rows, the frame's {len(part)}"
        )
    return part.assign(**{name: index.to_numpy()})


def _apply_rows(df, func, args, empty, **kwargs):
    if len(df) == 0 and empty is not None:
        return empty
    return df.apply(func, axis=1, args=args, **kwargs)
