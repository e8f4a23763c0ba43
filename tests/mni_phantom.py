"""Real anatomy for volume tests: the MNI152 template in ../shared/data/mni152 (read in place) and an
FDG-like PET simulated from its gray/white-matter maps with SciPy (the test side's own resampler).

The PET: uptake 4:1 gray to white matter (probabilities 0..1), blurred to about 7 mm FWHM, sampled
trilinearly on its own oblique grid (rotated about all three axes, 2-3 mm voxels, a field of view a
little smaller than the MRI's so some MRI voxels lie outside it), in Bq/ml, written as int16 with a
``scl_slope`` that nibabel chooses.
"""

from __future__ import annotations

import functools
import gzip
import os
import pathlib
import shutil

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

MNI_ROOT = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mni152"
T1, GM, WM = (f"mni_icbm152_{kind}_tal_nlin_sym_09a_converted.nii.gz" for kind in ("t1", "gm", "wm"))


def require_mni() -> pathlib.Path:
    """The template folder, or fail (CI) / skip (elsewhere) when a file is missing."""
    missing = [name for name in (T1, GM, WM) if not (MNI_ROOT / name).is_file()]
    if missing:
        message = f"test data missing: {MNI_ROOT} ({', '.join(missing)})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return MNI_ROOT


def block_mean(data: np.ndarray, step: int) -> np.ndarray:
    """Mean over ``step**3`` blocks (the remainder at the far ends dropped)."""
    if step == 1:
        return data.astype(np.float64)
    x, y, z = (n // step for n in data.shape[:3])
    cut = data[: x * step, : y * step, : z * step].astype(np.float64)
    return cut.reshape(x, step, y, step, z, step).mean(axis=(1, 3, 5))


def block_affine(affine: np.ndarray, step: int) -> np.ndarray:
    """The affine of :func:`block_mean`'s grid: each new voxel centre is its block's mean centre."""
    scale = np.diag([step, step, step, 1.0])
    scale[:3, 3] = (step - 1) / 2.0
    return affine @ scale


@functools.lru_cache(maxsize=4)
def mni(step: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(t1, gm, wm, affine)``: float64 volumes on the template grid block-averaged by ``step``
    (gm, wm as probabilities 0..1); the arrays are read-only (cached)."""
    folder = require_mni()
    images = [nib.load(folder / name) for name in (T1, GM, WM)]
    t1, gm, wm = (block_mean(np.asarray(image.dataobj), step) for image in images)
    gm, wm = gm / 255.0, wm / 255.0
    out = (t1, gm, wm, block_affine(images[0].affine, step))
    for array in out:
        array.setflags(write=False)
    return out


def rotation(angles_deg: tuple[float, float, float]) -> np.ndarray:
    """``Rz @ Ry @ Rx`` for angles (degrees) about x, y, z."""
    ax, ay, az = np.deg2rad(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def oblique_affine(shape, *, voxel_mm, angles_deg, centre_mm) -> np.ndarray:
    """A voxel -> RAS mm affine: rotated voxel axes of ``voxel_mm`` (scalar or 3), grid centre at ``centre_mm``."""
    affine = np.eye(4)
    affine[:3, :3] = rotation(angles_deg) @ np.diag(np.broadcast_to(np.asarray(voxel_mm, float), 3))
    affine[:3, 3] = np.asarray(centre_mm, float) - affine[:3, :3] @ ((np.asarray(shape, float) - 1) / 2)
    return affine


def simulate_pet(
    gm: np.ndarray,
    wm: np.ndarray,
    affine: np.ndarray,
    *,
    voxel_mm=(2.5, 2.5, 3.0),
    shape=None,
    angles_deg=(7.0, -5.0, 11.0),
    fwhm_mm: float = 7.0,
    bq_per_ml: float = 6000.0,
    noise: float = 0.02,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """An FDG-like PET of the anatomy ``gm``/``wm`` (probabilities on the grid of ``affine``).

    Returns:
        ``(pet, pet_affine)``: float64 Bq/ml on the PET's own oblique grid and its affine.
    """
    voxel_mm = np.broadcast_to(np.asarray(voxel_mm, float), 3)
    sizes = np.linalg.norm(affine[:3, :3], axis=0)
    uptake = 4.0 * gm + 1.0 * wm
    uptake = ndimage.gaussian_filter(uptake, sigma=fwhm_mm / 2.3548 / sizes, mode="constant")
    extent = (np.asarray(gm.shape) - 1) * sizes
    if shape is None:  # a field of view about 10% smaller than the MRI's on each axis
        shape = tuple(int(n) for n in np.floor(0.9 * extent / voxel_mm))
    centre = affine @ np.append((np.asarray(gm.shape) - 1) / 2, 1.0)
    pet_affine = oblique_affine(shape, voxel_mm=voxel_mm, angles_deg=angles_deg, centre_mm=centre[:3] + [1.5, -2.0, 1.0])
    grid = np.linalg.inv(affine) @ pet_affine
    pet = ndimage.affine_transform(uptake, grid[:3, :3], offset=grid[:3, 3], output_shape=shape, order=1, mode="constant")
    rng = np.random.default_rng(seed)
    pet = pet * (1.0 + noise * rng.standard_normal(pet.shape))
    return np.clip(pet, 0.0, None) * (bq_per_ml / 4.0), pet_affine


def save_int16(path: pathlib.Path, data: np.ndarray, affine: np.ndarray) -> pathlib.Path:
    """Writes ``data`` (>= 0) as NIfTI-1 int16 ``round(data / slope)`` with ``scl_slope = max / 32000``.

    nibabel itself stores small-range floats as unscaled integers, so the header's ``scl_slope``
    (bytes 112-115, float32) is set in the written file directly.
    """
    path = pathlib.Path(path)
    slope = float(np.max(data)) / 32000.0
    raw = np.round(np.asarray(data) / slope).astype(np.int16)
    plain = path.with_name(path.name.removesuffix(".gz"))
    nib.save(nib.Nifti1Image(raw, affine), plain)
    with open(plain, "r+b") as handle:
        handle.seek(112)
        handle.write(np.array([slope, 0.0], dtype="<f4").tobytes())
    if path.name.endswith(".gz"):
        with open(plain, "rb") as source, gzip.open(path, "wb") as target:
            shutil.copyfileobj(source, target)
        plain.unlink()
    stored = nib.load(path).dataobj.slope  # nibabel moves the scaling from the loaded header to the proxy
    assert np.isclose(stored, slope, rtol=1e-6), (stored, slope)
    return path


def save_float(path: pathlib.Path, data: np.ndarray, affine: np.ndarray) -> pathlib.Path:
    """Writes ``data`` as NIfTI float32."""
    nib.save(nib.Nifti1Image(np.asarray(data, np.float32), affine), path)
    return pathlib.Path(path)


def reoriented(data: np.ndarray, affine: np.ndarray, codes: str) -> tuple[np.ndarray, np.ndarray]:
    """The same image stored in another voxel order, given by its axis codes (``"LPS"``, ``"PIR"``,
    ...): axes permuted and flipped, with the affine that keeps every voxel at its world position."""
    transform = nib.orientations.ornt_transform(nib.io_orientation(affine), nib.orientations.axcodes2ornt(codes))
    moved = nib.orientations.apply_orientation(data, transform)
    moved_affine = affine @ nib.orientations.inv_ornt_aff(transform, data.shape)
    assert "".join(nib.aff2axcodes(moved_affine)) == codes
    return np.ascontiguousarray(moved), moved_affine
