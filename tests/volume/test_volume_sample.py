"""The shipped volume sample (``jaxfuse/data/volume_sample``): what the builder makes, with the
template's licence notice reproduced beside it."""

from __future__ import annotations

import importlib.resources
import importlib.util
import pathlib

import nibabel as nib
import numpy as np
from mni_phantom import MNI_ROOT, require_mni

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = importlib.resources.files("jaxfuse") / "data" / "volume_sample"


def _builder():
    spec = importlib.util.spec_from_file_location("build_volume_sample", ROOT / "samples" / "build_volume_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _quoted_notice(text: str) -> str:
    start = text.index("> Copyright (C) 1993-2009 Louis Collins")
    end = text.index("software package.", start) + len("software package.")
    return text[start:end]


def test_notice_reproduces_the_template_licence():
    require_mni()
    notice = (SAMPLE / "NOTICE.md").read_text(encoding="utf-8")
    source = (MNI_ROOT / "README.md").read_text(encoding="utf-8")
    assert _quoted_notice(notice) == _quoted_notice(source)
    for name in ("mni152_t1_2mm.nii.gz", "fdg_sim_3mm.nii.gz"):
        assert name in notice


def test_shipped_files_are_what_the_builder_makes():
    require_mni()
    mri, mri_affine, pet, pet_affine = _builder().build_arrays(MNI_ROOT)
    shipped_mri, shipped_pet = (nib.load(SAMPLE / name) for name in ("mni152_t1_2mm.nii.gz", "fdg_sim_3mm.nii.gz"))
    np.testing.assert_array_equal(np.asarray(shipped_mri.dataobj), mri)
    np.testing.assert_allclose(shipped_mri.affine, mri_affine, atol=1e-6)
    np.testing.assert_allclose(shipped_pet.affine, pet_affine, atol=1e-5)
    assert shipped_pet.get_data_dtype() == np.int16 and shipped_pet.dataobj.slope != 1.0
    slope = shipped_pet.dataobj.slope
    np.testing.assert_allclose(shipped_pet.get_fdata(), pet, atol=slope / 2 + 1e-6 * pet.max())
    # the pair differs in grid, spacing, obliquity and voxel order
    assert nib.aff2axcodes(shipped_mri.affine) == ("R", "A", "S")
    assert nib.aff2axcodes(shipped_pet.affine) == ("L", "P", "S")
    np.testing.assert_allclose(np.linalg.norm(shipped_pet.affine[:3, :3], axis=0), 3.0)
    assert abs(shipped_pet.affine[0, 1]) > 0.1  # oblique


def test_sample_is_small():
    sizes = [(SAMPLE / name).stat().st_size for name in ("mni152_t1_2mm.nii.gz", "fdg_sim_3mm.nii.gz")]
    assert sum(sizes) < 1_000_000
