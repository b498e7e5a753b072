"""core/tree.py: the one tree reduction, checked against plain Python."""

import itertools
import math
from typing import Any

import pytest

import shoal
from shoal.core.build import BlockExpr
from shoal.core.local import get_sync, get_threads
from shoal.core.tree import (
    TreeReduce,
    axis_factors,
    reduction_rounds,
    round_group,
    split_every_of,
)


class Parts(BlockExpr):
    values: tuple
    numblocks = property(lambda self: (len(self.values),))

    def _block(self, index, b):
        return self.values[index[0]]


def _flatten(nested: Any) -> list:
    if isinstance(nested, tuple):
        return [nested]
    return [i for n in nested for i in _flatten(n)]


@pytest.mark.parametrize("collection", ["array", "dataframe", "bag"])
def test_split_every_comes_from_each_collections_config_key(collection):
    assert split_every_of(None, collection) == 8
    with shoal.config.set({f"{collection}.split-every": 3}):
        assert split_every_of(None, collection) == 3
        assert split_every_of(5, collection) == 5
    with shoal.config.set({f"{collection}.split-every": 1}):
        with pytest.raises(ValueError, match="split_every must be an integer >= 2, got 1"):
            split_every_of(None, collection)


@pytest.mark.parametrize("bad", [0, 1, -3, True, 2.5, "8", [4]])
def test_bad_split_every_is_rejected_the_same_way_everywhere(bad):
    for collection in ("array", "dataframe", "bag"):
        with pytest.raises(ValueError, match="split_every must be an integer >= 2"):
            split_every_of(bad, collection)


def test_split_every_per_axis_only_for_reduced_axes():
    assert split_every_of({0: 4}, "array", axes=(0, 1)) == {0: 4}
    with pytest.raises(ValueError, match="not reduced"):
        split_every_of({2: 4}, "array", axes=(0, 1))
    with pytest.raises(ValueError, match=r"split_every\[0\] must be an integer >= 2"):
        split_every_of({0: 1}, "array", axes=(0,))
    with pytest.raises(TypeError, match="got a dict"):
        split_every_of({0: 4}, "bag")


@pytest.mark.parametrize("numblocks", [(1,), (7,), (8,), (9,), (3, 5), (10, 1, 4)])
@pytest.mark.parametrize("split_every", [2, 3, 8, {0: 2}])
def test_every_block_is_in_exactly_one_group_per_round(numblocks, split_every):
    axes = tuple(range(len(numblocks)))
    if isinstance(split_every, dict):
        split_every = {a: split_every.get(a, 3) for a in axes}
    factors = axis_factors(numblocks, axes, split_every)
    rounds = reduction_rounds(numblocks, axes, factors)
    assert rounds[0] == numblocks and all(n == 1 for n in rounds[-1])
    for prev, cur in itertools.pairwise(rounds):
        whole = len(rounds) == 2
        groups = [
            _flatten(round_group(prev, index, axes, factors, whole))
            for index in itertools.product(*[range(n) for n in cur])
        ]
        members = [i for g in groups for i in g]
        assert sorted(members) == sorted(itertools.product(*[range(n) for n in prev]))
        for g in groups:
            assert len(g) <= math.prod(factors[a] for a in axes)


def test_round_group_keeps_unreduced_axes_fixed():
    group = round_group((4, 3), (1, 2), (0,), {0: 2}, False)
    assert group == [(2, 2), (3, 2)]


def _merge(parts, scale=1):
    return sum(parts) * scale


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 17, 65])
@pytest.mark.parametrize("split_every", [2, 3, 8])
@pytest.mark.parametrize("get", [get_sync, get_threads])
def test_tree_reduce_matches_python(n, split_every, get):
    tree = TreeReduce(Parts(tuple(range(n))), sum, sum, split_every, label="total")
    graph = tree.__shoal_graph__()
    assert get(graph, (tree._name, 0)) == sum(range(n))
    for key, node in graph.items():  # no task merges more than split_every partials
        if key[0] != tree.parts._name:
            assert len(node.dependencies) <= split_every
    assert all(str(k[0]).startswith("total") for k in graph if k[0] != tree.parts._name)


@pytest.mark.parametrize("n", [1, 5, 12])
@pytest.mark.parametrize("split_out", [1, 2, 3])
def test_tree_reduce_split_out_and_keywords(n, split_out):
    values = tuple(tuple(i * 10 + j for j in range(split_out)) for i in range(n))
    if split_out == 1:
        values = tuple(v[0] for v in values)
    tree = TreeReduce(Parts(values), _merge, _merge, 3, {"scale": 1}, "m", split_out)
    keys = [(tree._name, j) for j in range(split_out)]
    out = get_sync(tree.__shoal_graph__(), keys)
    if split_out == 1:
        assert out == [sum(values)]
    else:
        assert out == [sum(v[j] for v in values) for j in range(split_out)]
    assert "split_out=" in tree.explain_text() or split_out == 1
