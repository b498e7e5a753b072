"""shoal as an xarray chunk manager: ``xr.DataArray(shoal_array)`` stays lazy.

xarray finds chunked-array libraries through the ``xarray.chunkmanagers``
entry point (declared in pyproject.toml); ``ShoalChunkManager`` answers its
questions with shoal.array: what the chunks are, how to chunk a NumPy or
lazily-loaded array (``.chunk(..., chunked_array_type="shoal")``), how to
compute, persist, reduce, map blocks, apply generalized ufuncs
(``apply_ufunc(..., dask="parallelized")``) and store into zarr.

    xr.DataArray / Dataset        xarray decides *what* (labels, alignment, groupby)
        |  get_chunked_array_type(data) -> ShoalChunkManager (data is a shoal Array)
        v
    ShoalChunkManager             maps each request onto shoal.array
        |  blockwise, map_blocks, reduction, rechunk, store, compute
        v
    shoal task graph -> local scheduler or distributed Client

When dask is installed too, xarray's default chunk manager for *new* chunks is
dask: pass ``chunked_array_type="shoal"`` to ``.chunk`` / ``open_zarr``, or
set ``xr.set_options(chunk_manager="shoal")``. Arrays that are already shoal
stay shoal whatever that option says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from xarray.namedarray.parallelcompat import ChunkManagerEntrypoint

import shoal
from shoal.core import config
from shoal.core.utils import parse_bytes

from . import api as shoal_array
from .blockwise import blockwise, map_blocks
from .blockwise import unify_chunks as unify_by_letter
from .chunks import normalize_chunks
from .convert import asarray, from_array
from .core import Array
from .reductions import reduction
from .storage import store

__all__ = ["ShoalChunkManager"]

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CORE_DIMS = re.compile(r"\(([^()]*)\)")


def parse_gufunc_signature(signature: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The core dimensions of each input and output of a gufunc signature.

    >>> parse_gufunc_signature("(i,j),(j)->(i),()")
    ([('i', 'j'), ('j',)], [('i',), ()])
    """
    spaced = signature.replace(" ", "")
    if spaced.count("->") != 1:
        raise ValueError(f"a gufunc signature looks like '(i),(i)->()', got {signature!r}")
    ins, outs = spaced.split("->")

    def dims(side: str) -> list[tuple[str, ...]]:
        groups = _CORE_DIMS.findall(side)
        if "".join(f"({g})" for g in groups).replace(")(", "),(") != side:
            raise ValueError(f"cannot read the gufunc signature {signature!r}")
        return [tuple(d for d in g.split(",") if d) for g in groups]

    return dims(ins), dims(outs)


class _Pick:
    """Call a gufunc on blocks and keep output ``index`` (of several)."""

    __slots__ = ("func", "index")

    def __init__(self, func: Callable[..., Any], index: int | None):
        self.func = func
        self.index = index

    def __call__(self, *blocks: Any) -> Any:
        out = self.func(*blocks)
        return out if self.index is None else out[self.index]


class _Region:
    """A target seen through a region: writes land at the region's offset,
    so ``store`` can fill part of a zarr array (xarray's ``region=``)."""

    __slots__ = ("target", "region", "shape")

    def __init__(self, target: Any, region: tuple[slice, ...]):
        self.target = target
        self.region = region
        full = tuple(target.shape)
        self.shape = tuple(len(range(*s.indices(n))) for s, n in zip(region, full))

    def __setitem__(self, index: tuple[slice, ...], value: Any) -> None:
        shifted = tuple(
            slice(r.indices(n)[0] + (i.start or 0), r.indices(n)[0] + i.stop)
            for r, i, n in zip(self.region, index, self.target.shape)
        )
        self.target[shifted] = value


class ShoalChunkManager(ChunkManagerEntrypoint[Any]):
    """What xarray asks of a chunked array library, answered by shoal.array.

    >>> import xarray as xr, shoal.array as sa
    >>> da = xr.DataArray(sa.arange(6, chunks=4), dims="x")
    >>> da.chunks, int(da.sum().compute())
    (((4, 2),), 15)
    """

    available = True

    def __init__(self) -> None:
        self.array_cls = Array

    def is_chunked_array(self, data: Any) -> bool:
        return isinstance(data, Array)

    def chunks(self, data: Any) -> Any:
        return data.chunks

    def normalize_chunks(
        self,
        chunks: Any,
        shape: Any = None,
        limit: int | None = None,
        dtype: Any = None,
        previous_chunks: Any = None,
    ) -> Any:
        if shape is None:
            raise ValueError("normalize_chunks needs the array's shape")
        return normalize_chunks(chunks, shape, dtype, limit=limit, previous=previous_chunks)

    def from_array(self, data: Any, chunks: Any, **kwargs: Any) -> Any:
        # dask-only layout hints xarray passes along: shoal reads blocks where
        # they are used and infers meta from the data, so neither applies
        kwargs.pop("inline_array", None)
        kwargs.pop("meta", None)
        return from_array(data, chunks, **kwargs)

    def rechunk(self, data: Any, chunks: Any, **kwargs: Any) -> Any:
        if isinstance(chunks, dict):
            chunks = {axis: c for axis, c in chunks.items() if c is not None}
        return data.rechunk(chunks, **kwargs)

    def compute(self, *data: Any, **kwargs: Any) -> tuple[Any, ...]:
        return shoal.compute(*data, **kwargs)

    def persist(self, *data: Any, **kwargs: Any) -> tuple[Any, ...]:
        return shoal.persist(*data, **kwargs)

    @property
    def array_api(self) -> Any:
        return shoal_array

    def get_auto_chunk_size(self) -> int:
        return parse_bytes(config.get("array.chunk-size"))

    def reduction(
        self,
        arr: Any,
        func: Callable[..., Any],
        combine_func: Callable[..., Any] | None = None,
        aggregate_func: Callable[..., Any] | None = None,
        axis: int | Sequence[int] | None = None,
        dtype: Any = None,
        keepdims: bool = False,
    ) -> Any:
        aggregate = aggregate_func if aggregate_func is not None else func
        combine = combine_func if combine_func is not None else aggregate
        return reduction(arr, func, combine, aggregate, axis=axis, dtype=dtype, keepdims=keepdims)

    def map_blocks(
        self,
        func: Callable[..., Any],
        *args: Any,
        dtype: Any = None,
        chunks: Any = None,
        drop_axis: int | Sequence[int] | None = None,
        new_axis: int | Sequence[int] | None = None,
        **kwargs: Any,
    ) -> Any:
        return map_blocks(
            func,
            *args,
            dtype=dtype,
            chunks=chunks,
            drop_axis=drop_axis,
            new_axis=new_axis,
            **kwargs,
        )

    def blockwise(
        self,
        func: Callable[..., Any],
        out_ind: Iterable[Any],
        *args: Any,
        name: str | None = None,
        token: Any | None = None,
        dtype: Any = None,
        adjust_chunks: dict[Any, Callable[..., Any]] | None = None,
        new_axes: dict[Any, int] | None = None,
        align_arrays: bool = True,
        concatenate: bool | None = None,
        meta: Any = None,
        **kwargs: Any,
    ) -> Any:
        letters = _letters_for(out_ind, args[1::2])
        pairs: list[Any] = []
        for obj, ind in zip(args[0::2], args[1::2]):
            pairs += [obj, None if ind is None else "".join(letters[i] for i in ind)]
        return blockwise(
            func,
            "".join(letters[i] for i in out_ind),
            *pairs,
            dtype=dtype,
            meta=meta,
            concatenate=bool(concatenate),
            new_axes={letters[k]: v for k, v in (new_axes or {}).items()} or None,
            adjust_chunks={letters[k]: v for k, v in (adjust_chunks or {}).items()} or None,
            name=name,
            **kwargs,
        )

    def unify_chunks(self, *args: Any, **kwargs: Any) -> tuple[dict[Any, Any], list[Any]]:
        arrays, indices = list(args[0::2]), list(args[1::2])
        letters = _letters_for((), indices)
        pairs = [
            (asarray(a), "".join(letters[i] for i in ind))
            for a, ind in zip(arrays, indices)
            if ind is not None
        ]
        unified, by_letter = unify_by_letter(pairs)
        back = {letter: dim for dim, letter in letters.items()}
        it = iter(unified)
        out = [a if ind is None else next(it) for a, ind in zip(arrays, indices)]
        return {back[letter]: c for letter, c in by_letter.items()}, out

    def apply_gufunc(
        self,
        func: Callable[..., Any],
        signature: str,
        *args: Any,
        axes: Sequence[tuple[int, ...]] | None = None,
        axis: int | None = None,
        keepdims: bool = False,
        output_dtypes: Sequence[Any] | None = None,
        output_sizes: dict[str, int] | None = None,
        vectorize: bool | None = None,
        allow_rechunk: bool = False,
        meta: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Apply ``func`` to blocks whose core dimensions (the last axes of
        each input) are whole; one block of output per block of the loop
        dimensions. Several outputs come back as a tuple of arrays (each
        computes ``func`` for its blocks)."""
        if axes is not None or axis is not None or keepdims:
            raise ValueError(
                "apply_gufunc on shoal arrays takes core dimensions as the last axes; "
                "axes=, axis= and keepdims= are not supported (move the axes with transpose)"
            )
        if kwargs:
            func = _Partial(func, kwargs)
        in_dims, out_dims = parse_gufunc_signature(signature)
        if len(in_dims) != len(args):
            raise ValueError(
                f"gufunc signature {signature!r} has {len(in_dims)} inputs, got {len(args)} arguments"
            )
        if vectorize:
            otypes = [np.dtype(d).char for d in output_dtypes] if output_dtypes else None
            func = np.vectorize(func, signature=signature, otypes=otypes)
        core_letter: dict[str, str] = {}
        pool = iter(_LETTERS[::-1])
        for dims in in_dims + out_dims:
            for d in dims:
                if d not in core_letter:
                    core_letter[d] = next(pool)
        arrays = [asarray(a) for a in args]
        loop_ndim = max(a.ndim - len(d) for a, d in zip(arrays, in_dims))
        loop = _LETTERS[:loop_ndim]
        pairs: list[Any] = []
        for position, (a, dims) in enumerate(zip(arrays, in_dims)):
            n_loop = a.ndim - len(dims)
            if n_loop < 0:
                raise ValueError(
                    f"argument {position} has {a.ndim} axes, fewer than its core dimensions {dims}"
                )
            core_axes = range(n_loop, a.ndim)
            if any(len(a.chunks[ax]) > 1 for ax in core_axes):
                if not allow_rechunk:
                    raise ValueError(
                        f"core dimension(s) {dims} of argument {position} span several chunks "
                        f"{[a.chunks[ax] for ax in core_axes]}; rechunk them into one chunk "
                        "(e.g. .chunk({dim: -1})) or pass allow_rechunk=True"
                    )
                a = a.rechunk({ax: -1 for ax in core_axes})
            pairs += [a, loop[loop_ndim - n_loop :] + "".join(core_letter[d] for d in dims)]
        sizes = dict(output_sizes or {})
        for a, dims in zip(arrays, in_dims):
            for d, n in zip(dims, a.shape[a.ndim - len(dims) :]):
                sizes.setdefault(d, n)
        metas = meta if isinstance(meta, tuple) else (meta,) * len(out_dims)
        outputs = []
        for k, dims in enumerate(out_dims):
            missing = [d for d in dims if d not in sizes]
            if missing:
                raise ValueError(
                    f"output core dimension(s) {missing} are new: give their lengths in "
                    "output_sizes={dim: length}"
                )
            new_axes = {core_letter[d]: sizes[d] for d in dims if not _is_input_dim(d, in_dims)}
            dtype = output_dtypes[k] if output_dtypes else getattr(metas[k], "dtype", None)
            outputs.append(
                blockwise(
                    _Pick(func, k if len(out_dims) > 1 else None),
                    loop + "".join(core_letter[d] for d in dims),
                    *pairs,
                    dtype=dtype,
                    concatenate=True,
                    new_axes=new_axes or None,
                    name="apply-gufunc",
                )
            )
        return tuple(outputs) if len(out_dims) > 1 else outputs[0]

    def store(self, sources: Any, targets: Any, **kwargs: Any) -> Any:
        """Write sources into targets, each into its region when ``regions=``
        gives one. ``lock`` and ``compute`` are as ``shoal.array.store``;
        ``flush`` is dask's graph hint: shoal writes when computed."""
        regions = kwargs.pop("regions", None)
        kwargs.pop("flush", None)
        lock = kwargs.pop("lock", True)
        many = isinstance(sources, (list, tuple))
        source_list = list(sources) if many else [sources]
        target_list = list(targets) if many else [targets]
        region_list = list(regions) if regions else [None] * len(target_list)
        placed = [
            t if r is None else _Region(t, tuple(r)) for t, r in zip(target_list, region_list)
        ]
        return store(source_list, placed, lock=lock or False, **kwargs)


class _Partial:
    """``func(*blocks, **kwargs)`` as a picklable callable."""

    __slots__ = ("func", "kwargs")

    def __init__(self, func: Callable[..., Any], kwargs: dict[str, Any]):
        self.func = func
        self.kwargs = kwargs

    def __call__(self, *blocks: Any) -> Any:
        return self.func(*blocks, **self.kwargs)


def _is_input_dim(dim: str, in_dims: list[tuple[str, ...]]) -> bool:
    return any(dim in dims for dims in in_dims)


def _letters_for(out_ind: Iterable[Any], indices: Iterable[Any]) -> dict[Any, str]:
    """One letter per dimension name used in dask-style index tuples."""
    letters: dict[Any, str] = {}
    for ind in [tuple(out_ind), *(tuple(i) for i in indices if i is not None)]:
        for dim in ind:
            if dim not in letters:
                if len(letters) == len(_LETTERS):
                    raise ValueError(f"blockwise supports at most {len(_LETTERS)} dimensions")
                letters[dim] = _LETTERS[len(letters)]
    return letters
