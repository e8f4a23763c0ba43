"""Volume folder mode's overlap (jaxfuse.volume.folders): the voxel budget, the ordered outcomes of
pairs run two at a time, one compilation shared by volumes fused at once, and the same files
whether the pairs go one or two at a time."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time

import jax.numpy as jnp
import numpy as np
import pytest
from mni_phantom import mni, save_float, save_int16, simulate_pet

from jaxfuse.cli import main
from jaxfuse.volume import fuse as fuse_module
from jaxfuse.volume.folders import VoxelBudget, in_order


def test_budget_lets_pairs_that_fit_run_together_and_a_big_one_alone():
    budget = VoxelBudget(10)
    with budget.hold(4), budget.hold(6):  # 10 fit: neither waits
        assert budget.held == 10
    order = []
    with budget.hold(25):  # over the limit, but nothing else is held: it runs
        started = threading.Event()

        def second():
            started.set()
            with budget.hold(1):
                order.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        started.wait()
        time.sleep(0.05)
        order.append("big done")  # the second waited for the big one, though 1 voxel is little
    thread.join(5)
    assert order == ["big done", "second"] and budget.held == 0


def test_budget_is_released_when_the_holder_fails():
    budget = VoxelBudget(5)
    with pytest.raises(RuntimeError), budget.hold(5):
        raise RuntimeError("this pair failed")
    assert budget.held == 0
    with pytest.raises(ValueError, match="limit"):
        VoxelBudget(0)


def test_outcomes_come_in_order_whatever_finishes_first():
    def work(n):
        time.sleep(0.02 * (5 - n))  # the later jobs finish first
        if n == 2:
            raise ValueError("job 2")
        return n * 10

    outcomes = list(in_order(range(5), work, workers=2))
    assert [job for job, _ in outcomes] == [0, 1, 2, 3, 4]
    assert all(future.done() for _, future in outcomes)
    assert [f.result() for j, f in outcomes if j != 2] == [0, 10, 30, 40]
    assert isinstance(outcomes[2][1].exception(), ValueError)


def test_at_most_workers_run_and_one_more_is_queued():
    running, most, lock = [0], [0], threading.Lock()
    submitted = []

    def jobs():
        for n in range(8):
            submitted.append(n)
            yield n

    def work(n):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return n

    for job, _ in in_order(jobs(), work, workers=2):
        assert len(submitted) <= job + 3  # read-ahead bounded: this job, one running, one queued
    assert most[0] <= 2


def test_the_first_job_runs_alone_then_two_at_a_time():
    running, seen, lock = [0], [], threading.Lock()

    def work(n):
        with lock:
            running[0] += 1
            seen.append((n, running[0]))
        time.sleep(0.03)
        with lock:
            running[0] -= 1

    list(in_order(range(5), work, workers=2))
    assert seen[:2] == [(0, 1), (1, 1)] and max(count for _, count in seen) == 2  # 1 began after 0 ended
    seen.clear()
    list(in_order(range(2), work, workers=2, first_alone=False))
    assert max(count for _, count in seen) == 2


def test_closing_early_starts_nothing_more_and_waits_for_what_runs():
    started, finished = [], []

    def work(n):
        started.append(n)
        time.sleep(0.05)
        finished.append(n)
        return n

    with contextlib.closing(in_order(range(10), work, workers=2)) as outcomes:
        assert [next(outcomes)[0], next(outcomes)[0]] == [0, 1]
    assert sorted(finished) == sorted(started)  # nothing left running after the close
    assert set(started) <= {0, 1, 2, 3}  # 0, 1 taken; at most 2 running and 3 queued then
    with pytest.raises(ValueError, match="workers"):
        next(in_order([1], lambda n: n, workers=0))


def test_volumes_fused_at_once_share_one_compilation(monkeypatch):
    compiled = []
    gate = threading.Event()

    def slow_compile(method, options, **shapes):
        compiled.append(shapes)
        gate.wait(5)
        return "fuser"

    monkeypatch.setattr(fuse_module, "_prepared_fuser", slow_compile)
    monkeypatch.setattr(fuse_module, "_FUSERS", {})
    shapes = {"size": 3, "height": 5, "width": 7, "gray": False}
    first = fuse_module._cached_fuser("vgg19", {}, **shapes)
    second = fuse_module._cached_fuser("vgg19", {}, **shapes)  # asked while the first still compiles
    gate.set()
    assert first is second and first.result(5) == "fuser" and len(compiled) == 1


def test_a_failed_compilation_is_not_kept(monkeypatch):
    calls = []

    def failing(method, options, **shapes):
        calls.append(1)
        raise RuntimeError("XLA ran out of memory")

    monkeypatch.setattr(fuse_module, "_prepared_fuser", failing)
    monkeypatch.setattr(fuse_module, "_FUSERS", {})
    shapes = {"size": 3, "height": 5, "width": 7, "gray": False}
    future = fuse_module._cached_fuser("vgg19", {}, **shapes)
    with pytest.raises(RuntimeError):
        future.result(5)
    concurrent.futures.wait([future])
    deadline = time.monotonic() + 5
    while fuse_module._FUSERS and time.monotonic() < deadline:  # the callback runs as the future ends
        time.sleep(0.01)
    assert fuse_module._FUSERS == {}
    with pytest.raises(RuntimeError):
        fuse_module._cached_fuser("vgg19", {}, **shapes).result(5)
    assert len(calls) == 2


@pytest.fixture(scope="module")
def four_pairs(tmp_path_factory):
    """Four MRI/PET pairs of two grid sizes (so two kernels compile while pairs overlap)."""
    folder = tmp_path_factory.mktemp("four_pairs")
    mri_dir, pet_dir = folder / "mri", folder / "pet"
    mri_dir.mkdir(), pet_dir.mkdir()
    for name, (mm, seed) in {"a": (4, 1), "b": (5, 2), "c": (4, 3), "d": (5, 4)}.items():
        t1, gm, wm, affine = mni(mm)
        pet, pet_affine = simulate_pet(gm, wm, affine, voxel_mm=6.0, seed=seed)
        save_float(mri_dir / f"{name}.nii.gz", t1, affine)
        save_int16(pet_dir / f"{name}.nii.gz", pet, pet_affine)
    return mri_dir, pet_dir


def test_two_at_a_time_writes_the_same_files_in_the_same_order(four_pairs, tmp_path, capsys):
    mri_dir, pet_dir = four_pairs
    said = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        code = main(["fuse", "--mri-dir", str(mri_dir), "--pet-dir", str(pet_dir), "--out-dir", str(out),
                     "--workers", str(workers), "--progress", "off"])  # fmt: skip
        assert code == 0
        said[workers] = [line.replace(str(out), "OUT").split(") in ")[0] for line in capsys.readouterr().out.splitlines()]
    assert said[1] == said[2] and [line.split("/")[-1][0] for line in said[1][:4]] == ["a", "b", "c", "d"]
    assert said[1][4] == "fused 4 volume pairs, skipped 0, failed 0"
    for name in "abcd":
        assert (tmp_path / "out1" / f"{name}.nii.gz").read_bytes() == (tmp_path / "out2" / f"{name}.nii.gz").read_bytes()


def test_fused_alone_or_beside_another_volume_gives_the_same_voxels(four_pairs):
    mri_dir, pet_dir = four_pairs
    alone = {n: fuse_module.fuse_volumes(mri_dir / f"{n}.nii.gz", pet_dir / f"{n}.nii.gz").rgb for n in "ab"}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        together = dict(zip("ab", pool.map(lambda n: fuse_module.fuse_volumes(mri_dir / f"{n}.nii.gz", pet_dir / f"{n}.nii.gz").rgb, "ab")))
    for name in "ab":
        np.testing.assert_array_equal(together[name], alone[name])
    assert jnp.asarray(alone["a"]).dtype == jnp.uint8


def test_lines_are_whole_beside_the_progress_bar(four_pairs, tmp_path, monkeypatch):
    """stdout and stderr on one terminal: each pair's line starts a line of its own (the bar is
    erased before it and drawn again after), and no bar is left where the summary goes."""
    import io
    import sys

    mri_dir, pet_dir = four_pairs
    screen = io.StringIO()
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setattr(sys, "stderr", screen)
    code = main(["fuse", "--mri-dir", str(mri_dir), "--pet-dir", str(pet_dir), "--out-dir", str(tmp_path / "out"), "--progress", "on"])
    assert code == 0
    shown = [line.rsplit("\r", 1)[-1].replace("\033[K", "") for line in screen.getvalue().split("\n")]  # as a terminal shows them
    assert [line[:7] for line in shown if "nii.gz" in line] == ["wrote /"] * 4, shown
    assert shown[-2] == "fused 4 volume pairs, skipped 0, failed 0", shown
    assert "volume pairs" in screen.getvalue() and "4/4" in screen.getvalue()  # the bar was drawn


def test_a_registration_line_is_printed_when_the_fusing_then_fails(four_pairs, tmp_path, monkeypatch, capsys):
    import jaxfuse.registration.cli

    mri_dir, pet_dir = four_pairs
    monkeypatch.setattr(jaxfuse.registration.cli, "volume_transform", lambda args, mri, pet, name=None: (None, f"registered {name}"))
    real = fuse_module.fuse_volumes

    def fails_on_c(mri, pet, **options):
        if mri.path.endswith("c.nii.gz"):
            raise RuntimeError("XLA ran out of memory")
        return real(mri, pet, **options)

    monkeypatch.setattr(fuse_module, "fuse_volumes", fails_on_c)
    assert main(["fuse", "--mri-dir", str(mri_dir), "--pet-dir", str(pet_dir), "--out-dir", str(tmp_path / "out")]) == 1
    said = capsys.readouterr()
    lines = said.out.splitlines()
    assert [line for line in lines if line.startswith("registered")] == [f"registered {n}" for n in "abcd"]  # c's too
    assert "jaxfuse: failed c: fusing failed (RuntimeError: XLA ran out of memory)" in said.err


def test_a_waiting_pair_holds_its_declared_voxels_before_reading(four_pairs, tmp_path, monkeypatch):
    """The budget is taken from the NIfTI header before the MRI is read, so a pair that waits for
    room holds no voxels in memory."""
    import argparse

    import jaxfuse.io.volumes
    import jaxfuse.volume.cli as volume_cli
    from jaxfuse.cli import build_parser

    mri_dir, pet_dir = four_pairs
    budget, seen = VoxelBudget(1 << 30), []
    real_read = jaxfuse.io.volumes.read_volume

    def watched(path, **kwargs):
        if str(path).startswith(str(mri_dir)):
            seen.append(budget.held)
        return real_read(path, **kwargs)

    monkeypatch.setattr(jaxfuse.io.volumes, "read_volume", watched)
    args = build_parser().parse_args(["fuse", "--mri-dir", str(mri_dir), "--pet-dir", str(pet_dir), "--out-dir", str(tmp_path)])
    assert isinstance(args, argparse.Namespace)
    volume_cli._fuse_one(args, mri_dir / "a.nii.gz", pet_dir / "a.nii.gz", tmp_path / "a.nii.gz", slices_dir=None,
                         montage_path=None, say=lambda line: None, budget=budget, progress=False)  # fmt: skip
    t1 = mni(4)[0]
    assert seen == [t1.size] and budget.held == 0

