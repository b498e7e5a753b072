"""Translate shoal's task spec into dask's (``dask._task_spec``), once per graph.

The two specs have the same shape, so every node maps to its counterpart and
nothing of shoal's runs on the dask workers but the tasks' own functions:

    shoal                          dask
    -----                          ----
    Task(f, *args, **kwargs)       Task(key, f, *args, **kwargs)
    Ref(key) in an argument        TaskRef(key)
    Task nested in an argument     Task(None, ...) nested (run inline)
    list / tuple / dict holding    List / Tuple / Dict (dask resolves only
      references                     explicit containers)
    Ref(key) as a node             Alias(key, target)
    Fused chain                    the inner tasks nested into one Task when each
                                   inner result is used once; else Task.fuse
    any other node                 DataNode(key, value)

Containers without references stay plain values (dask passes them as they are).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shoal.core.task import Fused, Ref, Task

__all__ = ["to_dask_node", "to_dask_graph"]


class _Translator:
    """Converts nodes; ``uses`` counts the references met, per key (a fused
    chain nests only when each inner result is used once)."""

    def __init__(self) -> None:
        from dask import _task_spec as spec

        self.spec = spec
        self.uses: Counter[Any] = Counter()

    def node(self, key: Any, node: Any) -> Any:
        spec = self.spec
        typ = type(node)
        if typ is Task:
            return self.task(key, node)
        if typ is Fused:
            return self.fused(key, node)
        if typ is Ref:
            self.uses[node.key] += 1
            return spec.Alias(key, node.key)
        return spec.DataNode(key, node)

    def task(self, key: Any, task: Task) -> Any:
        arg = self.arg
        args = [arg(a) for a in task.args]
        kwargs = task.kwargs
        if kwargs:
            return self.spec.Task(key, task.func, *args, **{k: arg(v) for k, v in kwargs.items()})
        return self.spec.Task(key, task.func, *args)

    def fused(self, key: Any, fused: Fused) -> Any:
        spec = self.spec
        outer = self.uses
        inner_uses: Counter[Any] = Counter()
        self.uses = inner_uses
        try:
            inner = [(k, self.node(k, n)) for k, n in fused.tasks]
        finally:
            self.uses = outer
        inner_keys = {k for k, _ in inner}
        for k, n in inner_uses.items():
            if k not in inner_keys:
                outer[k] += n
        last = fused.tasks[-1][0]
        if all(inner_uses[k] == 1 for k in inner_keys if k != last):
            built: dict[Any, Any] = {}
            for k, node in inner:
                subs = {d: built.pop(d) for d in node.dependencies if d in built}
                built[k] = node.substitute(subs) if subs else node
            return built[last].substitute({}, key=key)
        # an inner result read twice: dask runs the group as a small graph
        used = [(k, n) for k, n in inner if k == last or inner_uses[k]]
        return spec.Task.fuse(*[n for _, n in used], key=key)

    def arg(self, obj: Any) -> Any:
        typ = type(obj)
        if typ is Ref:
            self.uses[obj.key] += 1
            return self.spec.TaskRef(obj.key)
        if typ is Task:
            return self.task(None, obj)
        if typ is Fused:
            return self.fused(None, obj)
        if typ is list or typ is tuple:
            items = [self.arg(x) for x in obj]
            if any(isinstance(x, (self.spec.GraphNode, self.spec.TaskRef)) for x in items):
                return (self.spec.List if typ is list else self.spec.Tuple)(*items)
            return obj
        if typ is dict:
            values = {k: self.arg(v) for k, v in obj.items()}
            if any(
                isinstance(v, (self.spec.GraphNode, self.spec.TaskRef)) for v in values.values()
            ):
                return self.spec.Dict(values)
            return obj
        return obj


def to_dask_node(key: Any, node: Any) -> Any:
    """The dask task-spec node for one shoal node.

    >>> from operator import add
    >>> t = to_dask_node("b", Task(add, Ref("a"), 1))
    >>> type(t).__name__, t.key, sorted(t.dependencies), t({"a": 41})
    ('Task', 'b', ['a'], 42)
    >>> chain = Fused("c", [("b", Task(add, Ref("a"), 1)), ("c", Task(add, Ref("b"), Ref("b")))])
    >>> to_dask_node("c", chain)({"a": 1})
    4
    """
    return _Translator().node(key, node)


def to_dask_graph(keys: list[Any], nodes: list[Any]) -> dict[Any, Any]:
    """A dask graph (key -> dask node) for shoal nodes given by key.

    >>> g = to_dask_graph(["a", "b"], [[1, 2], Task(sum, Ref("a"))])
    >>> g["b"]({"a": g["a"]()})
    3
    """
    translate = _Translator().node
    return {k: translate(k, n) for k, n in zip(keys, nodes)}
