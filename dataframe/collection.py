"""The user-facing collections: ``DataFrame``, ``Series``, ``Index``, ``Scalar``.

A collection wraps one expression (``.expr``). Methods build new
expressions; nothing runs until ``compute``/``persist``/``head``/``len``.
The graph handed to a backend is that of the optimized plan
(``optimize.optimize_expr``); ``explain()`` shows the plan before and after.
"""

from __future__ import annotations

import difflib
import functools
import operator
from typing import Any, cast

import numpy as np
import pandas as pd

from shoal.core.base import CollectionMethods
from shoal.core.build import build_graph
from shoal.core.delayed import Delayed
from shoal.core.layers import LayeredGraph
from shoal.core.tokenize import tokenize
from shoal.dataframe import reductions as red
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.everyday import EverydayMethods
from shoal.dataframe.expr import (
    FrameExpr,
    FromGraph,
    Partitions,
    Projection,
    align,
    check_aligned,
    map_partitions_expr,
    method_expr,
)
from shoal.dataframe.indexing import ILocIndexer, LocIndexer, PartitionIndexer
from shoal.dataframe.meta import (
    MetaInferenceError,
    declared_meta,
    emulate,
    is_frame_like,
    make_meta,
    restated,
    unknown_categorical,
    wants_unknown_categories,
)
from shoal.dataframe.optimize import optimize_expr
from shoal.dataframe.reduction_methods import ReductionMethods

__all__ = ["new_collection", "FrameBase", "Elementwise"]


def new_collection(expr: FrameExpr) -> FrameBase:
    """The collection class matching ``expr``'s meta.

    >>> from shoal.dataframe.expr import FromPandas
    >>> type(new_collection(FromPandas.of(pd.Series([1.0]), 1))).__name__
    'Series'
    """
    meta = expr._meta
    from shoal.dataframe.frame import DataFrame
    from shoal.dataframe.series import Index, Scalar, Series

    if isinstance(meta, pd.DataFrame):
        return DataFrame(expr)
    if isinstance(meta, pd.Series):
        return Series(expr)
    if isinstance(meta, pd.Index):
        return Index(expr)
    return Scalar(expr)


def graph_together(collections: list) -> LayeredGraph:
    """One graph for frame collections computed together: a subplan they
    share is made once (stored under its keys), not nested into each one's
    tasks.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2]}), npartitions=2)
    >>> len(graph_together([df.a.sum(), df.a.max()]))  # data, shared projection, 2 x (chunk + 1)
    10
    """
    return build_graph(*[c._optimized() for c in collections])


def _no_note(node, parent) -> str:
    return ""


def first_partition(parts: list) -> Any:
    return parts[0]


def _rebuild(graph: dict, meta, divisions, keys):
    return new_collection(FromGraph(graph, tuple(keys), meta, divisions, tokenize(keys)))


def _reverse(a, b, op):
    return op(b, a)


_OP_LABELS = {"and_": "and", "or_": "or", "xor": "xor", "truediv": "div", "floordiv": "floordiv"}


def _meta_repr(meta) -> str:
    if isinstance(meta, pd.DataFrame):
        width = max([len(str(c)) for c in meta.columns] + [6])
        rows = [f"  {str(c):<{width}}  {dtype}" for c, dtype in meta.dtypes.items()]
        return "\n".join(rows) if rows else "  (no columns)"
    return f"  dtype: {getattr(meta, 'dtype', type(meta).__name__)}"


def _is_scalar(value: Any) -> bool:
    return np.isscalar(value) or (isinstance(value, np.ndarray) and value.ndim == 0)


def _one_row(func, part, *args, **kwargs) -> pd.Series:
    """``func``'s value on one partition as a one-row Series (index 0)."""
    return pd.Series([func(part, *args, **kwargs)])


class FrameBase(EverydayMethods, ReductionMethods, CollectionMethods):
    """Shared behaviour of the partitioned collections (not used directly).

    >>> import shoal.dataframe as sd
    >>> isinstance(sd.from_pandas(pd.Series([1]), npartitions=1), FrameBase)
    True
    """

    __shoal_scheduler__ = "threads"

    def __init__(self, expr: FrameExpr):
        self._expr = expr
        self._optimized_cache: FrameExpr | None = None

    # ---------------------------------------------------------------- basics

    @property
    def expr(self) -> FrameExpr:
        """The logical expression behind this collection."""
        return self._expr

    @property
    def _meta(self) -> Any:
        return self._expr._meta

    @property
    def divisions(self) -> tuple:
        """Index boundaries of the partitions (all ``None`` when unknown)."""
        return self._expr.divisions

    @property
    def npartitions(self) -> int:
        """Number of partitions."""
        return self._expr.npartitions

    @property
    def known_divisions(self) -> bool:
        """Whether ``divisions`` are known."""
        return self._expr.known_divisions

    def _optimized(self) -> FrameExpr:
        if self._optimized_cache is None:
            self._optimized_cache = optimize_expr(self._expr)
        return self._optimized_cache

    def optimize(self) -> FrameBase:
        """A collection over the optimized plan."""
        return new_collection(optimize_expr(self._expr))

    def explain(self) -> str:
        """The plan before and after optimization, as text; in the optimized
        plan a node marked ``(fused)`` runs inside its user's tasks."""
        return (
            "Logical plan:\n"
            + self._expr.explain_text(1, note=_no_note)
            + "\n\nOptimized plan:\n"
            + self._optimized().explain_text(1)
        )

    # ------------------------------------------------------- collection API

    def __shoal_graph__(self) -> LayeredGraph:
        return self._optimized().__shoal_graph__()

    __shoal_graph_together__ = staticmethod(graph_together)

    def __shoal_keys__(self) -> list:
        opt = self._optimized()
        return [(opt._name, i) for i in range(opt.npartitions)]

    def __shoal_postcompute__(self):
        return concat_frames, ()

    def __shoal_postpersist__(self):
        return _rebuild, (self._meta, self.divisions, self.__shoal_keys__())

    def to_delayed(self, optimize_graph: bool = True) -> list[Delayed]:
        """One ``Delayed`` per partition."""
        expr = self._optimized() if optimize_graph else cast(FrameExpr, self._expr.lower())
        graph = expr.__shoal_graph__()
        return [Delayed((expr._name, i), graph) for i in range(expr.npartitions)]

    # ------------------------------------------------------------ partitions

    @property
    def partitions(self) -> PartitionIndexer:
        """``df.partitions[i]``, ``[a:b]`` or ``[[i, j]]``: a subset of partitions."""
        return PartitionIndexer(self)

    def get_partition(self, n: int) -> FrameBase:
        """Partition ``n`` as a one-partition collection."""
        if not 0 <= n < self.npartitions:
            raise IndexError(f"partition {n} out of range for {self.npartitions} partitions")
        return self.partitions[n]

    def _head_tail(self, n: int, front: bool, compute: bool, npartitions: int | None):
        method = "head" if front else "tail"
        total = self.npartitions
        order = list(range(total)) if front else list(range(total - 1, -1, -1))
        if not compute:
            k = min(npartitions or 1, total)
            idx = sorted(order[:k])
            return new_collection(method_expr(Partitions(self._expr, tuple(idx)), method, n))
        got: list = []
        rows = 0
        start, batch = 0, npartitions or 1
        while start < total and (rows < n or npartitions):
            idx = order[start : start + batch]
            sub = new_collection(method_expr(Partitions(self._expr, tuple(sorted(idx))), method, n))
            parts = _split_parts(sub)
            got.extend(parts if front else parts[::-1])
            rows += sum(len(p) for p in parts)
            start += batch
            if npartitions:
                break
            batch *= 2
        ordered = got if front else got[::-1]
        out = concat_frames(ordered) if ordered else self._meta
        return out.head(n) if front else out.tail(n)

    def head(self, n: int = 5, npartitions: int | None = None, compute: bool = True):
        """The first ``n`` rows, computing only as many leading partitions as
        needed (or exactly ``npartitions``)."""
        return self._head_tail(n, True, compute, npartitions)

    def tail(self, n: int = 5, npartitions: int | None = None, compute: bool = True):
        """The last ``n`` rows, computing only trailing partitions as needed."""
        return self._head_tail(n, False, compute, npartitions)

    def __len__(self) -> int:
        """Rows: from metadata when the plan is a plain source (parquet
        footers, in-memory partitions), else counted per partition of one
        column (projection lets readers skip the others)."""
        columns = getattr(self._meta, "columns", None)
        if columns is not None and len(columns) > 1 and columns.is_unique:
            return len(self[[columns[0]]])
        source = self._expr.simplify()
        while isinstance(source, Projection):
            source = source.frame
        known = getattr(source, "_known_length", None)
        if known is not None and known() is not None:
            return known()
        expr = red.reduction(
            self._expr, red.chunk_len, red.aggregate_sum, red.aggregate_sum, np.int64(0), "len"
        )
        return int(new_collection(expr).compute())

    # --------------------------------------------------- per-partition maps

    def map_partitions(self, func, *args, meta=None, **kwargs):
        """``func(partition, *args, **kwargs)`` on every partition.

        Collections among ``args`` are passed partition by partition (they
        must be partitioned alike). ``meta`` describes the output; without it
        ``func`` runs on fake rows to find it. A ``func`` that returns a
        scalar gives a Series of one value per partition (all at index 0).

        >>> import pandas as pd, shoal.dataframe as sd
        >>> df = sd.from_pandas(pd.DataFrame({"a": range(10)}), npartitions=3)
        >>> df.map_partitions(len).compute().tolist()
        [3, 4, 3]
        """
        base, *exprs = align(self._expr, *[a.expr if isinstance(a, FrameBase) else a for a in args])
        check_aligned(base, *exprs, what="map_partitions")
        given = None if meta is None else declared_meta(meta, self._meta)
        expr = map_partitions_expr(
            func, base, *exprs, meta=given, nonempty=True, enforce=True, **kwargs
        )
        if _is_scalar(expr._meta):  # one value per partition: a Series of them, as in Dask
            one_row = functools.partial(_one_row, func)
            meta = pd.Series([expr._meta]).iloc[:0]
            expr = map_partitions_expr(one_row, base, *exprs, meta=meta, enforce=True, **kwargs)
        if not is_frame_like(expr._meta):
            raise TypeError(
                f"map_partitions: {getattr(func, '__name__', func)!r} returns "
                f"{type(expr._meta).__name__}, not a pandas object; partitions must stay "
                "DataFrames, Series or Indexes (use to_delayed() for other results)"
            )
        return new_collection(expr)

    def map_overlap(self, func, before: int, after: int, *args, meta=None, **kwargs):
        """``func(partition_with_neighbours, *args, **kwargs)`` where each
        partition first gets the ``before`` rows preceding it and the
        ``after`` rows following it (across any number of partitions); the
        borrowed rows are trimmed from the result, which must keep one row
        per input row (e.g. rolling windows, ``diff``, ``shift``). With a
        datetime index and known divisions, ``before``/``after`` may be time
        spans (``"2h"``, ``pd.Timedelta``) for time-based windows.
        """
        from shoal.dataframe.overlap import MapOverlap

        if isinstance(before, (str, pd.Timedelta)) or isinstance(after, (str, pd.Timedelta)):
            before, after = pd.Timedelta(before), pd.Timedelta(after)
            if not self.known_divisions or self._meta.index.dtype.kind != "M":
                raise ValueError(
                    "map_overlap with time spans needs a datetime index with known divisions"
                )
            if before < pd.Timedelta(0) or after < pd.Timedelta(0):
                raise ValueError("map_overlap: time spans must not be negative")
        else:
            for label, value in (("before", before), ("after", after)):
                if not isinstance(value, int) or value < 0:
                    raise ValueError(
                        f"map_overlap: {label} must be a row count >= 0 or a time span, "
                        f"got {value!r}"
                    )
        if meta is None:
            meta = emulate(
                func,
                self._meta,
                *args,
                fname=getattr(func, "__name__", "func"),
                nonempty=True,
                **kwargs,
            )
        meta = make_meta(meta)
        return new_collection(MapOverlap(self._expr, func, before, after, args, kwargs, meta))

    def to_array(self, lengths=None):
        """A ``shoal.array.Array`` of the values, one block of rows per
        partition: row chunk sizes unknown (``nan``) by default,
        ``lengths=True`` computes them first, a sequence gives them."""
        from shoal.dataframe.arrays import to_array

        return to_array(self, lengths=lengths)

    @property
    def values(self):
        """The values as a lazy ``shoal.array.Array`` with unknown row chunk
        sizes (``to_array(lengths=True)`` computes them)."""
        return self.to_array()

    def to_records(self, lengths=None, index: bool = True):
        """A ``shoal.array.Array`` of NumPy records, the index first unless
        ``index=False`` (as pandas; ``lengths`` as in ``to_array``)."""
        from shoal.dataframe.arrays import to_records

        return to_records(self, lengths=lengths, index=index)

    def to_bag(self, index: bool = False, format: str = "tuple"):
        """A ``shoal.bag.Bag`` of the rows: tuples (``format="tuple"``, with
        the index first when ``index=True``) or dicts (``format="dict"``);
        a Series gives its values (or ``(index, value)`` tuples)."""
        from shoal.bag.frames import dataframe_to_bag

        return dataframe_to_bag(self, index, format)

    def _method(self, method: str, *args, passthrough: bool | dict = False, **kwargs):
        base, *exprs = align(self._expr, *[a.expr if isinstance(a, FrameBase) else a for a in args])
        check_aligned(base, *exprs, what=method)
        try:
            return new_collection(
                method_expr(base, method, *exprs, passthrough=passthrough, **kwargs)
            )
        except MetaInferenceError as e:
            raise restated(e.__cause__ or e, method) from e

    def isna(self):
        """Elementwise missing-value mask."""
        return self._method("isna", passthrough=True)

    def notna(self):
        """Elementwise not-missing mask."""
        return self._method("notna", passthrough=True)

    def abs(self):
        """Elementwise absolute value."""
        return self._method("abs", passthrough=True)

    def round(self, decimals: int = 0):
        """Round to ``decimals`` places."""
        return self._method("round", decimals, passthrough=True)

    def fillna(self, value=None):
        """Fill missing values with a scalar (or a dict per column)."""
        if value is None:
            raise ValueError("fillna needs value= (method-based filling is not supported)")
        return self._method("fillna", value, passthrough=True)

    def astype(self, dtype):
        """Cast to ``dtype`` (or a dict of column -> dtype). ``"category"``
        gives categoricals with unknown categories (each partition finds its
        own; ``.cat.as_known()`` computes them)."""
        if isinstance(dtype, dict):
            self._check_columns(list(dtype), "astype")
            meta_dtypes = {
                c: unknown_categorical() if wants_unknown_categories(d) else d
                for c, d in dtype.items()
            }
            meta = self._meta.astype(meta_dtypes)
            return new_collection(
                map_partitions_expr(
                    _astype_present, self._expr, dtype, label="astype", passthrough=True, meta=meta
                )
            )
        if wants_unknown_categories(dtype) or isinstance(dtype, pd.CategoricalDtype):
            unknown = wants_unknown_categories(dtype)
            meta = self._meta.astype(unknown_categorical() if unknown else dtype)
            return new_collection(
                map_partitions_expr(
                    _astype_present, self._expr, dtype, label="astype", passthrough=True, meta=meta
                )
            )
        return self._method("astype", dtype, passthrough=True)

    def clip(self, lower=None, upper=None):
        """Limit values to ``[lower, upper]``."""
        return self._method("clip", lower, upper, passthrough=True)

    def _where_mask(self, how, cond, other):
        simple = not any(isinstance(getattr(a, "_meta", None), pd.DataFrame) for a in (cond, other))
        base, *args = align(
            self._expr, *[a.expr if isinstance(a, FrameBase) else a for a in (cond, other)]
        )
        check_aligned(base, *args, what=how)
        return new_collection(
            map_partitions_expr(_where_mask, base, *args, how=how, label=how, passthrough=simple)
        )

    def where(self, cond, other=np.nan):
        """Keep values where ``cond`` is True, else ``other``. With a missing
        ``other``, integer and bool columns become float64 in every partition
        (pandas keeps them only where nothing is replaced)."""
        return self._where_mask("where", cond, other)

    def mask(self, cond, other=np.nan):
        """Replace values where ``cond`` is True by ``other`` (see ``where``)."""
        return self._where_mask("mask", cond, other)

    def replace(self, to_replace=None, value=None, regex: bool = False):
        """Replace values (as ``pandas.DataFrame.replace``)."""
        args = (to_replace,) if value is None else (to_replace, value)
        return self._method(
            "replace", *args, regex=regex, passthrough=not isinstance(to_replace, dict)
        )

    def isin(self, values):
        """Elementwise membership in ``values``: a list, a set, or (for a
        Series) a lazy Series or Index, whose distinct values are gathered
        once and shared by every partition (``membership.py``)."""
        if isinstance(values, FrameBase):
            if isinstance(self._meta, pd.DataFrame) or isinstance(values._meta, pd.DataFrame):
                raise TypeError(
                    "isin with a shoal collection takes a Series or Index on both sides "
                    f"(got {type(self).__name__}.isin({type(values).__name__})); "
                    "select a column, e.g. df[col].isin(other[col])"
                )
            if not is_frame_like(values._meta):
                raise TypeError("isin takes list-like values, not a Scalar")
            from shoal.dataframe.membership import isin_expr

            return new_collection(isin_expr(self._expr, values._expr))
        return self._method(
            "isin", list(values) if isinstance(values, set) else values, passthrough=True
        )

    def dropna(self, how: str | None = None, subset=None, thresh=None):
        """Drop rows with missing values."""
        kw: dict = {}
        if how is not None:
            kw["how"] = how
        if thresh is not None:
            kw["thresh"] = thresh
        if subset is not None:
            self._check_columns(subset if isinstance(subset, list) else [subset], "dropna")
            kw["subset"] = subset
        return self._method("dropna", **kw)

    # -------------------------------------------------------------- operators

    def _binop(self, other, op, reverse: bool = False):
        base = self._expr
        if isinstance(other, FrameBase):
            base, other_arg = align(self._expr, other._expr)
            check_aligned(base, other_arg, what=f"operator {op.__name__}")
        elif isinstance(other, (pd.DataFrame, pd.Series, pd.Index)):
            raise TypeError(
                f"cannot combine a shoal collection with a pandas {type(other).__name__} "
                "elementwise; wrap it with shoal.dataframe.from_pandas first"
            )
        else:
            other_arg = other
        label = _OP_LABELS.get(op.__name__, op.__name__.strip("_"))
        passthrough = not isinstance(other, FrameBase)
        try:  # meta is inferred when the node is built
            if reverse:
                expr = map_partitions_expr(
                    _reverse, base, other_arg, op=op, label=label, passthrough=passthrough
                )
            else:
                expr = map_partitions_expr(
                    op, base, other_arg, label=label, passthrough=passthrough
                )
        except MetaInferenceError as e:
            cause = e.__cause__
            raise TypeError(
                f"cannot apply {label!r} to {_dtypes_text(self._meta)} and "
                f"{_dtypes_text(other._meta if isinstance(other, FrameBase) else other)}: "
                f"{type(cause).__name__}: {cause}"
            ) from cause
        return new_collection(expr)

    # -------------------------------------------------------- repartitioning

    def repartition(
        self,
        npartitions: int | None = None,
        divisions=None,
        partition_size=None,
        force: bool = False,
    ):
        """Change the partitioning, by one of:

        - ``npartitions``: neighbours are concatenated, or partitions are cut
          by position (divisions then become unknown);
        - ``divisions``: re-cut at new index boundaries (known divisions);
          they may widen the range, which is what Dask's ``force=True``
          allows (``force`` is accepted and changes nothing here);
        - ``partition_size`` (e.g. ``"100MB"``): computes each partition's
          memory use now, then combines small neighbours and cuts large ones.
        """
        if not isinstance(force, bool):
            raise TypeError(f"repartition: force must be a bool, got {force!r}")
        from shoal.dataframe import repartition as rp

        if sum(x is not None for x in (npartitions, divisions, partition_size)) != 1:
            raise ValueError(
                "repartition needs exactly one of npartitions=, divisions= or partition_size="
            )
        if divisions is not None:
            return new_collection(rp.repartition_divisions(self._expr, divisions))
        if partition_size is not None:
            sizes = self.map_partitions(_partition_bytes, meta=("bytes", "int64")).compute()
            return new_collection(rp.repartition_size(self._expr, sizes.tolist(), partition_size))
        assert npartitions is not None  # the one given (checked above)
        return new_collection(rp.repartition_npartitions(self._expr, npartitions))

    def compute_current_divisions(self, col=None, set_divisions: bool = False):
        """The divisions from each partition's min/max of the index (or of
        column ``col``), computed now; None when every partition is empty,
        ``ValueError`` when the partitions are not sorted, a warning when
        neighbours share a key. ``set_divisions=True`` returns the
        collection with them instead.

        >>> import pandas as pd, shoal.dataframe as sd
        >>> df = sd.from_pandas(pd.DataFrame({"a": [5, 1, 7]}), npartitions=2)
        >>> df.clear_divisions().compute_current_divisions()
        (0, 2, 2)
        """
        from shoal.dataframe.current_divisions import compute_current_divisions

        return compute_current_divisions(self, col, set_divisions)

    def _check_columns(self, cols, what: str) -> None:
        available = list(self.columns) if isinstance(self._meta, pd.DataFrame) else []
        missing = [c for c in cols if c not in available]
        if missing:
            raise KeyError(_missing_message(missing, available, what))

    @property
    def columns(self) -> list:
        return self._expr.columns

    def __repr__(self) -> str:
        div = "known" if self.known_divisions else "unknown"
        return (
            f"shoal.dataframe.{type(self).__name__}<{self._expr._name}, "
            f"npartitions={self.npartitions}, divisions {div}>\n{_meta_repr(self._meta)}"
        )

    @property
    def iloc(self) -> ILocIndexer:
        """Selection by position: rows (``iloc[5:20]``, ``iloc[[3, 1]]``, a
        boolean mask; partition lengths are counted once) and columns
        (``df.iloc[:, [0, 2]]``)."""
        return ILocIndexer(self)

    @property
    def loc(self) -> LocIndexer:
        """Label-based selection using divisions (labels, slices, boolean Series)."""
        return LocIndexer(self)

    @property
    def index(self) -> FrameBase:
        """The index of every partition."""
        return new_collection(map_partitions_expr(_get_index, self._expr, label="index"))

    def copy(self, deep: bool = False):
        """A new collection of the same plan: plans are immutable, so nothing
        is copied and changes to the copy (``copy["c"] = ...``) leave the
        original alone.

        >>> import pandas as pd, shoal.dataframe as sd
        >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2]}), npartitions=1)
        >>> df2 = df.copy()
        >>> df2["b"] = df2.a + 1
        >>> list(df.columns), list(df2.columns)
        (['a'], ['a', 'b'])
        """
        return new_collection(self._expr)

    # ---- shuffles, joins, sorting

    def reset_index(self, drop: bool = False):
        """The index numbered 0..n-1 across partitions, as pandas does (the
        old index becomes a column unless ``drop``); divisions unknown."""
        from shoal.dataframe.sort import reset_index

        return reset_index(self, drop)

    def sort_index(self, ascending: bool = True):
        """Rows sorted by index labels across partitions, as pandas'
        ``sort_index``: with known divisions each partition is sorted in
        place; otherwise the partitions are re-cut into ranges of labels
        (``sort_index.py``). Descending reverses the partitions, so missing
        labels come first there (pandas puts them last).

        >>> import shoal.dataframe as sd
        >>> s = sd.from_pandas(pd.Series([1, 2, 3], index=[5, 9, 1]), npartitions=2, sort=False)
        >>> s.sort_index(ascending=False).compute().index.tolist()
        [9, 5, 1]
        """
        if not isinstance(ascending, (bool, np.bool_)):
            raise ValueError(f"sort_index: ascending must be a bool, got {ascending!r}")
        expr = self._expr
        if expr.npartitions > 1 and not expr.known_divisions:
            from shoal.dataframe.sort_index import SortIndexAcross, check_sortable_keys

            check_sortable_keys(self._meta)
            expr = SortIndexAcross(expr)
            if ascending:
                return new_collection(expr)
        elif ascending:
            return self._method("sort_index", passthrough=True)
        backwards = Partitions(expr, tuple(range(expr.npartitions - 1, -1, -1)))
        return new_collection(
            method_expr(backwards, "sort_index", ascending=False, passthrough=True)
        )

    # ---- time series and reshaping

    def rolling(
        self,
        window: int | str | pd.Timedelta,
        min_periods: int | None = None,
        center: bool = False,
        win_type: str | None = None,
        closed: str | None = None,
    ):
        """Rolling windows of ``window`` rows, or of a time span (``"2h"``)
        over a datetime index with known divisions; the rows a window needs
        from neighbouring partitions are borrowed (``map_overlap``).

        >>> import shoal.dataframe as sd
        >>> s = sd.from_pandas(pd.Series([1.0, 2.0, 3.0, 4.0]), npartitions=2)
        >>> s.rolling(2).mean().compute().tolist()
        [nan, 1.5, 2.5, 3.5]
        """
        from shoal.dataframe.windows import Rolling

        return Rolling(self, window, min_periods, center, win_type, closed)

    def expanding(self, min_periods: int = 1):
        """Windows from the first row to each row, across partitions (a scan:
        ``sum mean count min max var std``).

        >>> import shoal.dataframe as sd
        >>> sd.from_pandas(pd.Series([1, 2, 3]), npartitions=2).expanding().sum().compute().tolist()
        [1.0, 3.0, 6.0]
        """
        from shoal.dataframe.windows import Expanding

        return Expanding(self, min_periods)

    def ewm(
        self,
        com: float | None = None,
        span: float | None = None,
        halflife: float | None = None,
        alpha: float | None = None,
        min_periods: int = 0,
        adjust: bool = True,
        ignore_na: bool = False,
    ):
        """Exponentially weighted windows across partitions (``mean``, and
        ``sum`` with ``adjust=True``).

        >>> import shoal.dataframe as sd
        >>> s = sd.from_pandas(pd.Series([1.0, 2.0, 3.0]), npartitions=2)
        >>> s.ewm(span=3).mean().compute().round(3).tolist()
        [1.0, 1.667, 2.429]
        """
        from shoal.dataframe.windows import ExponentialMovingWindow

        return ExponentialMovingWindow(
            self, com, span, halflife, alpha, min_periods, adjust, ignore_na
        )

    def shift(self, periods: int = 1):
        """Values moved down (or up, for negative ``periods``) by rows,
        across partitions.

        >>> import shoal.dataframe as sd
        >>> sd.from_pandas(pd.Series([1.0, 2.0, 3.0]), npartitions=2).shift().compute().tolist()
        [nan, 1.0, 2.0]
        """
        from shoal.dataframe.scans import shifted

        return shifted(self, "shift", periods)

    def diff(self, periods: int = 1):
        """Difference with the value ``periods`` rows earlier, across partitions.

        >>> import shoal.dataframe as sd
        >>> sd.from_pandas(pd.Series([1.0, 4.0, 9.0]), npartitions=2).diff().compute().tolist()
        [nan, 3.0, 5.0]
        """
        from shoal.dataframe.scans import shifted

        return shifted(self, "diff", periods)

    def pct_change(self, periods: int = 1):
        """Relative change from the value ``periods`` rows earlier.

        >>> import shoal.dataframe as sd
        >>> s = sd.from_pandas(pd.Series([1.0, 2.0, 3.0]), npartitions=2)
        >>> s.pct_change().compute().tolist()
        [nan, 1.0, 0.5]
        """
        from shoal.dataframe.scans import shifted

        return shifted(self, "pct_change", periods)

    def resample(
        self,
        rule: str,
        closed: str | None = None,
        label: str | None = None,
        origin: Any = "start_day",
        offset: Any = None,
    ):
        """Time bins of ``rule`` over a datetime index with known divisions;
        bins that straddle partitions are combined (the input is re-cut at
        bin edges) and the output divisions are bin labels.

        >>> import shoal.dataframe as sd
        >>> s = pd.Series(1, index=pd.date_range("2024-01-01", periods=4, freq="12h"))
        >>> sd.from_pandas(s, npartitions=2).resample("D").sum().compute().tolist()
        [2, 2]
        """
        from shoal.dataframe.resample import Resampler

        return Resampler(self, rule, closed, label, origin, offset)

    def _cumulative(self, method: str, skipna: bool):
        from shoal.dataframe.scans import cumulative

        return new_collection(cumulative(self._expr, method, skipna))

    def cumsum(self, skipna: bool = True):
        """Cumulative sum across partitions.

        >>> import shoal.dataframe as sd
        >>> sd.from_pandas(pd.Series([1, 2, 3]), npartitions=2).cumsum().compute().tolist()
        [1, 3, 6]
        """
        return self._cumulative("cumsum", skipna)

    def cumprod(self, skipna: bool = True):
        """Cumulative product across partitions."""
        return self._cumulative("cumprod", skipna)

    def cummax(self, skipna: bool = True):
        """Cumulative maximum across partitions."""
        return self._cumulative("cummax", skipna)

    def cummin(self, skipna: bool = True):
        """Cumulative minimum across partitions."""
        return self._cumulative("cummin", skipna)


def _partition_bytes(part):
    return pd.Series(
        [
            int(part.memory_usage(deep=True).sum())
            if isinstance(part, pd.DataFrame)
            else int(part.memory_usage(deep=True))
        ],
        name="bytes",
    )


def _get_index(obj):
    return obj.index


def _widen_for_missing(obj):
    if isinstance(obj, pd.DataFrame):
        kinds = {c: "float64" for c, d in obj.dtypes.items() if getattr(d, "kind", "") in "iub"}
        return obj.astype(kinds) if kinds else obj
    if getattr(obj.dtype, "kind", "") in "iub":
        return obj.astype("float64")
    return obj


def _where_mask(obj, cond, other, how):
    if not is_frame_like(other) and pd.isna(other):
        obj = _widen_for_missing(obj)
    return getattr(obj, how)(cond, other)


def _astype_present(df, dtypes):
    """``df.astype(dtypes)`` for the columns ``df`` has. A categorical target
    with categories gets them in its own order: pandas leaves an unordered
    categorical as it is when the sets of categories are equal, so partitions
    would disagree with meta (and with each other) on the order.

    >>> s = pd.Series(["b", "a"], dtype="category")
    >>> _astype_present(s, pd.CategoricalDtype(["b", "a"])).cat.categories.tolist()
    ['b', 'a']
    """
    if not isinstance(df, pd.DataFrame):
        return _cast(df, dtypes)
    if not isinstance(dtypes, dict):
        dtypes = dict.fromkeys(df.columns, dtypes)
    present = {k: v for k, v in dtypes.items() if k in df.columns}
    exact = {k: v for k, v in present.items() if _recategorizes(df[k], v)}
    out = df.astype({k: v for k, v in present.items() if k not in exact})
    for k, v in exact.items():
        out[k] = _cast(out[k], v)
    return out


def _recategorizes(s: pd.Series, dtype) -> bool:
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        and isinstance(dtype, pd.CategoricalDtype)
        and dtype.categories is not None
    )


def _cast(s, dtype):
    if isinstance(s, pd.Series) and _recategorizes(s, dtype):
        return s.cat.set_categories(dtype.categories, ordered=dtype.ordered)
    return s.astype(dtype)


def _dtypes_text(x) -> str:
    if isinstance(x, pd.DataFrame):
        return "DataFrame with dtypes " + ", ".join(f"{c}: {d}" for c, d in x.dtypes.items())
    if isinstance(x, pd.Series):
        return f"Series {x.name!r} of dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"


def _missing_message(missing, available, what) -> str:
    hints = []
    for m in missing:
        close = difflib.get_close_matches(str(m), [str(a) for a in available], n=3)
        hints.append(
            f"{m!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else "")
        )
    return f"{what}: column(s) {', '.join(hints)} not found; available columns: {list(available)}"


def _split_parts(coll) -> list:
    from shoal.core.base import get_scheduler

    graph = coll.__shoal_graph__()
    keys = coll.__shoal_keys__()
    return list(get_scheduler(None, (coll,))(graph, keys))


def _install_operators(cls):
    ops = {
        "add": operator.add,
        "sub": operator.sub,
        "mul": operator.mul,
        "truediv": operator.truediv,
        "floordiv": operator.floordiv,
        "mod": operator.mod,
        "pow": operator.pow,
        "and": operator.and_,
        "or": operator.or_,
        "xor": operator.xor,
    }
    for name, op in ops.items():
        setattr(cls, f"__{name}__", functools.partialmethod(cls._binop, op=op))
        setattr(cls, f"__r{name}__", functools.partialmethod(cls._binop, op=op, reverse=True))
        if name not in ("and", "or", "xor"):
            setattr(
                cls,
                name if name != "truediv" else "div",
                functools.partialmethod(cls._binop, op=op),
            )
    for name in ("lt", "le", "gt", "ge", "eq", "ne"):
        op = getattr(operator, name)
        setattr(cls, f"__{name}__", functools.partialmethod(cls._binop, op=op))
        setattr(cls, name, functools.partialmethod(cls._binop, op=op))
    cls.truediv = cls.div
    cls.__neg__ = lambda self: self._method("__neg__", passthrough=True)
    cls.__invert__ = lambda self: self._method("__invert__", passthrough=True)
    cls.__hash__ = object.__hash__
    return cls


@_install_operators
class Elementwise(FrameBase):
    """Operators shared by DataFrame, Series and Scalar."""
