"""Cumulative sums and products along an axis, carrying block prefixes.

Each block is scanned on its own (the input block fused into that task);
then a chain of small "carry" tasks along the axis accumulates the last slice
of every scanned block, and each output block is its scan combined with the
carry of the blocks before it. Memory: one block and one slice per task.
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
            if k > 0:
                before = list(index)
                before[self.axis] = k - 1
                prev = tuple(before)
                carry_prev = Ref(self._carry_key(prev)) if k > 1 else None
                layer[self._carry_key(index)] = Task(
                    _next_carry, carry_prev, Ref(self._scan_key(prev)), self.axis, self.combine
                )
        return layer

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        carry = Ref(self._carry_key(index)) if index[self.axis] > 0 else None
        return Task(_apply_carry, Ref(self._scan_key(index)), carry, self.combine)


def _next_carry(carry: Any, scanned: np.ndarray, axis: int, combine: Callable) -> Any:
    n = scanned.shape[axis]
    if n == 0:
        return carry
    last = np.take(scanned, [n - 1], axis=axis)
    return last if carry is None else combine(carry, last)


def _apply_carry(scanned: np.ndarray, carry: Any, combine: Callable) -> np.ndarray:
    if carry is None:
        return scanned
    return combine(scanned, carry).astype(scanned.dtype, copy=False)


def _cumulative(name: str, np_func: Callable, combine: Callable) -> Callable:
    def scan(x: Any, axis: int | None = None, dtype: Any = None) -> Array:
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
        return Array(Cumulative(x.expr, np_func, combine, axis, meta_from(out_dtype, x.ndim), name))

    scan.__name__ = name
    scan.__qualname__ = name
    scan.__doc__ = (
        f"``numpy.{name}`` along ``axis`` (the flattened array for None), carrying\n"
        f"    block prefixes.\n\n"
        f"    >>> import shoal.array as sa\n"
        f"    >>> sa.{name}(sa.arange(1, 6, chunks=2)).compute().tolist() == "
        f"np.{name}(np.arange(1, 6)).tolist()\n    True\n"
    )
    return scan


cumsum = _cumulative("cumsum", np.cumsum, np.add)
cumprod = _cumulative("cumprod", np.cumprod, np.multiply)
nancumsum = _cumulative("nancumsum", np.nancumsum, np.add)
nancumprod = _cumulative("nancumprod", np.nancumprod, np.multiply)
