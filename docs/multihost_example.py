"""Multi-host data-parallel fusion with jax.distributed: a runnable example.

Each process fuses its own share of the pairs; jax.distributed connects the processes and the
fusion kernel runs SPMD over every device of every process (no collective is needed: pairs are
independent). On one machine, two CPU processes stand in for two hosts:

    python docs/multihost_example.py --num-processes 2 --process-id 0 &
    python docs/multihost_example.py --num-processes 2 --process-id 1

On a cluster, run one process per host with the same --coordinator (host:port of process 0) and
each host's --process-id; on GPU/TPU clusters whose launcher sets the environment (SLURM, Cloud
TPU), ``jax.distributed.initialize()`` needs no arguments.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import jaxfuse
from jaxfuse.parallel import fuse_process_local


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", default="127.0.0.1:12321", help="host:port of process 0")
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument("--pairs-per-process", type=int, default=8)
    args = parser.parse_args()

    jax.distributed.initialize(args.coordinator, num_processes=args.num_processes, process_id=args.process_id)
    # This process's pairs (here: synthetic, different per process; in practice: its files).
    rng = np.random.default_rng(args.process_id)
    n = args.pairs_per_process
    mri = rng.integers(0, 256, (n, 128, 128), dtype=np.uint8)
    pet = rng.integers(0, 256, (n, 128, 128, 3), dtype=np.uint8)

    fused = fuse_process_local(mri, pet, output_dtype=jnp.uint8)
    alone = np.asarray(jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8))  # the same pairs, locally
    same = bool(np.array_equal(fused, alone))
    print(
        f"process {jax.process_index()}/{jax.process_count()}: {jax.device_count()} devices in all, "
        f"fused {fused.shape[0]} local pairs, identical to single-process fusion: {same}"
    )
    jax.distributed.shutdown()
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
