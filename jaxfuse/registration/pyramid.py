"""Gaussian pyramid of an image with its affine: blur, keep every second voxel, update the affine.

Level 0 is the image itself; level ``l + 1`` is level ``l`` smoothed by a separable Gaussian of
``sigma`` voxels (edge values repeated at the borders) and subsampled by 2 along every axis
(voxels ``0, 2, 4, ...``), so its affine is ``A_l @ diag(2, ..., 2, 1)`` exactly: geometry stays
in world mm at every level. Shapes are static: ``ceil(n / 2)`` per axis per level.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = ["gaussian_kernel", "gaussian_blur", "pyramid_shapes", "gaussian_pyramid"]


def gaussian_kernel(sigma: float, *, truncate: float = 3.0) -> np.ndarray:
    """Normalised 1-D Gaussian taps, float64 ``[2r + 1]`` with ``r = ceil(truncate * sigma)``."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    r = max(1, math.ceil(truncate * sigma))
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(array: ArrayLike, *, sigma: float) -> jax.Array:
    """Separable Gaussian blur over every axis, borders extended by edge values.

    Args:
        array: ``[*S]`` float image (2-D or 3-D, or any rank).
        sigma: standard deviation in voxels, > 0 (static).

    Returns:
        ``[*S]`` blurred image, same dtype.
    """
    x = jnp.asarray(array)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    taps = gaussian_kernel(sigma)
    r = len(taps) // 2
    for axis in range(x.ndim):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (r, r)
        padded = jnp.pad(x, pad, mode="edge")
        n = x.shape[axis]
        x = sum(
            float(w) * jax.lax.slice_in_dim(padded, k, k + n, axis=axis) for k, w in enumerate(taps)
        )
    return x


def pyramid_shapes(shape: tuple[int, ...], *, levels: int) -> list[tuple[int, ...]]:
    """The static shape of every level, finest first."""
    shapes = [tuple(int(n) for n in shape)]
    for _ in range(levels - 1):
        shapes.append(tuple((n + 1) // 2 for n in shapes[-1]))
    return shapes


def gaussian_pyramid(
    array: ArrayLike, affine: ArrayLike, *, levels: int = 3, sigma: float = 1.0
) -> list[tuple[jax.Array, jax.Array]]:
    """Images and affines of a Gaussian pyramid, finest (the input) first.

    Args:
        array: ``[*S]`` image with d = 2 or 3 spatial dims.
        affine: ``[d+1, d+1]`` voxel index -> world mm.
        levels: number of levels >= 1 (static).
        sigma: blur before each subsampling, in voxels of the finer level (static).

    Returns:
        ``levels`` pairs ``(image [*S_l], affine [d+1, d+1])``, ``S_l = pyramid_shapes(S)[l]``.
    """
    x = jnp.asarray(array)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    a = jnp.asarray(affine, x.dtype)
    d = x.ndim
    if a.shape != (d + 1, d + 1):
        raise ValueError(f"affine must be {d + 1}x{d + 1} for a {d}-D image, got shape {a.shape}")
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    if min(pyramid_shapes(x.shape, levels=levels)[-1]) < 4:
        raise ValueError(f"image of shape {x.shape} is too small for {levels} pyramid levels")
    halve = jnp.diag(jnp.array([2.0] * d + [1.0], x.dtype))
    out = [(x, a)]
    for _ in range(levels - 1):
        x = gaussian_blur(x, sigma=sigma)[(slice(None, None, 2),) * d]
        a = a @ halve
        out.append((x, a))
    return out
