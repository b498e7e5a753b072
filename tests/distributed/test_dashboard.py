"""The dashboard over real HTTP: JSON API, pages, /metrics, redirects, the
live record, progress and performance_report, with worker processes."""

import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import cloudpickle
import pytest

import shoal
from shoal.core.task import Ref, Task
from shoal.distributed import Client, LocalCluster, performance_report, progress
from shoal.distributed import dashboard as dashboard_module
from shoal.distributed.dashboard import DASK_PATHS, parse_dashboard_address
from shoal.distributed.dashboard_groups import TASK_STATES, TaskGroups
from shoal.distributed.dashboard_live import STREAM_RATE, STREAM_SIZE, LiveRecord
from shoal.distributed.scheduler_state import STATES

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(120)


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.headers.get("Content-Type"), reply.read().decode(), reply.url


def _json(url):
    return json.loads(_get(url)[2])


def slow(x, delay):
    time.sleep(delay)
    return x


def wait_for_file(x, path):
    """A task that runs until the test creates ``path`` (works across processes)."""
    deadline = time.monotonic() + 60
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return x


def sleepy(x):
    time.sleep(0.02)
    return x


def fail(x):
    raise ZeroDivisionError(f"boom {x}")


def _walk(shoal_scheduler):
    """Oracle: task counts by (prefix, state) from a walk over every task."""
    out = {}
    for ts in shoal_scheduler.state.tasks.values():
        out.setdefault(ts.prefix, {})
        out[ts.prefix][ts.state] = out[ts.prefix].get(ts.state, 0) + 1
    return out


def _until(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _live_counts(groups_json):
    return {
        g["name"]: {s: n for s, n in g["counts"].items() if n and s != "forgotten"}
        for g in groups_json["groups"]
        if any(n for s, n in g["counts"].items() if s != "forgotten")
    }


@pytest.fixture
def gated_cluster(tmp_path, no_leaks):
    """Two worker processes, 40 loads done and 40 adds waiting on a gate task
    that runs until ``gate`` exists."""
    gate = str(tmp_path / "gate")
    with (
        LocalCluster(n_workers=2, threads_per_worker=2, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        graph = {("load-aaaa0000bbbb", i): Task(slow, i, 0.0) for i in range(40)}
        graph.update(
            {
                ("add-ccccdddd0000", i): Task(
                    max, Ref(("load-aaaa0000bbbb", i)), Ref("gate-0123456789abcdef")
                )
                for i in range(40)
            }
        )
        graph["gate-0123456789abcdef"] = Task(wait_for_file, 0, gate)
        held = client._graph_to_futures(graph, [("add-ccccdddd0000", i) for i in range(40)])
        base = f"http://127.0.0.1:{cluster.scheduler.dashboard.port}"
        try:
            yield client, base, gate, held
        finally:
            open(gate, "w").close()


def test_api_counts_by_group_match_a_walk_over_the_tasks(gated_cluster):
    client, base, gate, held = gated_cluster
    groups = _groups_when(base, lambda counts: counts.get("load") == {"memory": 40})
    assert _live_counts(groups) == client.run_on_scheduler(_walk)
    assert _live_counts(groups) == {
        "load": {"memory": 40},
        "add": {"waiting": 40},
        "gate": {"processing": 1},
    }
    by_name = {g["name"]: g for g in groups["groups"]}
    assert by_name["add"]["dependencies"] == ["gate", "load"]
    assert by_name["load"]["done"] == 40 and by_name["load"]["nbytes_total"] > 0
    summary = _json(base + "/api/v1/summary")
    assert summary["tasks"]["total"] == 81
    assert summary["tasks"]["by_state"]["waiting"] == 40
    assert summary["tasks"]["by_state"]["memory"] == 40
    assert summary["workers"]["count"] == 2 and summary["workers"]["threads"] == 4
    assert summary["workers"]["processing"] == 1 and summary["workers"]["in_memory"] == 40
    assert summary["tasks"]["finished"] >= 40

    # the task stream holds the 40 loads (far below the sampling rate)
    stream = _json(base + "/api/v1/task-stream?since=0")
    assert stream["every"] == 1
    assert [t["prefix"] for t in stream["tasks"]].count("load") == 40
    later = _json(base + f"/api/v1/task-stream?since={stream['last']}")
    assert later["tasks"] == [] and later["last"] == stream["last"]

    # workers, one page, then one worker
    page = _json(base + "/api/v1/workers?sort=in_memory&reverse=1")
    assert page["total"] == 2 and len(page["workers"]) == 2
    rows = page["workers"]
    assert rows[0]["in_memory"] >= rows[1]["in_memory"]
    assert sum(r["in_memory"] for r in rows) == 40
    assert sum(r["processing"] for r in rows) == 1
    assert all(r["rss"] > 0 and r["unmanaged"] > 0 for r in _until(lambda: _rows_with_memory(base)))
    one = _json(base + "/api/v1/worker?address=" + rows[0]["address"])
    assert one["address"] == rows[0]["address"] and one["pid"] > 0
    assert len(one["held_keys"]) == min(20, rows[0]["in_memory"])
    with pytest.raises(urllib.error.HTTPError) as info:
        _get(base + "/api/v1/worker?address=tcp://nowhere:1")
    assert info.value.code == 404

    open(gate, "w").close()
    assert [f.result() for f in held.values()] == list(range(40))
    done = _groups_when(base, lambda counts: counts.get("add") == {"memory": 40})
    assert _live_counts(done)["add"] == {"memory": 40}
    assert _live_counts(done) == client.run_on_scheduler(_walk)


def _groups_when(base, check, timeout=20.0):
    """The groups once ``check(live counts)`` holds (or the last ones after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        groups = _json(base + "/api/v1/groups")
        if check(_live_counts(groups)) or time.monotonic() > deadline:
            return groups
        time.sleep(0.05)


def _rows_with_memory(base):
    rows = _json(base + "/api/v1/workers")["workers"]
    return rows if all(r["rss"] > 0 for r in rows) else None


def test_errors_history_metrics_and_pages(no_leaks):
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster) as client,
    ):
        base = f"http://127.0.0.1:{cluster.scheduler.dashboard.port}"
        bad = client.submit(fail, 7, key="fail-0123456789abcdef")
        with pytest.raises(ZeroDivisionError):
            bad.result()
        errors = _json(base + "/api/v1/errors")
        assert errors["erred"] == 1
        (error,) = errors["errors"]
        assert error["prefix"] == "fail" and error["key"] == "fail-0123456789abcdef"
        assert "ZeroDivisionError: boom 7" in error["exception"]
        assert "in fail" in error["traceback"]  # the worker's traceback, as text
        assert client.submit(sum, [1, 2]).result() == 3

        history = _until(lambda: _history_with_memory(base))
        assert history, "no sample with the worker's memory in 20 s"
        assert history[-1]["workers"] == 1 and history[-1]["finished"] >= 1
        newer = _json(base + f"/api/v1/history?since={history[-1]['time']}")["samples"]
        assert all(s["time"] > history[-1]["time"] for s in newer)

        status, ctype, text, _ = _get(base + "/metrics")
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
        metrics = _parse_prometheus(text)
        assert metrics['shoal_scheduler_workers{state="running"}'] == 1
        assert metrics["shoal_scheduler_tasks_erred_total"] == 1
        assert metrics["shoal_scheduler_tasks_finished_total"] >= 1
        assert metrics['shoal_scheduler_prefix_tasks{task_prefix_name="fail",state="erred"}'] == 1

        for page in ("status", "workers", "errors"):
            status, ctype, body, _ = _get(f"{base}/{page}")
            assert status == 200 and ctype.startswith("text/html")
            assert f'data-page="{page}"' in body
        assert _get(base + "/")[3].endswith("/status")
        assert _get(base + "/health")[2] == "ok"
        # dask's paths land on their equivalent
        for path, target in DASK_PATHS.items():
            assert _get(base + path)[3] == base + target, path
        (worker,) = client.nthreads()
        assert _get(f"{base}/info/worker/{worker}.html")[3].startswith(base + "/worker?address=")
        for bad_query in (
            "workers?limit=0",
            "workers?sort=nope",
            "groups?limit=x",
            "workers?offset=-1",
        ):
            with pytest.raises(urllib.error.HTTPError) as info:
                _get(f"{base}/api/v1/{bad_query}")
            assert info.value.code == 400
            assert "should be" in json.loads(info.value.read())["error"]
        for missing in ("/nothing-here", "/api/v1/nothing", "/profile"):
            with pytest.raises(urllib.error.HTTPError) as info:
                _get(base + missing)
            assert info.value.code == 404
        summary = _json(base + "/api/v1/summary")
        assert summary["dashboard_cpu"] > 0  # its answers are counted


def _history_with_memory(base):
    samples = _json(base + "/api/v1/history")["samples"]
    return samples if samples and samples[-1]["unmanaged"] > 0 else None


def _parse_prometheus(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert line.startswith(("# HELP ", "# TYPE ")), line
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def test_workers_page_sorts_and_pages_like_a_sort_of_the_rows(no_leaks):
    with (
        LocalCluster(
            n_workers=5, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(5)
        addresses = sorted(client.nthreads())
        futures = [client.submit(slow, i, 0.0, workers=[a]) for i, a in enumerate(addresses)]
        client.gather(futures)
        base = f"http://127.0.0.1:{cluster.scheduler.dashboard.port}"
        everything = _json(base + "/api/v1/workers?limit=500")["workers"]
        for sort in ("name", "in_memory", "cpu", "memory"):
            for reverse in (0, 1):
                pages = [
                    _json(f"{base}/api/v1/workers?sort={sort}&reverse={reverse}&offset={o}&limit=2")
                    for o in (0, 2, 4)
                ]
                assert [len(p["workers"]) for p in pages] == [2, 2, 1]
                got = [r["address"] for p in pages for r in p["workers"]]
                assert sorted(got) == sorted(r["address"] for r in everything)
                key = {"memory": "rss"}.get(sort, sort)
                values = [r[key] for p in pages for r in p["workers"]]
                if sort != "cpu" and sort != "memory":  # cpu and rss move between requests
                    assert values == sorted(values, reverse=bool(reverse))
        hist = _json(base + "/api/v1/workers")["histograms"]
        assert sum(hist["processing"]["counts"]) == 5 and sum(hist["cpu"]["counts"]) == 5


def test_dashboard_on_by_default_and_dashboard_link(no_leaks, monkeypatch):
    # the default port is taken (here by us): another free port is used
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        monkeypatch.setattr(
            dashboard_module, "DEFAULT_ADDRESS", f"127.0.0.1:{taken.getsockname()[1]}"
        )
        with (
            LocalCluster(
                n_workers=1, processes=False, dashboard_address=dashboard_module.DEFAULT_ADDRESS
            ) as cluster,
            Client(cluster) as c,
        ):
            link = c.dashboard_link
            assert link.startswith("http://127.0.0.1:") and link.endswith("/status")
            assert f":{taken.getsockname()[1]}/" not in link
            assert _get(link)[0] == 200
            with Client(c.scheduler_address) as remote:  # asks the scheduler
                assert remote.dashboard_link == link
    finally:
        taken.close()
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        assert cluster.dashboard_link == "" and cluster.scheduler.dashboard is None
    with pytest.raises(OSError):  # a port chosen on purpose and taken is an error
        other = socket.socket()
        other.bind(("127.0.0.1", 0))
        other.listen()
        try:
            LocalCluster(
                n_workers=0,
                processes=False,
                dashboard_address=f"127.0.0.1:{other.getsockname()[1]}",
            )
        finally:
            other.close()


def test_progress_bar_of_futures_and_persisted_collections(no_leaks):
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cl,
        Client(cl) as c,
    ):
        out = io.StringIO()
        futures = [c.submit(slow, i, 0.01) for i in range(20)]
        progress(futures, interval=0.005, file=out)
        frames = out.getvalue().strip("\n").split("\r")[1:]
        assert frames[-1].startswith("[" + "#" * 40 + "] | 100% Completed")
        percents = [int(f.split("|")[1].split("%")[0]) for f in frames]
        assert percents == sorted(percents) and percents[-1] == 100
        assert all(f.done() for f in futures)

        x = c.persist(shoal.delayed(sum)([shoal.delayed(slow)(i, 0.01) for i in range(5)]))
        out = io.StringIO()
        progress({"x": x, "more": [c.submit(fail, 1)]}, file=out, interval=0.005)
        assert "100% Completed" in out.getvalue() and "| 1 erred" in out.getvalue()
        assert x.compute() == 10

        with pytest.raises(ValueError, match="persist it first"):
            progress(shoal.delayed(sum)([1, 2]))
        with pytest.raises(TypeError, match="progress takes futures"):
            progress(3)
        with pytest.raises(ValueError, match="interval"):
            progress(futures, interval=0)
        out = io.StringIO()
        progress([], file=out)  # nothing to wait for: a full bar at once
        assert "100% Completed" in out.getvalue()


def test_performance_report_is_one_self_contained_file(tmp_path, no_leaks):
    path = tmp_path / "report.html"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        c.submit(slow, -1, 0.0).result()  # before the report: not in it
        with performance_report(str(path)):
            xs = [shoal.delayed(sleepy)(i) for i in range(12)]
            assert shoal.delayed(sum)(xs).compute() == 66
            with pytest.raises(ZeroDivisionError):
                c.submit(fail, 3).result()
    text = path.read_text()
    assert text.startswith("<!doctype html>")
    assert "<script" not in text and "src=" not in text and "href=" not in text  # nothing to fetch
    assert text.count("<rect") == 14  # 12 sleeps, one sum, one failure
    assert "sleepy" in text and "ZeroDivisionError: boom 3" in text
    assert text.count("<polyline") in (0, 3)
    assert "13 tasks finished, 1 erred" in text and "14 tasks shown" in text


def test_task_groups_follow_random_moves_like_a_recount():
    """``TaskGroups`` against a plain recount after each of many random moves."""
    import random

    rng = random.Random(0)
    groups = TaskGroups()
    tasks = {}  # key -> [prefix, state]
    for step in range(3000):
        if not tasks or rng.random() < 0.3:
            prefix = rng.choice("abcde")
            tasks[step] = [prefix, "released"]
            groups.added(prefix)
        else:
            key = rng.choice(list(tasks))
            prefix, start = tasks[key]
            finish = rng.choice([s for s in TASK_STATES if s != start])
            groups.moved(prefix, start, finish)
            tasks[key][1] = finish
    for prefix in "abcde":
        recount = dict.fromkeys(TASK_STATES, 0)
        for p, s in tasks.values():
            if p == prefix:
                recount[s] += 1
        assert groups[prefix].counts == recount
    assert sum(groups.totals().values()) == len(tasks)
    assert TASK_STATES == STATES


def test_task_stream_is_sampled_and_bounded():
    record = LiveRecord(tasks={})
    record.tick(_NoWorkers(), now=100.0)
    n = 200_000  # finished within one second: 400x the rate the stream keeps
    for i in range(n):
        record.task_finished("tcp://w:1", f"inc-{i}", 0.001, now=100.5)
    record.tick(_NoWorkers(), now=101.0)
    assert record.every == int(n / STREAM_RATE)
    assert len(record.stream) == min(STREAM_SIZE, n)  # every task kept before the first tick
    before = record.stream_since(0, limit=STREAM_SIZE)["last"]
    for i in range(n):
        record.task_finished("tcp://w:1", f"inc-{i}", 0.001, now=101.5)
    kept = record.stream_since(before, limit=STREAM_SIZE)["tasks"]
    assert len(kept) == n // record.every
    assert record.finished == 2 * n
    assert record.history[-1]["rate"] == pytest.approx(n / 1.0)


class _NoWorkers:
    workers: dict = {}


@pytest.mark.parametrize(
    "text, expected",
    [
        (":8787", ("127.0.0.1", 8787)),
        ("8787", ("127.0.0.1", 8787)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("tcp://10.0.0.1:9", ("10.0.0.1", 9)),
    ],
)
def test_dashboard_addresses(text, expected):
    assert parse_dashboard_address(text) == expected


@pytest.mark.parametrize("text", ["host:http", ":70000", ""])
def test_bad_dashboard_addresses_are_clear(text):
    with pytest.raises(ValueError, match="dashboard"):
        parse_dashboard_address(text)


def test_command_line_dashboard(no_leaks):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-P",
            "-m",
            "shoal.distributed.cli",
            "scheduler",
            "--port",
            "0",
            "--dashboard-address",
            "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith("shoal scheduler at tcp://")
        line = proc.stdout.readline()
        assert line.startswith("shoal dashboard at http://127.0.0.1:")
        url = line.split()[-1].replace("/status", "/api/v1/summary")
        assert _json(url)["workers"]["count"] == 0
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


@pytest.mark.parametrize("flag, served", [([], True), (["--dashboard-address", "none"], False)])
def test_command_line_dashboard_is_on_by_default(flag, served, no_leaks):
    """As ``dask-scheduler`` does: on at 127.0.0.1:8787 (another port if taken)."""
    cmd = [sys.executable, "-P", "-m", "shoal.distributed.cli", "scheduler", "--port", "0"]
    proc = subprocess.Popen(cmd + flag, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("shoal scheduler at tcp://")
        if served:
            line = proc.stdout.readline()
            assert line.startswith("shoal dashboard at http://127.0.0.1:")
            assert _json(line.split()[-1].replace("/status", "/api/v1/summary"))["workers"]
    finally:
        proc.terminate()
        proc.wait(10)
        rest = proc.stdout.read()
        proc.stdout.close()
    assert served or "dashboard" not in rest


def test_progress_in_a_notebook_updates_one_html_bar(monkeypatch, no_leaks):
    """In a Jupyter kernel the bar is HTML, displayed once and updated in place
    (IPython stood in for by a module recording the calls)."""
    import types

    shown = []

    class ZMQInteractiveShell:
        pass

    class HTML:
        def __init__(self, text):
            self.text = text

    class Handle:
        def update(self, obj):
            shown.append(("update", obj.text))

    def display(obj, display_id=False):
        assert display_id is True
        shown.append(("display", obj.text))
        return Handle()

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = ZMQInteractiveShell
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.HTML, ipython_display.display = HTML, display
    ipython.display = ipython_display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        out = io.StringIO()
        progress([c.submit(slow, i, 0.01) for i in range(5)], interval=0.005, file=out)
    assert out.getvalue() == ""  # nothing in text
    assert shown[0][0] == "display" and all(kind == "update" for kind, _ in shown[1:])
    assert "width:0.0%" in shown[0][1] and "100% Completed" in shown[-1][1]
    assert "width:100.0%" in shown[-1][1]


def test_workers_count_the_bytes_they_fetch_and_serve(no_leaks):
    """The network figures of the worker pages: a result moved between two
    workers counts on both sides, with its size."""
    from shoal.distributed.sizeof import sizeof

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cl,
        Client(cl) as c,
    ):
        a, b = sorted(c.nthreads())
        x = c.submit(slow, list(range(10_000)), 0.0, workers=[a])
        y = c.submit(len, x, workers=[b])
        assert y.result() == 10_000
        by_address = {w.address: w for w in cl.workers.values()}
        size = sizeof(list(range(10_000)))  # each side measures its own copy
        assert by_address[b].bytes_fetched == pytest.approx(size, rel=0.05)
        assert by_address[a].bytes_served == pytest.approx(size, rel=0.05)
        assert by_address[a].bytes_fetched == 0
        assert by_address[b].bytes_served == sizeof(10_000)  # y, gathered by the client
