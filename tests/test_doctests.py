"""Run the runnable example in every public docstring of the package."""

import doctest
import importlib
import pkgutil

import pytest

import shoal


def _modules() -> list[str]:
    names = ["shoal"]
    for info in pkgutil.walk_packages(shoal.__path__, "shoal."):
        if info.name.startswith(("shoal.tests", "shoal.benchmarks", "shoal.examples")):
            continue
        names.append(info.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as e:  # an optional extra that is not installed
        pytest.skip(f"{name}: {e}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
