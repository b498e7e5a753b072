"""The reductions under their NumPy names: ``shoal.array.sum``, ``x.max()``...

Bound here and implemented in ``reductions.py``: ``sum``, ``min``, ``max``,
``any`` and ``all`` shadow builtins, so the module that implements them does
not define these names, and this one has no code that could need the builtins.

>>> import shoal.array as sa
>>> int(sa.sum(sa.arange(5, chunks=2))), bool(sa.any(sa.zeros(3, chunks=2)))
(10, False)
"""

from .reductions import NUMPY_NAMED

__all__ = [
    "sum",
    "prod",
    "min",
    "max",
    "any",
    "all",
    "nansum",
    "nanprod",
    "nanmin",
    "nanmax",
    "mean",
    "nanmean",
    "var",
    "nanvar",
    "std",
    "nanstd",
]

sum = NUMPY_NAMED["sum"]
prod = NUMPY_NAMED["prod"]
min = NUMPY_NAMED["min"]
max = NUMPY_NAMED["max"]
any = NUMPY_NAMED["any"]
all = NUMPY_NAMED["all"]
nansum = NUMPY_NAMED["nansum"]
nanprod = NUMPY_NAMED["nanprod"]
nanmin = NUMPY_NAMED["nanmin"]
nanmax = NUMPY_NAMED["nanmax"]
mean = NUMPY_NAMED["mean"]
nanmean = NUMPY_NAMED["nanmean"]
var = NUMPY_NAMED["var"]
nanvar = NUMPY_NAMED["nanvar"]
std = NUMPY_NAMED["std"]
nanstd = NUMPY_NAMED["nanstd"]
