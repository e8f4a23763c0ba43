"""Reading and writing image files at the edge of the library (NumPy, not JAX).

Contract of what comes back: ``uint8`` or ``uint16`` arrays as stored, or ``float32`` for float
files (checked finite, in [0, 1]), shaped ``[H, W]`` (gray) or ``[H, W, 3]`` (RGB), at least 3x3.
Supported: single-frame files Pillow reads (PNG, TIFF, BMP, JPEG, ...) in modes 1, L, I;16, I, F,
P, RGB, RGBA/LA with an opaque alpha, and NumPy ``.npy`` files (format 1.0 or 2.0, numeric dtypes;
pickled objects are never loaded).

Hostile files are refused cheaply: the pixel count is read from the header (Pillow opens lazily;
``.npy`` headers are parsed with :mod:`numpy.lib.format`) and checked against ``max_pixels``
(default :data:`MAX_IMAGE_PIXELS`, 4096 x 4096) before any pixel is decoded or any buffer
allocated; multi-frame files (multi-page TIFF, animated GIF/PNG) are refused; only regular files
are opened (never a FIFO or device, which could block or never end). Pillow's own decompression
bomb error (above ``2 * PIL.Image.MAX_IMAGE_PIXELS``, its global) also applies; this module never
changes that global. Every problem with a file, whatever exception the decoder raised, is an
:class:`ImageError` whose message starts with the file name.

Writing is atomic (:func:`jaxfuse.io.atomic.atomic_write`, re-exported here).
"""

from __future__ import annotations

import errno
import os
import pathlib
import re
import stat
from typing import BinaryIO, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from jaxfuse.io.atomic import atomic_write
from jaxfuse.io.png import png_chunks

__all__ = [
    "ImageError",
    "MAX_IMAGE_PIXELS",
    "read_image",
    "read_mri",
    "read_functional",
    "read_pair",
    "header_pixels",
    "check_resize",
    "resize_image",
    "write_png",
    "atomic_write",
    "IMAGE_SUFFIXES",
]

#: Default pixel budget of one input image (height x width, whatever the channels): 4096 x 4096 =
#: 16,777,216 pixels. Fusing one pair costs about 70 bytes of memory per pixel (float32 planes of
#: features and colour), about 1.2 GB at this limit; a header declaring more is refused before
#: decoding. Medical slices are typically 256x256 to 1024x1024.
MAX_IMAGE_PIXELS = 4096 * 4096

#: File endings the batch mode picks up in a folder.
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg", ".npy")

class ImageError(ValueError):
    """A file that cannot be used as an input image; ``str(error)`` is ``"<path>: <problem>"``."""

    def __init__(self, path: os.PathLike | str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def _from_pil(path: pathlib.Path, image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA" if mode != "LA" else "LA")
        alpha = np.asarray(image)[..., -1]
        if alpha.min() < 255:
            raise ImageError(path, f"has transparent pixels ({mode}); save it without an alpha channel")
        image = image.convert("RGB" if image.mode == "RGBA" else "L")
        mode = image.mode
    if mode == "P":
        image, mode = image.convert("RGB"), "RGB"
    if mode == "1":
        image, mode = image.convert("L"), "L"
    if mode in ("L", "RGB"):
        return np.asarray(image, dtype=np.uint8)
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if mode == "I":
        array = np.asarray(image)
        if array.min() < 0 or array.max() > 65535:
            raise ImageError(path, f"32-bit integer values outside 0..65535 (min {array.min()}, max {array.max()})")
        return array.astype(np.uint16)
    if mode == "F":
        return np.asarray(image, dtype=np.float32)
    raise ImageError(path, f"unsupported image mode {mode!r} (need gray or RGB)")


def _check_array(path: pathlib.Path, array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[-1] == 4:
        if array.dtype == np.uint8 and array[..., 3].min() < 255:
            raise ImageError(path, "has transparent pixels; save it without an alpha channel")
        if array.dtype != np.uint8:
            raise ImageError(path, f"has 4 channels ({array.dtype}); need gray or RGB")
        array = array[..., :3]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        raise ImageError(path, f"has shape {array.shape}; need [H, W] gray or [H, W, 3] RGB")
    if array.shape[0] < 3 or array.shape[1] < 3:
        raise ImageError(path, f"is too small ({array.shape[0]}x{array.shape[1]}); need at least 3x3")
    if array.dtype in (np.uint8, np.uint16):
        return array
    if np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
        if not np.all(np.isfinite(array)):
            raise ImageError(path, "contains NaN or infinite values")
        if array.min() < 0 or array.max() > 1:
            raise ImageError(path, f"float values outside [0, 1] (min {array.min():.4g}, max {array.max():.4g})")
        return array
    raise ImageError(path, f"unsupported dtype {array.dtype}; need uint8, uint16 or float in [0, 1]")


def _access_problem(path: pathlib.Path, error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return f"broken symbolic link (its target {os.readlink(path)} does not exist)" if path.is_symlink() else "no such file"
    if error.errno == errno.ELOOP:
        return "symbolic link loop (the link points back to itself)"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if error.errno == errno.ENOTDIR:
        return "no such file (a component of the path is not a folder)"
    if error.errno == errno.ENAMETOOLONG:
        return "file name too long"
    return f"cannot open ({error.strerror or error})"


def _open_regular(path: pathlib.Path) -> BinaryIO:
    """Opens ``path`` for reading if it is a regular file (checked on the open descriptor, so a
    FIFO or device is refused without ever blocking on it)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise ImageError(path, _access_problem(path, error)) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise ImageError(path, "is a directory, not an image file")
        if not stat.S_ISREG(mode):
            raise ImageError(path, "is not a regular file (a FIFO, socket or device); refused")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _check_pixels(path: pathlib.Path, height: int, width: int, max_pixels: int) -> None:
    if height * width > max_pixels:
        raise ImageError(
            path,
            f"declares {height}x{width} = {height * width:,} pixels, over the limit of {max_pixels:,} "
            "(refused before decoding; see max_pixels / --max-pixels)",
        )


def _read_pillow(path: pathlib.Path, handle: BinaryIO, max_pixels: int) -> np.ndarray:
    try:
        image = Image.open(handle)  # reads the header only
    except Image.DecompressionBombError as error:
        declared = re.search(r"\((\d+) pixels\)", str(error))
        count = f"{int(declared[1]):,} pixels" if declared else "too many pixels"
        raise ImageError(path, f"declares {count}, over Pillow's decompression bomb limit (refused before decoding)") from None
    with image:
        width, height = image.size
        _check_pixels(path, height, width, max_pixels)
        if getattr(image, "is_animated", False):
            raise ImageError(
                path,
                f"has more than one frame ({image.format}: a multi-page or animated file); "
                "only single images are read, save each frame as its own file",
            )
        image.load()
        return _from_pil(path, image)


def _read_npy(path: pathlib.Path, handle: BinaryIO, max_pixels: int) -> np.ndarray:
    magic = handle.read(6)
    if magic[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ImageError(path, "is a .npz archive (zip), not a .npy array; save one array with numpy.save")
    if magic[:1] == b"\x80":
        raise ImageError(path, "is a Python pickle, not a .npy array; pickles are never loaded")
    if magic != b"\x93NUMPY":
        raise ImageError(path, "not a NumPy .npy file (no .npy header)")
    handle.seek(0)
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ImageError(path, f".npy format version {version[0]}.{version[1]} is not supported (need 1.0 or 2.0)")
    if dtype.hasobject:
        raise ImageError(path, "holds Python objects (a pickle); pickles are never loaded")
    if dtype.fields is not None or dtype.subdtype is not None:
        raise ImageError(path, f"has a structured dtype {dtype}; need uint8, uint16 or float in [0, 1]")
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[-1] not in (1, 3, 4)):
        raise ImageError(path, f"has shape {shape}; need [H, W] gray or [H, W, 3] RGB")
    _check_pixels(path, shape[0], shape[1], max_pixels)
    count = 1
    for size in shape:
        count *= size
    expected = count * dtype.itemsize
    available = os.fstat(handle.fileno()).st_size - handle.tell()
    if available < expected:
        raise ImageError(path, f"truncated: the header declares {expected:,} bytes of data, the file holds {available:,}")
    buffer = bytearray(expected)
    handle.readinto(buffer)
    array = np.frombuffer(buffer, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")
    return array.astype(dtype.newbyteorder("="), copy=False)


def header_pixels(path: os.PathLike | str) -> int | None:
    """``H * W`` as declared by a file's header (nothing decoded), or None where the header cannot
    be read (reading the file with :func:`read_image` then reports why). For memory planning."""
    path = pathlib.Path(path)
    try:
        with _open_regular(path) as handle:
            if path.suffix.lower() == ".npy":
                version = np.lib.format.read_magic(handle)
                read_header = np.lib.format.read_array_header_2_0 if version == (2, 0) else np.lib.format.read_array_header_1_0
                shape = read_header(handle)[0]
                return int(shape[0]) * int(shape[1]) if len(shape) >= 2 else None
            with Image.open(handle) as image:
                return image.size[0] * image.size[1]
    except Exception:  # noqa: BLE001 - any problem is reported by the real read
        return None


def read_image(path: os.PathLike | str, *, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Reads an image file as ``[H, W]`` or ``[H, W, 3]`` uint8, uint16 or float32 (in [0, 1]).

    Args:
        path: the file; ``.npy`` is read with NumPy (no pickles), anything else with Pillow.
        max_pixels: largest ``H * W`` accepted, checked from the header before decoding.

    Raises:
        ImageError: for every problem with the file: missing, a broken link or link loop, not a
            regular file, unreadable, over the pixel budget, several frames, corrupt or truncated,
            unsupported mode/dtype/shape, non-finite or out-of-range values. An unexpected decoder
            exception is reported with its type. Never anything else (``MemoryError`` included).
    """
    path = pathlib.Path(path)
    try:
        with _open_regular(path) as handle:
            if path.suffix.lower() == ".npy":
                array = _read_npy(path, handle, max_pixels)
            else:
                array = _read_pillow(path, handle, max_pixels)
        return _check_array(path, np.asarray(array))
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(path, "not a readable image (unknown or corrupt format)") from None
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except MemoryError:
        raise ImageError(path, "not enough memory to decode it") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageError(path, f"corrupt or truncated image ({error})") from None
    except Exception as error:  # noqa: BLE001 - any decoder failure is this file's problem, named as such
        raise ImageError(path, f"cannot decode it ({type(error).__name__}: {error})") from None


def read_mri(path: os.PathLike | str, *, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Reads an anatomical image: ``[H, W]``; an RGB file with three equal channels is taken as gray.

    Raises:
        ImageError: as :func:`read_image`, or the file is in colour.
    """
    image = read_image(path, max_pixels=max_pixels)
    if image.ndim == 3:
        if not (np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2])):
            raise ImageError(path, "MRI must be grayscale, got a colour RGB image")
        image = np.ascontiguousarray(image[..., 0])
    return image


def read_functional(path: os.PathLike | str, *, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Reads a functional (PET/SPECT) image: ``[H, W, 3]`` RGB or ``[H, W]`` gray (see :func:`read_image`)."""
    return read_image(path, max_pixels=max_pixels)


def check_resize(resize: tuple[int, int] | None, *, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """Checks a resize target ``(H, W)``: each side >= 3 (the smallest image the reader accepts and
    the 3x3 convolution's window) and ``H * W <= max_pixels`` (the same budget as the inputs).

    Raises:
        ValueError: the target is not two integers in that range.
    """
    if resize is None:
        return
    if len(resize) != 2 or not all(isinstance(n, int | np.integer) and n >= 3 for n in resize):
        raise ValueError(f"resize must be two integers >= 3 (the smallest image read), got {resize!r}")
    if resize[0] * resize[1] > max_pixels:
        raise ValueError(f"resize {resize[0]}x{resize[1]} is over the pixel limit of {max_pixels:,}")


def read_pair(
    mri_path: os.PathLike | str,
    pet_path: os.PathLike | str,
    *,
    resize: tuple[int, int] | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> tuple[np.ndarray, np.ndarray]:
    """Reads a pair: MRI ``[H, W]`` and functional ``[H, W]`` or ``[H, W, 3]``, dtypes as stored.

    Args:
        mri_path, pet_path: the two files (see :func:`read_image`).
        resize: if given, both images are resized to ``(H, W)`` (bicubic, see :func:`resize_image`);
            otherwise their sizes must match (registered images).
        max_pixels: pixel budget of each file, checked from its header.

    Raises:
        ImageError: a file cannot be used, or the sizes differ and no resize was asked for.
        ValueError: ``resize`` is invalid (see :func:`check_resize`).
    """
    check_resize(resize, max_pixels=max_pixels)
    mri = read_mri(mri_path, max_pixels=max_pixels)
    pet = read_functional(pet_path, max_pixels=max_pixels)
    if resize is not None:
        return resize_image(mri, resize), resize_image(pet, resize)
    if mri.shape[:2] != pet.shape[:2]:
        raise ImageError(
            pet_path,
            f"size {pet.shape[0]}x{pet.shape[1]} does not match MRI {mri_path} "
            f"({mri.shape[0]}x{mri.shape[1]}); register them or pass --resize",
        )
    return mri, pet


def resize_image(image: np.ndarray, size: tuple[int, int], *, resample: Literal["bicubic", "bilinear"] = "bicubic") -> np.ndarray:
    """Resizes ``[H, W]`` or ``[H, W, 3]`` to ``size = (H', W')`` with Pillow, keeping the dtype.

    Used only when the caller asks for a common size (the paper resizes to 256x256).
    """
    if image.shape[:2] == tuple(size):
        return image
    method = Image.Resampling.BICUBIC if resample == "bicubic" else Image.Resampling.BILINEAR
    height, width = size
    if image.dtype == np.uint8:
        return np.asarray(Image.fromarray(image).resize((width, height), method))
    channels = [image] if image.ndim == 2 else [image[..., c] for c in range(3)]
    info = np.iinfo(image.dtype) if image.dtype == np.uint16 else None
    out = []
    for channel in channels:
        resized = np.asarray(Image.fromarray(channel.astype(np.float32), mode="F").resize((width, height), method))
        if info is not None:
            resized = np.clip(np.round(resized), 0, info.max)
        else:
            resized = np.clip(resized, 0.0, 1.0)
        out.append(resized.astype(image.dtype))
    return out[0] if image.ndim == 2 else np.stack(out, axis=-1)


def write_png(path: os.PathLike | str, image: np.ndarray, *, compress_level: int = 6) -> None:
    """Writes ``[H, W]`` or ``[H, W, 3]`` uint8 as PNG atomically (temporary file, then rename).

    A crash or a full disk never leaves a partial file under ``path``. The encoder is
    :func:`jaxfuse.io.png.png_chunks` (Up filter on every row, ISA-L or zlib deflate; any reader decodes it).

    Args:
        path: destination file.
        image: uint8 ``[H, W]`` or ``[H, W, 3]``.
        compress_level: 0-9 on zlib's scale: 0 stores, 1-3 ISA-L (1, the default, encodes a
            256x256 RGB fusion about 9x faster than Pillow's level 1 for files about 8% larger),
            4-9 zlib (smaller files, slower).
    """
    if not 0 <= compress_level <= 9:
        raise ValueError(f"compress_level must be 0..9, got {compress_level}")
    path = pathlib.Path(path)
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"write_png needs uint8, got {image.dtype}")
    chunks = png_chunks(image, level=compress_level)
    first = next(chunks)  # shape checked before any file is made

    def write(handle) -> None:
        handle.write(first)
        for chunk in chunks:
            handle.write(chunk)

    atomic_write(path, write)
