"""In-memory and custom sources: ``from_pandas``, ``from_dict``,
``from_delayed``, ``from_map``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import pandas as pd

from shoal.core.build import GraphBuilder
from shoal.core.delayed import Delayed
from shoal.core.task import Ref, Task
from shoal.core.utils import funcname
from shoal.dataframe.collection import FrameBase, new_collection
from shoal.dataframe.expr import FrameExpr, FromPandas
from shoal.dataframe.meta import make_meta

__all__ = ["from_pandas", "from_dict", "from_delayed", "from_map"]


def _sorted_bounds(index: pd.Index, npartitions: int) -> list[int]:
    """Positional cut points that never split equal index values."""
    n = len(index)
    bounds = [0]
    for k in range(1, npartitions):
        pos = max(round(n * k / npartitions), bounds[-1])
        if pos >= n:
            break
        pos = int(index.searchsorted(index[pos], side="left"))
        if pos > bounds[-1]:
            bounds.append(pos)
    bounds.append(n)
    return bounds


def from_pandas(
    data: pd.DataFrame | pd.Series,
    npartitions: int | None = None,
    chunksize: int | None = None,
    sort: bool = True,
) -> FrameBase:
    """Split a pandas DataFrame or Series into partitions.

    With ``sort=True`` (default) the data is sorted by index and divisions
    are known (equal index values never straddle partitions, so there may be
    fewer partitions than asked); with ``sort=False`` the order is kept and
    divisions are unknown.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": range(6)}), npartitions=3)
    >>> df.divisions
    (0, 2, 4, 5)
    >>> sd.from_pandas(pd.DataFrame({"a": range(6)}), chunksize=4, sort=False).npartitions
    2
    """
    if not isinstance(data, (pd.DataFrame, pd.Series)):
        raise TypeError(
            f"from_pandas expects a pandas DataFrame or Series, got {type(data).__name__}"
        )
    if (npartitions is None) == (chunksize is None):
        raise ValueError("from_pandas needs exactly one of npartitions= or chunksize=")
    n = len(data)
    if chunksize is not None:
        if not isinstance(chunksize, int) or chunksize < 1:
            raise ValueError(f"chunksize must be a positive integer, got {chunksize!r}")
        npartitions = max(1, -(-n // chunksize))
    if not isinstance(npartitions, int) or npartitions < 1:
        raise ValueError(f"npartitions must be a positive integer, got {npartitions!r}")
    if sort:
        if not data.index.is_monotonic_increasing:
            data = data.sort_index()
        if n == 0:
            return new_collection(FromPandas((data,), (None, None)))
        bounds = _sorted_bounds(data.index, min(npartitions, n))
        parts = tuple(data.iloc[a:b] for a, b in zip(bounds, bounds[1:]))
        divisions = tuple(data.index[a] for a in bounds[:-1]) + (data.index[-1],)
        return new_collection(FromPandas(parts, divisions))
    npartitions = min(npartitions, max(n, 1))
    return new_collection(FromPandas.of(data, npartitions))


def from_dict(
    data: dict,
    npartitions: int,
    orient: str = "columns",
    dtype=None,
    columns=None,
    sort: bool = True,
) -> FrameBase:
    """``from_pandas(pd.DataFrame.from_dict(data, ...), npartitions)``.

    >>> import shoal.dataframe as sd
    >>> sd.from_dict({"a": [1, 2, 3]}, npartitions=2).a.sum().compute()
    np.int64(6)
    """
    frame = pd.DataFrame.from_dict(data, orient=orient, dtype=dtype, columns=columns)
    return from_pandas(frame, npartitions=npartitions, sort=sort)


def _check_meta(part, meta, label, i):
    """Raise if a computed partition does not match the declared meta."""
    if type(part) is not type(meta):
        raise TypeError(
            f"{label}: partition {i} is a {type(part).__name__}, expected {type(meta).__name__}"
        )
    if isinstance(meta, pd.DataFrame):
        if list(part.columns) != list(meta.columns):
            raise ValueError(
                f"{label}: partition {i} has columns {list(part.columns)}, "
                f"expected {list(meta.columns)}"
            )
        bad = [
            f"{c}: {part[c].dtype} (expected {meta[c].dtype})"
            for c in meta.columns
            if part[c].dtype != meta[c].dtype
        ]
        if bad:
            raise ValueError(
                f"{label}: partition {i} has mismatched dtypes: "
                + "; ".join(bad)
                + ". Pass meta= with the right dtypes or cast the data."
            )
    elif isinstance(meta, pd.Series) and part.dtype != meta.dtype:
        raise ValueError(f"{label}: partition {i} has dtype {part.dtype}, expected {meta.dtype}")
    return part


class FromDelayed(FrameExpr):
    """Partitions computed by ``Delayed`` objects (their graphs join the
    graph; with ``verify`` each partition is checked against meta)."""

    values: tuple
    meta: Any
    divisions_: tuple
    verify: bool

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("npartitions",)

    @functools.cached_property
    def _meta(self):
        return self.meta

    @functools.cached_property
    def divisions(self):
        return tuple(self.divisions_)

    def _extra_layer(self, b: GraphBuilder) -> dict:
        layer: dict = {}
        for d in self.values:
            layer.update(d.__shoal_graph__())
        return layer

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        i = index[0]
        key = self.values[i].key
        if self.verify:
            return Task(_check_meta, Ref(key), self.meta, "from_delayed", i)
        return Ref(key)


def from_delayed(
    dfs: Iterable[Delayed], meta=None, divisions=None, verify_meta: bool = True
) -> FrameBase:
    """One partition per ``Delayed`` pandas object.

    Without ``meta`` the first object is computed to learn the types.

    >>> import shoal, shoal.dataframe as sd
    >>> parts = [shoal.delayed(pd.DataFrame)({"a": [i]}) for i in range(3)]
    >>> sd.from_delayed(parts, meta={"a": "int64"}).a.sum().compute()
    np.int64(3)
    """
    values = list(dfs)
    if not values:
        raise ValueError("from_delayed needs at least one Delayed object")
    bad = [type(v).__name__ for v in values if not isinstance(v, Delayed)]
    if bad:
        raise TypeError(f"from_delayed expects Delayed objects, got {bad[0]}")
    meta = make_meta(values[0].compute() if meta is None else meta)
    if divisions is None:
        divisions = (None,) * (len(values) + 1)
    elif len(divisions) != len(values) + 1:
        raise ValueError(
            f"divisions has {len(divisions)} entries; expected "
            f"{len(values) + 1} for {len(values)} partitions"
        )
    return new_collection(FromDelayed(tuple(values), meta, tuple(divisions), verify_meta))


class FromMap(FrameExpr):
    """``func(item, *args, **kwargs)`` for every item: one partition each
    (fusable, like a reader)."""

    func: Callable
    items: tuple
    args: tuple
    kwargs: dict
    meta: Any
    divisions_: tuple
    label: str

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("label",)

    @property
    def _prefix(self):
        return self.label

    @functools.cached_property
    def _meta(self):
        return self.meta

    @functools.cached_property
    def divisions(self):
        return tuple(self.divisions_)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        i = index[0]
        return Task(
            _check_meta,
            Task(self.func, self.items[i], *self.args, **self.kwargs),
            self.meta,
            self.label,
            i,
        )


def from_map(
    func: Callable,
    iterable: Iterable,
    args: tuple = (),
    meta=None,
    divisions=None,
    label: str | None = None,
    **kwargs: Any,
) -> FrameBase:
    """One partition per item: ``func(item, *args, **kwargs)``.

    Without ``meta`` the function is called on the first item to learn the
    types. Each partition is checked against ``meta``.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_map(lambda i: pd.DataFrame({"a": [i] * i}), [1, 2, 3], meta={"a": "int64"})
    >>> len(df)
    6
    """
    items = tuple(iterable)
    if not items:
        raise ValueError("from_map needs at least one item")
    if meta is None:
        meta = func(items[0], *args, **kwargs)
    meta = make_meta(meta)
    divisions = tuple(divisions) if divisions is not None else (None,) * (len(items) + 1)
    if len(divisions) != len(items) + 1:
        raise ValueError(f"divisions has {len(divisions)} entries; expected {len(items) + 1}")
    return new_collection(
        FromMap(func, items, tuple(args), kwargs, meta, divisions, label or funcname(func))
    )
