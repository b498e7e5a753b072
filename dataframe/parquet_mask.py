"""The rows of an arrow table that DNF parquet ``filters`` keep, as a NumPy mask.

Each term becomes a NumPy boolean array (a missing comparison counts as no
match: ``and``/``or`` of the terms then give what arrow's Kleene logic with
nulls dropped at the end gives, as no term is negated after combining).
Terms that NumPy evaluates as arrow does skip arrow, which would build a
bitmap that costs more to unpack than the comparison itself:

- a comparison of numbers or tz-naive timestamps without nulls with a value
  of the same kind: compared in NumPy on the column's zero-copy view;
- a dictionary column (strings read as dictionaries): the term is computed
  on the dictionary's few values and taken by the indices in NumPy.

Everything else (``in`` on plain values, strings, columns with nulls, ...)
goes through arrow's compute functions.
"""

from __future__ import annotations

import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shoal.dataframe.parquet_filters import COMPARISONS

__all__ = ["filter_mask"]

# rows compared at a time: a few columns' blocks fit in a core's L2 cache
_BLOCK_ROWS = 1 << 16

_ARROW = {
    "==": pc.equal,
    "=": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}


def _values_mask(values, op: str, value):
    """``values op value`` through arrow (nulls where a side is missing)."""
    if op in ("in", "not in"):
        found = pc.is_in(values, value_set=pa.array(list(value)))
        return pc.invert(found) if op == "not in" else found
    return _ARROW[op](values, value)


def _as_numpy(mask) -> np.ndarray:
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def _numpy_operand(typ: pa.DataType, value):
    """``value`` as a NumPy scalar that compares with the NumPy view of
    ``typ`` values as arrow compares them, or None where that is not sure
    (other kinds, unsigned or narrow float columns, values the column's
    unit cannot hold)."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return None
    # (arrow compares float32 values in float32, NumPy would widen them)
    if pa.types.is_signed_integer(typ) or pa.types.is_float64(typ):
        if isinstance(value, (int, np.integer)):
            small = np.iinfo(np.int64).min <= value <= np.iinfo(np.int64).max
            return np.int64(value) if small else None
        return np.float64(value) if isinstance(value, (float, np.floating)) else None
    if pa.types.is_timestamp(typ) and typ.tz is None:
        if not isinstance(value, (datetime.datetime, np.datetime64)):
            return None
        try:  # as arrow converts the value, exactly in the column's unit
            scalar = pa.scalar(value)
            if not pa.types.is_timestamp(scalar.type) or scalar.type.tz is not None:
                return None
            return np.datetime64(scalar.cast(typ).value, typ.unit)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, ValueError):
            return None
    return None


def _term(column: pa.ChunkedArray, op: str, value):
    """``column op value`` ready to evaluate by blocks of rows: a NumPy
    comparison ``(compare, values, operand)``, or the whole column's boolean
    mask (False where the comparison is missing)."""
    typ = column.type
    if pa.types.is_dictionary(typ):
        # a null row gets what a null value gets (``in`` matches nulls to None)
        null = _values_mask(pa.nulls(1, typ.value_type), op, value)[0]
        null = int(bool(null.as_py())) if null.is_valid else 0
        parts = []
        for chunk in column.chunks:
            # arrow's take of bytes (viewed as bools) beats NumPy's, which
            # would first widen the indices
            lookup = _as_numpy(_values_mask(chunk.dictionary, op, value)).view(np.uint8)
            taken = pc.take(pa.array(lookup, pa.uint8()), chunk.indices)
            if chunk.null_count:
                taken = pc.fill_null(taken, null)
            parts.append(taken.to_numpy().view(bool))
        return _glue(parts, bool)
    operand = None if op not in COMPARISONS or column.null_count else _numpy_operand(typ, value)
    if operand is None:
        return _as_numpy(_values_mask(column, op, value))
    values = _glue([chunk.to_numpy(zero_copy_only=True) for chunk in column.chunks], operand.dtype)
    return COMPARISONS[op], values, operand


def _glue(parts: list, dtype) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def _block_of(term, start: int, stop: int) -> np.ndarray:
    if isinstance(term, np.ndarray):
        return term[start:stop]
    compare, values, operand = term
    return compare(values[start:stop], operand)


def filter_mask(table: pa.Table, filters: list) -> np.ndarray:
    """The rows of ``table`` matching the DNF ``filters`` (a list of AND-ed
    ``(column, op, value)`` lists, OR-ed) as a boolean array; rows where a
    comparison is missing do not match, as with parquet filters.

    NumPy comparisons run by blocks of rows that stay in the CPU cache
    across the terms (the same column is often compared twice, with a lower
    and an upper bound): about twice as fast as whole columns one by one.

    >>> t = pa.table({"x": [1, 5, None], "s": pa.array(["a", "b", "a"]).dictionary_encode()})
    >>> filter_mask(t, [[("x", ">", 2)], [("s", "==", "a"), ("x", "<", 2)]])
    array([ True,  True, False])
    """
    terms: dict = {}  # alternatives often repeat a term
    conjs = []
    for conj in filters:
        keys = []
        for col, op, value in conj:
            key = (col, op, repr(value))
            if key not in terms:
                terms[key] = _term(table.column(col), op, value)
            keys.append(key)
        conjs.append(keys)
    n = table.num_rows
    mask = np.zeros(n, bool)
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n)
        block: dict = {}
        out = mask[start:stop]
        for keys in conjs:
            both = None
            for key in keys:
                if key not in block:
                    block[key] = _block_of(terms[key], start, stop)
                both = block[key] if both is None else both & block[key]
            if both is None:  # no terms: every row
                out[:] = True
            else:
                np.logical_or(out, both, out=out)
    return mask
