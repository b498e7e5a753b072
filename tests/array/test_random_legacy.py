"""NumPy's legacy random API (``RandomState``, module-level functions and
``seed``), ``chunks`` given in bytes, and the NumPy constants."""

import numpy as np
import pytest

import shoal.array as sa
from shoal.array.random import _DISTRIBUTIONS
from shoal.testing import assert_eq

CHUNKINGS = [(10, 4), (10, (3, 3, 3, 1)), (10, 1), (0, 4), (1, 1)]


def _legacy_block(state, call, index, method, shape, *args, **kwargs):
    """What one block must hold: NumPy's legacy RandomState on that block's stream."""
    seq = np.random.SeedSequence(state._seq.entropy, spawn_key=(call, *index))
    return getattr(np.random.RandomState(np.random.MT19937(seq)), method)(
        *args, size=shape, **kwargs
    )


@pytest.mark.parametrize("n, chunks", CHUNKINGS)
def test_randomstate_blocks_are_numpy_legacy_draws(n, chunks):
    state = sa.random.RandomState(7)
    x = state.normal(3.0, 2.0, size=n, chunks=chunks)
    expected = np.concatenate(
        [_legacy_block(state, 0, (i,), "normal", (c,), 3.0, 2.0) for i, c in enumerate(x.chunks[0])]
    )
    assert_eq(x, expected)
    y = state.randint(2, 9, size=(n, 3), chunks=(chunks, 2))
    assert y.dtype == np.random.RandomState(0).randint(2, 9, size=2).dtype
    values = y.compute()
    assert values.shape == (n, 3) and ((values >= 2) & (values < 9)).all()
    assert_eq(y, values)


@pytest.mark.parametrize("n, chunks", CHUNKINGS)
@pytest.mark.parametrize(
    "method",
    [
        "random",
        "random_sample",
        "standard_normal",
        "normal",
        "uniform",
        "randint",
        "choice",
        "permutation",
    ],
)
def test_module_functions_repeat_with_seed(method, n, chunks):
    args = {"randint": (5,), "choice": (np.array([2.5, 4.0, 8.0]),)}.get(method, ())

    def draw():
        if method == "permutation":
            return sa.random.permutation(n, chunks=chunks)
        return getattr(sa.random, method)(*args, size=n, chunks=chunks)

    sa.random.seed(123)
    first, second = draw(), draw()
    sa.random.seed(123)
    again = draw()
    assert_eq(again, first.compute())
    assert first.shape == (n,)
    if n > 1:
        assert not np.array_equal(first.compute(), second.compute())
    numpy_state = np.random.RandomState(0)
    if method == "permutation":
        sample = numpy_state.permutation(2)
    else:
        sample = getattr(numpy_state, method)(*args, size=2)
    assert first.dtype == sample.dtype


@pytest.mark.parametrize("method", sorted(_DISTRIBUTIONS))
@pytest.mark.parametrize("kind", ["Generator", "RandomState"])
def test_every_distribution_matches_numpy_dtype_and_range(method, kind):
    params = [p[2] for p in _DISTRIBUTIONS[method]]
    drawer = sa.random.default_rng(3) if kind == "Generator" else sa.random.RandomState(3)
    numpy_drawer = np.random.default_rng(3) if kind == "Generator" else np.random.RandomState(3)
    x = getattr(drawer, method)(*params, size=(600, 2), chunks=(250, 1))
    reference = getattr(numpy_drawer, method)(*params, size=(600, 2))
    values = x.compute()
    assert x.dtype == values.dtype == reference.dtype
    # the same distribution as NumPy's: empirical CDFs within a two-sample KS bound
    points = np.unique(reference)
    cdf = np.searchsorted(np.sort(values.ravel()), points, side="right") / values.size
    reference_cdf = np.searchsorted(np.sort(reference.ravel()), points, side="right") / values.size
    assert np.abs(cdf - reference_cdf).max() < 0.1
    assert_eq(x, values)


def test_distribution_arguments_are_checked_before_running():
    with pytest.raises(TypeError, match="missing the parameter 'p'"):
        sa.random.binomial(10, size=3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        sa.random.gamma(2.0, colour=1)
    with pytest.raises(ValueError):  # NumPy's own check, on a zero-size draw
        sa.random.RandomState(0).normal(0.0, -1.0, size=3)
    with pytest.raises(TypeError, match="scalar"):
        sa.random.poisson(np.ones(3), size=3)
    assert sa.random.binomial(10, 0.5, 4, (3, 1)).chunks == ((3, 1),)  # NumPy's positional size


def test_legacy_means():
    x = sa.random.RandomState(0).standard_normal((100_000,), chunks=30_000)
    assert abs(float(x.mean())) < 0.02 and abs(float(x.std()) - 1) < 0.02
    u = sa.random.RandomState(1).uniform(2, 4, size=50_000, chunks=7_000).compute()
    assert u.min() >= 2 and u.max() < 4 and abs(u.mean() - 3) < 0.02


def test_numbers_are_per_chunking_but_the_same_on_every_scheduler():
    a = sa.random.RandomState(5).random_sample(20, chunks=6)
    for scheduler in ["sync", "threads", "processes"]:
        np.testing.assert_array_equal(a.compute(scheduler=scheduler), a.compute())


BYTES_CASES = [
    lambda c: sa.ones((400, 300), chunks=c),
    lambda c: sa.zeros((400, 300), chunks=c),
    lambda c: sa.full((400, 300), 2.0, chunks=c),
    lambda c: sa.empty((400, 300), chunks=c),
    lambda c: sa.from_array(np.ones((400, 300)), chunks=c),
    lambda c: sa.asarray(np.ones((400, 300)), chunks=c),
    lambda c: sa.ones((400, 300), chunks=50).rechunk(c),
    lambda c: sa.random.default_rng(0).random((400, 300), chunks=c),
    lambda c: sa.random.RandomState(0).normal(size=(400, 300), chunks=c),
    lambda c: sa.random.normal(size=(400, 300), chunks=c),
    lambda c: sa.eye(400, 300, chunks=c),
    lambda c: sa.fromfunction(lambda i, j: i + j, (400, 300), chunks=c),
]


@pytest.mark.parametrize("make", BYTES_CASES)
def test_chunks_in_bytes_everywhere(make):
    x = make("64 kB")
    assert x.chunks == sa.normalize_chunks("auto", x.shape, x.dtype, limit="64 kB")
    assert max(x.chunks[0]) * max(x.chunks[1]) * x.dtype.itemsize <= 64_000
    assert x.npartitions > 1
    assert make("auto").chunks == sa.normalize_chunks("auto", x.shape, x.dtype)
    assert make((-1, "16 kB")).chunks[0] == (400,)


def test_chunks_in_bytes_1d_and_errors():
    x = sa.arange(10_000, chunks="8 kB")
    assert x.chunks == ((1000,) * 10,)
    assert_eq(x, np.arange(10_000))
    assert sa.linspace(0, 1, 5000, chunks="8KiB").chunks == ((1024,) * 4 + (904,),)
    with pytest.raises(ValueError, match="a size in bytes"):
        sa.ones(10, chunks="lots")
    with pytest.raises(ValueError, match="different block sizes"):
        sa.ones((10, 10), chunks=("1 kB", "2 kB"))


def test_numpy_constants():
    assert sa.newaxis is None and sa.pi == np.pi and sa.e == np.e
    assert np.isnan(sa.nan) and sa.inf == np.inf
    x = sa.arange(6, chunks=4)
    assert_eq(x[sa.newaxis, :, sa.newaxis], np.arange(6)[None, :, None])
    assert_eq(sa.where(x > 2, x, sa.nan), np.where(np.arange(6) > 2, np.arange(6), np.nan))
