"""Per-partition groupby sums, counts, sizes and means with ``np.bincount``.

pandas' groupby hashes every key column, then runs one pass per method over
all the columns; for the chunk step of the most common aggregations there is
a cheaper route. Each key becomes integer codes (arrow dictionary encoding for
strings, the codes of a categorical read from a parquet dictionary, value -
minimum for integers spanning a few times the rows, or ``pd.factorize``),
the codes of several keys are combined into one integer per row (mixed
radix; the combinations so far are numbered afresh when the next key would
overflow int64), numbered by hashing when they allow few groups and by one sort when
they allow more groups than rows (``group_codes.group_ids``), and every
float64 sum and every count is a single ``np.bincount``. Missing values
are skipped as pandas does: a NaN adds nothing to a sum and is not counted;
rows with a missing key are dropped (``dropna=True``).

The results have the layout of the pandas path in ``groupby.py`` (same
labels, names and dtypes; a MultiIndex built from each key's labels and
codes); groups come in order of first appearance, as with ``sort=False``,
unless the caller says the order does not matter. ``fast_chunk`` returns
None where this route does not apply (another aggregation, a non-float64
sum, a user categorical key, a missing key with ``dropna=False``), and the
caller uses pandas.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shoal.dataframe.group_codes import dense_codes, group_ids, level_labels, offsets

__all__ = ["fast_chunk", "nunique_by_sorting", "nunique_pairs", "key_labels", "string_codes"]

_FUNCS = {"sum", "mean", "count", "size"}
_MAX_COMBINED = 2**62


def key_labels(labels: pd.Index, dtype) -> pd.Index:
    """Group labels of a key column of ``dtype`` as pandas' groupby gives
    them: an object column's labels are inferred (strings become ``str``).

    >>> key_labels(pd.Index(["a"], dtype=object), np.dtype(object)).dtype
    <StringDtype(na_value=nan)>
    """
    if pd.api.types.is_object_dtype(dtype):
        return pd.Index(np.asarray(labels, dtype=object), name=labels.name)
    return labels.astype(dtype)


def string_codes(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``(codes, labels)`` of an arrow-backed string Series by arrow's
    dictionary encoding (codes -1 where missing).

    >>> codes, labels = string_codes(pd.Series(["b", None, "b", "a"], dtype="str"))
    >>> codes.tolist(), labels.tolist()
    ([0, -1, 0, 1], ['b', 'a'])
    """
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(s.array._pa_array).combine_chunks()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return codes, pd.Index(encoded.dictionary.to_pylist(), dtype=s.dtype)


def _chunk_key_codes(s: pd.Series, decoded) -> tuple[np.ndarray, int, pd.Index | int] | None:
    """``(codes, size, labels)`` of one key column for ``fast_chunk``: codes
    below ``size``, -1 where missing; ``labels`` those of the codes, or for
    an integer column coded as value - minimum (``dense_codes``: no hashing),
    that minimum."""
    if decoded is None and isinstance(s.dtype, np.dtype):
        dense = dense_codes(s.to_numpy())
        if dense is not None:
            return dense
    got = _key_codes(s, decoded)
    return None if got is None else (got[0], len(got[1]), got[1])


def _key_codes(s: pd.Series, decoded) -> tuple[np.ndarray, pd.Index] | None:
    """``(codes, labels)`` of one key column, codes -1 where missing."""
    if decoded is not None:
        codes = s.cat.codes.to_numpy().astype(np.int64)
        return codes, key_labels(pd.Index(s.cat.categories), decoded)
    if isinstance(s.dtype, pd.CategoricalDtype):
        return None
    if getattr(s.array, "_pa_array", None) is not None and isinstance(s.dtype, pd.StringDtype):
        codes, labels = string_codes(s)
        return codes.astype(np.int64), labels
    codes, labels = pd.factorize(s, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), key_labels(pd.Index(labels), s.dtype)


def _eligible(part: pd.DataFrame, specs: dict) -> bool:
    for col, func in specs.values():
        if not isinstance(func, str) or func not in _FUNCS:
            return False
        if func in ("sum", "mean") and part.dtypes[col] != np.float64:
            return False
    return True


def fast_chunk(
    part: pd.DataFrame,
    keys: list,
    specs: dict,
    dropna: bool,
    decoded: dict,
    keep_order: bool = True,
):
    """The chunk intermediates of ``specs`` grouped by the columns ``keys``,
    or None when this route does not apply (see the module docstring).
    Without ``keep_order`` (the result gets sorted later) groups may come in
    any order, which saves hashing the combined codes when they are few.

    >>> df = pd.DataFrame({"k": ["b", "a", "b"], "v": [1.0, np.nan, 3.0]})
    >>> out = fast_chunk(df, ["k"], {0: ("v", "sum"), 1: ("v", "count")}, True, {})
    >>> out[0].to_dict(), out[1].to_dict()
    ({'b': 4.0, 'a': 0.0}, {'b': 2, 'a': 0})
    """
    if not _eligible(part, specs):
        return None
    per_key = []
    for k in keys:
        got = _chunk_key_codes(part[k], decoded.get(k))
        if got is None:
            return None
        per_key.append(got)
    usable, valid = _present_keys(per_key, dropna)
    if not usable:
        return None
    combined, space = per_key[0][0], max(per_key[0][1], 1)
    numbered = False  # the combinations were numbered afresh: codes no longer decompose
    for codes, count, _ in per_key[1:]:
        radix = max(count, 1)
        if space * radix >= _MAX_COMBINED:  # number the combinations so far: fewer codes
            combined, seen = pd.factorize(combined)
            space, numbered = max(len(seen), 1), True
        combined = combined * radix + codes
        space *= radix
    if valid is not None:
        combined = combined[valid]
    direct = not keep_order and space <= max(4 * len(combined), 1024)
    if direct:  # few possible combined codes: they are the group ids
        ids, ngroups = combined, space
    elif space <= max(len(combined), 4096):  # few possible groups: hashing is cheaper
        ids, uniques = pd.factorize(combined, sort=False)
        ngroups = len(uniques)
    else:
        ids, uniques = group_ids(combined, keep_order)
        ngroups = len(uniques)
    size = np.bincount(ids, minlength=ngroups)
    pick = None
    if direct:
        pick = uniques = np.flatnonzero(size)
    if numbered:  # each key's codes at a row of each group (whichever: they share the keys)
        row = np.empty(ngroups, dtype=np.intp)
        row[ids] = np.arange(len(ids))
        row = row if pick is None else row[pick]
        row = row if valid is None else np.flatnonzero(valid)[row]
        key_codes = [codes[row] for codes, _, _ in per_key]
    else:
        key_codes = _decompose(uniques, [max(count, 1) for _, count, _ in per_key])
    index = _group_index(per_key, key_codes, keys, [part[k].dtype for k in keys])
    columns = {
        col: part[col] if valid is None else part[col][valid]
        for col, func in specs.values()
        if func != "size"
    }
    summed = {col for col, func in specs.values() if func in ("sum", "mean")}
    counts: dict = {}
    sums: dict = {}
    for col, func in specs.values():
        if func == "size" or col in counts:
            continue
        x = columns[col]
        present = None if _complete(x) else x.notna().to_numpy()
        counts[col] = size if present is None else np.bincount(ids[present], minlength=ngroups)
        if col in summed:
            data = x.to_numpy()
            weights = data if present is None else np.where(present, data, 0.0)
            # float64 even when there are no rows (bincount then gives int64)
            sums[col] = np.bincount(ids, weights=weights, minlength=ngroups).astype(np.float64)
    if pick is not None:
        size = size[pick]
        counts = {c: v[pick] for c, v in counts.items()}
        sums = {c: v[pick] for c, v in sums.items()}
    out = {}
    for name, (col, func) in specs.items():
        if func == "size":
            out[name] = pd.Series(size, index=index, dtype="int64")
        elif func == "count":
            out[name] = pd.Series(counts[col], index=index, name=col, dtype="int64")
        elif func == "sum":
            out[name] = pd.Series(sums[col], index=index, name=col, dtype="float64")
        else:
            n = counts[col].astype("float64")
            out[name] = pd.DataFrame({"n": n, "sum": sums[col]}, index=index)
    return out


def nunique_pairs(
    part: pd.DataFrame, keys: list, col: Any, dropna: bool, decoded: dict
) -> pd.Series | None:
    """The chunk of ``nunique``: the distinct (keys..., value) pairs of one
    partition, in order of first appearance, as the index of a Series of
    ones (the layout of pandas' ``value_counts(dropna=False)`` route, whose
    counts nothing reads). One hash of an int64 per row instead of pandas'
    sort of the pairs; None where this route does not apply (a user
    categorical key or value, a missing key with ``dropna=False``, pair codes
    beyond int64).

    >>> df = pd.DataFrame({"k": [1, 2, 1, 1], "v": ["x", "y", "x", None]})
    >>> nunique_pairs(df, ["k"], "v", True, {}).index.tolist()
    [(1, 'x'), (2, 'y'), (1, nan)]
    """
    per_key = []
    for k in keys:
        got = _dense_codes(part[k]) if k not in decoded else None
        got = got or _key_codes(part[k], decoded.get(k))
        if got is None:
            return None
        per_key.append(got)
    values = _dense_codes(part[col]) if col not in decoded else None
    values = values or _key_codes(part[col], decoded.get(col))
    if values is None:
        return None
    radix = [max(len(labels), 1) for _, labels in per_key] + [len(values[1]) + 1]
    if np.prod(np.array(radix, dtype=np.float64)) >= _MAX_COMBINED:
        return None
    usable, valid = _present_keys(per_key, dropna)
    if not usable:
        return None
    pair = per_key[0][0]
    for (codes, _), n in zip(per_key[1:], radix[1:-1]):
        pair = pair * n + codes
    pair = pair * radix[-1] + (values[0] + 1)  # a missing value is a value: code 0
    if valid is not None:
        pair = pair[valid]
    rest = pd.unique(pair)
    codes_out = []
    for n in reversed(radix):
        rest, code = np.divmod(rest, n)
        codes_out.append(code)
    codes_out.reverse()
    codes_out[-1] = codes_out[-1] - 1  # back to -1 for a missing value
    index = pd.MultiIndex(
        levels=[labels for _, labels in per_key] + [values[1]],
        codes=codes_out,
        names=[*keys, col],
        verify_integrity=False,
    )
    return pd.Series(np.ones(len(index), dtype=np.int64), index=index, name="count")


def nunique_by_sorting(part: pd.DataFrame, key: str, col: str) -> pd.Series | None:
    """``part.groupby(key)[col].nunique()`` (groups sorted by key) for an
    integer key and an integer value column: each row's (key, value) packed
    into one int64 (value minus minimum in each's bits), one ``np.sort``,
    then the distinct pairs counted per key: about 4x faster than pandas'
    groupby, which factorizes both columns. None for other dtypes or spans
    beyond 62 bits together.

    >>> df = pd.DataFrame({"k": [2, 1, 2, 2], "v": [5, 5, 6, 5]})
    >>> nunique_by_sorting(df, "k", "v").to_dict()
    {1: 1, 2: 2}
    """
    keys, values = part[key], part[col]
    if keys.dtype.kind not in "iu" or values.dtype.kind not in "iu" or len(part) == 0:
        return None
    k, v = keys.to_numpy(), values.to_numpy()
    k_low, v_low = int(k.min()), int(v.min())
    bits = (int(v.max()) - v_low).bit_length()
    if (int(k.max()) - k_low).bit_length() + bits > 62:
        return None
    pairs = offsets(k, k_low).view(np.int64) << bits
    pairs |= offsets(v, v_low).view(np.int64)
    pairs.sort()
    distinct = np.empty(len(pairs), dtype=bool)
    distinct[0] = True
    np.not_equal(pairs[1:], pairs[:-1], out=distinct[1:])
    owners = pairs[distinct] >> bits
    first = np.empty(len(owners), dtype=bool)
    first[0] = True
    np.not_equal(owners[1:], owners[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(starts, append=len(owners))
    labels = (owners[starts].view(np.uint64) + np.uint64(k_low % 2**64)).astype(keys.dtype)
    return pd.Series(counts, index=pd.Index(labels, name=key), name=col)


def _present_keys(per_key: list, dropna: bool) -> tuple[bool, np.ndarray | None]:
    """``(usable, rows)``: False when a key is missing and ``dropna`` is off
    (pandas' route then keeps it as a group); else the rows whose keys are
    all present (None: every row).

    >>> _present_keys([(np.array([0, -1]), None)], True)[1].tolist()
    [True, False]
    """
    valid = None
    for codes, *_ in per_key:
        missing = codes < 0
        if missing.any():
            if not dropna:
                return False, None
            valid = ~missing if valid is None else valid & ~missing
    return True, valid


def _dense_codes(s: pd.Series) -> tuple[np.ndarray, pd.Index] | None:
    """``(codes, labels)`` of a NumPy integer column whose values span at most
    a few times its length: the value minus the minimum (no hashing; labels
    the whole span, some unused). None otherwise.

    >>> codes, labels = _dense_codes(pd.Series([7, 5, 7]))
    >>> codes.tolist(), labels.tolist()
    ([2, 0, 2], [5, 6, 7])
    """
    if s.dtype.kind not in "iu" or len(s) == 0:
        return None
    data = s.to_numpy()
    low, high = int(data.min()), int(data.max())
    if high - low > 4 * len(data) + 1024:
        return None
    labels = pd.Index(np.arange(low, high + 1, dtype=s.dtype), name=s.name)
    return (data - low).astype(np.int64), labels


def _complete(x: pd.Series) -> bool:
    """Whether a column has no missing value (a float sum is NaN only if some
    value is NaN, or infinities of both signs meet: then ask pandas)."""
    if x.dtype == np.float64:
        with np.errstate(invalid="ignore"):
            if not np.isnan(x.to_numpy().sum()):
                return True
    return bool(x.notna().all())


def _decompose(combined: np.ndarray, radix: list) -> list:
    """Each key's codes of mixed-radix ``combined`` codes.

    >>> [c.tolist() for c in _decompose(np.array([5, 0]), [2, 3])]
    [[1, 0], [2, 0]]
    """
    out = []
    rest = np.asarray(combined, dtype=np.int64)
    for n in reversed(radix):
        rest, code = np.divmod(rest, n)
        out.append(code)
    return out[::-1]


def _group_index(per_key: list, key_codes: list, keys: list, dtypes: list) -> pd.Index:
    """The labels of the groups whose keys have codes ``key_codes``: a
    MultiIndex built from each key's labels and codes, not by factorizing
    the labels again."""
    levels, codes_out = [], []
    for (_, size, known), codes, dtype in zip(per_key, key_codes, dtypes):
        labels, code = level_labels(codes, max(size, 1), known, dtype)
        levels.append(labels)
        codes_out.append(code)
    if len(keys) == 1:
        return levels[0].take(codes_out[0]).rename(keys[0])
    return pd.MultiIndex(levels=levels, codes=codes_out, names=keys, verify_integrity=False)
