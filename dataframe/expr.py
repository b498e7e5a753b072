"""Dataframe expressions: the logical plan behind every collection.

A ``FrameExpr`` knows its ``_meta`` (empty pandas object, see ``meta.py``),
its ``divisions`` (index boundaries; a tuple of ``None`` when unknown) and
how to make the task of each output partition (``_task(i)``, keys
``(name, i)``). Per-partition operations are ``Blockwise`` nodes; adjacent
ones are fused into one task per partition by ``optimize.fuse_blockwise``.

The optimizer (``optimize.py``) also asks each node which columns of its
children it reads (``_needed_columns``) to push projections into readers.
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd

from shoal.core.expr import Expr
from shoal.core.layers import Layer
from shoal.core.task import Fused, Ref, Task
from shoal.dataframe.meta import emulate, is_frame_like, make_meta

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
    "FusedBlockwise",
    "call_method",
    "check_aligned",
    "align",
]


class FrameExpr(Expr):
    """Base of dataframe expression nodes (see module docstring).

    >>> import pandas as pd
    >>> e = FromPandas.of(pd.DataFrame({"a": range(4)}), 2)
    >>> e.npartitions, e.known_divisions, e.columns
    (2, False, ['a'])
    """

    _explain_params: tuple = ()

    @functools.cached_property
    def _meta(self) -> Any:
        raise NotImplementedError

    @functools.cached_property
    def divisions(self) -> tuple:
        raise NotImplementedError

    @property
    def npartitions(self) -> int:
        return len(self.divisions) - 1

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

    def _task(self, i: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no _task()")

    def _layer(self) -> Layer:
        n = self.npartitions
        return Layer(self._name, (n,), [self._task(i) for i in range(n)])

    def _needed_columns(self, needed: set | None) -> list[tuple[Expr, set | None]]:
        """``(child, columns it must provide)`` for each frame child; None means all."""
        return [(c, None) for c in self.frame_dependencies()]

    def explain_text(self, indent: int = 0, seen: set | None = None) -> str:
        """The tree as text; a subplan used again is printed once, then
        referred to as ``(shared: Name)``."""
        seen = set() if seen is None else seen
        args = self._explain_args()
        head = "  " * indent + self._explain_head() + (f": {args}" if args else "")
        if self._name in seen:
            return "  " * indent + f"(shared: {type(self).__name__})"
        seen.add(self._name)
        lines = [head]
        for child in self.dependencies():
            if isinstance(child, FrameExpr):
                lines.append(child.explain_text(indent + 1, seen))
            else:
                lines.append(child.explain_text(indent + 1))
        return "\n".join(lines)

    def _explain_head(self) -> str:
        return type(self).__name__

    def _explain_args(self) -> str:
        parts = []
        for name in self._explain_params:
            value = getattr(self, name)
            text = value if isinstance(value, str) and name == "label" else repr(value)
            if len(text) > 60:
                text = text[:57] + "..."
            parts.append(text if name == "label" else f"{name}={text}")
        return ", ".join(parts)


def partition_ref(expr: FrameExpr, i: int) -> Ref:
    """The reference to partition ``i`` of ``expr`` (scalars broadcast)."""
    return Ref((expr._name, 0 if expr.is_scalar else i))


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
            and not (_sources(first) & _sources(other))
        ):
            raise ValueError(
                f"{what}: the inputs have unknown divisions and come from different sources, "
                "so their partitions need not hold the same rows; give them known divisions "
                "(from_pandas(sort=True), read_parquet(index=..., calculate_divisions=True)) "
                "or derive both from one collection"
            )


def _sources(expr: FrameExpr) -> set:
    """Names of the leaf nodes (data sources) an expression reads."""
    return {n._name for n in expr.walk() if not n.dependencies()}


# ------------------------------------------------------------------ leaves


class FromPandas(FrameExpr):
    """Partitions given as in-memory pandas objects (one data node each).

    >>> import pandas as pd
    >>> FromPandas.of(pd.DataFrame({"a": range(5)}), 2)._task(1).a.tolist()
    [2, 3, 4]
    """

    _parameters = ["parts", "divisions_", "label"]
    _defaults = {"label": "from-pandas"}
    _explain_params = ("npartitions",)

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

    def _task(self, i: int) -> Any:
        return self.parts[i]

    def _known_length(self) -> int:
        return sum(len(p) for p in self.parts)


class FromGraph(FrameExpr):
    """Partitions already held under existing keys of a graph (after persist).

    >>> import pandas as pd
    >>> e = FromGraph({"k": pd.Series([1])}, ["k"], pd.Series([], dtype="int64"), (None, None), "t")
    >>> e._layer()[(e._name, 0)]
    Ref('k')
    """

    _parameters = ["graph", "keys", "meta", "divisions_", "source"]
    _explain_params = ("npartitions",)

    @property
    def _prefix(self) -> str:
        return "from-graph"

    @functools.cached_property
    def _name(self) -> str:
        return f"from-graph-{self.source}"

    @functools.cached_property
    def _meta(self) -> Any:
        return self.meta

    @functools.cached_property
    def divisions(self) -> tuple:
        return tuple(self.divisions_)

    def _layer(self) -> dict:
        layer = dict(self.graph)
        for i, key in enumerate(self.keys):
            if key != (self._name, i):
                layer[(self._name, i)] = Ref(key) if key in layer else layer[key]
        return layer


class Partitions(FrameExpr):
    """A subset of another expression's partitions, in the given order.

    >>> import pandas as pd
    >>> from shoal.dataframe.io import from_pandas
    >>> df = from_pandas(pd.DataFrame({"a": range(6)}), npartitions=3)
    >>> Partitions(df.expr, [1, 2]).divisions
    (2, 4, 5)
    """

    _parameters = ["frame", "indices"]
    _explain_params = ("indices",)

    @functools.cached_property
    def _meta(self) -> Any:
        return self.frame._meta

    @functools.cached_property
    def divisions(self) -> tuple:
        d = self.frame.divisions
        if not self.frame.known_divisions:
            return (None,) * (len(self.indices) + 1)
        idx = self.indices
        if all(b == a + 1 for a, b in zip(idx, idx[1:])):
            return tuple(d[idx[0] : idx[-1] + 2])
        return (None,) * (len(idx) + 1)

    def _task(self, i: int) -> Any:
        return Ref((self.frame._name, self.indices[i]))

    def _needed_columns(self, needed):
        return [(self.frame, needed)]


# --------------------------------------------------------------- blockwise


class Blockwise(FrameExpr):
    """A node computing each output partition from the same-numbered input
    partitions (scalars broadcast). Subclasses give ``_args()``, ``_kwargs()``
    and ``operation``.

    >>> import pandas as pd
    >>> e = FromPandas.of(pd.DataFrame({"a": [1, 2]}), 2)
    >>> isinstance(Projection(e, "a"), Blockwise), Projection(e, "a").npartitions
    (True, 2)
    """

    operation: Any = None
    _nonempty_meta = False

    def _args(self) -> list:
        raise NotImplementedError

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

    def _task(self, i: int) -> Task:
        args = [partition_ref(a, i) if isinstance(a, FrameExpr) else a for a in self._args()]
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

    _parameters = ["func", "kwargs", "meta", "label", "nonempty", "passthrough"]
    _explain_params = ("label",)

    def __init__(self, func, kwargs, meta, label, nonempty, passthrough, *args):
        self.operands = [func, kwargs, meta, label, nonempty, passthrough, *args]

    @property
    def args(self) -> list:
        return self.operands[6:]

    @property
    def operation(self):  # type: ignore[override]
        return self.func

    @property
    def _prefix(self) -> str:
        return self.label

    def _label(self) -> str:
        return self.label

    def _args(self) -> list:
        return self.args

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


def apply_and_rename(*args, _func, _meta, **kwargs):
    """Call ``_func`` and give the result the declared meta's name or columns."""
    out = _func(*args, **kwargs)
    if isinstance(_meta, pd.Series) and isinstance(out, pd.Series) and out.name != _meta.name:
        out = out.rename(_meta.name)
    elif (
        isinstance(_meta, pd.DataFrame)
        and isinstance(out, pd.DataFrame)
        and len(out.columns) == len(_meta.columns)
        and list(out.columns) != list(_meta.columns)
    ):
        out = out.set_axis(_meta.columns, axis=1)
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
    return MapPartitions(func, kwargs, meta, label, nonempty, passthrough, *args)


def method_expr(frame: FrameExpr, method: str, *args, passthrough=False, **kwargs):
    """A pandas method called on every partition of ``frame``."""
    return MapPartitions(
        call_method,
        {"_method": method, **kwargs},
        None,
        method.replace("_", "-"),
        False,
        passthrough,
        frame,
        *args,
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

    _parameters = ["frame", "columns_"]
    _explain_params = ("columns_",)
    operation = staticmethod(_getitem)

    def _args(self):
        return [self.frame, self.columns_]

    @functools.cached_property
    def _meta(self):
        return self.frame._meta[self.columns_]

    def _task(self, i):
        return Task(_getitem, partition_ref(self.frame, i), self.columns_)

    def _needed_columns(self, needed):
        cols = self.columns_
        return [(self.frame, set(cols) if isinstance(cols, list) else {cols})]

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
    >>> e = FromPandas.of(pd.DataFrame({"a": [1, 5]}), 1)
    >>> f = Filter(e, method_expr(Projection(e, "a"), "gt", 2))
    >>> f._task(0)({(e._name, 0): e.parts[0], (f.predicate._name, 0): e.parts[0].a > 2}).a.tolist()
    [5]
    """

    _parameters = ["frame", "predicate"]
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
    """``frame.assign(name=value, ...)``; values are aligned series or scalars.

    >>> import pandas as pd
    >>> e = FromPandas.of(pd.DataFrame({"a": [1]}), 1)
    >>> list(Assign(e, "b", 2.5)._meta.dtypes.astype(str))
    ['int64', 'float64']
    """

    _parameters = ["frame"]
    operation = staticmethod(_assign)
    _explain_params = ()

    def __init__(self, frame, *pairs):
        self.operands = [frame, *pairs]

    @property
    def pairs(self):
        return self.operands[1:]

    def _args(self):
        return self.operands

    def _explain_args(self):
        return ", ".join(repr(k) for k in self.pairs[::2])

    def _needed_columns(self, needed):
        out = []
        if needed is None:
            out.append((self.frame, None))
        else:
            out.append((self.frame, set(needed) - set(self.pairs[::2])))
        out += [(v, None) for v in self.pairs[1::2] if isinstance(v, FrameExpr)]
        return out

    def _simplify_up(self, parent, dependents):
        if isinstance(parent, Projection) and isinstance(parent.columns_, list | str):
            cols = parent.columns_ if isinstance(parent.columns_, list) else [parent.columns_]
            if not set(cols) & set(self.pairs[::2]) and set(cols) <= set(self.frame.columns):
                return Projection(self.frame, parent.columns_)
        return None


# ------------------------------------------------------------------- fusion


class FusedBlockwise(FrameExpr):
    """Several blockwise nodes run as one task per partition; named like
    its root so references to the root stay valid.

    >>> import pandas as pd
    >>> e = FromPandas.of(pd.DataFrame({"a": [-1]}), 1)
    >>> p = Projection(e, "a")
    >>> fused = FusedBlockwise([p, method_expr(p, "abs")], [e])
    >>> fused._task(0)({(e._name, 0): e.parts[0]}).tolist()
    [1]
    """

    _parameters = ["exprs", "externals"]

    @functools.cached_property
    def _name(self) -> str:
        return self.exprs[-1]._name

    @functools.cached_property
    def _meta(self):
        return self.exprs[-1]._meta

    @functools.cached_property
    def divisions(self):
        return self.exprs[-1].divisions

    def dependencies(self) -> list:
        return list(self.externals)

    def _task(self, i):
        root = self.exprs[-1]
        return Fused((root._name, i), [((e._name, i), e._task(i)) for e in self.exprs])

    def _explain_head(self) -> str:
        return "Fused"

    def _explain_args(self) -> str:
        return " <- ".join(
            (f"{type(e).__name__}({e._explain_args()})" if e._explain_args() else type(e).__name__)
            for e in reversed(self.exprs)
        )
