"""jaxfuse: batched, differentiable fusion of MRI with PET/SPECT images in JAX.

Implements Amini & Mostaar (2022): the functional image's HSI intensity and the MRI are combined
with per-pixel weights from VGG19's first convolution (original ImageNet weights, shipped with the
package). Public API::

    jaxfuse.fuse(mri, pet, *, a=0.3, b=0.1, ...)   # [..., H, W] + [..., H, W, 3] -> [..., H, W, 3]
    jaxfuse.rgb_to_hsi / hsi_to_rgb / replace_intensity
    jaxfuse.vgg19_conv1_1(images, *, channels=3)
    jaxfuse.nn.VGG19Fusion                         # Flax NNX module
    jaxfuse.fuse_with(mri, pet, method="dwt")      # any method of jaxfuse.METHODS (Table 1)
    jaxfuse.adaptive.fuse_adaptive(mri, pet)       # beyond the paper: A, B chosen per pair by gradient
    jaxfuse.deep.fuse_li2018 / fuse_lahoud2019     # the VGG19 family (deeper layers; also in METHODS)
    jaxfuse.metrics.evaluate_all(fused, mri, pet)  # EN, MI, D, AG, OP, SD, SF, PSNR, SSIM, ...
    jaxfuse.transforms / curvelet / contourlet / nsct   # multiscale transforms, batched with vmap
    jaxfuse.parallel.fuse_sharded(mri, pet)        # data-parallel over devices
    jaxfuse.fuse_volumes(mri, pet, pet_cmap="pet")  # NIfTI/DICOM/nibabel volumes -> RGB on the MRI grid
"""

from jaxfuse import adaptive, deep, metrics, multiscale, parallel
from jaxfuse import multiscale as transforms  # the package: dwt2, TRANSFORMS, ...
from jaxfuse.core.color import (
    hsi_to_rgb,
    ihs_linear_to_rgb,
    replace_intensity,
    replace_intensity_linear,
    replace_intensity_planar,
    rgb_to_hsi,
    rgb_to_ihs_linear,
    rgb_to_intensity,
)
from jaxfuse.core.features import vgg19_conv1_1, vgg19_conv1_1_gray
from jaxfuse.core.fusion import DEFAULT_A, DEFAULT_B, fuse, fusion_rule
from jaxfuse.core.params import VGG_MEAN_RGB, Conv1_1Params, WeightsError, load_vgg19_conv1_1
from jaxfuse.core.pixel_weights import normalise_features, reduce_features
from jaxfuse.core.units import to_unit_float
from jaxfuse.io.images import ImageError, read_functional, read_image, read_mri, write_png
from jaxfuse.methods import METHODS, FusionMethod, fuse_with
from jaxfuse.multiscale import contourlet, curvelet, nsct

__version__ = "0.1.0"

# The volume path imports nibabel: loaded on first use, so 2-D work does not pay for it (PEP 562).
_LAZY = {"fuse_volumes": "jaxfuse.volume.fuse", "FusedVolume": "jaxfuse.volume.fuse"}
# Imported on first use: Flax (for jaxfuse.nn) takes longer to import than the rest of the package,
# and the command line and the volume path never need it.
_LAZY_MODULES = {"nn": "jaxfuse.nn"}


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DEFAULT_A",
    "DEFAULT_B",
    "VGG_MEAN_RGB",
    "Conv1_1Params",
    "FusionMethod",
    "FusedVolume",
    "METHODS",
    "ImageError",
    "WeightsError",
    "adaptive",
    "contourlet",
    "curvelet",
    "deep",
    "fuse",
    "fuse_volumes",
    "fuse_with",
    "fusion_rule",
    "hsi_to_rgb",
    "ihs_linear_to_rgb",
    "load_vgg19_conv1_1",
    "metrics",
    "multiscale",
    "nn",
    "nsct",
    "parallel",
    "normalise_features",
    "read_functional",
    "read_image",
    "read_mri",
    "reduce_features",
    "replace_intensity",
    "replace_intensity_planar",
    "replace_intensity_linear",
    "rgb_to_hsi",
    "rgb_to_ihs_linear",
    "rgb_to_intensity",
    "to_unit_float",
    "transforms",
    "vgg19_conv1_1",
    "vgg19_conv1_1_gray",
    "write_png",
]
