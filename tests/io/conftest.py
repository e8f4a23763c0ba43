"""Fixtures for the volume readers: the MNI152 template in ../shared (read in place) and a PET
simulated from its gray/white-matter maps on its own oblique, anisotropic grid."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

MNI_ROOT = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mni152"
T1 = "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
GM = "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"
WM = "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz"

#: The simulated PET grid: voxel sizes (mm) differ on every axis, so a swapped axis or spacing
#: shows; rotated about two axes (oblique); shape covers the brain.
PET_SIZES = (2.5, 2.0, 3.0)
PET_SHAPE = (64, 80, 50)


def require_mni() -> pathlib.Path:
    """The MNI152 folder, or fail (CI) / skip (elsewhere) when a file is missing."""
    missing = [name for name in (T1, GM, WM) if not (MNI_ROOT / name).is_file()]
    if missing:
        message = f"test data missing: {MNI_ROOT} ({', '.join(missing)})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return MNI_ROOT


def rotation(degrees_x: float, degrees_z: float) -> np.ndarray:
    """float64 [3, 3]: rotation about x, then about z (right-handed, so the determinant is +1)."""
    ax, az = np.deg2rad(degrees_x), np.deg2rad(degrees_z)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ rx


@pytest.fixture(scope="session")
def mni_t1_path() -> pathlib.Path:
    return require_mni() / T1


@pytest.fixture(scope="session")
def pet_sim() -> dict[str, np.ndarray]:
    """A FDG-like PET in Bq/ml: float64 ``[64, 80, 50]`` on an oblique 2.5 x 2.0 x 3.0 mm grid.

    Uptake 4:1 gray to white matter (40 and 10 kBq/ml for probability 1), blurred to 7 mm FWHM on
    the template's 2 mm grid (the template sliced [::2, ::2, ::2]), then resampled trilinearly onto
    the PET grid through ``inv(A_template) @ A_pet``; zero outside the template.
    """
    import nibabel as nib
    from scipy import ndimage

    root = require_mni()
    gm_image = nib.load(root / GM)
    gm = np.asarray(gm_image.dataobj)[::2, ::2, ::2].astype(np.float64) / 255.0
    wm = np.asarray(nib.load(root / WM).dataobj)[::2, ::2, ::2].astype(np.float64) / 255.0
    template_affine = gm_image.affine @ np.diag([2.0, 2.0, 2.0, 1.0])
    activity = 40_000.0 * gm + 10_000.0 * wm
    blurred = ndimage.gaussian_filter(activity, sigma=7.0 / (2 * np.sqrt(2 * np.log(2))) / 2.0)

    pet_affine = np.eye(4)
    pet_affine[:3, :3] = rotation(12.0, -7.0) @ np.diag(PET_SIZES)
    centre_world = np.array([0.0, -18.0, 18.0])
    pet_affine[:3, 3] = centre_world - pet_affine[:3, :3] @ ((np.array(PET_SHAPE) - 1) / 2.0)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in PET_SHAPE], indexing="ij"), axis=0).reshape(3, -1)
    to_template = np.linalg.inv(template_affine) @ pet_affine
    coords = to_template[:3, :3] @ grid + to_template[:3, 3:]
    pet = ndimage.map_coordinates(blurred, coords, order=1, mode="constant", cval=0.0).reshape(PET_SHAPE)
    assert pet.max() > 10_000.0 and (pet > 0).mean() > 0.3  # the brain is inside the grid
    return {"bqml": pet, "affine": pet_affine}
