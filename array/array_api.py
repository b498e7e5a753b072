"""The Array API namespace of shoal arrays (``x.__array_namespace__()``), at
the standard's 2025.12 revision, with the ``linalg`` and ``fft`` extensions.

Every name is a shoal function with the standard's signature; the adapters
live by family in ``api_creation``, ``api_dtypes``, ``api_elementwise``,
``api_reductions``, ``api_manipulation``, ``api_search``, ``api_products``,
``api_linalg``, ``api_fft`` and ``api_info``. What stays different from the
standard is listed in docs/array.md ("Array API").

>>> import shoal.array as sa
>>> xp = sa.ones(3, chunks=2).__array_namespace__()
>>> xp.sum(xp.asarray([1, 2, 3], dtype=xp.int8)).dtype
dtype('int64')
"""

from __future__ import annotations

from types import ModuleType, SimpleNamespace

from . import api_fft, api_linalg
from .api_creation import (
    arange,
    asarray,
    empty,
    empty_like,
    eye,
    from_dlpack,
    full,
    full_like,
    linspace,
    meshgrid,
    ones,
    ones_like,
    tril,
    triu,
    zeros,
    zeros_like,
)
from .api_dtypes import DTYPES, astype, can_cast, finfo, iinfo, isdtype, result_type
from .api_elementwise import ELEMENTWISE, clip, round
from .api_info import __array_namespace_info__
from .api_manipulation import (
    broadcast_arrays,
    broadcast_shapes,
    broadcast_to,
    concat,
    expand_dims,
    flip,
    moveaxis,
    permute_dims,
    repeat,
    reshape,
    roll,
    squeeze,
    stack,
    take,
    take_along_axis,
    tile,
    unstack,
)
from .api_products import matmul, matrix_transpose, tensordot, vecdot
from .api_reductions import (
    all,
    any,
    argmax,
    argmin,
    count_nonzero,
    cumulative_prod,
    cumulative_sum,
    diff,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from .api_search import (
    argsort,
    isin,
    nonzero,
    searchsorted,
    sort,
    unique_all,
    unique_counts,
    unique_inverse,
    unique_values,
    where,
)
from .core import Array
from .padding import pad
from .sliding import sliding_window_view

__array_api_version__ = "2025.12"

e = 2.718281828459045
inf = float("inf")
nan = float("nan")
pi = 3.141592653589793
newaxis = None

bool = DTYPES["bool"]  # noqa: A001 - the standard's name
int8, int16, int32, int64 = DTYPES["int8"], DTYPES["int16"], DTYPES["int32"], DTYPES["int64"]
uint8, uint16 = DTYPES["uint8"], DTYPES["uint16"]
uint32, uint64 = DTYPES["uint32"], DTYPES["uint64"]
float32, float64 = DTYPES["float32"], DTYPES["float64"]
complex64, complex128 = DTYPES["complex64"], DTYPES["complex128"]

globals().update(ELEMENTWISE)  # abs, acos, add, ... (bound from one table)

linalg: ModuleType = api_linalg
fft: ModuleType = api_fft

# NumPy names outside the standard that xarray reads from an array's namespace
# (``rolling`` pads, then takes ``xp.lib.stride_tricks.sliding_window_view``).
lib = SimpleNamespace(stride_tricks=SimpleNamespace(sliding_window_view=sliding_window_view))

__all__ = [
    "Array",
    "__array_api_version__",
    "__array_namespace_info__",
    "all",
    "any",
    "arange",
    "argmax",
    "argmin",
    "argsort",
    "asarray",
    "astype",
    "bool",
    "broadcast_arrays",
    "broadcast_shapes",
    "broadcast_to",
    "can_cast",
    "clip",
    "complex64",
    "complex128",
    "concat",
    "count_nonzero",
    "cumulative_prod",
    "cumulative_sum",
    "diff",
    "e",
    "empty",
    "empty_like",
    "expand_dims",
    "eye",
    "fft",
    "finfo",
    "flip",
    "float32",
    "float64",
    "from_dlpack",
    "full",
    "full_like",
    "iinfo",
    "inf",
    "int8",
    "int16",
    "int32",
    "int64",
    "isdtype",
    "isin",
    "linalg",
    "linspace",
    "matmul",
    "matrix_transpose",
    "max",
    "mean",
    "meshgrid",
    "min",
    "moveaxis",
    "nan",
    "newaxis",
    "nonzero",
    "ones",
    "ones_like",
    "permute_dims",
    "pi",
    "prod",
    "repeat",
    "reshape",
    "result_type",
    "roll",
    "round",
    "searchsorted",
    "sort",
    "squeeze",
    "stack",
    "std",
    "sum",
    "take",
    "take_along_axis",
    "tensordot",
    "tile",
    "tril",
    "triu",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
    "unstack",
    "var",
    "vecdot",
    "where",
    "zeros",
    "zeros_like",
    "pad",
    "lib",
    *ELEMENTWISE,
]
