"""Folder mode end to end: ``jaxfuse fuse --mri-dir --pet-dir --out-dir`` of two code trees, interleaved.

Builds a folder of ``--pairs`` 256x256 PET-MRI pairs (the Harvard pairs of
``../shared/data/harvard/PET-MRI``, copied under new names until there are enough) in a temporary
folder, then runs folder mode once per variant and repeat, variants interleaved. A variant is
``LABEL=ROOT[:ARGS]``: the jaxfuse package of the tree ``ROOT`` (on ``PYTHONPATH``, in a fresh
process) and extra ``fuse`` arguments, e.g. ``main=/work/main`` or ``npy=.:--format npy``.

Each child process calls the command line's ``main`` twice: **cold** (the first call compiles the
kernel; this is what a user gets, and the tool's own count includes it), then **warm** into another
empty folder (same process: the compiled kernel is reused). It records the wall time, the tool's own
pairs/s (its summary line) and the process CPU time of each, then measures the stages one at a
time on one thread with that tree's functions: decode MRI, decode PET, kernel (batch of
``--batch-size``, warm), encode (to memory) and write (atomic write of the encoded bytes). The
warm run's ``cores x wall`` per pair is split into the CPU it used and the idle (waiting) rest.

Every output of every variant is decoded and compared with the first variant's (pixels must be
identical; PNG, ``.npy`` and ``.nii`` are all read back).

    python benchmarks/folder.py --variant main=/work/main --variant new=. [--pairs 538] [--repeats 3]
        [--json benchmarks/results/folder_cpu.json]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import pathlib
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

from machine import cpu_details, cpu_model  # benchmarks/machine.py (the script's folder is on sys.path)

ROOT = pathlib.Path(__file__).resolve().parents[1]
HARVARD = ROOT.parent / "shared" / "data" / "harvard" / "PET-MRI"


def build_folder(folder: pathlib.Path, pairs: int) -> None:
    """``folder/mri`` and ``folder/pet``: ``pairs`` copies of the Harvard PET-MRI pairs (real files)."""
    names = sorted(p.name for p in (HARVARD / "MRI").glob("*.png"))
    if not names:
        raise SystemExit(f"no pairs in {HARVARD}")
    for sub in ("mri", "pet"):
        (folder / sub).mkdir(parents=True)
    for index in range(pairs):
        name = names[index % len(names)]
        copy = f"r{index // len(names)}_{name}"
        shutil.copyfile(HARVARD / "MRI" / name, folder / "mri" / copy)
        shutil.copyfile(HARVARD / "PET" / name, folder / "pet" / copy)


# ------------------------------------------------------------------------------------- the child


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_cli(argv: list[str]) -> dict:
    from jaxfuse.cli import main

    stdout = io.StringIO()
    cpu, start = _cpu_seconds(), time.perf_counter()
    with contextlib.redirect_stdout(stdout):
        code = main(argv)
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    summary = stdout.getvalue().strip().splitlines()[-1]
    if code != 0:
        raise SystemExit(f"exit {code}: {summary}")
    fused = int(summary.split()[1])
    tool_seconds = float(summary.split(" in ")[1].split(" s ")[0])
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "tool_s": tool_seconds,
        "tool_pairs_per_s": fused / tool_seconds,
        "fused": fused,
    }


def _outputs_module():
    """This tree's module of folder-mode output writers (``write_output``, ``OUTPUT_FORMATS``,
    ``image_from_fused_nifti``): ``jaxfuse.io.outputs``, or ``jaxfuse.pipeline`` in trees where
    ``--format`` came before that module; None in trees before ``--format`` (PNG only)."""
    for name in ("jaxfuse.io.outputs", "jaxfuse.pipeline"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "write_output"):
            return module
    return None


def _writer(args: list[str]):
    """``(path, image) -> None`` and the suffix, as this tree's folder mode writes with ``args``."""
    level = int(args[args.index("--png-level") + 1]) if "--png-level" in args else 1
    form = args[args.index("--format") + 1] if "--format" in args else "png"
    outputs = _outputs_module()
    if outputs is None:  # older trees: write_png only
        from jaxfuse.io.images import write_png

        return (lambda path, image: write_png(path, image, compress_level=level)), ".png"
    return (lambda path, image: outputs.write_output(path, image, format=form, png_level=level)), outputs.OUTPUT_FORMATS[form]


def _stages(
    mri_dir: pathlib.Path, pet_dir: pathlib.Path, scratch: pathlib.Path, args: list[str], batch: int, count: int
) -> dict:
    """Per-pair CPU (``*_ms``) and wall (``*_wall_ms``) milliseconds of each stage, one at a time (warm)."""
    import numpy as np

    from jaxfuse.io.atomic import atomic_write
    from jaxfuse.io.images import read_functional, read_mri
    from jaxfuse.methods import batch_fuser

    names = sorted(p.name for p in mri_dir.iterdir())[:count]
    n = len(names)
    out: dict = {}

    def timed(key: str, calls: int, work):
        cpu, start = _cpu_seconds(), time.perf_counter()
        value = work()
        out[key + "_ms"] = 1e3 * (_cpu_seconds() - cpu) / calls  # process CPU: the kernel's threads too
        out[key + "_wall_ms"] = 1e3 * (time.perf_counter() - start) / calls
        return value

    mris = timed("decode_mri", n, lambda: [read_mri(mri_dir / name) for name in names])
    pets = timed("decode_pet", n, lambda: [read_functional(pet_dir / name) for name in names])
    fuse = batch_fuser("vgg19")
    mri, pet = np.stack(mris[:batch]), np.stack(pets[:batch])
    np.asarray(fuse(mri, pet))  # compiled already in this process; makes sure
    fused = timed("kernel", 5 * len(mri), lambda: [np.asarray(fuse(mri, pet)) for _ in range(5)])[-1]
    write, suffix = _writer(args)
    images = [fused[i % len(fused)] for i in range(n)]
    scratch.mkdir()
    (scratch / "bytes").mkdir()
    paths = [scratch / f"{index}{suffix}" for index in range(n)]
    timed("encode", n, lambda: [write(path, image) for path, image in zip(paths, images)])
    encoded = [path.read_bytes() for path in paths]

    def write_all() -> None:  # the same bytes again: the file system's share
        for index, data in enumerate(encoded):
            atomic_write(scratch / "bytes" / f"{index}{suffix}", lambda handle, data=data: handle.write(data))

    timed("write", n, write_all)
    out["encode_ms"] -= out["write_ms"]  # encode was timed with its write
    out["encode_wall_ms"] -= out["write_wall_ms"]
    out["bytes_per_output"] = sum(map(len, encoded)) / n
    return out


def child(options: argparse.Namespace, extra: list[str]) -> None:
    start = time.perf_counter()
    import jax  # noqa: F401 - import and backend start measured apart from the runs

    jax.devices()
    started = time.perf_counter() - start
    work = pathlib.Path(options.work)
    base = ["fuse", "--mri-dir", str(work / "mri"), "--pet-dir", str(work / "pet"), "--progress", "off"]
    base += ["--batch-size", str(options.batch_size), *extra]
    cold = _run_cli(base + ["--out-dir", str(options.out)])
    cold["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # start-up + cold run
    warm_dir = pathlib.Path(options.out + ".warm")
    warm = _run_cli(base + ["--out-dir", str(warm_dir)])
    shutil.rmtree(warm_dir)
    stages = _stages(work / "mri", work / "pet", pathlib.Path(options.out + ".stages"), extra, options.batch_size, 128)
    shutil.rmtree(options.out + ".stages")
    print(json.dumps({"startup_s": started, "cold": cold, "warm": warm, "stages": stages}))


def _codec_task(task: tuple) -> int:
    """Decodes one pair and writes one fused image (PNG, this tree's writer): the codec work of a pair."""
    import numpy as np

    from jaxfuse.io.images import read_pair

    mri_path, pet_path, out_path, level = task
    mri, pet = read_pair(mri_path, pet_path)
    image = np.ascontiguousarray(np.minimum(pet.astype(np.uint16) + mri[..., None] // 2, 255).astype(np.uint8))
    write, _ = _writer(["--png-level", str(level)])
    write(out_path, image)
    return image.shape[0]


def codec_alternatives(work: pathlib.Path, count: int) -> dict:
    """CPU ms per image of other codecs on the same files and their fusions (one thread): Pillow's and
    imagecodecs' (libpng) PNG decoders, Pillow's PNG encoder at level 1, this tree's, and the same
    Up-filtered rows through libdeflate (imagecodecs) instead of zlib. None where not installed."""
    import numpy as np
    from PIL import Image

    from jaxfuse.io.images import read_functional, read_mri

    names = sorted(p.name for p in (work / "mri").iterdir())[:count]
    files = [(work / "mri" / n).read_bytes() for n in names] + [(work / "pet" / n).read_bytes() for n in names]
    import jax.numpy as jnp

    import jaxfuse

    mri = np.stack([read_mri(work / "mri" / n) for n in names])
    pet = np.stack([read_functional(work / "pet" / n) for n in names])
    images = list(np.asarray(jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8)))  # real fusions

    def cpu_ms(work_one, items) -> tuple[float, float]:
        best, size = float("inf"), 0.0
        for _ in range(3):
            start = time.thread_time()
            out = [work_one(item) for item in items]
            best = min(best, (time.thread_time() - start) / len(items))
            size = sum(len(o) for o in out if isinstance(o, bytes)) / len(items)
        return 1e3 * best, size

    def pillow_decode(data: bytes):
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return np.asarray(image).shape

    def pillow_encode(image) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()

    result = {"pillow_decode_ms": cpu_ms(pillow_decode, files)[0]}
    result["pillow_encode_level1_ms"], result["pillow_encode_level1_bytes"] = cpu_ms(pillow_encode, images)
    try:
        from jaxfuse.io.png import encode_png

        result["this_encode_level1_ms"], result["this_encode_level1_bytes"] = cpu_ms(encode_png, images)
    except ImportError:
        pass
    try:
        import imagecodecs
    except ImportError:
        return result
    result["imagecodecs_png_decode_ms"] = cpu_ms(imagecodecs.png_decode, files)[0]

    def up_rows(image):
        rows = image.reshape(image.shape[0], -1)
        out = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
        out[:, 0] = 2
        out[0, 1:] = rows[0]
        np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])
        return out

    filtered = [up_rows(image).tobytes() for image in images]
    result["libdeflate_level1_deflate_ms"], result["libdeflate_level1_bytes"] = cpu_ms(
        lambda data: bytes(imagecodecs.deflate_encode(data, level=1)), filtered
    )
    result["zlib_rle_level1_deflate_ms"] = cpu_ms(
        lambda data: (lambda c: c.compress(data) + c.flush())(zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)),
        filtered,
    )[0]
    return result


def codec_scaling(work: pathlib.Path, count: int, repeats: int) -> dict:
    """Pairs/s of the codec work alone (decode two, encode one) on 1 thread, 2 threads and 2 processes.

    Threads scale only as far as the codecs release the GIL; processes always do but pay start-up
    (not timed here: the pools are warmed first) and pickling.
    """
    import concurrent.futures
    import multiprocessing

    names = sorted(p.name for p in (work / "mri").iterdir())[:count]
    out = work / "scaling"
    out.mkdir(exist_ok=True)
    tasks = [(work / "mri" / n, work / "pet" / n, out / n, 1) for n in names]
    context = multiprocessing.get_context("forkserver")
    kinds = {
        "1 thread": lambda: concurrent.futures.ThreadPoolExecutor(1),
        "2 threads": lambda: concurrent.futures.ThreadPoolExecutor(2),
        "2 processes": lambda: concurrent.futures.ProcessPoolExecutor(2, mp_context=context),
    }
    rates: dict[str, list] = {kind: [] for kind in kinds}
    for _ in range(repeats):
        for kind, make in kinds.items():
            with make() as pool:
                list(pool.map(_codec_task, tasks[:8]))  # started and imported before timing
                start = time.perf_counter()
                list(pool.map(_codec_task, tasks, chunksize=4 if "process" in kind else 1))
                rates[kind].append(len(tasks) / (time.perf_counter() - start))
    shutil.rmtree(out)
    result = {kind: statistics.median(values) for kind, values in rates.items()}
    result["thread_speedup_2_vs_1"] = result["2 threads"] / result["1 thread"]
    result["process_speedup_2_vs_1"] = result["2 processes"] / result["1 thread"]
    return result


# ------------------------------------------------------------------------------------- the parent


def read_outputs(folder: pathlib.Path) -> dict:
    """``{stem: uint8 [H, W, 3]}`` of every output file (PNG, .npy or .nii)."""
    import nibabel
    import numpy as np
    from PIL import Image

    out = {}
    for path in sorted(folder.iterdir()):
        stem, suffix = path.name.split(".", 1)
        if suffix == "png":
            out[stem] = np.asarray(Image.open(path))
        elif suffix == "npy":
            out[stem] = np.load(path, allow_pickle=False)
        elif suffix in ("nii", "nii.gz"):
            out[stem] = _outputs_module().image_from_fused_nifti(nibabel.load(path))
        else:
            raise SystemExit(f"unexpected output {path}")
    return out


def summarise(runs: list[dict], cores: int) -> dict:
    med = lambda key, part: statistics.median(r[part][key] for r in runs)  # noqa: E731
    fused = runs[0]["warm"]["fused"]
    warm_wall = med("wall_s", "warm")
    stages = {key: statistics.median(r["stages"][key] for r in runs) for key in runs[0]["stages"]}
    cpu_ms = 1e3 * med("cpu_s", "warm") / fused
    wall_ms = 1e3 * warm_wall / fused
    stage_sum = sum(v for k, v in stages.items() if k.endswith("_ms") and not k.endswith("_wall_ms"))
    return {
        "cold_tool_pairs_per_s": med("tool_pairs_per_s", "cold"),
        "cold_wall_pairs_per_s": fused / med("wall_s", "cold"),
        "cold_peak_rss_mib": med("peak_rss_mib", "cold"),
        "warm_tool_pairs_per_s": med("tool_pairs_per_s", "warm"),
        "compile_and_first_call_s": med("tool_s", "cold") - med("tool_s", "warm"),
        "startup_s": statistics.median(r["startup_s"] for r in runs),
        "stages_ms": stages,
        "stage_sum_ms": stage_sum,
        "warm_wall_ms_per_pair": wall_ms,
        "warm_cpu_ms_per_pair": cpu_ms,
        "overhead_ms_per_pair": cpu_ms - stage_sum,  # CPU in the run beyond the stages (threads, glue, headers)
        "idle_core_ms_per_pair": cores * wall_ms - cpu_ms,  # waiting: cores x wall not used
    }


def paired_ratios(runs: list[dict], reference: list[dict], label: str) -> dict:
    """Median over repeats of this variant's pairs/s over the reference's in the same repeat (the
    two ran back to back, so a change in the machine's load mostly cancels)."""
    out = {}
    for part in ("cold", "warm"):
        ratios = [r[part]["tool_pairs_per_s"] / b[part]["tool_pairs_per_s"] for r, b in zip(runs, reference)]
        out[f"{part}_ratio_paired_vs_{label}"] = statistics.median(ratios)
        out[f"{part}_ratios_per_repeat_vs_{label}"] = ratios
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--variant", action="append", default=[], help="LABEL=ROOT[:ARGS] (repeatable; the first is the reference)"
    )
    parser.add_argument("--pairs", type=int, default=538)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=pathlib.Path)
    parser.add_argument("--scaling-pairs", type=int, default=256, help="pairs of the codec scaling run (0: none)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    options, extra = parser.parse_known_args()
    if options.child:
        return child(options, extra)
    sys.path.insert(0, str(ROOT))  # this tree: the codec scaling run and reading outputs back
    os.environ["PYTHONPATH"] = str(ROOT)  # and the scaling run's worker processes
    variants = []
    for spec in options.variant or [f"main={ROOT.parent / 'main'}", "new=."]:
        label, _, rest = spec.partition("=")
        root, _, args = rest.partition(":")
        variants.append((label, pathlib.Path(root).resolve(), shlex.split(args)))
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="jaxfuse-folder-bench-") as tmp:
        tmp = pathlib.Path(tmp)
        build_folder(tmp, options.pairs)
        runs: dict[str, list] = {label: [] for label, _, _ in variants}
        first_outputs: dict[str, pathlib.Path] = {}
        load_before = os.getloadavg()
        for repeat in range(options.repeats):
            for label, root, args in variants:
                out = tmp / f"out-{label}-{repeat}"
                command = [
                    sys.executable,
                    __file__,
                    "--child",
                    "--work",
                    str(tmp),
                    "--out",
                    str(out),
                    "--batch-size",
                    str(options.batch_size),
                    *args,
                ]
                env = dict(os.environ, PYTHONPATH=str(root))
                done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"{label} failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                runs[label].append(result)
                print(f"repeat {repeat} {label}: cold {result['cold']['tool_pairs_per_s']:.1f} pairs/s (tool), "
                      f"warm {result['warm']['tool_pairs_per_s']:.1f}", file=sys.stderr)  # fmt: skip
                if repeat == 0:
                    first_outputs[label] = out
                else:
                    shutil.rmtree(out)
        scaling = codec_scaling(tmp, options.scaling_pairs, options.repeats) if options.scaling_pairs else None
        alternatives = codec_alternatives(tmp, 64)
        reference_label = variants[0][0]
        reference = read_outputs(first_outputs[reference_label])
        identical = {}
        for label, _, _ in variants:
            got = read_outputs(first_outputs[label])
            identical[label] = sorted(got) == sorted(reference) and all(
                got[k].shape == reference[k].shape and (got[k] == reference[k]).all() for k in reference
            )
        load_after = os.getloadavg()
    summary = {label: summarise(runs[label], cores) for label, _, _ in variants}
    base = summary[reference_label]
    for label, values in summary.items():
        values["cold_ratio_vs_" + reference_label] = values["cold_tool_pairs_per_s"] / base["cold_tool_pairs_per_s"]
        values["warm_ratio_vs_" + reference_label] = values["warm_tool_pairs_per_s"] / base["warm_tool_pairs_per_s"]
        values.update(paired_ratios(runs[label], runs[reference_label], reference_label))
        values["pixels_identical_to_" + reference_label] = identical[label]
    result = {
        "what": "folder mode end to end (benchmarks/folder.py)",
        "cpu": {"model_name": cpu_model(), **cpu_details()},
        "load_average_before": load_before,
        "load_average_after": load_after,
        "python": platform.python_version(),
        "pairs": options.pairs,
        "batch_size": options.batch_size,
        "repeats": options.repeats,
        "variants": {label: {"root": str(root), "args": args} for label, root, args in variants},
        "summary": summary,
        "codec_scaling_this_tree": scaling,
        "codec_alternatives_cpu_ms": alternatives,
        "runs": runs,
    }
    print_table(summary, reference_label, result["cpu"])
    print("other codecs, CPU ms per image (bytes): " + ", ".join(f"{k} {v:.2f}" for k, v in alternatives.items()))
    if scaling:
        print(
            "codec work alone (decode 2 + encode 1 PNG), pairs/s: "
            + ", ".join(f"{k} {v:.2f}" for k, v in scaling.items())
        )
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps(result, indent=1) + "\n")


def print_table(summary: dict, reference: str, cpu: dict) -> None:
    print(
        f"CPU: {cpu['model_name']} (family {cpu.get('cpu family')}, model {cpu.get('model')}), {cpu['cores_usable']} usable cores"
    )
    print("| variant | cold pairs/s (tool) | x ref (paired) | warm pairs/s (tool) | x ref (paired) | compile+first s | "
          "decode MRI | decode PET | kernel | encode | write | stage sum | run CPU | overhead | idle core | wall | same pixels |")  # fmt: skip
    print("|---|" + "---:|" * 15 + "---|")
    for label, v in summary.items():
        s = v["stages_ms"]
        print(
            f"| {label} | {v['cold_tool_pairs_per_s']:.0f} | {v['cold_ratio_paired_vs_' + reference]:.2f}x | "
            f"{v['warm_tool_pairs_per_s']:.0f} | {v['warm_ratio_paired_vs_' + reference]:.2f}x | {v['compile_and_first_call_s']:.2f} | {s['decode_mri_ms']:.2f} | "
            f"{s['decode_pet_ms']:.2f} | {s['kernel_ms']:.2f} | {s['encode_ms']:.2f} | {s['write_ms']:.2f} | {v['stage_sum_ms']:.2f} | "
            f"{v['warm_cpu_ms_per_pair']:.2f} | {v['overhead_ms_per_pair']:.2f} | {v['idle_core_ms_per_pair']:.2f} | "
            f"{v['warm_wall_ms_per_pair']:.2f} | {v['pixels_identical_to_' + reference]} |"
        )


if __name__ == "__main__":
    main()
