"""Parquet filters: DNF ``filters=`` checks, pruning by hive values and
row-group statistics, and predicate pushdown (turning a boolean Series
expression over a ``ReadParquet`` into ``filters=``).

``filters`` are a list of ``(column, op, value)`` tuples (AND) or a list of
such lists (OR). A file or row group is skipped only when its hive values or
min/max statistics prove that no row can match; rows are filtered exactly
while reading (``parquet_part.py``). Only comparisons that mean the same in
pandas and in parquet filters are pushed: ``> >= < <= ==`` and ``isin`` of
literals castable exactly to the column's type (``!=`` keeps missing values
in pandas but not in parquet filters, so it stays a pandas filter).
"""

from __future__ import annotations

import datetime
import operator

import numpy as np
import pandas as pd
import pyarrow as pa

from shoal.dataframe.accessors import _accessor_call, _accessor_get
from shoal.dataframe.expr import MapPartitions, Projection, call_method

COMPARISONS = {
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _normalize_filters(filters) -> list[list[tuple]] | None:
    if not filters:
        return None
    if isinstance(filters[0], tuple):
        filters = [filters]
    out = []
    for conj in filters:
        terms = []
        for term in conj:
            if not (isinstance(term, tuple) and len(term) == 3):
                raise ValueError(f"filters: expected (column, op, value) tuples, got {term!r}")
            col, op, value = term
            if op not in COMPARISONS and op not in ("in", "not in"):
                raise ValueError(f"filters: unknown operator {op!r} in {term!r}")
            terms.append((col, op, value))
        out.append(terms)
    return out


def _kind_of_type(typ: pa.DataType) -> str:
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if pa.types.is_boolean(typ):
        return "bool"
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return "number"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or str(typ) == "string_view":
        return "text"
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        return "time"
    return "other"


def _kind_of_value(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.number)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (datetime.date, np.datetime64)):
        return "time"
    return "other"


def _check_filter_values(filters: list, schema: pa.Schema) -> None:
    """Raise (before anything runs) when a filter compares a column with a
    value of another kind, e.g. numbers with text.

    >>> _check_filter_values([[("a", ">", "x")]], pa.schema([("a", pa.int64())]))
    Traceback (most recent call last):
    ...
    TypeError: filters: ('a', '>', 'x') compares column 'a' of type int64 with str 'x'
    """
    for conj in filters:
        for col, op, value in conj:
            kind = _kind_of_type(schema.field(col).type)
            values = value if op in ("in", "not in") else [value]
            if op in ("in", "not in") and not isinstance(value, (list, tuple, set)):
                raise TypeError(f"filters: {(col, op, value)!r} needs a list of values")
            for v in values:
                got = _kind_of_value(v)
                if v is not None and "other" not in (kind, got) and got != kind:
                    raise TypeError(
                        f"filters: {(col, op, value)!r} compares column {col!r} of type "
                        f"{schema.field(col).type} with {type(v).__name__} {v!r}"
                    )


def _may_match(op: str, value, lo, hi) -> bool:
    """Whether a value range [lo, hi] can hold a row with ``x op value``."""
    try:
        if op in ("==", "="):
            return lo <= value <= hi
        if op == "<":
            return lo < value
        if op == "<=":
            return lo <= value
        if op == ">":
            return hi > value
        if op == ">=":
            return hi >= value
        if op == "in":
            return any(lo <= v <= hi for v in value)
    except TypeError:
        return True
    return True


def _stats(footer, rg: int) -> dict:
    out = {}
    group = footer.row_group(rg)
    for j in range(group.num_columns):
        col = group.column(j)
        st = col.statistics
        if st is not None and st.has_min_max:
            out[col.path_in_schema] = (st.min, st.max, st.null_count)
    return out


def _file_may_match(filters, hive_values: dict) -> bool:
    """Whether a file with these hive values may hold matching rows."""
    for conj in filters:
        ok = True
        for col, op, value in conj:
            if col in hive_values:
                v = hive_values[col]
                if v is None or not _eval_op(op, v, value):
                    ok = False
                    break
        if ok:
            return True
    return False


def _row_group_may_match(filters, stats: dict, nrows: int, hive_values: dict) -> bool:
    """Whether a row group of ``nrows`` rows may hold matching rows, by its
    min/max statistics (``_stats``)."""
    for conj in filters:
        ok = True
        for col, op, value in conj:
            if col in hive_values:
                continue
            if col in stats:
                lo, hi, nulls = stats[col]
                if nulls == nrows or not _may_match(op, value, lo, hi):
                    ok = False
                    break
        if ok:
            return True
    return False


def _eval_op(op: str, left, right) -> bool:
    if op == "in":
        return left in right
    if op == "not in":
        return left not in right
    try:
        return bool(COMPARISONS[op](left, right))
    except TypeError:
        return True


def _and_filters(a, b):
    if not a:
        return b
    return [x + y for x in a for y in b]


_PUSHABLE = {
    operator.gt: ">",
    operator.ge: ">=",
    operator.lt: "<",
    operator.le: "<=",
    operator.eq: "==",
}


def _is_column_of(expr, reader) -> str | None:
    if (
        isinstance(expr, Projection)
        and expr.frame._name == reader._name
        and isinstance(expr.columns_, str)
        and expr.columns_ in reader.dataset.full_schema.names
    ):
        return expr.columns_
    return None


def _literal(value) -> bool:
    return (
        isinstance(value, (int, float, str, pd.Timestamp))
        and not isinstance(value, bool)
        and value == value
    )


def _predicate_to_filters(pred, reader):
    """DNF ``filters=`` equivalent to a boolean Series expression, or None."""
    if not isinstance(pred, MapPartitions):
        return None
    func, args = pred.func, pred.args
    if func in (operator.and_, operator.or_) and len(args) == 2:
        left = _predicate_to_filters(args[0], reader)
        right = _predicate_to_filters(args[1], reader)
        if left is None or right is None:
            return None
        return _and_filters(left, right) if func is operator.and_ else left + right
    if func in _PUSHABLE and len(args) == 2 and not pred.kwargs:
        col = _is_column_of(args[0], reader)
        value = _as_column_literal(args[1], reader, col)
        if value is not _NOT_PUSHABLE:
            return [[(col, _PUSHABLE[func], value)]]
    if func is call_method and pred.kwargs.get("_method") == "isin" and len(args) == 2:
        col = _is_column_of(args[0], reader)
        values = args[1]
        if col is not None and isinstance(values, (list, tuple)) and values:
            cast = [_as_column_literal(v, reader, col) for v in values]
            if all(v is not _NOT_PUSHABLE for v in cast):
                return [[(col, "in", cast)]]
    return None


def _and_parts(pred) -> list:
    """The operands of a chain of ``&`` (the predicate itself if it is none)."""
    if isinstance(pred, MapPartitions) and pred.func is operator.and_ and len(pred.args) == 2:
        return _and_parts(pred.args[0]) + _and_parts(pred.args[1])
    return [pred]


# pandas methods whose every output row depends on its input row alone
_ROW_METHODS = frozenset(
    {"isin", "between", "abs", "isna", "notna", "isnull", "notnull", "astype", "round"}
    | {"__neg__", "__invert__"}
)


def _row_by_row(node) -> bool:
    """Whether a ``MapPartitions`` node computes each row from that row
    alone (operators, a few methods, ``.str``/``.dt``), so it gives the same
    rows whether or not others were dropped before it."""
    from shoal.dataframe.collection import _reverse

    func = node.func
    if func is _reverse:
        func = node.kwargs.get("op")
    if getattr(func, "__module__", None) == "_operator":  # the operator module
        return True
    if func is call_method:
        return node.kwargs.get("_method") in _ROW_METHODS
    if func is _accessor_call or func is _accessor_get:
        return node.args[1] in ("str", "dt")
    return False


def _partial_filters(pred, reader) -> list[tuple]:
    """The ``(column, op, value)`` terms of those parts of an ``&`` chain
    that push down as plain conjunctions; a row failing one fails the whole
    predicate, so reading only the rows they keep changes no answer."""
    terms = []
    for part in _and_parts(pred):
        filters = _predicate_to_filters(part, reader)
        if filters is not None and len(filters) == 1:
            terms += [t for t in filters[0] if t not in terms]
    return terms


_NOT_PUSHABLE = object()


def _as_column_literal(value, reader, col):
    """``value`` as parquet filters compare it with column ``col`` the way
    pandas would (e.g. a date string against timestamps), or
    ``_NOT_PUSHABLE`` when the comparison cannot be pushed exactly."""
    if col is None or not _literal(value):
        return _NOT_PUSHABLE
    typ = reader.dataset.full_schema.field(col).type
    is_text = pa.types.is_string(typ) or pa.types.is_large_string(typ) or str(typ) == "string_view"
    if isinstance(value, str):
        if is_text:
            return value
        if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
            try:
                return pd.Timestamp(value).to_pydatetime()
            except (ValueError, TypeError):
                return _NOT_PUSHABLE
        return _NOT_PUSHABLE
    if is_text:
        return _NOT_PUSHABLE
    if isinstance(value, pd.Timestamp):
        if not (pa.types.is_timestamp(typ) or pa.types.is_date(typ)):
            return _NOT_PUSHABLE
        return value.to_pydatetime()
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return value
    return _NOT_PUSHABLE


# ------------------------------------------------------------- selectivity

# shares of rows assumed to match when statistics cannot tell more
_DEFAULT_EQUAL = 0.1
_DEFAULT_RANGE = 1 / 3


def _as_number(value) -> float | None:
    """A comparable number for interpolating within [min, max], or None."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | float | np.number):
        return float(value)
    if isinstance(value, datetime.datetime):
        return pd.Timestamp(value).value / 1e9
    if isinstance(value, datetime.date):
        return float(value.toordinal()) * 86400
    if isinstance(value, pd.Timestamp):
        return value.value / 1e9
    return None


def _equal_share(value, lo, hi, present: int) -> float:
    if not _may_match("==", value, lo, hi):
        return 0.0
    if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool):
        share = 1.0 / (hi - lo + 1)  # at most this many distinct integers
    elif lo == hi:
        share = 1.0
    else:
        share = _DEFAULT_EQUAL
    return max(share, 1.0 / max(present, 1))


def _range_share(op: str, value, lo, hi) -> float:
    if not _may_match(op, value, lo, hi):
        return 0.0
    v, a, b = _as_number(value), _as_number(lo), _as_number(hi)
    if v is None or a is None or b is None:
        return _DEFAULT_RANGE
    if b <= a:
        return 1.0
    below = min(max((v - a) / (b - a), 0.0), 1.0)
    return below if op in ("<", "<=") else 1.0 - below


def _term_share(op: str, value, stats: tuple | None, nrows: int) -> float:
    """The share of a row group's rows matching ``column op value``,
    assuming values spread evenly between the column's min and max."""
    if stats is None:
        base = {"==": _DEFAULT_EQUAL, "=": _DEFAULT_EQUAL, "in": _DEFAULT_EQUAL}.get(op)
        if op == "in":
            return min(1.0, _DEFAULT_EQUAL * len(value))
        if op in ("!=", "not in"):
            return 1.0 - _DEFAULT_EQUAL
        return base if base is not None else _DEFAULT_RANGE
    lo, hi, nulls = stats
    present = max(nrows - (nulls or 0), 0)
    valid = present / nrows if nrows else 0.0
    if op in ("==", "="):
        share = _equal_share(value, lo, hi, present)
    elif op == "!=":
        share = 1.0 - _equal_share(value, lo, hi, present)
    elif op in ("in", "not in"):
        share = min(1.0, sum(_equal_share(v, lo, hi, present) for v in value))
        share = 1.0 - share if op == "not in" else share
    else:
        share = _range_share(op, value, lo, hi)
    return share * valid


def row_group_selectivity(filters, footer, rg: int, hive_values: dict) -> float:
    """The estimated share of a row group's rows that DNF ``filters`` keep,
    from its min/max and null counts (0 when they prove none match; terms
    multiply, alternatives combine as independent events).

    >>> import io, pyarrow.parquet as pq
    >>> buf = io.BytesIO()
    >>> pq.write_table(pa.table({"x": list(range(100))}), buf)
    >>> footer = pq.ParquetFile(buf).metadata
    >>> round(row_group_selectivity([[("x", "<", 25)]], footer, 0, {}), 2)
    0.25
    >>> row_group_selectivity([[("x", ">", 500)]], footer, 0, {})
    0.0
    """
    if not filters:
        return 1.0
    stats = _stats(footer, rg)
    nrows = footer.row_group(rg).num_rows
    missing = 1.0
    for conj in filters:
        share = 1.0
        for col, op, value in conj:
            if col in hive_values:
                v = hive_values[col]
                share *= 0.0 if v is None or not _eval_op(op, v, value) else 1.0
                continue
            share *= _term_share(op, value, stats.get(col), nrows)
        missing *= 1.0 - share
    return 1.0 - missing
