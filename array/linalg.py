"""``shoal.array.linalg``: norms, QR and SVD of tall-and-skinny arrays (TSQR),
least squares, a blocked Cholesky, and ``solve``/``inv``.

TSQR (tall-and-skinny QR), for an m x n array cut into row blocks only:

    A_i = Q_i R_i                 one task per row block
    [R_1; ...; R_k] = Q' R        one task on k small n x n factors
    Q = [Q_1 Q'_1; ...; Q_k Q'_k] one task per row block

so only n x n factors travel and A is read once. ``svd`` adds an SVD of the
small R. ``lstsq`` solves R x = Q^T b.

``cholesky`` is blocked (square blocks, right-looking): block (i, k) of L
depends on the blocks left of it, so the factorization streams through the
lower triangle without ever holding the whole matrix. ``solve_triangular``
is block substitution; ``solve(assume_a="pos")`` chains the two, blocked
end to end. General ``solve`` and ``inv`` work on one block (n x n must fit in
memory).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from shoal.core.build import BlockExpr
from shoal.core.task import Ref, Task

from .blockwise import blockwise, map_blocks
from .convert import asarray, meta_from
from .core import Array
from .creation import eye, zeros
from .expr import ArrayExpr, GraphBuilder
from .lu import LUSolve
from .products import matmul
from .rechunk import rechunk
from .reductions import normalize_axis
from .shape import squeeze

__all__ = [
    "norm",
    "qr",
    "svd",
    "tsqr",
    "lstsq",
    "cholesky",
    "solve",
    "solve_triangular",
    "inv",
]


# ------------------------------------------------------------------ norm


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Array:
    """Vector or matrix norm (like ``np.linalg.norm``); matrix 2-norms and
    nuclear norms need a tall-and-skinny matrix (they use ``svd``).

    >>> import shoal.array as sa
    >>> float(norm(sa.asarray([3.0, 4.0], chunks=1)))
    5.0
    """
    x = asarray(x)
    if x.dtype.kind not in "fc":
        x = x.astype(float)
    if axis is None:
        if ord is None:
            return _keep(
                abs(x * x.conj()).sum() ** 0.5 if x.dtype.kind == "c" else (x * x).sum() ** 0.5,
                x.ndim,
                keepdims,
            )
        axes = tuple(range(x.ndim))
    else:
        axes = normalize_axis(axis, x.ndim)
        if isinstance(axis, tuple):
            axes = tuple(a % x.ndim for a in axis)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"improper number of dimensions to norm: axis={axis}")


def _keep(value: Array, ndim: int, keepdims: bool) -> Array:
    return value.reshape((1,) * ndim) if keepdims else value


def _vector_norm(x: Array, ord: Any, axis: int, keepdims: bool) -> Array:
    a = abs(x)
    if ord is None or ord == 2:
        return ((a * a).sum(axis=axis, keepdims=keepdims)) ** 0.5
    if ord == np.inf:
        return a.max(axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return a.min(axis=axis, keepdims=keepdims)
    if ord == 0:
        return (a != 0).astype(a.dtype).sum(axis=axis, keepdims=keepdims)
    if ord == 1:
        return a.sum(axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"invalid norm order {ord!r} for vectors")
    return ((a**ord).sum(axis=axis, keepdims=keepdims)) ** (1.0 / ord)


def _matrix_norm(x: Array, ord: Any, axes: tuple, keepdims: bool) -> Array:
    r, c = axes
    a = abs(x)
    if ord in (None, "fro"):
        out = ((a * a).sum(axis=axes, keepdims=keepdims)) ** 0.5
    elif ord == 1:
        out = a.sum(axis=r, keepdims=True).max(axis=c, keepdims=True)
    elif ord == -1:
        out = a.sum(axis=r, keepdims=True).min(axis=c, keepdims=True)
    elif ord == np.inf:
        out = a.sum(axis=c, keepdims=True).max(axis=r, keepdims=True)
    elif ord == -np.inf:
        out = a.sum(axis=c, keepdims=True).min(axis=r, keepdims=True)
    elif ord in (2, -2, "nuc"):
        if x.ndim != 2:
            raise NotImplementedError(f"norm ord={ord!r} needs a 2-D array")
        _, s, _ = svd(x if axes == (0, 1) else x.T)
        out = s.max() if ord == 2 else s.min() if ord == -2 else s.sum()
        return out.reshape((1, 1)) if keepdims else out
    else:
        raise ValueError(f"invalid norm order {ord!r} for matrices")
    if ord not in (None, "fro") and not keepdims:
        out = out.squeeze(axis=axes)
    return out


# ------------------------------------------------------------------ TSQR


def _local_qr(block: np.ndarray) -> tuple:
    return np.linalg.qr(block)


def _stack_qr(parts: list) -> tuple:
    return np.linalg.qr(np.concatenate([r for _, r in parts], axis=0))


def _q_block(local: tuple, top: tuple, start: int, stop: int) -> np.ndarray:
    return local[0] @ top[0][start:stop]


def _r_of(top: tuple) -> np.ndarray:
    return top[1]


class _TSQR(ArrayExpr):
    """Q (``part="q"``) or R (``part="r"``) of a row-blocked matrix; both share
    the stage keys, so computing them together factors once."""

    child: ArrayExpr
    part: str  # "q" or "r"

    @property
    def _prefix(self) -> str:
        return f"tsqr-{self.part}"

    @functools.cached_property
    def _r_rows(self) -> list:
        """The rows of each block's R factor."""
        n = self.child.shape[1]
        return [min(r, n) for r in self.child.chunks[0]]

    @functools.cached_property
    def chunks(self) -> tuple:
        k = min(sum(self._r_rows), self.child.shape[1])
        if self.part == "q":
            return (self.child.chunks[0], (k,))
        return ((k,), (self.child.shape[1],))

    @functools.cached_property
    def meta(self) -> np.ndarray:
        dtype = np.linalg.qr(np.ones((1, 1), dtype=self.child.dtype))[0].dtype
        return meta_from(dtype, 2)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True

    def _stage(self, what: str) -> str:
        return f"tsqr-{what}-{self.child._name.rsplit('-', 1)[-1]}"

    def _extra_layer(self, b: GraphBuilder) -> dict:
        layer: dict = {}
        local = []
        for i in range(self.child.numblocks[0]):
            key = (self._stage("local"), i)
            layer[key] = Task(_local_qr, b.input(self, self.child, (i, 0)))
            local.append(Ref(key))
        layer[self._stage("top")] = Task(_stack_qr, local)
        return layer

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        top = Ref(self._stage("top"))
        if self.part == "r":
            return Task(_r_of, top)
        i = index[0]
        start = sum(self._r_rows[:i])
        return Task(_q_block, Ref((self._stage("local"), i)), top, start, start + self._r_rows[i])


def tsqr(a: Any) -> tuple:
    """(Q, R) of a tall-and-skinny matrix by TSQR (see module docstring).

    >>> import shoal.array as sa
    >>> q, r = tsqr(sa.random.default_rng(0).random((100, 4), chunks=(30, 4)))
    >>> q.shape, r.shape
    ((100, 4), (4, 4))
    """
    a = asarray(a)
    if a.ndim != 2:
        raise ValueError(f"qr needs a 2-D array, got {a.ndim}-D")
    if a.numblocks[1] != 1:
        a = rechunk(a, {1: -1})
    if max(a.chunks[0]) < a.shape[1] and a.numblocks[0] > 1:
        raise ValueError(
            f"qr/svd need tall-and-skinny row blocks (each at least as tall as the "
            f"{a.shape[1]} columns); got row blocks {a.chunks[0]}; rechunk the rows"
        )
    return Array(_TSQR(a.expr, "q")), Array(_TSQR(a.expr, "r"))


def qr(a: Any) -> tuple:
    """Reduced QR of a tall-and-skinny matrix (TSQR).

    >>> import shoal.array as sa
    >>> a = sa.random.default_rng(1).random((50, 3), chunks=(20, 3))
    >>> q, r = qr(a)
    >>> bool(np.allclose((q @ r).compute(), a.compute()))
    True
    """
    return tsqr(a)


def _svd_part(r: np.ndarray, which: int) -> np.ndarray:
    return np.linalg.svd(r, full_matrices=False)[which]


def svd(a: Any) -> tuple:
    """(U, S, Vt) of a tall-and-skinny matrix: TSQR, then the SVD of the small R.

    >>> import shoal.array as sa
    >>> a = sa.random.default_rng(2).random((60, 3), chunks=(25, 3))
    >>> u, s, vt = svd(a)
    >>> bool(np.allclose(s.compute(), np.linalg.svd(a.compute(), compute_uv=False)))
    True
    """
    q, r = tsqr(a)
    k = r.shape[0]
    u_r = map_blocks(_svd_part, r, 0, chunks=((k,), (k,)), dtype=r.dtype)
    s = map_blocks(
        _svd_part, r, 1, chunks=((k,),), drop_axis=1, dtype=np.abs(np.ones(1, dtype=r.dtype)).dtype
    )
    vt = map_blocks(_svd_part, r, 2, chunks=((k,), (r.shape[1],)), dtype=r.dtype)
    return matmul(q, u_r), s, vt


def _solve_triangular_r(r: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.solve(r, y)


def lstsq(a: Any, b: Any) -> tuple:
    """Least-squares solution of ``a x = b`` for a tall-and-skinny ``a``;
    returns (x, residuals, rank, singular values) like ``np.linalg.lstsq``.

    >>> import shoal.array as sa
    >>> a = sa.asarray(np.c_[np.ones(6), np.arange(6.0)], chunks=(3, 2))
    >>> x, *_ = lstsq(a, sa.asarray(1 + 2 * np.arange(6.0), chunks=3))
    >>> x.compute().round(6)
    array([1., 2.])
    """
    a, b = asarray(a), asarray(b)
    vector = b.ndim == 1
    b2 = b[:, None] if vector else b
    q, r = tsqr(a)
    qtb = matmul(q.T, b2).rechunk(-1)
    x = blockwise(
        _solve_triangular_r,
        "jm",
        r,
        "kj",
        qtb,
        "km",
        concatenate=True,
        dtype=np.result_type(r.dtype, b.dtype),
        name="lstsq",
    )
    residuals = ((b2 - matmul(a, x)) ** 2).sum(axis=0)
    s = map_blocks(_svd_part, r, 1, chunks=((r.shape[0],),), drop_axis=1, dtype=float)
    rank = (s > s.max() * max(a.shape) * np.finfo(float).eps).sum()
    if vector:
        x, residuals = squeeze(x, 1), residuals.reshape((1,))
    return x, residuals, rank, s


# ------------------------------------------------------------- cholesky


def _chol_diag(a_kk: np.ndarray, *prods: np.ndarray) -> np.ndarray:
    m = a_kk - sum(prods) if prods else a_kk
    try:
        return np.linalg.cholesky(m)
    except np.linalg.LinAlgError as e:
        raise np.linalg.LinAlgError(f"matrix is not positive definite ({e})") from None


def _chol_off(a_ik: np.ndarray, l_kk: np.ndarray, *prods: np.ndarray) -> np.ndarray:
    m = a_ik - sum(prods) if prods else a_ik
    return np.linalg.solve(l_kk, m.T).T


def _outer_product(l_ij: np.ndarray, l_kj: np.ndarray) -> np.ndarray:
    return l_ij @ l_kj.T


class _Cholesky(ArrayExpr):
    """Lower Cholesky factor of a symmetric positive definite matrix in square blocks."""

    child: ArrayExpr

    @functools.cached_property
    def chunks(self) -> tuple:
        return self.child.chunks

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return meta_from(np.linalg.cholesky(np.eye(1, dtype=self.child.dtype)).dtype, 2)

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        i, k = index
        if k > i:
            shape = (self.chunks[0][i], self.chunks[1][k])
            return Task(np.zeros, shape, self.dtype)
        prods = [
            Task(_outer_product, Ref(self.key((i, j))), Ref(self.key((k, j)))) for j in range(k)
        ]
        a_ik = b.input(self, self.child, (i, k))
        if i == k:
            return Task(_chol_diag, a_ik, *prods)
        return Task(_chol_off, a_ik, Ref(self.key((k, k))), *prods)


def cholesky(a: Any, lower: bool = True) -> Array:
    """Cholesky factor of a symmetric positive definite matrix (blocked; the
    matrix is rechunked into square blocks).

    >>> import shoal.array as sa
    >>> m = np.array([[4.0, 2.0], [2.0, 3.0]])
    >>> cholesky(sa.asarray(m, chunks=1)).compute().round(4)
    array([[2.    , 0.    ],
           [1.    , 1.4142]])
    """
    a = asarray(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"cholesky needs a square 2-D matrix, got shape {a.shape}")
    if a.chunks[0] != a.chunks[1]:
        a = rechunk(a, (a.chunks[0], a.chunks[0]))
    low = Array(_Cholesky(a.expr))
    return low if lower else low.T.conj()


def _tri_block(a_ii: np.ndarray, b_ik: np.ndarray, *products: np.ndarray) -> np.ndarray:
    rhs = b_ik - sum(products) if products else b_ik
    return np.linalg.solve(a_ii, rhs)


class _TriangularSolve(ArrayExpr):
    """Block substitution for ``a x = b`` with a triangular ``a`` in square blocks
    whose row blocks match ``b``'s: block row i of x needs the rows solved
    before it (after, for upper triangles), so the solve streams through ``a``."""

    a: ArrayExpr
    b: ArrayExpr
    lower_triangle: bool

    @functools.cached_property
    def chunks(self) -> tuple:
        return self.b.chunks

    @functools.cached_property
    def meta(self) -> np.ndarray:
        return meta_from(np.result_type(self.a.dtype, self.b.dtype, np.float64), 2)

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        i, k = index
        n = self.a.numblocks[0]
        before = range(i) if self.lower_triangle else range(i + 1, n)
        products = [
            Task(np.matmul, b.input(self, self.a, (i, j)), Ref(self.key((j, k)))) for j in before
        ]
        return Task(
            _tri_block, b.input(self, self.a, (i, i)), b.input(self, self.b, (i, k)), *products
        )


def solve_triangular(a: Any, b: Any, lower: bool = False) -> Array:
    """Solve ``a x = b`` for a triangular ``a`` by block substitution (``a`` is
    rechunked into square blocks matching ``b``'s rows; nothing is gathered).

    >>> import shoal.array as sa
    >>> low = sa.asarray([[2.0, 0.0], [1.0, 1.0]], chunks=1)
    >>> solve_triangular(low, sa.asarray([4.0, 5.0], chunks=1), lower=True).compute()
    array([2., 3.])
    """
    a, b = asarray(a), asarray(b)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"solve_triangular needs a square matrix, got shape {a.shape}")
    if b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise ValueError(f"solve_triangular: a has shape {a.shape} but b has shape {b.shape}")
    rows = a.chunks[0]
    a = rechunk(a, (rows, rows))
    vector = b.ndim == 1
    b2 = b[:, None] if vector else b
    b2 = rechunk(b2, (rows, b2.chunks[1]))
    x = Array(_TriangularSolve(a.expr, b2.expr, bool(lower)))
    return x[:, 0] if vector else x


def solve(a: Any, b: Any, assume_a: str = "gen") -> Array:
    """Solve ``a x = b`` for a square ``a``, never gathering ``a`` into one
    block: the general case runs a blocked LU with partial pivoting
    (``lu.py``); ``assume_a="pos"`` (symmetric positive definite) factors
    ``a`` with the blocked ``cholesky`` and runs two block substitutions.

    >>> import shoal.array as sa
    >>> solve(sa.asarray([[3.0, 1.0], [1.0, 2.0]]), sa.asarray([9.0, 8.0])).compute()
    array([2., 3.])
    """
    a, b = asarray(a), asarray(b)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"solve needs a square matrix, got shape {a.shape}")
    if b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise ValueError(f"solve: a has shape {a.shape} but b has shape {b.shape}")
    if assume_a == "pos":
        low = cholesky(a)
        y = solve_triangular(low, b, lower=True)
        return solve_triangular(low.T, y, lower=False)
    if assume_a != "gen":
        raise ValueError(f"assume_a must be 'gen' or 'pos', got {assume_a!r}")
    dtype = np.result_type(a.dtype, b.dtype, np.float64)
    if a.shape[0] == 0:
        return zeros(b.shape, dtype=dtype, chunks=b.chunks)
    rows = a.chunks[0]
    a = rechunk(a, (rows, rows))
    vector = b.ndim == 1
    b2 = rechunk(b[:, None] if vector else b, {0: rows})
    x = Array(LUSolve(a.expr, b2.expr))
    return x[:, 0] if vector else x


def inv(a: Any) -> Array:
    """Inverse of a square matrix, by the blocked LU of ``solve(a, eye)``.

    >>> import shoal.array as sa
    >>> inv(sa.asarray([[2.0, 0.0], [0.0, 4.0]], chunks=1)).compute()
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    a = asarray(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"inv needs a square matrix, got shape {a.shape}")
    rows = a.chunks[0]
    identity = eye(a.shape[0], dtype=np.result_type(a.dtype, np.float64), chunks=(rows, rows))
    return solve(a, identity)
