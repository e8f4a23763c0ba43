"""The value range of every metric: the uint8 level scale 0..255.

The contract, for every function of :mod:`jaxfuse.metrics`, stated here once:

* Images are given on the uint8 level scale 0..255 (paper Table 1, SPEC section 4), whatever their
  dtype. Nothing is rescaled: an image in [0, 1] must be multiplied by 255 first, and the values of
  a uint16 image are read as they are.
* Any integer, bool or float dtype is accepted. Computation is in float32; a float64 input (under
  ``jax.enable_x64``) stays float64. :func:`as_levels` is that conversion.
* The histogram metrics (EN, MI) first round values (half to even, like ``jnp.round``) and clip
  them to the integer levels 0..255 (:func:`quantize`); they have no useful gradient.

Why :func:`as_levels` is not ``255 * to_unit_float(x)``: the package's converter to [0, 1]
(:func:`jaxfuse.core.fusion.to_unit_float`, imported here and nowhere else in this package) divides
uint8 by 255 and uint16 by 65535 and rejects other integer dtypes. Multiplying back by 255 does not
give the same numbers: in float32, 126 of the 256 uint8 levels come back one ulp off (3 becomes
3.0000002), a uint16 image would be squeezed into 0..255 instead of read as it is, and the int32 and
bool inputs the metrics accept would raise. So integers are cast to float, never divided; float
inputs go through ``to_unit_float``, whose float rule (float64 kept, every other float to float32,
values unchanged) is the package's one rule.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse.core.fusion import to_unit_float

__all__ = ["LEVELS", "as_levels", "quantize"]

#: Number of integer levels of the uint8 scale (0..255).
LEVELS = 256


def as_levels(x: ArrayLike) -> jax.Array:
    """Reads an image as float levels on the 0..255 scale, without rescaling.

    Args:
        x: any shape; any integer, bool or float dtype, values on the 0..255 scale.

    Returns:
        Same shape and values; float32, or float64 for a float64 input.
    """
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        return to_unit_float(x)  # a float image is not rescaled; only its dtype rule applies
    return x.astype(jnp.float32)


def quantize(x: jax.Array) -> jax.Array:
    """Rounds (half to even) and clips to the integer levels 0..255.

    Args:
        x: any shape, float.

    Returns:
        Same shape, int32 in 0..255.
    """
    return jnp.clip(jnp.round(x), 0, LEVELS - 1).astype(jnp.int32)
