"""Run shoal graphs on a dask.distributed cluster: ``compute(scheduler=client)``.

Policy:

- The graph is translated once into dask's task spec (``dask_spec.py``) and
  sent with one ``Client.get(..., sync=False)``; dask's scheduler and
  workers run it with their own machinery (queuing, work stealing,
  spilling, the dashboard). No shoal code wraps the tasks at run time.
- Priorities: shoal's static order, as a per-key ``priority`` annotation
  (dask runs higher values first); a task's own ``priority`` annotation
  ranks above the order. ``retries``, ``resources``, ``workers`` and
  ``allow_other_workers`` annotations become dask's per-key annotations;
  ``retries=``, ``resources=``, ``workers=`` passed to ``compute`` apply to
  every task, as in ``Client.get``.
- The driver waits on the outputs' futures in short slices (so Ctrl-C is
  seen), raises a failed task's own exception with the key that failed
  (asked of the scheduler) and cancels the futures on an error or an
  interrupt. Callbacks see the outputs finish as they do; per-task progress
  is on dask's dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal.backends.dask_spec import to_dask_graph
from shoal.core.base import GraphSubmission, SubmittingBackend, note_failed_key

__all__ = ["DaskBackend", "get_dask", "dask_annotations"]

_PASSED_ON = ("retries", "resources", "workers", "allow_other_workers")


def dask_annotations(annotations: Mapping[str, Any] | None) -> dict[str, Any]:
    """The annotations dask's scheduler understands, without ``priority``.

    >>> dask_annotations({"retries": 2, "priority": 3, "colour": "red"})
    {'retries': 2}
    """
    if not annotations:
        return {}
    return {k: annotations[k] for k in _PASSED_ON if k in annotations}


def _blamed_key(dask_scheduler: Any, key: Any) -> Any:
    """Run on the dask scheduler: the key whose task raised the error of ``key``."""
    ts = dask_scheduler.tasks.get(key)
    blame = getattr(ts, "exception_blame", None)
    return blame.key if blame is not None else key


def _layers(graph: GraphSubmission, dsk: dict[Any, Any]) -> Any:
    """A HighLevelGraph of ``dsk``: one layer per distinct set of annotations,
    each with a per-key priority (the static order, first = highest)."""
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    n = len(graph.keys)
    groups: dict[str, tuple[dict[str, Any], dict[Any, Any], dict[Any, int]]] = {}
    for i, key in enumerate(graph.keys):
        own = graph.annotations.get(i)
        extra = dask_annotations(own)
        signature = repr(sorted(extra.items())) if extra else ""
        group = groups.get(signature)
        if group is None:
            group = groups[signature] = (extra, {}, {})
        group[1][key] = dsk[key]
        user = int(own.get("priority", 0)) if own else 0
        group[2][key] = user * (n + 1) + (n - i)
    layers = {}
    for j, (extra, tasks, priority) in enumerate(groups.values()):
        layers[f"shoal-{j}"] = MaterializedLayer(
            tasks, annotations={"priority": priority.__getitem__, **extra}
        )
    return HighLevelGraph(layers, {name: set() for name in layers})


class _DaskSubmission:
    """One graph running on a dask cluster (see the module docstring)."""

    def __init__(self, client: Any, graph: GraphSubmission, options: dict[str, Any]):
        self._client = client
        self._graph = graph
        outputs = list(dict.fromkeys(graph.outputs))
        hlg = _layers(graph, to_dask_graph(graph.keys, graph.nodes))
        futures = client.get(hlg, outputs, sync=False, **options)
        self._futures = dict(zip(outputs, futures))
        self._reported: set[Any] = set()

    def wait(self, timeout: float) -> tuple[list[Any], bool]:
        from distributed import wait

        futures = list(self._futures.values())
        try:
            wait(futures, timeout=timeout, return_when="ALL_COMPLETED")
        except TimeoutError:
            pass
        finished = []
        for key, future in self._futures.items():
            status = future.status
            if status == "error":
                self._raise(future)
            if status == "cancelled":
                from distributed.client import FutureCancelledError

                raise note_failed_key(
                    FutureCancelledError(key, reason="cancelled on the dask cluster"), key
                )
            if status == "finished" and key not in self._reported:
                self._reported.add(key)
                finished.append(key)
        done = len(self._reported) == len(self._futures)
        if done:  # the rest of the graph finished before its outputs
            finished.extend(k for k in self._graph.keys if k not in self._futures)
        return finished, done

    def _raise(self, future: Any) -> None:
        exc = future.exception()
        try:
            key = self._client.run_on_scheduler(_blamed_key, key=future.key)
        except Exception:  # the scheduler would not say: name the output
            key = future.key
        raise note_failed_key(exc, key).with_traceback(future.traceback())

    def results(self) -> list[Any]:
        futures = list(self._futures.values())
        try:
            values = dict(zip(self._futures, self._client.gather(futures)))
        finally:
            self._futures = {}
            for f in futures:  # as Client.get does: the results are ours now
                f.release()
        return [values[k] for k in self._graph.outputs]

    def cancel(self) -> None:
        futures = list(self._futures.values())
        self._futures = {}
        if futures:
            try:
                self._client.cancel(futures)
            except Exception:  # the client is closing: its futures go with it
                pass
            for f in futures:
                f.release()


class DaskBackend(SubmittingBackend):
    """Run shoal graphs on the dask.distributed cluster of ``client``.

    Usually made for you: ``compute(scheduler=client)`` wraps a dask
    ``Client`` in a ``DaskBackend``. ``compute`` options ``retries``,
    ``resources``, ``workers`` and ``allow_other_workers`` apply to every
    task (as in ``Client.get``).

    >>> DaskBackend("tcp://127.0.0.1:8786")
    Traceback (most recent call last):
    TypeError: DaskBackend needs a distributed.Client, got 'tcp://127.0.0.1:8786' (connect with distributed.Client(address) first)
    """

    worker_name = "dask"

    def __init__(self, client: Any):
        if not any(
            cls.__qualname__ == "Client" and cls.__module__.partition(".")[0] == "distributed"
            for cls in type(client).__mro__
        ):
            raise TypeError(
                f"DaskBackend needs a distributed.Client, got {client!r} "
                "(connect with distributed.Client(address) first)"
            )
        self.client = client

    def submit(self, graph: GraphSubmission, **options: Any) -> _DaskSubmission:
        unknown = sorted(set(options) - set(_PASSED_ON))
        if unknown:
            raise TypeError(
                f"the dask backend takes no options {unknown}; expected any of {list(_PASSED_ON)}"
            )
        return _DaskSubmission(self.client, graph, options)

    def __repr__(self) -> str:
        return f"DaskBackend({self.client!r})"


def get_dask(graph: Mapping[Any, Any], keys: Any, **options: Any) -> Any:
    """``scheduler="dask"``: run on the current default dask ``Client``
    (the one created last, as ``dask.compute`` would use)."""
    try:
        from distributed import default_client
    except ImportError as e:
        raise ImportError(
            "scheduler='dask' needs dask.distributed: pip install 'shoal[dask]'"
        ) from e
    try:
        client = default_client()
    except ValueError:
        raise ValueError(
            "scheduler='dask' needs a running dask.distributed Client: create one "
            "(distributed.Client(...)) or pass it as scheduler=client"
        ) from None
    return DaskBackend(client).get(graph, keys, **options)
