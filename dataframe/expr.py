"""Dataframe expressions: the logical plan behind every collection.

A ``FrameExpr`` is a one-dimensional ``BlockExpr`` (``core/build.py``): its
blocks are its partitions, ``numblocks == (npartitions,)``. Operands are
typed fields (``core/expr.py``). Besides its name, a node knows its
``_meta`` (an empty pandas object, see ``meta.py``) and its ``divisions``
(index boundaries; a tuple of ``None`` when unknown), both computed when the
node is built (``_eager``) from its children's, so no attribute is ever
computed recursively over a deep plan.

A node makes the task of partition ``i`` in ``_block((i,), b)``, asking the
graph builder ``b`` for its inputs. Per-partition nodes (``Blockwise``,
readers) are ``fusable`` and take their inputs with ``b.input``: a chain of
them becomes one task per partition, each input's task nested in its user's
(core's fusion rule decides). A scalar input (a reduction's result) is
broadcast to every partition, so it is never one-to-one with them and is
referenced, not nested. Nodes that regroup partitions take their inputs with
``b.ref`` (stored under their own keys), or build their own keys in
``_build_layer``.

The optimizer (``optimize.py``) also asks each node which columns of its
children it reads (``_needed_columns``) to push projections into readers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import pandas as pd

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.expr import Expr
from shoal.core.task import Ref, Task
from shoal.dataframe.meta import emulate, is_frame_like, make_meta, same_meta

__all__ = [
    "FrameExpr",
    "Blockwise",
    "MapPartitions",
    "Projection",
    "Filter",
    "Assign",
    "FromPandas",
    "FromGraph",
    "Partitions",
    "call_method",
    "check_aligned",
    "align",
    "partition_input",
]


class FrameExpr(BlockExpr):
    """Base of dataframe expression nodes (see module docstring).

    >>> import pandas as pd
    >>> e = FromPandas.of(pd.DataFrame({"a": range(4)}), 2)
    >>> e.npartitions, e.numblocks, e.known_divisions, e.columns
    (2, (2,), False, ['a'])
    """

    _eager: ClassVar[tuple[str, ...]] = ("_meta", "divisions", "_leaves")
    _explain_params: ClassVar[tuple[str, ...]] = ()

    @functools.cached_property
    def _meta(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no _meta")

    @functools.cached_property
    def divisions(self) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} has no divisions")

    @functools.cached_property
    def _leaves(self) -> frozenset:
        """Names of the data sources (leaf nodes) this plan reads."""
        children = self.frame_dependencies()
        if not children:
            return frozenset((self._name,))
        if len(children) == 1:
            return children[0]._leaves
        return frozenset().union(*(c._leaves for c in children))

    @property
    def npartitions(self) -> int:
        return len(self.divisions) - 1

    @property
    def numblocks(self) -> tuple:
        return (len(self.divisions) - 1,)

    @property
    def known_divisions(self) -> bool:
        return len(self.divisions) > 0 and self.divisions[0] is not None

    @property
    def columns(self) -> list:
        meta = self._meta
        if isinstance(meta, pd.DataFrame):
            return list(meta.columns)
        return []

    @property
    def is_scalar(self) -> bool:
        return not is_frame_like(self._meta)

    def frame_dependencies(self) -> list:
        return [d for d in self.dependencies() if isinstance(d, FrameExpr)]

    def substitute_operands(self, operands: list | tuple) -> FrameExpr:
        """This node rebuilt on new operands. When only children changed, each
        into one with the same meta and divisions (a rewrite further down), the
        new node keeps this one's meta and divisions instead of inferring them
        again: rebuilding the plan above a rewrite then costs no pandas calls.

        >>> import pandas as pd
        >>> a = FromPandas.of(pd.DataFrame({"x": [1]}), 1)
        >>> b = FromPandas.of(pd.DataFrame({"x": [2]}), 1)
        >>> p = Projection(a, "x")
        >>> p.substitute_operands([b, "x"])._meta is p._meta
        True
        """
        new = object.__new__(type(self))
        if all(_same_operand(x, y) for x, y in zip(self.operands, operands)):
            new.__dict__["_meta"] = self._meta
            new.__dict__["divisions"] = self.divisions
        type(self).__init__(new, *operands)
        return new

    def _needed_columns(self, needed: set | None) -> list[tuple[Expr, set | None]]:
        """``(child, columns it must provide)`` for each frame child; None means all."""
        return [(c, None) for c in self.frame_dependencies()]

    def _explain_args(self) -> str:
        parts = []
        for name in self._explain_params:
            value = getattr(self, name)
            text = value if isinstance(value, str) and name == "label" else repr(value)
            if len(text) > 60:
                text = text[:57] + "..."
            parts.append(text if name == "label" else f"{name}={text}")
        return ", ".join(parts)


def _same_operand(old: Any, new: Any) -> bool:
    """``new`` stands where ``old`` stood with the same meta and divisions."""
    if old is new:
        return True
    if isinstance(old, FrameExpr):
        return (
            isinstance(new, FrameExpr)
            and old.divisions == new.divisions
            and same_meta(old._meta, new._meta)
        )
    if type(old) in (tuple, list) and type(new) is type(old) and len(old) == len(new):
        return all(_same_operand(x, y) for x, y in zip(old, new))
    return False


def partition_input(parent: FrameExpr, arg: Any, i: int, b: GraphBuilder) -> Any:
    """What ``parent`` passes to its task of partition ``i`` for operand
    ``arg``: partition ``i`` of a frame, the single block of a scalar (it is
    broadcast), or ``arg`` itself when it is no expression."""
    if not isinstance(arg, FrameExpr):
        return arg
    return b.input(parent, arg, (0 if arg.is_scalar else i,))


def align(*args: Any) -> list:
    """The arguments with frame expressions re-cut to common divisions when
    they all have known but different divisions (others are unchanged).

    >>> import pandas as pd
    >>> a = FromPandas((pd.DataFrame({"x": range(4)}),), (0, 3))
    >>> b = FromPandas((pd.DataFrame({"x": range(2, 6)}, index=range(2, 6)),), (2, 5))
    >>> [e.divisions for e in align(a, b)]
    [(0, 2, 3, 5), (0, 2, 3, 5)]
    """
    frames = [a for a in args if isinstance(a, FrameExpr) and not a.is_scalar]
    if len(frames) < 2 or not all(f.known_divisions for f in frames):
        return list(args)
    if len({f.divisions for f in frames}) == 1:
        return list(args)
    from shoal.dataframe.repartition import repartition_divisions

    try:
        union = tuple(sorted(set().union(*(f.divisions for f in frames))))
    except TypeError:
        return list(args)
    return [
        repartition_divisions(a, union) if isinstance(a, FrameExpr) and not a.is_scalar else a
        for a in args
    ]


def check_aligned(*exprs: Any, what: str = "operation") -> None:
    """Raise unless all frame-like expressions have matching partitions.

    >>> import pandas as pd
    >>> a = FromPandas.of(pd.DataFrame({"x": range(4)}), 2)
    >>> check_aligned(a, a)
    """
    frames = [e for e in exprs if isinstance(e, FrameExpr) and not e.is_scalar]
    if len(frames) < 2:
        return
    first = frames[0]
    for other in frames[1:]:
        if other.npartitions != first.npartitions:
            raise ValueError(
                f"{what}: the inputs have {first.npartitions} and {other.npartitions} "
                "partitions; partition-wise operations need the same partitioning "
                "(repartition one of them, e.g. b.repartition(npartitions=a.npartitions), "
                "or build both from the same source)"
            )
        if first.known_divisions and other.known_divisions and first.divisions != other.divisions:
            raise ValueError(
                f"{what}: the inputs have different divisions {first.divisions} and "
                f"{other.divisions}; align them first (shoal.dataframe.expr.align)"
            )
        if first.known_divisions != other.known_divisions and other.npartitions > 1:
            raise ValueError(
                f"{what}: one input has known divisions and the other unknown ones; "
                "cannot tell whether their partitions line up"
            )
        if (
            not first.known_divisions
            and first.npartitions > 1
            and not first._leaves & other._leaves
        ):
            raise ValueError(
                f"{what}: the inputs have unknown divisions and come from different sources, "
                "so their partitions need not hold the same rows; give them known divisions "
                "(from_pandas(sort=True), read_parquet(index=..., calculate_divisions=True)) "
                "or derive both from one collection"
            )


# ------------------------------------------------------------------ leaves


class FromPandas(FrameExpr):
    """Partitions given as in-memory pandas objects, stored in the graph as
    data (one key each; users refer to them rather than copy them).

    >>> import pandas as pd
    >>> from shoal.core.local import get_sync
    >>> e = FromPandas.of(pd.DataFrame({"a": range(5)}), 2)
    >>> get_sync(e.__shoal_graph__(), (e._name, 1)).a.tolist()
    [2, 3, 4]
    """

    parts: tuple
    divisions_: tuple
    label: str = "from-pandas"

    _explain_params: ClassVar[tuple[str, ...]] = ("npartitions",)

    @classmethod
    def of(cls, data: Any, npartitions: int = 1) -> FromPandas:
        """Split ``data`` positionally into ``npartitions`` (unknown divisions)."""
        n = len(data)
        bounds = [round(n * k / npartitions) for k in range(npartitions + 1)]
        parts = tuple(data.iloc[bounds[k] : bounds[k + 1]] for k in range(npartitions))
        return cls(parts, (None,) * (npartitions + 1))

    @property
    def _prefix(self) -> str:
        return self.label

    @functools.cached_property
    def _meta(self) -> Any:
        return make_meta(self.parts[0])

    @functools.cached_property
    def divisions(self) -> tuple:
        return tuple(self.divisions_)

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        return self.parts[index[0]]

    def _known_length(self) -> int:
        return sum(len(p) for p in self.parts)


class FromGraph(FrameExpr):
    """Partitions already held under existing keys of a graph (after
    persist): users refer to those keys directly.

    >>> import pandas as pd
    >>> e = FromGraph({"k": pd.Series([1])}, ("k",), pd.Series([], dtype="int64"), (None, None), "t")
    >>> e.__shoal_graph__()[(e._name, 0)]
    Ref('k')
    """

    graph: Any
    keys: tuple
    meta: Any
    divisions_: tuple
    source: str

    cost: ClassVar[str] = "free"
    _explain_params: ClassVar[tuple[str, ...]] = ("npartitions",)

    @property
    def _prefix(self) -> str:
        return "from-graph"

    @functools.cached_property
    def _name(self) -> str:
        return f"from-graph-{self.source}"  # the graph is large: named by its source

    @functools.cached_property
    def _meta(self) -> Any:
        return self.meta

    @functools.cached_property
    def divisions(self) -> tuple:
        return tuple(self.divisions_)

    def _block(self, index: tuple, b: GraphBuilder) -> Ref:
        return Ref(self.keys[index[0]])

    def _extra_layer(self, b: GraphBuilder) -> Any:
        return self.graph


class Partitions(FrameExpr):
    """A subset of another expression's partitions, in the given order.

    >>> import pandas as pd
    >>> from shoal.dataframe.io import from_pandas
    >>> df = from_pandas(pd.DataFrame({"a": range(6)}), npartitions=3)
    >>> Partitions(df.expr, (1, 2)).divisions
    (2, 4, 5)
    """

    frame: FrameExpr
    indices: tuple

    fusable: ClassVar[bool] = True
    _explain_params: ClassVar[tuple[str, ...]] = ("indices",)

    @functools.cached_property
    def _meta(self) -> Any:
        return self.frame._meta

    @functools.cached_property
    def divisions(self) -> tuple:
        d = self.frame.divisions
        idx = self.indices
        if self.frame.known_divisions and all(b == a + 1 for a, b in zip(idx, idx[1:])):
            return tuple(d[idx[0] : idx[-1] + 2])
        return (None,) * (len(idx) + 1)

    def _one_to_one(self, child: BlockExpr) -> bool:
        return len(set(self.indices)) == len(self.indices)

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        return b.input(self, self.frame, (self.indices[index[0]],))

    def _needed_columns(self, needed):
        return [(self.frame, needed)]


# --------------------------------------------------------------- blockwise


class Blockwise(FrameExpr):
    """A node computing each output partition from the same-numbered input
    partitions (scalars broadcast): ``operation(*_args(), **_kwargs())``
    with frame arguments replaced by their partitions. Fusable: a chain of
    them runs as one task per partition.

    >>> import pandas as pd
    >>> e = FromPandas.of(pd.DataFrame({"a": [1, 2]}), 2)
    >>> isinstance(Projection(e, "a"), Blockwise), Projection(e, "a").npartitions
    (True, 2)
    """

    operation: ClassVar[Any] = None
    fusable: ClassVar[bool] = True
    _nonempty_meta: ClassVar[bool] = False

    def _args(self) -> list:
        raise NotImplementedError(f"{type(self).__name__} has no _args()")

    def _kwargs(self) -> dict:
        return {}

    def _frame_args(self) -> list:
        return [a for a in self._args() if isinstance(a, FrameExpr) and not a.is_scalar]

    @functools.cached_property
    def divisions(self) -> tuple:
        frames = self._frame_args()
        if not frames:
            return (None, None)
        return frames[0].divisions

    @functools.cached_property
    def _meta(self) -> Any:
        metas = [a._meta if isinstance(a, FrameExpr) else a for a in self._args()]
        return emulate(
            self.operation,
            *metas,
            fname=self._label(),
            nonempty=self._nonempty_meta,
            **self._kwargs(),
        )

    def _label(self) -> str:
        return self._prefix

    def _one_to_one(self, child: BlockExpr) -> bool:
        # a scalar feeds every partition: one-to-one only with a single partition
        return not (isinstance(child, FrameExpr) and child.is_scalar) or self.npartitions == 1

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        i = index[0]
        args = [partition_input(self, a, i, b) for a in self._args()]
        return Task(self.operation, *args, **self._kwargs())


def call_method(obj: Any, *args: Any, _method: str, **kwargs: Any) -> Any:
    """``getattr(obj, _method)(*args, **kwargs)``: a picklable method call.

    >>> call_method([3, 1, 2], 1, _method="index")
    1
    """
    return getattr(obj, _method)(*args, **kwargs)


class MapPartitions(Blockwise):
    """``func(*partition_args, **kwargs)`` on each partition.

    ``meta`` skips inference when given; ``nonempty`` infers on fake rows;
    ``passthrough`` says the op maps columns one to one, so a projection of
    the output can be pushed to the first input (a dict maps output names
    to input names, for renames).

    >>> import pandas as pd
    >>> e = map_partitions_expr(len, FromPandas.of(pd.DataFrame({"a": [1]}), 1), meta=0)
    >>> e.label, e._meta
    ('len', 0)
    """

    func: Callable
    kwargs: dict
    meta: Any
    label: str
    nonempty: bool
    passthrough: Any
    args: tuple

    @property
    def operation(self) -> Callable:  # type: ignore[override]
        return self.func

    @property
    def _prefix(self) -> str:
        return self.label

    def _label(self) -> str:
        return self.label

    def _args(self) -> list:
        return list(self.args)

    def _kwargs(self) -> dict:
        return self.kwargs

    @functools.cached_property
    def _meta(self) -> Any:
        if self.meta is not None:
            return self.meta
        metas = [a._meta if isinstance(a, FrameExpr) else a for a in self.args]
        return emulate(self.func, *metas, fname=self.label, nonempty=self.nonempty, **self.kwargs)

    def _needed_columns(self, needed):
        out = []
        renamed = self.passthrough
        for k, a in enumerate(self.frame_dependencies()):
            cols = needed if (k == 0 and renamed) else None
            if cols is not None and isinstance(renamed, dict):
                cols = {renamed.get(c, c) for c in cols}
            out.append((a, cols))
        return out

    def _explain_args(self) -> str:
        return self.label

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        if self.func is not apply_and_rename:
            return super()._block(index, b)
        i = index[0]  # the checked call's errors name the partition
        args = [partition_input(self, a, i, b) for a in self.args]
        return Task(apply_and_rename, *args, **self.kwargs, _partition=i)


def apply_and_rename(*args, _func, _meta, _partition=None, **kwargs):
    """Call ``_func`` and check the result against the declared meta: a
    Series takes the meta's name; a DataFrame must have the meta's columns
    (in another order they are put in the meta's), else the error names the
    partition and the columns that differ. A result without rows whose
    columns differ (a function that skips empty input) becomes the meta.

    >>> meta = pd.DataFrame({"a": [1]}).iloc[:0]
    >>> apply_and_rename(pd.DataFrame({"b": [1]}), _func=lambda df: df, _meta=meta, _partition=3)
    Traceback (most recent call last):
    ...
    ValueError: partition 3: the result has columns ['b'], but meta declares ['a'] (missing ['a'], unexpected ['b']); pass meta= matching what the function returns
    """
    out = _func(*args, **kwargs)
    if isinstance(_meta, pd.Series) and isinstance(out, pd.Series):
        if out.name != _meta.name:
            out = out.rename(_meta.name)
        if not len(out) and out.dtype != _meta.dtype:  # pandas guesses empty results' dtypes
            out = out.astype(_meta.dtype)
    elif isinstance(_meta, pd.DataFrame) and isinstance(out, pd.DataFrame):
        if list(out.columns) == list(_meta.columns):
            return out
        if not len(out):
            return _meta.copy()
        if out.columns.is_unique and set(out.columns) == set(_meta.columns):
            return out[list(_meta.columns)]
        got, want = list(out.columns), list(_meta.columns)
        missing = [c for c in want if c not in set(got)]
        extra = [c for c in got if c not in set(want)]
        where = "a partition" if _partition is None else f"partition {_partition}"
        raise ValueError(
            f"{where}: the result has columns {got}, but meta declares {want} "
            f"(missing {missing}, unexpected {extra}); pass meta= matching what the "
            "function returns"
        )
    return out


def map_partitions_expr(
    func, *args, label=None, meta=None, nonempty=False, passthrough=False, enforce=False, **kwargs
) -> MapPartitions:
    """Build a ``MapPartitions`` node (meta None means infer). With
    ``enforce`` the results are renamed to the given meta's name/columns."""
    from shoal.core.utils import funcname

    label = label or funcname(func)
    if enforce and meta is not None:
        kwargs = {"_func": func, "_meta": meta, **kwargs}
        func = apply_and_rename
    return MapPartitions(func, kwargs, meta, label, nonempty, passthrough, args)


def method_expr(frame: FrameExpr, method: str, *args, passthrough=False, **kwargs):
    """A pandas method called on every partition of ``frame``."""
    return MapPartitions(
        call_method,
        {"_method": method, **kwargs},
        None,
        method.replace("_", "-"),
        False,
        passthrough,
        (frame, *args),
    )


def _getitem(obj, key):
    return obj[key]


class Projection(Blockwise):
    """``frame[columns]``: a column (Series) or a list of columns (DataFrame).

    >>> import pandas as pd
    >>> e = FromPandas.of(pd.DataFrame({"a": [1], "b": [2]}), 1)
    >>> list(Projection(e, ["b"])._meta.columns), Projection(e, "a")._meta.name
    (['b'], 'a')
    """

    frame: FrameExpr
    columns_: Any

    operation = staticmethod(_getitem)
    _explain_params: ClassVar[tuple[str, ...]] = ("columns_",)

    def _args(self):
        return [self.frame, self.columns_]

    @functools.cached_property
    def _meta(self):
        return self.frame._meta[self.columns_]

    def _needed_columns(self, needed):
        cols = self.columns_
        return [(self.frame, set(cols) if isinstance(cols, list) else {cols})]

    def _lower(self):
        # select before filtering: the mask then takes only these columns
        # (simplify moves filters the other way, towards the readers)
        if isinstance(self.frame, Filter) and isinstance(self.frame.predicate._meta, pd.Series):
            inner = self.frame
            return Filter(Projection(inner.frame, self.columns_), inner.predicate)
        return None

    def _simplify_down(self):
        cols = self.columns_
        if isinstance(self.frame, Projection) and isinstance(self.frame.columns_, list):
            return Projection(self.frame.frame, cols)
        if (
            isinstance(cols, list)
            and list(self.frame.columns) == cols
            and isinstance(self.frame._meta, pd.DataFrame)
        ):
            return self.frame
        return None


def _filter(df, mask):
    return df[mask]


class Filter(Blockwise):
    """``frame[predicate]`` for a boolean Series/DataFrame partitioned alike.

    >>> import pandas as pd
    >>> from shoal.core.local import get_sync
    >>> e = FromPandas.of(pd.DataFrame({"a": [1, 5]}), 1)
    >>> f = Filter(e, method_expr(Projection(e, "a"), "gt", 2))
    >>> get_sync(f.__shoal_graph__(), (f._name, 0)).a.tolist()
    [5]
    """

    frame: FrameExpr
    predicate: FrameExpr

    operation = staticmethod(_filter)

    def _args(self):
        return [self.frame, self.predicate]

    @functools.cached_property
    def _meta(self):
        return self.frame._meta

    def _needed_columns(self, needed):
        return [(self.frame, needed), (self.predicate, None)]

    def _simplify_down(self):
        # filter rows before selecting columns, so the filter can reach a reader
        if isinstance(self.frame, Projection):
            inner = self.frame
            return Projection(Filter(inner.frame, self.predicate), inner.columns_)
        return None


def _assign(df, *pairs):
    df = df.copy(deep=False)
    for k in range(0, len(pairs), 2):
        value = pairs[k + 1]
        if isinstance(value, pd.Series) and not value.index.equals(df.index):
            value = value.reindex(df.index)  # an empty frame would adopt the value's index
        df[pairs[k]] = value
    return df


class Assign(Blockwise):
    """``frame.assign(name=value, ...)``; ``pairs`` alternates names and
    values (aligned series or scalars).

    >>> import pandas as pd
    >>> e = FromPandas.of(pd.DataFrame({"a": [1]}), 1)
    >>> list(Assign(e, ("b", 2.5))._meta.dtypes.astype(str))
    ['int64', 'float64']
    """

    frame: FrameExpr
    pairs: tuple

    operation = staticmethod(_assign)

    def _args(self):
        return [self.frame, *self.pairs]

    def _explain_args(self):
        return ", ".join(repr(k) for k in self.pairs[::2])

    def _needed_columns(self, needed):
        out = []
        if needed is None:
            out.append((self.frame, None))
        else:
            out.append((self.frame, set(needed) - set(self.pairs[::2])))
            if not set(needed) & set(self.pairs[::2]):
                return out  # no user reads an assigned column: the values go unread
        out += [(v, None) for v in self.pairs[1::2] if isinstance(v, FrameExpr)]
        return out

    def _project_columns(self, needed: set):
        """The frame alone when no user reads an assigned column (pruning)."""
        if needed & set(self.pairs[::2]) or not needed <= set(self.frame.columns):
            return None
        return self.frame

    def _simplify_up(self, parent, dependents):
        if isinstance(parent, Projection) and isinstance(parent.columns_, list | str):
            cols = parent.columns_ if isinstance(parent.columns_, list) else [parent.columns_]
            if not set(cols) & set(self.pairs[::2]) and set(cols) <= set(self.frame.columns):
                return Projection(self.frame, parent.columns_)
        return None
