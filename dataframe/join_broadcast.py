"""Kernels of a broadcast join (``merge.py``): the whole small side meets
every partition of the other, so work on it is done once, not per partition.

- ``key_index``: when the broadcast side of an inner join has integer key
  columns whose values are unique (a dimension table's primary key, a
  groupby's result), a ``KeyIndex`` of them (several keys packed into one
  int64), built once with its hash table; each partition then looks up its
  keys in it (``join_unique``) instead of pandas hashing the whole side
  again in every partition's merge.
- ``left_join_unique``: a left join (of any algorithm) whose left partition
  has unique keys looks the right rows' keys up in them, as pandas does
  only when the right keys are the unique ones.
- ``matchable``: otherwise the broadcast side is first narrowed to the rows
  whose keys occur in the partition, when it is much bigger than the
  partition, so pandas' merge hashes far fewer rows.

Both keep the result of ``pandas.merge`` (rows in another order: joins
promise none).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shoal.dataframe.group_codes import offsets as offsets_from

__all__ = [
    "KeyIndex",
    "indexable",
    "key_index",
    "rows_in_range",
    "join_unique",
    "left_join_unique",
    "matchable",
]


def indexable(
    how: str, kwargs: dict, left: pd.DataFrame, right: pd.DataFrame, keys: tuple, meta: Any
) -> bool:
    """Whether an inner (or left) join of frames like ``left`` and ``right``
    (metas) on integer key columns of the same dtypes on both sides can run
    as ``join_unique`` (or ``left_join_unique``): no suffixed columns, no
    indicator, and the output columns the left ones then the right ones (the
    left key columns only, for ``on=``).

    >>> l, r = pd.DataFrame({"k": [1]}), pd.DataFrame({"k": [1], "b": [2]})
    >>> indexable("inner", {"on": ["k"]}, l, r, (("k",), ("k",)), l.merge(r, on="k"))
    True
    """
    lk, rk = keys
    if how not in ("inner", "left") or kwargs.get("indicator") or lk is None or rk is None:
        return False
    if len(lk) != len(rk) or any(left[a].dtype != right[b].dtype for a, b in zip(lk, rk)):
        return False
    if any(not isinstance(left[a].dtype, np.dtype) or left[a].dtype.kind not in "iu" for a in lk):
        return False  # NumPy integers only: a nullable integer's missing values are no int
    if how == "left" and any(isinstance(d, pd.CategoricalDtype) for d in right.dtypes):
        return False  # unmatched rows would concatenate to object, not the categories
    rest = [c for c in right.columns if not ("on" in kwargs and c in rk)]
    return list(meta.columns) == [*left.columns, *rest]


class KeyIndex:
    """The unique keys of a frame's rows, ready for lookups: the integer
    key columns packed into one int64 per row (each column's value minus its
    minimum, in its own bits), then either a table with a slot per possible
    code holding the row (when the codes are dense: keys from a range,
    looked up with one gather and no hashing) or a ``pandas.Index`` of the
    codes whose hash table is built once. A single key whose values are not
    dense is hashed as it is.

    >>> ix = key_index(pd.DataFrame({"a": [1, 2, 2], "b": [7, 7, 9]}), ("a", "b"))
    >>> ix.positions(pd.DataFrame({"x": [2, 2, 5], "y": [9, 8, 7]}), ("x", "y")).tolist()
    [2, -1, -1]
    """

    __slots__ = ("lows", "spans", "shifts", "table", "index", "sieve")

    def __init__(self, lows: tuple, spans: tuple, shifts: tuple, table, index, sieve=None):
        self.lows, self.spans, self.shifts = lows, spans, shifts
        # a table has one more slot than codes, -1, for keys outside the ranges
        self.table: np.ndarray | None = table
        self.index: pd.Index | None = index
        # hashed codes: (key number, a flag per value of that key: held by some row)
        self.sieve: tuple[int, np.ndarray] | None = sieve

    def positions(self, frame: pd.DataFrame, keys: tuple) -> np.ndarray:
        """The row of this index holding each row's keys, -1 for none."""
        if not self.shifts:  # one key, as it is
            assert self.index is not None
            return self.index.get_indexer(frame[keys[0]].to_numpy())
        offsets = _offsets(frame, keys, self.lows)
        if self.table is not None and len(keys) == 1:
            return self.table[np.minimum(offsets[0], np.uint64(len(self.table) - 1))]
        codes, valid = _packed(offsets, self.spans, self.shifts)
        if self.table is not None:
            found = self.table[codes]
        else:
            assert self.index is not None
            if self.sieve is not None:  # hash only the rows whose sieved key occurs
                j, held = self.sieve
                valid &= held[np.minimum(offsets[j], np.uint64(len(held) - 1))]
                found = np.full(len(codes), -1, dtype=np.intp)
                found[valid] = self.index.get_indexer(codes[valid])
                return found
            found = self.index.get_indexer(codes)
        found[~valid] = -1
        return found


def _offsets(frame: pd.DataFrame, keys: tuple, lows: tuple) -> list:
    """Each key column minus its low bound (``group_codes.offsets``)."""
    return [offsets_from(frame[key].to_numpy(), low) for key, low in zip(keys, lows)]


def _packed(offsets: list, spans: tuple, shifts: tuple) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, valid)``: each row's key offsets packed into one int64 (0
    where an offset is beyond its span, which ``valid`` marks False)."""
    valid = offsets[0] <= np.uint64(spans[0])
    for offset, span in zip(offsets[1:], spans[1:]):
        valid &= offset <= np.uint64(span)
    codes = offsets[0] << np.uint64(shifts[0])
    for offset, shift in zip(offsets[1:], shifts[1:]):
        codes |= offset << np.uint64(shift)
    if not valid.all():
        codes[~valid] = 0
    return codes.view(np.int64), valid


# a table of slots is used while it has at most this many slots per row (plus a floor)
_SLOTS_PER_ROW = 16
_SLOTS_FLOOR = 1 << 22


def key_index(whole: pd.DataFrame, keys: tuple) -> KeyIndex | None:
    """The ``KeyIndex`` of ``whole``'s integer key columns ``keys`` when
    every row's keys are unique (a dimension table's primary key, a groupby's
    result, one side of a range join), else None; also None when several
    keys' ranges need more than 62 bits together.

    >>> key_index(pd.DataFrame({"k": [3, 1]}), ("k",)).positions(
    ...     pd.DataFrame({"k": [1, 5]}), ("k",)).tolist()
    [1, -1]
    >>> key_index(pd.DataFrame({"k": [3, 3]}), ("k",)) is None
    True
    """
    lows, spans, shifts, bits = [], [], [], 0
    for key in reversed(keys):
        values = whole[key].to_numpy()
        low, high = (int(values.min()), int(values.max())) if len(values) else (0, 0)
        lows.append(low)
        spans.append(high - low)
        shifts.append(bits)
        bits += (high - low).bit_length()
    bounds = (tuple(lows[::-1]), tuple(spans[::-1]), tuple(shifts[::-1]))
    n = len(whole)
    slots = 1 + sum(span << shift for span, shift in zip(bounds[1], bounds[2]))
    dense = slots <= _SLOTS_PER_ROW * n + _SLOTS_FLOOR
    if len(keys) == 1 and not dense:  # hashed as it is: packing would not pay
        index = pd.Index(whole[keys[0]].to_numpy())
        return KeyIndex((), (), (), None, index) if index.is_unique else None
    if bits > 62:
        return None
    codes = _packed(_offsets(whole, keys, bounds[0]), bounds[1], bounds[2])[0]
    if dense:
        table: np.ndarray = np.full(slots + 1, -1, dtype=np.int32 if n < 2**31 else np.int64)
        table[codes] = np.arange(n, dtype=table.dtype)
        # keys in order (one side of a range join) are unique when increasing
        increasing = n < 2 or bool((codes[1:] > codes[:-1]).all())
        unique = increasing or np.count_nonzero(table >= 0) == n
        return KeyIndex(*bounds, table, None) if unique else None
    index = pd.Index(codes)  # the uniqueness check fills the hash table lookups use
    if not index.is_unique:
        return None
    return KeyIndex(*bounds, None, index, _sieve(whole, keys, bounds))


def _sieve(whole: pd.DataFrame, keys: tuple, bounds: tuple) -> tuple | None:
    """``(key number, flags)`` for the key whose values the rows hold the
    fewest of, as a share of its span (flags: one per value, and a last
    False for values outside), when that share is at most a quarter and the
    span at most ``_SLOTS_FLOOR``: most lookups then end at one flag."""
    lows, spans, _ = bounds
    best = None
    for j, (key, low, span) in enumerate(zip(keys, lows, spans)):
        if span >= _SLOTS_FLOOR:
            continue
        held = np.zeros(span + 2, dtype=bool)
        held[_offsets(whole, (key,), (low,))[0]] = True
        share = np.count_nonzero(held) / (span + 1)
        if share <= 0.25 and (best is None or share < best[0]):
            best = (share, j, held)
    return None if best is None else best[1:]


def rows_in_range(whole: pd.DataFrame, key: str, part: pd.DataFrame, part_key: str) -> pd.DataFrame:
    """The rows of ``whole`` whose ``key`` lies between the least and the
    greatest ``part_key`` of ``part``, found by binary search when ``whole``
    is sorted by ``key`` (the other side of a range join, whose partitions
    span more keys than the one they meet); ``whole`` itself otherwise.

    >>> whole = pd.DataFrame({"k": [1, 3, 5, 7, 9]})
    >>> rows_in_range(whole, "k", pd.DataFrame({"j": [6, 4]}), "j").k.tolist()
    [5]
    """
    values, mine = whole[key].to_numpy(), part[part_key].to_numpy()
    if (
        not len(values)
        or not len(mine)
        or values.dtype.kind not in "iu"
        or mine.dtype != values.dtype
    ):
        return whole
    if not (values[1:] >= values[:-1]).all():
        return whole
    start = int(np.searchsorted(values, mine.min(), side="left"))
    stop = int(np.searchsorted(values, mine.max(), side="right"))
    return whole if (start, stop) == (0, len(values)) else whole.iloc[start:stop]


def join_unique(
    part: pd.DataFrame,
    part_keys: tuple,
    whole: pd.DataFrame,
    index: KeyIndex,
    whole_is_left: bool,
    drop_keys: tuple,
) -> pd.DataFrame:
    """The inner join of ``part`` with ``whole``, whose unique keys are
    ``index``: the left side's columns, then the right side's without
    ``drop_keys`` (the right keys under ``on=``).

    >>> whole = pd.DataFrame({"k": [7, 8], "w": ["a", "b"]})
    >>> part = pd.DataFrame({"p": [1, 2, 3], "k": [8, 9, 8]})
    >>> join_unique(part, ("k",), whole, key_index(whole, ("k",)), True, ()).values.tolist()
    [[8, 'b', 1, 8], [8, 'b', 3, 8]]
    """
    pos = index.positions(part, part_keys)
    found = pos >= 0
    rows = part[found].reset_index(drop=True)
    matched = whole.take(pos[found]).reset_index(drop=True)
    left, right = (matched, rows) if whole_is_left else (rows, matched)
    if drop_keys:
        right = right.drop(columns=list(drop_keys))
    return pd.concat([left, right], axis=1)


def left_join_unique(
    left: pd.DataFrame, right: pd.DataFrame, keys: tuple, kwargs: dict
) -> pd.DataFrame | None:
    """The left join of ``left`` with ``right`` on the key columns ``keys``
    (``(left keys, right keys)``) when ``left``'s keys are unique, else None:
    matched rows, then the unmatched left rows as pandas' merge gives them.

    >>> l = pd.DataFrame({"k": [1, 2, 3]})
    >>> r = pd.DataFrame({"k": [3, 1, 3], "v": [5, 6, 7]})
    >>> left_join_unique(l, r, (("k",), ("k",)), {"on": ["k"]}).values.tolist()
    [[3.0, 5.0], [1.0, 6.0], [3.0, 7.0], [2.0, nan]]
    """
    left_keys, right_keys = keys
    index = key_index(left, left_keys)
    if index is None:
        return None
    pos = index.positions(right, right_keys)
    found = pos >= 0
    drop = right_keys if "on" in kwargs else ()
    matched = join_unique(right, right_keys, left, index, True, drop)
    covered = np.zeros(len(left), dtype=bool)
    covered[pos[found]] = True
    lonely = pd.merge(left[~covered], right.iloc[:0], how="left", **kwargs)
    return pd.concat([matched, lonely], ignore_index=True)


def matchable(whole: pd.DataFrame, keys: Any, part: pd.DataFrame, part_keys: Any) -> pd.DataFrame:
    """The rows of ``whole`` (a broadcast side, whose unmatched rows a join
    drops) whose keys occur in ``part``; ``whole`` itself when keys are not
    plain columns of one dtype on both sides or ``whole`` is not much bigger.

    >>> whole = pd.DataFrame({"k": range(10)})
    >>> matchable(whole, ("k",), pd.DataFrame({"k": [3, 3]}), ("k",)).k.tolist()
    [3]
    """
    if keys is None or part_keys is None or len(whole) <= 2 * len(part):
        return whole
    if any(whole[a].dtype != part[b].dtype for a, b in zip(keys, part_keys)):
        return whole  # pandas' merge coerces those; isin need not agree
    mask = np.ones(len(whole), dtype=bool)
    for a, b in zip(keys, part_keys):
        mask &= whole[a].isin(part[b]).to_numpy(dtype=bool)
    return whole[mask]
