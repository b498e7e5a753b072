"""Scans across partitions: results where each row depends on every row
before it (``cumsum``, ``cumprod``, ``cummax``, ``cummin``; ``expanding``
and ``ewm`` in ``windows.py``), and the row-offset operations ``shift``,
``diff`` and ``pct_change`` (through ``map_overlap``'s neighbour rows).

A scan never moves a whole partition to another task. Each partition is
summarized once (a small ``summary``, e.g. its last cumulative row); a chain
of small tasks folds the summaries of the partitions before ``i`` into a
``carry``; the output of partition ``i`` is made from its own rows and that
carry::

    p0 ------------------------------------> out0 = finish(p0, None)
    p0 -> s0 -> carry1 = combine(None, s0) -> out1 = finish(p1, carry1)
    p1 -> s1 -> carry2 = combine(carry1, s1) -> out2 = finish(p2, carry2)

so the work is two passes over the data and one short sequential chain of
tiny tasks. Empty partitions summarize to ``None`` and leave the carry as
it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import pandas as pd

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Ref, Task
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import FrameExpr
from shoal.dataframe.meta import emulate

__all__ = ["Scan", "cumulative", "shifted", "CUMULATIVE_METHODS"]

CUMULATIVE_METHODS = ("cumsum", "cumprod", "cummax", "cummin")


class Scan(FrameExpr):
    """``finish(partition_i, carry_i, **kwargs)`` for every partition, where
    ``carry_i`` folds ``summarize(partition_j, **kwargs)`` of every ``j < i``
    with ``combine(carry, summary, **kwargs)`` (module docstring).

    >>> from shoal.core.local import get_sync
    >>> from shoal.dataframe.expr import FromPandas
    >>> e = cumulative(FromPandas.of(pd.Series([1, 2, 3, 4]), 3), "cumsum", True)
    >>> get_sync(e.__shoal_graph__(), (e._name, 1)).tolist()
    [3, 6]
    """

    frame: FrameExpr
    summarize: Callable
    combine: Callable
    finish: Callable
    kwargs: dict
    meta: Any
    label: str

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("label",)

    @property
    def _prefix(self) -> str:
        return self.label

    @functools.cached_property
    def _meta(self) -> Any:
        return self.meta

    @functools.cached_property
    def divisions(self) -> tuple:
        return self.frame.divisions

    def _one_to_one(self, child: BlockExpr) -> bool:
        return False  # the partitions feed the summaries too: stored, not nested

    def _extra_layer(self, b: GraphBuilder) -> dict:
        summaries, carries = self.stage_name("summary"), self.stage_name("carry")
        layer: dict = {}
        for i in range(self.frame.npartitions - 1):
            part = b.ref(self.frame, (i,))
            layer[(summaries, i)] = Task(self.summarize, part, **self.kwargs)
            prev = Ref((carries, i)) if i > 0 else None
            layer[(carries, i + 1)] = Task(self.combine, prev, Ref((summaries, i)), **self.kwargs)
        return layer

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        i = index[0]
        carry = Ref((self.stage_name("carry"), i)) if i > 0 else None
        return Task(self.finish, b.ref(self.frame, index), carry, **self.kwargs)

    def _explain_args(self) -> str:
        return self.label


# ------------------------------------------------------------ cumulative ops


def _last_cumulative(part: Any, method: str, skipna: bool) -> Any:
    """The cumulative value after ``part``'s last row, as a one-row piece
    (None for no rows). With ``skipna`` a trailing missing row does not
    hide the value before it."""
    if len(part) == 0:
        return None
    cum = getattr(part, method)(skipna=skipna)
    last = cum.iloc[-1:]
    if skipna and last.isna().to_numpy().any():
        last = cum.ffill().iloc[-1:]
    return last


def cum_combine(carry: Any, summary: Any, method: str, skipna: bool) -> Any:
    """The carry after one more partition summarized by ``summary``."""
    if summary is None:
        return carry
    if carry is None:
        return summary
    return _last_cumulative(concat_frames([carry, summary]), method, skipna)


def cum_finish(part: Any, carry: Any, method: str, skipna: bool) -> Any:
    """``part``'s cumulative values continuing from ``carry`` (the carry row
    goes first, then is dropped: pandas' own semantics decide the rest).

    >>> cum_finish(pd.Series([1.0, None, 2.0]), pd.Series([10.0]), "cumsum", True).tolist()
    [11.0, nan, 13.0]
    """
    if carry is None or len(part) == 0:
        return getattr(part, method)(skipna=skipna)
    both = pd.concat([carry, part])
    return getattr(both, method)(skipna=skipna).iloc[1:]


def cumulative(frame: FrameExpr, method: str, skipna: bool) -> Scan:
    """A ``Scan`` computing ``frame.<method>(skipna=)`` across partitions.

    >>> from shoal.dataframe.expr import FromPandas
    >>> cumulative(FromPandas.of(pd.Series([1.0]), 1), "cummax", True).label
    'cummax'
    """
    if method not in CUMULATIVE_METHODS:
        raise ValueError(f"unknown cumulative method {method!r}; use one of {CUMULATIVE_METHODS}")
    if not isinstance(skipna, bool):
        raise TypeError(f"{method}: skipna must be True or False, got {skipna!r}")
    kwargs = {"method": method, "skipna": skipna}
    meta = emulate(cum_finish, frame._meta, None, fname=method, nonempty=True, **kwargs)
    return Scan(frame, _last_cumulative, cum_combine, cum_finish, kwargs, meta, method)


# --------------------------------------------------- shift, diff, pct_change


def _call(part: Any, method: str, periods: int, dtypes: Any = None) -> Any:
    out = getattr(part, method)(periods)
    if dtypes is not None and len(out) == 0:  # pandas keeps integers when nothing moved in
        out = out.astype(dtypes)
    return out


def shifted(coll: Any, method: str, periods: int) -> Any:
    """``coll.<method>(periods)`` for ``shift``, ``diff`` and ``pct_change``,
    borrowing ``|periods|`` rows from the neighbouring partitions.

    >>> import shoal.dataframe as sd
    >>> s = sd.from_pandas(pd.Series([1.0, 2.0, 4.0, 8.0]), npartitions=3)
    >>> shifted(s, "diff", 1).compute().tolist()
    [nan, 1.0, 2.0, 4.0]
    """
    if isinstance(periods, bool) or not isinstance(periods, int):
        raise TypeError(f"{method}: periods must be an integer, got {periods!r}")
    before, after = max(periods, 0), max(-periods, 0)
    meta = emulate(_call, coll._meta, method, periods, fname=method, nonempty=True)
    dtypes = meta.dtypes.to_dict() if isinstance(meta, pd.DataFrame) else meta.dtype
    return coll.map_overlap(_call, before, after, method, periods, dtypes, meta=meta)
