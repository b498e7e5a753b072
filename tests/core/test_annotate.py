"""shoal.annotate: annotations reach the tasks of every collection, survive
rewrites, fusion and pickling, and never change results."""

import operator
import pickle
import threading

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.array as sa
import shoal.bag as sb
import shoal.dataframe as sd
from shoal.core.annotate import (
    current_annotations,
    merge_annotations,
    normalize_annotations,
)
from shoal.core.task import Fused, Task


def task_annotations(coll):
    graph = coll.__shoal_graph__()
    return [n.annotations for n in graph.values() if type(n) in (Task, Fused)]


def test_nesting_and_context_isolation():
    seen = []
    with shoal.annotate(priority=1, resources={"GPU": 1}):
        with shoal.annotate(priority=2, retries=1):
            assert current_annotations() == {"priority": 2, "resources": {"GPU": 1.0}, "retries": 1}
            t = threading.Thread(target=lambda: seen.append(current_annotations()))
            t.start()
            t.join()
        assert current_annotations() == {"priority": 1, "resources": {"GPU": 1.0}}
    assert current_annotations() is None
    assert seen == [None]  # another thread has its own context


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ({"prio": 1}, TypeError, "unknown annotation 'prio'"),
        ({"priority": 1.5}, TypeError, "priority must be an int"),
        ({"retries": -1}, ValueError, "retries must be >= 0"),
        ({"workers": []}, TypeError, "workers must be"),
        ({"workers": [3]}, TypeError, "workers must be"),
        ({"allow_other_workers": 1}, TypeError, "True or False"),
        ({"resources": {"GPU": 0}}, ValueError, "positive"),
        ({"resources": ["GPU"]}, TypeError, "dict of name"),
        ({"concurrency": {"s3": 1.5}}, ValueError, "whole number"),
    ],
)
def test_bad_annotations_raise_before_anything_runs(bad, error, match):
    with pytest.raises(error, match=match):
        normalize_annotations(bad)
    with pytest.raises(error, match=match):
        with shoal.annotate(**bad):
            pass


def test_merge_for_fused_tasks():
    a = {"priority": 1, "retries": 3, "workers": ("a", "b"), "concurrency": {"s3": 4}}
    b = {
        "priority": 2,
        "workers": ("b",),
        "concurrency": {"s3": 2, "gcs": 1},
        "resources": {"X": 1.0},
    }
    assert merge_annotations(a, b) == {
        "priority": 2,
        "retries": 3,
        "workers": ("b",),
        "concurrency": {"s3": 2, "gcs": 1},
        "resources": {"X": 1.0},
    }
    assert merge_annotations(None, b) is b and merge_annotations(a, None) is a
    # disjoint worker lists: the task may run on either
    assert merge_annotations({"workers": ("a",)}, {"workers": ("c",)}) == {"workers": ("a", "c")}


@pytest.mark.parametrize("chunks", [(2, 3), (1, 1), (5, 7)])
def test_array_tasks_carry_annotations_through_fusion(chunks):
    x_np = np.arange(35.0).reshape(5, 7)
    with shoal.annotate(priority=4, retries=1):
        x = sa.from_array(x_np, chunks=chunks)
    y = (x + 1).sum(axis=0)  # built outside: unannotated, fused with x's blocks
    anns = task_annotations(y)
    assert any(a and a.get("priority") == 4 for a in anns)
    np.testing.assert_array_equal(y.compute(scheduler="threads"), (x_np + 1).sum(axis=0))


def test_unannotated_collections_have_no_annotations():
    x = sa.ones((4, 4), chunks=2) + 1
    assert all(a is None for a in task_annotations(x))


@pytest.mark.parametrize("npartitions", [1, 3])
def test_dataframe_annotations_survive_simplify_and_pickle(npartitions):
    pdf = pd.DataFrame({"a": range(10), "b": list("abcdefghij")})
    with shoal.annotate(concurrency={"db": 2}):
        df = sd.from_pandas(pdf, npartitions=npartitions)
        sel = df[df.a > 3]
    proj = sel.b  # projection pushed into the annotated nodes
    anns = task_annotations(proj)
    assert anns and all(a == {"concurrency": {"db": 2}} for a in anns)
    expr = pickle.loads(pickle.dumps(sel.expr))
    assert expr._annotations == {"concurrency": {"db": 2}}
    assert proj.compute(scheduler="threads").tolist() == list("efghij")


def test_bag_and_delayed_annotations():
    with shoal.annotate(retries=2):
        b = sb.from_sequence(range(6), npartitions=3).map(operator.neg)
        d = shoal.delayed(operator.add)(1, 2)
    assert all(a and a.get("retries") == 2 for a in task_annotations(b))
    assert task_annotations(d) == [{"retries": 2}]
    assert sorted(b.compute(scheduler="sync")) == [-5, -4, -3, -2, -1, 0]
    assert d.compute() == 3
