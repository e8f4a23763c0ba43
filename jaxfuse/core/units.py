"""The one rule for image values: integer storage to unit floats and to 0..255 levels.

Every part of jaxfuse that meets raw image arrays converts them here, so the rule is written once:

* uint8 ``v`` means ``v / 255``; uint16 ``v`` means ``v / 65535``; float is taken as already in
  [0, 1] (the caller checks it is finite);
* "levels" are the same values on the 0..255 scale: uint8 as stored, uint16 / 257, float * 255.
  The VGG19 convolution (Caffe preprocessing) and the evaluation metrics work on this scale.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["check_image_dtype", "as_float", "to_unit_float", "to_levels"]


def check_image_dtype(x: jax.Array, name: str) -> None:
    """Raises ``TypeError`` unless ``x`` is uint8, uint16 or floating point."""
    if not (x.dtype in (jnp.uint8, jnp.uint16) or jnp.issubdtype(x.dtype, jnp.floating)):
        raise TypeError(f"{name} must be uint8, uint16 or float, got {x.dtype}")


def as_float(x: ArrayLike) -> jax.Array:
    """``x`` as a float array: floats unchanged, anything else cast to float32 without scaling.

    For functions whose contract is already "float in [0, 1]" (colour, features); raw integer
    images go through :func:`to_unit_float` instead.
    """
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def to_unit_float(image: ArrayLike) -> jax.Array:
    """Converts an image to float32 in [0, 1]: uint8 / 255, uint16 / 65535, float unchanged.

    Args:
        image: any shape; uint8, uint16 or float.

    Returns:
        Same shape, float32 (float64 stays float64).

    Raises:
        TypeError: any other dtype.
    """
    image = jnp.asarray(image)
    if image.dtype == jnp.uint8:
        return image.astype(jnp.float32) / 255.0
    if image.dtype == jnp.uint16:
        return image.astype(jnp.float32) / 65535.0
    if jnp.issubdtype(image.dtype, jnp.floating):
        return image if image.dtype == jnp.float64 else image.astype(jnp.float32)
    raise TypeError(f"images must be uint8, uint16 or float, got {image.dtype}")


def to_levels(image: ArrayLike, dtype=jnp.float32) -> jax.Array:
    """The image on the 0..255 scale in ``dtype``: uint8 as stored, uint16 / 257, float * 255.

    Args:
        image: any shape; uint8, uint16 or float in [0, 1].
        dtype: the float dtype of the result.

    Returns:
        Same shape, ``dtype``, values in [0, 255].
    """
    image = jnp.asarray(image)
    if image.dtype == jnp.uint8:
        return image.astype(dtype)
    if image.dtype == jnp.uint16:
        return image.astype(dtype) / 257.0
    return 255.0 * image.astype(dtype)
