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

Output partitions are keys of their own (read once per compute, however many
bags consume them); with one consumer, graph fusion runs the read and the
consumer's chain in one task.

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
from shoal.bag.reductions import key_func
from shoal.bag.shuffle_hash import stable_hash
from shoal.bag.shuffle_tasks import tasks_shuffle_layer
from shoal.core import config
from shoal.core.task import Ref, Task
from shoal.core.tokenize import tokenize

__all__ = ["groupby", "stable_hash"]

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


def spill(it: Iterable, key: Callable, n_out: int, root: str, index: int) -> tuple[str, list]:
    """Write one input partition's buckets to a new file under ``root``;
    return its path and the ``n_out + 1`` bucket offsets.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> path, offsets = spill(range(4), lambda x: x % 2, 2, root, 0)
    >>> len(offsets), unspill([(path, offsets)], 1, root, 2)
    (3, [(1, [1, 3])])
    """
    buckets = group_split(it, key, n_out)
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, f"input-{index}-{uuid.uuid4().hex}.bin")
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
    root = _shuffle_root() if method == "disk" else None
    tok = tokenize(bag.name, key, n_out, method, root, branch if method == "tasks" else None)
    split = f"groupby-split-{tok}"
    n_in = bag.npartitions
    layer: dict = {}
    if method == "tasks":
        layer, outputs = tasks_shuffle_layer(bag, key, n_out, branch, tok)
    else:
        for i in range(n_in):
            finish = functools.partial(spill, key=key, n_out=n_out, root=root, index=i)
            layer[(split, i)] = bag.part_node(i, finish)
        refs = [Ref((split, i)) for i in range(n_in)]
        outputs = [Task(unspill, refs, j, root, n_out) for j in range(n_out)]
    # Output partitions are keys of their own: each is read exactly once per
    # compute however many bags consume it (the disk run's cleanup counts on
    # that), and graph fusion merges an output into its consumer's task when
    # there is only one.
    name = f"groupby-{tok}"
    layer.update({(name, j): node for j, node in enumerate(outputs)})
    return Bag(name, n_out, layer=layer, deps=bag.needs())
