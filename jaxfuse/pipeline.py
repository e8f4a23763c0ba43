"""Folder-to-folder fusion: pair files by name, stream them through the kernel, report.

The pipeline keeps memory bounded and the kernel busy: files are decoded by a thread pool one
read-ahead batch ahead of the kernel, pairs are grouped by (shape, dtypes) into fixed-size kernel
batches (:class:`jaxfuse._batching.ShapeBuckets`; a short last batch is padded by
:func:`jaxfuse._batching.pad_batch`, so it does not recompile), each full batch is handed to one
kernel thread (the main thread goes on decoding while it runs: the first call's compilation
overlaps the decoding of the next batches), and results are encoded and written by the pool
(atomically: temporary file, then rename) as PNG, ``.npy`` or NIfTI (:mod:`jaxfuse.io.outputs`).
Pillow, NumPy and zlib release the GIL while they decode, filter and compress, so threads share
the cores (``benchmarks/folder.py`` times threads against processes).

Memory: a kernel batch holds at most ``batch_pixels`` pixels (height x width summed over its
pairs; large images get smaller batches, at least one pair), a read-ahead batch at most as many
(counted from the files' headers before decoding), and decoded pairs waiting for their batch or in
the kernel thread's queue at most as many again (beyond that the main thread waits for the kernel,
then runs the partial batches early, padded).

The failure rule, enforced here for every pair: any exception while reading, fusing or writing one
pair is that pair's failure, recorded as ``(pair name, "<file>: <problem>")`` (unexpected
exceptions with their type), and the run goes on. Only a failure of the run itself stops it, as an
:class:`~jaxfuse.io.atomic.OutputError` naming the path: the disk or quota is full, the file
system is read-only, or the output folder disappeared.
"""

from __future__ import annotations

import collections
import collections.abc
import concurrent.futures
import dataclasses
import functools
import os
import pathlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from jaxfuse._batching import ShapeBuckets, pad_batch, pair_key
from jaxfuse.io.atomic import describe_os_error, refuse_overwriting_inputs, run_level_error
from jaxfuse.io.images import IMAGE_SUFFIXES, MAX_IMAGE_PIXELS, ImageError, check_resize, header_pixels, read_pair
from jaxfuse.io.outputs import OUTPUT_FORMATS, write_output

__all__ = [
    "BATCH_PIXELS",
    "PairJob",
    "PairJobs",
    "BatchReport",
    "Progress",
    "pair_folders",
    "pair_failure",
    "fuse_folder_pairs",
]

#: Pixel budget of one kernel batch (and of a read-ahead batch): 2**24 = 16,777,216 pixels, e.g.
#: 256 pairs of 256x256, 64 of 512x512 or one of 4096x4096.
BATCH_PIXELS = 2**24

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
    cleaned: int = 0  # stale temporaries of killed runs removed before the run

    @property
    def pairs_per_second(self) -> float:
        return self.fused / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line: pairs fused, skipped and failed, time and rate (failures: :meth:`failure_lines`)."""
        line = (
            f"fused {self.fused} pairs, skipped {self.skipped}, failed {len(self.failures)} "
            f"in {self.seconds:.2f} s ({self.pairs_per_second:.1f} pairs/s)"
        )
        if self.cleaned:
            line += f"; removed {self.cleaned} stale temporary file(s) of killed runs"
        return line

    def failure_lines(self) -> list[str]:
        """``"failed <pair>: <file>: <problem>"``, one per failed pair."""
        return [f"failed {name}: {reason}" for name, reason in self.failures]


class Progress:
    """A one-line text progress bar on a stream (only drawn when ``enabled``)."""

    def __init__(self, total: int, *, enabled: bool, stream=None, label: str = "pairs"):
        # sys.stderr looked up per bar, not once at import: it may have been replaced since.
        self.total, self.enabled, self.label = total, enabled, label
        self.stream = sys.stderr if stream is None else stream
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

    def clear(self) -> None:
        """Erases the bar from its line, so that other output can be printed there; the next
        :meth:`advance` draws it again."""
        if self.enabled and self._last_draw:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._last_draw = 0.0

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _image_names(folder: pathlib.Path) -> set[str]:
    """Names (plain strings: a few dozen bytes each) of the image-named entries of ``folder``.

    Folders are left out; anything else with an image suffix is kept, including broken links, link
    loops, FIFOs and unreadable entries, so that reading it reports it as that pair's failure.
    """
    names = set()
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(".") or os.path.splitext(entry.name)[1].lower() not in IMAGE_SUFFIXES:
                    continue
                try:
                    if entry.is_dir():
                        continue
                except OSError:  # a link loop: kept, reading it names the problem
                    pass
                names.add(entry.name)
    except OSError as error:
        raise ImageError(folder, f"cannot list the folder ({error.strerror or error})") from None
    return names


class PairJobs(collections.abc.Sequence):
    """The pairs of two folders, kept as sorted names; each :class:`PairJob` is built on access.

    Memory per pair is one short string, so listing 10,000 or 1,000,000 pairs costs little.
    """

    def __init__(
        self, names: list[str], mri_dir: pathlib.Path, pet_dir: pathlib.Path, out_dir: pathlib.Path | None, suffix: str = ".png"
    ):
        self._names, self._mri_dir, self._pet_dir, self._out_dir = names, mri_dir, pet_dir, out_dir
        self._suffix = suffix

    def __len__(self) -> int:
        return len(self._names)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        name = self._names[index]
        out = self._out_dir / (os.path.splitext(name)[0] + self._suffix) if self._out_dir is not None else None
        return PairJob(name, self._mri_dir / name, self._pet_dir / name, out)


def pair_folders(
    mri_dir: os.PathLike | str, pet_dir: os.PathLike | str, out_dir: os.PathLike | str | None = None, *, suffix: str = ".png"
) -> tuple[PairJobs, list[tuple[str, str]]]:
    """Pairs files with the same name in the two folders.

    Returns:
        ``(jobs, failures)``: the pairs, sorted by name (a sequence of :class:`PairJob`, output
        ``out_dir / <stem><suffix>``, or None without ``out_dir``) and a failure per file that has no
        partner (or whose output name another pair already takes).

    Raises:
        ImageError: a folder is missing or cannot be listed.
        OutputError: the output folder is an input folder.
    """
    mri_dir, pet_dir = pathlib.Path(mri_dir), pathlib.Path(pet_dir)
    out_dir = pathlib.Path(out_dir) if out_dir is not None else None
    for folder in (mri_dir, pet_dir):
        if not folder.is_dir():
            raise ImageError(folder, "no such folder")
    if out_dir is not None:
        refuse_overwriting_inputs(out_dir, (mri_dir, pet_dir), what="output folder")
    mri_names, pet_names = _image_names(mri_dir), _image_names(pet_dir)
    failures = [(name, f"{mri_dir / name}: no partner file {pet_dir / name}") for name in sorted(mri_names - pet_names)]
    failures += [(name, f"{pet_dir / name}: no partner file {mri_dir / name}") for name in sorted(pet_names - mri_names)]
    names, stems = [], {}
    for name in sorted(mri_names & pet_names):
        stem = os.path.splitext(name)[0]
        if stem in stems:
            failures.append((name, f"{mri_dir / name}: output {stem}{suffix} also produced by {stems[stem]}"))
            continue
        stems[stem] = name
        names.append(name)
    del stems
    return PairJobs(names, mri_dir, pet_dir, out_dir, suffix), failures


def pair_failure(error: BaseException, *, stage: str = "processing") -> str:
    """The message of one pair's failure: an input's :class:`ImageError` or an ``OSError`` as
    ``"<file>: <problem>"``; anything else as ``"<stage> failed (<Type>: <message>)"``."""
    if isinstance(error, ImageError):
        return str(error)
    if isinstance(error, OSError):
        return describe_os_error(error)
    return f"{stage} failed ({type(error).__name__}: {error})"


def _read_ahead_batches(jobs: Iterable[PairJob], batch_size: int, pixel_budget: int, pixels_of) -> Iterator[list]:
    """Lists of ``(job, pixels)`` of at most ``batch_size`` pairs and ``pixel_budget`` pixels (one
    pair at least), ``pixels`` from the headers."""
    batch, total = [], 0
    for job in jobs:
        pixels = pixels_of(job)
        if batch and (len(batch) == batch_size or total + pixels > pixel_budget):
            yield batch
            batch, total = [], 0
        batch.append((job, pixels))
        total += pixels
    if batch:
        yield batch


FuseFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
AlignFn = Callable[[list, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, list]]


class _FolderRun:
    """The state of one :func:`fuse_folder_pairs` call (see there)."""

    def __init__(self, fuse_batch, pool, report, progress, *, batch_size, batch_pixels, png_level, output_format, align=None):
        self.fuse_batch, self.pool, self.report, self.progress = fuse_batch, pool, report, progress
        self.align = align
        self.batch_size, self.batch_pixels, self.png_level = batch_size, batch_pixels, png_level
        self.output_format = output_format
        self.buckets: dict[int, ShapeBuckets] = {}  # by kernel batch size (fewer pairs for large images)
        self.held = 0  # pixels of the decoded pairs waiting in partial batches or for the kernel thread
        # one thread calls the kernel, batch after batch in order, while this one goes on decoding
        self.kernel = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="jaxfuse-kernel")
        self.kernels: collections.deque = collections.deque()  # (items, future) in submission order
        self.writes: collections.deque = collections.deque()

    def fail(self, job: PairJob, error: BaseException, stage: str) -> None:
        self.report.failures.append((job.name, pair_failure(error, stage=stage)))
        if self.progress:
            self.progress.advance()

    def add(self, job: PairJob, mri: np.ndarray, pet: np.ndarray) -> None:
        pixels = mri.shape[0] * mri.shape[1]
        size = max(1, min(self.batch_size, self.batch_pixels // pixels))
        bucket = self.buckets.setdefault(size, ShapeBuckets(size))
        self.held += pixels
        full = bucket.add(pair_key(mri, pet), (job, mri, pet))
        if full is not None:
            self.run(full, size)
        self.collect(limit=None)  # hands finished kernel batches to the writers
        if self.held > self.batch_pixels:
            self.collect(limit=0)  # the kernel thread's queue first
            if self.held > self.batch_pixels:  # many shapes at once: run the partial batches early
                self.drain()

    def drain(self) -> None:
        for size, bucket in self.buckets.items():
            for items in bucket.drain():
                self.run(items, size)
        self.collect(limit=0)

    def run(self, items: list, size: int) -> None:
        """Queues one batch on the kernel thread (its pixels stay counted in ``held`` until it is done)."""
        count = len(items)

        def call():
            mri, pet = pad_batch((np.stack([m for _, m, _ in items]), np.stack([p for _, _, p in items])), size)
            failed: list[BaseException | None] = [None] * count
            if self.align is not None:
                try:
                    mri, pet, failed = self.align([job for job, _, _ in items], mri, pet)
                except Exception as error:  # noqa: BLE001 - the rule: it is these pairs' failure, the run goes on
                    return "registering", error, failed
            try:
                return None, np.asarray(self.fuse_batch(mri, pet))[:count], failed
            except Exception as error:  # noqa: BLE001 - the rule: it is these pairs' failure, the run goes on
                return "fusing", error, failed

        self.kernels.append((items, self.kernel.submit(call)))

    def collect(self, limit: int | None) -> None:
        """Takes finished kernel batches, oldest first, and submits their writes; waits while more than
        ``limit`` batches are queued (``None``: takes only those already done)."""
        while self.kernels and ((limit is not None and len(self.kernels) > limit) or self.kernels[0][1].done()):
            items, future = self.kernels.popleft()
            self.held -= sum(mri.shape[0] * mri.shape[1] for _, mri, _ in items)
            try:
                stage, fused, failed = future.result()
            except Exception as error:  # noqa: BLE001 - e.g. stacking the batch ran out of memory
                stage, fused, failed = "fusing", error, None
            if stage is not None:
                for job, _, _ in items:
                    self.fail(job, fused, stage)
                continue
            for (job, _, _), image, error in zip(items, fused, failed):
                if error is not None:  # e.g. its registration did not converge: nothing written for it
                    self.fail(job, error, "registering")
                    continue
                write = functools.partial(write_output, format=self.output_format, png_level=self.png_level)
                self.writes.append((job, self.pool.submit(write, job.out_path, image)))
            del items, fused
            self.finish_writes(limit=self.batch_size)  # at most one batch of encodes in flight

    def finish_writes(self, limit: int) -> None:
        while len(self.writes) > limit:
            job, future = self.writes.popleft()
            try:
                future.result()
            except OSError as error:
                stop = run_level_error(error, job.out_path)
                if stop is not None:
                    raise stop from None
                self.fail(job, error, "writing")
                continue
            except Exception as error:  # noqa: BLE001 - an encoder's failure is this pair's
                self.fail(job, error, "writing")
                continue
            self.report.fused += 1
            if self.progress:
                self.progress.advance()


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
    output_format: str = "png",
    max_pixels: int = MAX_IMAGE_PIXELS,
    batch_pixels: int = BATCH_PIXELS,
    align: AlignFn | None = None,
) -> BatchReport:
    """Fuses every job, up to ``batch_size`` pairs per kernel call; a bad pair never stops the others.

    Args:
        jobs: the pairs (see :func:`pair_folders`).
        fuse_batch: ``(mri [N, H, W], pet [N, H, W(, 3)]) -> uint8 [N, H, W, 3]`` (e.g.
            :func:`jaxfuse.methods.batch_fuser`); N is the batch size of that shape.
        batch_size: pairs per kernel call; a short last batch is padded to this size.
        resize: resize both images of every pair to ``(H, W)`` first.
        skip_existing: leave pairs whose output file exists untouched.
        workers: decoding/encoding threads (>= 1).
        progress: optional progress bar, advanced per finished pair.
        report: a report to add to (e.g. one holding pairing failures).
        png_level: level of the written PNGs (0-9, zlib's scale: 1-3 ISA-L, 4-9 zlib).
        output_format: a key of :data:`OUTPUT_FORMATS` (see :func:`write_output`); the jobs' output
            paths should carry its suffix (``pair_folders(..., suffix=OUTPUT_FORMATS[format])``).
        max_pixels: pixel budget of each input file, checked from its header.
        batch_pixels: pixel budget of one kernel batch (see the module docstring).
        align: optional ``(jobs, mri [N, ...], pet [N, ...]) -> (mri, pet, errors)`` run on each
            padded kernel batch before fusing (``jobs``: its first ``len(jobs)`` real pairs), e.g.
            registration (:func:`jaxfuse.registration.cli.image_batch_aligner`); a pair whose
            ``errors[i]`` is not None fails with it and is not written.

    Returns:
        The report; every pair is counted once as fused, skipped or failed.

    Raises:
        OutputError: the run itself failed (see the module docstring); pairs written so far stay.
        ValueError: an invalid option.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format must be one of {', '.join(OUTPUT_FORMATS)}, got {output_format!r}")
    if not 0 <= png_level <= 9:
        raise ValueError(f"png_level must be 0..9, got {png_level}")
    check_resize(resize, max_pixels=max_pixels)
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

    def pixels_of(job: PairJob) -> int:  # decoded pixels held for this pair (over-budget files are refused unread)
        declared = [header_pixels(job.mri_path), header_pixels(job.pet_path)]
        held = max([p for p in declared if p is not None and p <= max_pixels], default=0)
        return max(held, resize[0] * resize[1] if resize else 0)

    def load(job: PairJob):
        return read_pair(job.mri_path, job.pet_path, resize=resize, max_pixels=max_pixels)

    def consume(loads: list) -> None:
        for job, future in loads:
            try:
                mri, pet = future.result()
            except Exception as error:  # noqa: BLE001 - the rule: this pair's failure, the run goes on
                run.fail(job, error, "reading")
                continue
            run.add(job, mri, pet)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    run = _FolderRun(
        fuse_batch, pool, report, progress, batch_size=batch_size, batch_pixels=batch_pixels, png_level=png_level,
        output_format=output_format, align=align,
    )  # fmt: skip
    try:
        made_folders: set[pathlib.Path] = set()
        previous = None
        for batch in _read_ahead_batches(todo(), batch_size, batch_pixels, pixels_of):
            for job, _ in batch:
                if job.out_path.parent not in made_folders:
                    job.out_path.parent.mkdir(parents=True, exist_ok=True)
                    made_folders.add(job.out_path.parent)
            loads = [(job, pool.submit(load, job)) for job, _ in batch]  # decoded while the previous batch runs
            if previous is not None:
                consume(previous)
            previous = loads
        if previous is not None:
            consume(previous)
        run.drain()
        run.finish_writes(limit=0)
    except BaseException:
        run.kernel.shutdown(wait=True, cancel_futures=True)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    run.kernel.shutdown(wait=True)
    pool.shutdown(wait=True)
    report.seconds += time.perf_counter() - start
    return report
