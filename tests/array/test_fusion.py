"""Fusion and regeneration: what the graph builder inlines (see array/expr.py)."""

import numpy as np

import shoal
import shoal.array as sa
from shoal.core.task import Task
from shoal.core.utils import key_prefix
from shoal.testing import assert_eq


def prefixes(arr):
    return {key_prefix(k) for k in arr.__shoal_graph__()}


def test_elementwise_chain_reduction_is_one_task_per_block():
    rng = sa.random.default_rng(0)
    x = rng.random(1000 * 10, chunks=10)
    y = rng.random(1000 * 10, chunks=10)
    expr = ((x + 1) * 2 - y).sum()
    graph = expr.__shoal_graph__()
    assert x.npartitions == 1000
    partials = [k for k in graph if key_prefix(k) == "sum-partial"]
    assert len(partials) == 1000
    assert len(graph) < 1000 + 200
    assert prefixes(expr) <= {"sum", "sum-partial", "sum-combine1", "sum-combine2", "sum-combine3"}
    np.testing.assert_allclose(float(expr), ((x.compute() + 1) * 2 - y.compute()).sum())


def test_ten_step_chain_builds_one_task_per_block():
    x = sa.from_array(np.arange(100.0), chunks=10)
    y = x
    for i in range(10):
        y = (y + i) * 1.01
    graph = y.__shoal_graph__()
    block_tasks = [k for k in graph if isinstance(k, tuple)]
    assert len(block_tasks) == 10
    expected = np.arange(100.0)
    for i in range(10):
        expected = (expected + i) * 1.01
    assert_eq(y, expected)


def test_random_data_is_generated_inside_the_reduction_task():
    x = sa.random.default_rng(1).standard_normal(1000, chunks=100)
    graph = x.sum().__shoal_graph__()
    assert not any(key_prefix(k) == "standard-normal" for k in graph)
    partial = next(v for k, v in graph.items() if key_prefix(k) == "sum-partial")
    assert isinstance(partial, Task) and isinstance(partial.args[0], Task)


def test_input_used_twice_is_regenerated_not_stored():
    x = sa.random.default_rng(2).random((400, 300), chunks=(100, 100))
    expr = (x - x.mean()).std()
    graph = expr.__shoal_graph__()
    assert not any(key_prefix(k) == "random" for k in graph)
    assert not any(key_prefix(k) == "sub" for k in graph)
    values = x.compute()
    np.testing.assert_allclose(float(expr), (values - values.mean()).std())


def test_cheap_elementwise_over_sources_is_regenerated_too():
    x = sa.random.default_rng(3).random(1000, chunks=100) * 2 + 1
    expr = x - x.mean()
    graph = expr.__shoal_graph__()
    assert not any(key_prefix(k) in ("random", "mul", "add") for k in graph)


def test_ones_and_arange_are_never_stored():
    x = sa.arange(100, chunks=10)
    y = sa.ones(100, chunks=25)
    expr = (x * y).sum() + (x - y.mean()).max()
    assert not prefixes(expr) & {"arange", "ones"}
    assert_eq(expr, (np.arange(100) * 1.0).sum() + (np.arange(100) - 1.0).max())


def test_stored_inputs_used_twice_are_kept_once():
    data = np.arange(40.0)
    x = sa.from_array(data, chunks=10).map_blocks(np.sqrt, dtype=float)
    assert x.expr.cost == "stored"
    expr = x + x.sum()
    graph = expr.__shoal_graph__()
    assert sum(1 for k in graph if key_prefix(k) == "sqrt") == 4
    assert_eq(expr, np.sqrt(data) + np.sqrt(data).sum())


def test_from_array_slices_read_only_the_slice():
    data = np.arange(100.0)
    x = sa.from_array(data, chunks=50)
    graph = x[10:12].__shoal_graph__()
    (task,) = [v for k, v in graph.items() if isinstance(k, tuple)]
    assert task.args[0] == (slice(10, 12, 1),)


def test_deep_chains_stop_inlining_and_still_run():
    x = sa.ones(10, chunks=5)
    for _ in range(120):
        x = x + 1
    assert_eq(x, np.ones(10) + 120)
    assert_eq(x, np.ones(10) + 120)
    shoal.compute(x, scheduler="threads")


def test_slices_and_reshapes_of_random_data_fuse_into_the_reduction():
    x = sa.random.default_rng(4).random((40, 30), chunks=(10, 10))
    expr = x[::2, 5:].reshape((20 * 25,)).sum()
    names = prefixes(expr)
    assert not names & {"random", "basic-slice", "reshape"}
    values = x.compute()
    np.testing.assert_allclose(float(expr), values[::2, 5:].sum())
