"""Diagnostics: callbacks, progress bar, profilers."""

import io
import re
import threading
import time

import pytest

import shoal
from shoal.core.diagnostics import Callback, Profiler, ProgressBar, ResourceProfiler
from shoal.core.diagnostics.callbacks import active_callbacks
from shoal.core.local import get_sync, get_threads
from shoal.core.task import Ref, Task


def inc(x):
    return x + 1


def nap(x, seconds=0.002):
    time.sleep(seconds)
    return x


def fail(x):
    raise ValueError("nope")


def graph_with_groups():
    """
    total <- ("inc-5d41402abc4b2a76", i)  for i < 30
          <- ("load", i)                  for i < 10
    """
    g = {("load", i): i for i in range(10)}
    for i in range(30):
        g[("inc-5d41402abc4b2a76", i)] = Task(inc, Ref(("load", i % 10)))
    g["total"] = Task(sum, [Ref(("inc-5d41402abc4b2a76", i)) for i in range(30)])
    return g


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def start(self, graph):
        self.events.append(("start", len(graph)))

    def pretask(self, key):
        self.events.append(("pre", key))

    def posttask(self, key, result, worker):
        self.events.append(("post", key, result))

    def finish(self, graph, errored):
        self.events.append(("finish", errored))


@pytest.mark.parametrize("get", [get_sync, get_threads])
def test_callback_as_context_manager(get):
    rec = Recorder()
    graph = {"a": 1, "b": Task(inc, Ref("a"))}
    with rec as active:
        assert active is rec
        assert rec in active_callbacks()
        assert get(graph, "b") == 2
    assert rec not in active_callbacks()
    assert rec.events[0] == ("start", 2) and rec.events[-1] == ("finish", False)
    pre = [e for e in rec.events if e[0] == "pre"]
    post = [e for e in rec.events if e[0] == "post"]
    assert sorted(e[1] for e in pre) == ["a", "b"]
    assert sorted(post) == [("post", "a", 1), ("post", "b", 2)]
    # each task's pretask comes before its posttask
    assert rec.events.index(("pre", "b")) < rec.events.index(("post", "b", 2))
    n = len(rec.events)
    get(graph, "b")
    assert len(rec.events) == n  # not active any more


def test_register_and_unregister():
    rec = Recorder()
    rec.register()
    try:
        shoal.delayed(inc)(1).compute()
        rec.register()  # twice is once
        assert active_callbacks().count(rec) == 1
    finally:
        rec.unregister()
    rec.unregister()  # harmless
    assert rec.events[-1] == ("finish", False)
    n = len(rec.events)
    shoal.delayed(inc)(1).compute()
    assert len(rec.events) == n


def test_function_hooks_and_errors():
    finished = []
    cb = Callback(finish=lambda graph, errored: finished.append(errored))
    with cb:
        with pytest.raises(ValueError):
            get_threads({"x": Task(fail, 1)}, "x")
        get_sync({"x": 1}, "x")
    assert finished == [True, False]


class TTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_shows_done_total_and_groups():
    out = io.StringIO()
    with ProgressBar(out=out, groups=2, width=20):
        assert get_threads(graph_with_groups(), "total") == sum(inc(i % 10) for i in range(30))
    text = out.getvalue()
    final = text.rstrip("\n").split("\r")[-1]
    assert re.search(r"\[#{20}\] 100% 41/41 \| \d+\.\ds", final), final
    # the two largest groups, token stripped from the name
    assert "inc 30/30" in final and "load 10/10" in final
    assert "total" not in final
    assert text.endswith("\n")


def test_progress_bar_redraws_while_running_on_a_terminal():
    out = TTY()
    graph = {("nap", i): Task(nap, i, 0.01) for i in range(40)}
    graph["all"] = Task(sum, [Ref(("nap", i)) for i in range(40)])
    with ProgressBar(out=out, interval=0.02):
        get_sync(graph, "all")
    draws = out.getvalue().split("\r")[1:]
    assert len(draws) >= 5
    counts = [int(re.search(r" (\d+)/41 ", d).group(1)) for d in draws]
    assert counts == sorted(counts) and counts[-1] == 41 and counts[0] < 41


def test_progress_bar_after_an_error_and_minimum():
    out = io.StringIO()
    graph = {"a": 1, "b": Task(fail, Ref("a")), "c": Task(inc, Ref("b"))}
    with ProgressBar(out=out):
        with pytest.raises(ValueError):
            get_sync(graph, "c")
    assert " 1/3 " in out.getvalue() and "100%" not in out.getvalue()
    quiet = io.StringIO()
    with ProgressBar(out=quiet, minimum=60):
        get_sync({"a": 1}, "a")
    assert quiet.getvalue() == ""


def test_progress_bar_stays_one_short_line_for_many_tasks():
    n = 20_000
    graph = {f"task-{i:032x}": i for i in range(n)}  # every key its own name
    graph.update({("part", i): Task(inc, i) for i in range(n)})
    out = TTY()
    bar = ProgressBar(out=out, groups=3, interval=0.01)
    with bar:
        get_threads(graph, list(graph))
    final = out.getvalue().rstrip("\n").split("\r")[-1]
    assert f"{2 * n}/{2 * n}" in final
    assert "task 20000/20000" in final and "part 20000/20000" in final
    assert len(final) < 150
    assert bar.last_duration > 0


def test_profiler_records_every_task():
    graph = {("nap", i): Task(nap, i) for i in range(8)}
    graph["all"] = Task(sum, [Ref(("nap", i)) for i in range(8)])
    with Profiler() as prof:
        get_threads(graph, "all", num_workers=2)
    keys = sorted(map(repr, (r.key for r in prof.results)))
    assert keys == sorted(map(repr, graph))
    for r in prof.results:
        assert r.start <= r.end
        if r.key != "all":
            assert r.end - r.start >= 0.0015
    workers = {r.worker for r in prof.results}
    assert threading.get_ident() not in workers and 1 <= len(workers) <= 2
    # a new computation starts a new record
    with prof:
        get_sync({"x": 1}, "x")
    assert [r.key for r in prof.results] == ["x"]
    assert [r.worker for r in prof.results] == [threading.get_ident()]
    prof.clear()
    assert prof.results == []


def burn(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def test_resource_profiler_samples_cpu_and_memory():
    with ResourceProfiler(interval=0.02) as rprof:
        get_sync({"x": Task(burn, 0.3)}, "x")
    samples = rprof.results
    assert len(samples) >= 2  # a task holding the GIL slows the sampler down
    assert all(s.memory_bytes > 10_000_000 for s in samples)
    assert max(s.cpu_percent for s in samples) > 1  # busy, even on a loaded machine
    times = [s.time for s in samples]
    assert times == sorted(times)
    assert not any(t.name == "shoal-resources" for t in threading.enumerate())
    rprof.clear()
    assert rprof.results == []
    with rprof:
        get_sync({"x": Task(nap, 1, 0.3)}, "x")  # sleeping: the sampler keeps its pace
    assert len(rprof.results) >= 5


def inner_compute(n):
    """A task that computes a graph of its own (nested computation)."""
    graph = {("inner", i): Task(inc, i) for i in range(n)}
    graph["s"] = Task(sum, [Ref(("inner", i)) for i in range(n)])
    return get_threads(graph, "s")


@pytest.mark.parametrize("get", [get_sync, get_threads])
def test_diagnostics_follow_the_outer_computation_when_tasks_compute(get):
    graph = {("outer", i): Task(inner_compute, 5 + i) for i in range(4)}
    graph["all"] = Task(sum, [Ref(("outer", i)) for i in range(4)])
    expected = sum(sum(range(1, 6 + i)) for i in range(4))
    out = io.StringIO()
    with ProgressBar(out=out, groups=1) as bar, Profiler() as prof:
        with ResourceProfiler(interval=0.01) as rprof:
            assert get(graph, "all") == expected
    lines = [line for line in out.getvalue().split("\n") if line]
    assert len(lines) == 1, "nested computations drew bars of their own"
    final = lines[0].split("\r")[-1]
    assert " 5/5 " in final and "outer 4/4" in final
    assert bar._depth == prof._depth == rprof._depth == 0
    # the profiler keeps the outer tasks (and also saw the inner ones)
    outer_keys = {r.key for r in prof.results if r.key in graph}
    assert outer_keys == set(graph)
    assert not any(t.name in ("shoal-resources", "shoal-progress") for t in threading.enumerate())
