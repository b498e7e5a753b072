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
from shoal.dataframe.group_codes import combine_by_codes
from shoal.dataframe.groupby_kernels import fast_chunk, key_labels, nunique_pairs, string_codes
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
    ``finalize(series)``. As in Dask, ``chunk`` may return a tuple of Series:
    ``agg`` then takes each one's grouped concatenation as an argument and
    returns a tuple too, and ``finalize`` takes the tuple's Series as
    arguments.

    >>> import shoal.dataframe as sd
    >>> span = Aggregation("span", lambda g: g.agg(["min", "max"]),
    ...                    lambda g: g.agg(["min", "max"]))
    >>> custom_sum = Aggregation("mysum", lambda g: g.sum(), lambda g: g.sum())
    >>> df = sd.from_pandas(pd.DataFrame({"k": [1, 1, 2], "v": [1, 2, 3]}), npartitions=2)
    >>> df.groupby("k").v.agg(custom_sum).compute().tolist()
    [3, 3]
    >>> mean = Aggregation("m", lambda s: (s.count(), s.sum()),
    ...                    lambda c, t: (c.sum(), t.sum()), lambda c, t: t / c)
    >>> df.groupby("k").v.agg(mean).compute().tolist()
    [1.5, 3.0]
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


def _group(part, by, opts, decoded=None):
    """``(grouped, restore)``: string keys are grouped as categoricals (one
    factorization per partition instead of one per aggregation); ``restore``
    maps their dtypes back on the results' index. ``decoded`` maps keys that
    the reader gave as categoricals (``encoded_keys.py``) to their real dtype."""
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
    if isinstance(value, tuple):  # a custom aggregation's several intermediates
        return tuple(_restore_index(v, keys, restore) for v in value)
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


def groupby_chunk(part, *, by, opts, specs, split_out, decoded=None, keep_order=True):
    """Intermediates of every spec for one partition (split by key hash):
    by ``np.bincount`` where ``groupby_kernels`` applies, else by pandas.
    ``keep_order``: groups must come in order of first appearance (the
    result is not sorted later)."""
    keys = by if isinstance(by, list) else [by]
    dropna = opts.get("dropna", True)
    out = {}
    for k, (col, func) in specs.items():
        if func == "nunique":  # distinct pairs by one hash per row, where it applies
            pairs = nunique_pairs(part, keys, col, dropna, decoded or {})
            if pairs is not None:
                out[k] = pairs
    rest = {k: spec for k, spec in specs.items() if k not in out}
    if rest:
        got = fast_chunk(part, keys, rest, dropna, decoded or {}, keep_order)
        if got is None:
            grouped, restore = _group(part, by, opts, decoded)
            cache = _batched(grouped, rest)
            got = {k: _chunk_one(grouped, col, func, cache) for k, (col, func) in rest.items()}
            if restore:
                got = {k: _restore_index(v, keys, restore) for k, v in got.items()}
        out.update(got)
        out = {k: out[k] for k in specs}
    if split_out == 1:
        return out
    pieces = [{} for _ in range(split_out)]
    for k, value in out.items():
        nkeys = (value[0] if isinstance(value, tuple) else value).index.nlevels
        nkeys -= 1 if specs[k][1] == "nunique" else 0
        if isinstance(value, tuple):  # a custom aggregation's several intermediates
            targets = [_split_targets(v, nkeys, split_out) for v in value]
            for j in range(split_out):
                pieces[j][k] = tuple(v[t == j] for v, t in zip(value, targets))
        else:
            target = _split_targets(value, nkeys, split_out)
            for j in range(split_out):
                pieces[j][k] = value[target == j]
    return pieces


def _split_targets(value, nkeys: int, split_out: int) -> np.ndarray:
    """The output piece of each group of ``value``, as the shuffle places rows."""
    index = value.index
    keys = [index.get_level_values(j) for j in range(nkeys)]
    return hash_values(keys) % np.uint64(split_out)


_VALUE = "__shoal_value__"


def _by_columns(values: list) -> list | None:
    """The key names when ``values`` (intermediates on a MultiIndex) can be
    combined by grouping columns: concatenating MultiIndexes unites every
    level's labels, far slower for string keys than concatenating columns."""
    index = values[0].index
    if not isinstance(index, pd.MultiIndex):
        return None
    names = list(index.names)
    taken = {_VALUE} if isinstance(values[0], pd.Series) else set(values[0].columns)
    if any(n is None for n in names) or len(set(names)) < len(names) or taken & set(names):
        return None
    if any(list(v.index.names) != names for v in values):
        return None
    return names


def _combine_by_columns(values: list, how: str, names: list, kw: dict):
    """``_combine_one`` of ``values`` with their keys as columns (``_by_columns``)."""
    series = isinstance(values[0], pd.Series)
    frames = [(v.to_frame(_VALUE) if series else v).reset_index() for v in values]
    out = getattr(concat_frames(frames).groupby(names, **kw), how)()
    return out[_VALUE].rename(values[0].name) if series else out


def _combine_one(values: list, func, nlevels, opts, keep_order: bool = True):
    if func == "nunique" and len(values) == 1:
        return values[0]  # one chunk's (keys..., value) pairs are distinct already
    if len(values) == 1 and (func in _SIMPLE or func == "mean") and not _missing_key(values[0]):
        return values[0]  # one intermediate's keys are distinct already
    levels = list(range(nlevels))
    kw = {"sort": False, "dropna": opts.get("dropna", True), "observed": True}
    simple = _SIMPLE.get(func) if isinstance(func, str) else None
    if simple in ("sum", "min", "max") or func == "mean":
        got = combine_by_codes(values, simple or "sum", nlevels, keep_order)
        if got is not None:
            return got
    names = _by_columns(values) if simple or func == "mean" else None
    if names is not None and len(names) == nlevels:
        return _combine_by_columns(values, simple or "sum", names, kw)
    if isinstance(func, Aggregation) and isinstance(values[0], tuple):
        grouped = [
            concat_frames([v[j] for v in values]).groupby(level=levels, **kw)
            for j in range(len(values[0]))
        ]
        return tuple(func.agg(*grouped))
    both = concat_frames(values)  # categorical keys keep the union of categories
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


def _missing_key(value) -> bool:
    """Whether a key of the intermediate ``value`` is missing (pandas spells
    it as code -1 or as a NaN label: a groupby makes the spelling uniform).

    >>> _missing_key(pd.Series([1], index=pd.MultiIndex.from_arrays([[1], [None]])))
    True
    """
    index = value.index
    if isinstance(index, pd.MultiIndex):
        return any(level.hasnans for level in index.levels) or any(
            (codes < 0).any() for codes in index.codes
        )
    return bool(index.hasnans)


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


def groupby_combine(parts, *, specs, nlevels, opts, sort=False, **kw):
    """Merge several partitions' intermediates; with ``sort`` (the result
    gets sorted) groups may come in any order, else in order of first
    appearance."""
    return {
        k: _combine_one([p[k] for p in parts], func, nlevels, opts, keep_order=not sort)
        for k, (col, func) in specs.items()
    }


def _finish_one(value, func, nlevels, ddof):
    if isinstance(func, Aggregation):
        if isinstance(value, tuple):
            if func.finalize is None:
                raise ValueError(
                    f"Aggregation {func.name!r}: chunk returns several Series, so finalize "
                    "must combine them into one"
                )
            return func.finalize(*value)
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
    n = len(codes)
    space = int(codes.max()) + 1 if n else 0
    if space <= 4 * n + 1024:  # dense codes: no hashing
        first = np.full(space, n, dtype=np.intp)
        first[codes[::-1]] = np.arange(n - 1, -1, -1)
        seen = np.flatnonzero(first < n)
        order = seen[np.argsort(first[seen], kind="stable")]  # first appearance
        counts = np.bincount(codes, weights=present, minlength=space)[order].astype("int64")
        return pd.Series(counts, index=index.droplevel(-1)[first[order]])
    groups, uniques = pd.factorize(codes)  # groups in order of first appearance
    first = np.empty(len(uniques), dtype=np.intp)
    first[groups[::-1]] = np.arange(len(groups) - 1, -1, -1)
    counts = np.bincount(groups, weights=present, minlength=len(uniques)).astype("int64")
    return pd.Series(counts, index=index.droplevel(-1)[first])


def groupby_aggregate(
    parts,
    *,
    specs,
    nlevels,
    opts,
    outputs,
    labels,
    series_name,
    sort,
    ddof,
    min_count=0,
    counted=None,
):
    """The final groupby result from the merged intermediates; ``counted``
    maps sums and products to the counts ``min_count`` is checked against."""
    merged = groupby_combine(parts, specs=specs, nlevels=nlevels, opts=opts, sort=sort)
    finished = {k: _finish_one(v, specs[k][1], nlevels, ddof) for k, v in merged.items()}
    for k, count in (counted or {}).items():
        value = finished[k]
        if value.dtype.kind in "iub":  # missing values may appear: one dtype for all partitions
            value = value.astype("float64")
        finished[k] = value.where(finished[count] >= min_count)
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


# ------------------------------------------------------------- group keys

_KEY = "__shoal_key_{}__"


def _index_level(part, level):
    return pd.Series(part.index.get_level_values(level), index=part.index)


def name_key_levels(part, names: dict):
    """``part`` with index levels named by ``names`` (key columns added for
    the grouping -> the names pandas gives those levels).

    >>> s = pd.Series([1], index=pd.Index(["a"], name="__shoal_key_0__"))
    >>> name_key_levels(s, {"__shoal_key_0__": "k"}).index.name
    'k'
    """
    index = part.index
    wanted = [names.get(n, n) if isinstance(n, str) else n for n in index.names]
    if wanted == list(index.names):
        return part
    return part.set_axis(index.set_names(wanted), axis=0)


def resolve_keys(frame, by, level) -> tuple:
    """``(frame, key columns, names)``: every grouping pandas accepts as
    columns of ``frame``. Column names stay; a Series that is a column of
    ``frame`` becomes that column (pandas then leaves it out of the values);
    other Series (``df.a > 2``, another column's values) and index levels
    (``level=`` or a name in ``by``) become added columns ``__shoal_key_i__``
    whose result levels ``names`` maps back to what pandas calls them.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), npartitions=1)
    >>> resolve_keys(df, [df.a, df.b > 3], None)[1:]
    (['a', '__shoal_key_1__'], {'__shoal_key_1__': 'b'})
    """
    from shoal.dataframe.expr import Projection, align, check_aligned
    from shoal.dataframe.series import Series

    single = level is None and not isinstance(by, list)
    if level is not None:
        items: list = [("level", x) for x in (level if isinstance(level, list) else [level])]
    else:
        items = [("by", x) for x in (by if isinstance(by, list) else [by])]
    columns = set(frame.columns)
    index_names = [n for n in frame._meta.index.names if n is not None]
    keys: list = []
    added: dict = {}
    names: dict = {}
    for j, (kind, item) in enumerate(items):
        temp = _KEY.format(j)
        if isinstance(item, Series):
            expr = item.expr
            if (
                isinstance(expr, Projection)
                and expr.frame._name == frame.expr._name
                and not isinstance(expr.columns_, list)
            ):
                keys.append(expr.columns_)
                continue
            added[temp], names[temp] = item, item.name
        elif kind == "level" or (item not in columns and item in index_names):
            nlevels = frame._meta.index.nlevels
            if isinstance(item, int) and not -nlevels <= item < nlevels:
                raise IndexError(f"groupby: level {item} out of range for {nlevels} level(s)")
            if not isinstance(item, int) and item not in index_names:
                raise KeyError(f"groupby: no index level named {item!r}; levels: {index_names}")
            meta = frame._meta.index.get_level_values(item)
            added[temp] = frame.map_partitions(
                _index_level, item, meta=pd.Series([], dtype=meta.dtype, index=frame._meta.index)
            )
            names[temp] = meta.name
        else:
            frame._check_columns([item], "groupby")
            keys.append(item)
            continue
        keys.append(temp)
    if added:
        base, *values = align(frame.expr, *[v.expr for v in added.values()])
        check_aligned(base, *values, what="groupby by a Series")
        if base is not frame.expr:
            from shoal.dataframe.collection import new_collection

            frame = new_collection(base)
            added = dict(zip(added, map(new_collection, values)))
        frame = frame.assign(**added)
    return frame, keys[0] if single else keys, names


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
        group_keys: bool = True,
    ):
        if (by is None) == (level is None):
            raise TypeError("groupby needs exactly one of by= or level=")
        self._as_index = bool(as_index)
        self._frame, self._by, self._key_names = resolve_keys(frame, by, level)
        self._sort = sort
        self._dropna = dropna
        self._observed = observed
        self._selection = selection
        self._group_keys = bool(group_keys)

    def _grouping(self) -> dict:
        """The keyword arguments that rebuild this grouping on the resolved frame."""
        return {
            "by": self._by,
            "sort": self._sort,
            "dropna": self._dropna,
            "observed": self._observed,
            "as_index": self._as_index,
            "group_keys": self._group_keys,
        }

    def _named_keys(self, coll):
        """``coll`` with the key levels of its index named as pandas names
        them (a Series key after the Series, an index level after itself)."""
        if not self._key_names:
            return coll
        from shoal.dataframe.collection import new_collection
        from shoal.dataframe.expr import map_partitions_expr

        expr = map_partitions_expr(
            name_key_levels,
            coll.expr,
            names=self._key_names,
            label="groupby-keys",
            passthrough=True,
        )
        return new_collection(expr)

    # ----------------------------------------------------------- selection

    def __getitem__(self, key):
        cols = key if isinstance(key, list) else [key]
        self._frame._check_columns(cols, "groupby selection")
        cls = GroupBy if isinstance(key, list) else SeriesGroupBy
        out = cls(self._frame, selection=key, **self._grouping())
        out._key_names = self._key_names
        return out

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._frame.columns and name not in self._key_names:
            return self[name]
        raise AttributeError(f"'GroupBy' object has no attribute {name!r}")

    def _key_columns(self) -> list:
        return self._by if isinstance(self._by, list) else [self._by]

    def _value_columns(self) -> list:
        if self._selection is not None:
            return self._selection if isinstance(self._selection, list) else [self._selection]
        keys = set(self._key_columns())
        return [c for c in self._frame.columns if c not in keys]

    # -------------------------------------------------------- aggregation

    def _normalize(self, arg, named, numeric_only: bool = False):
        """``(entries, labels, series_name)``: entries are (column, func)."""
        values = self._value_columns()
        series_sel = isinstance(self, SeriesGroupBy)
        if numeric_only:
            numeric = self._frame._meta[values].select_dtypes(include=["number", "bool"]).columns
            if series_sel and len(numeric) < len(values):
                raise TypeError(
                    f"numeric_only=True with a column of dtype "
                    f"{self._frame._meta[values[0]].dtype}: select a numeric column"
                )
            values = list(numeric)
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
        self,
        arg=None,
        split_every: int | None = None,
        split_out: int = 1,
        ddof: int = 1,
        numeric_only: bool = False,
        min_count: int = 0,
        **named,
    ):
        """Aggregate with a name (``"sum"``), an ``Aggregation``, a list, a dict
        ``{column: func or [funcs]}`` or named aggregations ``out=(col, func)``.
        ``numeric_only`` aggregates only the numeric (and boolean) columns;
        ``min_count``: a ``sum``/``prod`` of fewer present values is missing
        (such results are float64 in every partition)."""
        from shoal.dataframe.collection import new_collection

        if arg is None and not named:
            raise TypeError("agg needs a function, a list, a dict or name=(column, func)")
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 0:
            raise ValueError(f"min_count must be an integer >= 0, got {min_count!r}")
        entries, labels, series_name = self._normalize(arg, named, numeric_only)
        for _, func in entries:
            if not isinstance(func, Aggregation) and func not in _KNOWN:
                raise ValueError(
                    f"unknown aggregation {func!r}; expected one of {sorted(_KNOWN)} or a "
                    "shoal.dataframe.Aggregation"
                )
        specs: dict = {}

        def spec_key(col, func) -> int:
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
            return key

        outputs = [spec_key(col, func) for col, func in entries]
        counted = {  # min_count: the count of present values of each sum and prod
            spec_key(col, func): spec_key(col, "count")
            for col, func in entries
            if min_count > 0 and col is not None and func in ("sum", "prod")
        }
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
            "min_count": min_count,
            "counted": counted,
        }
        meta = self._meta(chunk_kw, agg_kw)
        if sort_across:
            check_sortable_keys(meta)
        needed = list(dict.fromkeys(self._key_columns() + [c for c, _ in entries if c is not None]))
        if split_out == 1 and split_every is None:  # groups in one partition each: no tree
            from shoal.dataframe.group_partitionwise import partitionwise_groupby

            whole = partitionwise_groupby(
                self._frame.expr, self._key_columns(), chunk_kw, agg_kw, meta, needed
            )
            if whole is not None:
                return self._finish_agg(new_collection(whole), arg, named)
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
            split_out=split_out,
        )
        result: Any
        if sort_across:
            result = new_collection(SortIndexAcross(expr))
        elif split_out > 1:  # groups placed by the shuffle's hash of the keys (the index)
            result = new_collection(Partitioned(expr, None, split_out))
        else:
            result = new_collection(expr)
        return self._finish_agg(result, arg, named)

    def _finish_agg(self, result, arg, named):
        """The aggregated ``result`` with its keys named as pandas names them
        and, with ``as_index=False``, moved to columns."""
        result = self._named_keys(result)
        if self._as_index:
            return result
        if arg == "size" and not named:  # pandas names the counts "size"
            result = result.rename("size")
        return result.reset_index()

    aggregate = agg

    def _nlevels(self) -> int:
        return len(self._key_columns())

    def _meta(self, chunk_kw, agg_kw):
        from shoal.dataframe.meta import MetaInferenceError

        fake = meta_nonempty(self._frame._meta)
        try:
            chunk = groupby_chunk(fake, **{**chunk_kw, "split_out": 1})
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
            and self._as_index
        ):
            from shoal.dataframe.collection import new_collection

            meta = grouped_meta(self, "transform", (func,), {})
            return new_collection(transform_by_reduction(self, func, meta))
        return run_grouped(
            self, "transform", (func, *args), kwargs, None, None, npartitions, shuffle_method
        )

    def _scan(self, method: str, args: tuple, npartitions, shuffle_method):
        from shoal.dataframe.group_scans import GROUP_SCANS, group_scan
        from shoal.dataframe.grouped import _options, grouped_meta, run_grouped

        in_place = method in GROUP_SCANS and args in ((), (True,))  # cumcount(ascending=True)
        if in_place and npartitions is None and shuffle_method is None:
            # rows stay in their partitions, in order (group_scans.py)
            from shoal.dataframe.collection import new_collection

            meta = grouped_meta(self, method, args, {})
            expr = group_scan(
                self._frame.expr, self._by, _options(self), self._selection, method, meta
            )
            return new_collection(expr)
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

    # ---- day-one API

    def cumprod(self, npartitions: int | None = None, shuffle_method: str | None = None):
        """Running product within each group, in input order."""
        return self._scan("cumprod", (), npartitions, shuffle_method)

    def cummax(self, npartitions: int | None = None, shuffle_method: str | None = None):
        """Running maximum within each group, in input order."""
        return self._scan("cummax", (), npartitions, shuffle_method)

    def cummin(self, npartitions: int | None = None, shuffle_method: str | None = None):
        """Running minimum within each group, in input order."""
        return self._scan("cummin", (), npartitions, shuffle_method)

    def head(self, n: int = 5, npartitions: int | None = None, shuffle_method: str | None = None):
        """The first ``n`` rows of each group (rows keep their index labels).

        >>> import shoal.dataframe as sd
        >>> df = sd.from_pandas(pd.DataFrame({"k": [1, 1, 2], "v": [1, 2, 3]}), npartitions=2)
        >>> df.groupby("k").head(1).compute().sort_index().v.tolist()
        [1, 3]
        """
        return self._scan("head", (n,), npartitions, shuffle_method)

    def tail(self, n: int = 5, npartitions: int | None = None, shuffle_method: str | None = None):
        """The last ``n`` rows of each group (rows keep their index labels)."""
        return self._scan("tail", (n,), npartitions, shuffle_method)

    def _whole(self, method: str, kwargs: dict, split_out: int, shuffle_method):
        from shoal.dataframe.group_whole import whole_group_reduce

        given = {k: v for k, v in kwargs.items() if v is not None}
        return whole_group_reduce(self, method, given, split_out, shuffle_method)

    def median(
        self, numeric_only: bool = False, split_out: int = 1, shuffle_method: str | None = None
    ):
        """Exact median per group (each group gathered whole by a shuffle,
        ``group_whole.py``).

        >>> import shoal.dataframe as sd
        >>> df = sd.from_pandas(pd.DataFrame({"k": [1, 1, 1], "v": [1, 5, 2]}), npartitions=2)
        >>> df.groupby("k").v.median().compute().tolist()
        [2.0]
        """
        kw = {"numeric_only": True} if numeric_only else {}
        return self._whole("median", kw, split_out, shuffle_method)

    def idxmin(self, skipna: bool = True, split_out: int = 1, shuffle_method: str | None = None):
        """Index label of the smallest value per group."""
        return self._whole("idxmin", {"skipna": skipna}, split_out, shuffle_method)

    def idxmax(self, skipna: bool = True, split_out: int = 1, shuffle_method: str | None = None):
        """Index label of the largest value per group."""
        return self._whole("idxmax", {"skipna": skipna}, split_out, shuffle_method)

    def value_counts(
        self,
        normalize: bool = False,
        sort: bool = True,
        ascending: bool = False,
        dropna: bool = True,
        split_out: int = 1,
        shuffle_method: str | None = None,
    ):
        """Counts of distinct values (rows of the selected columns) per group,
        most frequent first within each group, as pandas."""
        kw = {"normalize": normalize, "sort": sort, "ascending": ascending, "dropna": dropna}
        return self._whole("value_counts", kw, split_out, shuffle_method)

    def cov(
        self,
        min_periods: int | None = None,
        ddof: int = 1,
        numeric_only: bool = False,
        split_out: int = 1,
        shuffle_method: str | None = None,
    ):
        """Covariance of the columns within each group (a frame per group,
        indexed by key and column, as pandas)."""
        self._frame_only("cov")
        kw = {"min_periods": min_periods, "ddof": ddof, "numeric_only": numeric_only}
        return self._whole("cov", kw, split_out, shuffle_method)

    def corr(
        self,
        method: str = "pearson",
        min_periods: int = 1,
        numeric_only: bool = False,
        split_out: int = 1,
        shuffle_method: str | None = None,
    ):
        """Correlation of the columns within each group (as pandas)."""
        self._frame_only("corr")
        kw = {"method": method, "min_periods": min_periods, "numeric_only": numeric_only}
        return self._whole("corr", kw, split_out, shuffle_method)

    def _frame_only(self, what: str) -> None:
        if isinstance(self, SeriesGroupBy):
            raise NotImplementedError(
                f"SeriesGroupBy.{what}(other) is not supported; group a frame of both "
                f"columns: df.groupby(key)[[a, b]].{what}()"
            )


class SeriesGroupBy(GroupBy):
    """A groupby with one selected column: aggregations give a Series.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}), npartitions=2)
    >>> df.groupby("k").v.mean().compute().tolist()
    [2.0, 5.0]
    """
