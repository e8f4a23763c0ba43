"""The method as a performance engineer would hand-write it for a CPU: fused loops in numba.

This is the strong CPU peer of ``benchmarks/compare.py`` (peer name ``numba``). It computes the
same method as jaxfuse's default (``SPEC.md`` section 1; see ``peers.py``) with the same algebraic
shortcuts jaxfuse uses, so the two are compared on equal arithmetic, and differs only in how the
work is scheduled:

* two passes per pair over the image rows (the min-max normalisation is a global reduction, so one
  pass cannot do it): pass 1 computes the 3 kept ``conv1_1`` filters + ReLU of the PET and of the
  MRI, keeps each tensor's running min and max, and stores only the channel sums (2 float32 per
  pixel, a pair's 512 KiB stays in L2); pass 2 computes the weights, Eq. 1, the trig-free HSI
  intensity replacement and ``round(255 x)`` and writes the interleaved uint8 output;
* the convolution reads a rolling scratch of de-interleaved, mean-subtracted, zero-padded rows
  (``levels - VGG_MEAN``, 0 outside the image: exactly Caffe's 'same' padding), so its inner loop
  over the columns is branch-free and vectorises (AVX-512 where the CPU has it);
* the MRI (gray fed as three equal channels) is one plane convolved with the channel-summed kernel;
  its mean term is a per-row constant in the interior plus a fix-up of the two border columns;
* ``numba.prange`` over pairs when there are at least as many pairs as threads, else over blocks of
  rows of each pair (two parallel phases with a per-block min/max in between).

Inputs uint8 MRI ``[N, H, W]`` and PET ``[N, H, W, 3]``, output uint8 ``[N, H, W, 3]``; float32
arithmetic with ``fastmath`` (LLVM may reassociate and contract), so results agree with jaxfuse to
within one uint8 level on rounding ties, not bit for bit (``python benchmarks/peers.py``).
"""

from __future__ import annotations

import numpy as np

VGG_MEAN_RGB = (123.68, 116.779, 103.939)
A_DEFAULT = 0.3
B_DEFAULT = 0.1

__all__ = ["build_numba_fuse"]


def _row_kernel(weights: np.ndarray, name: str):
    """Python source of one row of conv + ReLU + channel sum + per-column min/max, for ``weights``.

    ``weights [3, C_in, 3, 3]`` become literals, so the x loop is straight-line code of
    ``3 * C_in * 9`` multiply-adds that LLVM vectorises (loops over taps inside it did not unroll
    into vector code). The generated function takes the ``3 * C_in`` padded source rows (channel
    major, then dy), the output row, the min and max lanes, the column range and 3 offsets.
    """
    inputs = weights.shape[1]
    rows = [f"r{c}{dy}" for c in range(inputs) for dy in range(3)]
    lines = [
        f"def conv_{name}({', '.join(rows)}, out, low, high, x0, x1, b0, b1, b2):",
        "    zero = np.float32(0.0)",
        "    for x in range(x0, x1):",
    ]
    for o in range(3):
        terms = [
            f"np.float32({float(weights[o, c, dy, dx])!r}) * r{c}{dy}[x + {dx}]"
            for c in range(inputs)
            for dy in range(3)
            for dx in range(3)
        ]
        lines.append(f"        f{o} = b{o} + " + " + ".join(terms))
        lines.append(f"        f{o} = f{o} if f{o} > zero else zero")
    lines += [
        "        m = f0 if f0 < f1 else f1",
        "        m = m if m < f2 else f2",
        "        low[x] = low[x] if low[x] < m else m",
        "        m = f0 if f0 > f1 else f1",
        "        m = m if m > f2 else f2",
        "        high[x] = high[x] if high[x] > m else m",
        "        out[x] = f0 + f1 + f2",
    ]
    namespace = {"np": np}
    exec("\n".join(lines), namespace)  # noqa: S102 - source generated above from numbers only
    return namespace[f"conv_{name}"]


def build_numba_fuse(kernel: np.ndarray, bias: np.ndarray, *, a: float = A_DEFAULT, b: float = B_DEFAULT):
    """Returns ``fuse(mri, pet) -> out`` (uint8 arrays as in the module docstring), numba-compiled.

    Args:
        kernel: ``[>=3, 3, 3, 3]`` conv1_1 filters, OIHW with RGB inputs (the first 3 are used).
        bias: ``[>=3]``.
        a, b: Eq. 1's A and B.

    Raises:
        ImportError: numba is not installed.
    """
    import numba

    kernel = np.ascontiguousarray(np.asarray(kernel, np.float64)[:3])
    bias = np.ascontiguousarray(np.asarray(bias, np.float64)[:3])
    mean = np.asarray(VGG_MEAN_RGB, np.float64)
    k_pet = kernel.astype(np.float32)  # [o, c, dy, dx]
    k_mri = kernel.sum(axis=1).astype(np.float32)  # [o, dy, dx]: gray fed as 3 equal channels
    # The MRI's mean term per tap: sum_c k[o, c, dy, dx] * mean[c]; subtracted only for taps inside.
    k_mean = np.einsum("ocyx,c->oyx", kernel, mean).astype(np.float32)
    bias32 = bias.astype(np.float32)
    mean32 = mean.astype(np.float32)
    a32, b32 = np.float32(a), np.float32(b)
    inv255 = np.float32(1.0 / 255.0)
    big = np.float32(3.0e38)
    jit = numba.njit(cache=False, fastmath=True, error_model="numpy", boundscheck=False)

    @jit
    def fill_pet_row(pet, n, y, scratch, slot):
        """Row ``y`` of pair ``n`` as 3 mean-subtracted planes into ``scratch[slot]`` (0 if outside)."""
        height, width = pet.shape[1], pet.shape[2]
        row = scratch[slot]
        if y < 0 or y >= height:
            row[:, :] = 0.0
            return
        row[:, 0] = 0.0
        row[:, width + 1] = 0.0
        for x in range(width):
            row[0, x + 1] = np.float32(pet[n, y, x, 0]) - mean32[0]
            row[1, x + 1] = np.float32(pet[n, y, x, 1]) - mean32[1]
            row[2, x + 1] = np.float32(pet[n, y, x, 2]) - mean32[2]

    @jit
    def fill_mri_row(mri, n, y, scratch, slot):
        height, width = mri.shape[1], mri.shape[2]
        row = scratch[slot]
        if y < 0 or y >= height:
            row[:] = 0.0
            return
        row[0] = 0.0
        row[width + 1] = 0.0
        for x in range(width):
            row[x + 1] = np.float32(mri[n, y, x])

    conv_pet = jit(_row_kernel(k_pet, "pet"))
    conv_mri = jit(_row_kernel(k_mri[:, None], "mri"))

    @jit
    def features_rows(mri, pet, n, y0, y1, sums, stats, block):
        """Pass 1 for rows ``[y0, y1)`` of pair ``n``: channel sums into ``sums[n]``, min/max into ``stats[n, block]``."""
        height, width = mri.shape[1], mri.shape[2]
        pet_rows = np.empty((3, 3, width + 2), np.float32)  # [slot, channel, x]
        mri_rows = np.empty((3, width + 2), np.float32)
        # Per-column running min and max (a scalar running min blocks LLVM's vectoriser), reduced
        # at the end. Finite starts: fastmath assumes no infinities (the features are >= 0).
        lanes = np.empty((4, width), np.float32)
        lanes[0], lanes[1], lanes[2], lanes[3] = big, -big, big, -big
        for dy in range(2):
            fill_pet_row(pet, n, y0 - 1 + dy, pet_rows, dy)
            fill_mri_row(mri, n, y0 - 1 + dy, mri_rows, dy)
        for y in range(y0, y1):
            fill_pet_row(pet, n, y + 1, pet_rows, (y - y0 + 2) % 3)
            fill_mri_row(mri, n, y + 1, mri_rows, (y - y0 + 2) % 3)
            top, mid, bot = (y - y0) % 3, (y - y0 + 1) % 3, (y - y0 + 2) % 3
            # PET: rows already mean-subtracted and zero-padded, so the offset is the bias.
            conv_pet(
                pet_rows[top, 0],
                pet_rows[mid, 0],
                pet_rows[bot, 0],
                pet_rows[top, 1],
                pet_rows[mid, 1],
                pet_rows[bot, 1],
                pet_rows[top, 2],
                pet_rows[mid, 2],
                pet_rows[bot, 2],
                sums[n, 0, y],
                lanes[0],
                lanes[1],
                0,
                width,
                bias32[0],
                bias32[1],
                bias32[2],
            )
            # MRI: raw levels; the mean term of the taps inside the image is a per-row constant in
            # the interior, with the two border columns missing one column of taps.
            inside = np.empty(3, np.float32)
            left = np.empty(3, np.float32)
            right = np.empty(3, np.float32)
            for o in range(3):
                inside[o], left[o], right[o] = bias32[o], 0.0, 0.0
                for dy in range(3):
                    if 0 <= y - 1 + dy < height:
                        inside[o] -= k_mean[o, dy, 0] + k_mean[o, dy, 1] + k_mean[o, dy, 2]
                        left[o] += k_mean[o, dy, 0]
                        right[o] += k_mean[o, dy, 2]
            m0, m1, m2, out = mri_rows[top], mri_rows[mid], mri_rows[bot], sums[n, 1, y]
            conv_mri(m0, m1, m2, out, lanes[2], lanes[3], 1, width - 1, inside[0], inside[1], inside[2])
            conv_mri(
                m0, m1, m2, out, lanes[2], lanes[3], 0, 1, inside[0] + left[0], inside[1] + left[1], inside[2] + left[2]
            )
            conv_mri(
                m0,
                m1,
                m2,
                out,
                lanes[2],
                lanes[3],
                width - 1,
                width,
                inside[0] + right[0],
                inside[1] + right[1],
                inside[2] + right[2],
            )
        stats[n, block, 0] = lanes[0].min()
        stats[n, block, 1] = lanes[1].max()
        stats[n, block, 2] = lanes[2].min()
        stats[n, block, 3] = lanes[3].max()

    @jit
    def clip01(v):
        v = v if v > np.float32(0.0) else np.float32(0.0)
        return v if v < np.float32(1.0) else np.float32(1.0)

    @jit
    def scale_of(low, high):
        span = high - low
        return np.float32(1.0) / span if span > 0 else np.float32(0.0)

    @jit
    def colour_rows(mri, pet, n, y0, y1, sums, low_p, scale_p, low_m, scale_m, out):
        """Pass 2 for rows ``[y0, y1)`` of pair ``n``: weights, Eq. 1, intensity replacement, uint8."""
        width = mri.shape[2]
        third, zero, one = np.float32(1.0 / 3.0), np.float32(0.0), np.float32(1.0)
        three, full = np.float32(3.0), np.float32(255.0)
        for y in range(y0, y1):
            s_p, s_m = sums[n, 0, y], sums[n, 1, y]
            for x in range(width):
                w_p = (s_p[x] - np.float32(3.0) * low_p) * scale_p * third
                w_m = (s_m[x] - np.float32(3.0) * low_m) * scale_m * third
                r = np.float32(pet[n, y, x, 0])
                g = np.float32(pet[n, y, x, 1])
                bl = np.float32(pet[n, y, x, 2])
                total = r + g + bl  # levels, 0..765
                m = np.float32(mri[n, y, x]) * inv255
                i = total * (inv255 * third)
                f = (a32 + w_m) * m + (b32 + w_p) * i
                f = clip01(f)
                # Branch-free (selects vectorise, branches did not): lit pixels get
                # R_c * 3F / (R+G+B), the levels cancelling; black pixels get F in every band.
                lit = total > zero
                gain = (three * f if lit else f) / (total if lit else one)
                out[n, y, x, 0] = np.uint8(np.rint(full * clip01((r if lit else one) * gain)))
                out[n, y, x, 1] = np.uint8(np.rint(full * clip01((g if lit else one) * gain)))
                out[n, y, x, 2] = np.uint8(np.rint(full * clip01((bl if lit else one) * gain)))

    @jit
    def scale_inputs(stats, n, k):
        """``k``: 0 PET low, 1 PET scale, 2 MRI low, 3 MRI scale, from the blocks' min/max."""
        base = 0 if k < 2 else 2
        low, high = big, -big
        for block in range(stats.shape[1]):
            low = min(low, stats[n, block, base])
            high = max(high, stats[n, block, base + 1])
        return low if k % 2 == 0 else scale_of(low, high)

    @numba.njit(parallel=True, fastmath=True, error_model="numpy")
    def fuse_parallel(mri, pet, block_rows):
        count, height, width = mri.shape
        out = np.empty((count, height, width, 3), np.uint8)
        sums = np.empty((count, 2, height, width), np.float32)
        threads = numba.get_num_threads()
        if count >= threads:
            stats = np.empty((count, 1, 4), np.float32)
            for n in numba.prange(count):  # one pair per task: its sums stay in this core's cache
                features_rows(mri, pet, n, 0, height, sums, stats, 0)
                colour_rows(
                    mri,
                    pet,
                    n,
                    0,
                    height,
                    sums,
                    scale_inputs(stats, n, 0),
                    scale_inputs(stats, n, 1),
                    scale_inputs(stats, n, 2),
                    scale_inputs(stats, n, 3),
                    out,
                )
            return out
        blocks = -(-height // block_rows)
        stats = np.empty((count, blocks, 4), np.float32)
        for task in numba.prange(count * blocks):
            n, block = task // blocks, task % blocks
            features_rows(mri, pet, n, block * block_rows, min(height, (block + 1) * block_rows), sums, stats, block)
        ranges = np.empty((count, 4), np.float32)
        for n in range(count):
            for k in range(4):
                ranges[n, k] = scale_inputs(stats, n, k)
        for task in numba.prange(count * blocks):
            n, block = task // blocks, task % blocks
            colour_rows(
                mri,
                pet,
                n,
                block * block_rows,
                min(height, (block + 1) * block_rows),
                sums,
                ranges[n, 0],
                ranges[n, 1],
                ranges[n, 2],
                ranges[n, 3],
                out,
            )
        return out

    def fuse(mri: np.ndarray, pet: np.ndarray) -> np.ndarray:
        mri = np.ascontiguousarray(mri, np.uint8)
        pet = np.ascontiguousarray(pet, np.uint8)
        if mri.ndim != 3 or pet.shape != mri.shape + (3,):
            raise ValueError(f"need uint8 mri [N, H, W] and pet [N, H, W, 3], got {mri.shape} and {pet.shape}")
        return fuse_parallel(mri, pet, 32)

    return fuse
