"""Would a planar PET input (``[N, 3, H, W]``) make the kernel faster? An A/B in one process.

The profile puts ~44% of the kernel in de-interleaving the channel-last PET. This times the same
compiled kernel (256x256 uint8 pairs, groups of 2, uint8 out) fed the PET channel-last, as today,
and already planar (the kernel's ``_planes`` step passing planar input through), alternating
rounds, and checks that both give the same bytes. A development measurement, not a public API:

    python benchmarks/planar_input.py [--batch 64] [--rounds 3] [--calls 15]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

import jaxfuse.core.fusion as fusion
from jaxfuse.core.params import load_vgg19_conv1_1


def _ms_per_pair(function, mri, pet, *, calls: int) -> tuple[float, float]:
    """(median, fastest) milliseconds per pair over ``calls`` warm calls."""
    jax.block_until_ready(function(mri, pet))
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        jax.block_until_ready(function(mri, pet))
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3 / len(mri), min(times) * 1e3 / len(mri)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=15)
    args = parser.parse_args(argv)

    params = load_vgg19_conv1_1(channels=3)
    rng = np.random.default_rng(0)
    mri = rng.integers(0, 256, (args.batch, 256, 256), dtype=np.uint8)
    pet = rng.integers(0, 256, (args.batch, 256, 256, 3), dtype=np.uint8)
    pet_planar = np.ascontiguousarray(pet.transpose(0, 3, 1, 2))
    options = dict(
        a=np.float32(0.3), b=np.float32(0.1), kernel=params.kernel, bias=params.bias, channels=3,
        normalisation="tensor", reduction="mean", colour_space="hsi", quantise=True, group=2, pet_is_rgb=True,
    )  # fmt: skip

    channel_last = jax.jit(lambda m, p: fusion._fuse_kernel(m, p, **options))
    reference = np.asarray(channel_last(mri, pet))  # traced with the real _planes
    real_planes = fusion._planes

    def pass_planar(image, *, is_rgb):
        return image if is_rgb and image.shape[0] == 3 else real_planes(image, is_rgb=is_rgb)

    fusion._planes = pass_planar
    try:
        planar = jax.jit(lambda m, p: fusion._fuse_kernel(m, p, **options))
        same = np.array_equal(reference, np.asarray(planar(mri, pet_planar)))  # traced with the patch
    finally:
        fusion._planes = real_planes
    print(f"same bytes: {same}")
    for _ in range(args.rounds):  # both programs are compiled: the patch no longer matters
        for label, function, pets in (("channel-last", channel_last, pet), ("planar", planar, pet_planar)):
            median, fastest = _ms_per_pair(function, mri, pets, calls=args.calls)
            print(f"{label:<12} ms/pair: median {median:.3f}, fastest {fastest:.3f}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
