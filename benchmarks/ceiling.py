"""What XLA's CPU code reaches on this machine for the kernel's kind of work (the 1,000 pairs/s question).

Three measurements, each a jitted JAX function timed after warm-up (median of repeats), on the
same 256x256 images and group layout the fusion kernel uses:

1. ``conv only``: the two conv1_1 stencils alone (RGB PET: 81 multiply-adds per pixel, gray MRI:
   27), in the kernel's planar form, for a batch of pairs; reports GFLOP/s (2 FLOP per
   multiply-add) and the pairs/s this part alone allows.
2. ``fma chain``: a pure elementwise chain of 32 dependent multiply-adds on a 64 MiB float32 array,
   the best case for XLA's loop emitter; GFLOP/s.
3. ``jaxfuse.fuse``: the whole method, pairs/s.

If the conv stencils alone cannot run at 1,000 pairs/s, the whole method cannot either.

    python benchmarks/ceiling.py [--batch 64] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxfuse
from jaxfuse.features import conv1_1_offsets, conv1_1_planes
from jaxfuse.fusion import _default_params


def _median_seconds(fn, repeats: int) -> float:
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()
    n, size = args.batch, 256
    rng = np.random.default_rng(0)
    mri = jnp.asarray(rng.integers(0, 256, (n, size, size), dtype=np.uint8))
    pet = jnp.asarray(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8))
    params = _default_params(3)
    kernel, bias = jnp.asarray(params.kernel), jnp.asarray(params.bias)

    @jax.jit
    def conv_only(mri, pet):
        offsets = conv1_1_offsets(size, size, kernel, bias)

        def pair(m, p):
            a = conv1_1_planes(m[None], kernel, offsets)
            b = conv1_1_planes(jnp.moveaxis(p, -1, 0), kernel, offsets)
            return jnp.max(a) + jnp.max(b)  # keep both alive, minimal extra work

        grouped = jax.lax.map(lambda xs: jax.vmap(pair)(*xs), (mri.reshape(n // 2, 2, size, size), pet.reshape(n // 2, 2, size, size, 3)))
        return grouped

    conv_s = _median_seconds(lambda: conv_only(mri, pet), args.repeats)
    conv_flop = n * size * size * 2 * (81 + 27)

    chain_input = jnp.asarray(rng.random(16 * 1024 * 1024, dtype=np.float32))

    @jax.jit
    def fma_chain(x):
        y = x
        for k in range(32):
            y = y * 0.999 + 0.001 * k
        return y

    chain_s = _median_seconds(lambda: fma_chain(chain_input), args.repeats)
    chain_flop = chain_input.size * 2 * 32

    fuse_s = _median_seconds(lambda: jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8), args.repeats)
    result = {
        "batch": n,
        "devices": [str(d) for d in jax.devices()],
        "conv_only_gflops": conv_flop / conv_s / 1e9,
        "conv_only_pairs_per_s": n / conv_s,
        "fma_chain_gflops": chain_flop / chain_s / 1e9,
        "fuse_pairs_per_s": n / fuse_s,
        "conv_share_of_fuse_time": conv_s / fuse_s,
    }
    print(f"conv stencils only : {result['conv_only_gflops']:.1f} GFLOP/s -> at most {result['conv_only_pairs_per_s']:.0f} pairs/s")
    print(f"elementwise FMA    : {result['fma_chain_gflops']:.1f} GFLOP/s (XLA's best case on this machine)")
    print(f"jaxfuse.fuse       : {result['fuse_pairs_per_s']:.0f} pairs/s (convs are {100 * result['conv_share_of_fuse_time']:.0f}% of its time)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
