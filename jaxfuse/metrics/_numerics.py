"""Numerical plumbing shared by the metric families: gradient-safe division and square root,
Gaussian windows and their separable 'valid' filtering.

Divisions use the "double where" (the denominator is made safe before dividing) so that gradients
stay finite.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["band_matrix", "gaussian_1d", "local_moments", "safe_div", "safe_sqrt", "valid_filter"]


def safe_div(num: jax.Array, den: jax.Array, fallback: float) -> jax.Array:
    """``num / den`` where ``den > eps``, else ``fallback`` ("double where")."""
    ok = den > jnp.finfo(den.dtype).eps
    safe_den = jnp.where(ok, den, jnp.ones_like(den))
    return jnp.where(ok, num / safe_den, jnp.asarray(fallback, num.dtype))


def safe_sqrt(x: jax.Array) -> jax.Array:
    """sqrt with a zero (not infinite) gradient at 0."""
    ok = x > 0
    return jnp.where(ok, jnp.sqrt(jnp.where(ok, x, jnp.ones_like(x))), 0.0)


def gaussian_1d(size: int, sigma, dtype) -> jax.Array:
    """Normalised 1-D Gaussian of ``size`` taps centred on the middle tap."""
    t = jnp.arange(size, dtype=dtype) - (size - 1) / 2
    k = jnp.exp(-0.5 * (t / jnp.asarray(sigma, dtype)) ** 2)
    return k / jnp.sum(k)


def band_matrix(kernel: jax.Array, size: int) -> jax.Array:
    """``T`` of shape ``[size - n + 1, size]`` with ``(T @ v)[i] = sum_t k[t] v[i + t]``."""
    n = kernel.shape[0]
    offset = jnp.arange(size)[None, :] - jnp.arange(size - n + 1)[:, None]
    inside = (offset >= 0) & (offset < n)
    return jnp.where(inside, kernel[jnp.clip(offset, 0, n - 1)], 0.0)


def valid_filter(kernel: jax.Array, shape: tuple[int, ...]):
    """'valid' correlation of ``[..., H, W]`` images with ``outer(kernel, kernel)``.

    The window is separable, so filtering is ``T_H @ x @ T_W^T`` with banded
    matrices built once here: two matmuls per image, quick to compile on every
    backend, at full float precision (no TF32 on GPUs). Returns the filter.
    """
    hi = jax.lax.Precision.HIGHEST
    t_h = band_matrix(kernel, shape[-2])
    t_w_t = band_matrix(kernel, shape[-1]).T

    def apply(x: jax.Array) -> jax.Array:
        y = jnp.matmul(x, t_w_t.astype(x.dtype), precision=hi)
        return jnp.matmul(t_h.astype(x.dtype), y, precision=hi)

    return apply


def local_moments(kernel: jax.Array, x: jax.Array, y: jax.Array) -> tuple[jax.Array, ...]:
    """Local means, variances and covariance of two images under the window ``outer(kernel, kernel)``.

    Args:
        kernel: ``[n]`` normalised 1-D window.
        x: ``[..., H, W]`` float.
        y: same shape as ``x``.

    Returns:
        ``(mu_x, mu_y, var_x, var_y, cov)``, each ``[..., H - n + 1, W - n + 1]`` ('valid'):
        population moments ``E[x^2] - E[x]^2``, not clamped (rounding may leave them slightly
        negative).
    """
    m = valid_filter(kernel, x.shape)(jnp.stack([x, y, x * x, y * y, x * y]))
    mu_x, mu_y = m[0], m[1]
    return mu_x, mu_y, m[2] - mu_x * mu_x, m[3] - mu_y * mu_y, m[4] - mu_x * mu_y
