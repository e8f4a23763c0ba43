"""Tests for the ``jaxfuse`` command line: single pair, folder mode, demo, and error reporting.

Real pairs come from the Harvard atlas copy in ``../shared/data/harvard`` (copied into ``tmp_path``;
the shared folder is never written). Every image is 256x256 uint8 (MRI gray, PET RGB), and folder
mode always runs with ``--batch-size 4``, so the kernel compiles only twice in the whole module.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import require_data
from PIL import Image

import jaxfuse
from jaxfuse.cli import main
from jaxfuse.io.images import resize_image
from jaxfuse.sample import load_sample_pair

NAMES = [f"{n}.png" for n in range(25015, 25021)]  # 6 pairs: batch size 4 leaves a short, padded batch
SIZE = 256


# ----------------------------------------------------------------------------------------- helpers


def _harvard_dir() -> Path:
    return require_data("PET-MRI", files=[f"{kind}/{name}" for kind in ("MRI", "PET") for name in NAMES])


@pytest.fixture(scope="module")
def reference():
    """name -> the library's uint8 fusion of that real pair (read with Pillow, not jaxfuse)."""
    folder = _harvard_dir()
    out = {}
    for name in NAMES:
        mri = np.asarray(Image.open(folder / "MRI" / name))
        pet = np.asarray(Image.open(folder / "PET" / name))
        assert mri.shape == (SIZE, SIZE) and pet.shape == (SIZE, SIZE, 3)
        out[name] = np.asarray(jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8))
    return out


@pytest.fixture
def pairs(tmp_path):
    """Copies of the 6 real pairs: ``(mri_dir, pet_dir, out_dir)``; out_dir exists and is empty."""
    folder = _harvard_dir()
    dirs = tmp_path / "mri", tmp_path / "pet", tmp_path / "out"
    for d in dirs:
        d.mkdir()
    for name in NAMES:
        shutil.copyfile(folder / "MRI" / name, dirs[0] / name)
        shutil.copyfile(folder / "PET" / name, dirs[1] / name)
    return dirs


def run_cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse's usage errors (exit 2) and --help/--version (exit 0)
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB", (image.format, image.mode)
        array = np.asarray(image)
    assert array.dtype == np.uint8
    return array


def listing(folder: Path) -> list[str]:
    """Every entry, hidden temporaries included."""
    return sorted(p.name for p in folder.iterdir())


def assert_one_error_line(err: str, *needles: str) -> str:
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("jaxfuse: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def assert_one_failure_line(err: str, pair: str) -> str:
    """The one stderr line of a folder run with one failed pair: ``jaxfuse: failed <pair>: ...``."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"jaxfuse: failed {pair}: "), lines[0]
    return lines[0]


def fuse_folders(capsys, mri_dir, pet_dir, out_dir, *extra):
    return run_cli(
        capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir,
        "--batch-size", "4", "--progress", "off", *extra,
    )  # fmt: skip


def truncated_png(source: Path, target: Path) -> None:
    data = source.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    target.write_bytes(data[: len(data) // 2])


# ------------------------------------------------------------------------------------- single pair


def test_single_pair_matches_library(pairs, reference, capsys):
    mri_dir, pet_dir, out_dir = pairs
    name = NAMES[0]
    code, out, err = run_cli(capsys, "fuse", mri_dir / name, pet_dir / name, "-o", out_dir / "fused.png")
    assert code == 0, err
    assert "Traceback" not in err
    assert str(out_dir / "fused.png") in out
    fused = read_png(out_dir / "fused.png")
    assert fused.shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(fused, reference[name])
    assert listing(out_dir) == ["fused.png"]


def test_single_pair_mri_as_rgb_with_equal_channels(pairs, reference, capsys):
    mri_dir, pet_dir, out_dir = pairs
    name = NAMES[1]
    gray = np.asarray(Image.open(mri_dir / name))
    Image.fromarray(np.repeat(gray[..., None], 3, axis=-1)).save(mri_dir / "rgb.png")
    assert Image.open(mri_dir / "rgb.png").mode == "RGB"
    code, _, err = run_cli(capsys, "fuse", mri_dir / "rgb.png", pet_dir / name, "-o", out_dir / "f.png")
    assert code == 0, err
    np.testing.assert_array_equal(read_png(out_dir / "f.png"), reference[name])


def test_resize_fuses_a_smaller_pet(pairs, capsys):
    mri_dir, pet_dir, out_dir = pairs
    name = NAMES[2]
    small = np.asarray(Image.open(pet_dir / name).resize((128, 128), Image.Resampling.BICUBIC))
    Image.fromarray(small).save(pet_dir / "small.png")
    args = ("fuse", mri_dir / name, pet_dir / "small.png", "-o", out_dir / "f.png")

    code, out, err = run_cli(capsys, *args)  # sizes differ: refused without --resize
    assert code == 1 and out == ""
    assert_one_error_line(err, str(pet_dir / "small.png"), "128x128", "256x256")
    assert listing(out_dir) == []

    code, _, err = run_cli(capsys, *args, "--resize", "256")
    assert code == 0, err
    fused = read_png(out_dir / "f.png")
    assert fused.shape == (SIZE, SIZE, 3)
    mri = np.asarray(Image.open(mri_dir / name))
    expected = jaxfuse.fuse(mri, resize_image(small, (SIZE, SIZE)), output_dtype=jnp.uint8)
    np.testing.assert_array_equal(fused, np.asarray(expected))


# ------------------------------------------------------------------------------------- folder mode


def test_folder_mode_batches_and_skip_existing(pairs, reference, capsys):
    mri_dir, pet_dir, out_dir = pairs
    code, out, err = fuse_folders(capsys, mri_dir, pet_dir, out_dir)
    assert code == 0, out + err
    assert "Traceback" not in err
    assert out.splitlines()[0].startswith("fused 6 pairs, skipped 0, failed 0"), out
    assert listing(out_dir) == NAMES  # all six, no temporaries left
    for name in NAMES:  # padded short batch and full batch both equal the one-pair results
        np.testing.assert_array_equal(read_png(out_dir / name), reference[name], err_msg=name)

    past = 1_000_000_000
    for name in NAMES:
        os.utime(out_dir / name, ns=(past, past))
    code, out, err = fuse_folders(capsys, mri_dir, pet_dir, out_dir, "--skip-existing")
    assert code == 0, out + err
    assert out.splitlines()[0].startswith("fused 0 pairs, skipped 6, failed 0"), out
    assert [(out_dir / n).stat().st_mtime_ns for n in NAMES] == [past] * 6
    assert listing(out_dir) == NAMES


def test_folder_mode_missing_partner_goes_on(pairs, reference, capsys):
    mri_dir, pet_dir, out_dir = pairs
    lonely = NAMES[3]
    (pet_dir / lonely).unlink()
    code, out, err = fuse_folders(capsys, mri_dir, pet_dir, out_dir)
    assert code == 1
    assert "Traceback" not in out + err
    assert out.splitlines()[0].startswith("fused 5 pairs, skipped 0, failed 1"), out
    assert len(out.splitlines()) == 1, out  # the summary on stdout, the failure on stderr
    failure = assert_one_failure_line(err, lonely)
    assert str(mri_dir / lonely) in failure and "partner" in failure
    good = [n for n in NAMES if n != lonely]
    assert listing(out_dir) == good
    for name in good:
        np.testing.assert_array_equal(read_png(out_dir / name), reference[name], err_msg=name)


def test_folder_mode_corrupt_pair_in_the_middle_of_a_batch(pairs, reference, capsys):
    mri_dir, pet_dir, out_dir = pairs
    bad = NAMES[1]  # inside the first (full) batch of 4
    truncated_png(pet_dir / bad, pet_dir / bad)
    code, out, err = fuse_folders(capsys, mri_dir, pet_dir, out_dir)
    assert code == 1
    assert "Traceback" not in out + err
    assert out.splitlines()[0].startswith("fused 5 pairs, skipped 0, failed 1"), out
    assert len(out.splitlines()) == 1, out
    failure = assert_one_failure_line(err, bad)
    assert str(pet_dir / bad) in failure and "corrupt" in failure
    good = [n for n in NAMES if n != bad]
    assert listing(out_dir) == good
    for name in good:
        np.testing.assert_array_equal(read_png(out_dir / name), reference[name], err_msg=name)


@pytest.mark.parametrize("form, suffix", [("npy", ".npy"), ("nifti", ".nii")])
def test_folder_mode_formats_without_a_codec_hold_the_same_pixels(pairs, reference, capsys, form, suffix):
    import nibabel

    from jaxfuse.io.outputs import image_from_fused_nifti

    mri_dir, pet_dir, out_dir = pairs
    truncated_png(mri_dir / NAMES[1], mri_dir / NAMES[1])  # a bad pair: still that pair's failure
    code, out, err = fuse_folders(capsys, mri_dir, pet_dir, out_dir, "--format", form)
    assert code == 1 and out.splitlines()[0].startswith("fused 5 pairs, skipped 0, failed 1"), out + err
    assert str(mri_dir / NAMES[1]) in assert_one_failure_line(err, NAMES[1])
    good = [n for n in NAMES if n != NAMES[1]]
    stems = [Path(n).stem for n in good]
    assert listing(out_dir) == sorted(stem + suffix for stem in stems)  # no temporaries left
    for name, stem in zip(good, stems):
        if form == "npy":
            fused = np.load(out_dir / (stem + suffix), allow_pickle=False)
        else:
            image = nibabel.load(out_dir / (stem + suffix))
            assert int(image.header["datatype"]) == 128 and image.shape == (SIZE, SIZE, 1)
            fused = image_from_fused_nifti(image)
        assert fused.dtype == np.uint8 and fused.shape == (SIZE, SIZE, 3)
        np.testing.assert_array_equal(fused, reference[name], err_msg=name)

    code, out, err = fuse_folders(capsys, mri_dir, pet_dir, out_dir, "--format", form, "--skip-existing")
    assert code == 1 and out.splitlines()[0].startswith("fused 0 pairs, skipped 5, failed 1"), out + err


def test_format_is_refused_outside_folder_mode_of_images(pairs, capsys, tmp_path):
    mri_dir, pet_dir, out_dir = pairs
    code, out, err = run_cli(capsys, "fuse", mri_dir / NAMES[0], pet_dir / NAMES[0], "-o", out_dir / "f.png", "--format", "npy")
    assert code == 2 and "--format npy applies to folder mode" in err, err
    code, out, err = run_cli(capsys, "fuse", tmp_path / "t1.nii.gz", tmp_path / "pet.nii.gz", "-o", out_dir / "f.nii.gz", "--format", "nifti")
    assert code == 2 and "--format nifti applies to folder mode" in err, err
    assert listing(out_dir) == []


def test_folder_mode_refuses_out_dir_equal_to_mri_dir(pairs, capsys):
    mri_dir, pet_dir, _ = pairs
    before = {n: (mri_dir / n).read_bytes() for n in NAMES}
    code, out, err = fuse_folders(capsys, mri_dir, pet_dir, mri_dir)
    assert code == 3 and out == ""  # 3: an output that cannot be written
    assert_one_error_line(err, str(mri_dir), "input")
    assert listing(mri_dir) == NAMES
    assert {n: (mri_dir / n).read_bytes() for n in NAMES} == before


# ----------------------------------------------------------------------------- single-pair errors


def _bad_mri_missing(mri_dir, pet_dir, name):
    return mri_dir / "nope.png", pet_dir / name, mri_dir / "nope.png", "no such file"


def _bad_mri_directory(mri_dir, pet_dir, name):
    (mri_dir / "dir.png").mkdir()
    return mri_dir / "dir.png", pet_dir / name, mri_dir / "dir.png", "directory"


def _bad_pet_random_bytes(mri_dir, pet_dir, name):
    (pet_dir / "noise.png").write_bytes(np.random.default_rng(1).integers(0, 256, 4096, np.uint8).tobytes())
    return mri_dir / name, pet_dir / "noise.png", pet_dir / "noise.png", "not a readable image"


def _bad_pet_truncated(mri_dir, pet_dir, name):
    truncated_png(pet_dir / name, pet_dir / "trunc.png")
    return mri_dir / name, pet_dir / "trunc.png", pet_dir / "trunc.png", "truncated"


def _bad_pet_size(mri_dir, pet_dir, name):
    Image.open(pet_dir / name).resize((128, 128)).save(pet_dir / "small.png")
    return mri_dir / name, pet_dir / "small.png", pet_dir / "small.png", "does not match"


def _bad_pet_two_channels(mri_dir, pet_dir, name):
    np.save(pet_dir / "two.npy", np.zeros((SIZE, SIZE, 2), np.float32))
    return mri_dir / name, pet_dir / "two.npy", pet_dir / "two.npy", "shape"


def _bad_pet_transparent(mri_dir, pet_dir, name):
    rgb = np.asarray(Image.open(pet_dir / name))
    alpha = np.full((SIZE, SIZE, 1), 255, np.uint8)
    alpha[:10, :10] = 0
    Image.fromarray(np.concatenate([rgb, alpha], axis=-1)).save(pet_dir / "rgba.png")
    return mri_dir / name, pet_dir / "rgba.png", pet_dir / "rgba.png", "transparent"


def _bad_mri_colour(mri_dir, pet_dir, name):
    return pet_dir / name, pet_dir / name, pet_dir / name, "grayscale"


def _bad_mri_nan(mri_dir, pet_dir, name):
    array = np.asarray(Image.open(mri_dir / name), np.float32) / 255
    array[100, 100] = np.nan
    np.save(mri_dir / "nan.npy", array)
    return mri_dir / "nan.npy", pet_dir / name, mri_dir / "nan.npy", "NaN"


BAD_INPUTS = [
    _bad_mri_missing,
    _bad_mri_directory,
    _bad_pet_random_bytes,
    _bad_pet_truncated,
    _bad_pet_size,
    _bad_pet_two_channels,
    _bad_pet_transparent,
    _bad_mri_colour,
    _bad_mri_nan,
]


@pytest.mark.parametrize(
    "make",
    [pytest.param(f, id=f.__name__[5:]) for f in BAD_INPUTS],
)
def test_single_pair_bad_input(pairs, capsys, make):
    mri_dir, pet_dir, out_dir = pairs
    mri, pet, offender, problem = make(mri_dir, pet_dir, NAMES[0])
    code, out, err = run_cli(capsys, "fuse", mri, pet, "-o", out_dir / "fused.png")
    assert code == 1
    assert out == ""
    assert_one_error_line(err, str(offender), problem)
    assert listing(out_dir) == []  # no output, no temporary


def test_single_pair_refuses_to_overwrite_an_input(pairs, capsys):
    mri_dir, pet_dir, _ = pairs
    name = NAMES[0]
    mri_bytes, pet_bytes = (mri_dir / name).read_bytes(), (pet_dir / name).read_bytes()
    for target in (mri_dir / name, mri_dir / ".." / "pet" / name):
        code, out, err = run_cli(capsys, "fuse", mri_dir / name, pet_dir / name, "-o", target)
        assert code == 3 and out == ""
        assert_one_error_line(err, str(target), "input")
    assert (mri_dir / name).read_bytes() == mri_bytes
    assert (pet_dir / name).read_bytes() == pet_bytes
    assert listing(mri_dir) == NAMES and listing(pet_dir) == NAMES


@pytest.mark.parametrize(
    "argv, problem",
    [
        (["fuse", "a.png", "b.png"], "-o"),
        (["fuse", "a.png"], "MRI PET"),
        (["fuse", "a.png", "b.png", "-o", "o.png", "--out-dir", "x"], "not both"),
        (["fuse", "--mri-dir", "m", "--pet-dir", "p", "--out-dir", "o", "--batch-size", "0"], "--batch-size"),
    ],
    ids=["no-out", "no-pet", "both-modes", "batch-size-0"],
)
def test_usage_problems_are_one_line(tmp_path, capsys, argv, problem, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""  # usage errors exit 2, as argparse's own
    assert_one_error_line(err, problem)
    assert listing(tmp_path) == []


# ---------------------------------------------------------------------------------- demo and help


def test_demo_writes_fused_and_side_by_side(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    code, out, err = run_cli(capsys, "demo", "--2d", "--out-dir", out_dir)
    assert code == 0, err
    assert listing(out_dir) == ["fused.png", "side_by_side.png"]
    fused = read_png(out_dir / "fused.png")
    assert fused.shape == (SIZE, SIZE, 3)
    mri, pet = load_sample_pair()
    np.testing.assert_array_equal(fused, np.asarray(jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8)))
    panel = read_png(out_dir / "side_by_side.png")
    assert panel.shape[0] >= SIZE and panel.shape[1] >= 3 * SIZE


@pytest.mark.parametrize("argv, needle", [(["--help"], "demo"), (["fuse", "--help"], "--batch-size")])
def test_help_exits_zero(capsys, argv, needle):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert needle in capsys.readouterr().out


def test_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["fuse", "--no-such-option"])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


# -------------------------------------------------------------------------- installed console script


def _console_script() -> list[str]:
    script = shutil.which("jaxfuse") or shutil.which("jaxfuse", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "jaxfuse.cli"]


def _run_script(*argv, cwd):
    env = {k: v for k, v in os.environ.items() if k != "JAXFUSE_DEBUG"}
    return subprocess.run(
        _console_script() + [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_console_script_error_exit_code_and_no_traceback(pairs):
    mri_dir, pet_dir, out_dir = pairs
    truncated_png(pet_dir / NAMES[0], pet_dir / "trunc.png")
    result = _run_script("fuse", mri_dir / NAMES[0], pet_dir / "trunc.png", "-o", out_dir / "f.png", cwd=out_dir)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert_one_error_line(result.stderr, str(pet_dir / "trunc.png"), "truncated")
    assert listing(out_dir) == []


def test_console_script_success(pairs, reference):
    mri_dir, pet_dir, out_dir = pairs
    name = NAMES[0]
    result = _run_script("fuse", mri_dir / name, pet_dir / name, "-o", out_dir / "f.png", cwd=out_dir)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    np.testing.assert_array_equal(read_png(out_dir / "f.png"), reference[name])


def test_version_and_help_state_formats_limits_and_exit_codes(capsys):
    code, out, err = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"jaxfuse {jaxfuse.__version__}", out + err
    for command in ("fuse", "evaluate"):
        code, out, _ = run_cli(capsys, command, "--help")
        assert code == 0
        for needle in ("accepted inputs:", ".npy", "no pickles", "multi-page TIFF", "--max-pixels", "4096x4096",
                       "in [0, 1]", "exit codes:", "2 usage error", "3 an output could not be written"):
            assert needle in out, (command, needle)
