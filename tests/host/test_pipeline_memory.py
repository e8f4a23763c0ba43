"""The folder pipeline's memory bounds and run-level stops (jaxfuse.pipeline, library level).

A stand-in fuse function (NumPy: the MRI copied into three channels) keeps these tests to the
pipeline's own logic: batch sizes capped by pixels, decoded pairs held bounded when many shapes
are mixed, and the run stopped with the folder named when the output folder disappears.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from host import hostile_files as hf
from PIL import Image

import jaxfuse.io.outputs as outputs
import jaxfuse.pipeline as pipeline
from jaxfuse.io.atomic import OutputError
from jaxfuse.pipeline import fuse_folder_pairs, pair_folders


def _gray_to_rgb(mri, pet):
    return np.repeat(np.asarray(mri)[..., None], 3, axis=-1)


def _folders(tmp_path, sizes):
    mri_dir, pet_dir = tmp_path / "MRI", tmp_path / "PET"
    mri_dir.mkdir()
    pet_dir.mkdir()
    for i, size in enumerate(sizes):
        hf.save_image(mri_dir / f"{i:03d}.png", hf.good_mri(size, seed=i))
        hf.save_image(pet_dir / f"{i:03d}.png", hf.good_pet(size, seed=i))
    return mri_dir, pet_dir


def test_kernel_batches_are_capped_by_pixels(tmp_path):
    mri_dir, pet_dir = _folders(tmp_path, [32] * 10)
    jobs, failures = pair_folders(mri_dir, pet_dir, tmp_path / "OUT")
    calls = []

    def fuse(mri, pet):
        calls.append(mri.shape)
        return _gray_to_rgb(mri, pet)

    report = fuse_folder_pairs(jobs, fuse, batch_size=8, batch_pixels=3 * 32 * 32, workers=2)
    assert report.fused == 10 and not report.failures and not failures
    assert calls == [(3, 32, 32)] * 4  # 3 + 3 + 3 + 1 padded to 3: never the 8 asked for
    for i in range(10):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "OUT" / f"{i:03d}.png"))[..., 0], hf.good_mri(32, seed=i))


def test_decoded_pairs_held_stay_bounded_with_many_shapes(tmp_path, monkeypatch):
    sizes = list(range(16, 46))  # 30 shapes, one pair each: no batch ever fills
    budget = 2000
    mri_dir, pet_dir = _folders(tmp_path, sizes)
    jobs, _ = pair_folders(mri_dir, pet_dir, tmp_path / "OUT")
    held, peak = [0], [0]
    real_read, real_write = pipeline.read_pair, outputs.write_png

    def read(*args, **kwargs):
        mri, pet = real_read(*args, **kwargs)
        held[0] += mri.size
        peak[0] = max(peak[0], held[0])
        return mri, pet

    def write(path, image, **kwargs):
        held[0] -= image.shape[0] * image.shape[1]
        return real_write(path, image, **kwargs)

    monkeypatch.setattr(pipeline, "read_pair", read)
    monkeypatch.setattr(outputs, "write_png", write)
    report = fuse_folder_pairs(jobs, _gray_to_rgb, batch_size=8, batch_pixels=budget, workers=2)
    assert report.fused == len(sizes) and not report.failures
    total = sum(s * s for s in sizes)
    # read-ahead being decoded + the batch being consumed + partial batches waiting, each <= budget,
    # plus one pair over the budget at most where a single pair is larger
    assert peak[0] <= 3 * budget + 45 * 45 < total, (peak[0], total)


def test_output_folder_disappearing_stops_the_run_naming_it(tmp_path):
    mri_dir, pet_dir = _folders(tmp_path, [32] * 12)
    out_dir = tmp_path / "OUT"
    jobs, _ = pair_folders(mri_dir, pet_dir, out_dir)
    calls = []

    def fuse(mri, pet):
        calls.append(1)
        if len(calls) == 2:
            # batch 1's writes may be running on the pool meanwhile: a single rmtree can race them
            # (a temp file renamed under it, or created after its listing), so remove until gone
            while out_dir.exists():
                shutil.rmtree(out_dir, ignore_errors=True)
        return _gray_to_rgb(mri, pet)

    with pytest.raises(OutputError, match="the output folder disappeared during the run; the run stopped") as info:
        fuse_folder_pairs(jobs, fuse, batch_size=4, workers=1)
    assert info.value.path == str(out_dir)
    assert not out_dir.exists()  # not silently re-created


def test_invalid_options_are_refused(tmp_path):
    mri_dir, pet_dir = _folders(tmp_path, [32])
    jobs, _ = pair_folders(mri_dir, pet_dir, tmp_path / "OUT")
    for kwargs, message in [({"batch_size": 0}, "batch_size"), ({"workers": 0}, "workers"), ({"resize": (2, 2)}, "resize")]:
        with pytest.raises(ValueError, match=message):
            fuse_folder_pairs(jobs, _gray_to_rgb, **kwargs)
    assert not (tmp_path / "OUT").exists()
