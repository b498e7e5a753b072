"""Reductions that read the same regenerated blocks in one pass make each
block once (array/sharing.py), checked against NumPy and by counting the
values a generating function is asked for."""

import threading

import numpy as np
import pytest

import shoal
import shoal.array as sa
from shoal.core import config
from shoal.testing import assert_eq


class Counting:
    """A fromfunction body that counts how many values it made."""

    def __init__(self):
        self.made = 0
        self.lock = threading.Lock()

    def __call__(self, i, j):
        with self.lock:
            self.made += i.size
        return np.sin(i * 0.37 + j * 1.3) + i * 0.01


def counted(shape, chunks):
    body = Counting()
    x = sa.fromfunction(body, shape, chunks=chunks, dtype=float)
    body.made = 0  # building may probe the function once
    return x, body, np.fromfunction(Counting(), shape)


@pytest.fixture(params=[0, 64], ids=["whole-blocks", "streamed"])
def piece_size(request):
    with config.set({"array.piece-size": request.param}):
        yield


@pytest.mark.parametrize("chunks", [(5, 4), (3, 17), ((1, 9, 10), (6, 7)), (-1, -1)])
def test_compute_together_makes_each_block_once(piece_size, chunks):
    x, body, a = counted((20, 13), chunks)
    mean, std, col_sums = shoal.compute(x.mean(), x.std(), x.sum(axis=0), scheduler="sync")
    assert body.made == a.size
    np.testing.assert_allclose(mean, a.mean(), rtol=1e-12)
    np.testing.assert_allclose(std, a.std(), rtol=1e-12)
    np.testing.assert_allclose(col_sums, a.sum(axis=0), rtol=1e-12)


def test_different_children_share_through_leaf_references(piece_size):
    x, body, a = counted((12, 12), (4, 4))
    together = shoal.compute(x.mean(axis=1), (x * 2 + 1).max(axis=0), scheduler="threads")
    assert body.made == a.size
    np.testing.assert_allclose(together[0], a.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(together[1], (a * 2 + 1).max(axis=0), rtol=1e-12)


@pytest.mark.parametrize("chunks", [(4, 4), (5, 5), (1, 1), (-1, -1)])
def test_x_plus_transpose_draws_each_block_once(piece_size, chunks):
    x, body, a = counted((15, 15), chunks)
    y = (x + x.T).mean(axis=0)
    np.testing.assert_allclose(y.compute(scheduler="sync"), (a + a.T).mean(axis=0), rtol=1e-12)
    assert body.made == a.size


@pytest.mark.parametrize("chunks", [((3, 12), (5, 10)), (4, 6)])
def test_x_plus_transpose_uneven_chunks(chunks):
    rng = sa.random.default_rng(1)
    x = rng.standard_normal((15, 15), chunks=chunks)
    a = x.compute()
    assert_eq((x + x.T).mean(axis=0), (a + a.T).mean(axis=0), rtol=1e-9)
    assert_eq((x - 2 * x.T).std(axis=1), (a - 2 * a.T).std(axis=1), rtol=1e-9)


def test_random_mean_and_std_together_match_numpy(piece_size):
    x = sa.random.default_rng(5).random(1000, chunks=(300, 300, 300, 100))
    a = x.compute()
    mean, std = shoal.compute(x.mean(), x.std())
    np.testing.assert_allclose([mean, std], [a.mean(), a.std()], rtol=1e-12)


def test_separate_passes_still_regenerate():
    # The std pass needs the mean first: blocks are made again, not kept.
    x, body, a = counted((20, 10), (5, 5))
    value = (x - x.mean()).std().compute(scheduler="sync")
    assert body.made == 2 * a.size
    np.testing.assert_allclose(value, (a - a.mean()).std(), rtol=1e-12)


def test_groups_stay_small():
    # Nine reductions of one block exceed the group size: made per reduction.
    x, body, a = counted((8, 8), (8, 8))
    sums = [x.sum(split_every=k) for k in range(2, 11)]  # nine distinct reductions
    results = shoal.compute(*sums, scheduler="sync")
    np.testing.assert_allclose(results, [a.sum()] * 9, rtol=1e-12)
    assert body.made == 9 * a.size


def test_stored_inputs_are_unaffected():
    a = np.arange(36.0).reshape(6, 6)
    y = sa.from_array(a, chunks=3).map_blocks(np.sqrt)
    mean, std = shoal.compute(y.mean(), y.std())
    np.testing.assert_allclose([mean, std], [np.sqrt(a).mean(), np.sqrt(a).std()], rtol=1e-12)
