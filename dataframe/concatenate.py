"""``concat``: frames stacked (axis 0) or put side by side (axis 1).

Axis 0 keeps every input partition as an output partition, in order, each
conformed to the result's meta (columns a frame lacks filled with missing
values, dtypes as pandas unites them: ``pandas.concat`` of fake rows). The
divisions are known when every input's are and each frame's index range
ends before the next one's begins; with ``interleave_partitions=True``
frames with known but overlapping divisions are re-cut to the union of
their divisions and concatenated partition by partition (divisions stay
known); otherwise they are unknown.

``sort=True`` sorts the other axis as pandas does: the united columns
(axis 0), or the rows inside each partition (axis 1). ``ignore_order=True``
(as Dask) makes ordered categorical columns unordered first, so pieces with
different categories unite (module ``concat``) instead of turning to objects.

Axis 1 concatenates partition ``i`` of every frame: the frames must be
partitioned alike (known divisions are re-cut to their union first). When
the frames come from different sources, a row index may be missing from
some of them, so their integer columns are declared float64 and boolean
ones object (as pandas gives them when some are missing).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import pandas as pd

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Task
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import FrameExpr, align, check_aligned
from shoal.dataframe.meta import meta_nonempty

__all__ = ["concat", "StackPartitions", "ConcatAligned"]


def conform(part: Any, meta: Any) -> Any:
    """``part`` with ``meta``'s columns (missing ones filled) and dtypes.

    >>> meta = pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype="str")})
    >>> conform(pd.DataFrame({"a": [1]}), meta).dtypes.astype(str).tolist()
    ['float64', 'str']
    """
    if isinstance(meta, pd.DataFrame):
        if list(part.columns) != list(meta.columns):
            part = part.reindex(columns=meta.columns)
        casts = {
            c: d
            for c, d in meta.dtypes.items()
            if part[c].dtype != d
            and not (
                isinstance(d, pd.CategoricalDtype)
                and isinstance(part[c].dtype, pd.CategoricalDtype)
            )
        }
        return part.astype(casts) if casts else part
    if part.dtype != meta.dtype and not isinstance(meta.dtype, pd.CategoricalDtype):
        part = part.astype(meta.dtype)
    return part.rename(meta.name) if part.name != meta.name else part


def concat_aligned(parts: list, meta: Any, axis: int, join: str, sort: bool = False) -> Any:
    """Partitions of several frames holding the same index range, as one."""
    if axis == 1:
        out = pd.concat(parts, axis=1, join=join, sort=sort)
        return conform(out, meta)
    return concat_frames([conform(p, meta) for p in parts])


class StackPartitions(FrameExpr):
    """Every partition of every frame, in order (axis 0), each conformed to
    ``meta``.

    >>> from shoal.dataframe.expr import FromPandas
    >>> a = FromPandas((pd.DataFrame({"x": [1]}),), (0, 0))
    >>> b = FromPandas((pd.DataFrame({"y": [2.5]}, index=[5]),), (5, 5))
    >>> e = StackPartitions((a, b), "outer")
    >>> e.divisions, list(e._meta.columns)
    ((0, 5, 5), ['x', 'y'])
    """

    frames: tuple
    join: str
    sort: bool = False

    fusable: ClassVar[bool] = True

    @functools.cached_property
    def _meta(self) -> Any:
        return _united_meta(self.frames, 0, self.join, self.sort)

    @functools.cached_property
    def divisions(self) -> tuple:
        frames = self.frames
        count = sum(f.npartitions for f in frames)
        if all(f.known_divisions for f in frames) and _ordered(frames):
            out: list = []
            for f in frames:
                out += list(f.divisions[:-1])
            return tuple(out) + (frames[-1].divisions[-1],)
        return (None,) * (count + 1)

    @functools.cached_property
    def _sources(self) -> list:
        return [(f, p) for f in self.frames for p in range(f.npartitions)]

    def _one_to_one(self, child: BlockExpr) -> bool:
        return sum(f._name == child._name for f in self.frames) == 1

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        frame, p = self._sources[index[0]]
        return Task(conform, b.input(self, frame, (p,)), self._meta)


class ConcatAligned(FrameExpr):
    """Partition ``i`` of every frame concatenated along ``axis`` (the
    frames are partitioned alike).

    >>> from shoal.dataframe.expr import FromPandas
    >>> a = FromPandas.of(pd.DataFrame({"x": [1, 2]}), 2)
    >>> ConcatAligned((a, FromPandas.of(pd.DataFrame({"y": [3, 4]}), 2)), 1, "outer").columns
    ['x', 'y']
    """

    frames: tuple
    axis: int
    join: str
    sort: bool = False

    fusable: ClassVar[bool] = True

    @functools.cached_property
    def _meta(self) -> Any:
        meta = _united_meta(self.frames, self.axis, self.join, self.sort)
        if self.axis == 1 and self.join == "outer" and len({f._leaves for f in self.frames}) > 1:
            # frames from different sources may miss each other's index values
            meta = meta.astype(
                {
                    c: "float64" if d.kind in "iu" else object
                    for c, d in meta.dtypes.items()
                    if getattr(d, "kind", "") in "iub"
                    and not isinstance(d, pd.api.extensions.ExtensionDtype)
                }
            )
        return meta

    @functools.cached_property
    def divisions(self) -> tuple:
        return self.frames[0].divisions

    def _one_to_one(self, child: BlockExpr) -> bool:
        return sum(f._name == child._name for f in self.frames) == 1

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        parts = [b.input(self, f, index) for f in self.frames]
        return Task(concat_aligned, parts, self._meta, self.axis, self.join, self.sort)


def _united_meta(frames: tuple, axis: int, join: str, sort: bool) -> Any:
    fakes = [meta_nonempty(f._meta) for f in frames]
    return pd.concat(fakes, axis=axis, join=join, sort=sort).iloc[:0]


def _ordered_categoricals(meta: Any) -> list:
    """The ordered categorical columns of a frame's meta (the Series' name)."""
    if isinstance(meta, pd.Series):
        dtypes = {meta.name: meta.dtype}
    else:
        dtypes = dict(meta.dtypes.items())
    return [c for c, d in dtypes.items() if isinstance(d, pd.CategoricalDtype) and d.ordered]


def as_unordered(part: Any) -> Any:
    """``part`` with its ordered categorical columns made unordered.

    >>> s = pd.Series(pd.Categorical(["b", "a"], categories=["b", "a"], ordered=True))
    >>> as_unordered(s).cat.ordered
    False
    """
    if isinstance(part, pd.Series):
        return part.cat.as_unordered() if _ordered_categoricals(part) else part
    cols = _ordered_categoricals(part)
    if not cols:
        return part
    return part.assign(**{str(c): part[c].cat.as_unordered() for c in cols})


def _ordered(frames: tuple) -> bool:
    try:
        return all(a.divisions[-1] < b.divisions[0] for a, b in zip(frames, frames[1:]))
    except TypeError:
        return False


def concat(
    dfs: list,
    axis: int | str = 0,
    join: str = "outer",
    interleave_partitions: bool = False,
    sort: bool = False,
    ignore_order: bool = False,
):
    """Concatenate frames (module docstring); pandas objects are taken as
    one partition each. Series side by side (``axis=1``) make a DataFrame,
    even a single one.

    >>> import shoal.dataframe as sd
    >>> a = sd.from_pandas(pd.DataFrame({"x": [1, 2]}), npartitions=2)
    >>> b = pd.DataFrame({"x": [3], "y": ["c"]}, index=[9])
    >>> out = sd.concat([a, b])
    >>> out.npartitions, [int(d) for d in out.divisions], out.compute().x.tolist()
    (3, [0, 1, 9, 9], [1, 2, 3])
    >>> list(sd.concat([b, a], sort=True).columns)
    ['x', 'y']
    """
    from shoal.dataframe.collection import FrameBase, new_collection
    from shoal.dataframe.io import from_pandas

    if not isinstance(dfs, (list, tuple)) or not dfs:
        raise TypeError("concat takes a non-empty list of frames")
    axis = {"index": 0, "rows": 0, "columns": 1}.get(str(axis), axis)
    if axis not in (0, 1):
        raise ValueError(f"concat: axis must be 0 or 1, got {axis!r}")
    if join not in ("outer", "inner"):
        raise ValueError(f"concat: join must be 'outer' or 'inner', got {join!r}")
    for name, flag in (("sort", sort), ("ignore_order", ignore_order)):
        if not isinstance(flag, bool):
            raise TypeError(f"concat: {name} must be True or False, got {flag!r}")
    frames = []
    for d in dfs:
        if isinstance(d, (pd.DataFrame, pd.Series)):
            d = from_pandas(d, npartitions=1)
        if not isinstance(d, FrameBase) or not isinstance(d._meta, (pd.DataFrame, pd.Series)):
            raise TypeError(f"concat: expected DataFrames or Series, got {type(d).__name__}")
        if ignore_order and _ordered_categoricals(d._meta):
            d = d.map_partitions(as_unordered, meta=as_unordered(d._meta))
        frames.append(d.expr)
    if len(frames) == 1 and axis == 0 and not sort:
        return new_collection(frames[0])
    if axis == 0:
        kinds = {type(f._meta) for f in frames}
        if len(kinds) > 1:
            raise TypeError("concat along axis 0 takes all DataFrames or all Series, not a mix")
        known = all(f.known_divisions for f in frames)
        if interleave_partitions and known and not _ordered(tuple(frames)):
            return new_collection(ConcatAligned(tuple(align(*frames)), 0, join, sort))
        return new_collection(StackPartitions(tuple(frames), join, sort))
    aligned = align(*frames)
    check_aligned(*aligned, what="concat(axis=1)")
    return new_collection(ConcatAligned(tuple(aligned), 1, join, sort))
