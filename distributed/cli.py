"""Command-line entry points: ``shoal-scheduler`` and ``shoal-worker``.

Also ``python -m shoal.distributed.cli scheduler ...`` and ``... worker ADDRESS``.
A cluster on many machines is two commands (with TLS and a token, as any
cluster reachable from a network should be)::

    export SHOAL_DISTRIBUTED__COMM__TOKEN=...   # or --token, on every machine
    shoal-scheduler --host 0.0.0.0 --port 8786 --tls-ca-file ca.pem \\
        --tls-cert sched.pem --tls-key sched.key
    shoal-worker tls://scheduler-host:8786 --nthreads 4 --nworkers 2 \\
        --tls-ca-file ca.pem --tls-cert worker.pem --tls-key worker.key

Exit codes of ``shoal-scheduler``: 0 after SIGTERM/SIGINT, ``EXIT_CLOSED_REMOTELY``
(3) when a client or peer closed it (``Client.shutdown()``), so a supervisor
can tell the two apart.

>>> build_parser().parse_args(["worker", "tcp://h:1", "--nthreads", "2"]).nthreads
2
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from shoal.distributed.memory import parse_memory_limit
from shoal.distributed.placement import parse_resources
from shoal.distributed.security import Security

__all__ = ["main", "scheduler_main", "worker_main", "build_parser", "EXIT_CLOSED_REMOTELY"]

EXIT_CLOSED_REMOTELY = 3


def _add_security_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tls-ca-file",
        default=None,
        help="CA (PEM) that signs the cluster's certificates; with it every connection uses "
        "TLS and peers must show a certificate it signed (distributed.comm.tls.ca-file)",
    )
    parser.add_argument("--tls-cert", default=None, help="this process's certificate (PEM)")
    parser.add_argument("--tls-key", default=None, help="the private key of --tls-cert (PEM)")
    parser.add_argument(
        "--tls-no-client-cert",
        action="store_true",
        help="with TLS, do not ask connecting peers for a certificate (then use a token)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="shared secret every scheduler, worker and client must prove; prefer the "
        "environment variable SHOAL_DISTRIBUTED__COMM__TOKEN (a command line is visible to "
        "other users of the machine)",
    )


def security_from_args(args: argparse.Namespace) -> Security:
    """The ``Security`` of a command: its options over this process's config.

    >>> args = build_parser().parse_args(["scheduler", "--token", "t"])
    >>> security_from_args(args).token
    't'
    """
    base = Security.from_config()
    return Security(
        args.tls_ca_file or base.tls_ca_file,
        args.tls_cert or base.tls_cert,
        args.tls_key or base.tls_key,
        base.require_client_cert and not args.tls_no_client_cert,
        args.token if args.token is not None else base.token,
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of both commands."""
    parser = argparse.ArgumentParser(prog="shoal.distributed.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scheduler", help="run a scheduler")
    s.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    s.add_argument("--port", type=int, default=8786, help="port (0 picks a free one)")
    s.add_argument(
        "--dashboard-address",
        default="127.0.0.1:8787",
        help="serve the dashboard (/status, /workers, /api/v1/..., /metrics) here, e.g. "
        "0.0.0.0:8787 to reach it from other machines, or 'none' to turn it off (default "
        "127.0.0.1:8787, another free port if that one is taken; HTTPS when TLS is on)",
    )
    _add_security_options(s)
    w = sub.add_parser("worker", help="run workers for a scheduler")
    w.add_argument("address", help="the scheduler, e.g. tcp://host:8786")
    w.add_argument("--nthreads", type=int, default=1, help="threads per worker")
    w.add_argument("--nworkers", type=int, default=1, help="worker processes to start")
    w.add_argument(
        "--memory-limit",
        default="auto",
        help="budget of each worker: bytes, e.g. 4GiB, a fraction of the machine's memory, "
        "'auto' (the machine's memory divided among --nworkers; the default) or 0 (none); "
        "see distributed.worker.memory.* for what happens as it fills",
    )
    w.add_argument(
        "--local-directory",
        default=None,
        help="where workers spill results to disk (default: a temporary directory)",
    )
    w.add_argument("--name", default="", help="worker name")
    w.add_argument(
        "--resources",
        default="",
        help="what each worker offers tasks annotated with resources, e.g. 'GPU=2,FPGA=1' "
        "(the scheduler runs at most that much at once on it)",
    )
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
    _add_security_options(w)
    return parser


async def _run_scheduler(args) -> int:
    """Serve until a signal (exit code 0) or a remote close (``EXIT_CLOSED_REMOTELY``)."""
    from shoal.distributed.scheduler import Scheduler

    security = security_from_args(args)
    scheme = "tls" if security.tls else "tcp"
    scheduler = Scheduler(
        f"{scheme}://{args.host}:{args.port}",
        dashboard_address=_dashboard_address(args.dashboard_address),
        security=security,
    )
    await scheduler.start()
    print(f"shoal scheduler at {scheduler.address}", flush=True)
    if scheduler.dashboard is not None:
        print(f"shoal dashboard at {scheduler.dashboard.url}", flush=True)
    stop = asyncio.ensure_future(_until_signal())
    finished = asyncio.ensure_future(scheduler.finished.wait())
    await asyncio.wait([stop, finished], return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    finished.cancel()
    if scheduler.status == "closed":
        print(f"shoal scheduler {scheduler.close_reason}; exiting", file=sys.stderr, flush=True)
        return EXIT_CLOSED_REMOTELY
    await scheduler.close("stopped by a signal")
    return 0


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _run_workers(args) -> int:
    """Run the workers until a signal (or until they all end); the exit code is
    1 if a worker closed itself for memory."""
    memory_limit = parse_memory_limit(_number(args.memory_limit), args.nworkers)
    resources = parse_resources(args.resources)
    security = security_from_args(args)
    host = f"{'tls' if security.tls else 'tcp'}://{args.host}:0"
    stop = asyncio.ensure_future(_until_signal())
    if args.nanny:
        from shoal.distributed.nanny import Nanny

        nannies = []
        for i in range(args.nworkers):
            name = f"{args.name}-{i}" if args.name and args.nworkers > 1 else args.name
            nannies.append(
                await Nanny(
                    args.address,
                    args.nthreads,
                    name,
                    memory_limit,
                    listen=host,
                    security=security,
                    resources=resources,
                ).start()
            )
        print(
            f"shoal worker: {len(nannies)} worker process(es) of {args.nthreads} thread(s) "
            f"joining {args.address} (nannies at {', '.join(n.address for n in nannies)})",
            flush=True,
        )
        stopped = [asyncio.ensure_future(n.stopped.wait()) for n in nannies]
        await asyncio.wait([stop, *stopped], return_when=asyncio.FIRST_COMPLETED)
        await asyncio.gather(*(n.close() for n in nannies))
    else:
        from shoal.distributed.memory import return_freed_memory
        from shoal.distributed.worker import Worker

        return_freed_memory()  # this process only runs workers
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
                    listen=host,
                    local_directory=args.local_directory,
                    security=security,
                    resources=resources,
                ).start()
            )
        if not args.nanny_address:
            print(f"shoal worker at {', '.join(w.address for w in workers)}", flush=True)
        finished = [asyncio.ensure_future(w.finished()) for w in workers]
        await asyncio.wait([stop, *finished], return_when=asyncio.FIRST_COMPLETED)
        await asyncio.gather(*(w.close() for w in workers))
        if any(w.terminated for w in workers):
            stop.cancel()
            return 1
    stop.cancel()
    return 0


def _number(text: str) -> str | float:
    """``"0.5"`` as a fraction; anything else as the string it is."""
    try:
        value = float(text)
    except ValueError:
        return text
    return value if 0 < value < 1 else text


def _dashboard_address(text: str | None) -> str | None:
    """``--dashboard-address``: None (off) for '', 'none' or 'off'."""
    return None if not text or text.lower() in ("none", "off") else text


def main(argv: list[str] | None = None) -> int:
    """Run ``scheduler`` or ``worker`` from command-line arguments."""
    args = build_parser().parse_args(argv)
    # warnings and errors on stderr; the INFO lines that get_worker_logs keeps
    # (logs.py) stay in the process
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.WARNING)
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=[stderr],
    )
    runner = _run_scheduler if args.command == "scheduler" else _run_workers
    try:
        return asyncio.run(runner(args)) or 0
    except KeyboardInterrupt:
        return 0


def scheduler_main() -> int:
    """Console script ``shoal-scheduler``."""
    return main(["scheduler", *sys.argv[1:]])


def worker_main() -> int:
    """Console script ``shoal-worker``."""
    return main(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
