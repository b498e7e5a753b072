"""Local schedulers: sync, threads and processes over one scheduling loop.

Every backend here has the signature ``get(graph, keys, **options)``, where
``keys`` is a key or a nested list of keys, and returns values in the same
nesting. All three run the same code: ``_Plan`` culls, validates and orders
the graph in one walk (``order.order_graph``) into lists indexed by execution
position, and ``_Run.work`` is the one scheduling loop: a ready heap by
static priority, waiting counts, release of results no longer needed,
callbacks, retries, annotated priorities and ``concurrency`` pools (see
``local_annotations.py``; pools gate sync and threads, not the tasks shipped
to processes) and errors that name the failing key. The backends differ
only in who runs the loop and how a ready task is executed:

- sync: the caller runs the loop and each task inline;
- threads: N pool threads each run the loop and their tasks inline;
- processes: 2N pool threads each run the loop and ship their tasks, in
  batches with their inputs, to a pool of N processes (``_ProcessBatches``).

Data flow (threads; processes alike, with "run it" meaning a round trip to a
process and sync with the caller as the only worker):

    caller thread                 pool threads (reused across calls)
    -------------                 -----------------------------------------
    _Plan(graph, keys)
    post run to the pool   ---->  loop: under the lock: record the previous
    wait on run.done                      result, wake dependents, release inputs
      (0.1 s slices, so                   whose last dependent ran, pop the ready
       Ctrl-C is seen)                    task with the best priority
                                        run it outside the lock
    <---- run.done is set when the last task finishes or one fails

There is no central dispatcher thread: each worker schedules for itself under
one lock taken once per task (per batch for processes), which is what keeps
the overhead per task to a few microseconds. The loop allocates nothing per
task that outlives it (no per-node lists), which also keeps Python's garbage
collector quiet on million-task graphs.

Errors: the first failing task's exception is raised in the caller with its
own type, message and traceback, plus a note naming the key. Pending work is
cancelled. Ctrl-C cancels pending tasks and returns at once; tasks already
running in threads finish in the background, pool processes are stopped.
"""

from __future__ import annotations

import atexit
import heapq
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from shoal.core import config
from shoal.core.diagnostics.callbacks import Callback, active_callbacks
from shoal.core.graph import flatten_keys, pack_results
from shoal.core.local_annotations import holding, pools_of, reorder_by_priority
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


def _call(node: Any, results: Any) -> Any:
    typ = type(node)
    if typ is Task or typ is Fused:
        return node(results)
    if typ is Ref:
        return results[node.key]
    return node


def _run_with_retries(node: Any, results: Any, first_error: Exception) -> Any:
    """Re-run a failed node up to its ``retries`` annotation (holding its
    ``concurrency`` slots each time); re-raise at the end."""
    ann = getattr(node, "annotations", None)
    pools = ann.get("concurrency") if ann else None
    for _ in range(int(ann.get("retries", 0)) if ann else 0):
        try:
            if pools:
                return _run_pooled(node, results, pools)
            return _call(node, results)
        except Exception:
            continue
    raise first_error


def _run_pooled(node: Any, results: Any, pools: dict[str, int]) -> Any:
    """Run a node holding a slot of each of its ``concurrency`` pools."""
    with holding(pools):
        return _call(node, results)


def _name_key(exc: BaseException, key: Any) -> BaseException:
    note = f"shoal: raised while computing task {key!r}"
    notes = getattr(exc, "__notes__", None) or []
    if note not in notes:
        exc.add_note(note)
    return exc


class _Callbacks:
    """The active callback objects, split by hook so the loop tests one list."""

    __slots__ = ("start", "pretask", "posttask", "finish")

    def __init__(self, extra: Sequence[Callback] | None):
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

    __slots__ = ("keys", "nodes", "deps", "refcount", "pools", "_graph")

    def __init__(self, graph: Mapping[Any, Any], wanted: list[Any]):
        # annotated priorities reorder the plan; concurrency pools gate tasks
        # (local_annotations.py)
        self.keys, self.nodes, self.deps, self.refcount = reorder_by_priority(
            *order_graph(graph, wanted)
        )
        self.pools = pools_of(self.nodes)
        self._graph: dict[Any, Any] | None = None
        if len(wanted) == 1:
            self.refcount[-1] += 1  # the walk placed the only output last
        else:
            position = {k: i for i, k in enumerate(self.keys)}
            for k in set(wanted):
                self.refcount[position[k]] += 1

    @property
    def graph(self) -> dict[Any, Any]:
        """The culled graph, built on demand (for callbacks)."""
        if self._graph is None:
            self._graph = dict(zip(self.keys, self.nodes))
        return self._graph


def _dependents(deps: list[Any]) -> list[Any]:
    """For each position: None, its only dependent's position, or a list of them
    (one list object per node would cost the garbage collector dearly)."""
    dependents: list[Any] = [None] * len(deps)
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


class _BatchError(Exception):
    """A task of a batch failed: ``error`` is its exception, ``key`` its key
    (both None: the run stopped while the batch was out)."""

    def __init__(self, error: BaseException | None, key: Any):
        self.error = error
        self.key = key


class _Run:
    """The state of one ``get`` and the scheduling loop its workers run.

    ``single``: the caller is the only worker, so the loop keeps the lock and
    takes tasks in static order (every task comes after its dependencies, so
    the next position is always ready: no waiting counts, no heap).
    ``batches`` is None to run tasks inline in the workers (sync, threads), or
    the ``_ProcessBatches`` that ships them to processes.
    """

    def __init__(
        self,
        plan: _Plan,
        cbs: _Callbacks,
        single: bool = False,
        batches: _ProcessBatches | None = None,
    ):
        self.plan = plan
        self.cbs = cbs
        self.single = single
        self.batches = batches
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.done = threading.Event()
        self.results: dict[Any, Any] = {}
        self.refcount = plan.refcount[:]
        self.ready: list[Any] = []
        self.idle = 0
        self.error: tuple[BaseException, Any] | None = None
        self.stopped = False
        if single:
            self.waiting = self.dependents = self.roots = []
            self.sinks = 0
        else:
            self.waiting = waiting = list(map(len, plan.deps))
            self.dependents = _dependents(plan.deps)
            # Ready tasks: those ready from the start, sorted with the best (lowest
            # position) last so popping is O(1), and a heap of tasks readied later.
            self.roots = [i for i, w in enumerate(waiting) if not w][::-1]
            # Tasks no task depends on: the run is over when all of them ran,
            # since every other task feeds one of them, so ran before it.
            self.sinks = self.dependents.count(None)
        if not plan.keys:
            self.done.set()

    def work(self) -> None:
        """The scheduling loop: record what this worker ran, take the best
        ready task (or batch), run it; until every task ran or the run stopped."""
        plan = self.plan
        keys = plan.keys
        nodes = plan.nodes
        deps = plan.deps
        last = len(keys) - 1
        dependents = self.dependents
        results = self.results
        waiting = self.waiting
        refcount = self.refcount
        ready = self.ready
        roots = self.roots
        cond = self.cond
        # acquire/release cost a third of a ``with lock:`` block (Python 3.11)
        acquire = self.lock.acquire
        release = self.lock.release
        shared = not self.single
        pretask = self.cbs.pretask
        posttask = self.cbs.posttask
        batches = self.batches
        heappush = heapq.heappush
        heappop = heapq.heappop
        heappushpop = heapq.heappushpop
        call_task = Task.__call__  # a plain function call is cheaper than calling the object
        pooled = plan.pools  # position -> concurrency pools, or None
        worker: Any = threading.get_ident()
        prev = -1  # the position this worker ran last, its value in ``value``
        value = None
        more: list[Any] = []  # the other positions of a batch, their values in ``more_values``
        more_values: list[Any] = []
        nxt = -1 if shared else 0  # the task to run next, if known
        acquire()
        try:
            while True:
                # record what this worker ran: wake dependents, release inputs
                while prev >= 0:
                    key = keys[prev]
                    results[key] = value
                    if posttask:
                        for f in posttask:
                            f(key, value, worker)
                    value = None
                    for d in deps[prev]:
                        n = refcount[d] - 1
                        refcount[d] = n
                        if not n:
                            del results[keys[d]]
                    if not shared:
                        if prev == last:
                            self._stop(None, None)
                            return
                        nxt = prev + 1
                    else:
                        x = dependents[prev]
                        if x is None:
                            self.sinks -= 1
                            if not self.sinks:
                                self._stop(None, None)
                                return
                        elif type(x) is int:
                            w = waiting[x] - 1
                            waiting[x] = w
                            if not w:
                                if nxt < 0:
                                    nxt = x
                                else:
                                    heappush(ready, x)
                        else:
                            for j in x:
                                w = waiting[j] - 1
                                waiting[j] = w
                                if not w:
                                    if nxt < 0:
                                        nxt = j
                                    else:
                                        heappush(ready, j)
                    if more:
                        prev = more.pop()
                        value = more_values.pop()
                    else:
                        prev = -1
                # take the best ready task: one this worker just readied runs
                # here unless a better one waits (a single worker: the next one)
                if shared:
                    if self.stopped:
                        return
                    if nxt >= 0:
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
                    if batches is not None:  # and the next best, up to the batch size
                        for _ in range(batches.batch_size(len(ready) + len(roots) + 1) - 1):
                            if ready and (not roots or ready[0] < roots[-1]):
                                more.append(heappop(ready))
                            elif roots:
                                more.append(roots.pop())
                            else:
                                break
                    if self.idle and (ready or roots):
                        cond.notify(min(self.idle, len(ready) + len(roots)))
                prev = nxt
                nxt = -1
                if pretask:
                    for before in pretask:
                        before(keys[prev])
                        for i in more:
                            before(keys[i])
                # run it, without the lock if other workers share the run
                if shared:
                    release()
                if batches is not None:
                    try:
                        value, more_values, worker = batches.run(self, prev, more)
                    except BaseException as e:
                        acquire()
                        if type(e) is _BatchError:
                            self._stop(e.error, e.key)
                        else:  # the batch could not be sent, or the pool broke
                            self._stop(e, keys[prev])
                        return
                    acquire()
                    continue
                node = nodes[prev]
                typ = type(node)
                try:
                    if pooled is not None and prev in pooled:
                        value = _run_pooled(node, results, pooled[prev])
                    elif typ is Task:
                        value = call_task(node, results)
                    elif typ is Fused:
                        value = node(results)
                    elif typ is Ref:
                        value = results[node.key]
                    else:
                        value = node
                except Exception as e:
                    try:
                        value = _run_with_retries(node, results, e)
                    except BaseException as final:
                        if shared:
                            acquire()
                        self._stop(final, keys[prev])
                        return
                except BaseException as e:
                    if shared:
                        acquire()
                    self._stop(e, keys[prev])
                    return
                if shared:
                    acquire()
        finally:
            release()

    def _stop(self, error: BaseException | None, key: Any) -> None:
        """End the run (the lock held): finished, or ``error`` raised by ``key``'s task."""
        if error is not None and self.error is None:
            self.error = (error, key)
        self.stopped = True
        self.done.set()
        self.cond.notify_all()

    def fail(self, error: BaseException, key: Any) -> None:
        """End the run with ``error``, unless an earlier error ended it."""
        with self.lock:
            self._stop(error, key)

    def cancel(self) -> None:
        """Stop the run: workers take no new task (the caller was interrupted)."""
        with self.lock:
            self.stopped = True
            self.cond.notify_all()


def _compute(
    graph: Mapping[Any, Any],
    keys: Any,
    callbacks: Sequence[Callback] | None,
    launch: Callable[[_Run], None] | None,
    batches: _ProcessBatches | None = None,
) -> Any:
    """Plan ``graph``, run the loop (in the caller, or through ``launch``),
    and return the results in the nesting of ``keys``."""
    plan = _Plan(graph, flatten_keys(keys))
    cbs = _Callbacks(callbacks)
    for f in cbs.start:
        f(plan.graph)
    run = _Run(plan, cbs, launch is None, batches)
    errored = True
    try:
        if plan.keys:
            if launch is None:
                run.work()
            else:
                launch(run)
        if run.error is not None:
            exc, key = run.error
            raise _name_key(exc, key)
        errored = False
        return pack_results(keys, run.results)
    finally:
        for done in cbs.finish:
            done(plan.graph, errored)


# --------------------------------------------------------------------- sync


def get_sync(
    graph: Mapping[Any, Any], keys: Any, callbacks: Sequence[Callback] | None = None, **kwargs: Any
) -> Any:
    """Run ``graph`` in the calling thread, in priority order.

    Meant for debugging: a task's error is raised right here with a plain
    traceback (and a note naming the key).

    >>> from operator import add
    >>> from shoal.core.task import Task, Ref
    >>> get_sync({"a": 1, "b": Task(add, Ref("a"), 1)}, "b")
    2
    """
    return _compute(graph, keys, callbacks, None)


# ------------------------------------------------------------------ threads


class _ThreadPool:
    """Long-lived daemon threads that each run ``run.work()`` for posted runs."""

    def __init__(self, size: int):
        self.size = size
        self.busy = False
        self._cond = threading.Condition()
        self._jobs: list[Any] = []
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
            except BaseException as e:  # a callback raised: work() handles task errors
                job.fail(e, None)
            job = None  # do not keep the finished run (and its results) alive while idle

    def post(self, run: _Run) -> None:
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


def _on_threads(size: int, on_interrupt: Callable[[], None] | None = None) -> Callable[..., Any]:
    """A launcher that runs the loop on a pool of ``size`` threads and waits."""

    def launch(run: _Run) -> None:
        pool, shared = _acquire_pool(size)
        try:
            pool.post(run)
            try:
                while not run.done.wait(0.1):
                    pass
            except BaseException:
                run.cancel()
                if on_interrupt is not None:
                    on_interrupt()
                raise
        finally:
            if shared:
                # Threads may still be leaving run.work(); a new run queues behind them.
                with _pools_lock:
                    pool.busy = False
            else:
                pool.shutdown()

    return launch


def get_threads(
    graph: Mapping[Any, Any],
    keys: Any,
    num_workers: int | None = None,
    callbacks: Sequence[Callback] | None = None,
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
    size = num_workers or default_num_workers()
    return _compute(graph, keys, callbacks, _on_threads(size))


# ---------------------------------------------------------------- processes


def _run_batch_in_process(payload: bytes) -> bytes:
    """Executed in a pool process: run each task of a batch against the inputs
    shipped with it; return results or the first error, pickled."""
    import cloudpickle

    dumps: Callable[[Any], bytes] = cloudpickle.dumps  # typed: cloudpickle has no stubs
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
                    blob = dumps(final)
                except Exception:
                    blob = dumps(RuntimeError(f"{type(final).__name__}: {final}"))
                return dumps(("error", key, blob, tb))
        out.append(value)
    elapsed = time.perf_counter() - start
    try:
        return dumps(("ok", out, elapsed, os.getpid()))
    except Exception as e:
        tb = "".join(traceback.format_exception(e))
        keys = [key for key, _, _ in batch]
        err = TypeError(f"could not send results of tasks {keys} back: {e}")
        return dumps(("error", keys[-1], dumps(err), tb))


class _ProcessBatches:
    """Runs batches of ready tasks, with their inputs, on a pool of processes.

    A batch holds about ``_BATCH_SECONDS`` of work by the mean task time so far
    (one task until a batch returned): tiny tasks share a round trip, long ones
    go one by one so no process idles while another runs a batch.
    """

    _BATCH_SECONDS = 0.02

    def __init__(self, processes: int):
        self.processes = processes
        self.pool = _process_pool(processes)
        self.seconds = 0.0  # measured task time and tasks so far (updated racily:
        self.tasks = 0  # a lost update only shifts the next batch size a little)

    def batch_size(self, ready: int) -> int:
        """Tasks in the next batch when ``ready`` tasks are ready."""
        fit = int(self._BATCH_SECONDS * self.tasks / self.seconds) if self.seconds else self.tasks
        return max(1, min(ready // (2 * self.processes), 256, fit))

    def run(self, run: _Run, first: int, more: list[Any]) -> tuple[Any, list[Any], int]:
        """Run ``first`` and ``more`` in a process: the value of ``first``, those
        of ``more`` in order, and the process id. A task's error comes as
        ``_BatchError``; any other exception is the batch's (pickling, the pool)."""
        from concurrent.futures.process import BrokenProcessPool

        import cloudpickle

        plan = run.plan
        keys, results = plan.keys, run.results
        batch = []
        for i in (first, *more):
            inputs = {keys[d]: results[keys[d]] for d in plan.deps[i]}
            batch.append((keys[i], plan.nodes[i], inputs))
        try:
            payload = cloudpickle.dumps(batch)
        except Exception as e:
            raise TypeError(
                f"could not serialize tasks {[b[0] for b in batch]!r} for the "
                f"processes scheduler: {e}"
            ) from e
        if run.stopped:  # the run ended meanwhile: start no process for it
            raise _BatchError(None, None)
        future = self.pool.submit(_run_batch_in_process, payload)
        while True:
            try:
                reply = cloudpickle.loads(future.result(timeout=0.1))
                break
            except BrokenProcessPool as e:
                if _POOL_DIED not in getattr(e, "__notes__", ()):
                    e.add_note(_POOL_DIED)  # once: every waiting thread raises this one error
                raise
            except FutureTimeout:
                if run.stopped:
                    future.cancel()
                    raise _BatchError(None, None) from None
        if reply[0] == "error":
            _, key, blob, tb = reply
            exc = cloudpickle.loads(blob)
            exc.add_note(f"traceback in the worker process:\n{tb}")
            raise _BatchError(exc, key)
        _, values, seconds, pid = reply
        self.seconds += seconds
        self.tasks += len(values)
        return values[0], values[1:], pid


_process_pools: dict[int, Any] = {}

_POOL_DIED = (
    "a process of the processes scheduler died: killed, out of memory, or (see the "
    'error above) a script that runs its work outside `if __name__ == "__main__":`'
)


def _refuse_while_bootstrapping() -> None:
    """Raise if this process is a spawned pool process still importing the
    caller's script: its work is running outside the ``__main__`` guard, and a
    pool started here would outlive the failure (nothing shuts it down)."""
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(
            "the processes scheduler was started while a new worker process imported "
            'the main script: put the script\'s work under `if __name__ == "__main__":`'
        )


def _process_pool(size: int) -> Any:
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
    graph: Mapping[Any, Any],
    keys: Any,
    num_workers: int | None = None,
    callbacks: Sequence[Callback] | None = None,
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
    _refuse_while_bootstrapping()
    size = num_workers or default_num_workers()
    batches = _ProcessBatches(size)
    # two batches in flight per process, so a process finds its next one waiting
    launch = _on_threads(2 * size, on_interrupt=lambda: _drop_process_pool(size))
    return _compute(graph, keys, callbacks, launch, batches)


BACKENDS: dict[str, Callable[..., Any]] = {
    "sync": get_sync,
    "synchronous": get_sync,
    "single-threaded": get_sync,
    "threads": get_threads,
    "threading": get_threads,
    "processes": get_processes,
    "multiprocessing": get_processes,
}
