"""Folder-to-folder fusion: pair files by name, stream them through the kernel, report.

The pipeline keeps memory flat and the kernel busy: files are decoded by a thread pool one chunk
ahead of the kernel, pairs are grouped by (shape, dtypes) into fixed-size batches (a short last
batch is padded, so it does not recompile), results are encoded and written by the same pool
(atomically: temporary file, then rename). A bad pair is recorded and skipped; the rest go on.
"""

from __future__ import annotations

import collections
import collections.abc
import concurrent.futures
import dataclasses
import itertools
import os
import pathlib
import sys
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from jaxfuse.io.images import IMAGE_SUFFIXES, ImageError, read_functional, read_mri, resize_image, write_png

__all__ = ["PairJob", "PairJobs", "load_pair", "BatchReport", "Progress", "pair_folders", "fuse_folder_pairs"]


@dataclasses.dataclass(frozen=True)
class PairJob:
    """One pair to fuse: the MRI and functional files and where the result goes."""

    name: str
    mri_path: pathlib.Path
    pet_path: pathlib.Path
    out_path: pathlib.Path | None  # None when the caller writes no per-pair file


@dataclasses.dataclass
class BatchReport:
    """What a batch run did. ``failures`` holds ``(pair name, "<file>: <problem>")``."""

    fused: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def pairs_per_second(self) -> float:
        return self.fused / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        lines = [
            f"fused {self.fused} pairs, skipped {self.skipped}, failed {len(self.failures)} "
            f"in {self.seconds:.2f} s ({self.pairs_per_second:.1f} pairs/s)"
        ]
        lines += [f"  failed {name}: {reason}" for name, reason in self.failures]
        return "\n".join(lines)


class Progress:
    """A one-line text progress bar on a stream (only drawn when ``enabled``)."""

    def __init__(self, total: int, *, enabled: bool, stream=sys.stderr, label: str = "pairs"):
        self.total, self.enabled, self.stream, self.label = total, enabled, stream, label
        self.done = 0
        self.start = time.perf_counter()
        self._last_draw = 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw > 0.1 or self.done >= self.total):
            self._last_draw = now
            fraction = self.done / self.total if self.total else 1.0
            bar = "#" * int(30 * fraction)
            rate = self.done / max(now - self.start, 1e-9)
            self.stream.write(f"\r[{bar:<30}] {self.done}/{self.total} {self.label} {rate:.1f}/s")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _image_names(folder: pathlib.Path) -> set[str]:
    """Names (plain strings: a few dozen bytes each) of the image files directly in ``folder``."""
    with os.scandir(folder) as entries:
        return {
            entry.name
            for entry in entries
            if not entry.name.startswith(".")
            and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES
            and entry.is_file()
        }


class PairJobs(collections.abc.Sequence):
    """The pairs of two folders, kept as sorted names; each :class:`PairJob` is built on access.

    Memory per pair is one short string, so listing 10,000 or 1,000,000 pairs costs little.
    """

    def __init__(self, names: list[str], mri_dir: pathlib.Path, pet_dir: pathlib.Path, out_dir: pathlib.Path | None):
        self._names, self._mri_dir, self._pet_dir, self._out_dir = names, mri_dir, pet_dir, out_dir

    def __len__(self) -> int:
        return len(self._names)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        name = self._names[index]
        out = self._out_dir / (os.path.splitext(name)[0] + ".png") if self._out_dir is not None else None
        return PairJob(name, self._mri_dir / name, self._pet_dir / name, out)


def pair_folders(
    mri_dir: os.PathLike | str, pet_dir: os.PathLike | str, out_dir: os.PathLike | str | None = None
) -> tuple[PairJobs, list[tuple[str, str]]]:
    """Pairs files with the same name in the two folders.

    Returns:
        ``(jobs, failures)``: the pairs, sorted by name (a sequence of :class:`PairJob`, output
        ``out_dir / <stem>.png``, or None without ``out_dir``) and a failure per file that has no
        partner (or whose output name another pair already takes).

    Raises:
        ImageError: a folder is missing, or the output folder is an input folder.
    """
    mri_dir, pet_dir = pathlib.Path(mri_dir), pathlib.Path(pet_dir)
    out_dir = pathlib.Path(out_dir) if out_dir is not None else None
    for folder in (mri_dir, pet_dir):
        if not folder.is_dir():
            raise ImageError(folder, "no such folder")
    for folder in (mri_dir, pet_dir) if out_dir is not None else ():
        if out_dir.exists() and out_dir.resolve() == folder.resolve():
            raise ImageError(out_dir, "output folder is an input folder; inputs are never overwritten")
    mri_names, pet_names = _image_names(mri_dir), _image_names(pet_dir)
    failures = [(name, f"{mri_dir / name}: no partner file {pet_dir / name}") for name in sorted(mri_names - pet_names)]
    failures += [(name, f"{pet_dir / name}: no partner file {mri_dir / name}") for name in sorted(pet_names - mri_names)]
    names, stems = [], {}
    for name in sorted(mri_names & pet_names):
        stem = os.path.splitext(name)[0]
        if stem in stems:
            failures.append((name, f"{mri_dir / name}: output {stem}.png also produced by {stems[stem]}"))
            continue
        stems[stem] = name
        names.append(name)
    del stems
    return PairJobs(names, mri_dir, pet_dir, out_dir), failures


def load_pair(job: PairJob, resize: tuple[int, int] | None):
    """Reads a pair: MRI ``[H, W]`` and functional ``[H, W(, 3)]``, resized to ``resize`` if given.

    Raises:
        ImageError: a file cannot be read, or the sizes differ and no resize was asked for.
    """
    mri = read_mri(job.mri_path)
    pet = read_functional(job.pet_path)
    if resize is not None:
        mri, pet = resize_image(mri, resize), resize_image(pet, resize)
    elif mri.shape[:2] != pet.shape[:2]:
        raise ImageError(
            job.pet_path,
            f"size {pet.shape[0]}x{pet.shape[1]} does not match MRI {job.mri_path} "
            f"({mri.shape[0]}x{mri.shape[1]}); register them or pass --resize",
        )
    return mri, pet


FuseFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def fuse_folder_pairs(
    jobs: Sequence[PairJob],
    fuse_batch: FuseFn,
    *,
    batch_size: int = 64,
    resize: tuple[int, int] | None = None,
    skip_existing: bool = False,
    workers: int = 4,
    progress: Progress | None = None,
    report: BatchReport | None = None,
    png_level: int = 6,
) -> BatchReport:
    """Fuses every job, ``batch_size`` pairs per kernel call.

    Args:
        jobs: the pairs (see :func:`pair_folders`).
        fuse_batch: ``(mri [N, H, W], pet [N, H, W(, 3)]) -> uint8 [N, H, W, 3]`` (N = batch_size).
        batch_size: pairs per kernel call; a short last batch is padded to this size.
        resize: resize both images of every pair to ``(H, W)`` first.
        skip_existing: leave pairs whose output file exists untouched.
        workers: decoding/encoding threads.
        progress: optional progress bar, advanced per finished pair.
        report: a report to add to (e.g. one holding pairing failures).
        png_level: zlib level of the written PNGs (0-9).

    Returns:
        The report.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    report = report if report is not None else BatchReport()
    start = time.perf_counter()
    def todo() -> Iterable[PairJob]:
        for job in jobs:  # built one at a time: memory does not grow with the number of pairs
            if skip_existing and job.out_path.exists():
                report.skipped += 1
                if progress:
                    progress.advance()
            else:
                yield job

    buckets: dict[tuple, list[tuple[PairJob, np.ndarray, np.ndarray]]] = collections.defaultdict(list)
    pending_writes: collections.deque = collections.deque()

    def finish_writes(limit: int) -> None:
        while len(pending_writes) > limit:
            job, future = pending_writes.popleft()
            try:
                future.result()
                report.fused += 1
            except (OSError, ValueError) as error:
                report.failures.append((job.name, f"{job.out_path}: cannot write ({error})"))
            if progress:
                progress.advance()

    def run(bucket: list[tuple[PairJob, np.ndarray, np.ndarray]], pool) -> None:
        count = len(bucket)
        mri = np.stack([m for _, m, _ in bucket])
        pet = np.stack([p for _, _, p in bucket])
        if count < batch_size:  # pad: same shape as full batches, so no recompilation
            mri = np.concatenate([mri, np.zeros((batch_size - count,) + mri.shape[1:], mri.dtype)])
            pet = np.concatenate([pet, np.zeros((batch_size - count,) + pet.shape[1:], pet.dtype)])
        fused = np.asarray(fuse_batch(mri, pet))
        for (job, _, _), image in zip(bucket, fused[:count]):
            job.out_path.parent.mkdir(parents=True, exist_ok=True)
            pending_writes.append((job, pool.submit(write_png, job.out_path, image, compress_level=png_level)))
        finish_writes(limit=batch_size)  # at most one batch of encodes in flight: memory stays flat

    def chunks(items: Iterable[PairJob]) -> Iterable[list[PairJob]]:
        iterator = iter(items)
        while chunk := list(itertools.islice(iterator, batch_size)):
            yield chunk

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        submitted = collections.deque()
        chunk_iter = iter(chunks(todo()))
        chunk = next(chunk_iter, None)  # decode one chunk ahead of the kernel
        if chunk is not None:
            submitted.append([(job, pool.submit(load_pair, job, resize)) for job in chunk])
        while submitted:
            current = submitted.popleft()
            chunk = next(chunk_iter, None)
            if chunk is not None:
                submitted.append([(job, pool.submit(load_pair, job, resize)) for job in chunk])
            for job, future in current:
                try:
                    mri, pet = future.result()
                except ImageError as error:
                    report.failures.append((job.name, str(error)))
                    if progress:
                        progress.advance()
                    continue
                key = (mri.shape, mri.dtype.str, pet.shape, pet.dtype.str)
                buckets[key].append((job, mri, pet))
                if len(buckets[key]) == batch_size:
                    run(buckets.pop(key), pool)
        for key in list(buckets):
            run(buckets.pop(key), pool)
        finish_writes(limit=0)
    report.seconds += time.perf_counter() - start
    return report
