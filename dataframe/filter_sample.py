"""How much of its input a filter keeps, measured on a few partitions.

A filter that reached a parquet reader is estimated from the row groups'
statistics (``sizes.py``); one that stays a pandas filter (``p_name.str.
contains("green")``, a comparison of two columns) would otherwise count as
keeping every row, and the join planner would join the big unfiltered
tables first. When the join planner asks (``sampling()``, turned on by
``join_order.plan_joins``), the predicate is computed on up to three
partitions (first, middle, last: files written in some order are sampled
at both ends), reading only the columns it needs, and the share of rows it
keeps is the estimate::

    part[part.p_name.str.contains("green")]      keeps 5.4 % of 3 samples
      -> joined with lineitem before orders       (not 100 %: orders first)

Sampling runs only for predicates built from per-partition work over
readers or in-memory frames (no join, shuffle or reduction below them),
whose sampled partitions are estimated at no more than ``MAX_SAMPLE_ROWS``
rows in all; shares are remembered by the predicate's name (a plan's
content), and a predicate that fails on the sample is left unestimated
(its error belongs to the computation). A share of 0 counts as half a row
of the sample: rows no sample holds may still exist.
Config ``dataframe.optimize.sample-filters`` (default True) turns it off.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections import OrderedDict
from collections.abc import Iterator

import pandas as pd

from shoal.core import config
from shoal.dataframe.expr import Blockwise, FrameExpr, FromPandas, Partitions

__all__ = ["MAX_SAMPLE_ROWS", "filter_share", "sampling"]

MAX_SAMPLE_ROWS = 3_000_000
_CACHE_SIZE = 256

config.update_defaults(
    {"dataframe": {"optimize": {"sample-filters": True}}},
    {
        "dataframe.optimize.sample-filters": "The join planner measures how many rows a "
        "pandas filter keeps on up to three partitions of its input.",
    },
)

_active: contextvars.ContextVar[bool] = contextvars.ContextVar("filter_sampling", default=False)
_shares: OrderedDict[str, float | None] = OrderedDict()


@contextlib.contextmanager
def sampling() -> Iterator[None]:
    """Within this block, ``filter_share`` may sample (module docstring).

    >>> with sampling():
    ...     pass
    """
    token = _active.set(bool(config.get("dataframe.optimize.sample-filters")))
    try:
        yield
    finally:
        _active.reset(token)


def _per_partition_only(expr: FrameExpr) -> bool:
    """Whether computing one partition of ``expr`` reads one partition of
    its sources and nothing more."""
    for node in expr.walk():
        if type(node).__name__ == "ReadParquet" or isinstance(node, (FromPandas, Partitions)):
            continue
        if not isinstance(node, Blockwise):
            return False
    return True


def _measure(predicate: FrameExpr) -> float | None:
    from shoal.dataframe.collection import new_collection

    n = predicate.npartitions
    picks = sorted({0, n // 2, n - 1})
    try:
        mask = new_collection(Partitions(predicate, picks)).compute(scheduler="sync")
    except Exception:  # the user's predicate fails: that is the computation's business
        return None
    if not isinstance(mask, pd.Series) or mask.dtype != bool or len(mask) == 0:
        return None
    return max(float(mask.mean()), 0.5 / len(mask))


def filter_share(predicate: FrameExpr, rows: float) -> float | None:
    """The share of rows ``predicate`` keeps, sampled (module docstring), or
    None when not sampling, too costly, or not measurable; ``rows`` is the
    estimated rows of the filtered input.

    >>> from shoal.dataframe.expr import FromPandas, Projection, method_expr
    >>> e = FromPandas.of(pd.DataFrame({"a": range(100)}), 4)
    >>> keep = method_expr(Projection(e, "a"), "lt", 10)
    >>> filter_share(keep, 100.0) is None  # only while the join planner asks
    True
    >>> with sampling():
    ...     round(filter_share(keep, 100.0), 3)  # partitions 0, 2 and 3: 10 of 75 rows
    0.133
    """
    if not _active.get():
        return None
    name = predicate._name
    if name in _shares:
        _shares.move_to_end(name)
        return _shares[name]
    n = max(predicate.npartitions, 1)
    if rows * min(n, 3) / n > MAX_SAMPLE_ROWS or not _per_partition_only(predicate):
        return None
    share = _measure(predicate)
    _shares[name] = share
    if len(_shares) > _CACHE_SIZE:
        _shares.popitem(last=False)
    return share
