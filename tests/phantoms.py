"""Registration test cases with known answers, built with NumPy/SciPy only (independent of jaxfuse).

3-D: the MNI ICBM152 2009a template (../shared/data/mni152) at 2 mm; an FDG-like PET simulated
from its gray/white-matter maps (uptake 4:1, Gaussian blur to ``fwhm`` mm, on its own oblique grid
of 2-3 mm voxels, Gaussian noise), seen through a known rigid transform. 2-D: Harvard PET-MRI
slices, the PET intensity moved by a known rigid transform with ``scipy.ndimage``.

Every transform here maps fixed (MRI) world mm to moving (PET) world mm, like jaxfuse's.
"""

from __future__ import annotations

import functools
import os
import pathlib

import numpy as np
import pytest
import scipy.ndimage as ndi

__all__ = [
    "MNI_ROOT",
    "require_mni",
    "mni_2mm",
    "rigid",
    "random_rigid",
    "simulate_pet",
    "move_slice",
    "displacement_mm",
]

MNI_ROOT = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mni152"
_FILES = {k: f"mni_icbm152_{k}_tal_nlin_sym_09a_converted.nii.gz" for k in ("t1", "gm", "wm")}


def require_mni() -> pathlib.Path:
    """The MNI folder, or fail (CI) / skip (elsewhere) when a file is missing."""
    missing = [n for n in _FILES.values() if not (MNI_ROOT / n).is_file()]
    if missing:
        message = f"test data missing: {MNI_ROOT} ({', '.join(missing)})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return MNI_ROOT


def _block_mean(x: np.ndarray, k: int = 2) -> np.ndarray:
    s = [n - n % k for n in x.shape]
    x = x[: s[0], : s[1], : s[2]]
    return x.reshape(s[0] // k, k, s[1] // k, k, s[2] // k, k).mean((1, 3, 5))


@functools.cache
def mni_2mm() -> dict:
    """T1, gray and white matter at 2 mm (2x2x2 block means, float64 in [0, 1]), their affine and
    the brain mask (gm + wm > 0.5)."""
    import nibabel as nib

    root = require_mni()
    out = {}
    for key, name in _FILES.items():
        img = nib.load(root / name)
        out[key] = _block_mean(np.asarray(img.dataobj, np.float64) / 255.0)
        affine = img.affine
    halve = np.diag([2.0, 2.0, 2.0, 1.0])
    halve[:3, 3] = 0.5  # new voxel k is the mean of old voxels 2k and 2k + 1
    out["affine"] = affine @ halve
    out["brain"] = (out["gm"] + out["wm"]) > 0.5
    return out


def rigid(angles_deg, translation_mm, centre_mm) -> np.ndarray:
    """4x4 (3-D) or 3x3 (2-D) ``y = R (x - c) + c + t``; 3-D ``R = Rz Ry Rx``."""
    a = np.deg2rad(np.atleast_1d(np.asarray(angles_deg, np.float64)))
    t = np.asarray(translation_mm, np.float64)
    c = np.asarray(centre_mm, np.float64)
    d = t.size
    if d == 2:
        r = np.array([[np.cos(a[0]), -np.sin(a[0])], [np.sin(a[0]), np.cos(a[0])]])
    else:
        cx, cy, cz = np.cos(a)
        sx, sy, sz = np.sin(a)
        rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
        r = rz @ ry @ rx
    m = np.eye(d + 1)
    m[:d, :d] = r
    m[:d, d] = c + t - r @ c
    return m


def random_rigid(rng: np.random.Generator, *, ndim: int, max_deg: float, max_mm: float, centre) -> np.ndarray:
    """A rigid transform with every angle uniform in +-max_deg and every shift in +-max_mm."""
    n_angles = 1 if ndim == 2 else 3
    return rigid(rng.uniform(-max_deg, max_deg, n_angles), rng.uniform(-max_mm, max_mm, ndim), centre)


def simulate_pet(
    transform: np.ndarray,
    rng: np.random.Generator,
    *,
    voxel_mm=(2.5, 2.5, 2.8),
    oblique_deg=(8.0, -5.0, 12.0),
    fwhm_mm: float = 7.0,
    noise: float = 0.05,
    shape: tuple[int, int, int] = (96, 96, 86),
) -> tuple[np.ndarray, np.ndarray]:
    """An FDG-like PET whose world point ``transform @ x`` shows the anatomy at MNI point ``x``.

    Returns:
        ``(pet [I, J, K] float32, affine [4, 4])``: uptake 4 (gray) : 1 (white) : 0, blurred to
        ``fwhm_mm``, sampled (cubic spline) on a ``shape`` grid of ``voxel_mm`` voxels centred on
        the template, its axes rotated by ``oblique_deg`` from RAS, plus Gaussian noise of ``noise``
        times the maximum.
    """
    mni = mni_2mm()
    uptake = 4.0 * mni["gm"] + 1.0 * mni["wm"]
    sigma_vox = fwhm_mm / (2.0 * np.sqrt(2.0 * np.log(2.0))) / 2.0
    uptake = ndi.gaussian_filter(uptake, sigma_vox, mode="constant")
    voxel = np.asarray(voxel_mm, np.float64)
    axes = rigid(oblique_deg, (0, 0, 0), (0, 0, 0))[:3, :3]
    affine = np.eye(4)
    affine[:3, :3] = axes * voxel
    centre_world = mni["affine"][:3, :3] @ ((np.array(mni["t1"].shape) - 1) / 2) + mni["affine"][:3, 3]
    affine[:3, 3] = centre_world - affine[:3, :3] @ ((np.array(shape) - 1) / 2)
    # PET voxel -> PET world -> MNI world (inverse motion) -> MNI 2 mm voxel.
    to_mni = np.linalg.inv(mni["affine"]) @ np.linalg.inv(transform) @ affine
    grid = np.indices(shape, dtype=np.float64).reshape(3, -1)
    coords = to_mni[:3, :3] @ grid + to_mni[:3, 3:]
    pet = ndi.map_coordinates(uptake, coords, order=3, mode="constant").reshape(shape)
    pet = pet + rng.normal(0.0, noise * uptake.max(), shape)
    return pet.astype(np.float32), affine


def move_slice(image: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """A 2-D image seen through ``transform`` (pixel coordinates): ``out(T x) = image(x)``."""
    inv = np.linalg.inv(transform)
    return ndi.affine_transform(image, inv[:2, :2], offset=inv[:2, 2], order=3, mode="constant")


def displacement_mm(a: np.ndarray, b: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``|A x - B x|`` at world points ``[N, d]`` (float64 NumPy)."""
    d = points.shape[1]
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return np.linalg.norm(points @ diff[:d, :d].T + diff[:d, d], axis=1)
