"""core/build.py: the one fusion of per-block work, checked on tiny blocked
plans against plain Python, under the threaded and sync schedulers."""

import functools
import operator
from typing import Any, ClassVar

import pytest

from shoal.core.build import MAX_INLINE_DEPTH, BlockExpr, GraphBuilder, build_graph
from shoal.core.local import get_sync, get_threads
from shoal.core.task import Ref, Task, dependencies_of


class Source(BlockExpr):
    """Blocks given as data; ``cost`` and ``fusable`` are operands here so
    tests can try every kind of child."""

    values: tuple
    cost_: str = "stored"
    fusable_: bool = False

    cost = property(lambda self: self.cost_)  # type: ignore[assignment]
    fusable = property(lambda self: self.fusable_)  # type: ignore[assignment]
    numblocks = property(lambda self: (len(self.values),))

    def _block(self, index, b):
        return Task(list, self.values[index[0]])


class Map(BlockExpr):
    """``func`` on each block of ``child`` (per-block work: fusable)."""

    child: BlockExpr
    func: Any
    fusable: ClassVar[bool] = True
    _eager: ClassVar[tuple] = ("numblocks",)  # read from the child once, at construction

    @functools.cached_property
    def numblocks(self):
        return self.child.numblocks

    def _one_to_one(self, child):
        return True

    def _block(self, index, b):
        return Task(self.func, b.input(self, self.child, index))


class Zip(BlockExpr):
    """Pairs the blocks of two children."""

    left: BlockExpr
    right: BlockExpr
    fusable: ClassVar[bool] = True

    @property
    def numblocks(self):
        return self.left.numblocks

    def _one_to_one(self, child):
        return self.left._name != self.right._name

    def _block(self, index, b):
        return Task(_zip, b.input(self, self.left, index), b.input(self, self.right, index))


class Total(BlockExpr):
    """One block: the sum of every block of ``child`` (its own keys, refs only)."""

    child: BlockExpr

    numblocks = property(lambda self: (1,))

    def _build_layer(self, b):
        refs = [b.ref(self.child, (i,)) for i in range(self.child.numblocks[0])]
        return {self.key((0,)): Task(_total, refs)}


def _zip(a, b):
    return list(zip(a, b))


def _total(parts):
    return sum(sum(p) for p in parts)


def _neg(block):
    return [-x for x in block]


def _double(block):
    return [2 * x for x in block]


VALUES = ((1, 2), (), (3,), (4, 5, 6))


def blocks(graph, expr):
    keys = [expr.key(i) for i in [(k,) for k in range(expr.numblocks[0])]]
    return get_sync(graph, keys)


def stored_names(graph) -> set:
    return {k[0] for k in graph}


@pytest.mark.parametrize("get", [get_sync, get_threads])
def test_a_fusable_chain_is_one_task_per_block(get):
    src = Source(VALUES, "free")
    plan = Map(Map(src, _neg), _double)
    graph = build_graph(plan)
    assert stored_names(graph) == {plan._name}
    keys = [plan.key((i,)) for i in range(4)]
    assert get(graph, keys) == [[-2 * x for x in v] for v in VALUES]


def test_a_child_with_two_users_is_stored_once():
    """
      Zip
     /   \\
    Map  Map      the inner Map has two users: stored, referenced twice
      \\  /
      Map(src)
    """
    src = Source(VALUES)
    inner = Map(src, _neg)
    plan = Zip(Map(inner, _double), Map(inner, abs_block))
    graph = build_graph(plan)
    assert inner._name in stored_names(graph)
    assert blocks(graph, plan) == [[(2 * -x, x) for x in v] for v in VALUES]


def abs_block(block):
    return [abs(x) for x in block]


@pytest.mark.parametrize(
    "cost, fusable, users, fused",
    [
        ("free", False, 2, True),  # free: always, also into several users
        ("cheap", False, 2, True),  # cheap: made again in every user
        ("stored", True, 1, True),  # per-block work with one user
        ("stored", True, 2, False),  # two users: kept
        ("stored", False, 1, False),  # not per-block work: kept
    ],
)
def test_the_fusion_rule(cost, fusable, users, fused):
    src = Source(VALUES, cost, fusable)
    parents = [Map(src, _neg), Map(src, _double)][:users]
    plan = parents[0] if users == 1 else Zip(*parents)
    b = GraphBuilder(plan)
    assert b.fuses(parents[0], src) is fused
    graph = b.build()
    assert (src._name in stored_names(graph)) is not fused
    expect = [[-x for x in v] for v in VALUES]
    if users == 2:
        expect = [list(zip(e, [2 * x for x in v])) for e, v in zip(expect, VALUES)]
    assert blocks(graph, plan) == expect
    source_lines = [line for line in plan.explain_text().splitlines() if "Source" in line]
    assert all(("(fused)" in line) is fused for line in source_lines)


def test_a_child_read_twice_by_one_parent_is_not_fused():
    src = Source(VALUES, "stored", True)
    plan = Zip(src, src)  # the same blocks twice in one task: not one-to-one
    graph = build_graph(plan)
    assert src._name in stored_names(graph)
    assert blocks(graph, plan) == [[(x, x) for x in v] for v in VALUES]


def test_custom_layers_reference_stored_children():
    src = Source(VALUES, "free")
    plan = Total(Map(src, _neg))
    graph = build_graph(plan)
    assert get_sync(graph, plan.key((0,))) == -21
    assert all(type(dependencies_of(graph[plan.key((0,))])) is tuple for _ in [0])


@pytest.mark.parametrize("get", [get_sync, get_threads])
def test_deep_chains_are_cut_every_max_inline_depth_and_compute(get):
    plan = Source(VALUES, "free")
    depth = 10_000
    for _ in range(depth):
        plan = Map(plan, _neg)
    graph = build_graph(plan)
    layers = stored_names(graph)
    assert depth // (MAX_INLINE_DEPTH + 1) <= len(layers) <= depth // MAX_INLINE_DEPTH + 2
    keys = [plan.key((i,)) for i in range(4)]
    assert get(graph, keys) == [list(v) for v in VALUES]  # an even number of negations
    assert plan.explain_text().count("(fused)") == depth


def test_leaf_refs_replace_a_childs_blocks():
    src = Source(VALUES, "free")
    plan = Map(src, _neg)
    b = GraphBuilder(plan)
    b.leaf_refs = {(src._name, (0,)): "elsewhere"}
    b.graph["elsewhere"] = [10]
    graph = b.build()
    assert graph[plan.key((0,))].dependencies == ("elsewhere",)
    assert get_sync(graph, plan.key((0,))) == [-10]
    assert isinstance(b.ref(src, (0,)), Ref) and b.ref(src, (0,)).key == "elsewhere"


def test_block_exprs_must_say_how_to_make_blocks():
    class Bare(BlockExpr):
        n: int

    with pytest.raises(NotImplementedError, match="must define numblocks"):
        build_graph(Bare(1))


def test_operator_blocks_via_builder_are_plain_tasks():
    plan = Map(Source(((1,),), "free"), operator.itemgetter(0))
    graph = build_graph(plan)
    assert get_sync(graph, plan.key((0,))) == 1
