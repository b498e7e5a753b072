"""Constrained placement: where an annotated task may run, what it holds
while it runs, and where it waits when it cannot run yet.

Tasks annotated with ``workers``, ``resources`` or ``concurrency`` (see
``shoal.annotate``) are placed here instead of by the plain cost model; the
rest never touch this module. A constrained task that is ready either goes
to a worker at once or is *parked* (state ``queued``, outside the main
queue) under the first constraint that stops it::

    ready task --(pool full)------------> parked by pool ---(a slot frees)----+
        |      --(no worker matches)----> parked: no worker --(worker joins)--+
        |      --(resources all used)---> parked: resources --(some free)-----+
        v                                                                     |
    processing: holds one slot of each pool, its resources on its worker <----+
        |
        v  (memory, erred, released, its worker left)
    slots and resources given back; the parked tasks they may help are retried

Slots and resources are held from assignment until the task leaves
``processing``, so the tasks running at once under a pool never exceed its
limit, cluster-wide, and a worker's resources are never over-committed
(workers need not check them again).

- ``workers``: addresses, names or hosts; with ``allow_other_workers`` a
  preference used while one of them is up, else a requirement.
- ``resources``: ``{"GPU": 1}``; a worker offers ``Worker(resources=...)``.
- ``concurrency``: ``{"s3": 16}``; at most 16 tasks holding pool ``s3`` run
  at once (each task names the limit it accepts; the pool is cluster-wide).

>>> c = constraints_of({"workers": ("w1",), "resources": {"GPU": 1.0}})
>>> c.workers, c.resources, c.pools
(frozenset({'w1'}), {'GPU': 1.0}, None)
>>> constraints_of({"priority": 3}) is None
True
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "Constraints",
    "Placement",
    "constraints_of",
    "matches",
    "parse_resources",
    "format_resources",
    "user_priority",
]

#: a user priority is worth more than any static order (generation << 32 | position)
PRIORITY_SHIFT = 64
_BUSY_TRIES = 8  # parked tasks tried per release of resources


class Constraints:
    """What limits where and when one task runs (None: no limit of that kind)."""

    __slots__ = ("workers", "loose", "resources", "pools")

    def __init__(
        self,
        workers: frozenset[str] | None = None,
        loose: bool = False,
        resources: dict[str, float] | None = None,
        pools: dict[str, int] | None = None,
    ) -> None:
        self.workers = workers
        self.loose = loose
        self.resources = resources
        self.pools = pools

    def __repr__(self) -> str:
        return (
            f"Constraints(workers={self.workers}, loose={self.loose}, "
            f"resources={self.resources}, pools={self.pools})"
        )


def constraints_of(annotations: Mapping[str, Any]) -> Constraints | None:
    """The placement constraints among normalized annotations, or None.

    >>> constraints_of({"concurrency": {"s3": 2}}).pools
    {'s3': 2}
    """
    workers = annotations.get("workers")
    resources = annotations.get("resources")
    pools = annotations.get("concurrency")
    if not workers and not resources and not pools:
        return None
    return Constraints(
        frozenset(workers) if workers else None,
        bool(annotations.get("allow_other_workers", False)),
        {str(k): float(v) for k, v in resources.items()} if resources else None,
        {str(k): int(v) for k, v in pools.items()} if pools else None,
    )


def parse_resources(resources: Any) -> dict[str, float]:
    """What a worker offers tasks: ``{"GPU": 2}`` or the command-line form
    ``"GPU=2,MEMORY=10e9"`` (None or "": nothing).

    >>> parse_resources("GPU=2, FPGA=1")
    {'GPU': 2.0, 'FPGA': 1.0}
    >>> parse_resources({"GPU": 1})
    {'GPU': 1.0}
    """
    if not resources:
        return {}
    if isinstance(resources, str):
        items: dict[str, Any] = {}
        for part in resources.replace(" ", ",").split(","):
            if not part:
                continue
            name, sep, amount = part.partition("=")
            if not sep or not name:
                raise ValueError(
                    f"resources: expected NAME=AMOUNT pairs such as 'GPU=2,FPGA=1', got {resources!r}"
                )
            try:
                items[name] = float(amount)
            except ValueError:
                raise ValueError(f"resources: {name} needs a number, got {amount!r}") from None
        resources = items
    if not isinstance(resources, Mapping):
        raise TypeError(f"resources must be a dict or 'NAME=AMOUNT,...', got {resources!r}")
    out: dict[str, float] = {}
    for name, amount in resources.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"resources: names must be non-empty strings, got {name!r}")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
            raise ValueError(f"resources: {name} must be a number >= 0, got {amount!r}")
        out[name] = float(amount)
    return out


def format_resources(resources: Mapping[str, float]) -> str:
    """The command-line form of ``resources`` (see ``parse_resources``).

    >>> format_resources({"GPU": 2.0, "FPGA": 0.5})
    'GPU=2,FPGA=0.5'
    """
    return ",".join(f"{k}={v:g}" for k, v in resources.items())


def user_priority(priority: int) -> int:
    """What a user priority subtracts from a task's static priority (smaller
    runs first), so that a higher user priority always runs first.

    >>> user_priority(1) > (1 << 40) > user_priority(0)
    True
    """
    return int(priority) << PRIORITY_SHIFT


def _host(address: str) -> str:
    rest = address.split("://", 1)[-1]
    return rest.rsplit(":", 1)[0] if ":" in rest else rest


def matches(ws: Any, workers: frozenset[str]) -> bool:
    """Whether worker ``ws`` is among ``workers`` (by address, name or host).

    >>> from types import SimpleNamespace as W
    >>> matches(W(address="tcp://10.0.0.1:7", name="gpu-0"), frozenset({"10.0.0.1"}))
    True
    """
    return ws.address in workers or ws.name in workers or _host(ws.address) in workers


class Placement:
    """The bookkeeping of constrained tasks for one scheduler state.

    ``holding`` maps each processing task that holds slots or resources to
    its worker; ``pool_used`` counts held slots per pool. Parked tasks sit in
    heaps of ``(priority, task)``: per pool, one for tasks waiting on busy
    resources and one for tasks no current worker can take. Entries go stale
    when a task moves on; they are skipped (a task is placed only while its
    state is ``queued``).
    """

    __slots__ = (
        "holding",
        "pool_used",
        "by_pool",
        "busy",
        "no_worker",
        "wake_pools",
        "wake_busy",
        "wake",
    )

    def __init__(self) -> None:
        self.holding: dict[Any, Any] = {}
        self.pool_used: dict[str, int] = {}
        self.by_pool: dict[str, list[tuple[int, Any]]] = {}
        self.busy: list[tuple[int, Any]] = []  # waiting for resources to free up
        self.no_worker: list[tuple[int, Any]] = []  # waiting for a worker to join or resume
        self.wake_pools: set[str] = set()
        self.wake_busy = False  # resources were freed
        self.wake = ""  # "": nothing to retry; "some" (see wake_*); "all" (workers changed)

    # ------------------------------------------------------------ choose

    def choose(
        self, ts: Any, c: Constraints, workers: Iterable[Any], cost: Any, only: str = ""
    ) -> Any:
        """The worker for ``ts`` now, or where it must wait: ``("pool", name)``,
        ``("busy",)`` or ``("no-worker",)``. ``cost(ts, ws)`` ranks workers;
        ``only``: the one address it may run on (a peer-to-peer output)."""
        pools = c.pools
        if pools:
            used = self.pool_used
            for pool, limit in pools.items():
                if used.get(pool, 0) >= limit:
                    return ("pool", pool)
        running = [ws for ws in workers if ws.status == "running" and not ws.retiring]
        if only:
            running = [ws for ws in running if ws.address == only]
        elif c.workers is not None:
            wanted = c.workers
            chosen = [ws for ws in running if matches(ws, wanted)]
            if not chosen and not c.loose:
                return ("no-worker",)
            running = chosen or running
        need = c.resources
        if need:
            able = [
                ws for ws in running if all(ws.resources.get(r, 0.0) >= n for r, n in need.items())
            ]
            if not able:
                return ("no-worker",)
            running = [
                ws
                for ws in able
                if all(ws.resources[r] - ws.used.get(r, 0.0) >= n - 1e-9 for r, n in need.items())
            ]
            if not running:
                return ("busy",)
        if not running:
            return ("no-worker",)
        best = None
        best_cost: Any = (math.inf,)
        for ws in running:
            cst = cost(ts, ws)
            if cst < best_cost:
                best, best_cost = ws, cst
        return best

    def park(self, ts: Any, where: tuple[str, ...]) -> None:
        """Keep ready ``ts`` until what stops it changes (see ``choose``)."""
        entry = (ts.priority, ts)
        if where[0] == "pool":
            heapq.heappush(self.by_pool.setdefault(where[1], []), entry)
        elif where[0] == "busy":
            heapq.heappush(self.busy, entry)
        else:
            heapq.heappush(self.no_worker, entry)

    # ------------------------------------------------------- hold / release

    def hold(self, ts: Any, ws: Any, c: Constraints) -> None:
        """``ts`` was assigned to ``ws``: take its slots and resources."""
        if not c.pools and not c.resources:
            return
        self.holding[ts] = ws
        if c.pools:
            used = self.pool_used
            for pool in c.pools:
                used[pool] = used.get(pool, 0) + 1
        if c.resources:
            wused = ws.used
            for r, n in c.resources.items():
                wused[r] = wused.get(r, 0.0) + n

    def release(self, ts: Any, c: Constraints | None) -> None:
        """``ts`` left processing: give back what it held, note what to retry."""
        ws = self.holding.pop(ts, None)
        if ws is None or c is None:
            return
        if c.pools:
            used = self.pool_used
            for pool in c.pools:
                held = used[pool] - 1
                if held:
                    used[pool] = held
                else:
                    del used[pool]
                if pool in self.by_pool:
                    self.wake_pools.add(pool)
                    self.wake = self.wake or "some"
        if c.resources:
            wused = ws.used
            for r, n in c.resources.items():
                left = wused.get(r, 0.0) - n
                if left > 1e-9:
                    wused[r] = left
                else:
                    wused.pop(r, None)
            if self.busy:
                self.wake_busy = True
                self.wake = self.wake or "some"

    def workers_changed(self) -> None:
        """A worker joined, left or resumed: every parked task may fit now."""
        if self.no_worker or self.busy or self.by_pool:
            self.wake = "all"

    def retry(self, place: Callable[[Any], Any]) -> None:
        """Try the parked tasks that what changed may help, best first:
        ``place(ts)`` assigns ``ts`` and returns None, or says where it must
        wait (``choose``). All of them after a change of workers; for a freed
        pool slot, the pool's tasks until the pool is full again; for freed
        resources, the busy tasks until a few failed (each release retries a
        few more, so a long line costs little per release)."""
        mode, pools, busy = self.wake, list(self.wake_pools), self.wake_busy
        self.wake = ""
        self.wake_pools.clear()
        self.wake_busy = False
        later: list[tuple[Any, Any]] = []
        if mode == "all":
            found = [e for h in (self.no_worker, self.busy, *self.by_pool.values()) for e in h]
            self.no_worker, self.busy = [], []
            self.by_pool.clear()
            found.sort()
            for _, ts in found:
                if ts.state == "queued" and ts not in self.holding:
                    where = place(ts)
                    if where is not None:
                        later.append((ts, where))
        else:
            for pool in pools:
                heap = self.by_pool.get(pool, [])
                while heap:
                    _, ts = heapq.heappop(heap)
                    if ts.state != "queued":
                        continue
                    where = place(ts)
                    if where is not None:
                        later.append((ts, where))
                        if where == ("pool", pool):
                            break  # full again
                if not heap:
                    self.by_pool.pop(pool, None)
            failed = 0
            while busy and self.busy and failed < _BUSY_TRIES:
                _, ts = heapq.heappop(self.busy)
                if ts.state != "queued":
                    continue
                where = place(ts)
                if where is not None:
                    later.append((ts, where))
                    failed += 1
        for ts, where in later:
            self.park(ts, where)

    def clear(self) -> None:
        """Forget everything (the scheduler restarted)."""
        self.holding.clear()
        self.pool_used.clear()
        self.by_pool.clear()
        self.busy.clear()
        self.no_worker.clear()
        self.wake_pools.clear()
        self.wake_busy = False
        self.wake = ""
