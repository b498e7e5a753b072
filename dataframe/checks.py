"""The ``shoal.testing`` checker for dataframe collections: every computed
partition must match ``meta`` (type, columns, dtypes, index name) and lie
within its ``divisions``."""

from __future__ import annotations

import pandas as pd

from shoal.dataframe.collection import FrameBase
from shoal.dataframe.meta import has_known_categories
from shoal.dataframe.series import Scalar
from shoal.testing import register_checker

__all__ = ["check_partitions"]


def _same_dtype(got, want) -> bool:
    if isinstance(want, pd.CategoricalDtype) and not has_known_categories(want):
        return isinstance(got, pd.CategoricalDtype)  # unknown categories: any will do
    return got == want


def _check_one(i: int, part, meta) -> None:
    assert type(part) is type(meta), (
        f"partition {i} is a {type(part).__name__}, meta is a {type(meta).__name__}"
    )
    if isinstance(meta, pd.DataFrame):
        assert list(part.columns) == list(meta.columns), (
            f"partition {i} columns {list(part.columns)} != meta columns {list(meta.columns)}"
        )
        for c in range(meta.shape[1]):
            got, want = part.dtypes.iloc[c], meta.dtypes.iloc[c]
            assert _same_dtype(got, want), (
                f"partition {i} column {meta.columns[c]!r}: dtype {got} != {want}"
            )
    elif isinstance(meta, (pd.Series, pd.Index)):
        assert _same_dtype(part.dtype, meta.dtype), (
            f"partition {i}: dtype {part.dtype} != meta {meta.dtype}"
        )
        assert part.name == meta.name, f"partition {i}: name {part.name!r} != meta {meta.name!r}"
    if not isinstance(meta, pd.Index):
        assert part.index.names == meta.index.names, (
            f"partition {i}: index names {part.index.names} != meta {meta.index.names}"
        )


@register_checker(FrameBase)
def check_partitions(collection: FrameBase, parts: list) -> None:
    """Validate computed partitions against meta and divisions.

    >>> import shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2]}), npartitions=2)
    >>> check_partitions(df, [df.get_partition(0).compute(), df.get_partition(1).compute()])
    """
    if isinstance(collection, Scalar):
        return
    assert len(parts) == collection.npartitions, (
        f"{len(parts)} partitions computed, npartitions says {collection.npartitions}"
    )
    meta = collection._meta
    for i, part in enumerate(parts):
        _check_one(i, part, meta)
    if not collection.known_divisions:
        return
    divisions = collection.divisions
    n = len(parts)
    for i, part in enumerate(parts):
        index = part if isinstance(part, pd.Index) else part.index
        if len(index) == 0:
            continue
        lo, hi = index.min(), index.max()
        assert lo >= divisions[i], f"partition {i}: index min {lo!r} < division {divisions[i]!r}"
        if i < n - 1:
            assert hi < divisions[i + 1], (
                f"partition {i}: index max {hi!r} >= next division {divisions[i + 1]!r}"
            )
        else:
            assert hi <= divisions[i + 1], (
                f"last partition: index max {hi!r} > final division {divisions[i + 1]!r}"
            )
