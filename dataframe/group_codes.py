"""Combine groupby intermediates by sorting one integer code per row.

The combine and aggregate steps of a groupby (``groupby.py``) merge the
intermediates of several partitions: Series or frames indexed by the group
keys. With many groups (a group per few rows, keys in no order) pandas'
route costs a hash factorization per key level, one of the combined codes,
a pass per column and, for ``sort=True``, a lexicographic sort of the
result's MultiIndex. Here every key level becomes non-negative integer codes
ordered as its labels: an integer level is its value minus its minimum (no
hashing), arrow strings take arrow's dictionary with the dictionary sorted,
other levels ``pd.factorize(sort=True)``, all computed on a MultiIndex
level's labels, then looked up by the rows' codes. The codes of all
levels are packed into one int64 per row by bit shifts, so the order of the
packed codes is the order of the keys. Sorting them (with the row number in
the low bits when it fits, one ``np.sort`` of int64) lines each group's rows
up in a run, and every column is reduced with one ``ufunc.reduceat`` over the
runs: groups come out sorted by key, or in order of first appearance when
the caller needs that (``sort=False`` results). The group labels are a
MultiIndex built from levels and codes (no factorization of the labels).

``combine_by_codes`` returns None where this route does not apply, and the
caller uses pandas: a missing or categorical key, a value column of another
dtype than int64/uint64/float64 (for sums) or integer/float (for min and
max), no rows. When the levels' codes need more than 62 bits together (many
keys, e.g. a customer's key and all its attributes), the codes packed so far
are replaced by their ranks (same order, fewer bits) before the next level
joins; each group's labels are read from one of its rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["combine_by_codes", "dense_codes", "group_ids", "level_labels", "offsets"]

_UFUNCS = {"sum": np.add, "min": np.minimum, "max": np.maximum}
_MAX_BITS = 62


def _encode_level(values: list, level: int) -> tuple | None:
    """``(codes, bits, labels or minimum, dtype, name)`` of one key level of
    every intermediate (see ``_encode``), rows in order. A MultiIndex level
    is encoded through its labels, then each row's code is looked up (the
    labels are few and are never materialized per row). None for a missing
    or a categorical key (categories may differ: pandas' route unites them).
    """
    indexes = [v.index for v in values]
    if isinstance(indexes[0], pd.MultiIndex):
        labels = [ix.levels[level] for ix in indexes]
        rows = [ix.codes[level] for ix in indexes]
        if any(len(r) and r.min() < 0 for r in rows):
            return None
    else:
        labels, rows = indexes, None
    dtypes = {x.dtype for x in labels}
    if any(isinstance(d, pd.CategoricalDtype) for d in dtypes):
        return None
    first = labels[0]
    if len(dtypes) == 1 and isinstance(first.dtype, np.dtype) and first.dtype.kind != "O":
        joined = pd.Index(np.concatenate([x.to_numpy() for x in labels]), copy=False)
    else:
        joined = first.append(labels[1:]) if len(labels) > 1 else first
    got = _encode(joined)
    if got is None:
        return None
    codes, bits, known = got
    if rows is not None:
        starts = np.cumsum([0] + [len(x) for x in labels[:-1]])
        codes = np.concatenate([codes[start + r] for start, r in zip(starts, rows)])
    return codes, bits, known, joined.dtype, indexes[0].names[level]


def _sorted_dictionary(labels: pd.Index) -> tuple[np.ndarray, pd.Index] | None:
    """``(codes, sorted distinct labels)`` of arrow-backed strings by
    arrow's dictionary encoding and a sort of the dictionary only (UTF-8
    byte order is code point order, as Python compares strings); None when
    a label is missing."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(labels.array._pa_array).combine_chunks()
    if encoded.indices.null_count:
        return None
    order = pc.sort_indices(encoded.dictionary)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order.to_numpy()] = np.arange(len(order))
    codes = rank[encoded.indices.to_numpy(zero_copy_only=False)]
    uniques = pd.array(encoded.dictionary.take(order), dtype=labels.dtype)
    return codes, pd.Index(uniques, copy=False)


def _encode(labels: pd.Index) -> tuple[np.ndarray, int, pd.Index | int] | None:
    """``(codes, bits, labels of the codes)`` of one key level: codes >= 0
    below ``2**bits`` in the order of the labels. The labels are the sorted
    distinct ones, or for an integer level whose codes are value - minimum,
    that minimum. None when a label is missing or categorical.

    >>> codes, bits, low = _encode(pd.Index([7, 5, 7]))
    >>> codes.tolist(), bits, low
    ([2, 0, 2], 2, 5)
    >>> codes, bits, uniques = _encode(pd.Index(["b", "a", "b"]))
    >>> codes.tolist(), bits, uniques.tolist()
    ([1, 0, 1], 1, ['a', 'b'])
    """
    dtype = labels.dtype
    dense = dense_codes(labels.to_numpy()) if isinstance(dtype, np.dtype) else None
    if dense is not None:
        codes, size, low = dense
        return codes, (size - 1).bit_length(), low
    if isinstance(dtype, pd.CategoricalDtype):
        return None
    if isinstance(dtype, pd.StringDtype) and getattr(labels.array, "_pa_array", None) is not None:
        got = _sorted_dictionary(labels)
        if got is None:
            return None
        codes, uniques = got
    else:
        codes, uniques = pd.factorize(labels, sort=True)
    if len(codes) and codes.min() < 0:  # a missing key (dropna=False): pandas' route keeps it
        return None
    return codes.astype(np.int64, copy=False), (len(uniques) - 1).bit_length(), uniques


def offsets(values: np.ndarray, low: int) -> np.ndarray:
    """``values - low`` modulo 2**64 as uint64, for integers of any dtype: a
    value below ``low`` wraps to a huge offset (one unsigned comparison with
    a span tells whether it is inside), and a uint64 above the int64 range
    is no overflow.

    >>> offsets(np.array([5, 3], dtype=np.int8), 4).tolist()
    [1, 18446744073709551615]
    """
    unsigned = values.view(np.uint64) if values.itemsize == 8 else values.astype(np.uint64)
    return unsigned - np.uint64(low % 2**64)


def dense_codes(data: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """``(codes, size, minimum)`` of integers spanning at most a few times
    their number: codes = value - minimum, below ``size`` (no hashing).
    None for other dtypes, wider spans or no values.

    >>> codes, size, low = dense_codes(np.array([7, 5, 7]))
    >>> codes.tolist(), size, low
    ([2, 0, 2], 3, 5)
    """
    if data.dtype.kind not in "iu" or len(data) == 0:
        return None
    low, high = int(data.min()), int(data.max())
    if high - low > 16 * len(data) + 4096:
        return None
    if data.dtype == np.uint64:
        return (data - np.uint64(low)).view(np.int64), high - low + 1, low
    return np.subtract(data, low, dtype=np.int64), high - low + 1, low


def _runs(packed: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(order, starts, keys)``: the rows sorted by their packed code, where
    each run of equal codes starts, and the code of each run. Ties keep the
    row order, so a run's first row is its group's first appearance."""
    row_bits = max(n - 1, 1).bit_length()
    high = int(packed.max()) if n else 0
    if n and (packed[1:] >= packed[:-1]).all():  # in order already (keys sorted in the files)
        order = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
        sorted_codes = packed
    elif high.bit_length() + row_bits <= 63:  # the row number rides in the low bits
        both = packed << row_bits
        both |= np.arange(n, dtype=np.int64)
        both.sort()
        order = np.empty(n, dtype=np.int32 if n < 2**31 else np.int64)
        np.bitwise_and(both, (1 << row_bits) - 1, out=order, casting="unsafe")
        both >>= row_bits
        sorted_codes = both
    else:
        order = np.argsort(packed, kind="stable")
        sorted_codes = packed[order]
    edge = np.empty(n, dtype=bool)
    edge[:1] = True
    np.not_equal(sorted_codes[1:], sorted_codes[:-1], out=edge[1:])
    starts = np.flatnonzero(edge)
    return order, starts, sorted_codes[starts]


def group_ids(codes: np.ndarray, keep_order: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, uniques)`` as ``pd.factorize(codes)`` of non-negative int64
    codes, by sorting them (faster than hashing many distinct codes):
    groups numbered in order of their codes, or of first appearance with
    ``keep_order``.

    >>> ids, uniques = group_ids(np.array([9, 2, 9, 4]), keep_order=True)
    >>> ids.tolist(), uniques.tolist()
    ([0, 1, 0, 2], [9, 2, 4])
    """
    n = len(codes)
    order, starts, uniques = _runs(codes, n)
    number = np.arange(len(starts))
    if keep_order:
        perm = _first_appearance(order[starts], n)
        uniques = uniques[perm]
        number[perm] = np.arange(len(starts))
    ids = np.empty(n, dtype=np.intp)
    ids[order] = np.repeat(number, np.diff(starts, append=n))
    return ids, uniques


def _first_appearance(first_rows: np.ndarray, n: int) -> np.ndarray:
    """The permutation putting groups in order of their first rows (distinct
    row numbers below ``n``) without sorting them."""
    seen = np.zeros(n, dtype=bool)
    seen[first_rows] = True
    group_of_row = np.empty(n, dtype=np.intp)
    group_of_row[first_rows] = np.arange(len(first_rows))
    return group_of_row[seen]


def level_labels(codes: np.ndarray, size: int, known: pd.Index | int, dtype) -> tuple:
    """``(labels, codes)`` of one key level of some groups, from their codes
    below ``size`` and ``known``, the labels of the codes or, for an integer
    level coded as value - minimum, that minimum. Only the labels in use are
    kept, in order.

    >>> labels, codes = level_labels(np.array([4, 0, 4]), 5, 10, np.dtype("int64"))
    >>> labels.tolist(), codes.tolist()
    ([10, 14], [1, 0, 1])
    """
    if isinstance(known, pd.Index):
        size = len(known)  # keep the labels in use only
    if len(codes) and (codes[1:] >= codes[:-1]).all():  # sorted (the first key of sorted groups)
        edge = np.empty(len(codes), dtype=bool)
        edge[:1] = True
        np.not_equal(codes[1:], codes[:-1], out=edge[1:])
        present = codes[edge].astype(np.int64)
        codes = np.cumsum(edge) - 1
    else:
        used = np.zeros(size, dtype=bool)
        used[codes] = True
        present = np.flatnonzero(used)
        remap = np.empty(size, dtype=np.int32 if size < 2**31 else np.int64)
        remap[present] = np.arange(len(present))  # only the entries in use are read
        codes = remap[codes]
    if isinstance(known, pd.Index):
        return known.take(present), codes
    if dtype == np.uint64:
        labels = present.astype(np.uint64) + np.uint64(known)
    else:
        labels = (present + known).astype(dtype)
    return pd.Index(labels, copy=False), codes


def _reducible(dtype, how: str) -> bool:
    if not isinstance(dtype, np.dtype):
        return False
    if how == "sum":
        return dtype in (np.int64, np.uint64, np.float64)
    return dtype.kind in "iuf"


def _reduce(data: np.ndarray, how: str, order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``how`` of ``data`` over each run of the sorted rows (NaN skipped as pandas does)."""
    ufunc = _UFUNCS[how]
    if data.dtype.kind == "f" and how != "sum":  # a NaN sum is inf + -inf: it stays NaN
        ufunc = np.fmin if how == "min" else np.fmax  # NaN only where all are NaN
    return ufunc.reduceat(data[order], starts)


def combine_by_codes(values: list, how: str, nlevels: int, keep_order: bool):
    """``how`` (``sum``, ``min`` or ``max``) of every column of the
    intermediates ``values`` (Series or frames, all indexed by the
    ``nlevels`` group keys) per group: the result of pandas'
    ``concat(values).groupby(level=..., sort=not keep_order).how()``,
    sorted by key unless ``keep_order`` (then in order of first
    appearance); None where this route does not apply (module docstring).

    >>> a = pd.Series([1.0, 2.0], index=pd.Index([7, 3], name="k"), name="v")
    >>> b = pd.Series([4.0], index=pd.Index([3], name="k"), name="v")
    >>> combine_by_codes([a, b], "sum", 1, keep_order=False).to_dict()
    {3: 6.0, 7: 1.0}
    >>> combine_by_codes([a, b], "sum", 1, keep_order=True).index.tolist()
    [7, 3]
    """
    if how not in _UFUNCS or values[0].index.nlevels != nlevels:
        return None
    n = sum(len(v) for v in values)
    if n == 0:
        return None
    frame = isinstance(values[0], pd.DataFrame)
    columns = list(values[0].columns) if frame else [values[0].name]
    if frame and any(list(v.columns) != columns for v in values):
        return None
    cols = [[v[c] for c in columns] if frame else [v] for v in values]
    dtypes = [s.dtype for s in cols[0]]
    if any([s.dtype for s in c] != dtypes for c in cols) or not all(
        _reducible(d, how) for d in dtypes
    ):
        return None
    data = [np.concatenate([c[j].to_numpy() for c in cols]) for j in range(len(dtypes))]
    del cols
    packed = np.zeros(n, dtype=np.int64)
    total = 0  # bits in use in ``packed``
    layout: list = []  # (codes, size, labels or minimum, dtype, name) per level
    for i in range(nlevels):
        got = _encode_level(values, i)
        if got is None:
            return None
        codes, bits, known, dtype, name = got
        if total + bits > _MAX_BITS:  # rank the codes so far: same order, fewer bits
            ranks = np.unique(packed, return_inverse=True)[1]
            packed = ranks.astype(np.int64, copy=False).reshape(-1)
            total = int(packed.max()).bit_length()
        packed <<= bits
        packed |= codes
        total += bits
        small = codes.astype(np.int32) if bits < 31 else codes  # kept to label the groups
        layout.append((small, 1 << bits, known, dtype, name))
        del codes
    order, starts, _ = _runs(packed, n)
    del packed
    reduced = [_reduce(d, how, order, starts) for d in data]
    first = order[starts]  # a row of each group
    if keep_order:
        perm = _first_appearance(first, n)
        first = first[perm]
        reduced = [r[perm] for r in reduced]
    levels, level_codes = [], []
    for codes, size, known, dtype, name in layout:
        labels, codes = level_labels(codes[first], size, known, dtype)
        levels.append(labels.rename(name))
        level_codes.append(codes)
    if nlevels == 1:
        index = levels[0].take(level_codes[0])
    else:
        names = [name for *_, name in layout]
        index = pd.MultiIndex(levels=levels, codes=level_codes, names=names, verify_integrity=False)
    if frame:
        return pd.DataFrame(dict(zip(columns, reduced)), index=index, copy=False)
    return pd.Series(reduced[0], index=index, name=columns[0], copy=False)
