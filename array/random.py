"""Random arrays: ``default_rng(seed)`` (NumPy's ``Generator`` API) and, beside
it, NumPy's legacy API: ``RandomState(seed)`` and the module-level functions
on one shared state (``sa.random.normal(...)``, ``randint``, ``seed(s)``...).

What holds for the numbers (the blocks are ``random_blocks.py``'s):

- a seed, the order of calls on its generator and the chunking give the same
  numbers on every scheduler, every run and every machine;
- another chunking gives other numbers: each block is its own stream, which is
  what lets any block (or, for ``random``/``uniform`` floats, any region of a
  block) be drawn again alone, anywhere, so consumers regenerate random inputs
  instead of keeping them. Dask behaves the same way;
- the numbers are not NumPy's for the same seed (NumPy draws one stream for
  the whole array); ``RandomState`` draws each block with NumPy's legacy
  algorithms (MT19937), ``Generator`` with the current ones (PCG64).
"""

from __future__ import annotations

import numbers
import threading
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .blockwise import map_blocks
from .chunks import normalize_chunks
from .convert import asarray, meta_from
from .core import Array
from .expr import ArrayExpr
from .random_blocks import LegacyRandomBlocks, PermutationBlocks, RandomBlocks

__all__ = ["Generator", "RandomState", "default_rng", "seed"]


def _check_scalar(name: str, value: Any) -> Any:
    if isinstance(value, Array) or np.ndim(value) != 0:
        raise TypeError(f"{name} must be a scalar for shoal random arrays, got {value!r}")
    return value


def _seed_sequence(seed: Any) -> np.random.SeedSequence:
    if isinstance(seed, _Drawer):
        return seed._seq
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    if isinstance(seed, np.random.RandomState):
        return np.random.SeedSequence(int(seed.randint(2**62)))
    return np.random.SeedSequence(seed)


class _Drawer:
    """What ``Generator`` and ``RandomState`` share: the seed, the call count
    (each call is its own set of streams) and the making of random arrays."""

    _blocks: ClassVar[type[RandomBlocks]] = RandomBlocks
    _legacy: ClassVar[bool] = False  # True: NumPy's RandomState draws the blocks
    _seq: np.random.SeedSequence

    def __init__(self, seed: Any = None):
        self._seq = _seed_sequence(seed)
        self._calls = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"shoal.array.random.{type(self).__name__}(entropy={self._seq.entropy})"

    def _next_key(self) -> tuple:
        with self._lock:  # arrays made from several threads still get distinct streams
            self._calls += 1
            return (*self._seq.spawn_key, self._calls - 1)

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
        # a zero-size draw checks the parameters (NumPy raises for bad ones) and gives the dtype
        drawer = np.random.RandomState(0) if self._legacy else np.random.default_rng(0)
        probe = np.asarray(getattr(drawer, method)(*args, size=(0,), **kwargs))
        chunks = normalize_chunks(chunks, shape, probe.dtype)
        expr = self._blocks(
            self._seq.entropy,
            self._next_key(),
            method,
            args,
            kwargs,
            chunks,
            meta_from(probe.dtype, len(shape)),
        )
        return Array(expr)

    def standard_normal(self, size: Any = None, dtype: Any = None, chunks: Any = "auto") -> Array:
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
        one = RandomBlocks(
            self._seq.entropy,
            self._next_key(),
            "permutation",
            (n,),
            {},
            ((n,),),
            meta_from(np.int64, 1),
        )
        perm = Array(PermutationBlocks(one))
        perm = perm.rechunk(normalize_chunks(chunks, (n,), np.int64))
        if isinstance(x, numbers.Integral):
            return perm
        return asarray(x)[perm]


class Generator(_Drawer):
    """Draws random arrays block by block with NumPy's ``Generator``
    algorithms (see module docstring).

    >>> rng = default_rng(42)
    >>> x = rng.standard_normal((1000,), chunks=100)
    >>> y = default_rng(42).standard_normal((1000,), chunks=100)
    >>> bool((x == y).all())
    True
    """

    def random(self, size: Any = None, dtype: Any = np.float64, chunks: Any = "auto") -> Array:
        """Floats uniform in [0, 1).

        >>> default_rng(0).random(3, chunks=2).shape
        (3,)
        """
        return self._make("random", size, chunks, dtype=dtype)

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


class RandomState(_Drawer):
    """NumPy's legacy ``RandomState`` API, block by block: each block draws
    with ``numpy.random.RandomState`` from its own stream of ``seed``.

    >>> a = RandomState(0).normal(10, 2, size=(4, 6), chunks=(3, 2))
    >>> b = RandomState(0).normal(10, 2, size=(4, 6), chunks=(3, 2))
    >>> bool((a == b).all().compute()), a.dtype
    (True, dtype('float64'))
    """

    _blocks = LegacyRandomBlocks
    _legacy = True

    def seed(self, seed: Any = None) -> None:
        """Start again from ``seed`` (None: fresh entropy).

        >>> rs = RandomState(1)
        >>> first = rs.random_sample(3, chunks=2).compute()
        >>> rs.seed(1)
        >>> bool((rs.random_sample(3, chunks=2).compute() == first).all())
        True
        """
        self._seq = _seed_sequence(seed)
        with self._lock:
            self._calls = 0

    def standard_normal(self, size: Any = None, chunks: Any = "auto") -> Array:  # type: ignore[override]
        """Draws from N(0, 1) (legacy: no ``dtype``).

        >>> RandomState(0).standard_normal(5, chunks=2).chunks
        ((2, 2, 1),)
        """
        return self._make("standard_normal", size, chunks)

    def random_sample(self, size: Any = None, chunks: Any = "auto") -> Array:
        """Floats uniform in [0, 1).

        >>> x = RandomState(3).random_sample((2, 3), chunks=1).compute()
        >>> x.shape, bool(((0 <= x) & (x < 1)).all())
        ((2, 3), True)
        """
        return self._make("random_sample", size, chunks)

    random = random_sample

    def randint(
        self,
        low: int,
        high: int | None = None,
        size: Any = None,
        dtype: Any = int,
        chunks: Any = "auto",
    ) -> Array:
        """Integers in [low, high) (or [0, low) with one bound).

        >>> x = RandomState(4).randint(3, 7, size=20, chunks=6).compute()
        >>> bool(x.min() >= 3 and x.max() < 7), x.dtype
        (True, dtype('int64'))
        """
        args = (_check_scalar("low", low), _check_scalar("high", high))
        return self._make("randint", size, chunks, args, dtype=dtype)


# name -> ((parameter, default or _REQUIRED, a valid example value), ...): the
# distributions Generator and RandomState both offer, with NumPy's signatures.
_REQUIRED = object()
_DISTRIBUTIONS: dict[str, tuple] = {
    "exponential": (("scale", 1.0, 2.0),),
    "poisson": (("lam", 1.0, 3.0),),
    "binomial": (("n", _REQUIRED, 10), ("p", _REQUIRED, 0.5)),
    "beta": (("a", _REQUIRED, 2.0), ("b", _REQUIRED, 3.0)),
    "gamma": (("shape", _REQUIRED, 2.0), ("scale", 1.0, 1.0)),
    "standard_exponential": (),
    "standard_gamma": (("shape", _REQUIRED, 2.0),),
    "standard_cauchy": (),
    "standard_t": (("df", _REQUIRED, 3.0),),
    "lognormal": (("mean", 0.0, 0.0), ("sigma", 1.0, 1.0)),
    "laplace": (("loc", 0.0, 0.0), ("scale", 1.0, 1.0)),
    "logistic": (("loc", 0.0, 0.0), ("scale", 1.0, 1.0)),
    "gumbel": (("loc", 0.0, 0.0), ("scale", 1.0, 1.0)),
    "geometric": (("p", _REQUIRED, 0.3),),
    "chisquare": (("df", _REQUIRED, 2.0),),
    "noncentral_chisquare": (("df", _REQUIRED, 2.0), ("nonc", _REQUIRED, 1.0)),
    "f": (("dfnum", _REQUIRED, 3.0), ("dfden", _REQUIRED, 4.0)),
    "noncentral_f": (
        ("dfnum", _REQUIRED, 3.0),
        ("dfden", _REQUIRED, 4.0),
        ("nonc", _REQUIRED, 1.0),
    ),
    "weibull": (("a", _REQUIRED, 1.5),),
    "pareto": (("a", _REQUIRED, 3.0),),
    "power": (("a", _REQUIRED, 2.0),),
    "rayleigh": (("scale", 1.0, 1.0),),
    "triangular": (("left", _REQUIRED, 0.0), ("mode", _REQUIRED, 1.0), ("right", _REQUIRED, 3.0)),
    "vonmises": (("mu", _REQUIRED, 0.0), ("kappa", _REQUIRED, 1.0)),
    "wald": (("mean", _REQUIRED, 1.0), ("scale", _REQUIRED, 2.0)),
    "negative_binomial": (("n", _REQUIRED, 5), ("p", _REQUIRED, 0.5)),
    "hypergeometric": (("ngood", _REQUIRED, 5), ("nbad", _REQUIRED, 7), ("nsample", _REQUIRED, 4)),
    "zipf": (("a", _REQUIRED, 2.0),),
    "logseries": (("p", _REQUIRED, 0.5),),
}


def _bind(method: str, params: tuple, args: tuple, kwargs: dict) -> tuple:
    """(parameter values, size, chunks) from a call written as NumPy's
    ``method(*params, size)`` plus shoal's ``chunks``."""
    names = [p[0] for p in params] + ["size", "chunks"]
    if len(args) > len(names):
        raise TypeError(f"{method}() takes at most {len(names)} arguments, got {len(args)}")
    values = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"{method}() got an unexpected keyword argument {key!r}")
        if key in values:
            raise TypeError(f"{method}() got multiple values for argument {key!r}")
        values[key] = value
    out = []
    for name, default, _ in params:
        value = values.get(name, default)
        if value is _REQUIRED:
            raise TypeError(f"{method}() is missing the parameter {name!r}")
        out.append(_check_scalar(name, value))
    return tuple(out), values.get("size"), values.get("chunks", "auto")


def _distribution(method: str, params: tuple, example_of: str) -> Callable[..., Array]:
    def draw(self: _Drawer, *args: Any, **kwargs: Any) -> Array:
        values, size, chunks = _bind(method, params, args, kwargs)
        return self._make(method, size, chunks, values)

    signature = ", ".join([p[0] if p[1] is _REQUIRED else f"{p[0]}={p[1]}" for p in params])
    example = "".join(f"{p[2]!r}, " for p in params)
    draw.__name__ = draw.__qualname__ = method
    draw.__doc__ = (
        f"Draws from ``numpy.random.{example_of}.{method}({signature + ', ' if signature else ''}"
        f"size)``, block by block; ``chunks=`` as everywhere.\n\n"
        f"    >>> {'default_rng' if example_of == 'Generator' else 'RandomState'}(0)"
        f".{method}({example}size=5, chunks=2).chunks\n    ((2, 2, 1),)\n"
    )
    return draw


for _method, _params in _DISTRIBUTIONS.items():
    setattr(Generator, _method, _distribution(_method, _params, "Generator"))
    setattr(RandomState, _method, _distribution(_method, _params, "RandomState"))


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


# ----------------------------------------- the module-level (legacy) functions

_state = RandomState()


def seed(seed: Any = None) -> None:
    """Reseed the state the module-level functions draw from.

    >>> seed(0)
    >>> a = normal(size=4, chunks=3)
    >>> seed(0)
    >>> bool((a == normal(size=4, chunks=3)).all())
    True
    """
    _state.seed(seed)


def _on_state(name: str) -> Callable[..., Array]:
    def call(*args: Any, **kwargs: Any) -> Array:
        return getattr(_state, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    params = _DISTRIBUTIONS.get(name, ())
    example = "".join(f"{p[2]!r}, " for p in params)
    call.__doc__ = (
        f"``RandomState.{name}`` on the module's shared state (``seed`` resets it).\n\n"
        f"    >>> {name}({example if name in _DISTRIBUTIONS else _EXAMPLES.get(name, '')}"
        f"size=3, chunks=2).shape\n    (3,)\n"
    )
    return call


_EXAMPLES = {"randint": "5, ", "choice": "4, ", "uniform": "", "normal": ""}
_MODULE_FUNCTIONS = [
    "random",
    "random_sample",
    "randint",
    "standard_normal",
    "normal",
    "uniform",
    "choice",
    *_DISTRIBUTIONS,
]
for _method in _MODULE_FUNCTIONS:
    globals()[_method] = _on_state(_method)
__all__ += _MODULE_FUNCTIONS


def permutation(x: Any, chunks: Any = "auto") -> Array:
    """``RandomState.permutation`` on the module's shared state.

    >>> sorted(permutation(5, chunks=2).compute().tolist())
    [0, 1, 2, 3, 4]
    """
    return _state.permutation(x, chunks=chunks)


__all__ += ["permutation"]
del _method, _params
