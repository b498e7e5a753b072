"""The wheel ships every subpackage of the rooms, and nothing else; shoal works
from a Python started in the checkout root."""

import importlib.util
import os
import subprocess
import sys
import tomllib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOMS = ("core", "array", "dataframe", "bag", "distributed", "backends")


def test_every_subpackage_is_listed_in_pyproject():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    found = {"shoal"}
    for room in ROOMS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, room)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            if "__init__.py" in filenames:
                rel = os.path.relpath(dirpath, ROOT).replace(os.sep, ".")
                found.add("shoal." + rel)
    assert found == listed, f"missing: {sorted(found - listed)}, extra: {sorted(listed - found)}"


# ------------------------------------------------ a Python started in the root
# The root is the package, so the root on sys.path puts the rooms array/ and
# distributed/ ahead of the standard library's array and the distributed
# package; _checkout.py hands those names back (no -P in these runs).


def run_in_root(code: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_shoal_and_the_standard_library_array_from_the_root():
    code = (
        "import shoal.array, shoal.distributed; import array, sys; "
        "print(array.array('i', [1, 2]).tolist(), array.__spec__.origin, "
        "sys.modules['shoal.array'].Array.__module__)"
    )
    out = run_in_root(code)
    assert out.returncode == 0, out.stderr
    values, origin, module = out.stdout.rsplit(" ", 2)
    assert values == "[1, 2]"
    assert origin != os.path.join(ROOT, "array", "__init__.py")  # the standard library's
    assert module.strip() == "shoal.array.core"


def test_the_standard_library_imports_array_before_shoal():
    out = run_in_root("import socket, json; import array; print(array.array, socket.send_fds)")
    assert out.returncode == 0, out.stderr
    assert "<class 'array.array'>" in out.stdout


@pytest.mark.parametrize(
    "first",
    ["importlib.metadata", "email.utils, urllib.request, http.server", "numpy.testing", "pytest"],
)
def test_standard_modules_that_import_array_half_way_work_from_the_root(first):
    """These import ``array`` while they are themselves half imported: the
    room's guard hands over without running any of shoal."""
    code = f"import {first}; import shoal.array as sa; print(sa.ones(3, chunks=2).sum().compute())"
    out = run_in_root(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3.0"


def test_a_small_compute_from_the_root():
    code = "import shoal.array as sa; print(sa.ones(4, chunks=2).sum().compute())"
    out = run_in_root(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "4.0"


def test_distributed_from_the_root_is_the_real_package_or_missing():
    out = run_in_root("import distributed, shoal.distributed; print(distributed.__spec__.origin)")
    if importlib.util.find_spec("distributed") is None:
        assert "No module named 'distributed'" in out.stderr
    else:
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() != os.path.join(ROOT, "distributed", "__init__.py")
    # without site-packages there is no dask.distributed: the usual error, from the room's guard
    out = run_in_root("import distributed", "-S")
    assert out.returncode != 0
    assert "ModuleNotFoundError: No module named 'distributed'" in out.stderr
