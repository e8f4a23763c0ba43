"""Folder mode split over workers: ``--part K/N`` (array-job tasks) and ``--distributed`` (a real
two-process ``jax.distributed`` job on localhost), images and volumes.

Every split run is compared with one whole run of the same folders: together the parts write the
same files with the same bytes, each file once, and each pairing failure is reported once, by the
part that owns the name. Images are 6 real 256x256 Harvard pairs plus one unpaired MRI, run with
``--batch-size 4`` as in ``tests/test_cli.py``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import require_data

from jaxfuse.cli import main
from jaxfuse.partition import Share, owned_names

ROOT = Path(__file__).resolve().parents[1]
NAMES = [f"{n}.png" for n in range(25015, 25021)]
LONELY = "25021.png"  # an MRI without a PET: a pairing failure
EVERY = NAMES + [LONELY]


def run_cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fuse_folders(capsys, dirs, out_dir, *extra):
    mri_dir, pet_dir = dirs
    return run_cli(
        capsys, "fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", out_dir,
        "--batch-size", "4", "--progress", "off", *extra,
    )  # fmt: skip


def contents(folder: Path) -> dict[str, bytes]:
    """Every entry (hidden temporaries included) and its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def failure_names(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line.split(" ")[2].rstrip(":") for line in err.splitlines() if line.startswith("jaxfuse: failed ")]


@pytest.fixture
def folders(tmp_path):
    """``(mri_dir, pet_dir)``: the 6 real pairs and one MRI without a partner."""
    source = require_data("PET-MRI", files=[f"{k}/{n}" for k in ("MRI", "PET") for n in NAMES] + [f"MRI/{LONELY}"])
    mri_dir, pet_dir = tmp_path / "mri", tmp_path / "pet"
    mri_dir.mkdir(), pet_dir.mkdir()
    for name in NAMES:
        shutil.copyfile(source / "MRI" / name, mri_dir / name)
        shutil.copyfile(source / "PET" / name, pet_dir / name)
    shutil.copyfile(source / "MRI" / LONELY, mri_dir / LONELY)
    return mri_dir, pet_dir


@pytest.fixture
def whole(folders, tmp_path, capsys):
    """The files of one run over the whole folders."""
    code, out, err = fuse_folders(capsys, folders, tmp_path / "whole")
    assert code == 1 and failure_names(err) == [LONELY], out + err
    assert out.startswith("fused 6 pairs, skipped 0, failed 1"), out  # no part: no prefix
    return contents(tmp_path / "whole")


def test_two_parts_write_the_whole_run_exactly_once(folders, whole, tmp_path, capsys):
    out_dir = tmp_path / "out"
    seen: dict[str, bytes] = {}
    reported = []
    for k in (1, 2):
        before = contents(out_dir) if out_dir.exists() else {}
        code, out, err = fuse_folders(capsys, folders, out_dir, "--part", f"{k}/2")
        owned = owned_names(EVERY, Share(k - 1, 2))
        written = {n: b for n, b in contents(out_dir).items() if n not in before}
        assert set(written) == owned - {LONELY}, (k, sorted(written))  # its own pairs, no temporaries
        assert not set(written) & set(seen)
        seen.update(written)
        assert out.startswith(f"part {k}/2: {len(owned)} of 7 pairs; fused {len(owned - {LONELY})} pairs, skipped 0"), (
            out
        )
        reported += failure_names(err)
        assert code == (1 if LONELY in owned else 0), err
    assert seen == whole  # same files, same bytes
    assert reported == [LONELY]  # by its owner only


def test_a_part_with_a_bad_pair_is_completed_by_a_skip_existing_rerun(folders, whole, tmp_path, capsys):
    mri_dir, pet_dir = folders
    part = owned_names(EVERY, Share(0, 2)) - {LONELY}
    bad = sorted(part)[1]
    good_pet = (pet_dir / bad).read_bytes()
    (pet_dir / bad).write_bytes(good_pet[: len(good_pet) // 2])  # truncated
    out_dir = tmp_path / "out"
    code, out, err = fuse_folders(capsys, folders, out_dir, "--part", "1/2")
    assert code == 1 and bad in failure_names(err), err
    assert set(contents(out_dir)) == part - {bad}
    fused = {n: (out_dir / n).stat().st_mtime_ns for n in part - {bad}}

    (pet_dir / bad).write_bytes(good_pet)  # repaired: the same names, so the same split
    code, out, err = fuse_folders(capsys, folders, out_dir, "--part", "1/2", "--skip-existing")
    assert f"fused 1 pairs, skipped {len(part) - 1}" in out, out
    assert bad not in failure_names(err)
    assert {n: (out_dir / n).stat().st_mtime_ns for n in part - {bad}} == fused  # left untouched
    code, out, err = fuse_folders(capsys, folders, out_dir, "--part", "2/2", "--skip-existing")
    assert contents(out_dir) == whole


def test_the_split_ignores_which_outputs_exist(folders, whole, tmp_path, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for name in NAMES[:3]:  # some outputs there already, of both parts
        (out_dir / name).write_bytes(whole[name])
    code, out, err = fuse_folders(capsys, folders, out_dir, "--part", "2/2", "--skip-existing")
    owned = owned_names(EVERY, Share(1, 2))
    skipped = len(owned & set(NAMES[:3]))
    assert out.startswith(
        f"part 2/2: {len(owned)} of 7 pairs; fused {len(owned - {LONELY}) - skipped} pairs, skipped {skipped}"
    )
    assert set(contents(out_dir)) == set(NAMES[:3]) | (owned - {LONELY})


def test_more_parts_than_pairs_leaves_some_parts_empty(folders, tmp_path, capsys):
    code, out, err = fuse_folders(capsys, folders, tmp_path / "out", "--part", "9/9")
    assert code == 0 and err == "" and out.startswith("part 9/9: 0 of 7 pairs; fused 0 pairs"), out + err


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--part", "0/2"], "K must be in 1..2"),
        (["--part", "3/2"], "K must be in 1..2"),
        (["--part", "two/4"], "K/N"),
        (["--part", "1/0"], "N must be >= 1"),
        (["--process-id", "2", "--num-processes", "2"], "--process-id 2 must be below --num-processes 2"),
    ],
)
def test_malformed_split_options_are_usage_errors(folders, tmp_path, capsys, extra, needle):
    code, out, err = fuse_folders(capsys, folders, tmp_path / "out", *extra)
    assert code == 2 and out == "" and not (tmp_path / "out").exists()
    assert len(err.splitlines()) == 1 and err.startswith("jaxfuse: error: ") and needle in err, err


def test_split_options_need_folder_mode(folders, tmp_path, capsys):
    mri_dir, pet_dir = folders
    code, _, err = run_cli(
        capsys, "fuse", mri_dir / NAMES[0], pet_dir / NAMES[0], "-o", tmp_path / "x.png", "--part", "1/2"
    )
    assert code == 2 and "apply to folder mode" in err and not (tmp_path / "x.png").exists()


def test_volume_folder_parts(tmp_path, capsys):
    from mni_phantom import mni, save_float, save_int16, simulate_pet

    t1, gm, wm, affine = mni(4)
    pet, pet_affine = simulate_pet(gm, wm, affine, voxel_mm=5.0, seed=5)
    mri_dir, pet_dir = tmp_path / "mri", tmp_path / "pet"
    mri_dir.mkdir(), pet_dir.mkdir()
    for name in ("a", "b", "c"):
        save_float(mri_dir / f"{name}.nii.gz", t1, affine)
        save_int16(pet_dir / f"{name}.nii.gz", pet, pet_affine)
    save_int16(pet_dir / "d.nii.gz", pet, pet_affine)  # no partner
    argv = ["fuse", "--mri-dir", mri_dir, "--pet-dir", pet_dir, "--progress", "off"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, out, err = run_cli(capsys, *argv, "--out-dir", tmp_path / "whole")
        assert code == 1 and "fused 3 volume pairs, skipped 0, failed 1" in out
        outputs = {}
        for k, owned, fused in ((1, "a c", 2), (2, "b d", 1)):  # a, b, c, d dealt out in turn
            code, out, err = run_cli(capsys, *argv, "--out-dir", tmp_path / "out", "--part", f"{k}/2")
            assert f"part {k}/2: 2 of 4 pairs; fused {fused} volume pairs, skipped 0, failed {2 - fused}" in out, out
            assert failure_names(err) == ([] if k == 1 else ["d"]), err
            new = {n: b for n, b in contents(tmp_path / "out").items() if n not in outputs}
            assert sorted(new) == [f"{n}.nii.gz" for n in owned.split() if n != "d"]
            outputs.update(new)
    assert outputs == contents(tmp_path / "whole")


# ------------------------------------------------------------------ a real jax.distributed job


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes(mri_dirs, pet_dir, out_dir, *extra):
    """Runs ``jaxfuse fuse`` as a 2-process jax.distributed job; ``mri_dirs``: one per process."""
    coordinator = f"127.0.0.1:{_free_port()}"
    # Two host devices per process, as on a multi-GPU node: batch_fuser splits each batch over them.
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=2"
    )
    common = ["--pet-dir", pet_dir, "--out-dir", out_dir, "--batch-size", "4", "--progress", "off", *extra]
    common += ["--coordinator", coordinator, "--num-processes", "2"]
    procs = []
    for index, mri_dir in enumerate(mri_dirs):
        argv = [sys.executable, "-m", "jaxfuse", "fuse", "--mri-dir", mri_dir, *common, "--process-id", index]
        pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        procs.append(subprocess.Popen([str(a) for a in argv], **pipes))
    results = [proc.communicate(timeout=240) for proc in procs]
    return [(proc.returncode, out, err) for proc, (out, err) in zip(procs, results)]


@pytest.mark.slow
def test_two_process_distributed_job_writes_the_whole_run(folders, whole, tmp_path):
    mri_dir, pet_dir = folders
    results = _processes([mri_dir, mri_dir], pet_dir, tmp_path / "out")
    reported = []
    for index, (code, out, err) in enumerate(results):
        owned = owned_names(EVERY, Share(index, 2))
        assert code == (1 if LONELY in owned else 0), err[-3000:]
        lines = out.splitlines()
        assert len(lines) == 1, out  # the summary only (the collectives' own line is kept off stdout)
        assert lines[0].startswith(
            f"process {index} of 2: {len(owned)} of 7 pairs; fused {len(owned - {LONELY})} pairs"
        )
        reported += failure_names(err)
    assert reported == [LONELY]
    assert contents(tmp_path / "out") == whole


@pytest.mark.slow
@pytest.mark.parametrize("other", ["fewer names", "missing folder"])
def test_distributed_processes_that_list_different_folders_fuse_nothing(folders, tmp_path, other):
    mri_dir, pet_dir = folders
    elsewhere = tmp_path / "other"
    if other == "fewer names":
        shutil.copytree(mri_dir, elsewhere)
        (elsewhere / LONELY).unlink()
    results = _processes([mri_dir, elsewhere], pet_dir, tmp_path / "out", "--part", "1/1")
    for index, (code, out, err) in enumerate(results):
        assert code == 1 and out == "", (out, err[-3000:])
        assert len(err.splitlines()) == 1 and err.startswith("jaxfuse: error: "), err[-3000:]
        if other == "missing folder" and index == 1:  # its own problem; process 0 learns of it
            assert f"{elsewhere}: no such folder" in err, err
        elif other == "missing folder":
            assert "process 1 could not list the input folders; nothing was fused" in err, err
        else:
            assert "listed different input folders (process 0: 7 names, process 1: 6 names)" in err, err
    assert not (tmp_path / "out").exists()


def test_distributed_outside_a_cluster_is_a_usage_error(folders, tmp_path):
    mri_dir, pet_dir = folders
    cluster = ("SLURM_", "OMPI_", "PMI_", "KUBERNETES_", "JAX_COORDINATOR", "TPU_", "CLOUD_TPU")
    env = {k: v for k, v in os.environ.items() if not k.startswith(cluster)}
    env.update(PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    argv = ["--mri-dir", mri_dir, "--pet-dir", pet_dir, "--out-dir", tmp_path / "out", "--distributed"]
    run = subprocess.run(
        [sys.executable, "-m", "jaxfuse", "fuse", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 2 and run.stdout == "", run.stderr[-3000:]
    assert run.stderr.startswith("jaxfuse: error: --distributed: no SLURM, Open MPI or Kubernetes job found"), (
        run.stderr
    )
    assert len(run.stderr.splitlines()) == 1 and not (tmp_path / "out").exists()
