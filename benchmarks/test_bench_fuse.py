"""pytest-benchmark suite: jaxfuse vs naive JAX (and PyTorch on CPU when installed).

    pytest benchmarks/ -n 0 --benchmark-only [--benchmark-json out.json]

Parametrised over image size (256, 512) and batch (1, 16, 64). Per case: inputs made and moved to
the device once; one call outside the timed region compiles (JAX) and warms up, a second one
estimates the call time; then ``benchmark.pedantic`` times whole calls, each ending with
``jax.block_until_ready`` (inside the peer's ``run``), for enough rounds to fill about
``BENCH_SECONDS`` seconds (at least 3). ``extra_info`` holds pairs/s and ms/pair from the median.
Cases that would not fit in memory (compare.py's estimate) are skipped, with the reason.
"""

from __future__ import annotations

import importlib.util
import math
import os

import compare
import peers
import pytest

BENCH_SECONDS = float(os.environ.get("JAXFUSE_BENCH_SECONDS", "2.0"))

PEERS = (
    ["jaxfuse", "naive_jax"]
    + (["torch"] if importlib.util.find_spec("torch") else [])
    + (["numba"] if importlib.util.find_spec("numba") else [])
)
SIZES = [256, 512]
BATCHES = [1, 16, 64]

_peer_cache: dict[str, peers.Peer] = {}


def _peer(name: str) -> peers.Peer:
    if name not in _peer_cache:
        _peer_cache[name] = peers.make_peer(name)
    return _peer_cache[name]


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("peer_name", PEERS)
def test_fuse(benchmark, peer_name, size, batch):
    estimate = compare._EST_BYTES_PER_PIXEL[peer_name] * batch * size * size
    budget = compare._memory_budget_bytes()
    if estimate > budget:
        pytest.skip(f"{peer_name} {size}x{size} x{batch}: estimated {estimate / 2**30:.1f} GiB > {budget / 2**30:.1f} GiB")
    peer = _peer(peer_name)
    mri, pet, source = peers.make_inputs(batch, size, seed=0)
    prepared = peer.prepare(mri, pet)
    peer.run(*prepared)  # compile + warm-up, outside the timed region
    import time

    start = time.perf_counter()
    peer.run(*prepared)
    estimate_s = time.perf_counter() - start
    rounds = max(3, min(100, math.ceil(BENCH_SECONDS / max(estimate_s, 1e-6))))
    benchmark.group = f"{size}x{size} batch {batch}"
    benchmark.extra_info.update(peer=peer.label, size=size, batch=batch, inputs=source)
    benchmark.pedantic(peer.run, args=prepared, rounds=rounds, iterations=1, warmup_rounds=0)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None under --benchmark-disable
        median = stats.stats.median
        benchmark.extra_info.update(pairs_per_s=batch / median, ms_per_pair=1e3 * median / batch)
