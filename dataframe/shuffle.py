"""The shuffle layer: moving rows between partitions by a key.

Every operation that needs rows with equal keys together (``shuffle``,
hash joins, ``set_index``, ``sort_values``, ``drop_duplicates(split_out=)``,
``groupby().apply``) builds one logical ``Shuffle`` node: the input frame, an
*assignment* kernel that gives each row its output partition, and the number
of output partitions. Lowering picks the method (``resolve_method``)::

    Shuffle(frame, assign, k)  --lower-->  TaskShuffle   (shuffle_tasks.py)
                                           DiskShuffle   (shuffle_disk.py)
                                           P2PShuffle    (shuffle_p2p.py, on a cluster)

Assignment kernels (``assign(part, i, **kwargs) -> int array``, ``i`` the
input partition number):

- ``hash_targets``: a hash of the key columns (or the index) modulo ``k``.
  Key values are normalized first so that equal values hash equally whatever
  their dtype: numbers (integers, floats, booleans, nullable ones) as float64
  with one NaN and no negative zero, datetimes as UTC nanoseconds, strings
  and categoricals by their values, missing values as one null. The hash is
  pandas' ``hash_array`` (SipHash with a fixed key), so it is the same in
  every process and on every machine, and two sides of a join with key
  dtypes int64 and float64 meet in the same partitions.
- ``range_targets``: the range of sorted boundaries a key falls in
  (``set_index``); missing keys go to the last partition.

Each node also says how its output is partitioned (``output_partitioning``):
``("hash", columns, k)`` after a hash shuffle on columns, so a join on those
columns with ``k`` partitions does not shuffle that side again.

Settings: ``dataframe.shuffle.method`` (``"tasks"``, ``"disk"``, ``"p2p"`` or
None for automatic), ``dataframe.shuffle.max-branch`` (the fan-out of one stage of the
tasks method) and ``dataframe.shuffle.directory`` (where the disk method
writes; None for the system's temporary directory). Every shuffling operation
also takes ``shuffle_method=``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shoal.core import config
from shoal.core.expr import Expr
from shoal.core.utils import parse_bytes
from shoal.dataframe.expr import Assign, Filter, FrameExpr, Projection

__all__ = [
    "Shuffle",
    "hash_targets",
    "range_targets",
    "hash_values",
    "check_shuffle_method",
    "resolve_method",
    "max_branch_of",
    "output_partitioning",
    "shuffle_expr",
    "Partitioned",
    "METHODS",
]

METHODS = ("tasks", "disk", "p2p")

config.update_defaults(
    {
        "dataframe": {
            "shuffle": {
                "method": None,
                "max-branch": 32,
                "directory": None,
                "disk-bytes": "512MiB",
            }
        }
    },
    {
        "dataframe.shuffle.method": "How shuffles move rows: 'tasks' (in the task graph, "
        "in memory), 'disk' (shard files in a temporary directory, bounded memory), 'p2p' "
        "(straight between the workers of a distributed Client, on their disks) or None "
        "to choose automatically (p2p on a distributed Client, disk when the input's "
        "estimated size exceeds dataframe.shuffle.disk-bytes or half the available memory).",
        "dataframe.shuffle.disk-bytes": "An automatic shuffle on the local schedulers of an "
        "input estimated larger than this goes through disk (a tasks shuffle holds several "
        "copies of its input in memory at once).",
        "dataframe.shuffle.max-branch": "Most partitions one task of a tasks shuffle "
        "splits into or gathers from; more partitions take several stages.",
        "dataframe.shuffle.directory": "Directory of the disk shuffle's shard files; None "
        "for the system's temporary directory.",
    },
)


# ------------------------------------------------------------ normalizing


def _null_safe_objects(values: Any) -> np.ndarray:
    """An object array with every missing value as None."""
    out = np.asarray(values, dtype=object).copy()
    out[pd.isna(out)] = None
    return out


def _canonical_floats(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype="float64") + 0.0  # -0.0 becomes 0.0
    return np.where(np.isnan(x), np.nan, x)  # one NaN bit pattern


def normalized_values(values: Any) -> np.ndarray:
    """A key column (Series or Index) as a NumPy array whose hash depends only
    on the values, not on the dtype that holds them (module docstring).

    >>> normalized_values(pd.Series([1, 2])).tolist() == normalized_values(pd.Series([1.0, 2.0])).tolist()
    True
    >>> normalized_values(pd.Series(["a", None], dtype="category")).tolist()
    ['a', None]
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        values = pd.Series(values).astype(dtype.categories.dtype)
        dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        values = pd.Series(values).dt.tz_convert("UTC").dt.tz_localize(None)
        dtype = values.dtype
    kind = getattr(dtype, "kind", "O")
    if kind in "biuf":
        if isinstance(dtype, pd.api.extensions.ExtensionDtype):
            return _canonical_floats(pd.Series(values).to_numpy(dtype="float64", na_value=np.nan))
        return _canonical_floats(np.asarray(values))
    if kind in "mM":
        return (
            pd.Series(values)
            .astype(f"{'datetime64' if kind == 'M' else 'timedelta64'}[ns]")
            .to_numpy()
            .view("int64")
        )
    objects = _null_safe_objects(pd.Series(values).to_numpy(dtype=object))
    inferred = pd.api.types.infer_dtype(objects, skipna=True)
    if inferred in ("integer", "floating", "mixed-integer-float", "boolean", "decimal"):
        return _canonical_floats(pd.Series(objects).astype("float64").to_numpy())
    return objects


def hash_values(keys: list) -> np.ndarray:
    """One uint64 hash per row of the key columns ``keys`` (Series or
    Indexes of equal length), stable across processes and machines.

    >>> a = hash_values([pd.Series([1, 2, 3])])
    >>> b = hash_values([pd.Series([1.0, 2.0, 3.0])])
    >>> bool((a == b).all())
    True
    """
    out = None
    for key in keys:
        h = pd.util.hash_array(normalized_values(key), categorize=True)
        out = h if out is None else out * np.uint64(1_000_003) ^ h
    if out is None:
        raise ValueError("hash_values needs at least one key column")
    return out


def _key_columns(part: Any, on: tuple | None) -> list:
    if on is None:
        index = part.index
        return [index.get_level_values(j) for j in range(index.nlevels)]
    return [part[c] for c in on]


def hash_targets(part: Any, i: int, on: tuple | None, k: int) -> np.ndarray:
    """The output partition (``0 .. k-1``) of each row: its key hash modulo
    ``k``; ``on`` None hashes the index.

    >>> hash_targets(pd.DataFrame({"a": [5, 5, 7]}), 0, ("a",), 4).tolist()[:2] == [hash_targets(pd.DataFrame({"a": [5.0]}), 0, ("a",), 4)[0]] * 2
    True
    """
    if not len(part):
        return np.zeros(0, dtype=np.intp)
    return (hash_values(_key_columns(part, on)) % np.uint64(k)).astype(np.intp)


def range_targets(part: Any, i: int, on: Any, bounds: list) -> np.ndarray:
    """The output partition of each row: how many of the sorted inner
    boundaries ``bounds`` its key is at or above (keys equal to a boundary
    start the range above it); missing keys go to the last range. ``on``
    names the key column (None: the index).

    >>> range_targets(pd.DataFrame({"a": [1, 5, 9, None]}), 0, "a", [5]).tolist()
    [0, 1, 1, 1]
    """
    values = part.index if on is None else part[on]
    if not len(values):
        return np.zeros(0, dtype=np.intp)
    missing = np.asarray(pd.isna(values))
    out = np.full(len(values), len(bounds), dtype=np.intp)
    present = ~missing
    if present.any():
        keys = values[present] if on is None else values[present]
        edges = (
            pd.Index(list(bounds), dtype=values.dtype)
            if len(bounds)
            else pd.Index([], dtype=values.dtype)
        )
        out[present] = np.asarray(edges.searchsorted(pd.Index(keys), side="right"))
    return out


# -------------------------------------------------------------- the method


def check_shuffle_method(method: Any) -> Any:
    """``method`` if it names a shuffle method (or is None: automatic).

    >>> check_shuffle_method("disk")
    'disk'
    >>> check_shuffle_method("rows")
    Traceback (most recent call last):
    ...
    ValueError: shuffle_method must be one of 'tasks', 'disk', 'p2p' or None (automatic), got 'rows'
    """
    if method in (None, "auto") or method in METHODS:
        return None if method == "auto" else method
    raise ValueError(
        f"shuffle_method must be one of 'tasks', 'disk', 'p2p' or None (automatic), got {method!r}"
    )


def max_branch_of(value: Any) -> int:
    """The tasks shuffle's fan-out: ``value`` or config
    ``dataframe.shuffle.max-branch``, an integer >= 2.

    >>> max_branch_of(None)
    32
    """
    if value is None:
        value = config.get("dataframe.shuffle.max-branch")
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValueError(f"max_branch must be an integer >= 2, got {value!r}")
    return value


def _local_scheduler() -> bool:
    from shoal.core.base import get_scheduler
    from shoal.core.local import BACKENDS

    try:
        get = get_scheduler()
    except Exception:
        return True
    return any(get is g for g in BACKENDS.values())


def _cluster_scheduler() -> bool:
    """Whether the default backend moves data between its workers itself (the
    ``"exchange"`` service of ``shoal.core.services``: a distributed Client)."""
    from shoal.core.base import get_scheduler
    from shoal.core.services import backend_offers

    try:
        get = get_scheduler()
    except Exception:
        return False
    return backend_offers(get, "exchange")


def resolve_method(method: Any, frame: FrameExpr) -> str:
    """The method a shuffle of ``frame`` runs with: ``method``, else config
    ``dataframe.shuffle.method``, else automatic: ``p2p`` on a distributed
    Client, ``tasks`` on other backends that are not local, ``disk`` when the
    input's estimated size exceeds ``dataframe.shuffle.disk-bytes`` or half the
    available memory, ``tasks`` otherwise.

    >>> from shoal.dataframe.expr import FromPandas
    >>> resolve_method(None, FromPandas.of(pd.DataFrame({"a": [1]}), 1))
    'tasks'
    """
    method = check_shuffle_method(method)
    if method is None:
        method = check_shuffle_method(config.get("dataframe.shuffle.method"))
    cluster = _cluster_scheduler()
    if method == "p2p" and not cluster:
        raise ValueError(
            "shuffle_method='p2p' sends rows between the workers of a cluster: it needs a "
            "shoal.distributed Client (use 'tasks' or 'disk' elsewhere)"
        )
    if method is not None:
        return method
    if cluster:
        return "p2p"
    if not _local_scheduler():
        return "tasks"
    from shoal.dataframe.sizes import estimate_bytes

    size = estimate_bytes(frame)
    if size is not None:
        import psutil

        limit = parse_bytes(config.get("dataframe.shuffle.disk-bytes"))
        if size > min(limit, psutil.virtual_memory().available // 2):
            return "disk"
    return "tasks"


# ---------------------------------------------------------- partitioning


def output_partitioning(expr: Expr) -> tuple | None:
    """How ``expr``'s rows are placed: ``("hash", columns, k)`` when every
    row sits in partition ``hash(columns) % k`` (``columns`` None for the
    index), else None. Follows projections, filters and assignments of other
    columns down to the node that partitioned the rows.

    >>> from shoal.dataframe.expr import FromPandas
    >>> e = FromPandas.of(pd.DataFrame({"a": [1], "b": [2]}), 1)
    >>> output_partitioning(Projection(shuffle_expr(e, ("a",), 3), ["a"]))
    ('hash', ('a',), 3)
    """
    node = expr
    kept: list = []  # the nodes the key columns must survive
    while True:
        found = getattr(node, "_output_partitioning", None)
        if found is not None:
            result = found()
            break
        if isinstance(node, (Projection, Filter, Assign)):
            kept.append(node)
            node = node.frame
            continue
        return None
    if result is None:
        return None
    columns = result[1]
    if columns is None:
        return result
    for user in kept:
        if isinstance(user, Assign) and set(user.pairs[::2]) & set(columns):
            return None
        if isinstance(user, Projection):
            cols = user.columns_ if isinstance(user.columns_, list) else [user.columns_]
            if not set(columns) <= set(cols) or not isinstance(user.columns_, list):
                return None
    return result


# ------------------------------------------------------------- the node


class ShuffledRows(FrameExpr):
    """What every shuffle node shares (``Shuffle`` and the nodes of its
    methods): the input's meta, unknown divisions, the partitioning that
    ``assign`` leaves, the columns it needs (``keys`` and what is asked
    for), and projections pushed below it.

    >>> issubclass(Shuffle, ShuffledRows)
    True
    """

    frame: FrameExpr
    assign: Callable
    kwargs: dict
    npartitions_out: int
    keys: tuple

    @functools.cached_property
    def _meta(self) -> Any:
        return self.frame._meta

    @functools.cached_property
    def divisions(self) -> tuple:
        return (None,) * (self.npartitions_out + 1)

    def _output_partitioning(self) -> tuple | None:
        return _partitioning(self.assign, self.kwargs)

    def _needed_columns(self, needed):
        if needed is None:
            return [(self.frame, None)]
        return [(self.frame, set(needed) | set(self.keys))]

    def _simplify_up(self, parent, dependents):
        return push_projection(self, parent, dependents)


class Shuffle(ShuffledRows):
    """Rows of ``frame`` moved to ``npartitions_out`` partitions by
    ``assign(part, i, **kwargs)``; the method is chosen when lowered
    (module docstring). ``keys`` lists the columns ``assign`` reads.

    >>> from shoal.dataframe.expr import FromPandas
    >>> e = shuffle_expr(FromPandas.of(pd.DataFrame({"a": [1, 2, 3]}), 2), ("a",), 3)
    >>> e.npartitions, type(e.lower()).__name__
    (3, 'TaskShuffle')
    """

    keys: tuple = ()
    method: Any = None
    max_branch: Any = None

    _explain_params: ClassVar[tuple[str, ...]] = ("npartitions_out",)

    def _explain_args(self) -> str:
        return _describe(self.assign, self.kwargs, self.npartitions_out) + (
            f", method={self.method}" if self.method else ""
        )

    def _lower(self):
        from shoal.dataframe.shuffle_disk import DiskShuffle
        from shoal.dataframe.shuffle_p2p import P2PShuffle
        from shoal.dataframe.shuffle_tasks import TaskShuffle

        method = resolve_method(self.method, self.frame)
        if method == "p2p":
            return P2PShuffle(self.frame, self.assign, self.kwargs, self.npartitions_out, self.keys)
        if method == "disk":
            return DiskShuffle(
                self.frame, self.assign, self.kwargs, self.npartitions_out, self.keys
            )
        return TaskShuffle(
            self.frame,
            self.assign,
            self.kwargs,
            self.npartitions_out,
            self.keys,
            max_branch_of(self.max_branch),
        )


def push_projection(node: Any, parent: Any, dependents: dict) -> Any:
    """``Projection(node)`` with the projection (plus ``node.keys``) moved
    below ``node``, so fewer columns travel; None when nothing changes."""
    if not isinstance(parent, Projection) or len(dependents.get(node._name, ())) != 1:
        return None
    if not isinstance(node.frame._meta, pd.DataFrame):
        return None
    cols = parent.columns_ if isinstance(parent.columns_, list) else [parent.columns_]
    wanted = set(cols) | set(node.keys)
    below = [c for c in node.frame.columns if c in wanted]
    if len(below) == len(node.frame.columns):
        return None
    inner = node.replace_operands(frame=Projection(node.frame, below))
    return Projection(inner, parent.columns_)


def _partitioning(assign: Callable, kwargs: dict) -> tuple | None:
    if assign is hash_targets:
        on = kwargs["on"]
        return ("hash", None if on is None else tuple(on), kwargs["k"])
    return None


def _describe(assign: Callable, kwargs: dict, k: int) -> str:
    if assign is hash_targets:
        on = kwargs["on"]
        return f"hash on {'index' if on is None else list(on)}, npartitions={k}"
    if assign is range_targets:
        return f"range on {kwargs['on'] or 'index'}, npartitions={k}"
    return f"{getattr(assign, '__name__', 'assign')}, npartitions={k}"


def shuffle_expr(
    frame: FrameExpr,
    on: tuple | None,
    npartitions: int,
    method: Any = None,
    max_branch: Any = None,
) -> FrameExpr:
    """A hash shuffle of ``frame`` on columns ``on`` (None: the index) into
    ``npartitions``; ``frame`` itself when it is partitioned that way already.

    >>> from shoal.dataframe.expr import FromPandas
    >>> e = shuffle_expr(FromPandas.of(pd.DataFrame({"a": [1]}), 1), ("a",), 2)
    >>> shuffle_expr(e, ("a",), 2) is e
    True
    """
    on = None if on is None else tuple(on)
    if output_partitioning(frame) == ("hash", on, npartitions):
        return frame
    return Shuffle(
        frame,
        hash_targets,
        {"on": on, "k": npartitions},
        npartitions,
        () if on is None else on,
        check_shuffle_method(method),
        max_branch,
    )


class Partitioned(FrameExpr):
    """``frame`` declared hash-partitioned on ``on`` into ``k`` partitions
    (work after a shuffle that keeps the key columns and the rows'
    partitions, such as per-group transforms). Adds no task.

    >>> from shoal.dataframe.expr import FromPandas
    >>> e = Partitioned(FromPandas.of(pd.DataFrame({"a": [1]}), 1), ("a",), 1)
    >>> output_partitioning(e)
    ('hash', ('a',), 1)
    """

    frame: FrameExpr
    on: Any
    k: int

    fusable: ClassVar[bool] = True

    @functools.cached_property
    def _meta(self) -> Any:
        return self.frame._meta

    @functools.cached_property
    def divisions(self) -> tuple:
        return self.frame.divisions

    def _output_partitioning(self) -> tuple:
        return ("hash", None if self.on is None else tuple(self.on), self.k)

    def _one_to_one(self, child: Any) -> bool:
        return True

    def _block(self, index: tuple, b: Any) -> Any:
        return b.input(self, self.frame, index)

    def _needed_columns(self, needed):
        if needed is None or self.on is None:
            return [(self.frame, needed)]
        return [(self.frame, set(needed) | set(self.on))]
