"""The ``assert_eq`` checker for arrays: metadata must match computed blocks.

Registered with ``shoal.testing.register_checker`` when ``shoal.array`` is
imported: every block's shape must equal what ``chunks`` says (``nan`` lengths
match anything), every block's dtype must equal ``meta``'s, and blocks must be
of ``meta``'s type.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shoal.core.build import all_block_indices
from shoal.testing import register_checker

from .core import Array

__all__ = ["check_blocks"]


def _at(nested: Any, index: tuple) -> Any:
    for i in index:
        nested = nested[i]
    return nested


@register_checker(Array)
def check_blocks(arr: Array, parts: Any) -> None:
    """Raise AssertionError if a computed block disagrees with the metadata.

    >>> import shoal.array as sa
    >>> x = sa.arange(5, chunks=2)
    >>> check_blocks(x, [np.arange(2), np.arange(2, 4), np.arange(4, 5)])
    """
    meta = arr.meta
    for index in all_block_indices(arr.numblocks):
        block = _at(parts, index) if arr.ndim else parts
        expected = tuple(c[i] for c, i in zip(arr.chunks, index))
        shape = tuple(np.shape(block))
        assert len(shape) == len(expected) and all(
            (isinstance(e, float) and math.isnan(e)) or e == s for e, s in zip(expected, shape)
        ), f"block {index} of {arr.name} has shape {shape}, chunks say {expected}"
        dtype = getattr(block, "dtype", None)
        assert dtype == meta.dtype, (
            f"block {index} of {arr.name} has dtype {dtype}, meta says {meta.dtype}"
        )
        assert isinstance(block, (type(meta), np.generic)), (
            f"block {index} of {arr.name} is a {type(block).__name__}, meta is a "
            f"{type(meta).__name__}"
        )
