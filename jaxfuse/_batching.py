"""The batching frame every fusion entry point shares (private).

One path from user arrays to a compiled kernel and back: validate and flatten the leading dims
(:func:`flatten_pair`), choose the padded batch size (:func:`batch_plan`), pad once by repeating
the first pair (:func:`pad_batch`), run, slice and restore the leading dims (:func:`run_batched`).
Host code (the folder pipeline, evaluation) groups pairs of equal shapes and dtypes into
fixed-size batches with :class:`ShapeBuckets` and pads short batches with the same
:func:`pad_batch`, so a short last batch reuses the full batches' compiled program.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxfuse.core.units import check_image_dtype

__all__ = [
    "CPU_GROUP_SIZE",
    "FlatPair",
    "flatten_pair",
    "output_is_uint8",
    "platform_of",
    "batch_plan",
    "pad_batch",
    "run_batched",
    "pair_key",
    "ShapeBuckets",
]

#: Pairs per group on CPU (see :func:`batch_plan`). At 256x256, batch 64-256, groups of 2, 4 and 8
#: ran within noise of each other and 20-30% faster than one vmap over the whole batch; a group of
#: 1 is compiled differently. 2 keeps a single pair's cost at two pairs' work.
CPU_GROUP_SIZE = 2


class FlatPair(NamedTuple):
    """Validated inputs flattened to one batch axis (see :func:`flatten_pair`)."""

    mri: jax.Array  # [N, H, W]
    pet: jax.Array  # [N, H, W, 3] or [N, H, W]
    pet_is_rgb: bool
    batch_shape: tuple[int, ...]


def flatten_pair(mri: ArrayLike, pet: ArrayLike) -> FlatPair:
    """Checks an (MRI, functional) pair of arrays and flattens the leading dims to one batch axis.

    Args:
        mri: ``[..., H, W]`` uint8, uint16 or float.
        pet: ``[..., H, W, 3]`` or ``[..., H, W]``, same leading dims; uint8, uint16 or float.

    Returns:
        ``mri [N, H, W]``, ``pet [N, H, W(, 3)]``, whether the functional image is RGB, and the
        original leading dims.

    Raises:
        ValueError: the shapes do not match or are not images. TypeError: unsupported dtype.
    """
    mri, pet = jnp.asarray(mri), jnp.asarray(pet)
    check_image_dtype(mri, "mri")
    check_image_dtype(pet, "pet")
    if mri.ndim < 2:
        raise ValueError(f"mri must have shape [..., H, W], got {mri.shape}")
    if pet.shape == mri.shape:
        pet_is_rgb = False
    elif pet.shape == mri.shape + (3,):
        pet_is_rgb = True
    else:
        raise ValueError(
            f"pet must have shape {mri.shape + (3,)} (RGB) or {mri.shape} (gray) to match mri {mri.shape}, got {pet.shape}"
        )
    height, width = mri.shape[-2:]
    return FlatPair(
        mri=mri.reshape((-1, height, width)),
        pet=pet.reshape((-1, height, width) + ((3,) if pet_is_rgb else ())),
        pet_is_rgb=pet_is_rgb,
        batch_shape=mri.shape[:-2],
    )


def output_is_uint8(output_dtype: Any) -> bool:
    """True for uint8 output, False for float32; ``ValueError`` for anything else."""
    output_dtype = np.dtype(output_dtype)
    if output_dtype not in (np.dtype(np.float32), np.dtype(np.uint8)):
        raise ValueError(f"output_dtype must be float32 or uint8, got {output_dtype}")
    return output_dtype == np.dtype(np.uint8)


def platform_of(x: jax.Array) -> str:
    """The platform ``x`` will be computed on: its device's for a concrete array, else the default."""
    try:
        return next(iter(x.devices())).platform
    except Exception:  # noqa: BLE001 - tracers have no devices
        return jax.default_backend()


def batch_plan(count: int, platform: str, *, grouped: bool = True) -> tuple[int, int | None]:
    """``(padded batch size, group size or None)`` for ``count`` pairs on ``platform``.

    ``grouped`` (the VGG19 kernel) on CPU: the batch runs in groups of :data:`CPU_GROUP_SIZE`
    (padded up to a multiple), each group by the same compiled program, so a pair gives the same
    bytes alone or in any batch (programs vmapped over different batch sizes may fuse differently
    and round a few values differently). Otherwise the whole batch is one vmap; a single pair then
    runs as a batch of two, because XLA compiles a size-1 batch axis away into a differently
    rounded program.
    """
    if grouped and platform == "cpu":
        return -(-count // CPU_GROUP_SIZE) * CPU_GROUP_SIZE, CPU_GROUP_SIZE
    return max(count, 2), None


def pad_batch(arrays: tuple, size: int) -> tuple:
    """Each ``[N, ...]`` array padded to ``[size, ...]`` by repeating its first item (NumPy or JAX).

    Repeating real data (rather than zeros) keeps the padding inside every kernel's domain; callers
    slice the first ``N`` results. Arrays already ``size`` long are returned as they are.
    """
    padded = []
    for array in arrays:
        extra = size - array.shape[0]
        if extra <= 0:
            padded.append(array)
            continue
        xp = jnp if isinstance(array, jax.Array) else np
        padded.append(xp.concatenate([array, xp.broadcast_to(array[:1], (extra,) + array.shape[1:])]))
    return tuple(padded)


def run_batched(
    kernel: Callable[..., jax.Array], mri: ArrayLike, pet: ArrayLike, *, grouped: bool = True
) -> jax.Array:
    """Runs a per-batch kernel on a pair of arrays of any leading dims.

    Args:
        kernel: ``kernel(mri [M, H, W], pet [M, H, W(, 3)], pet_is_rgb=bool, group=int|None)``
            returning ``[M, ...]``; ``M`` is the planned (padded) batch size.
        mri, pet: as :func:`flatten_pair`.
        grouped: use the CPU group plan (see :func:`batch_plan`).

    Returns:
        The kernel's output for the real pairs, with the inputs' leading dims: ``[..., ...]``.
    """
    flat = flatten_pair(mri, pet)
    count = flat.mri.shape[0]
    size, group = batch_plan(count, platform_of(flat.mri), grouped=grouped)
    mri_batch, pet_batch = pad_batch((flat.mri, flat.pet), size)
    out = kernel(mri_batch, pet_batch, pet_is_rgb=flat.pet_is_rgb, group=group)
    return out[:count].reshape(flat.batch_shape + out.shape[1:])


def pair_key(mri: np.ndarray, pet: np.ndarray) -> tuple:
    """The key under which pairs can share a batch: both shapes and dtypes."""
    return (mri.shape, mri.dtype.str, pet.shape, pet.dtype.str)


@dataclasses.dataclass
class ShapeBuckets:
    """Collects items by a key (e.g. :func:`pair_key`) and hands out full batches of ``size``.

    ``add`` returns the bucket's items when it reaches ``size`` (and empties it); ``drain`` yields
    the remaining partial buckets in the order their keys first appeared.
    """

    size: int
    _buckets: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.size}")

    def add(self, key: Hashable, item: Any) -> list | None:
        bucket = self._buckets.setdefault(key, [])
        bucket.append(item)
        if len(bucket) == self.size:
            return self._buckets.pop(key)
        return None

    def drain(self) -> Iterator[list]:
        while self._buckets:
            yield self._buckets.pop(next(iter(self._buckets)))
