"""Rendering an evaluation (``jaxfuse evaluate``): ``metrics.csv``, ``summary.md`` and ``figure.png``.

Report folder contents: ``metrics.csv`` (one row per pair and method), ``summary.md`` (mean and
standard deviation per method, best value per column marked, throughput, the paper's Table 1
beside), ``figure.png`` (MRI, PET and each method for a few pairs). Every file is written
atomically (:func:`jaxfuse.io.atomic.atomic_write`). Running and scoring: :mod:`.run`.
"""

from __future__ import annotations

import csv
import io
import math
import os
import pathlib

import numpy as np

from jaxfuse.core.units import to_levels
from jaxfuse.evaluation.figures import grid
from jaxfuse.evaluation.run import METRIC_COLUMNS, Evaluation
from jaxfuse.io.atomic import atomic_write
from jaxfuse.io.images import write_png
from jaxfuse.methods import METHODS
from jaxfuse.metrics import HIGHER_IS_BETTER

__all__ = ["PAPER_TABLE_1", "PAPER_COLUMNS", "summary_markdown", "write_report"]

#: The paper's Table 1 (means over its 30 pairs): EN, MI, D, OP, by the paper's row name.
PAPER_TABLE_1: dict[str, tuple[float, float, float, float]] = {
    "Wavelet": (3.3285, 1.8502, 6.0827, 1.7598),
    "Curvelet": (3.3090, 1.9159, 5.7767, 1.1166),
    "Contourlet": (4.1828, 1.7949, 7.4307, 2.5320),
    "NSCT": (3.3794, 1.9901, 5.0510, 0.8707),
    "Pixel averaging": (3.1141, 2.8881, 6.1358, 3.2292),
    "HSI based": (2.7465, 2.3796, 7.8387, 3.3772),
    "VGG19 method": (3.0319, 2.3993, 3.8187, 0.9899),
}
#: The columns of :data:`PAPER_TABLE_1`.
PAPER_COLUMNS = ("EN", "MI", "D", "OP")


def _atomic_write_text(path: pathlib.Path, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = np.asarray([v for v in values if math.isfinite(v)], np.float64)
    if finite.size == 0:
        return float("nan"), float("nan")
    return float(finite.mean()), float(finite.std())


def summary_markdown(evaluation: Evaluation, *, title: str) -> str:
    """The text of ``summary.md`` (Markdown)."""
    runs = [run for run in evaluation.runs if run.rows]
    stats = {run.method: {k: _mean_std([row[k] for row in run.rows]) for k in METRIC_COLUMNS} for run in runs}
    best = {}
    for key in METRIC_COLUMNS:
        means = [(stats[r.method][key][0], r.method) for r in runs if math.isfinite(stats[r.method][key][0])]
        if means:
            best[key] = (max if HIGHER_IS_BETTER[key] else min)(means)[1]
    lines = [f"# {title}", ""]
    lines.append(f"{len(evaluation.names)} pairs; mean ± standard deviation per method; **bold** = best in its column "
                 "(↑ higher is better, ↓ lower is better). OP = D / AG is this project's working assumption, not a "
                 "formula from the paper (which does not define OP).")
    lines.append("")
    header = ["method", "domain"] + [f"{k} {'↑' if HIGHER_IS_BETTER[k] else '↓'}" for k in METRIC_COLUMNS] + ["pairs/s", "compile s"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for run in runs:
        cells = [run.method, METHODS[run.method].domain]
        for key in METRIC_COLUMNS:
            mean, std = stats[run.method][key]
            cell = f"{mean:.4f} ± {std:.4f}"
            cells.append(f"**{cell}**" if best.get(key) == run.method else cell)
        cells += [f"{run.pairs_per_second:.1f}", f"{run.compile_seconds:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## The paper's Table 1 beside ours", "",
              "Paper: means over its 30 (unidentified) Harvard pairs. Ours: this run. Absolute values are not "
              "expected to match on other data; compare orderings.", ""]
    lines.append("| paper row | our method | " + " | ".join(f"paper {k}" for k in PAPER_COLUMNS) + " | "
                 + " | ".join(f"ours {k}" for k in PAPER_COLUMNS) + " |")
    lines.append("|" + "---|" * (2 + 2 * len(PAPER_COLUMNS)))
    ours_by_row = {METHODS[r.method].paper_row: r.method for r in runs if METHODS[r.method].paper_row}
    for row, paper in PAPER_TABLE_1.items():
        method = ours_by_row.get(row)
        ours = [f"{stats[method][k][0]:.4f}" for k in PAPER_COLUMNS] if method else ["–"] * len(PAPER_COLUMNS)
        lines.append(f"| {row} | {method or '(not run)'} | " + " | ".join(f"{v:.4f}" for v in paper) + " | " + " | ".join(ours) + " |")
    failures = evaluation.failures + [f for r in evaluation.runs for f in r.failures]
    if failures:
        lines += ["", f"## Failures ({len(failures)})", ""] + [f"- {name}: {reason}" for name, reason in failures]
    return "\n".join(lines) + "\n"


def write_report(evaluation: Evaluation, report_dir: os.PathLike | str, *, title: str = "jaxfuse evaluation") -> None:
    """Writes ``metrics.csv``, ``summary.md`` and ``figure.png`` into ``report_dir`` (atomically)."""
    report_dir = pathlib.Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["pair", "method", *METRIC_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for run in evaluation.runs:
        for row in run.rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    _atomic_write_text(report_dir / "metrics.csv", buffer.getvalue())
    _atomic_write_text(report_dir / "summary.md", summary_markdown(evaluation, title=title))
    rows = []
    pair_names = sorted({key.split("/", 1)[1] for key in evaluation.examples if key.startswith("mri/")})
    for name in pair_names:
        row = [(f"MRI {name}", evaluation.examples[f"mri/{name}"]), ("PET", evaluation.examples[f"pet/{name}"])]
        row += [(run.method, evaluation.examples[f"{run.method}/{name}"]) for run in evaluation.runs if f"{run.method}/{name}" in evaluation.examples]
        rows.append(row)
    if rows and all(row[0][1].dtype == np.uint8 for row in rows):
        write_png(report_dir / "figure.png", grid(rows))
    elif rows:
        to8 = lambda a: a if a.dtype == np.uint8 else np.round(np.asarray(to_levels(a))).clip(0, 255).astype(np.uint8)  # noqa: E731
        write_png(report_dir / "figure.png", grid([[(label, to8(image)) for label, image in row] for row in rows]))
