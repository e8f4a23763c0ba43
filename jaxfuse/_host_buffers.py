"""Host memory: arrays laid out so that XLA's CPU client can use them in place, and the allocator
setting of the volume folder mode.

``jax.device_put`` of a NumPy array on the CPU backend shares the array's memory instead of copying
it when the data is C-contiguous and aligned to 64 bytes; NumPy's own allocations are only 16-byte
aligned, so a large array is copied (and the copy's fresh pages faulted in): for the 35 MB float32
slice stack of the MNI152 T1, 25 ms against 0.1 ms (2-core AMD EPYC Zen 4). On other backends the
transfer is a copy either way and the alignment costs nothing.

An array handed over this way may be the device array's memory: it must not be written afterwards.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ALIGNMENT", "KEPT_BLOCK_BYTES", "aligned_copy", "keep_freed_blocks"]

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


#: glibc's ``mallopt`` parameter number of ``M_MMAP_THRESHOLD`` (malloc.h).
_M_MMAP_THRESHOLD = -3
#: The largest value glibc accepts for it on 64-bit systems (``DEFAULT_MMAP_THRESHOLD_MAX``).
KEPT_BLOCK_BYTES = 32 << 20


def keep_freed_blocks() -> bool:
    """Asks glibc's allocator to serve blocks up to :data:`KEPT_BLOCK_BYTES` from its heap, whose
    freed memory it keeps, rather than from memory maps it returns to the system on each free.

    For a process that allocates and frees the same tens of megabytes over and over (the volume
    folder mode: XLA's and NumPy's buffers for each pair), every fresh map is faulted in again page
    by page: 52,000 faults a pair of MNI-sized volumes, a third of the run's time on a 2-core VM
    (``benchmarks/RESULTS.md``). Called by the command line's volume folder mode only, never on
    import: it changes the whole process's allocator (the same as ``MALLOC_MMAP_THRESHOLD_=33554432``
    in the environment, which library users may set themselves). Costs about 150 MiB more resident
    memory there.

    Returns:
        True where it was set; False where the C library is not glibc (nothing changes).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        gnu_get_libc_version = libc.gnu_get_libc_version  # glibc only: musl and macOS lack it
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    del gnu_get_libc_version
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, KEPT_BLOCK_BYTES) == 1
