"""Reduction methods shared by DataFrame, Series and Index (a mixin of
``FrameBase``): each builds a ``TreeReduce`` from the functions in
``reductions.py`` (``describe`` and ``DataFrame.mode`` from ``describe.py``);
``quantile`` and ``describe`` are approximate across partitions (see
``quantile``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shoal.dataframe import reductions as red
from shoal.dataframe.meta import emulate, is_frame_like, make_meta

if TYPE_CHECKING:
    from shoal.dataframe.expr import FrameExpr

__all__ = ["ReductionMethods", "check_split_out"]


def _new(expr):
    from shoal.dataframe.collection import new_collection

    return new_collection(expr)


def _call(obj, method, **kw):
    return getattr(obj, method)(**kw)


def check_split_out(split_out) -> None:
    """Raise unless ``split_out`` is a positive integer.

    >>> check_split_out(2)
    """
    if not isinstance(split_out, int) or split_out < 1:
        raise ValueError(f"split_out must be a positive integer, got {split_out!r}")


class ReductionMethods:
    """Tree reductions of a partitioned collection (see module docstring).

    >>> import shoal.dataframe as sd
    >>> sd.from_pandas(pd.Series([1.0, 2.0, 4.0]), npartitions=2).mean().compute()
    np.float64(2.3333333333333335)
    """

    __slots__ = ()

    if TYPE_CHECKING:  # what the collections mixing this in give (collection.py)
        _expr: FrameExpr

        @property
        def _meta(self) -> Any: ...

        @property
        def columns(self) -> Any: ...

        @property
        def name(self) -> Any: ...

        def __getitem__(self, key: Any) -> Any: ...

        def select_dtypes(self, include: Any = None, exclude: Any = None) -> Any: ...

        def _check_columns(self, columns: list, where: str) -> None: ...

    def _reduce(self, method: str, split_every=None, **kw):
        if method == "size":
            meta: Any = np.int64(0)
        else:
            meta = emulate(_call, self._meta, method, fname=method, nonempty=True, **kw)
        if is_frame_like(meta):
            meta = meta.iloc[:0]
        expr = red.reduction(
            self._expr,
            red.chunk_method,
            red.combine_method,
            red.aggregate_method,
            meta,
            method,
            split_every,
            chunk_kwargs={"method": method, **kw},
            kwargs={"method": method, **kw},
        )
        return _new(expr)

    def sum(self, split_every=None, **kw):
        """Sum (tree reduction)."""
        return self._reduce("sum", split_every, **kw)

    def prod(self, split_every=None, **kw):
        """Product (tree reduction)."""
        return self._reduce("prod", split_every, **kw)

    def min(self, split_every=None, **kw):
        """Minimum (tree reduction)."""
        return self._reduce("min", split_every, **kw)

    def max(self, split_every=None, **kw):
        """Maximum (tree reduction)."""
        return self._reduce("max", split_every, **kw)

    def count(self, split_every=None):
        """Non-missing values (tree reduction)."""
        return self._reduce("count", split_every)

    def any(self, split_every=None):
        """Whether any value is true."""
        return self._reduce("any", split_every)

    def all(self, split_every=None):
        """Whether all values are true."""
        return self._reduce("all", split_every)

    @property
    def size(self):
        """Number of elements (rows times columns), as a Scalar."""
        return self._reduce("size")

    def _moments(self, how: str, split_every=None, ddof: int = 1, numeric_only=False):
        frame = self
        if isinstance(self._meta, pd.DataFrame):
            numeric = self._meta.select_dtypes(include=["number", "bool"]).columns.tolist()
            if numeric_only:
                frame = self[numeric]
            elif len(numeric) != len(self.columns):
                bad = [c for c in self.columns if c not in numeric]
                raise TypeError(
                    f"{how}: columns {bad} are not numeric; select numeric "
                    "columns or pass numeric_only=True"
                )
        elif self._meta.dtype.kind not in "biuf":
            raise TypeError(f"{how} needs a numeric Series, got dtype {self._meta.dtype}")
        if isinstance(frame._meta, pd.DataFrame):
            meta = pd.Series(dtype="float64")
        else:
            meta = np.float64(0)
        expr = red.reduction(
            frame._expr,
            red.chunk_moments,
            red.combine_moments,
            red.aggregate_moments,
            meta,
            how,
            split_every,
            kwargs={"how": how, "ddof": ddof} if how != "mean" else {"how": "mean"},
        )
        return _new(expr)

    def mean(self, split_every=None, numeric_only: bool = False):
        """Mean (tree reduction of counts and sums)."""
        return self._moments("mean", split_every, numeric_only=numeric_only)

    def var(self, ddof: int = 1, split_every=None, numeric_only: bool = False):
        """Variance (Chan's parallel algorithm, numerically stable)."""
        return self._moments("var", split_every, ddof, numeric_only)

    def std(self, ddof: int = 1, split_every=None, numeric_only: bool = False):
        """Standard deviation."""
        return self._moments("std", split_every, ddof, numeric_only)

    def sem(self, ddof: int = 1, split_every=None, numeric_only: bool = False):
        """Standard error of the mean."""
        return self._moments("sem", split_every, ddof, numeric_only)

    def _distinct(self, split_every=None) -> dict:
        """Distinct values of each column (or of the Series), computed now."""
        expr = red.reduction(
            self._expr,
            red.chunk_nunique,
            red.combine_nunique,
            red.combine_nunique,
            None,
            "distinct",
            split_every,
        )
        return _new(expr).compute()

    def nunique(self, dropna: bool = True, split_every=None):
        """Number of distinct values (per column for a DataFrame)."""
        meta = pd.Series(dtype="int64") if isinstance(self._meta, pd.DataFrame) else np.int64(0)
        expr = red.reduction(
            self._expr,
            red.chunk_nunique,
            red.combine_nunique,
            red.aggregate_nunique,
            meta,
            "nunique",
            split_every,
            chunk_kwargs={"dropna": dropna},
            kwargs={"dropna": dropna},
        )
        return _new(expr)

    def drop_duplicates(
        self,
        subset=None,
        keep: str = "first",
        split_every=None,
        split_out: int = 1,
        shuffle_method: str | None = None,
    ):
        """Distinct rows: one output partition (tree reduction), or
        ``split_out`` partitions hash-partitioned on ``subset`` through the
        shuffle (``shuffle_method`` as in ``shuffle``); ``keep`` holds across
        partitions either way."""
        if keep not in ("first", "last"):
            raise ValueError(f"drop_duplicates supports keep='first' or 'last', got {keep!r}")
        check_split_out(split_out)
        kw: dict = {"keep": keep}
        if subset is not None:
            self._check_columns(subset if isinstance(subset, list) else [subset], "drop_duplicates")
            kw["subset"] = subset
        if split_out > 1:
            from shoal.dataframe.grouped import drop_duplicates_shuffled

            return drop_duplicates_shuffled(self, subset, keep, split_out, shuffle_method)
        expr = red.reduction(
            self._expr,
            red.chunk_drop_duplicates,
            red.combine_drop_duplicates,
            red.combine_drop_duplicates,
            self._meta,
            "drop-duplicates",
            split_every,
            chunk_kwargs=dict(kw),
            kwargs=kw,
        )
        return _new(expr)

    def memory_usage(self, index: bool = True, deep: bool = False, split_every=None):
        """Bytes used by each column (a Series) or by a Series (a Scalar)."""
        kw = {"index": index, "deep": deep}
        meta = pd.Series(dtype="int64") if isinstance(self._meta, pd.DataFrame) else np.int64(0)
        expr = red.reduction(
            self._expr,
            red.chunk_memory_usage,
            red.aggregate_memory_usage,
            red.aggregate_memory_usage,
            meta,
            "memory-usage",
            split_every,
            chunk_kwargs=kw,
        )
        return _new(expr)

    def _nbest(self, how, n, split_every=None, **kw):
        expr = red.reduction(
            self._expr,
            red.chunk_nbest,
            red.combine_nbest,
            red.combine_nbest,
            self._meta,
            how,
            split_every,
            chunk_kwargs={"how": how, "n": n, **kw},
            kwargs={"how": how, "n": n, **kw},
        )
        return _new(expr)

    def _arg(self, how, split_every=None, skipna=True):
        columns = self.columns if isinstance(self._meta, pd.DataFrame) else None
        index_meta = make_meta(pd.Series([], dtype=self._meta.index.dtype))
        meta = index_meta if columns is not None else np.int64(0)
        expr = red.reduction(
            self._expr,
            red.chunk_arg,
            red.combine_arg,
            red.aggregate_arg,
            meta,
            how,
            split_every,
            chunk_kwargs={"how": how, "skipna": skipna},
            kwargs={
                "how": how,
                "skipna": skipna,
                **({"columns": columns} if columns is not None else {}),
            },
        )
        return _new(expr)

    def idxmin(self, skipna: bool = True, split_every=None):
        """Label of the minimum (per column for a DataFrame)."""
        return self._arg("idxmin", split_every, skipna)

    def idxmax(self, skipna: bool = True, split_every=None):
        """Label of the maximum (per column for a DataFrame)."""
        return self._arg("idxmax", split_every, skipna)

    def quantile(self, q=0.5, max_points: int = 1000, split_every=None):
        """Approximate quantiles (linear interpolation).

        Each partition keeps all its non-missing values when it has at most
        ``max_points``, which makes the result exact; larger partitions keep
        ``max_points`` evenly spaced quantiles, each weighted by the rows it
        stands for, so the error is about one part in ``max_points`` of the
        partition's rank range.
        """
        frame = self
        if isinstance(self._meta, pd.DataFrame):
            frame = self.select_dtypes("number")
            columns = frame.columns
            meta = (
                pd.Series(dtype="float64", name=q)
                if np.isscalar(q)
                else pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
            )
        else:
            columns = None
            meta = np.float64(0) if np.isscalar(q) else pd.Series(dtype="float64", name=self.name)
        kw = {"q": q, "max_points": max_points, "columns": columns}
        if isinstance(self._meta, pd.Series):
            kw = {"q": q, "max_points": max_points, "name": self.name}
        expr = red.reduction(
            frame._expr,
            red.chunk_quantile_sample,
            red.combine_quantile_sample,
            red.aggregate_quantile,
            meta,
            "quantile",
            split_every,
            chunk_kwargs={"max_points": max_points},
            kwargs=kw,
        )
        return _new(expr)

    def describe(
        self,
        percentiles=(0.25, 0.5, 0.75),
        include=None,
        exclude=None,
        max_points: int = 1000,
        split_every=None,
    ):
        """Summary statistics as pandas gives them: count, mean, std, min,
        (approximate, see ``quantile``) percentiles and max of numbers and
        datetimes; count, unique, top and freq of other columns. By default
        a DataFrame describes its number and datetime columns (all columns if
        it has none); ``include``/``exclude`` select as ``select_dtypes``, or
        ``include="all"``."""
        from shoal.dataframe.describe import describe_expr

        return _new(describe_expr(self, percentiles, include, exclude, max_points, split_every))
