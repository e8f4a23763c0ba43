"""``jaxfuse fuse --register rigid / --transform-in / --transform-out``, end to end through ``main``.

Volumes: the MNI T1 at 2 mm against an FDG-like PET simulated (SciPy, tests/phantoms.py) on its own
oblique 2.5-2.8 mm grid and moved by a known rigid transform. 2-D: a Harvard PET-MRI pair, its PET moved
by a known rotation and shift. Every registering run in this file has one of two shapes, so the
registration compiles once per dimension (the costly part: about 15 s each on 2 cores), and the
shapes are those of test_register.py (the 3-D MNI case and the single 2-D 256x256 call), so a
suite run compiles them once for both files.
"""

from __future__ import annotations

import pathlib

import nibabel as nib
import numpy as np
import pytest
from conftest import require_data
from mni_phantom import save_float
from phantoms import displacement_mm, mni_2mm, move_slice, rigid, simulate_pet
from PIL import Image
from scipy import ndimage as ndi

from jaxfuse.cli import EXIT_INPUT, EXIT_USAGE, main
from jaxfuse.io import read_volume
from jaxfuse.io._volume import Volume
from jaxfuse.io.transforms import RIGID_TOLERANCE, read_transform, write_transform
from jaxfuse.registration.cli import warp_image
from jaxfuse.volume.fuse import fuse_volumes

HARVARD_PAIR = "25015.png"
WINDOW = ("--pet-window", "0,3.5")  # one PET window for every run compared (percentiles move with the field of view)


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str, *needles) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxfuse: error: "), err
    for needle in needles:
        assert str(needle) in lines[0], (needle, lines[0])
    return lines[0]


def rgb_of(path) -> np.ndarray:
    data = np.asarray(nib.load(path).dataobj)
    return np.stack([data["R"], data["G"], data["B"]], -1)


# -- volumes ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    """The MNI T1 at 2 mm and a PET whose world point ``truth @ x`` shows the anatomy at MRI point x
    (test_register.py's shapes and dtypes, so a suite run compiles the registration once)."""
    mni = mni_2mm()
    centre = mni["affine"][:3, :3] @ ((np.array(mni["t1"].shape) - 1) / 2) + mni["affine"][:3, 3]
    truth = rigid((4.0, -3.0, 6.0), (5.0, -4.0, 3.0), centre)
    pet, pet_affine = simulate_pet(truth, np.random.default_rng(0))
    folder = tmp_path_factory.mktemp("reg_volumes")
    np.savetxt(folder / "truth.txt", truth)
    return {
        "mri": save_float(folder / "t1.nii.gz", mni["t1"].astype(np.float32), mni["affine"]),
        "pet": save_float(folder / "pet.nii.gz", pet, pet_affine),
        "truth": truth,
        "truth_file": folder / "truth.txt",
        "brain": (mni["affine"][:3, :3] @ np.argwhere(mni["brain"]).T + mni["affine"][:3, 3:]).T,
        "folder": folder,
    }


@pytest.fixture(scope="module")
def registered_volume(volumes, tmp_path_factory):
    out = tmp_path_factory.mktemp("reg_volume_out")
    main_args = [volumes["mri"], volumes["pet"], "-o", out / "fused.nii.gz", "--register", "rigid", *WINDOW]
    code = main(["fuse", *map(str, main_args), "--transform-out", str(out / "T.txt")])
    return code, out / "fused.nii.gz", out / "T.txt"


@pytest.mark.slow
def test_register_rigid_recovers_the_volume_motion_and_writes_the_transform(volumes, registered_volume):
    code, fused, transform_file = registered_volume
    assert code == 0
    found = np.loadtxt(transform_file)
    assert found.shape == (4, 4)
    np.testing.assert_array_equal(found[3], [0, 0, 0, 1])
    err = displacement_mm(found, volumes["truth"], volumes["brain"])
    assert err.mean() < 1.0 and err.max() < 2.0, (err.mean(), err.max())
    image = nib.load(fused)
    np.testing.assert_allclose(image.affine, nib.load(volumes["mri"]).affine)
    assert image.shape == nib.load(volumes["mri"]).shape


@pytest.mark.slow
def test_transform_in_reproduces_the_registered_run(volumes, registered_volume, tmp_path, capsys):
    _, fused, transform_file = registered_volume
    again = tmp_path / "again.nii.gz"
    code, out, err = run_cli(
        capsys, "fuse", volumes["mri"], volumes["pet"], "-o", again, "--transform-in", transform_file, *WINDOW
    )
    assert code == 0, err
    assert f"applied {transform_file}" in out
    np.testing.assert_array_equal(rgb_of(again), rgb_of(fused))  # the file holds the transform exactly
    known = tmp_path / "known.nii.gz"
    code, _, err = run_cli(
        capsys, "fuse", volumes["mri"], volumes["pet"], "-o", known, "--transform-in", volumes["truth_file"], *WINDOW
    )
    assert code == 0, err
    diff = np.abs(rgb_of(known).astype(int) - rgb_of(fused).astype(int))
    assert np.mean(diff) < 1.0 and np.mean(diff > 16) < 0.01, (np.mean(diff), np.mean(diff > 16))
    plain = tmp_path / "plain.nii.gz"
    assert main(["fuse", str(volumes["mri"]), str(volumes["pet"]), "-o", str(plain), *WINDOW]) == 0
    assert np.mean(np.abs(rgb_of(plain).astype(int) - rgb_of(fused).astype(int))) > 4 * np.mean(
        diff
    )  # unregistered is far off


def test_fuse_volumes_transform_is_the_pet_affine_moved(volumes):
    """``transform=T`` samples the PET at ``T @ x``: the same as giving the PET the affine ``inv(T) @ A``."""
    mri, pet = read_volume(volumes["mri"]), read_volume(volumes["pet"])
    truth = volumes["truth"]
    moved = Volume(data=pet.data, affine=np.linalg.inv(truth) @ pet.affine, path="moved")
    with_transform = fuse_volumes(mri, pet, transform=truth, pet_window=(0.0, 3.0))
    by_affine = fuse_volumes(mri, moved, pet_window=(0.0, 3.0))
    diff = np.abs(with_transform.rgb.astype(int) - by_affine.rgb.astype(int))
    assert diff.max() <= 2 and np.mean(diff > 0) < 0.01  # float32 rounding of two equal voxel maps
    identity = fuse_volumes(mri, pet, transform=np.eye(4), pet_window=(0.0, 3.0))
    np.testing.assert_array_equal(identity.rgb, fuse_volumes(mri, pet, pet_window=(0.0, 3.0)).rgb)
    with pytest.raises(ValueError, match="last row"):
        fuse_volumes(mri, pet, transform=np.ones((4, 4)))
    far = np.eye(4)
    far[:3, 3] = 1000.0
    with pytest.raises(ValueError, match="no overlap.*through the transform"):
        fuse_volumes(mri, pet, transform=far)


@pytest.mark.slow
def _volume_folders(volumes, tmp_path, names) -> tuple[pathlib.Path, pathlib.Path]:
    """An MRI and a PET folder holding the test pair under each of ``names``."""
    mri_dir, pet_dir = tmp_path / "mri", tmp_path / "pet"
    mri_dir.mkdir(), pet_dir.mkdir()
    for name in names:
        (mri_dir / f"{name}.nii.gz").write_bytes(volumes["mri"].read_bytes())
        (pet_dir / f"{name}.nii.gz").write_bytes(volumes["pet"].read_bytes())
    return mri_dir, pet_dir


def test_volume_folder_mode_writes_name_txt_per_pair(volumes, registered_volume, tmp_path, capsys):
    mri_dir, pet_dir = _volume_folders(volumes, tmp_path, "ab")
    argv = ["fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", tmp_path / "out", "--register", "rigid"]
    code, out, err = run_cli(capsys, *argv, "--transform-out", tmp_path / "T")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "T").iterdir()) == ["a.txt", "b.txt"]
    np.testing.assert_allclose(np.loadtxt(tmp_path / "T" / "a.txt"), np.loadtxt(registered_volume[2]), atol=1e-6)
    (tmp_path / "T" / "b.txt").write_text("1 2 3\n")  # b's transform broken: b fails, a is fused
    argv = [
        "fuse",
        "--mri-dir",
        mri_dir,
        "--pet-dir",
        pet_dir,
        "--out-dir",
        tmp_path / "out2",
        "--transform-in",
        tmp_path / "T",
    ]
    code, out, err = run_cli(capsys, *argv)
    assert code == EXIT_INPUT
    assert (tmp_path / "out2" / "a.nii.gz").is_file() and not (tmp_path / "out2" / "b.nii.gz").exists()
    assert err.strip().splitlines() == [f"jaxfuse: failed b: {tmp_path / 'T' / 'b.txt'}: is a 1x3 matrix; need 4x4"]


# -- transform files -------------------------------------------------------------------------------


def _scaled():
    m = np.eye(4)
    m[0, 0] = 1.01
    return m


def _reflection():
    return np.diag([-1.0, 1.0, 1.0, 1.0])


def _nan():
    m = np.eye(4)
    m[1, 3] = np.nan
    return m


def _last_row():
    m = np.eye(4)
    m[3, 0] = 0.5
    return m


def _singular():
    return np.diag([1.0, 1.0, 0.0, 1.0])


BAD_FILES = {
    "shape": (lambda p: np.savetxt(p, np.eye(4)[:3]), "is a 3x4 matrix; need 4x4"),
    "nan": (lambda p: np.savetxt(p, _nan()), "non-finite"),
    "last_row": (lambda p: np.savetxt(p, _last_row()), "last row 0.5 0 0 1; need 0 0 0 1"),
    "singular": (lambda p: np.savetxt(p, _singular()), "is singular"),
    "reflection": (lambda p: np.savetxt(p, _reflection()), "reflection"),
    "scaled": (lambda p: np.savetxt(p, _scaled()), "is not rigid"),
    "words": (lambda p: p.write_text("one two three four\n" * 4), "not a matrix of numbers"),
    "ragged": (lambda p: p.write_text("1 0 0 0\n0 1 0\n0 0 1 0\n0 0 0 1\n"), "not a matrix of numbers"),
    "empty": (lambda p: p.write_text(""), "is empty"),
    "binary": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe"), "not UTF-8"),
    "huge": (lambda p: p.write_text("0 " * 40000), "too large"),
    "missing": (lambda p: None, "no such transform file"),
    "folder": (lambda p: p.mkdir(), "is a folder"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_transform_files_are_one_line_errors(volumes, tmp_path, capsys, kind):
    make, needle = BAD_FILES[kind]
    path = tmp_path / "T.txt"
    make(path)
    out = tmp_path / "fused.nii.gz"
    code, _, err = run_cli(capsys, "fuse", volumes["mri"], volumes["pet"], "-o", out, "--transform-in", path)
    assert code == EXIT_INPUT
    one_error_line(err, f"{path}: ", needle)
    assert not out.exists()


def test_read_transform_rules(tmp_path):
    path = tmp_path / "T.txt"
    rotation = rigid((1.0, 2.0, 3.0), (4.0, 5.0, 6.0), (10.0, 20.0, 30.0))
    np.savetxt(path, np.round(rotation, 4), fmt="%.4f")  # a 4-decimal print of a rotation is accepted
    np.testing.assert_allclose(read_transform(path, ndim=3), rotation, atol=1e-4)
    scale = np.eye(4)
    scale[0, 0] = 1.0 + RIGID_TOLERANCE / 2
    np.savetxt(path, scale)
    assert read_transform(path, ndim=3)[0, 0] == scale[0, 0]
    plane = rigid((7.0,), (3.0, -2.0), (127.5, 127.5))
    np.savetxt(path, plane)
    np.testing.assert_array_equal(read_transform(path, ndim=2), plane)  # 3x3 for a 2-D pair
    with pytest.raises(ValueError, match="4x4$"):
        read_transform(path, ndim=3)
    write_transform(path, plane)  # written as 4x4, third axis the identity
    full = np.loadtxt(path)
    assert full.shape == (4, 4) and np.array_equal(full[2], [0, 0, 1, 0]) and np.array_equal(full[:, 2], [0, 0, 1, 0])
    np.testing.assert_array_equal(read_transform(path, ndim=2), plane)
    tilted = np.eye(4)
    tilted[:3, :3] = rigid((0.0, 5.0, 0.0), (0, 0, 0), (0, 0, 0))[:3, :3]
    np.savetxt(path, tilted)
    with pytest.raises(ValueError, match="out of the image plane"):
        read_transform(path, ndim=2)


def test_usage_errors(volumes, tmp_path, capsys):
    base = ["fuse", volumes["mri"], volumes["pet"], "-o", tmp_path / "f.nii.gz"]
    code, _, err = run_cli(capsys, *base, "--register", "rigid", "--transform-in", volumes["truth_file"])
    assert code == EXIT_USAGE
    one_error_line(err, "--register rigid", "--transform-in", "not both")
    for extra, needle in (
        (["--transform-out", tmp_path / "T.txt"], "--transform-out"),
        (["--accept-unconverged"], "--accept-unconverged"),
    ):
        code, _, err = run_cli(capsys, *base, *extra)
        assert code == EXIT_USAGE
        one_error_line(err, needle, "applies to --register rigid")
    code, _, err = run_cli(capsys, *base, "--register", "rigid", "--transform-out", volumes["pet"])
    assert code != 0
    one_error_line(err, "inputs are never overwritten")
    code, _, err = run_cli(capsys, *base, "--register", "rigid", "--transform-out", tmp_path / "no" / "T.txt")
    assert code != 0
    one_error_line(err, "does not exist")
    assert not list(tmp_path.iterdir())
    odd = tmp_path / "f.nii.gz"  # a transform file named like the output: never overwritten
    odd.write_bytes(volumes["truth_file"].read_bytes())
    code, _, err = run_cli(capsys, *base, "--transform-in", odd)
    assert code != 0
    one_error_line(err, "inputs are never overwritten")
    assert odd.read_bytes() == volumes["truth_file"].read_bytes()


# -- 2-D -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def harvard(tmp_path_factory):
    folder = require_data(files=[f"MRI/{HARVARD_PAIR}", f"PET/{HARVARD_PAIR}"])
    mri = np.asarray(Image.open(folder / "MRI" / HARVARD_PAIR).convert("L"))
    pet = np.asarray(Image.open(folder / "PET" / HARVARD_PAIR).convert("RGB"))
    truth = rigid((5.0,), (4.0, -3.0), ((mri.shape[0] - 1) / 2, (mri.shape[1] - 1) / 2))
    moved = np.stack([move_slice(pet[..., c].astype(np.float64), truth) for c in range(3)], -1)
    out = tmp_path_factory.mktemp("reg_2d")
    paths = {"mri": out / "mri.png", "pet": out / "pet.png", "moved": out / "moved.png"}
    Image.fromarray(mri).save(paths["mri"])
    Image.fromarray(pet).save(paths["pet"])
    Image.fromarray(np.clip(np.round(moved), 0, 255).astype(np.uint8)).save(paths["moved"])
    mask = (mri > 12) | (pet.mean(-1) > 12)
    return {**paths, "truth": truth, "points": np.argwhere(mask).astype(np.float64), "folder": out}


def plane(path) -> np.ndarray:
    full = np.loadtxt(path)
    assert full.shape == (4, 4)
    np.testing.assert_array_equal(full[2], [0, 0, 1, 0])
    np.testing.assert_array_equal(full[:, 2], [0, 0, 1, 0])
    return full[np.ix_([0, 1, 3], [0, 1, 3])]


@pytest.fixture(scope="module")
def registered_2d(harvard):
    """The unmoved pair and the moved one, registered (the pair itself is 1-3 px from MI's optimum,
    so the motion is measured against the unmoved pair's own registration)."""
    out = harvard["folder"]
    codes = []
    for key in ("pet", "moved"):
        argv = [harvard["mri"], harvard[key], "-o", out / f"fused_{key}.png", "--register", "rigid"]
        codes.append(main(["fuse", *map(str, argv), "--transform-out", str(out / f"T_{key}.txt")]))
    return codes, out


@pytest.mark.slow
def test_2d_register_rigid_recovers_the_motion_to_half_a_pixel(harvard, registered_2d):
    codes, out = registered_2d
    assert codes == [0, 0]
    t0, t1 = plane(out / "T_pet.txt"), plane(out / "T_moved.txt")
    err = displacement_mm(np.linalg.inv(harvard["truth"]) @ t1, t0, harvard["points"])
    assert err.mean() < 0.5, (err.mean(), err.max())
    fused = np.asarray(Image.open(out / "fused_moved.png"))
    assert fused.shape == (256, 256, 3) and fused.dtype == np.uint8


@pytest.mark.slow
def test_2d_transform_in_3x3_reproduces_the_registered_run(harvard, registered_2d, tmp_path, capsys):
    _, out = registered_2d
    np.savetxt(tmp_path / "T3.txt", plane(out / "T_moved.txt"))
    code, _, err = run_cli(
        capsys,
        "fuse",
        harvard["mri"],
        harvard["moved"],
        "-o",
        tmp_path / "f.png",
        "--transform-in",
        tmp_path / "T3.txt",
    )
    assert code == 0, err
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "f.png")), np.asarray(Image.open(out / "fused_moved.png"))
    )


@pytest.mark.slow
def test_unconverged_registration_fails_unless_accepted(harvard, registered_2d, tmp_path, capsys):
    flat = tmp_path / "flat.png"  # a blank PET: nothing to register by, MI cannot improve
    Image.fromarray(np.full((256, 256, 3), 80, np.uint8)).save(flat)
    out, transform = tmp_path / "f.png", tmp_path / "T.txt"
    argv = ["fuse", harvard["mri"], flat, "-o", out, "--register", "rigid", "--transform-out", transform]
    code, _, err = run_cli(capsys, *argv)
    assert code == EXIT_INPUT
    one_error_line(
        err, f"{flat}: rigid registration to {harvard['mri']} did not converge", "MI did not improve", "nothing written"
    )
    assert not out.exists() and not transform.exists()
    code, stdout, err = run_cli(capsys, *argv, "--accept-unconverged")
    assert code == 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"jaxfuse: warning: {flat}: ") and "fusing anyway" in lines[0], err
    assert out.is_file() and np.loadtxt(transform).shape == (4, 4)


def check_folder_mode(harvard, folder: pathlib.Path, capsys, batch_size: int) -> None:
    """Pairs a (moved PET), b (unmoved) and c (a blank PET, which fails) in folder mode."""
    mri_dir, pet_dir = folder / "mri", folder / "pet"
    mri_dir.mkdir(), pet_dir.mkdir()
    for name, source in (("a.png", harvard["moved"]), ("b.png", harvard["pet"])):
        (mri_dir / name).write_bytes(harvard["mri"].read_bytes())
        (pet_dir / name).write_bytes(source.read_bytes())
    (mri_dir / "c.png").write_bytes(harvard["mri"].read_bytes())
    Image.fromarray(np.full((256, 256, 3), 80, np.uint8)).save(pet_dir / "c.png")
    argv = ["fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", folder / "out", "--register", "rigid"]
    code, out, err = run_cli(capsys, *argv, "--transform-out", folder / "T", "--batch-size", batch_size)
    assert code == EXIT_INPUT
    assert "fused 2 pairs, skipped 0, failed 1" in out
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["a.png", "b.png"]
    assert sorted(p.name for p in (folder / "T").iterdir()) == ["a.txt", "b.txt"]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"jaxfuse: failed c.png: {pet_dir / 'c.png'}: rigid registration"), (
        err
    )
    single = harvard["folder"]
    for name, key in (("a", "moved"), ("b", "pet")):  # each pair's transform and picture are the single-pair run's
        err = displacement_mm(plane(folder / "T" / f"{name}.txt"), plane(single / f"T_{key}.txt"), harvard["points"])
        assert err.max() < 0.05, (name, err.max())
        mine = np.asarray(Image.open(folder / "out" / f"{name}.png")).astype(int)
        assert np.mean(np.abs(mine - np.asarray(Image.open(single / f"fused_{key}.png")).astype(int))) < 0.1
    argv = [
        "fuse",
        "--mri-dir",
        mri_dir,
        "--pet-dir",
        pet_dir,
        "--out-dir",
        folder / "again",
        "--transform-in",
        folder / "T",
    ]
    code, out, err = run_cli(capsys, *argv, "--batch-size", batch_size)  # the written transforms, applied
    assert code == EXIT_INPUT
    assert err.strip().splitlines() == [f"jaxfuse: failed c.png: {folder / 'T' / 'c.txt'}: no such transform file"]
    for name in ("a.png", "b.png"):
        again = np.asarray(Image.open(folder / "again" / name)).astype(int)
        assert np.mean(np.abs(again - np.asarray(Image.open(folder / "out" / name)).astype(int))) < 0.1


@pytest.mark.slow
def test_2d_folder_mode_registers_each_pair_and_fails_only_the_bad_one(harvard, registered_2d, tmp_path, capsys):
    check_folder_mode(harvard, tmp_path, capsys, batch_size=1)  # batches of one: the single-pair program


@pytest.mark.slow
def test_2d_folder_mode_registers_a_batch_as_one_vmap(harvard, registered_2d, tmp_path, capsys):
    # One register_rigid_batch of 6 (3 pairs + padding): test_register.py's batch shape, so a suite
    # run reuses its compiled program (alone, this test compiles it: about 20 s on 2 cores).
    check_folder_mode(harvard, tmp_path, capsys, batch_size=6)


@pytest.mark.slow
def test_2d_scalar_pet_with_pet_cmap_is_registered_too(harvard, registered_2d, tmp_path, capsys):
    """A gray functional image (coloured by --pet-cmap) is registered on its values and moved in them."""
    gray = tmp_path / "gray.png"
    intensity = np.asarray(Image.open(harvard["moved"])).astype(np.float64).mean(-1)  # HSI I of the moved PET
    Image.fromarray(np.round(intensity).astype(np.uint8)).save(gray)
    argv = ["fuse", harvard["mri"], gray, "-o", tmp_path / "f.png", "--pet-cmap", "hot", "--register", "rigid"]
    code, out, err = run_cli(capsys, *argv, "--transform-out", tmp_path / "T.txt")
    assert code == 0, err
    assert out.startswith(f"registered {gray} to {harvard['mri']}: ")
    err = displacement_mm(plane(tmp_path / "T.txt"), plane(registered_2d[1] / "T_moved.txt"), harvard["points"])
    assert err.mean() < 0.1, err.mean()  # the same registration as the RGB run's (its intensity, rounded)
    assert np.asarray(Image.open(tmp_path / "f.png")).shape == (256, 256, 3)


def test_2d_transform_in_moves_the_pet_like_scipy(harvard, tmp_path, capsys):
    """``--transform-in T`` resamples the PET's channels at ``T @ k`` as an independent float64
    SciPy resampling does (linear, 0 outside): the CLI's fusion equals the fusion of SciPy's
    resampled PET given as a float .npy file."""
    moved = np.asarray(Image.open(harvard["moved"])).astype(np.float64) / 255.0
    transform = harvard["truth"]
    rows, cols = np.mgrid[:256, :256]
    coords = (transform @ np.stack([rows.ravel(), cols.ravel(), np.ones(rows.size)]))[:2]
    reference = np.stack(
        [
            ndi.map_coordinates(moved[..., c], coords, order=1, mode="constant", cval=0.0).reshape(256, 256)
            for c in range(3)
        ],
        -1,
    )
    np.testing.assert_allclose(
        warp_image(moved.astype(np.float32), transform), reference, atol=5e-5
    )  # float32 coordinates: ~1e-5 px
    np.save(tmp_path / "reference.npy", np.clip(reference, 0.0, 1.0).astype(np.float32))
    write_transform(tmp_path / "T.txt", transform)
    argv = [
        "fuse",
        harvard["mri"],
        harvard["moved"],
        "-o",
        tmp_path / "moved.png",
        "--transform-in",
        tmp_path / "T.txt",
    ]
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert (
        main(["fuse", str(harvard["mri"]), str(tmp_path / "reference.npy"), "-o", str(tmp_path / "reference.png")]) == 0
    )
    ours = np.asarray(Image.open(tmp_path / "moved.png")).astype(int)
    theirs = np.asarray(Image.open(tmp_path / "reference.png")).astype(int)
    assert np.abs(ours - theirs).max() <= 1 and np.mean(ours != theirs) < 0.01
    assert main(["fuse", str(harvard["mri"]), str(harvard["moved"]), "-o", str(tmp_path / "unmoved.png")]) == 0
    unmoved = np.asarray(Image.open(tmp_path / "unmoved.png")).astype(int)
    assert np.mean(unmoved != theirs) > 0.1  # the motion shows (14 % of the values differ)


def test_volume_folder_mode_registers_the_same_two_at_a_time(volumes, registered_volume, tmp_path, capsys):
    """Pairs registered and fused two at once (threads) give the transforms and files of one at a time."""
    mri_dir, pet_dir = _volume_folders(volumes, tmp_path, "abc")
    for workers in ("1", "2"):
        argv = ["fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", tmp_path / f"out{workers}",
                "--register", "rigid", "--transform-out", tmp_path / f"T{workers}", "--workers", workers]  # fmt: skip
        code, out, err = run_cli(capsys, *argv)
        assert code == 0, err
        assert [line.split()[0] for line in out.splitlines()][-1] == "fused"
    for name in ("a", "b", "c"):
        assert (tmp_path / "T1" / f"{name}.txt").read_text() == (tmp_path / "T2" / f"{name}.txt").read_text()
        assert (tmp_path / "out1" / f"{name}.nii.gz").read_bytes() == (tmp_path / "out2" / f"{name}.nii.gz").read_bytes()
