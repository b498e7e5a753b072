"""map(json.loads) runs a faster decoder: same values and same errors as json.loads."""

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal.bag as sb
from shoal.bag.jsonlines import loads_each
from shoal.bag.text import even_blocks
from shoal.testing import assert_eq

from .conftest import partitionings

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)
# pieces that glue into texts json.loads may accept or reject in many ways
fragments = st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        '"',
        "1",
        "-",
        ".5",
        "e3",
        "null",
        "tru",
        "true",
        " ",
        "\t",
        "\n",
        "\r",
        "\x0b",
        "\ufeff",
        "\\",
        "NaN",
        "Infinity",
        "é",
        "\u2028",
        "{}",
        "[]",
        '"a"',
    ]
)


def outcome(func, s):
    try:
        return ("ok", func(s))
    except Exception as e:
        return ("error", type(e), str(e))


def loads_one(s):
    return next(loads_each([s]))


@settings(max_examples=300, deadline=None)
@given(
    json_values,
    st.sampled_from(["", "\n", " \n", "\t\r\n ", "\r\n", " x", "\n\n"]),
    st.sampled_from(["", " ", "\n"]),
    st.booleans(),
)
def test_same_values_as_json_loads(value, suffix, prefix, ascii_only):
    s = prefix + json.dumps(value, ensure_ascii=ascii_only) + suffix
    assert outcome(loads_one, s) == outcome(json.loads, s)


@settings(max_examples=500, deadline=None)
@given(st.lists(fragments, max_size=12).map("".join))
def test_same_outcome_as_json_loads_on_fragments(s):
    assert outcome(loads_one, s) == outcome(json.loads, s)


@pytest.mark.parametrize("s", [b'{"a": 1}\n', bytearray(b"[1]"), 3, None, '\ufeff{"a": 1}'])
def test_non_str_and_bom_behave_like_json_loads(s):
    assert outcome(loads_one, s) == outcome(json.loads, s)


def test_lazy_and_stops_at_the_bad_line():
    seen = []

    def lines():
        for s in ['{"a": 1}\n', "[2]\n", "oops\n", "3\n"]:
            seen.append(s)
            yield s

    it = loads_each(lines())
    assert next(it) == {"a": 1} and len(seen) == 1
    assert next(it) == [2]
    with pytest.raises(json.JSONDecodeError, match="Expecting value"):
        next(it)
    assert len(seen) == 3


def test_bag_map_json_loads_matches_plain_python(size):
    rng = random.Random(size)
    lines = [
        json.dumps({"id": i, "x": rng.random(), "t": ["a"] * (i % 3)}) + "\n" for i in range(size)
    ]
    for b in partitionings(lines):
        assert_eq(b.map(json.loads), [json.loads(s) for s in lines])


def test_bag_map_json_loads_error_names_the_partition():
    b = sb.from_sequence(['{"a": 1}', "{bad"], npartitions=2).map(json.loads)
    with pytest.raises(json.JSONDecodeError) as info:
        b.compute(scheduler="sync")
    assert "partition 1" in "".join(info.value.__notes__)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3_000))
def test_even_blocks_cover_the_file_in_equal_blocks(nbytes, blocksize):
    blocks = even_blocks(nbytes, blocksize)
    assert blocks[0][0] == 0 and blocks[-1][1] == nbytes
    assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    sizes = [end - start for start, end in blocks]
    assert max(sizes) <= blocksize
    assert max(sizes) - min(sizes) <= 1
    assert len(blocks) == max(1, -(-nbytes // blocksize))
