"""Masked arrays follow ``np.ma``: masks survive reading, assignment of
``np.ma.masked``, elementwise operations, reshapes and rechunks, the common
reductions and the final concatenation, on several chunkings."""

import numpy as np
import pytest

import shoal.array as sa

DATA = np.arange(24.0).reshape(4, 6) - 7
MASK = (np.arange(24).reshape(4, 6) % 5 == 1) | (np.arange(24).reshape(4, 6) >= 20)
M = np.ma.masked_array(DATA, mask=MASK)
CHUNKS = [(2, 3), ((1, 3), (4, 0, 2)), 1, -1]


def _same(got, expected):
    """The values and the masks both match np.ma's."""
    computed = got.compute() if isinstance(got, sa.Array) else got
    if np.ndim(expected) == 0:
        if expected is np.ma.masked:
            assert computed is np.ma.masked
        else:
            np.testing.assert_allclose(computed, expected)
        return
    assert isinstance(computed, np.ma.MaskedArray), type(computed)
    np.testing.assert_array_equal(np.ma.getmaskarray(computed), np.ma.getmaskarray(expected))
    np.testing.assert_allclose(computed.filled(0), np.ma.filled(expected, 0))
    if isinstance(got, sa.Array):
        assert isinstance(got.meta, np.ma.MaskedArray)


@pytest.mark.parametrize("chunks", CHUNKS)
def test_reading_and_elementwise_keep_masks(chunks):
    x = sa.from_array(M, chunks=chunks)
    _same(x, M)
    _same(x * 2 + 1, M * 2 + 1)
    _same(np.sin(x), np.sin(M))
    _same(x + sa.from_array(DATA, chunks=2), M + DATA)
    _same(x > 0, M > 0)
    _same(x.T, M.T)
    _same(x[1:, ::2], M[1:, ::2])
    _same(x.reshape((6, 4)), M.reshape((6, 4)))
    _same(x.rechunk((3, 4)), M)
    _same(x.astype("f4"), M.astype("f4"))


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("name", ["sum", "prod", "min", "max", "mean", "var", "std", "any", "all"])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_reductions_follow_np_ma(chunks, name, axis):
    x = sa.from_array(M, chunks=chunks)
    data = M / 10 if name == "prod" else M
    got = getattr(x / 10 if name == "prod" else x, name)(axis=axis)
    expected = getattr(data, name)(axis=axis)
    _same(got, expected)


def test_fully_masked_rows_reduce_to_masked():
    full = np.ma.masked_array(DATA, mask=np.zeros_like(MASK))
    full[2] = np.ma.masked
    x = sa.from_array(full, chunks=(1, 4))
    for name in ["sum", "mean", "std", "max"]:
        _same(getattr(x, name)(axis=1), getattr(full, name)(axis=1))
    everything = sa.from_array(np.ma.masked_all((3,)), chunks=2)
    assert everything.mean().compute() is np.ma.masked


@pytest.mark.parametrize("chunks", CHUNKS)
def test_assigning_masked_keeps_the_mask(chunks):
    x = sa.from_array(DATA, chunks=chunks)
    expected = np.ma.masked_array(DATA.copy())
    x[1, 2] = np.ma.masked
    expected[1, 2] = np.ma.masked
    _same(x, expected)
    x[:, ::-3] = np.ma.masked
    expected[:, ::-3] = np.ma.masked
    _same(x, expected)
    x[x > 10] = np.ma.masked
    expected[DATA > 10] = np.ma.masked
    _same(x, expected)
    x[0] = 99.0  # plain assignment into a masked array unmasks, as in np.ma
    expected[0] = 99.0
    _same(x, expected)
    _same(x.sum(axis=0), expected.sum(axis=0))
    _same(x.mean(), expected.mean())


def test_assigning_masked_into_masked_input():
    x = sa.from_array(M, chunks=(3, 2))
    expected = M.copy()
    x[0, :] = np.ma.masked
    expected[0, :] = np.ma.masked
    _same(x, expected)
    _same(x.max(axis=1), expected.max(axis=1))
