"""The scheduler's status page over real HTTP."""

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from shoal.core.task import Ref, Task
from shoal.distributed import Client, LocalCluster
from shoal.distributed.dashboard import parse_dashboard_address, render_page

# workers are threads of this process (pickled by reference), so a task can
# wait on an event the test sets
GATE = threading.Event()

pytestmark = pytest.mark.timeout(60)


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.headers.get("Content-Type"), reply.read().decode()


def slow(x, delay):
    time.sleep(delay)
    return x


def wait_for_gate(x):
    GATE.wait(30)
    return x


def test_status_counts_tasks_by_prefix_and_state_and_workers_in_aggregate(no_leaks):
    with (
        LocalCluster(
            n_workers=3, threads_per_worker=2, processes=False, dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster) as client,
    ):
        base = f"http://127.0.0.1:{cluster.scheduler.dashboard.port}"
        GATE.clear()
        client.wait_for_workers(3)
        gate = client.submit(wait_for_gate, 0, key="gate-0123456789abcdef")
        graph = {("load-aaaa0000bbbb", i): Task(slow, i, 0.0) for i in range(40)}
        graph.update(
            {
                ("add-ccccdddd0000", i): Task(max, Ref(("load-aaaa0000bbbb", i)), Ref("g"))
                for i in range(40)
            }
        )
        graph["g"] = gate
        held = client._graph_to_futures(graph, [("add-ccccdddd0000", i) for i in range(40)])
        try:
            _check_status(base)
        finally:
            GATE.set()
        assert [f.result() for f in held.values()] == list(range(40))


def _check_status(base):
    """The status while 40 loads are done and their adds wait on the gate."""
    deadline = time.monotonic() + 10
    while True:
        status, ctype, body = _get(base + "/json/status")
        summary = json.loads(body)
        groups = summary["tasks"]["by_prefix"]
        if groups.get("load", {}).get("memory") == 40 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == 200 and ctype.startswith("application/json")
    assert groups["load"] == {"memory": 40}
    assert groups["add"] == {"waiting": 40}
    assert groups["gate"] == {"processing": 1}
    assert groups["g"] == {"waiting": 1}  # the alias of the gate's future
    assert summary["tasks"]["total"] == 82
    assert summary["tasks"]["by_state"] == {"memory": 40, "waiting": 41, "processing": 1}
    workers = summary["workers"]
    assert workers["count"] == 3 and workers["threads"] == 6
    assert workers["processing"] == 1 and workers["in_memory"] == 40
    assert len(workers["busiest"]) == 3 and workers["busiest"][0]["processing"] == 1
    assert workers["idlest"][0]["processing"] == 0
    status, ctype, page = _get(base + "/status")
    assert status == 200 and ctype.startswith("text/html")
    assert "<td>load</td>" in page and "<td>add</td>" in page
    status, _, redirected = _get(base + "/")
    assert status == 200 and "Tasks by prefix" in redirected
    with pytest.raises(urllib.error.HTTPError) as info:
        _get(base + "/nothing-here")
    assert info.value.code == 404


def test_the_page_stays_short_with_thousands_of_workers():
    rows = [
        {
            "address": f"tcp://w{i}",
            "nthreads": 1,
            "processing": i % 7,
            "in_memory": 0,
            "memory": 0,
            "cpu": 0.0,
            "name": "",
            "nbytes": 0,
        }
        for i in range(5)
    ]
    summary = {
        "address": "tcp://s:1",
        "tasks": {"total": 3, "by_state": {}, "by_prefix": {"<script>": {"memory": 3}}},
        "workers": {
            "count": 5000,
            "threads": 5000,
            "processing": 0,
            "in_memory": 0,
            "nbytes": 0,
            "memory": 0,
            "cpu_mean": 0.0,
            "busiest": rows,
            "idlest": rows,
        },
        "clients": 1,
        "transitions": 10,
    }
    page = render_page(summary)
    assert "<script>" not in page and "&lt;script&gt;" in page  # escaped
    assert page.count("tcp://w") == 10


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
        url = line.split()[-1].replace("/status", "/json/status")
        assert json.loads(_get(url)[2])["workers"]["count"] == 0
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
