"""Compare a dataframe answer of ``queries.py`` with DuckDB's (``sql.py``).

Types are compared as a user compares them: integers as int64 (a year is
int32 in pandas, int64 in SQL), floats as float64 with a relative tolerance
(sums run in another order), strings as strings, dates as nanosecond
timestamps. Rows are compared as multisets (sorted by every column, floats
last), and the dataframe answer must be ordered by the query's ``ORDER BY``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shoal.benchmarks.tpch.sql import SCALAR_QUERIES

# ORDER BY of each query: (column, ascending)
ORDER_BY: dict[int, list[tuple[str, bool]]] = {
    1: [("l_returnflag", True), ("l_linestatus", True)],
    2: [("s_acctbal", False), ("n_name", True), ("s_name", True), ("p_partkey", True)],
    3: [("revenue", False), ("o_orderdate", True)],
    4: [("o_orderpriority", True)],
    5: [("revenue", False)],
    7: [("supp_nation", True), ("cust_nation", True), ("l_year", True)],
    8: [("o_year", True)],
    9: [("nation", True), ("o_year", False)],
    10: [("revenue", False)],
    11: [("value", False)],
    12: [("l_shipmode", True)],
    13: [("custdist", False), ("c_count", False)],
    15: [("s_suppkey", True)],
    16: [("supplier_cnt", False), ("p_brand", True), ("p_type", True), ("p_size", True)],
    18: [("o_totalprice", False), ("o_orderdate", True)],
    20: [("s_name", True)],
    21: [("numwait", False), ("s_name", True)],
    22: [("cntrycode", True)],
}


def as_frame(result, query: int, columns: list[str]) -> pd.DataFrame:
    """A query's answer (lazy or computed, frame or scalar) as a pandas
    DataFrame with a 0-based index."""
    if hasattr(result, "compute"):
        result = result.compute()
    if query in SCALAR_QUERIES and not isinstance(result, pd.DataFrame):
        return pd.DataFrame({columns[0]: [float(result)]})
    return pd.DataFrame(result).reset_index(drop=True)


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_bool_dtype(s.dtype):
            out[c] = s.astype(bool)
        elif pd.api.types.is_integer_dtype(s.dtype):
            out[c] = s.astype("int64")
        elif pd.api.types.is_float_dtype(s.dtype) or isinstance(s.dtype, pd.ArrowDtype):
            out[c] = s.astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[c] = s.astype("datetime64[ns]")
        else:
            out[c] = s.astype(object).map(lambda v: None if v is None or v is pd.NA else str(v))
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


def _sorted_rows(df: pd.DataFrame) -> pd.DataFrame:
    floats = [c for c in df.columns if df[c].dtype == np.float64]
    keys = [c for c in df.columns if c not in floats] + floats
    return df.sort_values(keys, kind="stable").reset_index(drop=True) if keys else df


def check_order(df: pd.DataFrame, query: int, rtol: float = 1e-9) -> None:
    """Raise AssertionError when ``df`` is not ordered by the query's ORDER BY
    (floats that differ by rounding only count as equal)."""
    order = ORDER_BY.get(query)
    if not order or len(df) < 2:
        return
    ties = np.ones(len(df) - 1, dtype=bool)
    for column, ascending in order:
        values = df[column].to_numpy()
        a, b = values[:-1], values[1:]
        if df[column].dtype == np.float64:
            equal = np.isclose(a, b, rtol=rtol, atol=0)
        else:
            equal = a == b
        wrong = (a > b) if ascending else (a < b)
        bad = ties & wrong & ~equal
        assert not bad.any(), (
            f"Q{query}: rows {np.flatnonzero(bad)[:5].tolist()} are not ordered by {order}"
        )
        ties &= equal


def assert_same(got: pd.DataFrame, expected: pd.DataFrame, query: int, rtol: float = 1e-6):
    """Raise AssertionError naming the query when the answers differ."""
    assert list(got.columns) == list(expected.columns), (
        f"Q{query}: columns {list(got.columns)} != DuckDB's {list(expected.columns)}"
    )
    got, expected = _plain(got), _plain(expected)
    for c in got.columns:  # SQL sums integers into HUGEINT, which pandas reads as float
        if {got[c].dtype, expected[c].dtype} == {np.dtype("int64"), np.dtype("float64")}:
            got[c], expected[c] = got[c].astype("float64"), expected[c].astype("float64")
    check_order(got, query)
    assert len(got) == len(expected), f"Q{query}: {len(got)} rows, DuckDB has {len(expected)}"
    pd.testing.assert_frame_equal(
        _sorted_rows(got),
        _sorted_rows(expected),
        check_dtype=True,
        check_exact=False,
        rtol=rtol,
        obj=f"Q{query}",
    )
