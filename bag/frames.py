"""Bags to dataframes and back: the one module where ``shoal.bag`` and
``shoal.dataframe`` meet.

``Bag.to_dataframe`` and ``DataFrame.to_bag`` both import this module
lazily, inside the method, and it talks to the other room through its public
API only (``to_delayed``, ``from_delayed``). No other bag module imports
``shoal.dataframe``, and no dataframe module imports ``shoal.bag`` but
through here (``tests/core/test_boundaries.py`` holds the rule), so neither
room needs the other to import.

    bag partition (dicts / tuples)  --partition_to_pandas-->  pandas partition
    pandas partition                --partition_rows------->  list of rows
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shoal.bag.core import Bag
from shoal.bag.sources import from_delayed
from shoal.core.delayed import delayed

__all__ = ["bag_to_dataframe", "dataframe_to_bag", "partition_to_pandas", "partition_rows"]


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


def bag_to_dataframe(bag: Bag, meta: Any = None, columns: Any = None) -> Any:
    """``Bag.to_dataframe``: one pandas partition per bag partition, through
    ``shoal.dataframe.from_delayed``. Without ``meta`` the columns and dtypes
    come from the first element.

    >>> import shoal.bag as sb
    >>> df = bag_to_dataframe(sb.from_sequence([(1, "x")]), columns=["n", "s"])
    >>> list(df.columns)
    ['n', 's']
    """
    import shoal.dataframe as sd

    meta = _meta_of(bag, meta, columns)
    convert = delayed(partition_to_pandas, pure=True)
    parts = [convert(d, None, meta) for d in bag.to_delayed()]
    return sd.from_delayed(parts, meta=meta)


def partition_rows(part: Any, index: bool, format: str) -> list:
    """The rows of a pandas partition as Python tuples (the index first when
    ``index``) or dicts; a Series gives its values (``(index, value)``
    tuples when ``index``).

    >>> import pandas as pd
    >>> partition_rows(pd.DataFrame({"a": [1, 2]}, index=[5, 6]), True, "dict")
    [{'index': 5, 'a': 1}, {'index': 6, 'a': 2}]
    """
    import pandas as pd

    if isinstance(part, pd.Series):
        values = part.tolist()
        return list(zip(part.index.tolist(), values)) if index else values
    if format == "dict":
        records = part.to_dict(orient="records")
        if index:
            name = part.index.name or "index"
            records = [{name: i, **r} for i, r in zip(part.index.tolist(), records)]
        return records
    return list(part.itertuples(index=index, name=None))


def dataframe_to_bag(frame: Any, index: bool = False, format: str = "tuple") -> Bag:
    """``DataFrame.to_bag`` / ``Series.to_bag``: a bag of the rows, one bag
    partition per frame partition (see ``partition_rows``).

    >>> import pandas as pd, shoal.dataframe as sd
    >>> df = sd.from_pandas(pd.DataFrame({"a": [1, 2, 3]}), npartitions=2)
    >>> dataframe_to_bag(df).compute(scheduler="sync")
    [(1,), (2,), (3,)]
    """
    if format not in ("tuple", "dict"):
        raise ValueError(f"to_bag format must be 'tuple' or 'dict', got {format!r}")
    rows = delayed(partition_rows, pure=True)
    return from_delayed([rows(d, index, format) for d in frame.to_delayed()])
