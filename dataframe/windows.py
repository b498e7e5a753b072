"""Moving windows across partitions: ``rolling``, ``expanding``, ``ewm``.

- ``rolling(window)`` needs only the rows within one window of each
  partition: they are borrowed from the neighbours through ``map_overlap``
  (``overlap.py``; ``window - 1`` rows before, or ``window // 2`` on each
  side when centred; a time span over a datetime index with known
  divisions), and pandas computes each partition with them, so results are
  pandas' own.
- ``expanding()`` and ``ewm()`` depend on every row before: they are scans
  (``scans.py``). Each partition is summarized per column (counts, sum,
  extremes, mean and centred sum of squares; or the weighted average and its
  weight for ``ewm``), the summaries are folded along the partitions (Chan's
  parallel moments, decayed weights), and each partition continues from the
  folded state. The first partition is pandas' own result; the others agree
  with pandas up to floating-point rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from shoal.dataframe.expr import FrameExpr
from shoal.dataframe.meta import emulate, make_meta
from shoal.dataframe.overlap import MapOverlap
from shoal.dataframe.scans import Scan

__all__ = ["Rolling", "Expanding", "ExponentialMovingWindow"]


def _new(expr: FrameExpr) -> Any:
    from shoal.dataframe.collection import new_collection

    return new_collection(expr)


# ------------------------------------------------------------------ rolling


def rolling_agg(data: Any, window: Any, options: dict, how: str, args: tuple, kwargs: dict) -> Any:
    """``data.rolling(window, **options).<how>(*args, **kwargs)``.

    >>> rolling_agg(pd.Series([1, 2, 3]), 2, {}, "sum", (), {}).tolist()
    [nan, 3.0, 5.0]
    """
    return getattr(data.rolling(window, **options), how)(*args, **kwargs)


class Rolling:
    """Rolling windows of a partitioned collection (``coll.rolling(...)``):
    a row count, or a time span (``"2h"``) over a datetime index.

    >>> import shoal.dataframe as sd
    >>> s = sd.from_pandas(pd.Series([1.0, 2.0, 3.0, 4.0, 5.0]), npartitions=3)
    >>> s.rolling(3).sum().compute().tolist()
    [nan, nan, 6.0, 9.0, 12.0]
    """

    def __init__(
        self,
        coll: Any,
        window: int | str | pd.Timedelta,
        min_periods: int | None = None,
        center: bool = False,
        win_type: str | None = None,
        closed: str | None = None,
    ):
        self._coll = coll
        self._options = {
            "min_periods": min_periods,
            "center": center,
            "win_type": win_type,
            "closed": closed,
        }
        if isinstance(window, bool) or not isinstance(window, (int, str, pd.Timedelta)):
            raise TypeError(
                f"rolling: window must be a row count or a time span ('2h'), got {window!r}"
            )
        if not isinstance(center, bool):
            raise TypeError(f"rolling: center must be True or False, got {center!r}")
        if min_periods is not None and (
            isinstance(min_periods, bool) or not isinstance(min_periods, int) or min_periods < 0
        ):
            raise ValueError(f"rolling: min_periods must be an integer >= 0, got {min_periods!r}")
        if isinstance(window, int):
            if window < 0:
                raise ValueError(f"rolling: window must be >= 0, got {window}")
            if min_periods is not None and min_periods > window:
                raise ValueError(f"rolling: min_periods {min_periods} must be <= window {window}")
            self._window: Any = window
            half = window // 2
            self._before, self._after = (half, half) if center else (max(window - 1, 0), 0)
            return
        try:
            span = pd.Timedelta(window)
        except ValueError as e:
            raise ValueError(
                f"rolling: window {window!r} is neither a row count nor a fixed time span "
                "(such as '2h' or '30min')"
            ) from e
        if coll._meta.index.dtype.kind != "M":
            raise ValueError(
                f"rolling: a time window ({window!r}) needs a datetime index, the index "
                f"is {coll._meta.index.dtype}"
            )
        if coll.npartitions > 1 and not coll.known_divisions:
            raise ValueError(
                f"rolling: a time window ({window!r}) over several partitions needs known "
                "divisions (a sorted datetime index): from_pandas(sort=True), or "
                "read_parquet(index=..., calculate_divisions=True)"
            )
        self._window = window
        self._before, self._after = (span, span) if center else (span, pd.Timedelta(0))

    def _agg(self, how: str, *args: Any, **kwargs: Any) -> Any:
        options = {k: v for k, v in self._options.items() if v is not None and v is not False}
        frame = self._coll._expr
        func_args = (self._window, options, how, args, kwargs)
        meta = emulate(rolling_agg, frame._meta, *func_args, fname=f"rolling.{how}", nonempty=True)
        return _new(
            MapOverlap(
                frame, rolling_agg, self._before, self._after, func_args, {}, make_meta(meta)
            )
        )

    def sum(self) -> Any:
        """Sum over each window."""
        return self._agg("sum")

    def mean(self) -> Any:
        """Mean over each window."""
        return self._agg("mean")

    def min(self) -> Any:
        """Minimum over each window."""
        return self._agg("min")

    def max(self) -> Any:
        """Maximum over each window."""
        return self._agg("max")

    def count(self) -> Any:
        """Non-missing values in each window."""
        return self._agg("count")

    def median(self) -> Any:
        """Median over each window."""
        return self._agg("median")

    def std(self, ddof: int = 1) -> Any:
        """Standard deviation over each window."""
        return self._agg("std", ddof=ddof)

    def var(self, ddof: int = 1) -> Any:
        """Variance over each window."""
        return self._agg("var", ddof=ddof)

    def quantile(self, q: float, interpolation: str = "linear") -> Any:
        """The ``q`` quantile of each window."""
        return self._agg("quantile", q, interpolation=interpolation)

    def apply(
        self, func: Callable, raw: bool = False, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        """``func(window)`` for every window (a Series, or an ndarray with ``raw``)."""
        return self._agg("apply", func, raw=raw, args=args, kwargs=kwargs or {})

    def agg(self, func: str | list) -> Any:
        """One aggregation by name, or a list of them (columns per name)."""
        return self._agg("agg", func)

    aggregate = agg


# --------------------------------------------------------- column-wise state


def _as_columns(part: Any) -> tuple[np.ndarray, Callable]:
    """``part``'s values as a float 2-D array (rows x columns) and a function
    turning a same-shaped array back into ``part``'s type."""
    if isinstance(part, pd.Series):
        values = part.to_numpy(dtype="float64", na_value=np.nan).reshape(-1, 1)
        return values, lambda out: pd.Series(out[:, 0], index=part.index, name=part.name)
    values = part.to_numpy(dtype="float64", na_value=np.nan)
    return values, lambda out: pd.DataFrame(out, index=part.index, columns=part.columns)


def _fold(carry: Any, summary: Any, merge: Callable, **kwargs: Any) -> Any:
    if summary is None:
        return carry
    if carry is None:
        return summary
    return merge(carry, summary, **kwargs)


# ---------------------------------------------------------------- expanding

EXPANDING_METHODS = ("sum", "mean", "count", "min", "max", "var", "std")


def expanding_summary(part: Any, how: str, min_periods: int, ddof: int) -> dict | None:
    """Per column: rows, observations, sum, min, max, mean and centred sum of
    squares of ``part`` (None for no rows)."""
    if len(part) == 0:
        return None
    x, _ = _as_columns(part)
    n = np.sum(~np.isnan(x), axis=0).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(x, axis=0)
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        m2 = np.nansum((x - mean) ** 2, axis=0)
    return {
        "rows": len(part),
        "n": n,
        "sum": total,
        "min": np.fmin.reduce(x, axis=0),
        "max": np.fmax.reduce(x, axis=0),
        "mean": mean,
        "m2": m2,
    }


def _merge_moments(n_a, mean_a, m2_a, n_b, mean_b, m2_b):
    """Chan's parallel combination of two sets of moments (elementwise)."""
    n = n_a + n_b
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.where((n_a > 0) & (n_b > 0), mean_b - mean_a, 0.0)
        safe = np.maximum(n, 1)
        mean = np.where(n_a > 0, np.where(n_b > 0, mean_a + delta * n_b / safe, mean_a), mean_b)
        m2 = np.where(n_a > 0, m2_a, 0.0) + np.where(n_b > 0, m2_b, 0.0)
        m2 = m2 + delta**2 * n_a * n_b / safe
    return n, mean, m2


def _merge_expanding(a: dict, b: dict, **_: Any) -> dict:
    n, mean, m2 = _merge_moments(a["n"], a["mean"], a["m2"], b["n"], b["mean"], b["m2"])
    return {
        "rows": a["rows"] + b["rows"],
        "n": n,
        "sum": a["sum"] + b["sum"],
        "min": np.fmin(a["min"], b["min"]),
        "max": np.fmax(a["max"], b["max"]),
        "mean": mean,
        "m2": m2,
    }


def expanding_combine(carry, summary, how: str, min_periods: int, ddof: int):
    return _fold(carry, summary, _merge_expanding)


def expanding_finish(part: Any, carry: dict | None, how: str, min_periods: int, ddof: int):
    """``part.expanding(min_periods).<how>()`` continuing from the rows
    summarized in ``carry``.

    >>> c = expanding_summary(pd.Series([1.0, 2.0]), "mean", 1, 1)
    >>> expanding_finish(pd.Series([3.0, None]), c, "mean", 1, 1).tolist()
    [2.0, 2.0]
    """
    kwargs = {"ddof": ddof} if how in ("var", "std") else {}
    if carry is None or len(part) == 0:
        return getattr(part.expanding(min_periods=min_periods), how)(**kwargs)
    x, wrap = _as_columns(part)
    seen = ~np.isnan(x)
    rows = carry["rows"] + np.arange(1, len(x) + 1, dtype="float64")[:, None]
    n = carry["n"] + np.cumsum(seen, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if how == "count":
            return wrap(np.where(rows >= min_periods, n, np.nan))
        if how in ("sum", "mean"):
            total = carry["sum"] + np.cumsum(np.where(seen, x, 0.0), axis=0)
            out = total if how == "sum" else np.where(n > 0, total / n, np.nan)
        elif how == "min":
            out = np.fmin(carry["min"], np.fmin.accumulate(x, axis=0))
        elif how == "max":
            out = np.fmax(carry["max"], np.fmax.accumulate(x, axis=0))
        else:
            n_b = np.cumsum(seen, axis=0).astype("float64")
            mean_b = np.cumsum(np.where(seen, x, 0.0), axis=0) / np.maximum(n_b, 1)
            local_var = part.expanding(min_periods=0).var(ddof=0)
            m2_b = np.nan_to_num(_as_columns(local_var)[0]) * n_b
            n, _, m2 = _merge_moments(carry["n"], carry["mean"], carry["m2"], n_b, mean_b, m2_b)
            out = np.where(n > ddof, m2 / (n - ddof), np.nan)
            if how == "std":
                out = np.sqrt(out)
    return wrap(np.where(n >= min_periods, out, np.nan))


class Expanding:
    """Windows from the first row to each row (``coll.expanding(...)``).

    >>> import shoal.dataframe as sd
    >>> s = sd.from_pandas(pd.Series([1.0, 2.0, 3.0, 4.0]), npartitions=3)
    >>> s.expanding().mean().compute().tolist()
    [1.0, 1.5, 2.0, 2.5]
    """

    def __init__(self, coll: Any, min_periods: int = 1):
        if isinstance(min_periods, bool) or not isinstance(min_periods, int) or min_periods < 0:
            raise ValueError(f"expanding: min_periods must be an integer >= 0, got {min_periods!r}")
        self._coll = coll
        self._min_periods = min_periods

    def _agg(self, how: str, ddof: int = 1) -> Any:
        frame = self._coll._expr
        kwargs = {"how": how, "min_periods": self._min_periods, "ddof": ddof}
        meta = emulate(
            expanding_finish, frame._meta, None, fname=f"expanding.{how}", nonempty=True, **kwargs
        )
        return _new(
            Scan(
                frame,
                expanding_summary,
                expanding_combine,
                expanding_finish,
                kwargs,
                meta,
                f"expanding-{how}",
            )
        )

    def sum(self) -> Any:
        """Sum of every row so far."""
        return self._agg("sum")

    def mean(self) -> Any:
        """Mean of every row so far."""
        return self._agg("mean")

    def count(self) -> Any:
        """Non-missing values so far."""
        return self._agg("count")

    def min(self) -> Any:
        """Minimum so far."""
        return self._agg("min")

    def max(self) -> Any:
        """Maximum so far."""
        return self._agg("max")

    def var(self, ddof: int = 1) -> Any:
        """Variance of every row so far."""
        return self._agg("var", ddof)

    def std(self, ddof: int = 1) -> Any:
        """Standard deviation of every row so far."""
        return self._agg("std", ddof)


# ---------------------------------------------------------------------- ewm


def ewm_alpha(com=None, span=None, halflife=None, alpha=None) -> float:
    """The smoothing factor from exactly one of the four ways to give it.

    >>> ewm_alpha(span=3), ewm_alpha(com=1), ewm_alpha(alpha=0.25)
    (0.5, 0.5, 0.25)
    """
    given = {
        k: v
        for k, v in dict(com=com, span=span, halflife=halflife, alpha=alpha).items()
        if v is not None
    }
    if len(given) != 1:
        raise ValueError(
            f"ewm needs exactly one of com=, span=, halflife= or alpha=, got {sorted(given)}"
        )
    if com is not None:
        if com < 0:
            raise ValueError(f"ewm: com must be >= 0, got {com}")
        return 1.0 / (1.0 + com)
    if span is not None:
        if span < 1:
            raise ValueError(f"ewm: span must be >= 1, got {span}")
        return 2.0 / (span + 1.0)
    if halflife is not None:
        if isinstance(halflife, (str, pd.Timedelta)) or halflife <= 0:
            raise ValueError(
                f"ewm: halflife must be a positive number of rows, got {halflife!r} "
                "(time-based halflife with times= is not supported)"
            )
        return 1.0 - math.exp(-math.log(2.0) / halflife)
    if not 0 < alpha <= 1:
        raise ValueError(f"ewm: alpha must be in (0, 1], got {alpha}")
    return float(alpha)


def _decays(seen: np.ndarray, ignore_na: bool) -> np.ndarray:
    """Per row and column: how many times an earlier state has decayed by
    the end of that row (every row, or every observation with ``ignore_na``)."""
    if ignore_na:
        return np.cumsum(seen, axis=0).astype("float64")
    return np.broadcast_to(np.arange(1, len(seen) + 1, dtype="float64")[:, None], seen.shape)


def _local_ewm(part: Any, how: str, alpha: float, adjust: bool, ignore_na: bool):
    """pandas' ewm ``how`` of ``part`` from a fresh start (every value, no
    minimum), as an array."""
    window = part.ewm(alpha=alpha, adjust=adjust, ignore_na=ignore_na, min_periods=0)
    return _as_columns(getattr(window, how)())[0]


def ewm_summary(part, how, alpha, adjust, ignore_na, min_periods) -> dict | None:
    """The ewm state after ``part`` from a fresh start, per column: the
    value ``w`` (weighted mean or sum, NaN before any observation), the
    total weight ``W`` (adjust), observations ``nobs``, rows ``rows``, and
    for ``adjust=False``: the first observed value and its row, the factor
    carrying a change of the first value to the last one, the rows after the
    last observation."""
    if len(part) == 0:
        return None
    x, _ = _as_columns(part)
    seen = ~np.isnan(x)
    local = _local_ewm(part, how, alpha, adjust, ignore_na)
    state: dict = {"rows": len(part), "nobs": seen.sum(axis=0).astype("float64")}
    state["w"] = pd.DataFrame(local).ffill().to_numpy()[-1]
    if adjust:
        weights = (
            pd.DataFrame(np.where(seen, 1.0, np.nan))
            .ewm(alpha=alpha, adjust=True, ignore_na=ignore_na, min_periods=0)
            .sum()
        )
        state["W"] = np.nan_to_num(weights.to_numpy()[-1])
        state["decay"] = _decays(seen, ignore_na)[-1]
        return state
    cols = range(x.shape[1])
    firsts = [np.flatnonzero(seen[:, j]) for j in cols]
    state["first_row"] = np.array([f[0] if len(f) else -1 for f in firsts], dtype="float64")
    state["first"] = np.array([x[f[0], j] if len(f) else np.nan for j, f in zip(cols, firsts)])
    state["gap"] = np.array(
        [len(x) - 1 - f[-1] if len(f) else len(x) for f in firsts], dtype="float64"
    )
    factors = [_carry_factors(f, alpha, ignore_na) for f in firsts]
    state["carry"] = np.array([c[-1] if len(c) else 1.0 for c in factors])
    return state


def _carry_factors(rows: np.ndarray, alpha: float, ignore_na: bool) -> np.ndarray:
    """For adjust=False: at each observation (``rows``), the factor by which
    a change of the state at the first observation survives (pandas'
    ``old/(old + alpha)`` weights, ``old`` decayed over the gap)."""
    if len(rows) == 0:
        return rows.astype("float64")
    gaps = np.ones(len(rows) - 1) if ignore_na else np.diff(rows).astype("float64")
    old = (1.0 - alpha) ** gaps
    return np.concatenate([[1.0], np.cumprod(old / (old + alpha))])


def _first_weight(gap: np.ndarray, alpha: float) -> np.ndarray:
    old = (1.0 - alpha) ** gap
    return old / (old + alpha)


def _merge_ewm(a: dict, b: dict, how, alpha, adjust, ignore_na, min_periods) -> dict:
    q = 1.0 - alpha
    had = ~np.isnan(a["w"])
    out = {"rows": a["rows"] + b["rows"], "nobs": a["nobs"] + b["nobs"]}
    if adjust:
        old = a["W"] * q ** b["decay"]
        w_a = np.where(had, a["w"], 0.0)
        w_b = np.where(np.isnan(b["w"]), 0.0, b["w"])
        total = old + b["W"]
        with np.errstate(invalid="ignore", divide="ignore"):
            if how == "mean":
                merged = (w_a * old + w_b * b["W"]) / total
            else:
                merged = w_a * q ** b["decay"] + w_b
        out["w"] = np.where(had, np.where(b["nobs"] > 0, merged, a["w"]), b["w"])
        out["W"] = total
        out["decay"] = a["decay"] + b["decay"]
        return out
    has_b = b["nobs"] > 0
    gap = a["gap"] + b["first_row"] + 1 if not ignore_na else np.ones_like(a["gap"])
    moved = b["w"] + b["carry"] * _first_weight(gap, alpha) * (a["w"] - b["first"])
    out["w"] = np.where(had & has_b, moved, np.where(has_b, b["w"], a["w"]))
    out["gap"] = np.where(has_b, b["gap"], a["gap"] + b["rows"])
    return out


def ewm_combine(carry, summary, how, alpha, adjust, ignore_na, min_periods):
    return _fold(
        carry,
        summary,
        _merge_ewm,
        how=how,
        alpha=alpha,
        adjust=adjust,
        ignore_na=ignore_na,
        min_periods=min_periods,
    )


def ewm_finish(part, carry, how, alpha, adjust, ignore_na, min_periods):
    """``part.ewm(...).<how>()`` continuing from the state ``carry``.

    >>> c = ewm_summary(pd.Series([1.0, 2.0]), "mean", 0.5, True, False, 0)
    >>> ewm_finish(pd.Series([3.0]), c, "mean", 0.5, True, False, 0).round(4).tolist()
    [2.4286]
    """
    options = {"alpha": alpha, "adjust": adjust, "ignore_na": ignore_na}
    if carry is None or len(part) == 0:
        return getattr(part.ewm(min_periods=min_periods, **options), how)()
    x, wrap = _as_columns(part)
    seen = ~np.isnan(x)
    q = 1.0 - alpha
    had = ~np.isnan(carry["w"])
    local = _local_ewm(part, how, alpha, adjust, ignore_na)
    local_seen = ~np.isnan(local)
    if adjust:
        decay = q ** _decays(seen, ignore_na)
        weights = (
            pd.DataFrame(np.where(seen, 1.0, np.nan))
            .ewm(alpha=alpha, adjust=True, ignore_na=ignore_na, min_periods=0)
            .sum()
        )
        local_w = np.nan_to_num(weights.to_numpy())
        w_local = np.where(local_seen, local, 0.0)
        w_carry = np.where(had, carry["w"], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            if how == "mean":
                old = carry["W"] * decay
                merged = (w_carry * old + w_local * local_w) / (old + local_w)
            else:
                merged = w_carry * decay + w_local
    else:
        merged = np.empty_like(x)
        for j in range(x.shape[1]):
            rows = np.flatnonzero(seen[:, j])
            if len(rows) == 0 or not had[j]:
                merged[:, j] = local[:, j]
                continue
            gap = carry["gap"][j] + rows[0] + 1 if not ignore_na else 1.0
            change = _first_weight(np.float64(gap), alpha) * (carry["w"][j] - x[rows[0], j])
            factors = np.full(len(x), np.nan)
            factors[rows] = _carry_factors(rows, alpha, ignore_na)
            factors = pd.Series(factors).ffill().to_numpy()  # rows after an observation
            merged[:, j] = local[:, j] + change * factors
    out = np.where(had & ~local_seen, carry["w"], merged)
    out = np.where(had | local_seen, out, np.nan)
    nobs = carry["nobs"] + np.cumsum(seen, axis=0)
    return wrap(np.where(nobs >= max(min_periods, 1), out, np.nan))


class ExponentialMovingWindow:
    """Exponentially weighted windows (``coll.ewm(...)``): ``mean`` and, with
    ``adjust=True``, ``sum``, across partitions as pandas computes them.

    >>> import shoal.dataframe as sd
    >>> s = sd.from_pandas(pd.Series([1.0, 2.0, 3.0, 4.0]), npartitions=3)
    >>> s.ewm(alpha=0.5).mean().compute().round(4).tolist()
    [1.0, 1.6667, 2.4286, 3.2667]
    """

    def __init__(
        self,
        coll: Any,
        com: float | None = None,
        span: float | None = None,
        halflife: float | None = None,
        alpha: float | None = None,
        min_periods: int = 0,
        adjust: bool = True,
        ignore_na: bool = False,
    ):
        if isinstance(min_periods, bool) or not isinstance(min_periods, int) or min_periods < 0:
            raise ValueError(f"ewm: min_periods must be an integer >= 0, got {min_periods!r}")
        for name, value in (("adjust", adjust), ("ignore_na", ignore_na)):
            if not isinstance(value, bool):
                raise TypeError(f"ewm: {name} must be True or False, got {value!r}")
        self._coll = coll
        self._kwargs = {
            "alpha": ewm_alpha(com, span, halflife, alpha),
            "adjust": adjust,
            "ignore_na": ignore_na,
            "min_periods": min_periods,
        }

    def _agg(self, how: str) -> Any:
        frame = self._coll._expr
        kwargs = {"how": how, **self._kwargs}
        meta = emulate(ewm_finish, frame._meta, None, fname=f"ewm.{how}", nonempty=True, **kwargs)
        return _new(Scan(frame, ewm_summary, ewm_combine, ewm_finish, kwargs, meta, f"ewm-{how}"))

    def mean(self) -> Any:
        """Exponentially weighted mean."""
        return self._agg("mean")

    def sum(self) -> Any:
        """Exponentially weighted sum (``adjust=True`` only, as in pandas)."""
        if not self._kwargs["adjust"]:
            raise NotImplementedError("ewm sum is defined for adjust=True only (as in pandas)")
        return self._agg("sum")
