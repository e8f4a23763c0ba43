"""Run fusion methods over a folder of pairs, score them, and write a report (``jaxfuse evaluate``).

Report folder contents: ``metrics.csv`` (one row per pair and method), ``summary.md`` (mean and
standard deviation per method, best value per column marked, throughput, the paper's Table 1
beside), ``figure.png`` (MRI, PET and each method for a few pairs), and with ``save_fused`` each
method's PNGs under ``fused/<method>/``. Metrics are computed on the uint8 fused images against the
inputs in the 0..255 range (SPEC section 4).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import pathlib
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxfuse.evaluation.figures import grid
from jaxfuse.io.images import ImageError, atomic_write, write_png
from jaxfuse.methods import METHODS, fuse_with
from jaxfuse.metrics import HIGHER_IS_BETTER, evaluate_all
from jaxfuse.pipeline import Progress, load_pair, pair_folders

__all__ = ["PAPER_TABLE_1", "MethodRun", "Evaluation", "evaluate_pairs", "evaluate_folders", "write_report"]

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
PAPER_COLUMNS = ("EN", "MI", "D", "OP")
METRIC_COLUMNS = tuple(HIGHER_IS_BETTER)


@dataclasses.dataclass
class MethodRun:
    """One method's results: per-pair metric rows, timing and the pairs it could not fuse."""

    method: str
    rows: list[dict] = dataclasses.field(default_factory=list)
    fused_pairs: int = 0
    seconds: float = 0.0  # steady state, compilation excluded
    compile_seconds: float = 0.0
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    examples: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # pair name -> fused uint8

    @property
    def pairs_per_second(self) -> float:
        return self.fused_pairs / self.seconds if self.seconds > 0 else float("nan")


@dataclasses.dataclass
class Evaluation:
    """Everything ``write_report`` needs."""

    names: list[str]
    runs: list[MethodRun]
    failures: list[tuple[str, str]]  # pairs that could not be read
    examples: dict[str, np.ndarray]  # "mri/<name>", "pet/<name>", "<method>/<name>" -> uint8 images


def _to_255(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image.astype(np.float32)
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 257.0
    return image.astype(np.float32) * 255.0


def _batches(count: int, batch_size: int):
    for start in range(0, count, batch_size):
        yield start, min(start + batch_size, count)


def _pad(array: np.ndarray, size: int) -> np.ndarray:
    if array.shape[0] == size:
        return array
    return np.concatenate([array, np.zeros((size - array.shape[0],) + array.shape[1:], array.dtype)])


def evaluate_pairs(
    names: Sequence[str],
    mri: np.ndarray,
    pet: np.ndarray,
    *,
    methods: Sequence[str],
    batch_size: int = 32,
    example_names: Sequence[str] = (),
    fused_dir: pathlib.Path | None = None,
    progress: Progress | None = None,
) -> list[MethodRun]:
    """Fuses and scores pairs of one shape with each method.

    Args:
        names: ``N`` pair names.
        mri: ``[N, H, W]`` uint8/uint16/float; pet: ``[N, H, W, 3]`` or ``[N, H, W]``.
        methods: keys of :data:`jaxfuse.methods.METHODS`.
        batch_size: pairs per kernel call (short batches are padded: one compile per method).
        example_names: pairs whose fused images are kept for the figure (``run.rows`` hold no images).
        fused_dir: if given, each method's PNGs are written to ``fused_dir / method / <name>.png``.
        progress: advanced once per pair and method.

    Returns:
        One :class:`MethodRun` per method (``rows`` carry ``pair``, ``method`` and every metric).
    """
    count = len(names)
    size = min(batch_size, count)
    mri_255, pet_255 = _to_255(mri), _to_255(pet)
    runs = []
    for method in methods:
        run = MethodRun(method)
        runs.append(run)
        try:
            start = time.perf_counter()
            jax.block_until_ready(fuse_with(_pad(mri[:size], size), _pad(pet[:size], size), method=method, output_dtype=jnp.uint8))
            run.compile_seconds = time.perf_counter() - start
        except (ValueError, TypeError) as error:
            run.failures += [(name, f"{method}: {error}") for name in names]
            if progress:
                progress.advance(count)
            continue
        outputs = []
        start = time.perf_counter()
        for lo, hi in _batches(count, size):
            fused = fuse_with(_pad(mri[lo:hi], size), _pad(pet[lo:hi], size), method=method, output_dtype=jnp.uint8)
            outputs.append(np.asarray(fused)[: hi - lo])
        run.seconds = time.perf_counter() - start
        run.fused_pairs = count
        fused_all = np.concatenate(outputs)
        for lo, hi in _batches(count, size):
            scores = evaluate_all(
                _pad(fused_all[lo:hi].astype(np.float32), size), _pad(mri_255[lo:hi], size), _pad(pet_255[lo:hi], size)
            )
            scores = {key: np.asarray(value)[: hi - lo] for key, value in scores.items()}
            for i in range(hi - lo):
                row = {"pair": names[lo + i], "method": method}
                row.update({key: float(scores[key][i]) for key in METRIC_COLUMNS})
                run.rows.append(row)
            if progress:
                progress.advance(hi - lo)
        if fused_dir is not None:
            (fused_dir / method).mkdir(parents=True, exist_ok=True)
            for name, image in zip(names, fused_all):
                write_png(fused_dir / method / (pathlib.Path(name).stem + ".png"), image)
        run.examples = {name: fused_all[names.index(name)] for name in example_names if name in names}
    return runs


def evaluate_folders(
    mri_dir: os.PathLike | str,
    pet_dir: os.PathLike | str,
    *,
    methods: Sequence[str],
    batch_size: int = 32,
    resize: tuple[int, int] | None = None,
    fused_dir: pathlib.Path | None = None,
    figure_pairs: int = 3,
    progress_enabled: bool = False,
) -> Evaluation:
    """Reads every same-named pair of two folders and runs :func:`evaluate_pairs` per image shape.

    Unreadable or mismatched pairs are reported in ``Evaluation.failures`` and skipped.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    jobs, failures = pair_folders(mri_dir, pet_dir)
    loaded: dict[tuple, list[tuple[str, np.ndarray, np.ndarray]]] = {}
    for job in jobs:
        try:
            mri, pet = load_pair(job, resize)
        except ImageError as error:
            failures.append((job.name, str(error)))
            continue
        key = (mri.shape, mri.dtype.str, pet.shape, pet.dtype.str)
        loaded.setdefault(key, []).append((job.name, mri, pet))
    names_all = [name for group in loaded.values() for name, _, _ in group]
    picks = [names_all[int(i)] for i in np.linspace(0, len(names_all) - 1, min(figure_pairs, len(names_all)))] if names_all else []
    progress = Progress(len(names_all) * len(methods), enabled=progress_enabled, label="pair-methods")
    runs: dict[str, MethodRun] = {m: MethodRun(m) for m in methods}
    examples: dict[str, np.ndarray] = {}
    for group in loaded.values():
        names = [name for name, _, _ in group]
        mri = np.stack([m for _, m, _ in group])
        pet = np.stack([p for _, _, p in group])
        for name in picks:
            if name in names:
                examples[f"mri/{name}"] = mri[names.index(name)]
                examples[f"pet/{name}"] = pet[names.index(name)]
        for part in evaluate_pairs(
            names, mri, pet, methods=methods, batch_size=batch_size, example_names=picks, fused_dir=fused_dir, progress=progress
        ):
            total = runs[part.method]
            total.rows += part.rows
            total.fused_pairs += part.fused_pairs
            total.seconds += part.seconds
            total.compile_seconds += part.compile_seconds
            total.failures += part.failures
            for name, image in part.examples.items():
                examples[f"{part.method}/{name}"] = image
    progress.close()
    return Evaluation(names=names_all, runs=list(runs.values()), failures=failures, examples=examples)


def _atomic_write_text(path: pathlib.Path, text: str) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = np.asarray([v for v in values if math.isfinite(v)], np.float64)
    if finite.size == 0:
        return float("nan"), float("nan")
    return float(finite.mean()), float(finite.std())


def _summary_markdown(evaluation: Evaluation, *, title: str) -> str:
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
    _atomic_write_text(report_dir / "summary.md", _summary_markdown(evaluation, title=title))
    rows = []
    pair_names = sorted({key.split("/", 1)[1] for key in evaluation.examples if key.startswith("mri/")})
    for name in pair_names:
        row = [(f"MRI {name}", evaluation.examples[f"mri/{name}"]), ("PET", evaluation.examples[f"pet/{name}"])]
        row += [(run.method, evaluation.examples[f"{run.method}/{name}"]) for run in evaluation.runs if f"{run.method}/{name}" in evaluation.examples]
        rows.append(row)
    if rows and all(row[0][1].dtype == np.uint8 for row in rows):
        write_png(report_dir / "figure.png", grid(rows))
    elif rows:
        to8 = lambda a: a if a.dtype == np.uint8 else np.round(_to_255(a)).clip(0, 255).astype(np.uint8)  # noqa: E731
        write_png(report_dir / "figure.png", grid([[(label, to8(image)) for label, image in row] for row in rows]))
