"""Chunks: how an array is cut into blocks.

``chunks`` is a tuple with one entry per axis, each a tuple of block lengths
summing to the axis length: shape ``(5, 4)`` in blocks of 2 rows is
``((2, 2, 1), (4,))``. A length may be ``nan`` when it is only known after
computing (boolean masks); operations that need it say so.

``normalize_chunks`` reads what users write: an int (every axis), a tuple of
ints (one per axis), a tuple of tuples (explicit), a dict ``{axis: spec}``,
``-1``/``None`` (whole axis), ``"auto"`` (blocks of about config
``array.chunk-size`` bytes) and a size in bytes such as ``"64 MB"`` (blocks
of about that size), for the whole array or per axis.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from shoal.core import config
from shoal.core.utils import format_bytes, parse_bytes

__all__ = [
    "normalize_chunks",
    "blockdims_from_blockshape",
    "chunk_offsets",
    "common_chunks",
    "has_unknown",
    "block_slices",
]


def has_unknown(chunks: tuple) -> bool:
    """True if any block length is ``nan``.

    >>> has_unknown(((2, 2),)), has_unknown(((float("nan"),),))
    (False, True)
    """
    return any(isinstance(c, float) and math.isnan(c) for axis in chunks for c in axis)


def blockdims_from_blockshape(shape: Sequence[int], blockshape: Sequence[int]) -> tuple:
    """Explicit chunks from a block shape.

    >>> blockdims_from_blockshape((5, 4), (2, 4))
    ((2, 2, 1), (4,))
    """
    out = []
    for n, b in zip(shape, blockshape):
        out.append(_split(n, b))
    return tuple(out)


def _split(n: int, b: int) -> tuple:
    if isinstance(n, float) and math.isnan(n):
        return (n,)
    if n == 0:
        return (0,)
    b = max(int(b), 1)
    full, rest = divmod(int(n), b)
    return (b,) * full + ((rest,) if rest else ())


def _auto_sizes(shape: tuple, axes: list[int], fixed: dict, itemsize: int, limit: int) -> dict:
    """Sizes for the ``auto`` axes so a block holds about ``limit`` bytes."""
    budget = limit / max(itemsize, 1)
    for size in fixed.values():
        budget /= max(size, 1)
    sizes: dict = {}
    todo = [a for a in axes if shape[a] > 0]
    for a in axes:
        if shape[a] == 0:
            sizes[a] = 0
    # Give axes shorter than their fair share their whole length, then share the rest.
    while todo:
        share = max(budget, 1) ** (1 / len(todo))
        small = [a for a in todo if shape[a] <= share]
        if not small:
            for a in todo:
                sizes[a] = max(int(share), 1)
            break
        for a in small:
            sizes[a] = shape[a]
            budget /= max(shape[a], 1)
            todo.remove(a)
    return sizes


def normalize_chunks(
    chunks: Any,
    shape: Sequence[int],
    dtype: Any = None,
    limit: int | str | None = None,
    previous: tuple | None = None,
) -> tuple:
    """Explicit chunks (tuple of tuples) from any supported spelling.

    ``previous`` (the current chunks) lets dict specs keep axes they do not name.

    >>> normalize_chunks(2, (5, 3))
    ((2, 2, 1), (2, 1))
    >>> normalize_chunks((2, -1), (5, 3))
    ((2, 2, 1), (3,))
    >>> normalize_chunks({0: 4}, (5, 3), previous=((5,), (1, 2)))
    ((4, 1), (1, 2))
    >>> normalize_chunks("auto", (1000, 1000), np.float64, limit="80kB")
    ((100, 100, 100, 100, 100, 100, 100, 100, 100, 100), (100, 100, 100, 100, 100, 100, 100, 100, 100, 100))
    >>> normalize_chunks("800 B", (100, 4), np.float64)  # "auto" with blocks of that many bytes
    ((25, 25, 25, 25), (4,))
    >>> normalize_chunks((-1, "16 B"), (2, 10), np.float64)
    ((2,), (1, 1, 1, 1, 1, 1, 1, 1, 1, 1))
    """
    shape = tuple(shape)
    ndim = len(shape)
    for n in shape:
        if not (isinstance(n, (int, np.integer)) and n >= 0) and not (
            isinstance(n, float) and math.isnan(n)
        ):
            raise ValueError(f"array shapes need non-negative integer lengths, got shape {shape}")
    if chunks is None or (isinstance(chunks, (int, np.integer)) and chunks == -1):
        chunks = (-1,) * ndim
    if isinstance(chunks, str):
        chunks = (chunks,) * ndim
    if isinstance(chunks, (int, np.integer)):
        if chunks <= 0:
            raise ValueError(f"chunks must be positive block lengths, got {chunks}")
        chunks = (int(chunks),) * ndim
    if isinstance(chunks, dict):
        spec = []
        for ax in range(ndim):
            if ax in chunks or ax - ndim in chunks:
                spec.append(chunks.get(ax, chunks.get(ax - ndim)))
            elif previous is not None:
                spec.append(tuple(previous[ax]))
            else:
                spec.append(-1)
        bad = [a for a in chunks if not -ndim <= a < ndim]
        if bad:
            raise ValueError(f"chunks dict names axes {bad} that a {ndim}-d array does not have")
        chunks = tuple(spec)
    if not isinstance(chunks, (tuple, list)):
        raise TypeError(f"chunks must be an int, tuple, dict, 'auto' or None, got {chunks!r}")
    chunks = tuple(chunks)
    if (
        ndim == 1
        and len(chunks) > 1
        and all(isinstance(c, (int, np.integer)) for c in chunks)
        and sum(chunks) == shape[0]
    ):
        chunks = (chunks,)
    if len(chunks) != ndim:
        raise ValueError(
            f"chunks {chunks} have {len(chunks)} entries but the array of shape {shape} has "
            f"{ndim} axes; give one entry per axis"
        )
    chunks, limit = _byte_sizes_to_auto(chunks, limit)
    auto_axes = [i for i, c in enumerate(chunks) if c == "auto"]
    fixed: dict = {}
    out: list = [None] * ndim
    for i, (c, n) in enumerate(zip(chunks, shape)):
        if c == "auto":
            continue
        if c is None or (isinstance(c, (int, np.integer)) and c == -1):
            out[i] = (n,) if not (n == 0) else (0,)
        elif isinstance(c, (int, np.integer)):
            if c <= 0:
                raise ValueError(f"chunks along axis {i} must be positive, got {c}")
            out[i] = _split(n, int(c))
        elif isinstance(c, (tuple, list)):
            c = tuple(int(x) if not (isinstance(x, float) and math.isnan(x)) else x for x in c)
            if any(not (isinstance(x, float) and math.isnan(x)) and x < 0 for x in c):
                raise ValueError(f"chunks along axis {i} must be non-negative, got {c}")
            known = not any(isinstance(x, float) for x in c)
            if known and not (isinstance(n, float)) and sum(c) != n:
                raise ValueError(
                    f"chunks {c} along axis {i} sum to {sum(c)}, but the axis has length {n}"
                )
            out[i] = c if c else (0,)
        else:
            raise TypeError(f"cannot read chunks {c!r} for axis {i}")
        fixed[i] = max(out[i]) if out[i] and not has_unknown((out[i],)) else 1
    if auto_axes:
        if dtype is None:
            raise ValueError("chunks='auto' needs the dtype to size blocks in bytes")
        limit = parse_bytes(limit if limit is not None else config.get("array.chunk-size"))
        sizes = _auto_sizes(shape, auto_axes, fixed, np.dtype(dtype).itemsize, limit)
        for a in auto_axes:
            out[a] = _split(shape[a], sizes[a]) if shape[a] else (0,)
    return tuple(tuple(c) for c in out)


def _byte_sizes_to_auto(chunks: tuple, limit: Any) -> tuple:
    """Axes given as a block size in bytes ("64 MB") become "auto" axes sized
    to it, whatever ``limit`` said: (chunks, limit)."""
    sizes = {c for c in chunks if isinstance(c, str) and c != "auto"}
    if not sizes:
        return chunks, limit
    try:
        parsed = {parse_bytes(c) for c in sizes}
    except ValueError as e:
        raise ValueError(
            f"chunks {chunks} are not understood: {e}; chunks take 'auto', a size in bytes "
            "such as '64 MB', ints or tuples"
        ) from None
    if len(parsed) > 1:
        raise ValueError(f"chunks {chunks} ask for different block sizes in bytes; give one")
    auto = tuple("auto" if isinstance(c, str) else c for c in chunks)
    return auto, parsed.pop()


def chunk_offsets(axis_chunks: Sequence) -> list:
    """Start offset of every block along one axis, plus the total at the end.

    >>> chunk_offsets((2, 2, 1))
    [0, 2, 4, 5]
    """
    return list(itertools.accumulate(axis_chunks, initial=0))


def block_slices(chunks: tuple, index: tuple) -> tuple:
    """The slices of the whole array that block ``index`` covers.

    >>> block_slices(((2, 2, 1), (3,)), (1, 0))
    (slice(2, 4, None), slice(0, 3, None))
    """
    out = []
    for axis_chunks, i in zip(chunks, index):
        start = _cached_offsets(axis_chunks)[i]
        out.append(slice(start, start + axis_chunks[i]))
    return tuple(out)


_OFFSETS: dict = {}  # id(axis chunks) -> (axis chunks, their offsets); a few recent axes


def _cached_offsets(axis_chunks: Sequence) -> list:
    """``chunk_offsets`` of an axis, remembered while a graph is built (block by
    block: recomputing them per block would make building quadratic). The entry
    holds the chunks object itself, so its id cannot be reused while cached."""
    hit = _OFFSETS.get(id(axis_chunks))
    if hit is not None and hit[0] is axis_chunks:
        return hit[1]
    offsets = chunk_offsets(axis_chunks)
    if len(_OFFSETS) >= 64:
        _OFFSETS.clear()
    _OFFSETS[id(axis_chunks)] = (axis_chunks, offsets)
    return offsets


def common_chunks(*axis_chunks: tuple, where: str = "") -> tuple:
    """The coarsest chunks of one axis that refine all the given ones.

    >>> common_chunks((2, 2), (1, 3))
    (1, 1, 2)
    """
    axis_chunks = tuple(tuple(c) for c in axis_chunks)
    if len(set(axis_chunks)) == 1:
        return axis_chunks[0]
    if any(has_unknown((c,)) for c in axis_chunks):
        raise ValueError(
            f"cannot align blocks of unknown length{where}: chunks {axis_chunks}; "
            "call .compute_chunk_sizes() first"
        )
    totals = {sum(c) for c in axis_chunks}
    if len(totals) != 1:
        raise ValueError(f"chunks {axis_chunks} cover different lengths{where}")
    bounds = sorted(set().union(*[chunk_offsets(c) for c in axis_chunks]))
    out = tuple(b - a for a, b in zip(bounds[:-1], bounds[1:]))
    return out or (0,)


def describe_block(chunks: tuple, dtype: Any) -> str:
    """Largest block shape and its size in bytes, for reprs.

    >>> describe_block(((2, 1), (3,)), np.float64)
    '(2, 3) 48 B'
    """
    shape = tuple(max(c) if c and not has_unknown((c,)) else float("nan") for c in chunks)
    size = math.prod(shape) * np.dtype(dtype).itemsize
    text = format_bytes(size) if not math.isnan(size) else "unknown size"
    return f"{shape} {text}"
