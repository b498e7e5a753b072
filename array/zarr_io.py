"""``to_zarr`` and ``from_zarr``: arrays in Zarr stores (optional extra
``shoal[zarr]``, which installs ``zarr``).

``to_zarr`` creates a Zarr array whose chunks are the shoal blocks, then
writes every block into its own Zarr chunk with ``store`` (one task per
block, the source fused in; no lock is needed because no two tasks touch
the same chunk). Blocks of irregular sizes are first rechunked to regular
ones, as Zarr chunks all have one shape. ``from_zarr`` reads lazily, region
by region, like ``from_array`` (a free source: regenerated where used).
"""

from __future__ import annotations

from typing import Any

from shoal.core.delayed import Delayed

from .chunks import has_unknown
from .convert import asarray, from_array
from .core import Array
from .storage import store

__all__ = ["to_zarr", "from_zarr"]


def _zarr() -> Any:
    try:
        import zarr
    except ImportError:
        raise ImportError(
            "to_zarr/from_zarr need the zarr package: pip install 'shoal[zarr]'"
        ) from None
    return zarr


def _regular(chunks: tuple) -> tuple | None:
    """Zarr chunk shape for ``chunks``, or None if the blocks are irregular."""
    shape = []
    for c in chunks:
        if not c:
            shape.append(1)
            continue
        first = c[0]
        if any(n != first for n in c[:-1]) or c[-1] > first:
            return None
        shape.append(max(first, 1))
    return tuple(shape)


def to_zarr(
    x: Any,
    url: Any,
    component: str | None = None,
    overwrite: bool = False,
    compute: bool = True,
    storage_options: dict | None = None,
    scheduler: Any = None,
    **kwargs: Any,
) -> Delayed | None:
    """Write ``x`` to a Zarr array at ``url`` (a path, an fsspec URL, a Zarr
    store, or an existing ``zarr.Array`` of the same shape), under group path
    ``component``. ``compute=False`` returns a ``Delayed`` that writes when
    computed; ``scheduler`` chooses where the writes run. ``kwargs`` go to
    ``zarr.create_array`` (e.g. ``compressors``).

    >>> import tempfile, os, shoal.array as sa
    >>> path = os.path.join(tempfile.mkdtemp(), "x.zarr")
    >>> to_zarr(sa.arange(10, chunks=4), path)
    >>> from_zarr(path).compute()
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    zarr = _zarr()
    x = asarray(x)
    if has_unknown(x.chunks):
        raise ValueError(
            f"to_zarr needs known chunk sizes, got {x.chunks}; call .compute_chunk_sizes() first"
        )
    if isinstance(url, zarr.Array):
        target = url
        if tuple(target.shape) != x.shape:
            raise ValueError(
                f"cannot write an array of shape {x.shape} into a zarr array of shape "
                f"{tuple(target.shape)}"
            )
        if _regular(x.chunks) != tuple(target.chunks):
            x = x.rechunk(tuple(target.chunks))
    else:
        chunk_shape = _regular(x.chunks)
        if chunk_shape is None:
            x = x.rechunk(tuple(max(c) if c else 1 for c in x.chunks))
            chunk_shape = _regular(x.chunks)
        target = zarr.create_array(
            url,
            name=component,
            shape=x.shape,
            chunks=chunk_shape,
            dtype=x.dtype,
            overwrite=overwrite,
            storage_options=storage_options,
            **kwargs,
        )
    return store(x, target, lock=False, compute=compute, scheduler=scheduler)


def from_zarr(
    url: Any,
    component: str | None = None,
    chunks: Any = None,
    storage_options: dict | None = None,
    name: str | None = None,
) -> Array:
    """A lazy array reading the Zarr array at ``url`` (a path, an fsspec URL,
    a Zarr store or a ``zarr.Array``), ``component`` naming the array inside
    a group. Blocks follow the Zarr chunks unless ``chunks`` is given.

    >>> import tempfile, os, numpy as np, shoal.array as sa
    >>> path = os.path.join(tempfile.mkdtemp(), "m.zarr")
    >>> to_zarr(sa.ones((4, 6), chunks=(2, 3)), path)
    >>> from_zarr(path).chunks
    ((2, 2), (3, 3))
    """
    zarr = _zarr()
    if isinstance(url, zarr.Array):
        z = url
    else:
        z = zarr.open_array(url, path=component or "", mode="r", storage_options=storage_options)
    return from_array(z, chunks=tuple(z.chunks) if chunks is None else chunks, name=name)
