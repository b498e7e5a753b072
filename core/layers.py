"""Compact task graphs: the tasks of one name laid out on a block grid.

Most of a collection's graph is layers: block ``(name, i, j)`` of a grid holds
one task for every index. A plain dict spends about 160 bytes per task on the
key tuple, its index ints and the dict slot, more than the task itself.
``Layer`` keeps one name's nodes in a list in C order and makes key tuples only
when asked; ``LayeredGraph`` is a mutable mapping of layers plus an ordinary
dict for every other key (strings, keys off any grid). It behaves as a dict of
key -> node everywhere (``graph[key]``, ``in``, iteration, ``update``,
pickling), so every function that takes a graph takes it unchanged.
Collections build their layers directly: adding a dict never searches it for
grids, which would cost more time than the memory it saves.

    dict:           {("x", 0): t0, ("x", 1): t1, ("x", 2): t2, "total": t3}
    LayeredGraph:   layers {"x": Layer(shape=(3,), nodes=[t0, t1, t2])}
                    loose  {"total": t3}

Layers may be shared between graphs (``update`` and ``copy`` share them); a
graph copies a shared layer before changing it, so sharing is never seen.
"""

from __future__ import annotations

import operator
from collections.abc import ItemsView, Iterable, Iterator, Mapping, MutableMapping, ValuesView
from itertools import chain, product
from math import prod
from typing import Any

from shoal.core.task import Key

__all__ = ["Layer", "LayeredGraph"]


class _Absent:
    """A hole in a layer: that block's key is not in the graph."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<absent>"

    def __reduce__(self) -> str:
        return "_ABSENT"  # pickles as a reference to this module's one instance


_ABSENT = _Absent()


class Layer:
    """The nodes of keys ``(name, *index)`` for every index of a grid of ``shape``,
    in C order (``nodes[i]`` belongs to the ``i``-th index of ``itertools.product``).

    >>> layer = Layer("x", (2, 2), ["a", "b", "c", "d"])
    >>> layer.position(("x", 1, 0)), list(layer.keys())[:2]
    (2, [('x', 0, 0), ('x', 0, 1)])
    """

    __slots__ = ("name", "shape", "nodes", "count")

    def __init__(
        self, name: str, shape: tuple[int, ...], nodes: list[Any], count: int | None = None
    ):
        shape = tuple(shape)
        if len(nodes) != prod(shape):
            raise ValueError(
                f"layer {name!r} of shape {shape} needs {prod(shape)} nodes, got {len(nodes)}"
            )
        self.name = name
        self.shape = shape
        self.nodes = nodes
        # ``count`` is given only by graphs that punched holes into a copy
        self.count = len(nodes) if count is None else count

    def __repr__(self) -> str:
        return f"Layer({self.name!r}, shape={self.shape}, tasks={self.count})"

    def __reduce__(self) -> Any:
        return (Layer, (self.name, self.shape, self.nodes, self.count))

    def position(self, key: tuple[Any, ...]) -> int:
        """The list position of ``key``, or -1 if it is not on this grid."""
        shape = self.shape
        if len(key) != len(shape) + 1:
            return -1
        if len(shape) == 1:  # the common case, kept short
            i = key[1]
            if type(i) is not int:
                i = _as_index(i)
            return i if 0 <= i < shape[0] else -1
        flat = 0
        for i, n in zip(key[1:], shape):
            if type(i) is not int:
                i = _as_index(i)
            if not 0 <= i < n:
                return -1
            flat = flat * n + i
        return flat

    def _all_keys(self) -> Iterator[tuple[Any, ...]]:
        return product((self.name,), *map(range, self.shape))  # key tuples made in C

    def keys(self) -> Iterator[tuple[Any, ...]]:
        """The keys present, in C order."""
        if self.count == len(self.nodes):
            return self._all_keys()
        return (k for k, n in zip(self._all_keys(), self.nodes) if n is not _ABSENT)

    def values(self) -> Iterator[Any]:
        """The nodes present, in C order."""
        if self.count == len(self.nodes):
            return iter(self.nodes)
        return (n for n in self.nodes if n is not _ABSENT)

    def items(self) -> Iterator[tuple[Any, ...]]:
        """``(key, node)`` pairs present, in C order."""
        pairs = zip(self._all_keys(), self.nodes)
        if self.count == len(self.nodes):
            return pairs
        return (pair for pair in pairs if pair[1] is not _ABSENT)

    def copy(self) -> Layer:
        """A layer with its own node list."""
        return Layer(self.name, self.shape, list(self.nodes), self.count)


def _as_index(i: Any) -> int:
    """``i`` as an int index (NumPy integers hash like ints), or -1."""
    try:
        return operator.index(i)
    except TypeError:
        return -1


class LayeredGraph(MutableMapping[Any, Any]):
    """A task graph stored as layers plus loose keys, used like a dict.

    >>> from shoal.core.task import Task, Ref
    >>> g = LayeredGraph()
    >>> g.add_layer(Layer("load", (3,), [Task(abs, -i) for i in range(3)]))
    >>> g["total"] = Task(sum, [Ref(("load", i)) for i in range(3)])
    >>> len(g), ("load", 2) in g, g[("load", 2)]({})
    (4, True, 2)
    >>> from shoal.core.local import get_sync
    >>> get_sync(g, "total")
    3
    """

    __slots__ = ("_layers", "_loose", "_shared", "_loose_names")

    def __init__(self, graph: Mapping[Any, Any] | Iterable[Any] = ()):
        self._layers: dict[str, Layer] = {}
        self._loose: dict[Any, Any] = {}
        self._shared: set[Any] = set()  # names of layers other graphs may also hold
        self._loose_names: set[Any] = set()  # names of tuple keys stored loose
        if graph:
            self.update(graph)

    # ---------------------------------------------------------------- layers
    @property
    def layers(self) -> dict[str, Layer]:
        """The layers by name (read-only use)."""
        return self._layers

    @property
    def loose(self) -> dict[Any, Any]:
        """The keys that sit on no layer (read-only use)."""
        return self._loose

    def add_layer(self, layer: Layer) -> None:
        """Add every key of ``layer`` (its nodes win over keys already present).

        The layer is shared, not copied: do not change it afterwards.
        """
        name = layer.name
        mine = self._layers.get(name)
        if mine is layer:
            return
        if mine is None:
            self._layers[name] = layer
            self._shared.add(name)
            if name in self._loose_names:
                self._adopt_loose(layer)
            return
        for key, node in layer.items():
            self[key] = node

    def _adopt_loose(self, layer: Layer) -> None:
        """Drop loose keys that ``layer`` now covers (the layer's nodes win)."""
        name = layer.name
        covered = [
            k
            for k in self._loose
            if type(k) is tuple and k and k[0] == name and layer.position(k) >= 0
        ]
        for k in covered:
            del self._loose[k]

    def _own(self, name: str) -> Layer:
        layer = self._layers[name]
        if name in self._shared:
            layer = self._layers[name] = layer.copy()
            self._shared.discard(name)
        return layer

    def _find(self, key: Any) -> tuple[Layer | None, int]:
        if type(key) is tuple and key:
            try:
                layer = self._layers.get(key[0])
            except TypeError:  # an unhashable name: no layer has it
                return None, -1
            if layer is not None:
                i = layer.position(key)
                if i >= 0:
                    return layer, i
        return None, -1

    def drop(self, keys: Iterable[Any]) -> None:
        """Remove ``keys``, skipping those not present (one pass, for many keys).

        >>> g = LayeredGraph({("x", i): i for i in range(40)})
        >>> g.drop([("x", i) for i in range(0, 40, 2)] + ["absent"])
        >>> len(g), ("x", 1) in g, ("x", 2) in g
        (20, True, False)
        """
        loose = self._loose
        for key in keys:
            layer, i = self._find(key)
            if layer is None:
                loose.pop(key, None)
            elif layer.nodes[i] is not _ABSENT:
                if layer.name in self._shared:
                    layer = self._own(layer.name)
                layer.nodes[i] = _ABSENT
                layer.count -= 1
        for name in [name for name, layer in self._layers.items() if not layer.count]:
            del self._layers[name]

    # ---------------------------------------------------------------- mapping
    def __getitem__(self, key: Key) -> Any:
        if type(key) is tuple and len(key) == 2:  # ("name", i): the common case, inlined
            layer = self._layers.get(key[0])
            if layer is not None and len(layer.shape) == 1:
                i = key[1]
                if type(i) is int and 0 <= i < layer.shape[0]:
                    node = layer.nodes[i]
                    if node is _ABSENT:
                        raise KeyError(key)
                    return node
        layer, i = self._find(key)
        if layer is not None:
            node = layer.nodes[i]
            if node is _ABSENT:
                raise KeyError(key)
            return node
        return self._loose[key]

    def __contains__(self, key: object) -> bool:
        if type(key) is tuple and len(key) == 2:  # ("name", i): the common case, inlined
            layer = self._layers.get(key[0])
            if layer is not None and len(layer.shape) == 1:
                i = key[1]
                if type(i) is int and 0 <= i < layer.shape[0]:
                    return layer.nodes[i] is not _ABSENT
        layer, i = self._find(key)
        if layer is not None:
            return layer.nodes[i] is not _ABSENT
        try:
            return key in self._loose
        except TypeError:
            return False

    def __setitem__(self, key: Key, node: Any) -> None:
        layer, i = self._find(key)
        if layer is None:
            self._loose[key] = node
            if type(key) is tuple and key:
                self._loose_names.add(key[0])
            return
        layer = self._own(layer.name)
        if layer.nodes[i] is _ABSENT:
            layer.count += 1
        layer.nodes[i] = node

    def __delitem__(self, key: Key) -> None:
        layer, i = self._find(key)
        if layer is None:
            del self._loose[key]
            return
        if layer.nodes[i] is _ABSENT:
            raise KeyError(key)
        layer = self._own(layer.name)
        layer.nodes[i] = _ABSENT
        layer.count -= 1
        if not layer.count:
            del self._layers[layer.name]

    def __iter__(self) -> Iterator[Any]:
        return chain(*[layer.keys() for layer in self._layers.values()], self._loose)

    def __len__(self) -> int:
        return sum(layer.count for layer in self._layers.values()) + len(self._loose)

    def __repr__(self) -> str:
        layers = ", ".join(map(repr, self._layers.values()))
        return f"LayeredGraph([{layers}], loose={len(self._loose)})"

    def __reduce__(self) -> Any:
        return (_rebuild, (list(self._layers.values()), self._loose))

    def items(self) -> ItemsView[Any, Any]:
        return _Items(self)

    def values(self) -> ValuesView[Any]:
        return _Values(self)

    def _iter_items(self) -> Iterator[tuple[Any, ...]]:
        return chain(*[layer.items() for layer in self._layers.values()], self._loose.items())

    def _iter_values(self) -> Iterator[Any]:
        return chain(*[layer.values() for layer in self._layers.values()], self._loose.values())

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Add the keys of ``other``: a ``Layer``, the layers of a ``LayeredGraph``
        (shared, not copied), or any mapping, whose keys are added one by one (a
        dict's keys stay loose unless a layer of their name covers them).

        >>> g = LayeredGraph()
        >>> g.update(Layer("z", (40,), list(range(40))))
        >>> g.update({("x", 0, 0): 1, ("z", 3): "new", "y": 3})
        >>> g, g[("z", 3)]
        (LayeredGraph([Layer('z', shape=(40,), tasks=40)], loose=2), 'new')
        """
        if type(other) is LayeredGraph:
            for layer in other._layers.values():
                self.add_layer(layer)
            other = other._loose
        if type(other) is Layer:
            self.add_layer(other)
            return
        if type(other) is dict:
            names = {k[0] for k in other if type(k) is tuple and k}
            if names.isdisjoint(self._layers):  # no key lands on a layer: one C-level update
                self._loose.update(other)
                self._loose_names |= names
            else:
                super().update(other)
        else:
            super().update(other)
        if kwargs:
            super().update(kwargs)

    def copy(self) -> LayeredGraph:
        """A graph with the same keys; later changes to either are not seen by the other."""
        out = LayeredGraph()
        out.update(self)
        self._shared.update(self._layers)
        return out


class _Items(ItemsView[Any, Any]):
    __slots__ = ()

    _mapping: LayeredGraph

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self._mapping._iter_items()


class _Values(ValuesView[Any]):
    __slots__ = ()

    _mapping: LayeredGraph

    def __iter__(self) -> Iterator[Any]:
        return self._mapping._iter_values()


def _rebuild(layers: list[Any], loose: dict[Any, Any]) -> LayeredGraph:
    graph = LayeredGraph()
    for layer in layers:
        graph.add_layer(layer)
    graph.update(loose)
    return graph
