"""Per-task overhead of the distributed scheduler: shoal vs dask.distributed.

End-to-end time per task of ``client.map(inc, range(N))`` + ``gather`` on a
local cluster of 2 worker processes with 1 thread each, for shoal and for
dask.distributed (same shape, same run), plus the scheduler's memory per
task while holding a big graph of pending tasks.

    .venv/bin/python -P benchmarks/bench_distributed_overhead.py            # N = 20,000
    .venv/bin/python -P benchmarks/bench_distributed_overhead.py --n 100000
"""

from __future__ import annotations

import argparse
import gc
import os
import time


def inc(x):
    return x + 1


def _rss() -> int:
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss


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


def _scheduler_memory_shoal(client, n: int) -> float:
    def measure(shoal_scheduler):
        gc.collect()
        return _rss()

    before = client.run_on_scheduler(measure)
    gate = client.submit(time.sleep, 60, pure=False)  # keeps every task waiting
    futures = client.map(_after, range(n), [gate] * n)
    while client.run_on_scheduler(_count_tasks) < n + 1:
        time.sleep(0.1)
    after = client.run_on_scheduler(measure)
    del futures, gate  # closing the cluster drops them (dask's cancel of 50k is slow)
    return (after - before) / n


def _count_tasks(shoal_scheduler=None, dask_scheduler=None):
    s = shoal_scheduler.state if shoal_scheduler is not None else dask_scheduler
    return len(s.tasks)


def _after(x, gate):
    return x


def _scheduler_memory_dask(client, n: int) -> float:
    def measure(dask_scheduler):
        gc.collect()
        return _rss()

    before = client.run_on_scheduler(measure)
    gate = client.submit(time.sleep, 60, pure=False)
    futures = client.map(_after, range(n), [gate] * n)
    while client.run_on_scheduler(_count_tasks) < n + 1:
        time.sleep(0.1)
    after = client.run_on_scheduler(measure)
    del futures, gate  # closing the cluster drops them (dask's cancel of 50k is slow)
    return (after - before) / n


def run_shoal(n: int, repeat: int, mem_n: int) -> tuple[tuple, float]:
    from shoal.distributed import Client

    with Client(n_workers=2, threads_per_worker=1, processes=True) as client:
        per_task = _time_map(client, n, repeat)
        mem = _scheduler_memory_shoal(client, mem_n) if mem_n else float("nan")
    return per_task, mem


def run_dask(n: int, repeat: int, mem_n: int) -> tuple[tuple, float]:
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
        mem = _scheduler_memory_dask(client, mem_n) if mem_n else float("nan")
    return per_task, mem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="tasks per map")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    parser.add_argument(
        "--mem-n", type=int, default=20_000, help="pending tasks for the memory figure (0 skips it)"
    )
    args = parser.parse_args()
    (s_time, s_cpu), s_mem = run_shoal(args.n, args.repeat, args.mem_n)
    print(f"shoal done: {s_time * 1e6:.1f} us/task, {s_mem:.0f} B/task", flush=True)
    (d_time, d_cpu), d_mem = run_dask(args.n, args.repeat, args.mem_n)
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


if __name__ == "__main__":
    main()
