"""The local schedulers (sync, threads, processes): a conformance suite.

Every backend gets the same oracle tests (results equal to plain Python on
random graphs), error, release, retry and nesting tests; threads and
processes also get cancellation, Ctrl-C and pool-reuse tests.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import weakref

import cloudpickle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shoal
from shoal.core import local
from shoal.core.diagnostics import Callback
from shoal.core.local import get_processes, get_sync, get_threads
from shoal.core.task import Fused, Ref, Task

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BACKENDS = {"sync": get_sync, "threads": get_threads, "processes": get_processes}
ALL = pytest.mark.parametrize("name", list(BACKENDS))
PARALLEL = pytest.mark.parametrize("name", ["threads", "processes"])


def inc(x):
    return x + 1


def add(x, y):
    return x + y


class Boom(ValueError):
    """A task error of a type the caller can recognise."""


def explode(x):
    raise Boom(f"bad input {x}")


# ----------------------------------------------------------------- oracles


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_sync_and_threads_match_plain_python(data, random_dag):
    graph, values, sinks = random_dag(data, max_nodes=30)
    extra = data.draw(st.lists(st.sampled_from(sorted(graph, key=repr)), max_size=3))
    wanted = sinks + extra
    expected = [values[k] for k in wanted]
    assert get_sync(graph, wanted) == expected
    assert get_threads(graph, wanted) == expected
    assert get_threads(graph, wanted, num_workers=1) == expected


@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_processes_match_plain_python(data, random_dag):
    graph, values, sinks = random_dag(data, max_nodes=20)
    assert get_processes(graph, sinks, num_workers=2) == [values[k] for k in sinks]


@ALL
def test_results_come_back_in_the_nesting_of_the_keys(name):
    get = BACKENDS[name]
    graph = {"a": 1, ("b", 0): Task(inc, Ref("a")), ("b", 1): Task(add, Ref(("b", 0)), 10)}
    assert get(graph, "a") == 1
    assert get(graph, ("b", 1)) == 12
    assert get(graph, [[("b", 0), ("b", 1)], ["a"], []]) == [[2, 12], [1], []]
    assert get(graph, ["a", "a"]) == [1, 1]
    assert get(graph, []) == []


@ALL
def test_wide_graph(name):
    get = BACKENDS[name]
    n = 2_000 if name != "processes" else 400
    graph = {("x", i): Task(inc, i) for i in range(n)}
    graph["total"] = Task(sum, [Ref(("x", i)) for i in range(n)])
    assert get(graph, "total") == sum(range(1, n + 1))


@ALL
def test_fused_and_nested_nodes(name):
    get = BACKENDS[name]
    graph = {
        "a": 2,
        "c": Fused("c", [("b", Task(inc, Ref("a"))), ("c", Task(add, Ref("b"), Task(inc, 1)))]),
        "alias": Ref("c"),
        "d": Task(sum, [Ref("alias"), (Ref("a"),)[0]]),
    }
    assert get(graph, ["c", "alias", "d"]) == [5, 5, 7]


# ------------------------------------------------------------- releasing


class Block:
    """A result object that can be watched with a weak reference."""

    def __init__(self, value):
        self.value = value


class LiveCounter(Callback):
    """Counts results alive in the scheduler's process: each result seen by
    ``posttask`` is watched by a weak reference until it dies."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.live = self.peak = self.seen = 0

    def posttask(self, key, result, worker):
        with self.lock:
            self.live += 1
            self.seen += 1
            self.peak = max(self.peak, self.live)
        weakref.finalize(result, self._died)

    def _died(self):
        with self.lock:
            self.live -= 1


def next_block(b):
    return Block(b.value + 1)


def first_block():
    return Block(0)


@ALL
def test_intermediate_results_are_released(name):
    """
    b0 -> b1 -> ... -> b199      (fusion off: each link is its own task)
    """
    get = BACKENDS[name]
    graph = {("b", 0): Task(first_block)}
    for i in range(1, 200):
        graph[("b", i)] = Task(next_block, Ref(("b", i - 1)))
    counter = LiveCounter()
    result = get(graph, ("b", 199), callbacks=[counter])
    assert result.value == 199
    del result
    deadline = time.monotonic() + 2
    while counter.live and time.monotonic() < deadline:
        time.sleep(0.01)
    assert counter.seen == 200
    assert counter.live == 0
    assert counter.peak <= 3


def test_requested_intermediate_results_are_kept():
    graph = {
        "a": Task(first_block),
        "b": Task(next_block, Ref("a")),
        "c": Task(next_block, Ref("b")),
    }
    a, c = get_threads(graph, ["a", "c"])
    assert (a.value, c.value) == (0, 2)


# ------------------------------------------------------------------ errors


@ALL
def test_first_error_keeps_type_message_traceback_and_names_key(name):
    get = BACKENDS[name]
    graph = {"a": 1, ("bad", 3): Task(explode, Ref("a")), "out": Task(inc, Ref(("bad", 3)))}
    with pytest.raises(Boom, match="bad input 1") as info:
        get(graph, "out")
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "('bad', 3)" in notes
    if name == "processes":
        assert "explode" in notes and "Traceback" in notes  # the worker's traceback
    else:
        frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
        assert frames[-1] == "explode"


def test_sync_errors_raise_at_the_call_site():
    def nested():
        return get_sync({"x": Task(explode, 5)}, "x")

    with pytest.raises(Boom) as info:
        nested()
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[0] == "test_sync_errors_raise_at_the_call_site"
    assert "nested" in frames and frames[-1] == "explode"
    assert len(info.value.__notes__) == 1


def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def fail_after(seconds, message):
    time.sleep(seconds)
    raise Boom(message)


@PARALLEL
def test_the_first_error_in_time_wins(name):
    get = BACKENDS[name]
    graph = {
        "late": Task(fail_after, 0.5, "late"),
        "early": Task(fail_after, 0.0, "early"),
        "out": Task(add, Ref("late"), Ref("early")),
    }
    with pytest.raises(Boom, match="early"):
        get(graph, "out", num_workers=2)


def count_run(path, x):
    with open(path, "a") as f:
        f.write("x")
    time.sleep(0.01)
    return x


@PARALLEL
def test_pending_tasks_are_cancelled_after_an_error(name, tmp_path):
    get = BACKENDS[name]
    path = str(tmp_path / "ran")
    n = 300
    graph = {"bad": Task(fail_after, 0.05, "stop")}
    for i in range(n):
        graph[("t", i)] = Task(count_run, path, i)
    graph["out"] = Task(sum, [Ref("bad")] + [Ref(("t", i)) for i in range(n)])
    start = time.monotonic()
    with pytest.raises(Boom, match="stop"):
        get(graph, "out", num_workers=2)
    assert time.monotonic() - start < 2.0

    def ran():
        return os.path.getsize(path) if os.path.exists(path) else 0

    # tasks already running finish (processes: their whole batch); nothing new starts
    count, deadline = ran(), time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if ran() == count:
            break
        count = ran()
    assert ran() == count, "tasks kept starting after the error"
    assert count < n / 2, f"{count} of {n} pending tasks still ran after the error"


def flaky(path, fails, value):
    """Fail the first ``fails`` calls (counted in a file, so across processes)."""
    with open(path, "a") as f:
        f.write("x")
    if os.path.getsize(path) <= fails:
        raise ConnectionError(f"attempt {os.path.getsize(path)} failed")
    return value


@ALL
def test_retries_annotation(name, tmp_path):
    get = BACKENDS[name]
    ok = str(tmp_path / "ok")
    graph = {"x": Task(flaky, ok, 2, 42).annotate(retries=2), "y": Task(inc, Ref("x"))}
    assert get(graph, "y") == 43
    assert os.path.getsize(ok) == 3
    bad = str(tmp_path / "bad")
    graph = {"x": Task(flaky, bad, 5, 42).annotate(retries=2), "y": Task(inc, Ref("x"))}
    with pytest.raises(ConnectionError, match="attempt 1 failed") as info:
        get(graph, "y")
    assert "'x'" in "\n".join(info.value.__notes__)
    assert os.path.getsize(bad) == 3
    no_retry = str(tmp_path / "none")
    with pytest.raises(ConnectionError):
        get({"x": Task(flaky, no_retry, 1, 0)}, "x")
    assert os.path.getsize(no_retry) == 1


def test_processes_report_unpicklable_tasks_clearly():
    lock = threading.Lock()
    with pytest.raises(TypeError, match="could not serialize tasks"):
        get_processes({"x": Task(id, lock)}, "x")


def make_lock():
    return threading.Lock()


def test_processes_report_unpicklable_results_clearly():
    with pytest.raises(TypeError, match="could not send results"):
        get_processes({"x": Task(make_lock)}, "x")


# ---------------------------------------------------- processes specifics


def test_processes_run_lambdas_and_closures():
    offset = 100

    def closure(x):
        return x + offset

    graph = {
        "a": Task(lambda: 1),
        "b": Task(closure, Ref("a")),
        "c": Task(lambda x, y: x * y, Ref("b"), 2),
    }
    assert get_processes(graph, ["b", "c"], num_workers=2) == [101, 202]
    scale = 3
    d = shoal.delayed(lambda x: x * scale)(shoal.delayed(closure)(1))
    assert d.compute(scheduler="processes") == 303


def whoami(_):
    return os.getpid(), threading.get_ident()


@PARALLEL
def test_pools_are_reused_across_calls(name):
    get = BACKENDS[name]

    def run():
        graph = {("w", i): Task(whoami, i) for i in range(40)}
        if name == "processes":
            graph = {k: Task(sleep_then, 0.005, v) for k, v in graph.items()}
            graph = {("w", i): Task(whoami, Ref(("s", i))) for i in range(40)} | {
                ("s", i): Task(sleep_then, 0.002, i) for i in range(40)
            }
        return set(get(graph, [("w", i) for i in range(40)], num_workers=2))

    first, second = run(), run()
    if name == "processes":
        pids = {p for p, _ in first | second}
        assert os.getpid() not in pids
        assert len(pids) <= 2
    else:
        threads = {t for _, t in first | second}
        assert threading.get_ident() not in threads
        assert len(threads) <= 2
        assert {t for _, t in second} <= {th.ident for th in local._thread_pools[2].threads}


def nested_compute(backend, n):
    inner = {("i", j): Task(inc, j) for j in range(n)}
    inner["s"] = Task(sum, [Ref(("i", j)) for j in range(n)])
    return BACKENDS[backend](inner, "s")


@ALL
def test_nested_compute_inside_a_task(name):
    get = BACKENDS[name]
    inner_backend = "sync" if name == "processes" else name
    graph = {("outer", i): Task(nested_compute, inner_backend, 10 + i) for i in range(4)}
    graph["all"] = Task(sum, [Ref(("outer", i)) for i in range(4)])
    expected = sum(sum(range(1, 11 + i)) for i in range(4))
    assert get(graph, "all", num_workers=2) == expected


def test_nested_threads_inside_processes():
    graph = {"x": Task(nested_compute, "threads", 50)}
    assert get_processes(graph, "x", num_workers=1) == sum(range(1, 51))


def test_concurrent_callers_share_nothing_wrong():
    results: dict = {}

    def caller(i):
        graph = {("c", j): Task(sleep_then, 0.001, j * i) for j in range(50)}
        graph["s"] = Task(sum, [Ref(("c", j)) for j in range(50)])
        results[i] = get_threads(graph, "s", num_workers=2)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: i * sum(range(50)) for i in range(6)}


@ALL
def test_callbacks_see_every_task(name):
    get = BACKENDS[name]
    seen: dict = {"start": 0, "pre": [], "post": [], "finish": []}
    cb = Callback(
        start=lambda graph: seen.__setitem__("start", len(graph)),
        pretask=lambda key: seen["pre"].append(key),
        posttask=lambda key, result, worker: seen["post"].append((key, result)),
        finish=lambda graph, errored: seen["finish"].append(errored),
    )
    graph = {"a": 1, "b": Task(inc, Ref("a")), "unused": 5}
    assert get(graph, "b", callbacks=[cb]) == 2
    assert seen["start"] == 2
    assert sorted(seen["pre"]) == ["a", "b"]
    assert sorted(seen["post"]) == [("a", 1), ("b", 2)]
    assert seen["finish"] == [False]
    with pytest.raises(Boom):
        get({"x": Task(explode, 1)}, "x", callbacks=[cb])
    assert seen["finish"] == [False, True]


# ------------------------------------------------------------------ Ctrl-C

CTRL_C_SCRIPT = """
import sys, time
from shoal.core.local import BACKENDS
from shoal.core.task import Task, Ref

def slow(i):
    time.sleep(0.2)
    return i

if __name__ == "__main__":
    get = BACKENDS[sys.argv[1]]
    graph = {("s", i): Task(slow, i) for i in range(500)}
    graph["out"] = Task(sum, [Ref(("s", i)) for i in range(500)])
    print("started", flush=True)
    try:
        get(graph, "out", num_workers=2)
    except KeyboardInterrupt:
        print("interrupted", time.monotonic(), flush=True)
        raise
    print("finished", flush=True)
"""


@PARALLEL
def test_ctrl_c_returns_within_a_second(name, tmp_path):
    script = tmp_path / "long.py"
    script.write_text(textwrap.dedent(CTRL_C_SCRIPT))
    proc = subprocess.Popen(
        [sys.executable, "-P", str(script), name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout.readline().strip() == "started"
        time.sleep(1.0 if name == "threads" else 2.5)  # processes: let the pool spawn
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        exited = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "finished" not in out
    assert "interrupted" in out, err
    interrupted_at = float(out.split("interrupted")[1].split()[0])
    assert interrupted_at - sent < 1.0, "KeyboardInterrupt reached the caller too late"
    assert exited - sent < 2.5, "the process did not exit soon after Ctrl-C"
    assert "KeyboardInterrupt" in err
    assert proc.returncode != 0


UNGUARDED_SCRIPT = """
from shoal.core.local import get_processes
from shoal.core.task import Ref, Task

graph = {("n", i): Task(len, "x" * i) for i in range(20)}
graph["out"] = Task(sum, [Ref(("n", i)) for i in range(20)])
print(get_processes(graph, "out", num_workers=2))  # no `if __name__ == "__main__":`
"""


def _session_processes(sid: int) -> list[int]:
    import psutil

    left = []
    for proc in psutil.process_iter():
        try:  # zombies are gone already (where nothing reaps orphans)
            if os.getsid(proc.pid) == sid and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(proc.pid)
        except (OSError, psutil.Error):
            pass
    return left


def test_processes_in_a_script_without_main_guard_fail_clearly_and_leave_nothing(tmp_path):
    """Each spawned process imports the script again and reaches the scheduler:
    it fails at once, the caller's error says why, and no process is left
    (one left holding the caller's stdout made `python script.py | tail` hang)."""
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(UNGUARDED_SCRIPT))
    for _ in range(3):  # a leftover process came from a race, about one run in three
        proc = subprocess.Popen(
            [sys.executable, "-P", str(script)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=30)
            time.sleep(0.2)
            left = _session_processes(proc.pid)
        finally:
            for pid in _session_processes(proc.pid):
                os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode != 0
        assert "the processes scheduler was started while a new worker process" in err
        assert "a process of the processes scheduler died" in err
        assert left == [], f"processes left running: {left}"


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_a_failing_task_anywhere_is_reported_with_its_key(data, random_dag):
    graph, values, sinks = random_dag(data, max_nodes=20)
    bad = data.draw(st.sampled_from(sorted(graph, key=repr)), label="bad")
    graph[bad] = Task(explode, repr(bad))
    needed = set()
    stack = list(sinks)
    while stack:
        k = stack.pop()
        if k not in needed:
            needed.add(k)
            node = graph[k]
            stack.extend(node.dependencies if isinstance(node, Task) else ())
    assert bad in needed  # every key feeds some sink
    for get in (get_sync, get_threads):
        with pytest.raises(Boom, match="bad input") as info:
            get(graph, sinks)
        assert f"task {bad!r}" in "\n".join(info.value.__notes__)
