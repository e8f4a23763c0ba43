"""Scale-out: the batch split over 4 (forced host) devices, and a 2-process jax.distributed run."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

SHARDED = """
import numpy as np, jax, jax.numpy as jnp, jaxfuse
from jaxfuse.parallel import fuse_sharded
assert jax.device_count() == 4, jax.devices()
rng = np.random.default_rng(0)
m = rng.integers(0, 256, (10, 48, 40), dtype=np.uint8)
p = rng.integers(0, 256, (10, 48, 40, 3), dtype=np.uint8)
sharded = fuse_sharded(m, p, output_dtype=jnp.uint8)
assert len(sharded.sharding.device_set) == 4 or sharded.shape[0] == 10
single = jax.device_put(m, jax.devices()[0]), jax.device_put(p, jax.devices()[0])
one = jaxfuse.fuse(*single, output_dtype=jnp.uint8)
assert np.asarray(sharded).tobytes() == np.asarray(one).tobytes()
even = fuse_sharded(m[:8], p[:8])
assert len(even.sharding.device_set) == 4
assert np.asarray(even).tobytes() == np.asarray(jaxfuse.fuse(*[jax.device_put(x[:8], jax.devices()[0]) for x in (m, p)])).tobytes()
print("ok")
"""


def _env(**extra):
    env = dict(os.environ)
    env.update(extra)
    return env


def test_sharded_over_four_devices_gives_the_same_bytes():
    run = subprocess.run(
        [sys.executable, "-c", SHARDED],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=4"),
    )
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-3000:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_multihost_example_runs_with_two_processes():
    script = ROOT / "docs" / "multihost_example.py"
    coordinator = f"127.0.0.1:{_free_port()}"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), "--coordinator", coordinator, "--num-processes", "2", "--process-id", str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
        assert "identical to single-process fusion: True" in out
