"""The value range of every metric: the uint8 level scale 0..255.

The contract, for every function of :mod:`jaxfuse.metrics`, stated here once:

* Images are given on the uint8 level scale 0..255 (paper Table 1, SPEC section 4), whatever their
  dtype. Nothing is rescaled: an image in [0, 1] must be multiplied by 255 first, and the values of
  a uint16 image are read as they are.
* Any integer, bool or float dtype is accepted. Computation is in float32; a float64 input (under
  ``jax.enable_x64``) stays float64. :func:`as_levels` is that conversion.
* The histogram metrics (EN, MI) first round values (half to even, like ``jnp.round``) and clip
  them to the integer levels 0..255 (:func:`quantize`); they have no useful gradient.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["LEVELS", "as_levels", "quantize"]

#: Number of integer levels of the uint8 scale (0..255).
LEVELS = 256


def as_levels(x: ArrayLike) -> jax.Array:
    """Converts to float32, or keeps a wider float dtype (float64 under x64)."""
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x.astype(jnp.promote_types(x.dtype, jnp.float32))
    return x.astype(jnp.float32)


def quantize(x: jax.Array) -> jax.Array:
    """Rounds (half to even) and clips to the integers 0..255, as int32."""
    return jnp.clip(jnp.round(x), 0, LEVELS - 1).astype(jnp.int32)
