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
    from shoal.distributed.future import (
        CancelledError,
        ClientClosedError,
        Future,
        as_completed,
        wait,
    )
    from shoal.distributed.nanny import Nanny
    from shoal.distributed.scheduler import Scheduler
    from shoal.distributed.scheduler_state import KilledWorker, LostData
    from shoal.distributed.worker import Worker

    __all__ = [
        "Client",
        "LocalCluster",
        "Future",
        "as_completed",
        "wait",
        "fire_and_forget",
        "default_client",
        "Scheduler",
        "Worker",
        "Nanny",
        "KilledWorker",
        "LostData",
        "CancelledError",
        "ClientClosedError",
    ]
