"""The dashboard in a real browser: headless Chromium (``--dump-dom``) loads
the pages of a running cluster, runs their JavaScript against the JSON API,
and the test reads the DOM it drew, before and after the work proceeds."""

import html.parser
import os
import shutil
import subprocess
import sys
import tempfile
import time

import cloudpickle
import pytest

from shoal.core.task import Ref, Task
from shoal.distributed import Client, LocalCluster

cloudpickle.register_pickle_by_value(sys.modules[__name__])

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no chromium on this machine (make install adds Debian's chromium when run as "
        "root with apt-get; elsewhere install it by hand)",
    ),
]


def dump_dom(url: str, budget_ms: int = 3000) -> str:
    """The DOM of ``url`` once its scripts ran for ``budget_ms`` of virtual time."""
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",  # tests may run as root (CI containers)
                "--disable-gpu",
                "--disable-dev-shm-usage",
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


class _Rows(html.parser.HTMLParser):
    """The attributes of the elements of one class, e.g. ``tr.group``."""

    def __init__(self, cls: str) -> None:
        super().__init__()
        self.cls = cls
        self.rows: list[dict] = []
        self.ids: dict[str, str] = {}
        self._id = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.cls in (attrs.get("class") or "").split():
            self.rows.append(attrs)
        self._id = attrs.get("id")

    def handle_endtag(self, tag):
        self._id = None

    def handle_data(self, data):
        if self._id:
            self.ids[self._id] = self.ids.get(self._id, "") + data


def rows(page: str, cls: str) -> tuple[list[dict], dict[str, str]]:
    parser = _Rows(cls)
    parser.feed(page)
    return parser.rows, parser.ids


def slow(x, delay):
    time.sleep(delay)
    return x


def wait_for_file(x, path):
    deadline = time.monotonic() + 90
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return x


def test_pages_show_groups_and_workers_and_follow_the_work(tmp_path, no_leaks):
    gate = str(tmp_path / "gate")
    with (
        LocalCluster(n_workers=2, threads_per_worker=2, dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        base = cluster.dashboard_link.rsplit("/", 1)[0]
        graph = {("load-aaaa0000bbbb", i): Task(slow, i, 0.0) for i in range(30)}
        graph["gate-0123456789abcdef"] = Task(wait_for_file, 0, gate)
        graph.update(
            {
                ("add-ccccdddd0000", i): Task(
                    max, Ref(("load-aaaa0000bbbb", i)), Ref("gate-0123456789abcdef")
                )
                for i in range(30)
            }
        )
        try:
            held = client._graph_to_futures(graph, [("add-ccccdddd0000", i) for i in range(30)])
            deadline = time.monotonic() + 30
            while True:  # until the 30 loads are done (the adds wait on the gate)
                groups, ids = rows(dump_dom(base + "/status"), "group")
                by_name = {g["data-group"]: g for g in groups}
                if by_name.get("load", {}).get("data-memory") == "30":
                    break
                assert time.monotonic() < deadline, groups
            assert set(by_name) == {"load", "add", "gate"}
            assert by_name["add"]["data-memory"] == "0" and by_name["add"]["data-total"] == "30"
            assert ids["nworkers"] == "2"
            assert sum(int(g["data-total"]) for g in groups) == 61

            workers, _ = rows(dump_dom(base + "/workers"), "worker")
            assert sorted(w["data-address"] for w in workers) == sorted(client.nthreads())
            assert sum(int(w["data-in-memory"]) for w in workers) == 30
            assert sum(int(w["data-processing"]) for w in workers) == 1

            address = workers[0]["data-address"]
            page = dump_dom(f"{base}/worker?address={address}")
            assert f'data-address="{address}"' in page
        finally:
            open(gate, "w").close()
        assert [f.result() for f in held.values()] == list(range(30))

        # the same page follows the work: the adds are done now
        groups, _ = rows(dump_dom(base + "/status"), "group")
        by_name = {g["data-group"]: g for g in groups}
        assert by_name["add"]["data-memory"] == "30" and by_name["add"]["data-done"] == "30"
        assert by_name["gate"]["data-done"] == "1"
