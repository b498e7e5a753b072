"""Expr: naming, operands, simplify to a fixed point, lower, graph, explain."""

import operator
import pickle
from typing import Any, ClassVar

import pytest

from shoal.core.expr import ConvergenceError, Expr
from shoal.core.local import get_sync
from shoal.core.task import Ref, Task


class Source(Expr):
    """A list of numbers; ``columns`` is a projection pushed into the source."""

    values: list
    columns: list | None = None

    def _layer(self):
        values = self.values
        if self.columns is not None:
            values = [values[i] for i in self.columns]
        return {self._name: list(values)}


class Select(Expr):
    frame: Expr
    columns: list

    def _layer(self):
        return {self._name: Task(_select, Ref(self.frame._name), self.columns)}


def _select(values, columns):
    return [values[i] for i in columns]


class PushSelectIntoSource(Source):
    """A source that accepts projections (the rewrite is the parent's _simplify_up)."""

    def _simplify_up(self, parent, dependents):
        if isinstance(parent, Select) and len(dependents[self._name]) == 1:
            columns = parent.columns
            if self.columns is not None:
                columns = [self.columns[i] for i in columns]
            return PushSelectIntoSource(self.values, columns)
        return None


class Add(Expr):
    left: Expr
    right: Any

    def _simplify_down(self):
        if isinstance(self.right, int) and self.right == 0:
            return self.left
        return None

    def _layer(self):
        right = Ref(self.right._name) if isinstance(self.right, Expr) else self.right
        return {self._name: Task(_add_lists, Ref(self.left._name), right)}


def _add_lists(a, b):
    if isinstance(b, list):
        return list(map(operator.add, a, b))
    return [x + b for x in a]


class Logical(Expr):
    """Has no tasks itself: lowered to Add(child, 0) then simplified away."""

    child: Expr

    def _lower(self):
        return Add(self.child, 1)


def test_names_are_deterministic_and_operand_based():
    assert Source([1, 2])._name == Source([1, 2])._name
    assert Source([1, 2])._name != Source([1, 3])._name
    assert Source([1, 2])._name.startswith("source-")
    assert PushSelectIntoSource([1])._name.startswith("push-select-into-source-")
    assert Source([1, 2], None)._name == Source([1, 2])._name  # defaults fill in
    assert Source([1, 2]) == Source([1, 2]) and hash(Source([1])) == hash(Source([1]))
    assert Add(Source([1]), 1)._name != Add(Source([1]), 2)._name


def test_operands_are_checked():
    with pytest.raises(TypeError, match="missing operand 'values'"):
        Source()
    with pytest.raises(TypeError, match="takes 2 operands"):
        Source(1, 2, 3)
    with pytest.raises(TypeError, match="unknown operands"):
        Source([1], colums=[0])
    s = Source([1], columns=[0])
    assert s.values == [1] and s.columns == [0]
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        s.nothing  # noqa: B018


def test_simplify_pushes_projection_into_source():
    """
    Select(columns=[0, 2])           PushSelectIntoSource(columns=[1, 3])
      Select(columns=[1, 2, 3])  ->
        PushSelectIntoSource
    """
    src = PushSelectIntoSource([10, 20, 30, 40])
    plan = Select(Select(src, [1, 2, 3]), [0, 2])
    simple = plan.simplify()
    assert simple.explain_text() == "PushSelectIntoSource: values=[10, 20, 30, 40], columns=[1, 3]"
    assert get_sync(simple.__shoal_graph__(), simple._name) == [20, 40]
    assert get_sync(plan.__shoal_graph__(), plan._name) == [20, 40]


def test_simplify_does_not_push_into_shared_nodes():
    """
        Add
       /   \\
    Select  src      src has two users: no pushdown
      |
     src
    """
    src = PushSelectIntoSource([1, 2, 3])
    plan = Add(Select(src, [0, 1, 2]), src)
    assert plan.simplify()._name == plan._name
    assert get_sync(plan.__shoal_graph__(), plan._name) == [2, 4, 6]


def test_simplify_down_removes_nodes():
    plan = Add(Add(Source([1, 2]), 0), 0)
    assert plan.simplify() == Source([1, 2])


class Flip(Expr):
    value: bool

    def _simplify_down(self):
        return Flip(not self.value)  # never settles


class Count(Expr):
    n: int

    def _simplify_down(self):
        return Count(self.n + 1)  # a new node every time


class Creep(Expr):
    """Moves one step per pass (every other call), so no pass ever settles."""

    n: int
    calls: ClassVar[list] = [0]

    def _simplify_down(self):
        Creep.calls[0] += 1
        return Creep(self.n + 1) if Creep.calls[0] % 2 else None


def test_simplify_raises_when_it_does_not_converge():
    with pytest.raises(ConvergenceError, match="rewrites in a cycle: Flip"):
        Flip(True).simplify()
    with pytest.raises(ConvergenceError, match="kept rewriting Count without end"):
        Count(0).simplify()
    Creep.calls[0] = 0
    with pytest.raises(ConvergenceError, match="did not converge after 5 passes"):
        Creep(0).simplify(max_passes=5)


def test_lower_and_optimize():
    plan = Logical(Source([1, 2]))
    lowered = plan.lower()
    assert isinstance(lowered, Add) and lowered.right == 1
    assert get_sync(lowered.__shoal_graph__(), lowered._name) == [2, 3]
    assert plan.optimize() == lowered
    with pytest.raises(NotImplementedError, match="Logical has no _layer"):
        plan.__shoal_graph__()


def test_walk_visits_shared_nodes_once_and_graph_has_every_layer():
    src = Source([1, 2, 3])
    plan = Add(Add(src, src), Add(src, 1))
    names = [n._name for n in plan.walk()]
    assert len(names) == len(set(names)) == 4
    assert names[0] == plan._name
    graph = plan.__shoal_graph__()
    assert set(graph) == set(names)
    assert get_sync(graph, plan._name) == [4, 7, 10]
    assert [n._name for n in plan.find_operations(Source)] == [src._name]


def test_explain_text_is_a_tree():
    plan = Add(Select(Source([1, 2]), [0]), 5)
    assert plan.explain_text() == ("Add: right=5\n  Select: columns=[0]\n    Source: values=[1, 2]")
    long = Source(list(range(100)))
    assert len(long.explain_text()) < 100 and "..." in long.explain_text()


def test_deep_trees_do_not_hit_the_recursion_limit():
    """A loop of 3,000 chained operations: simplify, lower and explain walk
    iteratively."""
    plan = Source([0])
    for i in range(3_000):
        plan = Add(plan, i + 1)
    assert plan.simplify()._name == plan._name
    assert plan.lower()._name == plan._name
    assert plan.explain_text().count("\n") == 3_000
    assert get_sync(plan.__shoal_graph__(), plan._name) == [sum(range(3_001))]
    wrapped = Source([5])
    for _ in range(3_000):
        wrapped = Logical(wrapped)
    lowered = wrapped.lower()
    assert get_sync(lowered.__shoal_graph__(), lowered._name) == [3_005]
    zeros = Source([5])
    for _ in range(3_000):
        zeros = Add(zeros, 0)
    assert zeros.simplify() == Source([5])


class Shift(Expr):
    """Adds one to every value; lets a projection pass below it."""

    frame: Expr

    def _simplify_up(self, parent, dependents):
        if isinstance(parent, Select):
            return Shift(Select(self.frame, parent.columns))
        return None

    def _layer(self):
        return {self._name: Task(_add_lists, Ref(self.frame._name), 1)}


def test_a_pushdown_travels_all_the_way_in_one_pass():
    """Select(Shift(Shift(...(source)))) -> Shift(Shift(...(PushSelectIntoSource)))"""
    plan = PushSelectIntoSource([10, 20, 30])
    for _ in range(300):
        plan = Shift(plan)
    plan = Select(plan, [2, 0])
    simple = plan.simplify(max_passes=3)
    bottom = simple
    for _ in range(300):
        assert isinstance(bottom, Shift)
        bottom = bottom.frame
    assert bottom == PushSelectIntoSource([10, 20, 30], [2, 0])
    expected = [330, 310]
    assert get_sync(simple.__shoal_graph__(), simple._name) == expected
    assert get_sync(plan.__shoal_graph__(), plan._name) == expected


class Concat(Expr):
    """Children inside a list operand: walk, simplify, lower and the graph see them."""

    parts: list | tuple
    label: str | None

    def _layer(self):
        return {self._name: Task(_concat_lists, [Ref(p._name) for p in self.parts])}


def _concat_lists(lists):
    return [x for part in lists for x in part]


def test_expressions_inside_list_operands_are_children():
    src = PushSelectIntoSource([10, 20, 30])
    plain = Source([1, 2])
    expr = Concat([Select(src, [2, 0]), Logical(plain), plain], "tag")
    assert {type(c).__name__ for c in expr.dependencies()} == {"Select", "Logical", "Source"}
    assert {type(n).__name__ for n in expr.walk()} == {
        "Concat",
        "Select",
        "Logical",
        "PushSelectIntoSource",
        "Source",
    }
    simplified = expr.simplify()
    assert type(simplified.parts[0]) is PushSelectIntoSource  # pushed down inside the list
    assert type(simplified.parts) is list and simplified.label == "tag"
    lowered = simplified.lower()
    assert type(lowered.parts[1]) is Add  # the nested Logical was lowered
    assert get_sync(lowered.__shoal_graph__(), lowered._name) == [30, 10, 2, 3, 1, 2]
    assert expr.simplify().lower()._name == lowered._name  # deterministic


def test_unchanged_list_operands_keep_the_same_node():
    expr = Concat((Source([1]), Source([2])), None)
    assert expr.simplify() is expr and expr.lower() is expr


# ------------------------------------------------------------- the field model


class Base(Expr):
    first: int
    second: str = "b"
    kind: ClassVar[str] = "setting"  # a class setting, not an operand
    _private: int = 0  # never an operand


class Derived(Base):
    third: tuple = ()
    second: str = "override"  # keeps its place, changes its default


def test_fields_are_declared_typed_and_inherited_in_order():
    assert Base._fields == ("first", "second")
    assert Derived._fields == ("first", "second", "third")
    d = Derived(1, third=(2,))
    assert d.operands == (1, "override", (2,))
    assert (d.first, d.second, d.third) == (1, "override", (2,))
    assert Derived(1)._name != Derived(1, third=(3,))._name
    assert d.replace_operands(first=5).operands == (5, "override", (2,))
    with pytest.raises(TypeError, match="has no operands"):
        d.replace_operands(fourth=1)
    with pytest.raises(TypeError, match="missing operand 'first'"):
        Base()
    with pytest.raises(TypeError, match="unknown operands"):
        Base(1, kind="x")


def test_nodes_are_immutable_and_pickle_by_operands():
    node = Derived(1, "s", (Source([1]),))
    with pytest.raises(AttributeError, match="immutable"):
        node.first = 2
    back = pickle.loads(pickle.dumps(node))
    assert back == node and back.third[0] == Source([1])


class Depth(Expr):
    """Counts its depth; ``_eager`` computes it at construction."""

    child: Any = None
    _eager: ClassVar[tuple] = ("depth",)

    @property
    def depth(self):
        cached = self.__dict__.get("_depth")
        if cached is None:
            cached = self.__dict__["_depth"] = 0 if self.child is None else self.child.depth + 1
        return cached


def test_eager_attributes_never_recurse_over_a_deep_plan():
    node = Depth()
    for _ in range(50_000):  # far past the recursion limit
        node = Depth(node)
    assert node.depth == 50_000


class Node(Expr):
    children: tuple = ()
    tag: int = 0


def chain(n: int) -> Node:
    node = Node((), 0)
    for i in range(1, n):
        node = Node((node,), i)
    return node


def test_traversals_are_iterative_on_100k_deep_plans():
    deep = chain(100_000)
    assert sum(1 for _ in deep.walk()) == 100_000
    post = deep.postorder()
    assert post[0].tag == 0 and post[-1].tag == 99_999
    users = deep.users()
    assert [u.tag for u in users[post[0]._name]] == [1]
    doubled = deep.transform(lambda n: n.replace_operands(tag=n.tag * 2))
    assert [n.tag for n in doubled.postorder()][:3] == [0, 2, 4]
    bottom = post[0]
    swapped = deep.replace({bottom._name: Node((), -1)})
    assert swapped.postorder()[0].tag == -1 and swapped.tag == 99_999
    assert deep.explain_text().count("\n") == 99_999


def test_postorder_users_transform_and_replace_on_shared_nodes():
    """
         top
        /   \\
       a     b        leaf is shared: visited, transformed and replaced once
        \\   /
         leaf
    """
    leaf = Node((), 1)
    a, b = Node((leaf,), 2), Node((leaf,), 3)
    top = Node((a, b), 4)
    assert [n.tag for n in top.postorder()] == [1, 2, 3, 4]
    assert sorted(u.tag for u in top.users()[leaf._name]) == [2, 3]
    seen = []
    top.transform(lambda n: seen.append(n.tag))
    assert seen == [1, 2, 3, 4]
    new = top.replace({leaf._name: Node((), 9)})
    assert [n.tag for n in new.postorder()] == [9, 2, 3, 4]
    assert top.replace({top._name: leaf}) is leaf
    # a shared node above the replaced one: top -> (a2, b2) -> mid -> leaf
    mid = Node((leaf,), 5)
    diamond = Node((Node((mid,), 6), Node((mid,), 7)), 8)
    swapped = diamond.replace({leaf._name: Node((), 9)})
    assert sorted(n.tag for n in swapped.walk()) == [5, 6, 7, 8, 9]
    assert top.explain_text() == (
        "Node: tag=4\n  Node: tag=2\n    Node: tag=1\n  Node: tag=3\n    (shared: Node)"
    )
