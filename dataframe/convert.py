"""``to_datetime``: ``pandas.to_datetime`` on every partition of a collection.

pandas picks the result's resolution from the values (``datetime64[us]`` for
plain date strings, ``[ns]`` for integer epochs, ...), and an empty input
gives yet another one. So the declared dtype comes from a one-row sample of
the input's dtypes, and each partition's result is cast to it: all
partitions agree with ``meta`` whatever values they hold. Float epochs get
``[ns]`` (pandas gives ``[us]`` when no value has a sub-microsecond part).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shoal.dataframe.collection import FrameBase

__all__ = ["to_datetime"]

_SAMPLE_PARTS = {"year": 2000, "month": 1, "day": 1}  # other parts (hour, ...) get 0


def _sample_value(dtype: Any, column: Any = None) -> Any:
    if column is not None:
        return _SAMPLE_PARTS.get(str(column).lower().rstrip("s"), 0)
    if dtype.kind == "f":  # pandas keeps sub-microsecond fractions: [ns]
        return dtype.type(1.000000001)
    if dtype.kind in "iu":
        return dtype.type(1)
    if dtype.kind == "M":
        return pd.Timestamp("2000-01-01")
    return "2000-01-01"


def _sample(meta: Any) -> Any:
    if isinstance(meta, pd.DataFrame):
        return pd.DataFrame(
            {c: pd.Series([_sample_value(t, c)], dtype=t) for c, t in meta.dtypes.items()}
        )
    data = [_sample_value(meta.dtype)]
    if isinstance(meta, pd.Index):
        return pd.Index(data, dtype=meta.dtype, name=meta.name)
    return pd.Series(data, dtype=meta.dtype, name=meta.name)


def _convert(part: Any, dtype: Any, kwargs: dict) -> Any:
    out = pd.to_datetime(part, **kwargs)
    return out if out.dtype == dtype else out.astype(dtype)


def to_datetime(arg: Any, meta: Any = None, **kwargs: Any) -> Any:
    """``pandas.to_datetime`` on a shoal Series, Index or DataFrame (of
    ``year``/``month``/``day`` columns), lazily; other arguments go to pandas.

    ``meta`` (a pandas object or dtype) fixes the result's dtype; by default
    it is what pandas gives for a non-empty input of the same dtypes.

    >>> import pandas as pd
    >>> import shoal.dataframe as sd
    >>> s = sd.from_pandas(pd.Series(["2000-01-02", "2001-03-04", None]), npartitions=2)
    >>> to_datetime(s).compute().dt.year.tolist()
    [2000.0, 2001.0, nan]
    """
    if not isinstance(arg, FrameBase):
        return pd.to_datetime(arg, **kwargs)
    kind = type(arg._meta).__name__
    if not isinstance(arg._meta, (pd.Series, pd.Index, pd.DataFrame)):
        raise TypeError(f"to_datetime: expected a Series, Index or DataFrame, got {kind}")
    if meta is None:
        probe = {**kwargs, "errors": "coerce"}
        try:
            dtype = pd.to_datetime(_sample(arg._meta), **probe).dtype
        except (TypeError, ValueError) as e:
            dtypes = getattr(arg._meta, "dtypes", None)
            what = dtypes.astype(str).to_dict() if dtypes is not None else arg._meta.dtype
            raise ValueError(f"to_datetime: pandas cannot convert a {kind} of {what} ({e})") from e
    else:
        dtype = getattr(meta, "dtype", None) or pd.api.types.pandas_dtype(meta)
    out_meta = pd.to_datetime(
        arg._meta if isinstance(arg._meta, pd.Index) else arg._meta.iloc[:0], **kwargs
    )
    out_meta = out_meta.astype(dtype)
    out = arg.map_partitions(_convert, dtype, kwargs, meta=out_meta)
    # an Index's values change, so its divisions no longer hold
    return out.clear_divisions() if isinstance(arg._meta, pd.Index) else out
