"""The VGG19 ``conv1_1`` weights shipped inside the package.

The original VGG19 ImageNet weights (Simonyan & Zisserman 2015, released by Oxford VGG under
CC BY 4.0), layer ``conv1_1`` only, converted by ``weights/convert_vgg19_conv1_1.py`` from the
official Keras file. Provenance and licence: ``weights/README.md`` in the source repository.

Layout: ``kernel`` float32 ``[64, 3, 3, 3]`` (OIHW; input channels R, G, B), ``bias`` float32
``[64]``. The layer expects Caffe preprocessing: ``x = 255 * rgb - VGG_MEAN_RGB`` with ``rgb`` in
[0, 1] (see :func:`jaxfuse.core.features.vgg19_conv1_1`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import io
from typing import NamedTuple

import numpy as np

__all__ = [
    "WEIGHTS_SHA256",
    "VGG_MEAN_RGB",
    "Conv1_1Params",
    "WeightsError",
    "load_vgg19_conv1_1",
]

#: sha256 of ``jaxfuse/data/vgg19_conv1_1.npz`` as written by the conversion script.
WEIGHTS_SHA256 = "19346d4e7be50a40afafcfc6da0df0f0d4c05a38d9261b7bbddd705fd83e4dc7"

#: ImageNet mean in the 0..255 range, RGB order (the Caffe/MATLAB ``vgg19`` input normalisation).
VGG_MEAN_RGB = (123.68, 116.779, 103.939)

_RESOURCE = "vgg19_conv1_1.npz"


class WeightsError(RuntimeError):
    """The shipped weights file is missing or does not match its recorded checksum."""


class Conv1_1Params(NamedTuple):
    """VGG19 ``conv1_1`` parameters (a pytree).

    Attributes:
        kernel: ``[C_out, 3, 3, 3]`` float (OIHW, input channels RGB).
        bias: ``[C_out]`` float.
    """

    kernel: np.ndarray
    bias: np.ndarray


def _read_verified(data: bytes, *, origin: str) -> Conv1_1Params:
    digest = hashlib.sha256(data).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise WeightsError(
            f"{origin}: sha256 {digest} does not match the recorded {WEIGHTS_SHA256}; "
            "the weights file is corrupt or was replaced (reinstall jaxfuse)"
        )
    with np.load(io.BytesIO(data)) as npz:
        kernel = np.asarray(npz["kernel"], dtype=np.float32)
        bias = np.asarray(npz["bias"], dtype=np.float32)
    return Conv1_1Params(kernel=kernel, bias=bias)


@functools.cache
def _load_all() -> Conv1_1Params:
    resource = importlib.resources.files("jaxfuse") / "data" / _RESOURCE
    try:
        data = resource.read_bytes()
    except FileNotFoundError as error:
        raise WeightsError(f"{resource}: weights file missing from the installed package") from error
    params = _read_verified(data, origin=str(resource))
    params.kernel.setflags(write=False)
    params.bias.setflags(write=False)
    return params


def load_vgg19_conv1_1(*, channels: int = 3) -> Conv1_1Params:
    """Loads the first ``channels`` filters of VGG19 ``conv1_1``, checked by sha256.

    Args:
        channels: how many output filters to keep, 1..64 (the paper uses the first 3).

    Returns:
        ``Conv1_1Params`` with ``kernel`` float32 ``[channels, 3, 3, 3]`` (OIHW, RGB input order)
        and ``bias`` float32 ``[channels]`` (read-only NumPy arrays).

    Raises:
        WeightsError: the file is missing or its sha256 differs from ``WEIGHTS_SHA256``.
        ValueError: ``channels`` outside 1..64.

    Example:
        >>> params = load_vgg19_conv1_1()
        >>> params.kernel.shape
        (3, 3, 3, 3)
    """
    if not 1 <= channels <= 64:
        raise ValueError(f"channels must be in 1..64, got {channels}")
    params = _load_all()
    return Conv1_1Params(kernel=params.kernel[:channels], bias=params.bias[:channels])
