import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq

NP_MODE = {"reflect": "symmetric", "periodic": "wrap", "nearest": "edge"}


def cross(b, d=1):
    p = np.pad(b, d)
    return p[: -2 * d, d:-d] + p[2 * d :, d:-d] + p[d:-d, : -2 * d] + p[d:-d, 2 * d :] + b


def expected(a, d, boundary):
    if boundary == "none":
        return cross(a, d)
    if boundary in NP_MODE:
        padded = np.pad(a, d, mode=NP_MODE[boundary])
    else:
        padded = np.pad(a, d, mode="constant", constant_values=boundary)
    return cross(padded, d)[d:-d, d:-d]


@pytest.mark.parametrize("boundary", ["none", "reflect", "periodic", "nearest", 0, 5.5])
@pytest.mark.parametrize("chunks", [(3, 4), (1, 2), (8, 9), ((5, 1, 2), (2, 7))])
@pytest.mark.parametrize("d", [1, 2])
def test_map_overlap_2d(boundary, chunks, d):
    a = np.arange(72.0).reshape(8, 9) ** 1.5
    x = sa.from_array(a, chunks=chunks)
    out = sa.map_overlap(cross, x, depth=d, boundary=boundary, d=d)
    assert out.chunks == sa.from_array(a, chunks=chunks).rechunk(out.chunks).chunks
    assert_eq(out, expected(a, d, boundary))


def test_map_overlap_1d_smoothing():
    a = np.random.default_rng(0).standard_normal(50)
    k = np.ones(5) / 5

    def smooth(b):
        return np.convolve(b, k, mode="same")

    x = sa.from_array(a, chunks=7)
    assert_eq(sa.map_overlap(smooth, x, depth=2), np.convolve(a, k, mode="same"))
    assert_eq(
        sa.map_overlap(smooth, x, depth={0: 2}, boundary={0: "nearest"}),
        np.convolve(np.pad(a, 2, mode="edge"), k, mode="same")[2:-2],
    )


def test_map_overlap_per_axis_depth_and_no_trim():
    a = np.arange(30.0).reshape(5, 6)
    x = sa.from_array(a, chunks=(2, 3))
    out = sa.map_overlap(lambda b: b * 2, x, depth=(1, 0), boundary="periodic", trim=False)
    assert out.chunks == ((4, 4, 3), (3, 3))
    blocks = out.compute()
    assert blocks.shape == (11, 6)
    np.testing.assert_array_equal(blocks[:4], 2 * a[[4, 0, 1, 2]])


def test_map_overlap_small_blocks_are_merged():
    a = np.arange(10.0)
    x = sa.from_array(a, chunks=((1, 1, 3, 1, 4),))
    out = sa.map_overlap(
        lambda b: b + np.roll(b, 1) + np.roll(b, -1), x, depth=2, boundary="periodic"
    )
    assert min(out.chunks[0]) >= 2
    assert_eq(out, a + np.roll(a, 1) + np.roll(a, -1))


def test_map_overlap_errors():
    x = sa.ones((4, 4), chunks=2)
    with pytest.raises(ValueError, match="boundary"):
        sa.map_overlap(lambda b: b, x, depth=1, boundary="mirror")
    with pytest.raises(ValueError, match="larger than axis"):
        sa.map_overlap(lambda b: b, x, depth=5, boundary="reflect")
    with pytest.raises(ValueError, match="one entry per axis"):
        sa.map_overlap(lambda b: b, x, depth=(1, 1, 1))
    bad = sa.map_overlap(lambda b: b[:1], x, depth=1, dtype=float)
    with pytest.raises(ValueError, match="keep the block shape"):
        bad.compute()


def test_map_overlap_several_arrays():
    a = np.arange(40.0).reshape(5, 8)
    b = np.sqrt(a)
    x, y = sa.from_array(a, chunks=(2, 3)), sa.from_array(b, chunks=(3, 4))

    def combine(p, q):
        return p * np.roll(q, 1, axis=1)

    out = sa.map_overlap(combine, x, y, depth={1: 1}, boundary="periodic")
    assert_eq(out, a * np.roll(b, 1, axis=1))
    with pytest.raises(ValueError, match="one shape"):
        sa.map_overlap(combine, x, sa.ones((5, 7), chunks=2))
    with pytest.raises(TypeError, match="at least one"):
        sa.map_overlap(combine)
