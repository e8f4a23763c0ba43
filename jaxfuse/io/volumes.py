"""Reading scalar volumes (NIfTI files, DICOM series) and writing RGB NIfTI (NumPy, host side).

Contract of what comes back: a :class:`Volume` with float32 ``[X, Y, Z]`` data (the scaled values,
checked finite), a float64 ``[4, 4]`` affine voxel -> RAS+ mm (checked invertible), the units of the
values and a description. Every problem with an input raises
:class:`~jaxfuse.io.images.ImageError` whose message starts with the path. Headers are checked
before any voxel is read: a header declaring more than ``max_voxels`` voxels (default
:data:`DEFAULT_MAX_VOXELS`, 512 x 512 x 1024, 1 GiB as float32) is refused without allocating, and so
is one declaring more than :data:`MAX_EXTENSION_BYTES` of header extensions (nibabel would read
them all into memory).

NIfTI specifics: the affine is nibabel's (``sform`` if its code is set, else ``qform``, else the
voxel sizes alone), converted to mm when the header's spatial unit is metres or microns (unknown is
taken as mm, as nibabel does). Values are ``stored * scl_slope + scl_inter`` computed in float64,
then rounded once to float32: equal to ``nibabel``'s ``get_fdata().astype(np.float32)``, and in
the file's own (Fortran) voxel order, as nibabel returns it (one cast where the stored value is
already exact). A compressed file is decompressed (by ISA-L) to its end, so a damaged gzip stream
is caught by its CRC even where the voxels come before the damage; a stream that goes on for more
than :data:`TRAILING_BYTES_ALLOWED` beyond what the header declares is refused when that much has
been inflated (a decompression bomb costs a megabyte of inflating, not its size). NIfTI has no
field for the values' units: ``units`` is ``""``.

The RGB24 writer sends nibabel's header and then the voxels from one buffer (no copy when the
array is laid out as the file stores it, :func:`rgb24_layout`) through a block-parallel gzip
(:mod:`jaxfuse.io._gzip`): the decompressed file is byte for byte what ``nibabel`` writes for the
same image, and the compressed file is the same for any number of threads.
"""

from __future__ import annotations

import gzip
import io
import os
import pathlib
import zlib

import nibabel as nib
import numpy as np
from isal import igzip, isal_zlib
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError

from jaxfuse.io._gzip import gzip_chunks
from jaxfuse.io._volume import DEFAULT_MAX_VOXELS, Volume, check_affine, check_budget, finite_float32
from jaxfuse.io.dicom import read_dicom_series
from jaxfuse.io.images import ImageError, atomic_write

__all__ = [
    "Volume",
    "DEFAULT_MAX_VOXELS",
    "RGB_DTYPE",
    "NIFTI_GZIP_LEVEL",
    "MAX_EXTENSION_BYTES",
    "TRAILING_BYTES_ALLOWED",
    "read_volume",
    "read_nifti",
    "declared_voxels",
    "write_rgb_nifti",
    "rgb24_memory",
    "rgb24_layout",
]

#: nibabel's structured dtype for NIfTI ``RGB24`` (datatype 128): one byte each of R, G, B.
RGB_DTYPE = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])

#: Level of :func:`write_rgb_nifti` for ``.nii.gz``, on zlib's 0-9 scale (1-3 are ISA-L's levels,
#: 4-9 zlib's; :mod:`jaxfuse.io._deflate`). Measured on the fused MNI152 volume (197 x 233 x 189
#: RGB, 26.0 MB of voxels; ``benchmarks/volume.py``, 2-core AMD EPYC Zen 4, quiet, best of 3 whole
#: writes on 2 threads / 1 thread): level 0 (stored) 0.035 / 0.033 s, 26.0 MB; ISA-L 1 0.025 /
#: 0.043 s, 6.47 MB; ISA-L 2 0.023 / 0.035 s, 6.43 MB; ISA-L 3 0.047 / 0.076 s, 6.46 MB; zlib 6
#: 0.14 / 0.38 s, 6.15 MB; uncompressed ``.nii`` 0.011 s. ISA-L's level 2 is the fastest and the
#: smallest of its three here, 5% larger than zlib's level 6 at a sixth of the time, so it is the
#: default. (zlib's level 1, the default before ISA-L, took 0.12 / 0.20 s for 6.19 MB.)
NIFTI_GZIP_LEVEL = 2

_SPATIAL_SCALE_TO_MM = {"meter": 1000.0, "mm": 1.0, "micron": 1e-3, "unknown": 1.0}
_CHUNK = 1 << 24  # bytes per read, and the size of a float64 slab while scaling
_GZIP_ERRORS = (EOFError, zlib.error, isal_zlib.error, gzip.BadGzipFile)
#: Decompressed bytes a ``.nii.gz`` may hold beyond the voxels its header declares before it is
#: refused (a small stream that inflates without end is a decompression bomb).
TRAILING_BYTES_ALLOWED = 1 << 20
#: Bytes of header extensions (between the fixed header and the voxels) a NIfTI file may declare.
#: nibabel reads them all into memory, and trusts each extension's declared size, so a 2 MB file
#: declaring a 400 MB extension took 4.3 s and 590 MB before this check; real extensions (a DICOM
#: header, JSON sidecars, comments) are kilobytes.
MAX_EXTENSION_BYTES = 16 << 20


def read_volume(path: os.PathLike | str, *, frame: int | None = None, max_voxels: int = DEFAULT_MAX_VOXELS) -> Volume:
    """Reads a scalar volume: a ``.nii`` / ``.nii.gz`` file, or a folder holding one DICOM series.

    Args:
        path: a NIfTI file, or a folder (read with :func:`jaxfuse.io.dicom.read_dicom_series`).
        frame: for a 4-D NIfTI, the index (0-based) of the frame to read; refused otherwise.
        max_voxels: refuse volumes with more voxels than this (checked from the header).

    Returns:
        A :class:`Volume`: float32 ``[X, Y, Z]`` values, float64 ``[4, 4]`` voxel -> RAS+ mm affine.

    Raises:
        ImageError: missing, unreadable, not NIfTI/DICOM, corrupt, over budget, bad geometry,
            non-finite values, or a 4-D volume without ``frame``.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise ImageError(path, "no such file or folder")
    if path.is_dir():
        if frame is not None:
            raise ImageError(path, f"frame={frame} applies to 4-D NIfTI files, not to a DICOM folder")
        return read_dicom_series(path, max_voxels=max_voxels)
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        raise ImageError(path, "not a volume: need a .nii or .nii.gz file, or a folder of DICOM files")
    return read_nifti(path, frame=frame, max_voxels=max_voxels)


def read_nifti(path: os.PathLike | str, *, frame: int | None = None, max_voxels: int = DEFAULT_MAX_VOXELS) -> Volume:
    """Reads a NIfTI-1 or NIfTI-2 file (``.nii`` or ``.nii.gz``) as a :class:`Volume`.

    Trailing dimensions of size 1 beyond the third are dropped; a 2-D image becomes ``[X, Y, 1]``.
    Args and raises as :func:`read_volume`.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise ImageError(path, "no such file")
    if path.is_dir():
        raise ImageError(path, "is a folder, not a NIfTI file")
    compressed = path.name.lower().endswith(".gz")
    image = _nifti_image(path, compressed=compressed)
    header = image.header
    # nibabel moves scl_slope/scl_inter from the loaded header to the array proxy (1, 0 when unset)
    slope, inter = float(image.dataobj.slope), float(image.dataobj.inter)

    shape = _frame_shape(path, tuple(int(s) for s in header.get_data_shape()), frame)
    dtype = header.get_data_dtype()
    if dtype.fields is not None or dtype.kind not in "iuf":
        raise ImageError(path, f"stores {dtype} voxels (NIfTI datatype {int(header['datatype'])}); need a scalar volume")
    check_budget(path, shape, max_voxels)
    unit = header.get_xyzt_units()[0]
    affine = np.array(image.affine, dtype=np.float64)
    affine[:3] *= _SPATIAL_SCALE_TO_MM.get(unit, 1.0)
    affine = check_affine(path, affine)

    # nibabel's offset, not the header's vox_offset: writers leave 0 there for the minimum (352)
    offset = int(image.dataobj.offset)
    frames = int(np.prod(header.get_data_shape()[3:], dtype=np.int64))  # 1 for a 3-D volume
    raw = _read_raw(path, dtype, offset, shape, 0 if frame is None else frame, frames=frames, compressed=compressed)
    data = _scaled_float32(raw, slope, inter)
    if not _surely_finite(dtype, slope, inter):
        data = finite_float32(path, data)
    description = bytes(header["descrip"][()]).split(b"\x00", 1)[0].decode("utf-8", "replace").strip()
    return Volume(data=data, affine=affine, units="", path=str(path), description=description)


def declared_voxels(path: os.PathLike | str) -> int | None:
    """Voxels of one 3-D frame that a NIfTI file's header declares, read from the header alone.

    For sizing work before the voxels are read (the volume folder mode's memory budget). None for
    a DICOM folder, another name, or a header that cannot be read: :func:`read_volume` then says
    what is wrong with the file.
    """
    path = pathlib.Path(path)
    lower = path.name.lower()
    if not lower.endswith((".nii", ".nii.gz")) or not path.is_file():
        return None
    try:
        shape = _nifti_image(path, compressed=lower.endswith(".gz")).header.get_data_shape()
    except ImageError:  # read_volume reports it, in the same words
        return None
    return int(np.prod(shape[:3], dtype=np.int64))


def _nifti_image(path: pathlib.Path, *, compressed: bool) -> nib.Nifti1Image:
    """The file as a nibabel image with its header read (the voxels stay on disk), after
    :func:`_check_extensions`; every problem as an :class:`ImageError` naming the file."""
    try:
        _check_extensions(path, compressed=compressed)  # before nibabel reads them into memory
        image = nib.load(path, mmap=False)
    except ImageError:  # refused by _check_extensions, with its own message
        raise
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except _GZIP_ERRORS as error:
        raise ImageError(path, f"corrupt or truncated gzip ({error})") from None
    except (ImageFileError, HeaderDataError, ValueError) as error:
        raise ImageError(path, f"not a NIfTI file ({error})") from None
    except OSError as error:
        raise ImageError(path, f"cannot read ({error})") from None
    if not isinstance(image, nib.Nifti1Image):  # Nifti2Image is a subclass
        raise ImageError(path, f"is {type(image).__name__}, not a single-file NIfTI")
    return image


def _check_extensions(path: pathlib.Path, *, compressed: bool) -> None:
    """Refuses a NIfTI-1/2 file whose header extensions would make nibabel read more than
    :data:`MAX_EXTENSION_BYTES`: a ``vox_offset`` that far past the fixed header, or an extension
    declaring more bytes than lie before the voxels. Reads the fixed header and the extensions'
    8-byte headers only (skipping their contents), at most that many bytes inflated. Files that are
    not NIfTI are left to nibabel's own error."""
    with (igzip.open if compressed else open)(path, "rb") as handle:
        head = handle.read(544)
        if len(head) < 352:
            return
        for order in "<>":
            size = int(np.frombuffer(head[:4], f"{order}i4")[0])
            if size in (348, 540):
                break
        else:
            return
        if size == 348:
            vox_offset = float(np.frombuffer(head[108:112], f"{order}f4")[0])
        else:
            vox_offset = float(np.frombuffer(head[168:176], f"{order}i8")[0])
        start = size + 4  # the fixed header, then 4 bytes whose first says whether extensions follow
        if len(head) < start or head[size : size + 1] == b"\x00":
            return
        # nibabel reads extensions up to vox_offset, or to the end of the file where vox_offset
        # leaves no room for them (e.g. 0): then the first MAX_EXTENSION_BYTES must hold them all
        bounded = vox_offset >= start
        if bounded and not vox_offset - start <= MAX_EXTENSION_BYTES:
            raise ImageError(
                path, f"declares {vox_offset - start:,.0f} bytes of header extensions (vox_offset {vox_offset:.0f}); "
                f"refusing more than {MAX_EXTENSION_BYTES:,}",
            )  # fmt: skip
        end = vox_offset if bounded else start + MAX_EXTENSION_BYTES
        handle.seek(start)
        position = start
        while not bounded or end - position >= 16:
            ext = handle.read(8)
            if len(ext) < 8:
                return  # the end of the file: nibabel stops there too, or reports the truncation
            esize = int(np.frombuffer(ext[:4], f"{order}i4")[0])
            if not 8 <= esize <= end - position:
                where = f"{end - position:,.0f} lie before the voxels" if bounded else (
                    f"vox_offset {vox_offset:.0f} leaves them unbounded and {MAX_EXTENSION_BYTES:,} are allowed"
                )  # fmt: skip
                raise ImageError(path, f"has a header extension declaring {esize:,} bytes where {where}; refusing it")
            position += esize
            handle.seek(position)


def _frame_shape(path: pathlib.Path, shape: tuple[int, ...], frame: int | None) -> tuple[int, int, int]:
    """The ``[X, Y, Z]`` shape to read, after checking the dimensions and the ``frame`` choice."""
    if any(size <= 0 for size in shape):
        raise ImageError(path, f"has an empty dimension (shape {shape})")
    dims = list(shape)
    while len(dims) > 3 and dims[-1] == 1:
        dims.pop()
    dims += [1] * (3 - len(dims))
    if len(dims) > 4:
        raise ImageError(path, f"is {len(dims)}-D (shape {tuple(dims)}); need a 3-D volume, or 4-D with frame=")
    if len(dims) == 4:
        frames = dims[3]
        if frame is None:
            raise ImageError(path, f"is 4-D with {frames} frames; choose one with frame=0..{frames - 1}")
        if not 0 <= frame < frames:
            raise ImageError(path, f"frame {frame} out of range: the volume has {frames} frames (0..{frames - 1})")
    elif frame is not None:
        raise ImageError(path, f"is 3-D; frame={frame} applies to 4-D volumes only")
    return dims[0], dims[1], dims[2]


def _read_raw(
    path: pathlib.Path, dtype: np.dtype, offset: int, shape: tuple[int, int, int], frame: int, *, frames: int, compressed: bool
) -> np.ndarray:
    """The stored voxels of one frame, ``[X, Y, Z]`` in the stored ``dtype`` (Fortran order view).

    A compressed file is inflated by ISA-L (``isal.igzip``, 2-3x zlib's speed) to the end of the
    stream, so its CRC is checked; more than :data:`TRAILING_BYTES_ALLOWED` beyond the ``frames``
    the header declares is refused without inflating it all.
    """
    count = shape[0] * shape[1] * shape[2]
    nbytes = count * dtype.itemsize
    start = offset + frame * nbytes
    after = (frames - frame - 1) * nbytes + TRAILING_BYTES_ALLOWED  # what may follow this frame
    try:
        if not compressed:
            size = path.stat().st_size
            if size < start + nbytes:
                raise ImageError(path, f"truncated: needs {start + nbytes:,} bytes (header + voxels), the file has {size:,}")
        with (igzip.open if compressed else open)(path, "rb") as handle:
            handle.seek(start)
            buffer = np.empty(count, dtype=dtype)
            view = memoryview(buffer.view(np.uint8))
            filled = 0
            while filled < nbytes:
                got = handle.readinto(view[filled : filled + _CHUNK])
                if not got:
                    raise ImageError(path, f"truncated: {filled:,} of {nbytes:,} bytes of voxel data")
                filled += got
            if compressed:  # read to the end, so the gzip CRC and length are checked
                while after >= 0 and (got := len(handle.read(min(_CHUNK, after + 1)))):
                    after -= got
                if after < 0:
                    raise ImageError(
                        path,
                        f"decompresses to more than {TRAILING_BYTES_ALLOWED:,} bytes beyond the voxels its header "
                        "declares (a decompression bomb?); refused",
                    )
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except _GZIP_ERRORS as error:
        raise ImageError(path, f"corrupt or truncated gzip ({error})") from None
    except OSError as error:
        raise ImageError(path, f"cannot read ({error})") from None
    return buffer.reshape(shape, order="F")


def _scaled_float32(raw: np.ndarray, slope: float, inter: float) -> np.ndarray:
    """``raw * slope + inter`` in float64, rounded once to float32, in ``raw``'s (Fortran) order.

    Where that is the stored value itself (slope 1, intercept 0, a type float64 holds exactly and
    float32 rounds once: integers up to 32 bits, float16, float32) it is one cast; for floats
    ``+ 0`` then turns ``-0.0`` into ``0.0`` as the float64 sum does. Otherwise slab by slab
    along the last axis (contiguous in Fortran order), so the float64 copy stays small.
    """
    dtype = raw.dtype
    exact = (dtype.kind in "iu" and dtype.itemsize <= 4) or dtype in (np.float16, np.float32)
    if slope == 1.0 and inter == 0.0 and exact:
        out = raw.astype(np.float32, order="F")
        if dtype.kind == "f":
            out += np.float32(0.0)
        return out
    out = np.empty(raw.shape, dtype=np.float32, order="F")
    plane = max(1, raw.shape[0] * raw.shape[1] * 8)
    step = max(1, _CHUNK // plane)
    with np.errstate(over="ignore"):  # a value beyond float32 becomes inf and is reported by the caller
        for k in range(0, raw.shape[2], step):
            slab = raw[:, :, k : k + step].astype(np.float64, order="F")
            slab *= slope
            slab += inter
            out[:, :, k : k + step] = slab
    return out


def _surely_finite(dtype: np.dtype, slope: float, inter: float) -> bool:
    """True when every stored integer scales to a finite float32 (so no voxel needs checking)."""
    if dtype.kind not in "iu":
        return False
    info = np.iinfo(dtype)
    bound = abs(slope) * max(abs(int(info.min)), int(info.max)) + abs(inter)
    return bool(bound < float(np.finfo(np.float32).max))


def rgb24_layout(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """An empty RGB volume laid out as NIfTI stores it: ``(memory, rgb)``.

    ``memory`` is uint8 ``[Z, Y, X, 3]``, C-contiguous: the file's voxel bytes in order (Fortran
    order of the voxels, R, G, B within each); ``rgb`` is the same memory as uint8 ``[X, Y, Z, 3]``
    (a transposed view). Filling ``rgb`` fills the file's bytes, so :func:`write_rgb_nifti`
    writes it without a copy.
    """
    x, y, z = (int(n) for n in shape)
    memory = np.empty((z, y, x, 3), np.uint8)
    return memory, memory.transpose(2, 1, 0, 3)


def rgb24_memory(rgb: np.ndarray) -> np.ndarray:
    """uint8 ``[Z, Y, X, 3]`` C-contiguous: the voxel bytes of an RGB24 NIfTI of ``rgb``
    (uint8 ``[X, Y, Z, 3]``), in file order; a view when ``rgb`` is laid out that way
    (:func:`rgb24_layout`), else one copy."""
    return np.ascontiguousarray(np.asarray(rgb).transpose(2, 1, 0, 3))


def write_rgb_nifti(
    path: os.PathLike | str,
    rgb: np.ndarray,
    affine: np.ndarray,
    *,
    description: str = "",
    xform_code: int = 1,
    compress_level: int = NIFTI_GZIP_LEVEL,
    threads: int | None = None,
) -> None:
    """Writes an RGB volume as NIfTI-1 ``RGB24`` atomically (temporary file beside it, then rename).

    Args:
        path: destination, ``.nii`` or ``.nii.gz`` (gzip at ``compress_level``).
        rgb: uint8 ``[X, Y, Z, 3]``, channels R, G, B.
        affine: float ``[4, 4]``, voxel -> RAS+ mm (typically the MRI's). Stored as ``sform`` and,
            where it has no shear (a quaternion cannot hold one), also as ``qform``; else the
            ``qform`` code is 0 so readers take the ``sform``.
        description: stored in the header's ``descrip`` (UTF-8, cut to 79 bytes, NUL-terminated).
        xform_code: NIfTI code for both transforms: 1 scanner anatomical (the MRI's own space,
            the default), 2 aligned to another file, 3 Talairach, 4 MNI-152.
        compress_level: level 0-9 for ``.nii.gz`` (zlib's scale: 0 stored, 1-3 ISA-L, 4-9 zlib).
        threads: threads compressing a ``.nii.gz`` (default: the CPUs available, at most 8); the
            file's bytes are the same for any number (see :mod:`jaxfuse.io._gzip`).

    The voxels are written straight from ``rgb`` when it is laid out as the file stores them
    (:func:`rgb24_memory`: :class:`jaxfuse.volume.fuse.FusedVolume` arrays are), else from one
    reordered copy.

    A failure leaves no temporary file and an existing ``path`` untouched.
    """
    path = pathlib.Path(path)
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        raise ValueError(f"{path}: need a .nii or .nii.gz destination")
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 4 or rgb.shape[-1] != 3:
        raise ValueError(f"{path}: need uint8 [X, Y, Z, 3], got {rgb.dtype} {rgb.shape}")
    if xform_code not in (1, 2, 3, 4):
        raise ValueError(f"xform_code must be 1, 2, 3 or 4, got {xform_code}")
    if not 0 <= compress_level <= 9:
        raise ValueError(f"compress_level must be 0..9, got {compress_level}")
    affine = check_affine(path, affine)

    memory = rgb24_memory(rgb)  # [Z, Y, X, 3]: the file's voxel bytes in order (a view where it can be)
    voxels = memory.view("V3")[..., 0].view(RGB_DTYPE).transpose(2, 1, 0)  # [X, Y, Z] RGB24, no copy
    image = nib.Nifti1Image(voxels, affine)
    header = image.header
    header.set_data_dtype(RGB_DTYPE)
    header.set_xyzt_units("mm")
    image.set_sform(affine, code=xform_code)
    image.set_qform(affine, code=xform_code)
    if not np.allclose(header.get_qform(), affine, rtol=0.0, atol=1e-4):
        header["qform_code"] = 0  # sheared: the quaternion would be a different geometry
    encoded = description.encode("utf-8")[:79].decode("utf-8", "ignore").encode("utf-8")
    header["descrip"] = encoded
    # The header exactly as nibabel's own writer leaves it for RGB24 (shape from the data, no
    # scaling: slope 1, intercept 0), then the voxels from the one buffer, not through nibabel.
    image.update_header()
    header.set_slope_inter(1.0, 0.0)
    head = io.BytesIO()
    header.write_to(head)
    head.write(b"\x00" * max(0, int(header.get_data_offset()) - head.tell()))
    parts = (head.getvalue(), memory)

    def write(handle) -> None:
        if path.name.lower().endswith(".gz"):
            for chunk in gzip_chunks(parts, level=compress_level, threads=threads):
                handle.write(chunk)
        else:
            for part in parts:
                handle.write(part)

    atomic_write(path, write)
