"""gzip-compressing one large buffer on several threads, with the same bytes for any thread count.

The input (a few parts read as one byte stream: a header, then the voxels) is cut into blocks of
:data:`GZIP_BLOCK_BYTES`. Each block is compressed on its own (raw deflate; ISA-L at levels 1-3,
zlib otherwise, see :mod:`jaxfuse.io._deflate`), primed with the 32 KiB of input before it as the
dictionary (so back-references across a block edge are kept, and the size is within a fraction of a
percent of one serial stream), and ends on a byte boundary (a sync flush; the last block finishes
the stream). The blocks' outputs, in order, form one ordinary deflate stream inside one gzip member
(RFC 1952): any gzip reader reads it. Both libraries release the GIL while they compress, so blocks
run in parallel on threads; the blocks do not depend on how many threads ran them, so the file's
bytes do not either.

The gzip header matches Python's ``gzip.GzipFile(filename="", mtime=0)``: no name, no time, so the
same input gives the same file on every run.
"""

from __future__ import annotations

import concurrent.futures
import os
import struct
import zlib
from collections.abc import Iterator, Sequence

from jaxfuse.io._deflate import compressobj, crc32

__all__ = ["GZIP_BLOCK_BYTES", "gzip_threads", "gzip_chunks"]

#: Input bytes per independently compressed block (the unit of work of one thread).
GZIP_BLOCK_BYTES = 1 << 20

_WINDOW = 1 << 15  # deflate's window: the dictionary a block is primed with


def gzip_threads() -> int:
    """Threads used by default: the CPUs this process may run on, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


def _header(level: int) -> bytes:
    # magic, deflate, no flags, mtime 0, extra flags as gzip.GzipFile sets them, OS "unknown"
    xfl = b"\x02" if level == 9 else b"\x04" if level == 1 else b"\x00"
    return b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + xfl + b"\xff"


class _Stream:
    """Byte ranges of the concatenation of ``parts`` without copying where a range lies in one part."""

    def __init__(self, parts: Sequence) -> None:
        self.parts = [memoryview(p).cast("B") for p in parts]
        self.starts, total = [], 0
        for part in self.parts:
            self.starts.append(total)
            total += part.nbytes
        self.size = total

    def take(self, start: int, stop: int):
        pieces = []
        for part, first in zip(self.parts, self.starts):
            lo, hi = max(start, first), min(stop, first + part.nbytes)
            if lo < hi:
                pieces.append(part[lo - first : hi - first])
        if len(pieces) == 1:
            return pieces[0]
        return b"".join(pieces)


def _compress_block(stream: _Stream, start: int, stop: int, level: int) -> bytes:
    zdict = stream.take(max(0, start - _WINDOW), start) if start else None
    compressor = compressobj(level, wbits=-zlib.MAX_WBITS, zdict=zdict)
    body = compressor.compress(stream.take(start, stop))
    return body + compressor.flush(zlib.Z_FINISH if stop == stream.size else zlib.Z_SYNC_FLUSH)


def gzip_chunks(
    parts: Sequence, *, level: int, threads: int | None = None, block_bytes: int = GZIP_BLOCK_BYTES
) -> Iterator[bytes]:
    """The gzip file of the bytes of ``parts`` (in order), as a sequence of chunks to write in order.

    Args:
        parts: buffers (``bytes``, C-contiguous NumPy arrays, ...), compressed as one stream.
        level: 0-9 on zlib's scale (:func:`jaxfuse.io._deflate.compressobj`: 0 stored, 1-3 ISA-L, 4-9 zlib).
        threads: threads compressing blocks (default :func:`gzip_threads`); the bytes do not
            depend on it.
        block_bytes: input bytes per block (the bytes depend on it).

    Yields:
        ``bytes``: the gzip header, the compressed blocks, the trailer (CRC-32 and length).
    """
    if not 0 <= level <= 9:
        raise ValueError(f"level must be 0..9, got {level}")
    if block_bytes < 1:
        raise ValueError(f"block_bytes must be >= 1, got {block_bytes}")
    stream = _Stream(parts)
    threads = gzip_threads() if threads is None else max(1, int(threads))
    bounds = [(s, min(stream.size, s + block_bytes)) for s in range(0, max(stream.size, 1), block_bytes)]
    yield _header(level)
    if threads == 1 or len(bounds) == 1:
        crc = 0
        for start, stop in bounds:
            crc = crc32(stream.take(start, stop), crc)
            yield _compress_block(stream, start, stop, level)
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="jaxfuse-gzip") as pool:
            blocks = [pool.submit(_compress_block, stream, start, stop, level) for start, stop in bounds]
            crc = 0
            for part in stream.parts:  # on this thread while the workers compress
                crc = crc32(part, crc)
            for block in blocks:
                yield block.result()
    yield struct.pack("<II", crc & 0xFFFFFFFF, stream.size & 0xFFFFFFFF)
