"""The ``p2p`` shuffle: rows sent straight from worker to worker on a cluster.

::

    input i  --transfer-->  the backend's "exchange" service: piece j of input i
                            goes to the worker owning output j (on its disk)
    barrier:                every piece has arrived
    output j <--unpack---   piece j of every input, in input order

The graph has ``n + 1 + m`` tasks (not ``n * m``); the rows move outside it,
through the ``"exchange"`` service of ``shoal.core.services``, which only a
distributed worker offers (this module never imports the backend; a graph
built for a cluster and computed by another backend passes the pieces
through the barrier task instead, in memory). Each
row's output is the same as with the tasks method, and rows keep their
input order within an output. Output tasks keep their own keys (the backend
runs each where its pieces are), so work after the shuffle is not fused into
them (neither by the plan's builder nor by the graph's fusion of chains).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from shoal.core.build import BlockExpr, GraphBuilder
from shoal.core.services import ExchangeSpec, exchange_barrier, exchange_output, exchange_transfer
from shoal.core.task import Ref, Task
from shoal.dataframe.arrow_rows import concat_rows, split_rows
from shoal.dataframe.shuffle import ShuffledRows, _describe

__all__ = ["P2PShuffle", "p2p_transfer", "p2p_unpack"]


def p2p_transfer(part: Any, i: int, spec: ExchangeSpec, assign: Callable, kwargs: dict) -> Any:
    """Send input partition ``i``'s rows to their outputs (``exchange_transfer``)."""
    targets = np.asarray(assign(part, i, **kwargs), dtype=np.intp)
    pieces = split_rows(part, targets, spec.npartitions_out)
    return exchange_transfer(spec, i, {j: rows for j, rows in enumerate(pieces) if len(rows)})


def p2p_unpack(barrier: Any, spec: ExchangeSpec, j: int, meta: Any) -> Any:
    """Output partition ``j``: its rows from every input, in input order."""
    return concat_rows(exchange_output(spec, barrier, j), meta)


class P2PShuffle(ShuffledRows):
    """The p2p method of ``Shuffle`` (module docstring).

    >>> import pandas as pd
    >>> from shoal.dataframe.expr import FromPandas
    >>> from shoal.dataframe.shuffle import hash_targets
    >>> e = P2PShuffle(FromPandas.of(pd.DataFrame({"a": range(8)}), 4), hash_targets,
    ...                {"on": ("a",), "k": 3}, 3, ("a",))
    >>> from collections import Counter  # 4 transfers, a barrier, 3 outputs
    >>> sorted(Counter(k[0].rsplit("-", 1)[0] for k in e.__shoal_graph__()).items())
    [('from-pandas', 4), ('p2p-shuffle', 3), ('p2p-shuffle-barrier', 1), ('p2p-shuffle-transfer', 4)]
    >>> from shoal.core.local import get_sync  # no exchange service: pieces in memory
    >>> sorted(pd.concat(get_sync(e.__shoal_graph__(), [(e._name, j) for j in range(3)])).a)
    [0, 1, 2, 3, 4, 5, 6, 7]
    """

    fusable: ClassVar[bool] = False  # outputs keep their keys: they run on their owners

    @property
    def _prefix(self) -> str:
        return "p2p-shuffle"

    def _explain_args(self) -> str:
        return _describe(self.assign, self.kwargs, self.npartitions_out) + ", p2p"

    def _one_to_one(self, child: BlockExpr) -> bool:
        return True  # each input partition is sent by one task

    @functools.cached_property
    def _spec(self) -> ExchangeSpec:
        return ExchangeSpec(
            self._name,
            (self.frame.npartitions,),
            (self.npartitions_out,),
            self.stage_name("transfer"),
            (self.stage_name("barrier"), 0),
            self._name,
        )

    def _extra_layer(self, b: GraphBuilder) -> dict:
        spec = self._spec
        layer: dict = {}
        for i in range(self.frame.npartitions):
            layer[spec.transfer_key(i)] = Task(
                p2p_transfer, b.input(self, self.frame, (i,)), i, spec, self.assign, self.kwargs
            )
        layer[spec.barrier_key] = Task(
            exchange_barrier,
            spec,
            *[Ref(spec.transfer_key(i)) for i in range(self.frame.npartitions)],
        )
        return layer

    def _block(self, index: tuple, b: GraphBuilder) -> Task:
        spec = self._spec
        # the annotation keeps the output's key through the graph's fusion of
        # linear chains (fused tasks share annotations): its owner runs it
        task = Task(p2p_unpack, Ref(spec.barrier_key), spec, index[0], self._meta)
        return task.annotate(exchange=spec.id)
