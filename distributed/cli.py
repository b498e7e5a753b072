"""Command-line entry points: ``shoal-scheduler`` and ``shoal-worker``.

Also ``python -m shoal.distributed.cli scheduler ...`` and ``... worker ADDRESS``.
A cluster on many machines is two commands::

    shoal-scheduler --host 0.0.0.0 --port 8786
    shoal-worker tcp://scheduler-host:8786 --nthreads 4 --nworkers 2

>>> build_parser().parse_args(["worker", "tcp://h:1", "--nthreads", "2"]).nthreads
2
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from shoal.core.utils import parse_bytes

__all__ = ["main", "scheduler_main", "worker_main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of both commands."""
    parser = argparse.ArgumentParser(prog="shoal.distributed.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scheduler", help="run a scheduler")
    s.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    s.add_argument("--port", type=int, default=8786, help="port (0 picks a free one)")
    s.add_argument(
        "--dashboard-address",
        default=None,
        help="serve the status page (/status, /json/status) here, e.g. :8787 or "
        "0.0.0.0:8787 (off by default)",
    )
    w = sub.add_parser("worker", help="run workers for a scheduler")
    w.add_argument("address", help="the scheduler, e.g. tcp://host:8786")
    w.add_argument("--nthreads", type=int, default=1, help="threads per worker")
    w.add_argument("--nworkers", type=int, default=1, help="worker processes to start")
    w.add_argument("--memory-limit", default="0", help="bytes per worker, e.g. 4GiB; 0: none")
    w.add_argument("--name", default="", help="worker name")
    w.add_argument("--host", default="127.0.0.1", help="interface the worker listens on")
    w.add_argument(
        "--nanny",
        dest="nanny",
        action="store_true",
        default=True,
        help="supervise each worker with a nanny that restarts it (default)",
    )
    w.add_argument("--no-nanny", dest="nanny", action="store_false")
    w.add_argument("--nanny-address", default="", help=argparse.SUPPRESS)
    return parser


async def _run_scheduler(args) -> None:
    from shoal.distributed.scheduler import Scheduler

    scheduler = Scheduler(
        f"tcp://{args.host}:{args.port}", dashboard_address=args.dashboard_address or None
    )
    await scheduler.start()
    print(f"shoal scheduler at {scheduler.address}", flush=True)
    if scheduler.dashboard is not None:
        print(f"shoal dashboard at {scheduler.dashboard.url}", flush=True)
    await _until_signal()
    await scheduler.close()


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _run_workers(args) -> None:
    memory_limit = parse_bytes(args.memory_limit) if args.memory_limit not in ("0", "") else 0
    stop = asyncio.ensure_future(_until_signal())
    if args.nanny:
        from shoal.distributed.nanny import Nanny

        nannies = []
        for i in range(args.nworkers):
            name = f"{args.name}-{i}" if args.name and args.nworkers > 1 else args.name
            nannies.append(
                await Nanny(
                    args.address, args.nthreads, name, memory_limit, listen=f"tcp://{args.host}:0"
                ).start()
            )
        stopped = [asyncio.ensure_future(n.stopped.wait()) for n in nannies]
        await asyncio.wait([stop, *stopped], return_when=asyncio.FIRST_COMPLETED)
        await asyncio.gather(*(n.close() for n in nannies))
    else:
        from shoal.distributed.worker import Worker

        workers = []
        for i in range(args.nworkers):
            name = f"{args.name}-{i}" if args.name and args.nworkers > 1 else args.name
            workers.append(
                await Worker(
                    args.address,
                    args.nthreads,
                    name,
                    memory_limit,
                    nanny=args.nanny_address,
                    listen=f"tcp://{args.host}:0",
                ).start()
            )
        if not args.nanny_address:
            print(f"shoal worker at {', '.join(w.address for w in workers)}", flush=True)
        finished = [asyncio.ensure_future(w.finished()) for w in workers]
        await asyncio.wait([stop, *finished], return_when=asyncio.FIRST_COMPLETED)
        await asyncio.gather(*(w.close() for w in workers))
    stop.cancel()


def main(argv: list[str] | None = None) -> int:
    """Run ``scheduler`` or ``worker`` from command-line arguments."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    runner = _run_scheduler if args.command == "scheduler" else _run_workers
    try:
        asyncio.run(runner(args))
    except KeyboardInterrupt:
        pass
    return 0


def scheduler_main() -> int:
    """Console script ``shoal-scheduler``."""
    return main(["scheduler", *sys.argv[1:]])


def worker_main() -> int:
    """Console script ``shoal-worker``."""
    return main(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
