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
METHODS = ("vgg19", "lahoud2019", "li2018")  # cheapest first
NEW = ("li2018", "lahoud2019")
PAPER = ("EN", "MI", "D", "OP")
MACHINE = "2-core Intel Xeon (Sapphire Rapids)"
BEGIN = "<!-- BEGIN vgg19-family: written by docs/make_reproduction_family.py -->"
END = "<!-- END vgg19-family -->"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_record(run) -> dict:
    """One method's entry of the rows JSON, from an ``evaluate_folders`` ``MethodRun``."""
    return {
        "rows": run.rows,
        "pairs": run.fused_pairs,
        "seconds": run.seconds,
        "compile_seconds": run.compile_seconds,
        "failures": run.failures,
        "load": os.getloadavg()[0],
    }


def evaluate(limit: int, stride: int, rows_path: pathlib.Path | None) -> dict:
    import tempfile

    from jaxfuse.evaluation.run import evaluate_folders

    result = {
        "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": os.getloadavg()[0],
        "stride": stride,
        "datasets": {},
    }
    for key, folder, anat, func in DATASETS:
        mri_dir, pet_dir = DATA / folder / anat, DATA / folder / func
        every = sorted(p.name for p in mri_dir.iterdir())
        names = every[::stride][: limit or None]
        if len(names) < len(every):  # folders of links to the chosen pairs
            scratch = pathlib.Path(tempfile.mkdtemp(prefix="family-"))
            for sub, source in (("MRI", mri_dir), ("FUNC", pet_dir)):
                (scratch / sub).mkdir()
                for name in names:
                    (scratch / sub / name).symlink_to(source / name)
            mri_dir, pet_dir = scratch / "MRI", scratch / "FUNC"
        runs = {}
        result["datasets"][key] = {"label": folder, "total_pairs": len(every), "runs": runs}
        for method in METHODS:
            start = time.perf_counter()
            evaluation = evaluate_folders(mri_dir, pet_dir, methods=[method], figure_pairs=0)
            run = evaluation.runs[0]
            runs[method] = run_record(run)
            log(
                f"{key}: {method:<11} {run.fused_pairs} pairs, {run.pairs_per_second:8.2f} pairs/s, "
                f"{time.perf_counter() - start:6.1f} s in all, {len(run.failures)} failures"
            )
            if rows_path:  # after every method, so that a long run keeps what it has
                result["finished"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
                result["load_end"] = os.getloadavg()[0]
                rows_path.write_text(json.dumps(result))
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
    cmd = f" --stride {result['stride']}" if result.get("stride", 1) != 1 else ""
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
        (
            "The same pairs (all PET-MRI and SPECT-MRI pairs) and metrics as the tables above"
            if result.get("stride", 1) == 1
            else f"A fixed subset of the same pairs, every {ordinal(result['stride'])} pair by sorted file name (chosen "
            "before any result was seen, to fit the run into a shared 2-core machine's time: `li2018` runs VGG19 "
            "to relu4_1, about 60 GFLOP per pair), and the same metrics as the tables above"
        )
        + (
            f", from one run of `python docs/make_reproduction_family.py{cmd}`, which evaluates `vgg19` on the same "
            "pairs in the same process (its rows here are the same-pairs baseline; compare them with the all-pairs "
            "tables above to see how representative the subset is)."
            if "source" not in result
            else f", from the run that made the tables above (`{result['source']}`; every registered method, one "
            "after another in one process, so `vgg19`'s speed is a same-run baseline), rendered by "
            "`python docs/make_reproduction_family.py --render-only --rows`."
        )
        + " Neither paper reports results on these data or "
        "with these metrics, so there is nothing to reproduce numerically; the rows place the two methods beside "
        "the paper's method. "
        f"Run: {result['started']} – {result['finished']}, {MACHINE} (load average {result['load_start']:.1f} at "
        f"the start, {result['load_end']:.1f} at the end), JAX {jax.__version__} on {jax.default_backend()}. "
        "pairs/s: steady-state fusion throughput during the evaluation (batch 32, compilation and metrics "
        "excluded); indicative only"
        + (", the machine was shared" if max(result["load_start"], result["load_end"]) > 2.5 else "")
        + ". Per-pair rows of the new methods: "
        "`docs/reproduction/<dataset>/vgg19_family.csv`.",
        "",
    ]
    for data in result["datasets"].values():
        runs = data["runs"]
        if "vgg19" not in runs:
            continue
        n = runs["vgg19"]["pairs"]
        total = data.get("total_pairs", n)
        lines += [
            f"### {data['label']} ({n} pairs)" if n == total else f"### {data['label']} ({n} of its {total} pairs)",
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
        for method in ("vgg19", "li2018", "lahoud2019"):
            if method not in runs:
                continue
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
        for method in [m for m in NEW if m in runs]:
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
        "Findings (generated from the tables above; p < 0.01 by the two-sided sign test; OP = D / AG is the "
        "project's working assumption, not the paper's formula):",
        "",
    ]
    for data in result["datasets"].values():
        runs = data["runs"]
        if "vgg19" not in runs:
            continue
        base_rows = {r["pair"]: r for r in runs["vgg19"]["rows"]}
        for method in [m for m in NEW if m in runs]:
            better, worse = [], []
            for c in PAPER:
                rows = [r for r in runs[method]["rows"] if r["pair"] in base_rows]
                new = np.array([r[c] for r in rows], dtype=float)
                base = np.array([base_rows[r["pair"]][c] for r in rows], dtype=float)
                wins, losses, p = sign_test(new, base, HIGHER_IS_BETTER[c])
                if p < 0.01:
                    (better if wins > losses else worse).append(c)
            rest = [c for c in PAPER if c not in better + worse]
            lines.append(
                f"- {data['label']}, `{method}` vs `vgg19`: better on {', '.join(better) or 'none'} of the paper's "
                f"four criteria, worse on {', '.join(worse) or 'none'}"
                + (f"; {', '.join(rest)} not significant." if rest else ".")
            )
        full = full_run_means(data)
        if full:
            here = {c: float(np.mean([r[c] for r in runs["vgg19"]["rows"]])) for c in PAPER}
            lines.append(
                f"- {data['label']}, how representative the subset is: `vgg19` on these pairs "
                + ", ".join(f"{c} {here[c]:.3f}" for c in PAPER)
                + f"; on all {full['n']} pairs (`docs/reproduction/{data['key']}/metrics.csv`) "
                + ", ".join(f"{c} {full[c]:.3f}" for c in PAPER)
                + "."
            )
    lines += [
        "",
        "`lahoud2019` restores colour through BT.601 YCbCr (the PET's chrominance kept), not through HSI like "
        "the other intensity methods, so its D measures a different colour path. The next full run of "
        "`docs/make_reproduction.py` puts both methods in every table above as well (it runs every registered "
        "method, on all pairs).",
        "",
        END,
    ]
    return "\n".join(lines)


def full_run_means(data: dict) -> dict | None:
    """``vgg19``'s means of the paper's criteria over all pairs, from the full run's per-pair CSV (if there)."""
    path = REPO / "docs" / "reproduction" / data["key"] / "metrics.csv"
    if not path.is_file():
        return None
    with open(path, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["method"] == "vgg19"]
    if not rows:
        return None
    return {"n": len(rows), **{c: float(np.mean([float(r[c]) for r in rows])) for c in PAPER}}


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def write_csvs(result: dict, root: pathlib.Path) -> None:
    from jaxfuse.metrics import HIGHER_IS_BETTER

    for key, data in result["datasets"].items():
        path = root / key / "vgg19_family.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["pair", "method", *HIGHER_IS_BETTER])
            for method in [m for m in NEW if m in data["runs"]]:
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
    parser.add_argument("--stride", type=int, default=1, help="every Nth pair by sorted name (default: all)")
    parser.add_argument("--rows", type=pathlib.Path, help="also keep the raw rows as JSON here")
    parser.add_argument("--render-only", action="store_true", help="rebuild the text from --rows")
    parser.add_argument("--output", type=pathlib.Path, default=REPO / "docs" / "reproduction.md")
    parser.add_argument("--report-root", type=pathlib.Path, default=REPO / "docs" / "reproduction")
    args = parser.parse_args(argv)
    if args.render_only:
        result = json.loads(args.rows.read_text())
    else:
        result = evaluate(args.limit, args.stride, args.rows)
    for key, data in result["datasets"].items():
        data["key"] = key
    write_csvs(result, args.report_root)
    insert_section(args.output, render(result))
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
