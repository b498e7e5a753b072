"""``describe`` for every dtype and ``DataFrame.mode``, as tree reductions.

One pass summarizes each selected column by its kind:

- numbers: count, mean, std (parallel moments), min, max and a quantile
  sample (``reductions.chunk_describe``; percentiles are approximate, see
  ``quantile``);
- datetimes: the same on the integer view of the non-missing values, with
  exact integer sums, minima and maxima; shown as timestamps, without std;
- anything else (strings, objects, booleans, categoricals): value counts, so
  count, unique, top (most frequent; ties: any of them) and freq.

The per-column summaries are then put together exactly as pandas does
(columns with fewer summary rows first decide the row order). ``mode`` of a
DataFrame runs every column's value counts in one pass; columns with fewer
modes than the longest are padded with missing values, as in pandas, so
integer and boolean columns of a multi-column frame are declared float64 and
object (pandas gives those dtypes only when padding happens).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shoal.dataframe import reductions as red
from shoal.dataframe.concat import concat_frames

__all__ = ["describe_expr", "mode_expr", "column_kind", "refine_percentiles"]


def column_kind(dtype) -> str:
    """``"numeric"``, ``"datetime"`` or ``"other"`` (summarized by counts).

    >>> column_kind(np.dtype("int8")), column_kind(np.dtype("bool")), column_kind("str")
    ('numeric', 'other', 'other')
    """
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        return "numeric"
    if isinstance(dtype, np.dtype) and dtype.kind == "M" or isinstance(dtype, pd.DatetimeTZDtype):
        return "datetime"
    return "other"


def refine_percentiles(percentiles) -> list:
    """Sorted distinct percentiles, as pandas uses them.

    >>> refine_percentiles([0.9, 0.1, 0.9])
    [0.1, 0.9]
    """
    ps = sorted(set(float(p) for p in percentiles))
    if any(not 0 <= p <= 1 for p in ps):
        raise ValueError(f"percentiles must be between 0 and 1, got {list(percentiles)}")
    return ps


# ---------------------------------------------------------------- tasks


def _datetime_ints(x: pd.Series) -> np.ndarray:
    """The non-missing values as integers in the dtype's unit (UTC if aware)."""
    return x.dropna().array.asi8


def _chunk_summary(part, kinds: dict, max_points: int):
    """Each column's partial summary (module docstring)."""
    if isinstance(part, pd.Series):
        part = part.to_frame()
    out = {}
    for c, kind in kinds.items():
        x = part[c]
        if kind == "numeric":
            out[c] = red.chunk_describe(x.to_frame(), max_points)[c]
        elif kind == "datetime":
            ints = _datetime_ints(x)
            floats = pd.Series(ints.astype("float64"))
            exact = (int(ints.sum(dtype=object)), len(ints))
            bounds = (int(ints.min()), int(ints.max())) if len(ints) else None
            out[c] = (red.chunk_describe(floats.to_frame("v"), max_points)["v"], exact, bounds)
        else:
            out[c] = x.value_counts(dropna=True, sort=False)
    return out


def _combine_summary(parts: list, kinds: dict, max_points: int, **kw):
    out = {}
    for c, kind in kinds.items():
        items = [p[c] for p in parts]
        if kind == "numeric":
            out[c] = red.combine_describe([{c: i} for i in items], max_points)[c]
        elif kind == "datetime":
            bounds = [i[2] for i in items if i[2] is not None]
            out[c] = (
                red.combine_describe([{"v": i[0]} for i in items], max_points)["v"],
                (sum(i[1][0] for i in items), sum(i[1][1] for i in items)),
                (min(b[0] for b in bounds), max(b[1] for b in bounds)) if bounds else None,
            )
        else:
            out[c] = concat_frames(items).groupby(level=0, sort=False, observed=True).sum()
    return out


def _numeric_summary(merged, percentiles, max_points, name) -> pd.Series:
    frame = red.aggregate_describe([{name: merged}], tuple(percentiles), max_points, False)
    return frame[name]


def _datetime_summary(merged, percentiles, max_points, name, dtype) -> pd.Series:
    moments, (total, n), bounds = merged
    labels = ["count", "mean", "min"] + [red._pct(p) for p in percentiles] + ["max"]
    if not n:
        return pd.Series([0] + [pd.NaT] * (len(labels) - 1), index=labels, name=name, dtype=object)
    qs = red.quantile_from_samples(moments[3], list(percentiles))
    ints = [round(total / n), bounds[0], *(round(q) for q in qs), bounds[1]]
    return pd.Series([n, *_stamps(ints, dtype)], index=labels, name=name, dtype=object)


def _stamps(ints: list, dtype) -> list:
    """Timestamps of integer views (UTC ones for a timezone-aware dtype)."""
    if isinstance(dtype, pd.DatetimeTZDtype):
        naive = np.array(ints, dtype="i8").view(f"datetime64[{dtype.unit}]")
        return pd.DatetimeIndex(naive).tz_localize("UTC").tz_convert(dtype.tz).tolist()
    return pd.DatetimeIndex(np.array(ints, dtype="i8").view(dtype)).tolist()


def _counts_summary(counts: pd.Series, name, dtype) -> pd.Series:
    counts = counts[counts > 0]
    labels = ["count", "unique", "top", "freq"]
    if not len(counts):
        return pd.Series([0, 0, np.nan, np.nan], index=labels, name=name, dtype=object)
    top = counts.index[int(np.argmax(counts.to_numpy()))]
    values = [int(counts.sum()), len(counts), top, int(counts.max())]
    return pd.Series(values, index=labels, name=name, dtype=object)


def _aggregate_summary(parts, kinds, dtypes, percentiles, max_points, series_name):
    """The describe table (a Series for a Series input)."""
    merged = _combine_summary(parts, kinds, max_points)
    columns = []
    for c, kind in kinds.items():
        if kind == "numeric":
            columns.append(_numeric_summary(merged[c], percentiles, max_points, c))
        elif kind == "datetime":
            columns.append(_datetime_summary(merged[c], percentiles, max_points, c, dtypes[c]))
        else:
            columns.append(_counts_summary(merged[c], c, dtypes[c]))
    if series_name is not False:
        return columns[0].rename(series_name)
    rows: list = []
    for index in sorted((s.index for s in columns), key=len):
        rows += [r for r in index if r not in rows]
    return pd.concat([s.reindex(rows) for s in columns], axis=1, keys=list(kinds))


def _select(frame, include, exclude):
    meta = frame._meta
    if include is None and exclude is None:
        chosen = meta.select_dtypes(include=["number", "datetime"])
        return list(chosen.columns) or list(meta.columns)
    if isinstance(include, str) and include == "all":
        if exclude is not None:
            raise ValueError("describe: exclude must be None when include is 'all'")
        return list(meta.columns)
    return list(meta.select_dtypes(include=include, exclude=exclude).columns)


def describe_expr(
    frame, percentiles, include=None, exclude=None, max_points=1000, split_every=None
):
    """The ``TreeReduce`` behind ``describe`` (see the module docstring).

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"s": ["a", "b", "a"]}), npartitions=2)
    >>> sd.Series(describe_expr(df.s, [0.5])).compute().tolist()
    [3, 2, 'a', 2]
    """
    percentiles = refine_percentiles(percentiles)
    is_series = isinstance(frame._meta, pd.Series)
    if is_series:
        if include is not None or exclude is not None:
            raise ValueError("describe of a Series takes no include= or exclude=")
        key = "__series__"
        source = frame.to_frame(name=key)
        columns, series_name = [key], frame.name
    else:
        columns = _select(frame, include, exclude)
        if not columns:
            raise ValueError("describe: no columns match include/exclude")
        source, series_name = frame[columns], False
    dtypes = {c: source._meta.dtypes[c] for c in columns}
    kinds = {c: column_kind(d) for c, d in dtypes.items()}
    kw = {"kinds": kinds, "max_points": max_points}
    agg_kw = {**kw, "dtypes": dtypes, "percentiles": percentiles, "series_name": series_name}
    fake = _aggregate_summary([_chunk_summary(source._meta, kinds, max_points)], **agg_kw)
    meta = fake.iloc[:0]
    return red.reduction(
        source.expr,
        _chunk_summary,
        _combine_summary,
        _aggregate_summary,
        meta,
        "describe",
        split_every,
        chunk_kwargs=kw,
        kwargs=agg_kw,
    )


# ---------------------------------------------------------------- mode


def _chunk_mode(part, dropna: bool):
    return {c: part[c].value_counts(dropna=dropna, sort=False) for c in part.columns}


def _combine_mode(parts: list, dropna: bool, **kw):
    return {
        c: concat_frames([p[c] for p in parts])
        .groupby(level=0, sort=False, dropna=dropna, observed=True)
        .sum()
        for c in parts[0]
    }


def _aggregate_mode(parts: list, dropna: bool, dtypes: dict):
    """Each column's modes (sorted), padded to the longest; dtypes as declared."""
    merged = _combine_mode(parts, dropna)
    modes = {}
    for c, counts in merged.items():
        counts = counts[counts > 0]
        best = counts.index[counts.to_numpy() == counts.max()] if len(counts) else counts.index
        modes[c] = pd.Series(best.sort_values(), dtype=counts.index.dtype).reset_index(drop=True)
    length = max((len(m) for m in modes.values()), default=0)
    return pd.DataFrame(
        {c: m.reindex(range(length)).astype(dtypes[c]) for c, m in modes.items()},
        index=pd.RangeIndex(length),
    )


def _mode_dtype(dtype, padded: bool):
    if padded and isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return np.dtype("float64")
    if padded and isinstance(dtype, np.dtype) and dtype.kind == "b":
        return np.dtype(object)
    return dtype


def mode_expr(frame, dropna: bool = True, split_every=None):
    """The ``TreeReduce`` behind ``DataFrame.mode`` (see the module docstring).

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 1, 2], "b": [3, 4, 4]}), npartitions=2)
    >>> sd.DataFrame(mode_expr(df)).compute().to_dict("list")
    {'a': [1.0], 'b': [4.0]}
    """
    meta = frame._meta
    padded = len(meta.columns) > 1
    dtypes = {c: _mode_dtype(meta.dtypes[c], padded) for c in meta.columns}
    empty = pd.DataFrame({c: pd.Series([], dtype=d) for c, d in dtypes.items()})
    return red.reduction(
        frame.expr,
        _chunk_mode,
        _combine_mode,
        _aggregate_mode,
        empty,
        "mode",
        split_every,
        chunk_kwargs={"dropna": dropna},
        kwargs={"dropna": dropna, "dtypes": dtypes},
    )
