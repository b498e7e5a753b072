"""``merge_asof``: each left row joined with the nearest right row by key,
on frames sorted by that key (known divisions).

Partition ``i`` of the left side, holding keys in ``[lo, hi]`` (its
divisions), is joined by pandas with a *candidate* slice of the right side
that contains, for every left row, the row pandas would pick from the whole
right side:

- the right partitions whose ranges meet ``[lo, hi]``, whole and in order;
- for ``backward`` and ``nearest``: the last row of each ``by`` group among
  all right partitions before those (a carry folded along the partitions by
  a chain of small tasks), since a left row's match may lie any number of
  partitions back;
- for ``forward`` and ``nearest``: likewise the first row of each group
  among all right partitions after them.

::

    right:  [ r0 ][ r1 ][ r2 ][ r3 ][ r4 ]
    left:               [   l_i    ]
    candidates(l_i) = last per group of r0..r1 + r2 + r3 + first per group of r4

pandas then runs on the candidates: its tolerance, ``allow_exact_matches``
and ties behave as on the whole data. Joins ``on=`` columns first index
both sides by the key with ``set_index(sorted=True)`` (which checks the
partitions are in order) after checking each partition's keys are sorted
and not missing, as pandas requires; the result, like ``merge`` on columns, gives each
partition its own 0-based index, with rows in the left side's order. A
column on one side and the index on the other (``left_on=`` with
``right_index=True`` or the mirror) index the column side the same way and
give pandas' result, the left side's index included; with
``left_index=True`` the ``right_on`` column holds the left index values,
as pandas gives it whenever some left row finds no match (pandas keeps the
right keys when every row matches, which no partition can tell alone).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import pandas as pd

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Ref, Task
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import FrameExpr
from shoal.dataframe.meta import meta_nonempty, restated

__all__ = ["merge_asof", "MergeAsof", "asof_partition"]

DIRECTIONS = ("backward", "forward", "nearest")


def _keys(part: pd.DataFrame, key: Any) -> Any:
    return part.index if key is None else part[key]


def _ends(part: pd.DataFrame, by: tuple, last: bool) -> pd.DataFrame:
    """The last (first) row of each ``by`` group of a sorted partition."""
    if not len(part):
        return part
    if not by:
        return part.iloc[-1:] if last else part.iloc[:1]
    dup = part.duplicated(list(by), keep="last" if last else "first")
    return part[~dup.to_numpy()]


def fold_carry(carry: Any, part: pd.DataFrame, by: tuple, last: bool, key: Any) -> pd.DataFrame:
    """The carry after one more right partition: the last (``last``) or first
    row of each group among the carry's rows and the partition's, sorted by
    key (stably: among equal keys, rows keep the right side's order).

    >>> p = pd.DataFrame({"t": [1, 2, 3], "g": ["a", "b", "a"]})
    >>> fold_carry(None, p, ("g",), True, "t").t.tolist()
    [2, 3]
    """
    ends = _ends(part, by, last)
    if carry is None or not len(carry):
        both = ends
    else:
        both = concat_frames([carry, ends] if last else [ends, carry])
    both = _ends(both, by, last)
    order = _keys(both, key).argsort(kind="stable")
    return both.iloc[order]


_STASH = "__shoal_asof_index__"


def _stash_index(part: pd.DataFrame) -> pd.DataFrame:
    """``part`` with its index kept as a column (restored by ``_prepared``)."""
    return part.assign(**{_STASH: part.index})


def _prepared(part: pd.DataFrame, how: Any) -> pd.DataFrame:
    """A side as pandas takes it: ``None`` as it is; True without its index
    (the key is a column too: pandas refuses a label that is both); a
    ``(column, name)`` pair with that stashed column back as the index."""
    if how is None:
        return part
    if how is True:
        return part.reset_index(drop=True)
    column, name = how
    return part.set_index(column).rename_axis(name)


def asof_partition(
    left: pd.DataFrame,
    before: Any,
    parts: list,
    after: Any,
    empty: pd.DataFrame,
    kwargs: dict,
    reset: tuple,
    meta: pd.DataFrame,
) -> pd.DataFrame:
    """One output partition: pandas' ``merge_asof`` of a left partition with
    its candidate right rows (module docstring), cast to ``meta``; ``reset``
    says how to prepare each side (``_prepared``).

    >>> l = pd.DataFrame({"t": [5, 9]})
    >>> r = pd.DataFrame({"t": [4, 8], "v": [1, 2]})
    >>> asof_partition(l, None, [r], None, r.iloc[:0], {"on": "t"}, (None, None),
    ...                pd.DataFrame({"t": [0], "v": [0.0]}).iloc[:0]).v.tolist()
    [1.0, 2.0]
    """
    pieces = [p for p in [before, *parts, after] if p is not None and len(p)]
    right = concat_frames(pieces) if pieces else empty
    left, right = _prepared(left, reset[0]), _prepared(right, reset[1])
    out = pd.merge_asof(left, right, **kwargs)
    if kwargs.get("left_index") and "right_on" in kwargs:
        out[kwargs["right_on"]] = left.index
    casts = {c: d for c, d in meta.dtypes.items() if out[c].dtype != d}
    return out.astype(casts) if casts else out


class MergeAsof(FrameExpr):
    """``merge_asof`` of two frames with known divisions (module docstring).

    >>> from shoal.dataframe.io import from_pandas
    >>> l = from_pandas(pd.DataFrame({"v": [1, 2, 3]}, index=[1, 5, 9]), npartitions=2)
    >>> r = from_pandas(pd.DataFrame({"w": [7, 8]}, index=[0, 6]), npartitions=2)
    >>> kw = {"left_index": True, "right_index": True}
    >>> e = MergeAsof(l.expr, r.expr, kw, None, (), (None, None))
    >>> e.npartitions, e.divisions == l.divisions
    (2, True)
    """

    left: FrameExpr
    right: FrameExpr
    kwargs: dict
    right_key: Any
    right_by: tuple
    reset: tuple  # how each side is prepared for pandas (``_prepared``)

    fusable: ClassVar[bool] = True

    @property
    def _prefix(self) -> str:
        return "merge-asof"

    def _explain_args(self) -> str:
        kw = self.kwargs
        on = kw.get("on") or ("index" if kw.get("left_index") else kw.get("left_on"))
        by = kw.get("by") or kw.get("left_by")
        text = f"on={on}, direction={kw.get('direction', 'backward')}"
        return text + (f", by={by}" if by else "")

    @functools.cached_property
    def _meta(self) -> Any:
        left, right = meta_nonempty(self.left._meta), meta_nonempty(self.right._meta)
        left, right = _prepared(left, self.reset[0]), _prepared(right, self.reset[1])
        # a left row may find no match: the right columns as pandas types them then
        return pd.merge_asof(left, right.iloc[:0], **self.kwargs).iloc[:0]

    @functools.cached_property
    def divisions(self) -> tuple:
        if self.reset[0] is not None:  # the left side's index is not the output's
            return (None,) * (self.left.npartitions + 1)
        return self.left.divisions

    @property
    def _direction(self) -> str:
        return self.kwargs.get("direction", "backward")

    def _one_to_one(self, child: BlockExpr) -> bool:
        return child is self.left

    @functools.cached_property
    def _ranges(self) -> list[tuple[int, int]]:
        """For each left partition, the right partitions ``a .. b - 1`` whose
        ranges meet its own (``a == b``: none; then ``a`` is the number of
        right partitions below it)."""
        rd, ld = self.right.divisions, self.left.divisions
        m = self.right.npartitions
        if not self.right.known_divisions or not self.left.known_divisions:
            return [(0, m)] * self.left.npartitions  # one partition on a side: all of it
        out = []
        for i in range(self.left.npartitions):
            lo, hi = ld[i], ld[i + 1]
            a = sum(1 for j in range(m) if rd[j + 1] < lo)
            b = m - sum(1 for j in range(m) if rd[j] > hi)
            out.append((a, max(a, b)))
        return out

    def _extra_layer(self, b: GraphBuilder) -> dict:
        layer: dict = {}
        by = self.right_by
        m = self.right.npartitions
        if self._direction in ("backward", "nearest"):
            name = self.stage_name("before")
            for j in range(m):
                prev = Ref((name, j - 1)) if j else None
                layer[(name, j)] = Task(
                    fold_carry, prev, b.ref(self.right, (j,)), by, True, self.right_key
                )
        if self._direction in ("forward", "nearest"):
            name = self.stage_name("after")
            for j in reversed(range(m)):
                nxt = Ref((name, j + 1)) if j < m - 1 else None
                layer[(name, j)] = Task(
                    fold_carry, nxt, b.ref(self.right, (j,)), by, False, self.right_key
                )
        return layer

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        i = index[0]
        a, end = self._ranges[i]
        m = self.right.npartitions
        backward = self._direction in ("backward", "nearest")
        forward = self._direction in ("forward", "nearest")
        before = Ref((self.stage_name("before"), a - 1)) if backward and a > 0 else None
        after = Ref((self.stage_name("after"), end)) if forward and end < m else None
        return Task(
            asof_partition,
            b.input(self, self.left, index),
            before,
            [b.ref(self.right, (j,)) for j in range(a, end)],
            after,
            self.right._meta,
            self.kwargs,
            self.reset,
            self._meta,
        )


# ------------------------------------------------------------------ API


def _by_columns(frame, value: Any, what: str) -> tuple:
    if value is None:
        return ()
    cols = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    frame._check_columns(list(cols), f"merge_asof ({what})")
    return cols


def _indexed(frame, col: str, what: str):
    from shoal.dataframe.sort import set_index

    frame._check_columns([col], f"merge_asof ({what})")
    # set_index(sorted=True) sorts inside each partition; pandas refuses unsorted keys
    checked = frame.map_partitions(_require_sorted, col, what, meta=frame._meta)
    return set_index(checked, col, drop=False, sorted=True)


def _require_sorted(part: pd.DataFrame, col: Any, what: str) -> pd.DataFrame:
    keys = part[col]
    if keys.isna().any():
        raise ValueError(f"merge_asof: {what}s contain missing values (column {col!r})")
    if not keys.is_monotonic_increasing:
        raise ValueError(f"merge_asof: {what}s must be sorted (column {col!r})")
    return part


def merge_asof(
    left: Any,
    right: Any,
    on: Any = None,
    left_on: Any = None,
    right_on: Any = None,
    left_index: bool = False,
    right_index: bool = False,
    by: Any = None,
    left_by: Any = None,
    right_by: Any = None,
    suffixes: tuple = ("_x", "_y"),
    tolerance: Any = None,
    allow_exact_matches: bool = True,
    direction: str = "backward",
):
    """Join each left row with the nearest right row by key, as
    ``pandas.merge_asof``, on frames sorted by the key (module docstring).
    Keys are one column each (``on=`` or ``left_on=``/``right_on=``, whose
    partitions must be in order) or both indexes (known divisions).

    >>> import shoal.dataframe as sd
    >>> trades = sd.from_pandas(pd.DataFrame({"t": [1, 5, 10], "q": [1, 2, 3]}), npartitions=2)
    >>> quotes = sd.from_pandas(pd.DataFrame({"t": [0, 4, 9], "p": [7, 8, 9]}), npartitions=2)
    >>> sd.merge_asof(trades, quotes, on="t").compute().p.tolist()
    [7.0, 8.0, 9.0]
    """
    from shoal.dataframe.collection import new_collection
    from shoal.dataframe.merge import _as_frame

    if direction not in DIRECTIONS:
        raise ValueError(
            f"merge_asof: direction must be one of {list(DIRECTIONS)}, got {direction!r}"
        )
    left, right = _as_frame(left, "left"), _as_frame(right, "right")
    if on is not None and (
        left_on is not None or right_on is not None or left_index or right_index
    ):
        raise ValueError("merge_asof: pass on=, left_on=/right_on= or left_index=/right_index=")
    if by is not None and (left_by is not None or right_by is not None):
        raise ValueError("merge_asof: pass by= or left_by=/right_by=, not both")
    lby = _by_columns(left, by if by is not None else left_by, "left by")
    rby = _by_columns(right, by if by is not None else right_by, "right by")
    if len(lby) != len(rby):
        raise ValueError(f"merge_asof: {len(lby)} left by columns but {len(rby)} right ones")
    kwargs: dict = {
        "suffixes": tuple(suffixes),
        "tolerance": tolerance,
        "allow_exact_matches": allow_exact_matches,
        "direction": direction,
    }
    kwargs.update({"by": by} if by is not None else {})
    kwargs.update({"left_by": left_by, "right_by": right_by} if lby and by is None else {})
    reset: tuple
    if left_index and right_index:
        kwargs.update(left_index=True, right_index=True)
        right_key, reset = None, (None, None)
    elif right_index:
        if on is not None or left_on is None or not isinstance(left_on, str):
            raise ValueError("merge_asof: right_index=True takes one left_on= column")
        if left._meta.index.nlevels != 1:
            raise NotImplementedError("merge_asof: left_on= with a MultiIndex on the left")
        name = left._meta.index.name
        stashed = left.map_partitions(_stash_index, meta=_stash_index(left._meta))
        left = _indexed(stashed, left_on, "left key")
        kwargs.update(left_on=left_on, right_index=True)
        right_key, reset = None, ((_STASH, name), None)
    elif left_index:
        if on is not None or right_on is None or not isinstance(right_on, str):
            raise ValueError("merge_asof: left_index=True takes one right_on= column")
        right = _indexed(right, right_on, "right key")
        kwargs.update(left_index=True, right_on=right_on)
        right_key, reset = right_on, (None, True)
    else:
        lcol = on if on is not None else left_on
        rcol = on if on is not None else right_on
        if lcol is None or rcol is None:
            raise ValueError("merge_asof: give the key: on=, left_on=/right_on= or the indexes")
        if not isinstance(lcol, str) or not isinstance(rcol, str):
            raise ValueError("merge_asof: the key is one column on each side")
        left, right = _indexed(left, lcol, "left key"), _indexed(right, rcol, "right key")
        kwargs.update({"on": lcol} if on is not None else {"left_on": lcol, "right_on": rcol})
        right_key, reset = rcol, (True, True)
    for name, frame in (("left", left), ("right", right)):
        if frame.npartitions > 1 and not frame.known_divisions:
            raise ValueError(
                f"merge_asof: the {name} frame needs known divisions (sorted by its index): "
                "set_index(col, sorted=True) or from_pandas(sort=True)"
            )
    try:
        expr = MergeAsof(left.expr, right.expr, kwargs, right_key, rby, reset)
    except (ValueError, TypeError, KeyError) as e:
        raise restated(e, "merge_asof") from e
    return new_collection(expr)
