"""TPC-H tables as plain parquet directories, one per table.

``tpchgen-cli`` (the ``bench`` extra) writes the tables; each file is then
rewritten with the types every system reads alike: decimals as float64,
dates as ``timestamp[ns]``, string views as strings. A table of ``parts``
files (tpchgen's own split) is cut further into ``split`` files each, so a
small scale factor still gives several files per table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")


def tpchgen_path() -> str | None:
    """The ``tpchgen-cli`` executable: on ``PATH`` or next to this Python."""
    found = shutil.which("tpchgen-cli")
    if found:
        return found
    beside = os.path.join(os.path.dirname(sys.executable), "tpchgen-cli")
    return beside if os.path.exists(beside) else None


def _plain_schema(schema):
    import pyarrow as pa

    fields = []
    for f in schema:
        t = f.type
        if pa.types.is_decimal(t):
            t = pa.float64()
        elif pa.types.is_date(t):
            t = pa.timestamp("ns")
        elif pa.types.is_string(t) or pa.types.is_large_string(t) or str(t) == "string_view":
            t = pa.string()
        fields.append(pa.field(f.name, t))
    return pa.schema(fields)


def _convert(src: str, dst_dir: str, first: int, split: int) -> int:
    """Rewrite ``src`` as ``split`` files ``part.{first + i}.parquet``."""
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    table = table.cast(_plain_schema(table.schema))
    step = -(-table.num_rows // split) if table.num_rows else 0
    pieces = [table.slice(i * step, step) for i in range(split)] if step else [table]
    for i, piece in enumerate(pieces):
        pq.write_table(
            piece, os.path.join(dst_dir, f"part.{first + i}.parquet"), row_group_size=1_000_000
        )
    return first + len(pieces)


def _done_tables(marker: str) -> set[str]:
    """The tables a finished directory holds (all of them unless its marker lists some)."""
    with open(marker) as f:
        for line in f:
            if line.startswith("tables:"):
                return set(line.split(":", 1)[1].split())
    return set(TABLES)


def _resume(target: str, tables: tuple) -> tuple[int, dict]:
    """``(parts done, files per table)`` of an interrupted generation in
    ``target`` (its ``_progress`` file), files past those counts removed."""
    progress = os.path.join(target, "_progress")
    if not os.path.exists(progress):
        shutil.rmtree(target, ignore_errors=True)
        return 0, dict.fromkeys(tables, 0)
    with open(progress) as f:
        done, counts = json.loads(f.read().splitlines()[-1])
    for table in tables:
        folder = os.path.join(target, table)
        for name in os.listdir(folder):
            if int("".join(c for c in name if c.isdigit()) or 0) >= counts[table]:
                os.remove(os.path.join(folder, name))  # written by the part cut short
    return done, counts


def generate(
    scale: float, data_dir: str, parts: int = 1, split: int = 1, tables: tuple = TABLES
) -> str:
    """The directory holding one parquet directory per table at ``scale``
    (generated once, then reused). With ``parts``, tpchgen writes one part at
    a time and each is rewritten and deleted before the next, so the disk
    holds the rewritten tables and one raw part (SF100 fits beside its
    output), and an interrupted run goes on from its last whole part;
    ``tables`` limits which tables are written."""
    cli = tpchgen_path()
    if cli is None:
        raise RuntimeError("tpchgen-cli is not installed (pip install 'shoal[bench]')")
    target = os.path.join(data_dir, f"tpch-sf{scale:g}-p{parts}-s{split}")
    marker = os.path.join(target, "_done")
    if os.path.exists(marker) and set(tables) <= _done_tables(marker):
        return target
    if os.path.exists(marker):
        shutil.rmtree(target)
    done, counts = _resume(target, tables)
    for table in tables:
        os.makedirs(os.path.join(target, table), exist_ok=True)
    command = [cli, "parquet", "-s", f"{scale:g}", "--tables", ",".join(tables)]
    for part in range(done + 1, parts + 1) if parts > 1 else [None]:
        raw = tempfile.mkdtemp(dir=data_dir)
        try:
            extra = [] if part is None else ["--parts", str(parts), "--part", str(part)]
            subprocess.run(command + extra + ["--output-dir", raw], check=True, capture_output=True)
            for table in tables:
                if part is None:
                    src = os.path.join(raw, f"{table}.parquet")
                else:
                    src = os.path.join(raw, table, f"{table}.{part}.parquet")
                if not os.path.exists(src):  # a small table is written whole by part 1 only
                    continue
                small = table in ("nation", "region")
                out = os.path.join(target, table)
                counts[table] = _convert(src, out, counts[table], 1 if small else split)
        finally:
            shutil.rmtree(raw, ignore_errors=True)
        if part is not None:
            with open(os.path.join(target, "_progress"), "a") as f:
                f.write(json.dumps([part, counts]) + "\n")
    with open(marker, "w") as f:
        f.write(f"tpchgen-cli scale {scale:g}\ntables: {' '.join(tables)}\n")
    return target


def table_paths(root: str) -> dict[str, str]:
    """``{table: directory}`` under a directory made by :func:`generate`."""
    return {t: os.path.join(root, t) for t in TABLES}
