"""VGG19's convolutional trunk up to ``relu4_1``, and the per-pixel activity of its ReLU outputs.

Image contract: images as channel-first planes ``[B, 3, H, W]`` (RGB) float in [0, 1]; a gray image
is fed as three equal planes (:func:`gray_planes`). Preprocessing is the one the weights were
trained with (Caffe / MATLAB ``vgg19``, as for ``conv1_1`` in :mod:`jaxfuse.core.features`):
``x = 255 * image - VGG_MEAN_RGB``. Every convolution is 3x3, stride 1, 'same' zero padding of its
input, plus bias, then ReLU; each pooling is 2x2 max pooling with stride 2 over whole windows
(odd sizes are floored, as Keras / Caffe 'valid' pooling does). Outputs are channels-last:
``relu1_1`` ``[B, H, W, 64]``, ``relu2_1`` ``[B, H/2, W/2, 128]``, ``relu3_1`` ``[B, H/4, W/4, 256]``,
``relu4_1`` ``[B, H/8, W/8, 512]``.

The trunk runs channels-last (NHWC activations, HWIO kernels): XLA's CPU convolutions are about
1.7x faster in that layout than channel-first at 64 channels. Convolutions run at
``Precision.HIGHEST`` (no TF32 on GPUs), in the dtype of the input.

Reference:
    K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
    Recognition", ICLR 2015 (configuration E).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp

from jaxfuse.core.params import VGG_MEAN_RGB

__all__ = ["RELU_LAYERS", "gray_planes", "preprocess", "vgg19_relu_features", "activity"]

#: The ReLU outputs the fusion methods read, in depth order, with the pooling factor of each.
RELU_LAYERS: dict[str, int] = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8}

# The trunk in order: ("conv", name) is conv + bias + ReLU, ("pool",) a 2x2 max pool, ("out", name)
# marks a ReLU output.
_TRUNK = (
    ("conv", "conv1_1"), ("out", "relu1_1"),
    ("conv", "conv1_2"), ("pool",), ("conv", "conv2_1"), ("out", "relu2_1"),
    ("conv", "conv2_2"), ("pool",), ("conv", "conv3_1"), ("out", "relu3_1"),
    ("conv", "conv3_2"), ("conv", "conv3_3"), ("conv", "conv3_4"), ("pool",), ("conv", "conv4_1"), ("out", "relu4_1"),
)  # fmt: skip

#: The last convolution each ReLU output needs (for :func:`jaxfuse.deep.params.load_vgg19_layers`).
DEPTH_OF = {"relu1_1": "conv1_1", "relu2_1": "conv2_1", "relu3_1": "conv3_1", "relu4_1": "conv4_1"}


def gray_planes(gray: jax.Array) -> jax.Array:
    """``[B, H, W]`` gray -> ``[B, 3, H, W]``, three equal planes."""
    return jnp.broadcast_to(gray[:, None], (gray.shape[0], 3) + gray.shape[1:])


def preprocess(rgb_planes: jax.Array) -> jax.Array:
    """``[B, 3, H, W]`` float in [0, 1] (RGB) -> ``255 * x - VGG_MEAN_RGB`` (Caffe input, RGB order)."""
    mean = jnp.asarray(VGG_MEAN_RGB, rgb_planes.dtype)[None, :, None, None]
    return 255.0 * rgb_planes - mean


def _conv_relu(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """``[B, H, W, I]`` NHWC, ``kernel [O, I, 3, 3]`` OIHW -> ``[B, H, W, O]``."""
    out = jax.lax.conv_general_dilated(
        x,
        jnp.transpose(kernel, (2, 3, 1, 0)),
        window_strides=(1, 1),
        padding="SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision=jax.lax.Precision.HIGHEST,
    )
    return jax.nn.relu(out + bias)


def _max_pool(x: jax.Array) -> jax.Array:
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def vgg19_relu_features(
    x: jax.Array, params: Mapping[str, tuple[jax.Array, jax.Array]], *, outputs: Sequence[str]
) -> dict[str, jax.Array]:
    """Runs the VGG19 trunk on preprocessed planes and returns the requested ReLU outputs.

    Args:
        x: ``[B, 3, H, W]`` float, already :func:`preprocess`-ed (RGB order).
        params: ``{conv name: (kernel [O, I, 3, 3], bias [O])}`` from ``conv1_1`` to at least the
            deepest requested output's last convolution (``DEPTH_OF``); cast to ``x.dtype``.
        outputs: names from :data:`RELU_LAYERS`.

    Returns:
        ``{name: [B, H / f, W / f, C]}`` for each requested output (``f`` its pooling factor,
        floored), values >= 0.

    Raises:
        ValueError: an unknown output name.
    """
    unknown = [name for name in outputs if name not in RELU_LAYERS]
    if unknown:
        raise ValueError(f"unknown VGG19 outputs {unknown}; known: {', '.join(RELU_LAYERS)}")
    deepest = max(outputs, key=list(RELU_LAYERS).index)
    found = {}
    x = jnp.moveaxis(x, 1, -1)
    for step in _TRUNK:
        if step[0] == "conv":
            kernel, bias = params[step[1]]
            x = _conv_relu(x, jnp.asarray(kernel, x.dtype), jnp.asarray(bias, x.dtype))
        elif step[0] == "pool":
            x = _max_pool(x)
        else:
            if step[1] in outputs:
                found[step[1]] = x
            if step[1] == deepest:
                break
    return found


def activity(features: jax.Array) -> jax.Array:
    """``[B, h, w, C]`` ReLU features -> ``[B, h, w]`` l1-norm over the channels (their sum, as they are >= 0)."""
    return jnp.sum(features, axis=-1)
