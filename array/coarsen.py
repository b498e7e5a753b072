"""``coarsen``: reduce every window of ``factor`` neighbours per axis to one
value (downsampling). Blocks are first cut to multiples of the factors
(a rechunk only where they are not), then each block is reshaped so every
window is its own axis and reduced there, block by block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .blockwise import map_blocks
from .convert import asarray
from .core import Array
from .rechunk import rechunk

__all__ = ["coarsen"]


def _coarsen_block(block: np.ndarray, reduction: Callable, factors: tuple, kwargs: dict) -> Any:
    shape: list = []
    for n, f in zip(block.shape, factors):
        shape += [n // f, f]
    windows = tuple(range(1, 2 * block.ndim, 2))
    return reduction(block.reshape(shape), axis=windows, **kwargs)


def _multiples(axis_chunks: tuple, factor: int) -> tuple:
    """Block lengths along one axis, each a multiple of ``factor``, near the old ones."""
    if all(c % factor == 0 for c in axis_chunks):
        return axis_chunks
    total = sum(axis_chunks)
    size = max(factor, (max(axis_chunks) // factor) * factor)
    full, rest = divmod(total, size)
    return (size,) * full + ((rest,) if rest else ()) or (0,)


def coarsen(
    reduction: Callable,
    x: Any,
    axes: dict,
    trim_excess: bool = False,
    **kwargs: Any,
) -> Array:
    """Reduce windows of ``axes[axis]`` neighbours along each named axis with
    ``reduction(block, axis=...)`` (``np.sum``, ``np.mean``, ``np.max``...).
    An axis that is not a multiple of its factor raises, or with
    ``trim_excess=True`` loses its last elements.

    >>> import numpy as np, shoal.array as sa
    >>> coarsen(np.sum, sa.arange(12, chunks=5), {0: 3}).compute()
    array([ 3, 12, 21, 30])
    """
    x = asarray(x)
    if not isinstance(axes, dict):
        raise TypeError(f"coarsen takes axes as a dict {{axis: factor}}, got {axes!r}")
    factors = [1] * x.ndim
    for axis, factor in axes.items():
        if not isinstance(axis, (int, np.integer)) or not -x.ndim <= axis < x.ndim:
            raise ValueError(f"axis {axis!r} is out of bounds for an array with {x.ndim} axes")
        if not isinstance(factor, (int, np.integer)) or factor < 1:
            raise ValueError(f"coarsening factors must be positive ints, got {factor!r}")
        factors[int(axis) % x.ndim] = int(factor)
    excess = [n % f for n, f in zip(x.shape, factors)]
    if any(excess):
        if not trim_excess:
            raise ValueError(
                f"coarsening factors {tuple(factors)} do not divide the shape {x.shape}; "
                "pass trim_excess=True to drop the remainder"
            )
        x = x[tuple(slice(0, n - e) for n, e in zip(x.shape, excess))]
    x = rechunk(x, tuple(_multiples(c, f) for c, f in zip(x.chunks, factors)))
    probe = reduction(np.ones((1, 1) * max(x.ndim, 1), dtype=x.dtype), axis=(1,), **kwargs)
    chunks = tuple(tuple(c // f for c in cs) for cs, f in zip(x.chunks, factors))
    return map_blocks(
        _coarsen_block,
        x,
        reduction,
        tuple(factors),
        kwargs,
        chunks=chunks,
        dtype=np.asarray(probe).dtype,
        name="coarsen",
    )
