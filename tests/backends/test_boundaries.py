"""The backends room's boundaries: it imports core only (never the
collections or shoal.distributed), and Ray, dask and distributed only inside
functions, so ``import shoal.backends`` loads none of them; no other room
imports it (core names its backends as import paths, resolved on first use).
Uses the import checkers of tests/core/test_boundaries.py."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_core_boundaries", Path(__file__).resolve().parents[1] / "core" / "test_boundaries.py"
)
checks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checks)

ENGINES = ("ray", "dask", "distributed")


def engine_imports_at_module_level(room: str) -> list[str]:
    found = []
    for path in checks.python_files(room):
        for line, module, func in checks.scoped_imports(path):
            if func is None and any(checks.is_under(module, e) for e in ENGINES):
                found.append(f"{path.relative_to(checks.ROOT)}:{line} imports {module}")
    return found


def test_checker_sees_module_level_engine_imports(tmp_path, monkeypatch):
    room = tmp_path / "backends"
    room.mkdir()
    (room / "probe.py").write_text(
        "import ray\nfrom distributed import Client\ndef f():\n    import dask\n"
    )
    monkeypatch.setattr(checks, "ROOT", tmp_path)
    assert engine_imports_at_module_level("backends") == [
        "backends/probe.py:1 imports ray",
        "backends/probe.py:2 imports distributed",
        "backends/probe.py:2 imports distributed.Client",
    ]


def test_backends_import_core_only():
    def bad(module):
        return checks.is_under(module, "shoal") and not (
            checks.is_under(module, "shoal.core") or checks.is_under(module, "shoal.backends")
        )

    assert checks.violations("backends", bad) == []


def test_backends_import_engines_lazily():
    assert engine_imports_at_module_level("backends") == []


def test_no_room_imports_backends():
    rooms = ["core", *checks.COLLECTIONS, "distributed"]
    found = []
    for room in rooms:
        found += checks.violations(room, lambda m: checks.is_under(m, "shoal.backends"))
    assert found == []


RUNTIME_CHECK = """
import json, sys
import shoal.backends
from shoal.backends import RayBackend, DaskBackend
RayBackend(max_in_flight=8)
engines = sorted(m for m in sys.modules if m.split(".")[0] in ("ray", "dask", "distributed"))
rooms = sorted(m for m in sys.modules
               if m.startswith(("shoal.array", "shoal.dataframe", "shoal.bag",
                                "shoal.distributed")))
print(json.dumps({"engines": engines, "rooms": rooms}))
"""


def test_import_backends_loads_no_engine():
    out = subprocess.run(
        [sys.executable, "-P", "-c", RUNTIME_CHECK],
        capture_output=True,
        text=True,
        cwd=str(checks.ROOT),
        env={k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")},
        check=True,
    )
    assert json.loads(out.stdout) == {"engines": [], "rooms": []}
