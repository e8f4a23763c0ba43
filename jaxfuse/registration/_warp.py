"""The moving image at scattered sample points: the volume package's linear interpolation and its
field-of-view rule (``0 <= x <= n - 1`` on every axis, 0 outside), at ``[N, d]`` voxel indices."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxfuse.volume.resample import _interpolate

__all__ = ["sample_points", "points_inside"]


def sample_points(array: jax.Array, points: jax.Array) -> jax.Array:
    """Linear interpolation of ``array`` ``[*S]`` (d = 2 or 3, float) at continuous voxel indices
    ``points`` ``[N, d]``; ``[N]``, 0 outside the field of view, differentiable in ``points``
    (piecewise linear) and in ``array``. Equals ``scipy.ndimage.map_coordinates(array,
    points.T, order=1, mode="constant")``."""
    coords = [points[:, a] for a in range(array.ndim)]
    return _interpolate(array.reshape(-1), array.shape, coords)


def points_inside(points: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """``[N]`` float 1 where ``points`` ``[N, d]`` lie in ``0 <= x <= n - 1`` on every axis, else 0
    (the weight of a sample); no gradient."""
    p = jax.lax.stop_gradient(points)
    inside = jnp.all((p >= 0) & (p <= jnp.asarray(shape, p.dtype) - 1), axis=-1)
    return inside.astype(points.dtype)
