"""Backends on existing engines: run shoal's collections on Ray or dask.distributed.

``compute(scheduler="ray")`` runs on the Ray cluster ``ray.init`` connects
to; ``compute(scheduler=client)`` with a ``distributed.Client`` (or
``scheduler="dask"`` for the current default client) runs on that dask
cluster. The backend objects take options: ``RayBackend(address=...,
max_in_flight=...)`` and ``DaskBackend(client)``. Ray and dask are optional
extras (``shoal[ray]``, ``shoal[dask]``), imported only when a backend runs.
See docs/backends.md for the protocol and what each backend supports.

>>> from shoal.backends import RayBackend
>>> RayBackend(max_in_flight=64)
RayBackend(address=None, max_in_flight=64)
"""

from shoal.backends.dask_engine import DaskBackend
from shoal.backends.ray_engine import RayBackend

__all__ = ["RayBackend", "DaskBackend"]
