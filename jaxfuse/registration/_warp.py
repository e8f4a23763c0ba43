"""The moving image seen through a voxel map (the volume package's resampler) on a sample lattice."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxfuse.volume.resample import field_of_view, resample

__all__ = ["resample", "lattice_affine", "inside_mask"]


def lattice_affine(stride: tuple[int, ...], offset: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """``[d+1, d+1]`` map from lattice index ``k`` to image voxel ``stride * k + offset``."""
    d = len(stride)
    m = jnp.diag(jnp.array([*stride, 1], dtype))
    return m.at[:d, d].set(jnp.array(offset, dtype))


def inside_mask(voxel_map: jax.Array, *, out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> jax.Array:
    """``[*out_shape]`` float 1 where :func:`resample` takes the sample from inside the source
    (``0 <= x <= n - 1`` on every axis), else 0; no gradient."""
    inside = field_of_view(in_shape, jax.lax.stop_gradient(voxel_map), out_shape=out_shape)
    return inside.astype(voxel_map.dtype)
