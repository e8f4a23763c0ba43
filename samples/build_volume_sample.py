"""Build the volume sample shipped with jaxfuse (``jaxfuse/data/volume_sample``), the input of ``jaxfuse demo``.

From the MNI ICBM152 2009a symmetric template (1 mm, 197 x 233 x 189; the copy in
``../shared/data/mni152``, from the ``nilearn==0.14.1`` wheel; see ``NOTICE.md`` for the licence,
which the files carry with them):

* ``mni152_t1_2mm.nii.gz``: the T1 averaged over 2 x 2 x 2 blocks (98 x 116 x 94, 2 mm, RAS,
  each voxel centre at its block's centre), rounded to uint8;
* ``fdg_sim_3mm.nii.gz``: an FDG-like PET simulated from the gray/white-matter maps: uptake 4:1 gray
  to white matter plus a small hot focus (a 12 mm sphere at 3x, in the patient's right frontal
  lobe, so the pictures show which side is which), blurred to 7 mm FWHM, sampled trilinearly onto
  its own grid of 3 mm voxels rotated by (7, -5, 11) degrees about x, y, z and stored in LPS voxel
  order (so the MRI and PET differ in grid, spacing, obliquity and voxel order), 2% Gaussian noise
  (fixed seed), in Bq/ml, as int16 with ``scl_slope``.

Usage (needs SciPy, a build-time dependency only)::

    python samples/build_volume_sample.py [--mni ../shared/data/mni152] [--out jaxfuse/data/volume_sample]

The test ``tests/volume/test_volume_sample.py`` rebuilds the arrays and compares them with the
shipped files.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import nibabel as nib
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the phantom helpers the tests use (SciPy based)

import mni_phantom  # noqa: E402

MRI_NAME, PET_NAME = "mni152_t1_2mm.nii.gz", "fdg_sim_3mm.nii.gz"
FOCUS_MM, FOCUS_RADIUS_MM, FOCUS_GAIN = (28.0, 40.0, 12.0), 6.0, 3.0


def build_arrays(mni_dir: pathlib.Path):
    """``(mri uint8, mri_affine, pet float64 Bq/ml, pet_affine)`` of the sample."""
    mni_phantom.MNI_ROOT = pathlib.Path(mni_dir)
    t1, gm, wm, affine = mni_phantom.mni(2)
    mri = np.round(t1).clip(0, 255).astype(np.uint8)
    index = np.indices(gm.shape).reshape(3, -1)
    world = (affine[:3, :3] @ index + affine[:3, 3:]).T.reshape(gm.shape + (3,))
    focus = np.linalg.norm(world - np.asarray(FOCUS_MM), axis=-1) <= FOCUS_RADIUS_MM
    hot_gm = np.where(focus, gm * FOCUS_GAIN + 0.5, gm)
    pet, pet_affine = mni_phantom.simulate_pet(hot_gm, wm, affine, voxel_mm=3.0, angles_deg=(7.0, -5.0, 11.0), seed=2022)
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])  # store in LPS-like voxel order: first two axes reversed
    flip[:2, 3] = np.asarray(pet.shape[:2]) - 1
    return mri, affine, pet[::-1, ::-1, :].copy(), pet_affine @ flip


def build(mni_dir: pathlib.Path, out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Writes the two sample files into ``out_dir``; returns their paths."""
    mri, mri_affine, pet, pet_affine = build_arrays(mni_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(mri, mri_affine)
    image.header["descrip"] = b"MNI ICBM152 2009a sym T1, 2 mm block mean"
    image.set_qform(mri_affine, code=4)
    image.set_sform(mri_affine, code=4)
    nib.save(image, out_dir / MRI_NAME)
    pet_path = mni_phantom.save_int16(out_dir / PET_NAME, pet, pet_affine)
    return [out_dir / MRI_NAME, pet_path]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mni", type=pathlib.Path, default=ROOT.parent / "shared" / "data" / "mni152")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "jaxfuse" / "data" / "volume_sample")
    args = parser.parse_args(argv)
    for path in build(args.mni, args.out):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
