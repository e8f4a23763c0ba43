"""Digest of the fused bytes of every registered method on the Harvard pairs.

A refactor must not change a single output byte: run this on two commits and compare the files::

    python benchmarks/fused_digest.py --out before.json      # on the old commit
    python benchmarks/fused_digest.py --out after.json       # on the new one
    python benchmarks/fused_digest.py --compare before.json after.json

It fuses every PET-MRI and SPECT-MRI pair (uint8 out, batches of 32 through the public
``jaxfuse.fuse_with``) and records one sha256 per (task, method) over all pairs in name order,
plus one per pair for the first method that differs, so a mismatch can be located.
Only public names are used, so the script runs unchanged on both sides of a restructure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys

import numpy as np

DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "harvard"
TASKS = {"PET-MRI": "PET", "SPECT-MRI": "SPECT"}


def _pairs(task: str):
    import jaxfuse

    mri_dir, pet_dir = DATA / task / "MRI", DATA / task / TASKS[task]
    names = sorted(p.name for p in mri_dir.glob("*.png") if (pet_dir / p.name).exists())
    mri = np.stack([jaxfuse.read_mri(mri_dir / n) for n in names])
    pet = np.stack([jaxfuse.read_functional(pet_dir / n) for n in names])
    return names, mri, pet


def digest(methods: list[str] | None, batch: int) -> dict:
    import jax.numpy as jnp

    import jaxfuse

    methods = methods or list(jaxfuse.METHODS)
    result: dict = {}
    for task in TASKS:
        names, mri, pet = _pairs(task)
        for method in methods:
            per_pair = []
            for start in range(0, len(names), batch):
                fused = np.asarray(
                    jaxfuse.fuse_with(mri[start : start + batch], pet[start : start + batch], method=method, output_dtype=jnp.uint8)
                )
                per_pair += [hashlib.sha256(image.tobytes()).hexdigest() for image in fused]
            whole = hashlib.sha256("".join(per_pair).encode()).hexdigest()
            result[f"{task}/{method}"] = {"sha256": whole, "pairs": dict(zip(names, per_pair))}
            print(f"{task:10} {method:12} {len(names)} pairs {whole[:16]}", flush=True)
    return result


def compare(before: dict, after: dict) -> int:
    bad = 0
    for key in sorted(set(before) | set(after)):
        if key not in before or key not in after:
            print(f"{key}: only in {'after' if key in after else 'before'}")
            bad += 1
        elif before[key]["sha256"] != after[key]["sha256"]:
            differ = [n for n, h in before[key]["pairs"].items() if after[key]["pairs"].get(n) != h]
            print(f"{key}: {len(differ)} pairs differ, e.g. {differ[:5]}")
            bad += 1
        else:
            print(f"{key}: identical ({len(before[key]['pairs'])} pairs)")
    print("IDENTICAL" if not bad else f"{bad} method(s) differ")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, help="write the digests here (JSON)")
    parser.add_argument("--methods", help="comma-separated subset (default: every registered method)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--compare", nargs=2, type=pathlib.Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return compare(*(json.loads(p.read_text()) for p in args.compare))
    result = digest(args.methods.split(",") if args.methods else None, args.batch)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
