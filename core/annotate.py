"""Task annotations: where, when and how often a collection's tasks run.

``shoal.annotate(...)`` is a context manager; every plan node built inside it
(any array, dataframe, bag or delayed operation) carries the annotations, and
the tasks built from that node carry them to the scheduler:

=====================  ==============================================================
``priority``           int; higher runs first (ties: first submitted, first run)
``retries``            int >= 0; a task that raises runs again up to this many times
``workers``            an address, a name or a list of them the task must run on
``allow_other_workers``  bool; ``workers`` is a preference, not a requirement
``resources``          ``{"GPU": 1}``: what the task holds, per worker, while it runs
``concurrency``        ``{"s3-reads": 16}``: the task holds one of 16 slots of the
                       cluster-wide pool ``s3-reads`` while it runs
=====================  ==============================================================

Annotations live on the plan nodes, not in the keys: rewrites (simplify,
lower) carry a node's annotations to the nodes that replace it, and when
several nodes are fused into one task the task takes ``merge_annotations``
of them all (the highest priority and retries, the union of resources and
pools, the intersection of worker restrictions).

The annotations in force are kept in a context variable, so threads and
asyncio tasks each see their own.

>>> import shoal
>>> with shoal.annotate(priority=10, retries=2):
...     with shoal.annotate(priority=20):
...         current_annotations()
{'priority': 20, 'retries': 2}
>>> current_annotations() is None
True
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

__all__ = [
    "annotate",
    "current_annotations",
    "merge_annotations",
    "normalize_annotations",
    "annotate_nodes",
    "ANNOTATIONS",
    "KNOWN",
]

#: the annotations in force (None: none), read by ``Expr`` when a node is built
ANNOTATIONS: ContextVar[Mapping[str, Any] | None] = ContextVar("shoal_annotations", default=None)

KNOWN = ("priority", "retries", "workers", "allow_other_workers", "resources", "concurrency")


def _amounts(name: str, value: Any, what: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{what}: {name} must be a dict of name -> amount, e.g. {{'GPU': 1}}; "
            f"got {type(value).__name__}"
        )
    out: dict[str, float] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            raise TypeError(f"{what}: {name} names must be non-empty strings, got {k!r}")
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not float(v) > 0:
            raise ValueError(f"{what}: {name}[{k!r}] must be a positive number, got {v!r}")
        out[k] = float(v)
    return out


def normalize_annotations(annotations: Mapping[str, Any], what: str = "annotate") -> dict[str, Any]:
    """Validate annotations and put them in canonical form: ``workers`` a
    tuple of strings, ``resources`` floats, ``concurrency`` ints, None values
    dropped. Bad input raises naming the annotation and what was expected.

    >>> normalize_annotations({"workers": "tcp://a:1", "priority": 2, "retries": None})
    {'workers': ('tcp://a:1',), 'priority': 2}
    >>> normalize_annotations({"prio": 1})
    Traceback (most recent call last):
    ...
    TypeError: annotate: unknown annotation 'prio'; known: priority, retries, workers, allow_other_workers, resources, concurrency
    """
    out: dict[str, Any] = {}
    for name, value in annotations.items():
        if name not in KNOWN:
            raise TypeError(f"{what}: unknown annotation {name!r}; known: {', '.join(KNOWN)}")
        if value is None:
            continue
        if name in ("priority", "retries"):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{what}: {name} must be an int, got {value!r}")
            if name == "retries" and value < 0:
                raise ValueError(f"{what}: retries must be >= 0, got {value}")
            out[name] = int(value)
        elif name == "workers":
            items = (value,) if isinstance(value, str) else tuple(value)
            if not items or not all(isinstance(w, str) and w for w in items):
                raise TypeError(
                    f"{what}: workers must be a worker address or name, or a non-empty list "
                    f"of them; got {value!r}"
                )
            out[name] = items
        elif name == "allow_other_workers":
            if not isinstance(value, bool):
                raise TypeError(f"{what}: allow_other_workers must be True or False, got {value!r}")
            out[name] = value
        elif name == "resources":
            out[name] = _amounts(name, value, what)
        else:  # concurrency: pool -> how many tasks of the pool may run at once
            limits = _amounts(name, value, what)
            for pool, n in limits.items():
                if n != int(n):
                    raise ValueError(f"{what}: concurrency[{pool!r}] must be a whole number")
            out[name] = {pool: int(n) for pool, n in limits.items()}
    return out


@contextlib.contextmanager
def annotate(**annotations: Any) -> Iterator[None]:
    """Annotate the tasks of every collection built inside the block (see the
    module docstring for the annotations). Nested blocks add to the outer
    ones; an inner value replaces an outer one.

    >>> import shoal, operator
    >>> with shoal.annotate(priority=5, retries=1):
    ...     x = shoal.delayed(operator.add)(1, 2)
    >>> x.compute()
    3
    >>> [t.annotations for t in x.__shoal_graph__().values()]
    [{'priority': 5, 'retries': 1}]
    """
    new = normalize_annotations(annotations)
    outer = ANNOTATIONS.get()
    merged = {**outer, **new} if outer else new
    token = ANNOTATIONS.set(merged or None)
    try:
        yield
    finally:
        ANNOTATIONS.reset(token)


def current_annotations() -> dict[str, Any] | None:
    """The annotations in force here (a copy), or None.

    >>> current_annotations() is None
    True
    """
    found = ANNOTATIONS.get()
    return dict(found) if found else None


def merge_annotations(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The annotations of one task made of the work of two annotated parts
    (fusion): the higher ``priority`` and ``retries``; the union of
    ``resources`` and ``concurrency`` (the larger amount, the smaller pool
    limit); the intersection of ``workers`` (both lists when it is empty, so
    the task can still run); ``allow_other_workers`` only if both allow.

    >>> merge_annotations({"priority": 1, "resources": {"GPU": 1.0}},
    ...                   {"priority": 3, "resources": {"GPU": 2.0, "RAM": 1.0}})
    {'priority': 3, 'resources': {'GPU': 2.0, 'RAM': 1.0}}
    >>> merge_annotations({"workers": ("a", "b")}, {"workers": ("b", "c")})
    {'workers': ('b',)}
    """
    if not a:
        return b
    if not b or a is b:
        return a
    out = dict(a)
    for name, value in b.items():
        mine = out.get(name)
        if mine is None:
            out[name] = value
        elif name in ("priority", "retries"):
            out[name] = max(mine, value)
        elif name == "resources":
            out[name] = {k: max(mine.get(k, 0.0), v) for k, v in value.items()} | {
                k: v for k, v in mine.items() if k not in value
            }
        elif name == "concurrency":
            out[name] = {k: min(mine.get(k, v), v) for k, v in value.items()} | {
                k: v for k, v in mine.items() if k not in value
            }
        elif name == "workers":
            both = tuple(w for w in mine if w in value)
            out[name] = both or tuple(dict.fromkeys((*mine, *value)))
        elif name == "allow_other_workers":
            out[name] = mine and value
    return out


def annotate_nodes(nodes: Iterable[Any], annotations: Mapping[str, Any]) -> None:
    """Give every task among ``nodes`` (graph values) ``annotations``,
    merged with those it has (``merge_annotations``); data is left alone.

    >>> from shoal.core.task import Task
    >>> t = Task(abs, -1).annotate(priority=1)
    >>> annotate_nodes([t, 5], {"priority": 2, "retries": 1})
    >>> t.annotations
    {'priority': 2, 'retries': 1}
    """
    from shoal.core.task import Fused, Task

    shared = dict(annotations)  # one dict for every task without annotations of its own
    for node in nodes:
        typ = type(node)
        if typ is Task or typ is Fused:
            own = node.annotations
            node.annotations = dict(merge_annotations(own, shared) or {}) if own else shared
