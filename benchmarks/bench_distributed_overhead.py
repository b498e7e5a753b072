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
kept running, timed in interleaved repeats (the order alternates), plus the
time to open one connection (TCP connect and handshake, and TLS's) on each:

    .venv/bin/python -P benchmarks/bench_distributed_overhead.py --security --n 5000 --repeat 8
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


def _connect_time(address: str, security, n: int = 30) -> float:
    """Median seconds to open (and close) one connection, handshakes included."""
    import asyncio
    import statistics

    from shoal.distributed.comm import connect

    async def run() -> list[float]:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            comm = await connect(address, security=security)
            times.append(time.perf_counter() - start)
            comm.abort()
        return times

    return statistics.median(asyncio.run(run()))


def _cluster_cpu(client) -> float:
    """CPU seconds used so far by this process (client, scheduler, nannies)
    and by the client's worker processes: a figure a loaded machine distorts
    far less than wall time."""
    import psutil

    total = time.process_time()
    for nanny in client.cluster.workers.values():
        try:
            t = psutil.Process(nanny.pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def run_security(n: int, repeat: int) -> None:
    """Per-task time of plain TCP against TLS + token (see module docstring)."""
    import statistics

    from shoal.distributed import Client
    from shoal.distributed.security import Security

    modes = {"tcp": Security(), "tls+token": Security.temporary(token=True)}
    clients = {
        name: Client(n_workers=2, threads_per_worker=1, security=sec) for name, sec in modes.items()
    }
    try:
        times: dict[str, list[float]] = {name: [] for name in modes}
        cpus: dict[str, list[float]] = {name: [] for name in modes}
        totals: dict[str, list[float]] = {name: [] for name in modes}
        for client in clients.values():
            _time_map(client, n, 1)  # warm up
        for r in range(repeat):
            order = list(modes) if r % 2 == 0 else list(modes)[::-1]
            for name in order:
                before = _cluster_cpu(clients[name])
                wall, cpu = _time_map(clients[name], n, 1)
                totals[name].append((_cluster_cpu(clients[name]) - before) / n)
                times[name].append(wall)
                cpus[name].append(cpu)
        connect_times = {
            name: _connect_time(clients[name].scheduler_address, modes[name]) for name in modes
        }
    finally:
        for client in clients.values():
            client.close()
    print(
        f"client.map(inc, range({n:,})) + gather, 2 workers x 1 thread, {repeat} interleaved "
        "repeats per mode"
    )
    for name in modes:
        t = times[name]
        print(
            f"  {name:10s} wall median {statistics.median(t) * 1e6:7.1f} us/task, best "
            f"{min(t) * 1e6:7.1f}; scheduler loop CPU median "
            f"{statistics.median(cpus[name]) * 1e6:6.1f} us/task; cluster CPU median "
            f"{statistics.median(totals[name]) * 1e6:6.1f} us/task; one connection "
            f"{connect_times[name] * 1e3:.2f} ms"
        )
    med = statistics.median
    print(
        "  ratio tls+token / tcp: scheduler loop CPU "
        f"{med(cpus['tls+token']) / med(cpus['tcp']):.3f}x, cluster CPU "
        f"{med(totals['tls+token']) / med(totals['tcp']):.3f}x"
    )
    plain, secure = times["tcp"], times["tls+token"]
    print(
        f"  ratio tls+token / tcp: wall median {med(secure) / med(plain):.3f}x, "
        f"best {min(secure) / min(plain):.3f}x"
    )
    pairs = [b / a for a, b in zip(plain, secure)]
    print(f"  per-repeat wall ratios: {', '.join(f'{x:.2f}' for x in pairs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="tasks per map")
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
        run_security(args.n, max(args.repeat, 2))
        return
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
