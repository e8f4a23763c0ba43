"""Rigid MI registration recovers known motions: synthetic and Harvard slices (2-D, batched), and the
MNI template against simulated FDG PETs on their own oblique grids (3-D).

The default run keeps a few cases (one compiled program per shape); ``pytest -m sweep`` runs the
full sets (at least 20 random 3-D cases).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from conftest import load_real_pairs
from phantoms import displacement_mm, mni_2mm, move_slice, random_rigid, simulate_pet

from jaxfuse.registration import RigidOptions, register_rigid, register_rigid_batch
from jaxfuse.registration import register as register_module

SIZE = 256
CENTRE_2D = np.array([(SIZE - 1) / 2, (SIZE - 1) / 2])
BATCH = 6  # every 2-D batch here has this size, so they share one compiled program


def synthetic_pairs(count: int, seed: int):
    """Smooth random 'anatomy', the moving image a non-monotonic function of it, moved by known
    rigid transforms (pixels): ``(fixed [N, H, W], moving [N, H, W], truths [N, 3, 3])``."""
    rng = np.random.default_rng(seed)
    fixed, moving, truths = [], [], []
    yy, xx = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    disc = np.hypot(yy, xx) < 100
    for _ in range(count):
        f = ndi.gaussian_filter(rng.random((SIZE, SIZE)), 6) * disc
        f = (f - f.min()) / (f.max() - f.min())
        t = random_rigid(rng, ndim=2, max_deg=10, max_mm=8, centre=CENTRE_2D)
        fixed.append(f)
        moving.append(move_slice(np.sin(3.0 * f) ** 2, t))
        truths.append(t)
    return np.stack(fixed).astype(np.float32), np.stack(moving).astype(np.float32), np.stack(truths)


@pytest.fixture(scope="module")
def synthetic():
    fixed, moving, truths = synthetic_pairs(BATCH, 0)
    transforms, report = register_rigid_batch(fixed, moving)
    return fixed, moving, truths, np.asarray(transforms, np.float64), report


def test_synthetic_batch_recovers_known_motion(synthetic):
    fixed, _, truths, transforms, report = synthetic
    for b in range(BATCH):
        pts = np.argwhere(fixed[b] > 0).astype(np.float64)
        err = displacement_mm(transforms[b], truths[b], pts)
        assert err.mean() < 0.2 and err.max() < 0.5, (b, err.mean(), err.max())
    assert np.all(np.asarray(report.converged))
    assert np.all(np.asarray(report.mi_final) > np.asarray(report.mi_initial))
    assert np.all(np.asarray(report.iterations) == 100 + 40 + 30)  # the documented 2-D budget


def test_batch_equals_single_and_is_deterministic(synthetic):
    fixed, moving, _, transforms, report = synthetic
    again, report2 = register_rigid_batch(fixed, moving)
    np.testing.assert_array_equal(np.asarray(again, np.float64), transforms)  # same inputs, same bits
    np.testing.assert_array_equal(np.asarray(report2.mi_final), np.asarray(report.mi_final))
    assert register_module._register_many._cache_size() == 1  # the second call did not recompile
    single, rep1 = register_rigid(fixed[1], moving[1])
    pts = np.argwhere(fixed[1] > 0).astype(np.float64)
    assert displacement_mm(np.asarray(single, np.float64), transforms[1], pts).max() < 0.05
    np.testing.assert_allclose(float(rep1.mi_final), float(report.mi_final[1]), rtol=1e-3)


def harvard_cases(pairs: int, motions: int, seed: int):
    """Each Harvard pair unmoved, then moved by ``motions`` known transforms (pixels)."""
    names, mri, pet = load_real_pairs(pairs)
    intensity = pet.astype(np.float32).mean(-1) / 255.0
    rng = np.random.default_rng(seed)
    fixed, moving, truths, owner = [], [], [], []
    for b in range(pairs):
        for k in range(motions + 1):
            t = np.eye(3) if k == 0 else random_rigid(rng, ndim=2, max_deg=10, max_mm=8, centre=CENTRE_2D)
            fixed.append(mri[b] / 255.0)
            moving.append(intensity[b] if k == 0 else move_slice(intensity[b], t))
            truths.append(t)
            owner.append(b)
    masks = (mri > 12) | (intensity > 0.05)
    return (
        names,
        np.stack(fixed).astype(np.float32),
        np.stack(moving).astype(np.float32),
        np.stack(truths),
        owner,
        masks,
    )


def check_harvard(pairs: int, motions: int, seed: int) -> list[tuple[str, float, float]]:
    """Registers every case; the Harvard pairs themselves are 1-9 px from the MI optimum (an
    independent histogram-MI search agrees), so each motion is measured against the unmoved pair's
    registration ``T0``: ``inv(T_true) @ T_k`` must equal ``T0``. Returns, per motion, the pair's
    name and the mean and max error (px)."""
    errors, _ = check_harvard_report(pairs, motions, seed)
    return errors


def check_harvard_report(pairs: int, motions: int, seed: int, *, unmoved_bound_px: float | None = 10.0):
    """:func:`check_harvard`'s errors and, per motion, whether the report said both it and the
    unmoved pair's registration converged. ``unmoved_bound_px``: the bound on a converged unmoved
    registration's distance from the atlas's own alignment (None: not checked here)."""
    names, fixed, moving, truths, owner, masks = harvard_cases(pairs, motions, seed)
    n = len(fixed)
    padded = -(-n // BATCH) * BATCH
    pad = lambda x: np.concatenate([x, np.repeat(x[-1:], padded - n, 0)])
    transforms, flags = [], []
    for s in range(0, padded, BATCH):
        t, report = register_rigid_batch(pad(fixed)[s : s + BATCH], pad(moving)[s : s + BATCH])
        transforms.append(np.asarray(t, np.float64))
        flags.append(np.asarray(report.converged))
    transforms, flags = np.concatenate(transforms)[:n], np.concatenate(flags)[:n]
    errors, converged = [], []
    for i in range(n):
        k0 = owner.index(owner[i])
        pts = np.argwhere(masks[owner[i]]).astype(np.float64)
        if i == k0:
            # A sanity bound only: most atlas pairs are 1-3 px from their MI optimum, one of the
            # first 16 is 9 px (lattice and jittered sampling agree on it).
            offset = displacement_mm(transforms[i], np.eye(3), pts).mean()
            assert unmoved_bound_px is None or not flags[i] or offset < unmoved_bound_px, (names[owner[i]], offset)
            continue
        err = displacement_mm(np.linalg.inv(truths[i]) @ transforms[i], transforms[k0], pts)
        errors.append((names[owner[i]], err.mean(), err.max()))
        converged.append(bool(flags[i] and flags[k0]))
    return errors, converged


def test_harvard_pet_mri_motion_recovered_to_half_a_pixel():
    errors = check_harvard(2, 2, 0)  # 2 pairs x (unmoved + 2 motions) = one batch of 6
    assert all(mean < 0.5 for _, mean, _ in errors), errors


@pytest.mark.sweep
def test_harvard_many_pairs_sweep():
    errors = check_harvard(8, 2, 1)  # 8 pairs x (unmoved + 2 motions): 16 motions
    print("harvard mean/max px:", [(n, round(m, 3), round(x, 3)) for n, m, x in errors])
    assert all(mean < 0.5 for _, mean, _ in errors), errors


@pytest.mark.sweep
def test_harvard_every_pair_sweep():
    """Every Harvard PET-MRI pair (269), one motion each (seed 7, as ``benchmarks/register.py
    --pairs-2d 269 --motions 1``). Some slices hold almost nothing both images share (eye-level
    coronal slices with a small patch of uptake) and no MI registration recovers them; the bar is
    that nearly every motion is recovered and that a miss reported as converged stays under a pixel."""
    # The unmoved pairs lie a median 2.6 px from the atlas's alignment (SimpleITK: 2.55 px); one,
    # 41100, converges 10.2 px away where SimpleITK stops at 1.1 px: hence the wider bound here.
    errors, converged = check_harvard_report(269, 1, 7, unmoved_bound_px=12.0)
    misses = [(n, round(m, 2), c) for (n, m, _), c in zip(errors, converged) if m >= 0.5]
    print("harvard misses (name, mean px, reported converged):", misses)
    assert len(misses) <= 0.03 * len(errors), misses  # measured: 7 of 269 (2.6%)
    assert all(m < 1.0 for _, m, c in misses if c), misses  # a converged miss stays under a pixel


def check_mni(cases: int, seed: int) -> list[tuple[float, float]]:
    mni = mni_2mm()
    brain = (mni["affine"][:3, :3] @ np.argwhere(mni["brain"]).T + mni["affine"][:3, 3:]).T
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(cases):
        truth = random_rigid(rng, ndim=3, max_deg=10, max_mm=10, centre=brain.mean(0))
        voxel = tuple(rng.uniform(2.0, 3.0, 3))
        pet, pet_affine = simulate_pet(truth, rng, voxel_mm=voxel, oblique_deg=tuple(rng.uniform(-15, 15, 3)))
        t, report = register_rigid(
            mni["t1"].astype(np.float32), pet, fixed_affine=mni["affine"], moving_affine=pet_affine
        )
        assert bool(report.converged) and float(report.mi_final) > float(report.mi_initial)
        err = displacement_mm(np.asarray(t, np.float64), truth, brain)
        out.append((err.mean(), err.max()))
    return out


def test_mni_simulated_pet_recovered_within_1mm():
    errors = check_mni(1, 0)  # one case (each compiles for its own PET grid); 20 in the sweep below
    assert all(mean < 1.0 and worst < 2.0 for mean, worst in errors), errors


@pytest.mark.sweep
def test_mni_twenty_random_cases_sweep():
    errors = check_mni(20, 1)
    print("mni mean/max mm:", [(round(m, 3), round(x, 3)) for m, x in errors])
    assert all(mean < 1.0 and worst < 2.0 for mean, worst in errors), errors


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="2 or 3 spatial dims"):
        register_rigid(np.zeros((4, 4, 4, 4)), np.zeros((4, 4, 4, 4)))
    with pytest.raises(ValueError, match="2 or 3 spatial dims"):
        register_rigid(np.zeros((64, 64)), np.zeros((64, 64, 64)))
    with pytest.raises(ValueError, match="fixed_affine"):
        register_rigid(np.zeros((64, 64)), np.zeros((64, 64)), fixed_affine=np.eye(4))
    with pytest.raises(ValueError, match="batches differ"):
        register_rigid_batch(np.zeros((2, 64, 64)), np.zeros((3, 64, 64)))
    with pytest.raises(ValueError, match="too small"):
        register_rigid(np.zeros((12, 12)), np.zeros((12, 12)))
    for bad, match in [
        (dict(levels=0), "levels"),
        (dict(iterations=(10, 10)), "iterations"),
        (dict(levels=2), "iterations must be given"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(bins=4), "bins"),
        (dict(init="moments"), "init"),
        (dict(histogram="fast"), "histogram"),
        (dict(smoothing=-1.0), "smoothing"),
    ]:
        with pytest.raises(ValueError, match=match):
            RigidOptions(**bad)
