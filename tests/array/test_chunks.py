import math

import numpy as np
import pytest

import shoal
from shoal.array.chunks import common_chunks, normalize_chunks


@pytest.mark.parametrize(
    "chunks, shape, expected",
    [
        (2, (5,), ((2, 2, 1),)),
        ((2, 3), (4, 7), ((2, 2), (3, 3, 1))),
        (((1, 4), (7,)), (5, 7), ((1, 4), (7,))),
        (-1, (5, 3), ((5,), (3,))),
        (None, (5, 3), ((5,), (3,))),
        ((None, 2), (5, 3), ((5,), (2, 1))),
        ({1: 2}, (5, 3), ((5,), (2, 1))),
        ({-1: 1, 0: -1}, (2, 2), ((2,), (1, 1))),
        (3, (0,), ((0,),)),
        ((), (), ()),
        (1, (1, 1), ((1,), (1,))),
    ],
)
def test_normalize_chunks(chunks, shape, expected):
    assert normalize_chunks(chunks, shape) == expected


def test_auto_chunks_follow_config_bytes():
    with shoal.config.set({"array.chunk-size": "8MiB"}):
        chunks = normalize_chunks("auto", (10_000, 10_000), np.float64)
    block = max(chunks[0]) * max(chunks[1]) * 8
    assert 4 * 2**20 < block <= 8 * 2**20
    assert sum(chunks[0]) == 10_000


def test_auto_chunks_with_fixed_axes():
    chunks = normalize_chunks(("auto", 10), (1000, 100), np.float64, limit=8000)
    assert chunks[1] == (10,) * 10
    assert max(chunks[0]) * 10 * 8 <= 8000


def test_auto_chunks_short_axis_kept_whole():
    chunks = normalize_chunks("auto", (3, 1_000_000), np.float64, limit="240kB")
    assert chunks[0] == (3,)
    assert max(chunks[1]) == 10_000


@pytest.mark.parametrize(
    "chunks, shape, message",
    [
        (((2, 2),), (5,), "sum to 4"),
        ((2,), (5, 5), "one entry per axis"),
        (0, (5,), "positive"),
        ("big", (5,), "not understood"),
        ({3: 1}, (5,), "axes"),
    ],
)
def test_normalize_chunks_errors(chunks, shape, message):
    with pytest.raises((ValueError, TypeError), match=message):
        normalize_chunks(chunks, shape)


def test_auto_needs_dtype():
    with pytest.raises(ValueError, match="dtype"):
        normalize_chunks("auto", (10,))


def test_common_chunks():
    assert common_chunks((2, 2), (1, 3)) == (1, 1, 2)
    assert common_chunks((4,), (4,)) == (4,)
    with pytest.raises(ValueError, match="different lengths"):
        common_chunks((2,), (3,))
    with pytest.raises(ValueError, match="unknown"):
        common_chunks((math.nan,), (3,))
