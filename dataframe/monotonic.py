"""``is_monotonic_increasing`` / ``is_monotonic_decreasing`` across partitions.

Each partition reports whether it is monotonic on its own and its first and
last values (``None`` when empty); the tree folds neighbouring reports in
partition order: the values are monotonic when every partition is and each
partition's last value is in order with the next non-empty one's first.
Missing values make a partition non-monotonic, as in pandas.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["monotonic_chunk", "monotonic_combine", "monotonic_aggregate", "monotonic_expr"]


def monotonic_chunk(part: Any, increasing: bool) -> tuple | None:
    """``(monotonic, first, last)`` of one partition, or None when it is empty.

    >>> import pandas as pd
    >>> monotonic_chunk(pd.Series([1, 2, 2]), True)
    (True, np.int64(1), np.int64(2))
    >>> monotonic_chunk(pd.Series([], dtype="int64"), True) is None
    True
    """
    if not len(part):
        return None
    ok = part.is_monotonic_increasing if increasing else part.is_monotonic_decreasing
    values = part.array  # positional access for a Series and an Index alike
    return (bool(ok), values[0], values[-1])


def monotonic_combine(reports: list, increasing: bool) -> tuple | None:
    """One report for consecutive partitions' reports (in partition order).

    >>> monotonic_combine([(True, 1, 3), None, (True, 3, 5)], True)
    (True, 1, 5)
    >>> monotonic_combine([(True, 1, 3), (True, 2, 5)], True)
    (False, 1, 5)
    """
    live = [r for r in reports if r is not None]
    if not live:
        return None
    ok = all(r[0] for r in live)
    for before, after in zip(live, live[1:]):
        if not ok:
            break
        ok = bool(before[2] <= after[1]) if increasing else bool(before[2] >= after[1])
    return (ok, live[0][1], live[-1][2])


def monotonic_aggregate(reports: list, increasing: bool) -> np.bool_:
    """The answer (an empty collection is monotonic, as in pandas).

    >>> monotonic_aggregate([(True, 3, 2), (True, 5, 1)], False)
    np.False_
    """
    out = monotonic_combine(reports, increasing)
    return np.bool_(True if out is None else out[0])


def monotonic_expr(frame: Any, increasing: bool, split_every: int | None = None) -> Any:
    """The reduction behind ``Series/Index.is_monotonic_increasing`` (a Scalar plan).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> from shoal.core.local import get_sync
    >>> e = monotonic_expr(FromPandas.of(pd.Series([1, 2, 3]), 2), True)
    >>> get_sync(e.__shoal_graph__(), (e._name, 0))
    np.True_
    """
    from shoal.dataframe.reductions import reduction

    label = "is-monotonic-" + ("increasing" if increasing else "decreasing")
    kw = {"increasing": increasing}
    return reduction(
        frame,
        monotonic_chunk,
        monotonic_combine,
        monotonic_aggregate,
        np.bool_(True),
        label,
        split_every,
        chunk_kwargs=kw,
        kwargs=kw,
    )


class MonotonicMethods:
    """``is_monotonic_increasing`` / ``is_monotonic_decreasing`` as lazy
    Scalars (mixed into ``Series`` and ``Index``).

    >>> import pandas as pd
    >>> import shoal.dataframe as sd
    >>> s = sd.from_pandas(pd.Series([1, 3, 2]), npartitions=2)
    >>> s.is_monotonic_increasing.compute(), s.index.is_monotonic_increasing.compute()
    (np.False_, np.True_)
    """

    _expr: Any

    @property
    def is_monotonic_increasing(self):
        """Whether the values never decrease (a lazy Scalar)."""
        from shoal.dataframe.collection import new_collection

        return new_collection(monotonic_expr(self._expr, True))

    @property
    def is_monotonic_decreasing(self):
        """Whether the values never increase (a lazy Scalar)."""
        from shoal.dataframe.collection import new_collection

        return new_collection(monotonic_expr(self._expr, False))
