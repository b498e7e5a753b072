"""Meta: the empty pandas object that stands for a collection's partitions.

Every dataframe expression knows its ``meta`` (an empty DataFrame, Series or
Index with the right columns, dtypes and index, or a numpy scalar for
``Scalar``) without running anything. It is inferred by running the same
pandas operation on the children's metas, or, where pandas needs values (user
functions, ``apply``), on small fake data from ``meta_nonempty`` whose result
is then emptied. When inference fails the error names the operation and asks
for ``meta=``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "make_meta",
    "meta_nonempty",
    "emulate",
    "is_frame_like",
    "MetaInferenceError",
    "UNKNOWN_CATEGORIES",
    "unknown_categorical",
    "has_known_categories",
    "same_meta",
    "declared_meta",
    "restated",
]

UNKNOWN_CATEGORIES = "__UNKNOWN_CATEGORIES__"


def unknown_categorical(ordered: bool = False) -> pd.CategoricalDtype:
    """The meta dtype of a categorical whose categories are not known yet
    (each partition has its own; ``.cat.as_known()`` computes them).

    >>> has_known_categories(unknown_categorical())
    False
    """
    return pd.CategoricalDtype([UNKNOWN_CATEGORIES], ordered=ordered)


def has_known_categories(x: Any) -> bool:
    """False for a categorical dtype (or Series) with unknown categories.

    >>> has_known_categories(pd.CategoricalDtype(["a"])), has_known_categories("int64")
    (True, True)
    """
    dtype = getattr(x, "dtype", x)
    if not isinstance(dtype, pd.CategoricalDtype):
        return True
    return list(dtype.categories) != [UNKNOWN_CATEGORIES]


def wants_unknown_categories(dtype: Any) -> bool:
    """Whether an ``astype`` target is a categorical without categories.

    >>> wants_unknown_categories("category"), wants_unknown_categories("int64")
    (True, False)
    """
    if isinstance(dtype, str):
        return dtype == "category"
    return isinstance(dtype, pd.CategoricalDtype) and dtype.categories is None


class MetaInferenceError(ValueError):
    """Running an operation on fake data to learn its output type failed.

    >>> issubclass(MetaInferenceError, ValueError)
    True
    """


def is_frame_like(x: Any) -> bool:
    """True for pandas DataFrame, Series and Index objects.

    >>> is_frame_like(pd.Series([1])), is_frame_like(1)
    (True, False)
    """
    return isinstance(x, (pd.DataFrame, pd.Series, pd.Index))


def make_meta(x: Any, index: pd.Index | None = None) -> Any:
    """An empty pandas object like ``x``; scalars and dtypes become numpy scalars.

    ``x`` may be a pandas object, a dict or list of ``(name, dtype)`` for a
    DataFrame, a ``(name, dtype)`` tuple for a Series, or a dtype / scalar.

    >>> make_meta({"a": "int64", "b": "float64"}).dtypes.tolist()
    [dtype('int64'), dtype('float64')]
    >>> make_meta(("x", "int32"))
    Series([], Name: x, dtype: int32)
    """
    if is_frame_like(x):
        return x.iloc[:0] if not isinstance(x, pd.Index) else x[:0]
    idx = index if index is not None else pd.RangeIndex(0)
    if isinstance(x, dict):
        return pd.DataFrame(
            {k: pd.Series([], dtype=v, index=idx[:0]) for k, v in x.items()}, index=idx[:0]
        )
    if isinstance(x, list) and all(isinstance(t, tuple) and len(t) == 2 for t in x):
        return make_meta(dict(x), index)
    if isinstance(x, tuple) and len(x) == 2:
        return pd.Series([], dtype=x[1], name=x[0], index=idx[:0])
    if isinstance(x, (np.dtype, pd.api.extensions.ExtensionDtype, str, type)):
        dtype = pandas_dtype(x)
        if isinstance(dtype, np.dtype):
            return dtype.type(0) if dtype.kind not in "OSUV" else ""
        return pd.Series([], dtype=dtype).dtype
    if np.isscalar(x) or x is None or isinstance(x, (pd.Timestamp, pd.Timedelta)):
        return x
    raise TypeError(
        f"cannot make meta from {type(x).__name__}: expected a pandas object, a dict of "
        "column -> dtype, a (name, dtype) tuple or a dtype"
    )


def pandas_dtype(x: Any):
    """Normalise a dtype spelling (``"int64"``, ``float``, ``"string"``).

    >>> pandas_dtype("f8")
    dtype('float64')
    """
    return pd.api.types.pandas_dtype(x)


_FAKE_INTS = [1, 2]


def _fake_values(dtype: Any, n: int) -> Any:
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        if len(cats):
            return pd.Categorical([cats[i % len(cats)] for i in range(n)], dtype=dtype)
        return pd.Categorical(["foo"] * n)
    if isinstance(dtype, pd.DatetimeTZDtype):
        times = pd.date_range("2000-01-01", periods=n, freq="D", tz=dtype.tz)
        return pd.Series(times).astype(dtype)
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        return pd.Series(pd.date_range("2000-01-01", periods=n, freq="D")).astype(dtype)
    if isinstance(dtype, np.dtype) and dtype.kind == "m":
        return pd.Series(pd.to_timedelta(np.arange(1, n + 1), unit="D")).astype(dtype)
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return pd.Series([True, False] * n)[:n].astype(dtype)
    if kind in "iu":
        return pd.Series((_FAKE_INTS * n)[:n]).astype(dtype)
    if kind in "fc":
        return pd.Series([1.0, 2.0] * n)[:n].astype(dtype)
    if isinstance(dtype, pd.StringDtype) or kind in "OSU":
        return pd.Series(["foo", "bar"] * n)[:n].astype(dtype)
    try:
        return pd.Series([1, 2] * n)[:n].astype(dtype)
    except Exception:
        return pd.array([None] * n, dtype=dtype)


def _fake_index(index: pd.Index, n: int) -> pd.Index:
    if isinstance(index, pd.RangeIndex):
        return pd.RangeIndex(n, name=index.name)
    if isinstance(index, pd.MultiIndex):
        levels = [_fake_index(lev, n) for lev in index.levels]
        return pd.MultiIndex.from_arrays(levels, names=index.names)
    return pd.Index(_fake_values(index.dtype, n), name=index.name, dtype=index.dtype)


def meta_nonempty(meta: Any, n: int = 2) -> Any:
    """Fake data with ``n`` rows and the same types as ``meta``.

    >>> meta_nonempty(make_meta({"a": "int64", "s": "str"}))
         a    s
    0    1  foo
    1    2  bar
    """
    if isinstance(meta, pd.DataFrame):
        index = _fake_index(meta.index, n)
        cols = {
            i: pd.Series(_fake_values(meta.dtypes.iloc[i], n)).array for i in range(meta.shape[1])
        }
        out = pd.DataFrame(cols, index=index)
        dtypes = meta.dtypes
        inferred = {
            i: dtypes.iloc[i] for i in range(len(cols)) if out.dtypes.iloc[i] != dtypes.iloc[i]
        }
        if inferred:  # the constructor infers e.g. str for an object column of strings
            out = out.astype(inferred)
        out.columns = meta.columns
        return out
    if isinstance(meta, pd.Series):
        return pd.Series(
            pd.Series(_fake_values(meta.dtype, n)).values,
            index=_fake_index(meta.index, n),
            name=meta.name,
        ).astype(meta.dtype)
    if isinstance(meta, pd.Index):
        return _fake_index(meta, n)
    return meta


def emulate(
    func: Callable, *args: Any, fname: str | None = None, nonempty: bool = False, **kwargs: Any
) -> Any:
    """Run ``func`` on the metas in ``args`` and return an empty result.

    With ``nonempty`` it runs on fake rows (for functions that need values).
    A failure raises ``MetaInferenceError`` naming the function and asking
    for ``meta=``.

    >>> emulate(lambda df: df.a + 0.5, make_meta({"a": "int64"})).dtype
    dtype('float64')
    """
    if nonempty:
        args = tuple(meta_nonempty(a) if is_frame_like(a) else a for a in args)
    try:
        out = func(*args, **kwargs)
    except Exception as e:
        name = fname or getattr(func, "__name__", repr(func))
        raise MetaInferenceError(
            f"metadata inference failed in {name!r}: running it on "
            f"{'fake' if nonempty else 'empty'} input raised {type(e).__name__}: {e}. "
            "Pass meta= (an empty pandas object, a dict of column -> dtype, or a "
            "(name, dtype) tuple) describing the output."
        ) from e
    return make_meta(out) if is_frame_like(out) else _scalar_meta(out)


def _same_index(a: pd.Index, b: pd.Index) -> bool:
    if type(a) is not type(b) or list(a.names) != list(b.names):
        return False
    if isinstance(a, pd.MultiIndex):
        return a.dtypes.equals(b.dtypes)
    return a.dtype == b.dtype


def same_meta(a: Any, b: Any) -> bool:
    """True if two metas describe the same partitions: type, columns, names,
    dtypes and index alike (scalars: type and dtype). Cheap next to
    inferring a meta again.

    >>> same_meta(make_meta({"a": "int64"}), make_meta({"a": "int64"}))
    True
    >>> same_meta(make_meta({"a": "int64"}), make_meta({"a": "float64"}))
    False
    """
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, pd.DataFrame):
        return (
            a.columns.dtype == b.columns.dtype
            and a.columns.equals(b.columns)
            and a.dtypes.equals(b.dtypes)
            and _same_index(a.index, b.index)
        )
    if isinstance(a, pd.Series):
        return a.dtype == b.dtype and a.name == b.name and _same_index(a.index, b.index)
    if isinstance(a, pd.Index):
        return _same_index(a, b)
    return getattr(a, "dtype", None) == getattr(b, "dtype", None)


def _scalar_meta(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x
    if isinstance(x, bool):
        return np.bool_(x)
    if isinstance(x, int):
        return np.int64(x)
    if isinstance(x, float):
        return np.float64(x)
    return x


def declared_meta(meta: Any, like: Any) -> Any:
    """A ``meta=`` argument of ``map_partitions``/``apply``/``map`` as an
    empty pandas object. Besides ``make_meta``'s spellings, a dtype alone
    (``"float64"``) declares a Series of it, named like ``like`` when that
    is a Series; spellings that are not pandas objects take ``like``'s
    index (its dtype and names).

    >>> like = pd.Series([], dtype="int64", name="x", index=pd.Index([], name="t"))
    >>> declared_meta("float64", like)
    Series([], Name: x, dtype: float64)
    >>> declared_meta({"a": "f8"}, like).index.name
    't'
    """
    index = like.index if isinstance(like, (pd.DataFrame, pd.Series)) else None
    if isinstance(meta, (str, np.dtype, pd.api.extensions.ExtensionDtype, type)):
        name = like.name if isinstance(like, pd.Series) else None
        return pd.Series(
            [], dtype=pandas_dtype(meta), name=name, index=index[:0] if index is not None else None
        )
    return make_meta(meta, index=index)


def restated(cause: BaseException, prefix: str) -> BaseException:
    """``cause``'s error again, its message led by ``prefix``, of its own type even
    when that type builds its message from other arguments (pandas'
    ``UndefinedVariableError(name)``, ``UnicodeDecodeError``).

    >>> import pandas as pd
    >>> str(restated(pd.errors.UndefinedVariableError("zz"), "query"))
    "query: name 'zz' is not defined"
    >>> restated(KeyError("a"), "drop")
    KeyError("drop: 'a'")
    """
    message = f"{prefix}: {cause}"
    try:
        new = type(cause)(message)
        if str(new) in (message, repr(message)):
            return new
    except Exception:
        pass
    try:
        new = type(cause).__new__(type(cause))
        new.args = (message,)
        if str(new) == message:
            return new
    except Exception:
        pass
    return (ValueError if isinstance(cause, ValueError) else RuntimeError)(message)
