"""``Bag.groupby``: a full shuffle that brings every element of a key group
to one output partition.

Each input partition is grouped locally (key -> list of elements) at the end
of its chain, and the groups are bucketed by a stable hash of the key (equal
in every process, unlike ``hash`` of a ``str``). Then:

- ``shuffle="tasks"``: bucket ``j`` of input ``i`` is its own small task;
  output ``j`` merges the ``j`` buckets of all inputs. Good for threads and
  distributed workers, for bags that fit in memory. With more than
  ``max_branch`` partitions on both sides it runs in several stages of
  fan-out at most ``max_branch`` (``shoal.bag.shuffle_tasks``).
- ``shuffle="disk"``: input ``i`` writes its buckets, pickled, one after the
  other, to one file in a temporary directory (config ``bag.shuffle-dir``)
  and returns only the file name and offsets; output ``j`` reads its byte
  range from every file. Only file names cross between processes, and a
  worker holds one input partition or one output partition at a time, so
  bags larger than memory group on disk. The last output of a run to finish
  deletes the run's files; whatever a failed or partial run leaves is
  removed when the process that built the graph exits.

An output partition is a fusable plan node: with one consumer it is read
inside the consumer's task (grouped data does not travel between
processes); with several it is stored under its own key, so it is read once
per compute however many bags consume it (the disk run's cleanup counts on
that).

    input i:  chain ... -> group by key -> buckets by hash(key) % n_out
                 |  tasks: bucket tasks (i, j)   disk: file i + offsets
    output j: merge bucket j of every input -> [(key, [elements]), ...]
"""

from __future__ import annotations

import atexit
import functools
import os
import pickle
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from shoal.bag.core import Bag
from shoal.bag.expr import BagExpr, Consume, run_partition
from shoal.bag.reductions import key_func
from shoal.bag.shuffle_hash import stable_hash
from shoal.bag.shuffle_tasks import StagePlan, split_first
from shoal.core import config
from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.task import Task

__all__ = ["groupby", "stable_hash", "DiskShuffle", "TasksShuffle"]

config.update_defaults(
    {"bag": {"shuffle": None, "shuffle-dir": None, "shuffle-max-branch": 32}},
    {
        "bag.shuffle": "Default groupby shuffle: 'disk' or 'tasks'; None picks 'tasks' when a "
        "distributed client is active, else 'disk'.",
        "bag.shuffle-dir": "Directory for the disk shuffle's temporary files; None means the "
        "system temporary directory.",
        "bag.shuffle-max-branch": "Largest fan-out of one stage of the tasks shuffle: more "
        "partitions than this on both sides shuffle in several stages.",
    },
)


def group_split(it: Iterable, key: Callable, n_out: int) -> list[dict]:
    """Group one partition by ``key`` and bucket the groups by stable hash.

    >>> group_split(range(5), lambda x: x % 2, 2)
    [{0: [0, 2, 4]}, {1: [1, 3]}]
    """
    groups: dict = {}
    for x in it:
        k = key(x)
        g = groups.get(k)
        if g is None:
            groups[k] = [x]
        else:
            g.append(x)
    buckets: list[dict] = [{} for _ in range(n_out)]
    for k, values in groups.items():
        buckets[stable_hash(k) % n_out][k] = values
    return buckets


def merge_groups(buckets: Iterable[dict]) -> list[tuple]:
    """``(key, [elements])`` pairs from the buckets of all inputs, elements in
    input order.

    >>> merge_groups([{"a": [1]}, {"a": [2], "b": [3]}])
    [('a', [1, 2]), ('b', [3])]
    """
    out: dict = {}
    for bucket in buckets:
        for k, values in bucket.items():
            g = out.get(k)
            if g is None:
                out[k] = list(values)
            else:
                g.extend(values)
    return list(out.items())


# ------------------------------------------------------------------- disk


def spill(it: Iterable, key: Callable, n_out: int, root: str) -> tuple[str, list]:
    """Write one input partition's buckets to a new file under ``root``;
    return its path and the ``n_out + 1`` bucket offsets.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> path, offsets = spill(range(4), lambda x: x % 2, 2, root)
    >>> len(offsets), unspill([(path, offsets)], 1, root, 2)
    (3, [(1, [1, 3])])
    """
    buckets = group_split(it, key, n_out)
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, f"input-{uuid.uuid4().hex}.bin")
    offsets = [0]
    with open(path, "wb") as f:
        for bucket in buckets:
            if bucket:
                offsets.append(offsets[-1] + f.write(pickle.dumps(bucket, protocol=5)))
            else:
                offsets.append(offsets[-1])
    return path, offsets


def unspill(spills: list, j: int, root: str, n_out: int) -> list[tuple]:
    """Output partition ``j``: read bucket ``j`` of every spilled input, then
    mark it read; the run's last reader deletes its files (see ``spill``)."""

    def buckets():
        for path, offsets in spills:
            start, stop = offsets[j], offsets[j + 1]
            if stop > start:
                with open(path, "rb") as f:
                    f.seek(start)
                    yield pickle.loads(f.read(stop - start))

    out = merge_groups(buckets())
    _mark_read(spills, j, root, n_out)
    return out


def _mark_read(spills: list, j: int, root: str, n_out: int) -> None:
    import xxhash

    run = xxhash.xxh64_hexdigest("\0".join(p for p, _ in spills).encode())
    marks = os.path.join(root, f"read-{run}")
    os.makedirs(marks, exist_ok=True)
    open(os.path.join(marks, str(j)), "wb").close()
    try:
        if len(os.listdir(marks)) < n_out:
            return
    except FileNotFoundError:
        return  # another reader saw every mark at once and is cleaning up
    for path, _ in spills:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    shutil.rmtree(marks, ignore_errors=True)
    try:
        os.rmdir(root)
    except OSError:
        pass  # other runs still use it


_roots: list[str] = []


def _shuffle_root() -> str:
    base = config.get("bag.shuffle-dir") or tempfile.gettempdir()
    root = os.path.join(base, f"shoal-bag-shuffle-{uuid.uuid4().hex}")
    _roots.append(root)
    return root


@atexit.register
def remove_leftovers() -> None:
    """Delete what disk shuffles built by this process left behind (partial
    or failed runs); runs at exit.

    >>> remove_leftovers()
    """
    while _roots:
        shutil.rmtree(_roots.pop(), ignore_errors=True)


def _default_method() -> str:
    from shoal.core import base

    return "tasks" if base._active_backends else "disk"


class DiskShuffle(BagExpr):
    """Output partition ``j`` of a disk shuffle: bucket ``j`` read from
    the file of every input (``split``, stored: only file names and offsets
    cross between processes). Fuses into a single consumer's task."""

    split: BlockExpr
    n_out: int
    root: str

    def _numblocks(self) -> tuple:
        return (self.n_out,)

    @property
    def _prefix(self) -> str:
        return "groupby"

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        spills = [b.ref(self.split, (i,)) for i in range(self.split.numblocks[0])]
        return Task(unspill, spills, index[0], self.root, self.n_out)

    def _explain_args(self) -> str:
        return f"disk, npartitions={self.n_out}"


class TasksShuffle(BagExpr):
    """Output partition ``j`` of a tasks shuffle of ``bag`` by ``grouper`` (the
    stages are this node's extra layer, stage 0 fused with the bag's
    per-partition operations; see ``shoal.bag.shuffle_tasks``)."""

    bag: BlockExpr
    grouper: Callable
    n_out: int
    max_branch: int

    def _numblocks(self) -> tuple:
        return (self.n_out,)

    @property
    def _prefix(self) -> str:
        return "groupby"

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True  # each input partition is read once, by its stage-0 task

    @functools.cached_property
    def _plan(self) -> StagePlan:
        n_in = self.bag.numblocks[0]
        stage, piece = self.stage_name("stage"), self.stage_name("bucket")
        return StagePlan(n_in, self.n_out, self.max_branch, stage, piece)

    def _extra_layer(self, b: GraphBuilder) -> dict:
        plan = self._plan
        split = functools.partial(split_first, key=self.grouper, n_out=self.n_out, k=plan.k)
        bag = self.bag

        def first(p: int) -> Task:
            return Task(run_partition, b.input(self, bag, (p,)), split, bag._name, p)

        return plan.layer(first)

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        return self._plan.output(index[0])

    def _explain_args(self) -> str:
        plan = self._plan
        return f"tasks, npartitions={self.n_out}, stages={plan.stages}, k={plan.k}"


def groupby(
    bag: Bag,
    grouper: Any,
    npartitions: int | None = None,
    shuffle: str | None = None,
    max_branch: int | None = None,
) -> Bag:
    """``Bag.groupby`` (see the module docstring).

    >>> import shoal.bag as sb
    >>> b = groupby(sb.from_sequence("abcab", npartitions=2), lambda c: c, shuffle="tasks")
    >>> sorted(b.compute(scheduler="sync"))
    [('a', ['a', 'a']), ('b', ['b', 'b']), ('c', ['c'])]
    """
    key = key_func("groupby", grouper)
    if key is None:
        raise TypeError("groupby: grouper must be a function or an item index, got None")
    n_out = bag.npartitions if npartitions is None else npartitions
    if isinstance(n_out, bool) or not isinstance(n_out, int) or n_out < 1:
        raise ValueError(f"groupby: npartitions must be a positive int, got {npartitions!r}")
    method = shuffle or config.get("bag.shuffle") or _default_method()
    if method not in ("disk", "tasks"):
        raise ValueError(f"groupby: shuffle must be 'disk' or 'tasks', got {method!r}")
    branch = config.get("bag.shuffle-max-branch") if max_branch is None else max_branch
    if isinstance(branch, bool) or not isinstance(branch, int) or branch < 2:
        raise ValueError(f"groupby: max_branch must be an int >= 2, got {branch!r}")
    if method == "tasks":
        return Bag(TasksShuffle(bag.expr, key, n_out, branch))
    root = _shuffle_root()
    spilling = functools.partial(spill, key=key, n_out=n_out, root=root)
    return Bag(DiskShuffle(Consume(bag.expr, spilling, "groupby-split"), n_out, root))
