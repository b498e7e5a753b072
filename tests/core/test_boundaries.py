"""Room boundaries: core imports nothing else from shoal and neither numpy nor
pandas; collections never import distributed; distributed never imports the
collections. Checked statically (every import statement, parsed with ast)
and at run time (a fresh interpreter's sys.modules)."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repo root is the shoal package
COLLECTIONS = ("array", "dataframe", "bag")


def python_files(room: str) -> list[Path]:
    return sorted(p for p in (ROOT / room).rglob("*.py") if ".venv" not in p.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["shoal", *parts])


def imported_modules(path: Path, name: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file, relative ones
    resolved; ``from shoal import x`` counts as importing ``shoal.x``.
    ``name`` is the file's module name (default: from its place in the repo)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name or module_name(path)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            out.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return out


def violations(room: str, forbidden) -> list[str]:
    found = []
    for path in python_files(room):
        for line, module in imported_modules(path):
            if forbidden(module):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


def is_under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_import_resolution_helper(tmp_path):
    """The checker itself sees every import form (so the checks can fail)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import shoal.distributed\n"
        "from shoal import distributed\n"
        "from ..distributed.client import Client\n"
        "from . import core\n"
        "def f():\n    import shoal.distributed.worker\n"
    )
    modules = [m for _, m in imported_modules(probe, "shoal.array.probe")]
    assert "shoal.distributed" in modules
    assert "shoal.distributed.client" in modules
    assert "shoal.array.core" in modules
    assert "shoal.distributed.worker" in modules


def test_core_imports_nothing_else_from_shoal():
    def bad(module):
        return is_under(module, "shoal") and not (
            is_under(module, "shoal.core") or module == "shoal"
        )

    assert violations("core", bad) == []


@pytest.mark.parametrize("room", COLLECTIONS)
def test_collections_never_import_distributed(room):
    if not (ROOT / room).is_dir():
        pytest.fail(f"room {room}/ is missing")
    assert violations(room, lambda m: is_under(m, "shoal.distributed")) == []
    assert violations(room, lambda m: is_under(m, "distributed") or is_under(m, "dask")) == []


def test_distributed_never_imports_the_collections():
    def bad(module):
        return any(is_under(module, f"shoal.{room}") for room in COLLECTIONS)

    assert violations("distributed", bad) == []


def test_shipped_code_never_imports_dask():
    """Dask is a test oracle and a benchmark reference only."""
    rooms = ["core", *COLLECTIONS, "distributed"]
    found = []
    for room in rooms:
        found += violations(room, lambda m: is_under(m, "dask") or is_under(m, "distributed"))
    assert found == []


RUNTIME_CHECK = """
import json, sys
import shoal
import shoal.core
import shoal.core.base, shoal.core.config, shoal.core.delayed, shoal.core.dot
import shoal.core.expr, shoal.core.fuse, shoal.core.graph, shoal.core.local
import shoal.core.order, shoal.core.task, shoal.core.tokenize, shoal.core.utils
import shoal.core.diagnostics
# using the core must not pull them in either
value = (shoal.delayed(sum)([1, 2]) + 1).compute()
shoal.tokenize([1, "a", {"b": 2.5}], sum)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in
               ("numpy", "pandas", "pyarrow", "dask", "distributed", "polars", "duckdb"))
rooms = sorted(m for m in sys.modules
               if m.startswith(("shoal.array", "shoal.dataframe", "shoal.bag",
                                "shoal.distributed")))
print(json.dumps({"value": value, "heavy": heavy, "rooms": rooms}))
"""


def test_import_shoal_loads_neither_numpy_nor_pandas():
    out = subprocess.run(
        [sys.executable, "-P", "-c", RUNTIME_CHECK],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env={k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")},
        check=True,
    )
    report = json.loads(out.stdout)
    assert report["value"] == 4
    assert report["heavy"] == []
    assert report["rooms"] == []
