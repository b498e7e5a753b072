"""Random arrays: ``default_rng(seed)`` and its drawing methods.

Each block draws from its own stream: a ``numpy.random.SeedSequence`` made
from the generator's seed, the number of the call on this generator, and the
block's index. Streams do not depend on which worker runs a block, or when,
so a seed and a chunking give the same numbers on every scheduler; and a
block can be drawn again anywhere — which is what lets consumers regenerate
random blocks instead of keeping them (see ``expr.py``). Different chunkings
draw different numbers, as each block is a separate stream.
"""

from __future__ import annotations

import functools
import math
import numbers
import threading
from typing import Any, cast

import numpy as np

from shoal.core.task import Task

from .blockwise import map_blocks
from .chunks import normalize_chunks
from .convert import asarray, meta_from
from .core import Array
from .expr import ArrayExpr, GraphBuilder
from .sources import _shape_region, compose_region, region_shape
from .streaming import streamable_method

__all__ = ["Generator", "default_rng", "RandomBlocks"]


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

    >>> default_rng(0).random(6, chunks=4).expr.explain_text()
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


def _check_scalar(name: str, value: Any) -> Any:
    if isinstance(value, Array) or np.ndim(value) != 0:
        raise TypeError(f"{name} must be a scalar for shoal random arrays, got {value!r}")
    return value


class Generator:
    """Draws random arrays block by block (see module docstring).

    >>> rng = default_rng(42)
    >>> x = rng.standard_normal((1000,), chunks=100)
    >>> y = default_rng(42).standard_normal((1000,), chunks=100)
    >>> bool((x == y).all())
    True
    """

    _seq: np.random.SeedSequence

    def __init__(self, seed: Any = None):
        if isinstance(seed, Generator):
            seed = seed._seq
        if isinstance(seed, np.random.SeedSequence):
            self._seq = seed
        elif isinstance(seed, np.random.Generator):
            self._seq = np.random.SeedSequence(int(seed.integers(2**63)))
        else:
            self._seq = np.random.SeedSequence(seed)
        self._calls = 0

    def __repr__(self) -> str:
        return f"shoal.array.random.Generator(entropy={self._seq.entropy})"

    def _make(
        self,
        method: str,
        size: Any,
        chunks: Any,
        args: tuple = (),
        kwargs: dict | None = None,
        dtype: Any = None,
    ) -> Array:
        if size is None:
            size = ()
        shape = (int(size),) if isinstance(size, numbers.Integral) else tuple(int(n) for n in size)
        if any(n < 0 for n in shape):
            raise ValueError(f"negative dimensions are not allowed: size={shape}")
        kwargs = dict(kwargs or {})
        if dtype is not None:
            kwargs["dtype"] = dtype
        probe = getattr(np.random.default_rng(0), method)(*args, size=(0,), **kwargs)
        chunks = normalize_chunks(chunks, shape, probe.dtype)
        spawn_key = (*self._seq.spawn_key, self._calls)
        self._calls += 1
        expr = RandomBlocks(
            self._seq.entropy,
            spawn_key,
            method,
            args,
            kwargs,
            chunks,
            meta_from(probe.dtype, len(shape)),
        )
        return Array(expr)

    def random(self, size: Any = None, dtype: Any = np.float64, chunks: Any = "auto") -> Array:
        """Floats uniform in [0, 1).

        >>> default_rng(0).random(3, chunks=2).shape
        (3,)
        """
        return self._make("random", size, chunks, dtype=dtype)

    def standard_normal(
        self, size: Any = None, dtype: Any = np.float64, chunks: Any = "auto"
    ) -> Array:
        """Draws from N(0, 1).

        >>> default_rng(0).standard_normal((2, 2), chunks=1).dtype
        dtype('float64')
        """
        return self._make("standard_normal", size, chunks, dtype=dtype)

    def normal(
        self, loc: float = 0.0, scale: float = 1.0, size: Any = None, chunks: Any = "auto"
    ) -> Array:
        """Draws from N(loc, scale**2).

        >>> abs(float(default_rng(1).normal(5, 1, 10_000, chunks=1000).mean()) - 5) < 0.1
        True
        """
        args = (_check_scalar("loc", loc), _check_scalar("scale", scale))
        return self._make("normal", size, chunks, args)

    def uniform(
        self, low: float = 0.0, high: float = 1.0, size: Any = None, chunks: Any = "auto"
    ) -> Array:
        """Floats uniform in [low, high).

        >>> x = default_rng(2).uniform(-1, 1, 100, chunks=30).compute()
        >>> bool(x.min() >= -1 and x.max() < 1)
        True
        """
        args = (_check_scalar("low", low), _check_scalar("high", high))
        return self._make("uniform", size, chunks, args)

    def integers(
        self,
        low: int,
        high: int | None = None,
        size: Any = None,
        dtype: Any = np.int64,
        endpoint: bool = False,
        chunks: Any = "auto",
    ) -> Array:
        """Integers in [low, high) (or [0, low) with one bound).

        >>> x = default_rng(3).integers(5, size=50, chunks=7).compute()
        >>> bool(x.min() >= 0 and x.max() < 5)
        True
        """
        args = (_check_scalar("low", low), _check_scalar("high", high))
        return self._make("integers", size, chunks, args, {"endpoint": endpoint}, dtype=dtype)

    def exponential(self, scale: float = 1.0, size: Any = None, chunks: Any = "auto") -> Array:
        """Draws from the exponential distribution with mean ``scale``.

        >>> bool((default_rng(4).exponential(2.0, 20, chunks=5) >= 0).all())
        True
        """
        return self._make("exponential", size, chunks, (_check_scalar("scale", scale),))

    def poisson(self, lam: float = 1.0, size: Any = None, chunks: Any = "auto") -> Array:
        """Counts from the Poisson distribution with mean ``lam``.

        >>> default_rng(5).poisson(3.0, 10, chunks=4).dtype
        dtype('int64')
        """
        return self._make("poisson", size, chunks, (_check_scalar("lam", lam),))

    def choice(
        self, a: Any, size: Any = None, replace: bool = True, p: Any = None, chunks: Any = "auto"
    ) -> Array:
        """Samples from ``a`` (an int n means ``arange(n)``; a 1-D NumPy
        array its values), with replacement, optionally weighted by ``p``;
        without replacement through ``permutation``.

        >>> x = default_rng(6).choice(np.array([10, 20]), size=8, chunks=3).compute()
        >>> set(x.tolist()) <= {10, 20}
        True
        """
        if isinstance(a, Array):
            raise TypeError("choice takes an int or a NumPy array as population")
        population = np.arange(int(a)) if isinstance(a, numbers.Integral) else np.asarray(a)
        if population.ndim != 1 or population.size == 0:
            raise ValueError("choice needs a non-empty 1-D population (or a positive int)")
        if p is not None:
            p = np.asarray(p, dtype=float)
            if p.shape != population.shape or not np.isclose(p.sum(), 1.0):
                raise ValueError("p must have one probability per item and sum to 1")
        if not replace:
            n = 1 if size is None else int(np.prod(size))
            if n > population.size:
                raise ValueError(
                    f"cannot take {n} samples from {population.size} without replacement"
                )
            if p is not None:
                raise NotImplementedError("weighted sampling without replacement")
            idx = self.permutation(population.size)[:n]
            return Array(_take_values(population, idx)).reshape(() if size is None else size)
        return self._make("choice", size, chunks, (population,), {"p": p})

    def permutation(self, x: Any, chunks: Any = "auto") -> Array:
        """A shuffled ``arange(x)`` (int) or a shuffled copy of an array along
        its first axis. The permutation itself is drawn in one task (8 bytes
        per element), then split into blocks.

        >>> sorted(default_rng(7).permutation(6, chunks=4).compute().tolist())
        [0, 1, 2, 3, 4, 5]
        """
        n = int(x) if isinstance(x, numbers.Integral) else len(x)
        spawn_key = (*self._seq.spawn_key, self._calls)
        self._calls += 1
        one = RandomBlocks(
            self._seq.entropy, spawn_key, "permutation", (n,), {}, ((n,),), meta_from(np.int64, 1)
        )
        perm = Array(_PermutationBlocks(one))
        perm = perm.rechunk(normalize_chunks(chunks, (n,), np.int64))
        if isinstance(x, numbers.Integral):
            return perm
        return asarray(x)[perm]


class _PermutationBlocks(ArrayExpr):
    """The single block of a permutation (drawn without a ``size``)."""

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


def _take_values(population: np.ndarray, idx: Array) -> ArrayExpr:
    return map_blocks(_take, idx, population, dtype=population.dtype).expr


def _take(idx: np.ndarray, population: np.ndarray) -> np.ndarray:
    return population[idx]


def default_rng(seed: Any = None) -> Generator:
    """A ``Generator`` seeded like ``numpy.random.default_rng``.

    >>> default_rng(0).random((4, 4), chunks=2).numblocks
    (2, 2)
    """
    return Generator(seed)
