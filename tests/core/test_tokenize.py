"""tokenize: equal values get equal tokens (in every process), different values
different ones, and what cannot be hashed deterministically a random token."""

import dataclasses
import datetime
import decimal
import enum
import functools
import json
import operator
import os
import pathlib
import random
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import shoal
from shoal.core.tokenize import TokenizationError, normalize, register, tokenize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The same objects, built in two fresh interpreters with different hash seeds.
OBJECTS_SCRIPT = r"""
import dataclasses, datetime, decimal, enum, functools, json, operator, pathlib, sys, uuid
import numpy as np
import pandas as pd
import pyarrow as pa
from shoal.core.tokenize import tokenize

def module_function(x, y=2):
    return x + y

def make_closure(n):
    def add_n(x):
        return x + n
    return add_n

class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def norm(self):
        return abs(self.x) + abs(self.y)

class Slotted:
    __slots__ = ("a", "b")
    def __init__(self, a, b):
        self.a, self.b = a, b

@dataclasses.dataclass
class Record:
    name: str
    values: list

class Color(enum.Enum):
    RED = 1

rng = np.random.default_rng(42)
words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
forward = {w: i for i, w in enumerate(words)}
backward = {w: forward[w] for w in reversed(words)}
objects = {
    "int": 12345678901234567890,
    "float": 0.1,
    "str": "héllo",
    "bytes": b"\x00\xff",
    "nested": [1, (2.5, "x"), {"k": [None, True]}],
    "str-set": set(words),
    "frozenset": frozenset(words[:3]),
    "dict-forward": forward,
    "dict-backward": backward,
    "dict-mixed-keys": {1: "a", "1": "b", (1, 2): "c", 2.5: "d"},
    "np-float": rng.standard_normal((20, 30)),
    "np-int-fortran": np.asfortranarray(np.arange(24, dtype="int16").reshape(4, 6)),
    "np-strided": np.arange(100)[::3],
    "np-datetime": np.array(["2024-01-01", "2025-06-30"], dtype="datetime64[ns]"),
    "np-structured": np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
    "np-str": np.array(["a", "bc"]),
    "np-object": np.array(["a", 1, None], dtype=object),
    "np-0d": np.array(3.5),
    "np-empty": np.empty((0, 3)),
    "np-scalar": np.float32(1.5),
    "np-dtype": np.dtype("int64"),
    "np-ufunc": np.add,
    "pd-frame": pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, None, 2.0]},
                             index=pd.Index([10, 20, 30], name="idx")),
    "pd-series": pd.Series(pd.Categorical(["u", "v", "u"]), name="cat"),
    "pd-index": pd.date_range("2024-01-01", periods=5, freq="D"),
    "pd-multiindex": pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["l", "n"]),
    "pd-timestamp": pd.Timestamp("2024-03-01 12:00"),
    "pa-table": pa.table({"x": [1, 2], "y": ["a", "b"]}),
    "module-function": module_function,
    "builtin": len,
    "operator": operator.add,
    "method-descriptor": str.upper,
    "lambda": lambda x, y=3: x * y + 1,
    "closure": make_closure(5),
    "partial": functools.partial(module_function, 1, y=3),
    "partial-of-lambda": functools.partial(lambda a, b: a - b, 10),
    "bound-method": Point(1, 2).norm,
    "object": Point(3, {"a": [1, 2]}),
    "slotted": Slotted(1, "b"),
    "dataclass": Record("r", [1, 2]),
    "enum": Color.RED,
    "type": Point,
    "date": datetime.date(2024, 1, 2),
    "decimal": decimal.Decimal("1.10"),
    "path": pathlib.PurePosixPath("/a/b"),
    "uuid": uuid.UUID(int=5),
    "slice-range": (slice(1, 5, 2), range(3)),
    "itemgetter": operator.itemgetter(1, 2),
}
json.dump({k: tokenize(v) for k, v in objects.items()}, sys.stdout)
"""


def tokens_in_fresh_process(seed, tmp_path):
    script = tmp_path / f"objects_{seed}.py"
    script.write_text(OBJECTS_SCRIPT)
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    out = subprocess.run(
        [sys.executable, "-P", str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    return json.loads(out.stdout)


def test_same_tokens_across_processes_with_different_hash_seeds(tmp_path):
    first = tokens_in_fresh_process(1, tmp_path)
    second = tokens_in_fresh_process(12345, tmp_path)
    assert first.keys() == second.keys()
    differing = [k for k in first if first[k] != second[k]]
    assert differing == [], f"tokens differ across processes for {differing}"
    assert not any(t.startswith("random") for t in first.values())
    # dicts are independent of insertion order
    assert first["dict-forward"] == first["dict-backward"]
    # and every object got its own token
    assert len(set(first.values())) == len(first) - 1


def module_function(x, y=2):
    return x + y


def other_function(x, y=2):
    return x + y


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm(self):
        return abs(self.x) + abs(self.y)


class Other:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm(self):
        return abs(self.x) + abs(self.y)


@dataclasses.dataclass
class Record:
    name: str
    values: list


class Color(enum.Enum):
    RED = 1
    BLUE = 2


def make_closure(n):
    def add_n(x):
        return x + n

    return add_n


def equal_pairs():
    """Pairs of separately built but equal values."""
    a = np.arange(12.0).reshape(3, 4)
    return [
        ([1, 2, {"a": 3}], [1, 2, {"a": 3}]),
        ({"x": 1, "y": 2}, {"y": 2, "x": 1}),
        ({3, 1, 2}, {2, 3, 1}),
        (set(map(str, range(100))), set(map(str, reversed(range(100))))),
        (a, a.copy()),
        (a, np.asfortranarray(a)),
        (np.arange(10)[::2], np.array([0, 2, 4, 6, 8])),
        (pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [1, 2]})),
        (pd.Series([1.5, None], name="s"), pd.Series([1.5, None], name="s")),
        (pd.Index(["a", "b"]), pd.Index(["a", "b"])),
        (functools.partial(module_function, 1), functools.partial(module_function, 1)),
        (Point(1, 2).norm, Point(1, 2).norm),
        (Point(1, [2]), Point(1, [2])),
        (Record("a", [1]), Record("a", [1])),
        (make_closure(3), make_closure(3)),
        (lambda x: x + 1, lambda x: x + 1),
        (random.Random(7), random.Random(7)),
        (np.random.default_rng(3), np.random.default_rng(3)),
        (datetime.datetime(2024, 1, 1), datetime.datetime(2024, 1, 1)),
        (decimal.Decimal("1.5"), decimal.Decimal("1.5")),
    ]


@pytest.mark.parametrize("pair", range(len(equal_pairs())))
def test_equal_values_get_equal_tokens(pair):
    a, b = equal_pairs()[pair]
    assert tokenize(a) == tokenize(b)
    assert tokenize(a) == tokenize(a)
    assert not tokenize(a).startswith("random")


def distinct_values():
    """Values that must all get different tokens, many of them near misses."""
    base = np.zeros((2, 3), dtype="int32")
    changed = base.copy()
    changed[1, 2] = 1
    df = pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]})
    return [
        1, 1.0, True, "1", b"1", None, 1 + 0j, 2, -0.0, 0.0, float("nan"),
        [1, 2], (1, 2), {1, 2}, frozenset([1, 2]), {1: 2}, [[1], [2]], [[1, 2]], [(1, 2)],
        "ab", ("a", "b"), ["ab"], {"a": 1}, {"a": 1.0}, {"a": [1]}, {"b": 1},
        [], (), {}, set(), "", b"",
        base, changed, base.astype("float32"), base.reshape(3, 2), base.astype("int64"),
        base.astype("uint32"), np.zeros(0), np.zeros((0, 2)), np.float64(0.0), np.int32(0),
        np.array(["a", "b"]), np.array([b"a", b"b"]), np.array(["a", "b"], dtype=object),
        np.ma.masked_array([1, 2], mask=[0, 1]), np.ma.masked_array([1, 2], mask=[1, 0]),
        np.ma.masked_array([1, 2], mask=[1, 0], fill_value=7),
        df, df.rename(columns={"b": "c"}), df.set_index("a"), df.astype({"a": "int32"}),
        df.iloc[::-1], df["a"], df["a"].rename("z"), df["b"], df.index,
        pd.Index([0, 1], name="n"),
        pd.Series(["u", "v"], dtype="category"),
        pd.Series(pd.Categorical(["u", "v"], categories=["v", "u"])),
        pd.MultiIndex.from_tuples([(1, 2)], names=["a", "b"]),
        pd.MultiIndex.from_tuples([(1, 2)], names=["a", "c"]),
        pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-01", tz="UTC"),
        module_function, other_function, len, max, operator.add, operator.sub,
        functools.partial(module_function, 1), functools.partial(module_function, 2),
        functools.partial(module_function, y=1), functools.partial(other_function, 1),
        lambda x: x + 1, lambda x: x + 2, lambda y: y + 1,
        make_closure(1), make_closure(2),
        Point(1, 2), Point(2, 1), Other(1, 2), Point(1, 2).norm, Point(2, 2).norm,
        Other(1, 2).norm,
        Record("a", [1]), Record("a", [2]), Color.RED, Color.BLUE, Point, Other,
        random.Random(1), random.Random(2), np.random.default_rng(1),
        np.random.default_rng(2),
        datetime.date(2024, 1, 1), datetime.date(2024, 1, 2), decimal.Decimal("1.0"),
        decimal.Decimal("1.00"), pathlib.PurePosixPath("a"), pathlib.PurePosixPath("b"),
        slice(1, 2), slice(1, 3), range(3), range(4), pa.table({"x": [1]}),
        pa.table({"x": [2]}), pa.table({"y": [1]}), operator.itemgetter(1),
        operator.itemgetter(2), np.add, np.multiply, np.dtype("int8"), np.dtype("uint8"),
    ]  # fmt: skip


def test_different_values_get_different_tokens():
    values = distinct_values()
    tokens = [tokenize(v) for v in values]
    seen: dict = {}
    for v, t in zip(values, tokens):
        assert t not in seen, f"{v!r} and {seen[t]!r} got the same token"
        seen[t] = v
    assert not any(t.startswith("random") for t in tokens)


def test_token_shape_and_arguments():
    t = tokenize(1, "a")
    assert isinstance(t, str) and len(t) == 32 and int(t, 16) >= 0
    assert tokenize(1, 2) != tokenize((1, 2)) != tokenize([1, 2])
    assert tokenize(1, a=2) == tokenize(1, a=2) != tokenize(1, a=3)
    assert tokenize(1, a=2, b=3) == tokenize(1, b=3, a=2)
    assert tokenize(a=1) != tokenize({"a": 1})


def test_recursive_structures_do_not_loop():
    a: list = [1]
    a.append(a)
    b: list = [1]
    b.append(b)
    assert tokenize(a) == tokenize(b)
    d: dict = {}
    d["self"] = d
    assert tokenize(d) == tokenize(d)


def test_big_array_hashes_its_buffer():
    x = np.arange(4_000_000, dtype="float64")  # 32 MB
    y = x.copy()
    assert tokenize(x) == tokenize(y)
    y[-1] = -1
    assert tokenize(x) != tokenize(y)


def test_memmap_is_named_by_file(tmp_path):
    path = tmp_path / "data.bin"
    np.arange(10, dtype="int64").tofile(path)
    m1 = np.memmap(path, dtype="int64", mode="r")
    m2 = np.memmap(path, dtype="int64", mode="r")
    assert tokenize(m1) == tokenize(m2)
    assert tokenize(m1) != tokenize(np.memmap(path, dtype="int64", mode="r", offset=8))


class Opaque:
    """No state Python can see: cannot be tokenized deterministically."""

    __slots__ = ()

    def __reduce__(self):
        raise TypeError("cannot pickle Opaque")


def undeterministic_objects():
    lock = threading.Lock()

    def uses_lock():
        return lock

    return [object(), lock, threading.Event()._cond, Opaque(), uses_lock]


@pytest.mark.parametrize("index", range(len(undeterministic_objects())))
def test_undeterministic_objects_get_random_tokens(index):
    obj = undeterministic_objects()[index]
    first, second = tokenize(obj), tokenize(obj)
    assert first != second, "an object that cannot be hashed got a repeatable token"
    assert tokenize([1, obj]) != tokenize([1, obj])
    with shoal.config.set({"tokenize.ensure-deterministic": True}):
        with pytest.raises(TokenizationError, match="deterministically"):
            tokenize(obj)


def test_unhashable_pandas_values_do_not_crash():
    s1 = pd.Series([[1, 2], [3]])
    s2 = pd.Series([[1, 2], [3]])
    assert tokenize(s1) == tokenize(s2)
    assert tokenize(s1) != tokenize(pd.Series([[1, 2], [4]]))
    df = pd.DataFrame({"a": [{"k": 1}, {"k": 2}]})
    assert tokenize(df) == tokenize(df.copy())


def test_custom_tokenize_hooks():
    class WithHook:
        def __init__(self, key):
            self.key = key
            self.cache = object()  # not part of its identity

        def __shoal_tokenize__(self):
            return self.key

    assert tokenize(WithHook("a")) == tokenize(WithHook("a")) != tokenize(WithHook("b"))

    class Registered:
        def __init__(self, v):
            self.v = v
            self.junk = object()

    @register(Registered)
    def _(obj):
        return ("Registered", obj.v)

    assert tokenize(Registered(1)) == tokenize(Registered(1)) != tokenize(Registered(2))


def test_normalize_is_plain_data():
    tree = normalize({"b": [1, 2.5], "a": {3}})
    assert tree == normalize({"a": {3}, "b": [1, 2.5]})
    assert repr(tree) == repr(eval(repr(tree)))  # noqa: S307 - plain literals only


def test_large_bytes_and_strings_are_hashed_not_copied():
    big = b"x" * 50_000_000
    assert tokenize(big) == tokenize(b"x" * 50_000_000)
    assert tokenize(big) != tokenize(big + b"y") != tokenize(big[:-1])
    text = "é" * 5_000
    assert tokenize(text) == tokenize("é" * 5_000) != tokenize(text.encode())
    assert tokenize(bytearray(b"ab")) == tokenize(bytearray(b"ab")) != tokenize(b"ab")
    assert tokenize(memoryview(b"abcd")[::2]) == tokenize(memoryview(b"ac"))
    assert tokenize(bytearray(b"ab")) != tokenize(bytearray(b"ac"))
