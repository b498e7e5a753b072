"""Randomized checks against NumPy: indexing, reductions and rechunking on random
shapes and chunkings (including empty axes and single-element blocks)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal.array as sa
from shoal.testing import assert_eq


@st.composite
def arrays_with_chunks(draw, max_dims=3):
    shape = tuple(draw(st.lists(st.integers(0, 7), min_size=1, max_size=max_dims)))
    chunks = []
    for n in shape:
        if n == 0:
            chunks.append((0,))
            continue
        cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=3))) if n > 1 else []
        bounds = [0, *cuts, n]
        chunks.append(tuple(b - a for a, b in zip(bounds[:-1], bounds[1:])))
    data = np.arange(int(np.prod(shape)), dtype=float).reshape(shape) * 1.5 - 3
    return data, tuple(chunks)


@st.composite
def basic_index(draw, shape):
    index = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "all"] if n else ["slice", "all"]))
        if kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-n - 2, n + 2))
            stop = draw(st.none() | st.integers(-n - 2, n + 2))
            step = draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
            index.append(slice(start, stop, step))
        else:
            index.append(slice(None))
    if draw(st.booleans()):
        index.insert(draw(st.integers(0, len(index))), None)
    return tuple(index)


@settings(max_examples=150, deadline=None, database=None)
@given(st.data())
def test_basic_indexing_matches_numpy(data):
    a, chunks = data.draw(arrays_with_chunks())
    index = data.draw(basic_index(a.shape))
    x = sa.from_array(a, chunks=chunks)
    assert_eq(x[index], a[index])
    assert_eq(x[index][index[:0]], a[index])


@settings(max_examples=80, deadline=None, database=None)
@given(st.data())
def test_reductions_match_numpy(data):
    a, chunks = data.draw(arrays_with_chunks())
    axis = data.draw(st.none() | st.integers(0, a.ndim - 1))
    x = sa.from_array(a, chunks=chunks)
    split_every = data.draw(st.integers(2, 5))
    for name in ("sum", "mean", "std"):
        with np.errstate(all="ignore"):
            expected = getattr(np, name)(a, axis=axis)
        assert_eq(getattr(sa, name)(x, axis=axis, split_every=split_every), expected)
    small = a % 3 - 1  # products of these never overflow, so order cannot matter
    assert_eq(
        sa.prod(sa.from_array(small, chunks=chunks), axis=axis, split_every=split_every),
        np.prod(small, axis=axis),
    )
    if a.size and (axis is None or a.shape[axis]):
        assert_eq(x.max(axis=axis), a.max(axis=axis))
        assert_eq(x.argmin(axis=axis), a.argmin(axis=axis))
    assert_eq(x.cumsum(axis=axis), a.cumsum(axis=axis))


@settings(max_examples=80, deadline=None, database=None)
@given(st.data())
def test_rechunk_and_reshape_match_numpy(data):
    a, chunks = data.draw(arrays_with_chunks())
    x = sa.from_array(a, chunks=chunks)
    target = tuple(data.draw(st.integers(1, 4)) for _ in a.shape)
    assert_eq(x.rechunk(target), a)
    assert_eq(x.ravel(), a.ravel())
    assert_eq(x.T, a.T)


@settings(max_examples=80, deadline=None, database=None)
@given(st.data())
def test_setitem_matches_numpy(data):
    a, chunks = data.draw(arrays_with_chunks())
    index = tuple(i for i in data.draw(basic_index(a.shape)) if i is not None)
    expected = a.copy()
    target = expected[index]
    value = data.draw(st.sampled_from(["scalar", "array"]))
    v = (
        -7.5
        if value == "scalar"
        else np.arange(np.size(target), dtype=float).reshape(np.shape(target))
    )
    expected[index] = v
    x = sa.from_array(a, chunks=chunks)
    x[index] = v
    assert_eq(x, expected)


@settings(max_examples=60, deadline=None, database=None)
@given(st.data())
def test_broadcasting_elementwise_matches_numpy(data):
    a, chunks_a = data.draw(arrays_with_chunks(max_dims=2))
    shape_b = tuple(data.draw(st.sampled_from([1, n])) for n in a.shape)
    b = np.arange(int(np.prod(shape_b)), dtype=float).reshape(shape_b) + 0.5
    chunks_b = tuple(data.draw(st.integers(1, 3)) for _ in shape_b)
    x, y = sa.from_array(a, chunks=chunks_a), sa.from_array(b, chunks=chunks_b)
    assert_eq(x * y - y, a * b - b)
    assert_eq(sa.where(x > y, x, y), np.where(a > b, a, b))
