"""A PNG encoder for 8-bit gray and RGB images: NumPy row filter + the standard library's zlib.

Pillow chooses a filter for each row by trying all five (its adaptive heuristic), about half of
its encode time at low zlib levels. Here every row uses the Up filter (the byte above subtracted,
one vectorised NumPy subtraction; fused images are smooth vertically as much as horizontally) and
level 1 uses zlib's run-length strategy. Measured on 256x256 RGB fusions (``benchmarks/folder.py``,
``benchmarks/RESULTS.md``): about 2.7x faster than Pillow at level 1, files about 15% larger (levels 2-9
use zlib's default strategy for smaller files). The pixels are the same whatever the level:
PNG is lossless, and any PNG reader decodes these files (one or more IDAT chunks, standard CRCs).

Rows are filtered and compressed in blocks of about 1 MB, so encoding a 4096x4096 image holds one
block beside the output. NumPy and zlib release the GIL while they work, so threads can encode in
parallel.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import numpy as np

__all__ = ["encode_png", "png_chunks"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_UP = 2  # PNG filter type 2: each byte minus the byte above it
_BLOCK_BYTES = 1 << 20  # rows filtered and compressed at a time


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _compressor(level: int):
    strategy = zlib.Z_RLE if level == 1 else zlib.Z_DEFAULT_STRATEGY
    return zlib.compressobj(level, zlib.DEFLATED, 15, 9, strategy)


def png_chunks(image: np.ndarray, *, level: int = 1) -> Iterator[bytes]:
    """The bytes of a PNG file of ``image``, in pieces (signature, IHDR, IDAT chunks, IEND).

    Args:
        image: uint8 ``[H, W]`` (gray) or ``[H, W, 3]`` (RGB), H and W >= 1.
        level: zlib level 0-9 (0 stores, 1 is the fastest compression and uses zlib's RLE
            strategy, 2-9 the default strategy).

    Raises:
        TypeError: ``image`` is not uint8.
        ValueError: a shape or level out of range.
    """
    if not 0 <= level <= 9:
        raise ValueError(f"compress_level must be 0..9, got {level}")
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"PNG encoding needs uint8, got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] == 3)) or 0 in image.shape:
        raise ValueError(f"PNG encoding needs [H, W] gray or [H, W, 3] RGB, got shape {image.shape}")
    height, width = image.shape[:2]
    colour_type = 0 if image.ndim == 2 else 2
    rows = np.ascontiguousarray(image).reshape(height, -1)
    yield _SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0))
    compressor = _compressor(level)
    step = max(1, _BLOCK_BYTES // rows.shape[1])
    filtered = np.empty((min(step, height), rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = _UP
    for top in range(0, height, step):
        block = rows[top : top + step]
        out = filtered[: len(block)]
        np.subtract(block[1:], block[:-1], out=out[1:, 1:])
        if top == 0:
            out[0, 1:] = block[0]  # the row above the first is zeros
        else:
            np.subtract(block[0], rows[top - 1], out=out[0, 1:])
        data = compressor.compress(out)
        if data:
            yield _chunk(b"IDAT", data)
    yield _chunk(b"IDAT", compressor.flush()) + _chunk(b"IEND", b"")


def encode_png(image: np.ndarray, *, level: int = 1) -> bytes:
    """``image`` (uint8 ``[H, W]`` or ``[H, W, 3]``) as the bytes of a PNG file (see :func:`png_chunks`)."""
    return b"".join(png_chunks(image, level=level))
