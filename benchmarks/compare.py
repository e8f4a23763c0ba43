"""Times jaxfuse against peer implementations of the same method; see benchmarks/README.md.

    python benchmarks/compare.py [--sizes 256,512] [--batches 1,16,64,256]
        [--peers jaxfuse,naive_jax,torch,numpy] [--repeats N] [--min-time S] [--json out.json]
        [--quick] [--floor]

Every (peer) runs in its own fresh Python process, so one peer's thread pools, allocator state and
compile caches do not touch another's, and the parent process never initialises JAX (on a GPU it
would otherwise reserve device memory). Per (size, batch, peer) cell:

* inputs: uint8, made once per cell (tiles of the Harvard PET-MRI pairs when ../shared/data is
  present, else seeded uniform noise; ``--inputs`` forces one), moved to the peer's device once;
* first call: timed on its own (for JAX it includes tracing and XLA compilation);
* steady state: one more untimed call, then calls timed with ``time.perf_counter`` around
  ``run`` (which ends with ``jax.block_until_ready`` for JAX peers) until at least ``--repeats``
  samples and ``--min-time`` seconds; median and IQR of ms per batch;
* memory (a separate fresh process per cell, started with glibc's mmap threshold fixed so freed
  large buffers go back to the OS): peak resident-set growth during one steady-state call (Linux
  VmHWM, reset through /proc/self/clear_refs), and during the first call (compile included); for
  JAX peers also XLA's buffer assignment for the compiled program and, on GPU, the allocator's
  peak bytes in use.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers as peers_mod  # noqa: E402
from machine import cpu_details, cpu_model  # noqa: E402

_PEER_MODULES = {
    "jaxfuse": ("jax", "jaxfuse"),
    "numba": ("numba",),
    "naive_jax": ("jax",),
    "torch": ("torch",),
    "numpy": ("scipy",),
}

# Rough peak bytes per input pixel (batch * H * W), used only to skip cells that would not fit.
# naive_jax and torch materialise all 64 conv1_1 channels in float32 for two images; numpy works
# one pair at a time (its figure is per pixel of ONE pair). Measured values are reported anyway.
_EST_BYTES_PER_PIXEL = {"jaxfuse": 120, "numba": 16, "naive_jax": 700, "torch": 700, "numpy": 400}


# ---------------------------------------------------------------------------------------------
# Analytic cost of the method
# ---------------------------------------------------------------------------------------------


def method_cost(height: int = 256, width: int = 256) -> dict:
    """FLOPs and minimum memory traffic of one pair, as jaxfuse computes the method.

    Counted per pixel (one FLOP = one add, multiply, divide, compare/min/max or round; a
    multiply-add = 2; integer conversion and selects not counted):

    * unit scaling of the uint8 inputs: MRI 1 + PET 3 = 4
    * PET intensity ``(R+G+B)/3``: 2 adds + 1 multiply = 3
    * Caffe preprocessing: PET ``255 x - mean`` 3 x 2 = 6; MRI ``255 x`` = 1
    * PET conv1_1, 3 kept filters: 3 out x 3 in x 9 taps MACs = 81 MACs = 162, + 3 bias
    * MRI conv1_1 via the channel-summed kernel (gray fed as 3 equal channels): 3 out x 9 taps
      = 27 MACs = 54, + 3 bias; the zero-padding correction of the mean term, which jaxfuse
      computes as a second 9-tap pass over a mask: 27 MACs = 54
    * ReLU: 2 tensors x 3 channels = 6
    * min-max normalisation: min + max over 2 x 3 values = 12 compares; ``(f - low) / span`` as a
      subtract and a multiply = 12
    * channel mean: 2 x (2 adds + 1 multiply) = 6
    * fusion rule ``(a + w_M) M + (b + w_P) I``: 5, clip 2 = 7
    * intensity replacement ``rgb * F / I`` then clip: 1 divide + 3 multiplies + 6 = 10
    * uint8 quantisation ``round(255 x)``: 3 x 2 = 6

    The per-tensor min/max reductions are included above (one compare per value each).
    Minimum bytes: the uint8 inputs read once (1 MRI + 3 PET bytes) and the uint8 output written
    once (3 bytes): 7 bytes per pixel. For comparison, the textbook form (64 filters on a
    3-channel MRI and on the PET) costs 2 x 64 x 27 MACs = 6912 FLOPs per pixel in the
    convolution alone.
    """
    per_pixel = {
        "unit_scaling": 4,
        "intensity": 3,
        "preprocess": 6 + 1,
        "conv_pet_3ch": 2 * 3 * 3 * 9 + 3,
        "conv_mri_3ch_summed_kernel": 2 * 3 * 9 + 3,
        "conv_mri_padding_correction": 2 * 3 * 9,
        "relu": 6,
        "minmax_reduce": 12,
        "minmax_scale": 12,
        "channel_mean": 6,
        "fusion_rule_clip": 7,
        "intensity_replacement_clip": 10,
        "quantise": 6,
    }
    pixels = height * width
    flops_pp = sum(per_pixel.values())
    bytes_pp = 1 + 3 + 3
    textbook_pp = 2 * 64 * 27 * 2
    return {
        "height": height,
        "width": width,
        "flops_per_pixel": flops_pp,
        "flops_per_pixel_breakdown": per_pixel,
        "flops_per_pair": flops_pp * pixels,
        "min_bytes_per_pixel": bytes_pp,
        "min_bytes_per_pair": bytes_pp * pixels,
        "textbook_64ch_conv_flops_per_pair": textbook_pp * pixels,
    }


# ---------------------------------------------------------------------------------------------
# Helpers shared by the workers
# ---------------------------------------------------------------------------------------------


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    """Resets Linux's peak-RSS counter (VmHWM) to the current RSS; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _parse_cells(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in cell.split("x")) for cell in text.split(",") if cell]


def _jax_device_info() -> dict:
    import jax

    return {
        "jax_backend": jax.default_backend(),
        "jax_devices": [f"{d.platform}:{getattr(d, 'device_kind', '')}" for d in jax.devices()],
        "jax_device_count": jax.device_count(),
    }


# ---------------------------------------------------------------------------------------------
# Workers (run in child processes)
# ---------------------------------------------------------------------------------------------


def _worker_time(args) -> None:
    """Times one peer on the given cells; appends one JSON line per cell to --worker-out."""
    peer = peers_mod.make_peer(args.peer)
    info = {"label": peer.label, "backend": peer.backend, "pid": os.getpid()}
    if peer.backend == "jax":
        info.update(_jax_device_info())
    if peer.backend == "torch":
        import torch

        info.update(torch_num_threads=torch.get_num_threads(), torch_num_interop_threads=torch.get_num_interop_threads())
    out = open(args.worker_out, "a")
    out.write(json.dumps({"peer_info": info}) + "\n")
    out.flush()
    for size, batch in _parse_cells(args.cells):
        mri, pet, source = peers_mod.make_inputs(batch, size, seed=args.seed, source=args.inputs)
        prepared = peer.prepare(mri, pet)
        start = time.perf_counter()
        result = peer.run(*prepared)
        first_call_s = time.perf_counter() - start
        del result
        peer.run(*prepared)  # one untimed steady-state call (caches, page faults)
        samples: list[float] = []
        total = 0.0
        while True:
            start = time.perf_counter()
            result = peer.run(*prepared)
            elapsed = time.perf_counter() - start
            del result
            samples.append(elapsed)
            total += elapsed
            enough = len(samples) >= args.repeats and total >= args.min_time
            too_long = len(samples) >= min(3, args.repeats) and total >= args.max_time
            if enough or too_long:
                break
        median = statistics.median(samples)
        row = {
            "peer": args.peer,
            "size": size,
            "batch": batch,
            "inputs": source,
            "first_call_s": first_call_s,
            "compile_s_est": max(first_call_s - median, 0.0),
            "samples": len(samples),
            "median_ms": 1e3 * median,
            "iqr_ms": 1e3 * (_percentile(samples, 0.75) - _percentile(samples, 0.25)),
            "min_ms": 1e3 * min(samples),
            "pairs_per_s": batch / median,
            "ms_per_pair": 1e3 * median / batch,
            "stopped_by_max_time": not (len(samples) >= args.repeats and total >= args.min_time),
        }
        out.write(json.dumps(row) + "\n")
        out.flush()
        print(f"  {args.peer:9s} {size}x{size} x{batch:<4d} {row['median_ms']:10.2f} ms/batch "
              f"({row['samples']} samples, first call {first_call_s:.2f} s)", file=sys.stderr, flush=True)
    out.close()


def _xla_memory(peer_name: str, mri, pet) -> dict:
    """XLA's buffer assignment for the compiled program of a JAX peer (bytes)."""
    import jax
    import jax.numpy as jnp

    import jaxfuse

    if peer_name == "jaxfuse":
        # Parameters as traced arguments, as inside jaxfuse.fuse. (Passed explicitly: calling fuse
        # under a trace with params=None would cache tracers in jaxfuse's default-params cache.)
        params = jaxfuse.load_vgg19_conv1_1(channels=3)
        fn = jax.jit(lambda m, p, k, b: jaxfuse.fuse(m, p, params=jaxfuse.Conv1_1Params(k, b),
                                                      output_dtype=jnp.uint8))
        lowered = fn.lower(mri, pet, jnp.asarray(params.kernel), jnp.asarray(params.bias))
    else:
        lowered = peers_mod._naive_jax_fn().lower(mri, pet)
    try:
        analysis = lowered.compile().memory_analysis()
    except Exception as error:  # backend without memory analysis
        return {"xla_memory_error": repr(error)}
    if analysis is None:
        return {}
    return {
        "xla_temp_bytes": int(analysis.temp_size_in_bytes),
        "xla_argument_bytes": int(analysis.argument_size_in_bytes),
        "xla_output_bytes": int(analysis.output_size_in_bytes),
    }


def _worker_memory(args) -> None:
    """Measures memory for one cell in this fresh process; writes one JSON line."""
    import gc

    (size, batch), = _parse_cells(args.cells)
    peer = peers_mod.make_peer(args.peer)
    mri, pet, _ = peers_mod.make_inputs(batch, size, seed=args.seed, source=args.inputs)
    prepared = peer.prepare(mri, pet)
    row = {"peer": args.peer, "size": size, "batch": batch}
    device_stats = None
    if peer.backend == "jax":
        import jax

        device_stats = jax.devices()[0].memory_stats()
        row.update(_xla_memory(args.peer, *prepared))
    gc.collect()
    rss_before = _proc_status_kib("VmRSS")
    device_before = device_stats.get("bytes_in_use") if device_stats else None
    row["hwm_reset_supported"] = _reset_hwm()
    result = peer.run(*prepared)
    del result
    gc.collect()
    hwm_first = _proc_status_kib("VmHWM")
    if rss_before is not None and hwm_first is not None:
        row["rss_first_call_mib"] = (hwm_first - rss_before) / 1024
    peer.run(*prepared)
    gc.collect()
    rss_steady = _proc_status_kib("VmRSS")
    if row["hwm_reset_supported"]:
        _reset_hwm()
        result = peer.run(*prepared)
        del result
        hwm = _proc_status_kib("VmHWM")
        row["rss_steady_mib"] = (hwm - rss_steady) / 1024
    if device_stats is not None:
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        if "peak_bytes_in_use" in stats and device_before is not None:
            row["device_peak_mib"] = (stats["peak_bytes_in_use"] - device_before) / 2**20
    with open(args.worker_out, "a") as out:
        out.write(json.dumps(row) + "\n")


def _worker_floor(args) -> None:
    """Peak float32 matmul rate and memory bandwidth of this machine (JAX's default device, NumPy)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    def best_and_median(fn, repeats):
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times), statistics.median(times)

    n = args.floor_matmul
    key_a, key_b = jax.random.split(jax.random.key(0))
    a = jax.random.normal(key_a, (n, n), jnp.float32)
    b = jax.random.normal(key_b, (n, n), jnp.float32)
    matmul = jax.jit(lambda x, y: jnp.matmul(x, y, precision=jax.lax.Precision.HIGHEST))
    best, median = best_and_median(lambda: matmul(a, b).block_until_ready(), args.floor_repeats)
    flops = 2.0 * n**3
    result = {"matmul_n": n, "matmul_gflops_best": flops / best / 1e9, "matmul_gflops_median": flops / median / 1e9}

    count = args.floor_mib * 2**20 // 4
    x = jnp.ones((count,), jnp.float32)
    nbytes = 4 * count
    # In place (donated buffer): a fresh output each call would time page faults, not bandwidth.
    add = jax.jit(lambda v: v + 1.0, donate_argnums=0)
    total = jax.jit(jnp.sum)
    state = {"x": jnp.ones((count,), jnp.float32)}

    def add_in_place():
        state["x"] = add(state["x"])
        state["x"].block_until_ready()

    best, median = best_and_median(add_in_place, args.floor_repeats)
    result.update(array_mib=args.floor_mib, jax_copy_gbs_best=2 * nbytes / best / 1e9,
                  jax_copy_gbs_median=2 * nbytes / median / 1e9)
    best, median = best_and_median(lambda: total(x).block_until_ready(), args.floor_repeats)
    result.update(jax_sum_gbs_best=nbytes / best / 1e9, jax_sum_gbs_median=nbytes / median / 1e9)
    host = np.ones(count, np.float32)
    dest = np.empty_like(host)
    best, median = best_and_median(lambda: np.add(host, 1.0, out=dest), args.floor_repeats)
    result.update(numpy_copy_gbs_best=2 * nbytes / best / 1e9, numpy_copy_gbs_median=2 * nbytes / median / 1e9)
    result.update(_jax_device_info())
    with open(args.worker_out, "w") as out:
        json.dump(result, out)


# ---------------------------------------------------------------------------------------------
# Parent: orchestration, metadata, reporting
# ---------------------------------------------------------------------------------------------


def _spawn(worker: str, args, peer: str | None, cells: str, env_extra: dict | None = None,
           timeout: float | None = None) -> tuple[list[dict], str | None]:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        out_path = handle.name
    command = [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", worker, "--worker-out", out_path,
               "--cells", cells, "--repeats", str(args.repeats), "--min-time", str(args.min_time),
               "--max-time", str(args.max_time), "--seed", str(args.seed), "--inputs", args.inputs,
               "--floor-matmul", str(args.floor_matmul), "--floor-mib", str(args.floor_mib),
               "--floor-repeats", str(args.floor_repeats)]
    if peer:
        command += ["--peer", peer]
    env = dict(os.environ, **(env_extra or {}))
    error = None
    try:
        completed = subprocess.run(command, env=env, timeout=timeout)
        if completed.returncode != 0:
            error = f"{worker} worker exited with status {completed.returncode}"
    except subprocess.TimeoutExpired:
        error = f"{worker} worker timed out after {timeout} s"
    text = pathlib.Path(out_path).read_text()
    pathlib.Path(out_path).unlink(missing_ok=True)
    if worker == "floor":
        return ([json.loads(text)] if text.strip() else []), error
    return [json.loads(line) for line in text.splitlines() if line.strip()], error


def _missing_library(peer: str) -> str | None:
    for module in _PEER_MODULES[peer]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"library '{module}' is not installed"
    return None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """HEAD's commit, read from the .git directory (no git process is started)."""
    git = HERE.parent / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()
        packed = git / "packed-refs"
        if packed.exists():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
    except OSError:
        return None
    return None


def _memory_budget_bytes() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 * 6 // 10
    except OSError:
        pass
    return 8 * 2**30


def metadata(args) -> dict:
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_details": cpu_details(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "versions": {name: _version(name) for name in ("jax", "jaxlib", "jaxfuse", "numpy", "scipy", "torch", "numba")},
        "thread_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
                       if os.environ.get(k)},
        "settings": {k: getattr(args, k) for k in ("sizes", "batches", "peers", "repeats", "min_time", "max_time", "memory_budget_gib",
                                                  "numpy_max_batch", "seed", "inputs")},
    }


def _fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def markdown_table(rows: list[dict]) -> str:
    baseline = {(r["size"], r["batch"]): r["pairs_per_s"] for r in rows if r["peer"] == "jaxfuse" and "pairs_per_s" in r}
    lines = [
        "| size | batch | peer | first call (s) | median ms/batch | IQR ms | pairs/s | ms/pair "
        "| jaxfuse ÷ peer | steady peak RSS (MiB) | first-call peak RSS (MiB) | XLA temp (MiB) | n |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        head = f"| {r['size']} | {r['batch']} | {r['peer']} |"
        if "skipped" in r:
            lines.append(f"{head} skipped: {r['skipped']} | | | | | | | | | |")
            continue
        ratio = baseline.get((r["size"], r["batch"]))
        ratio_text = f"{ratio / r['pairs_per_s']:.2f}x" if ratio else "-"
        xla_temp = r.get("xla_temp_bytes")
        lines.append(
            f"{head} {r['first_call_s']:.2f} | {r['median_ms']:.2f} | {r['iqr_ms']:.2f} | {r['pairs_per_s']:.1f} | "
            f"{r['ms_per_pair']:.3f} | {ratio_text} | {_fmt(r.get('rss_steady_mib'), '.0f')} | "
            f"{_fmt(r.get('rss_first_call_mib'), '.0f')} | {_fmt(None if xla_temp is None else xla_temp / 2**20, '.0f')}"
            f" | {r['samples']}{'*' if r.get('stopped_by_max_time') else ''} |"
        )
    return "\n".join(lines)


def floor_report(floor: dict, cost: dict) -> str:
    flops, nbytes = cost["flops_per_pair"], cost["min_bytes_per_pair"]
    gflops = floor["matmul_gflops_best"]
    gbs = max(floor["jax_copy_gbs_best"], floor["numpy_copy_gbs_best"])
    return "\n".join([
        f"Machine floor on {floor.get('jax_devices')} (best of {floor.get('repeats', '?')} runs):",
        f"- float32 matmul {floor['matmul_n']}^2 (JAX, precision HIGHEST): {gflops:.1f} GFLOP/s best, "
        f"{floor['matmul_gflops_median']:.1f} median",
        f"- bandwidth, {floor['array_mib']} MiB float32: JAX x+1 {floor['jax_copy_gbs_best']:.1f} GB/s (read+write), "
        f"JAX sum {floor['jax_sum_gbs_best']:.1f} GB/s (read), NumPy add-into {floor['numpy_copy_gbs_best']:.1f} GB/s",
        f"Method cost per {cost['height']}x{cost['width']} pair (benchmarks/compare.py:method_cost): "
        f"{flops / 1e6:.2f} MFLOP ({cost['flops_per_pixel']} FLOP/pixel), minimum traffic {nbytes / 1e3:.1f} kB "
        f"({cost['min_bytes_per_pixel']} B/pixel, uint8 in + out); textbook 64-channel conv alone "
        f"{cost['textbook_64ch_conv_flops_per_pair'] / 1e6:.0f} MFLOP",
        f"Lower bounds per pair: compute {1e3 * flops / (gflops * 1e9):.4f} ms (at matmul peak), "
        f"memory {1e3 * nbytes / (gbs * 1e9):.4f} ms (at {gbs:.1f} GB/s)",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--batches", default="1,16,64,256")
    parser.add_argument("--peers", default=",".join(peers_mod.PEER_NAMES))
    parser.add_argument("--repeats", type=int, default=7, help="minimum timed calls per cell")
    parser.add_argument("--min-time", type=float, default=2.0, help="minimum seconds of timed calls per cell")
    parser.add_argument("--max-time", type=float, default=60.0,
                        help="stop after this many timed seconds once 3 samples exist (marked * in the table)")
    parser.add_argument("--numpy-max-batch", type=int, default=16, help="largest batch given to the slow numpy peer")
    parser.add_argument("--inputs", choices=("auto", "real", "random"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write results and metadata here")
    parser.add_argument("--memory-budget-gib", type=float,
                        help="skip cells estimated above this (default: 60%% of the host's available RAM; "
                             "set it to the accelerator's memory on a GPU)")
    parser.add_argument("--quick", action="store_true",
                        help="small validation run: sizes 256, batches 1,16, repeats 3, min-time 0.2, floor small")
    parser.add_argument("--floor", action="store_true", help="also measure this machine's FLOP rate and bandwidth")
    parser.add_argument("--floor-only", action="store_true", help="only the --floor measurement")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-cell memory processes")
    parser.add_argument("--floor-matmul", type=int, default=4096)
    parser.add_argument("--floor-mib", type=int, default=512)
    parser.add_argument("--floor-repeats", type=int, default=5)
    parser.add_argument("--worker", choices=("time", "memory", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    parser.add_argument("--cells", default="", help=argparse.SUPPRESS)
    parser.add_argument("--peer", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        {"time": _worker_time, "memory": _worker_memory, "floor": _worker_floor}[args.worker](args)
        return 0

    if args.quick:
        explicit = set(a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]))
        if "--sizes" not in explicit:
            args.sizes = "256"
        if "--batches" not in explicit:
            args.batches = "1,16"
        if "--repeats" not in explicit:
            args.repeats = 3
        if "--min-time" not in explicit:
            args.min_time = 0.2
        if "--floor-matmul" not in explicit:
            args.floor_matmul = 2048
        if "--floor-mib" not in explicit:
            args.floor_mib = 128
        if "--floor-repeats" not in explicit:
            args.floor_repeats = 3
    if args.floor_only:
        args.floor = True

    sizes = [int(s) for s in args.sizes.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    peer_names = [p for p in args.peers.split(",") if p]
    for name in peer_names:
        if name not in peers_mod.PEER_NAMES:
            parser.error(f"unknown peer {name!r}; known: {', '.join(peers_mod.PEER_NAMES)}")
    meta = metadata(args)
    notes: list[str] = []
    rows: list[dict] = []
    peer_info: dict = {}
    budget = int(args.memory_budget_gib * 2**30) if args.memory_budget_gib else _memory_budget_bytes()

    if not args.floor_only:
        source = "real" if (args.inputs == "real" or (args.inputs == "auto" and peers_mod.real_pairs_available())) \
            else "random"
        notes.append("inputs: " + ("Harvard PET-MRI pairs from ../shared/data (512x512: 2x2 tiles of 4 pairs)"
                                   if source == "real" else f"random uniform uint8, seed {args.seed}"))
        for name in peer_names:
            missing = _missing_library(name)
            cells, skipped = [], []
            for size in sizes:
                for batch in batches:
                    if missing:
                        skipped.append({"peer": name, "size": size, "batch": batch, "skipped": missing})
                    elif name == "numpy" and batch > args.numpy_max_batch:
                        skipped.append({"peer": name, "size": size, "batch": batch,
                                        "skipped": f"numpy capped at batch {args.numpy_max_batch} (--numpy-max-batch)"})
                    else:
                        pixels = (1 if name == "numpy" else batch) * size * size
                        estimate = _EST_BYTES_PER_PIXEL[name] * pixels + 7 * batch * size * size
                        if estimate > budget:
                            skipped.append({"peer": name, "size": size, "batch": batch,
                                            "skipped": f"estimated {estimate / 2**30:.1f} GiB > budget "
                                                       f"{budget / 2**30:.1f} GiB (--memory-budget-gib or 60% "
                                                       "of available RAM)"})
                        else:
                            cells.append((size, batch))
            if missing:
                notes.append(f"{name}: skipped, {missing}")
            rows.extend(skipped)
            if not cells:
                continue
            print(f"[{name}] timing {len(cells)} cells in a fresh process", file=sys.stderr, flush=True)
            cell_text = ",".join(f"{s}x{b}" for s, b in cells)
            results, error = _spawn("time", args, name, cell_text)
            if error:
                notes.append(f"{name}: {error}")
            for result in results:
                if "peer_info" in result:
                    peer_info[name] = result["peer_info"]
                else:
                    rows.append(result)
            timed = {(r["size"], r["batch"]) for r in results if "size" in r}
            for size, batch in cells:
                if (size, batch) not in timed:
                    rows.append({"peer": name, "size": size, "batch": batch, "skipped": error or "no result"})
            if args.no_memory:
                continue
            for size, batch in sorted(timed):
                mem, mem_error = _spawn("memory", args, name, f"{size}x{batch}",
                                        env_extra={"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"})
                if mem_error:
                    notes.append(f"{name} {size}x{batch} memory: {mem_error}")
                for m in mem:
                    for row in rows:
                        if row["peer"] == name and row["size"] == size and row["batch"] == batch and "skipped" not in row:
                            row.update({k: v for k, v in m.items() if k not in ("peer", "size", "batch")})
        order = {name: i for i, name in enumerate(peer_names)}
        rows.sort(key=lambda r: (r["size"], r["batch"], order[r["peer"]]))

    cost = method_cost(256, 256)
    floor = None
    if args.floor:
        print("[floor] measuring matmul rate and bandwidth", file=sys.stderr, flush=True)
        results, error = _spawn("floor", args, None, "")
        if error or not results:
            notes.append(f"floor: {error or 'no result'}")
        else:
            floor = results[0]
            floor["repeats"] = args.floor_repeats

    # JAX peers run on JAX's default device (a GPU where there is one); torch, numba and numpy on the CPU.
    meta["devices"] = sorted({d for info in peer_info.values() for d in info.get("jax_devices", [])}
                             | set((floor or {}).get("jax_devices", [])))
    if rows:
        print(f"\n## jaxfuse vs peers (JAX devices {', '.join(meta['devices']) or '-'}; host CPU {meta['cpu_model']}, "
              f"{meta['cpu_affinity']} CPUs usable; jax {meta['versions']['jax']}, "
              f"torch {meta['versions']['torch']}, numba {meta['versions']['numba']})\n")
        for name, info in peer_info.items():
            print(f"- {name}: {info['label']}")
        print()
        print(markdown_table(rows))
        print("\njaxfuse ÷ peer = pairs/s of jaxfuse / pairs/s of the peer (> 1: jaxfuse faster). "
              "n = timed calls (* = stopped by --max-time). RSS columns: growth of the process's peak "
              "resident memory during one call (steady = after warm-up; first call includes compilation), "
              "in a fresh process per cell. XLA temp: scratch buffers of the compiled program.")
    for note in notes:
        print(f"- note: {note}")
    if floor:
        print()
        print(floor_report(floor, cost))

    meta["torch_num_threads"] = peer_info.get("torch", {}).get("torch_num_threads")
    if args.json:
        payload = {"metadata": meta, "peer_info": peer_info, "notes": notes, "results": rows,
                   "method_cost_256": cost, "floor": floor}
        pathlib.Path(args.json).write_text(json.dumps(payload, indent=2))
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
