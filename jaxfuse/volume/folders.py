"""Volume folder mode's two halves: pairing volumes by name, and fusing the pairs two at a time.

One pair's job is partly serial (reading and inflating the files, the PET window, the output's
gzip on its own threads, the hand-back of the chunks) and partly spread over every core (the
resampling and the kernel). On a few cores a second pair in flight fills what the first leaves
idle: on 2 cores the volume folder benchmark ran 1.4x faster with two pairs at once and no faster
with three (``benchmarks/RESULTS.md``). So :func:`in_order` runs at most :data:`MAX_PAIRS_IN_FLIGHT`
pairs at once and hands their outcomes back in the pairs' order, and :class:`VoxelBudget` keeps
big volumes from being fused side by side: a pair starts only while the MRI voxels in flight stay
within :data:`FOLDER_VOXEL_BUDGET`, or alone. A stop (a full disk, Ctrl-C) cancels the pairs
not started and waits for the running ones, which write their files whole.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import os
import pathlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

__all__ = ["FOLDER_VOXEL_BUDGET", "MAX_PAIRS_IN_FLIGHT", "VoxelBudget", "in_order", "pair_volume_folders"]

#: Volume pairs fused at once at most (a third gave nothing on 2 cores; more cores the kernel uses).
MAX_PAIRS_IN_FLIGHT = 2
#: MRI voxels of the pairs fused at once: 2**25 (33.5 M), about 0.45 GiB of working memory at the
#: 13-14 bytes a voxel a pair holds at its peak; a bigger pair is fused alone.
FOLDER_VOXEL_BUDGET = 1 << 25

Job = TypeVar("Job")
Result = TypeVar("Result")


class VoxelBudget:
    """Voxels held by the pairs in flight, at most ``limit`` unless one pair alone holds more.

    ``with budget.hold(n):`` waits until ``n`` more voxels fit within the limit, or until nothing
    else is held (so a pair over the limit runs alone, and no pair waits forever).
    """

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit, self.held = limit, 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, voxels: int) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self.held == 0 or self.held + voxels <= self.limit)
            self.held += voxels
        try:
            yield
        finally:
            with self._changed:
                self.held -= voxels
                self._changed.notify_all()


def in_order(
    jobs: Iterable[Job], work: Callable[[Job], Result], *, workers: int, first_alone: bool = True
) -> Iterator[tuple[Job, concurrent.futures.Future]]:
    """``work(job)`` for each job on ``workers`` threads; ``(job, finished future)`` in the jobs' order.

    At most ``workers`` jobs run and one more waits, so a slow job does not let the others run far
    ahead. With ``first_alone`` the first job runs by itself: it compiles the programs the others
    reuse, and a second job beside it would only slow that down (measured: the first volume pair of
    a folder done 0.7 s later). Closing the iterator (use ``contextlib.closing``) cancels the jobs
    not yet started and waits for the running ones, whose outcomes are then dropped.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    pending: collections.deque = collections.deque()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jaxfuse-volume") as pool:
        try:
            for count, job in enumerate(jobs):
                pending.append((job, pool.submit(work, job)))
                while len(pending) > (0 if first_alone and count == 0 else workers):
                    yield _finished(pending.popleft())
            while pending:
                yield _finished(pending.popleft())
        finally:
            for _, future in pending:
                future.cancel()


def _finished(entry: tuple) -> tuple:
    concurrent.futures.wait([entry[1]])
    return entry


def _volume_key(entry: os.DirEntry) -> str | None:
    from jaxfuse.io.images import IMAGE_SUFFIXES

    lower = entry.name.lower()
    if entry.name.startswith(".") or lower.endswith(IMAGE_SUFFIXES):
        return None  # 2-D image names (even broken links or loops) are the image pipeline's to report
    try:
        if entry.is_dir():
            return entry.name
        for suffix in (".nii.gz", ".nii"):
            if lower.endswith(suffix) and entry.is_file():
                return entry.name[: -len(suffix)]
    except OSError:
        return None
    return None


def _volumes_in(folder: pathlib.Path) -> tuple[dict[str, pathlib.Path], list[tuple[str, str]]]:
    found, failures = {}, []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            key = _volume_key(entry)
            if key is None:
                continue
            if key in found:
                failures.append((key, f"{folder / entry.name}: same name as {found[key]}"))
                continue
            found[key] = folder / entry.name
    return found, failures


def pair_volume_folders(mri_dir, pet_dir) -> tuple[list[tuple[str, pathlib.Path, pathlib.Path]], list[tuple[str, str]]]:
    """Pairs volumes by name: ``NAME.nii``, ``NAME.nii.gz`` or a DICOM folder ``NAME/`` in each folder.

    Returns:
        ``(pairs, failures)``: ``(name, mri_path, pet_path)`` sorted by name, and
        ``(name, "<path>: <problem>")`` for volumes without a partner or with a clashing name.
    """
    from jaxfuse.io.images import ImageError

    mri_dir, pet_dir = pathlib.Path(mri_dir), pathlib.Path(pet_dir)
    for folder in (mri_dir, pet_dir):
        if not folder.is_dir():
            raise ImageError(folder, "no such folder")
    (mris, failures), (pets, pet_failures) = _volumes_in(mri_dir), _volumes_in(pet_dir)
    failures += pet_failures
    failures += [(k, f"{mris[k]}: no partner volume named {k} in {pet_dir}") for k in sorted(set(mris) - set(pets))]
    failures += [(k, f"{pets[k]}: no partner volume named {k} in {mri_dir}") for k in sorted(set(pets) - set(mris))]
    return [(k, mris[k], pets[k]) for k in sorted(set(mris) & set(pets))], failures
