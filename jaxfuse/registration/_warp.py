"""The moving image seen through a voxel map: the volume package's resampler, plus sample geometry.

``resample(array, voxel_map, *, out_shape)`` is ``jaxfuse.volume.resample.resample`` (linear,
zero outside, differentiable in the array and the matrix). Until that module is on this branch a
private stand-in with the same contract is used; it is removed when the branches meet.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp

__all__ = ["resample", "lattice_affine", "inside_mask"]

try:  # pragma: no cover - which branch is present decides
    from jaxfuse.volume.resample import resample
except ImportError:  # pragma: no cover

    def resample(array, voxel_map, *, out_shape):
        """Linear interpolation of ``array [*S]`` at ``voxel_map @ [k, 1]`` for output indices
        ``k`` of ``out_shape``; 0 outside (stand-in for ``jaxfuse.volume.resample.resample``)."""
        x = jnp.asarray(array)
        d = x.ndim
        m = jnp.asarray(voxel_map, x.dtype)
        grids = jnp.meshgrid(*[jnp.arange(n, dtype=x.dtype) for n in out_shape], indexing="ij")
        idx = jnp.stack(grids, 0).reshape(d, -1)
        coords = m[:d, :d] @ idx + m[:d, d:]
        base = jnp.floor(coords)
        frac = coords - base
        base = base.astype(jnp.int32)
        out = jnp.zeros(coords.shape[1], x.dtype)
        for corner in itertools.product((0, 1), repeat=d):
            w = jnp.ones_like(out)
            valid = jnp.ones(out.shape, bool)
            pos = []
            for a, c in enumerate(corner):
                p = base[a] + c
                w = w * (frac[a] if c else 1.0 - frac[a])
                valid = valid & (p >= 0) & (p < x.shape[a])
                pos.append(jnp.clip(p, 0, x.shape[a] - 1))
            out = out + jnp.where(valid, w * x[tuple(pos)], 0.0)
        return out.reshape(out_shape)


def lattice_affine(stride: tuple[int, ...], offset: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """``[d+1, d+1]`` map from lattice index ``k`` to image voxel ``stride * k + offset``."""
    d = len(stride)
    m = jnp.diag(jnp.array([*stride, 1], dtype))
    return m.at[:d, d].set(jnp.array(offset, dtype))


def inside_mask(voxel_map: jax.Array, *, out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> jax.Array:
    """``[*out_shape]`` float 1 where ``voxel_map`` sends the output voxel inside the source
    image's voxel-centre box ``[0, n - 1]`` on every axis, else 0 (no gradient)."""
    d = len(out_shape)
    m = jax.lax.stop_gradient(voxel_map)
    grids = jnp.meshgrid(*[jnp.arange(n, dtype=m.dtype) for n in out_shape], indexing="ij")
    coords = jnp.einsum("ij,j...->i...", m[:d, :d], jnp.stack(grids, 0)) + m[:d, d].reshape((d,) + (1,) * d)
    limit = jnp.array(in_shape, m.dtype).reshape((d,) + (1,) * d) - 1
    return jnp.all((coords >= 0) & (coords <= limit), 0).astype(m.dtype)
