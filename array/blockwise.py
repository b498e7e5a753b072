"""``blockwise``: the one primitive for per-block work, and ``map_blocks``.

``blockwise(func, "ij", x, "ij", y, "jk")`` calls ``func`` once per output
block with the matching blocks of its inputs, in index notation as in
``einsum``. A letter in the inputs but not in the output is *contracted*: the
function receives all blocks along it (a list, or one array with
``concatenate=True``). Inputs whose chunks differ along a shared letter are
rechunked to the common refinement first; an axis of length 1 broadcasts.

Every elementwise operation, ``map_blocks`` and the first stage of every
reduction is a ``Blockwise`` node, which is what the graph builder fuses
(see ``expr.py``).
"""

from __future__ import annotations

import functools
import inspect
import math
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shoal.core.build import BlockExpr
from shoal.core.task import Task
from shoal.core.utils import funcname

from .chunks import chunk_offsets, common_chunks, has_unknown
from .convert import asarray, is_masked, masked_meta, meta_from
from .core import Array, join_blocks
from .expr import ArrayExpr, GraphBuilder
from .rechunk import rechunk

__all__ = [
    "Blockwise",
    "Elementwise",
    "blockwise",
    "build_blockwise",
    "map_blocks",
    "infer_meta",
    "unify_chunks",
]

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def infer_meta(
    func: Callable, metas: Sequence, kwargs: dict | None, ndim: int, what: str
) -> np.ndarray:
    """``func`` applied to zero-size blocks, reshaped to ``ndim`` axes; a clear
    error asking for ``dtype=`` if that fails.

    >>> infer_meta(np.add, [meta_from("i4", 1), 1.5], None, 1, "add").dtype
    dtype('float64')
    """
    try:
        with np.errstate(all="ignore"):
            out = func(*metas, **(kwargs or {}))
    except Exception as e:
        # Some functions refuse empty input; try one element per axis instead.
        ones = [np.ones((1,) * m.ndim, m.dtype) if isinstance(m, np.ndarray) else m for m in metas]
        try:
            with np.errstate(all="ignore"):
                out = func(*ones, **(kwargs or {}))
        except Exception:
            raise ValueError(
                f"cannot infer the output dtype of {what} by calling it on small blocks "
                f"({type(e).__name__}: {e}); pass dtype= (or meta=) explicitly"
            ) from None
    if not hasattr(out, "dtype"):
        out = np.asarray(out)
    if type(out) is np.ndarray and out.ndim == ndim and out.size == 0:
        return out
    return masked_meta(out.dtype, ndim) if is_masked(out) else meta_from(out.dtype, ndim)


class Blockwise(ArrayExpr):
    """Per-block application of a function in index notation (see module).

    >>> import shoal.array as sa
    >>> print(sa.blockwise(np.add, "a", sa.ones(4, chunks=2), "a", 1, None).expr.explain_text())
    Blockwise: add: a,_->a
      RegionSource: ones, chunks=((2, 2),)  (fused)
    """

    func: Callable
    out_ind: str
    chunks: tuple
    meta: np.ndarray
    args: tuple  # arrays (expressions) and literals
    inds: tuple  # per argument: its index letters, None for literals
    kwargs: dict | None = None
    concatenate: bool = False
    block_info: bool = False
    prefix: str | None = None
    regenerable: bool = False

    @property
    def _prefix(self) -> str:
        return self.prefix or funcname(self.func)

    @functools.cached_property
    def _plan(self) -> list:
        """Per argument: None for literals, else (letters, contracted letters)."""
        out: list[tuple[str, list[str]] | None] = []
        for ind in self.inds:
            if ind is None:
                out.append(None)
            else:
                out.append((ind, [c for c in dict.fromkeys(ind) if c not in self.out_ind]))
        return out

    @functools.cached_property
    def fusable(self) -> bool:  # type: ignore[override]
        return not any(p and p[1] for p in self._plan)

    @functools.cached_property
    def cost(self) -> str:  # type: ignore[override]
        if not self.regenerable or self.block_info or not self.fusable:
            return "stored"
        return self._regenerable_cost()

    def _one_to_one(self, child: BlockExpr) -> bool:
        cache = self.__dict__.setdefault("_one_to_one_cache", {})
        if child._name not in cache:
            cache[child._name] = self._uses_blocks_once(child)
        return cache[child._name]

    def _uses_blocks_once(self, child: BlockExpr) -> bool:
        found = [
            i
            for i, a in enumerate(self.args)
            if isinstance(a, ArrayExpr) and a._name == child._name
        ]
        if len(found) != 1:
            return False
        ind, contracted = self._plan[found[0]]
        if contracted:
            return False
        out_nb = dict(zip(self.out_ind, self.numblocks))
        return all(n == out_nb[c] for c, n in zip(ind, child.numblocks))

    @functools.cached_property
    def _block_positions(self) -> list:
        """Per argument: None for literals, True when its block index is the
        output's, a tuple of output positions (-1: block 0) for other
        uncontracted arguments, False for contracted ones."""
        out: list[bool | tuple[int, ...] | None] = []
        for arg, plan in zip(self.args, self._plan):
            if plan is None:
                out.append(None)
            elif plan[1]:
                out.append(False)
            else:
                pos = tuple(
                    self.out_ind.index(c) if n > 1 else -1 for c, n in zip(plan[0], arg.numblocks)
                )
                out.append(True if pos == tuple(range(len(self.out_ind))) else pos)
        return out

    def _block(self, index: tuple, b: GraphBuilder) -> Any:
        if not self.block_info and False not in self._block_positions:
            args = [  # the common case: no contraction
                arg
                if pos is None
                else b.input(self, arg, index if pos is True else _pick(index, pos))
                for arg, pos in zip(self.args, self._block_positions)
            ]
            if self.kwargs:
                return Task(self.func, *args, **self.kwargs)
            return Task(self.func, *args)
        where = dict(zip(self.out_ind, index))
        args = []
        for arg, plan in zip(self.args, self._plan):
            if plan is None:
                args.append(arg)
                continue
            ind, contracted = plan
            if not contracted:
                cidx = tuple(where[c] if n > 1 else 0 for c, n in zip(ind, arg.numblocks))
                args.append(b.input(self, arg, cidx))
                continue
            nested = self._contracted_blocks(arg, ind, contracted, where, b)
            if self.concatenate:
                axes = [ind.index(c) for c in contracted]
                args.append(Task(_concat_nested, nested, axes))
            else:
                args.append(nested)
        kwargs = dict(self.kwargs or {})
        if self.block_info:
            kwargs["block_info"] = self._block_info(index, where)
        return Task(self.func, *args, **kwargs)

    def _contracted_blocks(
        self, arg: ArrayExpr, ind: str, contracted: list, where: dict, b: GraphBuilder
    ) -> Any:
        def make(fixed: dict, k: int) -> Any:
            if k == len(contracted):
                cidx = tuple(
                    fixed[c] if c in fixed else (where[c] if n > 1 else 0)
                    for c, n in zip(ind, arg.numblocks)
                )
                return b.input(self, arg, cidx)
            letter = contracted[k]
            n = arg.numblocks[ind.index(letter)]
            return [make({**fixed, letter: i}, k + 1) for i in range(n)]

        return make({}, 0)

    def _block_info(self, index: tuple, where: dict) -> dict:
        def location(chunks: tuple, idx: tuple) -> list:
            return [(chunk_offsets(c)[i], chunk_offsets(c)[i + 1]) for c, i in zip(chunks, idx)]

        info: dict = {
            None: {
                "shape": self.shape,
                "num-chunks": self.numblocks,
                "chunk-location": index,
                "array-location": location(self.chunks, index),
                "chunk-shape": tuple(c[i] for c, i in zip(self.chunks, index)),
                "dtype": self.dtype,
            }
        }
        for i, (arg, plan) in enumerate(zip(self.args, self.inds)):
            if plan is None:
                continue
            cidx = tuple(where.get(c, 0) if n > 1 else 0 for c, n in zip(plan, arg.numblocks))
            info[i] = {
                "shape": arg.shape,
                "num-chunks": arg.numblocks,
                "chunk-location": cidx,
                "array-location": location(arg.chunks, cidx),
            }
        return info

    def _explain_args(self) -> str:
        ins = ",".join(i if i is not None else "_" for i in self.inds)
        return f"{self._prefix}: {ins}->{self.out_ind}"


class Elementwise(Blockwise):
    """A ``Blockwise`` node whose function works element by element, with
    inputs aligned from the right (``elemwise``), so it can make its blocks
    piece by piece of rows (see ``streaming.py``).

    >>> import shoal.array as sa
    >>> type((sa.ones(4, chunks=2) + 1).expr).__name__
    'Elementwise'
    """

    def _rows(self, index: tuple, b: GraphBuilder) -> tuple | None:
        if not self.out_ind or not self.fusable or self.block_info:
            return None
        where = dict(zip(self.out_ind, index))
        rows = self.chunks[0][index[0]]
        inputs = []
        for arg, plan in zip(self.args, self._plan):
            if plan is None:
                inputs.append(("whole", arg))
                continue
            ind = plan[0]
            cidx = tuple(where[c] if n > 1 else 0 for c, n in zip(ind, arg.numblocks))
            if len(ind) == len(self.out_ind) and arg.chunks[0][cidx[0]] == rows:
                inputs.append(b.input_rows(self, arg, cidx))
            else:
                inputs.append(("whole", b.input(self, arg, cidx)))
        return ("map", self.func, dict(self.kwargs or {}), tuple(inputs))


def _pick(index: tuple, positions: tuple) -> tuple:
    """The entries of ``index`` at ``positions`` (-1 gives 0: a broadcast axis)."""
    return tuple(index[p] if p >= 0 else 0 for p in positions)


def _concat_nested(nested: Any, axes: list) -> Any:
    if not axes:
        return nested
    inner = [_concat_nested(n, axes[1:]) for n in nested]
    return inner[0] if len(inner) == 1 else join_blocks(inner, axes[0])


def unify_chunks(pairs: list, where: str = "") -> tuple[list, dict]:
    """Rechunk arrays so that every shared letter has the same chunks.

    ``pairs`` is a list of ``(Array, letters)``; returns the new arrays and a
    dict letter -> chunks. Axes of length 1 broadcast and keep their chunks.

    >>> import shoal.array as sa
    >>> arrays, chunks = unify_chunks([(sa.ones(4, chunks=2), "i"), (sa.ones(4, chunks=3), "i")])
    >>> chunks
    {'i': (2, 1, 1)}
    """
    by_letter: dict = {}
    for arr, ind in pairs:
        if len(ind) != arr.ndim:
            raise ValueError(
                f"index {ind!r} has {len(ind)} letters but the array of shape {arr.shape} has "
                f"{arr.ndim} axes"
            )
        for c, size, ch in zip(ind, arr.shape, arr.chunks):
            by_letter.setdefault(c, []).append((size, ch))
    letters: dict = {}
    for c, entries in by_letter.items():
        sizes = {s for s, _ in entries if not (isinstance(s, float) and math.isnan(s))}
        big = sizes - {1}
        if len(big) > 1:
            raise ValueError(f"axis lengths {sorted(sizes)} for index {c!r} do not match{where}")
        full = [ch for s, ch in entries if s != 1 or not big]
        letters[c] = common_chunks(*full, where=where) if full else entries[0][1]
    out = []
    for arr, ind in pairs:
        target = tuple(
            ch if size == 1 and letters[c] != ch and sum(letters[c]) != 1 else letters[c]
            for c, size, ch in zip(ind, arr.shape, arr.chunks)
        )
        if target != arr.chunks:
            if has_unknown(arr.chunks):
                raise ValueError(
                    f"cannot align an array with unknown chunk sizes {arr.chunks}{where}; "
                    "call .compute_chunk_sizes() first"
                )
            arr = rechunk(arr, target)
        out.append(arr)
    return out, letters


def blockwise(
    func: Callable,
    out_ind: str,
    *args: Any,
    dtype: Any = None,
    meta: Any = None,
    concatenate: bool = False,
    new_axes: dict | None = None,
    adjust_chunks: dict | None = None,
    name: str | None = None,
    regenerable: bool = False,
    **kwargs: Any,
) -> Array:
    """Apply ``func`` block by block in index notation.

    ``args`` alternate arrays (or literals) and their index strings (``None``
    for literals). ``new_axes`` maps new output letters to sizes;
    ``adjust_chunks`` maps letters to new block lengths (int, tuple or a
    function of the old length). ``regenerable=True`` declares ``func`` cheap
    enough to run again in every consumer when all inputs are regenerable too
    (see ``expr.py``); elementwise NumPy operations set it.

    >>> import shoal.array as sa
    >>> x = sa.arange(6, chunks=2).reshape((2, 3))
    >>> blockwise(np.add, "ij", x, "ij", 10, None).compute()
    array([[10, 11, 12],
           [13, 14, 15]])
    """
    return build_blockwise(
        Blockwise,
        func,
        out_ind,
        args,
        dtype,
        meta,
        concatenate,
        new_axes,
        adjust_chunks,
        name,
        regenerable,
        kwargs,
    )


def build_blockwise(
    node_type: type,
    func: Callable,
    out_ind: str,
    args: tuple,
    dtype: Any,
    meta: Any,
    concatenate: bool,
    new_axes: dict | None,
    adjust_chunks: dict | None,
    name: str | None,
    regenerable: bool,
    kwargs: dict,
) -> Array:
    """``blockwise`` making a node of ``node_type`` (``Blockwise`` or a
    subclass, such as ``Elementwise``), with its keywords as arguments.

    >>> import shoal.array as sa
    >>> x = sa.ones(3, chunks=2)
    >>> args = (np.add, "a", (x, "a", 1, None), None, None, False, None, None, None, True, {})
    >>> type(build_blockwise(Elementwise, *args).expr).__name__
    'Elementwise'
    """
    if len(args) % 2:
        raise TypeError("blockwise arguments come in pairs: array, index string (or None)")
    out_ind = "".join(out_ind) if not isinstance(out_ind, str) else out_ind
    objs, inds = list(args[0::2]), [None if i is None else "".join(i) for i in args[1::2]]
    arrays = [(k, asarray(o)) for k, (o, i) in enumerate(zip(objs, inds)) if i is not None]
    where = f" in {name or funcname(func)}"
    unified, letters = unify_chunks([(a, inds[k]) for k, a in arrays], where=where)
    for (k, _), a in zip(arrays, unified):
        objs[k] = a
    new_axes = dict(new_axes or {})
    out_chunks = []
    for c in out_ind:
        if c in new_axes:
            size = new_axes[c]
            out_chunks.append(tuple(size) if isinstance(size, tuple) else (int(size),))
        elif c in letters:
            out_chunks.append(letters[c])
        else:
            raise ValueError(f"output index {c!r} is in no input and not in new_axes{where}")
    for c, adjust in (adjust_chunks or {}).items():
        if c not in out_ind:
            raise ValueError(f"adjust_chunks names {c!r}, which is not an output index")
        pos = out_ind.index(c)
        old = out_chunks[pos]
        if callable(adjust):
            out_chunks[pos] = tuple(adjust(n) for n in old)
        elif isinstance(adjust, int):
            out_chunks[pos] = (adjust,) * len(old)
        else:
            if len(adjust) != len(old):
                raise ValueError(
                    f"adjust_chunks for {c!r} gives {len(adjust)} lengths for {len(old)} blocks"
                )
            out_chunks[pos] = tuple(adjust)
    if meta is None:
        if dtype is not None:
            meta = meta_from(dtype, len(out_ind))
        else:
            metas = [o.meta if isinstance(o, Array) else o for o in objs]
            meta = infer_meta(func, metas, kwargs, len(out_ind), funcname(func))
        if any(isinstance(o, Array) and is_masked(o.meta) for o in objs):
            # NumPy's functions keep masks: blocks made from masked blocks are masked
            meta = masked_meta(meta.dtype, len(out_ind))
    elif meta.ndim != len(out_ind):
        meta = meta_from(meta.dtype, len(out_ind))
    exprs = tuple(o.expr if isinstance(o, Array) else o for o in objs)
    wants_info = _has_keyword(func, "block_info")
    expr = node_type(
        func,
        out_ind,
        tuple(out_chunks),
        meta,
        exprs,
        tuple(inds),
        kwargs or None,
        bool(concatenate),
        wants_info,
        name,
        bool(regenerable),
    )
    return Array(expr)


def _has_keyword(func: Callable, name: str) -> bool:
    """Whether ``func`` takes keyword ``name``. Asked for every operation: the
    answer for builtins (slow to read, and never freed) is remembered."""
    if isinstance(func, np.ufunc):
        return False
    if isinstance(func, types.BuiltinFunctionType):
        return _builtin_takes(func, name)
    return name in _signature_parameters(func)


@functools.lru_cache(maxsize=256)
def _builtin_takes(func: Callable, name: str) -> bool:
    return name in _signature_parameters(func)


def _signature_parameters(func: Callable) -> Any:
    try:
        return inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}


def map_blocks(
    func: Callable,
    *args: Any,
    dtype: Any = None,
    chunks: Any = None,
    drop_axis: int | Sequence[int] | None = None,
    new_axis: int | Sequence[int] | None = None,
    meta: Any = None,
    name: str | None = None,
    **kwargs: Any,
) -> Array:
    """Call ``func`` on every block of the array arguments.

    Arrays are aligned from the right (NumPy broadcasting). ``drop_axis``
    removes axes (the blocks along them are concatenated first);
    ``new_axis`` inserts axes; ``chunks`` gives the output block shape (one
    length per axis, used by every block) or explicit chunks. If ``func``
    takes a ``block_info`` keyword it receives the location of each block.

    >>> import shoal.array as sa
    >>> x = sa.arange(6, chunks=3)
    >>> map_blocks(lambda b: b * 2, x).compute()
    array([ 0,  2,  4,  6,  8, 10])
    >>> map_blocks(lambda b: b.sum(keepdims=True), x, chunks=(1,)).compute()
    array([ 3, 12])
    """
    arrays = [a for a in args if isinstance(a, Array)]
    if not arrays:
        raise TypeError("map_blocks needs at least one shoal array argument")
    ndim = max(a.ndim for a in arrays)
    in_ind = _LETTERS[:ndim]
    drop = _axes(drop_axis, ndim, "drop_axis")
    out_ind = "".join(c for i, c in enumerate(in_ind) if i not in drop)
    new = _axes(new_axis, len(out_ind) + len(_as_list(new_axis)), "new_axis")
    extra = iter(_LETTERS[ndim:])
    new_letters: dict = {}
    out_list = list(out_ind)
    for ax in sorted(new):
        letter = next(extra)
        out_list.insert(ax, letter)
        new_letters[letter] = 1
    out_ind = "".join(out_list)
    pairs: list = []
    for a in args:
        if isinstance(a, Array):
            pairs += [a, in_ind[ndim - a.ndim :]]
        else:
            pairs += [a, None]
    result = blockwise(
        func,
        out_ind,
        *pairs,
        dtype=dtype,
        meta=meta,
        concatenate=True,
        new_axes=new_letters,
        name=name,
        **kwargs,
    )
    if chunks is not None:
        result = _with_block_chunks(result, chunks)
    return result


def _with_block_chunks(result: Array, chunks: Any) -> Array:
    expr = result.expr
    if len(chunks) != expr.ndim:
        raise ValueError(f"chunks={chunks} has {len(chunks)} entries for a {expr.ndim}-d output")
    new = []
    for c, old in zip(chunks, expr.chunks):
        if isinstance(c, (tuple, list)):
            if len(c) != len(old):
                raise ValueError(f"chunks {c} give {len(c)} blocks where the output has {len(old)}")
            new.append(tuple(c))
        else:
            new.append((int(c),) * len(old))
    return Array(expr.replace_operands(chunks=tuple(new)))


def _as_list(axes: Any) -> list:
    if axes is None:
        return []
    return [axes] if isinstance(axes, (int, np.integer)) else list(axes)


def _axes(axes: Any, ndim: int, what: str) -> list:
    out = []
    for a in _as_list(axes):
        if not -ndim <= a < ndim:
            raise ValueError(f"{what}={a} is out of range for {ndim} axes")
        out.append(a % ndim)
    return out
