"""The ``Array`` collection: a grid of NumPy blocks behind a lazy expression.

An ``Array`` only wraps an ``ArrayExpr`` (see ``expr.py``); all metadata
(shape, dtype, chunks, meta) comes from the expression, and every operation
returns a new ``Array`` around a new expression. Methods are thin: the work
lives in the operation modules (``elementwise``, ``reductions``, ``slicing``,
``shape``, ...), imported lazily to keep this module the root of the room.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from shoal.core.base import CollectionMethods, get_scheduler
from shoal.core.build import all_block_indices
from shoal.core.delayed import Delayed
from shoal.core.layers import LayeredGraph
from shoal.core.task import Ref, Task
from shoal.core.utils import format_bytes

from .chunks import describe_block, has_unknown
from .expr import ArrayExpr, FromGraph, build_graph

__all__ = ["Array", "Casting", "concatenate_blocks", "join_blocks"]

# numpy's casting rules (``astype``)
Casting = Literal["no", "equiv", "safe", "same_kind", "unsafe"]


def concatenate_blocks(blocks: Any, ndim: int) -> np.ndarray:
    """One array from a nested list of blocks (depth ``ndim``).

    >>> concatenate_blocks([[np.ones((1, 2)), np.zeros((1, 1))]], 2)
    array([[1., 1., 0.]])
    """
    if ndim == 0:
        return blocks
    return _concat(blocks, 0, ndim)


def join_blocks(parts: list, axis: int) -> Any:
    """``np.concatenate``, keeping masks when a part is a masked array
    (``np.concatenate`` would drop them).

    >>> join_blocks([np.ma.masked_array([1, 2], mask=[0, 1]), np.array([3])], 0)
    masked_array(data=[1, --, 3],
                 mask=[False,  True, False],
           fill_value=999999)
    """
    if any(isinstance(p, np.ma.MaskedArray) for p in parts):
        return np.ma.concatenate(parts, axis=axis)
    return np.concatenate(parts, axis=axis)


def _concat(blocks: Any, axis: int, ndim: int) -> Any:
    if axis == ndim - 1:
        parts = blocks
    else:
        parts = [_concat(b, axis + 1, ndim) for b in blocks]
    if len(parts) == 1:
        return parts[0]
    return join_blocks(parts, axis)


def _finalize(results: Any, ndim: int, stored: bool = False) -> Any:
    """The computed array: a 0-d result becomes a NumPy scalar (as NumPy's
    reductions and indexing give), and a one-block result that is a view of
    other memory (a user's ``from_array`` source) or a ``stored`` block (a
    persisted array's) is copied, so mutating a result never changes an input
    or a later result. Blocks made by the computation are returned as they are.

    >>> base = np.arange(3)
    >>> out = _finalize([base[:]], 1)
    >>> out[0] = 9
    >>> int(base[0]), _finalize(np.array(2.5), 0)
    (0, np.float64(2.5))
    """
    if ndim == 0:
        return results[()] if isinstance(results, np.ndarray) else results
    out = concatenate_blocks(results, ndim)
    if out is _only_block(results, ndim) and isinstance(out, np.ndarray):
        if stored or out.base is not None:
            return out.copy()
    return out


def _only_block(results: Any, ndim: int) -> Any:
    for _ in range(ndim):
        if len(results) != 1:
            return None
        results = results[0]
    return results


def _rebuild(graph: dict, name: str, chunks: tuple, meta: np.ndarray) -> Array:
    return Array(FromGraph(name, graph, chunks, meta))


def _nested_keys(name: str, numblocks: tuple, prefix: tuple = ()) -> Any:
    if len(prefix) == len(numblocks):
        return (name, *prefix)
    return [_nested_keys(name, numblocks, (*prefix, i)) for i in range(numblocks[len(prefix)])]


def _reduction_method(name: str) -> Callable[..., Any]:
    """The method ``Array.<name>``: the reduction (or scan) of that name."""

    def method(self: Array, *args: Any, **kwargs: Any) -> Any:
        from . import arg_reductions, numpy_reductions, scans

        module = numpy_reductions
        for other in (scans, arg_reductions):
            if name in other.__all__:
                module = other
        return getattr(module, name)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"``shoal.array.{name}`` of this array."
    return method


class Array(CollectionMethods):
    """A blocked NumPy-like array computed lazily.

    >>> import shoal.array as sa
    >>> x = sa.ones((4, 6), chunks=(2, 3))
    >>> x.numblocks, x.dtype, x.sum().compute()
    ((2, 2), dtype('float64'), np.float64(24.0))
    """

    __slots__ = ("_expr", "__weakref__")
    __array_priority__ = 11

    def __init__(self, expr: ArrayExpr):
        if not isinstance(expr, ArrayExpr):
            raise TypeError(f"Array wraps an ArrayExpr, got {type(expr).__name__}")
        self._expr = expr

    # ------------------------------------------------------------ metadata
    @property
    def expr(self) -> ArrayExpr:
        """The expression this array stands for."""
        return self._expr

    @property
    def name(self) -> str:
        return self._expr._name

    @property
    def chunks(self) -> tuple:
        return self._expr.chunks

    @property
    def shape(self) -> tuple:
        return self._expr.shape

    @property
    def ndim(self) -> int:
        return self._expr.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._expr.dtype

    @property
    def meta(self) -> np.ndarray:
        """A zero-size block recording the block type and dtype."""
        return self._expr.meta

    @property
    def _meta(self) -> np.ndarray:
        return self._expr.meta

    @property
    def size(self) -> int | float:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int | float:
        return self.size * self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def numblocks(self) -> tuple:
        return self._expr.numblocks

    @property
    def npartitions(self) -> int:
        return math.prod(self.numblocks)

    @property
    def chunksize(self) -> tuple:
        return tuple(max(c) if c else 0 for c in self.chunks)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        n = self.shape[0]
        if isinstance(n, float):
            raise ValueError("the length is unknown (nan chunks); call compute_chunk_sizes() first")
        return n

    # ---------------------------------------------------------- collection
    def __shoal_graph__(self) -> LayeredGraph:
        return build_graph(self._expr)

    @classmethod
    def __shoal_graph_together__(cls, arrays: list) -> LayeredGraph:
        """One graph for arrays computed together: reductions of the same
        input share its blocks (``sharing.py``)."""
        return build_graph(*[a._expr for a in arrays])

    def __shoal_keys__(self) -> Any:
        return _nested_keys(self.name, self.numblocks)

    def __shoal_postcompute__(self) -> tuple:
        return _finalize, (self.ndim, isinstance(self._expr, FromGraph))

    def __shoal_postpersist__(self) -> tuple:
        return _rebuild, (self.name, self.chunks, self.meta)

    def __shoal_tokenize__(self) -> str:
        return self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def explain(self) -> str:
        """The plan as text, one node per line, inputs indented under their
        consumer; an input made inside its consumer's tasks says ``(fused)``.

        >>> import shoal.array as sa
        >>> print((sa.ones(4, chunks=2) + 1).explain())
        Elementwise: add: a,_->a
          RegionSource: ones, chunks=((2, 2),)  (fused)
        """
        return self._expr.explain_text()

    def to_delayed(self) -> Any:
        """A nested list (one level per axis) of ``Delayed`` blocks.

        >>> import shoal.array as sa
        >>> [d.compute() for d in sa.arange(4, chunks=2).to_delayed()]
        [array([0, 1]), array([2, 3])]
        """
        graph = self.__shoal_graph__()

        def make(index: tuple) -> Any:
            if len(index) == self.ndim:
                return Delayed((self.name, *index), graph)
            return [make((*index, i)) for i in range(self.numblocks[len(index)])]

        return make(())

    @property
    def blocks(self) -> _BlockView:
        """Select blocks as a smaller array: ``x.blocks[0, ::2]``.

        >>> import shoal.array as sa
        >>> sa.arange(6, chunks=2).blocks[1:].compute()
        array([2, 3, 4, 5])
        """
        return _BlockView(self)

    def compute_chunk_sizes(self) -> Array:
        """Compute the lengths of blocks that are unknown (``nan``) and return
        the array with known chunks.

        >>> import shoal.array as sa
        >>> x = sa.arange(6, chunks=3)
        >>> y = x[x > 1]
        >>> y.chunks
        ((nan, nan),)
        >>> y.compute_chunk_sizes().chunks
        ((1, 3),)
        """
        from .routines import with_chunks

        if not has_unknown(self.chunks):
            return self
        shapes = _chunk_shapes(self)
        chunks = []
        for axis in range(self.ndim):
            sizes = []
            for i in range(self.numblocks[axis]):
                index = tuple(i if a == axis else 0 for a in range(self.ndim))
                sizes.append(int(shapes[index][axis]))
            chunks.append(tuple(sizes))
        return with_chunks(self, tuple(chunks))

    # -------------------------------------------------------------- reprs
    def _summary(self) -> dict:
        # counting tasks builds the graph: once per expression, and not for huge arrays
        cache = self._expr.__dict__
        if "_task_count" not in cache:
            big = self.npartitions > 20_000
            cache["_task_count"] = "many" if big else len(self.__shoal_graph__())
        tasks = cache["_task_count"]
        return {
            "shape": self.shape,
            "dtype": self.dtype,
            "chunk": describe_block(self.chunks, self.dtype),
            "bytes": format_bytes(self.nbytes) if not math.isnan(self.nbytes) else "unknown",
            "tasks": tasks,
            "blocks": self.npartitions,
        }

    def __repr__(self) -> str:
        s = self._summary()
        chunk_shape, _, chunk_bytes = s["chunk"].partition(") ")
        return (
            f"shoal.array<{self._expr._prefix}, shape={s['shape']}, dtype={s['dtype']}, "
            f"chunksize={chunk_shape})" + f", chunk_bytes={chunk_bytes}, bytes={s['bytes']}, "
            f"blocks={s['blocks']}, tasks={s['tasks']}>"
        )

    def _repr_html_(self) -> str:
        s = self._summary()
        rows = [
            ("Shape", s["shape"]),
            ("Dtype", s["dtype"]),
            ("Chunk", s["chunk"]),
            ("Bytes", s["bytes"]),
            ("Blocks", s["blocks"]),
            ("Tasks", s["tasks"]),
        ]
        body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        return f"<table><caption>shoal.array {self._expr._prefix}</caption>{body}</table>"

    # ------------------------------------------------------------ convert
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.asarray(self.compute())
        return out.astype(dtype) if dtype is not None else out

    def _scalar(self, kind: type) -> Any:
        if self.size != 1:
            raise TypeError(f"only size-1 arrays convert to {kind.__name__}; shape is {self.shape}")
        return kind(self.compute())

    def __bool__(self) -> bool:
        return self._scalar(bool)

    def __int__(self) -> int:
        return self._scalar(int)

    def __float__(self) -> float:
        return self._scalar(float)

    def __complex__(self) -> complex:
        return self._scalar(complex)

    def __index__(self) -> int:
        if self.dtype.kind not in "iub":
            raise TypeError(f"only integer arrays can be an index, dtype is {self.dtype}")
        return self._scalar(int)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # ---------------------------------------------------- numpy protocols
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        from .numpy_dispatch import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: tuple, args: tuple, kwargs: dict) -> Any:
        from .numpy_dispatch import array_function

        return array_function(func, types, args, kwargs)

    def __array_namespace__(self, /, *, api_version: str | None = None) -> Any:
        from . import array_api

        if api_version not in (None, "2025.12", "2024.12", "2023.12", "2022.12", "2021.12"):
            raise ValueError(f"unsupported Array API version {api_version!r}")
        return array_api

    def __dlpack__(
        self,
        /,
        *,
        stream: Any = None,
        max_version: tuple | None = None,
        dl_device: tuple | None = None,
        copy: bool | None = None,
    ) -> Any:
        """A DLPack capsule of this one-block array (see ``dlpack.py``)."""
        from .dlpack import dlpack_capsule

        return dlpack_capsule(
            self, stream=stream, max_version=max_version, dl_device=dl_device, copy=copy
        )

    def __dlpack_device__(self, /) -> tuple:
        """DLPack's (device type, id): the cpu."""
        from .dlpack import dlpack_device

        return dlpack_device(self)

    @property
    def mT(self) -> Array:  # noqa: N802 - Array API spelling
        """The last two axes swapped (Array API)."""
        from .shape import swapaxes

        return swapaxes(self, -1, -2)

    @property
    def device(self) -> str:
        """Always "cpu" (Array API)."""
        return "cpu"

    def to_device(self, device: Any, /, stream: Any = None) -> Array:
        """Only "cpu" exists (Array API)."""
        if device != "cpu":
            raise ValueError(f"shoal arrays live on the cpu, not {device!r}")
        return self

    # -------------------------------------------------------- elementwise
    def _binop(op: Any, reflected: bool = False) -> Any:  # noqa: N805 - class-body factory
        def method(self: Array, other: Any) -> Any:
            from .elementwise import elemwise, is_operand

            if not is_operand(other):
                return NotImplemented
            return elemwise(op, other, self) if reflected else elemwise(op, self, other)

        method.__name__ = f"__{'r' if reflected else ''}{op.__name__}__"
        return method

    __add__ = _binop(operator.add)
    __radd__ = _binop(operator.add, True)
    __sub__ = _binop(operator.sub)
    __rsub__ = _binop(operator.sub, True)
    __mul__ = _binop(operator.mul)
    __rmul__ = _binop(operator.mul, True)
    __truediv__ = _binop(operator.truediv)
    __rtruediv__ = _binop(operator.truediv, True)
    __floordiv__ = _binop(operator.floordiv)
    __rfloordiv__ = _binop(operator.floordiv, True)
    __mod__ = _binop(operator.mod)
    __rmod__ = _binop(operator.mod, True)
    __pow__ = _binop(operator.pow)
    __rpow__ = _binop(operator.pow, True)
    __and__ = _binop(operator.and_)
    __rand__ = _binop(operator.and_, True)
    __or__ = _binop(operator.or_)
    __ror__ = _binop(operator.or_, True)
    __xor__ = _binop(operator.xor)
    __rxor__ = _binop(operator.xor, True)
    __lshift__ = _binop(operator.lshift)
    __rlshift__ = _binop(operator.lshift, True)
    __rshift__ = _binop(operator.rshift)
    __rrshift__ = _binop(operator.rshift, True)
    __lt__ = _binop(operator.lt)
    __le__ = _binop(operator.le)
    __gt__ = _binop(operator.gt)
    __ge__ = _binop(operator.ge)
    __eq__ = _binop(operator.eq)  # type: ignore[assignment]
    __ne__ = _binop(operator.ne)  # type: ignore[assignment]
    del _binop

    def __divmod__(self, other: Any) -> tuple:
        return self // other, self % other

    def __neg__(self) -> Array:
        from .elementwise import elemwise

        return elemwise(operator.neg, self)

    def __pos__(self) -> Array:
        return self

    def __abs__(self) -> Array:
        from .elementwise import elemwise

        return elemwise(operator.abs, self)

    def __invert__(self) -> Array:
        from .elementwise import elemwise

        return elemwise(operator.invert, self)

    def __matmul__(self, other: Any) -> Array:
        from .products import matmul

        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Array:
        from .products import matmul

        return matmul(other, self)

    def astype(self, dtype: Any, casting: Casting = "unsafe", copy: bool = True) -> Array:
        """Cast to ``dtype`` block by block.

        >>> import shoal.array as sa
        >>> sa.arange(3, chunks=2).astype("f4").dtype
        dtype('float32')
        """
        from .elementwise import astype

        return astype(self, dtype, casting=casting)

    @property
    def real(self) -> Array:
        from .elementwise import elemwise

        return elemwise(np.real, self)

    @property
    def imag(self) -> Array:
        from .elementwise import elemwise

        return elemwise(np.imag, self)

    def conj(self) -> Array:
        from .numpy_dispatch import array_ufunc

        return array_ufunc(np.conj, "__call__", (self,), {})

    def clip(self, min: Any = None, max: Any = None) -> Array:
        from .elementwise import clip

        return clip(self, min, max)

    def round(self, decimals: int = 0) -> Array:
        from .elementwise import round as round_

        return round_(self, decimals)

    def map_blocks(self, func: Any, *args: Any, **kwargs: Any) -> Array:
        """``shoal.array.map_blocks(func, self, *args, **kwargs)``."""
        from .blockwise import map_blocks

        return map_blocks(func, self, *args, **kwargs)

    # ---------------------------------------------------------- reductions

    sum = _reduction_method("sum")
    prod = _reduction_method("prod")
    mean = _reduction_method("mean")
    var = _reduction_method("var")
    std = _reduction_method("std")
    min = _reduction_method("min")
    max = _reduction_method("max")
    argmin = _reduction_method("argmin")
    argmax = _reduction_method("argmax")
    any = _reduction_method("any")
    all = _reduction_method("all")
    cumsum = _reduction_method("cumsum")
    cumprod = _reduction_method("cumprod")

    # ------------------------------------------------------ shape, slicing
    def __getitem__(self, index: Any) -> Array:
        from .slicing import getitem

        return getitem(self, index)

    @property
    def vindex(self) -> Any:
        """Point-wise indexing with integer arrays (see ``shoal.array.points.vindex``)."""
        from .points import VIndexer

        return VIndexer(self)

    def __setitem__(self, index: Any, value: Any) -> None:
        from .assignment import setitem

        self._expr = setitem(self, index, value)._expr

    def store(self, target: Any, **kwargs: Any) -> Any:
        """Write into ``target`` (see ``shoal.array.store``).

        >>> import numpy as np, shoal.array as sa
        >>> target = np.zeros(4)
        >>> sa.arange(4, chunks=3).store(target)
        >>> target
        array([0., 1., 2., 3.])
        """
        from .storage import store

        return store(self, target, **kwargs)

    def topk(self, k: int, axis: int = -1, split_every: Any = None) -> Array:
        """``shoal.array.topk`` of this array."""
        from .order_stats import topk

        return topk(self, k, axis=axis, split_every=split_every)

    def argtopk(self, k: int, axis: int = -1, split_every: Any = None) -> Array:
        """``shoal.array.argtopk`` of this array."""
        from .order_stats import argtopk

        return argtopk(self, k, axis=axis, split_every=split_every)

    def to_zarr(self, url: Any, **kwargs: Any) -> Any:
        """Write to a Zarr array (see ``shoal.array.to_zarr``)."""
        from .zarr_io import to_zarr

        return to_zarr(self, url, **kwargs)

    def rechunk(self, chunks: Any = "auto", **kwargs: Any) -> Array:
        """A copy of this array cut into ``chunks`` (see ``shoal.array.rechunk``)."""
        from .rechunk import rechunk

        return rechunk(self, chunks, **kwargs)

    def reshape(self, *shape: Any) -> Array:
        from .shape import reshape

        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return reshape(self, shape)

    def transpose(self, *axes: Any) -> Array:
        from .shape import transpose

        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return transpose(self, axes or None)

    @property
    def T(self) -> Array:  # noqa: N802 - numpy spelling
        return self.transpose()

    def ravel(self) -> Array:
        from .shape import ravel

        return ravel(self)

    def flatten(self) -> Array:
        return self.ravel()

    def squeeze(self, axis: Any = None) -> Array:
        from .shape import squeeze

        return squeeze(self, axis)

    def swapaxes(self, a: int, b: int) -> Array:
        from .shape import swapaxes

        return swapaxes(self, a, b)

    def dot(self, other: Any) -> Array:
        from .products import dot

        return dot(self, other)

    def nonzero_count(self) -> Array:
        from .reductions import count_nonzero

        return count_nonzero(self)


class _BlockView:
    __slots__ = ("_array",)

    def __init__(self, array: Array):
        self._array = array

    def __getitem__(self, index: Any) -> Array:
        from .routines import select_blocks

        return select_blocks(self._array, index)

    @property
    def shape(self) -> tuple:
        return self._array.numblocks

    @property
    def size(self) -> int:
        return self._array.npartitions

    def ravel(self) -> list:
        arr = self._array
        return [arr.blocks[i] for i in all_block_indices(arr.numblocks)]


def _chunk_shapes(arr: Array) -> dict:
    """The computed shape of every block of ``arr``, by block index."""
    graph = arr.__shoal_graph__()
    indices = all_block_indices(arr.numblocks)
    prefix = "chunk-shape-" + arr.name
    for index in indices:
        graph[(prefix, *index)] = Task(np.shape, Ref((arr.name, *index)))
    get = get_scheduler(None, (arr,))
    shapes = get(graph, [(prefix, *index) for index in indices])
    return dict(zip(indices, shapes))
