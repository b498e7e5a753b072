"""Test helpers shared by every test in shoal (and usable by its users).

``assert_eq(a, b)`` computes shoal collections with the sync scheduler and
compares the values with numpy / pandas / plain-Python oracles. Before
comparing, it checks the collection's metadata against what was computed:
each collection type registers a checker with ``register_checker`` (arrays
check chunks against block shapes and dtype against meta; dataframes check
meta and divisions against the partitions; bags check nothing extra). When
both sides are shoal collections, their graphs are checked for key collisions
(``assert_no_key_collisions``): keys are content hashes, so a key the two
graphs share must name the same task in both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from shoal.core import config
from shoal.core.base import is_collection
from shoal.core.graph import flatten_keys
from shoal.core.local import get_sync
from shoal.core.tokenize import TokenizationError, tokenize

__all__ = ["assert_eq", "assert_no_key_collisions", "register_checker", "compute_checked"]

_checkers: dict[type, Callable[[Any, list], None]] = {}


def register_checker(cls: type) -> Callable:
    """Decorator: ``check(collection, parts)`` validates metadata of ``cls``
    collections against their computed parts (in key order) and raises
    AssertionError on a mismatch."""

    def wrap(func: Callable) -> Callable:
        _checkers[cls] = func
        return func

    return wrap


def compute_checked(obj: Any, check_graph: bool = True) -> Any:
    """Compute a collection with the sync scheduler after checking its graph
    and metadata; plain values are returned unchanged.

    >>> from shoal import delayed
    >>> compute_checked(delayed(1) + 1)
    2
    """
    if not is_collection(obj):
        return obj
    graph = obj.__shoal_graph__()
    keys = obj.__shoal_keys__()
    flat = flatten_keys(keys)
    if check_graph:
        assert len(set(flat)) == len(flat), f"duplicate output keys: {flat}"
        for k in flat:
            assert k in graph, f"output key {k!r} is not in the graph"
    parts = get_sync(graph, keys)
    for cls, check in _checkers.items():
        if isinstance(obj, cls):
            check(obj, parts)
            break
    finalize, extra = obj.__shoal_postcompute__()
    return finalize(parts, *extra)


def _same_task(x: Any, y: Any) -> bool:
    """Whether two nodes are the same computation; True when it cannot be told
    (a node that does not tokenize deterministically), so never a false alarm."""
    if x is y:
        return True
    try:
        with config.set({"tokenize.ensure-deterministic": True}):
            return tokenize(x) == tokenize(y)
    except TokenizationError:
        return True


def assert_no_key_collisions(*collections: Any) -> None:
    """Assert that collections computed together would not mix up their tasks.

    Keys are content hashes, so two graphs may share a key only for the same
    task: a key naming different tasks (say, a name whose token forgot an
    operand) would make ``shoal.compute(a, b)`` hand one collection's blocks to
    the other. The error names the key and both tasks.

    >>> from shoal import delayed
    >>> one = delayed(1, name="one")
    >>> assert_no_key_collisions(one, one + 1)
    >>> assert_no_key_collisions(one, delayed(2, name="one"))
    Traceback (most recent call last):
    AssertionError: key 'one' names different tasks in collections 0 and 1: 1 and 2
    """
    graphs = [c.__shoal_graph__() for c in collections]
    for i, first in enumerate(graphs):
        for j in range(i + 1, len(graphs)):
            second = graphs[j]
            small, large = (first, second) if len(first) <= len(second) else (second, first)
            for key in small:
                if key in large and not _same_task(first[key], second[key]):
                    raise AssertionError(
                        f"key {key!r} names different tasks in collections {i} and {j}: "
                        f"{first[key]!r} and {second[key]!r}"
                    )


def _is_numpy_like(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "numpy"


def _is_pandas_like(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "pandas"


def assert_eq(
    a: Any,
    b: Any,
    check_dtype: bool = True,
    check_names: bool = True,
    check_index: bool = True,
    rtol: float = 1e-7,
    atol: float = 0.0,
    ordered: bool = True,
    **kwargs: Any,
) -> None:
    """Assert that two values (shoal collections or plain ones) are equal.

    ``ordered=False`` compares sequences as multisets (for bags and unordered
    outputs). Floats compare with ``rtol``/``atol``; NaNs equal NaNs.

    >>> from shoal import delayed
    >>> assert_eq(delayed(sum)([1, 2]), 3)
    """
    if is_collection(a) and is_collection(b):
        assert_no_key_collisions(a, b)
    va = compute_checked(a)
    vb = compute_checked(b)
    _compare(
        va,
        vb,
        check_dtype=check_dtype,
        check_names=check_names,
        check_index=check_index,
        rtol=rtol,
        atol=atol,
        ordered=ordered,
        **kwargs,
    )


def _compare(
    a: Any,
    b: Any,
    *,
    check_dtype: bool,
    check_names: bool,
    check_index: bool,
    rtol: float,
    atol: float,
    ordered: bool,
    **kwargs: Any,
) -> None:
    if _is_pandas_like(a) or _is_pandas_like(b):
        import pandas as pd
        import pandas.testing as tm

        if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
            if not check_index:
                a, b = a.reset_index(drop=True), b.reset_index(drop=True)
            tm.assert_frame_equal(
                a,
                b,
                check_dtype=check_dtype,
                check_names=check_names,
                rtol=rtol,
                atol=max(atol, 1e-12),
                **kwargs,
            )
        elif isinstance(a, pd.Series) or isinstance(b, pd.Series):
            if not check_index:
                a, b = a.reset_index(drop=True), b.reset_index(drop=True)
            tm.assert_series_equal(
                a,
                b,
                check_dtype=check_dtype,
                check_names=check_names,
                rtol=rtol,
                atol=max(atol, 1e-12),
                **kwargs,
            )
        elif isinstance(a, pd.Index) or isinstance(b, pd.Index):
            tm.assert_index_equal(a, b, check_names=check_names, exact=check_dtype)
        else:
            assert (a == b) or (pd.isna(a) and pd.isna(b)), f"{a!r} != {b!r}"
        return
    if _is_numpy_like(a) or _is_numpy_like(b):
        import numpy as np

        na, nb = np.asarray(a), np.asarray(b)
        assert na.shape == nb.shape, f"shapes differ: {na.shape} != {nb.shape}"
        if check_dtype and _is_numpy_like(a) and _is_numpy_like(b):
            assert na.dtype == nb.dtype, f"dtypes differ: {na.dtype} != {nb.dtype}"
        if na.dtype.kind in "fc" or nb.dtype.kind in "fc":
            np.testing.assert_allclose(na, nb, rtol=rtol, atol=atol, equal_nan=True)
        else:
            np.testing.assert_array_equal(na, nb)
        return
    opts: dict[str, Any] = dict(
        check_dtype=check_dtype,
        check_names=check_names,
        check_index=check_index,
        rtol=rtol,
        atol=atol,
        ordered=ordered,
    )
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert len(a) == len(b), f"lengths differ: {len(a)} != {len(b)}"
        if not ordered:
            a, b = sorted(a, key=repr), sorted(b, key=repr)
        for x, y in zip(a, b):
            _compare(x, y, **opts)
        return
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"keys differ: {sorted(a, key=repr)} != {sorted(b, key=repr)}"
        for k in a:
            _compare(a[k], b[k], **opts)
        return
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return
        assert math.isclose(a, b, rel_tol=rtol, abs_tol=atol), f"{a!r} != {b!r}"
        return
    assert a == b, f"{a!r} != {b!r}"
