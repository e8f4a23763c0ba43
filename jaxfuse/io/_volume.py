"""The volume record and the checks every volume reader shares (NumPy, host side).

A volume is data + affine, nibabel's model: ``data[i, j, k]`` is the value of voxel ``(i, j, k)``
and ``affine @ [i, j, k, 1]`` the position of its centre in world space, RAS+ millimetres (x
increases towards the patient's Right, y towards Anterior, z towards Superior). Geometry is always
taken from the affine, never from the array order.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from jaxfuse.io.images import ImageError

__all__ = ["Volume", "DEFAULT_MAX_VOXELS", "check_budget", "check_affine", "finite_float32"]

#: Default voxel budget of the readers: 512 x 512 x 1024 = 268,435,456 voxels, i.e. 1 GiB as
#: float32 (plus the stored integers while converting). A whole-body CT at 512 x 512 x 1000 fits;
#: a header declaring more is refused before any voxel is read or any buffer allocated.
DEFAULT_MAX_VOXELS = 512 * 512 * 1024


@dataclasses.dataclass(frozen=True)
class Volume:
    """A scalar 3-D image in world space.

    Attributes:
        data: float32 ``[X, Y, Z]``, the scaled values (NIfTI ``scl_slope``/``scl_inter`` or DICOM
            ``RescaleSlope``/``RescaleIntercept`` applied; SUVbw for PET where computed), all finite.
        affine: float64 ``[4, 4]``, voxel index ``(i, j, k, 1)`` -> voxel centre in RAS+ mm (x
            towards the patient's Right, y Anterior, z Superior), invertible, last row ``0 0 0 1``.
        units: units of ``data``: ``"SUVbw"`` (g/ml), ``"Bq/ml"``, ``"HU"``, or ``""`` (unknown).
        path: the file or folder it was read from.
        description: free text from the file (NIfTI ``descrip``, DICOM ``SeriesDescription``).
    """

    data: np.ndarray
    affine: np.ndarray
    units: str = ""
    path: str = ""
    description: str = ""

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(X, Y, Z)`` voxels."""
        return tuple(self.data.shape)

    @property
    def voxel_sizes(self) -> np.ndarray:
        """float64 ``[3]``: the length in mm of one step along each voxel axis."""
        return np.linalg.norm(self.affine[:3, :3], axis=0)


def check_budget(path: os.PathLike | str, shape: tuple[int, ...], max_voxels: int) -> None:
    """Refuses a ``shape`` (from a header, before any data is read) over ``max_voxels`` voxels."""
    count = 1
    for size in shape:
        count *= int(size)  # Python ints: no overflow for hostile headers
    if count > max_voxels:
        dims = " x ".join(str(int(s)) for s in shape)
        raise ImageError(path, f"declares {dims} = {count:,} voxels, over the budget of {max_voxels:,} (max_voxels)")


def check_affine(path: os.PathLike | str, affine: np.ndarray) -> np.ndarray:
    """Returns ``affine`` as float64 ``[4, 4]`` or raises ImageError if it is not a usable
    voxel -> mm map: non-finite, bad last row, a zero/NaN voxel size, or (near-)singular
    (smallest over largest singular value of the 3x3 part below 1e-6)."""
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4):
        raise ImageError(path, f"affine has shape {affine.shape}; need 4 x 4")
    if not np.all(np.isfinite(affine)):
        raise ImageError(path, "affine has NaN or infinite entries")
    if not np.allclose(affine[3], [0.0, 0.0, 0.0, 1.0], rtol=0.0, atol=1e-6):
        raise ImageError(path, f"affine's last row is {affine[3].tolist()}; need [0, 0, 0, 1]")
    sizes = np.linalg.norm(affine[:3, :3], axis=0)
    if np.any(sizes <= 0.0):
        raise ImageError(path, f"degenerate affine: voxel sizes {np.round(sizes, 6).tolist()} mm include zero")
    singular = np.linalg.svd(affine[:3, :3], compute_uv=False)
    if singular[-1] <= 1e-6 * singular[0]:
        raise ImageError(path, f"degenerate affine (singular 3x3 part, singular values {np.round(singular, 6).tolist()})")
    return affine


def finite_float32(path: os.PathLike | str, data: np.ndarray) -> np.ndarray:
    """Raises ImageError if float32 ``data`` holds NaN or infinite voxels (after scaling, so a
    float64 value beyond float32's range counts as infinite)."""
    bad = data.size - int(np.count_nonzero(np.isfinite(data)))
    if bad:
        raise ImageError(path, f"contains {bad:,} NaN or infinite voxels (after scaling to float32)")
    return data
