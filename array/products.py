"""Products: ``tensordot``, ``matmul`` (``@``), ``dot``, ``outer``.

All are ``blockwise`` with the summed axes contracted: an output block
receives the row of left blocks and the column of right blocks along the
contracted axes and sums their block products. Contracted axes are rechunked
to agree first.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .blockwise import _LETTERS, Blockwise, blockwise, unify_chunks
from .convert import asarray
from .core import Array
from .routines import diagonal

__all__ = ["tensordot", "matmul", "dot", "outer", "vdot", "einsum", "inner", "trace"]


def _pick(nested: Any, order: str, values: dict) -> Any:
    for letter in order:
        nested = nested[values[letter]]
    return nested


def _sum_products(
    left: Any,
    right: Any,
    left_order: str,
    right_order: str,
    sizes: dict,
    product: Any,
    kwargs: dict,
) -> np.ndarray:
    total: Any = None  # the sum of the parts: every sizes grid has a first part
    letters = sorted(sizes)
    for combo in itertools.product(*[range(sizes[c]) for c in letters]):
        values = dict(zip(letters, combo))
        part = product(_pick(left, left_order, values), _pick(right, right_order, values), **kwargs)
        total = part if total is None else total + part
    return total


def tensordot(a: Any, b: Any, axes: int | Sequence = 2) -> Array:
    """Sum products over the given axes (like ``np.tensordot``).

    >>> import shoal.array as sa
    >>> x = sa.arange(6, chunks=2).reshape((2, 3))
    >>> tensordot(x, x, axes=([1], [1])).compute()
    array([[ 5, 14],
           [14, 50]])
    """
    a, b = asarray(a), asarray(b)
    if isinstance(axes, (int, np.integer)):
        a_axes = list(range(a.ndim - axes, a.ndim))
        b_axes = list(range(axes))
    else:
        a_axes, b_axes = axes
        a_axes = [a_axes] if isinstance(a_axes, int) else list(a_axes)
        b_axes = [b_axes] if isinstance(b_axes, int) else list(b_axes)
    if len(a_axes) != len(b_axes):
        raise ValueError(f"tensordot axes {a_axes} and {b_axes} differ in length")
    a_axes = [x % a.ndim for x in a_axes]
    b_axes = [x % b.ndim for x in b_axes]
    for x, y in zip(a_axes, b_axes):
        if a.shape[x] != b.shape[y]:
            raise ValueError(
                f"shape-mismatch for sum in tensordot: axis {x} of {a.shape} has length "
                f"{a.shape[x]} but axis {y} of {b.shape} has length {b.shape[y]}"
            )
    letters = iter(_LETTERS)
    a_ind = [next(letters) for _ in range(a.ndim)]
    b_ind = [next(letters) for _ in range(b.ndim)]
    for x, y in zip(a_axes, b_axes):
        b_ind[y] = a_ind[x]
    out = "".join(c for i, c in enumerate(a_ind) if i not in a_axes) + "".join(
        c for i, c in enumerate(b_ind) if i not in b_axes
    )
    contracted = [a_ind[x] for x in a_axes]
    a_order = "".join(c for c in a_ind if c in contracted)
    b_order = "".join(c for c in b_ind if c in contracted)
    dtype = np.result_type(a.dtype, b.dtype)
    (a, b), chunks = unify_chunks([(a, "".join(a_ind)), (b, "".join(b_ind))], where=" in tensordot")
    sizes = {c: len(chunks[c]) for c in contracted}
    local_axes = ([a_ind.index(c) for c in contracted], [b_ind.index(c) for c in contracted])
    return blockwise(
        _sum_products,
        out,
        a,
        "".join(a_ind),
        b,
        "".join(b_ind),
        a_order,
        None,
        b_order,
        None,
        sizes,
        None,
        np.tensordot,
        None,
        {"axes": local_axes},
        None,
        dtype=dtype,
        name="tensordot",
    )


def matmul(a: Any, b: Any) -> Array:
    """Matrix product with NumPy's rules (1-D promotion, broadcast batch axes).

    >>> import shoal.array as sa
    >>> (sa.ones((2, 3), chunks=2) @ sa.ones((3, 1), chunks=2)).compute()
    array([[3.],
           [3.]])
    """
    a, b = asarray(a), asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: input operand does not have enough dimensions (0-d)")
    squeeze = []
    if a.ndim == 1:
        a = a[None, :]
        squeeze.append(-2)
    if b.ndim == 1:
        b = b[:, None]
        squeeze.append(-1)
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(
            f"matmul: input operand 1 has a mismatch in its core dimension 0: shapes "
            f"{a.shape} and {b.shape} (n={a.shape[-1]} is different from {b.shape[-2]})"
        )
    batch = max(a.ndim, b.ndim) - 2
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch shapes of {a.shape} and {b.shape} do not broadcast"
        ) from None
    batch_letters = _LETTERS[:batch]
    i, k, j = "xyz"
    a_ind = batch_letters[batch - (a.ndim - 2) :] + i + k
    b_ind = batch_letters[batch - (b.ndim - 2) :] + k + j
    dtype = np.result_type(a.dtype, b.dtype)
    product: Callable[..., np.ndarray] = np.matmul
    untransposed = _transposed_matrix(b) if batch == 0 else None
    if untransposed is not None:
        # x @ y.T reads y's blocks and transposes them inside the product (a
        # view), so x @ x.T keeps one copy of x's blocks, not two
        b, b_ind, product = untransposed, j + k, _matmul_transposed
    (a, b), chunks = unify_chunks([(a, a_ind), (b, b_ind)], where=" in matmul")
    out = blockwise(
        _sum_products,
        batch_letters + i + j,
        a,
        a_ind,
        b,
        b_ind,
        k,
        None,
        k,
        None,
        {k: len(chunks[k])},
        None,
        product,
        None,
        {},
        None,
        dtype=dtype,
        name="matmul",
    )
    if squeeze:
        index: list[slice | int] = [slice(None)] * out.ndim
        for s in squeeze:
            index[s] = 0
        out = out[tuple(index)]
    return out


def _transposed_matrix(x: Array) -> Array | None:
    """``y`` if ``x`` is ``y.T`` for a 2-D ``y``, else None."""
    e = x.expr
    if x.ndim == 2 and isinstance(e, Blockwise) and e.func is np.transpose:
        if (e.kwargs or {}).get("axes") == (1, 0) and len(e.args) == 1:
            return Array(e.args[0])
    return None


def _matmul_transposed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a, b.T)


def dot(a: Any, b: Any) -> Array:
    """``np.dot``: inner product for 1-D, matrix product for 2-D, else a sum
    over the last axis of ``a`` and the second-to-last of ``b``.

    >>> import shoal.array as sa
    >>> dot(sa.arange(3, chunks=2), sa.arange(3, chunks=1)).compute()
    np.int64(5)
    """
    a, b = asarray(a), asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([a.ndim - 1], [max(b.ndim - 2, 0)]))


def vdot(a: Any, b: Any) -> Array:
    """Dot product of the flattened arrays, conjugating ``a``.

    >>> import shoal.array as sa
    >>> vdot(sa.asarray([1j, 2]), sa.asarray([1j, 1])).compute()
    np.complex128(3+0j)
    """
    a, b = asarray(a), asarray(b)
    return dot(np.conj(a).ravel(), b.ravel())


def outer(a: Any, b: Any) -> Array:
    """Outer product of the flattened arrays.

    >>> import shoal.array as sa
    >>> outer(sa.arange(2, chunks=1), sa.arange(3, chunks=2)).compute()
    array([[0, 0, 0],
           [0, 1, 2]])
    """
    a, b = asarray(a).ravel(), asarray(b).ravel()
    return a[:, None] * b[None, :]


def _einsum_blocks(*args: Any) -> np.ndarray:
    *nested, subscripts, orders, sizes, dtype = args
    total: Any = None  # the sum of the parts: every sizes grid has a first part
    letters = sorted(sizes)
    for combo in itertools.product(*[range(sizes[c]) for c in letters]):
        values = dict(zip(letters, combo))
        blocks = [_pick(n, order, values) for n, order in zip(nested, orders)]
        part = np.einsum(subscripts, *blocks, dtype=dtype)
        total = part if total is None else total + part
    return total


def einsum(subscripts: str, *operands: Any, dtype: Any = None) -> Array:
    """Einstein summation over shoal arrays (explicit ``->`` output, no ``...``).

    >>> import shoal.array as sa
    >>> x = sa.arange(6, chunks=2).reshape((2, 3))
    >>> einsum("ij,kj->ik", x, x).compute()
    array([[ 5, 14],
           [14, 50]])
    """
    text = subscripts.replace(" ", "")
    if "->" not in text or "." in text:
        raise NotImplementedError("einsum needs an explicit '->' output and no '...'")
    inputs, out = text.split("->")
    specs = inputs.split(",")
    if len(specs) != len(operands):
        raise ValueError(f"einsum subscripts name {len(specs)} operands, got {len(operands)}")
    arrays = [asarray(op) for op in operands]
    for spec, arr in zip(specs, arrays):
        if len(spec) != arr.ndim:
            raise ValueError(f"einsum operand of shape {arr.shape} has subscripts {spec!r}")
    for c in out:
        if not any(c in spec for spec in specs):
            raise ValueError(f"einsum output subscript {c!r} is in no operand")
    arrays, chunks = unify_chunks(list(zip(arrays, specs)), where=" in einsum")
    contracted = sorted({c for spec in specs for c in spec if c not in out})
    orders = tuple("".join(c for c in dict.fromkeys(spec) if c in contracted) for spec in specs)
    sizes = {c: len(chunks[c]) for c in contracted}
    if dtype is None:
        dtype = np.result_type(*[a.dtype for a in arrays])
    pairs: list = []
    for arr, spec in zip(arrays, specs):
        pairs += [arr, spec]
    pairs += [text, None, orders, None, sizes, None, np.dtype(dtype), None]
    return blockwise(_einsum_blocks, out, *pairs, dtype=dtype, name="einsum")


def inner(a: Any, b: Any) -> Array:
    """Inner product over the last axes (like ``np.inner``).

    >>> import shoal.array as sa
    >>> inner(sa.arange(3, chunks=2), sa.arange(3, chunks=1)).compute()
    np.int64(5)
    """
    a, b = asarray(a), asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))


def trace(a: Any, offset: int = 0) -> Array:
    """Sum along diagonal ``offset`` of a 2-D array.

    >>> import shoal.array as sa
    >>> int(trace(sa.arange(9, chunks=2).reshape((3, 3))))
    12
    """
    return diagonal(asarray(a), offset).sum()
