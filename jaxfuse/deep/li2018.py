"""Li, Wu & Kittler (2018): two-scale decomposition, VGG19 multi-layer activity for the details.

Image contract as :func:`jaxfuse.fuse`: MRI ``[..., H, W]`` gray, functional image ``[..., H, W, 3]``
RGB or ``[..., H, W]`` gray; uint8, uint16 or float in [0, 1]. The paper fuses two gray images;
here the two are the MRI and the functional image's intensity (Gonzalez-Woods HSI, as every
intensity method of :mod:`jaxfuse.methods`), and the colour is restored through that intensity.

The method (paper section 3), for sources ``I_1`` (MRI) and ``I_2`` (intensity) in [0, 1]:

1. **Two-scale decomposition** (Eq. 1-2): base ``B_k = argmin_B ||I_k - B||^2 + lam (||g_x * B||^2 +
   ||g_y * B||^2)`` with ``g_x = [-1, 1]``, ``g_y = [-1, 1]^T``, ``lam = 5``; detail ``D_k = I_k - B_k``.
   Solved exactly by :func:`base_layer` (the sums run over the differences inside the image).
2. **Base parts** (Eq. 3): ``F_b = 0.5 B_1 + 0.5 B_2``.
3. **Detail parts** (Eq. 4-8): each ``D_k`` through VGG19 (:mod:`jaxfuse.deep.vgg19`; the detail is
   fed as three equal planes with the network's Caffe preprocessing, ``255 D - mean``, which the
   paper does not discuss); for ``i = 1..4`` the ``relu{i}_1`` output ``phi_k^i``:
   activity ``C_k^i = ||phi_k^i(x, y)||_1`` over the channels; block average
   ``C^_k^i = sum over a (2r+1)^2 window / (2r+1)^2`` with ``r = 1`` (zero outside the map);
   weights ``W_k^i = C^_k^i / sum_n C^_n^i`` (the paper's "soft-max"; 1/2 where both are 0);
   upsampled to the image size by repeating each value over its ``2^(i-1)`` block;
   ``F_d^i = sum_k W_k^i D_k``; ``F_d = max_i F_d^i`` (pixel-wise).
4. **Reconstruction** (Eq. 9): ``F = F_b + F_d``, clipped to [0, 1].

Reference:
    H. Li, X.-J. Wu, J. Kittler, "Infrared and visible image fusion using a deep learning
    framework", 24th International Conference on Pattern Recognition (ICPR), 2018, pp. 2705-2710.
    arXiv:1804.06992.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxfuse._batching import output_is_uint8, run_batched
from jaxfuse.core.fusion import intensity_planes, restore_colour_planes
from jaxfuse.core.units import to_unit_float
from jaxfuse.deep._frame import finish, map_groups, ratio_weights, upsample_nearest
from jaxfuse.deep.params import load_vgg19_layers
from jaxfuse.deep.vgg19 import RELU_LAYERS, activity, gray_planes, preprocess, vgg19_relu_features

__all__ = ["LI2018_LAMBDA", "LI2018_RADIUS", "LI2018_LAYERS", "base_layer", "li2018_rule", "fuse_li2018"]

#: The paper's regulariser weight of the two-scale decomposition.
LI2018_LAMBDA = 5.0
#: The paper's block-averaging radius r (a 3x3 window).
LI2018_RADIUS = 1
#: The ReLU outputs whose activities fuse the details.
LI2018_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def base_layer(images: jax.Array, *, lam: float = LI2018_LAMBDA) -> jax.Array:
    """Eq. 1 of Li et al.: the base part of each ``[B, H, W]`` image, exactly.

    Minimises ``||I - B||^2 + lam * (sum of squared horizontal and vertical forward differences of B
    inside the image)``. Its normal equations are ``(1 + lam L) B = I`` with ``L`` the Laplacian with
    reflecting (Neumann) borders, which the half-sample symmetric extension of ``I`` to
    ``[2H, 2W]`` diagonalises: there ``B`` is a periodic convolution, one FFT per image, and the
    crop of the extended solution is the solution (the extended problem is symmetric and its
    solution unique).

    Returns:
        ``[B, H, W]`` in the input's dtype (a weighted average of the input: stays in its range).
    """
    height, width = images.shape[-2:]
    extended = jnp.concatenate([images, images[..., ::-1, :]], axis=-2)
    extended = jnp.concatenate([extended, extended[..., ::-1]], axis=-1)
    fy = jnp.fft.fftfreq(2 * height).astype(images.dtype)
    fx = jnp.fft.rfftfreq(2 * width).astype(images.dtype)
    # |1 - exp(-2 pi i f)|^2 = 2 - 2 cos(2 pi f), the transfer of a forward difference, squared.
    gy = 2.0 - 2.0 * jnp.cos(2 * jnp.pi * fy)
    gx = 2.0 - 2.0 * jnp.cos(2 * jnp.pi * fx)
    transfer = 1.0 / (1.0 + lam * (gy[:, None] + gx[None, :]))
    solved = jnp.fft.irfft2(jnp.fft.rfft2(extended) * transfer, s=(2 * height, 2 * width))
    return solved[..., :height, :width].astype(images.dtype)


def _block_average(a: jax.Array, radius: int) -> jax.Array:
    """``[B, h, w]`` -> the mean over each ``(2r+1)^2`` window, zeros outside (the same divisor everywhere)."""
    size = 2 * radius + 1
    summed = jax.lax.reduce_window(
        a, 0.0, jax.lax.add, (1, size, size), (1, 1, 1), ((0, 0), (radius, radius), (radius, radius))
    )
    return summed / (size * size)


def li2018_rule(sources: jax.Array, params, *, layers=LI2018_LAYERS, lam=LI2018_LAMBDA, radius=LI2018_RADIUS):
    """The fused intensity of each pair: ``sources [G, 2, H, W]`` in [0, 1] -> ``[G, H, W]`` (not clipped).

    ``params`` maps conv names to ``(kernel, bias)`` (:func:`jaxfuse.deep.params.load_vgg19_layers`).
    """
    groups, count, height, width = sources.shape
    flat = sources.reshape((groups * count, height, width))
    base = base_layer(flat, lam=lam)
    detail = flat - base
    features = vgg19_relu_features(preprocess(gray_planes(detail)), params, outputs=layers)
    fused_detail = None
    for name in layers:
        act = _block_average(activity(features[name]), radius)
        weights = ratio_weights(act.reshape((groups, count) + act.shape[1:]).swapaxes(0, 1))  # [2, G, h, w]
        weights = upsample_nearest(weights, RELU_LAYERS[name], height, width)
        layer_detail = jnp.sum(weights * detail.reshape((groups, count, height, width)).swapaxes(0, 1), axis=0)
        fused_detail = layer_detail if fused_detail is None else jnp.maximum(fused_detail, layer_detail)
    fused_base = jnp.mean(base.reshape((groups, count, height, width)), axis=1)
    return fused_base + fused_detail


@functools.partial(jax.jit, static_argnames=("pet_is_rgb", "quantise", "group", "layers"))
def _li_kernel(mri, pet, params, *, pet_is_rgb, quantise, group, layers):
    mri = to_unit_float(mri)
    pet = to_unit_float(pet).astype(mri.dtype)

    def run_group(m, p):  # [G, H, W], [G, H, W(, 3)]
        planes = jnp.moveaxis(p, -1, 1) if pet_is_rgb else p[:, None]
        intensity = jax.vmap(intensity_planes)(planes)
        fused = jnp.clip(li2018_rule(jnp.stack([m, intensity], axis=1), params, layers=layers), 0.0, 1.0)
        rgb = jax.vmap(restore_colour_planes)(planes, intensity, fused)
        return finish(rgb, quantise=quantise)

    return map_groups(run_group, mri, pet, group)


def fuse_li2018(mri: ArrayLike, pet: ArrayLike, *, params=None, output_dtype=jnp.float32) -> jax.Array:
    """Fuses registered MRI and functional images with Li, Wu & Kittler's (2018) method.

    One jit-compiled kernel per shape and dtype, batched over the leading dims (CPU: groups of two
    pairs, so results do not depend on the batch).

    Args:
        mri: ``[..., H, W]`` gray; uint8, uint16 or float in [0, 1].
        pet: ``[..., H, W, 3]`` RGB or ``[..., H, W]`` gray, same leading dims and size.
        params: ``{conv name: (kernel, bias)}`` from ``conv1_1`` to ``conv4_1`` instead of the
            shipped ImageNet weights (traced: changing them does not recompile).
        output_dtype: ``jnp.float32`` ([0, 1]) or ``jnp.uint8`` (``round(255 x)``).

    Returns:
        ``[..., H, W, 3]`` fused RGB.

    Example:
        >>> fuse_li2018(jnp.zeros((2, 32, 32)), jnp.zeros((2, 32, 32, 3))).shape
        (2, 32, 32, 3)
    """
    params = load_vgg19_layers(depth="conv4_1") if params is None else params
    params = {name: (p[0], p[1]) for name, p in params.items()}
    kernel = functools.partial(_li_kernel, params=params, quantise=output_is_uint8(output_dtype), layers=LI2018_LAYERS)
    return run_batched(kernel, mri, pet)
