"""Splitting a folder job over many workers: array-job tasks (``--part K/N``) and processes.

One rule decides which worker takes which pair, everywhere: sort the job's unique names (the
pair names *and* the names that failed to pair) and give the name of rank ``r`` to worker
``r % count``. The split therefore depends only on the set of names in the input folders: not on
the order the file system lists them, not on which outputs already exist (a ``--skip-existing``
rerun sees the same split), and not on which worker looks. Parts are disjoint, together hold every
name, and differ in size by at most one. A name's failure (no partner file, a clashing output
name) is reported by the worker that owns the name, so a failure is reported once.

Nesting is the same rule again: worker ``j`` of ``m`` inside part ``i`` of ``n`` owns exactly the
names of worker ``i + n * j`` of ``n * m`` (:meth:`Share.within`), so array-job tasks that are each
a multi-process ``jax.distributed`` job compose without overlap.

The workers must see the same names; with independent array-job tasks this means the input
folders must not change while the job runs (a process of a ``jax.distributed`` job can check
agreement with :func:`check_same_names`).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np

__all__ = ["Share", "parse_part", "owned_names", "take_share", "process_share", "names_digest", "check_same_names"]

T = TypeVar("T")

_PART = re.compile(r"([0-9]+)/([0-9]+)")


@dataclasses.dataclass(frozen=True)
class Share:
    """Worker ``index`` (0-based) of ``count``; ``label`` names it in summaries (e.g. ``"part 2/4"``)."""

    index: int
    count: int
    label: str = ""

    def __post_init__(self):
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"a share needs 0 <= index < count, got index {self.index} of {self.count}")

    def within(self, inner: Share) -> Share:
        """Worker ``inner.index`` of ``inner.count`` splitting this share's names further.

        Equal to this share first, then ``inner`` applied to its names (ranked among themselves).
        """
        label = ", ".join(x for x in (self.label, inner.label) if x)
        return Share(self.index + self.count * inner.index, self.count * inner.count, label)


def parse_part(text: str) -> Share:
    """``"K/N"`` with 1-based ``K`` in ``1..N`` (SLURM: ``--array=1-N``, ``K = SLURM_ARRAY_TASK_ID``).

    Raises:
        ValueError: not two plain integers ``K/N``, ``N < 1``, or ``K`` outside ``1..N``.
    """
    match = _PART.fullmatch(text)
    if match is None:
        raise ValueError(f"expected K/N with integers 1 <= K <= N (e.g. 2/4), got {text!r}")
    part, parts = int(match.group(1)), int(match.group(2))
    if parts < 1:
        raise ValueError(f"N must be >= 1 in K/N, got {text!r}")
    if not 1 <= part <= parts:
        raise ValueError(f"K must be in 1..{parts} in K/N (parts count from 1), got {text!r}")
    return Share(part - 1, parts, f"part {part}/{parts}")


def _ranked(names: Iterable[str]) -> list[str]:
    return sorted(set(names))


def owned_names(names: Iterable[str], share: Share) -> frozenset[str]:
    """The names ``share`` owns: those of rank ``index, index + count, ...`` in sorted unique order."""
    return frozenset(_ranked(names)[share.index :: share.count])


class _Picked(collections.abc.Sequence):
    """The items of ``base`` at ``indices`` (int64), in that order; each item is read on access, so a
    lazy sequence (e.g. :class:`jaxfuse.pipeline.PairJobs`) stays lazy."""

    def __init__(self, base: Sequence, indices: np.ndarray):
        self._base, self._indices = base, indices

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._base[int(self._indices[index])]


def take_share(
    items: Sequence[T],
    failures: Iterable[tuple[str, str]],
    share: Share,
    *,
    name: Callable[[T], str] = lambda item: item.name,
) -> tuple[Sequence[T], list[tuple[str, str]], int]:
    """This share of a paired folder job.

    Args:
        items: the pairs (any sequence, e.g. :func:`jaxfuse.pipeline.pair_folders`'s jobs).
        failures: ``(name, reason)`` of the names that could not be paired.
        share: which worker this is.
        name: the name of an item (default: its ``.name``).

    Returns:
        ``(items, failures, total)``: the owned items in their order (a lazy view), the owned
        failures in their order, and the number of unique names of the whole job (all shares).
    """
    failures = list(failures)
    item_names = [name(item) for item in items]
    ranked = _ranked(item_names + [n for n, _ in failures])
    owned = frozenset(ranked[share.index :: share.count])
    indices = np.fromiter((i for i, n in enumerate(item_names) if n in owned), dtype=np.int64)
    return _Picked(items, indices), [f for f in failures if f[0] in owned], len(ranked)


def process_share() -> Share:
    """This process's share of a ``jax.distributed`` job (after ``jax.distributed.initialize``):
    ``jax.process_index()`` of ``jax.process_count()``, labelled ``"process I of P"`` (0-based I)."""
    import jax

    index, count = jax.process_index(), jax.process_count()
    return Share(index, count, f"process {index} of {count}")


def names_digest(names: Iterable[str]) -> bytes:
    """sha256 of the sorted unique names (32 bytes): equal digests mean the same split."""
    digest = hashlib.sha256()
    for item in _ranked(names):
        digest.update(item.encode("utf-8", "surrogateescape") + b"\0")
    return digest.digest()


def check_same_names(names: Iterable[str] | None) -> None:
    """In a ``jax.distributed`` job, checks that every process listed the same names.

    Every process must call it, once (it is one small all-gather over the processes); a process
    that could not list the folders passes None, so that the others stop too instead of waiting.

    Raises:
        RuntimeError: a process passed None, or the processes listed different names.
    """
    from jax.experimental import multihost_utils

    if names is None:
        digest, count = bytes(32), -1
    else:
        ranked = _ranked(names)
        digest, count = names_digest(ranked), len(ranked)
    local = np.frombuffer(digest + np.int64(count).tobytes(), dtype=np.uint32)
    gathered = np.asarray(multihost_utils.process_allgather(local))
    counts = [int(row[8:].view(np.int64)[0]) for row in gathered]
    failed = [i for i, c in enumerate(counts) if c < 0]
    if failed:
        who = ("process " if len(failed) == 1 else "processes ") + ", ".join(map(str, failed))
        raise RuntimeError(f"{who} could not list the input folders; nothing was fused")
    differ = [i for i in range(len(counts)) if not np.array_equal(gathered[i], gathered[0])]
    if differ:
        seen = ", ".join(f"process {i}: {counts[i]} names" for i in [0] + differ)
        raise RuntimeError(f"the processes listed different input folders ({seen}); nothing was fused")
