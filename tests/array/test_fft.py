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
    x = sa.ones((10_000, 100_000), chunks=(10_000, 1000))
    with shoal.config.set({"array.chunk-size": "1MiB"}):
        with pytest.raises(ValueError, match="rechunk the other axes"):
            sa.fft.fft(x, axis=1)
