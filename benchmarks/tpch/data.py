"""TPC-H tables as plain parquet directories, one per table.

``tpchgen-cli`` (the ``bench`` extra) writes the tables; each file is then
rewritten with the types every system reads alike: decimals as float64,
dates as ``timestamp[ns]``, string views as strings. A table of ``parts``
files (tpchgen's own split) is cut further into ``split`` files each, so a
small scale factor still gives several files per table.
"""

from __future__ import annotations

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


def _number(name: str) -> int:
    digits = "".join(c for c in name if c.isdigit())
    return int(digits) if digits else 0


def generate(scale: float, data_dir: str, parts: int = 1, split: int = 1) -> str:
    """The directory holding one parquet directory per table at ``scale``
    (generated once, then reused)."""
    cli = tpchgen_path()
    if cli is None:
        raise RuntimeError("tpchgen-cli is not installed (pip install 'shoal[bench]')")
    target = os.path.join(data_dir, f"tpch-sf{scale:g}-p{parts}-s{split}")
    if os.path.exists(os.path.join(target, "_done")):
        return target
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    raw = tempfile.mkdtemp(dir=data_dir)
    try:
        command = [cli, "parquet", "-s", f"{scale:g}", "--output-dir", raw]
        if parts > 1:
            command += ["--parts", str(parts)]
        subprocess.run(command, check=True, capture_output=True)
        for table in TABLES:
            out = os.path.join(target, table)
            os.makedirs(out)
            if parts > 1:
                folder = os.path.join(raw, table)
                sources = [os.path.join(folder, n) for n in sorted(os.listdir(folder), key=_number)]
            else:
                sources = [os.path.join(raw, f"{table}.parquet")]
            count = 0
            small = table in ("nation", "region")
            for src in sources:
                count = _convert(src, out, count, 1 if small else split)
    finally:
        shutil.rmtree(raw, ignore_errors=True)
    with open(os.path.join(target, "_done"), "w") as f:
        f.write(f"tpchgen-cli scale {scale:g}\n")
    return target


def table_paths(root: str) -> dict[str, str]:
    """``{table: directory}`` under a directory made by :func:`generate`."""
    return {t: os.path.join(root, t) for t in TABLES}
