"""Random blocks: the plan nodes behind ``shoal.array.random``.

Each block draws from its own stream: a ``numpy.random.SeedSequence`` made
from the generator's seed, the number of the call on this generator, and the
block's index. Streams do not depend on which worker runs a block, or when,
so a seed and a chunking give the same numbers on every scheduler; and a
block can be drawn again anywhere — which is what lets consumers regenerate
random blocks instead of keeping them (see ``expr.py``). Different chunkings
draw different numbers, as each block is a separate stream.

``RandomBlocks`` draw with ``numpy.random.Generator`` on PCG64 (seekable for
``random``/``uniform``, streamed in row pieces by reductions);
``LegacyRandomBlocks`` draw with ``numpy.random.RandomState`` on MT19937 (the
legacy algorithms: ``randint``, ``random_sample``, Box-Muller normals), whole
blocks at a time.
"""

from __future__ import annotations

import functools
import math
import threading
from typing import Any, cast

import numpy as np

from shoal.core.task import Task

from .expr import ArrayExpr, GraphBuilder
from .sources import _shape_region, compose_region, region_shape
from .streaming import streamable_method

__all__ = ["RandomBlocks", "LegacyRandomBlocks", "PermutationBlocks"]


def _draw(
    entropy: int, spawn_key: tuple, method: str, shape: tuple, args: tuple, kwargs: dict
) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=spawn_key)))
    return np.asarray(getattr(rng, method)(*args, size=shape, **kwargs))


# Methods that turn each 64-bit draw into one float64 value: a region of a
# block can be drawn alone by advancing the block's stream to its first row.
_SEEKABLE = {"random", "uniform"}


_thread_local = threading.local()


def _start_state(entropy: int, spawn_key: tuple) -> tuple:
    """The (state, increment) a block's PCG64 stream starts from."""
    state = np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=spawn_key)).state["state"]
    return state["state"], state["inc"]


class _RegionDraw:
    """``block[region]`` of a seekable block (``region``: positive-step
    slices), drawing only the rows it spans: this thread's generator is set
    to the block's starting state and advanced to the region's first row.
    A callable object, so the task holding it has no arguments to scan."""

    __slots__ = ("start", "method", "args", "kwargs", "shape", "region")

    def __init__(self, start, method, args, kwargs, shape, region):  # noqa: ANN001
        self.start, self.method, self.args = start, method, args
        self.kwargs, self.shape, self.region = kwargs, shape, region

    def __reduce__(self):
        return (
            _RegionDraw,
            (self.start, self.method, self.args, self.kwargs, self.shape, self.region),
        )

    def __call__(self) -> np.ndarray:
        region = self.region
        first, stop, step = region[0].start, region[0].stop, region[0].step or 1
        count = len(range(first, stop, step))
        if count == 0 or any(n == 0 for n in region_shape(region)):
            return np.empty(region_shape(region), dtype=np.float64)
        gen = getattr(_thread_local, "generator", None)
        if gen is None:
            gen = _thread_local.generator = np.random.Generator(np.random.PCG64(0))
        bits = cast(np.random.PCG64, gen.bit_generator)  # made on a PCG64 just above
        bits.state = {
            "bit_generator": "PCG64",
            "state": {"state": self.start[0], "inc": self.start[1]},
            "has_uint32": 0,
            "uinteger": 0,
        }
        rest = self.shape[1:]
        bits.advance(first * math.prod(rest))
        size = ((count - 1) * step + 1, *rest)
        rows = getattr(gen, self.method)(*self.args, size=size, **self.kwargs)
        return rows[(slice(None, None, step), *region[1:])]


class RandomBlocks(ArrayExpr):
    """Blocks drawn by ``Generator.<method>`` from per-block streams.

    >>> import shoal.array as sa
    >>> sa.random.default_rng(0).random(6, chunks=4).expr.explain_text()
    'RandomBlocks: random, chunks=((4, 2),)'
    """

    entropy: int
    spawn_key: tuple
    method: str
    args: tuple
    kwargs: dict
    chunks: tuple
    meta: np.ndarray

    cost = "cheap"

    @property
    def _prefix(self) -> str:
        return self.method.replace("_", "-")

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        shape = tuple(c[i] for c, i in zip(self.chunks, index))
        return Task(
            _draw,
            self.entropy,
            (*self.spawn_key, *index),
            self.method,
            shape,
            self.args,
            self.kwargs,
        )

    @property
    def seekable(self) -> bool:
        """True if any region of a block can be drawn alone (``_draw_region``)."""
        return self.method in _SEEKABLE and self.meta.dtype == np.float64

    def region_draw(self, index: tuple, slices: tuple) -> _RegionDraw | None:
        """A callable drawing ``block[slices]`` alone, for ``slices`` of
        positive-step-1 slices of a seekable block; None otherwise."""
        starts = self.__dict__.setdefault("_starts", {})
        entry = starts.get(index)
        if entry is None:
            shape = tuple(c[i] for c, i in zip(self.chunks, index))
            seek = self.seekable and bool(shape)
            start = _start_state(self.entropy, (*self.spawn_key, *index)) if seek else None
            entry = starts[index] = (shape, start)
        shape, start = entry
        if start is None or len(slices) != len(shape):
            return None
        region = []
        for s, n in zip(slices, shape):
            if type(s) is not slice or s.step not in (None, 1):
                return None
            first, stop, _ = s.indices(n)
            region.append(slice(first, stop, 1))
        return _RegionDraw(start, self.method, self.args, self.kwargs, shape, tuple(region))

    def _sub_block(self, index: tuple, slices: tuple, b: GraphBuilder) -> Any:
        draw = self.region_draw(index, slices)
        if draw is not None:
            return Task(draw)
        shape, start = self.__dict__["_starts"][index]
        simple = all(isinstance(s, (slice, int, np.integer)) for s in slices)
        if start is None or len(slices) != len(shape) or not simple:
            return super()._sub_block(index, slices, b)
        region, flip, drop = compose_region(tuple(slice(0, n) for n in shape), slices, shape)
        draw = _RegionDraw(start, self.method, self.args, self.kwargs, shape, region)
        return Task(_shape_region, Task(draw), flip, drop) if flip or drop else Task(draw)

    def _rows(self, index: tuple, b: GraphBuilder) -> tuple | None:
        if not self.chunks or not streamable_method(self.method, self.kwargs):
            return None
        shape = tuple(c[i] for c, i in zip(self.chunks, index))
        key = (*self.spawn_key, *index)
        return ("draw", self.entropy, key, self.method, self.args, self.kwargs, shape)

    def _explain_args(self) -> str:
        return f"{self.method}, chunks={self.chunks}"


def _draw_legacy(
    entropy: int, spawn_key: tuple, method: str, shape: tuple, args: tuple, kwargs: dict
) -> np.ndarray:
    seq = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    rng = np.random.RandomState(np.random.MT19937(seq))
    return np.asarray(getattr(rng, method)(*args, size=shape, **kwargs))


class LegacyRandomBlocks(RandomBlocks):
    """Blocks drawn by ``numpy.random.RandomState.<method>`` (MT19937) from
    per-block streams: never seeked into or streamed, drawn whole.

    >>> import shoal.array as sa
    >>> sa.random.RandomState(0).randint(5, size=6, chunks=4).expr.explain_text()
    'LegacyRandomBlocks: randint, chunks=((4, 2),)'
    """

    @property
    def seekable(self) -> bool:
        return False

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        shape = tuple(c[i] for c, i in zip(self.chunks, index))
        key = (*self.spawn_key, *index)
        return Task(_draw_legacy, self.entropy, key, self.method, shape, self.args, self.kwargs)

    def _rows(self, index: tuple, b: GraphBuilder) -> tuple | None:
        return None


class PermutationBlocks(ArrayExpr):
    """The single block of a permutation (drawn without a ``size``).

    >>> import shoal.array as sa
    >>> print(sa.random.default_rng(0).permutation(4, chunks=4).expr.explain_text())
    PermutationBlocks
      RandomBlocks: permutation, chunks=((4,),)
    """

    source: RandomBlocks

    @functools.cached_property
    def chunks(self) -> tuple:
        return self.source.chunks

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return self.source.meta

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        s = self.source
        return Task(_draw_permutation, s.entropy, (*s.spawn_key, 0), s.args[0])


def _draw_permutation(entropy: int, spawn_key: tuple, n: int) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=spawn_key)))
    return rng.permutation(n)
