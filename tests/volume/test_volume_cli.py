"""End-to-end tests of the volume command line: ``jaxfuse fuse`` on NIfTI files and DICOM folders,
folder mode, slice PNGs and montage, a scalar 2-D functional image with ``--pet-cmap``, the volume
demo, and one-line errors. The MRI is the MNI152 T1 at 4 mm (49 x 58 x 47) so each run is quick;
the PET is simulated from its tissue maps on an oblique 5 mm grid (tests/mni_phantom.py).
"""

from __future__ import annotations

import importlib.util
import pathlib
import warnings

import jax.numpy as jnp
import nibabel as nib
import numpy as np
import pytest
from mni_phantom import mni, save_float, save_int16, simulate_pet
from PIL import Image

import jaxfuse
from jaxfuse.cli import main
from jaxfuse.io import read_volume
from jaxfuse.volume.fuse import fuse_volumes
from jaxfuse.volume.windows import colour_scalar_image, parse_window

RGB24 = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_rgb_nifti(path) -> tuple[np.ndarray, np.ndarray, str]:
    image = nib.load(path)
    assert image.get_data_dtype() == RGB24
    data = np.asarray(image.dataobj)
    rgb = np.stack([data["R"], data["G"], data["B"]], axis=-1)
    return rgb, image.affine, bytes(image.header["descrip"]).rstrip(b"\0").decode()


def assert_one_error_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxfuse: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    t1, gm, wm, affine = mni(4)
    pet, pet_affine = simulate_pet(gm, wm, affine, voxel_mm=5.0, seed=5)
    folder = tmp_path_factory.mktemp("volumes")
    return {
        "mri": save_float(folder / "t1.nii.gz", t1, affine),
        "pet": save_int16(folder / "pet.nii.gz", pet, pet_affine),
        "pet_values": pet,
        "pet_affine": pet_affine,
        "folder": folder,
    }


def test_fuse_nifti_pair_with_slices_and_montage(volumes, tmp_path, capsys):
    out = tmp_path / "fused.nii.gz"
    code, stdout, err = run_cli(
        capsys, "fuse", volumes["mri"], volumes["pet"], "-o", out, "--pet-cmap", "hot", "--pet-window", "p1,p99",
        "--axis", "coronal", "--slices-dir", tmp_path / "slices", "--montage", tmp_path / "montage.png",
        "--batch-size", "16", "--progress", "on",
    )
    assert code == 0, err
    assert f"wrote {out}" in stdout and "coronal" in stdout
    assert "slices" in err  # the progress bar, over slice chunks
    rgb, affine, description = read_rgb_nifti(out)
    mri = nib.load(volumes["mri"])
    np.testing.assert_allclose(affine, mri.affine, atol=1e-5)
    want = fuse_volumes(volumes["mri"], volumes["pet"], pet_cmap="hot", pet_window="p1,p99", axis="coronal")
    np.testing.assert_array_equal(rgb, want.rgb)
    assert description == want.description and "hot" in description and "coronal" in description
    pngs = sorted((tmp_path / "slices").iterdir())
    assert len(pngs) == mri.shape[1]  # coronal: one PNG per anterior-posterior position
    np.testing.assert_array_equal(np.asarray(Image.open(pngs[20])), want.slices()[20])
    with Image.open(tmp_path / "montage.png") as picture:
        assert picture.mode == "RGB" and picture.width > 400 and picture.height > 300


def _dicom_writer():
    """``write_series`` of the DICOM reader's tests (pydicom, one int16 file per slice)."""
    path = pathlib.Path(__file__).resolve().parents[1] / "io" / "test_dicom.py"
    spec = importlib.util.spec_from_file_location("_dicom_series_writer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_series


def test_fuse_dicom_pet_folder_gives_the_nifti_picture(volumes, tmp_path, capsys):
    folder = tmp_path / "pet_dicom"
    stored = _dicom_writer()(folder, volumes["pet_values"], volumes["pet_affine"])
    out = tmp_path / "fused.nii"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the writer's tags give SUVbw; nothing to warn, but keep quiet
        code, stdout, err = run_cli(capsys, "fuse", volumes["mri"], folder, "-o", out)
    assert code == 0, err
    assert "SUVbw" in stdout
    rgb, _, description = read_rgb_nifti(out)
    assert "SUVbw" in description
    # SUVbw is Bq/ml times one factor, and the window is percentiles: the same picture as the
    # NIfTI of the stored values, but for values a float32 rounding apart at a LUT edge
    nifti = save_float(tmp_path / "stored.nii.gz", stored, volumes["pet_affine"])
    want = fuse_volumes(volumes["mri"], nifti).rgb
    assert np.mean(np.all(rgb == want, axis=-1)) > 0.999
    assert read_volume(folder).units == "SUVbw"


def test_folder_mode_pairs_volumes_by_name(volumes, tmp_path, capsys):
    mri_dir, pet_dir, out_dir = tmp_path / "mri", tmp_path / "pet", tmp_path / "out"
    mri_dir.mkdir(), pet_dir.mkdir()
    for name in ("a", "b"):
        (mri_dir / f"{name}.nii.gz").write_bytes(volumes["mri"].read_bytes())
    (pet_dir / "a.nii.gz").write_bytes(volumes["pet"].read_bytes())
    _dicom_writer()(pet_dir / "b", volumes["pet_values"], volumes["pet_affine"])  # a DICOM folder named b
    (pet_dir / "c.nii.gz").write_bytes(volumes["pet"].read_bytes())  # no partner
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, stdout, err = run_cli(
            capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir, "--montage", tmp_path / "m"
        )
    assert code == 1  # c failed
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.nii.gz", "b.nii.gz"]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["a.png", "b.png"]
    assert "fused 2 volume pairs, skipped 0, failed 1" in stdout
    assert err.strip().splitlines()[-1].startswith("jaxfuse: failed c: ") and "no partner volume named c" in err
    np.testing.assert_array_equal(read_rgb_nifti(out_dir / "a.nii.gz")[0], fuse_volumes(volumes["mri"], volumes["pet"]).rgb)
    code, stdout, _ = run_cli(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir, "--skip-existing")
    assert "fused 0 volume pairs, skipped 2, failed 1" in stdout


def test_scalar_2d_functional_image_is_coloured_by_pet_cmap(tmp_path, capsys):
    rng = np.random.default_rng(0)
    mri = rng.integers(0, 256, (48, 40), dtype=np.uint8)
    pet = (np.linspace(0, 1, 40)[None, :] * np.linspace(0.2, 1, 48)[:, None] * 60000).astype(np.uint16)
    Image.fromarray(mri).save(tmp_path / "mri.png")
    np.save(tmp_path / "pet.npy", pet)
    code, _, err = run_cli(capsys, "fuse", tmp_path / "mri.png", tmp_path / "pet.npy", "-o", tmp_path / "f.png",
                           "--pet-cmap", "hot_iron", "--pet-window", "p2,p98")
    assert code == 0, err
    coloured = colour_scalar_image(pet, cmap="hot_iron", window_spec=parse_window("p2,p98"))
    want = np.asarray(jaxfuse.fuse(mri, coloured, output_dtype=jnp.uint8))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "f.png")), want)
    # an RGB functional image with --pet-cmap is refused, naming it
    Image.fromarray((np.zeros((48, 40, 3)) + [10, 20, 30]).astype(np.uint8)).save(tmp_path / "rgb.png")
    code, _, err = run_cli(capsys, "fuse", tmp_path / "mri.png", tmp_path / "rgb.png", "-o", tmp_path / "g.png",
                           "--pet-cmap", "pet")
    assert code == 1  # an input that cannot be used
    assert_one_error_line(err, str(tmp_path / "rgb.png"), "scalar (gray)")


@pytest.mark.parametrize(
    "make_argv, code, needles",
    [
        (lambda v, t: [v["mri"], v["pet"], "-o", t / "fused.png"], 2, ["-o FUSED.nii.gz"]),
        (lambda v, t: [v["mri"], v["pet"], "-o", t / "f.nii.gz", "--resize", "64"], 2, ["--resize applies to 2-D"]),
        (lambda v, t: [v["mri"], v["pet"], "-o", t / "f.nii.gz", "--method", "dwt", "--a", "0.5"], 2,
         ["--a applies to --method vgg19 only"]),
        (lambda v, t: [v["mri"], t / "pet.png", "-o", t / "f.nii.gz"], 1, ["pet.png", "both inputs must be volumes"]),
        (lambda v, t: [v["mri"], t / "missing.nii.gz", "-o", t / "f.nii.gz"], 1, ["missing.nii.gz", "no such file"]),
        (lambda v, t: [v["mri"], v["far"], "-o", t / "f.nii.gz"], 1, ["far.nii.gz", "no overlap with the MRI"]),
        (lambda v, t: [v["mri"], v["pet"], "-o", t / "f.nii.gz", "--frame", "1"], 1, ["pet.nii.gz", "frame"]),
        (lambda v, t: [v["mri"], v["pet"], "-o", v["mri"]], 3, ["t1.nii.gz", "inputs are never overwritten"]),
        (lambda v, t: [v["mri"], v["pet"], "-o", t / "nowhere" / "f.nii.gz"], 3, ["does not exist"]),
    ],
)
def test_errors_are_one_line(volumes, tmp_path, capsys, make_argv, code, needles):
    pet = nib.load(volumes["pet"])
    far = pet.affine.copy()
    far[:3, 3] -= 400.0
    volumes = dict(volumes, far=save_float(tmp_path / "far.nii.gz", pet.get_fdata(), far))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "pet.png")
    got, stdout, err = run_cli(capsys, "fuse", *make_argv(volumes, tmp_path))
    assert got == code and stdout == "", err
    assert_one_error_line(err, *needles)
    assert not (tmp_path / "f.nii.gz").exists()


def test_bad_window_is_a_usage_error(volumes, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["fuse", str(volumes["mri"]), str(volumes["pet"]), "-o", str(tmp_path / "f.nii.gz"), "--pet-window", "p9,p1"])
    assert info.value.code == 2
    assert "--pet-window" in capsys.readouterr().err


def test_demo_fuses_the_shipped_volume_sample(tmp_path, capsys):
    code, stdout, err = run_cli(capsys, "demo", "--out-dir", tmp_path / "demo")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["fused.nii.gz", "montage.png"]
    rgb, affine, description = read_rgb_nifti(tmp_path / "demo" / "fused.nii.gz")
    assert rgb.shape == (98, 116, 94, 3) and description.startswith("jaxfuse vgg19 axial")
    np.testing.assert_allclose(affine[:3, :3], 2.0 * np.eye(3), atol=1e-6)
    assert rgb[30:70, 30:90, 30:70].mean() > 40  # the brain is coloured, not black
    with Image.open(tmp_path / "demo" / "montage.png") as picture:
        assert picture.mode == "RGB" and picture.width > 600


def _two_pair_folders(volumes, tmp_path):
    mri_dir, pet_dir = tmp_path / "mri", tmp_path / "pet"
    mri_dir.mkdir(), pet_dir.mkdir()
    for name in ("a", "b", "c"):
        (mri_dir / f"{name}.nii.gz").write_bytes(volumes["mri"].read_bytes())
        (pet_dir / f"{name}.nii.gz").write_bytes(volumes["pet"].read_bytes())
    return mri_dir, pet_dir, tmp_path / "out"


@pytest.mark.parametrize(
    ("error", "needle"),
    [
        (RuntimeError("XLA ran out of memory"), "b: fusing failed (RuntimeError: XLA ran out of memory)"),
        (PermissionError(13, "Permission denied"), "b: Permission denied"),
        (ValueError("method dwt cannot fuse 7x9 slices"), "b: method dwt cannot fuse 7x9 slices"),
    ],
)
def test_folder_mode_goes_on_past_any_failure_of_one_pair(volumes, tmp_path, capsys, monkeypatch, error, needle):
    """Whatever goes wrong with one volume pair is that pair's failure: the others are written, the
    summary counts it, one line on stderr names it, and the exit code is 1."""
    import jaxfuse.volume.fuse

    mri_dir, pet_dir, out_dir = _two_pair_folders(volumes, tmp_path)
    real = jaxfuse.volume.fuse.fuse_volumes

    def fails_on_b(mri, pet, **options):
        if pathlib.Path(getattr(mri, "path", mri)).name == "b.nii.gz":  # folder mode hands the MRI read
            raise error
        return real(mri, pet, **options)

    monkeypatch.setattr(jaxfuse.volume.fuse, "fuse_volumes", fails_on_b)
    code, stdout, err = run_cli(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir)
    assert code == 1
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.nii.gz", "c.nii.gz"]
    assert "fused 2 volume pairs, skipped 0, failed 1" in stdout
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxfuse: failed b: ") and needle in lines[0], err


def test_folder_mode_stops_on_a_full_disk(volumes, tmp_path, capsys, monkeypatch):
    import errno
    import os

    import jaxfuse.io.volumes

    mri_dir, pet_dir, out_dir = _two_pair_folders(volumes, tmp_path)

    def full(*args, **kwargs):
        yield b"\x1f\x8b partial"
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(jaxfuse.io.volumes, "gzip_chunks", full)
    code, stdout, err = run_cli(capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "no space left on device; the run stopped" in lines[0], err
    assert list(out_dir.iterdir()) == []  # nothing half-written: the temporary went, no second pair tried
    assert "fused" not in stdout
