"""The output files of folder mode: one fused 2-D image written as PNG, ``.npy`` or NIfTI.

Every writer is atomic (temporary file, then rename; :mod:`jaxfuse.io.atomic`). The NIfTI form is
the volume writer's file of a one-slice volume (:func:`jaxfuse.io.volumes.write_rgb_nifti`), its
header made once per image shape and the voxels appended, so writing it costs a copy, no codec.
"""

from __future__ import annotations

import functools
import os
import pathlib

import numpy as np

from jaxfuse.io.atomic import atomic_write
from jaxfuse.io.images import write_png

__all__ = ["OUTPUT_FORMATS", "write_output", "image_from_fused_nifti"]

#: Output formats of folder mode and the suffix each writes: PNG (8-bit RGB), NumPy ``.npy``
#: (uint8 ``[H, W, 3]``, no codec) and uncompressed NIfTI-1 ``RGB24`` (no codec; see
#: :func:`write_output`).
OUTPUT_FORMATS = {"png": ".png", "npy": ".npy", "nifti": ".nii"}


def write_output(path: os.PathLike | str, image: np.ndarray, *, format: str = "png", png_level: int = 1) -> None:
    """Writes one fused image atomically (temporary file, then rename) in one of :data:`OUTPUT_FORMATS`.

    Args:
        path: destination file.
        image: uint8 ``[H, W, 3]``.
        format: ``"png"`` (:func:`jaxfuse.io.images.write_png` at ``png_level``), ``"npy"`` (NumPy
            format 1.0, C order, no pickle) or ``"nifti"`` (NIfTI-1 ``RGB24``, uncompressed: the image as
            one axial slice in the radiological layout of :mod:`jaxfuse.volume.slicing`, voxel
            ``[i, j, 0]`` = pixel ``[H - 1 - j, W - 1 - i]``, identity affine, 1 mm pixels, so a
            viewer shows it as the PNG is shown; read back with :func:`image_from_fused_nifti`).
        png_level: level 0-9 of a PNG (zlib's scale, :func:`jaxfuse.io.png.png_chunks`).
    """
    if format == "png":
        write_png(path, image, compress_level=png_level)
        return
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"{path}: need uint8 [H, W, 3], got {image.dtype} {image.shape}")
    if format == "npy":
        atomic_write(path, lambda handle: np.save(handle, np.ascontiguousarray(image), allow_pickle=False))
    elif format == "nifti":
        from jaxfuse.io.volumes import rgb24_memory
        from jaxfuse.volume.slicing import slices_to_volume

        # the header of every image of this shape is the same: made once by the volume writer
        prefix = _nifti_header(image.shape[:2])
        voxels = rgb24_memory(slices_to_volume(image[None], axis="axial"))  # [1, Y, X, 3]: the file's order

        def write(handle) -> None:
            handle.write(prefix)
            handle.write(voxels.data)

        atomic_write(path, write)
    else:
        raise ValueError(f"format must be one of {', '.join(OUTPUT_FORMATS)}, got {format!r}")


@functools.lru_cache(maxsize=8)
def _nifti_header(shape: tuple[int, int]) -> bytes:
    """The bytes before the voxels of :func:`jaxfuse.io.volumes.write_rgb_nifti`'s uncompressed file
    of a 2-D fused image of ``shape`` (``(H, W)``): header and extension flag, as that writer makes them."""
    import tempfile

    from jaxfuse.io.volumes import write_rgb_nifti
    from jaxfuse.volume.slicing import slices_to_volume

    height, width = shape
    volume = slices_to_volume(np.zeros((1, height, width, 3), np.uint8), axis="axial")
    with tempfile.TemporaryDirectory(prefix="jaxfuse-nifti-") as folder:
        path = pathlib.Path(folder) / "header.nii"
        write_rgb_nifti(path, volume, np.eye(4), description="jaxfuse fused 2-D image", compress_level=0)
        data = path.read_bytes()
    return data[: len(data) - height * width * 3]


def image_from_fused_nifti(image) -> np.ndarray:
    """The uint8 ``[H, W, 3]`` image of a ``nibabel`` NIfTI written by :func:`write_output` (``"nifti"``)."""
    from jaxfuse.volume.slicing import volume_to_slices

    data = np.asarray(image.dataobj)
    if data.ndim != 3 or data.shape[2] != 1 or data.dtype.names != ("R", "G", "B"):
        raise ValueError(f"not a fused 2-D RGB24 NIfTI: {data.dtype} {data.shape}")
    rgb = np.stack([data["R"], data["G"], data["B"]], axis=-1)
    return np.ascontiguousarray(volume_to_slices(rgb, axis="axial")[0])
