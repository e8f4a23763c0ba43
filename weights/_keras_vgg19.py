"""What both VGG19 conversion scripts share: the md5-checked Keras file, its layers, the command line.

The source is ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``, the file Keras publishes for
``keras.applications.VGG19`` (md5 :data:`SOURCE_MD5`). Each convolution ``<name>`` is stored in
group ``<name>`` as ``<name>_W_1:0`` (HWIO kernel) and ``<name>_b_1:0`` (bias). Conversion-time
only (needs ``h5py``); the package never imports this.
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
from collections.abc import Callable

import numpy as np

__all__ = ["SOURCE_MD5", "read_convolutions", "run_converter"]

SOURCE_MD5 = "253f8cb515780f3b799900260a226db6"


def read_convolutions(source: pathlib.Path, shapes: dict[str, tuple[int, int]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reads the Keras layers named in ``shapes`` (``{keras name: (C_in, C_out)}``) after checking the md5.

    Returns:
        ``{keras name: (kernel, bias)}``: float32 HWIO ``[3, 3, C_in, C_out]`` as stored, float32 ``[C_out]``.
    """
    import h5py  # conversion-time only

    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    if md5 != SOURCE_MD5:
        raise SystemExit(f"{source}: md5 {md5} is not the published {SOURCE_MD5}")
    layers = {}
    with h5py.File(source, "r") as f:
        for name, (c_in, c_out) in shapes.items():
            kernel = np.asarray(f[name][f"{name}_W_1:0"], dtype=np.float32)
            bias = np.asarray(f[name][f"{name}_b_1:0"], dtype=np.float32)
            if kernel.shape != (3, 3, c_in, c_out) or bias.shape != (c_out,):
                raise SystemExit(f"{source}: {name} has shapes {kernel.shape}, {bias.shape}")
            layers[name] = kernel, bias
    return layers


def run_converter(convert: Callable[[pathlib.Path, pathlib.Path], str], *, doc: str, default_out: pathlib.Path, argv=None) -> int:
    """The scripts' command line: ``SCRIPT SOURCE.h5 [-o OUT]``, printing the output's size and sha256."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("source", type=pathlib.Path, help="vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    parser.add_argument("-o", "--out", type=pathlib.Path, default=default_out, help=f"default {default_out}")
    args = parser.parse_args(argv)
    digest = convert(args.source, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)\nsha256 {digest}")
    return 0
