"""Steps 4 and 5a of the method: VGG19 features -> per-pixel fusion weights ``w(i, j)``.

"Weights" here are the per-pixel weights of the fusion rule, not network parameters (those are
:mod:`jaxfuse.core.params`). The planar functions (features ``[..., C, H, W]``, channel-first, as the
kernel holds them) are the implementation; :func:`normalise_features` and :func:`reduce_features`
are channel-last views of the same code for callers holding ``[..., H, W, C]`` features.

Step 4 (SPEC section 1): each feature tensor is min-max scaled to [0, 1] over all its values
(``normalisation="tensor"``, like MATLAB ``mat2gray``) or per channel (``"channel"``); a constant
tensor (or channel) becomes 0. Step 5a: ``w`` is the channel mean (or sum) of the scaled features.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = [
    "NORMALISATIONS",
    "REDUCTIONS",
    "feature_range",
    "normalise_planes",
    "reduce_planes",
    "feature_weight",
    "normalise_features",
    "reduce_features",
]

Normalisation = Literal["tensor", "channel"]
Reduction = Literal["mean", "sum"]

#: Accepted values of ``normalisation`` (the first is the paper's default).
NORMALISATIONS: tuple[str, ...] = ("tensor", "channel")
#: Accepted values of ``reduction`` (the first is the paper's default).
REDUCTIONS: tuple[str, ...] = ("mean", "sum")


def _check(normalisation: str, reduction: str = "mean") -> None:
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {normalisation!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _min_max(x: jax.Array, axes: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """``(min, max)`` over ``axes`` (kept as size-1 dims) in ONE pass over ``x`` (a variadic reduce;
    two separate reductions read the features twice, about 15% of the kernel's time on CPU)."""
    axes = tuple(sorted(axis % x.ndim for axis in axes))
    init = (jnp.array(jnp.inf, x.dtype), jnp.array(-jnp.inf, x.dtype))
    low, high = jax.lax.reduce((x, x), init, lambda a, b: (jnp.minimum(a[0], b[0]), jnp.maximum(a[1], b[1])), axes)
    shape = tuple(1 if axis in axes else size for axis, size in enumerate(x.shape))
    return low.reshape(shape), high.reshape(shape)


def feature_range(planes: jax.Array, *, normalisation: Normalisation = "tensor") -> tuple[jax.Array, jax.Array]:
    """Step 4's affine map ``(low, scale)``: scaled features are ``(f - low) * scale``.

    Args:
        planes: ``[..., C, H, W]`` float features.
        normalisation: one range per ``[C, H, W]`` tensor (``"tensor"``) or per channel.

    Returns:
        ``low`` and ``scale``, each ``[..., 1 or C, 1, 1]``; ``scale = 1 / (max - min)``, or 0 for a
        constant tensor (channel), which then scales to 0.
    """
    _check(normalisation)
    low, high = _min_max(planes, (-2, -1) if normalisation == "channel" else (-3, -2, -1))
    span = high - low
    varies = span > 0
    return low, jnp.where(varies, 1.0 / jnp.where(varies, span, 1.0), 0.0)


def normalise_planes(planes: ArrayLike, *, normalisation: Normalisation = "tensor") -> jax.Array:
    """Step 4: ``[..., C, H, W]`` float features min-max scaled to [0, 1] (same shape)."""
    planes = jnp.asarray(planes)
    low, scale = feature_range(planes, normalisation=normalisation)
    return (planes - low) * scale


def reduce_planes(planes: ArrayLike, *, reduction: Reduction = "mean") -> jax.Array:
    """Step 5a: ``[..., C, H, W]`` -> ``[..., H, W]``, the channel mean (in [0, 1]) or sum (in [0, C]).

    Summed in a fixed channel order, so a pair gives the same bytes at any batch size.
    """
    _check("tensor", reduction)
    planes = jnp.asarray(planes)
    channels = planes.shape[-3]
    total = planes[..., 0, :, :]
    for c in range(1, channels):
        total = total + planes[..., c, :, :]
    return total / channels if reduction == "mean" else total


def feature_weight(
    planes: jax.Array, *, normalisation: Normalisation = "tensor", reduction: Reduction = "mean"
) -> jax.Array:
    """Steps 4 and 5a in one pass over the features, as the fusion kernel runs them.

    Equals ``reduce_planes(normalise_planes(planes))`` up to float rounding: for one range over the
    whole tensor the channels are summed first and shifted and scaled once,
    ``(sum_c f_c - C * low) * scale``, a third of the elementwise work.

    Args:
        planes: ``[C, H, W]`` float features of one image.
        normalisation: ``"tensor"`` or ``"channel"``.
        reduction: ``"mean"`` or ``"sum"``.

    Returns:
        ``[H, W]`` float: in [0, 1] for the mean, [0, C] for the sum.
    """
    _check(normalisation, reduction)
    low, scale = feature_range(planes, normalisation=normalisation)
    channels = planes.shape[0]
    if normalisation == "channel":
        total = (planes[0] - low[0]) * scale[0]
        for c in range(1, channels):  # fixed order: same bytes at any batch size
            total = total + (planes[c] - low[c]) * scale[c]
    else:
        total = (reduce_planes(planes, reduction="sum") - channels * low[0]) * scale[0]
    return total / channels if reduction == "mean" else total


def normalise_features(features: ArrayLike, *, normalisation: Normalisation = "tensor") -> jax.Array:
    """Channel-last :func:`normalise_planes`: ``[..., H, W, C]`` float -> ``[..., H, W, C]`` in [0, 1].

    Example:
        >>> normalise_features(jnp.arange(12.0).reshape(2, 2, 3)).max()
        Array(1., dtype=float32)
    """
    return jnp.moveaxis(normalise_planes(jnp.moveaxis(jnp.asarray(features), -1, -3), normalisation=normalisation), -3, -1)


def reduce_features(features: ArrayLike, *, reduction: Reduction = "mean") -> jax.Array:
    """Channel-last :func:`reduce_planes`: ``[..., H, W, C]`` in [0, 1] -> ``[..., H, W]`` weights.

    Example:
        >>> reduce_features(jnp.ones((4, 4, 3))).shape
        (4, 4)
    """
    return reduce_planes(jnp.moveaxis(jnp.asarray(features), -1, -3), reduction=reduction)
