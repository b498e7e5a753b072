"""Row streaming: a fused block reduced in cache-sized pieces of rows.

A reduction's first stage normally builds its whole input block (for a
random array: draws 128 MiB) and then reduces it, so every value makes a
round trip through main memory, and each fresh 128 MiB allocation page-faults.
When the input is made of per-row work (random draws, free sources, and
elementwise operations on them), the partial task instead produces the block
a few hundred KiB of rows at a time (config ``array.piece-size``), reduces
each piece while it is in the CPU cache, and merges the pieces' partial
results with the reduction's own ``combine``. The numbers are the same: a
random block drawn in consecutive pieces from one stream gives exactly the
values of one whole draw (``streamable_method`` lists the methods for which
NumPy guarantees this), and the pieces are merged like blocks of a tree.

A *row plan* describes how to make rows ``[start, start + n)`` of a block.
Plans are tuples, so references to other keys inside them (a stored input,
the mean in ``x - x.mean()``) are resolved by the scheduler before the
partial task runs:

- ``("draw", entropy, spawn_key, method, args, kwargs, shape)``: a random
  block drawn piece by piece from its own stream;
- ``("region", maker, region, args)``: a free source made region by region;
- ``("map", func, kwargs, inputs)``: an elementwise function of input plans;
- ``("rows", block)``: a block that exists whole, sliced by rows;
- ``("whole", value)``: a value passed as is to every piece (a literal, or an
  input broadcast along the rows).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shoal.core import config
from shoal.core.task import Task
from shoal.core.utils import parse_bytes

from .core import join_blocks

__all__ = [
    "piece_rows",
    "streamable_method",
    "stream_partials",
    "open_plan",
    "has_stream",
    "plan_task",
]

config.update_defaults(
    {"array": {"piece-size": "512 KiB"}},
    {
        "array.piece-size": (
            "Bytes of rows a reduction's first stage makes and reduces at once when its "
            "input is per-row work (random draws, sources, elementwise); 0 turns it off."
        )
    },
)

# Methods whose draws of n rows then m rows equal one draw of n + m rows.
# Small integer dtypes are drawn through a buffer local to each call, so not them.
_STREAMABLE = {
    "random",
    "standard_normal",
    "normal",
    "uniform",
    "exponential",
    "poisson",
    "choice",
    "integers",
}


def streamable_method(method: str, kwargs: dict) -> bool:
    """True if ``Generator.<method>`` draws the same values in row pieces.

    >>> streamable_method("random", {}), streamable_method("integers", {"dtype": np.int8})
    (True, False)
    """
    if method not in _STREAMABLE:
        return False
    if method == "integers":
        return np.dtype(kwargs.get("dtype", np.int64)).itemsize >= 4
    return True


def piece_rows(shape: Sequence[int], itemsize: int, target: int | None = None) -> int:
    """Rows per piece for a block of ``shape`` (0: do not stream), for pieces of
    about ``target`` bytes (default: config ``array.piece-size``).

    >>> with config.set({"array.piece-size": "1 KiB"}):
    ...     piece_rows((1000, 4), 8)
    32
    """
    if len(shape) == 0 or shape[0] < 2:
        return 0
    if target is None:
        target = parse_bytes(config.get("array.piece-size"))
    if not target:
        return 0
    row_bytes = math.prod(shape[1:]) * itemsize
    if row_bytes == 0:
        return 0
    rows = max(1, target // row_bytes)
    return rows if rows < shape[0] else 0


def has_stream(plan: tuple) -> bool:
    """True if some work of ``plan`` is done piece by piece (it makes values,
    or computes on them), not only slicing a block that exists whole.

    >>> has_stream(("rows", None)), has_stream(("map", abs, {}, (("rows", None),)))
    (False, True)
    """
    return plan[0] in ("draw", "region", "map")


def _generator(entropy: int, spawn_key: tuple) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=spawn_key))
    )


def open_plan(plan: tuple) -> Callable[[int, int], Any]:
    """A function ``rows(start, n)`` making the plan's rows, to be called with
    consecutive ranges from 0 (random streams only move forward).

    >>> rows = open_plan(("map", np.add, {}, (("rows", np.arange(5)), ("whole", 10))))
    >>> rows(0, 2), rows(2, 3)
    (array([10, 11]), array([12, 13, 14]))
    """
    tag = plan[0]
    if tag == "draw":
        _, entropy, spawn_key, method, args, kwargs, shape = plan
        draw = getattr(_generator(entropy, spawn_key), method)
        rest = tuple(shape[1:])
        return lambda start, n: np.asarray(draw(*args, size=(n, *rest), **kwargs))
    if tag == "region":
        _, maker, region, args = plan
        first, others = region[0], tuple(region[1:])
        base = first.start
        return lambda start, n: maker((slice(base + start, base + start + n, 1), *others), *args)
    if tag == "map":
        _, func, kwargs, inputs = plan
        opened = [open_plan(p) for p in inputs]
        return lambda start, n: func(*[rows(start, n) for rows in opened], **kwargs)
    if tag == "rows":
        block = plan[1]
        return lambda start, n: block[start : start + n]
    if tag == "whole":
        value = plan[1]
        return lambda start, n: value
    raise ValueError(f"unknown row plan {tag!r}")


def _concat_rows(parts: list) -> Any:
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], dict):
        return {k: join_blocks([p[k] for p in parts], 0) for k in parts[0]}
    return join_blocks(parts, 0)


def stream_partials(plan: tuple, rows: int, step: int, specs: tuple) -> tuple:
    """Partial results of several reductions of one block, made ``step`` rows
    at a time: ``specs`` holds ``(chunk, combine, axes, chunk_kwargs,
    combine_kwargs, fan_in)`` per reduction. Pieces are merged by ``combine``
    over the reduced axes (or concatenated when the rows are not reduced),
    ``fan_in`` at a time (the reduction's tree fan-in along the rows, see
    ``shoal.core.tree``), so only a few partials are alive.

    >>> spec = (np.sum, np.sum, (0,), {}, {}, 2)
    >>> stream_partials(("rows", np.arange(10.0)), 10, 3, (spec,))
    (array([45.]),)
    """
    piece = open_plan(plan)
    parts: list = [[] for _ in specs]
    for start in range(0, rows, step):
        block = piece(start, min(step, rows - start))
        for out, (chunk, combine, axes, chunk_kw, combine_kw, fan_in) in zip(parts, specs):
            out.append(chunk(block, axis=axes, keepdims=True, **chunk_kw))
            if 0 in axes and len(out) == fan_in:
                out[:] = [combine(_concat_rows(out), axis=axes, keepdims=True, **combine_kw)]
    results = []
    for out, (_, combine, axes, _, combine_kw, _) in zip(parts, specs):
        merged = _concat_rows(out)
        if 0 in axes and len(out) > 1:
            merged = combine(merged, axis=axes, keepdims=True, **combine_kw)
        results.append(merged)
    return tuple(results)


def plan_task(plan: tuple) -> Any:
    """The task making a whole block from a plan without streamed parts
    (only ``rows``, ``whole`` and ``map``).

    >>> plan_task(("map", abs, {}, (("rows", -2),)))({})
    2
    """
    tag = plan[0]
    if tag in ("rows", "whole"):
        return plan[1]
    if tag == "map":
        _, func, kwargs, inputs = plan
        return Task(func, *[plan_task(p) for p in inputs], **kwargs)
    raise ValueError(f"plan {tag!r} is streamed; open it with open_plan")
