"""Blocked LU with partial pivoting, for ``linalg.solve`` and ``linalg.inv``
of general square matrices that are never gathered into one block.

The matrix ``a`` (in square blocks, N block rows) and the right-hand sides
``b`` are factored together as ``[a | b]``, right-looking, one block column
at a time, as LAPACK's ``getrf`` does:

- panel ``k``: block column ``k`` from block row ``k`` down is gathered into
  one tall panel and factored with partial pivoting over all of its rows
  (``_getrf``, recursive, so the work is matrix products), giving a row
  permutation, the panel of ``L`` and the diagonal block of ``U``;
- column ``(k, j)`` for every later column ``j`` (of ``a`` or ``b``): its
  rows from ``k`` down are permuted like the panel, the top block becomes
  ``U[k, j] = L[k, k]^-1 @ top`` and each lower block is updated by
  ``- L[i, k] @ U[k, j]``. One task per (k, j); the tasks of one step run
  in parallel;
- the ``b`` columns end as ``L^-1 P b``; block back substitution with ``U``
  gives ``x``.

Pivoting over whole block columns makes this as stable as NumPy's solver.
Memory: one block column per running task, plus the factors (as large as
``a``), never the whole matrix in one block.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from shoal.core.task import Ref, Task

from .convert import meta_from
from .expr import ArrayExpr, GraphBuilder

__all__ = ["LUSolve", "lu_panel"]


def _getrf(a: np.ndarray) -> np.ndarray:
    """Factor the m x n (m >= n) array ``a`` in place into unit-lower ``L``
    (below the diagonal) and ``U`` (on and above), with partial pivoting;
    returns the row permutation ``perm`` such that ``a_in[perm] = L @ U``."""
    m, n = a.shape
    perm = np.arange(m)
    if n <= 8:
        for c in range(n):
            p = c + int(np.argmax(np.abs(a[c:, c])))
            if p != c:
                a[[c, p]] = a[[p, c]]
                perm[[c, p]] = perm[[p, c]]
            if a[c, c] != 0:
                a[c + 1 :, c] /= a[c, c]
            a[c + 1 :, c + 1 :] -= np.outer(a[c + 1 :, c], a[c, c + 1 :])
        return perm
    h = n // 2
    left = a[:, :h]
    p1 = _getrf(left)
    a[:, h:] = a[p1, h:]
    perm = perm[p1]
    l11 = np.tril(a[:h, :h], -1) + np.eye(h, dtype=a.dtype)
    a[:h, h:] = np.linalg.solve(l11, a[:h, h:])
    a[h:, h:] -= a[h:, :h] @ a[:h, h:]
    p2 = _getrf(a[h:, h:])
    a[h:, :h] = a[h:, :h][p2]
    perm[h:] = perm[h:][p2]
    return perm


def lu_panel(blocks: list, dtype: Any) -> tuple:
    """``(perm, L blocks, U)`` of the panel stacked from ``blocks``.

    >>> a = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])
    >>> perm, lows, u = lu_panel([a[:2], a[2:]], np.float64)
    >>> np.allclose(np.concatenate(lows) @ u, a[perm])
    True
    """
    panel = np.array(np.concatenate(blocks, axis=0), dtype=dtype)
    perm = _getrf(panel)
    width = panel.shape[1]
    u = np.triu(panel[:width])
    low = np.tril(panel, -1)
    low[:width] += np.eye(width, dtype=dtype)
    cuts = np.cumsum([blk.shape[0] for blk in blocks])[:-1]
    return perm, np.split(low, cuts, axis=0), u


def _lu_column(panel: tuple, dtype: Any, *blocks: np.ndarray) -> list:
    perm, lows, _ = panel
    column = np.concatenate(blocks, axis=0).astype(dtype, copy=False)[perm]
    n = lows[0].shape[0]
    u_kj = np.linalg.solve(lows[0], column[:n])
    out = [u_kj]
    start = n
    for low in lows[1:]:
        stop = start + low.shape[0]
        out.append(column[start:stop] - low @ u_kj)
        start = stop
    return out


def _back_substitute(panel: tuple, y: np.ndarray, *products: np.ndarray) -> np.ndarray:
    u = panel[2]
    rhs = y - sum(products) if products else y
    if not np.all(np.diagonal(u)):
        raise np.linalg.LinAlgError("Singular matrix")
    return np.linalg.solve(u, rhs)


class LUSolve(ArrayExpr):
    """``x`` with ``a @ x = b`` by blocked LU (module docstring); ``a`` in
    square blocks whose rows match ``b``'s.

    >>> import shoal.array as sa
    >>> a = sa.asarray([[0.0, 2.0], [3.0, 1.0]], chunks=1)
    >>> b = sa.asarray([[4.0], [5.0]], chunks=1)
    >>> sa.Array(LUSolve(a.expr, b.expr)).compute()
    array([[1.],
           [2.]])
    """

    a: ArrayExpr
    b: ArrayExpr

    @property
    def _prefix(self) -> str:
        return "lu-solve"

    @functools.cached_property
    def chunks(self) -> tuple:
        return (self.a.chunks[0], self.b.chunks[1])

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return meta_from(np.result_type(self.a.dtype, self.b.dtype, np.float64), 2)

    def _panel_key(self, k: int) -> tuple:
        return (self.stage_name("panel"), k)

    def _column_key(self, k: int, j: int) -> tuple:
        return (self.stage_name("column"), k, j)

    def _current(self, k: int, i: int, j: int, b: GraphBuilder) -> Any:
        """Block (i, j) of ``[a | b]`` after the updates of panels before ``k``."""
        if k == 0:
            n = self.a.numblocks[1]
            return b.input(self, self.a, (i, j)) if j < n else b.input(self, self.b, (i, j - n))
        return Task(_item, Ref(self._column_key(k - 1, j)), i - k + 1)

    def _extra_layer(self, b: GraphBuilder) -> dict:
        n = self.a.numblocks[0]
        total = n + self.b.numblocks[1]
        layer: dict = {}
        for k in range(n):
            column = [self._current(k, i, k, b) for i in range(k, n)]
            layer[self._panel_key(k)] = Task(lu_panel, column, self.dtype)
            for j in range(k + 1, total):
                blocks = [self._current(k, i, j, b) for i in range(k, n)]
                layer[self._column_key(k, j)] = Task(
                    _lu_column, Ref(self._panel_key(k)), self.dtype, *blocks
                )
        return layer

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        k, m = index
        n = self.a.numblocks[0]
        y = Task(_item, Ref(self._column_key(k, n + m)), 0)
        products = [
            Task(np.matmul, Task(_item, Ref(self._column_key(k, j)), 0), Ref(self.key((j, m))))
            for j in range(k + 1, n)
        ]
        return Task(_back_substitute, Ref(self._panel_key(k)), y, *products)

    def _explain_args(self) -> str:
        return f"blocks={self.a.numblocks[0]}x{self.a.numblocks[0]}"


def _item(values: list, position: int) -> Any:
    return values[position]
