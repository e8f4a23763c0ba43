"""Throughput of registered fusion methods side by side (one process, interleaved rounds).

    python benchmarks/methods.py [--methods vgg19,li2018,lahoud2019] [--batch 8] [--size 256]
        [--rounds 5] [--json benchmarks/results/methods_cpu.json]

Inputs: the first ``--batch`` Harvard PET-MRI pairs (uint8, ``../shared/data``), cropped or tiled to
``--size``; seeded noise when the data are absent (the output says which). Each method goes through
:func:`jaxfuse.methods.batch_fuser` (uint8 out), exactly as ``jaxfuse fuse-dir`` and ``jaxfuse
evaluate`` run it. Compilation is outside the timings: one call per method first (timed on its own,
"first call"), then ``--rounds`` rounds, each timing one call of every method in turn (interleaved,
so a change of machine load hits all methods alike), every call ending in ``jax.block_until_ready``.
Reported: median and IQR of seconds per call, pairs/s = batch / median, and each method's speed
relative to the first method in the list (same run). The JSON carries the metadata (date, commit,
CPU, load, versions, devices).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import numpy as np
from machine import cpu_model  # benchmarks/machine.py (the script's folder is on sys.path)

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "harvard" / "PET-MRI"


def load_inputs(batch: int, size: int):
    """uint8 MRI ``[batch, size, size]``, PET ``[batch, size, size, 3]`` and where they came from."""
    if (DATA / "MRI").is_dir():
        from PIL import Image

        names = sorted(p.name for p in (DATA / "MRI").glob("*.png"))
        picks = [names[i % len(names)] for i in range(batch)]
        mri = np.stack([np.asarray(Image.open(DATA / "MRI" / n).convert("L")) for n in picks])
        pet = np.stack([np.asarray(Image.open(DATA / "PET" / n).convert("RGB")) for n in picks])
        reps = -(-size // mri.shape[1])
        mri = np.tile(mri, (1, reps, reps))[:, :size, :size]
        pet = np.tile(pet, (1, reps, reps, 1))[:, :size, :size]
        return mri, pet, f"Harvard PET-MRI pairs ({DATA})"
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (batch, size, size), dtype=np.uint8),
            rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8), "seeded uniform noise")  # fmt: skip


def commit() -> str:
    head = REPO / ".git"
    if head.is_file():  # a worktree: "gitdir: ..."
        head = pathlib.Path(head.read_text().split(":", 1)[1].strip())
    try:
        ref = (head / "HEAD").read_text().strip()
        if ref.startswith("ref:"):
            name = ref.split(" ", 1)[1]
            for root in (head, head.parent.parent):
                if (root / name).is_file():
                    return (root / name).read_text().strip()[:10]
        return ref[:10]
    except OSError:
        return "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="vgg19,li2018,lahoud2019")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args(argv)

    import jax

    from jaxfuse.methods import batch_fuser

    methods = args.methods.split(",")
    mri, pet, source = load_inputs(args.batch, args.size)
    mri, pet = jax.device_put(mri), jax.device_put(pet)
    fusers = {m: batch_fuser(m) for m in methods}
    load_start = os.getloadavg()[0]
    first = {}
    for method, fuse in fusers.items():
        start = time.perf_counter()
        jax.block_until_ready(fuse(mri, pet))
        first[method] = time.perf_counter() - start
    samples = {m: [] for m in methods}
    for _ in range(args.rounds):
        for method, fuse in fusers.items():
            start = time.perf_counter()
            jax.block_until_ready(fuse(mri, pet))
            samples[method].append(time.perf_counter() - start)
    rows = []
    for method in methods:
        times = sorted(samples[method])
        median = statistics.median(times)
        q = np.percentile(times, [25, 75])
        rows.append(
            {
                "method": method,
                "batch": args.batch,
                "size": args.size,
                "median_s": median,
                "iqr_s": float(q[1] - q[0]),
                "pairs_per_s": args.batch / median,
                "first_call_s": first[method],
                "samples_s": samples[method],
            }
        )
    base = rows[0]["pairs_per_s"]
    print(f"inputs: {source}; {args.batch} pairs of {args.size}x{args.size}; {args.rounds} interleaved rounds")
    print(f"{'method':<12} {'pairs/s':>9} {'ms/pair':>9} {'IQR ms':>8} {'first s':>8} {'÷ ' + methods[0]:>10}")
    for row in rows:
        row["relative_to_first"] = row["pairs_per_s"] / base
        print(
            f"{row['method']:<12} {row['pairs_per_s']:9.2f} {1000 * row['median_s'] / args.batch:9.1f} "
            f"{1000 * row['iqr_s']:8.1f} {row['first_call_s']:8.1f} {row['relative_to_first']:10.4f}"
        )
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(), "cpu": cpu_model(), "usable_cpus": len(os.sched_getaffinity(0)),
        "load_start": load_start, "load_end": os.getloadavg()[0], "python": platform.python_version(),
        "jax": jax.__version__, "devices": [str(d) for d in jax.devices()], "inputs": source,
        "settings": vars(args) | {"json": str(args.json) if args.json else None},
    }  # fmt: skip
    print(f"load average {meta['load_start']:.1f} -> {meta['load_end']:.1f}; {meta['cpu']}; jax {jax.__version__}")
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
