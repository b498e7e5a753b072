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


def scoped_imports(path: Path, name: str | None = None) -> list[tuple[int, str, str | None]]:
    """(line, absolute module, innermost enclosing function or None at module
    level) for every import in the file, resolved as ``imported_modules`` does."""
    tree = ast.parse(path.read_text(), filename=str(path))
    scope: dict[int, str | None] = {}
    stack: list = [(tree, None)]
    while stack:
        node, func = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            func = node.name
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            scope[node.lineno] = func
        stack.extend((child, func) for child in ast.iter_child_nodes(node))
    return [(line, module, scope.get(line)) for line, module in imported_modules(path, name)]


def test_scoped_imports_helper(tmp_path):
    """The bag/dataframe checker sees where each import is (so it can fail)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import shoal.bag\n"
        "def to_bag():\n    from shoal.bag.frames import dataframe_to_bag\n"
        "def other():\n    from ..bag import core\n"
    )
    found = {(m, f) for _, m, f in scoped_imports(probe, "shoal.dataframe.probe")}
    assert ("shoal.bag", None) in found
    assert ("shoal.bag.frames", "to_bag") in found
    assert ("shoal.bag.core", "other") in found


def test_bag_and_dataframe_meet_only_in_bag_frames():
    """``bag/frames.py`` is the one conversion module: other bag modules never
    import shoal.dataframe, and dataframe modules import shoal.bag only
    lazily, in ``to_bag``, through ``shoal.bag.frames``."""
    found = []
    for path in python_files("bag"):
        if path.name == "frames.py":
            continue
        for line, module, _ in scoped_imports(path):
            if is_under(module, "shoal.dataframe"):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    for path in python_files("dataframe"):
        for line, module, func in scoped_imports(path):
            if not is_under(module, "shoal.bag"):
                continue
            if func != "to_bag" or not is_under(module, "shoal.bag.frames"):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module} (in {func})")
    assert found == []


# ------------------------------------------------ array: one floor, no cycles
#
# The array room's operation families (elementwise, reductions, slicing,
# shape, creation, ...) import each other at module level, each above the
# ones it uses. Below them all is the floor: the expression modules and
# ``convert`` (meta_from, asarray), which import no family. Deferred
# (function-level) imports remain only where ``Array`` methods bind to the
# families (array/core.py) and in the NumPy dispatch module.

ARRAY_FLOOR = ("chunks", "streaming", "expr", "core", "sources", "sharing", "convert")
ARRAY_DEFERRED_OK = ("core.py", "numpy_dispatch.py")


def deferred_imports(path: Path, name: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) for the imports inside functions of the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    inner.add(sub.lineno)
    return [(line, m) for line, m in imported_modules(path, name) if line in inner]


def module_level_imports(path: Path, name: str | None = None) -> list[tuple[int, str]]:
    inner = {line for line, _ in deferred_imports(path, name)}
    return [(line, m) for line, m in imported_modules(path, name) if line not in inner]


def array_module(module: str) -> str | None:
    """The room module "X" of "shoal.array.X" (or of a name inside it); None
    for anything else."""
    parts = module.split(".")
    if parts[:2] != ["shoal", "array"] or len(parts) < 3:
        return None
    return parts[2] if (ROOT / "array" / f"{parts[2]}.py").exists() else None


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph (as a path that ends where it starts), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return []


def array_import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in python_files("array"):
        if path.name == "__init__.py" or path.parent != ROOT / "array":
            continue
        found = {array_module(m) for _, m in module_level_imports(path)}
        graph[path.stem] = {m for m in found if m and m != path.stem}
    return graph


def test_array_layering_checkers_can_fail(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from .shape import stack\n"
        "def f():\n    from .creation import asarray\n    from . import reductions\n"
    )
    name = "shoal.array.probe"
    assert [m for _, m in deferred_imports(probe, name)] == [
        "shoal.array.creation",
        "shoal.array.creation.asarray",
        "shoal.array",
        "shoal.array.reductions",
    ]
    assert "shoal.array.shape" in [m for _, m in module_level_imports(probe, name)]
    assert array_module("shoal.array.creation.asarray") == "creation"
    assert array_module("shoal.array") is None
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert import_cycle({"a": {"b"}, "b": set()}) == []


def test_array_families_never_defer_their_imports():
    found = []
    for path in python_files("array"):
        if path.name in ARRAY_DEFERRED_OK:
            continue
        for line, module in deferred_imports(path):
            if is_under(module, "shoal.array"):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module} inside a function")
    assert found == []


def test_array_floor_imports_no_family():
    graph = array_import_graph()
    assert set(ARRAY_FLOOR) <= set(graph)
    found = [
        f"array/{floor}.py imports array/{m}.py"
        for floor in ARRAY_FLOOR
        for m in sorted(graph[floor])
        if m not in ARRAY_FLOOR
    ]
    assert found == []


def test_array_modules_import_each_other_without_cycles():
    assert import_cycle(array_import_graph()) == []
