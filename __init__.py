"""shoal: parallel collections (blocked arrays, partitioned dataframes, bags)
on task graphs, run by local schedulers or a distributed cluster.

>>> import shoal
>>> shoal.delayed(sum)([1, 2, 3]).compute()
6
"""

# first: importing _checkout installs its finder, so a Python started in the
# checkout root keeps the real top-level array and distributed modules
from shoal import _checkout  # noqa: F401
from shoal.core import config
from shoal.core.annotate import annotate
from shoal.core.base import compute, is_collection, optimize, persist, visualize
from shoal.core.delayed import Delayed, delayed
from shoal.core.diagnostics import Callback, Profiler, ProgressBar, ResourceProfiler
from shoal.core.tokenize import tokenize

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # shoal.datasets needs pandas: imported on first use, so `import shoal` stays light
    if name == "datasets":
        import importlib

        return importlib.import_module("shoal.datasets")
    raise AttributeError(f"module 'shoal' has no attribute {name!r}")


__all__ = [
    "config",
    "annotate",
    "compute",
    "persist",
    "optimize",
    "visualize",
    "is_collection",
    "delayed",
    "Delayed",
    "tokenize",
    "Callback",
    "ProgressBar",
    "Profiler",
    "ResourceProfiler",
]
