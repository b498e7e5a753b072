"""``performance_report``: one computation as a self-contained HTML file.

On entering, the scheduler's counters are noted (task groups, the task
stream's sequence number, the time); on leaving, what changed is fetched
from the scheduler and written as one HTML file with inline SVG (nothing to
fetch to view it, so it can be mailed or attached to an issue): totals, the
task groups that ran with their compute time, the task stream (sampled like
the dashboard's when tasks finish faster than it keeps), cluster memory over
time, the workers' memory at the end and the errors raised.

>>> import os, tempfile, shoal
>>> from shoal.distributed import Client
>>> path = os.path.join(tempfile.mkdtemp(), "report.html")
>>> with Client(n_workers=1, processes=False) as c:
...     with performance_report(path):
...         total = shoal.delayed(sum)([1, 2]).compute()
>>> "Task stream" in open(path).read()
True
"""

from __future__ import annotations

import html
import time
from typing import Any

from shoal.distributed import dashboard_api as api
from shoal.distributed.dashboard_live import STREAM_SIZE

__all__ = ["performance_report", "collect", "render_report"]

STREAM_WIDTH = 1100
ROW = 10


def _snapshot(shoal_scheduler: Any) -> dict[str, Any]:
    """What the report subtracts: counters before the computation."""
    live = shoal_scheduler.live
    return {
        "seq": live.stream[-1][0] if live.stream else 0,
        "time": time.time(),
        "finished": live.finished,
        "erred": live.erred,
        "groups": {
            g.name: (g.done, g.duration, g.nbytes_total) for g in shoal_scheduler.state.groups
        },
    }


def collect(start: dict[str, Any], shoal_scheduler: Any) -> dict[str, Any]:
    """What happened on ``shoal_scheduler`` since ``start`` (run on the scheduler)."""
    live = shoal_scheduler.live
    groups = []
    for g in shoal_scheduler.state.groups:
        done, duration, nbytes = start["groups"].get(g.name, (0, 0.0, 0))
        if g.done > done:
            groups.append(
                {
                    "name": g.name,
                    "done": g.done - done,
                    "duration": g.duration - duration,
                    "nbytes": g.nbytes_total - nbytes,
                    "dependencies": sorted(g.dependencies),
                }
            )
    return {
        "address": shoal_scheduler.address,
        "start": start["time"],
        "stop": time.time(),
        "finished": live.finished - start["finished"],
        "erred": live.erred - start["erred"],
        "stream": live.stream_since(start["seq"], STREAM_SIZE),
        "history": live.history_since(start["time"]),
        "groups": groups,
        "workers": api.workers_page(shoal_scheduler, limit=api.MAX_PAGE)["workers"],
        "errors": [e for e in live.errors if e["time"] >= start["time"]],
    }


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _color(name: str) -> str:
    h = 0
    for c in name:
        h = (h * 31 + ord(c)) % 360
    return f"hsl({h},55%,55%)"


def _stream_svg(data: dict[str, Any]) -> str:
    tasks = data["stream"]["tasks"]
    t0, t1 = data["start"], max(data["stop"], data["start"] + 1e-3)
    workers = sorted({t["worker"] for t in tasks})
    row = {w: i for i, w in enumerate(workers)}
    scale = STREAM_WIDTH / (t1 - t0)
    rects = []
    for t in tasks:
        x = max(0.0, (t["start"] - t0) * scale)
        w = max(1.0, (t["stop"] - t["start"]) * scale)
        color = "#d24b4b" if t["status"] == "erred" else _color(t["prefix"])
        rects.append(
            f'<rect x="{x:.1f}" y="{row[t["worker"]] * ROW}" width="{w:.1f}" height="{ROW - 1}" '
            f'fill="{color}"><title>{html.escape(t["prefix"])} on {html.escape(t["worker"])} '
            f"{(t['stop'] - t['start']) * 1000:.1f} ms</title></rect>"
        )
    height = max(ROW, len(workers) * ROW)
    return f'<svg width="{STREAM_WIDTH}" height="{height}">{"".join(rects)}</svg>'


def _memory_svg(history: list[dict[str, Any]]) -> str:
    if not history:
        return "<p>(the computation took less than the one-second sampling interval)</p>"
    t0, t1 = history[0]["time"], max(history[-1]["time"], history[0]["time"] + 1)
    top = max(1, *(s["managed"] + s["unmanaged"] + s["spilled"] for s in history))
    w, h = 500, 120

    def line(kind: str, color: str) -> str:
        pts = " ".join(
            f"{(s['time'] - t0) / (t1 - t0) * w:.1f},{h - s[kind] / top * h:.1f}" for s in history
        )
        return f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{pts}"/>'

    return (
        f"<p>managed (blue), unmanaged (light blue), spilled (purple); top {_bytes(top)}</p>"
        f'<svg width="{w}" height="{h}">{line("managed", "#3a78c2")}'
        f"{line('unmanaged', '#9db9dc')}{line('spilled', '#8e6bbf')}</svg>"
    )


def render_report(data: dict[str, Any]) -> str:
    """The HTML of a report from ``collect``'s data."""
    esc = html.escape
    elapsed = data["stop"] - data["start"]
    stream = data["stream"]
    shown = len(stream["tasks"])
    group_rows = "".join(
        f'<tr><td><span style="color:{_color(g["name"])}">&#9632;</span> {esc(g["name"])}</td>'
        f"<td>{g['done']:,}</td><td>{g['duration']:.3f} s</td>"
        f"<td>{g['duration'] / g['done'] * 1000:.2f} ms</td><td>{_bytes(g['nbytes'])}</td>"
        f"<td>{esc(', '.join(g['dependencies']))}</td></tr>"
        for g in sorted(data["groups"], key=lambda g: -g["duration"])
    )
    worker_rows = "".join(
        f"<tr><td>{esc(w['name'])} {esc(w['address'])}</td><td>{w['nthreads']}</td>"
        f"<td>{_bytes(w['managed'])}</td><td>{_bytes(w['unmanaged'])}</td>"
        f"<td>{_bytes(w['spilled'])}</td><td>{w['in_memory']:,}</td></tr>"
        for w in data["workers"]
    )
    errors = "".join(
        f"<h3>{esc(e['key'])} on {esc(e['worker'])}</h3><pre>{esc(e['exception'])}\n"
        f"{esc(e['traceback'])}</pre>"
        for e in data["errors"]
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>shoal performance report</title>
<style>body{{font:13px system-ui,sans-serif;margin:16px}}td,th{{padding:2px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}th{{background:#f0f0f0}}table{{border-collapse:collapse}}
pre{{background:#f6f6f6;padding:6px;overflow:auto}}</style></head><body>
<h1>shoal performance report</h1>
<p>Scheduler {esc(data["address"])}, {
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(data["start"]))
    },
{elapsed:.2f} s: {data["finished"]:,} tasks finished, {data["erred"]:,} erred,
{len(data["workers"])} workers.</p>
<h2>Task groups</h2>
<table><tr><th>group</th><th>tasks</th><th>compute</th><th>mean</th><th>output</th>
<th>depends on</th></tr>{group_rows}</table>
<h2>Task stream</h2>
<p>{shown:,} tasks shown{
        f" (one in {stream['every']} kept while tasks finished fast)" if stream["every"] > 1 else ""
    }; one row per worker, {elapsed:.2f} s across.</p>
{_stream_svg(data)}
<h2>Cluster memory</h2>
{_memory_svg(data["history"])}
<h2>Workers at the end</h2>
<table><tr><th>worker</th><th>threads</th><th>managed</th><th>unmanaged</th><th>spilled</th>
<th>results</th></tr>{worker_rows}</table>
<h2>Errors</h2>{errors or "<p>none</p>"}
</body></html>"""


class performance_report:
    """Write ``filename``: an HTML report of what the cluster of ``client``
    (default: the current client) ran inside the ``with`` block (``async
    with`` for an asynchronous client)."""

    def __init__(self, filename: str = "shoal-report.html", client: Any = None) -> None:
        self.filename = str(filename)
        self.client = client
        self._start: dict[str, Any] = {}

    def _client(self) -> Any:
        if self.client is None:
            from shoal.distributed.client import default_client

            self.client = default_client()
        return self.client

    def _write(self, data: dict[str, Any]) -> None:
        with open(self.filename, "w", encoding="utf-8") as f:
            f.write(render_report(data))

    def __enter__(self) -> performance_report:
        self._start = self._client().run_on_scheduler(_snapshot)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._write(self._client().run_on_scheduler(collect, self._start))

    async def __aenter__(self) -> performance_report:
        self._start = await self._client().run_on_scheduler(_snapshot)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._write(await self._client().run_on_scheduler(collect, self._start))
