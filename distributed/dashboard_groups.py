"""Task counts by group (key prefix), kept as tasks change state.

The scheduler's state machine calls these on every state change of a task:
each call is a couple of dictionary updates, whatever the number of tasks,
so the dashboard reads the progress of a million-task computation from a
handful of counters instead of walking the task records::

    SchedulerState._transition ... ts.state changes
        -> groups.moved(prefix, start, finish)      counts[start] -= 1; counts[finish] += 1
    TaskFinished
        -> groups.finished(prefix, duration, nbytes) done += 1 (and cumulative figures)
    new task / dependency between two groups
        -> groups.added(prefix), groups.depends(prefix, on)

Pure data, no IO and no clock: the state machine stays pure.

>>> groups = TaskGroups()
>>> groups.added("load"); groups.added("load")
>>> groups.moved("load", "released", "waiting")
>>> groups["load"].counts["released"], groups["load"].counts["waiting"], groups["load"].total
(1, 1, 2)
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["TaskGroup", "TaskGroups", "TASK_STATES", "MAX_GROUPS"]

# the scheduler's task states (``scheduler_state.STATES``; a test keeps them equal)
TASK_STATES = ("released", "waiting", "queued", "processing", "memory", "erred", "forgotten")

# beyond this many groups, groups whose tasks are all forgotten are dropped
# (oldest first) when a new group appears, so keys without a common prefix
# ("x1", "x2", ...) cannot grow the table without bound
MAX_GROUPS = 10_000


class TaskGroup:
    """The tasks of one key prefix: how many are in each state, how many
    finished (cumulative), their summed compute time and result sizes, and
    the groups they depend on.

    >>> g = TaskGroup("sum", 0)
    >>> g.counts["released"] += 3
    >>> g.total, g.finished_fraction
    (3, 0.0)
    """

    __slots__ = ("name", "counts", "done", "duration", "nbytes_total", "dependencies", "order")

    def __init__(self, name: str, order: int) -> None:
        self.name = name
        self.counts: dict[str, int] = dict.fromkeys(TASK_STATES, 0)
        self.done = 0  # tasks that finished computing (a recomputed task counts again)
        self.duration = 0.0  # seconds of compute, summed
        self.nbytes_total = 0  # bytes of the results computed, summed
        self.dependencies: set[str] = set()  # the other groups its tasks depend on
        self.order = order  # creation order, for a stable display

    @property
    def total(self) -> int:
        """Tasks in the group, forgotten ones included."""
        return sum(self.counts.values())

    @property
    def finished_fraction(self) -> float:
        """Share of the group's tasks that are done: in memory, or computed
        and let go of since (released after finishing, forgotten)."""
        total = self.total
        if not total:
            return 0.0
        c = self.counts
        return min(1.0, (c["memory"] + c["forgotten"] + c["erred"]) / total)

    def as_dict(self) -> dict[str, object]:
        """Plain data (for JSON)."""
        return {
            "name": self.name,
            "counts": dict(self.counts),
            "total": self.total,
            "done": self.done,
            "duration": self.duration,
            "nbytes_total": self.nbytes_total,
            "dependencies": sorted(self.dependencies),
        }

    def __repr__(self) -> str:
        busy = {s: n for s, n in self.counts.items() if n}
        return f"<TaskGroup {self.name} {busy}>"


class TaskGroups:
    """All task groups of a scheduler, by prefix (see the module docstring)."""

    __slots__ = ("_groups", "_created")

    def __init__(self) -> None:
        self._groups: dict[str, TaskGroup] = {}
        self._created = 0

    def _new(self, prefix: str) -> TaskGroup:
        groups = self._groups
        if len(groups) >= MAX_GROUPS:
            for name in [n for n, g in groups.items() if g.total == g.counts["forgotten"]]:
                del groups[name]
                if len(groups) < MAX_GROUPS // 2:
                    break
        self._created += 1
        group = groups[prefix] = TaskGroup(prefix, self._created)
        return group

    def added(self, prefix: str) -> None:
        """A new task of ``prefix`` (in state ``released``)."""
        group = self._groups.get(prefix)
        if group is None:
            group = self._new(prefix)
        group.counts["released"] += 1

    def moved(self, prefix: str, start: str, finish: str) -> None:
        """A task of ``prefix`` went from state ``start`` to ``finish``."""
        counts = self._groups[prefix].counts  # never dropped while it has live tasks
        counts[start] -= 1
        counts[finish] += 1

    def finished(self, prefix: str, duration: float, nbytes: int) -> None:
        """A task of ``prefix`` finished computing in ``duration`` seconds,
        with a result of ``nbytes`` bytes."""
        group = self._groups[prefix]
        group.done += 1
        group.duration += duration
        group.nbytes_total += nbytes

    def depends(self, prefix: str, on: str) -> None:
        """A task of ``prefix`` depends on a task of group ``on``."""
        self._groups[prefix].dependencies.add(on)

    def forget_all(self) -> None:
        """Every task was forgotten at once (a restart)."""
        for group in self._groups.values():
            counts = group.counts
            gone = sum(counts.values())
            for state in counts:
                counts[state] = 0
            counts["forgotten"] = gone

    def totals(self) -> dict[str, int]:
        """Tasks in each state over all groups (forgotten ones included)."""
        out = dict.fromkeys(TASK_STATES, 0)
        for group in self._groups.values():
            for state, n in group.counts.items():
                out[state] += n
        return out

    def __getitem__(self, prefix: str) -> TaskGroup:
        return self._groups[prefix]

    def get(self, prefix: str) -> TaskGroup | None:
        """The group of ``prefix``, or None."""
        return self._groups.get(prefix)

    def __iter__(self) -> Iterator[TaskGroup]:
        return iter(list(self._groups.values()))

    def __len__(self) -> int:
        return len(self._groups)

    def __contains__(self, prefix: object) -> bool:
        return prefix in self._groups
