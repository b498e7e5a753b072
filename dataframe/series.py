"""``Series``, ``Index`` and ``Scalar``: a partitioned pandas Series, the
index of a collection, and a lazy single value."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from shoal.dataframe import reductions as red
from shoal.dataframe.accessors import Accessor, CatAccessor
from shoal.dataframe.collection import Elementwise, FrameBase, first_partition, new_collection
from shoal.dataframe.expr import Filter, align, check_aligned, map_partitions_expr
from shoal.dataframe.meta import declared_meta
from shoal.dataframe.monotonic import MonotonicMethods
from shoal.dataframe.reduction_methods import check_split_out

__all__ = ["Series", "Index", "Scalar"]


def _map_values(s, arg, na_action):
    return s.map(arg, na_action=na_action)


def _apply_values(s, func, args, empty, **kwargs):
    if len(s) == 0 and empty is not None:  # pandas types an empty result by guessing
        return empty
    return s.apply(func, args=args, **kwargs)


class Series(MonotonicMethods, Elementwise):
    """A partitioned pandas Series.

    >>> import shoal.dataframe as sd
    >>> s = sd.from_pandas(pd.Series([3, 1, 2], name="v"), npartitions=2)
    >>> (s * 2).max().compute()
    np.int64(6)
    """

    @property
    def name(self):
        """The Series name."""
        return self._meta.name

    @property
    def dtype(self):
        """The Series dtype."""
        return self._meta.dtype

    def __getitem__(self, key):
        if not isinstance(key, Series):
            raise TypeError("a Series can be indexed by a boolean Series; use loc for labels")
        if key._meta.dtype != bool and str(key._meta.dtype) != "boolean":
            raise TypeError(f"a boolean filter needs a bool Series, got {key._meta.dtype}")
        base, mask = align(self._expr, key._expr)
        check_aligned(base, mask, what="boolean filter")
        return new_collection(Filter(base, mask))

    def rename(self, name):
        """Rename the Series."""
        return self._method("rename", name)

    def reset_index(self, drop: bool = False, name=None):
        """The index numbered 0..n-1 across partitions; unless ``drop``, a
        DataFrame with the old index and the values in column ``name``
        (default: the Series' name, as pandas).

        >>> import shoal.dataframe as sd
        >>> s = sd.from_pandas(pd.Series([5, 6], index=["a", "b"]), npartitions=2)
        >>> s.reset_index(name="n").compute().columns.tolist()
        ['index', 'n']
        """
        from shoal.dataframe.sort import reset_index

        return reset_index(self if name is None or drop else self.rename(name), drop)

    def to_frame(self, name=None):
        """A one-column DataFrame."""
        return self._method("to_frame", *([] if name is None else [name]))

    def map(self, arg, na_action=None, meta=None):
        """Map values through a function, dict or Series."""
        given = None if meta is None else declared_meta(meta, self._meta)
        return new_collection(
            map_partitions_expr(
                _map_values,
                self._expr,
                arg,
                na_action,
                meta=given,
                label="map",
                nonempty=True,
                enforce=True,
            )
        )

    # ---- day-one API

    def apply(self, func: Callable, convert_dtype=None, args: tuple = (), meta=None, **kwargs):
        """``func`` on every value, as pandas' ``Series.apply`` per partition;
        ``meta`` (a dtype, a ``(name, dtype)`` tuple, an empty pandas object)
        skips inferring the result type on fake values.

        >>> import shoal.dataframe as sd
        >>> s = sd.from_pandas(pd.Series([1, 2, 3], name="v"), npartitions=2)
        >>> s.apply(lambda x: x * 10, meta="int64").compute().tolist()
        [10, 20, 30]
        """
        if convert_dtype is not None:
            raise TypeError("Series.apply: convert_dtype= was removed from pandas; drop it")
        given = None if meta is None else declared_meta(meta, self._meta)
        return new_collection(
            map_partitions_expr(
                _apply_values,
                self._expr,
                func,
                args,
                given,
                meta=given,
                label="apply",
                nonempty=True,
                enforce=given is not None,
                **kwargs,
            )
        )

    def between(self, left, right, inclusive: str = "both"):
        """Whether values lie between ``left`` and ``right``."""
        return self._method("between", left, right, inclusive=inclusive, passthrough=True)

    def value_counts(
        self,
        sort: bool = True,
        ascending: bool = False,
        dropna: bool = True,
        normalize: bool = False,
        split_every=None,
        split_out: int = 1,
    ):
        """Counts of distinct values: one output partition, or ``split_out``
        hash-partitioned ones (each sorted on its own). Ties keep no
        particular order."""
        check_split_out(split_out)
        if normalize and split_out > 1:
            raise ValueError("value_counts(normalize=True) needs split_out=1 (one total)")
        meta = pd.Series(
            [],
            dtype="float64" if normalize else "int64",
            name="proportion" if normalize else "count",
            index=pd.Index([], dtype=self._meta.dtype, name=self.name),
        )
        chunk: Callable[..., Any] = red.chunk_value_counts
        chunk_kw: dict[str, Any] = {"dropna": dropna}
        if split_out > 1:
            chunk_kw = {"k": split_out, "chunk": chunk, "on_index": True, "dropna": dropna}
            chunk = red.chunk_split
        expr = red.reduction(
            self._expr,
            chunk,
            red.combine_value_counts,
            red.aggregate_value_counts,
            meta,
            "value-counts",
            split_every,
            split_out=split_out,
            chunk_kwargs=chunk_kw,
            kwargs={
                "dropna": dropna,
                "sort": sort,
                "ascending": ascending,
                "normalize": normalize,
                "name": self.name,
            },
        )
        return new_collection(expr)

    def unique(self, split_every=None, split_out: int = 1):
        """Distinct values as a Series (in order of first appearance), or
        ``split_out`` partitions of hash-partitioned distinct values."""
        check_split_out(split_out)
        chunk: Callable[..., Any] = red.chunk_drop_duplicates
        chunk_kw: dict[str, Any] = {}
        if split_out > 1:
            chunk, chunk_kw = red.chunk_split, {"k": split_out, "chunk": chunk}
        expr = red.reduction(
            self._expr,
            chunk,
            red.combine_unique,
            red.aggregate_unique,
            self._meta.reset_index(drop=True),
            "unique",
            split_every,
            chunk_kwargs=chunk_kw,
            kwargs={"name": self.name},
            split_out=split_out,
        )
        return new_collection(expr)

    def cov(self, other: Series, min_periods: int | None = None, ddof: int = 1, split_every=None):
        """Covariance with another Series (rows where both are present)."""
        return self._pair(other, False, min_periods, split_every, ddof)

    def corr(
        self,
        other: Series,
        method: str = "pearson",
        min_periods: int | None = None,
        split_every=None,
    ):
        """Pearson correlation with another Series."""
        if method != "pearson":
            raise NotImplementedError(f"corr supports method='pearson', got {method!r}")
        return self._pair(other, True, min_periods, split_every)

    def _pair(self, other, corr, min_periods, split_every, ddof=1):
        if not isinstance(other, Series):
            raise TypeError(f"expected a shoal Series, got {type(other).__name__}")
        both = self.to_frame("a").assign(b=other)
        expr = red.reduction(
            both._expr,
            red.chunk_cov,
            red.combine_cov,
            red.aggregate_series_cov,
            np.float64(0),
            "corr" if corr else "cov",
            split_every,
            kwargs={"corr": corr, "min_periods": min_periods, "ddof": ddof},
        )
        return new_collection(expr)

    def mode(self, dropna: bool = True, split_every=None):
        """The most frequent value(s), sorted, as a Series."""
        meta = pd.Series([], dtype=self._meta.dtype, name=self.name)
        expr = red.reduction(
            self._expr,
            red.chunk_value_counts,
            red.combine_value_counts,
            red.aggregate_mode,
            meta,
            "mode",
            split_every,
            chunk_kwargs={"dropna": dropna},
            kwargs={"dropna": dropna, "name": self.name},
        )
        return new_collection(expr)

    def nlargest(self, n: int = 5, split_every=None):
        """The ``n`` largest values."""
        return self._nbest("nlargest", n, split_every)

    def nsmallest(self, n: int = 5, split_every=None):
        """The ``n`` smallest values."""
        return self._nbest("nsmallest", n, split_every)

    def groupby(
        self,
        by=None,
        level=None,
        sort: bool | None = None,
        dropna: bool = True,
        observed: bool = True,
        group_keys: bool = True,
    ):
        """Group the Series by aligned Series or index levels."""
        from shoal.dataframe.groupby import SeriesGroupBy

        unnamed = self.name is None
        frame = self.to_frame("__series__") if unnamed else self.to_frame()
        grouped = SeriesGroupBy(
            frame,
            by=by,
            level=level,
            sort=sort,
            dropna=dropna,
            observed=observed,
            selection="__series__" if unnamed else self.name,
            group_keys=group_keys,
        )
        grouped._result_name = None if unnamed else self.name
        return grouped

    @property
    def str(self):
        """Vectorized string methods, per partition."""
        return Accessor(self, "str")

    @property
    def dt(self):
        """Datetime properties and methods, per partition."""
        return Accessor(self, "dt")

    @property
    def cat(self):
        """Categorical properties and methods, per partition (categories are
        those of meta: known categories)."""
        return CatAccessor(self, "cat")

    def as_known(self, split_every=None):
        """A categorical Series with the categories found in the data."""
        if not isinstance(self.dtype, pd.CategoricalDtype):
            raise TypeError(f"as_known needs a categorical Series, got dtype {self.dtype}")
        values = self._distinct(split_every)
        return self.astype(
            pd.CategoricalDtype(values.dropna().tolist(), ordered=self.dtype.ordered)
        )

    # ---- shuffles, joins, sorting

    def sort_values(
        self,
        ascending: bool = True,
        na_position: builtins.str = "last",
        npartitions: int | None = None,
        shuffle_method: builtins.str | None = None,
        max_branch: int | None = None,
    ):
        """Values sorted across partitions, stably (see ``DataFrame.sort_values``)."""
        name = self.name
        column = "__series__" if name is None else name
        frame = self.to_frame(column).sort_values(
            column, ascending, na_position, npartitions, shuffle_method, max_branch
        )
        out = frame[column]
        return out.rename(None) if name is None else out


class Index(MonotonicMethods, FrameBase):
    """The index of a partitioned collection.

    >>> import shoal.dataframe as sd
    >>> sd.from_pandas(pd.Series([1, 2, 3]), npartitions=2).index.compute().tolist()
    [0, 1, 2]
    """

    @property
    def name(self):
        """The index name."""
        return self._meta.name

    @property
    def dtype(self):
        """The index dtype."""
        return self._meta.dtype

    @property
    def dt(self):
        """Datetime properties and methods of a datetime index, per partition."""
        return Accessor(self, "dt")

    @property
    def cat(self):
        """Categorical properties and methods of a categorical index, per partition."""
        return CatAccessor(self, "cat")


class Scalar(Elementwise):
    """A lazy single value (the result of a reduction).

    >>> import shoal.dataframe as sd
    >>> total = sd.from_pandas(pd.Series([1.0, 2.0]), npartitions=2).sum()
    >>> (total * 2).compute()
    np.float64(6.0)
    """

    def __shoal_postcompute__(self):
        return first_partition, ()

    @property
    def dtype(self):
        """The value's dtype, from meta."""
        return getattr(self._meta, "dtype", np.dtype(type(self._meta)))

    def __bool__(self):
        raise TypeError("the truth value of a lazy Scalar is unknown; call .compute() first")

    def __repr__(self) -> str:
        return f"shoal.dataframe.Scalar<{self._expr._name}, dtype={self.dtype}>"
