"""Peak memory of ``jaxfuse fuse --mri-dir ...`` for 100 vs 10,000 pairs (issue: memory stays flat).

Builds folders of N pairs as symbolic links to the real Harvard PET-MRI pairs in
``../shared/data/harvard`` (cycled; nothing is copied), runs the installed ``jaxfuse`` command on
each in a fresh process, and reads that process's peak resident set size (``ru_maxrss`` from
``os.wait4``). Prints a markdown table and writes JSON.

    python benchmarks/memory_flat.py [--counts 100,10000] [--batch-size 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "harvard" / "PET-MRI"


def _make_folders(root: pathlib.Path, count: int) -> tuple[pathlib.Path, pathlib.Path]:
    names = sorted(p.name for p in (DATA / "MRI").glob("*.png"))
    mri_dir, pet_dir = root / "MRI", root / "PET"
    mri_dir.mkdir(parents=True)
    pet_dir.mkdir(parents=True)
    for i in range(count):
        source = names[i % len(names)]
        (mri_dir / f"{i:06d}.png").symlink_to(DATA / "MRI" / source)
        (pet_dir / f"{i:06d}.png").symlink_to(DATA / "PET" / source)
    return mri_dir, pet_dir


def _run(count: int, batch_size: int, workdir: pathlib.Path) -> dict:
    root = workdir / f"n{count}"
    mri_dir, pet_dir = _make_folders(root, count)
    out_dir = root / "fused"
    command = [sys.executable, "-m", "jaxfuse", "fuse", "--mri-dir", str(mri_dir), "--pet-dir", str(pet_dir),
               "--out-dir", str(out_dir), "--batch-size", str(batch_size), "--progress", "off"]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    written = len(list(out_dir.glob("*.png")))
    shutil.rmtree(root)
    return {
        "pairs": count,
        "batch_size": batch_size,
        "exit_code": os.waitstatus_to_exitcode(status),
        "written": written,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "seconds": seconds,
        "pairs_per_second": count / seconds,
        "summary": stdout.strip().splitlines()[0] if stdout.strip() else stderr.strip()[-300:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="100,10000")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"data missing: {DATA}", file=sys.stderr)
        return 1
    results = []
    with tempfile.TemporaryDirectory(prefix="jaxfuse-memory-") as tmp:
        for count in (int(c) for c in args.counts.split(",")):
            results.append(_run(count, args.batch_size, pathlib.Path(tmp)))
    print("| pairs | batch | exit | written | peak RSS (MiB) | wall s | pairs/s (end to end) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['pairs']} | {r['batch_size']} | {r['exit_code']} | {r['written']} | {r['peak_rss_mib']:.0f} | {r['seconds']:.1f} | {r['pairs_per_second']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["exit_code"] == 0 and r["written"] == r["pairs"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
