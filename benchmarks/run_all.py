"""Run every ``benchmarks/bench_*.py`` script with its default sizes.

Each script runs in its own subprocess (``python -P``, so the repo root's room
folders never shadow the standard library) from the repo root; its output is
printed under a header as it arrives. The exit status is non-zero if any
script failed.

    .venv/bin/python -P benchmarks/run_all.py [-k SUBSTRING]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-k", default="", help="only scripts whose name contains this")
    args = parser.parse_args()
    scripts = sorted(p for p in HERE.glob("bench_*.py") if args.k in p.name)
    failed = []
    for script in scripts:
        print(f"=== {script.name}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-P", str(script)], cwd=HERE.parent)
        elapsed = time.perf_counter() - start
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        print(f"=== {script.name}: {status} in {elapsed:.0f} s\n", flush=True)
        if proc.returncode:
            failed.append(script.name)
    if failed:
        print(f"{len(failed)} of {len(scripts)} benchmarks failed: {', '.join(failed)}")
        return 1
    print(f"all {len(scripts)} benchmarks ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
