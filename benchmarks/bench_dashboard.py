"""The dashboard at scale: 1,000,000 tasks and 100 simulated workers.

A scheduler process holds the graph of ``bench_distributed_million`` (500,000
loads, one ``inc`` each, a tree sum: about 1,000,000 tasks) and 100 simulated
workers (4 threads each): the tasks it assigns finish at once, fed back as
the workers' ``task-finished`` messages, and each worker sends a heartbeat
with memory figures once a second, all through the scheduler's own message
handling. This process talks to its dashboard over HTTP. Figures:

- page load: the HTML of ``/status`` plus the four JSON answers its script
  asks for on loading, with the million tasks held (and again while they
  run); the same for ``/workers``; ``/metrics``;
- the scheduler's CPU share of keeping pages live while it drives the tasks
  flat out: an open ``/status`` and ``/workers`` page (five requests a
  second) plus the once-a-second sample of the time series, as counted by
  the scheduler itself (thread CPU around each answer and sample), and as the
  drop in tasks a second against the same run with no page open;
- the per-task cost of the dashboard's hooks (group counts, task stream)
  against the scheduler's own CPU per task.

    .venv/bin/python -P benchmarks/bench_dashboard.py                   # 1,000,000 tasks
    .venv/bin/python -P benchmarks/bench_dashboard.py --tasks 100000 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # python -P omits this folder

from bench_distributed_million import layout  # noqa: E402

# ------------------------------------------------------------- the scheduler process


async def serve(n_tasks: int, n_workers: int, seconds: float) -> None:
    from shoal.distributed.scheduler import Scheduler
    from shoal.distributed.scheduler_events import AddClient, AddWorker, ComputeTask, UpdateGraph

    class SimScheduler(Scheduler):
        """Keeps the tasks it assigns instead of sending them anywhere."""

        assigned: list = []

        def route(self, instructions: list) -> None:
            rest = []
            for ins in instructions:
                if type(ins) is ComputeTask:
                    self.assigned.append((ins.worker, ins.key))
                else:
                    rest.append(ins)
            if rest:
                super().route(rest)

    s = SimScheduler(dashboard_address="127.0.0.1:0")
    await s.start()
    workers = [f"tcp://10.0.{i // 250}.{i % 250}:9000" for i in range(n_workers)]
    for i, w in enumerate(workers):
        s.handle(AddWorker(w, 4, f"sim-{i}", 16 * 2**30, "", time.monotonic()))
    s.handle(AddClient("bench"))
    triples, out = layout(n_tasks)
    keys = [t[0] for t in triples]
    t0 = time.perf_counter()
    s.handle(
        UpdateGraph(
            "bench",
            keys,
            [t[2] for t in triples],
            [b"spec"] * len(keys),
            list(range(len(keys))),
            [out],
        )
    )
    build = time.perf_counter() - t0
    beats = asyncio.ensure_future(beating(s, workers))
    print(json.dumps({"port": s.dashboard.port, "tasks": len(s.state.tasks), "build": build}))
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    results = {}
    for phase in ("quiet", "live"):
        # the parent says when to start each phase (it opens pages for "live")
        line = await loop.run_in_executor(None, sys.stdin.readline)
        assert line.strip() == phase, line
        results[phase] = await run_phase(s, seconds)
    results["hooks"] = hook_cost()
    print(json.dumps(results))
    sys.stdout.flush()
    await loop.run_in_executor(None, sys.stdin.readline)  # serve until the parent is done
    beats.cancel()
    await s.close()


def heartbeats(s, workers: list, beat: int) -> None:
    """One heartbeat of every simulated worker, with memory figures."""
    for i, w in enumerate(workers):
        ws = s.state.workers[w]
        managed = ws.nbytes
        metrics = {
            "managed": managed,
            "unmanaged": 2**27 + (i * 7919 + beat) % 2**24,
            "spilled": 0,
            "rss": managed + 2**27,
            "cpu": float((i * 37 + beat) % 100),
            "memory": managed + 2**27,
            "executing": min(4, len(ws.processing)),
            "net_read": float(i * 1000),
            "net_write": float(i * 500),
            "tasks_run": 0,
        }
        s._worker_message(w, {"op": "heartbeat", "metrics": metrics})


async def beating(s, workers: list) -> None:
    """Heartbeats once a second (the simulated workers stay alive throughout)."""
    beat = 0
    while True:
        heartbeats(s, workers, beat)
        beat += 1
        await asyncio.sleep(1.0)


async def run_phase(s, seconds: float) -> dict:
    """Finish assigned tasks flat out for ``seconds`` (100 per loop turn, as
    a batch of worker messages would come)."""
    start_cpu, start_dash = time.process_time(), s.dashboard.cpu_seconds
    start_finished, start_requests = s.live.finished, s.dashboard.requests
    start = time.monotonic()
    while time.monotonic() - start < seconds and s.assigned:
        batch, s.assigned[:] = s.assigned[:100], s.assigned[100:]
        for worker, key in batch:
            s._worker_message(
                worker, {"op": "task-finished", "key": key, "nbytes": 1000, "duration": 0.002}
            )
        await asyncio.sleep(0)  # let the HTTP server, heartbeats and ticks run
    return {
        "seconds": time.monotonic() - start,
        "finished": s.live.finished - start_finished,
        "cpu": time.process_time() - start_cpu,
        "dashboard_cpu": s.dashboard.cpu_seconds - start_dash,
        "requests": s.dashboard.requests - start_requests,
    }


def hook_cost(n: int = 200_000) -> dict:
    """Seconds per task of the dashboard's hooks alone: two group moves
    (processing -> memory, queued -> processing) and one task-stream call."""
    from shoal.distributed.dashboard_groups import TaskGroups
    from shoal.distributed.dashboard_live import LiveRecord

    groups = TaskGroups()
    for _ in range(n):
        groups.added("inc")
    record = LiveRecord(tasks={})
    record.every = 100  # the sampling it settles at under this load
    t0 = time.perf_counter()
    for _ in range(n):
        groups.moved("inc", "released", "processing")
        groups.moved("inc", "processing", "memory")
        groups.finished("inc", 0.002, 1000)
        record.task_finished("w", "inc", 0.002, now=1.0)
    return {"per_task": (time.perf_counter() - t0) / n}


# ------------------------------------------------------------------ this process


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def load_status(base: str, pool: ThreadPoolExecutor) -> float:
    """Seconds to load /status like a browser: the HTML, then its four requests at once."""
    t0 = time.perf_counter()
    fetch(base + "/status")
    api = ["summary", "groups?limit=60", "task-stream?since=0", "history?since=0"]
    list(pool.map(fetch, [f"{base}/api/v1/{a}" for a in api]))
    return time.perf_counter() - t0


def load_workers(base: str) -> float:
    t0 = time.perf_counter()
    fetch(base + "/workers")
    fetch(base + "/api/v1/workers?sort=cpu&reverse=1&limit=50")
    return time.perf_counter() - t0


def timed(f, *args, repeat: int = 5) -> tuple[float, float]:
    times = [f(*args) for _ in range(repeat)]
    return statistics.median(times), max(times)


def poll_pages(base: str, stop: threading.Event, latencies: list) -> None:
    """An open /status page and an open /workers page: their refreshes once a second."""
    seq, since = 0, 0.0
    while not stop.is_set():
        t0 = time.perf_counter()
        json.loads(fetch(base + "/api/v1/summary"))
        fetch(base + "/api/v1/groups?limit=60")
        stream = json.loads(fetch(f"{base}/api/v1/task-stream?since={seq}"))
        seq = stream["last"]
        samples = json.loads(fetch(f"{base}/api/v1/history?since={since}"))["samples"]
        if samples:
            since = samples[-1]["time"]
        fetch(base + "/api/v1/workers?sort=name&limit=50")
        latencies.append(time.perf_counter() - t0)
        stop.wait(max(0.0, 1.0 - (time.perf_counter() - t0)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", type=int, default=1_000_000)
    p.add_argument("--workers", type=int, default=100)
    p.add_argument("--seconds", type=float, default=15.0, help="length of each run phase")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        asyncio.run(serve(args.tasks, args.workers, args.seconds))
        return
    proc = subprocess.Popen(
        [sys.executable, "-P", __file__, "--serve", "--tasks", str(args.tasks), "--workers",
         str(args.workers), "--seconds", str(args.seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        info = json.loads(proc.stdout.readline())
        base = f"http://127.0.0.1:{info['port']}"
        print(
            f"scheduler holds {info['tasks']:,} tasks, {args.workers} simulated workers "
            f"(graph handled in {info['build']:.1f} s)"
        )
        pool = ThreadPoolExecutor(4)
        held = {
            "/status (HTML + 4 API answers)": timed(load_status, base, pool),
            "/workers (HTML + 1 API answer)": timed(load_workers, base),
            "/metrics": timed(lambda: _time(fetch, base + "/metrics")),
        }
        proc.stdin.write("quiet\n")
        proc.stdin.flush()
        quiet = None
        stop = threading.Event()
        latencies: list[float] = []
        # the quiet phase's results come at the end; start the live phase when it is over
        time.sleep(min(2.0, args.seconds / 3))
        running = timed(load_status, base, pool, repeat=3)  # counted in the quiet phase
        time.sleep(max(0.0, args.seconds + 0.5 - min(2.0, args.seconds / 3)))
        proc.stdin.write("live\n")
        proc.stdin.flush()
        poller = threading.Thread(target=poll_pages, args=(base, stop, latencies))
        poller.start()
        time.sleep(args.seconds)
        stop.set()
        poller.join()
        results = json.loads(proc.stdout.readline())
        quiet, live = results["quiet"], results["live"]
    finally:
        proc.stdin.close()
        proc.wait(60)
    print(f"\npage load with {info['tasks']:,} tasks held (median / max of 5):")
    for what, (med, top) in held.items():
        print(f"  {what:34s} {med * 1000:7.1f} ms / {top * 1000:7.1f} ms")
    print(
        f"  /status while tasks run (of 3)     {running[0] * 1000:7.1f} ms / "
        f"{running[1] * 1000:7.1f} ms"
    )
    print(
        f"  one refresh of both open pages     {statistics.median(latencies) * 1000:7.1f} ms "
        f"median, {max(latencies) * 1000:.1f} ms max ({len(latencies)} refreshes)"
    )
    q_rate = quiet["finished"] / quiet["seconds"]
    l_rate = live["finished"] / live["seconds"]
    per_task = live["cpu"] / max(1, live["finished"])
    print("\nscheduler driving tasks flat out (CPU read inside the scheduler process):")
    for name, r in (("pages loaded 3 times", quiet), ("2 pages open", live)):
        print(
            f"  {name}: {r['finished']:,} tasks in {r['seconds']:.1f} s "
            f"({r['finished'] / r['seconds']:,.0f} tasks/s), {r['cpu'] / max(1, r['finished']) * 1e6:.1f}"
            f" us CPU per task; dashboard {r['dashboard_cpu']:.3f} s CPU of {r['cpu']:.2f} s "
            f"= {r['dashboard_cpu'] / r['cpu']:.2%} ({r['requests']} requests)"
        )
    print(
        f"  2 pages open: dashboard CPU {live['dashboard_cpu'] / live['seconds']:.2%} of a core "
        f"(CPU seconds per second), {live['dashboard_cpu'] / max(1, live['requests']) * 1e3:.2f} ms"
        " per request"
    )
    print(
        f"  tasks/s with pages open / without: {l_rate / q_rate:.3f} (other load on the "
        "machine moves this; the CPU share above is the figure)"
    )
    hook = results["hooks"]["per_task"]
    print(
        f"\ndashboard hooks per task (group counts + task stream): {hook * 1e6:.2f} us = "
        f"{hook / per_task:.1%} of the scheduler's {per_task * 1e6:.1f} us per task"
    )


def _time(f, *args) -> float:
    t0 = time.perf_counter()
    f(*args)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
