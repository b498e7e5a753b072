"""Reductions of frames: ``chunk`` on every partition, then core's tree
(``core/tree.py``): ``combine`` groups of ``split_every`` intermediates,
``aggregate`` the last group.

::

    p0  p1  p2  p3  p4          chunk (fused into each partition's task)
     \\  |  /    \\  /
     combine    combine         split_every=3
          \\     /
         aggregate              one output partition

``split_every`` comes from the call or config ``dataframe.split-every``
(checked by ``core.tree.split_every_of``). With ``split_out=k`` the chunk
returns ``k`` pieces (hash-partitioned groups) and ``k`` independent trees
give ``k`` output partitions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from shoal.core.tree import TreeReduce, split_every_of
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import Blockwise, FrameExpr

__all__ = ["Chunk", "FrameReduce", "reduction", "quantile_from_samples"]


class Chunk(Blockwise):
    """The per-partition first step of a reduction (its output is no frame):
    ``func(*args, **kwargs)`` with frames replaced by their partitions.
    ``needed`` lists the input columns it reads (None: all).

    >>> from shoal.dataframe.expr import FromPandas
    >>> c = Chunk(chunk_len, {}, "len", None, (FromPandas.of(pd.DataFrame({"a": [1, 2]}), 2),))
    >>> c.npartitions, c._meta
    (2, None)
    """

    func: Callable
    kwargs: dict
    label: str
    needed: Any
    args: tuple

    @property
    def _prefix(self) -> str:
        return self.label + "-chunk"

    def _args(self):
        return list(self.args)

    def _kwargs(self):
        return self.kwargs

    @property
    def operation(self) -> Callable:  # type: ignore[override]
        return self.func

    @functools.cached_property
    def _meta(self):
        return None

    @property
    def is_scalar(self) -> bool:
        return False

    def _explain_args(self):
        return self.label

    def _needed_columns(self, needed):
        frames = self.frame_dependencies()
        out = [(frames[0], None if self.needed is None else set(self.needed))]
        return out + [(f, None) for f in frames[1:]]


class FrameReduce(TreeReduce, FrameExpr):
    """Core's ``TreeReduce`` of the chunks of every partition into
    ``split_out`` partitions, with the result's ``meta``.

    >>> from shoal.core.local import get_sync
    >>> from shoal.dataframe.expr import FromPandas
    >>> e = reduction(FromPandas.of(pd.DataFrame({"a": range(9)}), 9), chunk_len, aggregate_sum,
    ...               aggregate_sum, 0, "len", split_every=3)
    >>> get_sync(e.__shoal_graph__(), (e._name, 0))
    9
    """

    meta: Any = None

    def _explain_head(self) -> str:
        return "TreeReduce"

    @functools.cached_property
    def _meta(self):
        return self.meta

    @functools.cached_property
    def divisions(self):
        return (None,) * (self.split_out + 1)

    def _needed_columns(self, needed):
        return [(self.parts, None)]


def reduction(
    frame: FrameExpr,
    chunk,
    combine,
    aggregate,
    meta,
    label: str,
    split_every: int | None = None,
    chunk_kwargs: dict | None = None,
    kwargs: dict | None = None,
    needed=None,
    others: tuple = (),
    split_out: int = 1,
) -> FrameReduce:
    """A ``FrameReduce`` over ``chunk(partition, *others, **chunk_kwargs)``;
    ``split_every`` None takes config ``dataframe.split-every``.

    >>> from shoal.dataframe.expr import FromPandas
    >>> reduction(FromPandas.of(pd.Series([1]), 1), chunk_len, aggregate_sum, aggregate_sum,
    ...           0, "len").split_every
    8
    """
    split_every = split_every_of(split_every, "dataframe")
    chunked = Chunk(chunk, chunk_kwargs or {}, label, needed, (frame, *others))
    return FrameReduce(
        chunked,
        combine,
        aggregate,
        split_every,
        kwargs=kwargs or {},
        label=label,
        split_out=split_out,
        meta=meta,
    )


# ---------------------------------------------------- simple method reductions

_COMBINE_METHOD = {"count": "sum", "size": "sum"}


def chunk_method(part, method: str, **kw):
    """``(is_empty, part.method(**kw))`` for one partition."""
    if method == "size":
        return (False, part.size)
    return (len(part) == 0, getattr(part, method)(**kw))


def _stack(values: list):
    if isinstance(values[0], pd.Series):
        return pd.concat(values, axis=1).T
    return pd.Series(values)


def combine_method(parts: list, method: str, **kw):
    """Reduce the non-empty chunk results with the method's combiner."""
    live = [v for empty, v in parts if not empty]
    if not live:
        return parts[0]
    if len(live) == 1:
        return (False, live[0])
    how = _COMBINE_METHOD.get(method, method)
    kw = {k: v for k, v in kw.items() if k in ("skipna",)}
    stacked = _stack(live)
    if isinstance(live[0], pd.Series):
        out = getattr(stacked.infer_objects(), how)(**kw)
        out = (
            out.astype(live[0].dtype)
            if how in ("min", "max") and all(v.dtype == live[0].dtype for v in live)
            else out
        )
        return (False, out)
    return (False, getattr(stacked, how)(**kw))


def aggregate_method(parts: list, method: str, **kw):
    return combine_method(parts, method, **kw)[1]


# ---------------------------------------------------------------- mean/var


def chunk_moments(part, skipna: bool = True):
    """``(count, mean, M2)`` of each numeric column (or of the Series)."""
    if isinstance(part, pd.DataFrame):
        x = part.astype("float64")
        n = x.count()
        mean = x.mean()
        m2 = ((x - mean) ** 2).sum()
        return (n.astype("float64"), mean.fillna(0.0), m2)
    x = part.astype("float64")
    if skipna:
        x = x.dropna()
    n = float(len(x))
    mean = float(x.mean()) if n else 0.0
    return (n, mean, float(((x - mean) ** 2).sum()) if n else 0.0)


def combine_moments(parts: list, skipna: bool = True, **kw):
    """Chan's parallel combination of ``(count, mean, M2)`` triples."""
    n, mean, m2 = parts[0]
    for nb, mb, m2b in parts[1:]:
        total = n + nb
        if isinstance(total, pd.Series):
            safe = total.where(total > 0, 1.0)
            delta = mb - mean
            mean = mean + delta * nb / safe
            m2 = m2 + m2b + delta**2 * n * nb / safe
        elif total > 0:
            delta = mb - mean
            mean = mean + delta * nb / total
            m2 = m2 + m2b + delta**2 * n * nb / total
        n = total
    return (n, mean, m2)


def aggregate_moments(parts: list, how: str, ddof: int = 1, skipna: bool = True):
    """Finish mean/var/std/sem from combined moments."""
    n, mean, m2 = combine_moments(parts)
    if isinstance(n, pd.Series):
        if how == "mean":
            return mean.where(n > 0, np.nan)
        var = (m2 / (n - ddof)).where(n - ddof > 0, np.nan)
        if how == "var":
            return var
        if how == "std":
            return np.sqrt(var)
        return np.sqrt(var / n)
    if how == "mean":
        return np.float64(mean) if n > 0 else np.float64("nan")
    var = np.float64(m2 / (n - ddof)) if n - ddof > 0 else np.float64("nan")
    if how == "var":
        return var
    if how == "std":
        return np.sqrt(var)
    return np.sqrt(var / n) if n > 0 else np.float64("nan")


# --------------------------------------------------------- set-like results


def chunk_drop_duplicates(part, **kw):
    return part.drop_duplicates(**kw)


def combine_drop_duplicates(parts, **kw):
    return concat_frames(parts).drop_duplicates(**kw)


def combine_unique(parts, name=None):
    return concat_frames(parts).drop_duplicates()


def aggregate_unique(parts, name=None):
    values = concat_frames(parts).drop_duplicates()
    return pd.Series(
        values.to_numpy() if values.dtype.kind != "O" else values.array,
        name=name,
        dtype=values.dtype,
    )


def chunk_nunique(part, dropna=True):
    if isinstance(part, pd.DataFrame):
        return {c: part[c].drop_duplicates() for c in part.columns}
    return part.drop_duplicates()


def combine_nunique(parts, dropna=True):
    if isinstance(parts[0], dict):
        return {c: concat_frames([p[c] for p in parts]).drop_duplicates() for c in parts[0]}
    return concat_frames(parts).drop_duplicates()


def aggregate_nunique(parts, dropna=True):
    merged = combine_nunique(parts)
    if isinstance(merged, dict):
        return pd.Series({c: s.nunique(dropna=dropna) for c, s in merged.items()}, dtype="int64")
    return np.int64(merged.nunique(dropna=dropna))


def chunk_value_counts(part, dropna=True):
    return part.value_counts(dropna=dropna, sort=False)


def combine_value_counts(parts, dropna=True, **kw):
    return concat_frames(parts).groupby(level=0, dropna=dropna, sort=False, observed=True).sum()


def aggregate_value_counts(
    parts, dropna=True, sort=True, ascending=False, normalize=False, name=None
):
    out = combine_value_counts(parts, dropna=dropna)
    if normalize:
        out = out / out.sum()
        out.name = "proportion"
    else:
        out.name = "count"
    out.index.name = name
    if sort:
        out = out.sort_values(ascending=ascending, kind="stable")
    return out


def chunk_nbest(part, how, n, **kw):
    return getattr(part, how)(n, **kw)


def combine_nbest(parts, how, n, **kw):
    return getattr(concat_frames(parts), how)(n, **kw)


def chunk_arg(part, how: str, skipna: bool = True):
    """Per column: the extreme value and its label, for idxmin/idxmax."""
    op = "min" if how == "idxmin" else "max"
    if isinstance(part, pd.Series):
        part = part.to_frame("__series__")
    rows = []
    for c in part.columns:
        s = part[c].dropna() if skipna else part[c]
        if len(s):
            rows.append((c, getattr(s, op)(), getattr(s, how)()))
    return pd.DataFrame(rows, columns=["col", "value", "label"])


def combine_arg(parts, how: str, skipna: bool = True):
    both = pd.concat(parts, ignore_index=True)
    if both.empty:
        return both
    pos = both.groupby("col", sort=False)["value"].agg(how)
    return both.loc[pos.to_numpy()]


def aggregate_arg(parts, how: str, skipna: bool = True, columns=None):
    best = combine_arg(parts, how)
    if columns is None:
        if best.empty:
            raise ValueError(f"attempt to get {how} of an empty sequence")
        return best["label"].iloc[0]
    labels = dict(zip(best["col"], best["label"]))
    missing = [c for c in columns if c not in labels]
    if missing:
        raise ValueError(f"{how}: columns {missing} have no non-missing values")
    return pd.Series([labels[c] for c in columns], index=columns)


# ---------------------------------------------------------------- quantiles


def _sample(x: pd.Series, max_points: int):
    """``(sorted values, rows)``: every value, or ``max_points`` evenly spaced
    quantiles standing for ``rows`` values."""
    values = np.sort(x.dropna().to_numpy(dtype="float64"))
    n = len(values)
    if n > max_points:
        values = np.quantile(values, np.linspace(0, 1, max_points))
    return [(values, n)]


def chunk_quantile_sample(part, max_points: int = 1000):
    """Samples (see ``_sample``) of the Series or of each numeric column."""
    if isinstance(part, pd.Series):
        return _sample(part, max_points)
    return {c: _sample(part[c], max_points) for c in part.columns}


def combine_quantile_sample(parts, max_points: int = 1000, **kw):
    if isinstance(parts[0], dict):
        return {c: combine_quantile_sample([p[c] for p in parts], max_points) for c in parts[0]}
    return [s for p in parts for s in p if s[1]]


def quantile_from_samples(samples: list, qs: list) -> list:
    """Quantiles (linear interpolation) from partition samples.

    Exact when every sample holds all its values; otherwise each partition's
    CDF is interpolated between its quantile points and the row-weighted sum
    of the CDFs is inverted.

    >>> quantile_from_samples([(np.array([1.0, 2]), 2), (np.array([3.0, 4]), 2)], [0.5])
    [2.5]
    """
    if not samples:
        return [float("nan")] * len(qs)
    if all(len(v) == n for v, n in samples):
        return [float(x) for x in np.quantile(np.concatenate([v for v, _ in samples]), qs)]
    grid = np.unique(np.concatenate([v for v, _ in samples]))
    total = sum(n for _, n in samples)
    cdf = np.zeros(len(grid))
    for v, n in samples:
        ranks = np.linspace(0, n - 1, len(v))
        cdf += np.interp(grid, v, ranks, left=-0.5, right=n - 0.5) + 0.5
    positions = cdf - 0.5
    return [float(np.interp(q * (total - 1), positions, grid)) for q in qs]


def aggregate_quantile(parts, q, max_points: int = 1000, name=None, columns=None):
    merged = combine_quantile_sample(parts, max_points)
    qs = [q] if np.isscalar(q) else list(q)
    if isinstance(merged, dict):
        data = {c: quantile_from_samples(merged[c], qs) for c in merged}
        out = pd.DataFrame(data, index=pd.Index(qs, dtype="float64"), columns=columns)
        return out.iloc[0].rename(q) if np.isscalar(q) else out
    vals = quantile_from_samples(merged, qs)
    if np.isscalar(q):
        return np.float64(vals[0])
    return pd.Series(vals, index=pd.Index(qs, dtype="float64"), name=name)


# ----------------------------------------------------------------- describe


def chunk_describe(part, max_points: int = 1000):
    if isinstance(part, pd.Series):
        part = part.to_frame()
    out = {}
    for c in part.columns:
        x = part[c]
        moments = chunk_moments(x)
        live = x.dropna()
        out[c] = (
            moments,
            (live.min() if len(live) else None),
            (live.max() if len(live) else None),
            _sample(x, max_points),
        )
    return out


def combine_describe(parts, max_points: int = 1000, **kw):
    out = {}
    for c in parts[0]:
        items = [p[c] for p in parts]
        mins = [i[1] for i in items if i[1] is not None]
        maxs = [i[2] for i in items if i[2] is not None]
        out[c] = (
            combine_moments([i[0] for i in items]),
            min(mins) if mins else None,
            max(maxs) if maxs else None,
            combine_quantile_sample([i[3] for i in items], max_points),
        )
    return out


def aggregate_describe(
    parts, percentiles=(0.25, 0.5, 0.75), max_points: int = 1000, series_name=None
):
    merged = combine_describe(parts, max_points)
    index = ["count", "mean", "std", "min"] + [_pct(p) for p in percentiles] + ["max"]
    data = {}
    for c, (moments, lo, hi, sample) in merged.items():
        n = moments[0]
        std = aggregate_moments([moments], "std")
        mean = aggregate_moments([moments], "mean")
        qs = quantile_from_samples(sample, list(percentiles))
        nan = float("nan")
        data[c] = [n, mean, std, nan if lo is None else lo] + qs + [nan if hi is None else hi]
    out = pd.DataFrame(data, index=index, dtype="float64")
    if series_name is not False:
        return out.iloc[:, 0].rename(series_name)
    return out


def _pct(p: float) -> str:
    text = f"{p * 100:.6f}".rstrip("0").rstrip(".")
    return f"{text}%"


def hash_split(obj, k: int, on_index: bool = False, subset=None) -> list:
    """``obj`` cut into ``k`` pieces by a hash of its values (rows, or the
    ``subset`` columns, or the index), the same in every partition."""
    if on_index:
        keys = obj.index.to_frame(index=False)
    elif isinstance(obj, pd.DataFrame) and subset is not None:
        keys = obj[subset if isinstance(subset, list) else [subset]]
    else:
        keys = obj
    target = pd.util.hash_pandas_object(keys, index=False).to_numpy() % np.uint64(k)
    return [obj[target == j] for j in range(k)]


def chunk_split(part, k: int, chunk, on_index: bool = False, subset=None, **kw):
    """``chunk(part, **kw)`` hash-split into ``k`` pieces (for ``split_out``)."""
    if subset is not None:
        kw["subset"] = subset
    return hash_split(chunk(part, **kw), k, on_index, subset)


def chunk_memory_usage(part, index: bool = True, deep: bool = False):
    return part.memory_usage(index=index, deep=deep)


def aggregate_memory_usage(parts, **kw):
    if isinstance(parts[0], pd.Series):
        return pd.concat(parts, axis=1).sum(axis=1)
    return sum(parts)


def aggregate_mode(parts, dropna=True, name=None):
    counts = combine_value_counts(parts, dropna=dropna)
    if counts.empty:
        return pd.Series([], dtype=counts.index.dtype, name=name)
    modes = counts.index[counts.to_numpy() == counts.max()].sort_values()
    return pd.Series(modes, name=name, dtype=counts.index.dtype)


def chunk_len(part):
    return len(part)


def aggregate_sum(parts):
    return sum(parts)


# ------------------------------------------------------------------ cov/corr


def chunk_cov(part):
    """Pairwise-complete moments of a numeric frame's columns: for each pair
    ``(i, j)`` the count, the means of ``i`` and ``j`` over rows where both are
    present, the co-moment and the second moment of ``i`` over those rows."""
    x = part.to_numpy(dtype="float64", na_value=np.nan)
    present = ~np.isnan(x)
    m = present.astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.nan_to_num(np.nanmean(x, axis=0)) if len(x) else np.zeros(x.shape[1])
    xc = np.where(present, x - shift, 0.0)
    n = m.T @ m
    sums = xc.T @ m  # sums[i, j]: sum of centred x_i over rows where i and j are present
    cross = xc.T @ xc
    squares = (xc**2).T @ m
    safe = np.where(n > 0, n, 1.0)
    mean_ij = sums / safe  # mean of centred x_i on the pair's rows
    comoment = cross - sums * sums.T / safe
    second = squares - sums**2 / safe
    return (n, mean_ij + shift[:, None], comoment, second)


def combine_cov(parts, **kw):
    """Chan's parallel combination, elementwise over the pair matrices."""
    n, mean, co, sq = parts[0]
    for nb, mb, cob, sqb in parts[1:]:
        total = n + nb
        safe = np.where(total > 0, total, 1.0)
        delta = mb - mean  # delta[i, j]: difference of x_i's pair means
        weight = n * nb / safe
        co = co + cob + delta * delta.T * weight
        sq = sq + sqb + delta**2 * weight
        mean = mean + delta * nb / safe
        n = total
    return (n, mean, co, sq)


def aggregate_cov(parts, columns, corr=False, min_periods=None, ddof=1):
    n, _, co, sq = combine_cov(parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        if corr:
            out = co / np.sqrt(sq * sq.T)
        else:
            out = co / (n - ddof)
            out[n - ddof <= 0] = np.nan
    out[n < max(min_periods or 1, 1 if corr else 1)] = np.nan
    if corr:
        out[(n < 2)] = np.nan
        np.fill_diagonal(out, np.where(np.diag(n) >= max(min_periods or 2, 2), 1.0, np.nan))
    return pd.DataFrame(out, index=columns, columns=columns)


def aggregate_series_cov(parts, corr=False, min_periods=None, ddof=1):
    frame = aggregate_cov(parts, ["a", "b"], corr=corr, min_periods=min_periods, ddof=ddof)
    return np.float64(frame.iloc[0, 1])
