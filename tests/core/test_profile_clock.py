"""Profiler and ResourceProfiler read one clock, so their timelines line up."""

import time

import pytest

from shoal.core.diagnostics import Profiler, ResourceProfiler
from shoal.core.diagnostics.profile import clock
from shoal.core.local import get_sync, get_threads
from shoal.core.task import Ref, Task


def nap(x, seconds):
    time.sleep(seconds)
    return x


@pytest.mark.parametrize("get", [get_sync, get_threads])
def test_task_records_and_resource_samples_share_one_timeline(get):
    graph = {("nap", i): Task(nap, i, 0.15) for i in range(3)}
    graph["all"] = Task(sum, [Ref(("nap", i)) for i in range(3)])
    before = clock()
    with Profiler() as prof, ResourceProfiler(interval=0.01) as rprof:
        assert get(graph, "all") == 3
    after = clock()
    tasks = [r for r in prof.results if r.key != "all"]
    samples = [s.time for s in rprof.results]
    assert len(tasks) == 3 and len(samples) >= 5
    for r in prof.results:
        assert before <= r.start <= r.end <= after
    assert all(before <= t <= after for t in samples)
    # sampled while the naps ran: samples fall inside the tasks' intervals
    inside = [t for t in samples if any(r.start <= t <= r.end for r in tasks)]
    assert len(inside) >= 3
    first, last = min(r.start for r in tasks), max(r.end for r in tasks)
    assert min(samples) <= first + 0.1 and max(samples) >= last - 0.1


def test_clock_is_monotonic_and_in_seconds():
    a = clock()
    time.sleep(0.05)
    b = clock()
    assert 0.04 <= b - a < 5
