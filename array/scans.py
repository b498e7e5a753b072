"""Cumulative sums and products along an axis, carrying block prefixes.

Each block is scanned on its own (the input block fused into that task);
then the carries (the total of all blocks before each one) are made from the
last slice of every scanned block, and each output block is its scan combined
with its carry. Memory: one block and one slice per task.

Two ways to make the carries (``method=``):

- ``"sequential"`` (default): a chain along the axis, carry k = carry k-1 +
  total of block k-1: the fewest tasks (m - 1 for m blocks), m - 1 deep;
- ``"blelloch"``: Blelloch's work-efficient parallel prefix scan, an up-sweep
  of pairwise totals then a down-sweep handing prefixes back down: at most
  2m combines, 2 log2(m) deep, so long axes of many blocks finish sooner on
  many workers::

      totals   t0   t1   t2   t3
      up          t01       t0123        (pairs, then pairs of pairs)
      down     -    t0   t01  t012      (carry of each block)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from shoal.core.build import BlockExpr, all_block_indices
from shoal.core.task import Ref, Task

from .chunks import has_unknown
from .convert import asarray, meta_from
from .core import Array
from .expr import ArrayExpr, GraphBuilder
from .reductions import normalize_axis, probe_dtype

__all__ = ["cumsum", "cumprod", "nancumsum", "nancumprod", "Cumulative"]


class Cumulative(ArrayExpr):
    """Cumulative sum/product along ``axis``: each block is scanned locally,
    then the running total of the blocks before it (the carry) is applied."""

    child: ArrayExpr
    func: Callable
    combine: Callable
    axis: int
    meta: np.ndarray
    prefix: str
    method: str = "sequential"

    @property
    def _prefix(self) -> str:
        return self.prefix

    @functools.cached_property
    def chunks(self) -> tuple:
        return self.child.chunks

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _scan_key(self, index: tuple) -> tuple:
        return (self.stage_name("scan"), *index)

    def _carry_key(self, index: tuple) -> tuple:
        return (self.stage_name("carry"), *index)

    def _extra_layer(self, b: GraphBuilder) -> dict:
        layer: dict = {}
        dtype = self.dtype
        for index in all_block_indices(self.numblocks):
            block = b.input(self, self.child, index)
            layer[self._scan_key(index)] = Task(self.func, block, axis=self.axis, dtype=dtype)
            k = index[self.axis]
            if k > 0 and self.method == "sequential":
                before = list(index)
                before[self.axis] = k - 1
                prev = tuple(before)
                carry_prev = Ref(self._carry_key(prev)) if k > 1 else None
                layer[self._carry_key(index)] = Task(
                    _next_carry, carry_prev, Ref(self._scan_key(prev)), self.axis, self.combine
                )
        if self.method == "blelloch":
            self._blelloch_layer(layer)
        return layer

    def _blelloch_layer(self, layer: dict) -> None:
        """Carries by Blelloch's up-sweep and down-sweep (see module docstring),
        for every line of blocks along the axis; ``None`` stands for "nothing
        before", so no task combines with it."""
        m = self.numblocks[self.axis]
        size = 1 << max(m - 1, 0).bit_length()
        lines = {
            tuple(i for a, i in enumerate(idx) if a != self.axis)
            for idx in all_block_indices(self.numblocks)
        }
        for line in lines:

            def at(k: int, line: tuple = line) -> tuple:
                return (*line[: self.axis], k, *line[self.axis :])

            step = [0]

            def combined(left: Any, right: Any, line: tuple = line, step: list = step) -> Any:
                if left is None or right is None:
                    return right if left is None else left
                step[0] += 1
                key = (self.stage_name("sweep"), *line, step[0])
                layer[key] = Task(_combine_carries, left, right, self.combine)
                return Ref(key)

            node: list = [
                Task(_last_slice, Ref(self._scan_key(at(k))), self.axis) if k < m else None
                for k in range(size)
            ]
            for k in range(m):  # the totals, as tasks of their own
                key = (self.stage_name("total"), *line, k)
                layer[key] = node[k]
                node[k] = Ref(key)
            d = 1
            while d < size:
                for right in range(2 * d - 1, size, 2 * d):
                    node[right] = combined(node[right - d], node[right])
                d *= 2
            node[size - 1] = None
            d = size // 2
            while d >= 1:
                for right in range(2 * d - 1, size, 2 * d):
                    left_total = node[right - d]
                    node[right - d] = node[right]
                    node[right] = combined(node[right], left_total)
                d //= 2
            for k in range(1, m):
                layer[self._carry_key(at(k))] = node[k]

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        carry = Ref(self._carry_key(index)) if index[self.axis] > 0 else None
        return Task(_apply_carry, Ref(self._scan_key(index)), carry, self.combine)


def _next_carry(carry: Any, scanned: np.ndarray, axis: int, combine: Callable) -> Any:
    n = scanned.shape[axis]
    if n == 0:
        return carry
    last = np.take(scanned, [n - 1], axis=axis)
    return last if carry is None else combine(carry, last)


def _last_slice(scanned: np.ndarray, axis: int) -> Any:
    n = scanned.shape[axis]
    return np.take(scanned, [n - 1], axis=axis) if n else None


def _combine_carries(before: Any, after: Any, combine: Callable) -> Any:
    if before is None or after is None:  # a block of length 0 has no total
        return after if before is None else before
    return combine(before, after)


def _apply_carry(scanned: np.ndarray, carry: Any, combine: Callable) -> np.ndarray:
    if carry is None:
        return scanned
    return combine(scanned, carry).astype(scanned.dtype, copy=False)


def _cumulative(name: str, np_func: Callable, combine: Callable) -> Callable:
    def scan(
        x: Any, axis: int | None = None, dtype: Any = None, method: str = "sequential"
    ) -> Array:
        if method not in ("sequential", "blelloch"):
            raise ValueError(f"method must be 'sequential' or 'blelloch', got {method!r}")
        x = asarray(x)
        if axis is None:
            x = x.ravel()
            axis = 0
        (axis,) = normalize_axis(axis, x.ndim)
        if has_unknown((x.chunks[axis],)):
            raise ValueError(
                f"{name} needs known chunk sizes along axis {axis}; "
                "call .compute_chunk_sizes() first"
            )
        out_dtype = np.dtype(dtype) if dtype is not None else probe_dtype(np_func, x, axis=0)
        meta = meta_from(out_dtype, x.ndim)
        return Array(Cumulative(x.expr, np_func, combine, axis, meta, name, method))

    scan.__name__ = name
    scan.__qualname__ = name
    scan.__doc__ = (
        f"``numpy.{name}`` along ``axis`` (the flattened array for None), carrying\n"
        f"    block prefixes (``method``: see the module docstring).\n\n"
        f"    >>> import shoal.array as sa\n"
        f"    >>> sa.{name}(sa.arange(1, 6, chunks=2)).compute().tolist() == "
        f"np.{name}(np.arange(1, 6)).tolist()\n    True\n"
    )
    return scan


cumsum = _cumulative("cumsum", np.cumsum, np.add)
cumprod = _cumulative("cumprod", np.cumprod, np.multiply)
nancumsum = _cumulative("nancumsum", np.nancumsum, np.add)
nancumprod = _cumulative("nancumprod", np.nancumprod, np.multiply)
