"""Getting values out of a bag: ``take``, ``to_delayed``, ``to_dataframe``.

(``compute`` is the collection protocol; ``to_textfiles`` is in ``text``.)
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Iterable
from typing import Any

from shoal.bag.core import Bag, collect_graph
from shoal.core.delayed import Delayed, delayed
from shoal.core.fuse import fuse_linear
from shoal.core.tokenize import tokenize

__all__ = ["take", "to_delayed", "to_dataframe", "partition_to_pandas"]


def _take_list(it: Iterable, n: int) -> list:
    return list(itertools.islice(it, n))


def take(
    bag: Bag, k: int, npartitions: int = 1, compute: bool = True, warn: bool = True, **kwargs: Any
) -> Any:
    """``Bag.take``: the first ``k`` elements of the first ``npartitions``
    partitions; each partition stops once it has produced ``k`` elements.

    >>> import shoal.bag as sb
    >>> take(sb.range(10, npartitions=5), 3, npartitions=2, scheduler="sync")
    (0, 1, 2)
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"take: k must be a non-negative int, got {k!r}")
    n = bag.npartitions if npartitions == -1 else npartitions
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= bag.npartitions:
        raise ValueError(
            f"take: npartitions must be -1 or between 1 and {bag.npartitions} (the bag's "
            f"partitions), got {npartitions!r}"
        )
    name = f"take-{tokenize(bag.name, k, n)}"
    finish = functools.partial(_take_list, n=k)
    out = Bag(
        name, n, layer={(name, i): bag.part_node(i, finish) for i in range(n)}, deps=bag.needs()
    )
    if not compute:
        return out
    elements = out.compute(**kwargs)[:k]
    if warn and len(elements) < k:
        warnings.warn(
            f"take: asked for {k} elements but the first {n} partition(s) hold only "
            f"{len(elements)}; pass npartitions=-1 to look in all of them",
            stacklevel=3,
        )
    return tuple(elements)


def to_delayed(bag: Bag, optimize_graph: bool = True) -> list[Delayed]:
    """``Bag.to_delayed``: one ``Delayed`` per partition, sharing one graph.

    >>> import shoal.bag as sb
    >>> len(to_delayed(sb.range(6, npartitions=3)))
    3
    """
    keys = bag.__shoal_keys__()
    graph = collect_graph(bag)
    if optimize_graph:
        graph = fuse_linear(graph, keys)
    return [Delayed(k, graph) for k in keys]


def partition_to_pandas(part: Iterable, columns: Any = None, meta: Any = None) -> Any:
    """One bag partition (dicts, or tuples/lists, or scalars) as a pandas
    DataFrame, with ``meta``'s columns and dtypes when given.

    >>> partition_to_pandas([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])["a"].tolist()
    [1, 2]
    """
    import pandas as pd

    rows = list(part)
    if meta is not None:
        columns = list(meta.columns)
    if rows and not isinstance(rows[0], (dict, tuple, list)):
        df = pd.DataFrame({columns[0] if columns else 0: rows})
    else:
        df = (
            pd.DataFrame.from_records(rows, columns=columns)
            if rows
            else pd.DataFrame(columns=columns)
        )
    if meta is not None:
        df = df.astype(meta.dtypes.to_dict()) if len(df) else meta.iloc[:0].copy()
    return df


def _meta_of(bag: Bag, meta: Any, columns: Any) -> Any:
    import pandas as pd

    if isinstance(meta, pd.DataFrame):
        return meta.iloc[:0]
    if isinstance(meta, dict):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in meta.items()})
    if meta is not None:
        raise TypeError(
            f"to_dataframe: meta must be a pandas DataFrame or a dict of "
            f"column -> dtype, got {type(meta).__name__}"
        )
    head = bag.take(1, npartitions=-1, warn=False)
    if not head:
        raise ValueError(
            "to_dataframe: the bag is empty, so its columns and dtypes cannot "
            "be inferred; pass meta="
        )
    return partition_to_pandas(head, columns).iloc[:0]


def to_dataframe(bag: Bag, meta: Any = None, columns: Any = None) -> Any:
    """``Bag.to_dataframe``: needs ``shoal.dataframe.DataFrame`` and
    ``shoal.dataframe.from_delayed`` (checked when called).

    >>> import shoal.bag as sb
    >>> df = to_dataframe(sb.from_sequence([(1, "x")]), columns=["n", "s"])
    >>> list(df.columns)
    ['n', 's']
    """
    import shoal.dataframe as sd

    missing = [n for n in ("DataFrame", "from_delayed") if not hasattr(sd, n)]
    if missing:
        raise NotImplementedError(
            "Bag.to_dataframe needs shoal.dataframe to provide "
            f"{' and '.join('shoal.dataframe.' + n for n in missing)}, which it does not yet; "
            "meanwhile, bag.to_delayed() with shoal.bag.outputs.partition_to_pandas gives "
            "pandas partitions"
        )
    meta = _meta_of(bag, meta, columns)
    convert = delayed(partition_to_pandas, pure=True)
    parts = [convert(d, None, meta) for d in to_delayed(bag)]
    return sd.from_delayed(parts, meta=meta)
