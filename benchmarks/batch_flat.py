"""Per-pair time of ``jaxfuse.fuse`` across batch sizes, interleaved in one process (for shared machines).

    python benchmarks/batch_flat.py [--batches 16,64,256] [--rounds 25] [--matmul 2048]

``compare.py`` times each cell in turn, so on a loaded machine a burst of load lands on one batch
size and not another. Here every round times one call at each batch size and one float32 matmul
(``Precision.HIGHEST``, the floor's rate) back to back, so all of them see the same load; the
report gives the median and best ms/pair per batch, the spread (slowest / fastest batch), and each
against the floor ``22.87 MFLOP / matmul rate`` measured in the same rounds. uint8 in and out,
256x256 Harvard pairs (random pairs without the data).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import jax
import jax.numpy as jnp

import jaxfuse

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import compare  # noqa: E402
import peers  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="16,64,256")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--matmul", type=int, default=2048)
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    data = {b: [jax.device_put(x) for x in peers.make_inputs(b, 256)[:2]] for b in batches}
    fuse = lambda b: jax.block_until_ready(jaxfuse.fuse(*data[b], output_dtype=jnp.uint8))  # noqa: E731
    n = args.matmul
    x = jax.random.normal(jax.random.key(0), (n, n))
    y = jax.random.normal(jax.random.key(1), (n, n))
    matmul = jax.jit(lambda u, v: jnp.matmul(u, v, precision=jax.lax.Precision.HIGHEST))
    matmul(x, y).block_until_ready()
    for b in batches:
        fuse(b), fuse(b)  # compile and warm up
    per_pair = {b: [] for b in batches}
    matmul_s = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        matmul(x, y).block_until_ready()
        matmul_s.append(time.perf_counter() - start)
        for b in batches:
            start = time.perf_counter()
            fuse(b)
            per_pair[b].append((time.perf_counter() - start) / b)
    flops = compare.method_cost(256, 256)["flops_per_pair"]
    best_rate = 2 * n**3 / min(matmul_s)
    floor_ms = 1e3 * flops / best_rate
    print(f"{compare.cpu_model()}, {jax.devices()[0].device_kind}; {args.rounds} interleaved rounds")
    print(
        f"matmul {n}^2: best {best_rate / 1e9:.1f} GFLOP/s, median {2 * n**3 / statistics.median(matmul_s) / 1e9:.1f}"
        f" -> floor {floor_ms:.3f} ms/pair"
    )
    print("| batch | median ms/pair | best ms/pair | best / floor |")
    print("|---:|---:|---:|---:|")
    for b in batches:
        print(
            f"| {b} | {1e3 * statistics.median(per_pair[b]):.3f} | {1e3 * min(per_pair[b]):.3f} | "
            f"{1e3 * min(per_pair[b]) / floor_ms:.1f}x |"
        )
    medians = [statistics.median(per_pair[b]) for b in batches]
    bests = [min(per_pair[b]) for b in batches]
    print(
        f"spread (slowest / fastest batch): medians {max(medians) / min(medians):.2f}, bests {max(bests) / min(bests):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
