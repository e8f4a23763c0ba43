"""Larger folder runs (issue 10): bad files among many good pairs, and ``kill -9`` then resume.

1. A folder of 40 good pairs with a bomb, a link loop, a pickle, a multi-page TIFF and corrupt
   files among them: every good pair is written (bytes equal to ``jaxfuse.fuse`` on the arrays),
   every bad one is named once on stderr, nothing else is left in the output folder.
2. A run in a subprocess is killed with SIGKILL mid-run; a later ``--skip-existing`` run ends with
   the same bytes as a clean run and no temporary file. The killed run's temporaries are made to
   look older than the cleaning age (``STALE_AFTER_SECONDS``) by setting their times back: that is
   the situation of a resume started a minute or more after the kill.

Both use generated 64x64 images (no data folder needed); about 15-30 s together on 2 cores.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import jax.numpy as jnp
import numpy as np
from host import hostile_files as hf
from PIL import Image

import jaxfuse
from jaxfuse.cli import main
from jaxfuse.io.atomic import STALE_AFTER_SECONDS

SIZE = 64
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _good_folders(root: pathlib.Path, count: int) -> tuple[pathlib.Path, pathlib.Path, list[str]]:
    mri_dir, pet_dir = root / "MRI", root / "PET"
    mri_dir.mkdir()
    pet_dir.mkdir()
    names = [f"{i:04d}.png" for i in range(count)]
    for i, name in enumerate(names):
        hf.save_image(mri_dir / name, hf.good_mri(SIZE, seed=i))
        hf.save_image(pet_dir / name, hf.good_pet(SIZE, seed=100_000 + i))
    return mri_dir, pet_dir, names


def _hidden(folder: pathlib.Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_bad_files_among_good_pairs(tmp_path, capsys):
    mri_dir, pet_dir, names = _good_folders(tmp_path, 40)
    bad = {  # name -> (folder holding the bad file, what the error line says)
        "0005.png": (pet_dir, "decompression bomb"),
        "0011.png": (mri_dir, "symbolic link loop"),
        "0017.png": (pet_dir, "truncated"),
        "pickled.npy": (mri_dir, "pickle"),
        "pages.tif": (pet_dir, "more than one frame"),
        "0031.png": (mri_dir, "not a readable image"),
    }
    (pet_dir / "0005.png").write_bytes(hf.png_header(30000, 30000))
    (mri_dir / "0011.png").unlink()
    os.symlink("0011.png", mri_dir / "0011.png")
    data = (pet_dir / "0017.png").read_bytes()
    (pet_dir / "0017.png").write_bytes(data[: len(data) // 3])
    (mri_dir / "pickled.npy").write_bytes(hf.npy_bytes(np.array([object()] * 9).reshape(3, 3), allow_pickle=True))
    hf.save_image(pet_dir / "pickled.npy", hf.good_pet(SIZE))
    hf.multi_frame(pet_dir / "pages.tif")
    hf.save_image(mri_dir / "pages.tif", hf.good_mri(SIZE))
    (mri_dir / "0031.png").write_bytes(np.random.default_rng(5).bytes(2000))
    good = [n for n in names if n not in bad]
    before = hf.snapshot(mri_dir, pet_dir)

    out_dir = tmp_path / "OUT"
    code = main(["fuse", "--mri-dir", str(mri_dir), "--pet-dir", str(pet_dir), "--out-dir", str(out_dir), "--batch-size", "8", "--progress", "off"])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert "Traceback" not in captured.out + captured.err
    assert captured.out.startswith(f"fused {len(good)} pairs, skipped 0, failed {len(bad)}"), captured.out
    lines = captured.err.splitlines()
    assert len(lines) == len(bad), captured.err
    for name, (folder, needle) in bad.items():
        line = next(line for line in lines if line.startswith(f"jaxfuse: failed {name}: "))
        assert str(folder / name) in line and needle in line, line
    assert sorted(p.name for p in out_dir.iterdir()) == good  # no output for the bad ones, no temporary
    mri = np.stack([np.asarray(Image.open(mri_dir / n)) for n in good])
    pet = np.stack([np.asarray(Image.open(pet_dir / n)) for n in good])
    expected = np.asarray(jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8))
    for name, image in zip(good, expected):
        np.testing.assert_array_equal(np.asarray(Image.open(out_dir / name)), image, err_msg=name)
    assert hf.snapshot(mri_dir, pet_dir) == before


def test_kill_9_then_skip_existing_equals_a_clean_run(tmp_path, capsys):
    mri_dir, pet_dir, names = _good_folders(tmp_path, 240)
    args = ["fuse", "--mri-dir", str(mri_dir), "--pet-dir", str(pet_dir), "--batch-size", "4", "--workers", "1", "--png-level", "9", "--progress", "off"]
    killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-m", "jaxfuse", *args, "--out-dir", str(killed_dir)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if killed_dir.is_dir() and sum(1 for p in killed_dir.iterdir() if not p.name.startswith(".")) >= 20:
                break
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    written = sorted(p.name for p in killed_dir.iterdir() if not p.name.startswith("."))
    assert 20 <= len(written) < len(names)  # killed mid-run
    kept = {name: (killed_dir / name).read_bytes() for name in written}
    for name in _hidden(killed_dir):  # the resume comes later than the cleaning age
        past = time.time() - STALE_AFTER_SECONDS - 5
        os.utime(killed_dir / name, (past, past))

    assert main([*args, "--out-dir", str(killed_dir), "--skip-existing"]) == 0
    resumed = capsys.readouterr().out
    assert resumed.startswith(f"fused {len(names) - len(written)} pairs, skipped {len(written)}, failed 0"), resumed
    assert main([*args, "--out-dir", str(clean_dir)]) == 0
    capsys.readouterr()

    assert _hidden(killed_dir) == []  # the killed run's temporaries were removed
    assert sorted(p.name for p in killed_dir.iterdir()) == sorted(p.name for p in clean_dir.iterdir()) == names
    for name in names:
        assert (killed_dir / name).read_bytes() == (clean_dir / name).read_bytes(), name
    assert all(kept[name] == (killed_dir / name).read_bytes() for name in written)  # untouched by the resume
