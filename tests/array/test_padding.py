"""sa.pad against np.pad for every supported mode, width and chunking."""

import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

A = np.random.default_rng(0).standard_normal((7, 5)) * 10
B = np.arange(35, dtype=np.int64).reshape(7, 5) ** 2 % 23
CHUNKS = [(3, 2), (7, 5), (1, 1), ((2, 5), (4, 1))]
WIDTHS = [0, 1, 3, (2, 0), ((0, 4), (6, 1)), ((9, 2), (1, 12))]  # incl. wider than the axis
MODES = [
    ("constant", {"constant_values": ((1.5, 2), (3, -4))}),
    ("edge", {}),
    ("linear_ramp", {}),
    ("linear_ramp", {"end_values": ((5, -3), (2, 8))}),
    ("maximum", {}),
    ("minimum", {"stat_length": 2}),
    ("mean", {}),
    ("mean", {"stat_length": ((1, 3), (2, 9))}),
    ("median", {}),
    ("median", {"stat_length": 3}),
    ("reflect", {}),
    ("reflect", {"reflect_type": "odd"}),
    ("symmetric", {}),
    ("symmetric", {"reflect_type": "odd"}),
    ("wrap", {}),
]


@pytest.mark.parametrize("mode, kwargs", MODES, ids=[f"{m}-{k}" for m, k in MODES])
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("chunks", CHUNKS)
def test_pad_matches_numpy_floats(mode, kwargs, width, chunks):
    x = sa.from_array(A, chunks=chunks)
    expected = np.pad(A, width, mode=mode, **kwargs)
    assert_eq(sa.pad(x, width, mode=mode, **kwargs), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode, kwargs", MODES, ids=[f"{m}-{k}" for m, k in MODES])
@pytest.mark.parametrize("width", [2, ((3, 1), (0, 7))])
def test_pad_matches_numpy_integers(mode, kwargs, width):
    x = sa.from_array(B, chunks=(3, 2))
    expected = np.pad(B, width, mode=mode, **kwargs)
    assert_eq(sa.pad(x, width, mode=mode, **kwargs), expected)


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "wrap", "edge", "mean", "linear_ramp"])
def test_pad_1d_and_3d(mode):
    a1 = np.arange(6.0) ** 1.5
    assert_eq(sa.pad(sa.from_array(a1, chunks=4), (7, 2), mode=mode), np.pad(a1, (7, 2), mode=mode))
    a3 = np.random.default_rng(1).random((3, 4, 5))
    x3 = sa.from_array(a3, chunks=(2, 3, 2))
    width = ((1, 2), (0, 3), (4, 1))
    assert_eq(sa.pad(x3, width, mode=mode), np.pad(a3, width, mode=mode), rtol=1e-12)


def test_pad_single_element_axis():
    a = np.array([[4.0, 5.0, 6.0]])
    x = sa.from_array(a, chunks=1)
    for mode in ("reflect", "symmetric", "wrap", "maximum"):
        assert_eq(sa.pad(x, 2, mode=mode), np.pad(a, 2, mode=mode))


def test_pad_bad_input():
    x = sa.from_array(A, chunks=3)
    with pytest.raises(ValueError, match="not supported"):
        sa.pad(x, 1, mode="sideways")
    with pytest.raises(ValueError, match="unsupported keyword"):
        sa.pad(x, 1, mode="empty", constant_values=3)
    with pytest.raises(ValueError, match="unsupported keyword"):
        sa.pad(x, 1, mode="edge", constant_values=3)
    with pytest.raises(ValueError, match="non-negative"):
        sa.pad(x, -1)
    with pytest.raises(ValueError, match="pad_width"):
        sa.pad(x, ((1, 2, 3),))
    with pytest.raises(ValueError, match="reflect_type"):
        sa.pad(x, 1, mode="reflect", reflect_type="sideways")
    with pytest.raises(ValueError, match="empty axis"):
        sa.pad(sa.ones((0, 3), chunks=2), 1, mode="reflect")
    with pytest.raises(ValueError, match="stat_length of 0"):
        sa.pad(x, 1, mode="maximum", stat_length=0)


def _ramp_sides(vector, width, axis, kwargs):
    """A pad function that reads the vector (so the order of the axes matters)."""
    before, after = width
    step = kwargs.get("step", 1)
    if before:
        vector[:before] = vector[before] - step * np.arange(before, 0, -1)
    if after:
        vector[-after:] = vector[-after - 1] + step * np.arange(1, after + 1)


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("width", WIDTHS)
def test_pad_with_a_function_matches_numpy(chunks, width):
    x = sa.from_array(A, chunks=chunks)
    assert_eq(sa.pad(x, width, _ramp_sides), np.pad(A, width, _ramp_sides))
    assert_eq(sa.pad(x, width, _ramp_sides, step=3), np.pad(A, width, _ramp_sides, step=3))


@pytest.mark.parametrize("chunks", CHUNKS)
def test_pad_empty_keeps_the_array_and_shape(chunks):
    x = sa.from_array(B, chunks=chunks)
    got = sa.pad(x, ((2, 1), (0, 3)), mode="empty")
    want = np.pad(B, ((2, 1), (0, 3)), mode="empty")
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got.compute()[2:-1, :5], B)
