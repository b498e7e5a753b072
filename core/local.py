"""Local schedulers: sync, threads and processes over one plan.

Every backend here has the signature ``get(graph, keys, **options)``, where
``keys`` is a key or a nested list of keys, and returns values in the same
nesting. All three share the same preparation (``_Plan``): one walk
(``order.order_graph``) culls the graph to the requested keys, validates it
(cycles, missing keys) and orders it into lists indexed by execution
position, so the loops below touch only lists and one results dict. The
loops allocate nothing per task that outlives it (no per-node lists), which
also keeps Python's garbage collector quiet on million-task graphs.

Data flow of the threaded scheduler (the default):

    caller thread                 pool threads (N, reused across calls)
    -------------                 -----------------------------------------
    _Plan(graph, keys)
    post run to N threads  ---->  loop: with lock: record the previous result,
    wait on run.done                      wake dependents, release inputs whose
      (0.1 s slices, so                   last dependent ran, pop the ready
       Ctrl-C is seen)                    task with the best priority
                                        run it outside the lock
    <---- run.done is set when the last task finishes or one fails

There is no central dispatcher thread: each pool thread schedules for itself
under one lock taken once per task, which is what keeps the overhead per task
to a few microseconds. The processes scheduler keeps the loop in the caller
and sends batches of ready tasks, with their inputs, to a process pool
through cloudpickle.

Errors: the first failing task's exception is raised in the caller with its
own type, message and traceback, plus a note naming the key. Pending work is
cancelled. Ctrl-C cancels pending tasks and returns at once; tasks already
running in threads finish in the background.
"""

from __future__ import annotations

import atexit
import heapq
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shoal.core import config
from shoal.core.diagnostics.callbacks import active_callbacks
from shoal.core.graph import flatten_keys
from shoal.core.order import order_graph
from shoal.core.task import Fused, Ref, Task

__all__ = ["get_sync", "get_threads", "get_processes", "default_num_workers"]


def default_num_workers() -> int:
    """Workers for the local pools: config ``num-workers`` or the CPU count.

    >>> default_num_workers() >= 1
    True
    """
    n = config.get("num-workers", None)
    if n:
        return int(n)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _call(node, results):
    typ = type(node)
    if typ is Task or typ is Fused:
        return node(results)
    if typ is Ref:
        return results[node.key]
    return node


def _retries(node) -> int:
    ann = getattr(node, "annotations", None)
    return int(ann.get("retries", 0)) if ann else 0


def _run_with_retries(node, results, first_error: BaseException):
    """Re-run a failed node up to its ``retries`` annotation; re-raise at the end."""
    for _ in range(_retries(node)):
        try:
            return _call(node, results)
        except Exception:
            continue
    raise first_error


def _name_key(exc: BaseException, key) -> BaseException:
    note = f"shoal: raised while computing task {key!r}"
    notes = getattr(exc, "__notes__", None) or []
    if note not in notes:
        exc.add_note(note)
    return exc


def _collect_results(keys, results: Mapping):
    if type(keys) is list:
        return [_collect_results(k, results) for k in keys]
    return results[keys]


class _Callbacks:
    """The active callback objects, split by hook so loops test one list."""

    __slots__ = ("start", "pretask", "posttask", "finish")

    def __init__(self, extra: Sequence | None):
        cbs = list(active_callbacks())
        if extra:
            cbs.extend(extra)
        self.start = [c.start for c in cbs if c.start is not None]
        self.pretask = [c.pretask for c in cbs if c.pretask is not None]
        self.posttask = [c.posttask for c in cbs if c.posttask is not None]
        self.finish = [c.finish for c in cbs if c.finish is not None]


class _Plan:
    """A culled, validated, ordered graph as lists indexed by execution position.

    ``refcount[i]`` is the number of dependents of node ``i``, plus one if the
    caller asked for it: a result is released when its count reaches zero.
    """

    __slots__ = ("keys", "nodes", "deps", "refcount", "_graph")

    def __init__(self, graph: Mapping, wanted: list):
        self.keys, self.nodes, self.deps, self.refcount = order_graph(graph, wanted)
        self._graph = None
        if len(wanted) == 1:
            self.refcount[-1] += 1  # the walk placed the only output last
        else:
            position = {k: i for i, k in enumerate(self.keys)}
            for k in set(wanted):
                self.refcount[position[k]] += 1

    @property
    def graph(self) -> dict:
        """The culled graph, built on demand (for callbacks)."""
        if self._graph is None:
            self._graph = dict(zip(self.keys, self.nodes))
        return self._graph


# --------------------------------------------------------------------- sync


def get_sync(graph: Mapping, keys: Any, callbacks: Sequence | None = None, **kwargs: Any) -> Any:
    """Run ``graph`` in the calling thread, in priority order.

    Meant for debugging: a task's error is raised right here with a plain
    traceback (and a note naming the key).

    >>> from operator import add
    >>> from shoal.core.task import Task, Ref
    >>> get_sync({"a": 1, "b": Task(add, Ref("a"), 1)}, "b")
    2
    """
    wanted = flatten_keys(keys)
    plan = _Plan(graph, wanted)
    cbs = _Callbacks(callbacks)
    if not (cbs.start or cbs.pretask or cbs.posttask or cbs.finish):
        return _collect_results(keys, _sync_loop(plan))
    for f in cbs.start:
        f(plan.graph)
    errored = True
    try:
        results = _sync_loop_with_callbacks(plan, cbs)
        errored = False
    finally:
        for f in cbs.finish:
            f(plan.graph, errored)
    return _collect_results(keys, results)


def _sync_loop(plan: _Plan) -> dict:
    keys = plan.keys
    refcount = plan.refcount[:]
    results: dict = {}
    call_task = Task.__call__  # a plain function call is cheaper than calling the object
    for key, node, deps in zip(keys, plan.nodes, plan.deps):
        typ = type(node)
        try:
            if typ is Task:
                value = call_task(node, results)
            elif typ is Fused:
                value = node(results)
            elif typ is Ref:
                value = results[node.key]
            else:
                value = node
        except Exception as e:
            value = _run_with_retries(node, results, _name_key(e, key))
        results[key] = value
        for d in deps:
            n = refcount[d] - 1
            refcount[d] = n
            if not n:
                del results[keys[d]]
    return results


def _sync_loop_with_callbacks(plan: _Plan, cbs: _Callbacks) -> dict:
    keys = plan.keys
    refcount = plan.refcount[:]
    results: dict = {}
    worker = threading.get_ident()
    for key, node, deps in zip(keys, plan.nodes, plan.deps):
        for f in cbs.pretask:
            f(key)
        try:
            value = _call(node, results)
        except Exception as e:
            value = _run_with_retries(node, results, _name_key(e, key))
        results[key] = value
        for f in cbs.posttask:
            f(key, value, worker)
        for d in deps:
            refcount[d] -= 1
            if not refcount[d]:
                del results[keys[d]]
    return results


# ------------------------------------------------------------------ threads


def _dependents(deps: list) -> list:
    """For each position: None, its only dependent's position, or a list of them
    (one list object per node would cost the garbage collector dearly)."""
    dependents: list = [None] * len(deps)
    for i, ds in enumerate(deps):
        for d in ds:
            x = dependents[d]
            if x is None:
                dependents[d] = i
            elif type(x) is int:
                dependents[d] = [x, i]
            else:
                x.append(i)
    return dependents


class _ThreadRun:
    """Shared state of one threaded ``get``: the ready heap and the counters."""

    def __init__(self, plan: _Plan, cbs: _Callbacks):
        self.plan = plan
        self.cbs = cbs
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.done = threading.Event()
        self.results: dict = {}
        self.waiting = waiting = list(map(len, plan.deps))
        self.refcount = plan.refcount[:]
        self.dependents = _dependents(plan.deps)
        # Ready tasks: those ready from the start, sorted with the best (lowest
        # position) last so popping is O(1), and a heap of tasks readied later.
        self.roots = [i for i, w in enumerate(waiting) if not w][::-1]
        self.ready: list = []
        self.remaining = len(waiting)
        self.idle = 0
        self.error: tuple[BaseException, Any] | None = None
        self.stopped = False
        if not self.remaining:
            self.done.set()

    def work(self) -> None:
        plan = self.plan
        keys = plan.keys
        nodes = plan.nodes
        deps = plan.deps
        dependents = self.dependents
        results = self.results
        waiting = self.waiting
        refcount = self.refcount
        ready = self.ready
        roots = self.roots
        lock = self.lock
        cond = self.cond
        pretask = self.cbs.pretask
        posttask = self.cbs.posttask
        heappush = heapq.heappush
        heappop = heapq.heappop
        heappushpop = heapq.heappushpop
        call_task = Task.__call__
        worker = threading.get_ident()
        prev = -1
        value = None
        while True:
            with lock:
                nxt = -1
                if prev >= 0:
                    key = keys[prev]
                    results[key] = value
                    value = None
                    for f in posttask:
                        f(key, results[key], worker)
                    x = dependents[prev]
                    if x is not None:
                        if type(x) is int:
                            w = waiting[x] - 1
                            waiting[x] = w
                            if not w:
                                nxt = x
                        else:
                            for j in x:
                                w = waiting[j] - 1
                                waiting[j] = w
                                if not w:
                                    if nxt < 0:
                                        nxt = j
                                    else:
                                        heappush(ready, j)
                    for d in deps[prev]:
                        n = refcount[d] - 1
                        refcount[d] = n
                        if not n:
                            del results[keys[d]]
                    self.remaining -= 1
                    if not self.remaining:
                        self.stopped = True
                        self.done.set()
                        cond.notify_all()
                        return
                if self.stopped:
                    return
                if nxt >= 0:
                    # a task this one just readied runs here unless a better one waits
                    if ready:
                        nxt = heappushpop(ready, nxt)
                    if roots and roots[-1] < nxt:
                        heappush(ready, nxt)
                        nxt = roots.pop()
                else:
                    while not ready and not roots:
                        self.idle += 1
                        cond.wait()
                        self.idle -= 1
                        if self.stopped:
                            return
                    if ready and (not roots or ready[0] < roots[-1]):
                        nxt = heappop(ready)
                    else:
                        nxt = roots.pop()
                if self.idle and (ready or roots):
                    cond.notify(min(self.idle, len(ready) + len(roots)))
                prev = nxt
                node = nodes[prev]
                for f in pretask:
                    f(keys[prev])
            typ = type(node)
            try:
                if typ is Task:
                    value = call_task(node, results)
                elif typ is Fused:
                    value = node(results)
                elif typ is Ref:
                    value = results[node.key]
                else:
                    value = node
            except BaseException as e:
                try:
                    value = _run_with_retries(node, results, e)
                except BaseException as final:
                    self.fail(final, keys[prev])
                    return

    def fail(self, exc: BaseException, key: Any) -> None:
        with self.cond:
            if self.error is None:
                self.error = (exc, key)
            self.stopped = True
            self.done.set()
            self.cond.notify_all()

    def cancel(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


class _ThreadPool:
    """Long-lived daemon threads that each run ``run.work()`` for posted runs."""

    def __init__(self, size: int):
        self.size = size
        self.busy = False
        self._cond = threading.Condition()
        self._jobs: list = []
        self.threads = [
            threading.Thread(target=self._serve, name=f"shoal-threads-{i}", daemon=True)
            for i in range(size)
        ]
        for t in self.threads:
            t.start()

    def _serve(self) -> None:
        _pool_thread.active = True
        while True:
            with self._cond:
                while not self._jobs:
                    self._cond.wait()
                job = self._jobs.pop()
            if job is None:
                return
            try:
                job.work()
            except BaseException as e:  # pragma: no cover - work() handles task errors
                job.fail(e, None)
            job = None  # do not keep the finished run (and its results) alive while idle

    def post(self, run: _ThreadRun) -> None:
        with self._cond:
            self._jobs.extend([run] * self.size)
            self._cond.notify_all()

    def shutdown(self) -> None:
        with self._cond:
            self._jobs.extend([None] * self.size)
            self._cond.notify_all()


_pool_thread = threading.local()
_pools_lock = threading.Lock()
_thread_pools: dict[int, _ThreadPool] = {}


def _acquire_pool(size: int) -> tuple[_ThreadPool, bool]:
    """A free pool of ``size`` threads; the flag says whether it is shared."""
    nested = getattr(_pool_thread, "active", False)
    with _pools_lock:
        pool = _thread_pools.get(size)
        if pool is not None and not pool.busy and not nested:
            pool.busy = True
            return pool, True
        if pool is None and not nested:
            pool = _thread_pools[size] = _ThreadPool(size)
            pool.busy = True
            return pool, True
    return _ThreadPool(size), False


def get_threads(
    graph: Mapping,
    keys: Any,
    num_workers: int | None = None,
    callbacks: Sequence | None = None,
    **kwargs: Any,
) -> Any:
    """Run ``graph`` on a pool of threads (the default backend).

    ``num_workers`` defaults to config ``num-workers`` or the number of cores.
    A task may itself call ``compute``; it then gets a pool of its own.

    >>> from operator import add
    >>> from shoal.core.task import Task, Ref
    >>> get_threads({"a": 1, "b": Task(add, Ref("a"), 1)}, ["b", "a"])
    [2, 1]
    """
    wanted = flatten_keys(keys)
    plan = _Plan(graph, wanted)
    cbs = _Callbacks(callbacks)
    for f in cbs.start:
        f(plan.graph)
    run = _ThreadRun(plan, cbs)
    size = num_workers or default_num_workers()
    errored = True
    pool, shared = _acquire_pool(size)
    try:
        if run.remaining:
            pool.post(run)
            try:
                while not run.done.wait(0.1):
                    pass
            except BaseException:
                run.cancel()
                raise
        if run.error is not None:
            exc, key = run.error
            raise _name_key(exc, key)
        errored = False
        return _collect_results(keys, run.results)
    finally:
        if shared:
            # Threads may still be leaving run.work(); a new run queues behind them.
            with _pools_lock:
                pool.busy = False
        else:
            pool.shutdown()
        for f in cbs.finish:
            f(plan.graph, errored)


# ---------------------------------------------------------------- processes


def _run_batch_in_process(payload: bytes) -> bytes:
    """Executed in a pool process: run each task of a batch against the inputs
    shipped with it; return results or the first error, pickled."""
    import cloudpickle

    batch = cloudpickle.loads(payload)
    out = []
    start = time.perf_counter()
    for key, node, inputs in batch:
        try:
            value = _call(node, inputs)
        except Exception as e:
            try:
                value = _run_with_retries(node, inputs, e)
            except Exception as final:
                tb = "".join(traceback.format_exception(final))
                try:
                    blob = cloudpickle.dumps(final)
                except Exception:
                    blob = cloudpickle.dumps(RuntimeError(f"{type(final).__name__}: {final}"))
                return cloudpickle.dumps(("error", key, blob, tb))
        out.append((key, value))
    try:
        return cloudpickle.dumps(("ok", out, time.perf_counter() - start))
    except Exception as e:
        tb = "".join(traceback.format_exception(e))
        err = TypeError(f"could not send results of tasks {[k for k, _ in out]} back: {e}")
        return cloudpickle.dumps(("error", out[-1][0] if out else None, cloudpickle.dumps(err), tb))


_process_pools: dict[int, Any] = {}
_BATCH_SECONDS = 0.02


def _process_pool(size: int):
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with _pools_lock:
        pool = _process_pools.get(size)
        if pool is None or getattr(pool, "_broken", False):
            pool = ProcessPoolExecutor(size, mp_context=get_context("spawn"))
            _process_pools[size] = pool
        return pool


def _drop_process_pool(size: int) -> None:
    with _pools_lock:
        pool = _process_pools.pop(size, None)
    if pool is not None:
        # Running batches cannot be cancelled: stop their processes, or the
        # interpreter would wait for them at exit (after Ctrl-C).
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in workers:
            p.terminate()


def _shutdown_process_pools() -> None:
    """At exit, close the pools while the interpreter is still whole (a pool
    left to its weakref callbacks during teardown prints spurious errors)."""
    with _pools_lock:
        pools = list(_process_pools.values())
        _process_pools.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(_shutdown_process_pools)


def get_processes(
    graph: Mapping,
    keys: Any,
    num_workers: int | None = None,
    callbacks: Sequence | None = None,
    **kwargs: Any,
) -> Any:
    """Run ``graph`` on a pool of processes (spawned once and reused).

    For pure-Python work that holds the GIL. Functions and data travel with
    cloudpickle, so lambdas and closures work. Scripts that use it need the
    usual ``if __name__ == "__main__":`` guard.

    >>> from operator import add
    >>> from shoal.core.task import Task, Ref
    >>> get_processes({"a": 1, "b": Task(add, Ref("a"), 1)}, "b")
    2
    """
    import concurrent.futures as cf

    import cloudpickle

    wanted = flatten_keys(keys)
    plan = _Plan(graph, wanted)
    cbs = _Callbacks(callbacks)
    for f in cbs.start:
        f(plan.graph)
    size = num_workers or default_num_workers()
    pool = _process_pool(size)
    keys_ = plan.keys
    index = {k: i for i, k in enumerate(keys_)}
    waiting = list(map(len, plan.deps))
    refcount = plan.refcount[:]
    dependents = _dependents(plan.deps)
    ready = [i for i, w in enumerate(waiting) if not w]
    results: dict = {}
    remaining = len(keys_)
    inflight: set = set()
    # Tasks per batch: about _BATCH_SECONDS of work, by the mean task time so
    # far (one task until a batch returned): tiny tasks share a round trip,
    # long ones go one by one so no worker idles while another runs a batch.
    run_seconds, run_tasks = 0.0, 0
    errored = True
    try:
        while remaining:
            while ready and len(inflight) < 2 * size:
                fit = int(_BATCH_SECONDS * run_tasks / run_seconds) if run_seconds else run_tasks
                batch_size = max(1, min(len(ready) // (2 * size), 256, fit))
                batch = []
                for _ in range(batch_size):
                    i = heapq.heappop(ready)
                    key = keys_[i]
                    for f in cbs.pretask:
                        f(key)
                    inputs = {keys_[d]: results[keys_[d]] for d in plan.deps[i]}
                    batch.append((key, plan.nodes[i], inputs))
                try:
                    payload = cloudpickle.dumps(batch)
                except Exception as e:
                    raise TypeError(
                        f"could not serialize tasks {[b[0] for b in batch]!r} for the "
                        f"processes scheduler: {e}"
                    ) from e
                inflight.add(pool.submit(_run_batch_in_process, payload))
            finished, _ = cf.wait(inflight, timeout=0.1, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                inflight.discard(fut)
                reply = cloudpickle.loads(fut.result())
                if reply[0] == "error":
                    _, key, blob, tb = reply
                    exc = cloudpickle.loads(blob)
                    exc.add_note(f"traceback in the worker process:\n{tb}")
                    raise _name_key(exc, key)
                run_seconds += reply[2]
                run_tasks += len(reply[1])
                for key, value in reply[1]:
                    i = index[key]
                    results[key] = value
                    for f in cbs.posttask:
                        f(key, value, fut)
                    x = dependents[i]
                    for j in (x,) if type(x) is int else x or ():
                        waiting[j] -= 1
                        if not waiting[j]:
                            heapq.heappush(ready, j)
                    for d in plan.deps[i]:
                        refcount[d] -= 1
                        if not refcount[d]:
                            del results[keys_[d]]
                    remaining -= 1
        errored = False
        return _collect_results(keys, results)
    except KeyboardInterrupt:
        _drop_process_pool(size)
        raise
    finally:
        for fut in inflight:
            fut.cancel()
        for f in cbs.finish:
            f(plan.graph, errored)


BACKENDS: dict[str, Callable] = {
    "sync": get_sync,
    "synchronous": get_sync,
    "single-threaded": get_sync,
    "threads": get_threads,
    "threading": get_threads,
    "processes": get_processes,
    "multiprocessing": get_processes,
}
