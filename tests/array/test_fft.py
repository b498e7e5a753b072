import numpy as np
import pytest

import shoal
import shoal.array as sa
from shoal.testing import assert_eq

RNG = np.random.default_rng(0)
A = RNG.standard_normal((6, 10))
C = A + 1j * RNG.standard_normal((6, 10))


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "ihfft"])
@pytest.mark.parametrize("n", [None, 7, 16])
@pytest.mark.parametrize("axis", [-1, 0])
def test_one_axis_forward(name, n, axis):
    x = sa.from_array(A, chunks=(2, 3))
    ours = getattr(sa.fft, name)(x, n=n, axis=axis)
    assert_eq(ours, getattr(np.fft, name)(A, n=n, axis=axis))


@pytest.mark.parametrize("name", ["irfft", "hfft"])
@pytest.mark.parametrize("n", [None, 9])
def test_one_axis_to_real(name, n):
    x = sa.from_array(C, chunks=(4, 3))
    assert_eq(getattr(sa.fft, name)(x, n=n), getattr(np.fft, name)(C, n=n))


@pytest.mark.parametrize("name", ["fft2", "ifft2", "fftn", "ifftn", "rfft2", "rfftn"])
def test_multi_axis(name):
    x = sa.from_array(A, chunks=(2, 3))
    assert_eq(getattr(sa.fft, name)(x), getattr(np.fft, name)(A))
    assert_eq(getattr(sa.fft, name)(x, s=(4, 6)), getattr(np.fft, name)(A, s=(4, 6)))


@pytest.mark.parametrize("name", ["irfft2", "irfftn"])
def test_multi_axis_to_real(name):
    x = sa.from_array(C, chunks=(2, 3))
    assert_eq(getattr(sa.fft, name)(x), getattr(np.fft, name)(C))


def test_three_d_axes():
    a = RNG.standard_normal((3, 4, 5))
    x = sa.from_array(a, chunks=2)
    assert_eq(sa.fft.fftn(x, axes=(0, 2)), np.fft.fftn(a, axes=(0, 2)))
    assert sa.fft.fft(x, axis=1).chunks[0] == (2, 1)


def test_freqs_and_shifts():
    assert_eq(sa.fft.fftfreq(9, 0.5, chunks=4), np.fft.fftfreq(9, 0.5))
    assert_eq(sa.fft.rfftfreq(9, 0.5, chunks=2), np.fft.rfftfreq(9, 0.5))
    x = sa.from_array(A, chunks=(4, 3))
    assert_eq(sa.fft.fftshift(x), np.fft.fftshift(A))
    assert_eq(sa.fft.ifftshift(x, axes=1), np.fft.ifftshift(A, axes=1))


def test_huge_gather_is_refused_before_running():
    x = sa.ones((10, 10_000_000), chunks=(10, 100_000))
    with shoal.config.set({"array.chunk-size": "1MiB"}):
        with pytest.raises(ValueError, match="per line, above the limit"):
            sa.fft.fft(x, axis=1)


@pytest.mark.parametrize("chunks", [(1000, 1000, 7), (3, 1000, 7), (1000, 1, 1)])
def test_other_axes_shrink_to_fit_the_limit(chunks):
    x = sa.ones((10_000, 100_000, 7), chunks=chunks)
    with shoal.config.set({"array.chunk-size": "1MiB"}):  # 8 MiB blocks at most
        out = sa.fft.fft(x, axis=1)
    assert out.chunks[1] == (100_000,)
    assert max(out.chunks[0]) * 100_000 * max(out.chunks[2]) * 8 <= 8 * 2**20  # float64 in
    assert max(out.chunks[0]) * max(out.chunks[2]) >= min(chunks[0] * chunks[2], 5)


def test_small_blocks_transform_like_numpy():
    a = (np.arange(60.0).reshape(5, 4, 3) + 1j).astype(np.complex64)
    x = sa.from_array(a, chunks=1)
    with shoal.config.set({"array.chunk-size": "16B"}):  # 128 B blocks; lines of 40 and 120 B
        assert_eq(sa.fft.fft(x, axis=0), np.fft.fft(a, axis=0))
        assert_eq(sa.fft.ifftn(x, axes=(2, 0)), np.fft.ifftn(a, axes=(2, 0)))


@pytest.mark.parametrize("name", ["fftn", "ifftn", "rfftn", "irfftn", "fft2", "rfft2", "irfft2"])
@pytest.mark.parametrize("kw", [{}, {"axes": (2, 0)}, {"s": (3, 6), "axes": (0, 1)}])
def test_n_axes_above_the_limit_go_one_axis_at_a_time(name, kw):
    if name.endswith("2") and "axes" not in kw:
        kw = {"axes": (1, 2)}
    a = np.arange(60.0).reshape(5, 4, 3) % 7 + (1j if name[0] == "i" else 0)
    x = sa.from_array(a, chunks=(2, 3, 1))
    with shoal.config.set({"array.chunk-size": "16B"}):  # 128 B: any axis, not two at once
        assert sa.fft.fft(x, axis=0).chunks[0] == (5,)  # one axis still fits
        out = getattr(sa.fft, name)(x, **kw)
        assert_eq(out, getattr(np.fft, name)(a, **kw))
