"""The VGG19 layers after ``conv1_1``, up to ``conv4_1``, shipped inside the package.

The original VGG19 ImageNet weights (Simonyan & Zisserman 2015, released by Oxford VGG under
CC BY 4.0), converted by ``weights/convert_vgg19_deep.py`` from the same official Keras file as
``conv1_1`` (provenance and licence: ``weights/README.md`` in the source repository). Kernels are
stored as float16 (rounded to nearest from the float32 originals; the tests bound what that changes
in the methods' output) and returned as float32; biases are float32 as released.

Together with ``conv1_1`` (:func:`jaxfuse.load_vgg19_conv1_1`, float32, RGB input order) these are
the nine convolutions behind VGG19's ``relu1_1`` ... ``relu4_1``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import io
from typing import NamedTuple

import numpy as np

from jaxfuse.core.params import WeightsError, load_vgg19_conv1_1

__all__ = ["DEEP_WEIGHTS_SHA256", "DEEP_LAYERS", "ConvParams", "load_vgg19_layers"]

#: sha256 of ``jaxfuse/data/vgg19_deep.npz`` as written by ``weights/convert_vgg19_deep.py``.
DEEP_WEIGHTS_SHA256 = "78669ca38cf02d1cc89a62121663ae942705905502ba6dca5d809b76296a9ef3"

#: The shipped layers after conv1_1 with their (C_in, C_out), in network order.
DEEP_LAYERS: dict[str, tuple[int, int]] = {
    "conv1_2": (64, 64),
    "conv2_1": (64, 128),
    "conv2_2": (128, 128),
    "conv3_1": (128, 256),
    "conv3_2": (256, 256),
    "conv3_3": (256, 256),
    "conv3_4": (256, 256),
    "conv4_1": (256, 512),
}

_RESOURCE = "vgg19_deep.npz"


class ConvParams(NamedTuple):
    """One 3x3 convolution (a pytree): ``kernel`` float32 ``[C_out, C_in, 3, 3]`` (OIHW), ``bias`` ``[C_out]``."""

    kernel: np.ndarray
    bias: np.ndarray


def _read_verified(data: bytes, *, origin: str) -> dict[str, ConvParams]:
    digest = hashlib.sha256(data).hexdigest()
    if digest != DEEP_WEIGHTS_SHA256:
        raise WeightsError(
            f"{origin}: sha256 {digest} does not match the recorded {DEEP_WEIGHTS_SHA256}; "
            "the weights file is corrupt or was replaced (reinstall jaxfuse)"
        )
    layers = {}
    with np.load(io.BytesIO(data)) as npz:
        for name, (c_in, c_out) in DEEP_LAYERS.items():
            kernel = np.asarray(npz[f"{name}/kernel"])
            bias = np.asarray(npz[f"{name}/bias"])
            if kernel.dtype != np.float16 or kernel.shape != (c_out, c_in, 3, 3) or bias.shape != (c_out,):
                raise WeightsError(f"{origin}: {name} has {kernel.dtype} {kernel.shape}, bias {bias.shape}")
            layers[name] = ConvParams(kernel=kernel.astype(np.float32), bias=bias.astype(np.float32))
    return layers


@functools.cache
def _load_deep() -> dict[str, ConvParams]:
    resource = importlib.resources.files("jaxfuse") / "data" / _RESOURCE
    try:
        data = resource.read_bytes()
    except FileNotFoundError as error:
        raise WeightsError(f"{resource}: weights file missing from the installed package") from error
    layers = _read_verified(data, origin=str(resource))
    for params in layers.values():
        params.kernel.setflags(write=False)
        params.bias.setflags(write=False)
    return layers


def load_vgg19_layers(*, depth: str = "conv4_1") -> dict[str, ConvParams]:
    """VGG19's convolutions from ``conv1_1`` up to ``depth``, checked by sha256.

    Args:
        depth: the last convolution to include: ``"conv1_1"`` or a key of :data:`DEEP_LAYERS`.

    Returns:
        ``{"conv1_1": ..., ..., depth: ...}`` in network order; float32 read-only NumPy arrays,
        ``conv1_1`` with its input channels in RGB order (all 64 filters).

    Raises:
        WeightsError: a weights file is missing or its sha256 differs from the recorded one.
        ValueError: an unknown ``depth``.

    Example:
        >>> layers = load_vgg19_layers(depth="conv2_1")
        >>> [name for name in layers], layers["conv2_1"].kernel.shape
        (['conv1_1', 'conv1_2', 'conv2_1'], (128, 64, 3, 3))
    """
    names = ["conv1_1", *DEEP_LAYERS]
    if depth not in names:
        raise ValueError(f"depth must be one of {', '.join(names)}, got {depth!r}")
    first = load_vgg19_conv1_1(channels=64)
    layers = {"conv1_1": ConvParams(kernel=first.kernel, bias=first.bias)}
    if depth != "conv1_1":
        deep = _load_deep()
        for name in names[1 : names.index(depth) + 1]:
            layers[name] = deep[name]
    return layers
