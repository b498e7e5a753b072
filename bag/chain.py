"""Per-partition operations, and the one function that runs a chain of them.

A bag's partition is computed by a single task, ``run_chain(source, ops,
finish, where)``: the source (a list, a ``range``, or a generator of lines)
flows through each operation in ``ops`` as a lazy iterator, and ``finish``
consumes the result (``None`` materializes a list; a reduction's per-partition
step returns a small value instead). So ``read_text -> map -> filter ->
frequencies`` reads, parses, filters and counts one partition in one task,
streaming, without holding the partition in memory.

An operation is a tuple ``(func, *args)`` called as ``func(iterator, *args)``
and returning an iterator. Every function here is module-level, so tasks
pickle by reference.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any

from shoal.bag.jsonlines import loads_each

__all__ = ["run_chain", "BagArg", "Packed"]


def run_chain(source: Iterable, ops: tuple, finish: Callable | None, where: tuple) -> Any:
    """Run ``ops`` over one partition and finish it.

    ``where`` is ``(bag_name, partition_index)``; an error in a user function
    gets a note naming it.

    >>> run_chain([1, 2, 3], ((op_map, abs), (op_filter, bool)), sum, ("b", 0))
    6
    """
    try:
        it = source
        for op in ops:
            it = op[0](it, *op[1:])
        if finish is None:
            return it if type(it) is list else list(it)
        return finish(it)
    except Exception as e:
        e.add_note(f"shoal.bag: raised in partition {where[1]} of bag {where[0]!r}")
        raise


class BagArg:
    """Placeholder, inside a function's arguments, for the elements (``map``)
    or the partition (``map_partitions``) of the ``index``-th zipped bag.

    >>> _fill((BagArg(1), "c"), {}, ("a", "b"))
    (['b', 'c'], {})
    """

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __reduce__(self):
        return (BagArg, (self.index,))

    def __repr__(self) -> str:
        return f"BagArg({self.index})"

    def __eq__(self, other: object) -> bool:
        return type(other) is BagArg and other.index == self.index

    def __hash__(self) -> int:
        return hash((BagArg, self.index))


class Packed:
    """Constant extra arguments of a user function, kept opaque so task
    construction does not scan them for references once per partition.

    >>> Packed((1, 2), {}).args
    (1, 2)
    """

    __slots__ = ("args", "kwargs")

    def __init__(self, args: tuple, kwargs: dict):
        self.args = args
        self.kwargs = kwargs

    def __reduce__(self):
        return (Packed, (self.args, self.kwargs))

    def __repr__(self) -> str:
        return f"Packed({self.args!r}, {self.kwargs!r})"


def unpack(spec: Any) -> tuple[tuple, dict]:
    """``(args, kwargs)`` from a ``Packed`` or a plain ``(args, kwargs)`` pair.

    >>> unpack(Packed((1,), {"k": 2})), unpack([[1], {}])
    (((1,), {'k': 2}), ((1,), {}))
    """
    if type(spec) is Packed:
        return spec.args, spec.kwargs
    return tuple(spec[0]), dict(spec[1])


def _fill(template: tuple, kwtemplate: dict, values: tuple) -> tuple[list, dict]:
    args = [values[a.index] if type(a) is BagArg else a for a in template]
    kwargs = {k: values[v.index] if type(v) is BagArg else v for k, v in kwtemplate.items()}
    return args, kwargs


# ------------------------------------------------------------ element-wise


def op_map(it: Iterable, func: Callable) -> Iterator:
    """``func(x)`` for each element (``json.loads`` runs as
    ``shoal.bag.jsonlines.loads_each``: the same values and errors, faster).

    >>> list(op_map([1, -2], abs))
    [1, 2]
    """
    if func is json.loads:
        return loads_each(it)
    return map(func, it)


def op_map_args(it: Iterable, func: Callable, spec: Any, *others: Iterable) -> Iterator:
    """``func`` called with a template of arguments in which ``BagArg(0)`` is
    this partition's element and ``BagArg(k)`` the k-th zipped bag's element.

    >>> list(op_map_args([1, 2], pow, Packed((BagArg(0), 2), {})))
    [1, 4]
    """
    template, kwtemplate = unpack(spec)
    if not others and template[:1] == (BagArg(0),) and _no_slots(template[1:], kwtemplate):
        rest = template[1:]
        return (func(x, *rest, **kwtemplate) for x in it)
    rows = zip(it, *others, strict=True) if others else ((x,) for x in it)
    return _map_rows(rows, func, template, kwtemplate)


def _no_slots(args: tuple, kwargs: dict) -> bool:
    return not any(type(a) is BagArg for a in args) and not any(
        type(v) is BagArg for v in kwargs.values()
    )


def _map_rows(rows: Iterable, func: Callable, template: tuple, kwtemplate: dict) -> Iterator:
    for values in rows:
        args, kwargs = _fill(template, kwtemplate, values)
        yield func(*args, **kwargs)


def op_starmap(it: Iterable, func: Callable, spec: Any) -> Iterator:
    """``func(*x, **kwargs)`` for each element.

    >>> list(op_starmap([(2, 3)], pow, Packed((), {})))
    [8]
    """
    _, kwargs = unpack(spec)
    if kwargs:
        return (func(*x, **kwargs) for x in it)
    return itertools.starmap(func, it)


def op_filter(it: Iterable, predicate: Callable) -> Iterator:
    """Elements for which ``predicate`` is true.

    >>> list(op_filter([0, 1, 2], bool))
    [1, 2]
    """
    return filter(predicate, it)


def op_remove(it: Iterable, predicate: Callable) -> Iterator:
    """Elements for which ``predicate`` is false.

    >>> list(op_remove([0, 1, 2], bool))
    [0]
    """
    return itertools.filterfalse(predicate, it)


def op_flatten(it: Iterable) -> Iterator:
    """Concatenate the elements (each an iterable).

    >>> list(op_flatten([[1], [], [2, 3]]))
    [1, 2, 3]
    """
    return itertools.chain.from_iterable(it)


def op_pluck(it: Iterable, key: Any, as_tuple: bool) -> Iterator:
    """``x[key]`` (or a tuple of ``x[k]`` for a list of keys) for each element;
    a missing key raises an error naming it.

    >>> list(op_pluck([{"a": 1}], "a", False))
    [1]
    """
    get = itemgetter(*key) if as_tuple else itemgetter(key)
    if as_tuple and len(key) == 1:
        single = get
        get = lambda x: (single(x),)  # noqa: E731 - itemgetter of one key is not a tuple
    try:
        yield from map(get, it)
    except (KeyError, IndexError) as e:
        raise type(e)(
            f"pluck: an element has no key {e.args[0] if e.args else key!r} "
            f"(plucking {key!r}); pass default= to fill missing keys"
        ) from e


def op_pluck_default(it: Iterable, key: Any, as_tuple: bool, default: Any) -> Iterator:
    """Like ``op_pluck``, with ``default`` for missing keys.

    >>> list(op_pluck_default([{"a": 1}, {}], "a", False, 0))
    [1, 0]
    """
    keys = key if as_tuple else (key,)
    for x in it:
        values = []
        for k in keys:
            try:
                values.append(x[k])
            except (KeyError, IndexError):
                values.append(default)
        yield tuple(values) if as_tuple else values[0]


def op_with_path(it: Iterable, path: str) -> Iterator:
    """``(line, path)`` pairs (``read_text(include_path=True)``).

    >>> list(op_with_path(["a"], "f.txt"))
    [('a', 'f.txt')]
    """
    return zip(it, itertools.repeat(path))


def op_map_partition(it: Iterable, func: Callable, spec: Any, *others: Iterable) -> Iterator:
    """``func`` applied to the whole partition (a list); ``BagArg(k)`` in the
    template stands for the k-th zipped bag's partition (a list).

    >>> list(op_map_partition(iter([3, 1]), sorted, Packed((BagArg(0),), {})))
    [1, 3]
    """
    template, kwtemplate = unpack(spec)
    parts = (list(it),) + tuple(o if type(o) is list else list(o) for o in others)
    args, kwargs = _fill(template, kwtemplate, parts)
    return _as_partition(func(*args, **kwargs))


def op_stream_partition(it: Iterable, func: Callable, spec: Any, *others: Iterable) -> Iterator:
    """Like ``op_map_partition``, but the partitions reach ``func`` as
    one-pass iterators, never materialized here.

    >>> list(op_stream_partition([3, 1], enumerate, Packed((BagArg(0),), {})))
    [(0, 3), (1, 1)]
    """
    template, kwtemplate = unpack(spec)
    parts = (iter(it),) + tuple(iter(o) for o in others)
    args, kwargs = _fill(template, kwtemplate, parts)
    return _as_partition(func(*args, **kwargs))


def _as_partition(out: Any) -> Iterator:
    try:
        return iter(out)
    except TypeError:
        raise TypeError(
            f"map_partitions: the function returned {type(out).__name__}, expected an "
            "iterable (the new partition)"
        ) from None


def as_iterator(it: Iterable) -> Iterator:
    """Finish a chain lazily (for a zipped bag consumed in the same task).

    >>> next(as_iterator([1, 2]))
    1
    """
    return iter(it)
