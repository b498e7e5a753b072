"""Small helpers (utils) and the shared test helpers of shoal.testing."""

import functools
import math

import numpy as np
import pandas as pd
import pytest

import shoal
from shoal.core.base import CollectionMethods
from shoal.core.utils import format_bytes, funcname, key_prefix, parse_bytes
from shoal.testing import assert_eq, compute_checked, register_checker


@pytest.mark.parametrize(
    "key,prefix",
    [
        ("x", "x"),
        ("sum-aggregate-3f2a9c1e0b7d4e5f", "sum-aggregate"),
        (("read-parquet-" + "ab" * 16, 3, 4), "read-parquet"),
        (("inc", 0), "inc"),
        ("inc-" + "0" * 32, "inc"),
        ("a-b-c", "a-b-c"),
        ((7, 1), "7"),
    ],
)
def test_key_prefix(key, prefix):
    assert key_prefix(key) == prefix


@pytest.mark.parametrize(
    "text,value",
    [
        ("128MiB", 128 * 2**20),
        ("2 GB", 2 * 10**9),
        ("1.5kB", 1500),
        ("10", 10),
        ("1e3", 1000),
        ("7 b", 7),
        (" 3 KiB ", 3072),
        ("4t", 4 * 10**12),
        (512, 512),
        (2.5, 2),
    ],
)
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("bad", ["", "MiB", "12 parsecs", "-5MB", "1..2kB"])
def test_parse_bytes_rejects_nonsense(bad):
    with pytest.raises(ValueError, match="size in bytes"):
        parse_bytes(bad)


def test_format_bytes_round_trips():
    for n in [0, 1, 999, 1024, 10**6, 3 * 2**30, 5 * 2**40]:
        text = format_bytes(n)
        assert math.isclose(parse_bytes(text.replace(" ", "")), n, rel_tol=0.01, abs_tol=1)
    assert format_bytes(999) == "999 B"
    assert format_bytes(2**20) == "1.00 MiB"


def my_function(x):
    return x


def test_funcname():
    assert funcname(my_function) == "my-function"
    assert funcname(lambda: 0) == "lambda"
    assert funcname(functools.partial(functools.partial(my_function, 1))) == "my-function"
    assert funcname(len) == "len"

    class Callable_:
        def __call__(self):
            return 1

    assert funcname(Callable_()) == "callable-"

    class Invents:
        """Makes up any attribute asked for (like Dask's Delayed)."""

        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return Invents()

        def __call__(self):
            return 0

    assert funcname(Invents()) == "invents"


# ---------------------------------------------------------------- testing


def test_assert_eq_plain_values():
    assert_eq(1, 1)
    assert_eq([1, (2.0, "a")], [1, (2.0 + 1e-12, "a")])
    assert_eq({"a": [1.0, float("nan")]}, {"a": [1.0, float("nan")]})
    assert_eq([3, 1, 2], [1, 2, 3], ordered=False)
    for a, b in [(1, 2), ([1, 2], [1, 2, 3]), ({"a": 1}, {"b": 1}), (1.0, 1.1), ([3, 1], [1, 3])]:
        with pytest.raises(AssertionError):
            assert_eq(a, b)


def test_assert_eq_numpy_and_pandas():
    x = np.arange(6.0).reshape(2, 3)
    assert_eq(x, x.copy())
    assert_eq(shoal.delayed(x), x)
    with pytest.raises(AssertionError):
        assert_eq(x, x.astype("float32"))
    assert_eq(x, x.astype("float32"), check_dtype=False)
    with pytest.raises(AssertionError):
        assert_eq(x, x.T)
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, None]})
    assert_eq(shoal.delayed(df), df)
    with pytest.raises(AssertionError):
        assert_eq(df, df.rename(columns={"b": "c"}))
    assert_eq(df.set_index("a"), df.set_index("a").reset_index(drop=True), check_index=False)
    assert_eq(df["a"], df["a"].copy())
    assert_eq(df.index, df.index.copy())
    with pytest.raises(AssertionError):
        assert_eq(df["a"], df["a"] + 1)


class Chunked(CollectionMethods):
    """A list in chunks that claims to know its chunk lengths."""

    __slots__ = ("name", "parts", "lengths")

    def __init__(self, name, parts, lengths):
        self.name, self.parts, self.lengths = name, parts, lengths

    def __shoal_graph__(self):
        return {(self.name, i): p for i, p in enumerate(self.parts)}

    def __shoal_keys__(self):
        return [(self.name, i) for i in range(len(self.parts))]

    def __shoal_postcompute__(self):
        return (lambda parts: [x for p in parts for x in p]), ()

    def __shoal_postpersist__(self):
        raise NotImplementedError


@register_checker(Chunked)
def _check_chunked(coll, parts):
    lengths = tuple(len(p) for p in parts)
    assert lengths == coll.lengths, f"chunks {coll.lengths} but blocks of {lengths}"


def test_assert_eq_runs_the_registered_checker():
    good = Chunked("c", [[1, 2], [], [3]], (2, 0, 1))
    assert_eq(good, [1, 2, 3])
    assert compute_checked(good) == [1, 2, 3]
    lying = Chunked("c", [[1, 2], [], [3]], (1, 1, 1))
    with pytest.raises(AssertionError, match="chunks"):
        assert_eq(lying, [1, 2, 3])


def test_compute_checked_finds_broken_graphs():
    class Broken(Chunked):
        __slots__ = ()

        def __shoal_keys__(self):
            return [(self.name, 0), (self.name, 0)]

    with pytest.raises(AssertionError, match="duplicate output keys"):
        compute_checked(Broken("b", [[1]], (1,)))

    class Missing(Chunked):
        __slots__ = ()

        def __shoal_keys__(self):
            return [(self.name, 5)]

    with pytest.raises(AssertionError, match="not in the graph"):
        compute_checked(Missing("m", [[1]], (1,)))
    assert compute_checked(5) == 5
