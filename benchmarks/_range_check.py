"""A written output checked against DuckDB's answer one key range at a time.

A join of two large tables, checked whole, makes DuckDB build (and spill)
the whole join: at TPC-H SF100 that ran out of disk. Here the key's span
``[lo, hi]`` is cut into ranges of equal width, few enough rows each that
DuckDB joins a range in memory, and each range is compared as a multiset:
its row count and the sum of a hash of every row (each column cast to one
type, so a timestamp's unit or an integer's width does not count).

- The output's digests come from one pass over its files, grouped by range
  (a handful of groups: bounded memory, no spill, any file order).
- The expected digests come from one DuckDB join per range, both sides
  filtered to the range first (row-group statistics skip the rest of files
  written in key order), or, for a single table, from one grouped pass.
- Keys below ``lo``, above ``hi`` or null are ranges of their own: a row
  there that DuckDB does not have is named like any other mismatch.

    >>> ranges = KeyRanges(lo=1, hi=100, count=4)
    >>> ranges.bounds(1), ranges.label(4)
    ((26, 50), 'k > 100')
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass

#: rows of the larger input per range: a range's join stays well inside
#: DuckDB's ``memory_limit`` below and is a small fraction of a large table
ROWS_PER_RANGE = 5_000_000
BELOW, NULL = -1, None


def connect(memory_limit: str = "3GB", temp_limit: str = "8GB"):
    """A DuckDB connection that leaves memory to the systems measured and
    bounds its spill on disk (``temp_directory``, ``max_temp_directory_size``)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{tempfile.gettempdir()}/shoal-bench-duckdb'")
    con.execute(f"SET max_temp_directory_size = '{temp_limit}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


@dataclass(frozen=True)
class KeyRanges:
    """``count`` ranges of equal width covering the keys ``lo..hi``."""

    lo: int
    hi: int
    count: int
    key: str = "k"

    @classmethod
    def covering(cls, lo: int, hi: int, rows: int, key: str, per_range: int = ROWS_PER_RANGE):
        """Ranges of about ``per_range`` of ``rows`` each over ``lo..hi``."""
        if hi < lo or per_range < 1:
            raise ValueError(f"no ranges of {per_range} rows over the keys {lo}..{hi}")
        count = min(hi - lo + 1, max(1, math.ceil(rows / per_range)))
        return cls(lo, hi, count, key)

    @property
    def width(self) -> int:
        return -(-(self.hi - self.lo + 1) // self.count)

    def bounds(self, i: int) -> tuple[int, int]:
        """The keys of range ``i`` (both ends included)."""
        start = self.lo + i * self.width
        return start, min(self.hi, start + self.width - 1)

    def bucket_sql(self, column: str) -> str:
        """The range number of ``column``: -1 below ``lo``, ``count`` above ``hi``."""
        return (
            f"CASE WHEN {column} < {self.lo} THEN {BELOW} WHEN {column} > {self.hi}"
            f" THEN {self.count} ELSE ({column} - {self.lo}) // {self.width} END"
        )

    def label(self, bucket: int | None) -> str:
        if bucket is NULL:
            return f"{self.key} null"
        if bucket == BELOW:
            return f"{self.key} < {self.lo}"
        if bucket == self.count:
            return f"{self.key} > {self.hi}"
        a, b = self.bounds(bucket)
        return f"{self.key} in [{a}, {b}] (range {bucket + 1} of {self.count})"


@dataclass(frozen=True)
class Verdict:
    """Whether the output equals DuckDB's answer, and what was compared."""

    ok: bool
    text: str


def digest_sql(columns: list[str]) -> str:
    """Row count and the sum of a hash of every row of ``columns`` (SQL expressions)."""
    return f"count(*), sum(hash({', '.join(columns)}))"


def grouped_digests(con, relation: str, key: str, columns: list[str], ranges: KeyRanges) -> dict:
    """``{range: (rows, hash sum)}`` of ``relation`` in one pass."""
    rows = con.execute(
        f"SELECT {ranges.bucket_sql(key)} AS r, {digest_sql(columns)} FROM {relation} GROUP BY r"
    ).fetchall()
    return {r: (n, int(h or 0)) for r, n, h in rows}


def join_digests(
    con, left: str, right: str, keys: tuple[str, str], columns: list[str], ranges: KeyRanges
) -> dict:
    """``{range: (rows, hash sum)}`` of ``left JOIN right ON keys``, one range at a time."""
    lk, rk = keys
    out = {}
    for i in range(ranges.count):
        a, b = ranges.bounds(i)
        n, h = con.execute(
            f"SELECT {digest_sql(columns)}"
            f" FROM (SELECT * FROM {left} WHERE {lk} BETWEEN {a} AND {b})"
            f" JOIN (SELECT * FROM {right} WHERE {rk} BETWEEN {a} AND {b}) ON {lk} = {rk}"
        ).fetchone()
        out[i] = (n, int(h or 0))
    return out


def compare(got: dict, want: dict, ranges: KeyRanges, limit: int = 5) -> Verdict:
    """Range by range: every mismatch named (the first ``limit``), or what matched."""
    order = sorted(set(got) | set(want), key=lambda r: (r is NULL, -2 if r is NULL else r))
    bad = []
    for r in order:
        (n, h), (m, g) = got.get(r, (0, 0)), want.get(r, (0, 0))
        if n != m:
            bad.append(f"{ranges.label(r)}: {n:,} rows, DuckDB has {m:,}")
        elif h != g:
            bad.append(f"{ranges.label(r)}: {n:,} rows as DuckDB's but their values differ")
    if bad:
        more = f"; and {len(bad) - limit} more" if len(bad) > limit else ""
        return Verdict(False, f"MISMATCH in {len(bad)} range(s): " + "; ".join(bad[:limit]) + more)
    rows = sum(n for n, _ in want.values())
    plural = "s" if ranges.count > 1 else ""
    text = f"ok ({rows:,} rows in {ranges.count} {ranges.key} range{plural} equal DuckDB's)"
    return Verdict(True, text)
