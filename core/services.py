"""Services a backend offers to the tasks it runs, by name.

Collections never import a backend; a task that needs more than its inputs
(a peer-to-peer shuffle sending rows straight to other workers) asks for a
service by name, and whatever thread runs the task answers with the one its
backend bound. The distributed worker binds ``"exchange"`` in its pool
threads; local schedulers bind nothing, so such a task says clearly that it
needs a cluster.

The ``"exchange"`` service moves pieces of blocks between the workers of a
cluster (all-to-all work: a dataframe shuffle, an array rechunk). A graph
using it has three stages, named by an ``ExchangeSpec``::

    transfer i  (one per input block):  service.transfer(spec, i, {j: piece}) -> run
    barrier     (one task, after all):  service.barrier(spec, [run, ...])     -> run
    output j    (one per output block): service.output(spec, run, j)          -> [piece, ...]

``transfer`` hands over the pieces of input ``i`` for outputs ``j``;
``barrier`` returns once every piece has reached the worker that owns its
output; ``output`` returns output ``j``'s pieces in input order (by ``i``).
Indices ``i``/``j`` are flat (C order) over the input/output grids. Output
``j``'s task must be keyed ``(spec.output_name, *index of j)``: the backend
runs it where its pieces are.

>>> bind_services({"echo": print})
>>> get_service("echo")("hello")
hello
>>> bind_services({})
>>> get_service("echo")
Traceback (most recent call last):
...
LookupError: this task needs the 'echo' service, which only a distributed worker offers ...
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ExchangeSpec",
    "bind_services",
    "get_service",
    "find_service",
    "backend_offers",
    "default_backend_offers",
    "exchange_transfer",
    "exchange_barrier",
    "exchange_output",
]

_bound = threading.local()


def bind_services(services: dict[str, Any]) -> None:
    """Make ``services`` the ones tasks run by this thread find (a backend
    calls this in each of its executing threads)."""
    _bound.services = dict(services)


def find_service(name: str) -> Any:
    """The service ``name`` of the backend running this task, or None."""
    return getattr(_bound, "services", {}).get(name)


def get_service(name: str) -> Any:
    """The service ``name`` of the backend running this task; LookupError
    if it offers none."""
    found = find_service(name)
    if found is None:
        raise LookupError(
            f"this task needs the {name!r} service, which only a distributed worker offers "
            "(compute on a shoal.distributed Client, or choose another method)"
        )
    return found


def backend_offers(get: Any, name: str) -> bool:
    """Whether the backend whose ``get`` this is offers service ``name`` to
    the tasks it runs (a backend object lists them in ``shoal_services``).

    >>> class Cluster:
    ...     shoal_services = ("exchange",)
    ...     def get(self, graph, keys): ...
    >>> backend_offers(Cluster().get, "exchange"), backend_offers(print, "exchange")
    (True, False)
    """
    owner = getattr(get, "__self__", get)
    return name in getattr(owner, "shoal_services", ())


def default_backend_offers(name: str) -> bool:
    """Whether the backend a computation would run on now (``shoal.config``'s
    ``scheduler``, else the active Client, else threads) offers service ``name``.

    >>> default_backend_offers("exchange")  # no Client: the local threads
    False
    """
    from shoal.core.base import get_scheduler

    try:
        get = get_scheduler()
    except Exception:  # a configured scheduler that cannot be resolved offers nothing
        return False
    return backend_offers(get, name)


@dataclass(frozen=True)
class ExchangeSpec:
    """One all-to-all exchange of a graph (module docstring): its ``id`` (the
    same for every run of that graph), the grids of input and output blocks,
    and the names of its transfer, barrier and output keys (``transfer_name``
    and ``output_name`` are followed by block indices, ``barrier_key`` is
    whole).

    >>> s = ExchangeSpec("x-1", (4,), (3,), "t-1", ("b-1", 0), "x-1")
    >>> s.npartitions_in, s.npartitions_out, s.output_key(2)
    (4, 3, ('x-1', 2))
    """

    id: str
    input_grid: tuple[int, ...]
    output_grid: tuple[int, ...]
    transfer_name: str
    barrier_key: Any
    output_name: str

    @property
    def npartitions_in(self) -> int:
        return _size(self.input_grid)

    @property
    def npartitions_out(self) -> int:
        return _size(self.output_grid)

    def transfer_key(self, i: int) -> tuple[Any, ...]:
        """The key of transfer ``i`` (flat index over ``input_grid``)."""
        return (self.transfer_name, *_unravel(i, self.input_grid))

    def output_key(self, j: int) -> tuple[Any, ...]:
        """The key of output ``j`` (flat index over ``output_grid``)."""
        return (self.output_name, *_unravel(j, self.output_grid))


# The three stages of an exchange as graph tasks, for any collection. Where
# the backend offers no ``"exchange"`` service (a graph built for a cluster,
# computed by a local scheduler) the pieces travel in memory instead: each
# transfer returns its pieces, the barrier all of them.


def exchange_transfer(spec: ExchangeSpec, i: int, pieces: dict[int, Any]) -> Any:
    """Transfer ``i``: hand over its ``pieces`` (output index -> piece); the
    run they joined (or the pieces, where no exchange service runs)."""
    service = find_service("exchange")
    if service is None:
        return pieces
    return int(service.transfer(spec, i, pieces))


def exchange_barrier(spec: ExchangeSpec, *transfers: Any) -> Any:
    """The barrier: returns once every transfer's pieces reached their owners;
    the run (or every transfer's pieces, in input order, where no exchange
    service runs)."""
    service = find_service("exchange")
    if service is None:
        return list(transfers)
    return int(service.barrier(spec, list(transfers)))


def exchange_output(spec: ExchangeSpec, barrier: Any, j: int) -> list[Any]:
    """Output ``j``'s pieces in input order (``barrier`` is the barrier's value).

    >>> s = ExchangeSpec("x-1", (2,), (2,), "t-1", ("b-1", 0), "x-1")
    >>> runs = [exchange_transfer(s, 0, {0: "a", 1: "b"}), exchange_transfer(s, 1, {1: "c"})]
    >>> done = exchange_barrier(s, *runs)  # no exchange service: in memory
    >>> exchange_output(s, done, 0), exchange_output(s, done, 1)
    (['a'], ['b', 'c'])
    """
    if isinstance(barrier, list):
        return [pieces[j] for pieces in barrier if j in pieces]
    pieces: list[Any] = get_service("exchange").output(spec, barrier, j)
    return pieces


def _size(grid: tuple[int, ...]) -> int:
    n = 1
    for d in grid:
        n *= d
    return n


def _unravel(flat: int, grid: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for d in reversed(grid):
        flat, r = divmod(flat, d)
        index.append(r)
    return tuple(reversed(index))
