"""Sort by index across partitions: a range shuffle of small-ish results.

Used by ``groupby(sort=True, split_out=k)``: the ``k`` hash-partitioned
outputs of the aggregation are re-cut into ``k`` ranges of keys, so the
partitions are sorted within and across (partition ``j`` holds only keys
below those of partition ``j + 1``)::

    part 0 .. part k-1     sample: each sorts its keys, keeps up to 128 * k
         \\   |   /                evenly spaced ones with their weight
          bounds             k - 1 boundary keys from the weighted samples
         /   |   \\
    split 0 .. split k-1   each partition cut into k pieces by the bounds
          \\ | /  (k x k)
    out 0 .. out k-1       concatenate piece j of every split, sort_index

Keys equal to a boundary go to the range above it, in every partition alike.
Missing keys sort last, as in ``sort_index``. The boundaries are data, so the
result's divisions stay unknown.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from shoal.core.build import GraphBuilder
from shoal.core.task import Ref, Task
from shoal.dataframe.concat import concat_frames
from shoal.dataframe.expr import FrameExpr
from shoal.dataframe.meta import has_known_categories

__all__ = ["SortIndexAcross", "check_sortable_keys"]

_MARK = "__shoal_bound__"
_SAMPLES_PER_OUTPUT = 128


def _key_frame(index: pd.Index) -> pd.DataFrame:
    """The index levels as columns ``0 .. nlevels - 1``."""
    return pd.DataFrame({i: index.get_level_values(i) for i in range(index.nlevels)}).reset_index(
        drop=True
    )


def _sorted_keys(frame: pd.DataFrame, then_mark: bool = False) -> pd.DataFrame:
    """Rows sorted by the key columns (then by the marker column)."""
    by = [c for c in frame.columns if c != _MARK] + ([_MARK] if then_mark else [])
    return frame.sort_values(by, kind="stable", na_position="last")


def index_sample(part, size: int) -> tuple[int, pd.DataFrame]:
    """``(rows, up to size evenly spaced keys of the sorted index)``.

    >>> index_sample(pd.Series([1, 2, 3], index=[30, 10, 20]), 2)[1][0].tolist()
    [10, 30]
    """
    keys = _sorted_keys(_key_frame(part.index))
    n = len(keys)
    if n > size:
        keys = keys.iloc[np.linspace(0, n - 1, size).round().astype(int)]
    return n, keys.reset_index(drop=True)


def range_bounds(samples: list, k: int) -> pd.DataFrame:
    """``k - 1`` boundary keys splitting the weighted samples evenly.

    >>> s = [(4, pd.DataFrame({0: [1, 2, 3, 4]})), (4, pd.DataFrame({0: [5, 6, 7, 8]}))]
    >>> range_bounds(s, 2)[0].tolist()
    [5]
    """
    live = [(n, keys) for n, keys in samples if len(keys)]
    if not live or k < 2:
        return samples[0][1].iloc[:0]
    frames = [keys.assign(**{_MARK: n / len(keys)}) for n, keys in live]
    both = _sorted_keys(pd.concat(frames, ignore_index=True))
    cum = both[_MARK].cumsum().to_numpy()
    targets = cum[-1] * np.arange(1, k) / k
    positions = np.minimum(np.searchsorted(cum, targets, side="right"), len(both) - 1)
    return both.drop(columns=_MARK).iloc[positions].reset_index(drop=True)


def range_split(part, bounds: pd.DataFrame, k: int) -> list:
    """``part`` cut into ``k`` pieces by the boundary keys.

    >>> [p.tolist() for p in range_split(pd.Series([1, 2, 3], index=[5, 1, 9]), pd.DataFrame({0: [5]}), 2)]
    [[2], [1, 3]]
    """
    if not len(bounds) or not len(part):
        return [part] + [part.iloc[:0]] * (k - 1)
    keys = _key_frame(part.index)
    marked = pd.concat([bounds.assign(**{_MARK: 0}), keys.assign(**{_MARK: 1})], ignore_index=True)
    order = _sorted_keys(marked, then_mark=True).index.to_numpy()
    passed = np.cumsum(order < len(bounds))
    bucket = np.empty(len(marked), dtype=np.int64)
    bucket[order] = passed
    bucket = bucket[len(bounds) :]
    return [part[bucket == j] for j in range(k)]


def range_gather(pieces: list, j: int):
    """Piece ``j`` of every split, concatenated and sorted by index.

    >>> range_gather([[pd.Series([1], index=[4])], [pd.Series([2], index=[3])]], 0).index.tolist()
    [3, 4]
    """
    return concat_frames([p[j] for p in pieces]).sort_index(kind="stable")


def check_sortable_keys(meta) -> None:
    """Raise unless the index levels of ``meta`` sort the same in every
    partition (categoricals need known categories).

    >>> check_sortable_keys(pd.Series([], index=pd.Index([], dtype="int64")))
    """
    index = meta.index
    for i in range(index.nlevels):
        level = index.get_level_values(i)
        if isinstance(level.dtype, pd.CategoricalDtype) and not has_known_categories(level):
            raise NotImplementedError(
                "groupby(sort=True) with split_out > 1 on a categorical key with unknown "
                "categories: partitions would order the categories differently; call "
                "df[col] = df[col].cat.as_known() first, or use sort=False"
            )


class SortIndexAcross(FrameExpr):
    """The partitions of ``frame`` re-cut into as many ranges of the index,
    each sorted (module docstring).

    >>> from shoal.dataframe.expr import FromPandas
    >>> from shoal.core.local import get_sync
    >>> e = SortIndexAcross(FromPandas.of(pd.Series([1, 2, 3, 4], index=[9, 2, 7, 1]), 2))
    >>> [get_sync(e.__shoal_graph__(), (e._name, j)).index.tolist() for j in range(2)]
    [[1, 2], [7, 9]]
    """

    frame: FrameExpr

    @property
    def _prefix(self) -> str:
        return "sort-index"

    @functools.cached_property
    def _meta(self):
        return self.frame._meta

    @functools.cached_property
    def divisions(self) -> tuple:
        return (None,) * (self.frame.npartitions + 1)

    def _needed_columns(self, needed):
        return [(self.frame, needed)]

    def _build_layer(self, b: GraphBuilder) -> dict:
        sample, bounds, split = (self.stage_name(s) for s in ("sample", "bounds", "split"))
        k = self.frame.npartitions
        parts = [b.ref(self.frame, (i,)) for i in range(k)]
        layer: dict = {}
        for i in range(k):
            layer[(sample, i)] = Task(index_sample, parts[i], _SAMPLES_PER_OUTPUT * k)
        layer[(bounds, 0)] = Task(range_bounds, [Ref((sample, i)) for i in range(k)], k)
        for i in range(k):
            layer[(split, i)] = Task(range_split, parts[i], Ref((bounds, 0)), k)
        for j in range(k):
            layer[self.key((j,))] = Task(range_gather, [Ref((split, i)) for i in range(k)], j)
        return layer
