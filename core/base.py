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

The backend protocol (docs/backends.md) has one blocking call every backend
answers, ``get(graph, keys, **options) -> values``: the local schedulers are
such functions, a shoal.distributed ``Client`` has such a method. Engines
that run whole graphs elsewhere (Ray, dask.distributed) subclass
``SubmittingBackend`` and implement three small steps; its ``get`` drives them:

    get(graph, keys)
      GraphSubmission: cull, validate, static order     (nothing has run yet)
      backend.submit(submission) -> Submission          keys, priorities, annotations
      loop: submission.wait(0.1) -> finished keys       progress callbacks; Ctrl-C
      submission.results()                              the outputs' values
      on an error or an interrupt: submission.cancel()
"""

from __future__ import annotations

import importlib
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from shoal.core import config
from shoal.core.diagnostics.callbacks import Callback, active_callbacks
from shoal.core.fuse import fuse_linear
from shoal.core.graph import flatten_keys, pack_results
from shoal.core.layers import LayeredGraph
from shoal.core.local import BACKENDS
from shoal.core.order import order_graph
from shoal.core.task import Fused, Task

__all__ = [
    "is_collection",
    "compute",
    "persist",
    "optimize",
    "visualize",
    "get_scheduler",
    "register_scheduler",
    "register_backend_adapter",
    "Backend",
    "GraphSubmission",
    "Submission",
    "SubmittingBackend",
    "note_failed_key",
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


# Backends in other rooms (shoal.backends), imported on first use so that
# ``import shoal`` stays light: name -> "module:attribute" of a ``get``.
_LAZY_SCHEDULERS: dict[str, str] = {
    "ray": "shoal.backends.ray_engine:get_ray",
    "dask": "shoal.backends.dask_engine:get_dask",
}
# Objects of other engines accepted as ``scheduler=``, matched by the top-level
# package and the name of a class in their type's MRO (so that core never
# imports those engines): (package, class name) -> "module:attribute" of a
# function that wraps the object into a backend.
_ADAPTERS: dict[tuple[str, str], str] = {
    ("distributed", "Client"): "shoal.backends.dask_engine:DaskBackend",
}


def register_scheduler(name: str, get: Callable[..., Any] | str) -> None:
    """Make ``get(graph, keys, **options)`` available as ``scheduler=name``.

    ``get`` may be given as ``"module:attribute"``: it is imported on first use.

    >>> from shoal.core.local import get_sync
    >>> register_scheduler("my-sync", get_sync)
    >>> get_scheduler("my-sync") is get_sync
    True
    >>> register_scheduler("my-lazy-sync", "shoal.core.local:get_sync")
    >>> get_scheduler("my-lazy-sync") is get_sync
    True
    """
    key = name.lower()
    if isinstance(get, str):
        _check_import_path(get)
        BACKENDS.pop(key, None)
        _LAZY_SCHEDULERS[key] = get
    else:
        _LAZY_SCHEDULERS.pop(key, None)
        BACKENDS[key] = get


def register_backend_adapter(package: str, class_name: str, adapter: str) -> None:
    """Accept objects of another engine as ``scheduler=``: an object whose type
    (or a base class) is named ``class_name`` and comes from the top-level
    ``package`` is passed to ``adapter`` (``"module:attribute"``, imported on
    first use), which returns a backend.

    >>> register_backend_adapter("distributed", "Client", "shoal.backends.dask_engine")
    Traceback (most recent call last):
    ValueError: expected 'module:attribute', got 'shoal.backends.dask_engine'
    """
    _check_import_path(adapter)
    _ADAPTERS[(package, class_name)] = adapter


def _check_import_path(path: str) -> None:
    module, _, attribute = path.partition(":")
    if not module or not attribute:
        raise ValueError(f"expected 'module:attribute', got {path!r}")


def _load(path: str, what: str) -> Any:
    module, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except ImportError as e:
        raise ImportError(
            f"{what} needs {module} ({path}), which could not be imported: {e}"
        ) from e


def _adapter_for(choice: Any) -> str | None:
    for cls in type(choice).__mro__:
        path = _ADAPTERS.get((cls.__module__.partition(".")[0], cls.__qualname__))
        if path is not None:
            return path
    return None


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
        name = choice.lower()
        found = BACKENDS.get(name)
        if found is not None:
            return found
        lazy = _LAZY_SCHEDULERS.get(name)
        if lazy is not None:
            get: Callable[..., Any] = _load(lazy, f"scheduler={choice!r}")
            return get
        names = ", ".join(sorted({*BACKENDS, *_LAZY_SCHEDULERS}))
        raise ValueError(
            f"unknown scheduler {choice!r}; expected one of {names}, a function "
            "get(graph, keys), a backend object (shoal.backends) or a Client"
        )
    adapter = _adapter_for(choice)
    if adapter is not None:
        return _resolve(_load(adapter, f"a {type(choice).__qualname__} scheduler")(choice))
    method: Callable[..., Any] | None = getattr(choice, "get", None)
    if callable(method) and not isinstance(choice, Mapping):
        return method
    if callable(choice):
        function: Callable[..., Any] = choice
        return function
    raise TypeError(
        "scheduler must be a name, a function get(graph, keys), a backend object "
        f"(shoal.backends) or a Client, got {choice!r}"
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


# ------------------------------------------------------------------ backends


@runtime_checkable
class Backend(Protocol):
    """The one call every backend answers: compute ``keys`` (a key or a nested
    list of keys) of ``graph`` and return their values in the same nesting.

    The local schedulers are such functions; a shoal.distributed ``Client``
    and every ``SubmittingBackend`` have such a method. A backend runs tasks
    in the graph's static order (``core/order.py``) or by its own scheduler's
    priorities, honours the annotations it supports (``retries``,
    ``resources``, ``priority``), raises a task's exception with its own type
    and a note naming the key, cancels what is left on an error or Ctrl-C,
    and calls the active callbacks (at least ``start``, ``posttask`` and
    ``finish``).

    >>> class Echo:
    ...     def get(self, graph, keys, **options):
    ...         return keys
    >>> isinstance(Echo(), Backend), get_scheduler(Echo())({}, ["a"])
    (True, ['a'])
    """

    def get(self, graph: Mapping[Any, Any], keys: Any, **options: Any) -> Any: ...


class GraphSubmission:
    """A graph as handed to ``SubmittingBackend.submit``: culled to the
    requested outputs, validated and in shoal's static order, all before any
    task runs.

    Position ``i`` in ``keys``, ``nodes``, ``dependencies`` (positions) and
    ``dependents`` (counts) is the task's priority: 0 runs first, and every
    task comes after its dependencies. ``annotations`` maps the positions of
    annotated tasks to their annotations; ``outputs`` are the requested keys.

    >>> from shoal.core.task import Task, Ref
    >>> g = {"a": 1, "b": Task(abs, Ref("a")).annotate(retries=2), "unused": 3}
    >>> s = GraphSubmission(g, ["b"])
    >>> s.keys, s.dependencies, s.dependents, s.annotations
    (['a', 'b'], [(), (0,)], [1, 0], {1: {'retries': 2}})
    >>> s.output_positions()
    [1]
    """

    __slots__ = ("keys", "nodes", "dependencies", "dependents", "outputs", "annotations")

    def __init__(self, graph: Mapping[Any, Any], outputs: Sequence[Any]):
        self.outputs = list(outputs)
        self.keys, self.nodes, self.dependencies, self.dependents = order_graph(graph, self.outputs)
        annotations: dict[int, dict[Any, Any]] = {}
        for i, node in enumerate(self.nodes):
            typ = type(node)
            if typ is Task or typ is Fused:
                found = node.annotations
                if found:
                    annotations[i] = found
        self.annotations = annotations

    def output_positions(self) -> list[int]:
        """The position of each output, in the order of ``outputs``."""
        wanted = set(self.outputs)
        position = {k: i for i, k in enumerate(self.keys) if k in wanted}
        return [position[k] for k in self.outputs]

    def graph(self) -> dict[Any, Any]:
        """The culled graph as a dict (what the callbacks' ``start`` receives)."""
        return dict(zip(self.keys, self.nodes))


class Submission(Protocol):
    """A graph running on an engine, as returned by ``SubmittingBackend.submit``."""

    def wait(self, timeout: float) -> tuple[list[Any], bool]:
        """Wait up to ``timeout`` seconds; return the keys finished since the
        last call and whether every task has finished. A task's error is
        raised here (see ``note_failed_key``)."""
        ...

    def results(self) -> list[Any]:
        """The values of the submission's outputs, in order (after ``wait``
        said every task finished)."""
        ...

    def cancel(self) -> None:
        """Stop the tasks that have not finished and forget the results."""
        ...


def note_failed_key(exc: BaseException, key: Any) -> BaseException:
    """Add the note naming the task that raised ``exc`` (once) and return it.

    >>> note_failed_key(ValueError("bad"), ("x", 0)).__notes__
    ["shoal: raised while computing task ('x', 0)"]
    """
    note = f"shoal: raised while computing task {key!r}"
    if note not in (getattr(exc, "__notes__", None) or []):
        exc.add_note(note)
    return exc


class SubmittingBackend(ABC):
    """Base class of the backends that hand a whole graph to an engine.

    A subclass implements ``submit``; ``get`` (the ``Backend`` protocol) does
    the rest: it builds the ``GraphSubmission`` (bad graphs fail here, before
    anything runs), calls the callbacks (``posttask`` gets ``None`` for the
    result, which stays on the engine, and the backend's ``worker_name``),
    polls the submission in short slices so that Ctrl-C is seen, cancels it
    on any error and returns the values in the nesting of ``keys``.

    >>> class Inline(SubmittingBackend):
    ...     def submit(self, graph, **options):
    ...         return InlineRun(graph)
    >>> class InlineRun:
    ...     def __init__(self, graph):
    ...         self.graph, self.values = graph, {}
    ...     def wait(self, timeout):
    ...         for key, node in zip(self.graph.keys, self.graph.nodes):
    ...             self.values[key] = node(self.values) if callable(node) else node
    ...         return list(self.graph.keys), True
    ...     def results(self):
    ...         return [self.values[k] for k in self.graph.outputs]
    ...     def cancel(self):
    ...         self.values.clear()
    >>> from shoal.core.task import Task, Ref
    >>> Inline().get({"a": 1, "b": Task(abs, Ref("a"))}, ["b", ["a"]])
    [1, [1]]
    """

    worker_name: str = "engine"
    #: options of ``compute`` that mean something to the local pools only
    ignored_options: tuple[str, ...] = ("num_workers",)

    @abstractmethod
    def submit(self, graph: GraphSubmission, **options: Any) -> Submission:
        """Start running ``graph`` on the engine; return at once."""

    def get(
        self,
        graph: Mapping[Any, Any],
        keys: Any,
        callbacks: Sequence[Callback] | None = None,
        **options: Any,
    ) -> Any:
        """Compute ``keys`` of ``graph`` on the engine (the ``Backend`` protocol)."""
        for name in self.ignored_options:
            options.pop(name, None)
        submission = GraphSubmission(graph, flatten_keys(keys))
        cbs = [*active_callbacks(), *(callbacks or ())]
        posttask = [cb.posttask for cb in cbs if cb.posttask is not None]
        culled = submission.graph() if cbs else {}
        for cb in cbs:
            if cb.start is not None:
                cb.start(culled)
        errored = True
        try:
            values = self._drive(submission, posttask, options)
            errored = False
        finally:
            for cb in cbs:
                if cb.finish is not None:
                    cb.finish(culled, errored)
        return pack_results(keys, dict(zip(submission.outputs, values)))

    def _drive(
        self,
        submission: GraphSubmission,
        posttask: list[Callable[[Any, Any, Any], Any]],
        options: dict[str, Any],
    ) -> list[Any]:
        running = self.submit(submission, **options)
        try:
            done = False
            while not done:
                finished, done = running.wait(0.1)
                for f in posttask:
                    for key in finished:
                        f(key, None, self.worker_name)
            return running.results()
        except BaseException:
            running.cancel()
            raise


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
    engine: str | None = None,
    **kwargs: Any,
) -> Any:
    """Draw the task graph of collections with graphviz (optional extra ``viz``).

    Nodes show key prefixes and block indices (``sum-aggregate (0, 1)``), not
    hashes. ``color="order"`` fills them by the order the scheduler runs them;
    ``optimize_graph=True`` draws the graph after linear-chain fusion. Writes
    ``filename`` in ``format`` (else the file name's extension, else png;
    ``.dot`` writes graphviz source and needs nothing installed) and returns
    the graphviz object, or the dot source for ``.dot`` and ``filename=None``.
    ``engine`` is accepted for Dask code: graphviz draws every engine, with a
    warning for ``"cytoscape"``.

    >>> from shoal import delayed
    >>> source = visualize(delayed(abs)(-1, shoal_key_name="x"), filename=None, color="order")
    >>> source.startswith("digraph") and 'label="x"' in source
    True
    """
    from shoal.core.dot import render

    if kwargs:
        raise TypeError(
            f"visualize() got unexpected keyword arguments {sorted(kwargs)}; expected filename, "
            "format, optimize_graph, color, rankdir, engine"
        )
    if engine in ("cytoscape", "ipycytoscape"):
        warnings.warn(
            f"visualize(engine={engine!r}): shoal draws task graphs with graphviz only",
            UserWarning,
            stacklevel=2,
        )
    elif engine not in (None, "graphviz"):
        raise ValueError(f"visualize: unknown engine {engine!r}; expected 'graphviz'")
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
