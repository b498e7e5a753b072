import numpy as np
import pytest

import shoal.array as sa
from shoal.testing import assert_eq


@pytest.mark.parametrize("scheduler", ["sync", "threads", "processes"])
def test_same_numbers_on_every_scheduler(scheduler):
    expected = (
        sa.random.default_rng(11).standard_normal((40, 30), chunks=(7, 9)).compute(scheduler="sync")
    )
    x = sa.random.default_rng(11).standard_normal((40, 30), chunks=(7, 9))
    np.testing.assert_array_equal(x.compute(scheduler=scheduler), expected)


def test_blocks_are_independent_streams():
    x = sa.random.default_rng(3).random(400, chunks=100).compute()
    blocks = x.reshape(4, 100)
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.array_equal(blocks[i], blocks[j])


def test_calls_on_one_generator_differ_but_repeat_with_seed():
    rng = sa.random.default_rng(5)
    a, b = rng.random(10, chunks=5), rng.random(10, chunks=5)
    assert not np.array_equal(a.compute(), b.compute())
    rng2 = sa.random.default_rng(5)
    np.testing.assert_array_equal(rng2.random(10, chunks=5).compute(), a.compute())
    assert a.name != b.name


def test_unseeded_generators_differ():
    a = sa.random.default_rng().random(10, chunks=5)
    b = sa.random.default_rng().random(10, chunks=5)
    assert a.name != b.name


@pytest.mark.parametrize(
    "method, args, kwargs, mean, std",
    [
        ("random", (), {}, 0.5, 12**-0.5),
        ("standard_normal", (), {}, 0.0, 1.0),
        ("normal", (3.0, 2.0), {}, 3.0, 2.0),
        ("uniform", (-2.0, 2.0), {}, 0.0, 4 / 12**0.5),
        ("exponential", (2.0,), {}, 2.0, 2.0),
        ("poisson", (4.0,), {}, 4.0, 2.0),
        ("integers", (0, 10), {}, 4.5, (99 / 12) ** 0.5),
    ],
)
def test_distributions(method, args, kwargs, mean, std):
    rng = sa.random.default_rng(42)
    x = getattr(rng, method)(*args, size=(200_000,), chunks=30_000, **kwargs)
    values = x.compute()
    assert values.shape == (200_000,)
    assert values.dtype == x.dtype
    assert abs(values.mean() - mean) < 0.02 * max(std, 1)
    assert abs(values.std() - std) < 0.02 * max(std, 1)
    assert_eq(x, values)


def test_integers_bounds_and_dtype():
    x = sa.random.default_rng(0).integers(3, 7, size=(50, 4), dtype="i2", chunks=(9, 3))
    values = x.compute()
    assert values.dtype == np.int16 and values.min() >= 3 and values.max() < 7
    y = sa.random.default_rng(0).integers(3, 7, size=1000, endpoint=True, chunks=100).compute()
    assert y.max() == 7


def test_random_dtype_float32():
    x = sa.random.default_rng(0).random((5, 5), dtype=np.float32, chunks=2)
    assert x.dtype == np.float32
    assert_eq(x, x.compute())


def test_zero_size_and_scalar_size():
    rng = sa.random.default_rng(0)
    assert_eq(rng.random((0, 3), chunks=2), np.empty((0, 3)))
    assert rng.random(chunks=()).compute().shape == ()


def test_choice_and_permutation():
    rng = sa.random.default_rng(9)
    values = rng.choice(np.array([1, 5, 9]), size=(30,), chunks=7).compute()
    assert set(values.tolist()) <= {1, 5, 9}
    weighted = rng.choice(3, size=3000, p=[0.0, 0.0, 1.0], chunks=1000).compute()
    assert (weighted == 2).all()
    perm = rng.permutation(25, chunks=6)
    assert perm.chunks == ((6, 6, 6, 6, 1),)
    assert sorted(perm.compute().tolist()) == list(range(25))
    data = np.arange(20) * 3
    shuffled = rng.permutation(sa.from_array(data, chunks=6)).compute()
    assert sorted(shuffled.tolist()) == sorted(data.tolist())
    sample = rng.choice(10, size=10, replace=False).compute()
    assert sorted(sample.tolist()) == list(range(10))
    with pytest.raises(ValueError, match="without replacement"):
        rng.choice(3, size=5, replace=False)


def test_bad_arguments():
    rng = sa.random.default_rng(0)
    with pytest.raises(TypeError, match="scalar"):
        rng.normal(np.zeros(3), 1, size=3)
    with pytest.raises(ValueError, match="negative"):
        rng.random((-1,))
    with pytest.raises(ValueError, match="sum to 1"):
        rng.choice(3, size=2, p=[0.5, 0.1, 0.1])
