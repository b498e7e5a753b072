"""Optimizer pass: read string groupby keys from parquet as categoricals.

A groupby chunk spends much of its time turning string keys into integer
codes, and a parquet reader spends much of its time turning dictionary-encoded
strings into Python-free string arrays. When a groupby's string keys come
straight from a ``ReadParquet`` and nothing between the reader and the
groupby looks at them, the reader can hand them over as categoricals (the
dictionary codes as stored in the file) and the groupby restores their real
dtype on the (few) group labels only.

"Nothing looks at them" means no aggregation takes a key as its value column
either, and it is checked node by node on every path from the
groupby's input down to the reader: only ``Projection`` (of a list, or of a
single other column), ``Filter``, ``Assign`` (not of a key) and
``MapPartitions`` whose frame inputs carry no key column may appear, and no
node in between may have users outside the groupby's input (they would see
categoricals). Anything else leaves the plan as it is.

>>> import pandas as pd, shoal.dataframe as sd
>>> pd.DataFrame({"k": ["a", "b", "a"], "v": [1.0, 2.0, 3.0]}).to_parquet("memory://doc-ek/f.pq")
>>> q = sd.read_parquet("memory://doc-ek/f.pq").groupby("k").v.sum()
>>> "categorical=['k']" in q.explain()
True
>>> q.compute().to_dict()
{'a': 4.0, 'b': 2.0}
"""

from __future__ import annotations

import pandas as pd

from shoal.core.expr import Expr
from shoal.dataframe.expr import Assign, Filter, FrameExpr, MapPartitions, Projection
from shoal.dataframe.groupby import groupby_chunk
from shoal.dataframe.parquet import ReadParquet
from shoal.dataframe.reductions import Chunk

__all__ = ["encode_group_keys"]


def _string_keys(chunk: Chunk) -> list:
    """The string-typed key columns of a groupby chunk over columns."""
    kw = chunk.kwargs
    frames = chunk.frame_dependencies()
    if kw.get("by") is None or len(frames) != 1 or kw.get("decoded"):
        return []
    meta = frames[0]._meta
    if not isinstance(meta, pd.DataFrame):
        return []
    keys = kw["by"] if isinstance(kw["by"], list) else [kw["by"]]
    if any(col in keys for col, _ in kw["specs"].values()):
        return []  # a key that is also aggregated must keep its dtype
    return [k for k in keys if isinstance(meta.dtypes.get(k), pd.StringDtype)]


def _leaves_keys_alone(node: Expr, keys: set) -> bool:
    if isinstance(node, Projection):
        cols = node.columns_
        return isinstance(cols, list) or cols not in keys
    if isinstance(node, Filter):
        return True
    if isinstance(node, Assign):
        return not set(node.pairs[::2]) & keys
    if isinstance(node, MapPartitions):
        return not any(
            isinstance(a, FrameExpr)
            and isinstance(a._meta, pd.DataFrame)
            and set(a._meta.columns) & keys
            for a in node.args
        )
    return False


def _encodable_reader(chunk: Chunk, keys: list, users: dict) -> ReadParquet | None:
    """The reader whose ``keys`` may come as categoricals, or None."""
    start = chunk.frame_dependencies()[0]
    region = {n._name: n for n in start.walk()}
    readers = [n for n in region.values() if isinstance(n, ReadParquet)]
    if len(readers) != 1 or not set(keys) <= set(readers[0].columns_):
        return None
    reader = readers[0]
    inside = set(region) | {chunk._name}
    for name, node in region.items():
        if any(u._name not in inside for u in users.get(name, ())):
            return None
        if node is not reader and not _leaves_keys_alone(node, set(keys)):
            return None
    return reader


def encode_group_keys(root: Expr) -> Expr:
    """The plan with qualifying groupby keys read as categoricals (see the
    module docstring).

    >>> import pandas as pd, shoal.dataframe as sd
    >>> pd.DataFrame({"k": ["a"], "v": [1.0]}).to_parquet("memory://doc-ek2/f.pq")
    >>> plan = sd.read_parquet("memory://doc-ek2/f.pq").groupby("k").v.sum().optimize()
    >>> encode_group_keys(plan.expr)._name == plan.expr._name  # optimize() already did it
    True
    """
    users = root.users()
    rewritten: dict = {}
    readers: set = set()
    for node in root.walk():
        if not (isinstance(node, Chunk) and node.func is groupby_chunk):
            continue
        keys = _string_keys(node)
        reader = _encodable_reader(node, keys, users) if keys else None
        if reader is None or reader._name in readers:
            continue
        readers.add(reader._name)
        decoded = {k: node.frame_dependencies()[0]._meta.dtypes[k] for k in keys}
        # the reader is reached only through this chunk (_encodable_reader checked it)
        encoded = node.replace({reader._name: reader._replace(categorical=tuple(keys))})
        rewritten[node._name] = encoded.replace_operands(kwargs={**node.kwargs, "decoded": decoded})
    return root.replace(rewritten) if rewritten else root
