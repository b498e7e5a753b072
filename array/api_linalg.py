"""The Array API ``linalg`` extension (``xp.linalg``) on shoal arrays.

The standard's decompositions work on stacks of matrices (``(..., M, N)``).
Here each matrix is held whole in one block: the last two axes are gathered
(``rechunk`` to one block along them), the leading (stack) axes keep their
blocks, and NumPy's batched ``numpy.linalg`` function runs block by block.
So a stack of many small matrices runs in parallel; one huge matrix runs in
one task (``shoal.array.linalg`` has the blocked algorithms for 2-D arrays:
``tsqr``, blocked ``cholesky``, ``solve``). ``vector_norm``, products and
``trace`` are shoal reductions and keep every block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.exceptions import AxisError  # an IndexError and a ValueError

from . import api_products, numpy_reductions
from .api_products import matmul, matrix_transpose, outer, tensordot, vecdot
from .blockwise import _LETTERS, blockwise
from .convert import asarray
from .core import Array
from .shape import broadcast_to

__all__ = [
    "EigResult",
    "EighResult",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "cross",
    "det",
    "diagonal",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "inv",
    "matmul",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "matrix_transpose",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "trace",
    "vecdot",
    "vector_norm",
]


class EighResult(NamedTuple):
    eigenvalues: Array
    eigenvectors: Array


class EigResult(NamedTuple):
    eigenvalues: Array
    eigenvectors: Array


class QRResult(NamedTuple):
    Q: Array
    R: Array


class SlogdetResult(NamedTuple):
    sign: Array
    logabsdet: Array


class SVDResult(NamedTuple):
    U: Array
    S: Array
    Vh: Array


def _floating(x: Any, what: str) -> Array:
    x = asarray(x)
    if x.dtype.kind not in "fc":
        raise TypeError(f"linalg.{what} needs a floating-point array, got {x.dtype}")
    return x


def _matrices(x: Any, what: str, square: bool = True) -> Array:
    x = _floating(x, what)
    if x.ndim < 2:
        raise ValueError(f"linalg.{what} needs an array of matrices (>= 2 axes), got {x.ndim}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"linalg.{what} needs square matrices, got shape {x.shape}")
    return x


def _pick(block: np.ndarray, func: Callable, part: int | None, dtype: np.dtype, **kw: Any) -> Any:
    out = func(block, **kw)
    if part is not None:
        out = out[part]
    return np.asarray(out).astype(dtype, copy=False)


def per_matrix(
    x: Array,
    func: Callable,
    core_out: tuple,
    dtype: Any,
    *,
    part: int | None = None,
    name: str,
    **kwargs: Any,
) -> Array:
    """``func`` on each matrix of the stack ``x`` (last two axes), giving an
    array of shape ``x.shape[:-2] + core_out`` (``part``: which item of a
    tuple result).

    >>> x = asarray(np.eye(2) * 2)
    >>> per_matrix(x, np.linalg.det, (), np.float64, name="det").compute()
    np.float64(4.0)
    """
    nd = x.ndim
    x = x.rechunk({nd - 2: -1, nd - 1: -1})
    letters = _LETTERS[:nd]
    new = "ZY"[: len(core_out)]
    dtype = np.dtype(dtype)
    return blockwise(
        _pick,
        letters[:-2] + new,
        x,
        letters,
        func,
        None,
        part,
        None,
        dtype,
        None,
        concatenate=True,
        new_axes=dict(zip(new, core_out)),
        dtype=dtype,
        name=name,
        **kwargs,
    )


def _real_of(dtype: np.dtype) -> np.dtype:
    return np.empty(0, dtype).real.dtype


def _complex_of(dtype: np.dtype) -> np.dtype:
    return np.result_type(dtype, np.complex64)


def cholesky(x: Array, /, *, upper: bool = False) -> Array:
    """The lower (or ``upper``) Cholesky factor of each matrix.

    >>> cholesky(asarray([[4.0, 2.0], [2.0, 5.0]])).compute()
    array([[2., 0.],
           [1., 2.]])
    """
    x = _matrices(x, "cholesky")
    n = x.shape[-1]
    return per_matrix(x, np.linalg.cholesky, (n, n), x.dtype, name="cholesky", upper=upper)


def det(x: Array, /) -> Array:
    """The determinant of each matrix.

    >>> float(det(asarray([[1.0, 2.0], [3.0, 4.0]])))
    -2.0000000000000004
    """
    x = _matrices(x, "det")
    return per_matrix(x, np.linalg.det, (), x.dtype, name="det")


def slogdet(x: Array, /) -> SlogdetResult:
    """(sign, log of the absolute determinant) of each matrix.

    >>> [float(a) for a in slogdet(asarray([[2.0, 0.0], [0.0, 3.0]]))]
    [1.0, 1.791759469228055]
    """
    x = _matrices(x, "slogdet")
    sign = per_matrix(x, np.linalg.slogdet, (), x.dtype, part=0, name="slogdet-sign")
    logabs = per_matrix(
        x, np.linalg.slogdet, (), _real_of(x.dtype), part=1, name="slogdet-logabsdet"
    )
    return SlogdetResult(sign, logabs)


def eigh(x: Array, /) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of each symmetric/Hermitian matrix.

    >>> eigh(asarray([[2.0, 0.0], [0.0, 1.0]])).eigenvalues.compute()
    array([1., 2.])
    """
    x = _matrices(x, "eigh")
    n = x.shape[-1]
    values = per_matrix(x, np.linalg.eigh, (n,), _real_of(x.dtype), part=0, name="eigh-values")
    vectors = per_matrix(x, np.linalg.eigh, (n, n), x.dtype, part=1, name="eigh-vectors")
    return EighResult(values, vectors)


def eigvalsh(x: Array, /) -> Array:
    """Eigenvalues (ascending) of each symmetric/Hermitian matrix.

    >>> eigvalsh(asarray([[2.0, 0.0], [0.0, 1.0]])).compute()
    array([1., 2.])
    """
    x = _matrices(x, "eigvalsh")
    return per_matrix(x, np.linalg.eigvalsh, (x.shape[-1],), _real_of(x.dtype), name="eigvalsh")


def eig(x: Array, /) -> EigResult:
    """Eigenvalues and eigenvectors of each matrix, always complex.

    >>> eig(asarray([[2.0, 0.0], [0.0, 1.0]])).eigenvalues.compute()
    array([2.+0.j, 1.+0.j])
    """
    x = _matrices(x, "eig")
    n, out = x.shape[-1], _complex_of(x.dtype)
    values = per_matrix(x, np.linalg.eig, (n,), out, part=0, name="eig-values")
    vectors = per_matrix(x, np.linalg.eig, (n, n), out, part=1, name="eig-vectors")
    return EigResult(values, vectors)


def eigvals(x: Array, /) -> Array:
    """Eigenvalues of each matrix, always complex.

    >>> eigvals(asarray([[0.0, 1.0], [1.0, 0.0]])).compute()
    array([ 1.+0.j, -1.+0.j])
    """
    x = _matrices(x, "eigvals")
    return per_matrix(x, np.linalg.eigvals, (x.shape[-1],), _complex_of(x.dtype), name="eigvals")


def inv(x: Array, /) -> Array:
    """The inverse of each matrix.

    >>> inv(asarray([[2.0, 0.0], [0.0, 4.0]])).compute()
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """
    x = _matrices(x, "inv")
    n = x.shape[-1]
    return per_matrix(x, np.linalg.inv, (n, n), x.dtype, name="inv")


def _rtol_of(rtol: Any) -> Any:
    if isinstance(rtol, Array):
        return rtol.compute()
    return rtol


def matrix_rank(x: Array, /, *, rtol: float | Array | None = None) -> Array:
    """The rank of each matrix (singular values above ``rtol`` times the largest).

    >>> int(matrix_rank(asarray([[1.0, 2.0], [2.0, 4.0]])))
    1
    """
    x = _matrices(x, "matrix_rank", square=False)
    return per_matrix(
        x, np.linalg.matrix_rank, (), np.int64, name="matrix_rank", rtol=_rtol_of(rtol)
    )


def pinv(x: Array, /, *, rtol: float | Array | None = None) -> Array:
    """The Moore-Penrose pseudo-inverse of each matrix.

    >>> pinv(asarray([[2.0, 0.0]])).compute()
    array([[0.5],
           [0. ]])
    """
    x = _matrices(x, "pinv", square=False)
    m, n = x.shape[-2:]
    return per_matrix(x, np.linalg.pinv, (n, m), x.dtype, name="pinv", rtol=_rtol_of(rtol))


def matrix_power(x: Array, n: int, /) -> Array:
    """Each matrix raised to the integer power ``n`` (negative: of the inverse).

    >>> matrix_power(asarray([[1.0, 1.0], [0.0, 1.0]]), 3).compute()
    array([[1., 3.],
           [0., 1.]])
    """
    x = asarray(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"linalg.matrix_power needs square matrices, got shape {x.shape}")
    k = x.shape[-1]
    return per_matrix(x, np.linalg.matrix_power, (k, k), x.dtype, name="matrix_power", n=n)


def qr(x: Array, /, *, mode: str = "reduced") -> QRResult:
    """The QR decomposition of each matrix (``mode`` "reduced" or "complete").

    >>> q, r = qr(asarray([[3.0, 0.0], [4.0, 1.0]]))
    >>> bool(np.allclose((q @ r).compute(), [[3.0, 0.0], [4.0, 1.0]]))
    True
    """
    if mode not in ("reduced", "complete"):
        raise ValueError(f"linalg.qr mode must be 'reduced' or 'complete', got {mode!r}")
    x = _matrices(x, "qr", square=False)
    m, n = x.shape[-2:]
    k = min(m, n) if mode == "reduced" else m
    q = per_matrix(x, np.linalg.qr, (m, k), x.dtype, part=0, name="qr-q", mode=mode)
    r = per_matrix(x, np.linalg.qr, (k, n), x.dtype, part=1, name="qr-r", mode=mode)
    return QRResult(q, r)


def svd(x: Array, /, *, full_matrices: bool = True) -> SVDResult:
    """(U, S, Vh) of each matrix; singular values descending.

    >>> svd(asarray([[3.0, 0.0], [0.0, 4.0]])).S.compute()
    array([4., 3.])
    """
    x = _matrices(x, "svd", square=False)
    m, n = x.shape[-2:]
    k = min(m, n)
    um, vn = (m, n) if full_matrices else (k, k)
    kw = {"full_matrices": full_matrices}
    u = per_matrix(x, np.linalg.svd, (m, um), x.dtype, part=0, name="svd-u", **kw)
    s = per_matrix(x, np.linalg.svd, (k,), _real_of(x.dtype), part=1, name="svd-s", **kw)
    vh = per_matrix(x, np.linalg.svd, (vn, n), x.dtype, part=2, name="svd-vh", **kw)
    return SVDResult(u, s, vh)


def svdvals(x: Array, /) -> Array:
    """The singular values of each matrix, descending.

    >>> svdvals(asarray([[3.0, 0.0], [0.0, 4.0]])).compute()
    array([4., 3.])
    """
    x = _matrices(x, "svdvals", square=False)
    k = min(x.shape[-2:])
    return per_matrix(x, np.linalg.svdvals, (k,), _real_of(x.dtype), name="svdvals")


def _solve_pair(a: np.ndarray, b: np.ndarray, vector: bool, dtype: np.dtype) -> np.ndarray:
    if vector:
        return np.linalg.solve(a, b[..., None])[..., 0].astype(dtype, copy=False)
    return np.linalg.solve(a, b).astype(dtype, copy=False)


def solve(x1: Array, x2: Array, /) -> Array:
    """The solution ``X`` of ``x1 @ X = x2`` for each matrix of the stack ``x1``;
    a 1-D ``x2`` is one right-hand side for every matrix.

    >>> solve(asarray([[2.0, 0.0], [0.0, 4.0]]), asarray([2.0, 2.0])).compute()
    array([1. , 0.5])
    """
    a = _matrices(x1, "solve")
    b = _floating(x2, "solve")
    dtype = np.result_type(a.dtype, b.dtype)
    m = a.shape[-1]
    vector = b.ndim == 1
    if vector:
        if b.shape[0] != m:
            raise ValueError(f"linalg.solve: x2 of shape {b.shape} does not fit x1 {a.shape}")
        batch = a.shape[:-2]
        b = broadcast_to(b, (*batch, m))
        core_b = 1
    else:
        if b.shape[-2] != m:
            raise ValueError(f"linalg.solve: x2 of shape {b.shape} does not fit x1 {a.shape}")
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        b = broadcast_to(b, (*batch, *b.shape[-2:]))
        core_b = 2
    a = broadcast_to(a, (*batch, m, m))
    nb = len(batch)
    a = a.rechunk({i: -1 for i in range(nb, nb + 2)})
    b = b.rechunk({i: a.chunks[i] if i < nb else -1 for i in range(b.ndim)})
    letters = _LETTERS[:nb]
    out_core = "YX"[:core_b]
    return blockwise(
        _solve_pair,
        letters + out_core,
        a,
        letters + "YW",
        b,
        letters + out_core,
        vector,
        None,
        dtype,
        None,
        concatenate=True,
        dtype=dtype,
        name="solve",
    )


def _cross(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    return np.cross(a, b, axis=axis)


def cross(x1: Array, x2: Array, /, *, axis: int = -1) -> Array:
    """The cross product of 3-element vectors along ``axis`` (with broadcasting).

    >>> cross(asarray([1, 0, 0]), asarray([0, 1, 0])).compute()
    array([0, 0, 1])
    """
    a, b = asarray(x1), asarray(x2)
    shape = np.broadcast_shapes(a.shape, b.shape)
    if not -len(shape) <= axis < len(shape):
        raise AxisError(f"linalg.cross: axis {axis} out of range for {len(shape)} axes")
    axis %= len(shape)
    back = axis - len(shape)  # the same axis counted from the end, in every operand
    if any(len(v.shape) < -back or v.shape[back] != 3 for v in (a, b)):
        raise ValueError(
            f"linalg.cross needs size 3 along axis {axis}, got {a.shape} and {b.shape}"
        )
    a = broadcast_to(a, shape).rechunk({axis: -1})
    b = broadcast_to(b, shape).rechunk(a.chunks)
    dtype = np.result_type(a.dtype, b.dtype)
    letters = _LETTERS[: a.ndim]
    return blockwise(_cross, letters, a, letters, b, letters, axis, None, dtype=dtype, name="cross")


def diagonal(x: Array, /, *, offset: int = 0) -> Array:
    """The diagonal ``offset`` of each matrix (last two axes).

    >>> diagonal(asarray(np.arange(9).reshape(3, 3)), offset=1).compute()
    array([1, 5])
    """
    return api_products.diagonal(x, offset=offset)


def trace(x: Array, /, *, offset: int = 0, dtype: Any = None) -> Array:
    """The sum of diagonal ``offset`` of each matrix.

    >>> int(trace(asarray(np.arange(9).reshape(3, 3))))
    12
    """
    return api_products.trace(x, offset=offset, dtype=dtype)


def _matrix_norm(block: np.ndarray, ord: Any) -> np.ndarray:
    return np.asarray(np.linalg.matrix_norm(block, ord=ord))


def matrix_norm(x: Array, /, *, keepdims: bool = False, ord: Any = "fro") -> Array:
    """The norm of each matrix ("fro", "nuc", 1, 2, inf, -1, -2, -inf).

    >>> float(matrix_norm(asarray([[3.0, 0.0], [0.0, 4.0]])))
    5.0
    """
    x = _matrices(x, "matrix_norm", square=False)
    out = per_matrix(x, _matrix_norm, (), _real_of(x.dtype), name="matrix_norm", ord=ord)
    if keepdims:
        out = out.reshape((*out.shape, 1, 1))
    return out


def vector_norm(
    x: Array, /, *, axis: int | tuple | None = None, keepdims: bool = False, ord: Any = 2
) -> Array:
    """The vector ``ord``-norm over ``axis`` (all axes when ``None``).

    >>> float(vector_norm(asarray([3.0, 4.0])))
    5.0
    """
    x = _floating(x, "vector_norm")
    real = _real_of(x.dtype)
    mag = abs(x).astype(real)
    kw = {"axis": axis, "keepdims": keepdims}
    reduced = range(x.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    if ord == np.inf and any(x.shape[a] == 0 for a in reduced):
        out = numpy_reductions.sum(mag, dtype=real, **kw)  # NumPy: the inf-norm of nothing is 0
    elif ord == np.inf:
        out = numpy_reductions.max(mag, **kw)
    elif ord == -np.inf:
        out = numpy_reductions.min(mag, **kw)
    elif ord == 0:
        out = numpy_reductions.sum((mag != 0).astype(real), dtype=real, **kw)
    elif ord == 1:
        out = numpy_reductions.sum(mag, dtype=real, **kw)
    elif ord == 2:
        out = numpy_reductions.sum(mag * mag, dtype=real, **kw) ** 0.5
    else:
        p = float(ord)
        out = numpy_reductions.sum(mag**p, dtype=real, **kw) ** (1.0 / p)
    return out.astype(real)
