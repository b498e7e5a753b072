"""Covariance and correlation: centred data times its transpose.

``cov`` computes the means in one pass, then the product of the centred
data with itself (a ``tensordot`` over the observations), so it reads the
input twice; free and cheap inputs are regenerated rather than kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .convert import asarray
from .core import Array
from .products import tensordot
from .routines import diagonal
from .shape import concatenate

__all__ = ["cov", "corrcoef"]


def cov(
    m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: int | None = None
) -> Array:
    """Covariance matrix of the variables in ``m`` (rows by default), like ``np.cov``.

    >>> import shoal.array as sa
    >>> cov(sa.asarray([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]], chunks=2)).compute()
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    x = asarray(m)
    if x.ndim > 2:
        raise ValueError(f"cov takes 1-D or 2-D input, got {x.ndim}-D")
    if x.ndim < 2:
        x = x.reshape((1, -1))
    if not rowvar and x.shape[0] != 1:
        x = x.T
    if y is not None:
        other = asarray(y)
        other = other.reshape((1, -1)) if other.ndim < 2 else other
        if not rowvar and other.shape[0] != 1:
            other = other.T
        x = concatenate([x, other], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = x.shape[1]
    dtype = np.result_type(x.dtype, np.float64)
    x = x.astype(dtype)
    centred = x - x.mean(axis=1, keepdims=True)
    product = tensordot(centred, centred.conj(), axes=([1], [1]))
    out = product / max(n - ddof, 0) if n - ddof > 0 else product * np.nan
    return out.squeeze() if out.shape == (1, 1) else out


def corrcoef(x: Any, y: Any = None, rowvar: bool = True) -> Array:
    """Pearson correlation coefficients (like ``np.corrcoef``).

    >>> import shoal.array as sa
    >>> corrcoef(sa.asarray([[1.0, 2.0, 4.0], [2.0, 4.0, 8.0]], chunks=1)).compute()
    array([[1., 1.],
           [1., 1.]])
    """
    c = cov(x, y, rowvar=rowvar)
    if c.ndim == 0:
        return c / c
    d = np.sqrt(np.real(_diagonal(c)))
    out = c / d[:, None] / d[None, :]
    return np.clip(np.real(out), -1, 1) if not np.iscomplexobj(c.meta) else out


def _diagonal(c: Array) -> Array:
    return diagonal(c)
