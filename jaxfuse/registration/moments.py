"""Image moments in world mm: the centre of mass (rotation centre, initial translation) and the
RMS radius about it (the scale that puts rotation angles in mm).

Voxels are weighted by ``max(x - threshold * max(x), 0)``: the part of the intensity above a
fraction of the image's maximum, so background noise (PET) and faint background do not pull the
centre towards the middle of the field of view.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["voxel_centres", "centre_of_mass", "rms_radius"]


def voxel_centres(shape: tuple[int, ...], affine: ArrayLike) -> jax.Array:
    """World coordinates (mm) of every voxel centre, ``[prod(shape), d]`` in C order."""
    a = jnp.asarray(affine)
    if not jnp.issubdtype(a.dtype, jnp.floating):
        a = a.astype(jnp.float32)
    d = len(shape)
    grids = jnp.meshgrid(*[jnp.arange(n, dtype=a.dtype) for n in shape], indexing="ij")
    idx = jnp.stack([g.reshape(-1) for g in grids], -1)
    return idx @ a[:d, :d].T + a[:d, d]


def _weights(array: jax.Array, threshold: float) -> jax.Array:
    x = jnp.asarray(array)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold!r}")
    w = jnp.maximum(x - threshold * jnp.max(x), 0.0).reshape(-1)
    total = jnp.sum(w)
    # An empty (all <= 0) image falls back to uniform weights, i.e. the geometric centre.
    return jnp.where(total > 0, w / jnp.where(total > 0, total, 1.0), 1.0 / w.size)


def centre_of_mass(array: ArrayLike, affine: ArrayLike, *, threshold: float = 0.1) -> jax.Array:
    """Intensity-weighted centre (world mm) of an image (weights as in the module notes).

    Args:
        array: ``[*S]`` image, d = 2 or 3 spatial dims.
        affine: ``[d+1, d+1]`` voxel index -> world mm.
        threshold: fraction of the maximum subtracted before weighting, in [0, 1).

    Returns:
        ``[d]`` float world point; the geometric centre of the grid if the image has no positive
        value.
    """
    x = jnp.asarray(array)
    w = _weights(x, threshold)
    return w.astype(jnp.result_type(w, jnp.asarray(affine).dtype, jnp.float32)) @ voxel_centres(x.shape, affine)


def rms_radius(array: ArrayLike, affine: ArrayLike, centre: ArrayLike, *, threshold: float = 0.1) -> jax.Array:
    """Intensity-weighted RMS distance (mm, scalar >= 1) of the image's voxels from ``centre``."""
    x = jnp.asarray(array)
    w = _weights(x, threshold)
    p = voxel_centres(x.shape, affine) - jnp.asarray(centre)
    r2 = w @ jnp.sum(p * p, -1)
    return jnp.sqrt(jnp.maximum(r2, 1.0))
