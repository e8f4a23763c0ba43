"""Shared plumbing of the VGG19-family methods (private): weights, upsampling, the grouped kernel.

Every method here is one ``jax.jit`` whose body maps a per-group function over the batch: on CPU
in groups of :data:`jaxfuse._batching.CPU_GROUP_SIZE` pairs (a ``lax.map``, each group one batched
program, so a pair gives the same bytes alone or in any batch), elsewhere as one batch. The VGG19
convolutions run batched over the images of a group (both sources of every pair together).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["ratio_weights", "upsample_nearest", "map_groups", "finish"]


def ratio_weights(activities: jax.Array) -> jax.Array:
    """``[K, ...]`` non-negative activities -> ``[K, ...]`` weights ``a_k / sum_n a_n``; ``1/K`` where all are 0.

    The "soft-max" of Li et al. 2018 (Eq. 5) and of Lahoud & Süsstrunk 2019 (without exponential).
    Division is safe for gradients (the denominator is replaced before dividing).
    """
    total = jnp.sum(activities, axis=0, keepdims=True)
    positive = total > 0
    safe = jnp.where(positive, total, 1.0)
    return jnp.where(positive, activities / safe, 1.0 / activities.shape[0])


def upsample_nearest(weights: jax.Array, factor: int, height: int, width: int) -> jax.Array:
    """``[..., h, w]`` -> ``[..., height, width]``: ``out[y, x] = w[min(y // f, h - 1), min(x // f, w - 1)]``.

    Each value covers its ``f x f`` block (Li et al. 2018, Eq. 6); rows and columns past a floored
    pooling (odd sizes) repeat the last block.
    """
    if factor == 1 and weights.shape[-2:] == (height, width):
        return weights
    rows = jnp.minimum(jnp.arange(height) // factor, weights.shape[-2] - 1)
    cols = jnp.minimum(jnp.arange(width) // factor, weights.shape[-1] - 1)
    return weights[..., rows, :][..., cols]


def map_groups(fn: Callable[[jax.Array, jax.Array], jax.Array], mri: jax.Array, pet: jax.Array, group: int | None):
    """``fn`` over ``[N, ...]`` inputs, whole (``group=None``) or as a ``lax.map`` over groups of ``group``."""
    if group is None:
        return fn(mri, pet)
    count = mri.shape[0]
    split = lambda x: x.reshape((count // group, group) + x.shape[1:])  # noqa: E731
    out = jax.lax.map(lambda pair: fn(*pair), (split(mri), split(pet)))
    return out.reshape((count,) + out.shape[2:])


def finish(planes: jax.Array, *, quantise: bool) -> jax.Array:
    """``[N, 3, H, W]`` float in [0, 1] -> ``[N, H, W, 3]`` float, or uint8 ``round(255 x)`` if ``quantise``."""
    planes = jnp.clip(planes, 0.0, 1.0)
    if quantise:
        planes = jnp.round(planes * 255.0).astype(jnp.uint8)
    return jnp.moveaxis(planes, 1, -1)
