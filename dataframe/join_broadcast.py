"""Kernels of a broadcast join (``merge.py``): the whole small side meets
every partition of the other, so work on it is done once, not per partition.

- ``key_index``: when the broadcast side of an inner join has one integer
  key column whose values are unique (a dimension table's primary key), a
  ``pandas.Index`` of them, built once with its hash table; each partition
  then looks up its keys in it (``join_unique``) instead of pandas hashing
  the whole side again in every partition's merge.
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

__all__ = ["indexable", "key_index", "join_unique", "left_join_unique", "matchable"]


def indexable(
    how: str, kwargs: dict, left: pd.DataFrame, right: pd.DataFrame, keys: tuple, meta: Any
) -> bool:
    """Whether an inner (or left) join of frames like ``left`` and ``right``
    (metas) on one integer key column per side can run as ``join_unique``
    (or ``left_join_unique``): no suffixed
    columns, no indicator, and the output columns the left ones then the
    right ones (one key column for ``on=``).

    >>> l, r = pd.DataFrame({"k": [1]}), pd.DataFrame({"k": [1], "b": [2]})
    >>> indexable("inner", {"on": ["k"]}, l, r, (("k",), ("k",)), l.merge(r, on="k"))
    True
    """
    lk, rk = keys
    if how not in ("inner", "left") or kwargs.get("indicator") or lk is None or rk is None:
        return False
    if len(lk) != 1 or len(rk) != 1 or left[lk[0]].dtype != right[rk[0]].dtype:
        return False
    if left[lk[0]].dtype.kind not in "iu":
        return False
    if how == "left" and any(isinstance(d, pd.CategoricalDtype) for d in right.dtypes):
        return False  # unmatched rows would concatenate to object, not the categories
    rest = [c for c in right.columns if not ("on" in kwargs and c == rk[0])]
    return list(meta.columns) == [*left.columns, *rest]


def key_index(whole: pd.DataFrame, key: str) -> pd.Index | None:
    """The values of ``whole[key]`` as an index with its hash table built,
    or None when they repeat.

    >>> key_index(pd.DataFrame({"k": [3, 1]}), "k").get_indexer([1, 5]).tolist()
    [1, -1]
    >>> key_index(pd.DataFrame({"k": [3, 3]}), "k") is None
    True
    """
    index = pd.Index(whole[key].to_numpy())
    return index if index.is_unique else None  # the check fills the hash table


def join_unique(
    part: pd.DataFrame,
    part_key: str,
    whole: pd.DataFrame,
    index: pd.Index,
    whole_is_left: bool,
    drop_key: str | None,
) -> pd.DataFrame:
    """The inner join of ``part`` with ``whole``, whose unique keys are
    ``index``: the left side's columns, then the right side's without
    ``drop_key`` (the right key under ``on=``).

    >>> whole = pd.DataFrame({"k": [7, 8], "w": ["a", "b"]})
    >>> part = pd.DataFrame({"p": [1, 2, 3], "k": [8, 9, 8]})
    >>> join_unique(part, "k", whole, key_index(whole, "k"), True, None).values.tolist()
    [[8, 'b', 1, 8], [8, 'b', 3, 8]]
    """
    pos = index.get_indexer(part[part_key].to_numpy())
    found = pos >= 0
    rows = part[found].reset_index(drop=True)
    matched = whole.take(pos[found]).reset_index(drop=True)
    left, right = (matched, rows) if whole_is_left else (rows, matched)
    if drop_key is not None:
        right = right.drop(columns=[drop_key])
    return pd.concat([left, right], axis=1)


def left_join_unique(
    left: pd.DataFrame, right: pd.DataFrame, keys: tuple, kwargs: dict
) -> pd.DataFrame | None:
    """The left join of ``left`` with ``right`` on the key columns ``keys``
    (one each) when ``left``'s keys are unique, else None: matched rows,
    then the unmatched left rows as pandas' merge gives them.

    >>> l = pd.DataFrame({"k": [1, 2, 3]})
    >>> r = pd.DataFrame({"k": [3, 1, 3], "v": [5, 6, 7]})
    >>> left_join_unique(l, r, ("k", "k"), {"on": ["k"]}).values.tolist()
    [[3.0, 5.0], [1.0, 6.0], [3.0, 7.0], [2.0, nan]]
    """
    index = key_index(left, keys[0])
    if index is None:
        return None
    pos = index.get_indexer(right[keys[1]].to_numpy())
    found = pos >= 0
    matched = join_unique(right, keys[1], left, index, True, keys[1] if "on" in kwargs else None)
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
