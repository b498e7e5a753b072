"""Skewed hash joins: a key holding most rows is spread, not sent whole to
one partition.

A hash join sends every row of a key to one partition, so a key that holds
most rows of a large side would put most of that side in one task. Before
such a join runs, a *census* estimates the key frequencies of the side that
may be split from a sample: its key columns read on their own (a cheap
pass, fused with the reader), ``_SAMPLE`` rows per partition drawn at
random and hashed, counts scaled up to the partition's rows (every row
counted when the partition is no bigger than the sample). The hot keys are
those estimated to hold more than ``dataframe.merge.skew-factor`` times the
rows an output partition gets on average. Each side then gets a target
column, the output partition of each row, and is shuffled by it::

    cold rows (both sides):  hash(keys) % k, as an unsalted hash join
    hot key, split side:     its rows dealt in turn over s partitions
                             (h % k, h % k + 1, ... mod k; h its hash)
    hot key, other side:     each row copied once per partition of the s

then each output partition is joined on the keys (the target column
dropped). Every pair of matching rows still meets exactly once, in one
partition. The copied side must be one whose unmatched rows are dropped
(the right side of ``inner``, ``left``, ``leftsemi``, ``leftanti``; the
left side of ``right``); ``outer`` joins cannot copy either side, so a hot
key there fails with an error naming the key.

With no hot key the join costs what an unsalted one does plus the census:
the split step hashes the keys once, as the plain shuffle does, and carries
a one- or two-byte target per row. The census runs when the side's estimated
size (``sizes.py``) reaches ``dataframe.merge.skew-bytes``: a smaller side
cannot exhaust memory even when all of it lands in one partition. Keys are
compared by the shuffle's normalized hash (``shuffle.hash_values``), so both
sides agree on hot keys whatever their key dtypes; a cold key whose hash
collides with a hot one is spread too, which changes nothing in the result.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from shoal.core import config
from shoal.core.utils import parse_bytes
from shoal.dataframe.expr import FrameExpr, Projection, map_partitions_expr
from shoal.dataframe.join_sides import KEPT_SIDES
from shoal.dataframe.shuffle import Shuffle, hash_values, resolve_method

__all__ = [
    "TARGET",
    "salted_sides",
    "key_census",
    "hot_keys",
    "salt_split",
    "salt_copy",
    "target_column",
    "refuse_hot",
    "SkewedJoinError",
]

TARGET = "__shoal_target__"
_SAMPLE = 1 << 16  # rows of a partition the census hashes and counts
_TOP = 64  # most frequent keys each partition reports
config.update_defaults(
    {"dataframe": {"merge": {"skew-factor": 2.0, "skew-bytes": "256MiB"}}},
    {
        "dataframe.merge.skew-factor": "A join key holding more than this many times the "
        "rows an output partition gets on average is split over several partitions.",
        "dataframe.merge.skew-bytes": "Hash joins whose larger side is estimated at least "
        "this big count their keys first (on a sample), to split keys that hold most rows.",
    },
)


class SkewedJoinError(ValueError):
    """A join key holds too many rows for one partition and cannot be split."""


def key_census(part: pd.DataFrame, keys: tuple, sample: int = _SAMPLE) -> tuple:
    """``(rows, {hash: (count, key value)})`` of one partition: its row count
    and its most frequent key hashes with an example key, counted on
    ``sample`` rows drawn at random (with replacement; the seed is the row
    count, so a partition gives the same census every time) and scaled to
    the partition, or on every row when there are no more than ``sample``.

    >>> rows, top = key_census(pd.DataFrame({"k": [1, 1, 2]}), ("k",))
    >>> rows, sorted(c for c, _ in top.values())
    (3, [1, 2])
    >>> rows, top = key_census(pd.DataFrame({"k": [7] * 900 + list(range(100))}), ("k",), 200)
    >>> 800 < top[max(top, key=lambda h: top[h][0])][0] < 1000
    True
    """
    n = len(part)
    if not n:
        return 0, {}
    columns = [part[c] for c in keys]
    if n > sample:
        rows = np.random.default_rng(n).integers(0, n, sample)
        columns = [c.iloc[rows] for c in columns]
    hashes = hash_values(columns)
    values, first, counts = np.unique(hashes, return_index=True, return_counts=True)
    best = np.argsort(-counts, kind="stable")[:_TOP]
    scale = n / len(hashes)
    top = {}
    for j in best.tolist():
        example = tuple(_plain(c.iloc[int(first[j])]) for c in columns)
        count = int(round(counts[j] * scale))
        top[int(values[j])] = (count, example[0] if len(example) == 1 else example)
    return n, top


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _merge_census(parts: list, **kw: Any) -> tuple:
    rows = 0
    top: dict = {}
    for n, found in parts:
        rows += n
        for h, (count, example) in found.items():
            old = top.get(h)
            top[h] = (count + (old[0] if old else 0), old[1] if old else example)
    best = sorted(top.items(), key=lambda item: -item[1][0])[: _TOP * 4]
    return rows, dict(best)


def hot_keys(parts: list, k: int, factor: float) -> dict:
    """``{hash: (targets, count, key)}`` of the keys holding more than
    ``factor`` times the average rows per partition of ``k`` partitions;
    their rows are spread over the output partitions ``targets``.

    >>> census = [key_census(pd.DataFrame({"k": [7] * 90 + list(range(10))}), ("k",))]
    >>> [(len(t), c, key) for t, c, key in hot_keys(census, 4, 2.0).values()]
    [(4, 91, 7)]
    """
    rows, top = _merge_census(parts)
    average = rows / max(k, 1)
    out = {}
    for h, (count, example) in top.items():
        if count > factor * average and count > 1:
            pieces = min(k, math.ceil(count / max(average, 1)))
            targets = tuple((h + j) % k for j in range(pieces))
            out[h] = (targets, count, example)
    return out


def _target_dtype(k: int) -> np.dtype:
    return np.min_scalar_type(max(k - 1, 0))


def _targets(part: pd.DataFrame, keys: tuple, hot: dict, k: int) -> tuple:
    """``(targets, found)``: each row's unsalted output partition (its key
    hash modulo ``k``), and ``(row positions, targets)`` of each hot key
    present in ``part``."""
    if not len(part):
        return np.zeros(0, dtype=_target_dtype(k)), []
    hashes = hash_values([part[c] for c in keys])
    targets = (hashes % np.uint64(k)).astype(_target_dtype(k))
    if not hot:
        return targets, []
    present = np.isin(hashes, np.fromiter(hot, dtype=np.uint64, count=len(hot)))
    found = []
    for h in np.unique(hashes[present]).tolist():
        found.append((np.flatnonzero(hashes == np.uint64(h)), hot[h][0]))
    return targets, found


def salt_split(part: pd.DataFrame, hot: dict, keys: tuple, k: int) -> pd.DataFrame:
    """``part`` with its rows' output partitions (column ``TARGET``): a
    hot key's rows take its partitions in turn, other rows their key hash
    modulo ``k``.

    >>> hot = hot_keys([key_census(pd.DataFrame({"k": [5] * 9 + [1]}), ("k",))], 2, 1.0)
    >>> sorted(set(salt_split(pd.DataFrame({"k": [5, 5, 1]}), hot, ("k",), 2)[TARGET][:2]))
    [0, 1]
    """
    targets, found = _targets(part, keys, hot, k)
    for rows, spread in found:
        dealt = np.asarray(spread, dtype=targets.dtype)[np.arange(len(rows)) % len(spread)]
        targets[rows] = dealt
    return part.assign(**{TARGET: targets})


def salt_copy(part: pd.DataFrame, hot: dict, keys: tuple, k: int) -> pd.DataFrame:
    """``part`` with its rows' output partitions (column ``TARGET``): a row
    of a hot key appears once per partition of its key, other rows once,
    at their key hash modulo ``k``.

    >>> hot = hot_keys([key_census(pd.DataFrame({"k": [5] * 9 + [1]}), ("k",))], 2, 1.0)
    >>> out = salt_copy(pd.DataFrame({"k": [5, 1]}), hot, ("k",), 2)
    >>> out.k.tolist(), sorted(out[TARGET][:2])
    ([5, 5, 1], [0, 1])
    """
    targets, found = _targets(part, keys, hot, k)
    if not found:  # the common case: nothing to copy
        return part.assign(**{TARGET: targets})
    copies = np.ones(len(part), dtype=np.int64)
    for rows, spread in found:
        copies[rows] = len(spread)
    out = part.iloc[np.repeat(np.arange(len(part)), copies)]
    repeated = np.repeat(targets, copies)
    starts = np.cumsum(copies) - copies  # where each input row's copies begin
    for rows, spread in found:
        positions = starts[rows][:, None] + np.arange(len(spread))
        repeated[positions.ravel()] = np.tile(np.asarray(spread, dtype=targets.dtype), len(rows))
    return out.assign(**{TARGET: repeated})


def target_column(part: pd.DataFrame, i: int, column: str) -> np.ndarray:
    """The shuffle's assignment kernel (``shuffle.py``) reading each row's
    output partition from ``column``.

    >>> target_column(pd.DataFrame({"t": [2, 0]}), 0, "t").tolist()
    [2, 0]
    """
    return part[column].to_numpy().astype(np.intp, copy=False)


def refuse_hot(
    part: pd.DataFrame, hot: dict, side: str, how: str, min_rows: float = 0.0
) -> pd.DataFrame:
    """``part`` unchanged, or ``SkewedJoinError`` naming the hottest key when
    it holds at least ``min_rows`` rows (about ``dataframe.merge.skew-bytes``).

    >>> hot = hot_keys([key_census(pd.DataFrame({"k": [5] * 9 + [1]}), ("k",))], 2, 1.0)
    >>> refuse_hot(pd.DataFrame({"k": [1]}), hot, "left", "outer", min_rows=100).k.tolist()
    [1]
    """
    if hot:
        _, count, key = max(hot.values(), key=lambda v: v[1])
        if count >= min_rows:
            raise SkewedJoinError(
                f"merge: key {key!r} holds about {count} rows of the {side} side (more than "
                "dataframe.merge.skew-factor times the rows per output partition, and about "
                f"dataframe.merge.skew-bytes or more); a how={how!r} join cannot split the "
                f"{side} side (its unmatched rows would repeat) and one partition would hold "
                "them all. Filter or join that key separately, broadcast the other side, or "
                "raise dataframe.merge.skew-bytes."
            )
    return part


def _cheap_keys(side: FrameExpr, keys: tuple) -> FrameExpr | None:
    """The key columns of ``side``, read on their own when ``side`` is a
    chain of per-partition work over a source (else None: counting its keys
    would compute it twice or hold all of it)."""
    from shoal.dataframe.expr import Blockwise, FromPandas
    from shoal.dataframe.optimize import prune_columns

    narrowed = prune_columns(Projection(side, list(keys)))
    for node in narrowed.walk():
        if isinstance(node, FrameExpr) and node.is_scalar:
            return None
        if not isinstance(node, (Blockwise, FromPandas)) and type(node).__name__ not in (
            "ReadParquet",
            "ReadCSV",
            "ReadJSON",
        ):
            return None
    return narrowed  # type: ignore[return-value]


def _shuffled(
    side: FrameExpr, kernel: Any, census: FrameExpr, keys: tuple, merge: Any, k: int
) -> FrameExpr:
    """``side`` with its target column (``kernel``), shuffled by it, the
    column dropped again."""
    meta = side._meta.assign(**{TARGET: np.zeros(0, dtype=_target_dtype(k))})
    label = "salt-split" if kernel is salt_split else "salt-copy"
    targeted = map_partitions_expr(kernel, side, census, keys, k, meta=meta, label=label)
    method = resolve_method(merge.method, side)  # the side's size, not the map's (unknown)
    moved = Shuffle(
        targeted, target_column, {"column": TARGET}, k, (TARGET,), method, merge.max_branch
    )
    return Projection(moved, list(side.columns))


def salted_sides(merge: Any, k: int) -> tuple | None:
    """``(left, right, shuffled)`` for a hash join into ``k`` partitions
    (module docstring): both sides shuffled by their target columns against
    the hot keys of the larger side (``shuffled`` True), or the sides with
    the larger one checked to fail on a hot key too big for one partition
    when it cannot be split (``shuffled`` False: the caller shuffles them);
    None when no census is due.
    """
    from shoal.dataframe.reductions import reduction
    from shoal.dataframe.sizes import estimate

    if merge.left_keys is None or merge.right_keys is None:
        return None
    limit = parse_bytes(config.get("dataframe.merge.skew-bytes"))
    found = {s: estimate(getattr(merge, s)) for s in ("left", "right")}
    big = [s for s, e in found.items() if e is not None and e.bytes >= limit]
    if not big:
        return None
    split = max(big, key=lambda s: found[s].bytes)  # type: ignore[union-attr]
    keys = tuple(merge.left_keys if split == "left" else merge.right_keys)
    counted = _cheap_keys(getattr(merge, split), keys)
    if counted is None:
        return None
    factor = float(config.get("dataframe.merge.skew-factor"))
    census = reduction(
        counted,
        key_census,
        _merge_census,
        hot_keys,
        {},
        "join-key-census",
        chunk_kwargs={"keys": keys},
        kwargs={"k": k, "factor": factor},
    )
    other = "right" if split == "left" else "left"
    # the other side is copied, so its unmatched rows must be dropped
    if split not in KEPT_SIDES[merge.how]:
        e = found[split]
        row_bytes = e.bytes / e.rows if e is not None and e.rows else 0.0
        checked = map_partitions_expr(
            refuse_hot,
            getattr(merge, split),
            census,
            split,
            merge.how,
            min_rows=limit / row_bytes if row_bytes else 0.0,
            label="skew-check",
        )
        sides = {split: checked, other: getattr(merge, other)}
        return sides["left"], sides["right"], False
    okeys = tuple(merge.right_keys if split == "left" else merge.left_keys)
    sides = {
        split: _shuffled(getattr(merge, split), salt_split, census, keys, merge, k),
        other: _shuffled(getattr(merge, other), salt_copy, census, okeys, merge, k),
    }
    return sides["left"], sides["right"], True
