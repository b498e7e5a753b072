"""Everyday pandas API that every partitioned collection shares (a mixin of
``FrameBase``): aliases (``isnull``, ``to_dask_array``), ``shape``,
``align``, ``add_prefix``/``add_suffix``, ``clear_divisions``, and how a
collection meets NumPy and pandas constructors.

Meeting NumPy: ``np.asarray(coll)``, ``list(coll)`` and ``pd.Series(coll)``
compute the collection once (as Dask does) rather than wrapping the lazy
object as an opaque element. A NumPy ufunc called on collections
(``np.log1p(s)``, ``np.add(s, 1)``) stays lazy: it runs per partition, like
an operator; other ufunc methods (``reduce``, ``accumulate``, ``out=``) are
refused with the spelling that works.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["EverydayMethods"]

_JOINS = ("outer", "inner", "left", "right")


def _align_side(left: Any, right: Any, *, side: int, declared: Any, **kwargs: Any) -> Any:
    """One side of ``left.align(right)``, cast to the declared dtypes (a
    partition that gains no rows keeps integers that meta widened)."""
    out = left.align(right, **kwargs)[side]
    if isinstance(declared, pd.DataFrame):
        casts = {c: d for c, d in declared.dtypes.items() if out[c].dtype != d}
        return out.astype(casts) if casts else out
    return out.astype(declared.dtype) if out.dtype != declared.dtype else out


def _call_ufunc(*args: Any, ufunc: np.ufunc, kwargs: dict) -> Any:
    return ufunc(*args, **kwargs)


class EverydayMethods:
    """Shared everyday methods (see the module docstring); mixed into
    ``FrameBase``.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, None, 3]}), npartitions=2)
    >>> df.isnull().a.sum().compute(), df.shape[1], int(df.shape[0].compute())
    (np.int64(1), 1, 3)
    """

    _expr: Any
    _meta: Any

    def isnull(self):
        """Alias of ``isna``."""
        return self.isna()  # type: ignore[attr-defined]

    def notnull(self):
        """Alias of ``notna``."""
        return self.notna()  # type: ignore[attr-defined]

    @property
    def shape(self) -> tuple:
        """``(rows, columns)`` of a DataFrame, ``(rows,)`` of a Series or
        Index: the rows a lazy Scalar (counted per partition), the columns known.

        >>> import shoal.dataframe as sd
        >>> s = sd.from_pandas(pd.Series([1, 2, 3]), npartitions=2)
        >>> int(s.shape[0].compute())
        3
        """
        from shoal.dataframe import reductions as red
        from shoal.dataframe.collection import new_collection

        if self._expr.is_scalar:
            raise AttributeError("a lazy Scalar has no shape")
        rows = new_collection(
            red.reduction(
                self._expr, red.chunk_len, red.aggregate_sum, red.aggregate_sum, np.int64(0), "len"
            )
        )
        if isinstance(self._meta, pd.DataFrame):
            return (rows, len(self._meta.columns))
        return (rows,)

    def clear_divisions(self):
        """The same partitions with unknown divisions.

        >>> import shoal.dataframe as sd
        >>> sd.from_pandas(pd.Series([1, 2, 3]), npartitions=2).clear_divisions().divisions
        (None, None, None)
        """
        from shoal.dataframe.collection import new_collection
        from shoal.dataframe.indexing import _Divided

        return new_collection(_Divided(self._expr, (None,) * (self._expr.npartitions + 1)))

    def to_dask_array(self, lengths=None):
        """Dask's spelling of ``to_array``: a ``shoal.array.Array`` of the values."""
        return self.to_array(lengths=lengths)  # type: ignore[attr-defined]

    def _affix(self, method: str, text: str):
        if isinstance(self._meta, pd.DataFrame):
            renamed = getattr(self._meta, method)(text).columns
            back = dict(zip(renamed, self._meta.columns))
            return self._method(method, text, passthrough=back)  # type: ignore[attr-defined]
        # a Series' index labels change, so its divisions no longer hold
        return self._method(method, text).clear_divisions()  # type: ignore[attr-defined]

    def add_prefix(self, prefix: str):
        """Column labels (a Series: index labels) with ``prefix`` in front.

        >>> import shoal.dataframe as sd
        >>> df = sd.from_pandas(pd.DataFrame({"a": [1], "b": [2]}), npartitions=1)
        >>> df.add_prefix("x_").columns.tolist()
        ['x_a', 'x_b']
        """
        return self._affix("add_prefix", prefix)

    def add_suffix(self, suffix: str):
        """Column labels (a Series: index labels) with ``suffix`` after them."""
        return self._affix("add_suffix", suffix)

    def align(self, other, join: str = "outer", axis: int | None = None, fill_value=None):
        """Both collections on the union (``join``) of their index labels and
        columns, as pandas' ``align``, partition by partition: the two must
        have known divisions (re-cut to their union) or the same partitions
        of one source. Integer (boolean) columns of a side that may gain rows
        are float64 (object) in every partition, as pandas types them when
        rows are added.

        >>> import shoal.dataframe as sd
        >>> a = sd.from_pandas(pd.DataFrame({"x": [1.0, 2.0]}, index=[0, 1]), npartitions=1)
        >>> b = sd.from_pandas(pd.DataFrame({"y": [3.0]}, index=[1]), npartitions=1)
        >>> left, right = a.align(b)
        >>> right.compute().y.tolist()
        [nan, 3.0]
        """
        from shoal.dataframe.collection import FrameBase, new_collection
        from shoal.dataframe.expr import align, check_aligned, map_partitions_expr
        from shoal.dataframe.grouped import _widened
        from shoal.dataframe.meta import emulate

        if not isinstance(other, FrameBase) or other._expr.is_scalar:
            raise TypeError(
                f"align expects a shoal DataFrame or Series, got {type(other).__name__}"
            )
        if join not in _JOINS:
            raise ValueError(f"align: join must be one of {_JOINS}, got {join!r}")
        base, other_expr = align(self._expr, other._expr)
        check_aligned(base, other_expr, what="align")
        kw = {"join": join, "axis": axis, "fill_value": fill_value}
        out = []
        for side in (0, 1):
            meta = emulate(
                lambda a, b, s=side: a.align(b, **kw)[s],
                base._meta,
                other_expr._meta,
                fname="align",
                nonempty=True,
            )
            gains_rows = join == "outer" or join == ("right", "left")[side]
            if gains_rows and fill_value is None:
                meta = _widened(meta)
            expr = map_partitions_expr(
                _align_side,
                base,
                other_expr,
                side=side,
                declared=meta,
                meta=meta,
                label="align",
                **kw,
            )
            out.append(new_collection(expr))
        return out[0], out[1]

    # ---- meeting NumPy and pandas

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """``np.asarray(coll)``: computes the collection (once)."""
        return np.asarray(self.compute(), dtype=dtype)  # type: ignore[attr-defined]

    def __iter__(self):
        """A DataFrame iterates over its column labels (as pandas); a Series
        or Index computes once, then yields its values."""
        if isinstance(self._meta, pd.DataFrame):
            return iter(self._meta.columns)
        if self._expr.is_scalar:
            raise TypeError("a lazy Scalar is not iterable; call .compute() first")
        return iter(self.compute())  # type: ignore[attr-defined]

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any):
        """``np.<ufunc>(coll, ...)``: lazy, partition by partition."""
        from shoal.dataframe.collection import FrameBase, new_collection
        from shoal.dataframe.expr import align, check_aligned, map_partitions_expr

        name = getattr(ufunc, "__name__", str(ufunc))
        if method != "__call__" or kwargs.get("out") is not None or ufunc.nout != 1:
            raise TypeError(
                f"np.{name}.{method} on a lazy shoal {type(self).__name__} is not supported "
                "(only elementwise calls such as np.log1p(s) stay lazy); call .compute() first "
                "or use the collection's own reductions (s.sum(), s.cumsum())"
            )
        for x in inputs:
            if isinstance(x, (pd.DataFrame, pd.Series, pd.Index, np.ndarray)) and np.ndim(x):
                raise TypeError(
                    f"np.{name}: cannot combine a shoal collection with a "
                    f"{type(x).__name__} elementwise; wrap it with shoal.dataframe.from_pandas"
                )
        args = [x.expr if isinstance(x, FrameBase) else x for x in inputs]
        aligned = align(*args)
        check_aligned(*aligned, what=f"np.{name}")
        frames = sum(isinstance(x, FrameBase) and not x._expr.is_scalar for x in inputs)
        expr = map_partitions_expr(
            _call_ufunc, *aligned, ufunc=ufunc, kwargs=kwargs, label=name, passthrough=frames == 1
        )
        return new_collection(expr)
