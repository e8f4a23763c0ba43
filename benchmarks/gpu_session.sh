#!/usr/bin/env bash
# One prepared GPU session for issue 13 item 5: compare.py and volume.py on the GPU, JSON into $OUT.
#
# Meant for one `run` call of the device tool (about 8 minutes of a 15-minute budget; give it
# timeout_s=560 and leave the rest for one rerun). It writes, under $OUT (at most 8 files):
#   device.json          the GPU (nvidia-smi), JAX's devices and versions, the host CPU
#   compare_gpu.json     benchmarks/compare.py: jaxfuse and naive_jax, 256x256, batch 256..8192, + floor
#   compare_gpu.txt      its printed tables
#   volume_kernel.json   one MNI-sized volume (189 slices of 233 x 197) through jaxfuse.fuse, device time only
#   volume_gpu.json      benchmarks/volume.py --skip-big (end to end: read, resample, fuse, write)
#   session.log          everything printed
#
# Preparation, on the machine the session runs on (no GPU needed; nothing is fetched on the GPU machine):
#   1. Data (never committed; about 36 MiB, within the 64 MiB that travels):
#        mkdir -p shared/data/harvard && cp -r ../shared/data/mni152 shared/data/ \
#          && cp -r ../shared/data/harvard/PET-MRI shared/data/harvard/
#      and make sure `shared/` is ignored (`echo /shared/ >> .git/info/exclude`), then name
#      "shared" in the run's `carry`. Without it the 2-D benchmark uses random pairs and the volume
#      steps are skipped (both say so).
#   2. Wheels for the runtime dependencies the GPU image lacks (nibabel, pydicom; both pure Python):
#        echo /.whl/ >> .git/info/exclude
#        python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#          --implementation cp --platform manylinux2014_x86_64 -d .whl nibabel pydicom
#      and name ".whl" in `carry`. The image has jax (CUDA), flax, optax, numpy, scipy, pillow.
#   3. The call:  run(command="bash benchmarks/gpu_session.sh", carry=["shared", ".whl"], timeout_s=560)
#
# Then copy the JSON into benchmarks/results/ and write the GPU section of benchmarks/RESULTS.md,
# labelled with the GPU's name from device.json. Targets (issue 13 item 5): >= 1,000,000 pairs/s of
# 256x256 at large batch; a whole MNI-sized volume in < 20 ms of device time.
#
# Overrides for a dry run on a CPU (checks the script, not the GPU):
#   BATCHES=16 VOLUME_CALLS=2 SKIP_VOLUME_PY=1 OUT=/tmp/dry bash benchmarks/gpu_session.sh
set -u
OUT=${OUT:-/tmp/gpu_session_out}
BATCHES=${BATCHES:-256,1024,4096,8192}
VOLUME_CALLS=${VOLUME_CALLS:-50}
mkdir -p "$OUT"
exec > >(tee "$OUT/session.log") 2>&1
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
start=$(date +%s)
step() { echo; echo "== $(($(date +%s) - start)) s: $*"; }

if compgen -G ".whl/*.whl" > /dev/null; then
    step "installing carried wheels"
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# The benchmarks read ../shared/data beside the repository; point it at a carried copy.
if [ ! -d ../shared/data ] && [ -d shared/data ]; then
    ln -sfn "$PWD/shared" ../shared 2>/dev/null || echo "could not link ../shared: data steps will skip"
fi

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true
timeout 120 $PY - "$OUT/device.json" <<'EOF'
import json, os, subprocess, sys, platform
import jax
info = {
    "jax": jax.__version__,
    "backend": jax.default_backend(),
    "devices": [f"{d.platform}:{getattr(d, 'device_kind', '')}" for d in jax.devices()],
    "python": platform.python_version(),
    "host_cpus": os.cpu_count(),
}
try:
    info["nvidia_smi"] = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm", "--format=csv,noheader"],
        capture_output=True, text=True, timeout=30).stdout.strip()
except Exception as error:  # noqa: BLE001
    info["nvidia_smi"] = repr(error)
with open("/proc/cpuinfo") as f:
    info["host_cpu"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
print(json.dumps(info, indent=1))
json.dump(info, open(sys.argv[1], "w"), indent=1)
EOF

# 2-D kernel: no per-cell memory processes (each would compile again); the floor is the GPU's
# float32 matmul at Precision.HIGHEST and its bandwidth. naive_jax is skipped by the memory budget
# at the largest batches (64 float32 channels per pixel).
step "compare.py (budget ~240 s)"
timeout 300 $PY benchmarks/compare.py --peers jaxfuse,naive_jax --sizes 256 --batches "$BATCHES" \
    --repeats 20 --min-time 1 --max-time 4 --no-memory --floor --memory-budget-gib 100 \
    --json "$OUT/compare_gpu.json" | tee "$OUT/compare_gpu.txt"

# One MNI-sized volume as a slice batch already on the device: the kernel's device time alone.
step "volume kernel time (budget ~60 s)"
timeout 120 $PY - "$OUT/volume_kernel.json" "$VOLUME_CALLS" <<'EOF'
import json, statistics, sys, time
import jax, jax.numpy as jnp, numpy as np
import jaxfuse
slices, height, width = 189, 233, 197  # MNI152 1 mm, axial slices
rng = np.random.default_rng(0)
mri = jax.device_put(rng.integers(0, 256, (slices, height, width), np.uint8))
pet = jax.device_put(rng.integers(0, 256, (slices, height, width, 3), np.uint8))
run = lambda: jax.block_until_ready(jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8))
start = time.perf_counter(); run(); first = time.perf_counter() - start
run()
samples = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter(); run(); samples.append(time.perf_counter() - start)
result = {"shape": [slices, height, width], "first_call_s": first, "median_ms": 1e3 * statistics.median(samples),
          "min_ms": 1e3 * min(samples), "device": str(jax.devices()[0].device_kind),
          "note": "wall time of one jaxfuse.fuse call on device-resident uint8 inputs, output left on the device"}
print(json.dumps(result, indent=1))
json.dump(result, open(sys.argv[1], "w"), indent=1)
EOF

if [ -n "${SKIP_VOLUME_PY:-}" ]; then
    step "volume.py skipped (SKIP_VOLUME_PY)"
elif [ -d ../shared/data/mni152 ]; then
    step "volume.py --skip-big (budget ~120 s)"
    timeout 200 $PY benchmarks/volume.py --repeats 3 --skip-big --json "$OUT/volume_gpu.json"
else
    step "volume.py skipped: ../shared/data/mni152 is not here (see the preparation above)"
fi
step "done"
