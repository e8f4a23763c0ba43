"""Hostile and broken input files, generated from bytes (no data needed), for the host-side tests.

Each builder writes one file at ``path``. Bombs are written as headers that declare a huge image
over a few bytes of data (a real decoder would allocate the declared size); the others are the
ways real files go wrong (truncation, links, pickles, several frames, wrong values).
"""

from __future__ import annotations

import io
import os
import pathlib
import pickle
import struct
import zlib

import numpy as np
from PIL import Image

__all__ = [
    "good_mri",
    "good_pet",
    "save_image",
    "png_header",
    "tiff_header",
    "bmp_header",
    "jpeg_header",
    "gif_header",
    "npy_header_only",
    "snapshot",
]


def good_mri(size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size), np.uint8)


def good_pet(size: int = 32, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), np.uint8)


def save_image(path: pathlib.Path, array: np.ndarray) -> pathlib.Path:
    """Saves a good image in the format its suffix names (``.npy`` with NumPy, else Pillow)."""
    if path.suffix == ".npy":
        np.save(path, array)
    else:
        Image.fromarray(array).save(path)
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header(width: int, height: int, *, extra: bytes = b"") -> bytes:
    """A PNG whose IHDR declares ``width x height`` 8-bit gray pixels, with 100 bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + extra + _chunk(b"IDAT", zlib.compress(b"\0" * 100)) + _chunk(b"IEND", b"")


def png_text_bomb() -> bytes:
    """A valid 32x32 PNG carrying a zTXt chunk that inflates to 50 MB (a zlib bomb in metadata)."""
    buffer = io.BytesIO()
    Image.fromarray(good_mri()).save(buffer, format="PNG")
    data = buffer.getvalue()
    bomb = _chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"a" * 50_000_000, 9))
    return data[:33] + bomb + data[33:]  # after the signature (8) and IHDR (25)


def tiff_header(width: int, height: int) -> bytes:
    """A little-endian TIFF whose one IFD declares ``width x height`` 8-bit gray pixels, no data."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8), (278, 4, height), (279, 4, 100)]
    packed = b"".join(
        struct.pack("<HHII", tag, kind, 1, value) if kind == 4 else struct.pack("<HHIHH", tag, kind, 1, value, 0)
        for tag, kind, value in entries
    )
    return b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(entries)) + packed + struct.pack("<I", 0)


def bmp_header(width: int, height: int) -> bytes:
    """A 24-bit BMP declaring ``width x height`` pixels over 100 bytes of data."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 100, 0, 0, 54) + info + b"\0" * 100


def jpeg_header(width: int, height: int) -> bytes:
    """A baseline JPEG start-of-frame declaring ``width x height`` gray pixels, no scan data."""
    frame = struct.pack(">BHHB", 8, height, width, 1) + bytes([1, 0x11, 0])
    return b"\xff\xd8\xff\xc0" + struct.pack(">H", len(frame) + 2) + frame + b"\xff\xd9"


def gif_header(width: int, height: int) -> bytes:
    """A GIF whose screen and one image declare ``width x height`` pixels, a few bytes of LZW."""
    screen = struct.pack("<HHBBB", width, height, 0, 0, 0)
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return b"GIF89a" + screen + image + b"\x02\x02\x44\x01\x00;"


def npy_header_only(shape: tuple[int, ...], descr: str = "<f4", *, version: tuple[int, int] = (1, 0)) -> bytes:
    """A ``.npy`` header declaring ``shape`` of ``descr``, with no data after it."""
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buffer, header)
    else:
        np.lib.format.write_array_header_2_0(buffer, header)
    return buffer.getvalue()


def npy_bytes(array: np.ndarray, *, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npz_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, image=good_mri())
    return buffer.getvalue()


def pickle_bytes() -> bytes:
    return pickle.dumps({"image": good_mri()})


def multi_frame(path: pathlib.Path, frames: int = 3) -> None:
    """A multi-page TIFF, an animated GIF or an animated PNG (by ``path``'s suffix)."""
    images = [Image.fromarray(good_mri(seed=i)) for i in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:])


def pil_bytes(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def snapshot(*folders: pathlib.Path) -> dict:
    """Every entry under ``folders`` (hidden ones too) -> its kind and content: bytes of regular
    files, targets of links, nothing of FIFOs (never opened: reading one would block)."""
    state = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder, followlinks=False):
            for name in sorted(dirs + files):
                path = pathlib.Path(root) / name
                info = path.lstat()
                if path.is_symlink():
                    state[str(path)] = ("link", os.readlink(path))
                elif path.is_file():
                    state[str(path)] = ("file", path.read_bytes(), info.st_mode)
                elif path.is_dir():
                    state[str(path)] = ("dir", info.st_mode)
                else:
                    state[str(path)] = ("other", info.st_mode)
    return state
