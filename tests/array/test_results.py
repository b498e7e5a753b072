"""What ``compute()`` hands back: NumPy scalars for 0-d results (as NumPy and
Dask give), and never a buffer shared with a user's input or a stored block."""

import numpy as np
import pytest

import shoal
import shoal.array as sa

A = np.arange(12.0).reshape(3, 4)


@pytest.mark.parametrize("chunks", [(2, 3), 1, -1, ((3,), (0, 4))])
@pytest.mark.parametrize(
    "op",
    [
        lambda m: m.sum(),
        lambda m: m.mean(),
        lambda m: m.max(),
        lambda m: m.std(),
        lambda m: m.argmin(),
        lambda m: m.any(),
        lambda m: m[0, 0],
        lambda m: m[-1][2],
        lambda m: (m * 2)[1, 1],
        lambda m: m.astype("f4").sum(),
        lambda m: m.sum(axis=(0, 1)),
    ],
)
def test_zero_d_results_are_numpy_scalars(chunks, op):
    got = op(sa.from_array(A, chunks=chunks)).compute()
    expected = op(A)
    assert type(got) is type(expected), (type(got), type(expected))
    assert isinstance(got, np.generic)
    np.testing.assert_allclose(got, expected)


def test_scalars_through_shoal_compute_and_numpy():
    x = sa.from_array(A, chunks=2)
    total, first = shoal.compute(x.sum(), x[0, 0])
    assert isinstance(total, np.float64) and isinstance(first, np.float64)
    assert float(np.median(sa.arange(12, chunks=5)).compute()) == 5.5
    assert type(np.sum(x).compute()) is np.float64


@pytest.mark.parametrize(
    "view",
    [
        lambda x: x,
        lambda x: x[:],
        lambda x: x[1:],
        lambda x: x.T,
        lambda x: x.reshape((4, 3)),
        lambda x: x.rechunk(-1),
        lambda x: x.map_blocks(lambda b: b),
        lambda x: x[None],
    ],
)
def test_one_block_results_never_alias_the_input(view):
    source = A.copy()
    x = view(sa.from_array(source, chunks=-1))
    first = x.compute()
    first[...] = -1
    np.testing.assert_array_equal(source, A)
    assert not np.shares_memory(x.compute(), source)
    np.testing.assert_array_equal(x.compute(), view(sa.from_array(A, chunks=-1)).compute())


def test_persisted_blocks_are_not_handed_out():
    y = sa.from_array(A.copy(), chunks=-1).persist()
    first = y.compute()
    first[...] = -1
    np.testing.assert_array_equal(y.compute(), A)
    again = y.compute()
    assert not np.shares_memory(again, y.compute())


def test_results_made_by_the_computation_are_not_copied_again():
    x = sa.from_array(A, chunks=-1) + 1
    out = x.compute()
    assert out.base is None and out.flags.owndata  # the task's own fresh array
