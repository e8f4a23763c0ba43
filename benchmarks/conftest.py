"""Makes ``peers`` and ``compare`` importable from this folder under ``--import-mode=importlib``.

This folder is not in ``testpaths`` (``tests/`` is), so a plain ``pytest`` never collects it; run
``pytest benchmarks/ -n 0 --benchmark-only`` explicitly (``-n 0``: in one process; pytest-benchmark
turns itself off under the suite's default pytest-xdist workers).
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def pytest_benchmark_update_machine_info(config, machine_info):
    """Adds the JAX/torch versions, devices and thread counts to the benchmark JSON."""
    import importlib.metadata
    import os

    import jax

    versions = {}
    for dist in ("jax", "jaxlib", "jaxfuse", "numpy", "torch", "numba"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    machine_info["jaxfuse_bench"] = {
        "versions": versions,
        "jax_devices": [f"{d.platform}:{getattr(d, 'device_kind', '')}" for d in jax.devices()],
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS") if k in os.environ},
    }
    if versions["torch"]:
        import torch

        machine_info["jaxfuse_bench"]["torch_num_threads"] = torch.get_num_threads()
