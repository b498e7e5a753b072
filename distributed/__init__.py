"""shoal.distributed: central scheduler, workers and clients over TCP (see docs/distributed.md).

>>> from shoal.distributed import Client
>>> with Client(n_workers=1, processes=False) as client:
...     print(client.submit(abs, -3).result())
3
"""

if "." not in __name__:  # imported as top-level "distributed" from the checkout root
    import runpy  # stdlib only: hand over to the real package of that name (see _checkout.py)

    runpy.run_path(__path__[0] + "/../_checkout.py")["hand_over"](globals())
else:
    from shoal.distributed.client import Client, default_client, fire_and_forget
    from shoal.distributed.cluster import LocalCluster
    from shoal.distributed.dashboard_progress import progress
    from shoal.distributed.dashboard_report import performance_report
    from shoal.distributed.future import (
        CancelledError,
        ClientClosedError,
        Future,
        as_completed,
        futures_of,
        wait,
    )
    from shoal.distributed.nanny import Nanny
    from shoal.distributed.plugins import SchedulerPlugin, WorkerPlugin
    from shoal.distributed.primitives import Event, Lock, Pub, Queue, Semaphore, Sub, Variable
    from shoal.distributed.scheduler import Scheduler
    from shoal.distributed.scheduler_state import KilledWorker, LostData
    from shoal.distributed.worker import Worker
    from shoal.distributed.worker_context import (
        get_client,
        get_worker,
        rejoin,
        secede,
        worker_client,
    )

    __all__ = [
        "Client",
        "LocalCluster",
        "Future",
        "as_completed",
        "wait",
        "futures_of",
        "fire_and_forget",
        "default_client",
        "Scheduler",
        "Worker",
        "Nanny",
        "KilledWorker",
        "LostData",
        "CancelledError",
        "ClientClosedError",
        "progress",
        "performance_report",
        "Lock",
        "Semaphore",
        "Event",
        "Variable",
        "Queue",
        "Pub",
        "Sub",
        "SchedulerPlugin",
        "WorkerPlugin",
        "get_client",
        "get_worker",
        "secede",
        "rejoin",
        "worker_client",
    ]
