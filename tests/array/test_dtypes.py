"""Result dtypes follow NumPy's rules: creation and elementwise functions,
checked against NumPy on the same inputs by a property test (a bounded
number of examples), both the declared dtype and the computed one."""

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal.array as sa
from shoal.testing import assert_eq

DTYPES = [
    "bool",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]
NUMBERS = st.one_of(
    st.integers(-20, 20), st.floats(-20, 20, allow_nan=False).map(lambda f: round(f, 2))
)
CHUNKS = st.sampled_from([1, 2, 3, "auto"])
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


def _same(shoal_array, expected):
    assert shoal_array.dtype == expected.dtype, (shoal_array.dtype, expected.dtype)
    assert_eq(shoal_array, expected)


def test_the_issue_cases():
    _same(sa.arange(3, 13.0, 2), np.arange(3, 13.0, 2))
    _same(sa.ones((2, 3), dtype=None), np.ones((2, 3), dtype=None))
    _same(sa.zeros(4, dtype=None, chunks=3), np.zeros(4, dtype=None))
    u = np.arange(5, dtype="u1")
    x = sa.from_array(u, chunks=2)
    got = x.__array_namespace__().vecdot(x, sa.from_array(u, chunks=3))
    _same(got, np.vecdot(u, u))


@SETTINGS
@given(start=NUMBERS, stop=NUMBERS, step=NUMBERS.filter(lambda s: s != 0), chunks=CHUNKS)
def test_arange(start, stop, step, chunks):
    _same(sa.arange(start, stop, step, chunks=chunks), np.arange(start, stop, step))


@SETTINGS
@given(
    func=st.sampled_from(["ones", "zeros", "empty"]),
    dtype=st.sampled_from([None, *DTYPES]),
    shape=st.sampled_from([(0,), (1,), (5,), (3, 4), (2, 0, 3)]),
    chunks=CHUNKS,
)
def test_constants(func, dtype, shape, chunks):
    got = getattr(sa, func)(shape, dtype=dtype, chunks=chunks)
    expected = getattr(np, func)(shape, dtype=dtype)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if func != "empty":
        _same(got, expected)


@SETTINGS
@given(
    fill=st.one_of(NUMBERS, st.booleans(), st.complex_numbers(max_magnitude=5, allow_nan=False)),
    dtype=st.sampled_from([None, "float32", "int16", "complex128"]),
    like=st.sampled_from(DTYPES),
    chunks=CHUNKS,
)
def test_full_and_likes(fill, dtype, like, chunks):
    if dtype is not None and np.dtype(dtype).kind in "iu" and isinstance(fill, (float, complex)):
        return  # NumPy refuses some of these; not a dtype question
    if dtype is not None and np.dtype(dtype).kind == "f" and isinstance(fill, complex):
        return
    _same(sa.full((4, 3), fill, dtype=dtype, chunks=chunks), np.full((4, 3), fill, dtype=dtype))
    base = np.zeros((3, 2), dtype=like)
    x = sa.from_array(base, chunks=chunks)
    for name in ["ones_like", "zeros_like"]:
        _same(getattr(sa, name)(x, dtype=dtype), getattr(np, name)(base, dtype=dtype))
    assert sa.empty_like(x, dtype=dtype).dtype == np.empty_like(base, dtype=dtype).dtype


@SETTINGS
@given(
    start=NUMBERS,
    stop=NUMBERS,
    num=st.integers(0, 9),
    endpoint=st.booleans(),
    dtype=st.sampled_from([None, "float32", "float64", "int64"]),
)
def test_linspace_eye_tri(start, stop, num, endpoint, dtype):
    _same(
        sa.linspace(start, stop, num, endpoint=endpoint, dtype=dtype, chunks=2),
        np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype),
    )
    eye_dtype = dtype or float
    _same(sa.eye(num, dtype=eye_dtype, chunks=3), np.eye(num, dtype=eye_dtype))
    _same(sa.tri(num, 4, dtype=eye_dtype, chunks=3), np.tri(num, 4, dtype=eye_dtype))


BINARY = [
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.floordiv,
    operator.pow,
    operator.mod,
    np.maximum,
    np.minimum,
    np.arctan2,
    np.hypot,
    operator.lt,
    operator.eq,
    np.logaddexp,
]
UNARY = [
    np.sin,
    np.sqrt,
    np.exp,
    np.abs,
    np.negative,
    np.square,
    np.floor,
    np.sign,
    np.isnan,
    np.log1p,
    np.reciprocal,
    np.conj,
    np.real,
    np.imag,
    np.rint,
]


def _numpy_result(func, *args):
    with np.errstate(all="ignore"):
        try:
            return func(*args)
        except (TypeError, ValueError, OverflowError, ZeroDivisionError):
            return None


@SETTINGS
@given(
    func=st.sampled_from(BINARY),
    left=st.sampled_from(DTYPES),
    right=st.one_of(st.sampled_from(DTYPES), NUMBERS, st.booleans()),
    chunks=CHUNKS,
)
def test_binary(func, left, right, chunks):
    a = (np.arange(1, 7) % 3 + 1).astype(left)
    b = (np.arange(6) % 2 + 1).astype(right) if isinstance(right, str) else right
    expected = _numpy_result(func, a, b)
    if expected is None:
        with pytest.raises((TypeError, ValueError, OverflowError)):  # when built or run
            func(sa.from_array(a, chunks=chunks), b).compute()
        return
    x = sa.from_array(a, chunks=chunks)
    y = sa.from_array(b, chunks=2) if isinstance(right, str) else b
    with np.errstate(all="ignore"):
        got = func(x, y)
        assert got.dtype == expected.dtype, (func, left, right, got.dtype, expected.dtype)
        assert_eq(got, expected, equal_nan=True)


@SETTINGS
@given(func=st.sampled_from(UNARY), dtype=st.sampled_from(DTYPES), chunks=CHUNKS)
def test_unary(func, dtype, chunks):
    a = (np.arange(6) % 4).astype(dtype)
    expected = _numpy_result(func, a)
    if expected is None:
        return
    with np.errstate(all="ignore"):
        got = func(sa.from_array(a, chunks=chunks))
        assert got.dtype == expected.dtype, (func, dtype, got.dtype, expected.dtype)
        assert_eq(got, expected)
