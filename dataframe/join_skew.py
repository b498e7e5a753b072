"""Skewed hash joins: a key holding most rows is split, not sent whole to
one partition.

A hash join sends every row of a key to one partition, so a key that holds
most rows of a large side would put most of that side in one task. Before
such a join runs, a *census* counts the key hashes of the side that may be
split (its key columns read on their own: a cheap pass, fused with the
reader), and finds the hot keys: those holding more than
``dataframe.merge.skew-factor`` times the rows an output partition gets on
average. The join is then *salted*::

    split side:      a hot row gets salt 1 + (its position % s)  (s pieces)
    other side:      a hot row is copied s times, salts 1 .. s
    cold rows:       salt 0 on both sides
    hash join on (keys, salt), then the salt column is dropped

so a hot key's rows of the split side spread over ``s`` partitions and its
few rows of the other side go to each of them. Every pair of matching rows
still meets exactly once. The copied side must be one whose unmatched rows
are dropped (the right side of ``inner``, ``left``, ``leftsemi``,
``leftanti``; the left side of ``right``); ``outer`` joins cannot copy
either side, so a hot key there fails with an error naming the key.

The census runs when the side's estimated size (``sizes.py``) reaches
``dataframe.merge.skew-bytes``: a smaller side cannot exhaust memory even
when all of it lands in one partition. Keys are compared by the shuffle's
normalized hash (``shuffle.hash_values``), so both sides agree on hot keys
whatever their key dtypes; a cold key whose hash collides with a hot one is
salted too, which changes nothing in the result.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from shoal.core import config
from shoal.core.utils import parse_bytes
from shoal.dataframe.expr import FrameExpr, Projection, map_partitions_expr
from shoal.dataframe.shuffle import hash_values

__all__ = ["SALT", "salted_sides", "key_census", "hot_keys", "salt_split", "salt_copy"]

SALT = "__shoal_salt__"
_TOP = 64  # most frequent keys each partition reports
# the sides whose hot keys may be split: the other side is copied, so its
# unmatched rows must be dropped
_SPLITTABLE = {
    "inner": ("left", "right"),
    "left": ("left",),
    "leftsemi": ("left",),
    "leftanti": ("left",),
    "right": ("right",),
    "outer": (),
}

config.update_defaults(
    {"dataframe": {"merge": {"skew-factor": 2.0, "skew-bytes": "256MiB"}}},
    {
        "dataframe.merge.skew-factor": "A join key holding more than this many times the "
        "rows an output partition gets on average is split over several partitions.",
        "dataframe.merge.skew-bytes": "Hash joins whose larger side is estimated at least "
        "this big count their keys first, to split keys that hold most rows.",
    },
)


class SkewedJoinError(ValueError):
    """A join key holds too many rows for one partition and cannot be split."""


def key_census(part: pd.DataFrame, keys: tuple) -> tuple:
    """``(rows, {hash: (count, key value)})`` of one partition: its row count
    and its most frequent key hashes with an example key.

    >>> rows, top = key_census(pd.DataFrame({"k": [1, 1, 2]}), ("k",))
    >>> rows, sorted(c for c, _ in top.values())
    (3, [1, 2])
    """
    if not len(part):
        return 0, {}
    hashes = hash_values([part[c] for c in keys])
    values, first, counts = np.unique(hashes, return_index=True, return_counts=True)
    best = np.argsort(-counts, kind="stable")[:_TOP]
    top = {}
    for j in best:
        row = part.iloc[int(first[j])]
        example = tuple(_plain(row[c]) for c in keys)
        top[int(values[j])] = (int(counts[j]), example[0] if len(example) == 1 else example)
    return len(part), top


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


def _spread_salts(example: Any, nkeys: int, pieces: int, k: int) -> tuple:
    """Salts ``1, 2, ...`` chosen so that ``(key, salt)`` hashes into
    ``pieces`` different partitions of ``k`` (the shuffle hashes keys and
    salt together)."""
    values = example if nkeys > 1 else (example,)
    candidates = np.arange(1, 8 * k + 1, dtype=np.int64)
    columns = [pd.Series([v] * len(candidates)) for v in values]
    targets = hash_values([*columns, pd.Series(candidates)]) % np.uint64(k)
    chosen: dict = {}
    for salt, target in zip(candidates.tolist(), targets.tolist()):
        chosen.setdefault(target, salt)
        if len(chosen) == pieces:
            break
    return tuple(chosen.values())


def hot_keys(parts: list, k: int, factor: float, nkeys: int = 1) -> dict:
    """``{hash: (salts, count, key)}`` of the keys holding more than
    ``factor`` times the average rows per partition of ``k`` partitions;
    their rows are spread over one partition per salt.

    >>> census = [key_census(pd.DataFrame({"k": [7] * 90 + list(range(10))}), ("k",))]
    >>> [(len(s), c, key) for s, c, key in hot_keys(census, 4, 2.0).values()]
    [(4, 91, 7)]
    """
    rows, top = _merge_census(parts)
    average = rows / max(k, 1)
    out = {}
    for h, (count, example) in top.items():
        if count > factor * average and count > 1:
            pieces = min(k, math.ceil(count / max(average, 1)))
            out[h] = (_spread_salts(example, nkeys, pieces, k), count, example)
    return out


def _hot_rows(part: pd.DataFrame, keys: tuple, hot: dict) -> list:
    """``(row positions, salts)`` of each hot key present in ``part``."""
    if not hot or not len(part):
        return []
    hashes = hash_values([part[c] for c in keys])
    present = np.isin(hashes, np.fromiter(hot, dtype=np.uint64, count=len(hot)))
    out = []
    for h in np.unique(hashes[present]).tolist():
        out.append((np.flatnonzero(hashes == np.uint64(h)), hot[h][0]))
    return out


def salt_split(part: pd.DataFrame, hot: dict, keys: tuple) -> pd.DataFrame:
    """``part`` with a salt column: 0 for cold keys; a hot key's rows take
    its salts in turn.

    >>> hot = hot_keys([key_census(pd.DataFrame({"k": [5] * 9 + [1]}), ("k",))], 2, 1.0)
    >>> sorted(set(salt_split(pd.DataFrame({"k": [5, 5, 1]}), hot, ("k",))[SALT])) != [0]
    True
    """
    salt = np.zeros(len(part), dtype=np.int64)
    for rows, salts in _hot_rows(part, keys, hot):
        salt[rows] = np.asarray(salts, dtype=np.int64)[np.arange(len(rows)) % len(salts)]
    return part.assign(**{SALT: salt})


def salt_copy(part: pd.DataFrame, hot: dict, keys: tuple) -> pd.DataFrame:
    """``part`` with a salt column: 0 for cold keys; a row of a hot key
    appears once per salt of its key.

    >>> hot = hot_keys([key_census(pd.DataFrame({"k": [5] * 9 + [1]}), ("k",))], 2, 1.0)
    >>> len(salt_copy(pd.DataFrame({"k": [5, 1]}), hot, ("k",)))
    3
    """
    found = _hot_rows(part, keys, hot)
    if not found:  # the common case: nothing to copy
        return part.assign(**{SALT: np.zeros(len(part), dtype=np.int64)})
    copies = np.ones(len(part), dtype=np.int64)
    for rows, salts in found:
        copies[rows] = len(salts)
    out = part.iloc[np.repeat(np.arange(len(part)), copies)]
    salt = np.zeros(len(out), dtype=np.int64)
    starts = np.cumsum(copies) - copies  # where each input row's copies begin
    for rows, salts in found:
        positions = starts[rows][:, None] + np.arange(len(salts))
        salt[positions.ravel()] = np.tile(np.asarray(salts, dtype=np.int64), len(rows))
    return out.assign(**{SALT: salt})


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
                f"merge: key {key!r} holds {count} rows of the {side} side (more than "
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


def salted_sides(merge: Any, k: int) -> tuple | None:
    """``(left, right, left_keys, right_keys)`` for a hash join (module
    docstring): salted against the hot keys of its larger side, or with
    that side checked to fail on a hot key too big for one partition when
    it cannot be split; None when no census is due."""
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
    keys = merge.left_keys if split == "left" else merge.right_keys
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
        chunk_kwargs={"keys": tuple(keys)},
        kwargs={"k": k, "factor": factor, "nkeys": len(keys)},
    )
    other = "right" if split == "left" else "left"
    if split not in _SPLITTABLE[merge.how]:
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
        return sides["left"], sides["right"], merge.left_keys, merge.right_keys
    okeys = merge.right_keys if split == "left" else merge.left_keys
    spread = map_partitions_expr(
        salt_split, getattr(merge, split), census, tuple(keys), label="salt-split"
    )
    copied = map_partitions_expr(
        salt_copy, getattr(merge, other), census, tuple(okeys), label="salt-copy"
    )
    sides = {split: spread, other: copied}
    return (
        sides["left"],
        sides["right"],
        (*merge.left_keys, SALT),
        (*merge.right_keys, SALT),
    )
