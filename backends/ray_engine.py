"""Run shoal graphs on Ray: ``compute(scheduler="ray")`` or ``RayBackend(...)``.

Policy:

- One Ray task per graph node; a ``Fused`` node (a fused chain) stays one task.
  Each runs ``_run_node`` on a worker, under the name of its task group
  (the key prefix, e.g. ``sum-aggregate``, on Ray's dashboard), with its
  dependencies passed as
  top-level ObjectRefs: Ray resolves them where the task runs, so data moves
  between workers through the object store and never through the driver.
- Literal nodes (the graph's in-memory inputs) are put in the object store
  once and every dependent gets the ref; scalars and short strings go by value.
  An alias node (a ``Ref``) is its target's ref, not a task.
- Tasks are submitted in shoal's static order (``core/order.py``), with at
  most ``max_in_flight`` of them unfinished: a 100,000-task graph never sits
  in Ray's queues all at once, and the branch-by-branch order that keeps
  memory low survives the trip.
- Each task returns two objects: its value and a status (``None``), small
  enough to live with the driver. The driver waits on statuses only, so it
  learns that a task failed without fetching any value; it then cancels the
  rest and raises the task's own exception with the key named in a note.
- Annotations: ``retries`` -> ``max_retries`` with ``retry_exceptions``;
  ``resources`` -> ``num_cpus`` / ``num_gpus`` / ``memory`` / custom Ray
  resources. ``priority`` has no Ray equivalent (the static order decides).

Data flow:

    driver (the caller's thread)                      Ray
    ----------------------------                      ---
    put literal inputs once ------------------------> object store
    submit tasks in static order, up to the window -> raylets (run, pass refs)
    loop: wait on statuses (0.1 s slices) <---------- statuses of finished tasks
          a failed status: cancel, raise
          drop refs whose dependents were all submitted
          submit more, up to the window
    get the outputs <-------------------------------- values of the outputs only
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shoal.core.base import GraphSubmission, SubmittingBackend, note_failed_key
from shoal.core.task import Fused, Ref, Task, dependencies_of, execute_node
from shoal.core.utils import key_prefix

__all__ = ["RayBackend", "get_ray"]

_BY_VALUE = (int, float, bool, complex, type(None))
_SHORT = 4096  # str/bytes literals up to this length go by value


def _run_node(node: Any, *values: Any) -> tuple[Any, None]:
    """Executed on a Ray worker: the node's value and an empty status. Its
    dependencies' values arrive in ``values``, in the order of
    ``dependencies_of(node)`` (the order of the submission's positions)."""
    return execute_node(node, dict(zip(dependencies_of(node), values))), None


def _by_value(value: Any) -> bool:
    typ = type(value)
    if typ in _BY_VALUE:
        return True
    return (typ is str or typ is bytes) and len(value) <= _SHORT


def ray_options(annotations: Mapping[str, Any]) -> dict[str, Any]:
    """Ray task options for shoal annotations.

    >>> ray_options({"retries": 2, "resources": {"GPU": 1, "CPU": 2, "disk": 1}, "priority": 5})
    {'max_retries': 2, 'retry_exceptions': True, 'num_gpus': 1, 'num_cpus': 2, 'resources': {'disk': 1}}
    """
    options: dict[str, Any] = {}
    retries = annotations.get("retries")
    if retries:
        options["max_retries"] = int(retries)
        options["retry_exceptions"] = True
    resources = dict(annotations.get("resources") or {})
    for name, option in (("GPU", "num_gpus"), ("CPU", "num_cpus"), ("memory", "memory")):
        if name in resources:
            options[option] = resources.pop(name)
    if resources:
        options["resources"] = resources
    return options


class _Remote:
    """The remote versions of ``_run_node``: one per task group (the key
    prefix, which names the tasks on Ray's dashboard) and distinct set of
    options. ``.options()`` costs more than a submission, so it runs once per
    variant, and the variant of a group name is found with one lookup."""

    def __init__(self) -> None:
        import ray

        self._plain = ray.remote(num_returns=2)(_run_node)
        self._variants: dict[Any, Any] = {}
        self._by_name: dict[Any, Any] = {}

    def for_key(self, key: Any, annotations: Mapping[str, Any] | None = None) -> Any:
        """The remote function for the task of ``key``."""
        name = key[0] if type(key) is tuple and key else key
        if not annotations:
            remote = self._by_name.get(name)
            if remote is None:
                remote = self._by_name[name] = self._variant(key_prefix(name), {})
            return remote
        return self._variant(key_prefix(name), ray_options(annotations))

    def _variant(self, prefix: str, options: dict[str, Any]) -> Any:
        signature = (prefix, repr(sorted(options.items())))
        remote = self._variants.get(signature)
        if remote is None:
            remote = self._variants[signature] = self._plain.options(name=prefix, **options)
        return remote


_remote: _Remote | None = None


def _remote_functions() -> _Remote:
    global _remote
    if _remote is None:
        _remote = _Remote()
    return _remote


class _RaySubmission:
    """One graph running on Ray (see the module docstring)."""

    def __init__(self, graph: GraphSubmission, window: int):
        import ray

        self._ray = ray
        self._graph = graph
        self._remote = _remote_functions()
        n = len(graph.keys)
        # what dependents receive for each position: an ObjectRef or a literal
        self._args: list[Any] = [None] * n
        # dependents not submitted yet; outputs hold one more, so they are kept
        self._pending_users = graph.dependents[:]
        self._outputs = graph.output_positions()
        for p in self._outputs:
            self._pending_users[p] += 1
        self._running: dict[Any, int] = {}  # status ref -> position, unfinished tasks
        self._values: dict[int, Any] = {}  # position -> value ref, unfinished tasks
        self._finished: list[Any] = []  # keys finished at submission (literals, aliases)
        self._next = 0
        self._window = window
        self._submit_more()

    def _submit_more(self) -> None:
        g = self._graph
        keys, nodes, deps, annotations = g.keys, g.nodes, g.dependencies, g.annotations
        args, pending_users = self._args, self._pending_users
        running, values = self._running, self._values
        for_key = self._remote.for_key
        n = len(keys)
        i = self._next
        while i < n and len(running) < self._window:
            node = nodes[i]
            ds = deps[i]
            typ = type(node)
            if typ is Task or typ is Fused:
                remote = for_key(keys[i], annotations.get(i))
                value, status = remote.remote(node, *[args[d] for d in ds])
                args[i] = value
                running[status] = i
                values[i] = value
            elif typ is Ref:
                args[i] = args[ds[0]]
                self._finished.append(keys[i])
            else:
                args[i] = node if _by_value(node) else self._ray.put(node)
                self._finished.append(keys[i])
            for d in ds:  # once its last user is submitted, Ray keeps a ref alive
                left = pending_users[d] - 1
                pending_users[d] = left
                if not left:
                    args[d] = None
            i += 1
        self._next = i

    def wait(self, timeout: float) -> tuple[list[Any], bool]:
        finished, self._finished = self._finished, []
        running = self._running
        if running:
            statuses = list(running)
            ready, _ = self._ray.wait(
                statuses,
                num_returns=max(1, len(statuses) // 4),
                timeout=timeout,
                fetch_local=False,
            )
            if ready:
                # finished tasks leave the books before their errors are read: cancel()
                # must never reach them (Ray 2.x can crash the driver when a cancel
                # races the completion of the task it names)
                done = [running.pop(ref) for ref in ready]
                done_values = [self._values.pop(i) for i in done]
                self._check(ready, done, done_values)
                keys = self._graph.keys
                finished.extend(keys[i] for i in done)
                self._submit_more()
        return finished, not running and self._next >= len(self._graph.keys)

    def _check(self, ready: list[Any], positions: list[int], value_refs: list[Any]) -> None:
        """Raise the error of the first failed task among ``ready`` (the
        statuses of the tasks at ``positions``, with values ``value_refs``), if any."""
        ray = self._ray
        try:
            ray.get(ready)
            return
        except ray.exceptions.RayError:
            pass
        # the task that failed first in static order; its dependents fail with its error
        for i, ref, value in sorted(zip(positions, ready, value_refs), key=lambda t: t[0]):
            try:
                ray.get(ref)
            except ray.exceptions.RayError as error:
                try:  # read the value's error too, or Ray reports it as unhandled
                    ray.get(value)
                except ray.exceptions.RayError:
                    pass
                raise _original(error, self._graph.keys[i]) from None

    def results(self) -> list[Any]:
        args = self._args
        refs = [args[p] for p in self._outputs]
        is_ref = [type(r) is self._ray.ObjectRef for r in refs]
        fetched = iter(self._ray.get([r for r, remote in zip(refs, is_ref) if remote]))
        self._args = []
        return [next(fetched) if remote else r for r, remote in zip(refs, is_ref)]

    def cancel(self) -> None:
        self._next = len(self._graph.keys)
        for ref in self._values.values():
            try:
                self._ray.cancel(ref)
            except Exception:  # finished meanwhile, or the cluster is gone: nothing to stop
                pass
        self._running.clear()
        self._values.clear()
        self._args = []


def _original(error: Exception, key: Any) -> BaseException:
    """The exception a task raised (Ray wraps it), with the key and the
    worker's traceback in notes; Ray's own error when there is no cause."""
    import ray

    cause = getattr(error, "cause", None)
    if isinstance(error, ray.exceptions.RayTaskError) and isinstance(cause, BaseException):
        remote = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # Ray colours the task's name
        cause.add_note(f"traceback on the Ray worker:\n{remote}")
        return note_failed_key(cause, key)
    return note_failed_key(error, key)


class RayBackend(SubmittingBackend):
    """Run shoal graphs on a Ray cluster.

    ``address`` and ``init_options`` go to ``ray.init`` when Ray is not
    initialized yet in this process (no address: Ray's own rule, that is
    ``RAY_ADDRESS``, a running local cluster, or a new local instance); an
    initialized Ray is used as it is. ``max_in_flight`` bounds the unfinished
    tasks handed to Ray (default: eight per CPU of the cluster, at least 64).

    >>> import shoal
    >>> backend = RayBackend(max_in_flight=0)
    Traceback (most recent call last):
    ValueError: max_in_flight must be a positive integer or None, got 0
    """

    worker_name = "ray"

    def __init__(
        self, address: str | None = None, max_in_flight: int | None = None, **init_options: Any
    ):
        if max_in_flight is not None and (
            not isinstance(max_in_flight, int)
            or isinstance(max_in_flight, bool)
            or max_in_flight < 1
        ):
            raise ValueError(
                f"max_in_flight must be a positive integer or None, got {max_in_flight!r}"
            )
        self.address = address
        self.max_in_flight = max_in_flight
        self.init_options = init_options

    def connect(self) -> None:
        """Initialize Ray in this process unless it already is."""
        try:
            import ray
        except ImportError as e:
            raise ImportError(f"the Ray backend needs Ray: pip install 'shoal[ray]' ({e})") from e

        if not ray.is_initialized():
            ray.init(address=self.address, **self.init_options)

    def window(self) -> int:
        """Unfinished tasks allowed at once."""
        if self.max_in_flight is not None:
            return self.max_in_flight
        import ray

        return max(64, 8 * int(ray.cluster_resources().get("CPU", 1)))

    def submit(self, graph: GraphSubmission, **options: Any) -> _RaySubmission:
        if options:
            raise TypeError(
                f"the Ray backend takes no options {sorted(options)}; set resources and "
                "retries as task annotations, and the rest on RayBackend(...) or ray.init"
            )
        self.connect()
        return _RaySubmission(graph, self.window())

    def __repr__(self) -> str:
        return f"RayBackend(address={self.address!r}, max_in_flight={self.max_in_flight!r})"


_default_backend: RayBackend | None = None


def get_ray(graph: Mapping[Any, Any], keys: Any, **options: Any) -> Any:
    """``scheduler="ray"``: run on the Ray cluster ``ray.init()`` connects to.

    Uses one ``RayBackend()`` for the process (see there).
    """
    global _default_backend
    if _default_backend is None:
        _default_backend = RayBackend()
    return _default_backend.get(graph, keys, **options)
