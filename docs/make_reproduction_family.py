#!/usr/bin/env python
"""Writes the VGG19-family section of ``docs/reproduction.md``: ``li2018`` and ``lahoud2019`` beside ``vgg19``.

Run from the repository root::

    python docs/make_reproduction_family.py

Same pairs and metrics as ``docs/make_reproduction.py``: every PET-MRI and SPECT-MRI pair of
``../shared/data/harvard``, each method through :func:`jaxfuse.evaluation.run.evaluate_folders`
(one call per method, batch 32, metrics of :func:`jaxfuse.metrics.evaluate_all` on the uint8 fused
images). ``vgg19`` runs in the same process, interleaved with the new methods, so that its
throughput is a same-run baseline for theirs. The per-pair rows of the new methods go to
``docs/reproduction/<dataset>/vgg19_family.csv``; the section between the markers below replaces
the previous one in ``docs/reproduction.md`` (inserted before "## Limitations" the first time).
``--rows`` keeps the raw rows as JSON and ``--render-only`` rebuilds the text from them.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import pathlib
import sys
import time

import numpy as np
from scipy import stats

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "harvard"
DATASETS = (("pet-mri", "PET-MRI", "MRI", "PET"), ("spect-mri", "SPECT-MRI", "MRI", "SPECT"))
METHODS = ("vgg19", "li2018", "lahoud2019")
NEW = ("li2018", "lahoud2019")
PAPER = ("EN", "MI", "D", "OP")
MACHINE = "2-core Intel Xeon (Sapphire Rapids), shared"
BEGIN = "<!-- BEGIN vgg19-family: written by docs/make_reproduction_family.py -->"
END = "<!-- END vgg19-family -->"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def evaluate(limit: int) -> dict:
    from jaxfuse.evaluation.run import evaluate_folders

    result = {
        "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": os.getloadavg()[0],
        "datasets": {},
    }
    for key, folder, anat, func in DATASETS:
        mri_dir, pet_dir = DATA / folder / anat, DATA / folder / func
        if limit:
            import tempfile

            scratch = pathlib.Path(tempfile.mkdtemp(prefix="family-"))
            names = sorted(p.name for p in mri_dir.iterdir())[:limit]
            for sub, source in (("MRI", mri_dir), ("FUNC", pet_dir)):
                (scratch / sub).mkdir()
                for name in names:
                    (scratch / sub / name).symlink_to(source / name)
            mri_dir, pet_dir = scratch / "MRI", scratch / "FUNC"
        runs = {}
        for method in METHODS:
            start = time.perf_counter()
            evaluation = evaluate_folders(mri_dir, pet_dir, methods=[method], figure_pairs=0)
            run = evaluation.runs[0]
            runs[method] = {
                "rows": run.rows,
                "pairs": run.fused_pairs,
                "seconds": run.seconds,
                "compile_seconds": run.compile_seconds,
                "failures": run.failures,
                "load": os.getloadavg()[0],
            }
            log(
                f"{key}: {method:<11} {run.fused_pairs} pairs, {run.pairs_per_second:8.2f} pairs/s, "
                f"{time.perf_counter() - start:6.1f} s in all, {len(run.failures)} failures"
            )
        result["datasets"][key] = {"label": folder, "runs": runs}
    result["finished"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    result["load_end"] = os.getloadavg()[0]
    return result


def fmt(x, digits=3):
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def sign_test(new: np.ndarray, base: np.ndarray, higher: bool) -> tuple[int, int, float]:
    diff = (new - base) if higher else (base - new)
    wins, losses = int((diff > 0).sum()), int((diff < 0).sum())
    p = stats.binomtest(wins, wins + losses).pvalue if wins + losses else float("nan")
    return wins, losses, p


def render(result: dict) -> str:
    import jax

    from jaxfuse.methods import METHODS as REGISTRY
    from jaxfuse.metrics import HIGHER_IS_BETTER

    columns = list(HIGHER_IS_BETTER)
    lines = [BEGIN, "", "## The VGG19 family: Li et al. 2018 and Lahoud & Süsstrunk 2019", ""]
    lines += [
        "Two further methods that weight the sources by VGG19 features, each implemented from its paper in "
        "`jaxfuse.deep` (deeper VGG19 layers `conv1_2` … `conv4_1` converted from the same Keras file as "
        "`conv1_1`, float16 kernels; see `weights/README.md`):",
        "",
    ]
    for method in NEW:
        lines.append(f"- `{method}`: {REGISTRY[method].description}.")
    lines += [
        "",
        "Same pairs (all PET-MRI and SPECT-MRI pairs) and the same metrics as the tables above, from one run of "
        "`python docs/make_reproduction_family.py`, which evaluates `vgg19` in the same process as the same-run "
        "baseline. Neither paper reports results on these data or with these metrics, so there is nothing to "
        "reproduce numerically; the rows place the two methods beside the paper's method. "
        f"Run: {result['started']} – {result['finished']}, {MACHINE} (load average {result['load_start']:.1f} at "
        f"the start, {result['load_end']:.1f} at the end), JAX {jax.__version__} on {jax.default_backend()}. "
        "pairs/s: steady-state fusion throughput during the evaluation (batch 32, compilation and metrics "
        "excluded); indicative only, the machine was shared. Per-pair rows of the new methods: "
        "`docs/reproduction/<dataset>/vgg19_family.csv`.",
        "",
    ]
    for data in result["datasets"].values():
        runs = data["runs"]
        n = runs["vgg19"]["pairs"]
        lines += [
            f"### {data['label']} ({n} pairs)",
            "",
            "Means over pairs (± standard deviation for the paper's four criteria). ↑ higher is better, ↓ lower.",
            "",
        ]
        header = (
            ["method"]
            + [f"{c} {'↑' if HIGHER_IS_BETTER[c] else '↓'}" for c in columns]
            + ["pairs/s", "÷ vgg19 speed", "compile s"]
        )
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        base_speed = runs["vgg19"]["pairs"] / runs["vgg19"]["seconds"]
        for method in METHODS:
            rows = runs[method]["rows"]
            cells = [f"`{method}`"]
            for c in columns:
                values = np.array([r[c] for r in rows], dtype=float)
                cell = fmt(float(np.mean(values)))
                if c in PAPER:
                    cell += f" ± {fmt(float(np.std(values)))}"
                cells.append(cell)
            speed = runs[method]["pairs"] / runs[method]["seconds"]
            cells += [f"{speed:.1f}", f"{speed / base_speed:.3f}", f"{runs[method]['compile_seconds']:.1f}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            "Pair by pair against `vgg19` (wins / losses on the paper's criteria, two-sided sign test; "
            "a win is the better value in the metric's direction):",
            "",
        ]
        lines.append("| method | " + " | ".join(PAPER) + " |")
        lines.append("|---|" + "---|" * len(PAPER))
        base_rows = {r["pair"]: r for r in runs["vgg19"]["rows"]}
        for method in NEW:
            rows = [r for r in runs[method]["rows"] if r["pair"] in base_rows]
            cells = [f"`{method}`"]
            for c in PAPER:
                new = np.array([r[c] for r in rows], dtype=float)
                base = np.array([base_rows[r["pair"]][c] for r in rows], dtype=float)
                wins, losses, p = sign_test(new, base, HIGHER_IS_BETTER[c])
                cells.append(f"{wins} / {losses} (p = {p:.1e})" if p < 1e-3 else f"{wins} / {losses} (p = {p:.3f})")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "Reading the rows: `lahoud2019` fuses the PET's BT.601 luminance and keeps its chrominance, so its D "
        "(distance to the PET's colours) measures a different colour path from the HSI methods; `li2018` keeps "
        "the average of the two base layers, so its brightness sits between the MRI's and the functional "
        "intensity's, like `average`. The next full run of `docs/make_reproduction.py` includes both methods in "
        "every table above as well (it runs every registered method).",
        "",
        END,
    ]
    return "\n".join(lines)


def write_csvs(result: dict, root: pathlib.Path) -> None:
    from jaxfuse.metrics import HIGHER_IS_BETTER

    for key, data in result["datasets"].items():
        path = root / key / "vgg19_family.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["pair", "method", *HIGHER_IS_BETTER])
            for method in NEW:
                for row in data["runs"][method]["rows"]:
                    writer.writerow([row["pair"], method, *(f"{row[c]:.6g}" for c in HIGHER_IS_BETTER)])
        os.replace(tmp, path)


def insert_section(document: pathlib.Path, section: str) -> None:
    text = document.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    elif "\n## Limitations" in text:
        head, tail = text.split("\n## Limitations", 1)
        text = head.rstrip("\n") + "\n\n" + section + "\n\n## Limitations" + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    tmp = document.with_name(document.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, document)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="development: first N pairs per dataset only")
    parser.add_argument("--rows", type=pathlib.Path, help="also keep the raw rows as JSON here")
    parser.add_argument("--render-only", action="store_true", help="rebuild the text from --rows")
    parser.add_argument("--output", type=pathlib.Path, default=REPO / "docs" / "reproduction.md")
    parser.add_argument("--report-root", type=pathlib.Path, default=REPO / "docs" / "reproduction")
    args = parser.parse_args(argv)
    if args.render_only:
        result = json.loads(args.rows.read_text())
    else:
        result = evaluate(args.limit)
        if args.rows:
            args.rows.write_text(json.dumps(result))
    write_csvs(result, args.report_root)
    insert_section(args.output, render(result))
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
