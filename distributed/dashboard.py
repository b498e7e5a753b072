"""The scheduler's dashboard: a tornado HTTP server on the scheduler's loop.

Pages (one small HTML/JS app, ``dashboard_page.py``) poll a JSON API
(``dashboard_api.py``) once a second; Prometheus scrapes ``/metrics``
(``dashboard_metrics.py``). Every answer costs O(groups + workers), never
O(tasks), and the CPU the scheduler spends on them is counted in
``Dashboard.cpu_seconds`` (shown on the page and at ``/metrics``).

==============================  =============================================
``/status``                     progress by task group, task stream, memory
                                and throughput over time, cluster totals
``/workers``                    workers: one sorted page and histograms
``/worker?address=``            one worker
``/errors``                     the last errors with their tracebacks
``/api/v1/...``                 the JSON the pages use (``dashboard_api.py``)
``/metrics``                    Prometheus text format
``/health``                     ``ok``
==============================  =============================================

Paths dask's dashboard users know redirect to their equivalent here
(``/info/main/workers.html`` to ``/workers``, ``/individual-task-stream`` to
``/status``, ...).

>>> import asyncio, json, urllib.request
>>> from shoal.distributed.scheduler import Scheduler
>>> async def demo():
...     async with Scheduler(dashboard_address="127.0.0.1:0") as s:
...         url = f"http://127.0.0.1:{s.dashboard.port}/api/v1/summary"
...         body = await asyncio.to_thread(lambda: urllib.request.urlopen(url).read())
...         return json.loads(body)["workers"]["count"]
>>> asyncio.run(demo())
0
"""

from __future__ import annotations

import errno
import json
import logging
import time
import urllib.parse
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from shoal.distributed import dashboard_api as api
from shoal.distributed.dashboard_metrics import CONTENT_TYPE, prometheus_text
from shoal.distributed.dashboard_page import PAGES, render

__all__ = ["Dashboard", "parse_dashboard_address", "DEFAULT_ADDRESS", "DASK_PATHS"]

logger = logging.getLogger("shoal.distributed.dashboard")

DEFAULT_ADDRESS = "127.0.0.1:8787"

# dask dashboard paths -> their equivalent here
DASK_PATHS = {
    "/info": "/workers",
    "/info/main/workers.html": "/workers",
    "/info/main/logs.html": "/errors",
    "/individual-task-stream": "/status#stream",
    "/individual-progress": "/status#groups",
    "/individual-graph": "/status#groups",
    "/individual-groups": "/status#groups",
    "/individual-workers": "/workers",
    "/individual-workers-memory": "/workers",
    "/individual-cluster-memory": "/status#memory",
    "/individual-memory-by-key": "/status#groups",
    "/individual-nprocessing": "/workers",
    "/individual-cpu": "/workers",
    "/individual-bandwidth-workers": "/workers",
    "/individual-exceptions": "/errors",
    "/tasks": "/status#stream",
    "/graph": "/status#groups",
    "/groups": "/status#groups",
    "/system": "/status#memory",
    "/json/counts.json": "/api/v1/summary",
    "/json/identity.json": "/api/v1/summary",
    "/json/status": "/api/v1/summary",
}


def parse_dashboard_address(address: str) -> tuple[str, int]:
    """``"host:port"``, ``":port"`` or ``"port"`` as ``(host, port)``.

    >>> parse_dashboard_address(":8787"), parse_dashboard_address("0.0.0.0:0")
    (('127.0.0.1', 8787), ('0.0.0.0', 0))
    """
    text = str(address).strip()
    if text.startswith("tcp://") or text.startswith("http://"):
        text = text.split("://", 1)[1]
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    try:
        number = int(port)
    except ValueError:
        raise ValueError(
            f"dashboard address {address!r} should be 'host:port', ':port' or 'port'"
        ) from None
    if not 0 <= number < 65536:
        raise ValueError(f"dashboard port {number} is out of range 0-65535")
    return host or "127.0.0.1", number


class _Handler(tornado.web.RequestHandler):
    """Answers ``GET`` with ``answer`` and counts the scheduler CPU it costs
    (building and writing the answer)."""

    def initialize(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.scheduler = dashboard.scheduler

    def get(self, *args: str) -> None:
        cpu = time.thread_time()
        try:
            self.answer(*args)
            if not self._finished:  # a redirect finished already
                self.finish()
        finally:
            self.dashboard.cpu_seconds += time.thread_time() - cpu
            self.dashboard.requests += 1

    def answer(self, *args: str) -> None:
        raise NotImplementedError

    def _int(self, name: str, default: int) -> int:
        text = self.get_query_argument(name, str(default))
        try:
            return int(text)
        except ValueError:
            raise api.BadRequest(f"{name} should be an integer, got {text!r}") from None

    def _float(self, name: str, default: float) -> float:
        text = self.get_query_argument(name, str(default))
        try:
            return float(text)
        except ValueError:
            raise api.BadRequest(f"{name} should be a number, got {text!r}") from None


class _API(_Handler):
    def answer(self, what: str) -> None:  # type: ignore[override]
        s = self.scheduler
        try:
            if what == "summary":
                data: Any = api.summary(s)
            elif what == "groups":
                data = api.groups(s, self._int("limit", 100))
            elif what == "workers":
                data = api.workers_page(
                    s,
                    self._int("offset", 0),
                    self._int("limit", 50),
                    self.get_query_argument("sort", "name"),
                    self.get_query_argument("reverse", "0") in ("1", "true"),
                )
            elif what == "worker":
                data = api.worker_detail(s, self.get_query_argument("address", ""))
            elif what == "task-stream":
                data = s.live.stream_since(self._int("since", 0), self._int("limit", 2000))
            elif what == "errors":
                data = {"errors": list(s.live.errors), "erred": s.live.erred}
            elif what == "history":
                data = {"samples": s.live.history_since(self._float("since", 0.0))}
            else:
                raise tornado.web.HTTPError(404)
        except api.BadRequest as e:
            self.set_status(400)
            data = {"error": str(e)}
        except KeyError as e:
            self.set_status(404)
            data = {"error": f"no worker {e.args[0]!r}"}
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps(data))


class _Page(_Handler):
    def answer(self, page: str) -> None:  # type: ignore[override]
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(render(page or "status", self.scheduler.address))


class _Metrics(_Handler):
    def answer(self) -> None:  # type: ignore[override]
        self.set_header("Content-Type", CONTENT_TYPE)
        self.write(prometheus_text(self.scheduler))


class _Health(_Handler):
    def answer(self) -> None:  # type: ignore[override]
        self.set_header("Content-Type", "text/plain")
        self.write("ok")


class _NoIcon(_Handler):
    def answer(self) -> None:  # type: ignore[override]
        self.set_status(204)


class _DaskWorkerPage(_Handler):
    """``/info/worker/<address>.html`` -> ``/worker?address=<address>``."""

    def answer(self, address: str) -> None:  # type: ignore[override]
        address = urllib.parse.unquote(address)
        self.redirect("/worker?" + urllib.parse.urlencode({"address": address}))


class Dashboard:
    """Serves the dashboard of ``scheduler`` over HTTP at ``host:port`` (0:
    any free port; ``.port`` says which), or over HTTPS with the certificate
    of ``security`` when it has one (browsers are asked for no certificate).
    If the port of ``DEFAULT_ADDRESS`` is taken, another free port is used."""

    def __init__(self, scheduler: Any, address: str, security: Any = None):
        self.scheduler = scheduler
        self.cpu_seconds = 0.0  # scheduler CPU spent on answers and on the live record
        self.requests = 0
        self.host, port = parse_dashboard_address(address)
        routes: list[Any] = [
            (r"/api/v1/([a-z-]+)", _API, {"dashboard": self}),
            (r"/metrics", _Metrics, {"dashboard": self}),
            (r"/health", _Health, {"dashboard": self}),
            (r"/favicon.ico", _NoIcon, {"dashboard": self}),
            (r"/info/worker/(.+)\.html", _DaskWorkerPage, {"dashboard": self}),
            (r"/", tornado.web.RedirectHandler, {"url": "/status"}),
        ]
        routes += [
            (path, tornado.web.RedirectHandler, {"url": target})
            for path, target in DASK_PATHS.items()
        ]
        routes.append((rf"/({'|'.join(PAGES)})", _Page, {"dashboard": self}))
        app = tornado.web.Application(routes)
        try:
            sockets = tornado.netutil.bind_sockets(port, self.host)
        except OSError as e:
            if e.errno != errno.EADDRINUSE or (self.host, port) != parse_dashboard_address(
                DEFAULT_ADDRESS
            ):
                raise
            sockets = tornado.netutil.bind_sockets(0, self.host)
            logger.warning(
                "port %d is in use: the dashboard serves on port %d instead",
                port,
                sockets[0].getsockname()[1],
            )
        self.port = sockets[0].getsockname()[1]
        context = security.dashboard_context() if security is not None else None
        self.scheme = "https" if context is not None else "http"
        self.server = tornado.httpserver.HTTPServer(app, ssl_options=context)
        self.server.add_sockets(sockets)

    @property
    def url(self) -> str:
        """The link to the status page."""
        return f"{self.scheme}://{self.host}:{self.port}/status"

    async def close(self) -> None:
        self.server.stop()
        await self.server.close_all_connections()
