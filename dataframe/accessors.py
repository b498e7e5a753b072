"""The ``.str``, ``.dt`` and ``.cat`` accessors of a Series: every pandas
accessor method or property, run per partition."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shoal.dataframe.expr import map_partitions_expr
from shoal.dataframe.meta import (
    MetaInferenceError,
    has_known_categories,
    is_frame_like,
    make_meta,
    meta_nonempty,
    unknown_categorical,
)

__all__ = ["Accessor", "CatAccessor"]


def _new(expr):
    from shoal.dataframe.collection import new_collection

    return new_collection(expr)


def _identity(obj):
    return obj


def _cast_if_lossless(out, dtype):
    if dtype is None or not isinstance(out, pd.Series) or out.dtype == dtype:
        return out
    try:
        cast = out.astype(dtype)
    except (TypeError, ValueError):
        return out
    return cast if (cast.isna() == out.isna()).all() else out


def _target(s, accessor):
    """What holds the accessor's methods: ``s.dt`` of a Series; an Index
    itself (a DatetimeIndex has ``floor``, a CategoricalIndex ``categories``)."""
    if isinstance(s, pd.Index) and accessor != "str":
        return s
    return getattr(s, accessor)


def _indexed(out, s):
    """An index's array result (``codes``) as an Index, so partitions concatenate."""
    return pd.Index(out) if isinstance(s, pd.Index) and isinstance(out, np.ndarray) else out


def _accessor_call(s, accessor, attr, args, kwargs, dtype=None):
    out = getattr(_target(s, accessor), attr)(*args, **kwargs)
    return _cast_if_lossless(_indexed(out, s), dtype)


def _accessor_get(s, accessor, attr, dtype=None):
    return _cast_if_lossless(_indexed(getattr(_target(s, accessor), attr), s), dtype)


_INDEX_KINDS = {
    "dt": (pd.DatetimeIndex, pd.TimedeltaIndex, pd.PeriodIndex),
    "cat": (pd.CategoricalIndex,),
}


def _accessor_meta(series_meta, func, *args):
    """Meta of an accessor result. For ``.str`` the fake rows include a
    missing value, so e.g. ``str.len`` is float64 in every partition (pandas
    gives int64 only where nothing is missing)."""
    fake = meta_nonempty(series_meta, 3)
    if args[0] == "str":
        fake = fake.astype(object).where([True, True, False]).astype(series_meta.dtype)
    try:
        out = func(fake, *args)
    except Exception as e:
        raise MetaInferenceError(
            f"metadata inference failed in .{args[0]}.{args[1]}: {type(e).__name__}: {e}"
        ) from e
    return make_meta(out) if is_frame_like(out) else out


class Accessor:
    """``s.str`` / ``s.dt``: pandas accessor methods and properties per
    partition, of a Series or an Index.

    >>> import shoal.dataframe as sd
    >>> sd.from_pandas(pd.Series(["ab", "c"]), npartitions=2).str.upper().compute().tolist()
    ['AB', 'C']
    >>> t = pd.Series([1, 2], index=pd.date_range("2024-01-01 06:00", periods=2, freq="D"))
    >>> sd.from_pandas(t, npartitions=2).index.dt.floor("D").compute().day.tolist()
    [1, 2]
    """

    def __init__(self, series, name: str):
        meta = series._meta
        if isinstance(meta, pd.Index) and name in _INDEX_KINDS:
            if not isinstance(meta, _INDEX_KINDS[name]):
                raise AttributeError(
                    f".{name} accessor: not available on an index of dtype {meta.dtype}"
                )
        else:
            try:
                getattr(meta, name)
            except AttributeError as e:
                raise AttributeError(f".{name} accessor: {e}") from None
        self._series = series
        self._name = name

    def _new(self, expr):
        """The result; an index's values change, so its divisions no longer hold."""
        out = _new(expr)
        return out.clear_divisions() if isinstance(self._series._meta, pd.Index) else out

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        proto = getattr(_target(self._series._meta, self._name), attr)
        label = f"{self._name}-{attr}".replace("_", "-")
        smeta = self._series._meta
        if callable(proto):

            def call(*args, **kwargs):
                return self._call(attr, label, args, kwargs)

            call.__name__ = attr
            return call
        meta = _accessor_meta(smeta, _accessor_get, self._name, attr)
        dtype = meta.dtype if isinstance(meta, pd.Series) else None
        return self._new(
            map_partitions_expr(
                _accessor_get,
                self._series.expr,
                self._name,
                attr,
                dtype=dtype,
                label=label,
                meta=meta,
            )
        )

    def _call(self, attr: str, label: str, args: tuple, kwargs: dict):
        smeta = self._series._meta
        meta = _accessor_meta(smeta, _accessor_call, self._name, attr, args, kwargs)
        dtype = meta.dtype if isinstance(meta, pd.Series) else None
        return self._new(
            map_partitions_expr(
                _accessor_call,
                self._series.expr,
                self._name,
                attr,
                args,
                kwargs,
                dtype=dtype,
                label=label,
                meta=meta,
            )
        )

    def __getitem__(self, key):
        """``s.str[:2]``, ``s.str[0]``: pandas' element or slice of each value.

        >>> import shoal.dataframe as sd
        >>> sd.from_pandas(pd.Series(["abc", "de"]), npartitions=2).str[:2].compute().tolist()
        ['ab', 'de']
        """
        if not hasattr(_target(self._series._meta, self._name), "__getitem__"):
            raise TypeError(f"the .{self._name} accessor is not subscriptable")
        return self._call("__getitem__", f"{self._name}-getitem", (key,), {})


class CatAccessor(Accessor):
    """``s.cat``: categorical methods, plus ``known``/``as_known``/``as_unknown``.

    >>> import shoal.dataframe as sd
    >>> s = sd.from_pandas(pd.Series(["a", "b"]), npartitions=2).astype("category")
    >>> s.cat.known, s.cat.as_known().cat.known
    (False, True)
    """

    @property
    def known(self) -> bool:
        """Whether the categories are known (in meta)."""
        return has_known_categories(self._series._meta)

    @property
    def categories(self) -> pd.Index:
        """The categories, from meta (an error while they are unknown)."""
        if not self.known:
            raise ValueError("the categories are unknown; call .cat.as_known() to compute them")
        return _target(self._series._meta, "cat").categories

    def as_unknown(self):
        """The same Series with its categories marked unknown."""
        s = self._series
        return _new(
            map_partitions_expr(
                _identity,
                s.expr,
                label="as-unknown",
                passthrough=True,
                meta=s._meta.astype(unknown_categorical(self.ordered)),
            )
        )

    @property
    def ordered(self) -> bool:
        """Whether the categories are ordered."""
        return _target(self._series._meta, "cat").ordered

    def as_known(self, split_every=None):
        """See ``Series.as_known`` (Series only)."""
        if not hasattr(self._series, "as_known"):
            raise NotImplementedError(".cat.as_known() is available on a Series, not an Index")
        return self._series.as_known(split_every)
