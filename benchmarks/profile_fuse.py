"""Where `jaxfuse.fuse` spends its time: per-XLA-fusion shares from the JAX profiler.

Runs `fuse` (uint8 in and out, 256x256, random pairs) a few times under `jax.profiler.trace`, then
sums the duration of every event the compiled program's thread pool records, by event name (one
name per XLA fusion or thunk), and prints each one's share of the total with what it computes
(from the optimised HLO: output shape and its main operations). The profiler's own overhead
inflates short events, so read the shares, not the absolute microseconds.

    python benchmarks/profile_fuse.py [--batch 64] [--size 256] [--calls 5] [--hlo out.txt]
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import re
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
from jax.profiler import ProfileData

import jaxfuse

_OPS_OF_INTEREST = ("transpose", "pad", "convert", "multiply", "add", "divide", "reduce", "select", "concatenate")


def _fusion_summaries(hlo_text: str) -> dict[str, str]:
    """``{fusion name: "shape, op counts"}`` from optimised HLO text."""
    bodies: dict[str, list[str]] = {}
    current = None
    for line in hlo_text.splitlines():
        header = re.match(r"^%?([\w.\-]+) \(", line)
        if header and line.rstrip().endswith("{"):
            current = header.group(1)
            bodies[current] = []
        elif line.startswith("}"):
            current = None
        elif current:
            bodies[current].append(line)
    summaries = {}
    for body in bodies.values():
        for line in body:
            call = re.search(r"%([\w.\-]+) = (.+?) fusion\(.*calls=%([\w.\-]+)", line)
            if not call:
                continue
            counts = collections.Counter()
            for op_line in bodies.get(call.group(3), []):
                op = re.search(r"= \S+ ([\w\-]+)\(", op_line)
                if op and op.group(1) in _OPS_OF_INTEREST:
                    counts[op.group(1)] += 1
            ops = ", ".join(f"{name} {n}" for name, n in counts.most_common())
            shape = re.sub(r"\{[^}]*\}", "", call.group(2))
            summaries[call.group(1)] = f"{shape}: {ops}"
    return summaries


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--hlo", type=pathlib.Path, help="also write the optimised HLO here")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    mri = jnp.asarray(rng.integers(0, 256, (args.batch, args.size, args.size), np.uint8))
    pet = jnp.asarray(rng.integers(0, 256, (args.batch, args.size, args.size, 3), np.uint8))
    run = lambda: jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8)  # noqa: E731
    jax.block_until_ready(run())
    jax.block_until_ready(run())

    # The public call under an outer jit compiles to the kernel's program (the inner jit is inlined),
    # so the profile needs no private names.
    hlo = jax.jit(lambda m, p: jaxfuse.fuse(m, p, output_dtype=jnp.uint8)).lower(mri, pet).compile().as_text()
    if args.hlo:
        args.hlo.write_text(hlo)
    summaries = _fusion_summaries(hlo)

    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir):
            for _ in range(args.calls):
                jax.block_until_ready(run())
        trace = next(pathlib.Path(trace_dir).rglob("*.xplane.pb"))
        profile = ProfileData.from_file(str(trace))

    totals: collections.Counter = collections.Counter()
    for plane in profile.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_XLA"):  # the compiled program's worker threads
                continue
            for event in line.events:
                if event.name in summaries:
                    totals[event.name] += event.duration_ns
    grand = sum(totals.values())
    pairs = args.batch * args.calls
    print(f"jaxfuse.fuse, {args.size}x{args.size}, batch {args.batch}, "
          f"{jax.default_backend()}; {args.calls} calls under the profiler")
    print("| share | us/pair (profiled) | XLA fusion | output: main ops |")
    print("|---:|---:|---|---|")
    for name, ns in totals.most_common():
        print(f"| {100 * ns / grand:.1f}% | {ns / pairs / 1e3:.1f} | `{name}` | {summaries[name]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
