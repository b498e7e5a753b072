"""Where the pieces of a rechunk come from: for each new block along an axis,
the old blocks it overlaps and the slice of each it takes; and joining
placed pieces back into one block. Shared by both methods of ``rechunk``
(``rechunk.py`` by tasks, ``rechunk_p2p.py`` between workers).
"""

from __future__ import annotations

import bisect
from typing import Any

from .chunks import chunk_offsets
from .core import join_blocks

__all__ = ["_axis_pieces", "_assemble"]


def _axis_pieces(old: tuple, new: tuple) -> list:
    """For each new block along one axis: [(old block, slice inside it), ...].

    >>> _axis_pieces((2, 2), (1, 3))
    [[(0, slice(0, 1, None))], [(0, slice(1, 2, None)), (1, slice(0, 2, None))]]
    """
    old_off = chunk_offsets(old)
    last = len(old) - 1
    out = []
    start = 0
    for n in new:
        stop = start + n
        k = min(max(bisect.bisect_right(old_off, start) - 1, 0), last)
        if n == 0:
            out.append([(k, slice(start - old_off[k], start - old_off[k]))])
            continue
        pieces = []
        while k <= last and old_off[k] < stop:
            lo = max(start, old_off[k]) - old_off[k]
            hi = min(stop, old_off[k + 1]) - old_off[k]
            if hi > lo:
                pieces.append((k, slice(lo, hi)))
            k += 1
        out.append(pieces)
        start = stop
    return out


def _assemble(nested: Any, ndim: int, axis: int = 0) -> Any:
    if axis == ndim - 1:
        parts = nested
    else:
        parts = [_assemble(n, ndim, axis + 1) for n in nested]
    return parts[0] if len(parts) == 1 else join_blocks(parts, axis)
