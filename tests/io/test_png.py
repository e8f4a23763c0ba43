"""The PNG encoder (jaxfuse.io.png): files any reader decodes to the same pixels.

Checked two independent ways: Pillow (libpng-compatible, verifies every chunk's CRC) and a reference
written here from the PNG specification (chunks parsed, CRCs checked, IDAT inflated, the Up filter
undone by a running sum over rows modulo 256).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from jaxfuse.io import png
from jaxfuse.io.png import encode_png


def reference_decode(data: bytes) -> np.ndarray:
    """Decodes the subset of PNG the encoder writes (8-bit gray/RGB, filters None/Up), from the spec."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, kinds = 8, [], []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        kinds.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour, method, filters, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, method, filters, interlace) == (8, 0, 0, 0) and colour in (0, 2)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and pos == len(data)
    channels = 1 if colour == 0 else 3
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, 1 + width * channels)
    assert set(np.unique(raw[:, 0])) <= {0, 2}
    rows = raw[:, 1:].astype(np.int64)
    up = raw[:, 0] == 2
    out = np.zeros_like(rows)
    for r in range(height):  # Up: each byte plus the decoded byte above (zeros above the first row)
        above = out[r - 1] if r else 0
        out[r] = (rows[r] + above) % 256 if up[r] else rows[r]
    out = out.astype(np.uint8)
    return out.reshape(height, width) if channels == 1 else out.reshape(height, width, 3)


def _image(seed: int, height: int, width: int, rgb: bool, smooth: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (height, width, 3) if rgb else (height, width)
    if smooth:
        ramp = np.add.outer(np.arange(height), np.arange(width)) % 256
        image = ramp[..., None] + np.arange(3) * 40 if rgb else ramp
        return (image + rng.integers(0, 3, shape)).astype(np.uint8)
    return rng.integers(0, 256, shape, dtype=np.uint8)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    rgb=st.booleans(),
    smooth=st.booleans(),
    level=st.integers(0, 9),
)
def test_pixels_survive_for_any_shape_and_level(seed, height, width, rgb, smooth, level):
    image = _image(seed, height, width, rgb, smooth)
    data = encode_png(image, level=level)
    np.testing.assert_array_equal(reference_decode(data), image)
    decoded = Image.open(io.BytesIO(data))
    assert decoded.mode == ("RGB" if rgb else "L")
    np.testing.assert_array_equal(np.asarray(decoded), image)


@pytest.mark.parametrize("level", [1, 6])  # ISA-L, zlib
def test_many_row_blocks_join_seamlessly(monkeypatch, level):
    # noise, 460 kB: both libraries emit data before the end (ISA-L every ~128 kB of input)
    image = _image(3, 601, 256, True, False)
    whole = encode_png(image, level=level)
    monkeypatch.setattr(png, "_BLOCK_BYTES", 256 * 3 * 5)  # 5 rows per block: 121 blocks, several IDAT chunks
    blocked = encode_png(image, level=level)
    assert blocked.count(b"IDAT") > whole.count(b"IDAT")
    for data in (whole, blocked):
        np.testing.assert_array_equal(reference_decode(data), image)
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), image)


def test_level_zero_stores_and_the_others_compress():
    image = _image(1, 256, 256, True, True)
    sizes = {level: len(encode_png(image, level=level)) for level in range(10)}
    assert sizes[0] >= 256 * (1 + 256 * 3)  # stored: every filtered byte
    assert all(sizes[level] < sizes[0] / 2 for level in range(1, 10))
    assert sizes[9] <= sizes[2]  # same strategy, more effort


@pytest.mark.parametrize(
    "image, error, match",
    [
        (np.zeros((4, 4), np.uint16), TypeError, "uint8"),
        (np.zeros((4, 4), np.float32), TypeError, "uint8"),
        (np.zeros((4, 4, 4), np.uint8), ValueError, "shape"),
        (np.zeros((4,), np.uint8), ValueError, "shape"),
        (np.zeros((0, 4, 3), np.uint8), ValueError, "shape"),
    ],
)
def test_bad_images_are_refused(image, error, match):
    with pytest.raises(error, match=match):
        encode_png(image)


def test_bad_levels_are_refused():
    for level in (-1, 10):
        with pytest.raises(ValueError, match="0..9"):
            encode_png(np.zeros((4, 4), np.uint8), level=level)
