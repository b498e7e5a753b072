"""The wheel ships every subpackage of the rooms, and nothing else."""

import os
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOMS = ("core", "array", "dataframe", "bag", "distributed")


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
