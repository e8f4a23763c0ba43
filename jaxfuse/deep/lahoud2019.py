"""Lahoud & Süsstrunk (2019): zero-learning medical fusion with VGG19 feature-map weights.

Image contract as :func:`jaxfuse.fuse`: MRI ``[..., H, W]`` gray, functional image ``[..., H, W, 3]``
RGB or ``[..., H, W]`` gray; uint8, uint16 or float in [0, 1].

The method, for an anatomical image ``M`` and a functional image ``P``:

1. **Colour** (coloured PET/SPECT, as the authors handle it): ``P`` goes to YCbCr (ITU-R BT.601,
   full range: ``Y = 0.299 R + 0.587 G + 0.114 B``, ``Cb = 0.5 + (B - Y) / 1.772``,
   ``Cr = 0.5 + (R - Y) / 1.402``); the luminance ``Y`` is fused with ``M``, the chrominance
   ``Cb, Cr`` is kept, and the result goes back to RGB (clipped to [0, 1]). A gray ``P`` is fused
   as it is and the output is gray.
2. **Saliency**: each source (``M`` and ``Y``, as three equal planes, with the network's Caffe
   preprocessing ``255 x - mean``) goes through VGG19 (:mod:`jaxfuse.deep.vgg19`); at each chosen
   ReLU layer ``l`` the activity of source ``k`` is the l1-norm of its feature vector,
   ``A_k^l = ||phi_k^l(x, y)||_1``.
3. **Weight maps**: ``W_k^l = A_k^l / sum_n A_n^l`` (the paper's normalisation across sources,
   its soft-max without exponential; 1/2 where both are 0), upsampled to the image size (nearest:
   each value over its ``2^(l-1)`` block; the identity at ``relu1_1``).
4. **Fusion**: ``F^l = sum_k W_k^l I_k`` per layer and ``F = max_l F^l`` pixel-wise; with the one
   layer used by default, ``F = W_M M + W_P Y``.

Layers: the weight construction is defined over a set of ReLU layers with a pixel-wise maximum
across them; the authors' released implementation (github.com/IVRL/Zero-Learning-Medical-Fusion,
consulted for this fact only) uses ``relu1_1`` alone (:data:`LAHOUD2019_LAYERS`), which is what
the registered method runs; ``layers=`` takes any of ``relu1_1`` ... ``relu4_1``. That release feeds
[0, 1] images to torchvision's retrained VGG19 without normalisation; here the original Caffe
weights get their own preprocessing (``255 x - mean``), as everywhere in jaxfuse, so the weights,
though built the same way, are not numerically those of the release.

Reference:
    F. Lahoud, S. Süsstrunk, "Zero-Learning Fast Medical Image Fusion", 22nd International
    Conference on Information Fusion (FUSION), 2019. arXiv:1905.03590.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse._batching import output_is_uint8, run_batched
from jaxfuse.core.units import to_unit_float
from jaxfuse.deep._frame import finish, map_groups, ratio_weights, upsample_nearest
from jaxfuse.deep.params import load_vgg19_layers
from jaxfuse.deep.vgg19 import DEPTH_OF, RELU_LAYERS, activity, gray_planes, preprocess, vgg19_relu_features

__all__ = ["LAHOUD2019_LAYERS", "rgb_to_ycbcr_planes", "ycbcr_to_rgb_planes", "lahoud2019_rule", "fuse_lahoud2019"]

#: The ReLU layers of the registered method (the authors' fast configuration).
LAHOUD2019_LAYERS = ("relu1_1",)

# BT.601 luma weights and the chroma scale factors 2 (1 - Kb), 2 (1 - Kr).
_KR, _KG, _KB = 0.299, 0.587, 0.114
_CB_SCALE, _CR_SCALE = 2 * (1 - _KB), 2 * (1 - _KR)


def rgb_to_ycbcr_planes(rgb: jax.Array) -> jax.Array:
    """``[..., 3, H, W]`` RGB in [0, 1] -> ``[..., 3, H, W]`` (Y, Cb, Cr), BT.601 full range, chroma centred on 0.5."""
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    y = _KR * r + _KG * g + _KB * b
    return jnp.stack([y, 0.5 + (b - y) / _CB_SCALE, 0.5 + (r - y) / _CR_SCALE], axis=-3)


def ycbcr_to_rgb_planes(ycbcr: jax.Array) -> jax.Array:
    """The exact inverse of :func:`rgb_to_ycbcr_planes` (not clipped)."""
    y, cb, cr = ycbcr[..., 0, :, :], ycbcr[..., 1, :, :] - 0.5, ycbcr[..., 2, :, :] - 0.5
    r = y + _CR_SCALE * cr
    b = y + _CB_SCALE * cb
    g = (y - _KR * r - _KB * b) / _KG
    return jnp.stack([r, g, b], axis=-3)


def lahoud2019_rule(sources: jax.Array, params, *, layers: Sequence[str] = LAHOUD2019_LAYERS) -> jax.Array:
    """Fused luminance: ``sources [G, K, H, W]`` in [0, 1] -> ``[G, H, W]`` (a convex combination per layer)."""
    groups, count, height, width = sources.shape
    flat = sources.reshape((groups * count, height, width))
    features = vgg19_relu_features(preprocess(gray_planes(flat)), params, outputs=layers)
    fused = None
    for name in layers:
        act = activity(features[name])
        weights = ratio_weights(act.reshape((groups, count) + act.shape[1:]).swapaxes(0, 1))  # [K, G, h, w]
        weights = upsample_nearest(weights, RELU_LAYERS[name], height, width)
        layer_fused = jnp.sum(weights * sources.swapaxes(0, 1), axis=0)
        fused = layer_fused if fused is None else jnp.maximum(fused, layer_fused)
    return fused


@functools.partial(jax.jit, static_argnames=("pet_is_rgb", "quantise", "group", "layers"))
def _lahoud_kernel(mri, pet, params, *, pet_is_rgb, quantise, group, layers):
    mri = to_unit_float(mri)
    pet = to_unit_float(pet).astype(mri.dtype)

    def run_group(m, p):  # [G, H, W], [G, H, W(, 3)]
        if not pet_is_rgb:
            fused = lahoud2019_rule(jnp.stack([m, p], axis=1), params, layers=layers)
            return finish(jnp.stack([fused] * 3, axis=1), quantise=quantise)
        ycbcr = rgb_to_ycbcr_planes(jnp.moveaxis(p, -1, 1))
        fused = lahoud2019_rule(jnp.stack([m, ycbcr[:, 0]], axis=1), params, layers=layers)
        rgb = ycbcr_to_rgb_planes(jnp.concatenate([fused[:, None], ycbcr[:, 1:]], axis=1))
        return finish(rgb, quantise=quantise)

    return map_groups(run_group, mri, pet, group)


def fuse_lahoud2019(
    mri: ArrayLike,
    pet: ArrayLike,
    *,
    layers: Sequence[str] = LAHOUD2019_LAYERS,
    params=None,
    output_dtype=jnp.float32,
) -> jax.Array:
    """Fuses registered MRI and functional images with Lahoud & Süsstrunk's (2019) method.

    One jit-compiled kernel per shape, dtype and layer set, batched over the leading dims (CPU:
    groups of two pairs, so results do not depend on the batch).

    Args:
        mri: ``[..., H, W]`` gray; uint8, uint16 or float in [0, 1].
        pet: ``[..., H, W, 3]`` RGB or ``[..., H, W]`` gray, same leading dims and size.
        layers: ReLU layers whose weights are combined by the pixel-wise maximum (default
            ``("relu1_1",)``); any of ``relu1_1``, ``relu2_1``, ``relu3_1``, ``relu4_1``.
        params: ``{conv name: (kernel, bias)}`` instead of the shipped ImageNet weights.
        output_dtype: ``jnp.float32`` ([0, 1]) or ``jnp.uint8`` (``round(255 x)``).

    Returns:
        ``[..., H, W, 3]`` fused RGB.

    Raises:
        ValueError: an empty or unknown ``layers``; shapes that do not match.

    Example:
        >>> fuse_lahoud2019(jnp.zeros((2, 32, 32)), jnp.zeros((2, 32, 32, 3))).shape
        (2, 32, 32, 3)
    """
    layers = tuple(layers)
    unknown = [name for name in layers if name not in RELU_LAYERS]
    if not layers or unknown:
        raise ValueError(f"layers must be a non-empty subset of {', '.join(RELU_LAYERS)}, got {layers}")
    if params is None:
        params = load_vgg19_layers(depth=DEPTH_OF[max(layers, key=list(RELU_LAYERS).index)])
    params = {name: (p[0], p[1]) for name, p in params.items()}
    kernel = functools.partial(_lahoud_kernel, params=params, quantise=output_is_uint8(output_dtype), layers=layers)
    return run_batched(kernel, mri, pet)
