"""The two lattice operations the Laplacian pyramid and the DWT are built from (private).

Both work on the last two axes and keep the input's dtype; float32 runs at full precision on every
backend (no TF32/bf16 passes).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["correlate", "upsample"]


def correlate(x: jax.Array, kernel: np.ndarray, stride: int = 1) -> jax.Array:
    """Valid 2-D cross-correlation of ``x [C, H, W]`` with ``kernel [O, C, kh, kw]`` -> [O, h, w].

    Args:
        x: ``[C, H, W]`` float array.
        kernel: ``[O, C, kh, kw]`` NumPy taps, cast to ``x``'s dtype.
        stride: the same stride along both axes.

    Returns:
        ``[O, (H - kh) // stride + 1, (W - kw) // stride + 1]`` of ``x``'s dtype.
    """
    out = lax.conv_general_dilated(
        x[None], jnp.asarray(kernel, x.dtype), window_strides=(stride, stride),
        padding="VALID", precision=lax.Precision.HIGHEST)
    return out[0]


def upsample(x: jax.Array, shape: Sequence[int]) -> jax.Array:
    """Zero insertion on the last two axes: ``x[..., i, j]`` goes to ``[..., 2i, 2j]``.

    Args:
        x: ``[..., h, w]`` array.
        shape: the output's last two sizes ``(H, W)``, ``H`` in ``{2h - 1, 2h}`` (likewise ``W``).

    Returns:
        ``[..., H, W]`` of ``x``'s dtype, zero off the even rows and columns.
    """
    zero = jnp.zeros((), x.dtype)
    config = [(0, 0, 0)] * (x.ndim - 2) + [
        (0, n - (2 * m - 1), 1) for n, m in zip(shape, x.shape[-2:])]
    return lax.pad(x, zero, config)
