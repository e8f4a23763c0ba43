"""Rigid MI registration: jaxfuse against SimpleITK on the same cases (accuracy and time).

    python benchmarks/register.py [--cases-3d 10] [--pairs-2d 8] [--motions 2] [--batch 16]
        [--sitk-threads N] [--machine LABEL] [--json benchmarks/results/register_cpu.json]

Cases (built by ``tests/phantoms.py``, NumPy/SciPy only):

* 3-D: the MNI ICBM152 T1 at 2 mm as the fixed image; an FDG-like PET (gray:white 4:1, 7 mm FWHM,
  Gaussian noise) on its own oblique grid of 2-3 mm voxels, moved by a random rigid transform
  (each angle within 10 degrees, each shift within 10 mm). Error: displacement of the recovered
  transform from the true one over the brain mask (mean and max, mm).
* 2-D: Harvard PET-MRI slices (MRI fixed, PET intensity moving), each unmoved and moved by
  ``--motions`` random rigid transforms (10 degrees, 8 px). The atlas pairs are 1-3 px from their
  MI optimum, so each method's error is that of the motion it recovers against its own
  registration of the unmoved pair (px, over the head).

Both methods get the same multi-resolution plan (3 levels, shrink 4/2/1, smoothing) and Mattes MI;
SimpleITK (``pip install SimpleITK``, the ``bench`` extra) uses its usual recipe: Euler transform
initialised by moments (3-D) or geometry (2-D), physical-shift scales, regular-step gradient
descent, linear interpolation; 3-D samples 20% of voxels at random (fixed seed), 2-D every pixel
with a 1-pixel blur kept at the finest level (its most accurate setting on these slices). Times exclude jaxfuse's
compilation (reported apart) and include everything else; the 2-D jaxfuse figure is one batched
call over every case (``--batch`` pairs per call), SimpleITK's one pair after another, the jaxfuse
passes interleaved with SimpleITK's pairs (the median of ``--repeats + 1`` passes).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
from machine import cpu_model  # benchmarks/machine.py (the script's folder is on sys.path)

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import phantoms  # noqa: E402

# ---------------------------------------------------------------------------------------------
# SimpleITK peer
# ---------------------------------------------------------------------------------------------


def _sitk_image(array: np.ndarray, affine: np.ndarray):
    """A SimpleITK image whose physical space is the affine's world (RAS mm is kept as it is: a
    relabelled frame, the same for both images, gives the same rigid transform)."""
    import SimpleITK as sitk

    d = array.ndim
    image = sitk.GetImageFromArray(np.ascontiguousarray(array.T.astype(np.float32)))  # sitk index = array index
    spacing = np.linalg.norm(affine[:d, :d], axis=0)
    image.SetSpacing(spacing.tolist())
    image.SetDirection((affine[:d, :d] / spacing).ravel().tolist())
    image.SetOrigin(affine[:d, d].tolist())
    return image


def sitk_register(fixed, fixed_affine, moving, moving_affine, *, seed: int = 1) -> np.ndarray:
    """SimpleITK rigid Mattes-MI registration; the fixed-world -> moving-world matrix."""
    import SimpleITK as sitk

    d = fixed.ndim
    f = _sitk_image(fixed, fixed_affine)
    m = _sitk_image(moving, moving_affine)
    euler = sitk.Euler3DTransform() if d == 3 else sitk.Euler2DTransform()
    mode = (
        sitk.CenteredTransformInitializerFilter.MOMENTS if d == 3 else sitk.CenteredTransformInitializerFilter.GEOMETRY
    )
    initial = sitk.CenteredTransformInitializer(f, m, euler, mode)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    if d == 3:
        reg.SetMetricSamplingStrategy(reg.RANDOM)
        reg.SetMetricSamplingPercentage(0.2, seed)
    # 2-D: every pixel (a 25% random sample left the atlas motions 3.3 px off on average, at 1.2
    # s/pair; all pixels and a 1-pixel blur at the finest level gave 0.3 px at 3 s/pair).
    reg.SetInterpolator(sitk.sitkLinear)
    # Regular-step gradient descent: plain gradient descent with a convergence window stopped
    # after ~10 iterations at 4-9 mm on these cases; this one converged (0.25 mm, see RESULTS.md).
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0, minStep=1e-4, numberOfIterations=200, relaxationFactor=0.5, gradientMagnitudeTolerance=1e-8
    )
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([4, 2, 1])
    reg.SetSmoothingSigmasPerLevel([2, 1, 0] if d == 3 else [2, 1, 1])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    reg.SetInitialTransform(initial, inPlace=False)
    out = reg.Execute(f, m)
    if out.GetName() == "CompositeTransform":
        out = sitk.CompositeTransform(out).GetNthTransform(0)
    e = (sitk.Euler3DTransform if d == 3 else sitk.Euler2DTransform)(out)
    matrix = np.eye(d + 1)
    matrix[:d, :d] = np.array(e.GetMatrix()).reshape(d, d)
    c = np.array(e.GetCenter())
    matrix[:d, d] = np.array(e.GetTranslation()) + c - matrix[:d, :d] @ c
    return matrix


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


def cases_3d(count: int, seed: int):
    mni = phantoms.mni_2mm()
    brain = (mni["affine"][:3, :3] @ np.argwhere(mni["brain"]).T + mni["affine"][:3, 3:]).T
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        truth = phantoms.random_rigid(rng, ndim=3, max_deg=10, max_mm=10, centre=brain.mean(0))
        pet, affine = phantoms.simulate_pet(
            truth, rng, voxel_mm=tuple(rng.uniform(2.0, 3.0, 3)), oblique_deg=tuple(rng.uniform(-15, 15, 3))
        )
        out.append((truth, pet, affine))
    return mni["t1"].astype(np.float32), mni["affine"], brain, out


def cases_2d(pairs: int, motions: int, seed: int):
    from conftest import load_real_pairs

    names, mri, pet = load_real_pairs(pairs)
    intensity = pet.astype(np.float32).mean(-1) / 255.0
    centre = (np.array(mri.shape[1:]) - 1) / 2
    rng = np.random.default_rng(seed)
    fixed, moving, truths, owner = [], [], [], []
    for b in range(pairs):
        for k in range(motions + 1):
            t = np.eye(3) if k == 0 else phantoms.random_rigid(rng, ndim=2, max_deg=10, max_mm=8, centre=centre)
            fixed.append(mri[b] / 255.0)
            moving.append(intensity[b] if k == 0 else phantoms.move_slice(intensity[b], t))
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


def errors_2d(transforms, truths, owner, masks):
    out = []
    for i, t in enumerate(transforms):
        k0 = owner.index(owner[i])
        if i == k0:
            continue
        pts = np.argwhere(masks[owner[i]]).astype(np.float64)
        err = phantoms.displacement_mm(np.linalg.inv(truths[i]) @ t, transforms[k0], pts)
        out.append((float(err.mean()), float(err.max())))
    return out


def summary(errors, times):
    means = [e[0] for e in errors]
    return {
        "error_mean_of_means": float(np.mean(means)),
        "error_worst_mean": float(np.max(means)),
        "error_worst_max": float(np.max([e[1] for e in errors])),
        "cases_mean_under_0_5": int(sum(m < 0.5 for m in means)),
        "per_case": [{"mean": round(a, 4), "max": round(b, 4)} for a, b in errors],
        "time_median_s": float(statistics.median(times)) if times else None,
        "time_iqr_s": [float(np.percentile(times, 25)), float(np.percentile(times, 75))] if times else None,
    }


# ---------------------------------------------------------------------------------------------


def run(args) -> dict:
    import jax

    from jaxfuse.registration import RigidOptions, register_rigid, register_rigid_batch
    from jaxfuse.registration import register as register_module

    options = RigidOptions()
    load_before = os.getloadavg()
    result = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": args.machine,
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average_before": load_before,
        "versions": {p: importlib.metadata.version(p) for p in ("jax", "jaxlib", "optax", "SimpleITK", "numpy")},
        "jax_devices": [str(dv) for dv in jax.devices()],
        "jaxfuse_options": {k: getattr(options, k) for k in options.__dataclass_fields__},
        "jaxfuse_resolved": {
            f"{d}d": {
                "iterations": register_module._iterations(options, d),
                "smoothing": register_module._smoothing(options, d),
                "max_samples": register_module._max_samples(options, d),
                "jitter": register_module._jitter(options, d),
            }
            for d in (2, 3)
        },
    }
    try:
        result["commit"] = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=HERE, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        result["commit"] = None
    import SimpleITK as sitk

    if args.sitk_threads:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(args.sitk_threads)
    result["sitk_threads"] = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()

    if args.cases_3d:
        fixed, fixed_affine, brain, cases = cases_3d(args.cases_3d, args.seed)
        t0 = time.perf_counter()
        jax.block_until_ready(register_rigid(fixed, cases[0][1], fixed_affine=fixed_affine, moving_affine=cases[0][2]))
        compile_s = time.perf_counter() - t0
        errs = {"jaxfuse": [], "simpleitk": []}
        times = {"jaxfuse": [], "simpleitk": []}
        for truth, pet, affine in cases:
            t0 = time.perf_counter()
            t, _ = register_rigid(fixed, pet, fixed_affine=fixed_affine, moving_affine=affine)
            t = np.asarray(jax.block_until_ready(t), np.float64)
            times["jaxfuse"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            s = sitk_register(fixed, fixed_affine, pet, affine)
            times["simpleitk"].append(time.perf_counter() - t0)
            for name, m in (("jaxfuse", t), ("simpleitk", s)):
                e = phantoms.displacement_mm(m, truth, brain)
                errs[name].append((float(e.mean()), float(e.max())))
            print(
                f"3-D case: jaxfuse {errs['jaxfuse'][-1][0]:.3f} mm in {times['jaxfuse'][-1]:.2f} s; "
                f"SimpleITK {errs['simpleitk'][-1][0]:.3f} mm in {times['simpleitk'][-1]:.2f} s",
                flush=True,
            )
        result["3d"] = {
            "cases": len(cases),
            "fixed_shape": list(fixed.shape),
            "jaxfuse": {**summary(errs["jaxfuse"], times["jaxfuse"]), "first_call_compile_s": compile_s},
            "simpleitk": summary(errs["simpleitk"], times["simpleitk"]),
        }

    if args.pairs_2d:
        names, fixed, moving, truths, owner, masks = cases_2d(args.pairs_2d, args.motions, args.seed)
        n, batch = len(fixed), args.batch
        padded = -(-n // batch) * batch
        pad = lambda x: np.concatenate([x, np.repeat(x[-1:], padded - n, 0)])
        fp, mp = pad(fixed), pad(moving)

        def jax_all():
            out, flags = [], []
            for s in range(0, padded, batch):
                t, report = register_rigid_batch(fp[s : s + batch], mp[s : s + batch])
                out.append(np.asarray(jax.block_until_ready(t), np.float64))
                flags.append(np.asarray(report.converged))
            return np.concatenate(out)[:n], np.concatenate(flags)[:n]

        t0 = time.perf_counter()
        jax_all()
        compile_s = time.perf_counter() - t0
        # Interleaved: one timed jaxfuse pass over every case before SimpleITK's first pair and
        # after each 1/repeats of its pairs, so both see the same (shared, changing) machine load.
        eye = np.eye(3)
        jax_times, sitk_t, sitk_times = [], [], []
        marks = {round(n * (r + 1) / args.repeats) for r in range(args.repeats)}
        for i in range(n + 1):
            if i == 0 or i in marks:
                t0 = time.perf_counter()
                transforms, converged = jax_all()
                jax_times.append(time.perf_counter() - t0)
            if i == n:
                break
            t0 = time.perf_counter()
            sitk_t.append(sitk_register(fixed[i], eye, moving[i], eye))
            sitk_times.append(time.perf_counter() - t0)
        jt = statistics.median(jax_times)
        jax_errors = errors_2d(transforms, truths, owner, masks)
        # Each moved case with its pair's unmoved one, in errors_2d's order. A motion counts as
        # reported converged when both its registration and the unmoved one were.
        motions = [(i, owner.index(owner[i])) for i in range(n) if i != owner.index(owner[i])]
        motion_converged = [bool(converged[i] and converged[k0]) for i, k0 in motions]
        motion_names = [names[owner[i]] for i, _ in motions]
        result["2d"] = {
            "pairs": args.pairs_2d,
            "registrations": n,
            "batch": batch,
            "motion_pairs": motion_names,
            "jaxfuse": {
                **summary(jax_errors, []),
                "motion_converged": motion_converged,
                "misses_reported_converged": [
                    name for name, (m, _), c in zip(motion_names, jax_errors, motion_converged) if c and m >= 0.5
                ],
                "seconds_all": jt,
                "pairs_per_s": n / jt,
                "first_call_compile_s": compile_s,
            },
            "simpleitk": {
                **summary(errors_2d(sitk_t, truths, owner, masks), sitk_times),
                "seconds_all": float(sum(sitk_times)),
                "pairs_per_s": n / sum(sitk_times),
            },
        }
        print(f"2-D: jaxfuse {n / jt:.1f} pairs/s, SimpleITK {n / sum(sitk_times):.1f} pairs/s", flush=True)
    result["load_average_after"] = os.getloadavg()
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases-3d", type=int, default=10)
    p.add_argument("--pairs-2d", type=int, default=8)
    p.add_argument("--motions", type=int, default=2)
    p.add_argument("--batch", type=int, default=24)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--sitk-threads", type=int, default=0, help="0: SimpleITK's default")
    p.add_argument("--json", type=pathlib.Path)
    p.add_argument("--machine", default="", help="a label for the machine, recorded as it is")
    args = p.parse_args(argv)
    result = run(args)
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
