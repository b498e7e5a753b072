"""The collection protocol, and compute / persist / optimize / visualize.

A shoal collection is any object whose type defines:

- ``__shoal_graph__() -> Mapping``: its task graph (key -> node): a dict, or a
  ``LayeredGraph`` (``core/layers.py``) that stores block keys compactly;
- ``__shoal_keys__() -> key | nested list of keys``: the outputs;
- ``__shoal_postcompute__() -> (finalize, extra_args)``: ``finalize(results,
  *extra_args)`` turns the computed outputs (same nesting as the keys) into
  the user's value (e.g. concatenates blocks);
- ``__shoal_postpersist__() -> (rebuild, extra_args)``: ``rebuild(graph,
  *extra_args)`` makes a new collection of the same kind from a graph whose
  output keys hold results (persist) or optimized tasks (optimize);
- optionally ``__shoal_scheduler__``: the backend used when nothing else is
  chosen (bags use "processes");
- optionally a classmethod ``__shoal_graph_together__(collections)``: one graph
  for several collections of its type computed together (arrays use it to make
  a block read by several reductions once).

The backend of a computation is chosen in this order: the ``scheduler=``
argument, config ``scheduler``, the most recent active distributed client,
the collection's ``__shoal_scheduler__``, and finally "threads".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from shoal.core import config
from shoal.core.fuse import fuse_linear
from shoal.core.graph import flatten_keys
from shoal.core.layers import LayeredGraph
from shoal.core.local import BACKENDS

__all__ = [
    "is_collection",
    "compute",
    "persist",
    "optimize",
    "visualize",
    "get_scheduler",
    "register_scheduler",
    "push_active_backend",
    "remove_active_backend",
    "collections_to_graph",
    "finalize_collection",
]

_backend_lock = threading.Lock()
_active_backends: list[Any] = []


def is_collection(obj: Any) -> bool:
    """True for shoal collections (objects implementing ``__shoal_graph__``).

    >>> from shoal import delayed
    >>> is_collection(delayed(1)), is_collection([1])
    (True, False)
    """
    return hasattr(type(obj), "__shoal_graph__") and not isinstance(obj, type)


def _check_foreign(obj: Any) -> None:
    typ = type(obj)
    if hasattr(typ, "__dask_graph__") and not hasattr(typ, "__shoal_graph__"):
        raise TypeError(
            f"{typ.__module__}.{typ.__qualname__} is a Dask collection, not a shoal one; "
            "shoal cannot compute it. Compute it with Dask, or build it with shoal "
            "(e.g. shoal.array.from_array / shoal.dataframe.from_pandas on its values)."
        )


def register_scheduler(name: str, get: Callable[..., Any]) -> None:
    """Make ``get(graph, keys, **options)`` available as ``scheduler=name``.

    >>> from shoal.core.local import get_sync
    >>> register_scheduler("my-sync", get_sync)
    >>> get_scheduler("my-sync") is get_sync
    True
    """
    BACKENDS[name] = get


def push_active_backend(backend: Any) -> None:
    """Make ``backend`` (an object with ``.get``) the default while it lives;
    used by a distributed client when it starts."""
    with _backend_lock:
        _active_backends.append(backend)


def remove_active_backend(backend: Any) -> None:
    """Undo ``push_active_backend`` (a client calls it on close)."""
    with _backend_lock:
        if backend in _active_backends:
            _active_backends.remove(backend)


def _resolve(choice: Any) -> Callable[..., Any]:
    if isinstance(choice, str):
        try:
            return BACKENDS[choice.lower()]
        except KeyError:
            names = ", ".join(sorted(BACKENDS))
            raise ValueError(
                f"unknown scheduler {choice!r}; expected one of {names}, a function "
                "get(graph, keys), or a distributed Client"
            ) from None
    get: Callable[..., Any] | None = getattr(choice, "get", None)
    if callable(get) and not isinstance(choice, Mapping):
        return get
    if callable(choice):
        function: Callable[..., Any] = choice
        return function
    raise TypeError(
        f"scheduler must be a name, a function get(graph, keys) or a Client, got {choice!r}"
    )


def get_scheduler(scheduler: Any = None, collections: tuple[Any, ...] = ()) -> Callable[..., Any]:
    """The backend's ``get`` function for a computation (see module docstring).

    >>> get_scheduler("sync").__name__
    'get_sync'
    """
    if scheduler is not None:
        return _resolve(scheduler)
    configured = config.get("scheduler", None)
    if configured is not None:
        return _resolve(configured)
    with _backend_lock:
        active = _active_backends[-1] if _active_backends else None
    if active is not None:
        return _resolve(active)
    for c in collections:
        default = getattr(type(c), "__shoal_scheduler__", None)
        if default is not None:
            return _resolve(default)
    return BACKENDS["threads"]


def _find_collections(args: tuple[Any, ...], traverse: bool) -> list[Any]:
    """Collections inside ``args`` (looking into lists, tuples, sets and dicts)."""
    found: list[Any] = []
    seen: set[Any] = set()

    def visit(obj: Any) -> None:
        if is_collection(obj):
            if id(obj) not in seen:
                seen.add(id(obj))
                found.append(obj)
            return
        _check_foreign(obj)
        if not traverse:
            return
        typ = type(obj)
        if typ in (list, tuple, set, frozenset):
            for item in obj:
                visit(item)
        elif typ is dict:
            for item in obj.values():
                visit(item)

    for a in args:
        visit(a)
    return found


def _replace(obj: Any, values: dict[Any, Any], traverse: bool) -> Any:
    if is_collection(obj):
        return values[id(obj)]
    if not traverse:
        return obj
    typ = type(obj)
    if typ in (list, tuple, set, frozenset):
        return typ(_replace(x, values, traverse) for x in obj)
    if typ is dict:
        return {k: _replace(v, values, traverse) for k, v in obj.items()}
    return obj


def finalize_collection(results: Any, finalize: Callable[..., Any], extra: tuple[Any, ...]) -> Any:
    """``finalize(results, *extra)``: a collection's ``__shoal_postcompute__``
    applied to its computed blocks, as a task.

    >>> finalize_collection([1, 2], sum, ())
    3
    """
    return finalize(results, *extra)


def collections_to_graph(
    collections: list[Any], optimize_graph: bool = True
) -> tuple[LayeredGraph, list[Any]]:
    """One merged graph for several collections, and their keys (one entry each).

    The graph is a ``LayeredGraph``: collections that build their blocks as
    layers keep them compact, and layers of the same name are shared.

    >>> from shoal import delayed
    >>> graph, keys = collections_to_graph([delayed(1, name="one")])
    >>> keys, graph["one"]
    (['one'], 1)
    """
    graph = LayeredGraph()
    keys: list[Any] = []
    together: dict[
        Any, Any
    ] = {}  # a type's __shoal_graph_together__(collections) builds them as one
    for c in collections:
        build = getattr(type(c), "__shoal_graph_together__", None)
        if build is None:
            graph.update(c.__shoal_graph__())
        else:
            together.setdefault(build, []).append(c)
        keys.append(c.__shoal_keys__())
    for build, group in together.items():
        graph.update(build(group))
    if optimize_graph and config.get("optimization.fuse.active"):
        graph = fuse_linear(graph, flatten_keys(keys))
    return graph, keys


def compute(
    *args: Any,
    scheduler: Any = None,
    optimize_graph: bool = True,
    traverse: bool = True,
    **kwargs: Any,
) -> tuple[Any, ...]:
    """Compute several collections at once, sharing their common work.

    Collections may sit inside lists, tuples, sets and dicts; other values pass
    through unchanged. Returns a tuple with one entry per argument.
    ``**kwargs`` go to the backend (``num_workers``, ``callbacks``).

    >>> from shoal import delayed
    >>> a = delayed(1) + 1
    >>> compute(a, [a, 10])
    (2, [2, 10])
    """
    collections = _find_collections(args, traverse)
    if not collections:
        return args
    get = get_scheduler(scheduler, tuple(collections))
    graph, keys = collections_to_graph(collections, optimize_graph)
    results = get(graph, keys, **kwargs)
    values = {}
    for c, r in zip(collections, results):
        finalize, extra = c.__shoal_postcompute__()
        values[id(c)] = finalize(r, *extra)
    return tuple(_replace(a, values, traverse) for a in args)


def persist(
    *args: Any, scheduler: Any = None, optimize_graph: bool = True, **kwargs: Any
) -> tuple[Any, ...]:
    """Compute collections and return new ones backed by their results.

    >>> from shoal import delayed
    >>> (p,) = persist(delayed(1) + 1)
    >>> p.compute()
    2
    """
    collections = _find_collections(args, True)
    if not collections:
        return args
    get = get_scheduler(scheduler, tuple(collections))
    persist_hook = getattr(get, "__self__", None)
    if persist_hook is not None and hasattr(persist_hook, "persist"):
        out = persist_hook.persist(list(collections), optimize_graph=optimize_graph, **kwargs)
        values = {id(c): o for c, o in zip(collections, out)}
        return tuple(_replace(a, values, True) for a in args)
    graph, keys = collections_to_graph(collections, optimize_graph)
    results = get(graph, keys, **kwargs)
    values = {}
    for c, ks, r in zip(collections, keys, results):
        rebuild, extra = c.__shoal_postpersist__()
        values[id(c)] = rebuild(_pair_results(ks, r, {}), *extra)
    return tuple(_replace(a, values, True) for a in args)


def _pair_results(keys: Any, results: Any, out: dict[Any, Any]) -> dict[Any, Any]:
    """``{key: result}`` walking keys and results in step; results are not
    flattened themselves (a bag partition is a list)."""
    if type(keys) is list:
        for k, r in zip(keys, results):
            _pair_results(k, r, out)
    else:
        out[keys] = results
    return out


def optimize(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """Return equivalent collections whose graphs are already optimized.

    >>> from shoal import delayed
    >>> (o,) = optimize(delayed(abs)(-1))
    >>> o.compute()
    1
    """
    collections = _find_collections(args, True)
    if not collections:
        return args
    graph, _ = collections_to_graph(collections, optimize_graph=True)
    values = {}
    for c in collections:
        rebuild, extra = c.__shoal_postpersist__()
        values[id(c)] = rebuild(graph, *extra)
    return tuple(_replace(a, values, True) for a in args)


def visualize(
    *args: Any,
    filename: str | None = "shoal-graph",
    format: str | None = None,
    optimize_graph: bool = False,
    color: str | None = None,
    rankdir: str = "BT",
    **kwargs: Any,
) -> Any:
    """Draw the task graph of collections with graphviz (optional extra ``viz``).

    Nodes show key prefixes and block indices (``sum-aggregate (0, 1)``), not
    hashes. ``color="order"`` fills them by the order the scheduler runs them;
    ``optimize_graph=True`` draws the graph after linear-chain fusion. Writes
    ``filename`` in ``format`` (else the file name's extension, else png;
    ``.dot`` writes graphviz source and needs nothing installed) and returns
    the graphviz object, or the dot source for ``.dot`` and ``filename=None``.

    >>> from shoal import delayed
    >>> source = visualize(delayed(abs)(-1, shoal_key_name="x"), filename=None, color="order")
    >>> source.startswith("digraph") and 'label="x"' in source
    True
    """
    from shoal.core.dot import render

    if kwargs:
        raise TypeError(
            f"visualize() got unexpected keyword arguments {sorted(kwargs)}; expected filename, "
            "format, optimize_graph, color, rankdir"
        )
    collections = _find_collections(args, True)
    if not collections:
        raise TypeError("visualize() needs at least one shoal collection to draw")
    graph, keys = collections_to_graph(collections, optimize_graph)
    return render(
        graph,
        filename=filename,
        format=format,
        color=color,
        rankdir=rankdir,
        outputs=flatten_keys(keys),
    )


class CollectionMethods:
    """Mixin giving a collection ``compute``, ``persist`` and ``visualize``."""

    __slots__ = ()

    def compute(self, **kwargs: Any) -> Any:
        """Compute this collection and return its value (see ``shoal.compute``)."""
        (value,) = compute(self, traverse=False, **kwargs)
        return value

    def persist(self, **kwargs: Any) -> Any:
        """Compute into memory and return a collection backed by the results."""
        (value,) = persist(self, **kwargs)
        return value

    def visualize(self, filename: str | None = "shoal-graph", **kwargs: Any) -> Any:
        """Draw this collection's task graph (see ``shoal.visualize``)."""
        return visualize(self, filename=filename, **kwargs)
