import operator

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

CHUNKINGS = [(1, 1), (2, 3), (5, 7), ((1, 4), (3, 4)), (-1, 2)]


def data(shape=(5, 7), dtype=float, offset=0.5):
    return (np.arange(np.prod(shape)).reshape(shape) + offset).astype(dtype)


BINARY = [
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.floordiv,
    operator.mod,
    operator.pow,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
    operator.eq,
    operator.ne,
]


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_binary_operators(op, chunks):
    a, b = data(), data()[::-1] * 0.5 + 1
    x, y = sa.from_array(a, chunks=chunks), sa.from_array(b, chunks=(2, 2))
    assert_eq(op(x, y), op(a, b))
    assert_eq(op(x, 3), op(a, 3))
    assert_eq(op(3, x), op(3, a))
    assert_eq(op(x, b), op(a, b))


@pytest.mark.parametrize(
    "op", [operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift]
)
def test_integer_operators(op):
    a, b = data(dtype=int), (data(dtype=int) % 3)
    x, y = sa.from_array(a, chunks=(2, 3)), sa.from_array(b, chunks=(3, 2))
    assert_eq(op(x, y), op(a, b))
    assert_eq(op(x, 1), op(a, 1))


def test_unary_operators():
    a = data() - 10
    x = sa.from_array(a, chunks=(2, 3))
    assert_eq(-x, -a)
    assert_eq(+x, a)
    assert_eq(abs(x), abs(a))
    ints = data(dtype=int)
    assert_eq(~sa.from_array(ints, chunks=2), ~ints)
    q, r = divmod(x, 3)
    assert_eq(q, a // 3)
    assert_eq(r, a % 3)


@pytest.mark.parametrize(
    "name",
    [
        "sin",
        "exp",
        "log1p",
        "sqrt",
        "isnan",
        "isfinite",
        "floor",
        "negative",
        "signbit",
        "arctan2",
        "hypot",
        "maximum",
        "fmin",
        "logaddexp",
        "ldexp",
        "copysign",
        "bitwise_and",
    ],
)
def test_ufuncs(name):
    ufunc = getattr(np, name)
    a = data() / 10
    args = [a] if ufunc.nin == 1 else [a, a[::-1] + 1]
    if name in ("ldexp",):
        args = [a, data(dtype=int) % 4]
    if name == "bitwise_and":
        args = [data(dtype=int), data(dtype=int)[::-1]]
    shoal_args = [sa.from_array(v, chunks=(2, 3)) for v in args]
    assert_eq(ufunc(*shoal_args), ufunc(*args))
    assert_eq(getattr(sa, name)(*shoal_args), ufunc(*args))
    assert isinstance(ufunc(*shoal_args), sa.Array)


def test_every_numpy_ufunc_is_exported():
    ufuncs = [n for n in dir(np) if isinstance(getattr(np, n), np.ufunc) and n[0] != "_"]
    assert "sin" in ufuncs and "add" in ufuncs
    for name in ufuncs:
        assert callable(getattr(sa, name)) and name in sa.__all__, name


def test_multi_output_ufunc():
    a = data() / 3
    frac, whole = np.modf(sa.from_array(a, chunks=2))
    assert_eq(frac, np.modf(a)[0])
    assert_eq(whole, np.modf(a)[1])


def test_ufunc_methods():
    a = data()
    x = sa.from_array(a, chunks=(2, 3))
    assert_eq(np.add.reduce(x, axis=0), np.add.reduce(a, axis=0))
    assert_eq(np.multiply.accumulate(x / 10, axis=1), np.multiply.accumulate(a / 10, axis=1))
    v = np.arange(3)
    assert_eq(np.multiply.outer(sa.from_array(v, chunks=2), v), np.multiply.outer(v, v))
    with pytest.raises(TypeError, match="out="):
        np.add(x, 1, out=np.empty((5, 7)))


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((5, 7), (7,)), ((5, 1), (1, 7)), ((1,), (5, 7)), ((3, 1, 4), (5, 1)), ((), (5, 7))],
)
def test_broadcasting_with_different_chunks(shape_a, shape_b):
    a, b = data(shape_a), data(shape_b, offset=2)
    x = sa.from_array(a, chunks=2) if a.ndim else sa.asarray(a)
    y = sa.from_array(b, chunks=3)
    assert_eq(x + y, a + b)
    assert_eq(x * b, a * b)


def test_broadcast_error_names_shapes():
    x, y = sa.ones((5, 7), chunks=2), sa.ones((4,), chunks=2)
    with pytest.raises(ValueError, match=r"\(5, 7\), \(4,\)"):
        x + y


def test_chunk_unification():
    a = data((12,))
    x, y = sa.from_array(a, chunks=5), sa.from_array(a, chunks=4)
    z = x + y
    assert z.chunks == ((4, 1, 3, 2, 2),)
    assert_eq(z, a * 2)


def test_astype():
    a = data()
    x = sa.from_array(a, chunks=2)
    assert_eq(x.astype("i4"), a.astype("i4"))
    assert x.astype(x.dtype) is x
    with pytest.raises(TypeError, match="cannot cast"):
        x.astype("i4", casting="safe")
    assert_eq(sa.astype(x, np.float32), a.astype(np.float32))


def test_where_clip_round_real_imag():
    a = data() - 17
    x = sa.from_array(a, chunks=(2, 3))
    assert_eq(sa.where(x > 0, x, 0), np.where(a > 0, a, 0))
    assert_eq(np.where(x > 0, x, -a), np.where(a > 0, a, -a))
    assert_eq(x.clip(-3, 4), a.clip(-3, 4))
    assert_eq(sa.clip(x, None, 2), np.clip(a, None, 2))
    assert_eq((x / 7).round(2), (a / 7).round(2))
    assert_eq(np.round(x / 7, 1), np.round(a / 7, 1))
    c = a + 1j * a[::-1]
    z = sa.from_array(c, chunks=3)
    assert_eq(z.real, c.real)
    assert_eq(z.imag, c.imag)
    assert_eq(np.real(z), np.real(c))
    assert_eq(z.conj(), c.conj())
    with pytest.raises(ValueError, match="min and max"):
        sa.clip(x)


def test_nan_checks():
    a = np.array([1.0, np.nan, np.inf, -np.inf, 0.0])
    x = sa.from_array(a, chunks=2)
    assert_eq(sa.isnan(x), np.isnan(a))
    assert_eq(np.isfinite(x), np.isfinite(a))
    assert_eq(np.isinf(x), np.isinf(a))


def test_empty_and_zero_d():
    e = sa.ones((0, 3), chunks=2)
    assert_eq(e + 1, np.ones((0, 3)) + 1)
    s = sa.asarray(np.array(2.0))
    assert_eq(s * sa.arange(3, chunks=2), 2.0 * np.arange(3))


def test_unknown_operand_types_are_refused():
    with pytest.raises(TypeError):
        sa.ones(3, chunks=1) + "text"


def test_ufunc_keywords_reach_the_ufunc():
    a = np.arange(5)
    x = sa.from_array(a, chunks=2)
    assert_eq(np.add(x, 1, dtype="f4"), np.add(a, 1, dtype="f4"))
    assert_eq(
        np.multiply(x, 2.5, casting="unsafe", dtype="i8"),
        np.multiply(a, 2.5, casting="unsafe", dtype="i8"),
    )
    with pytest.raises(NotImplementedError, match="where="):
        np.add(x, 1, where=a > 2)
