"""Volume fusion end to end: jaxfuse against the same pipeline written the way a user would.

The pair: the MNI152 T1 template itself (197 x 233 x 189, 1 mm, from ``../shared/data/mni152``) and
an FDG-like PET simulated from its tissue maps on an oblique 2.5 x 2.5 x 2.0 mm grid, int16 with
``scl_slope`` (``tests/mni_phantom.py``). Both pipelines do the same job: read both files,
resample the PET onto the MRI grid (trilinear, zero outside), window the PET (p0, p99.5 of the
voxels in its field of view) and the MRI (min-max), colour the PET (DICOM ``pet`` palette, index
``round(255 v)``), fuse every axial slice with the paper's VGG19 method in the radiological layout,
and write the RGB24 NIfTI (gzip level 1).

* ``jaxfuse``: ``read_volume`` + ``fuse_volumes`` (chunks of 64 slices) + ``FusedVolume.save``;
* ``user``: ``nibabel.load(...).get_fdata()``, ``nibabel.processing.resample_from_to`` (SciPy,
  order 1), NumPy percentiles, windows and table look-up, ``jaxfuse.fuse`` called slice by slice,
  ``nibabel.save``.

Each pipeline runs in its own fresh process (peak resident memory from ``os.wait4``; no shared
compile caches): one cold run (includes compilation), then ``--repeats`` warm runs; the table
gives the warm median per stage, compile time (cold minus warm) apart, and interpreter start and
imports measured apart in their own processes. A third process fuses a 512 x 512 x 400 MRI (the
template enlarged, nearest neighbour, 0.4 x 0.5 x 0.5 mm) to show memory stays bounded.

Also, each in its own process: the NIfTI writer at gzip levels 0, 1, 3 and 6 on the fused volume
(size and time, threads as the library picks them and one thread); folder mode end to end
(``jaxfuse fuse --mri-dir --pet-dir --out-dir`` over ``--folder-pairs`` copies of the pair, run
twice: one pair at a time, ``--workers 1``, and with the default two at once; slices per second of
the whole process, and of the pairs after the first two, timed from the moments their lines appear
on the tool's stdout, since overlapping pairs make the tool's own per-pair times add up to more
than the wall) against the kernel alone on the same slices (``fuse_volumes``' fuser on 64-slice chunks,
compiled, warm) in the same run; and the cold job again with JAX's persistent compilation cache
switched on by its own environment variables (opt-in; the library never sets them).

    python benchmarks/volume.py [--repeats 3] [--skip-big] [--folder-pairs 8] [--json benchmarks/results/volume_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from machine import cpu_model  # benchmarks/machine.py (the script's folder is on sys.path)

ROOT = pathlib.Path(__file__).resolve().parents[1]
MNI = ROOT.parent / "shared" / "data" / "mni152"
T1 = MNI / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
STAGES = ("read", "resample", "window", "colour", "fuse", "assemble", "other", "write")


# ------------------------------------------------------------------------------------- pipelines


def run_jaxfuse(mri_path: str, pet_path: str, out_path: str) -> dict[str, float]:
    from jaxfuse.io import read_volume
    from jaxfuse.volume.fuse import fuse_volumes

    start = time.perf_counter()
    volumes = [read_volume(mri_path), read_volume(pet_path)]
    read = time.perf_counter() - start
    # handed over, not kept here: fuse_volumes drops the host MRI once it is on the device
    start = time.perf_counter()
    result = fuse_volumes(volumes.pop(0), volumes.pop(0), batch_slices=64)
    other = time.perf_counter() - start - sum(result.timings.values())  # checks, set-up, untimed gaps
    start = time.perf_counter()
    result.save(out_path)
    write = time.perf_counter() - start
    stages = {"read": read, **result.timings, "other": other, "write": write}
    return {key: stages.get(key, 0.0) for key in STAGES}


def run_user(mri_path: str, pet_path: str, out_path: str) -> dict[str, float]:
    """The same job as a user would write it with nibabel, SciPy and NumPy around jaxfuse.fuse."""
    import jax.numpy as jnp
    import nibabel as nib
    import nibabel.processing
    import numpy as np

    import jaxfuse
    from jaxfuse.volume.colormap import colormap_table

    times = {}
    t = time.perf_counter()
    mri_img, pet_img = nib.load(mri_path), nib.load(pet_path)
    mri = mri_img.get_fdata()
    pet_img = nib.Nifti1Image(pet_img.get_fdata(), pet_img.affine)
    times["read"] = time.perf_counter() - t

    t = time.perf_counter()
    pet = nibabel.processing.resample_from_to(pet_img, mri_img, order=1).get_fdata()
    index = np.indices(mri.shape).reshape(3, -1)
    grid = np.linalg.inv(pet_img.affine) @ mri_img.affine
    coords = grid[:3, :3] @ index + grid[:3, 3:]
    inside = np.all((coords >= 0) & (coords <= np.array(pet_img.shape)[:, None] - 1), axis=0).reshape(mri.shape)
    times["resample"] = time.perf_counter() - t

    t = time.perf_counter()
    low, high = np.percentile(pet[inside], [0, 99.5])
    mri_unit = (mri - mri.min()) / (mri.max() - mri.min())
    pet_unit = np.clip((pet - low) / (high - low), 0, 1)
    times["window"] = time.perf_counter() - t

    t = time.perf_counter()
    rgb = colormap_table("pet")[np.round(255 * pet_unit).astype(int)]
    times["colour"] = time.perf_counter() - t

    fused = np.zeros(mri.shape + (3,), np.uint8)
    times["fuse"] = times["assemble"] = times["other"] = 0.0
    for k in range(mri.shape[2]):  # the MRI is RAS: axial slice k is vol[::-1, ::-1, k].T
        t = time.perf_counter()
        m = mri_unit[::-1, ::-1, k].T.astype(np.float32)
        p = rgb[::-1, ::-1, k].transpose(1, 0, 2)
        out = np.asarray(jaxfuse.fuse(m, p, output_dtype=jnp.uint8))
        times["fuse"] += time.perf_counter() - t
        t = time.perf_counter()
        fused[::-1, ::-1, k] = out.transpose(1, 0, 2)
        times["assemble"] += time.perf_counter() - t

    t = time.perf_counter()
    rgb24 = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])
    image = nib.Nifti1Image(fused.view(rgb24)[..., 0], mri_img.affine)
    nib.save(image, out_path)
    times["write"] = time.perf_counter() - t
    return {key: times[key] for key in STAGES}


def run_gzip_levels(fused_path: str, out_dir: str, levels=(0, 1, 2, 3, 6), repeats: int = 3) -> dict:
    """write_rgb_nifti of a fused volume at each gzip level: median seconds and bytes."""
    import nibabel as nib
    import numpy as np

    from jaxfuse.io.volumes import rgb24_layout, write_rgb_nifti

    image = nib.load(fused_path)
    stored = np.asarray(image.dataobj)
    memory, rgb = rgb24_layout(stored.shape)  # as fuse_volumes lays its output out
    rgb[...] = np.stack([stored["R"], stored["G"], stored["B"]], axis=-1)
    rows = {}
    for threads in (None, 1):
        for level in levels:
            out = pathlib.Path(out_dir) / f"level{level}.nii.gz"
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                write_rgb_nifti(out, rgb, image.affine, compress_level=level, threads=threads)
                times.append(time.perf_counter() - start)
            rows[f"level {level}, threads {'auto' if threads is None else threads}"] = {
                "seconds": statistics.median(times), "bytes": out.stat().st_size}
    plain = pathlib.Path(out_dir) / "plain.nii"
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        write_rgb_nifti(plain, rgb, image.affine)
        times.append(time.perf_counter() - start)
    rows["uncompressed .nii"] = {"seconds": statistics.median(times), "bytes": plain.stat().st_size}
    return {"raw_voxel_bytes": int(memory.nbytes), "levels": rows}


def run_kernel_rate(mri_path: str, pet_path: str, repeats: int = 5) -> dict:
    """The kernel alone on the job's own slices: fuse_volumes' fuser on 64-slice chunks, warm."""
    import jax
    import numpy as np

    from jaxfuse.io import read_volume
    from jaxfuse.volume.batches import chunk_inputs, slice_fuser
    from jaxfuse.volume.slicing import to_canonical, volume_to_slices

    mri = read_volume(mri_path)
    slices = np.ascontiguousarray(volume_to_slices(to_canonical(mri.data, mri.affine)[0], axis="axial"))
    total, height, width = slices.shape
    size = min(64, total)
    pet = np.clip(slices / slices.max(), 0, 1) * 40000.0  # any values: the kernel's cost does not depend on them
    mri_dev, pet_dev = jax.device_put(slices), jax.device_put(pet.astype(np.float32))
    window = (float(slices.min()), float(slices.max()))
    chunks = [jax.block_until_ready(chunk_inputs(mri_dev, pet_dev, s, size=size, mri_window=window,
                                                 pet_window=(0.0, 40000.0), cmap="pet")) for s in range(0, total - size + 1, size)]
    fuser = slice_fuser("vgg19", height=height, width=width)
    jax.block_until_ready(fuser(*chunks[0]))  # compile
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for chunk in chunks:
            jax.block_until_ready(fuser(*chunk))
        rates.append(len(chunks) * size / (time.perf_counter() - start))
    return {"slices_per_s": statistics.median(rates), "slice_shape": [height, width], "batch": size,
            "runs_slices_per_s": rates}


def child(args: argparse.Namespace) -> None:
    """One pipeline in this process: a cold run, then ``repeats`` warm runs; JSON on stdout.
    ``make``: writes the inputs into ``--out`` (a folder) instead."""
    if args.child == "make":
        folder = pathlib.Path(args.out)
        pet = make_pair(folder)[1]
        big = None if args.skip_big else make_big_mri(folder)
        print(json.dumps({"pet": str(pet), "big": str(big) if big else None}))
        return
    if args.child == "gzip":
        print(json.dumps(run_gzip_levels(args.mri, args.out)))
        return
    if args.child == "kernel":
        print(json.dumps(run_kernel_rate(args.mri, args.pet)))
        return
    if args.child == "coldjob":  # one cold job only (the persistent-cache runs)
        print(json.dumps(run_jaxfuse(args.mri, args.pet, args.out)))
        return
    pipeline = {"jaxfuse": run_jaxfuse, "user": run_user}[args.child]
    cold = pipeline(args.mri, args.pet, args.out)
    warm = [pipeline(args.mri, args.pet, args.out) for _ in range(args.repeats)]
    print(json.dumps({"cold": cold, "warm": warm}))


# ------------------------------------------------------------------------------------ the parent


def make_pair(folder: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    import mni_phantom

    _, gm, wm, affine = mni_phantom.mni(1)
    pet, pet_affine = mni_phantom.simulate_pet(gm, wm, affine, voxel_mm=(2.5, 2.5, 2.0), seed=7)
    return T1, mni_phantom.save_int16(folder / "pet.nii.gz", pet, pet_affine)


def make_big_mri(folder: pathlib.Path, shape=(512, 512, 400)) -> pathlib.Path:
    import nibabel as nib
    import numpy as np

    image = nib.load(T1)
    t1 = np.asarray(image.dataobj)
    picks = [np.minimum((np.arange(n) * s / n).astype(int), s - 1) for n, s in zip(shape, t1.shape)]
    big = t1[np.ix_(*picks)]
    scale = np.diag([s / n for n, s in zip(shape, t1.shape)] + [1.0])
    scale[:3, 3] = [(s / n - 1) / 2 for n, s in zip(shape, t1.shape)]
    path = folder / "t1_512x512x400.nii"
    nib.save(nib.Nifti1Image(big, image.affine @ scale), path)
    return path


def _run_child(argv: list[str], env: dict | None = None) -> tuple[list[tuple[float, str]], float, float, str, int]:
    """Runs a command; returns (its stdout lines, each with the seconds from the start at which it
    appeared; wall seconds; the child's own peak resident set size in MiB from ``os.wait4``; stderr
    tail; exit code)."""
    import threading

    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, bufsize=1,
                            env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})))
    err_chunks: list[str] = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))
    reader.start()
    lines = [(time.perf_counter() - start, line) for line in proc.stdout]
    _, status, usage = os.wait4(proc.pid, 0)
    reader.join()
    seconds = time.perf_counter() - start
    return lines, seconds, usage.ru_maxrss / 1024, "".join(err_chunks)[-2000:], os.waitstatus_to_exitcode(status)


def spawn_measured(argv: list[str], env: dict | None = None) -> tuple[dict | None, float, float, str]:
    """Runs a command; returns (its last stdout line as JSON or None, wall seconds, the child's own
    peak resident set size in MiB from ``os.wait4``, stderr tail)."""
    lines, seconds, peak, stderr, code = _run_child(argv, env)
    stdout = "".join(line for _, line in lines).strip()
    data = None
    if code == 0 and stdout:
        try:
            data = json.loads(stdout.splitlines()[-1])
        except json.JSONDecodeError:
            data = {"stdout": stdout[-5000:]}
    return data, seconds, peak, stderr


def summarise(runs: dict) -> dict:
    warm = {key: statistics.median(run[key] for run in runs["warm"]) for key in STAGES}
    cold_total, warm_total = sum(runs["cold"].values()), sum(warm.values())
    return {"warm_median_s": warm, "warm_total_s": warm_total, "cold_total_s": cold_total,
            "compile_s": cold_total - warm_total, "cold_s": runs["cold"], "warm_runs_s": runs["warm"]}


def startup() -> dict:
    def timed(code: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    bare = timed("pass")
    imports = timed("import jaxfuse.volume.fuse, jaxfuse.io.volumes")
    return {"interpreter_s": bare, "interpreter_and_imports_s": imports, "imports_s": imports - bare}


def agreement(path_a: pathlib.Path, path_b: pathlib.Path) -> dict:
    import nibabel as nib
    import numpy as np

    a, b = (np.asarray(nib.load(p).dataobj) for p in (path_a, path_b))
    a, b = (np.stack([x["R"], x["G"], x["B"]], axis=-1).astype(int) for x in (a, b))
    return {"voxels_equal": float(np.mean(np.all(a == b, axis=-1))), "max_abs_level_diff": int(np.abs(a - b).max()),
            "mean_abs_level_diff": float(np.abs(a - b).mean())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--json", type=pathlib.Path)
    parser.add_argument("--folder-pairs", type=int, default=8, help="volume pairs in the folder-mode runs (0: skip; >= 3 for a steady rate)")
    parser.add_argument("--child", choices=("jaxfuse", "user", "make", "gzip", "kernel", "coldjob"), help=argparse.SUPPRESS)
    parser.add_argument("--mri", help=argparse.SUPPRESS)
    parser.add_argument("--pet", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0

    report = {"cpu": cpu_model(), "cpus_available": len(os.sched_getaffinity(0)), "load_average_before": os.getloadavg(),
              "python": platform.python_version(), "repeats": args.repeats}
    try:
        import importlib.metadata as md

        report["versions"] = {d: md.version(d) for d in ("jax", "jaxlib", "numpy", "scipy", "nibabel")}
    except Exception:  # noqa: BLE001
        pass
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        # The inputs are made in a child too: a parent holding big arrays would be counted in each
        # later child's peak RSS (ru_maxrss includes the pages a forked child starts with).
        made, _, _, err = spawn_measured([sys.executable, __file__, "--child", "make", "--out", str(tmp)]
                                         + (["--skip-big"] if args.skip_big else []))
        if made is None:
            raise SystemExit(f"making the inputs failed:\n{err}")
        mri, pet = T1, pathlib.Path(made["pet"])
        report["pair"] = {"mri": str(mri), "mri_shape": [197, 233, 189], "pet_voxel_mm": [2.5, 2.5, 2.0]}
        report["startup"] = startup()
        for name in ("jaxfuse", "user"):
            out = tmp / f"{name}.nii.gz"
            data, seconds, peak, err = spawn_measured(
                [sys.executable, __file__, "--child", name, "--mri", str(mri), "--pet", str(pet), "--out", str(out),
                 "--repeats", str(args.repeats)])
            if data is None:
                raise SystemExit(f"{name} failed:\n{err}")
            report[name] = summarise(data) | {"process_wall_s": seconds, "peak_rss_mib": peak}
        report["speedup_warm"] = report["user"]["warm_total_s"] / report["jaxfuse"]["warm_total_s"]
        report["speedup_cold"] = report["user"]["cold_total_s"] / report["jaxfuse"]["cold_total_s"]

        out = tmp / "cli.nii.gz"
        data, seconds, peak, err = spawn_measured([sys.executable, "-m", "jaxfuse", "fuse", str(mri), str(pet), "-o", str(out),
                                                   "--progress", "off"])
        if data is None:
            raise SystemExit(f"CLI failed:\n{err}")
        report["cli_cold_process"] = {"wall_s": seconds, "peak_rss_mib": peak, "said": data["stdout"]}

        data, _, _, err = spawn_measured([sys.executable, __file__, "--child", "gzip", "--mri", str(tmp / "jaxfuse.nii.gz"),
                                          "--out", str(tmp)])
        if data is None:
            raise SystemExit(f"gzip levels failed:\n{err}")
        report["gzip_levels"] = data

        cache = tmp / "jax_cache"
        cache_env = {"JAX_COMPILATION_CACHE_DIR": str(cache), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                     "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
        runs = []
        for _ in range(2):  # the first fills the cache, the second reads it
            data, seconds, _, err = spawn_measured([sys.executable, __file__, "--child", "coldjob", "--mri", str(mri),
                                                    "--pet", str(pet), "--out", str(tmp / "cached.nii.gz")], env=cache_env)
            if data is None:
                raise SystemExit(f"cached cold job failed:\n{err}")
            runs.append({"job_s": sum(data.values()), "stages_s": data, "process_wall_s": seconds})
        report["cold_with_persistent_cache"] = {"filling": runs[0], "reading": runs[1], "env": sorted(cache_env)}

        if args.folder_pairs > 0:
            report["folder_mode"] = folder_mode(tmp, mri, pet, args.folder_pairs)

        if not args.skip_big:
            big = pathlib.Path(made["big"])
            data, seconds, peak, err = spawn_measured(
                [sys.executable, __file__, "--child", "jaxfuse", "--mri", str(big), "--pet", str(pet),
                 "--out", str(tmp / "big.nii.gz"), "--repeats", "1"])
            if data is None:
                raise SystemExit(f"big failed:\n{err}")
            report["big_512x512x400"] = summarise(data) | {"process_wall_s": seconds, "peak_rss_mib": peak}
        # last: loading the outputs makes this process big (see the note on making the inputs)
        report["agreement_jaxfuse_vs_user"] = agreement(tmp / "jaxfuse.nii.gz", tmp / "user.nii.gz")
    report["load_average_after"] = os.getloadavg()
    print_table(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def timed_lines(argv: list[str]) -> tuple[list[float], float, float, str, int]:
    """Runs a command; returns (seconds from its start at which each stdout line starting with
    "wrote" appeared, wall seconds, peak RSS MiB from ``os.wait4``, stderr tail, exit code)."""
    lines, seconds, peak, stderr, code = _run_child(argv, {"PYTHONUNBUFFERED": "1"})
    return [at for at, line in lines if line.startswith("wrote")], seconds, peak, stderr, code


def folder_mode(tmp: pathlib.Path, mri: pathlib.Path, pet: pathlib.Path, pairs: int) -> dict:
    """The CLI's folder mode over ``pairs`` copies of the pair, one pair at a time and two at once,
    and the kernel alone, in one run."""
    import shutil

    mri_dir, pet_dir = tmp / "mri_dir", tmp / "pet_dir"
    for folder in (mri_dir, pet_dir):
        folder.mkdir()
    for i in range(pairs):
        shutil.copyfile(mri, mri_dir / f"case{i:02d}.nii.gz")
        shutil.copyfile(pet, pet_dir / f"case{i:02d}.nii.gz")
    kernel, _, _, err = spawn_measured([sys.executable, __file__, "--child", "kernel", "--mri", str(mri), "--pet", str(pet)])
    if kernel is None:
        raise SystemExit(f"kernel rate failed:\n{err}")
    slices = 189
    result = {"pairs": pairs, "slices_per_pair": slices, "kernel": kernel}
    for label, extra in (("one_at_a_time", ["--workers", "1"]), ("two_at_once", [])):
        out_dir = tmp / f"out_{label}"
        argv = [sys.executable, "-m", "jaxfuse", "fuse", "--mri-dir", str(mri_dir), "--pet-dir", str(pet_dir),
                "--out-dir", str(out_dir), "--progress", "off", *extra]
        stamps, seconds, peak, err, code = timed_lines(argv)
        if code != 0 or len(stamps) != pairs:
            raise SystemExit(f"folder mode ({label}) failed:\n{err}")
        run = {"process_wall_s": seconds, "peak_rss_mib": peak, "pair_done_s": stamps,
               "slices_per_s_whole_process": pairs * slices / seconds}
        if pairs >= 3:  # the first two pairs compile (two at once: both); the rest is the steady rate
            run["slices_per_s_after_first_two"] = (pairs - 2) * slices / (stamps[-1] - stamps[1])
            run["share_of_kernel"] = run["slices_per_s_after_first_two"] / kernel["slices_per_s"]
        result[label] = run
        shutil.rmtree(out_dir)
    return result


def print_table(report: dict) -> None:
    print(f"CPU: {report['cpu']} ({report['cpus_available']} available), load {report['load_average_before']}")
    rows = [("jaxfuse", report["jaxfuse"]), ("user-written", report["user"])]
    if "big_512x512x400" in report:
        rows.append(("jaxfuse 512x512x400", report["big_512x512x400"]))
    print("| pipeline | " + " | ".join(STAGES) + " | warm total | compile | peak RSS |")
    print("|---" * (len(STAGES) + 4) + "|")
    for name, row in rows:
        cells = " | ".join(f"{row['warm_median_s'][key]:.3f}" for key in STAGES)
        print(f"| {name} | {cells} | {row['warm_total_s']:.2f} s | {row['compile_s']:.2f} s | {row['peak_rss_mib']:.0f} MiB |")
    s = report["startup"]
    print(f"interpreter {s['interpreter_s']:.2f} s, imports {s['imports_s']:.2f} s; "
          f"CLI cold process {report['cli_cold_process']['wall_s']:.2f} s; speed-up warm {report['speedup_warm']:.1f}x, "
          f"cold {report['speedup_cold']:.1f}x; agreement {report['agreement_jaxfuse_vs_user']}")
    for name, row in report["gzip_levels"]["levels"].items():
        print(f"write {name}: {row['seconds']:.3f} s, {row['bytes'] / 1e6:.2f} MB")
    cached = report["cold_with_persistent_cache"]
    print(f"cold job with JAX's persistent cache: filling {cached['filling']['job_s']:.2f} s, "
          f"reading {cached['reading']['job_s']:.2f} s")
    if "folder_mode" in report:
        f = report["folder_mode"]
        for label in ("one_at_a_time", "two_at_once"):
            run = f[label]
            print(f"folder mode {label.replace('_', ' ')}, {f['pairs']} pairs: {run['slices_per_s_whole_process']:.0f} "
                  f"slices/s whole process, {run.get('slices_per_s_after_first_two', 0):.0f} after the first two; "
                  f"kernel alone {f['kernel']['slices_per_s']:.0f} slices/s ({run.get('share_of_kernel', 0):.0%}); "
                  f"peak {run['peak_rss_mib']:.0f} MiB")

if __name__ == "__main__":
    raise SystemExit(main())
