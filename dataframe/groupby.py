"""Groupby-aggregate as a tree reduction.

Every requested output ``(column, function)`` is split into intermediate
pieces that combine associatively, all indexed by the group keys:

=========================  ===============================  ==================
function                   chunk (per partition)            combine / finish
=========================  ===============================  ==================
sum count size min max     the same groupby method          sum (count, size)
prod first last                                             or the same method
mean var std               count, mean, M2 per group        Chan's formula
nunique                    (keys, value) pairs              dedupe, count
Aggregation(c, a, f)       ``c(grouped)``                   ``a`` then ``f``
=========================  ===============================  ==================

Chunks are combined by ``groupby(level=...)`` on the concatenated pieces,
``split_every`` at a time. With ``split_out=k`` each chunk is split by a hash
of the group keys into ``k`` pieces, giving ``k`` output partitions whose
groups do not overlap; with ``sort=True`` these are then re-cut into ``k``
sorted ranges of keys (``sort_index.py``), else they stay unsorted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from shoal.dataframe.concat import concat_frames
from shoal.dataframe.groupby_kernels import fast_chunk, key_labels, string_codes
from shoal.dataframe.meta import meta_nonempty
from shoal.dataframe.reductions import reduction
from shoal.dataframe.shuffle import Partitioned, hash_values
from shoal.dataframe.sort_index import SortIndexAcross, check_sortable_keys

__all__ = ["Aggregation", "GroupBy", "SeriesGroupBy"]

_SIMPLE = {
    "sum": "sum",
    "count": "sum",
    "size": "sum",
    "min": "min",
    "max": "max",
    "prod": "prod",
    "first": "first",
    "last": "last",
}
_MOMENTS = ("mean", "var", "std")
_KNOWN = set(_SIMPLE) | set(_MOMENTS) | {"nunique"}


class Aggregation:
    """A user-defined groupby aggregation built from three steps.

    ``chunk(grouped_series) -> Series`` per partition, ``agg(grouped_series)``
    on the concatenated chunk results grouped by key, and an optional
    ``finalize(series)``.

    >>> import shoal.dataframe as sd
    >>> span = Aggregation("span", lambda g: g.agg(["min", "max"]),
    ...                    lambda g: g.agg(["min", "max"]))
    >>> custom_sum = Aggregation("mysum", lambda g: g.sum(), lambda g: g.sum())
    >>> df = sd.from_pandas(pd.DataFrame({"k": [1, 1, 2], "v": [1, 2, 3]}), npartitions=2)
    >>> df.groupby("k").v.agg(custom_sum).compute().tolist()
    [3, 3]
    """

    def __init__(self, name: str, chunk: Callable, agg: Callable, finalize: Callable | None = None):
        self.name = name
        self.chunk = chunk
        self.agg = agg
        self.finalize = finalize

    def __repr__(self) -> str:
        return f"Aggregation({self.name!r})"


def _func_label(func: Any) -> str:
    if isinstance(func, Aggregation):
        return func.name
    return func


# ----------------------------------------------------------- task functions


def _group(part, by, level, by_part, opts, decoded=None):
    """``(grouped, restore)``: string keys are grouped as categoricals (one
    factorization per partition instead of one per aggregation); ``restore``
    maps their dtypes back on the results' index. ``decoded`` maps keys that
    the reader gave as categoricals (``encoded_keys.py``) to their real dtype."""
    if by_part is not None:
        return part.groupby(by_part, **opts), {}
    if level is not None:
        return part.groupby(level=level, **opts), {}
    decoded = decoded or {}
    keys = by if isinstance(by, list) else [by]
    dtypes = {k: decoded.get(k, part.dtypes[k]) for k in keys}
    if any(isinstance(d, pd.CategoricalDtype) for d in dtypes.values()):
        return part.groupby(by, **opts), {}
    restore = {
        k: d
        for k, d in dtypes.items()
        if pd.api.types.is_object_dtype(d) or isinstance(d, pd.StringDtype)
    }
    if not restore:
        return part.groupby(by, **opts), {}
    series = [
        _as_categorical(part[k]) if k in restore and k not in decoded else part[k] for k in keys
    ]
    opts = {**opts, "observed": True}
    return part.groupby(series if isinstance(by, list) else series[0], **opts), restore


def _as_categorical(s: pd.Series) -> pd.Series:
    """A categorical copy of a string Series (arrow-encoded when possible)."""
    if getattr(s.array, "_pa_array", None) is None:
        return s.astype("category")
    codes, categories = string_codes(s)
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=categories), index=s.index, name=s.name
    )


def _restore_index(value, keys: list, restore: dict):
    index = value.index
    if isinstance(index, pd.MultiIndex):
        arrays = [index.get_level_values(i) for i in range(index.nlevels)]
        arrays = [
            key_labels(a, restore[keys[i]]) if i < len(keys) and keys[i] in restore else a
            for i, a in enumerate(arrays)
        ]
        value.index = pd.MultiIndex.from_arrays(arrays, names=index.names)
    else:
        value.index = key_labels(index, restore[keys[0]])
    return value


_NEEDS = {
    "mean": ("count", "sum"),
    "var": ("count", "mean", "var0"),
    "std": ("count", "mean", "var0"),
}


def _batched(grouped, specs) -> dict:
    """One groupby call per pandas method over all the columns that need it
    (the grouping is factorized once per call, not once per column)."""
    wanted: dict = {}
    for col, func in specs.values():
        if col is None or isinstance(func, Aggregation) or func in ("size", "nunique"):
            continue
        for method in _NEEDS.get(func, (func,)):
            wanted.setdefault(method, [])
            if col not in wanted[method]:
                wanted[method].append(col)
    out = {}
    for method, cols in wanted.items():
        g = grouped[cols]
        out[method] = g.var(ddof=0) if method == "var0" else getattr(g, method)()
    return out


def _chunk_one(grouped, col, func, cache):
    if isinstance(func, Aggregation):
        return func.chunk(grouped[col])
    if func == "size":
        return grouped.size()
    if func == "nunique":
        return grouped[col].value_counts(dropna=False)
    if func in _SIMPLE:
        return cache[func][col]
    n = cache["count"][col].astype("float64")
    if func == "mean":
        return pd.DataFrame({"n": n, "sum": cache["sum"][col]})
    return pd.DataFrame(
        {
            "n": n,
            "mean": cache["mean"][col].astype("float64").fillna(0.0),
            "m2": (cache["var0"][col] * n).astype("float64").fillna(0.0),
        }
    )


def groupby_chunk(
    part, by_part=None, *, by, level, opts, specs, split_out, decoded=None, keep_order=True
):
    """Intermediates of every spec for one partition (split by key hash):
    by ``np.bincount`` where ``groupby_kernels`` applies, else by pandas.
    ``keep_order``: groups must come in order of first appearance (the
    result is not sorted later)."""
    keys = by if isinstance(by, list) else [by]
    out = None
    if by_part is None and level is None:
        dropna = opts.get("dropna", True)
        out = fast_chunk(part, keys, specs, dropna, decoded or {}, keep_order)
    if out is None:
        grouped, restore = _group(part, by, level, by_part, opts, decoded)
        cache = _batched(grouped, specs)
        out = {k: _chunk_one(grouped, col, func, cache) for k, (col, func) in specs.items()}
        if restore:
            out = {k: _restore_index(v, keys, restore) for k, v in out.items()}
    if split_out == 1:
        return out
    pieces = [{} for _ in range(split_out)]
    for k, value in out.items():
        nkeys = value.index.nlevels - (1 if specs[k][1] == "nunique" else 0)
        index = value.index
        keys = [index.get_level_values(j) for j in range(nkeys)]
        target = hash_values(keys) % np.uint64(split_out)  # as the shuffle places rows
        for j in range(split_out):
            pieces[j][k] = value[target == j]
    return pieces


def _combine_one(values: list, func, nlevels, opts):
    both = concat_frames(values)  # categorical keys keep the union of categories
    levels = list(range(nlevels))
    kw = {"sort": False, "dropna": opts.get("dropna", True), "observed": True}
    if isinstance(func, Aggregation):
        return func.agg(both.groupby(level=levels, **kw))
    if func in _SIMPLE:
        return getattr(both.groupby(level=levels, **kw), _SIMPLE[func])()
    if func == "mean":
        return both.groupby(level=levels, **kw).sum()
    if func in _MOMENTS:
        grp = both.groupby(level=levels, **kw)
        n = grp["n"].sum()
        mean = (both["n"] * both["mean"]).groupby(level=levels, **kw).sum() / n.where(n > 0, 1)
        dev = both["mean"] - mean.reindex(both.index).to_numpy()
        m2 = (both["m2"] + both["n"] * dev**2).groupby(level=levels, **kw).sum()
        return pd.DataFrame({"n": n, "mean": mean, "m2": m2})
    # nunique: (keys..., value) -> count; dedupe the pairs
    codes = _level_codes(both.index, both.index.nlevels, nlevels)
    if codes is not None:  # one int64 per pair: hashing it is far cheaper than the tuples
        return both[~pd.Series(codes).duplicated().to_numpy()]
    return both.groupby(level=list(range(both.index.nlevels)), **kw).sum()


def _level_codes(index: pd.MultiIndex, nlevels: int, keys: int) -> np.ndarray | None:
    """One int64 per row identifying its first ``nlevels`` labels, or None
    when their combinations overflow int64 or one of the first ``keys``
    levels has a missing label (pandas spells those two ways, as code -1
    or as a NaN label, which must not count as two groups).

    >>> mi = pd.MultiIndex.from_arrays([[1, 1, 2, 1], ["a", "b", "a", "a"]])
    >>> _level_codes(mi, 2, 1).tolist(), _level_codes(mi, 1, 1).tolist()
    ([4, 5, 7, 4], [1, 1, 2, 1])
    """
    for level in range(keys):
        if index.levels[level].hasnans or (index.codes[level] < 0).any():
            return None
    out = np.zeros(len(index), dtype=np.int64)
    space = 1
    for level in range(nlevels):
        size = len(index.levels[level]) + 1  # code -1 (a missing value) becomes 0
        space *= size
        if space >= 2**62:
            return None
        out = out * size + (index.codes[level].astype(np.int64) + 1)
    return out


def groupby_combine(parts, *, specs, nlevels, opts, **kw):
    """Merge several partitions' intermediates."""
    return {
        k: _combine_one([p[k] for p in parts], func, nlevels, opts)
        for k, (col, func) in specs.items()
    }


def _finish_one(value, func, nlevels, ddof):
    if isinstance(func, Aggregation):
        return func.finalize(value) if func.finalize else value
    if func in _SIMPLE:
        return value
    if func == "mean":
        n = value["n"]
        return (value["sum"] / n.where(n > 0, 1)).where(n > 0, np.nan)
    if func in _MOMENTS:
        n, m2 = value["n"], value["m2"]
        var = (m2 / (n - ddof)).where(n - ddof > 0, np.nan)
        return var if func == "var" else np.sqrt(var)
    index = value.index
    present = index.get_level_values(-1).notna()
    codes = _level_codes(index, nlevels, nlevels)
    if codes is None:
        keys = list(range(nlevels))
        counted = pd.Series(present.astype("int64"), index=index)
        return counted.groupby(level=keys, sort=False, dropna=False, observed=True).sum()
    groups, uniques = pd.factorize(codes)  # groups in order of first appearance
    first = np.empty(len(uniques), dtype=np.intp)
    first[groups[::-1]] = np.arange(len(groups) - 1, -1, -1)
    counts = np.bincount(groups, weights=present, minlength=len(uniques)).astype("int64")
    return pd.Series(counts, index=index.droplevel(-1)[first])


def groupby_aggregate(parts, *, specs, nlevels, opts, outputs, labels, series_name, sort, ddof):
    """The final groupby result from the merged intermediates."""
    merged = groupby_combine(parts, specs=specs, nlevels=nlevels, opts=opts)
    finished = {k: _finish_one(v, specs[k][1], nlevels, ddof) for k, v in merged.items()}
    columns = [finished[k] for k in outputs]
    if len(columns) == 1:
        result = columns[0].to_frame()
    else:
        result = pd.concat(columns, axis=1)
    if isinstance(labels, pd.MultiIndex):
        result.columns = labels
    else:
        result.columns = list(labels)
    if sort:
        result = result.sort_index()
    if series_name is not False:
        return result.iloc[:, 0].rename(series_name)
    return result


# ---------------------------------------------------------------------- API


def _agg_method(name: str) -> Callable[..., Any]:
    """The method ``GroupBy.<name>``: ``agg(name)``."""

    def method(self, split_every: int | None = None, split_out: int = 1, **kw):
        return self.agg(name, split_every=split_every, split_out=split_out, **kw)

    method.__name__ = name
    method.__doc__ = f"Groupby {name} as a tree reduction (see ``agg``)."
    return method


class GroupBy:
    """``df.groupby(by)``: group a DataFrame by columns, an aligned Series or
    index levels, then aggregate.

    >>> import shoal.dataframe as sd
    >>> pdf = pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]})
    >>> sd.from_pandas(pdf, npartitions=2).groupby("k").v.sum().compute().to_dict()
    {'a': 4, 'b': 2}
    """

    _result_name: Any  # set by Series.groupby: the name of the results

    def __init__(
        self,
        frame,
        by=None,
        level=None,
        sort: bool | None = None,
        dropna: bool = True,
        observed: bool = True,
        selection=None,
        as_index: bool = True,
    ):
        from shoal.dataframe.collection import new_collection
        from shoal.dataframe.series import Series

        if (by is None) == (level is None):
            raise TypeError("groupby needs exactly one of by= or level=")
        if not as_index and (by is None or isinstance(by, Series)):
            raise TypeError("groupby(as_index=False) needs by= column names")
        self._as_index = bool(as_index)
        self._frame = frame
        self._by_series = None
        self._by = None
        self._level = level
        if isinstance(by, Series):
            from shoal.dataframe.expr import align, check_aligned

            base, by_expr = align(frame.expr, by.expr)
            check_aligned(base, by_expr, what="groupby by a Series")
            if base is not frame.expr:
                frame = new_collection(base)
                by = new_collection(by_expr)
            self._frame = frame
            self._by_series = by
        elif by is not None:
            by_list = by if isinstance(by, list) else [by]
            frame._check_columns(by_list, "groupby")
            self._by = by
        self._sort = sort
        self._dropna = dropna
        self._observed = observed
        self._selection = selection

    # ----------------------------------------------------------- selection

    def __getitem__(self, key):
        cols = key if isinstance(key, list) else [key]
        self._frame._check_columns(cols, "groupby selection")
        cls = GroupBy if isinstance(key, list) else SeriesGroupBy
        return cls(
            self._frame,
            by=self._by if self._by_series is None else self._by_series,
            level=self._level,
            sort=self._sort,
            dropna=self._dropna,
            observed=self._observed,
            selection=key,
            as_index=self._as_index,
        )

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._frame.columns:
            return self[name]
        raise AttributeError(f"'GroupBy' object has no attribute {name!r}")

    def _key_columns(self) -> list:
        if self._by is None:
            return []
        return self._by if isinstance(self._by, list) else [self._by]

    def _value_columns(self) -> list:
        if self._selection is not None:
            return self._selection if isinstance(self._selection, list) else [self._selection]
        keys = set(self._key_columns())
        return [c for c in self._frame.columns if c not in keys]

    # -------------------------------------------------------- aggregation

    def _normalize(self, arg, named):
        """``(entries, labels, series_name)``: entries are (column, func)."""
        values = self._value_columns()
        series_sel = isinstance(self, SeriesGroupBy)
        if named:
            entries, labels = [], []
            for name, spec in named.items():
                if not (isinstance(spec, tuple) and len(spec) == 2):
                    raise TypeError(
                        f"named aggregation {name}= must be (column, func), got {spec!r}"
                    )
                col, func = spec
                self._frame._check_columns([col], "agg")
                entries.append((col, func))
                labels.append(name)
            return entries, labels, False
        if isinstance(arg, dict):
            if series_sel:
                raise TypeError("SeriesGroupBy.agg takes a function or a list, not a dict")
            self._frame._check_columns(list(arg), "agg")
            entries, tuples = [], []
            multi = any(isinstance(v, list) for v in arg.values())
            for col, funcs in arg.items():
                for func in funcs if isinstance(funcs, list) else [funcs]:
                    entries.append((col, func))
                    tuples.append((col, _func_label(func)))
            labels = pd.MultiIndex.from_tuples(tuples) if multi else [t[0] for t in tuples]
            return entries, labels, False
        if isinstance(arg, list):
            if series_sel:
                return ([(values[0], f) for f in arg], [_func_label(f) for f in arg], False)
            entries = [(c, f) for c in values for f in arg]
            labels = pd.MultiIndex.from_tuples([(c, _func_label(f)) for c, f in entries])
            return entries, labels, False
        name = getattr(self, "_result_name", values[0] if values else None)
        if arg == "size":
            name = name if series_sel else None
            return [(None, "size")], [name], name
        if series_sel:
            return [(values[0], arg)], [name], name
        return [(c, arg) for c in values], values, False

    def agg(
        self, arg=None, split_every: int | None = None, split_out: int = 1, ddof: int = 1, **named
    ):
        """Aggregate with a name (``"sum"``), an ``Aggregation``, a list, a dict
        ``{column: func or [funcs]}`` or named aggregations ``out=(col, func)``."""
        from shoal.dataframe.collection import new_collection

        if arg is None and not named:
            raise TypeError("agg needs a function, a list, a dict or name=(column, func)")
        entries, labels, series_name = self._normalize(arg, named)
        for _, func in entries:
            if not isinstance(func, Aggregation) and func not in _KNOWN:
                raise ValueError(
                    f"unknown aggregation {func!r}; expected one of {sorted(_KNOWN)} or a "
                    "shoal.dataframe.Aggregation"
                )
        specs: dict = {}
        outputs = []
        for col, func in entries:
            key = next(
                (
                    k
                    for k, v in specs.items()
                    if v[0] == col
                    and v[1] is func
                    or (v[0] == col and v[1] == func and isinstance(func, str))
                ),
                None,
            )
            if key is None:
                key = len(specs)
                specs[key] = (col, func)
            outputs.append(key)
        if not isinstance(split_out, int) or split_out < 1:
            raise ValueError(f"split_out must be a positive integer, got {split_out!r}")
        sort = self._sort
        if sort is None:
            sort = split_out == 1
        sort_across = sort and split_out > 1
        opts = {"sort": False, "dropna": self._dropna, "observed": self._observed}
        nlevels = self._nlevels()
        chunk_kw = {
            "by": self._by,
            "level": self._level,
            "opts": opts,
            "specs": specs,
            "split_out": split_out,
            "keep_order": not sort,
        }
        agg_kw = {
            "specs": specs,
            "nlevels": nlevels,
            "opts": opts,
            "outputs": outputs,
            "labels": labels,
            "series_name": series_name,
            "sort": sort and not sort_across,
            "ddof": ddof,
        }
        meta = self._meta(chunk_kw, agg_kw)
        if sort_across:
            check_sortable_keys(meta)
        needed = None
        if self._by_series is None and self._level is None:
            needed = list(
                dict.fromkeys(self._key_columns() + [c for c, _ in entries if c is not None])
            )
        others = (self._by_series.expr,) if self._by_series is not None else ()
        expr = reduction(
            self._frame.expr,
            groupby_chunk,
            groupby_combine,
            groupby_aggregate,
            meta,
            "groupby-agg",
            split_every,
            chunk_kwargs=chunk_kw,
            kwargs={**agg_kw},
            needed=needed,
            others=others,
            split_out=split_out,
        )
        result: Any
        if sort_across:
            result = new_collection(SortIndexAcross(expr))
        elif split_out > 1:  # groups placed by the shuffle's hash of the keys (the index)
            result = new_collection(Partitioned(expr, None, split_out))
        else:
            result = new_collection(expr)
        if self._as_index:
            return result
        if arg == "size" and not named:  # pandas names the counts "size"
            result = result.rename("size")
        return result.reset_index()

    aggregate = agg

    def _nlevels(self) -> int:
        if self._by_series is not None:
            return 1
        if self._level is not None:
            return len(self._level) if isinstance(self._level, list) else 1
        return len(self._key_columns())

    def _meta(self, chunk_kw, agg_kw):
        from shoal.dataframe.meta import MetaInferenceError

        fake = meta_nonempty(self._frame._meta)
        by_part = meta_nonempty(self._by_series._meta) if self._by_series is not None else None
        try:
            chunk = groupby_chunk(fake, by_part, **{**chunk_kw, "split_out": 1})
            out = groupby_aggregate([chunk], **{**agg_kw, "sort": False})
        except Exception as e:
            raise MetaInferenceError(
                f"groupby aggregation failed on fake data of the input's types: "
                f"{type(e).__name__}: {e}. Check that every function applies to its column's "
                "dtype."
            ) from e
        return out.iloc[:0]

    sum = _agg_method("sum")
    count = _agg_method("count")
    min = _agg_method("min")
    max = _agg_method("max")
    prod = _agg_method("prod")
    first = _agg_method("first")
    last = _agg_method("last")
    mean = _agg_method("mean")
    nunique = _agg_method("nunique")

    def size(self, split_every: int | None = None, split_out: int = 1):
        """Rows per group."""
        return self.agg("size", split_every=split_every, split_out=split_out)

    def var(self, ddof: int = 1, split_every: int | None = None, split_out: int = 1):
        """Variance per group (Chan's parallel algorithm)."""
        return self.agg("var", split_every=split_every, split_out=split_out, ddof=ddof)

    def std(self, ddof: int = 1, split_every: int | None = None, split_out: int = 1):
        """Standard deviation per group."""
        return self.agg("std", split_every=split_every, split_out=split_out, ddof=ddof)

    # ---- shuffles, joins, sorting

    def apply(
        self,
        func: Callable,
        *args: Any,
        meta: Any = None,
        npartitions: int | None = None,
        shuffle_method: str | None = None,
        **kwargs: Any,
    ):
        """``func`` on every group (a DataFrame, or a Series after a column
        selection), as pandas' ``apply``: rows are shuffled so each group is
        whole in one partition (``grouped.py``). ``meta`` describes the
        result (else ``func`` runs on fake rows to find it)."""
        from shoal.dataframe.grouped import run_grouped

        return run_grouped(self, "apply", args, kwargs, func, meta, npartitions, shuffle_method)

    def transform(
        self,
        func: Any,
        *args: Any,
        npartitions: int | None = None,
        shuffle_method: str | None = None,
        **kwargs: Any,
    ):
        """A value per row from its group (pandas' ``transform``), each row
        keeping its index label. A named reduction (``"mean"``, ``"sum"``...)
        of groups by columns is looked up per row without moving rows, so the
        result lines up with the frame (``group_transform.py``); functions go
        through the shuffle."""
        from shoal.dataframe.group_transform import REDUCTIONS, transform_by_reduction
        from shoal.dataframe.grouped import grouped_meta, run_grouped

        if (
            isinstance(func, str)
            and func in REDUCTIONS
            and not args
            and not kwargs
            and npartitions is None
            and shuffle_method is None
            and self._by is not None
            and self._by_series is None
            and self._as_index
        ):
            from shoal.dataframe.collection import new_collection

            meta = grouped_meta(self, "transform", (func,), {})
            return new_collection(transform_by_reduction(self, func, meta))
        return run_grouped(
            self, "transform", (func, *args), kwargs, None, None, npartitions, shuffle_method
        )

    def _scan(self, method: str, args: tuple, npartitions, shuffle_method):
        from shoal.dataframe.grouped import run_grouped

        return run_grouped(self, method, args, {}, None, None, npartitions, shuffle_method)

    def shift(
        self, periods: int = 1, npartitions: int | None = None, shuffle_method: str | None = None
    ):
        """Values moved by ``periods`` rows within each group, in input order."""
        return self._scan("shift", (periods,), npartitions, shuffle_method)

    def cumsum(self, npartitions: int | None = None, shuffle_method: str | None = None):
        """Running sum within each group, in input order."""
        return self._scan("cumsum", (), npartitions, shuffle_method)

    def cumcount(
        self,
        ascending: bool = True,
        npartitions: int | None = None,
        shuffle_method: str | None = None,
    ):
        """Position of each row within its group (0-based), in input order."""
        return self._scan("cumcount", (ascending,), npartitions, shuffle_method)


class SeriesGroupBy(GroupBy):
    """A groupby with one selected column: aggregations give a Series.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}), npartitions=2)
    >>> df.groupby("k").v.mean().compute().tolist()
    [2.0, 5.0]
    """
