"""VGG19's first convolution, ``conv1_1`` + ReLU, as per-pixel feature maps.

Image contract: RGB images ``[..., H, W, 3]`` float in [0, 1]; gray images ``[..., H, W]`` float in
[0, 1], fed to the network as three equal channels. Output ``[..., H, W, C]`` float (the input's
float dtype), ``C`` the number of requested output channels, values >= 0.

Preprocessing is the Caffe/MATLAB ``vgg19`` one: ``x = 255 * image - VGG_MEAN_RGB``, then a 3x3
convolution with stride 1 and 'same' zero padding of ``x`` (not of the raw image), plus bias, then
ReLU. The convolution is written as nine shifted multiply-adds over the padded image: with only a
handful of output channels this is cheaper than a general convolution and every output element is
computed by the same fixed sequence of operations whatever the batch size, so a pair gives the same
bytes alone or in a batch.

Reference:
    K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
    Recognition", ICLR 2015.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse.weights import VGG_MEAN_RGB, Conv1_1Params, load_vgg19_conv1_1

__all__ = ["vgg19_conv1_1", "vgg19_conv1_1_gray"]


def _taps(padded: jax.Array, height: int, width: int):
    """Yields ``(dy, dx, window)`` for the nine 3x3 taps of a zero-padded ``[..., H+2, W+2]`` array."""
    for dy in range(3):
        for dx in range(3):
            yield dy, dx, padded[..., dy : dy + height, dx : dx + width]


def _pad_hw(x: jax.Array) -> jax.Array:
    """Zero-pads the last two axes by one pixel on each side."""
    pad = [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)]
    return jnp.pad(x, pad)


def _resolve_params(params: Conv1_1Params | None, channels: int, dtype) -> tuple[jax.Array, jax.Array]:
    if params is None:
        params = load_vgg19_conv1_1(channels=channels)
    kernel = jnp.asarray(params.kernel, dtype=dtype)
    bias = jnp.asarray(params.bias, dtype=dtype)
    if kernel.ndim != 4 or kernel.shape[1:] != (3, 3, 3) or bias.shape != kernel.shape[:1]:
        raise ValueError(f"params must be kernel [C, 3, 3, 3] and bias [C], got {kernel.shape} and {bias.shape}")
    if kernel.shape[0] < channels:
        raise ValueError(f"channels={channels} but params hold only {kernel.shape[0]} filters")
    return kernel[:channels], bias[:channels]


def _float(x: ArrayLike) -> jax.Array:
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def vgg19_conv1_1(
    images: ArrayLike, *, channels: int = 3, params: Conv1_1Params | None = None
) -> jax.Array:
    """VGG19 ``conv1_1`` + ReLU features of RGB images; computes only ``channels`` filters.

    Args:
        images: ``[..., H, W, 3]`` float in [0, 1] (RGB).
        channels: number of leading output filters to compute, 1..64 (the paper keeps 3).
        params: optional ``Conv1_1Params`` (kernel ``[>=channels, 3, 3, 3]`` OIHW with RGB inputs,
            bias); defaults to the shipped ImageNet weights. May hold tracers (differentiable).

    Returns:
        ``[..., H, W, channels]`` float (input dtype), non-negative.

    Example:
        >>> vgg19_conv1_1(jnp.zeros((4, 32, 32, 3))).shape
        (4, 32, 32, 3)
    """
    images = _float(images)
    if images.ndim < 3 or images.shape[-1] != 3:
        raise ValueError(f"images must have shape [..., H, W, 3], got {images.shape}")
    kernel, bias = _resolve_params(params, channels, images.dtype)
    height, width = images.shape[-3], images.shape[-2]
    mean = jnp.asarray(VGG_MEAN_RGB, dtype=images.dtype)
    centred = jnp.moveaxis(255.0 * images - mean, -1, -3)  # [..., 3, H, W]
    padded = _pad_hw(centred)
    out = bias
    for dy, dx, window in _taps(padded, height, width):
        for c in range(3):
            out = out + window[..., c, :, :, None] * kernel[:, c, dy, dx]
    return jax.nn.relu(out)


def vgg19_conv1_1_gray(
    images: ArrayLike, *, channels: int = 3, params: Conv1_1Params | None = None
) -> jax.Array:
    """VGG19 ``conv1_1`` + ReLU of gray images fed as three equal channels.

    Equal to ``vgg19_conv1_1(jnp.stack([images] * 3, -1))`` up to float rounding, at a third of the
    cost: ``sum_c k_c * (255 g - m_c)`` is one convolution of ``255 g`` with the channel-summed
    kernel minus the mean term, which is taken only over taps inside the image (zero padding is
    applied after mean subtraction).

    Args:
        images: ``[..., H, W]`` float in [0, 1] (gray).
        channels: number of leading output filters to compute, 1..64.
        params: optional ``Conv1_1Params``; defaults to the shipped ImageNet weights.

    Returns:
        ``[..., H, W, channels]`` float (input dtype), non-negative.
    """
    images = _float(images)
    if images.ndim < 2:
        raise ValueError(f"images must have shape [..., H, W], got {images.shape}")
    kernel, bias = _resolve_params(params, channels, images.dtype)
    height, width = images.shape[-2], images.shape[-1]
    mean = jnp.asarray(VGG_MEAN_RGB, dtype=images.dtype)
    summed = jnp.sum(kernel, axis=1)  # [C, 3, 3]
    mean_term = jnp.sum(kernel * mean[:, None, None], axis=1)  # [C, 3, 3]
    scaled = _pad_hw(255.0 * images)
    inside = _pad_hw(jnp.ones((height, width), images.dtype))
    out = bias
    for dy, dx, window in _taps(scaled, height, width):
        out = out + window[..., None] * summed[:, dy, dx]
    for dy, dx, window in _taps(inside, height, width):
        out = out - window[..., None] * mean_term[:, dy, dx]
    return jax.nn.relu(out)
