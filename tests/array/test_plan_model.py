"""Arrays on the one plan model: plans of any depth build, compute and explain
(nothing recurses on plan depth), reductions take their fan-in from
``shoal.core.tree``, ``rechunk(threshold=)`` is honoured."""

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

import shoal.array as sa
from shoal.array.expr import MAX_REGENERATED
from shoal.array.rechunk import plan_rechunk
from shoal.core import config
from shoal.core.tree import split_every_of
from shoal.testing import assert_eq

ARRAY_ROOM = Path(__file__).resolve().parents[2] / "array"


def elementwise_chain(x, steps):
    """The same 4-step cycle of operations on a shoal array or a NumPy one."""
    for i in range(steps):
        k = i % 4
        if k == 0:
            x = x + 0.5
        elif k == 1:
            x = x * 0.5
        elif k == 2:
            x = np.sin(x)
        else:
            x = np.abs(x) - 0.1
    return x


VALUES = np.linspace(-3, 3, 50)


@pytest.fixture(scope="module", params=[(7,), ((1, 2, 3, 44),), (50,)], ids=str)
def ten_thousand_deep(request):
    """(chunks, array): 10,000 elementwise operations on ``VALUES``."""
    return request.param, elementwise_chain(sa.from_array(VALUES, chunks=request.param), 10_000)


def test_ten_thousand_elementwise_operations(ten_thousand_deep):
    chunks, deep = ten_thousand_deep
    assert deep.chunks == sa.from_array(VALUES, chunks=chunks).chunks
    assert_eq(deep, elementwise_chain(VALUES, 10_000))


def test_ten_thousand_deep_plan_explains(ten_thousand_deep):
    _, deep = ten_thousand_deep
    text = deep.explain()
    lines = text.splitlines()
    assert len(lines) == 10_000 + 2500 + 1  # abs - 0.1 is two nodes; plus the source
    assert lines[0].startswith("Elementwise: sub")
    assert "RegionSource: array" in lines[-1]
    assert "(fused)" in text


def test_time_loop_of_the_issue_reuses_its_input_at_every_step():
    """x appears twice per step: regenerating it inline in every consumer
    would double the work at each step; it is stored once the regeneration
    work passes MAX_REGENERATED."""
    x = sa.random.default_rng(0).random((40,), chunks=7)
    values = x.compute()
    for _ in range(300):
        x = x + 0.001 * np.sin(x)
        values = values + 0.001 * np.sin(values)
    assert x.expr.regenerated <= MAX_REGENERATED
    assert float(x.sum().compute()) == pytest.approx(values.sum())
    assert_eq(x, values)


def test_thousand_deep_chain_of_reductions_slices_and_rechunks():
    values = np.random.default_rng(1).standard_normal((20, 12))
    x = sa.from_array(values, chunks=((5, 7, 8), (6, 6)))
    chunkings = [((4, 16), (5, 7)), ((10, 10), (12,)), (3, 5)]
    for i in range(1000):
        k = i % 5
        if k == 0:
            x = x + x.sum(axis=1, keepdims=True) * 0.01
            values = values + values.sum(axis=1, keepdims=True) * 0.01
        elif k == 1:
            x, values = x[::-1], values[::-1]
        elif k == 2:
            x = x.rechunk(chunkings[(i // 5) % 3])
        elif k == 3:
            x, values = np.cos(x), np.cos(values)
        else:
            x, values = x[:, ::-1] - x.mean(), values[:, ::-1] - values.mean()
    assert_eq(x, values)
    assert len(x.explain().splitlines()) > 1000


def test_thousand_deep_chain_of_scalar_reductions():
    values = np.arange(12.0).reshape(3, 4)
    x = sa.from_array(values, chunks=2)
    total, expected = x.sum(), values.sum()
    for i in range(1000):
        total = total * 0.5 + x[i % 3].max()
        expected = expected * 0.5 + values[i % 3].max()
    assert float(total) == pytest.approx(expected)


# ------------------------------------------------------------ split_every


def message_of(value, collection="bag"):
    with pytest.raises(ValueError) as info:
        split_every_of(value, collection)
    return str(info.value)


REDUCTIONS = [
    lambda x, s: x.sum(split_every=s),
    lambda x, s: sa.nanmax(x, axis=0, split_every=s),
    lambda x, s: x.std(split_every=s),
    lambda x, s: sa.argmin(x, axis=1, split_every=s),
    lambda x, s: sa.count_nonzero(x, split_every=s),
    lambda x, s: sa.topk(x, 2, axis=0, split_every=s),
    lambda x, s: sa.argtopk(x, -2, axis=1, split_every=s),
]


@pytest.mark.parametrize("bad", [1, 0, True, 2.5, "8"])
@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_bad_split_every_raises_like_other_collections(reduce, bad):
    x = sa.ones((6, 6), chunks=2)
    with pytest.raises(ValueError) as info:
        reduce(x, bad)
    assert str(info.value) == message_of(bad)


def test_split_every_dict_must_name_reduced_axes():
    x = sa.ones((6, 6), chunks=2)
    with pytest.raises(ValueError, match=r"axes \[1\] that are not reduced"):
        x.sum(axis=0, split_every={1: 4})
    with pytest.raises(ValueError, match=r"split_every\[0\] must be an integer >= 2, got 1"):
        x.sum(axis=0, split_every={0: 1})


def test_split_every_from_config_is_checked():
    x = sa.ones((6,), chunks=2)
    with config.set({"array.split-every": 1}):
        with pytest.raises(ValueError, match="split_every must be an integer >= 2, got 1"):
            x.sum()
    with config.set({"array.split-every": 3}):
        assert int(x.sum()) == 6


@pytest.mark.parametrize("split_every", [2, 3, 16, {0: 2, 1: 5}])
@pytest.mark.parametrize("chunks", [1, (2, 3), ((1, 4, 2), (5, 2))])
def test_tree_shape_follows_split_every(split_every, chunks):
    values = np.random.default_rng(2).standard_normal((7, 7))
    x = sa.from_array(values, chunks=chunks)
    along_rows = {0: split_every[0]} if isinstance(split_every, dict) else split_every
    assert_eq(x.sum(split_every=split_every), values.sum())
    assert_eq(x.var(axis=(0, 1), split_every=split_every), values.var())
    assert_eq(sa.argmax(x, axis=0, split_every=along_rows), values.argmax(axis=0))


def test_smaller_split_every_gives_more_rounds():
    x = sa.ones((64,), chunks=1)
    stages = [
        {key[0].rsplit("-", 1)[0] for key in x.sum(split_every=s).__shoal_graph__()}
        for s in (2, 8, 64)
    ]
    assert [len(s) for s in stages] == [7, 3, 2]  # partials, combine rounds, aggregate


@pytest.mark.parametrize("chunks", [1, 3, (2, 5, 1, 4)])
@pytest.mark.parametrize("k", [3, -2, 12])
def test_topk_is_a_tree_on_any_chunking(chunks, k):
    values = np.random.default_rng(3).permutation(12).astype(float)
    x = sa.from_array(values, chunks=chunks)
    order = np.sort(values)[::-1] if k > 0 else np.sort(values)
    assert_eq(sa.topk(x, k, split_every=2), order[: abs(k)])
    expected = np.argsort(-values if k > 0 else values, kind="stable")[: abs(k)]
    assert_eq(sa.argtopk(x, k, split_every=3), expected)


def test_topk_along_an_axis_of_a_2d_array():
    values = np.random.default_rng(4).standard_normal((9, 5))
    x = sa.from_array(values, chunks=(2, 3))
    assert_eq(sa.topk(x, 3, axis=0, split_every=2), -np.sort(-values, axis=0)[:3])
    assert_eq(sa.argtopk(x, -2, axis=1), np.argsort(values, axis=1, kind="stable")[:, :2])


# ------------------------------------------------------------------ rechunk


def test_rechunk_threshold_decides_the_stages():
    values = np.random.default_rng(5).standard_normal((400, 400))
    x = sa.from_array(values, chunks=(400, 10)) + 1  # not a region source: planned
    staged = x.rechunk((10, 400))
    direct = x.rechunk((10, 400), threshold=1000)
    assert staged.explain().count("Rechunk") > 1
    assert direct.explain().count("Rechunk") == 1
    assert_eq(staged, values + 1)
    assert_eq(direct, values + 1)
    assert len(plan_rechunk(x.chunks, ((10,) * 40, (400,)), threshold=1000)) == 1


@pytest.mark.parametrize("bad", [0, -1, "4", True, [4]])
def test_rechunk_threshold_must_be_positive(bad):
    with pytest.raises(ValueError, match="threshold must be a positive number"):
        sa.ones((4, 4), chunks=2).rechunk(4, threshold=bad)


# ------------------------------------------------------------- name clashes


def builtin_clashes(source: str) -> list[str]:
    """Names bound at module level that shadow a builtin and are also read
    inside a function of the module (where the builtin would be meant), and
    imports of ``builtins`` (the workaround for such a clash)."""
    tree = ast.parse(source)
    builtins = set(dir(sys.modules["builtins"]))
    bound = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            bound.update(a.asname or a.name for a in node.names)
    shadowing = bound & builtins
    annotations = set()  # never evaluated (postponed annotations): not a use
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            annotations.update(map(id, ast.walk(node.annotation)))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            annotations.update(map(id, ast.walk(node.returns)))
        elif isinstance(node, ast.AnnAssign):
            annotations.update(map(id, ast.walk(node.annotation)))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == "builtins" for a in node.names):
            found.append("import builtins")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                    if sub.id in shadowing and id(sub) not in annotations:
                        found.append(f"{sub.id} (line {sub.lineno})")
    return found


def test_clash_checker_finds_a_shadowed_builtin_in_use():
    probe = (
        "import builtins\ndef max(x):\n    return x\ndef spread(a: max):\n    return max(a) - 1\n"
    )
    assert builtin_clashes(probe) == ["import builtins", "max (line 5)"]
    assert builtin_clashes("def max(x):\n    return x\n") == []


@pytest.mark.parametrize("path", sorted(ARRAY_ROOM.glob("*.py")), ids=lambda p: p.name)
def test_no_module_needs_a_builtin_it_shadows(path):
    assert builtin_clashes(path.read_text()) == []


# ------------------------------------------------------------- typed fields


def test_every_array_expression_declares_typed_operand_fields():
    from shoal.array.expr import ArrayExpr

    classes, todo = [], [ArrayExpr]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    assert len(classes) > 25  # every family's nodes are loaded with shoal.array
    for cls in classes[1:]:
        own = cls.__dict__
        assert "_parameters" not in own and "_defaults" not in own, cls
        assert "__init__" not in own, cls
        assert cls._fields, cls
        assert all(not isinstance(own.get(f), property) for f in cls._fields), cls
