"""Joins of partitioned frames: ``merge``, ``DataFrame.merge``, ``DataFrame.join``.

A ``Merge`` node is logical; lowering picks the algorithm, shown in
``explain()``:

- ``PartitionwiseJoin``: partition ``i`` of one side with partition ``i``
  of the other, no data moved, when both sides join on their indexes and
  have known divisions (re-cut to the union of both divisions first when
  they differ), when both have one partition, or when both are already
  hash-partitioned on their join keys into the same number of partitions
  (``shuffle.output_partitioning``: the output of an earlier shuffle or hash
  join on the same keys);
- ``RangeJoin``: partition ``i`` of the driving side with the partitions of
  the other side whose key ranges overlap its own, when both sides' first
  join keys have known, ordered ranges per partition (``join_ranges.py``:
  parquet files written in key order); no data moved;
- ``BroadcastJoin``: the small side concatenated once and joined with every
  partition of the other, when the small side has one partition or its
  estimated size (``sizes.estimate_bytes``) is under config
  ``dataframe.merge.broadcast-bytes``, or with ``broadcast=True``. On the
  local schedulers, where every partition's task shares one copy of the
  broadcast side, a side up to ``dataframe.merge.broadcast-local-bytes``
  that is at least ``BROADCAST_RATIO`` times smaller than the other is
  broadcast too: shuffling the big side costs more than joining each of
  its partitions with the whole small one. Only the
  side whose unmatched rows are dropped can be broadcast (the right one for
  ``left``, ``leftsemi`` and ``leftanti``, the left one for ``right``,
  either for ``inner``, neither for ``outer``);
- ``HashJoin``: both sides hash-shuffled on their keys (``shuffle.py``) into
  ``npartitions`` (default: the larger side's count), then joined partition
  by partition; a side already partitioned that way is not shuffled again.

``how`` is any of pandas' ``inner``, ``left``, ``right``, ``outer``, plus
``leftsemi`` (the left rows that have a match, left columns only, each
once) and ``leftanti`` (the left rows without a match). ``on=`` may name
both sides' index (by its name) among the columns, as in pandas: the index
stays the result's index (divisions unknown when columns join too). Keys with missing
values match each other, as in pandas. Key dtypes are checked before any
task runs: pandas' own merge of fake rows either coerces them (int with
float, string with categorical) or raises its error, which names both
dtypes. Columns of the side whose rows may be unmatched are declared as
pandas gives them when some are (integers as float64, booleans as
object), and every partition is cast to that meta.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shoal.core import config
from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.services import default_backend_offers
from shoal.core.task import Ref, Task
from shoal.core.utils import parse_bytes
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import Filter, FrameExpr, Projection, align, partition_input
from shoal.dataframe.join_broadcast import (
    KeyIndex,
    indexable,
    join_unique,
    key_index,
    left_join_unique,
    matchable,
    rows_in_range,
)
from shoal.dataframe.join_filters import push_filter_through_join
from shoal.dataframe.join_ranges import plan_range_join
from shoal.dataframe.join_skew import salted_sides
from shoal.dataframe.meta import (
    MetaInferenceError,
    has_known_categories,
    meta_nonempty,
    restated,
)
from shoal.dataframe.shuffle import check_shuffle_method, output_partitioning, shuffle_expr
from shoal.dataframe.sizes import estimate_bytes

__all__ = [
    "merge",
    "join",
    "Merge",
    "JoinPartitions",
    "choose_algorithm",
    "merge_partitions",
    "HOWS",
]

HOWS = ("inner", "left", "right", "outer", "leftsemi", "leftanti")
_BROADCASTABLE = {
    "inner": ("right", "left"),
    "left": ("right",),
    "leftsemi": ("right",),
    "leftanti": ("right",),
    "right": ("left",),
    "outer": (),
}

BROADCAST_RATIO = 8  # how much smaller than the other side a local broadcast side must be

config.update_defaults(
    {
        "dataframe": {
            "merge": {
                "broadcast-bytes": "64MiB",
                "broadcast-local-bytes": "1GiB",
                "range-join": True,
            }
        }
    },
    {
        "dataframe.merge.range-join": "Join sides whose key ranges per partition are known "
        "and in order partition by partition (RangeJoin); False shuffles them instead.",
        "dataframe.merge.broadcast-bytes": "A join side estimated smaller than this is sent "
        "whole to every partition of the other side instead of shuffling both.",
        "dataframe.merge.broadcast-local-bytes": "On the local schedulers (one shared copy), "
        "a join side up to this size and 8 times smaller than the other side is broadcast too.",
    },
)


# ------------------------------------------------------------- kernels


def _key_frame(df: pd.DataFrame, keys: tuple | None) -> pd.DataFrame:
    if keys is None:
        index = df.index
        return pd.DataFrame({j: index.get_level_values(j) for j in range(index.nlevels)})
    return pd.DataFrame({j: df[c].to_numpy() for j, c in enumerate(keys)})


def _matched(left: pd.DataFrame, right: pd.DataFrame, left_keys, right_keys):
    """Whether each left row's key occurs in ``right`` (missing keys match)."""
    lk = _key_frame(left, left_keys)
    rk = _key_frame(right, right_keys).drop_duplicates()
    found = lk.merge(rk, how="left", indicator="__shoal_found__")["__shoal_found__"]
    return (found == "both").to_numpy()


def _conform(out: Any, meta: pd.DataFrame) -> Any:
    """``out`` with the columns' dtypes of ``meta`` (where pandas chose
    others for this partition's values)."""
    casts = {}
    for c, want in meta.dtypes.items():
        got = out[c].dtype
        if got != want and not (
            isinstance(want, pd.CategoricalDtype) and isinstance(got, pd.CategoricalDtype)
        ):
            casts[c] = want
    return out.astype(casts) if casts else out


def merge_partitions(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    how: str,
    kwargs: dict,
    left_keys: Any,
    right_keys: Any,
    meta: pd.DataFrame,
    broadcast: str | None = None,
    index: KeyIndex | None = None,
    lookup: bool = False,
    index_keys: tuple | None = None,
) -> pd.DataFrame:
    """One output partition: pandas' merge of two partitions, or the rows of
    ``left`` with (``leftsemi``) or without (``leftanti``) a match in
    ``right``; cast to ``meta``. ``broadcast`` names the side that is a whole
    broadcast frame, ``index`` its unique keys when it has them (or
    ``index_keys`` the columns to index here, when unique); ``lookup`` tries a
    left join by the left keys (``join_broadcast.py``).

    >>> l = pd.DataFrame({"k": [1, 2, 2], "a": [1, 2, 3]})
    >>> r = pd.DataFrame({"k": [2, 3], "b": [5, 6]})
    >>> merge_partitions(l, r, how="leftsemi", kwargs={}, left_keys=("k",),
    ...                  right_keys=("k",), meta=l.iloc[:0]).a.tolist()
    [2, 3]
    """
    if index_keys is not None:  # a range join's block: the other side's rows that may meet
        if broadcast == "right":
            right = rows_in_range(right, index_keys[0], left, left_keys[0])
        else:
            left = rows_in_range(left, index_keys[0], right, right_keys[0])
        index = key_index(right if broadcast == "right" else left, index_keys)
    if index is not None:
        drop = right_keys if "on" in kwargs else ()
        if broadcast == "right":
            out = join_unique(left, left_keys, right, index, False, drop)
        else:
            out = join_unique(right, right_keys, left, index, True, drop)
        return _conform(out, meta)
    if lookup:  # a left join whose left keys may be unique
        out = left_join_unique(left, right, (left_keys, right_keys), kwargs)
        if out is not None:
            return _conform(out, meta)
    if broadcast == "right":
        right = matchable(right, right_keys, left, left_keys)
    elif broadcast == "left":
        left = matchable(left, left_keys, right, right_keys)
    if how in ("leftsemi", "leftanti"):
        found = _matched(left, right, left_keys, right_keys)
        return left[found if how == "leftsemi" else ~found]
    return _conform(pd.merge(left, right, how=how, **kwargs), meta)


def merge_meta(lmeta, rmeta, how: str, kwargs: dict) -> pd.DataFrame:
    """The meta of a join: pandas' result on fake rows, with the columns of
    a side whose rows may be unmatched as pandas types them when some are
    (module docstring). Raises pandas' error for incompatible keys.

    >>> l = pd.DataFrame({"k": pd.Series([], dtype="int64"), "a": pd.Series([], dtype="int64")})
    >>> r = pd.DataFrame({"k": pd.Series([], dtype="int64"), "b": pd.Series([], dtype="int64")})
    >>> merge_meta(l, r, "left", {"on": "k"}).dtypes.astype(str).tolist()
    ['int64', 'int64', 'float64']
    """
    if how in ("leftsemi", "leftanti"):
        pd.merge(meta_nonempty(lmeta), meta_nonempty(rmeta), how="inner", **kwargs)
        return lmeta
    nl, nr = meta_nonempty(lmeta), meta_nonempty(rmeta)
    base = pd.merge(nl, nr, how=how, **kwargs).iloc[:0]
    widened = []
    if how in ("left", "outer"):
        widened.append(pd.merge(nl, nr.iloc[:0], how=how, **kwargs))
    if how in ("right", "outer"):
        widened.append(pd.merge(nl.iloc[:0], nr, how=how, **kwargs))
    casts = {}
    for c, dtype in base.dtypes.items():
        for w in widened:
            if w[c].dtype != dtype:
                casts[c] = w[c].dtype
                break
    return base.astype(casts) if casts else base


# ------------------------------------------------------------ the nodes


def _side_columns(
    needed: set | None, side: FrameExpr, other: FrameExpr, keys: Any, suffix: str
) -> set | None:
    """The columns of ``side`` a join needs to give ``needed``: those asked
    for (also under their suffixed name), the keys, and those the other side
    has too (dropping them would change how pandas suffixes the rest)."""
    if needed is None:
        return None
    other_cols = set(other.columns)
    out = {c for c in side.columns if c in needed or f"{c}{suffix}" in needed or c in other_cols}
    return out | set(keys or ())


# the side whose partition i makes output partition i, by algorithm, and the
# joins whose output rows then all come from that side's rows
_DRIVING = {
    "broadcast-right": "left",
    "broadcast-left": "right",
    "ranges-left": "left",
    "ranges-right": "right",
}
_DRIVEN_HOWS = {"left": ("inner", "left", "leftsemi", "leftanti"), "right": ("inner", "right")}


class _JoinBase(FrameExpr):
    left: FrameExpr
    right: FrameExpr
    how: str
    kwargs: dict
    left_keys: Any
    right_keys: Any
    algorithm: str

    @functools.cached_property
    def _meta(self) -> Any:
        return merge_meta(self.left._meta, self.right._meta, self.how, self.kwargs)

    def _suffixes(self) -> tuple:
        return tuple(self.kwargs.get("suffixes", ("_x", "_y")))

    def _needed_columns(self, needed):
        sl, sr = self._suffixes()
        left = _side_columns(needed, self.left, self.right, self.left_keys, sl or "")
        if self.how in ("leftsemi", "leftanti"):
            return [(self.left, left), (self.right, set(self.right_keys or ()))]
        right = _side_columns(needed, self.right, self.left, self.right_keys, sr or "")
        return [(self.left, left), (self.right, right)]

    def rows_source(self, column: str) -> FrameExpr | None:
        """The side whose partition ``i`` gave all rows of this join's
        partition ``i``, with ``column`` of the output its own unchanged
        (a broadcast or range join's driving side); None otherwise."""
        side = _DRIVING.get(self.algorithm)
        if side is None or self.how not in _DRIVEN_HOWS[side]:
            return None
        drive, other = (self.left, self.right) if side == "left" else (self.right, self.left)
        if column not in drive.columns:
            return None
        suffixed = column in other.columns and column not in self.kwargs.get("on", ())
        return None if suffixed and self.how not in ("leftsemi", "leftanti") else drive

    def _explain_args(self) -> str:
        if self.left_keys == self.right_keys:
            on = "index" if self.left_keys is None else list(self.left_keys)
            keys = f"on={on}"
        else:
            lk = "index" if self.left_keys is None else list(self.left_keys)
            rk = "index" if self.right_keys is None else list(self.right_keys)
            keys = f"left_on={lk}, right_on={rk}"
        return f"how={self.how}, {keys}"


class Merge(_JoinBase):
    """A join of two frames. The algorithm (module docstring) is chosen when
    the node is made (``choose_algorithm``), so the partition count never
    changes; lowering builds it.

    >>> from shoal.dataframe.expr import FromPandas
    >>> l = FromPandas.of(pd.DataFrame({"k": [1, 2], "a": [3, 4]}), 2)
    >>> r = FromPandas.of(pd.DataFrame({"k": [2, 1], "b": [5, 6]}), 2)
    >>> m = Merge(l, r, "inner", {"on": ["k"]}, ("k",), ("k",), "hash", 2)
    >>> m.lower()._explain_head()
    'HashJoin'
    """

    algorithm: str
    npartitions_out: int
    method: Any = None
    max_branch: Any = None
    requested_partitions: Any = None
    broadcast_hint: Any = None

    @functools.cached_property
    def divisions(self) -> tuple:
        if self.algorithm == "partitionwise" and self._on_known_divisions():
            return align(self.left, self.right)[0].divisions
        return (None,) * (self.npartitions_out + 1)

    def _on_known_divisions(self) -> bool:
        return (
            self.left_keys is None
            and self.right_keys is None
            and self.left.known_divisions
            and self.right.known_divisions
        )

    def _explain_args(self) -> str:
        return super()._explain_args() + f", algorithm={self.algorithm}"

    def _projected(self, needed: set | None):
        """This join on its sides narrowed to the columns ``needed`` asks
        of them; None when nothing would be dropped."""
        (_, lcols), (_, rcols) = self._needed_columns(needed)
        changes = {}
        for name, side, cols in (("left", self.left, lcols), ("right", self.right, rcols)):
            if cols is not None and isinstance(side._meta, pd.DataFrame):
                kept = [c for c in side.columns if c in cols]
                if len(kept) < len(side.columns):
                    changes[name] = Projection(side, kept)
        return self.replace_operands(**changes) if changes else None

    def _simplify_down(self):
        if self.how in ("leftsemi", "leftanti"):
            return self._projected(set(self.left.columns))
        return None

    def _simplify_up(self, parent, dependents):
        if isinstance(parent, Filter):
            return push_filter_through_join(self, parent, dependents)
        users = dependents.get(self._name, ())
        # users of this node as the pass began: a parent made during the pass
        # is not among them, and then they do not tell whether it is the only one
        if not isinstance(parent, Projection) or [u._name for u in users] != [parent._name]:
            return None
        cols = parent.columns_ if isinstance(parent.columns_, list) else [parent.columns_]
        narrowed = self._projected(set(cols))
        return None if narrowed is None else Projection(narrowed, parent.columns_)

    def _lower(self):
        left, right = self.left, self.right
        args = (self.how, self.kwargs, self.left_keys, self.right_keys)
        if self.algorithm == "partitionwise" and self._on_known_divisions():
            left, right = align(left, right)
        if self.algorithm.startswith("ranges"):
            plan = plan_range_join(left, right, self.how, self.left_keys, self.right_keys)
            if plan is not None and f"ranges-{plan[0]}" == self.algorithm:
                return JoinPartitions(left, right, *args, self.algorithm, plan[1])
            # the ranges are gone (a side was rewritten): the same count, by hash
        elif self.algorithm != "hash":
            return JoinPartitions(left, right, *args, self.algorithm)
        k = self.npartitions_out
        l_ok = output_partitioning(left) == ("hash", self.left_keys, k)
        r_ok = output_partitioning(right) == ("hash", self.right_keys, k)
        salted = None if l_ok and r_ok else salted_sides(self, k)
        if salted is not None:
            left, right, shuffled = salted
            if shuffled:  # hot keys spread: each side moved by its own targets
                return JoinPartitions(left, right, *args, "hash")
        if not l_ok:
            left = shuffle_expr(left, self.left_keys, k, self.method, self.max_branch)
        if not r_ok:
            right = shuffle_expr(right, self.right_keys, k, self.method, self.max_branch)
        return JoinPartitions(left, right, *args, "partitionwise" if l_ok and r_ok else "hash")


def choose_algorithm(
    left: FrameExpr,
    right: FrameExpr,
    how: str,
    left_keys: Any,
    right_keys: Any,
    npartitions: int | None,
    broadcast: bool | None,
) -> tuple[str, int]:
    """``(algorithm, output partitions)`` of a join (module docstring).

    >>> from shoal.dataframe.expr import FromPandas
    >>> big = FromPandas.of(pd.DataFrame({"k": range(10)}), 5)
    >>> small = FromPandas.of(pd.DataFrame({"k": range(3)}), 1)
    >>> choose_algorithm(big, small, "inner", ("k",), ("k",), None, None)
    ('broadcast-right', 5)
    >>> choose_algorithm(big, big, "inner", ("k",), ("k",), None, False)
    ('hash', 5)
    """
    if left_keys is None and right_keys is None and left.known_divisions and right.known_divisions:
        return "partitionwise", len(align(left, right)[0].divisions) - 1
    if left.npartitions == 1 and right.npartitions == 1:
        return "partitionwise", 1
    lp, rp = output_partitioning(left), output_partitioning(right)
    l_k = lp[2] if lp is not None and lp[:2] == ("hash", left_keys) else None
    r_k = rp[2] if rp is not None and rp[:2] == ("hash", right_keys) else None
    if l_k is not None and l_k == r_k and npartitions in (None, l_k) and broadcast is not True:
        return "partitionwise", l_k
    if broadcast is not True and config.get("dataframe.merge.range-join"):
        ranges = plan_range_join(left, right, how, left_keys, right_keys)
        if ranges is not None:
            drive = left if ranges[0] == "left" else right
            if npartitions in (None, drive.npartitions):
                return f"ranges-{ranges[0]}", drive.npartitions
    side = _broadcast_side(left, right, how, broadcast)
    if side == "left":
        return "broadcast-left", right.npartitions
    if side == "right":
        return "broadcast-right", left.npartitions
    if npartitions is not None:
        k = npartitions
    else:
        k = l_k or r_k or max(left.npartitions, right.npartitions)
    return "hash", k


def _broadcast_side(left, right, how: str, broadcast: bool | None) -> str | None:
    allowed = _BROADCASTABLE[how]
    if broadcast is False or not allowed:
        return None
    sides = {"left": left, "right": right}
    other = {"left": right, "right": left}
    sizes = {s: estimate_bytes(sides[s]) for s in allowed}
    if broadcast is True:
        return min(allowed, key=lambda s: (sizes[s] is None, sizes[s] or 0, sides[s].npartitions))
    limit = parse_bytes(config.get("dataframe.merge.broadcast-bytes"))
    best = None
    for s in allowed:
        small, big, size = sides[s], other[s], sizes[s]
        if big.npartitions == 1:
            continue
        if size is None or size > limit:
            # a single partition too big to send is still sent when the other side is larger
            big_size = estimate_bytes(big)
            single = small.npartitions == 1 and not (
                big_size is not None and size is not None and big_size < size
            )
            if not (single or _shared_broadcast_pays(size, big_size)):
                continue
        if best is None or (size or 0) < (sizes[best] or 0):
            best = s
    return best


def _shared_broadcast_pays(size: int | None, big_size: int | None) -> bool:
    """Whether a side of ``size`` bytes joined with one of ``big_size`` is
    better broadcast on the local schedulers (module docstring); never on a
    cluster, where each worker gets its own copy."""
    if size is None or big_size is None or size * BROADCAST_RATIO > big_size:
        return False
    if size > parse_bytes(config.get("dataframe.merge.broadcast-local-bytes")):
        return False
    return not default_backend_offers("exchange")


def broadcast_whole(parts: list, meta: Any) -> Any:
    """The broadcast side in one piece."""
    return concat_frames(parts) if parts else meta


def _no_rows(part: Any) -> Any:
    """``part`` without its rows (its dtypes, categories included)."""
    return part.iloc[:0]


class JoinPartitions(_JoinBase):
    """The physical join: output partition ``i`` joins partition ``i`` of
    both sides (``hash``/``partitionwise``), or of one side with the whole
    other side (``broadcast-left``/``broadcast-right``: that side is
    concatenated once and shared).

    >>> from shoal.core.local import get_sync
    >>> from shoal.dataframe.expr import FromPandas
    >>> l = FromPandas.of(pd.DataFrame({"k": [1, 2], "a": [3, 4]}), 2)
    >>> r = FromPandas.of(pd.DataFrame({"k": [2, 1], "b": [5, 6]}), 1)
    >>> j = JoinPartitions(l, r, "inner", {"on": ["k"]}, ("k",), ("k",), "broadcast-right")
    >>> pd.concat(get_sync(j.__shoal_graph__(), [(j._name, 0), (j._name, 1)])).b.tolist()
    [6, 5]
    """

    algorithm: str
    overlaps: Any = None  # a range join's: the other side's partitions per output

    fusable: ClassVar[bool] = True
    _HEADS: ClassVar[dict] = {
        "hash": "HashJoin",
        "partitionwise": "PartitionwiseJoin",
        "broadcast-left": "BroadcastJoin",
        "broadcast-right": "BroadcastJoin",
        "ranges-left": "RangeJoin",
        "ranges-right": "RangeJoin",
    }

    @property
    def _prefix(self) -> str:
        return "merge"

    def _explain_head(self) -> str:
        return self._HEADS[self.algorithm]

    def _explain_args(self) -> str:
        text = super()._explain_args()
        if self.algorithm.startswith("broadcast"):
            text += f", broadcast={self.algorithm.split('-')[1]}"
        elif self.algorithm.startswith("ranges"):
            text += f", driving={self.algorithm.split('-')[1]}"
        return text

    @property
    def _broadcast(self) -> FrameExpr | None:
        if self.algorithm == "broadcast-left":
            return self.left
        if self.algorithm == "broadcast-right":
            return self.right
        return None

    @property
    def _range_other(self) -> FrameExpr | None:
        """A range join's side whose partitions meet several outputs."""
        if self.algorithm == "ranges-left":
            return self.right
        if self.algorithm == "ranges-right":
            return self.left
        return None

    @functools.cached_property
    def divisions(self) -> tuple:
        big = self.right if self.algorithm in ("broadcast-left", "ranges-right") else self.left
        if self.left_keys is None and self.right_keys is None:
            if self.algorithm == "partitionwise" and self.left.known_divisions:
                return self.left.divisions
        return (None,) * (big.npartitions + 1)

    def _output_partitioning(self) -> tuple | None:
        if self.algorithm != "hash" and self.algorithm != "partitionwise":
            return None
        found = output_partitioning(self.left)
        if found is None or found[1] != self.left_keys:
            return None
        if self.left_keys is None:
            return found if self.right_keys is None else None
        same_names = self.left_keys == self.right_keys
        renamed = set(self.left_keys) & (set(self.right.columns) - set(self.right_keys or ()))
        if renamed or not (same_names or self.how in ("inner", "left", "leftsemi", "leftanti")):
            return None
        return found

    def _one_to_one(self, child: BlockExpr) -> bool:
        return child is not self._broadcast and child is not self._range_other

    def _extra_layer(self, b: GraphBuilder) -> dict:
        small = self._broadcast
        if small is None:
            return {}
        parts = [b.ref(small, (i,)) for i in range(small.npartitions)]
        whole = (self.stage_name("broadcast"), 0)
        layer = {whole: Task(broadcast_whole, parts, small._meta)}
        if self._indexed:
            keys = self.left_keys if self.algorithm == "broadcast-left" else self.right_keys
            layer[(self.stage_name("broadcast-index"), 0)] = Task(key_index, Ref(whole), keys)
        return layer

    @functools.cached_property
    def _indexed(self) -> bool:
        """Whether the broadcast side's unique keys are looked up (``join_unique``)."""
        keys = (self.left_keys, self.right_keys)
        return (
            self._broadcast is not None
            and self.how == "inner"
            and indexable(
                self.how, self.kwargs, self.left._meta, self.right._meta, keys, self._meta
            )
        )

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        i = index[0]
        other = self._range_other
        if other is not None:
            return self._range_block(i, other, b)
        whole = Ref((self.stage_name("broadcast"), 0))
        small = self._broadcast
        side = None if small is None else self.algorithm.split("-")[1]  # a self-join's too
        left = whole if side == "left" else partition_input(self, self.left, i, b)
        right = whole if side == "right" else partition_input(self, self.right, i, b)
        shared = Ref((self.stage_name("broadcast-index"), 0)) if self._indexed else None
        return self._merge_task(left, right, broadcast=side, index=shared)

    def _merge_task(self, left: Any, right: Any, **extra: Any) -> Task:
        """The task joining ``left`` and ``right`` into one output partition."""
        return Task(
            merge_partitions,
            left,
            right,
            how=self.how,
            kwargs=self.kwargs,
            left_keys=self.left_keys,
            right_keys=self.right_keys,
            meta=self._meta,
            lookup=self._lookup,
            **extra,
        )

    def _range_block(self, i: int, other: FrameExpr, b: GraphBuilder) -> Task:
        """Partition ``i`` of the driving side with the other side's
        partitions whose ranges overlap it (``join_ranges.py``)."""
        # by the algorithm, not by identity: a self-join has one frame on both sides
        other_name = "right" if self.algorithm == "ranges-left" else "left"
        drive = self.left if other_name == "right" else self.right
        pieces = [b.input(self, other, (j,)) for j in self.overlaps[i]]
        if not pieces and not all(map(has_known_categories, other._meta.dtypes)):
            # no rows to meet, but the meta's placeholder is no category: a real one's
            pieces = [Task(_no_rows, b.input(self, other, (0,)))]
        parts = Task(broadcast_whole, pieces, other._meta)
        mine = partition_input(self, drive, i, b)
        left, right = (mine, parts) if other_name == "right" else (parts, mine)
        keys = self.right_keys if other_name == "right" else self.left_keys
        index_keys = keys if self._indexed_ranges else None
        return self._merge_task(left, right, broadcast=other_name, index_keys=index_keys)

    @functools.cached_property
    def _indexed_ranges(self) -> bool:
        """Whether a range join looks its keys up in the other side's unique keys."""
        keys = (self.left_keys, self.right_keys)
        return self.how == "inner" and indexable(
            self.how, self.kwargs, self.left._meta, self.right._meta, keys, self._meta
        )

    @functools.cached_property
    def _lookup(self) -> bool:
        """Whether a left join tries ``left_join_unique`` per partition."""
        keys = (self.left_keys, self.right_keys)
        return (
            self.how == "left"
            and self._broadcast is None
            and indexable(
                self.how, self.kwargs, self.left._meta, self.right._meta, keys, self._meta
            )
        )


# ------------------------------------------------------------------ API


def _as_frame(obj: Any, what: str):
    from shoal.dataframe.collection import FrameBase
    from shoal.dataframe.io import from_pandas
    from shoal.dataframe.series import Series

    if isinstance(obj, (pd.DataFrame, pd.Series)):
        obj = from_pandas(obj, npartitions=1)
    if isinstance(obj, Series):
        if obj.name is None:
            raise ValueError(f"merge: the {what} Series must have a name")
        obj = obj.to_frame()
    if not isinstance(obj, FrameBase) or not isinstance(obj._meta, pd.DataFrame):
        raise TypeError(
            f"merge: {what} must be a shoal or pandas DataFrame or named Series, "
            f"got {type(obj).__name__}"
        )
    return obj


def _as_keys(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _resolve_keys(left, right, on, left_on, right_on, left_index, right_index) -> tuple:
    """``(left_keys, right_keys, pandas keyword arguments)``; keys are tuples
    of column names or None for the index."""
    if on is not None and (left_on is not None or right_on is not None):
        raise ValueError("merge: pass on= or left_on=/right_on=, not both")
    if on is not None and (left_index or right_index):
        raise ValueError("merge: pass on= or left_index=/right_index=, not both")
    if left_on is not None and left_index:
        raise ValueError("merge: pass left_on= or left_index=True, not both")
    if right_on is not None and right_index:
        raise ValueError("merge: pass right_on= or right_index=True, not both")
    if on is None and left_on is None and right_on is None and not left_index and not right_index:
        common = [c for c in left.columns if c in set(right.columns)]
        if not common:
            raise ValueError(
                "merge: no common columns to join on; pass on=, left_on=/right_on= or "
                f"left_index=/right_index= (left columns {left.columns}, right columns "
                f"{right.columns})"
            )
        on = common
    if on is not None:
        keys = _as_keys(on)
        left._check_columns(list(keys), "merge (left)")
        right._check_columns(list(keys), "merge (right)")
        return keys, keys, {"on": list(keys)}
    lk = None if left_index else _as_keys(left_on) if left_on is not None else None
    rk = None if right_index else _as_keys(right_on) if right_on is not None else None
    if (lk is None and not left_index) or (rk is None and not right_index):
        raise ValueError(
            "merge: give keys for both sides: left_on= or left_index=True, and right_on= "
            "or right_index=True"
        )
    if lk is not None:
        left._check_columns(list(lk), "merge (left_on)")
    if rk is not None:
        right._check_columns(list(rk), "merge (right_on)")
    lcount = left._meta.index.nlevels if lk is None else len(lk)
    rcount = right._meta.index.nlevels if rk is None else len(rk)
    if lcount != rcount:
        raise ValueError(f"merge: {lcount} left keys but {rcount} right keys; they must pair up")
    kwargs: dict = {}
    kwargs.update({"left_index": True} if lk is None else {"left_on": list(lk)})
    kwargs.update({"right_index": True} if rk is None else {"right_on": list(rk)})
    return lk, rk, kwargs


def _shared_index_key(left, right, on: Any) -> Any:
    """The name of both sides' one-level index when ``on`` names it and
    neither side has a column of that name, else None."""
    if on is None:
        return None
    name = left._meta.index.name
    if (
        name is None
        or name not in _as_keys(on)
        or right._meta.index.name != name
        or left._meta.index.nlevels != 1
        or right._meta.index.nlevels != 1
        or name in left.columns
        or name in right.columns
    ):
        return None
    return name


def _index_from_column(part: pd.DataFrame, column: Any) -> pd.DataFrame:
    return part.set_index(column)


def _check_options(how, npartitions, shuffle_method, broadcast) -> None:
    if how not in HOWS:
        raise ValueError(f"merge: how must be one of {list(HOWS)}, got {how!r}")
    if npartitions is not None and (
        isinstance(npartitions, bool) or not isinstance(npartitions, int) or npartitions < 1
    ):
        raise ValueError(f"merge: npartitions must be a positive integer, got {npartitions!r}")
    check_shuffle_method(shuffle_method)
    if broadcast not in (None, True, False) and not _is_bias(broadcast):
        raise ValueError(
            "merge: broadcast must be True, False, None or a float in [0, 1] "
            f"(automatic choice), got {broadcast!r}"
        )
    if broadcast is True and not _BROADCASTABLE[how]:
        raise ValueError(
            f"merge: how={how!r} cannot broadcast either side (unmatched rows of the "
            "broadcast side would repeat in every partition)"
        )


def _is_bias(value: Any) -> bool:
    """Whether ``value`` is a Dask-style broadcast bias: a float in [0, 1]."""
    return isinstance(value, float) and 0.0 <= value <= 1.0


def _broadcast_choice(broadcast: Any) -> bool | None:
    """``broadcast`` as the algorithms take it: a bias means automatic."""
    return None if _is_bias(broadcast) else broadcast


def _check_key_labels(**keys: Any) -> None:
    """Reject keys given as Series or arrays (Dask does too), before any task runs."""
    from shoal.dataframe.collection import FrameBase

    arrays = (FrameBase, pd.Series, pd.Index, np.ndarray)
    for what, value in keys.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, arrays):
                raise NotImplementedError(
                    f"merge: {what}= takes column labels; a {type(item).__name__} as a join "
                    "key is not supported (assign it as a column first)"
                )


def _build(left, right, how, kwargs, lk, rk, npartitions, shuffle_method, broadcast, max_branch):
    from shoal.dataframe.collection import new_collection

    broadcast = _broadcast_choice(broadcast)

    try:
        algorithm, k = choose_algorithm(left.expr, right.expr, how, lk, rk, npartitions, broadcast)
        expr = Merge(
            left.expr,
            right.expr,
            how,
            kwargs,
            lk,
            rk,
            algorithm,
            k,
            check_shuffle_method(shuffle_method),
            max_branch,
            npartitions,
            broadcast,
        )
    except MetaInferenceError as e:
        raise ValueError(f"merge: {e.__cause__ or e}") from e
    except (ValueError, TypeError, KeyError) as e:
        raise restated(e, "merge") from e
    return new_collection(expr)


def merge(
    left: Any,
    right: Any,
    how: str = "inner",
    on: Any = None,
    left_on: Any = None,
    right_on: Any = None,
    left_index: bool = False,
    right_index: bool = False,
    suffixes: tuple = ("_x", "_y"),
    indicator: bool = False,
    npartitions: int | None = None,
    shuffle_method: str | None = None,
    broadcast: bool | float | None = None,
    max_branch: int | None = None,
):
    """Join two frames as ``pandas.merge`` (module docstring for the
    algorithms and ``how``). Rows come in no particular order; joins on
    columns give each partition its own 0-based index. ``broadcast``: True
    or False forces or forbids a broadcast join, None chooses; a float in
    [0, 1] (Dask's broadcast bias) also means "choose". Keys are column
    labels: a Series as a key raises NotImplementedError, as in Dask.

    >>> import shoal.dataframe as sd
    >>> a = sd.from_pandas(pd.DataFrame({"k": [1, 2, 3], "x": [4, 5, 6]}), npartitions=2)
    >>> b = pd.DataFrame({"k": [3, 1], "y": ["c", "a"]})
    >>> sd.merge(a, b, on="k").compute().sort_values("k").y.tolist()
    ['a', 'c']
    """
    _check_options(how, npartitions, shuffle_method, broadcast)
    _check_key_labels(on=on, left_on=left_on, right_on=right_on)
    left, right = _as_frame(left, "left"), _as_frame(right, "right")
    level = _shared_index_key(left, right, on)
    if level is not None:
        # pandas joins on an index level named in on=; it stays the index
        opts: dict[str, Any] = dict(
            how=how,
            suffixes=suffixes,
            indicator=indicator,
            npartitions=npartitions,
            shuffle_method=shuffle_method,
            broadcast=broadcast,
            max_branch=max_branch,
        )
        if _as_keys(on) == (level,):
            return merge(left, right, left_index=True, right_index=True, **opts)
        out = merge(left.reset_index(), right.reset_index(), on=list(_as_keys(on)), **opts)
        return out.map_partitions(_index_from_column, level)
    lk, rk, kwargs = _resolve_keys(left, right, on, left_on, right_on, left_index, right_index)
    if how not in ("leftsemi", "leftanti"):
        kwargs.update({"suffixes": tuple(suffixes), "indicator": indicator})
    elif indicator:
        raise ValueError(f"merge: indicator=True does not apply to how={how!r}")
    return _build(
        left, right, how, kwargs, lk, rk, npartitions, shuffle_method, broadcast, max_branch
    )


def join(
    frame: Any,
    other: Any,
    on: Any = None,
    how: str = "left",
    lsuffix: str = "",
    rsuffix: str = "",
    npartitions: int | None = None,
    shuffle_method: str | None = None,
    broadcast: bool | float | None = None,
):
    """``frame.join(other)`` as pandas: on the indexes, or ``frame``'s
    columns ``on`` with ``other``'s index; ``other`` may be a list of frames
    (joined one after the other).

    >>> import shoal.dataframe as sd
    >>> a = sd.from_pandas(pd.DataFrame({"x": [1, 2]}, index=[10, 20]), npartitions=1)
    >>> b = sd.from_pandas(pd.DataFrame({"y": [3]}, index=[20]), npartitions=1)
    >>> join(a, b).compute().y.tolist()
    [nan, 3.0]
    """
    if isinstance(other, list):
        if on is not None:
            raise ValueError("join: a list of frames joins on the indexes; on= is not supported")
        out = frame
        for o in other:
            out = join(
                out,
                o,
                how=how,
                lsuffix=lsuffix,
                rsuffix=rsuffix,
                npartitions=npartitions,
                shuffle_method=shuffle_method,
                broadcast=broadcast,
            )
        return out
    if how not in ("inner", "left", "right", "outer"):
        raise ValueError(f"join: how must be one of inner, left, right, outer, got {how!r}")
    _check_options(how, npartitions, shuffle_method, broadcast)
    left, right = _as_frame(frame, "left"), _as_frame(other, "right")
    kwargs: dict = {"right_index": True, "suffixes": (lsuffix, rsuffix)}
    lk = None
    if on is None:
        kwargs["left_index"] = True
    else:
        lk = _as_keys(on)
        left._check_columns(list(lk), "join (on)")
        kwargs["left_on"] = list(lk)
    return _build(left, right, how, kwargs, lk, None, npartitions, shuffle_method, broadcast, None)
