"""DLPack export of shoal arrays (``x.__dlpack__()``, ``x.__dlpack_device__()``).

DLPack hands over one strided buffer, so only an array of one block can be
exported: the block is computed and its NumPy buffer exported (an empty array
has nothing to gather, whatever its blocks). A non-empty multi-block array
raises, saying to ``rechunk(-1)`` first (that gathers the whole array into one
task's memory, so it is left to the caller to choose).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import Array

__all__ = ["CPU_DEVICE", "dlpack_capsule", "dlpack_device"]

CPU_DEVICE = (1, 0)  # (kDLCPU, device id)


def dlpack_device(x: Array) -> tuple:
    """Where ``x``'s data lives, as DLPack's (device type, id): always the cpu.

    >>> import shoal.array as sa
    >>> dlpack_device(sa.ones(2))
    (1, 0)
    """
    return CPU_DEVICE


def dlpack_capsule(
    x: Array,
    *,
    stream: Any = None,
    max_version: tuple | None = None,
    dl_device: tuple | None = None,
    copy: bool | None = None,
) -> Any:
    """A DLPack capsule of ``x``'s one block (computed now).

    >>> import shoal.array as sa
    >>> np.from_dlpack(sa.arange(3, chunks=3)).tolist()
    [0, 1, 2]
    """
    if any(n != 1 for n in x.numblocks) and 0 not in x.shape:
        raise BufferError(
            f"DLPack exports one buffer, and this array has {x.numblocks} blocks; "
            "call x.rechunk(-1) first to gather it into one block"
        )
    if dl_device is not None and tuple(dl_device) != CPU_DEVICE:
        raise BufferError(
            f"shoal arrays live on the cpu (DLPack device {CPU_DEVICE}), not {tuple(dl_device)}"
        )
    if stream is not None:
        raise BufferError("shoal arrays live on the cpu: DLPack stream must be None")
    block = np.asarray(x.compute())
    if not block.flags.writeable:
        block = block.copy()
    kwargs: dict = {"copy": copy}
    if max_version is not None:
        kwargs["max_version"] = max_version
    return block.__dlpack__(**kwargs)
