"""Flax NNX wrappers: the fusion method as modules whose parameters are plain pytrees.

For researchers embedding the method in JAX code: the conv1_1 weights and the constants A and B are
``nnx.Param`` leaves, so they can be fine-tuned, inspected or swapped with the usual
``nnx.state``/``nnx.split`` tools. Numerically the modules call the same compiled kernel as
:func:`jaxfuse.fuse` and :func:`jaxfuse.vgg19_conv1_1`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from jaxfuse.core.features import vgg19_conv1_1
from jaxfuse.core.fusion import DEFAULT_A, DEFAULT_B, ColourSpace, fuse
from jaxfuse.core.params import Conv1_1Params, load_vgg19_conv1_1
from jaxfuse.core.pixel_weights import Normalisation, Reduction

__all__ = ["VGG19Conv1_1", "VGG19Fusion"]


class VGG19Conv1_1(nnx.Module):
    """VGG19 ``conv1_1`` + ReLU with the ImageNet weights as trainable parameters.

    Attributes:
        kernel: ``nnx.Param`` float32 ``[C, 3, 3, 3]`` (OIHW, RGB input order).
        bias: ``nnx.Param`` float32 ``[C]``.
    """

    def __init__(self, *, channels: int = 3):
        """Args: channels: number of leading filters kept, 1..64."""
        params = load_vgg19_conv1_1(channels=channels)
        self.kernel = nnx.Param(jnp.asarray(params.kernel))
        self.bias = nnx.Param(jnp.asarray(params.bias))

    @property
    def params(self) -> Conv1_1Params:
        """The current weights as a ``Conv1_1Params`` pytree."""
        return Conv1_1Params(kernel=self.kernel[...], bias=self.bias[...])

    def __call__(self, images: ArrayLike) -> jax.Array:
        """``[..., H, W, 3]`` float RGB in [0, 1] -> ``[..., H, W, C]`` float features (>= 0)."""
        return vgg19_conv1_1(images, channels=self.kernel.shape[0], params=self.params)


class VGG19Fusion(nnx.Module):
    """The paper's fusion as a module: conv1_1 weights, ``a`` and ``b`` are ``nnx.Param``.

    ``VGG19Fusion()(mri, pet)`` equals ``jaxfuse.fuse(mri, pet)``; options are fixed at
    construction (they select the compiled kernel), parameters are traced.

    Example:
        >>> model = VGG19Fusion()
        >>> model(jnp.zeros((2, 32, 32)), jnp.zeros((2, 32, 32, 3))).shape
        (2, 32, 32, 3)
    """

    def __init__(
        self,
        *,
        a: float = DEFAULT_A,
        b: float = DEFAULT_B,
        channels: int = 3,
        normalisation: Normalisation = "tensor",
        reduction: Reduction = "mean",
        colour_space: ColourSpace = "hsi",
    ):
        self.features = VGG19Conv1_1(channels=channels)
        self.a = nnx.Param(jnp.asarray(a, jnp.float32))
        self.b = nnx.Param(jnp.asarray(b, jnp.float32))
        self.channels = channels
        self.normalisation = normalisation
        self.reduction = reduction
        self.colour_space = colour_space

    def __call__(self, mri: ArrayLike, pet: ArrayLike) -> jax.Array:
        """Same contract as :func:`jaxfuse.fuse`: returns ``[..., H, W, 3]`` float32 in [0, 1]."""
        return fuse(
            mri,
            pet,
            a=self.a[...],
            b=self.b[...],
            normalisation=self.normalisation,
            reduction=self.reduction,
            colour_space=self.colour_space,
            channels=self.channels,
            params=self.features.params,
        )
