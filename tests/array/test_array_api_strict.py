"""The Array API namespace of shoal arrays against ``array-api-strict`` (the
reference implementation of the standard) as the oracle: every function and
array method the standard lists and array-api-strict implements, on inputs
drawn by hypothesis and split into several chunkings (one block, blocks of
one element, uneven blocks, empty axes). Each comparison checks values,
shape and dtype. Where array-api-strict refuses an input (a dtype the
standard does not require, say), the example is skipped: only what the
oracle defines is compared.

The example count is bounded (``SHOAL_ARRAY_API_EXAMPLES``, default 12).
"""

from __future__ import annotations

import math
import operator
import os
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
strict = pytest.importorskip("array_api_strict")

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import shoal.array as sa  # noqa: E402

xp = sa.ones(1).__array_namespace__()

EXAMPLES = int(os.environ.get("SHOAL_ARRAY_API_EXAMPLES", "12"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never flakes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

DTYPES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
    "complex64",
    "complex128",
]
NUMERIC = DTYPES[1:]
REAL = DTYPES[1:11]
FLOAT = ["float32", "float64"]
INEXACT = FLOAT + ["complex64", "complex128"]


# ------------------------------------------------------------------ drawing
def chunkings(n: int) -> st.SearchStrategy:
    """One axis's chunks: whole, single elements, or an uneven split."""
    if n <= 1:
        return st.just((n,))
    uneven = st.lists(st.integers(1, n), min_size=1, max_size=n).map(lambda cuts: _split(n, cuts))
    return st.one_of(st.just((n,)), st.just((1,) * n), uneven)


def _split(n: int, sizes: list) -> tuple:
    out, left = [], n
    for s in sizes:
        if left == 0:
            break
        out.append(min(s, left))
        left -= out[-1]
    if left:
        out.append(left)
    return tuple(out)


def elements(dtype: str, finite: bool) -> st.SearchStrategy:
    d = np.dtype(dtype)
    if d.kind in "fc":
        width = 32 if d in (np.float32, np.complex64) else 64
        if d.kind == "c":
            part = st.floats(
                width=width,
                allow_nan=not finite,
                allow_infinity=not finite,
                allow_subnormal=False,
                min_value=-1e6 if finite else None,
                max_value=1e6 if finite else None,
            )
            return st.builds(complex, part, part)
        return st.floats(
            width=width,
            allow_nan=not finite,
            allow_infinity=not finite,
            allow_subnormal=False,
            min_value=-1e6 if finite else None,
            max_value=1e6 if finite else None,
        )
    if d.kind == "b":
        return st.booleans()
    info = np.iinfo(d)
    if finite:
        return st.integers(max(info.min, -50), min(info.max, 50))
    return st.integers(int(info.min), int(info.max))


@st.composite
def operands(
    draw, dtypes=DTYPES, shape=None, min_dims=0, max_dims=3, min_side=0, max_side=4, finite=False
):
    """(numpy array, shoal array in some chunking, strict array) of equal contents."""
    dtype = draw(st.sampled_from(dtypes))
    if shape is None:
        shape = draw(
            hnp.array_shapes(
                min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
            )
        )
    a = draw(hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, finite)))
    chunks = tuple(draw(chunkings(n)) for n in shape)
    return a, sa.from_array(a, chunks=chunks), strict.asarray(a.copy())


# --------------------------------------------------------------- comparing
def to_numpy(value):
    if isinstance(value, sa.Array):
        return np.asarray(value.compute())
    return np.from_dlpack(value)


def strict_dtype(dtype) -> np.dtype:
    """The NumPy dtype of an array-api-strict dtype."""
    return np.from_dlpack(strict.empty(0, dtype=dtype)).dtype


def assert_same(ours, theirs, rtol=None, atol=None):
    """Equal values (NaN equal to NaN), shape and dtype; tuples item by item.
    ``atol`` defaults to ``rtol``."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple), f"expected a tuple, got {type(ours).__name__}"
        assert len(ours) == len(theirs)
        if hasattr(theirs, "_fields"):
            assert ours._fields == theirs._fields
        for o, t in zip(ours, theirs):
            assert_same(o, t, rtol, atol)
        return
    if isinstance(theirs, type(strict.int8)):
        assert ours == strict_dtype(theirs), (ours, theirs)
        return
    if not hasattr(theirs, "dtype"):
        assert ours == theirs or (ours != ours and theirs != theirs), (ours, theirs)
        return
    assert isinstance(ours, sa.Array), f"expected a shoal array, got {type(ours).__name__}"
    expected = to_numpy(theirs)
    assert ours.shape == expected.shape, (ours.shape, expected.shape)
    assert ours.dtype == expected.dtype, (ours.dtype, expected.dtype)
    got = to_numpy(ours)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if rtol is None and expected.dtype.kind in "fc":
        rtol = 1e-4 if expected.dtype in (np.float32, np.complex64) else 1e-10
    if rtol:
        atol = rtol if atol is None else atol
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected)


def oracle(func, *args, **kwargs):
    """The oracle's answer, or skip the example when the oracle refuses it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return func(*args, **kwargs)
    except (
        TypeError,
        ValueError,
        IndexError,
        NotImplementedError,
        OverflowError,
        np.linalg.LinAlgError,
    ):
        assume(False)


def compare(name, ns_args, strict_args, kwargs=None, rtol=None, module="", atol=None):
    kwargs = kwargs or {}
    ours_ns = getattr(xp, module) if module else xp
    theirs_ns = getattr(strict, module) if module else strict
    theirs = oracle(getattr(theirs_ns, name), *strict_args, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(getattr(ours_ns, name)(*ns_args, **kwargs), theirs, rtol, atol)


def _accepts(func, dtype, nin) -> bool:
    try:
        func(*[strict.ones(2, dtype=getattr(strict, dtype))] * nin)
    except (TypeError, ValueError):
        return False
    return True


# ------------------------------------------------------------- elementwise
UNARY = [
    "abs",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "bitwise_invert",
    "ceil",
    "conj",
    "cos",
    "cosh",
    "exp",
    "expm1",
    "floor",
    "imag",
    "isfinite",
    "isinf",
    "isnan",
    "log",
    "log1p",
    "log2",
    "log10",
    "logical_not",
    "negative",
    "positive",
    "real",
    "reciprocal",
    "round",
    "sign",
    "signbit",
    "sin",
    "sinh",
    "square",
    "sqrt",
    "tan",
    "tanh",
    "trunc",
]
BINARY = [
    "add",
    "atan2",
    "bitwise_and",
    "bitwise_left_shift",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "copysign",
    "divide",
    "equal",
    "floor_divide",
    "greater",
    "greater_equal",
    "hypot",
    "less",
    "less_equal",
    "logaddexp",
    "logical_and",
    "logical_or",
    "logical_xor",
    "maximum",
    "minimum",
    "multiply",
    "nextafter",
    "not_equal",
    "pow",
    "remainder",
    "subtract",
]


def test_the_namespace_has_every_name_of_the_oracle():
    ignore = {
        "ArrayAPIStrictFlags",
        "Device",
        "get_array_api_strict_flags",
        "reset_array_api_strict_flags",
        "set_array_api_strict_flags",
        "__version__",
    }
    missing = [n for n in strict.__all__ if n not in ignore and not hasattr(xp, n)]
    assert not missing
    for ext in ("linalg", "fft"):
        assert not [n for n in getattr(strict, ext).__all__ if not hasattr(getattr(xp, ext), n)]
    assert set(UNARY + BINARY) <= set(strict.__all__)


@pytest.mark.parametrize("name", UNARY)
@SETTINGS
@given(data=st.data())
def test_unary(name, data):
    dtypes = [d for d in DTYPES if _accepts(getattr(strict, name), d, 1)]
    a, x, s = data.draw(operands(dtypes))
    if name == "sign" and a.dtype.kind == "c":
        # sign(z) = z/|z|: array-api-strict divides (nan for infinite parts), NumPy
        # takes the limit (0+inf*1j gives 1j); the standard leaves infinities open
        assume(np.isfinite(a).all())
    compare(name, (x,), (s,))


@pytest.mark.parametrize("name", BINARY)
@SETTINGS
@given(data=st.data())
def test_binary(name, data):
    dtypes = [d for d in DTYPES if _accepts(getattr(strict, name), d, 2)]
    a, x, s = data.draw(operands(dtypes, max_dims=2))
    shape = data.draw(hnp.broadcastable_shapes(a.shape, max_dims=2, max_side=4))
    b, y, t = data.draw(operands([str(a.dtype)], shape=shape))
    if name in ("bitwise_left_shift", "bitwise_right_shift") and a.dtype.kind in "iu":
        # shifts by negative or too many bits are undefined: fold the drawn ones in
        b = (np.abs(b.astype(np.int64)) % (8 * a.dtype.itemsize)).astype(a.dtype)
        y, t = sa.from_array(b, chunks=y.chunks), strict.asarray(b.copy())
    compare(name, (x, y), (s, t))
    scalar = data.draw(elements(str(a.dtype), finite=True))
    compare(name, (x, scalar), (s, scalar))
    compare(name, (scalar, x), (scalar, s))


@SETTINGS
@given(data=st.data())
def test_mixed_dtypes_promote_as_the_oracle(data):
    a, x, s = data.draw(operands(NUMERIC, max_dims=1, finite=True))
    b, y, t = data.draw(operands(NUMERIC, shape=a.shape, finite=True))
    compare("add", (x, y), (s, t))
    compare("result_type", (x, y), (s, t))
    assert xp.can_cast(x.dtype, y.dtype) or not strict.can_cast(s.dtype, t.dtype)


@SETTINGS
@given(data=st.data())
def test_clip(data):
    a, x, s = data.draw(operands(REAL, finite=True))
    lo = data.draw(elements(str(a.dtype), finite=True))
    hi = data.draw(elements(str(a.dtype), finite=True))
    compare("clip", (x,), (s,), {"min": lo, "max": hi})
    compare("clip", (x,), (s,), {"min": lo})
    compare("clip", (x,), (s,), {"max": hi})


# ----------------------------------------------------- operators, methods
BINARY_OPERATORS = [
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.floordiv,
    operator.mod,
    operator.pow,
    operator.and_,
    operator.or_,
    operator.xor,
    operator.lshift,
    operator.rshift,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
    operator.eq,
    operator.ne,
    operator.matmul,
]
INPLACE = [
    operator.iadd,
    operator.isub,
    operator.imul,
    operator.itruediv,
    operator.ifloordiv,
    operator.imod,
    operator.ipow,
    operator.iand,
    operator.ior,
    operator.ixor,
]


def _both(op, x, y, s, t):
    theirs = oracle(op, s, t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(op(x, y), theirs)


@pytest.mark.parametrize("op", BINARY_OPERATORS, ids=lambda op: op.__name__)
@SETTINGS
@given(data=st.data())
def test_operators(op, data):
    a, x, s = data.draw(operands(DTYPES, min_dims=1, max_dims=2, finite=True))
    b, y, t = data.draw(
        operands(
            [str(a.dtype)], shape=a.shape[::-1] if op is operator.matmul else a.shape, finite=True
        )
    )
    if op in (operator.lshift, operator.rshift):
        assume(a.dtype.kind in "iu" and np.all(b >= 0) and np.all(b < 8 * a.dtype.itemsize))
    _both(op, x, y, s, t)
    if op is not operator.matmul:
        scalar = data.draw(elements(str(a.dtype), finite=True))
        if op in (operator.lshift, operator.rshift):
            scalar = abs(int(scalar)) % 8
        _both(op, x, scalar, s, scalar)
        _both(op, scalar, x, scalar, s)


@pytest.mark.parametrize("op", INPLACE, ids=lambda op: op.__name__)
@SETTINGS
@given(data=st.data())
def test_inplace_operators(op, data):
    a, x, s = data.draw(operands(NUMERIC, min_dims=1, max_dims=2, finite=True))
    b, y, t = data.draw(operands([str(a.dtype)], shape=a.shape, finite=True))
    theirs = oracle(op, s, t)
    assert_same(op(x, y), theirs)


@pytest.mark.parametrize(
    "op", [operator.neg, operator.pos, operator.abs, operator.invert], ids=lambda op: op.__name__
)
@SETTINGS
@given(data=st.data())
def test_unary_operators(op, data):
    a, x, s = data.draw(operands(DTYPES))
    theirs = oracle(op, s)
    assert_same(op(x), theirs)


@SETTINGS
@given(data=st.data())
def test_scalar_conversions_and_attributes(data):
    a, x, s = data.draw(operands(DTYPES, shape=()))
    for kind in (bool, int, float, complex):
        theirs = oracle(kind, s)
        assert kind(x) == theirs or (theirs != theirs and kind(x) != kind(x))
    b, y, t = data.draw(operands(DTYPES, min_dims=2))
    assert y.ndim == t.ndim and y.size == t.size and y.device == "cpu"
    assert_same(y.mT, t.mT)
    assert y.to_device(xp.__array_namespace_info__().default_device()) is y


@st.composite
def basic_indices(draw, shape):
    parts = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "none"] if n else ["slice", "none"]))
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-n - 1, n + 1))
            stop = draw(st.none() | st.integers(-n - 1, n + 1))
            step = draw(st.none() | st.integers(1, 3) | st.integers(-3, -1))
            parts.append(slice(start, stop, step))
        else:
            parts.append(None)
            parts.append(slice(None))
    if parts and draw(st.booleans()):
        parts[draw(st.integers(0, len(parts) - 1))] = Ellipsis
    return tuple(parts)


@SETTINGS
@given(data=st.data())
def test_getitem(data):
    a, x, s = data.draw(operands(DTYPES, max_dims=3))
    index = data.draw(basic_indices(a.shape))
    assert_same(x[index], oracle(operator.getitem, s, index))


@SETTINGS
@given(data=st.data())
def test_getitem_with_integer_arrays_and_masks(data):
    a, x, s = data.draw(operands(DTYPES, min_dims=1, min_side=1, max_dims=2))
    idx = data.draw(
        hnp.arrays(np.int64, st.integers(0, 4), elements=st.integers(-a.shape[0], a.shape[0] - 1))
    )
    key = (sa.from_array(idx),) + (slice(None),) * (a.ndim - 1)
    assert_same(x[key], oracle(operator.getitem, s, (strict.asarray(idx),) + key[1:]))
    mask = data.draw(hnp.arrays(bool, a.shape))
    theirs = oracle(operator.getitem, s, strict.asarray(mask))
    # a mask held in memory gives known lengths at once (as the standard's suite wants)
    assert_same(x[sa.from_array(mask)], theirs)
    # a mask still to compute gives unknown lengths (nan) until computed, as in dask
    masked = x[sa.from_array(mask) & True]
    assert a.size == 0 or math.isnan(masked.shape[0])
    assert_same(masked.compute_chunk_sizes(), theirs)


@SETTINGS
@given(data=st.data())
def test_setitem(data):
    a, x, s = data.draw(operands(DTYPES, max_dims=3))
    index = data.draw(basic_indices(a.shape))
    value = data.draw(elements(str(a.dtype), finite=True))
    oracle(operator.setitem, s, index, value)
    x[index] = value
    assert_same(x, s)
    mask = data.draw(hnp.arrays(bool, a.shape))
    oracle(operator.setitem, s, strict.asarray(mask), value)
    x[sa.from_array(mask)] = value
    assert_same(x, s)


@pytest.mark.parametrize("shape", [(), (2, 3)])
@pytest.mark.parametrize("keep", [True, False])
def test_zero_d_mask(shape, keep):
    a = np.arange(math.prod(shape), dtype=float).reshape(shape)
    theirs = strict.asarray(a)[strict.asarray(keep)]
    ours = sa.from_array(a, chunks=1)[xp.asarray(keep)]
    assert_same(ours.compute_chunk_sizes(), theirs)


def test_setitem_on_a_zero_d_array():
    x, s = xp.asarray(1.5), strict.asarray(1.5)
    x[()] = 2.5
    s[()] = 2.5
    assert_same(x, s)
    x[...] = xp.asarray(3.5)
    s[...] = strict.asarray(3.5)
    assert_same(x, s)


@SETTINGS
@given(data=st.data())
def test_dlpack_round_trip_of_one_block(data):
    a, x, s = data.draw(operands(DTYPES, max_dims=2))
    x = x.rechunk(-1) if x.ndim else x
    assert x.__dlpack_device__() == s.__dlpack_device__()
    assert_same(xp.from_dlpack(x), strict.from_dlpack(s))
    np.testing.assert_array_equal(np.from_dlpack(x), a)
    assert_same(xp.from_dlpack(a), strict.from_dlpack(a))


def test_dlpack_of_many_blocks_says_to_rechunk():
    with pytest.raises(BufferError, match="rechunk"):
        sa.arange(4, chunks=2).__dlpack__()
    empty = sa.zeros((2, 0, 2), dtype="int64", chunks=1)  # nothing to gather
    out = np.from_dlpack(empty)
    assert out.shape == (2, 0, 2) and out.dtype == np.int64


# --------------------------------------------------------------- creation
@SETTINGS
@given(
    start=st.integers(-10, 10) | st.floats(-10, 10),
    stop=st.none() | st.integers(-10, 10) | st.floats(-10, 10),
    step=st.sampled_from([1, 2, -1, 0.5, -1.5]),
)
def test_arange(start, stop, step):
    compare("arange", (start, stop, step), (start, stop, step))


@SETTINGS
@given(
    start=st.integers(-10, 10) | st.floats(-10, 10) | st.complex_numbers(max_magnitude=10),
    stop=st.integers(-10, 10) | st.floats(-10, 10),
    num=st.integers(0, 7),
    endpoint=st.booleans(),
)
def test_linspace(start, stop, num, endpoint):
    compare("linspace", (start, stop, num), (start, stop, num), {"endpoint": endpoint})


@SETTINGS
@given(
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    fill=st.booleans()
    | st.integers(-5, 5)
    | st.floats(-5, 5)
    | st.complex_numbers(max_magnitude=5),
    dtype=st.none() | st.sampled_from(DTYPES),
)
def test_shape_creation(shape, fill, dtype):
    kw = {} if dtype is None else {"dtype": getattr(xp, dtype)}
    skw = {} if dtype is None else {"dtype": getattr(strict, dtype)}
    for name in ("zeros", "ones"):
        assert_same(getattr(xp, name)(shape, **kw), oracle(getattr(strict, name), shape, **skw))
    assert_same(xp.full(shape, fill, **kw), oracle(strict.full, shape, fill, **skw))
    empty = xp.empty(shape, **kw)
    assert empty.shape == shape
    assert empty.dtype == strict_dtype(oracle(strict.empty, shape, **skw).dtype)


@SETTINGS
@given(data=st.data())
def test_like_creation_and_asarray(data):
    a, x, s = data.draw(operands(DTYPES))
    for name in ("zeros_like", "ones_like"):
        compare(name, (x,), (s,))
    compare("full_like", (x, 1), (s, 1))
    assert xp.empty_like(x).shape == a.shape and xp.empty_like(x).dtype == a.dtype
    assert_same(xp.asarray(a.tolist()), oracle(strict.asarray, a.tolist()))
    copied = xp.asarray(a, copy=True)
    a_before = a.copy()
    if a.size:
        a.flat[0] = a.flat[-1] if a.size > 1 else a.flat[0]
    np.testing.assert_array_equal(copied.compute(), a_before)


@SETTINGS
@given(
    n=st.integers(0, 5),
    m=st.none() | st.integers(0, 5),
    k=st.integers(-5, 5),
    dtype=st.sampled_from(DTYPES),
)
def test_eye(n, m, k, dtype):
    assert_same(
        xp.eye(n, m, k=k, dtype=getattr(xp, dtype)),
        oracle(strict.eye, n, m, k=k, dtype=getattr(strict, dtype)),
    )


@SETTINGS
@given(data=st.data())
def test_tril_triu_meshgrid(data):
    a, x, s = data.draw(operands(DTYPES, min_dims=2))
    k = data.draw(st.integers(-3, 3))
    compare("tril", (x,), (s,), {"k": k})
    compare("triu", (x,), (s,), {"k": k})
    b, y, t = data.draw(operands(NUMERIC, shape=(3,)))
    c, z, u = data.draw(operands([str(b.dtype)], shape=(2,)))
    for indexing in ("xy", "ij"):
        compare("meshgrid", (y, z), (t, u), {"indexing": indexing})


# -------------------------------------------------------------- data types
@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_functions(dtype):
    ours, theirs = getattr(xp, dtype), getattr(strict, dtype)
    assert np.dtype(dtype) == ours
    kinds = [
        "bool",
        "signed integer",
        "unsigned integer",
        "integral",
        "real floating",
        "complex floating",
        "numeric",
    ]
    for kind in kinds:
        assert xp.isdtype(ours, kind) == strict.isdtype(theirs, kind)
    for other in DTYPES:
        # the standard leaves casts across kinds open: only the oracle's yes binds
        if strict.can_cast(theirs, getattr(strict, other)):
            assert xp.can_cast(ours, getattr(xp, other))
        try:
            expected = strict.result_type(theirs, getattr(strict, other))
        except TypeError:
            continue
        assert xp.result_type(ours, getattr(xp, other)) == strict_dtype(expected)
    if np.dtype(dtype).kind in "iu":
        o, t = xp.iinfo(ours), strict.iinfo(theirs)
        assert (o.bits, o.min, o.max) == (t.bits, t.min, t.max)
        assert all(type(v) is int for v in (o.bits, o.min, o.max))
    if np.dtype(dtype).kind in "fc":
        o, t = xp.finfo(ours), strict.finfo(theirs)
        assert (o.bits, o.eps, o.max, o.min, o.smallest_normal) == (
            t.bits,
            t.eps,
            t.max,
            t.min,
            t.smallest_normal,
        )
        assert all(type(v) is float for v in (o.eps, o.max, o.min, o.smallest_normal))


@SETTINGS
@given(data=st.data())
def test_astype(data):
    a, x, s = data.draw(operands(DTYPES, finite=True))
    to = data.draw(st.sampled_from(DTYPES))
    compare("astype", (x, getattr(xp, to)), (s, getattr(strict, to)))


def test_inspection():
    ours, theirs = xp.__array_namespace_info__(), strict.__array_namespace_info__()
    assert ours.capabilities().keys() == theirs.capabilities().keys()
    assert ours.default_dtypes().keys() == theirs.default_dtypes().keys()
    for kind in (None, "bool", "integral", "real floating", ("bool", "complex floating")):
        assert ours.dtypes(kind=kind).keys() == theirs.dtypes(kind=kind).keys()
    assert ours.default_dtypes() == {k: strict_dtype(v) for k, v in theirs.default_dtypes().items()}
    assert xp.__array_api_version__ == strict.__array_api_version__


# ------------------------------------------------------------- statistics
@st.composite
def axes(draw, ndim, allow_tuple=True):
    if ndim == 0:
        return None
    single = st.integers(-ndim, ndim - 1)
    choices = [st.none(), single]
    if allow_tuple:
        choices.append(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple))
    return draw(st.one_of(*choices))


@pytest.mark.parametrize(
    "name", ["sum", "prod", "max", "min", "mean", "std", "var", "all", "any", "count_nonzero"]
)
@SETTINGS
@given(data=st.data())
def test_reductions(name, data):
    dtypes = [d for d in DTYPES if _accepts(getattr(strict, name), d, 1)]
    a, x, s = data.draw(operands(dtypes, finite=True))
    kw = {"axis": data.draw(axes(a.ndim)), "keepdims": data.draw(st.booleans())}
    if name in ("std", "var"):
        kw["correction"] = data.draw(st.sampled_from([0, 1, 0.5]))
    if name in ("sum", "prod") and data.draw(st.booleans()):
        kw["dtype"] = getattr(strict, data.draw(st.sampled_from(dtypes)))
        kw_ours = dict(kw, dtype=strict_dtype(kw["dtype"]))
        theirs = oracle(getattr(strict, name), s, **kw)
        _assume_no_overflow(name, theirs)
        assert_same(getattr(xp, name)(x, **kw_ours), theirs)
        return
    rtol = 1e-3 if name in ("std", "var", "prod") else None
    atol = None
    if name in ("std", "var") and a.size:
        # rounding noise of a variance grows with the values' square, whatever the
        # spread: a blocked sum rounds differently from array-api-strict's
        noise = 16 * a.size * np.finfo(a.dtype).eps * float(np.abs(a).max()) ** 2
        atol = max(1e-3, noise if name == "var" else noise**0.5)
    _assume_no_overflow(name, oracle(getattr(strict, name), s, **kw))
    compare(name, (x,), (s,), kw, rtol=rtol, atol=atol)


def _assume_no_overflow(name, theirs):
    """A product that overflows is not compared: which infinity or NaN comes out
    (``inf+0j`` or ``inf+nanj``) depends on the order of the multiplications,
    and a blocked product multiplies in another order."""
    if name == "prod" and to_numpy(theirs).dtype.kind in "fc":
        assume(bool(np.isfinite(to_numpy(theirs)).all()))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@SETTINGS
@given(data=st.data())
def test_arg_reductions(name, data):
    a, x, s = data.draw(operands(REAL, min_side=1))
    kw = {"axis": data.draw(axes(a.ndim, allow_tuple=False)), "keepdims": data.draw(st.booleans())}
    compare(name, (x,), (s,), kw)


@pytest.mark.parametrize("name", ["cumulative_sum", "cumulative_prod"])
@SETTINGS
@given(data=st.data())
def test_cumulative(name, data):
    a, x, s = data.draw(operands(NUMERIC + ["bool"], min_dims=1, finite=True))
    kw = {
        "axis": data.draw(st.integers(-a.ndim, a.ndim - 1)),
        "include_initial": data.draw(st.booleans()),
    }
    compare(name, (x,), (s,), kw, rtol=1e-3)


@SETTINGS
@given(data=st.data())
def test_diff(data):
    a, x, s = data.draw(operands(NUMERIC, min_dims=1, finite=True))
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    n = data.draw(st.integers(0, 3))
    compare("diff", (x,), (s,), {"axis": axis, "n": n})
    side = tuple(1 if i == axis % a.ndim else k for i, k in enumerate(a.shape))
    b, y, t = data.draw(operands([str(a.dtype)], shape=side, finite=True))
    both = oracle(strict.diff, s, axis=axis, prepend=t, append=t)
    assert_same(xp.diff(x, axis=axis, prepend=y, append=y), both)
    assert_same(xp.diff(x, axis=axis, prepend=y), oracle(strict.diff, s, axis=axis, prepend=t))


# ----------------------------------------------------------- manipulation
@SETTINGS
@given(data=st.data())
def test_joining(data):
    a, x, s = data.draw(operands(NUMERIC, min_dims=1))
    b, y, t = data.draw(operands(NUMERIC, shape=a.shape))
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    compare("concat", ((x, y),), ((s, t),), {"axis": axis})
    compare("concat", ((x, y),), ((s, t),), {"axis": None})
    compare("stack", ((x, y),), ((s, t),), {"axis": data.draw(st.integers(-a.ndim - 1, a.ndim))})
    compare("unstack", (x,), (s,), {"axis": axis})
    first = (slice(0, min(1, a.shape[0])),) + (slice(None),) * (a.ndim - 1)
    compare("broadcast_arrays", (x, y[first]), (s, t[first]))


@SETTINGS
@given(data=st.data())
def test_reshaping(data):
    a, x, s = data.draw(operands(DTYPES))
    ndim = a.ndim
    compare("expand_dims", (x,), (s,), {"axis": data.draw(st.integers(-ndim - 1, ndim))})
    compare("flip", (x,), (s,), {"axis": data.draw(axes(ndim))})
    compare("reshape", (x, (-1,)), (s, (-1,)))
    if ndim:
        new = data.draw(st.permutations(list(a.shape)).map(tuple))
        if math.prod(new) == a.size:
            compare("reshape", (x, new), (s, new))
        perm = tuple(data.draw(st.permutations(list(range(ndim)))))
        compare("permute_dims", (x, perm), (s, perm))
        src = data.draw(st.integers(-ndim, ndim - 1))
        dst = data.draw(st.integers(-ndim, ndim - 1))
        compare("moveaxis", (x, src, dst), (s, src, dst))
        ones = tuple(i for i, n in enumerate(a.shape) if n == 1)
        if ones:
            compare("squeeze", (x,), (s,), {"axis": ones})
    shift = data.draw(st.integers(-5, 5))
    compare("roll", (x, shift), (s, shift))
    if ndim:
        axis = data.draw(st.integers(-ndim, ndim - 1))
        compare("roll", (x, shift), (s, shift), {"axis": axis})
    reps = tuple(data.draw(st.lists(st.integers(0, 3), max_size=3)))
    compare("tile", (x, reps), (s, reps))
    target = data.draw(
        hnp.broadcastable_shapes(a.shape, max_dims=4, min_side=0).map(
            lambda sh: np.broadcast_shapes(sh, a.shape)
        )
    )
    compare("broadcast_to", (x, target), (s, target))


@SETTINGS
@given(data=st.data())
def test_repeat(data):
    a, x, s = data.draw(operands(DTYPES, min_dims=1))
    axis = data.draw(st.none() | st.integers(-a.ndim, a.ndim - 1))
    n = data.draw(st.integers(0, 3))
    compare("repeat", (x, n), (s, n), {"axis": axis})
    length = a.size if axis is None else a.shape[axis]
    counts = data.draw(hnp.arrays(np.int64, length, elements=st.integers(0, 3)))
    compare("repeat", (x, xp.asarray(counts)), (s, strict.asarray(counts)), {"axis": axis})


@SETTINGS
@given(data=st.data())
def test_take_and_take_along_axis(data):
    a, x, s = data.draw(operands(DTYPES, min_dims=1, min_side=1))
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    n = a.shape[axis]
    idx = data.draw(hnp.arrays(np.int64, st.integers(0, 5), elements=st.integers(-n, n - 1)))
    compare("take", (x, xp.asarray(idx)), (s, strict.asarray(idx)), {"axis": axis})
    shape = list(a.shape)
    shape[axis] = data.draw(st.integers(0, 4))
    along = data.draw(hnp.arrays(np.int64, tuple(shape), elements=st.integers(-n, n - 1)))
    compare("take_along_axis", (x, xp.asarray(along)), (s, strict.asarray(along)), {"axis": axis})


# --------------------------------------------------- search, sets, sorting
@SETTINGS
@given(data=st.data())
def test_sorting(data):
    a, x, s = data.draw(operands(REAL, min_dims=1))
    kw = {
        "axis": data.draw(st.integers(-a.ndim, a.ndim - 1)),
        "descending": data.draw(st.booleans()),
    }
    compare("sort", (x,), (s,), kw)
    compare("argsort", (x,), (s,), kw)


@SETTINGS
@given(data=st.data())
def test_searching(data):
    a, x, s = data.draw(operands(DTYPES, min_dims=1))
    compare("nonzero", (x,), (s,))
    c, cx, cs = data.draw(operands(["bool"], shape=a.shape))
    b, y, t = data.draw(operands([str(a.dtype)], shape=a.shape))
    compare("where", (cx, x, y), (cs, s, t))
    compare("where", (cx, x, 0), (cs, s, 0))
    if a.dtype.kind in "iuf" and a.ndim == 1:
        sorted_a = np.sort(a)
        compare(
            "searchsorted",
            (xp.asarray(sorted_a), y),
            (strict.asarray(sorted_a), t),
            {"side": data.draw(st.sampled_from(["left", "right"]))},
        )
        order = np.argsort(a, kind="stable")
        assert_same(
            xp.searchsorted(x, y, sorter=xp.asarray(order)),
            strict.searchsorted(s, t, sorter=strict.asarray(order)),
        )


@pytest.mark.parametrize("name", ["unique_all", "unique_counts", "unique_inverse", "unique_values"])
@SETTINGS
@given(data=st.data())
def test_sets(name, data):
    a, x, s = data.draw(operands(REAL + ["bool"], finite=data.draw(st.booleans())))
    compare(name, (x,), (s,))


@SETTINGS
@given(data=st.data())
def test_isin(data):
    a, x, s = data.draw(operands(["int8", "int64", "uint8"], finite=True))
    b, y, t = data.draw(operands([str(a.dtype)], max_dims=1, finite=True))
    invert = data.draw(st.booleans())
    # array-api-strict 2.6.1 ignores invert=, so the oracle for it is logical_not
    theirs = oracle(strict.isin, s, t)
    assert_same(xp.isin(x, y, invert=invert), strict.logical_not(theirs) if invert else theirs)


# ---------------------------------------------------------- linear algebra
@SETTINGS
@given(data=st.data())
def test_products(data):
    a, x, s = data.draw(operands(NUMERIC, min_dims=1, max_dims=3, min_side=1, finite=True))
    b, y, t = data.draw(operands([str(a.dtype)], shape=a.shape[::-1], finite=True))
    compare("matmul", (x, y), (s, t), rtol=1e-3)
    compare("tensordot", (x, y), (s, t), {"axes": 1}, rtol=1e-3)
    compare("tensordot", (x, x), (s, s), {"axes": 0}, rtol=1e-3)
    compare("vecdot", (x, x), (s, s), rtol=1e-3)
    if a.ndim >= 2:
        compare("matrix_transpose", (x,), (s,))


@st.composite
def matrices(draw, square=True, dtypes=INEXACT):
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    m = draw(st.integers(1, 4))
    n = m if square else draw(st.integers(1, 4))
    a, x, s = draw(operands(dtypes, shape=batch + (m, n), finite=True))
    if square:  # well conditioned: diagonally dominant
        a = a / 1e6 + np.eye(n, dtype=a.dtype) * (n + 1)
        chunks = x.chunks
        return a, sa.from_array(a, chunks=chunks), strict.asarray(a.copy())
    return a, x, s


LINALG_SQUARE = [
    "det",
    "inv",
    "slogdet",
    "eigvalsh",
    "eigh",
    "matrix_rank",
    "pinv",
    "svdvals",
    "matrix_norm",
]


@pytest.mark.parametrize("name", LINALG_SQUARE)
@SETTINGS
@given(data=st.data())
def test_linalg_of_matrices(name, data):
    a, x, s = data.draw(matrices())
    if name in ("eigvalsh", "eigh"):
        a = (a + np.swapaxes(a, -1, -2).conj()) / 2
        x, s = sa.from_array(a, chunks=x.chunks), strict.asarray(a)
    compare(name, (x,), (s,), rtol=1e-3, module="linalg")


@SETTINGS
@given(data=st.data())
def test_linalg_decompositions(data):
    a, x, s = data.draw(matrices())
    spd = a @ np.swapaxes(a, -1, -2).conj()
    compare(
        "cholesky",
        (sa.from_array(spd),),
        (strict.asarray(spd),),
        {"upper": data.draw(st.booleans())},
        rtol=1e-3,
        module="linalg",
    )
    b, y, t = data.draw(matrices(square=False))
    for mode in ("reduced", "complete"):
        compare("qr", (y,), (t,), {"mode": mode}, rtol=1e-3, module="linalg")
    compare("svd", (y,), (t,), {"full_matrices": False}, rtol=1e-3, module="linalg")
    compare("matrix_power", (x, 2), (s, 2), rtol=1e-3, module="linalg")
    rhs = a[..., 0]
    compare("solve", (x, sa.from_array(rhs)), (s, strict.asarray(rhs)), rtol=1e-3, module="linalg")
    compare("solve", (x, x), (s, s), rtol=1e-3, module="linalg")


@SETTINGS
@given(data=st.data())
def test_linalg_vectors(data):
    a, x, s = data.draw(operands(INEXACT, min_dims=1, finite=True))
    ord_ = data.draw(st.sampled_from([1, 2, 3, np.inf, -np.inf, 0]))
    kw = {"axis": data.draw(axes(a.ndim)), "keepdims": data.draw(st.booleans()), "ord": ord_}
    compare("vector_norm", (x,), (s,), kw, rtol=1e-3, module="linalg")
    b, y, t = data.draw(operands(NUMERIC, shape=a.shape[:-1] + (3,), finite=True))
    c, z, u = data.draw(operands([str(b.dtype)], shape=b.shape, finite=True))
    compare("cross", (y, z), (t, u), module="linalg")
    d, w, v = data.draw(operands(NUMERIC, shape=(3,), finite=True))
    compare("outer", (w, w), (v, v), module="linalg")
    m, mx, ms = data.draw(operands(NUMERIC, min_dims=2, finite=True))
    offset = data.draw(st.integers(-2, 2))
    compare("diagonal", (mx,), (ms,), {"offset": offset}, module="linalg")
    compare("trace", (mx,), (ms,), {"offset": offset}, module="linalg", rtol=1e-3)


# ---------------------------------------------------------------------- fft
@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"])
@SETTINGS
@given(data=st.data())
def test_fft_one_axis(name, data):
    dtypes = ["float32", "float64"] if name in ("rfft", "ihfft") else ["complex64", "complex128"]
    a, x, s = data.draw(operands(dtypes, min_dims=1, min_side=2, finite=True))
    kw = {
        "axis": data.draw(st.integers(-a.ndim, a.ndim - 1)),
        "norm": data.draw(st.sampled_from(["backward", "ortho", "forward"])),
        "n": data.draw(st.none() | st.integers(2, 6)),
    }
    compare(name, (x,), (s,), kw, rtol=1e-3, module="fft")


@pytest.mark.parametrize("name", ["fftn", "ifftn", "rfftn", "irfftn"])
@SETTINGS
@given(data=st.data())
def test_fft_many_axes(name, data):
    dtypes = ["float32", "float64"] if name == "rfftn" else ["complex64", "complex128"]
    a, x, s = data.draw(operands(dtypes, min_dims=1, min_side=2, finite=True))
    axes_ = tuple(data.draw(st.permutations(list(range(a.ndim)))))[
        : data.draw(st.integers(1, a.ndim))
    ]
    kw = {"axes": axes_, "norm": data.draw(st.sampled_from(["backward", "ortho", "forward"]))}
    compare(name, (x,), (s,), kw, rtol=1e-3, module="fft")


@SETTINGS
@given(n=st.integers(1, 9), d=st.floats(0.1, 10), data=st.data())
def test_fft_helpers(n, d, data):
    compare("fftfreq", (n,), (n,), {"d": d}, module="fft")
    compare("rfftfreq", (n,), (n,), {"d": d}, module="fft")
    a, x, s = data.draw(operands(NUMERIC, min_dims=1))
    kw = {"axes": data.draw(st.none() | st.integers(0, a.ndim - 1))}
    compare("fftshift", (x,), (s,), kw, module="fft")
    compare("ifftshift", (x,), (s,), kw, module="fft")
