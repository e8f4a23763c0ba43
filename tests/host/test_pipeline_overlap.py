"""The folder pipeline's kernel thread and output formats (jaxfuse.pipeline, library level).

Stand-in fuse functions (NumPy) keep these to the pipeline's own logic: decoding goes on while a
kernel call runs (so the first call's compilation overlaps it), the kernel is called one batch at a
time in order, a failing batch is only its pairs' failure, and the codec-free formats hold the
pixels (the NIfTI file byte for byte as the volume writer makes it).
"""

from __future__ import annotations

import threading

import nibabel
import numpy as np
import pytest
from host import hostile_files as hf
from PIL import Image

import jaxfuse.pipeline as pipeline
from jaxfuse.io.outputs import OUTPUT_FORMATS, image_from_fused_nifti, write_output
from jaxfuse.io.volumes import write_rgb_nifti
from jaxfuse.pipeline import fuse_folder_pairs, pair_folders
from jaxfuse.volume.slicing import slices_to_volume


def _gray_to_rgb(mri, pet):
    return np.repeat(np.asarray(mri)[..., None], 3, axis=-1)


def _folders(tmp_path, count, size=24):
    mri_dir, pet_dir = tmp_path / "MRI", tmp_path / "PET"
    mri_dir.mkdir()
    pet_dir.mkdir()
    for i in range(count):
        hf.save_image(mri_dir / f"{i:03d}.png", hf.good_mri(size, seed=i))
        hf.save_image(pet_dir / f"{i:03d}.png", hf.good_pet(size, seed=i))
    return mri_dir, pet_dir


def test_decoding_goes_on_while_the_first_kernel_call_runs(tmp_path, monkeypatch):
    mri_dir, pet_dir = _folders(tmp_path, 24)
    jobs, _ = pair_folders(mri_dir, pet_dir, tmp_path / "OUT")
    reads, enough = [0], threading.Event()
    real_read = pipeline.read_pair

    def read(*args, **kwargs):
        result = real_read(*args, **kwargs)
        reads[0] += 1
        if reads[0] >= 16:  # four batches of 4: more than the batch and one read-ahead batch
            enough.set()
        return result

    waited = []

    def fuse(mri, pet):  # the first call stands for a compilation: it returns once decoding got ahead
        if not waited:
            waited.append(enough.wait(timeout=30))
        return _gray_to_rgb(mri, pet)

    monkeypatch.setattr(pipeline, "read_pair", read)
    report = fuse_folder_pairs(jobs, fuse, batch_size=4, workers=2)
    assert waited == [True], "decoding stopped while the kernel ran"
    assert report.fused == 24 and not report.failures
    for i in range(24):
        np.testing.assert_array_equal(
            np.asarray(Image.open(tmp_path / "OUT" / f"{i:03d}.png"))[..., 0], hf.good_mri(24, seed=i)
        )


def test_kernel_calls_are_one_at_a_time_in_order_and_a_failing_batch_fails_alone(tmp_path):
    mri_dir, pet_dir = _folders(tmp_path, 10)
    jobs, _ = pair_folders(mri_dir, pet_dir, tmp_path / "OUT")
    running, most, seen = [0], [0], []
    lock = threading.Lock()

    def fuse(mri, pet):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            seen.append(int(mri[0, 0, 0]))
            if len(seen) == 2:
                raise RuntimeError("RESOURCE_EXHAUSTED (simulated)")
            return _gray_to_rgb(mri, pet)
        finally:
            with lock:
                running[0] -= 1

    report = fuse_folder_pairs(jobs, fuse, batch_size=3, workers=2)
    assert most[0] == 1 and len(seen) == 4  # 3 + 3 + 3 + 1 padded
    assert seen == [int(hf.good_mri(24, seed=i)[0, 0]) for i in (0, 3, 6, 9)]  # batch order kept
    assert report.fused == 7 and sorted(name for name, _ in report.failures) == ["003.png", "004.png", "005.png"]
    assert all("fusing failed (RuntimeError: RESOURCE_EXHAUSTED (simulated))" in why for _, why in report.failures)
    assert sorted(p.name for p in (tmp_path / "OUT").iterdir()) == [f"{i:03d}.png" for i in (0, 1, 2, 6, 7, 8, 9)]


@pytest.mark.parametrize("form", sorted(OUTPUT_FORMATS))
def test_every_format_writes_the_fused_pixels(tmp_path, form):
    mri_dir, pet_dir = _folders(tmp_path, 5)
    jobs, _ = pair_folders(mri_dir, pet_dir, tmp_path / "OUT", suffix=OUTPUT_FORMATS[form])
    report = fuse_folder_pairs(jobs, _gray_to_rgb, batch_size=2, workers=2, output_format=form)
    assert report.fused == 5 and not report.failures
    for i in range(5):
        path = tmp_path / "OUT" / f"{i:03d}{OUTPUT_FORMATS[form]}"
        if form == "png":
            image = np.asarray(Image.open(path))
        elif form == "npy":
            image = np.load(path, allow_pickle=False)
        else:
            image = image_from_fused_nifti(nibabel.load(path))
        np.testing.assert_array_equal(image, _gray_to_rgb(hf.good_mri(24, seed=i), None))


@pytest.mark.parametrize("shape", [(256, 256), (5, 7), (31, 300)])
def test_nifti_output_is_the_volume_writers_file_byte_for_byte(tmp_path, shape):
    image = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    write_output(tmp_path / "fast.nii", image, format="nifti")
    volume = slices_to_volume(image[None], axis="axial")
    write_rgb_nifti(tmp_path / "volume.nii", volume, np.eye(4), description="jaxfuse fused 2-D image", compress_level=0)
    assert (tmp_path / "fast.nii").read_bytes() == (tmp_path / "volume.nii").read_bytes()
    loaded = nibabel.load(tmp_path / "fast.nii")
    np.testing.assert_array_equal(image_from_fused_nifti(loaded), image)
    # the top-left pixel is the patient's anterior right: the largest x (towards R) and y (towards A)
    rgb = np.stack([np.asarray(loaded.dataobj)[c] for c in "RGB"], axis=-1)
    np.testing.assert_array_equal(rgb[shape[1] - 1, shape[0] - 1, 0], image[0, 0])


def test_write_output_refuses_what_it_cannot_write(tmp_path):
    for form in ("npy", "nifti"):
        with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\]"):
            write_output(tmp_path / f"x.{form}", np.zeros((4, 4), np.uint8), format=form)
    with pytest.raises(ValueError, match="format must be one of"):
        write_output(tmp_path / "x.tif", np.zeros((4, 4, 3), np.uint8), format="tiff")
    assert list(tmp_path.iterdir()) == []


def test_invalid_format_and_level_are_refused_before_reading(tmp_path):
    mri_dir, pet_dir = _folders(tmp_path, 1)
    jobs, _ = pair_folders(mri_dir, pet_dir, tmp_path / "OUT")
    for kwargs, message in [({"output_format": "tiff"}, "output_format"), ({"png_level": 10}, "png_level")]:
        with pytest.raises(ValueError, match=message):
            fuse_folder_pairs(jobs, _gray_to_rgb, **kwargs)
    assert not (tmp_path / "OUT").exists()
