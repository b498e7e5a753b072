"""Per-task overhead of the distributed scheduler: shoal vs dask.distributed.

End-to-end time per task of ``client.map(inc, range(N))`` + ``gather`` on a
local cluster of 2 worker processes with 1 thread each, for shoal and for
dask.distributed (same shape, same run), plus the scheduler's memory per
task while holding a big graph of pending tasks.

    .venv/bin/python -P benchmarks/bench_distributed_overhead.py            # N = 20,000
    .venv/bin/python -P benchmarks/bench_distributed_overhead.py --n 100000 --blocks 100000

It also runs ``(ones(blocks, chunks=1) + 1).sum()`` as an array computation
on the same clusters (graph built with each library's own optimizations, then
``client.get``), timing the graph construction and the run separately.

``--security`` instead compares shoal with itself: the same map on a cluster
over plain TCP and on one over TLS with a token (``Security.temporary``), both
kept running, in interleaved repeats (the order alternates) over several
sizes. It reports CPU (the scheduler loop thread's; the whole cluster's:
client, scheduler and nannies in this process plus the worker processes),
which load distorts far less than wall time, as min / median / max per task;
fits ``a + b * n`` through each n's median to separate the fixed cost per
computation from the cost per task, with a bootstrap interval for the ratio of
the per-task costs; counts the connections opened during each computation;
times one round trip of a batched message over an open connection (CPU), and
opening one connection (TCP connect, TLS and token handshakes):

    .venv/bin/python -P benchmarks/bench_distributed_overhead.py --security --n 1000,3000,10000 --repeat 10
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def inc(x):
    return x + 1


def _loop_cpu(**kwargs) -> float:
    """CPU seconds of the thread running the scheduler's event loop."""
    return time.thread_time()


def _time_map(client, n: int, repeat: int) -> tuple[float, float]:
    """Best wall time per task, and the scheduler loop's CPU time per task."""
    best = float("inf")
    cpu = float("inf")
    client.gather(client.map(inc, range(100)))  # warm up: workers, imports, connections
    for r in range(repeat):
        cpu0 = client.run_on_scheduler(_loop_cpu)
        start = time.perf_counter()
        futures = client.map(inc, range(r * n, (r + 1) * n))
        results = client.gather(futures)
        elapsed = time.perf_counter() - start
        cpu = min(cpu, client.run_on_scheduler(_loop_cpu) - cpu0)
        assert results[0] == r * n + 1 and len(results) == n
        del futures, results
        best = min(best, elapsed)
    return best / n, cpu / n


_DASK_SCHEDULER = """
import asyncio
from distributed import Scheduler
async def main():
    async with Scheduler(host="127.0.0.1", port=0, dashboard_address=None) as s:
        print(s.address, flush=True)
        await s.finished()
asyncio.run(main())
"""


def _after(x, gate):
    return x


def _count_tasks(shoal_scheduler=None, dask_scheduler=None):
    s = shoal_scheduler.state if shoal_scheduler is not None else dask_scheduler
    return len(s.tasks)


def scheduler_memory(system: str, n: int) -> float:
    """Resident memory per pending task of a fresh scheduler process holding
    ``n`` tasks that wait on one long task (scheduler, worker and client are
    separate processes, so only the scheduler's own memory is counted)."""
    import psutil

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    if system == "shoal":
        cmd = [sys.executable, "-P", "-m", "shoal.distributed.cli", "scheduler", "--port", "0"]
    else:
        cmd = [sys.executable, "-P", "-c", _DASK_SCHEDULER]
    sched = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, env=env, stderr=subprocess.DEVNULL
    )
    worker = None
    try:
        address = sched.stdout.readline().split()[-1]
        if system == "shoal":
            wcmd = [
                sys.executable,
                "-P",
                "-m",
                "shoal.distributed.cli",
                "worker",
                address,
                "--no-nanny",
            ]
            from shoal.distributed import Client
        else:
            wcmd = [
                sys.executable,
                "-P",
                "-m",
                "distributed.cli.dask_worker",
                address,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
            ]
            from distributed import Client
        worker = subprocess.Popen(
            wcmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        proc = psutil.Process(sched.pid)
        with Client(address) as client:
            client.wait_for_workers(1)
            client.gather(client.map(inc, range(10)))
            time.sleep(0.5)
            before = proc.memory_info().rss
            gate = client.submit(time.sleep, 30, pure=False)
            futures = client.map(_after, range(n), [gate] * n)
            while client.run_on_scheduler(_count_tasks) < n + 1:
                time.sleep(0.1)
            after = proc.memory_info().rss
            del futures, gate
    finally:
        for p in (worker, sched):
            if p is not None:
                p.kill()
                p.wait()
        sched.stdout.close()
    return (after - before) / n


def _time_array(client, system: str, blocks: int) -> tuple[float, float, int]:
    """``(ones(blocks, chunks=1) + 1).sum()``: seconds to build the graph,
    seconds to run it on the cluster, and its number of tasks."""
    start = time.perf_counter()
    if system == "shoal":
        import shoal.array as sa
        from shoal.core.base import collections_to_graph

        y = (sa.ones(blocks, chunks=1) + 1).sum()
        graph, keys = collections_to_graph([y])
        key = keys[0]
    else:
        import dask
        import dask.array as da

        y = (da.ones(blocks, chunks=1) + 1).sum()
        (graph,) = dask.optimize(y)
        graph, key = dict(graph.__dask_graph__()), graph.__dask_keys__()
    built = time.perf_counter()
    value = client.get(graph, key)
    done = time.perf_counter()
    while isinstance(value, list):  # dask's keys of a 0-d array are a nested list
        (value,) = value
    assert float(value) == 2.0 * blocks, value
    return built - start, done - built, len(graph)


def run_shoal(n: int, repeat: int, mem_n: int, blocks: int) -> tuple[tuple, float, tuple]:
    from shoal.distributed import Client

    with Client(n_workers=2, threads_per_worker=1, processes=True) as client:
        per_task = _time_map(client, n, repeat)
        array = _time_array(client, "shoal", blocks) if blocks else None
    return per_task, scheduler_memory("shoal", mem_n) if mem_n else float("nan"), array


def run_dask(n: int, repeat: int, mem_n: int, blocks: int) -> tuple[tuple, float, tuple]:
    import logging

    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        per_task = _time_map(client, n, repeat)
        array = _time_array(client, "dask", blocks) if blocks else None
    return per_task, scheduler_memory("dask", mem_n) if mem_n else float("nan"), array


def _connect_costs(address: str, security, n: int = 30) -> tuple[list[float], list[float]]:
    """Seconds of wall time and of this process's CPU (both ends: the scheduler
    runs in this process) to open and close one connection, handshakes included."""
    import asyncio

    from shoal.distributed.comm import connect

    async def run() -> tuple[list[float], list[float]]:
        walls, cpus = [], []
        for _ in range(n):
            cpu0, start = time.process_time(), time.perf_counter()
            comm = await connect(address, security=security)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu0)
            comm.abort()
        return walls, cpus

    return asyncio.run(run())


def _process_cpu(pid: int) -> float:
    """CPU seconds of a process: the kernel's nanosecond counters of its live
    threads on Linux (psutil's figure has a 10 ms grain), else psutil's."""
    import psutil

    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except OSError:
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system


def _message_costs(modes: dict, rounds: int = 7, n: int = 1000) -> dict[str, list[float]]:
    """CPU seconds (both ends in this process) per round trip of one batched
    message of 30 small task reports over one open connection, per mode;
    ``rounds`` interleaved rounds of ``n`` round trips."""
    import asyncio

    from shoal.distributed.comm import connect, listen

    msg = [{"op": "task-finished", "key": ("inc-0123abcd", i), "nbytes": 28} for i in range(30)]

    async def echo(comm) -> None:
        while True:
            await comm.write(await comm.read())

    async def run() -> dict[str, list[float]]:
        comms, listeners = {}, []
        for name, security in modes.items():
            listener = await listen("tcp://127.0.0.1:0", echo, security=security)
            listeners.append(listener)
            comms[name] = await connect(listener.address, security=security)
        costs: dict[str, list[float]] = {name: [] for name in modes}
        for r in range(rounds):
            for name in list(modes)[:: 1 if r % 2 else -1]:
                comm = comms[name]
                start = time.process_time()
                for _ in range(n):
                    await comm.write(msg)
                    await comm.read()
                costs[name].append((time.process_time() - start) / n)
        for comm in comms.values():
            await comm.close()
        for listener in listeners:
            listener.stop()
        return costs

    return asyncio.run(run())


def _worker_cpu(client) -> float:
    """CPU seconds used so far by the client's worker processes."""
    return sum(_process_cpu(nanny.pid) for nanny in client.cluster.workers.values())


def _opened(shoal_worker=None, shoal_scheduler=None) -> int:
    from shoal.distributed.comm import OPENED

    return OPENED["connected"]


def _one_run(client, n: int, offset: int) -> dict[str, float]:
    """One ``map`` + ``gather`` of ``n`` tasks: seconds of wall time, of the
    scheduler loop thread's CPU, of this process's CPU (client, scheduler,
    nannies), of the workers' CPU, and connections opened anywhere meanwhile."""
    opened0 = _opened() + sum(client.run(_opened).values())
    loop0 = client.run_on_scheduler(_loop_cpu)
    main0, workers0 = time.process_time(), _worker_cpu(client)
    start = time.perf_counter()
    futures = client.map(inc, range(offset, offset + n))
    results = client.gather(futures)
    wall = time.perf_counter() - start
    main, workers = time.process_time() - main0, _worker_cpu(client) - workers0
    loop = client.run_on_scheduler(_loop_cpu) - loop0
    assert results[0] == offset + 1 and len(results) == n
    del futures, results
    opened = _opened() + sum(client.run(_opened).values()) - opened0
    return {
        "wall": wall,
        "loop": loop,
        "cluster": main + workers,
        "workers": workers,
        "opened": opened,
    }


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares ``y = a + b * n``: (a, b)."""
    k = len(points)
    mn = sum(n for n, _ in points) / k
    my = sum(y for _, y in points) / k
    b = sum((n - mn) * (y - my) for n, y in points) / sum((n - mn) ** 2 for n, _ in points)
    return my - b * mn, b


def _median_fit(runs: list[tuple[int, dict]], key: str) -> tuple[float, float]:
    """``a + b * n`` through the median of each n (robust to the outliers a
    loaded machine makes): (a, b)."""
    import statistics

    by_n: dict[int, list[float]] = {}
    for n, run in runs:
        by_n.setdefault(n, []).append(run[key])
    return _fit([(n, statistics.median(v)) for n, v in by_n.items()])


def _ratio_interval(plain: list, secure: list, key: str, draws: int = 2000) -> tuple:
    """Ratio of the per-task slopes (secure / plain) and its 90 % bootstrap
    interval (repeats resampled within each n)."""
    import random

    rng = random.Random(13)

    def resample(runs: list) -> list:
        by_n: dict[int, list] = {}
        for n, run in runs:
            by_n.setdefault(n, []).append((n, run))
        return [rng.choice(group) for group in by_n.values() for _ in group]

    ratios = sorted(
        _median_fit(resample(secure), key)[1] / _median_fit(resample(plain), key)[1]
        for _ in range(draws)
    )
    ratio = _median_fit(secure, key)[1] / _median_fit(plain, key)[1]
    return ratio, ratios[draws // 20], ratios[-draws // 20 - 1]


def run_security(ns: list[int], repeat: int) -> None:
    """Plain TCP against TLS + token: CPU and wall time per computation over
    several sizes, fitted as ``a + b * n`` (fixed cost a, per-task cost b)."""
    import statistics

    from shoal.distributed import Client
    from shoal.distributed.security import Security

    modes = {"tcp": Security(), "tls+token": Security.temporary(token=True)}
    clients = {
        name: Client(n_workers=2, threads_per_worker=1, security=sec) for name, sec in modes.items()
    }
    runs: dict[str, list[tuple[int, dict]]] = {name: [] for name in modes}
    try:
        for client in clients.values():
            client.gather(client.map(inc, range(1000)))  # warm up: imports, connections
            client.run(_opened)  # and the client's connections to the workers
        offset = 10_000
        for r in range(repeat):
            for n in ns:
                order = list(modes) if (r + n) % 2 == 0 else list(modes)[::-1]
                for name in order:
                    runs[name].append((n, _one_run(clients[name], n, offset)))
                    offset += n
        connects = {
            name: _connect_costs(clients[name].scheduler_address, modes[name]) for name in modes
        }
        messages = _message_costs(modes)
    finally:
        for client in clients.values():
            client.close()
    med = statistics.median
    print(
        f"client.map(inc, range(n)) + gather, 2 workers x 1 thread, {repeat} interleaved repeats "
        "per mode and n; us per task as min / median / max"
    )
    labels = {
        "loop": "scheduler loop CPU",
        "cluster": "cluster CPU",
        "workers": "worker CPU",
        "wall": "wall",
    }
    for n in ns:
        print(f"  n = {n:,}")
        for name in modes:
            mine = [run for m, run in runs[name] if m == n]
            cells = []
            for key, label in labels.items():
                v = sorted(run[key] / n * 1e6 for run in mine)
                cells.append(f"{label} {v[0]:.1f} / {med(v):.1f} / {v[-1]:.1f}")
            opened = max(run["opened"] for run in mine)
            print(f"    {name:9s} " + "; ".join(cells) + f"; connections opened <= {opened}")
    print("  fit through the medians, seconds = a + b * n  (a: per computation, b: per task)")
    for key, label in labels.items():
        fits = {name: _median_fit(runs[name], key) for name in modes}
        ratio, low, high = _ratio_interval(runs["tcp"], runs["tls+token"], key)
        print(
            f"    {label:19s}"
            + "".join(
                f" {name}: a {a * 1e3:6.2f} ms, b {b * 1e6:6.2f} us;"
                for name, (a, b) in fits.items()
            )
            + f" b ratio {ratio:.3f}x (90% interval {low:.3f}-{high:.3f})"
        )
    print("  one round trip of a 30-task batched message (both ends in this process), CPU")
    for name, costs in messages.items():
        c = sorted(costs)
        print(
            f"    {name:9s} {c[0] * 1e6:.1f} / {med(c) * 1e6:.1f} / {c[-1] * 1e6:.1f} us "
            "(min / median / max)"
        )
    print("  opening one connection (both ends in this process), min / median / max")
    for name, (walls, cpus) in connects.items():
        w, c = sorted(walls), sorted(cpus)
        print(
            f"    {name:9s} wall {w[0] * 1e3:.2f} / {med(w) * 1e3:.2f} / {w[-1] * 1e3:.2f} ms; "
            f"CPU {c[0] * 1e3:.2f} / {med(c) * 1e3:.2f} / {c[-1] * 1e3:.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n",
        type=lambda text: [int(x) for x in text.split(",")],
        default=None,
        help="tasks per map (default 20000; with --security a comma list, default 1000,3000,10000)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    parser.add_argument(
        "--mem-n", type=int, default=20_000, help="pending tasks for the memory figure (0 skips it)"
    )
    parser.add_argument(
        "--blocks",
        type=int,
        default=10_000,
        help="blocks of the array computation (0 skips it; the issue's size is 100000)",
    )
    parser.add_argument(
        "--shoal-only",
        action="store_true",
        help="skip dask.distributed (at the issue's sizes it takes hours on a loaded machine)",
    )
    parser.add_argument(
        "--security",
        action="store_true",
        help="compare shoal over plain TCP with shoal over TLS + token (interleaved repeats)",
    )
    args = parser.parse_args()
    if args.security:
        run_security(args.n or [1000, 3000, 10_000], max(args.repeat, 3))
        return
    if args.n is None:
        args.n = [20_000]
    if len(args.n) != 1:
        parser.error("--n takes one number without --security")
    args.n = args.n[0]
    (s_time, s_cpu), s_mem, s_arr = run_shoal(args.n, args.repeat, args.mem_n, args.blocks)
    print(f"shoal: {s_time * 1e6:.1f} us/task for map, {s_cpu * 1e6:.1f} us/task of loop CPU")
    print(f"shoal: {s_mem:.0f} B/task of scheduler memory")
    if s_arr:
        build, run, ntasks = s_arr
        print(
            f"shoal: array of {args.blocks:,} blocks: {ntasks:,} tasks, graph built in "
            f"{build:.2f} s, run in {run:.2f} s = {run / ntasks * 1e6:.1f} us/task",
            flush=True,
        )
    if args.shoal_only:
        return
    (d_time, d_cpu), d_mem, d_arr = run_dask(args.n, args.repeat, args.mem_n, args.blocks)
    print(
        f"client.map(inc, range({args.n:,})) + gather, 2 workers x 1 thread, best of {args.repeat}"
    )
    print(f"  shoal:  {s_time * 1e6:8.1f} us/task")
    print(f"  dask:   {d_time * 1e6:8.1f} us/task")
    print(f"  ratio (dask / shoal): {d_time / s_time:.2f}x")
    print("scheduler event-loop thread CPU per task (shared with the client's IO)")
    print(f"  shoal:  {s_cpu * 1e6:8.1f} us/task  (~{1 / s_cpu:,.0f} tasks/s ceiling)")
    print(f"  dask:   {d_cpu * 1e6:8.1f} us/task  (~{1 / d_cpu:,.0f} tasks/s ceiling)")
    print(f"  ratio (dask / shoal): {d_cpu / s_cpu:.2f}x")
    if args.mem_n:
        print(f"scheduler memory per pending task ({args.mem_n:,} tasks)")
        print(f"  shoal:  {s_mem:8.0f} B/task")
        print(f"  dask:   {d_mem:8.0f} B/task")
        print(f"  ratio (dask / shoal): {d_mem / s_mem:.2f}x")

    if args.blocks:
        print(f"(ones({args.blocks:,}, chunks=1) + 1).sum() on the cluster (client.get)")
        for name, (build, run, ntasks) in (("shoal", s_arr), ("dask", d_arr)):
            print(
                f"  {name}:  {ntasks:,} tasks, graph built in {build:.2f} s, run in {run:.2f} s"
                f" = {run / ntasks * 1e6:.1f} us/task, {run / args.blocks * 1e6:.1f} us/block"
            )
        print(f"  ratio of run time (dask / shoal): {d_arr[1] / s_arr[1]:.2f}x")
        print(
            f"  ratio per task (dask / shoal): {(d_arr[1] / d_arr[2]) / (s_arr[1] / s_arr[2]):.2f}x"
        )


if __name__ == "__main__":
    main()
