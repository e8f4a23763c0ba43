"""Run fusion methods over pairs and score them (``jaxfuse evaluate``; rendering: :mod:`.report`).

Metrics are computed on the uint8 fused images against the inputs on the 0..255 scale (SPEC
section 4, :func:`jaxfuse.core.units.to_levels`). Pairs are read with
:func:`jaxfuse.io.images.read_pair`, grouped by shape and dtype, and run in fixed-size batches
(short batches padded, so each method compiles once per shape). The failure rule is the folder
pipeline's (:func:`jaxfuse.pipeline.pair_failure`): any exception while reading one pair, or while
fusing or scoring one batch with one method, is a failure of those pairs (for that method) and the
run goes on. All pairs' inputs are held in memory (evaluation sets are tens to hundreds of pairs).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import time
from collections.abc import Sequence

import jax
import numpy as np

from jaxfuse._batching import ShapeBuckets, pad_batch, pair_key
from jaxfuse.core.units import to_levels
from jaxfuse.io.images import MAX_IMAGE_PIXELS, check_resize, read_pair, write_png
from jaxfuse.methods import METHODS, batch_fuser
from jaxfuse.metrics import HIGHER_IS_BETTER, evaluate_all
from jaxfuse.pipeline import BATCH_PIXELS, Progress, pair_failure, pair_folders, run_level_error

__all__ = ["METRIC_COLUMNS", "MethodRun", "Evaluation", "evaluate_pairs", "evaluate_folders"]

#: The metric columns of every row, in report order.
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
    """Everything :func:`jaxfuse.evaluation.report.write_report` needs."""

    names: list[str]
    runs: list[MethodRun]
    failures: list[tuple[str, str]]  # pairs that could not be read
    examples: dict[str, np.ndarray]  # "mri/<name>", "pet/<name>", "<method>/<name>" -> uint8 images


def _batches(count: int, batch_size: int):
    for start in range(0, count, batch_size):
        yield start, min(start + batch_size, count)


def _fuse_batches(run: MethodRun, fuse, names, mri, pet, size: int, progress) -> dict[int, np.ndarray]:
    """Fuses every batch (timed); returns ``{start: fused uint8 [n, H, W, 3]}`` of the batches that worked."""
    outputs = {}
    start = time.perf_counter()
    for lo, hi in _batches(len(names), size):
        try:
            outputs[lo] = np.asarray(fuse(*pad_batch((mri[lo:hi], pet[lo:hi]), size)))[: hi - lo]
        except Exception as error:  # noqa: BLE001 - the rule: these pairs fail for this method, the run goes on
            run.failures += [(name, f"{run.method}: {pair_failure(error, stage='fusing')}") for name in names[lo:hi]]
            if progress:
                progress.advance(hi - lo)
    run.seconds = time.perf_counter() - start
    run.fused_pairs = sum(len(batch) for batch in outputs.values())
    return outputs


def _score(run: MethodRun, outputs: dict, names, mri_255, pet_255, size: int, progress) -> None:
    for lo, fused in outputs.items():
        hi = lo + len(fused)
        try:
            scores = evaluate_all(*pad_batch((fused.astype(np.float32), mri_255[lo:hi], pet_255[lo:hi]), size))
            scores = {key: np.asarray(value)[: hi - lo] for key, value in scores.items()}
        except Exception as error:  # noqa: BLE001 - as for fusing
            run.failures += [(name, f"{run.method}: {pair_failure(error, stage='scoring')}") for name in names[lo:hi]]
            run.fused_pairs -= hi - lo
        else:
            for i in range(hi - lo):
                row = {"pair": names[lo + i], "method": run.method}
                row.update({key: float(scores[key][i]) for key in METRIC_COLUMNS})
                run.rows.append(row)
        if progress:
            progress.advance(hi - lo)


def _save_fused(run: MethodRun, outputs: dict, names, folder: pathlib.Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for lo, fused in outputs.items():
        for name, image in zip(names[lo:], fused):
            path = folder / (pathlib.Path(name).stem + ".png")
            try:
                write_png(path, image)
            except OSError as error:
                stop = run_level_error(error, path)
                if stop is not None:
                    raise stop from None
                run.failures.append((name, f"{run.method}: {pair_failure(error)}"))


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
    batch_pixels: int = BATCH_PIXELS,
) -> list[MethodRun]:
    """Fuses and scores pairs of one shape with each method.

    Args:
        names: ``N`` pair names.
        mri: ``[N, H, W]`` uint8/uint16/float; pet: ``[N, H, W, 3]`` or ``[N, H, W]``.
        methods: keys of :data:`jaxfuse.methods.METHODS`.
        batch_size: pairs per kernel call (short batches are padded: one compile per method);
            fewer where ``batch_size * H * W`` would exceed ``batch_pixels``.
        example_names: pairs whose fused images are kept for the figure (``run.rows`` hold no images).
        fused_dir: if given, each method's PNGs are written to ``fused_dir / method / <name>.png``.
        progress: advanced once per pair and method.
        batch_pixels: pixel budget of one kernel call.

    Returns:
        One :class:`MethodRun` per method (``rows`` carry ``pair``, ``method`` and every metric).

    Raises:
        OutputError: a fused PNG could not be written for a reason that stops the run (disk full).
    """
    names = list(names)
    count = len(names)
    size = max(1, min(batch_size, count, batch_pixels // (mri.shape[1] * mri.shape[2])))
    mri_255, pet_255 = np.asarray(to_levels(mri)), np.asarray(to_levels(pet))
    runs = []
    for method in methods:
        run = MethodRun(method)
        runs.append(run)
        try:
            fuse = batch_fuser(method)
            start = time.perf_counter()
            jax.block_until_ready(fuse(*pad_batch((mri[:size], pet[:size]), size)))
            run.compile_seconds = time.perf_counter() - start
        except Exception as error:  # noqa: BLE001 - e.g. a size the method cannot take: every pair fails for it
            run.failures += [(name, f"{method}: {pair_failure(error, stage='fusing')}") for name in names]
            if progress:
                progress.advance(count)
            continue
        outputs = _fuse_batches(run, fuse, names, mri, pet, size, progress)
        _score(run, outputs, names, mri_255, pet_255, size, progress)
        if fused_dir is not None:
            _save_fused(run, outputs, names, fused_dir / method)
        fused_of = {names[lo + i]: image for lo, fused in outputs.items() for i, image in enumerate(fused)}
        run.examples = {name: fused_of[name] for name in example_names if name in fused_of}
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
    max_pixels: int = MAX_IMAGE_PIXELS,
    batch_pixels: int = BATCH_PIXELS,
) -> Evaluation:
    """Reads every same-named pair of two folders and runs :func:`evaluate_pairs` per image shape.

    Unreadable or mismatched pairs are reported in ``Evaluation.failures`` and skipped.

    Raises:
        ValueError: an unknown method or an invalid ``resize``.
        ImageError: an input folder is missing or cannot be listed.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    check_resize(resize, max_pixels=max_pixels)
    jobs, failures = pair_folders(mri_dir, pet_dir)
    buckets = ShapeBuckets(max(1, len(jobs)))  # one group per shape and dtypes
    groups: list[list[tuple[str, np.ndarray, np.ndarray]]] = []
    for job in jobs:
        try:
            mri, pet = read_pair(job.mri_path, job.pet_path, resize=resize, max_pixels=max_pixels)
        except Exception as error:  # noqa: BLE001 - the rule: this pair's failure, the run goes on
            failures.append((job.name, pair_failure(error, stage="reading")))
            continue
        full = buckets.add(pair_key(mri, pet), (job.name, mri, pet))
        if full is not None:
            groups.append(full)
    groups += list(buckets.drain())
    names_all = [name for group in groups for name, _, _ in group]
    picks = [names_all[int(i)] for i in np.linspace(0, len(names_all) - 1, min(figure_pairs, len(names_all)))] if names_all else []
    progress = Progress(len(names_all) * len(methods), enabled=progress_enabled, label="pair-methods")
    runs: dict[str, MethodRun] = {m: MethodRun(m) for m in methods}
    examples: dict[str, np.ndarray] = {}
    try:
        for group in groups:
            names = [name for name, _, _ in group]
            mri = np.stack([m for _, m, _ in group])
            pet = np.stack([p for _, _, p in group])
            for name in picks:
                if name in names:
                    examples[f"mri/{name}"] = mri[names.index(name)]
                    examples[f"pet/{name}"] = pet[names.index(name)]
            parts = evaluate_pairs(
                names, mri, pet, methods=methods, batch_size=batch_size, example_names=picks,
                fused_dir=fused_dir, progress=progress, batch_pixels=batch_pixels,
            )  # fmt: skip
            for part in parts:
                total = runs[part.method]
                total.rows += part.rows
                total.fused_pairs += part.fused_pairs
                total.seconds += part.seconds
                total.compile_seconds += part.compile_seconds
                total.failures += part.failures
                for name, image in part.examples.items():
                    examples[f"{part.method}/{name}"] = image
    finally:
        progress.close()
    return Evaluation(names=names_all, runs=list(runs.values()), failures=failures, examples=examples)
