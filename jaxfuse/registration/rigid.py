"""Rigid transforms in world coordinates (mm): parameters to homogeneous matrices and back.

A rigid transform maps a fixed-image world point ``x`` (RAS mm in 3-D; the image plane in mm in
2-D) to the moving-image world point ``y = R (x - c) + c + t``: a rotation ``R`` about a centre
``c`` (the fixed image's centre of mass by default) followed by a translation ``t`` in mm.

Parameter vector (float, ``[..., 6]`` in 3-D, ``[..., 3]`` in 2-D), in that order:

* 3-D: rotation angles ``(ax, ay, az)`` in radians about the x, y, z world axes, composed as
  ``R = Rz(az) @ Ry(ay) @ Rx(ax)`` (rotate about x first), then ``(tx, ty, tz)`` in mm;
* 2-D: one angle ``a`` in radians, ``R = [[cos a, -sin a], [sin a, cos a]]`` acting on the
  plane's two coordinates ``(u, v)`` in the affine's order, then ``(tu, tv)`` in mm.

The optimiser works on *scaled* parameters, angles multiplied by a radius ``r`` in mm, so that one
unit of every parameter moves a point at distance ``r`` from the centre by about 1 mm
(:func:`scale_parameters`). Matrices are ``[..., d+1, d+1]`` homogeneous with last row
``(0, ..., 0, 1)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = [
    "parameter_count",
    "rotation_matrix",
    "rigid_matrix",
    "rigid_parameters",
    "scale_parameters",
    "unscale_parameters",
    "displacement",
]


def parameter_count(ndim: int) -> int:
    """Number of rigid parameters for ``ndim`` = 2 (3) or 3 (6) spatial dimensions."""
    if ndim not in (2, 3):
        raise ValueError(f"rigid transforms need 2 or 3 spatial dimensions, got {ndim}")
    return 3 if ndim == 2 else 6


def rotation_matrix(angles: ArrayLike) -> jax.Array:
    """Rotation matrices from angles in radians.

    Args:
        angles: ``[..., 1]`` (2-D) or ``[..., 3]`` (3-D, ``(ax, ay, az)``, ``R = Rz Ry Rx``).

    Returns:
        ``[..., 2, 2]`` or ``[..., 3, 3]`` orthogonal matrices with determinant 1, in the dtype of
        ``angles`` (float32 for integer input).
    """
    angles = jnp.asarray(angles)
    if not jnp.issubdtype(angles.dtype, jnp.floating):
        angles = angles.astype(jnp.float32)
    if angles.shape[-1:] == (1,):
        c, s = jnp.cos(angles[..., 0]), jnp.sin(angles[..., 0])
        return jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)
    if angles.shape[-1:] != (3,):
        raise ValueError(f"angles must end in 1 (2-D) or 3 (3-D), got shape {angles.shape}")
    c, s = jnp.cos(angles), jnp.sin(angles)
    one, zero = jnp.ones_like(c[..., 0]), jnp.zeros_like(c[..., 0])

    def mat(rows):
        return jnp.stack([jnp.stack(r, -1) for r in rows], -2)

    rx = mat([[one, zero, zero], [zero, c[..., 0], -s[..., 0]], [zero, s[..., 0], c[..., 0]]])
    ry = mat([[c[..., 1], zero, s[..., 1]], [zero, one, zero], [-s[..., 1], zero, c[..., 1]]])
    rz = mat([[c[..., 2], -s[..., 2], zero], [s[..., 2], c[..., 2], zero], [zero, zero, one]])
    return rz @ ry @ rx


def _split(params: jax.Array) -> tuple[jax.Array, jax.Array, int]:
    n = params.shape[-1]
    if n == 3:
        return params[..., :1], params[..., 1:], 2
    if n == 6:
        return params[..., :3], params[..., 3:], 3
    raise ValueError(f"rigid parameters must end in 3 (2-D) or 6 (3-D), got shape {params.shape}")


def rigid_matrix(params: ArrayLike, centre: ArrayLike) -> jax.Array:
    """The homogeneous matrix of ``y = R (x - c) + c + t``.

    Args:
        params: ``[..., 3]`` (2-D) or ``[..., 6]`` (3-D) unscaled parameters: radians, then mm.
        centre: ``[..., d]`` rotation centre ``c`` in world mm, broadcastable against ``params``.

    Returns:
        ``[..., d+1, d+1]`` float matrix mapping fixed world points to moving world points.

    Example:
        >>> rigid_matrix(jnp.array([0.0, 2.0, -1.0]), jnp.zeros(2))[:2, 2]
        Array([ 2., -1.], dtype=float32)
    """
    params = jnp.asarray(params)
    if not jnp.issubdtype(params.dtype, jnp.floating):
        params = params.astype(jnp.float32)
    angles, t, d = _split(params)
    centre = jnp.asarray(centre, params.dtype)
    if centre.shape[-1:] != (d,):
        raise ValueError(f"centre must end in {d} for {params.shape[-1]} parameters, got shape {centre.shape}")
    r = rotation_matrix(angles)
    offset = centre + t - jnp.einsum("...ij,...j->...i", r, centre)
    top = jnp.concatenate([r, offset[..., :, None]], -1)
    batch = jnp.broadcast_shapes(top.shape[:-2])
    bottom = jnp.broadcast_to(jnp.eye(d + 1, dtype=params.dtype)[d], (*batch, 1, d + 1))
    return jnp.concatenate([jnp.broadcast_to(top, (*batch, d, d + 1)), bottom], -2)


def rigid_parameters(matrix: ArrayLike, centre: ArrayLike) -> np.ndarray:
    """Inverse of :func:`rigid_matrix` for one matrix (host-side, float64 NumPy).

    Args:
        matrix: ``[d+1, d+1]`` rigid homogeneous matrix (its rotation part orthogonal, det 1).
        centre: ``[d]`` rotation centre in mm.

    Returns:
        ``[3]`` or ``[6]`` float64 parameters (radians, mm). 3-D angles are the ``Rz Ry Rx``
        decomposition with ``ay`` in [-pi/2, pi/2].
    """
    m = np.asarray(matrix, np.float64)
    d = m.shape[0] - 1
    if m.shape != (d + 1, d + 1) or d not in (2, 3):
        raise ValueError(f"matrix must be 3x3 or 4x4, got shape {m.shape}")
    r, offset = m[:d, :d], m[:d, d]
    c = np.asarray(centre, np.float64)
    t = offset - c + r @ c
    if d == 2:
        return np.array([np.arctan2(r[1, 0], r[0, 0]), *t])
    ay = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    ax = np.arctan2(r[2, 1], r[2, 2])
    az = np.arctan2(r[1, 0], r[0, 0])
    return np.array([ax, ay, az, *t])


def scale_parameters(params: ArrayLike, radius: ArrayLike) -> jax.Array:
    """Angles multiplied by ``radius`` (mm): every scaled parameter is then in mm at ``radius``.

    Args:
        params: ``[..., 3]`` or ``[..., 6]`` unscaled parameters.
        radius: scalar or ``[...]`` radius in mm, > 0.
    """
    params = jnp.asarray(params)
    k = 1 if params.shape[-1] == 3 else 3
    radius = jnp.asarray(radius, params.dtype)[..., None]
    return jnp.concatenate([params[..., :k] * radius, params[..., k:]], -1)


def unscale_parameters(scaled: ArrayLike, radius: ArrayLike) -> jax.Array:
    """Inverse of :func:`scale_parameters`."""
    scaled = jnp.asarray(scaled)
    k = 1 if scaled.shape[-1] == 3 else 3
    radius = jnp.asarray(radius, scaled.dtype)[..., None]
    return jnp.concatenate([scaled[..., :k] / radius, scaled[..., k:]], -1)


def displacement(matrix_a: ArrayLike, matrix_b: ArrayLike, points: ArrayLike) -> jax.Array:
    """Distances ``|A x - B x|`` in mm between two homogeneous transforms at world points.

    Args:
        matrix_a, matrix_b: ``[..., d+1, d+1]``.
        points: ``[N, d]`` world points in mm.

    Returns:
        ``[..., N]`` distances in mm.
    """
    a, b, p = jnp.asarray(matrix_a), jnp.asarray(matrix_b), jnp.asarray(points)
    d = p.shape[-1]
    diff = a - b
    moved = jnp.einsum("...ij,nj->...ni", diff[..., :d, :d], p) + diff[..., None, :d, d]
    return jnp.sqrt(jnp.sum(moved * moved, -1))
