"""The VGG19 fusion family beyond the paper's conv1_1 method: deeper VGG19 layers and two methods.

* :mod:`~jaxfuse.deep.params`: the shipped ``conv1_2`` ... ``conv4_1`` weights (float16 kernels,
  sha256-checked) and :func:`load_vgg19_layers`;
* :mod:`~jaxfuse.deep.vgg19`: the VGG19 trunk up to ``relu4_1`` and the l1-norm activity;
* :mod:`~jaxfuse.deep.li2018`: Li, Wu & Kittler 2018 (two-scale, multi-layer detail weights);
* :mod:`~jaxfuse.deep.lahoud2019`: Lahoud & Süsstrunk 2019 (YCbCr, feature-map weight maps).

Both methods are registered in :data:`jaxfuse.methods.METHODS` (``li2018``, ``lahoud2019``).
"""

from jaxfuse.deep.lahoud2019 import LAHOUD2019_LAYERS, fuse_lahoud2019
from jaxfuse.deep.li2018 import LI2018_LAMBDA, LI2018_LAYERS, LI2018_RADIUS, base_layer, fuse_li2018
from jaxfuse.deep.params import DEEP_WEIGHTS_SHA256, ConvParams, load_vgg19_layers
from jaxfuse.deep.vgg19 import RELU_LAYERS, vgg19_relu_features

__all__ = [
    "DEEP_WEIGHTS_SHA256",
    "LAHOUD2019_LAYERS",
    "LI2018_LAMBDA",
    "LI2018_LAYERS",
    "LI2018_RADIUS",
    "RELU_LAYERS",
    "ConvParams",
    "base_layer",
    "fuse_lahoud2019",
    "fuse_li2018",
    "load_vgg19_layers",
    "vgg19_relu_features",
]
