"""Host memory: arrays laid out so that XLA's CPU client can use them in place, and the command
line's two glibc allocator settings (one for the 2-D folder pipeline, one for volume folders).

``jax.device_put`` of a NumPy array on the CPU backend shares the array's memory instead of copying
it when the data is C-contiguous and aligned to 64 bytes; NumPy's own allocations are only 16-byte
aligned, so a large array is copied (and the copy's fresh pages faulted in): for the 35 MB float32
slice stack of the MNI152 T1, 25 ms against 0.1 ms (2-core AMD EPYC Zen 4). On other backends the
transfer is a copy either way and the alignment costs nothing.

An array handed over this way may be the device array's memory: it must not be written afterwards.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

__all__ = ["ALIGNMENT", "KEPT_BLOCK_BYTES", "RETURNED_BLOCK_BYTES", "aligned_copy", "keep_freed_blocks", "return_freed_blocks"]

#: Byte alignment of the buffers (XLA's minimum alignment for host buffers it aliases).
ALIGNMENT = 64


def aligned_copy(array: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``array`` (any layout, e.g. a transposed or flipped view) in a buffer
    whose first byte is :data:`ALIGNMENT`-aligned; same shape, dtype and values."""
    array = np.asarray(array)
    buffer = np.empty(array.nbytes + ALIGNMENT, np.uint8)
    offset = (-buffer.ctypes.data) % ALIGNMENT
    out = buffer[offset : offset + array.nbytes].view(array.dtype).reshape(array.shape)
    np.copyto(out, array)
    return out


# glibc's mallopt parameters (malloc.h).
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8
#: Blocks up to this size come from glibc's heap under :func:`keep_freed_blocks`: the largest
#: threshold glibc accepts (``DEFAULT_MMAP_THRESHOLD_MAX``: 32 MiB on 64-bit systems, 16 on 32-bit).
KEPT_BLOCK_BYTES = 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long)
#: Blocks above this size are maps handed back when freed, under :func:`return_freed_blocks`.
RETURNED_BLOCK_BYTES = 128 * 1024


def _mallopt(*settings: tuple[int, int]) -> bool:
    """``mallopt(parameter, value)`` for each setting, where the C library is glibc and the user has
    not chosen the threshold (``MALLOC_MMAP_THRESHOLD_``); True where every setting was taken."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the process's own C library, already loaded
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl and macOS lack it
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # TypeError: Windows takes no CDLL(None)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all([mallopt(parameter, value) == 1 for parameter, value in settings])


def return_freed_blocks() -> bool:
    """Keeps the 2-D folder pipeline's memory flat over any number of pairs (glibc only).

    glibc raises its map threshold each time a large block is freed, after which image-sized
    buffers come from the heap and fragment it: resident memory then creeps up with the number of
    pairs. Pinning the threshold at :data:`RETURNED_BLOCK_BYTES` makes every buffer above it a map
    that is handed back when freed, and two arenas serve the decoding and encoding threads (not
    eight per core). Process-wide, so only the command line does it, at its start.

    Returns:
        True where it was set; False off glibc or where ``MALLOC_MMAP_THRESHOLD_`` is set.
    """
    return _mallopt((_M_MMAP_THRESHOLD, RETURNED_BLOCK_BYTES), (_M_ARENA_MAX, 2))


def keep_freed_blocks() -> bool:
    """Serves blocks up to :data:`KEPT_BLOCK_BYTES` from glibc's heap, whose freed memory it keeps.

    The volume folder mode allocates and frees the same tens of megabytes for every pair (XLA's and
    NumPy's buffers); with the threshold :func:`return_freed_blocks` pins, each is a fresh map
    faulted in page by page: 52,000 faults a pair of MNI-sized volumes, about a third of the run on
    a 2-core VM (``benchmarks/RESULTS.md``). Called by the command line's volume folder mode for
    more than one pair, never on import; resident memory stays flat there too (measured over 24
    pairs), about 150 MiB higher. A program calling the library can set
    ``MALLOC_MMAP_THRESHOLD_=33554432`` in its environment for the same effect.

    Returns:
        True where it was set; False off glibc or where ``MALLOC_MMAP_THRESHOLD_`` is set.
    """
    return _mallopt((_M_MMAP_THRESHOLD, KEPT_BLOCK_BYTES))
